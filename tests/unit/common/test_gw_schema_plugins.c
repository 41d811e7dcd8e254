/* tests/unit/common/test_gw_schema_plugins.c: gw_schema for plugins (key-auth, rate-limiting,
 * proxy-cache), keyauth_credentials, plugin metadata and schema descriptions.
 * SPDX-License-Identifier: Apache-2.0 */
#include "common/schema_test_util.h"

#include <ctype.h>

#define CONSUMER_ID "{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}"
#define ROUTE_ID    "{\"id\":\"7ba7b810-9dad-11d1-80b4-00c04fd430c8\"}"

static void key_auth_defaults(void **state)
{
    (void)state;
    json_t *p =
        sch_ok("plugins", GW_SCHEMA_INSERT, "{\"name\":\"key-auth\",\"route\":" ROUTE_ID "}", NULL);
    strip_auto(p);
    assert_json(p, "{\"name\":\"key-auth\",\"instance_name\":null,\"route\":" ROUTE_ID
                   ",\"service\":null,\"consumer\":null,\"config\":{\"key_names\":[\"apikey\"],"
                   "\"hide_credentials\":false,\"anonymous\":null,\"key_in_header\":true,"
                   "\"key_in_query\":true,\"key_in_body\":false,\"run_on_preflight\":true,"
                   "\"realm\":null},\"protocols\":[\"grpc\",\"grpcs\",\"http\",\"https\"],"
                   "\"enabled\":true,\"tags\":null}");
    json_decref(p);
}

static void plugin_entity_rules(void **state)
{
    (void)state;
    expect_error("plugins", "{\"name\":\"key-auth\",\"consumer\":" CONSUMER_ID "}",
                 "{\"consumer\":\"value must be null\"}",
                 "schema violation (consumer: value must be null)");
    expect_error("plugins", "{\"name\":\"foo\"}",
                 "{\"name\":\"plugin 'foo' not enabled; add it to the 'plugins' configuration "
                 "property\"}",
                 "schema violation (name: plugin 'foo' not enabled; add it to the 'plugins' "
                 "configuration property)");
    expect_error("plugins", "{\"config\":{}}", "{\"name\":\"required field missing\"}", NULL);
    expect_error("plugins", "{\"name\":\"key-auth\",\"protocols\":[\"tcp\"]}",
                 "{\"protocols\":[\"expected one of: grpc, grpcs, http, https\"]}", NULL);
    expect_error("plugins",
                 "{\"name\":\"key-auth\",\"config\":{\"foo\":1,\"key_names\":[\"a b\"]}}",
                 "{\"config\":{\"foo\":\"unknown field\",\"key_names\":[\"bad header name 'a b', "
                 "allowed characters are A-Z, a-z, 0-9, '_', and '-'\"]}}",
                 "2 schema violations (config.foo: unknown field; config.key_names: {\n"
                 "  \"bad header name 'a b', allowed characters are A-Z, a-z, 0-9, '_', and '-'\"\n"
                 "})");
    expect_error("plugins", "{\"name\":\"key-auth\",\"config\":[]}",
                 "{\"config\":\"expected a record\"}", NULL);
    expect_error("plugins", "{\"name\":\"key-auth\",\"instance_name\":\"a/b\"}",
                 "{\"instance_name\":\"invalid value 'a/b': the only accepted ascii characters "
                 "are alphanumerics or ., -, _, and ~\"}",
                 NULL);
    expect_error("plugins", "{\"name\":\"key-auth\",\"service\":{\"id\":\"bad\"}}",
                 "{\"service\":{\"id\":\"expected a valid UUID\"}}", NULL);
    json_t *p = sch_ok("plugins", GW_SCHEMA_INSERT,
                       "{\"name\":\"rate-limiting\",\"consumer\":" CONSUMER_ID
                       ",\"config\":{\"minute\":5},\"instance_name\":\"rl-1\"}",
                       NULL);
    assert_json(json_object_get(p, "consumer"), CONSUMER_ID);
    json_decref(p);
}

static void rate_limiting(void **state)
{
    (void)state;
    json_t *p = sch_ok("plugins", GW_SCHEMA_INSERT,
                       "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5}}", NULL);
    assert_json(json_object_get(p, "config"),
                "{\"second\":null,\"minute\":5,\"hour\":null,\"day\":null,\"month\":null,"
                "\"year\":null,\"limit_by\":\"consumer\",\"header_name\":null,\"path\":null,"
                "\"policy\":\"local\",\"fault_tolerant\":true,\"redis\":{\"host\":null,"
                "\"port\":6379,\"timeout\":2000,\"username\":null,\"password\":null,\"database\":0,"
                "\"ssl\":false,\"ssl_verify\":false,\"server_name\":null},"
                "\"hide_client_headers\":false,\"error_code\":429,\"error_message\":\"API rate "
                "limit exceeded\",\"sync_rate\":-1}");

    /* PATCH merges the config record */
    json_t *q = sch_ok("plugins", GW_SCHEMA_UPDATE, "{\"config\":{\"hour\":100}}", p);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "config"), "minute")),
                     5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(q, "config"), "hour")),
                     100);
    json_t *r = sch_ok("plugins", GW_SCHEMA_UPDATE, "{\"enabled\":false}", q);
    assert_true(json_equal(json_object_get(r, "config"), json_object_get(q, "config")));
    assert_true(json_is_false(json_object_get(r, "enabled")));
    json_decref(r);
    /* PUT resets the config */
    json_t *err = sch_err("plugins", GW_SCHEMA_UPSERT, "{\"name\":\"rate-limiting\"}", q);
    assert_json(err, "{\"@entity\":[\"at least one of these fields must be non-empty: "
                     "'config.second', 'config.minute', 'config.hour', 'config.day', "
                     "'config.month', 'config.year'\"]}");
    json_decref(err);
    json_decref(q);
    json_decref(p);

    expect_error("plugins", "{\"name\":\"rate-limiting\",\"config\":{\"second\":10,\"minute\":5}}",
                 "{\"config\":\"The limit for minute(5.0) cannot be lower than the limit for "
                 "second(10.0)\"}",
                 "schema violation (config: The limit for minute(5.0) cannot be lower than the "
                 "limit for second(10.0))");
    expect_error("plugins", "{\"name\":\"rate-limiting\",\"config\":{\"minute\":0}}",
                 "{\"config\":{\"minute\":\"value must be greater than 0\"}}", NULL);
    expect_error("plugins", "{\"name\":\"rate-limiting\",\"config\":{\"minute\":\"x\"}}",
                 "{\"config\":{\"minute\":\"expected a number\"}}", NULL);
    json_t *e = sch_err("plugins", GW_SCHEMA_INSERT,
                        "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"policy\":"
                        "\"cluster\"}}",
                        NULL);
    const char *m = json_string_value(json_object_get(json_object_get(e, "config"), "policy"));
    assert_non_null(m);
    assert_non_null(strstr(m, "'cluster' policy is not supported"));
    json_decref(e);
    /* redis is refused with its own message, with or without a redis.host */
    const char *const redis_cfgs[] = {
        "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"policy\":\"redis\"}}",
        "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"policy\":\"redis\","
        "\"sync_rate\":1,\"redis\":{\"host\":\"redis.test\"}}}"};
    for (size_t i = 0; i < 2; i++) {
        e = sch_err("plugins", GW_SCHEMA_INSERT, redis_cfgs[i], NULL);
        m = json_string_value(json_object_get(json_object_get(e, "config"), "policy"));
        assert_non_null(m);
        assert_non_null(strstr(m, "'redis' policy is not supported by Portico's data planes"));
        json_decref(e);
    }
    expect_error("plugins",
                 "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"sync_rate\":10}}",
                 "{\"config\":{\"sync_rate\":\"value must be -1\"},\"@entity\":[\"failed "
                 "conditional validation given value of field 'config.policy'\"]}",
                 NULL);
    expect_error("plugins",
                 "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"limit_by\":\"header\"}}",
                 "{\"config\":{\"header_name\":\"required field missing\"},\"@entity\":[\"failed "
                 "conditional validation given value of field 'config.limit_by'\"]}",
                 NULL);
    expect_error("plugins",
                 "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"limit_by\":\"path\"}}",
                 "{\"config\":{\"path\":\"required field missing\"},\"@entity\":[\"failed "
                 "conditional validation given value of field 'config.limit_by'\"]}",
                 NULL);
    expect_error("plugins",
                 "{\"name\":\"rate-limiting\",\"config\":{\"minute\":5,\"limit_by\":\"cookie\"}}",
                 "{\"config\":{\"limit_by\":\"expected one of: consumer, credential, ip, service, "
                 "header, path, consumer-group\"}}",
                 NULL);
    p = sch_ok("plugins", GW_SCHEMA_INSERT,
               "{\"name\":\"rate-limiting\",\"config\":{\"second\":1,\"minute\":5,\"hour\":5,"
               "\"limit_by\":\"header\",\"header_name\":\"x-user\",\"error_code\":503,"
               "\"hide_client_headers\":true}}",
               NULL);
    json_decref(p);
}

static void proxy_cache(void **state)
{
    (void)state;
    json_t *p = sch_ok("plugins", GW_SCHEMA_INSERT,
                       "{\"name\":\"proxy-cache\",\"config\":{\"strategy\":\"memory\"}}", NULL);
    assert_json(json_object_get(p, "config"),
                "{\"response_code\":[200,301,404],\"request_method\":[\"GET\",\"HEAD\"],"
                "\"content_type\":[\"text/plain\",\"application/json\"],\"cache_ttl\":300,"
                "\"strategy\":\"memory\",\"cache_control\":false,\"ignore_uri_case\":false,"
                "\"storage_ttl\":null,\"memory\":{\"dictionary_name\":\"kong_db_cache\"},"
                "\"vary_query_params\":null,\"vary_headers\":null,\"response_headers\":{"
                "\"age\":true,\"X-Cache-Status\":true,\"X-Cache-Key\":true}}");
    json_t *q = sch_ok("plugins", GW_SCHEMA_UPDATE,
                       "{\"config\":{\"response_headers\":{\"age\":false}}}", p);
    assert_json(json_object_get(json_object_get(q, "config"), "response_headers"),
                "{\"age\":false,\"X-Cache-Status\":true,\"X-Cache-Key\":true}");
    json_decref(q);
    json_decref(p);
    expect_error("plugins", "{\"name\":\"proxy-cache\"}",
                 "{\"config\":{\"strategy\":\"required field missing\"}}",
                 "schema violation (config.strategy: required field missing)");
    expect_error("plugins", "{\"name\":\"proxy-cache\",\"config\":{\"strategy\":\"redis\"}}",
                 "{\"config\":{\"strategy\":\"expected one of: memory\"}}", NULL);
    expect_error("plugins",
                 "{\"name\":\"proxy-cache\",\"config\":{\"strategy\":\"memory\","
                 "\"request_method\":[\"GET\",\"DELETE\"],\"response_code\":[],"
                 "\"cache_ttl\":0,\"response_headers\":{\"Age\":true}}}",
                 "{\"config\":{\"request_method\":[null,\"expected one of: HEAD, GET, POST, "
                 "PATCH, PUT\"],\"response_code\":\"length must be at least 1\",\"cache_ttl\":"
                 "\"value must be greater than 0\",\"response_headers\":{\"Age\":\"unknown "
                 "field\"}}}",
                 NULL);
}

static void plugin_form_coercion(void **state)
{
    (void)state;
    const struct gw_schema *s = gw_schema_get("plugins");
    json_t *in =
        tj("{\"name\":\"rate-limiting\",\"enabled\":\"false\",\"config\":{\"minute\":\"5\","
           "\"second\":\"0.5\",\"hide_client_headers\":\"true\",\"header_name\":\"\"}}");
    gw_schema_coerce_form(s, in);
    assert_json(in, "{\"name\":\"rate-limiting\",\"enabled\":false,\"config\":{\"minute\":5,"
                    "\"second\":0.5,\"hide_client_headers\":true,\"header_name\":null}}");
    json_t *out = NULL, *err = NULL;
    assert_int_equal(gw_schema_process(s, GW_SCHEMA_INSERT, in, NULL, &out, &err), GW_OK);
    json_decref(out);
    json_decref(in);

    in = tj("{\"name\":\"proxy-cache\",\"config\":{\"strategy\":\"memory\",\"response_code\":"
            "\"200\",\"content_type\":\"text/html\",\"cache_ttl\":\"x\"}}");
    gw_schema_coerce_form(s, in);
    assert_json(in,
                "{\"name\":\"proxy-cache\",\"config\":{\"strategy\":\"memory\","
                "\"response_code\":[200],\"content_type\":[\"text/html\"],\"cache_ttl\":\"x\"}}");
    assert_int_equal(gw_schema_process(s, GW_SCHEMA_INSERT, in, NULL, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"config\":{\"cache_ttl\":\"expected an integer\"}}");
    json_decref(err);
    json_decref(in);
}

static void keyauth_credentials(void **state)
{
    (void)state;
    json_t *k = sch_ok("keyauth_credentials", GW_SCHEMA_INSERT,
                       "{\"consumer\":" CONSUMER_ID ",\"ttl\":10}", NULL);
    const char *key = json_string_value(json_object_get(k, "key"));
    assert_non_null(key);
    assert_int_equal(strlen(key), 32);
    for (const char *c = key; *c; c++)
        assert_true(isxdigit((unsigned char)*c) && !isupper((unsigned char)*c));
    assert_int_equal(json_integer_value(json_object_get(k, "ttl")), 10);
    assert_null(json_object_get(k, "updated_at"));
    json_t *k2 =
        sch_ok("keyauth_credentials", GW_SCHEMA_INSERT, "{\"consumer\":" CONSUMER_ID "}", NULL);
    assert_string_not_equal(key, json_string_value(json_object_get(k2, "key")));
    assert_null(json_object_get(k2, "ttl")); /* never defaulted */
    json_decref(k2);
    /* PATCH keeps the key */
    json_t *p = sch_ok("keyauth_credentials", GW_SCHEMA_UPDATE, "{\"tags\":[\"t\"]}", k);
    assert_string_equal(json_string_value(json_object_get(p, "key")), key);
    json_decref(p);
    json_decref(k);
    k = sch_ok("keyauth_credentials", GW_SCHEMA_INSERT,
               "{\"consumer\":" CONSUMER_ID ",\"key\":\"secret\"}", NULL);
    strip_auto(k);
    assert_json(k, "{\"consumer\":" CONSUMER_ID ",\"key\":\"secret\",\"tags\":null}");
    json_decref(k);
    expect_error("keyauth_credentials", "{\"consumer\":" CONSUMER_ID ",\"ttl\":-1}",
                 "{\"ttl\":\"value should be between 0 and 100000000\"}", NULL);
    expect_error("keyauth_credentials", "{\"key\":\"x\"}",
                 "{\"consumer\":\"required field missing\"}", NULL);
    expect_error("keyauth_credentials", "{\"consumer\":" CONSUMER_ID ",\"key\":\"\"}",
                 "{\"key\":\"length must be at least 1\"}", NULL);
}

static void plugin_metadata(void **state)
{
    (void)state;
    const char *const *names = gw_schema_plugin_names();
    assert_string_equal(names[0], "key-auth");
    assert_string_equal(names[1], "rate-limiting");
    assert_string_equal(names[2], "proxy-cache");
    assert_null(names[3]);
    assert_int_equal(gw_schema_plugin_priority("key-auth"), 1250);
    assert_int_equal(gw_schema_plugin_priority("rate-limiting"), 910);
    assert_int_equal(gw_schema_plugin_priority("proxy-cache"), 100);
    assert_int_equal(gw_schema_plugin_priority("nope"), 0);
    const struct gw_schema *p = gw_schema_get("plugins");
    size_t n = 0;
    const struct gw_schema_foreign *fk = gw_schema_foreigns(p, &n);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fk[i].on_delete, GW_SCHEMA_ON_DELETE_CASCADE);
        assert_false(fk[i].required);
    }
    assert_string_equal(gw_schema_endpoint_key(p), "instance_name");
}

static const json_t *describe_find(const json_t *fields, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (json_object_get(f, name) != NULL)
            return json_object_get(f, name);
    }
    return NULL;
}

static void describe(void **state)
{
    (void)state;
    json_t *d = gw_schema_describe(gw_schema_get("services"));
    json_t *fields = json_object_get(d, "fields");
    assert_true(json_is_array(fields));
    assert_json(json_array_get(fields, 0), "{\"id\":{\"type\":\"string\",\"uuid\":true,"
                                           "\"auto\":true}}");
    assert_json(describe_find(fields, "port"), "{\"type\":\"integer\",\"required\":true,"
                                               "\"default\":80,\"between\":[0,65535]}");
    assert_null(describe_find(fields, "url"));
    json_decref(d);

    d = gw_schema_describe(gw_schema_get("upstreams"));
    const json_t *hc = describe_find(json_object_get(d, "fields"), "healthchecks");
    assert_string_equal(json_string_value(json_object_get(hc, "type")), "record");
    assert_non_null(describe_find(json_object_get(hc, "fields"), "active"));
    json_decref(d);

    d = gw_schema_describe_plugin("rate-limiting");
    fields = json_object_get(d, "fields");
    const json_t *cfg = describe_find(fields, "config");
    assert_non_null(cfg);
    assert_json(describe_find(json_object_get(cfg, "fields"), "policy"),
                "{\"type\":\"string\",\"default\":\"local\",\"len_min\":0,\"one_of\":"
                "[\"local\",\"cluster\",\"redis\"]}");
    assert_null(describe_find(fields, "name"));
    json_decref(d);
    d = gw_schema_describe_plugin("key-auth");
    assert_json(describe_find(json_object_get(d, "fields"), "consumer"),
                "{\"type\":\"foreign\",\"reference\":\"consumers\",\"eq\":null}");
    json_decref(d);
    assert_null(gw_schema_describe_plugin("nope"));
    assert_null(gw_schema_describe(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(key_auth_defaults),   cmocka_unit_test(plugin_entity_rules),
        cmocka_unit_test(rate_limiting),       cmocka_unit_test(proxy_cache),
        cmocka_unit_test(keyauth_credentials), cmocka_unit_test(plugin_form_coercion),
        cmocka_unit_test(plugin_metadata),     cmocka_unit_test(describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
