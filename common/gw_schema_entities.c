/* common/gw_schema_entities.c: Kong's core entity schemas (services, routes, upstreams,
 * targets, consumers, plugins, keyauth_credentials, certificates, snis, ca_certificates) as
 * field tables, with their shorthands, normalisations and entity checks.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gw_schema_def.h"

#define MAX_TIMEOUT 2147483646.0

/* ---------------------------------------------------------------- shared descriptors */

const char *const gw_sf_protocols[] = {"grpc", "grpcs",           "http", "https", "tcp",
                                       "tls",  "tls_passthrough", "udp",  NULL};

const struct gw_schema_field gw_sf_tag_elem = {
    .type = GW_SF_STRING, .flags = GW_SF_REQUIRED, .check = gw_sf_check_tag};
const struct gw_schema_field gw_sf_protocol_elem = {.type = GW_SF_STRING,
                                                    .one_of = gw_sf_protocols};
static const struct gw_schema_field string_elem = {.type = GW_SF_STRING};
static const struct gw_schema_field uuid_elem = {.type = GW_SF_STRING, .flags = GW_SF_UUID};
static const struct gw_schema_field header_name_elem = {.type = GW_SF_STRING,
                                                        .check = gw_sf_check_header_name};
static const struct gw_schema_field string_array = {.type = GW_SF_ARRAY, .elements = &string_elem};

#define F_ID                                                                                       \
    {                                                                                              \
        .name = "id", .type = GW_SF_STRING, .flags = GW_SF_UUID | GW_SF_AUTO | GW_SF_REQUIRED      \
    }
#define F_TS(n)                                                                                    \
    {                                                                                              \
        .name = n, .type = GW_SF_INTEGER, .flags = GW_SF_TIMESTAMP | GW_SF_AUTO | GW_SF_REQUIRED   \
    }
#define F_TS_MS(n)                                                                                 \
    {                                                                                              \
        .name = n, .type = GW_SF_NUMBER, .flags = GW_SF_TIMESTAMP | GW_SF_AUTO | GW_SF_REQUIRED    \
    }
#define F_TAGS                                                                                     \
    {                                                                                              \
        .name = "tags", .type = GW_SF_SET, .elements = &gw_sf_tag_elem                             \
    }
#define F_UTF8_NAME(n)                                                                             \
    {                                                                                              \
        .name = n, .type = GW_SF_STRING, .flags = GW_SF_UNIQUE, .check = gw_sf_check_utf8_name     \
    }
#define F_FOREIGN(n, ref, fl)                                                                      \
    {                                                                                              \
        .name = n, .type = GW_SF_FOREIGN, .flags = (fl), .reference = ref                          \
    }
#define F_END                                                                                      \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static bool in_list(const json_t *v, const char *const *list)
{
    if (!json_is_string(v))
        return false;
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], json_string_value(v)) == 0)
            return true;
    return false;
}

/* true if any element of the array arr is one of list. */
static bool any_in(const json_t *arr, const char *const *list)
{
    size_t i;
    json_t *e;
    if (!json_is_array(arr))
        return false;
    json_array_foreach(arr, i, e)
    {
        if (in_list(e, list))
            return true;
    }
    return false;
}

/* true if every element of the array arr is one of list. */
static bool all_in(const json_t *arr, const char *const *list)
{
    size_t i;
    json_t *e;
    if (!json_is_array(arr))
        return false;
    json_array_foreach(arr, i, e)
    {
        if (!in_list(e, list))
            return false;
    }
    return true;
}

/* Writes 2 * nbytes lowercase hex characters (plus NUL) from the CSPRNG. */
static enum gw_err random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof(buf) || RAND_bytes(buf, (int)nbytes) != 1)
        return GW_ERR_INTERNAL;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", buf[i]);
    return GW_OK;
}

/* ---------------------------------------------------------------- services */

static const struct gw_schema_field service_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_TS("updated_at"),
    F_UTF8_NAME("name"),
    {.name = "retries",
     .type = GW_SF_INTEGER,
     .def = "5",
     .flags = GW_SF_BETWEEN,
     .min = 0,
     .max = 32767},
    {.name = "protocol",
     .type = GW_SF_STRING,
     .flags = GW_SF_REQUIRED,
     .def = "\"http\"",
     .one_of = gw_sf_protocols},
    {.name = "host", .type = GW_SF_STRING, .flags = GW_SF_REQUIRED, .check = gw_sf_check_host},
    {.name = "port",
     .type = GW_SF_INTEGER,
     .flags = GW_SF_REQUIRED | GW_SF_BETWEEN,
     .def = "80",
     .min = 0,
     .max = 65535},
    {.name = "path", .type = GW_SF_STRING, .starts_with = "/", .check = gw_sf_check_path},
    {.name = "connect_timeout",
     .type = GW_SF_INTEGER,
     .def = "60000",
     .flags = GW_SF_BETWEEN,
     .min = 1,
     .max = MAX_TIMEOUT},
    {.name = "write_timeout",
     .type = GW_SF_INTEGER,
     .def = "60000",
     .flags = GW_SF_BETWEEN,
     .min = 1,
     .max = MAX_TIMEOUT},
    {.name = "read_timeout",
     .type = GW_SF_INTEGER,
     .def = "60000",
     .flags = GW_SF_BETWEEN,
     .min = 1,
     .max = MAX_TIMEOUT},
    F_TAGS,
    F_FOREIGN("client_certificate", "certificates", 0),
    {.name = "tls_verify", .type = GW_SF_BOOLEAN},
    {.name = "tls_verify_depth",
     .type = GW_SF_INTEGER,
     .flags = GW_SF_BETWEEN,
     .min = 0,
     .max = 64},
    {.name = "ca_certificates", .type = GW_SF_ARRAY, .elements = &uuid_elem},
    {.name = "enabled", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "url", .type = GW_SF_STRING, .flags = GW_SF_INPUT_ONLY},
    F_END,
};

/* Parses a URL like LuaSocket's url.parse: scheme://host:port/path?query (only what the
 * service shorthand needs). */
static void service_url(json_t *e)
{
    json_t *u = json_object_get(e, "url");
    if (!json_is_string(u))
        return;
    const char *s = json_string_value(u);
    char scheme[32] = "", host[512] = "", port[16] = "";
    const char *path = NULL;
    size_t path_len = 0;
    const char *p = s;
    const char *colon = strchr(p, ':');
    /* scheme: letters, digits, + - . before "://"? LuaSocket accepts "scheme:" */
    if (colon != NULL && colon > p && (size_t)(colon - p) < sizeof(scheme)) {
        bool ok = true;
        for (const char *c = p; c < colon; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '+' || *c == '-' || *c == '.'))
                ok = false;
        if (ok) {
            memcpy(scheme, p, (size_t)(colon - p));
            scheme[colon - p] = '\0';
            p = colon + 1;
        }
    }
    if (strncmp(p, "//", 2) == 0) {
        p += 2;
        size_t alen = strcspn(p, "/?#");
        const char *auth = p;
        p += alen;
        /* strip userinfo */
        const char *at = memchr(auth, '@', alen);
        if (at != NULL) {
            alen -= (size_t)(at + 1 - auth);
            auth = at + 1;
        }
        const char *pc = NULL;
        if (alen > 0 && auth[0] == '[') {
            const char *rb = memchr(auth, ']', alen);
            if (rb != NULL && rb + 1 < auth + alen && rb[1] == ':')
                pc = rb + 1;
        } else {
            pc = memchr(auth, ':', alen);
        }
        size_t hlen = pc != NULL ? (size_t)(pc - auth) : alen;
        if (pc != NULL) {
            size_t plen = alen - hlen - 1;
            if (plen < sizeof(port)) {
                memcpy(port, pc + 1, plen);
                port[plen] = '\0';
            }
        }
        const char *h = auth;
        if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
            h++; /* LuaSocket returns an IPv6 literal without its brackets */
            hlen -= 2;
        }
        if (hlen < sizeof(host)) {
            memcpy(host, h, hlen);
            host[hlen] = '\0';
        }
    }
    size_t rest = strcspn(p, "?#");
    if (rest > 0) {
        path = p;
        path_len = rest;
    }

    long portnum = -1;
    if (port[0] != '\0') {
        char *end;
        long v = strtol(port, &end, 10);
        if (*end == '\0')
            portnum = v;
    }
    const char *protocol = scheme[0] != '\0' ? scheme
                           : portnum == 80   ? "http"
                           : portnum == 443  ? "https"
                                             : "http";
    json_object_set_new(e, "protocol", json_string(protocol));
    if (host[0] != '\0')
        json_object_set_new(e, "host", json_string(host));
    else
        json_object_set_new(e, "host", json_null());
    if (portnum >= 0)
        json_object_set_new(e, "port", json_integer(portnum));
    else if (port[0] != '\0')
        json_object_set_new(e, "port", json_string(port));
    else if (strcmp(protocol, "https") == 0)
        json_object_set_new(e, "port", json_integer(443));
    else
        json_object_set_new(e, "port", json_integer(80));
    if (path != NULL)
        json_object_set_new(e, "path", json_stringn(path, path_len));
    else
        json_object_set_new(e, "path", json_null());
    json_object_del(e, "url");
}

static void service_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const no_path[] = {"tcp", "tls", "udp", "grpc", "grpcs", NULL};
    static const char *const tls_protos[] = {"https", "tls", NULL};
    static const char *const tls_fields[] = {"client_certificate", "tls_verify", "tls_verify_depth",
                                             "ca_certificates", NULL};
    (void)update;
    json_t *proto = json_object_get(e, "protocol");
    if (!json_is_string(proto))
        return;
    json_t *path = json_object_get(e, "path");
    if (in_list(proto, no_path) && path != NULL && !json_is_null(path))
        gw_sf_conditional_fail(errors, "protocol", "path", "value must be null");
    if (!in_list(proto, tls_protos)) {
        for (size_t i = 0; tls_fields[i] != NULL; i++) {
            json_t *v = json_object_get(e, tls_fields[i]);
            if (v != NULL && !json_is_null(v))
                gw_sf_conditional_fail(errors, "protocol", tls_fields[i], "value must be null");
        }
    }
}

static const char *const service_unique[] = {"name", NULL};

const struct gw_schema gw_schema_services = {
    .name = "services",
    .endpoint_key = "name",
    .unique = service_unique,
    .foreigns = (const struct gw_schema_foreign[]){{"client_certificate", "certificates", false,
                                                    GW_SCHEMA_ON_DELETE_RESTRICT}},
    .n_foreigns = 1,
    .fields = service_fields,
    .shorthand = service_url,
    .check = service_check,
};

/* ---------------------------------------------------------------- routes */

static const char *const protocol_groups[] = {
    "http", "https", "", "tcp", "tls", "udp", "", "tls_passthrough", "", "grpc", "grpcs", "", NULL,
};

static bool header_key_check(const json_t *v, char *err, size_t errlen)
{
    if (strcasecmp(json_string_value(v), "host") == 0) {
        snprintf(err, errlen,
                 "cannot contain 'host' header, which must be specified in the 'hosts' attribute");
        return false;
    }
    return gw_sf_check_header_name(v, err, errlen);
}

static const struct gw_schema_field method_elem = {.type = GW_SF_STRING,
                                                   .check = gw_sf_check_http_method};
static const struct gw_schema_field route_host_elem = {.type = GW_SF_STRING,
                                                       .check = gw_sf_check_route_host};
static const struct gw_schema_field route_path_elem = {.type = GW_SF_STRING,
                                                       .check = gw_sf_check_router_path};
static const struct gw_schema_field header_key = {.type = GW_SF_STRING, .check = header_key_check};
static const struct gw_schema_field wildcard_host_elem = {.type = GW_SF_STRING,
                                                          .check = gw_sf_check_wildcard_host};

static void ip_port_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const names[] = {"ip", "port", NULL};
    gw_sf_at_least_one_of(e, errors, update, names);
}

static const struct gw_schema_field ip_port_fields[] = {
    {.name = "ip", .type = GW_SF_STRING, .check = gw_sf_check_ip_or_cidr},
    {.name = "port", .type = GW_SF_INTEGER, .flags = GW_SF_BETWEEN, .min = 0, .max = 65535},
    F_END,
};
static const struct gw_schema_field ip_port_elem = {
    .type = GW_SF_RECORD, .fields = ip_port_fields, .record_check = ip_port_check};

static const int redirect_codes[] = {426, 301, 302, 307, 308, -1};
static const char *const path_handlings[] = {"v0", "v1", NULL};

static const struct gw_schema_field route_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_TS("updated_at"),
    F_UTF8_NAME("name"),
    {.name = "protocols",
     .type = GW_SF_SET,
     .flags = GW_SF_REQUIRED | GW_SF_LEN_MIN,
     .len_min = 1,
     .def = "[\"http\", \"https\"]",
     .elements = &gw_sf_protocol_elem,
     .mutex_sets = protocol_groups},
    {.name = "methods", .type = GW_SF_SET, .elements = &method_elem},
    {.name = "hosts", .type = GW_SF_ARRAY, .elements = &route_host_elem},
    {.name = "paths", .type = GW_SF_ARRAY, .elements = &route_path_elem},
    {.name = "headers", .type = GW_SF_MAP, .keys = &header_key, .elements = &string_array},
    {.name = "https_redirect_status_code",
     .type = GW_SF_INTEGER,
     .flags = GW_SF_REQUIRED,
     .def = "426",
     .one_of_int = redirect_codes},
    {.name = "regex_priority", .type = GW_SF_INTEGER, .def = "0"},
    {.name = "strip_path", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "path_handling", .type = GW_SF_STRING, .def = "\"v0\"", .one_of = path_handlings},
    {.name = "preserve_host", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "false"},
    {.name = "request_buffering", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "response_buffering", .type = GW_SF_BOOLEAN, .flags = GW_SF_REQUIRED, .def = "true"},
    {.name = "snis", .type = GW_SF_SET, .elements = &wildcard_host_elem},
    {.name = "sources", .type = GW_SF_SET, .elements = &ip_port_elem},
    {.name = "destinations", .type = GW_SF_SET, .elements = &ip_port_elem},
    F_TAGS,
    F_FOREIGN("service", "services", 0),
    F_END,
};

#define MUST_NULL_SET(n, msg)                                                                      \
    {                                                                                              \
        .name = n, .type = GW_SF_SET, .flags = GW_SF_MUST_NULL, .err = msg                         \
    }
#define MUST_NULL_ARRAY(n, msg)                                                                    \
    {                                                                                              \
        .name = n, .type = GW_SF_ARRAY, .flags = GW_SF_MUST_NULL, .err = msg                       \
    }

static const struct gw_schema_field route_http_fields[] = {
    MUST_NULL_SET("sources", "cannot set 'sources' when 'protocols' is 'http' or 'https'"),
    MUST_NULL_SET("destinations",
                  "cannot set 'destinations' when 'protocols' is 'http' or 'https'"),
    F_END,
};

#define STREAM_MSG(f)                                                                              \
    "cannot set '" f "' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"
static const struct gw_schema_field route_stream_fields[] = {
    MUST_NULL_SET("methods", STREAM_MSG("methods")),
    MUST_NULL_ARRAY("hosts", STREAM_MSG("hosts")),
    MUST_NULL_ARRAY("paths", STREAM_MSG("paths")),
    {.name = "headers", .type = GW_SF_MAP, .flags = GW_SF_MUST_NULL, .err = STREAM_MSG("headers")},
    F_END,
};

static const struct gw_schema_field route_grpc_fields[] = {
    {.name = "strip_path",
     .type = GW_SF_BOOLEAN,
     .flags = GW_SF_REQUIRED | GW_SF_NE_TRUE,
     .def = "false",
     .err = "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"},
    MUST_NULL_SET("methods", "cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"),
    MUST_NULL_SET("sources", "cannot set 'sources' when 'protocols' is 'grpc' or 'grpcs'"),
    MUST_NULL_SET("destinations",
                  "cannot set 'destinations' when 'protocols' is 'grpc' or 'grpcs'"),
    F_END,
};

enum route_kind { ROUTE_HTTP = 0, ROUTE_STREAM, ROUTE_GRPC, ROUTE_UNKNOWN, ROUTE_KIND_COUNT_ };

static enum route_kind route_kind_of(const char *p)
{
    if (strcmp(p, "http") == 0 || strcmp(p, "https") == 0)
        return ROUTE_HTTP;
    if (strcmp(p, "tcp") == 0 || strcmp(p, "tls") == 0 || strcmp(p, "udp") == 0 ||
        strcmp(p, "tls_passthrough") == 0)
        return ROUTE_STREAM;
    if (strcmp(p, "grpc") == 0 || strcmp(p, "grpcs") == 0)
        return ROUTE_GRPC;
    return ROUTE_UNKNOWN;
}

static enum route_kind route_kind(const json_t *protocols)
{
    if (json_is_string(protocols))
        return route_kind_of(json_string_value(protocols));
    size_t i;
    json_t *p;
    json_array_foreach(protocols, i, p)
    {
        if (!json_is_string(p))
            continue;
        enum route_kind k = route_kind_of(json_string_value(p));
        if (k != ROUTE_UNKNOWN)
            return k;
    }
    return ROUTE_UNKNOWN;
}

static const struct gw_schema_field *route_subschema(const json_t *e, const char **err_key,
                                                     char *err_msg, size_t errlen)
{
    json_t *p = json_object_get(e, "protocols");
    if (p == NULL || json_is_null(p)) {
        *err_key = "protocols";
        snprintf(err_msg, errlen, "required field missing");
        return NULL;
    }
    if (!json_is_array(p) && !json_is_string(p))
        return NULL; /* validation reports "expected a set" */
    switch (route_kind(p)) {
    case ROUTE_HTTP:
        return route_http_fields;
    case ROUTE_STREAM:
        return route_stream_fields;
    case ROUTE_GRPC:
        return route_grpc_fields;
    default:
        break;
    }
    json_t *first = json_is_array(p) ? json_array_get(p, 0) : p;
    if (json_is_string(first)) {
        *err_key = "protocols";
        snprintf(err_msg, errlen, "unknown type: %s", json_string_value(first));
    }
    return NULL;
}

static void conditional_at_least_one_of(const json_t *e, json_t *errors, const char *const *names,
                                        const char *err_fmt)
{
    for (size_t i = 0; names[i] != NULL; i++)
        if (gw_sf_nonempty(json_object_get(e, names[i])))
            return;
    char list[256] = "", msg[512];
    size_t off = 0;
    for (size_t i = 0; names[i] != NULL && off < sizeof(list); i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s'%s'", i ? ", " : "", names[i]);
    snprintf(msg, sizeof(msg), err_fmt, list);
    gw_sf_entity_error(errors, msg);
}

static void route_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const tls_protos[] = {"grpcs", "https", "tls", "tls_passthrough", NULL};
    static const char *const https[] = {"https", NULL};
    static const char *const grpcs[] = {"grpcs", NULL};
    static const char *const tcp_tls_udp[] = {"tcp", "tls", "udp", NULL};
    static const char *const tls_pt[] = {"tls_passthrough", NULL};
    static const char *const http_names[] = {"methods", "hosts", "headers", "paths", NULL};
    static const char *const https_names[] = {"methods", "hosts", "headers", "paths", "snis", NULL};
    static const char *const stream_names[] = {"sources", "destinations", "snis", NULL};
    static const char *const snis_only[] = {"snis", NULL};
    static const char *const grpc_names[] = {"hosts", "headers", "paths", NULL};
    static const char *const grpcs_names[] = {"hosts", "headers", "paths", "snis", NULL};
    (void)update;
    json_t *protos = json_object_get(e, "protocols");
    if (!json_is_array(protos))
        return;
    json_t *snis = json_object_get(e, "snis");
    if (!any_in(protos, tls_protos) && json_is_array(snis) && json_array_size(snis) > 0) {
        gw_sf_set_error(errors, "snis", "length must be 0");
        gw_sf_entity_error(errors, "'snis' can only be set when 'protocols' is 'grpcs', 'https', "
                                   "'tls' or 'tls_passthrough'");
    }
    switch (route_kind(protos)) {
    case ROUTE_HTTP:
        if (!any_in(protos, https))
            conditional_at_least_one_of(e, errors, http_names,
                                        "must set one of %s when 'protocols' is 'http'");
        else
            conditional_at_least_one_of(e, errors, https_names,
                                        "must set one of %s when 'protocols' is 'https'");
        break;
    case ROUTE_STREAM:
        if (all_in(protos, tcp_tls_udp))
            conditional_at_least_one_of(
                e, errors, stream_names,
                "must set one of %s when 'protocols' is 'tcp', 'tls' or 'udp'");
        else if (all_in(protos, tls_pt))
            conditional_at_least_one_of(e, errors, snis_only,
                                        "must set snis when 'protocols' is 'tls_passthrough'");
        break;
    case ROUTE_GRPC:
        if (!any_in(protos, grpcs))
            conditional_at_least_one_of(e, errors, grpc_names,
                                        "must set one of %s when 'protocols' is 'grpc'");
        else
            conditional_at_least_one_of(e, errors, grpcs_names,
                                        "must set one of %s when 'protocols' is 'grpcs'");
        break;
    default:
        break;
    }
}

static const char *const route_unique[] = {"name", NULL};

const struct gw_schema gw_schema_routes = {
    .name = "routes",
    .endpoint_key = "name",
    .unique = route_unique,
    .foreigns = (const struct gw_schema_foreign[]){{"service", "services", false,
                                                    GW_SCHEMA_ON_DELETE_RESTRICT}},
    .n_foreigns = 1,
    .fields = route_fields,
    .subschema = route_subschema,
    .check = route_check,
};

/* ---------------------------------------------------------------- upstreams */

static const char *const algorithms[] = {"consistent-hashing", "least-connections", "round-robin",
                                         "latency", NULL};
static const char *const hash_ons[] = {"none", "consumer",  "ip",          "header", "cookie",
                                       "path", "query_arg", "uri_capture", NULL};
static const char *const check_types[] = {"tcp", "http", "https", "grpc", "grpcs", NULL};

static const struct gw_schema_field http_status_elem = {
    .type = GW_SF_INTEGER, .flags = GW_SF_BETWEEN, .min = 100, .max = 999};

#define HC_SECONDS(n, d)                                                                           \
    {                                                                                              \
        .name = n, .type = GW_SF_NUMBER, .flags = GW_SF_BETWEEN, .min = 0, .max = 65535, .def = d  \
    }
#define HC_COUNTER(n)                                                                              \
    {                                                                                              \
        .name = n, .type = GW_SF_INTEGER, .flags = GW_SF_BETWEEN, .min = 0, .max = 255, .def = "0" \
    }
#define HC_STATUSES(d)                                                                             \
    {                                                                                              \
        .name = "http_statuses", .type = GW_SF_ARRAY, .elements = &http_status_elem, .def = d      \
    }
#define HC_TYPE                                                                                    \
    {                                                                                              \
        .name = "type", .type = GW_SF_STRING, .def = "\"http\"", .one_of = check_types             \
    }

static const struct gw_schema_field hc_active_healthy[] = {
    HC_SECONDS("interval", "0"),
    HC_STATUSES("[200, 302]"),
    HC_COUNTER("successes"),
    F_END,
};
static const struct gw_schema_field hc_active_unhealthy[] = {
    HC_SECONDS("interval", "0"), HC_STATUSES("[429, 404, 500, 501, 502, 503, 504, 505]"),
    HC_COUNTER("tcp_failures"),  HC_COUNTER("timeouts"),
    HC_COUNTER("http_failures"), F_END,
};
static const struct gw_schema_field hc_passive_healthy[] = {
    HC_STATUSES("[200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, "
                "306, 307, 308]"),
    HC_COUNTER("successes"),
    F_END,
};
static const struct gw_schema_field hc_passive_unhealthy[] = {
    HC_STATUSES("[429, 500, 503]"),
    HC_COUNTER("tcp_failures"),
    HC_COUNTER("timeouts"),
    HC_COUNTER("http_failures"),
    F_END,
};
static const struct gw_schema_field hc_active[] = {
    HC_TYPE,
    HC_SECONDS("timeout", "1"),
    {.name = "concurrency",
     .type = GW_SF_INTEGER,
     .flags = GW_SF_BETWEEN,
     .min = 1,
     .max = 2147483648.0,
     .def = "10"},
    {.name = "http_path",
     .type = GW_SF_STRING,
     .def = "\"/\"",
     .starts_with = "/",
     .check = gw_sf_check_path},
    {.name = "https_sni", .type = GW_SF_STRING, .check = gw_sf_check_sni},
    {.name = "https_verify_certificate", .type = GW_SF_BOOLEAN, .def = "true"},
    {.name = "headers", .type = GW_SF_MAP, .keys = &header_name_elem, .elements = &string_array},
    {.name = "healthy", .type = GW_SF_RECORD, .def = "{}", .fields = hc_active_healthy},
    {.name = "unhealthy", .type = GW_SF_RECORD, .def = "{}", .fields = hc_active_unhealthy},
    F_END,
};
static const struct gw_schema_field hc_passive[] = {
    HC_TYPE,
    {.name = "healthy", .type = GW_SF_RECORD, .def = "{}", .fields = hc_passive_healthy},
    {.name = "unhealthy", .type = GW_SF_RECORD, .def = "{}", .fields = hc_passive_unhealthy},
    F_END,
};
static const struct gw_schema_field hc_fields[] = {
    {.name = "active", .type = GW_SF_RECORD, .def = "{}", .fields = hc_active},
    {.name = "passive", .type = GW_SF_RECORD, .def = "{}", .fields = hc_passive},
    {.name = "threshold",
     .type = GW_SF_NUMBER,
     .flags = GW_SF_BETWEEN,
     .min = 0,
     .max = 100,
     .def = "0"},
    F_END,
};

#define SIMPLE_PARAM(n)                                                                            \
    {                                                                                              \
        .name = n, .type = GW_SF_STRING                                                            \
    }

static const struct gw_schema_field upstream_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_TS("updated_at"),
    {.name = "name",
     .type = GW_SF_STRING,
     .flags = GW_SF_REQUIRED | GW_SF_UNIQUE,
     .check = gw_sf_check_upstream_name},
    {.name = "algorithm", .type = GW_SF_STRING, .def = "\"round-robin\"", .one_of = algorithms},
    {.name = "hash_on", .type = GW_SF_STRING, .def = "\"none\"", .one_of = hash_ons},
    {.name = "hash_fallback", .type = GW_SF_STRING, .def = "\"none\"", .one_of = hash_ons},
    {.name = "hash_on_header", .type = GW_SF_STRING, .check = gw_sf_check_header_name},
    {.name = "hash_fallback_header", .type = GW_SF_STRING, .check = gw_sf_check_header_name},
    {.name = "hash_on_cookie", .type = GW_SF_STRING, .check = gw_sf_check_cookie_name},
    {.name = "hash_on_cookie_path",
     .type = GW_SF_STRING,
     .def = "\"/\"",
     .starts_with = "/",
     .check = gw_sf_check_path},
    SIMPLE_PARAM("hash_on_query_arg"),
    SIMPLE_PARAM("hash_fallback_query_arg"),
    SIMPLE_PARAM("hash_on_uri_capture"),
    SIMPLE_PARAM("hash_fallback_uri_capture"),
    {.name = "slots",
     .type = GW_SF_INTEGER,
     .def = "10000",
     .flags = GW_SF_BETWEEN,
     .min = 10,
     .max = 65536},
    {.name = "healthchecks", .type = GW_SF_RECORD, .def = "{}", .fields = hc_fields},
    F_TAGS,
    {.name = "host_header", .type = GW_SF_STRING, .check = gw_sf_check_host_opt_port},
    F_FOREIGN("client_certificate", "certificates", 0),
    {.name = "use_srv_name", .type = GW_SF_BOOLEAN, .def = "false"},
    F_END,
};

/* Kong's upstream shorthands: least-connections/latency clear hash_on; a hash_on other than
 * none switches the algorithm to consistent-hashing. */
static void upstream_shorthand(json_t *e)
{
    json_t *alg = json_object_get(e, "algorithm");
    if (gw_sf_str_is(alg, "least-connections") || gw_sf_str_is(alg, "latency"))
        json_object_set_new(e, "hash_on", json_null());
    json_t *h = json_object_get(e, "hash_on");
    if (h != NULL) {
        if (json_is_null(h) || gw_sf_str_is(h, "none"))
            json_object_set_new(e, "hash_on", json_string("none"));
        else
            json_object_set_new(e, "algorithm", json_string("consistent-hashing"));
    }
}

static void cond_required(const json_t *e, json_t *errors, const char *if_field,
                          const char *if_value, const char *then_field)
{
    if (!gw_sf_str_is(json_object_get(e, if_field), if_value))
        return;
    json_t *v = json_object_get(e, then_field);
    if (v == NULL || json_is_null(v))
        gw_sf_conditional_fail(errors, if_field, then_field, "required field missing");
}

static void cond_one_of(const json_t *e, json_t *errors, const char *if_field, const char *if_value,
                        const char *then_field, const char *const *allowed)
{
    if (!gw_sf_str_is(json_object_get(e, if_field), if_value))
        return;
    json_t *v = json_object_get(e, then_field);
    if (v == NULL || json_is_null(v) || in_list(v, allowed))
        return;
    char msg[512] = "expected one of: ";
    size_t off = strlen(msg);
    for (size_t i = 0; allowed[i] != NULL && off < sizeof(msg); i++)
        off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s%s", i ? ", " : "", allowed[i]);
    gw_sf_conditional_fail(errors, if_field, then_field, msg);
}

static void upstream_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const none[] = {"none", NULL};
    static const char *const not_consumer[] = {"none", "ip",        "header",      "cookie",
                                               "path", "query_arg", "uri_capture", NULL};
    static const char *const not_ip[] = {"none", "consumer",  "header",      "cookie",
                                         "path", "query_arg", "uri_capture", NULL};
    static const char *const not_path[] = {"none",   "consumer",  "ip",          "header",
                                           "cookie", "query_arg", "uri_capture", NULL};
    (void)update;
    cond_required(e, errors, "hash_on", "header", "hash_on_header");
    cond_required(e, errors, "hash_fallback", "header", "hash_fallback_header");
    cond_required(e, errors, "hash_on", "cookie", "hash_on_cookie");
    cond_required(e, errors, "hash_fallback", "cookie", "hash_on_cookie");
    cond_one_of(e, errors, "hash_on", "none", "hash_fallback", none);
    cond_one_of(e, errors, "hash_on", "cookie", "hash_fallback", none);
    cond_one_of(e, errors, "hash_on", "consumer", "hash_fallback", not_consumer);
    cond_one_of(e, errors, "hash_on", "ip", "hash_fallback", not_ip);
    cond_one_of(e, errors, "hash_on", "path", "hash_fallback", not_path);
    cond_required(e, errors, "hash_on", "query_arg", "hash_on_query_arg");
    cond_required(e, errors, "hash_fallback", "query_arg", "hash_fallback_query_arg");
    cond_required(e, errors, "hash_on", "uri_capture", "hash_on_uri_capture");
    cond_required(e, errors, "hash_fallback", "uri_capture", "hash_fallback_uri_capture");
    gw_sf_distinct(e, errors, "hash_on_header", "hash_fallback_header");
    gw_sf_distinct(e, errors, "hash_on_query_arg", "hash_fallback_query_arg");
    gw_sf_distinct(e, errors, "hash_on_uri_capture", "hash_fallback_uri_capture");
}

static const char *const upstream_unique[] = {"name", NULL};

const struct gw_schema gw_schema_upstreams = {
    .name = "upstreams",
    .endpoint_key = "name",
    .unique = upstream_unique,
    .foreigns = (const struct gw_schema_foreign[]){{"client_certificate", "certificates", false,
                                                    GW_SCHEMA_ON_DELETE_RESTRICT}},
    .n_foreigns = 1,
    .fields = upstream_fields,
    .shorthand = upstream_shorthand,
    .check = upstream_check,
};

/* ---------------------------------------------------------------- targets */

static const struct gw_schema_field target_fields[] = {
    F_ID,
    F_TS_MS("created_at"),
    F_TS_MS("updated_at"),
    F_FOREIGN("upstream", "upstreams", GW_SF_REQUIRED),
    {.name = "target", .type = GW_SF_STRING, .flags = GW_SF_REQUIRED, .check = gw_sf_check_target},
    {.name = "weight",
     .type = GW_SF_INTEGER,
     .def = "100",
     .flags = GW_SF_BETWEEN,
     .min = 0,
     .max = 65535},
    F_TAGS,
    F_END,
};

/* The targets DAO writes target as host:port (default port 8000, IPv6 bracketed and expanded). */
static enum gw_err target_finish(json_t *e, enum gw_schema_op op)
{
    (void)op;
    json_t *t = json_object_get(e, "target");
    if (!json_is_string(t))
        return GW_OK; /* validation reports it */
    struct gw_sf_host h;
    char err[256], out[320];
    if (!gw_sf_normalize_ip(json_string_value(t), &h, err, sizeof(err)))
        return GW_OK; /* validation reports it */
    long port = h.port >= 0 ? h.port : 8000;
    if (h.kind == GW_SF_HOST_IPV6)
        snprintf(out, sizeof(out), "[%s]:%ld", h.host, port);
    else
        snprintf(out, sizeof(out), "%s:%ld", h.host, port);
    json_object_set_new(e, "target", json_string(out));
    return GW_OK;
}

const struct gw_schema gw_schema_targets = {
    .name = "targets",
    .endpoint_key = "target",
    .foreigns = (const struct gw_schema_foreign[]){{"upstream", "upstreams", true,
                                                    GW_SCHEMA_ON_DELETE_CASCADE}},
    .n_foreigns = 1,
    .ms_timestamps = true,
    .fields = target_fields,
    .finish = target_finish,
};

/* ---------------------------------------------------------------- consumers */

static const struct gw_schema_field consumer_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_TS("updated_at"),
    {.name = "username", .type = GW_SF_STRING, .flags = GW_SF_UNIQUE},
    {.name = "custom_id", .type = GW_SF_STRING, .flags = GW_SF_UNIQUE},
    F_TAGS,
    F_END,
};

static void consumer_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const names[] = {"custom_id", "username", NULL};
    gw_sf_at_least_one_of(e, errors, update, names);
}

static const char *const consumer_unique[] = {"username", "custom_id", NULL};

const struct gw_schema gw_schema_consumers = {
    .name = "consumers",
    .endpoint_key = "username",
    .unique = consumer_unique,
    .fields = consumer_fields,
    .check = consumer_check,
};

/* ---------------------------------------------------------------- plugins */

static const struct gw_schema_field plugin_fields[] = {
    F_ID,
    {.name = "name", .type = GW_SF_STRING, .flags = GW_SF_REQUIRED},
    F_UTF8_NAME("instance_name"),
    F_TS("created_at"),
    F_TS("updated_at"),
    F_FOREIGN("route", "routes", 0),
    F_FOREIGN("service", "services", 0),
    F_FOREIGN("consumer", "consumers", 0),
    {.name = "config", .type = GW_SF_RECORD, .flags = GW_SF_REQUIRED},
    {.name = "protocols",
     .type = GW_SF_SET,
     .flags = GW_SF_REQUIRED,
     .def = "[\"grpc\", \"grpcs\", \"http\", \"https\"]",
     .elements = &gw_sf_protocol_elem},
    {.name = "enabled", .type = GW_SF_BOOLEAN, .def = "true"},
    F_TAGS,
    F_END,
};

static const struct gw_schema_field *plugin_subschema(const json_t *e, const char **err_key,
                                                      char *err_msg, size_t errlen)
{
    json_t *name = json_object_get(e, "name");
    *err_key = "name";
    if (name == NULL || json_is_null(name)) {
        snprintf(err_msg, errlen, "required field missing");
        return NULL;
    }
    if (!json_is_string(name)) {
        snprintf(err_msg, errlen, "expected a string");
        return NULL;
    }
    const struct gw_schema_plugin *p = gw_schema_plugin_find(json_string_value(name));
    if (p == NULL) {
        snprintf(err_msg, errlen,
                 "plugin '%s' not enabled; add it to the 'plugins' configuration property",
                 json_string_value(name));
        return NULL;
    }
    *err_key = NULL;
    return p->overrides;
}

static void plugin_check(const json_t *e, json_t *errors, bool update)
{
    const struct gw_schema_plugin *p =
        gw_schema_plugin_find(json_string_value(json_object_get(e, "name")));
    if (p != NULL && p->check != NULL)
        p->check(e, errors, update);
}

static const char *const plugin_unique[] = {"instance_name", NULL};

const struct gw_schema gw_schema_plugins = {
    .name = "plugins",
    .endpoint_key = "instance_name",
    .unique = plugin_unique,
    .foreigns =
        (const struct gw_schema_foreign[]){
            {"route", "routes", false, GW_SCHEMA_ON_DELETE_CASCADE},
            {"service", "services", false, GW_SCHEMA_ON_DELETE_CASCADE},
            {"consumer", "consumers", false, GW_SCHEMA_ON_DELETE_CASCADE},
        },
    .n_foreigns = 3,
    .fields = plugin_fields,
    .subschema = plugin_subschema,
    .check = plugin_check,
};

/* ---------------------------------------------------------------- keyauth_credentials */

static const struct gw_schema_field keyauth_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_FOREIGN("consumer", "consumers", GW_SF_REQUIRED),
    {.name = "key", .type = GW_SF_STRING, .flags = GW_SF_UNIQUE | GW_SF_AUTO},
    F_TAGS,
    {.name = "ttl",
     .type = GW_SF_INTEGER,
     .flags = GW_SF_OMIT_ABSENT | GW_SF_BETWEEN,
     .min = 0,
     .max = 100000000},
    F_END,
};

static enum gw_err keyauth_finish(json_t *e, enum gw_schema_op op)
{
    (void)op;
    json_t *k = json_object_get(e, "key");
    if (k == NULL || json_is_null(k)) {
        char key[33];
        enum gw_err r = random_hex(key, 16);
        if (r != GW_OK)
            return r;
        json_object_set_new(e, "key", json_string(key));
    }
    return GW_OK;
}

static const char *const keyauth_unique[] = {"key", NULL};

const struct gw_schema gw_schema_keyauth_credentials = {
    .name = "keyauth_credentials",
    .endpoint_key = "key",
    .unique = keyauth_unique,
    .foreigns = (const struct gw_schema_foreign[]){{"consumer", "consumers", true,
                                                    GW_SCHEMA_ON_DELETE_CASCADE}},
    .n_foreigns = 1,
    .fields = keyauth_fields,
    .finish = keyauth_finish,
};

/* ---------------------------------------------------------------- certificates */

static X509 *load_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    return x;
}

static EVP_PKEY *load_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    return k;
}

/* 0 = match, 1 = mismatch, -1 = cannot load; *type receives the key type. */
static int cert_key_match(const char *cert_pem, const char *key_pem, int *type)
{
    X509 *x = load_cert(cert_pem);
    EVP_PKEY *k = load_key(key_pem);
    int r = -1;
    if (x != NULL && k != NULL) {
        r = X509_check_private_key(x, k) == 1 ? 0 : 1;
        *type = EVP_PKEY_get_base_id(k);
    }
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return r;
}

static const struct gw_schema_field certificate_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_TS("updated_at"),
    {.name = "cert",
     .type = GW_SF_STRING,
     .flags = GW_SF_REQUIRED,
     .check = gw_sf_check_certificate},
    {.name = "key", .type = GW_SF_STRING, .flags = GW_SF_REQUIRED, .check = gw_sf_check_key},
    {.name = "cert_alt", .type = GW_SF_STRING, .check = gw_sf_check_certificate},
    {.name = "key_alt", .type = GW_SF_STRING, .check = gw_sf_check_key},
    F_TAGS,
    {.name = "snis",
     .type = GW_SF_ARRAY,
     .flags = GW_SF_INPUT_ONLY,
     .elements = &wildcard_host_elem},
    F_END,
};

static void certificate_check(const json_t *e, json_t *errors, bool update)
{
    static const char *const alt[] = {"cert_alt", "key_alt", NULL};
    (void)update;
    gw_sf_mutually_required(e, errors, alt);
    /* Kong's custom check does not run when one of its fields is already invalid */
    if (json_object_get(errors, "cert") != NULL || json_object_get(errors, "key") != NULL ||
        json_object_get(errors, "cert_alt") != NULL || json_object_get(errors, "key_alt") != NULL)
        return;
    json_t *cert = json_object_get(e, "cert"), *key = json_object_get(e, "key");
    if (!json_is_string(cert) || !json_is_string(key))
        return;
    int t1 = 0, t2 = 0;
    if (cert_key_match(json_string_value(cert), json_string_value(key), &t1) != 0) {
        gw_sf_entity_error(errors, "certificate does not match key");
        return;
    }
    json_t *ca = json_object_get(e, "cert_alt"), *ka = json_object_get(e, "key_alt");
    if (!json_is_string(ca) || !json_is_string(ka))
        return;
    if (cert_key_match(json_string_value(ca), json_string_value(ka), &t2) != 0) {
        gw_sf_entity_error(errors, "alternative certificate does not match key");
        return;
    }
    if (t1 == t2)
        gw_sf_entity_error(errors, "certificate and alternative certificate need to have "
                                   "different type (e.g. RSA and ECDSA), the provided "
                                   "certificates were both of the same type");
}

const struct gw_schema gw_schema_certificates = {
    .name = "certificates",
    .fields = certificate_fields,
    .check = certificate_check,
};

/* ---------------------------------------------------------------- snis */

static const struct gw_schema_field sni_fields[] = {
    F_ID,
    {.name = "name",
     .type = GW_SF_STRING,
     .flags = GW_SF_REQUIRED | GW_SF_UNIQUE,
     .check = gw_sf_check_wildcard_host},
    F_TS("created_at"),
    F_TS("updated_at"),
    F_TAGS,
    F_FOREIGN("certificate", "certificates", GW_SF_REQUIRED),
    F_END,
};

static const char *const sni_unique[] = {"name", NULL};

const struct gw_schema gw_schema_snis = {
    .name = "snis",
    .endpoint_key = "name",
    .unique = sni_unique,
    .foreigns = (const struct gw_schema_foreign[]){{"certificate", "certificates", true,
                                                    GW_SCHEMA_ON_DELETE_CASCADE}},
    .n_foreigns = 1,
    .fields = sni_fields,
};

/* ---------------------------------------------------------------- ca_certificates */

static const struct gw_schema_field ca_fields[] = {
    F_ID,
    F_TS("created_at"),
    F_TS("updated_at"),
    {.name = "cert",
     .type = GW_SF_STRING,
     .flags = GW_SF_REQUIRED,
     .check = gw_sf_check_certificate},
    {.name = "cert_digest", .type = GW_SF_STRING, .flags = GW_SF_UNIQUE},
    F_TAGS,
    F_END,
};

static void ca_check(const json_t *e, json_t *errors, bool update)
{
    (void)update;
    if (json_object_get(errors, "cert") != NULL)
        return;
    json_t *cert = json_object_get(e, "cert");
    if (!json_is_string(cert))
        return;
    const char *pem = json_string_value(cert);
    const char *first = strstr(pem, "-----BEGIN CERTIFICATE-----");
    if (first != NULL && strstr(first + 1, "-----BEGIN CERTIFICATE-----") != NULL) {
        gw_sf_entity_error(errors, "please submit only one certificate at a time");
        return;
    }
    X509 *x = load_cert(pem);
    if (x == NULL) {
        ERR_clear_error();
        return;
    }
    if (X509_check_ca(x) == 0 || !(X509_get_extension_flags(x) & EXFLAG_CA)) {
        gw_sf_entity_error(errors, "certificate does not appear to be a CA because it is "
                                   "missing the \"CA\" basic constraint");
    } else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        gw_sf_entity_error(errors, "certificate expired, \"Not After\" time is in the past");
    }
    X509_free(x);
    ERR_clear_error();
}

/* cert_digest = lowercase hex SHA-256 of the DER encoding, computed on every write. */
static enum gw_err ca_finish(json_t *e, enum gw_schema_op op)
{
    (void)op;
    json_t *cert = json_object_get(e, "cert");
    if (!json_is_string(cert))
        return GW_OK; /* validation reports it */
    X509 *x = load_cert(json_string_value(cert));
    if (x == NULL) {
        ERR_clear_error();
        return GW_OK; /* validation reports it */
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(x, EVP_sha256(), md, &n) == 1) {
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        for (unsigned int i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        json_object_set_new(e, "cert_digest", json_string(hex));
    }
    X509_free(x);
    ERR_clear_error();
    return GW_OK;
}

static const char *const ca_unique[] = {"cert_digest", NULL};

const struct gw_schema gw_schema_ca_certificates = {
    .name = "ca_certificates",
    .unique = ca_unique,
    .fields = ca_fields,
    .check = ca_check,
    .finish = ca_finish,
};
