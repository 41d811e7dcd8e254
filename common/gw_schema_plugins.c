/* common/gw_schema_plugins.c: the config subschemas of the plugins Portico supports (key-auth,
 * rate-limiting, proxy-cache), their defaults and checks, and their Kong priorities.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "gw_schema_def.h"

#define F_END                                                                                      \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const char *const http_protocols[] = {"grpc", "grpcs", "http", "https", NULL};
static const struct gw_schema_field http_protocol_elem = {.type = GW_SF_STRING,
                                                          .one_of = http_protocols};
static const struct gw_schema_field string_elem = {.type = GW_SF_STRING};
static const struct gw_schema_field header_name_elem = {.type = GW_SF_STRING,
                                                        .check = gw_sf_check_header_name};

#define PROTOCOLS_HTTP                                                                             \
    {                                                                                              \
        .name = "protocols", .type = GW_SF_SET, .flags = GW_SF_REQUIRED,                           \
        .def = "[\"grpc\", \"grpcs\", \"http\", \"https\"]", .elements = &http_protocol_elem       \
    }

/* ---------------------------------------------------------------- key-auth */

static const struct gw_schema_field key_auth_config[] = {
    {.name = "key_names",
     .type = GW_SF_ARRAY,
     .flags = GW_SF_REQUIRED,
     .def = "[\"apikey\"]",
     .elements = &header_name_elem},
    {.name = "hide_credentials", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "false"},
    {.name = "anonymous", .type = GW_SF_STRING},
    {.name = "key_in_header", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "key_in_query", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "key_in_body", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "false"},
    {.name = "run_on_preflight", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "realm", .type = GW_SF_STRING},
    F_END,
};

static const struct gw_schema_field key_auth_overrides[] = {
    {.name = "consumer", .type = GW_SF_FOREIGN, .flags = GW_SF_MUST_NULL, .reference = "consumers"},
    PROTOCOLS_HTTP,
    {.name = "config", .type = GW_SF_RECORD, .flags = GW_SF_REQUIRED, .fields = key_auth_config},
    F_END,
};

/* ---------------------------------------------------------------- rate-limiting */

static const char *const rl_periods[] = {"second", "minute", "hour", "day", "month", "year", NULL};
static const char *const rl_limit_by[] = {"consumer", "credential",     "ip", "service", "header",
                                          "path",     "consumer-group", NULL};
static const char *const rl_policies[] = {"local", "cluster", "redis", NULL};

/* Portico's data planes count with policy local only: 'cluster' needs the database (as in
 * Kong's hybrid mode), 'redis' is not implemented by the data plane (its counting would have to
 * wait for Redis without blocking the worker), so both are refused here rather than silently
 * counted per node. */
static bool policy_check(const json_t *v, char *err, size_t errlen)
{
    if (gw_sf_str_is(v, "cluster")) {
        snprintf(err, errlen,
                 "the 'cluster' policy is not supported in hybrid mode (data planes have no "
                 "database); use 'local'");
        return false;
    }
    if (gw_sf_str_is(v, "redis")) {
        snprintf(err, errlen,
                 "the 'redis' policy is not supported by Portico's data planes yet; use "
                 "'local' (counters per data plane node)");
        return false;
    }
    return true;
}

/* Kong's validate_periods_order: a longer period may not have a lower limit. */
static bool periods_order(const json_t *config, char *err, size_t errlen)
{
    for (size_t i = 0; rl_periods[i] != NULL; i++) {
        json_t *v1 = json_object_get(config, rl_periods[i]);
        if (!json_is_number(v1))
            continue;
        for (size_t j = i + 1; rl_periods[j] != NULL; j++) {
            json_t *v2 = json_object_get(config, rl_periods[j]);
            if (json_is_number(v2) && json_number_value(v2) < json_number_value(v1)) {
                snprintf(err, errlen,
                         "The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
                         rl_periods[j], json_number_value(v2), rl_periods[i],
                         json_number_value(v1));
                return false;
            }
        }
    }
    return true;
}

#define PERIOD(n)                                                                                  \
    {                                                                                              \
        .name = n, .type = GW_SF_NUMBER, .flags = GW_SF_GT, .gt = 0                                \
    }
#define TIMEOUT_MS(n, d)                                                                           \
    {                                                                                              \
        .name = n, .type = GW_SF_INTEGER, .flags = GW_SF_BETWEEN, .min = 0, .max = 2147483646.0,   \
        .def = d                                                                                   \
    }

static const struct gw_schema_field redis_fields[] = {
    {.name = "host", .type = GW_SF_STRING, .check = gw_sf_check_host},
    {.name = "port",
     .type = GW_SF_INTEGER,
     .flags = GW_SF_BETWEEN,
     .min = 0,
     .max = 65535,
     .def = "6379"},
    TIMEOUT_MS("timeout", "2000"),
    {.name = "username", .type = GW_SF_STRING},
    {.name = "password", .type = GW_SF_STRING, .flags = GW_SF_LEN_MIN, .len_min = 0},
    {.name = "database", .type = GW_SF_INTEGER, .def = "0"},
    {.name = "ssl", .type = GW_SF_BOOLEAN, .def = "false"},
    {.name = "ssl_verify", .type = GW_SF_BOOLEAN, .def = "false"},
    {.name = "server_name", .type = GW_SF_STRING, .check = gw_sf_check_sni},
    F_END,
};

static const struct gw_schema_field rate_limiting_config[] = {
    PERIOD("second"),
    PERIOD("minute"),
    PERIOD("hour"),
    PERIOD("day"),
    PERIOD("month"),
    PERIOD("year"),
    {.name = "limit_by", .type = GW_SF_STRING, .def = "\"consumer\"", .one_of = rl_limit_by},
    {.name = "header_name", .type = GW_SF_STRING, .check = gw_sf_check_header_name},
    {.name = "path", .type = GW_SF_STRING, .starts_with = "/", .check = gw_sf_check_path},
    {.name = "policy",
     .type = GW_SF_STRING,
     .flags = GW_SF_LEN_MIN,
     .len_min = 0,
     .def = "\"local\"",
     .one_of = rl_policies,
     .check = policy_check},
    {.name = "fault_tolerant", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "redis", .type = GW_SF_RECORD, .flags = GW_SF_REQUIRED, .fields = redis_fields},
    {.name = "hide_client_headers", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "false"},
    {.name = "error_code", .type = GW_SF_NUMBER, .flags = GW_SF_GT, .gt = 0, .def = "429"},
    {.name = "error_message", .type = GW_SF_STRING, .def = "\"API rate limit exceeded\""},
    {.name = "sync_rate", .type = GW_SF_NUMBER, .flags = GW_SF_REQUIRED, .def = "-1"},
    F_END,
};

static const struct gw_schema_field rate_limiting_overrides[] = {
    PROTOCOLS_HTTP,
    {.name = "config",
     .type = GW_SF_RECORD,
     .flags = GW_SF_REQUIRED,
     .fields = rate_limiting_config,
     .check = periods_order},
    F_END,
};

static void rl_cond_required(const json_t *e, json_t *errors, const char *if_field,
                             const char *if_value, const char *then_field)
{
    if (!gw_sf_str_is(gw_sf_get_path(e, if_field), if_value))
        return;
    json_t *v = gw_sf_get_path(e, then_field);
    if (v == NULL || json_is_null(v))
        gw_sf_conditional_fail(errors, if_field, then_field, "required field missing");
}

static void rate_limiting_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const periods[] = {
        "config.second", "config.minute", "config.hour", "config.day",
        "config.month",  "config.year",   NULL};
    gw_sf_at_least_one_of(e, errors, update, periods);
    rl_cond_required(e, errors, "config.policy", "redis", "config.redis.host");
    rl_cond_required(e, errors, "config.policy", "redis", "config.redis.port");
    rl_cond_required(e, errors, "config.limit_by", "header", "config.header_name");
    rl_cond_required(e, errors, "config.limit_by", "path", "config.path");
    json_t *policy = gw_sf_get_path(e, "config.policy");
    json_t *sync = gw_sf_get_path(e, "config.sync_rate");
    if (json_is_string(policy) && !gw_sf_str_is(policy, "redis") && json_is_number(sync) &&
        json_number_value(sync) != -1)
        gw_sf_conditional_fail(errors, "config.policy", "config.sync_rate", "value must be -1");
}

/* ---------------------------------------------------------------- proxy-cache */

static const char *const pc_methods[] = {"HEAD", "GET", "POST", "PATCH", "PUT", NULL};
static const char *const pc_strategies[] = {"memory", NULL};

static const struct gw_schema_field pc_code_elem = {
    .type = GW_SF_INTEGER, .flags = GW_SF_BETWEEN, .min = 100, .max = 900};
static const struct gw_schema_field pc_method_elem = {.type = GW_SF_STRING, .one_of = pc_methods};

static const struct gw_schema_field pc_memory[] = {
    {.name = "dictionary_name",
     .type = GW_SF_STRING,
     .flags = GW_SF_REQUIRED,
     .def = "\"kong_db_cache\""},
    F_END,
};

static const struct gw_schema_field pc_response_headers[] = {
    {.name = "age", .type = GW_SF_BOOLEAN, .def = "true"},
    {.name = "X-Cache-Status", .type = GW_SF_BOOLEAN, .def = "true"},
    {.name = "X-Cache-Key", .type = GW_SF_BOOLEAN, .def = "true"},
    F_END,
};

static const struct gw_schema_field proxy_cache_config[] = {
    {.name = "response_code",
     .type = GW_SF_ARRAY,
     .flags = GW_SF_REQUIRED | GW_SF_LEN_MIN,
     .len_min = 1,
     .def = "[200, 301, 404]",
     .elements = &pc_code_elem},
    {.name = "request_method",
     .type = GW_SF_ARRAY,
     .flags = GW_SF_REQUIRED,
     .def = "[\"GET\", \"HEAD\"]",
     .elements = &pc_method_elem},
    {.name = "content_type",
     .type = GW_SF_ARRAY,
     .flags = GW_SF_REQUIRED,
     .def = "[\"text/plain\", \"application/json\"]",
     .elements = &string_elem},
    {.name = "cache_ttl", .type = GW_SF_INTEGER, .flags = GW_SF_GT, .gt = 0, .def = "300"},
    {.name = "strategy", .type = GW_SF_STRING, .flags = GW_SF_REQUIRED, .one_of = pc_strategies},
    {.name = "cache_control", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "false"},
    {.name = "ignore_uri_case", .type = GW_SF_BOOLEAN, .def = "false"},
    {.name = "storage_ttl", .type = GW_SF_INTEGER},
    {.name = "memory", .type = GW_SF_RECORD, .flags = GW_SF_REQUIRED, .fields = pc_memory},
    {.name = "vary_query_params", .type = GW_SF_ARRAY, .elements = &string_elem},
    {.name = "vary_headers", .type = GW_SF_ARRAY, .elements = &string_elem},
    {.name = "response_headers",
     .type = GW_SF_RECORD,
     .flags = GW_SF_REQUIRED,
     .fields = pc_response_headers},
    F_END,
};

static const struct gw_schema_field proxy_cache_overrides[] = {
    PROTOCOLS_HTTP,
    {.name = "config", .type = GW_SF_RECORD, .flags = GW_SF_REQUIRED, .fields = proxy_cache_config},
    F_END,
};

/* ---------------------------------------------------------------- registry */

static const struct gw_schema_plugin plugins[] = {
    {"key-auth", 1250, key_auth_overrides, NULL},
    {"rate-limiting", 910, rate_limiting_overrides, rate_limiting_check},
    {"proxy-cache", 100, proxy_cache_overrides, NULL},
};

static const char *const plugin_names[] = {"key-auth", "rate-limiting", "proxy-cache", NULL};

const struct gw_schema_plugin *gw_schema_plugin_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
        if (strcmp(plugins[i].name, name) == 0)
            return &plugins[i];
    return NULL;
}

const char *const *gw_schema_plugin_names(void)
{
    return plugin_names;
}

int gw_schema_plugin_priority(const char *plugin)
{
    const struct gw_schema_plugin *p = gw_schema_plugin_find(plugin);
    return p != NULL ? p->priority : 0;
}
