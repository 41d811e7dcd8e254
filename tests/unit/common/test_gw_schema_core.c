/* tests/unit/common/test_gw_schema_core.c: gw_schema for services, routes, upstreams, targets
 * and consumers: defaults, shorthands, PATCH/PUT semantics, field rules, entity checks and Kong's
 * error bodies.
 * SPDX-License-Identifier: Apache-2.0 */
#include "common/schema_test_util.h"

#include "gw_uuid.h"

/* ---------------------------------------------------------------- services */

static void service_defaults(void **state)
{
    (void)state;
    json_t *s = sch_ok("services", GW_SCHEMA_INSERT, "{\"host\":\"x\"}", NULL);
    assert_true(gw_uuid_valid(json_string_value(json_object_get(s, "id"))));
    assert_true(json_is_integer(json_object_get(s, "created_at")));
    assert_true(json_integer_value(json_object_get(s, "created_at")) > 1600000000);
    assert_true(json_equal(json_object_get(s, "created_at"), json_object_get(s, "updated_at")) ||
                json_integer_value(json_object_get(s, "updated_at")) >=
                    json_integer_value(json_object_get(s, "created_at")));
    strip_auto(s);
    assert_json(s, "{\"name\":null,\"retries\":5,\"protocol\":\"http\",\"host\":\"x\",\"port\":80,"
                   "\"path\":null,\"connect_timeout\":60000,\"write_timeout\":60000,"
                   "\"read_timeout\":60000,\"tags\":null,\"client_certificate\":null,"
                   "\"tls_verify\":null,\"tls_verify_depth\":null,\"ca_certificates\":null,"
                   "\"enabled\":true}");
    json_decref(s);
}

static void service_keeps_given_id(void **state)
{
    (void)state;
    json_t *s = sch_ok("services", GW_SCHEMA_INSERT,
                       "{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\",\"host\":\"x\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(s, "id")),
                        "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    json_decref(s);
    expect_error("services", "{\"id\":\"nope\",\"host\":\"x\"}",
                 "{\"id\":\"expected a valid UUID\"}",
                 "schema violation (id: expected a valid UUID)");
}

static void service_url_shorthand(void **state)
{
    (void)state;
    json_t *s = sch_ok("services", GW_SCHEMA_INSERT, "{\"url\":\"http://service.test/\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(s, "protocol")), "http");
    assert_string_equal(json_string_value(json_object_get(s, "host")), "service.test");
    assert_int_equal(json_integer_value(json_object_get(s, "port")), 80);
    assert_string_equal(json_string_value(json_object_get(s, "path")), "/");
    assert_null(json_object_get(s, "url"));
    json_decref(s);

    s = sch_ok("services", GW_SCHEMA_INSERT, "{\"url\":\"https://service.test\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(s, "protocol")), "https");
    assert_int_equal(json_integer_value(json_object_get(s, "port")), 443);
    assert_true(json_is_null(json_object_get(s, "path")));
    json_decref(s);

    s = sch_ok("services", GW_SCHEMA_INSERT, "{\"url\":\"grpc://10.0.0.1:9000\",\"name\":\"g\"}",
               NULL);
    assert_string_equal(json_string_value(json_object_get(s, "protocol")), "grpc");
    assert_string_equal(json_string_value(json_object_get(s, "host")), "10.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(s, "port")), 9000);
    json_decref(s);

    s = sch_ok("services", GW_SCHEMA_INSERT, "{\"url\":\"http://[::1]:8080\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(s, "host")), "::1");
    assert_int_equal(json_integer_value(json_object_get(s, "port")), 8080);
    json_decref(s);

    s = sch_ok("services", GW_SCHEMA_INSERT, "{\"url\":\"http://h:8080/a/b?x=1\"}", NULL);
    assert_int_equal(json_integer_value(json_object_get(s, "port")), 8080);
    assert_string_equal(json_string_value(json_object_get(s, "path")), "/a/b");
    json_decref(s);

    expect_error("services", "{\"url\":\"invalid url\"}",
                 "{\"host\":\"required field missing\",\"path\":\"should start with: /\"}",
                 "2 schema violations (host: required field missing; path: should start with: /)");
    expect_error("services", "{\"url\":42}",
                 "{\"url\":\"expected a string\",\"host\":\"required field missing\"}", NULL);
}

static void service_field_rules(void **state)
{
    (void)state;
    expect_error("services", "{}", "{\"host\":\"required field missing\"}",
                 "schema violation (host: required field missing)");
    expect_error("services", "{\"host\":\"x:80\"}", "{\"host\":\"must not have a port\"}", NULL);
    expect_error("services", "{\"host\":\"a b\"}", "{\"host\":\"invalid value: a b\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"port\":70000}",
                 "{\"port\":\"value should be between 0 and 65535\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"port\":\"80\"}",
                 "{\"port\":\"expected an integer\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"port\":80.5}", "{\"port\":\"expected an integer\"}",
                 NULL);
    expect_error("services", "{\"host\":\"x\",\"protocol\":\"ftp\"}",
                 "{\"protocol\":\"expected one of: grpc, grpcs, http, https, tcp, tls, "
                 "tls_passthrough, udp\"}",
                 NULL);
    expect_error("services", "{\"host\":\"x\",\"enabled\":\"yes\"}",
                 "{\"enabled\":\"expected a boolean\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"enabled\":null}",
                 "{\"enabled\":\"required field missing\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"connect_timeout\":0}",
                 "{\"connect_timeout\":\"value should be between 1 and 2147483646\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"retries\":32768}",
                 "{\"retries\":\"value should be between 0 and 32767\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"path\":\"foo\"}",
                 "{\"path\":\"should start with: /\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"path\":\"/a//b\"}",
                 "{\"path\":\"must not have empty segments\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"path\":\"/a%zz\"}",
                 "{\"path\":\"invalid url-encoded value: '%zz'\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"name\":\"a b\"}",
                 "{\"name\":\"invalid value 'a b': the only accepted ascii characters are "
                 "alphanumerics or ., -, _, and ~\"}",
                 NULL);
    expect_error("services", "{\"host\":\"x\",\"name\":\"\"}",
                 "{\"name\":\"length must be at least 1\"}", NULL);
    expect_error("services", "{\"host\":\"x\",\"foo\":1}", "{\"foo\":\"unknown field\"}",
                 "schema violation (foo: unknown field)");
    expect_error("services", "{\"host\":\"x\",\"tags\":[\"ok\",\"a,b\"]}",
                 "{\"tags\":[null,\"invalid tag 'a,b': expected printable ascii (except `,` and "
                 "`/`) or valid utf-8 sequences\"]}",
                 "schema violation (tags.2: invalid tag 'a,b': expected printable ascii (except "
                 "`,` and `/`) or valid utf-8 sequences)");
    expect_error("services", "{\"host\":\"x\",\"tags\":\"t\"}", "{\"tags\":\"expected a set\"}",
                 NULL);
    expect_error("services",
                 "{\"host\":\"x\",\"protocol\":\"https\",\"client_certificate\":{\"id\":\"x\"}}",
                 "{\"client_certificate\":{\"id\":\"expected a valid UUID\"}}", NULL);

    expect_error("services", "{\"host\":\"x\",\"tags\":[\"a/b\",\"tab\\tx\"]}",
                 "{\"tags\":[\"invalid tag 'a/b': expected printable ascii (except `,` and `/`) "
                 "or valid utf-8 sequences\",\"invalid tag 'tab\\tx': expected printable ascii "
                 "(except `,` and `/`) or valid utf-8 sequences\"]}",
                 NULL);
    /* UTF-8 names and tags (spaces included) are accepted; sets are deduplicated */
    json_t *s = sch_ok("services", GW_SCHEMA_INSERT,
                       "{\"host\":\"x\",\"name\":\"s\xc3\xa9rvice~1\",\"tags\":[\"a\",\"\xc3\xa9\","
                       "\"a\",\"with space\"]}",
                       NULL);
    assert_json(json_object_get(s, "tags"), "[\"a\",\"\xc3\xa9\",\"with space\"]");
    json_decref(s);
}

static void service_hostile_input(void **state)
{
    (void)state;
    /* an embedded NUL would truncate the value for C consumers */
    const struct gw_schema *svc = gw_schema_get("services");
    json_t *in = json_object(), *out = NULL, *err = NULL;
    json_object_set_new(in, "host", json_stringn("a\0b", 3));
    assert_int_equal(gw_schema_process(svc, GW_SCHEMA_INSERT, in, NULL, &out, &err),
                     GW_ERR_INVALID);
    assert_json(err, "{\"host\":\"invalid value: contains a NUL byte\"}");
    json_decref(err);
    json_decref(in);

    /* a long UTF-8 value in a message is cut on a character boundary */
    char big[3000];
    size_t n = 0;
    while (n + 2 < sizeof(big) - 1) {
        big[n++] = '\xc3';
        big[n++] = '\xa9';
    }
    big[n] = '\0';
    in = json_object();
    json_object_set_new(in, "host", json_string("x"));
    json_object_set_new(in, "name", json_string(big));
    assert_int_equal(gw_schema_process(svc, GW_SCHEMA_INSERT, in, NULL, &out, &err),
                     GW_OK); /* UTF-8 names are valid */
    json_decref(out);
    big[0] = ' ';
    big[1] = ' ';
    json_object_set_new(in, "name", json_string(big));
    assert_int_equal(gw_schema_process(svc, GW_SCHEMA_INSERT, in, NULL, &out, &err),
                     GW_ERR_INVALID);
    assert_true(json_is_string(json_object_get(err, "name")));
    json_t *body = gw_schema_error_body(err);
    assert_non_null(json_string_value(json_object_get(body, "message")));
    json_decref(body);
    json_decref(err);

    /* large sets are deduplicated without quadratic work */
    json_t *tags = json_array();
    for (int i = 0; i < 20000; i++) {
        char t[32];
        snprintf(t, sizeof(t), "t%d", i % 10000);
        json_array_append_new(tags, json_string(t));
    }
    json_object_set_new(in, "name", json_string("ok"));
    json_object_set_new(in, "tags", tags);
    assert_int_equal(gw_schema_process(svc, GW_SCHEMA_INSERT, in, NULL, &out, &err), GW_OK);
    assert_int_equal(json_array_size(json_object_get(out, "tags")), 10000);
    json_decref(out);

    /* stored columns unknown to the schema are dropped on PATCH */
    json_t *existing = sch_ok("services", GW_SCHEMA_INSERT, "{\"host\":\"x\"}", NULL);
    json_object_set_new(existing, "ws_id", json_string("w"));
    json_t *p = sch_ok("services", GW_SCHEMA_UPDATE, "{\"port\":1}", existing);
    assert_null(json_object_get(p, "ws_id"));
    json_decref(p);
    json_decref(existing);
    json_decref(in);
}

static void service_entity_checks(void **state)
{
    (void)state;
    expect_error("services", "{\"host\":\"x\",\"protocol\":\"tcp\",\"path\":\"/p\"}",
                 "{\"path\":\"value must be null\",\"@entity\":[\"failed conditional validation "
                 "given value of field 'protocol'\"]}",
                 "2 schema violations (failed conditional validation given value of field "
                 "'protocol'; path: value must be null)");
    expect_error("services", "{\"host\":\"x\",\"tls_verify\":true}",
                 "{\"tls_verify\":\"value must be null\",\"@entity\":[\"failed conditional "
                 "validation given value of field 'protocol'\"]}",
                 NULL);
    json_t *s = sch_ok("services", GW_SCHEMA_INSERT,
                       "{\"host\":\"x\",\"protocol\":\"https\",\"tls_verify\":true,"
                       "\"tls_verify_depth\":3,\"ca_certificates\":"
                       "[\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"]}",
                       NULL);
    assert_true(json_is_true(json_object_get(s, "tls_verify")));
    json_decref(s);
    expect_error("services", "{\"host\":\"x\",\"protocol\":\"https\",\"ca_certificates\":[\"x\"]}",
                 "{\"ca_certificates\":[\"expected a valid UUID\"]}", NULL);
}

static void service_patch_and_put(void **state)
{
    (void)state;
    json_t *s = sch_ok("services", GW_SCHEMA_INSERT,
                       "{\"host\":\"x\",\"name\":\"svc\",\"retries\":3,\"created_at\":1000}", NULL);
    assert_int_equal(json_integer_value(json_object_get(s, "created_at")), 1000);
    json_t *p = sch_ok("services", GW_SCHEMA_UPDATE, "{\"port\":8080,\"name\":null}", s);
    assert_int_equal(json_integer_value(json_object_get(p, "port")), 8080);
    assert_int_equal(json_integer_value(json_object_get(p, "retries")), 3);
    assert_true(json_is_null(json_object_get(p, "name")));
    assert_true(json_equal(json_object_get(p, "id"), json_object_get(s, "id")));
    assert_int_equal(json_integer_value(json_object_get(p, "created_at")), 1000);
    assert_true(json_integer_value(json_object_get(p, "updated_at")) > 1000);

    json_t *u = sch_ok("services", GW_SCHEMA_UPSERT, "{\"host\":\"y\"}", p);
    assert_int_equal(json_integer_value(json_object_get(u, "retries")), 5);
    assert_int_equal(json_integer_value(json_object_get(u, "port")), 80);
    assert_true(json_equal(json_object_get(u, "id"), json_object_get(s, "id")));
    assert_int_equal(json_integer_value(json_object_get(u, "created_at")), 1000);

    json_t *err = sch_err("services", GW_SCHEMA_UPSERT, "{}", p);
    assert_json(err, "{\"host\":\"required field missing\"}");
    json_decref(err);
    err = sch_err("services", GW_SCHEMA_UPDATE, "{\"host\":null}", p);
    assert_json(err, "{\"host\":\"required field missing\"}");
    json_decref(err);
    json_decref(u);
    json_decref(p);
    json_decref(s);
}

/* ---------------------------------------------------------------- routes */

static void route_defaults(void **state)
{
    (void)state;
    json_t *r = sch_ok("routes", GW_SCHEMA_INSERT,
                       "{\"paths\":[\"/api\"],\"service\":{\"id\":"
                       "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}}",
                       NULL);
    strip_auto(r);
    assert_json(r, "{\"name\":null,\"protocols\":[\"http\",\"https\"],\"methods\":null,"
                   "\"hosts\":null,\"paths\":[\"/api\"],\"headers\":null,"
                   "\"https_redirect_status_code\":426,\"regex_priority\":0,\"strip_path\":true,"
                   "\"path_handling\":\"v0\",\"preserve_host\":false,\"request_buffering\":true,"
                   "\"response_buffering\":true,\"snis\":null,\"sources\":null,"
                   "\"destinations\":null,\"tags\":null,\"service\":{\"id\":"
                   "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}}");
    json_decref(r);

    /* a bare uuid and extra keys are normalised to {"id": ...} */
    r = sch_ok("routes", GW_SCHEMA_INSERT,
               "{\"hosts\":[\"a.test\"],\"service\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}",
               NULL);
    assert_json(json_object_get(r, "service"), "{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}");
    json_decref(r);
    r = sch_ok("routes", GW_SCHEMA_INSERT,
               "{\"hosts\":[\"a.test\"],\"service\":{\"id\":\"6ba7b810-9dad-11d1-80b4-"
               "00c04fd430c8\",\"name\":\"x\"}}",
               NULL);
    assert_json(json_object_get(r, "service"), "{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}");
    json_decref(r);
}

static void route_needs_a_matcher(void **state)
{
    (void)state;
    expect_error("routes", "{}",
                 "{\"@entity\":[\"must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' "
                 "when 'protocols' is 'https'\"]}",
                 "schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', "
                 "'snis' when 'protocols' is 'https')");
    expect_error("routes", "{\"protocols\":[\"http\"],\"paths\":[]}",
                 "{\"@entity\":[\"must set one of 'methods', 'hosts', 'headers', 'paths' when "
                 "'protocols' is 'http'\"]}",
                 NULL);
    expect_error("routes", "{\"protocols\":[\"grpc\"]}",
                 "{\"@entity\":[\"must set one of 'hosts', 'headers', 'paths' when 'protocols' is "
                 "'grpc'\"]}",
                 NULL);
    expect_error("routes", "{\"protocols\":[\"tcp\"]}",
                 "{\"@entity\":[\"must set one of 'sources', 'destinations', 'snis' when "
                 "'protocols' is 'tcp', 'tls' or 'udp'\"]}",
                 NULL);
    expect_error("routes", "{\"protocols\":[\"tls_passthrough\"]}",
                 "{\"@entity\":[\"must set snis when 'protocols' is 'tls_passthrough'\"]}", NULL);
    json_t *r =
        sch_ok("routes", GW_SCHEMA_INSERT, "{\"methods\":[\"GET\",\"GET\",\"POST\"]}", NULL);
    assert_json(json_object_get(r, "methods"), "[\"GET\",\"POST\"]");
    json_decref(r);
    r = sch_ok("routes", GW_SCHEMA_INSERT,
               "{\"protocols\":[\"tcp\"],\"destinations\":[{\"ip\":\"10.0.0.0/8\"}]}", NULL);
    assert_json(json_object_get(r, "destinations"), "[{\"ip\":\"10.0.0.0/8\",\"port\":null}]");
    json_decref(r);
}

static void route_field_rules(void **state)
{
    (void)state;
    expect_error("routes", "{\"methods\":[\"get\"]}", "{\"methods\":[\"invalid value: get\"]}",
                 "schema violation (methods.1: invalid value: get)");
    expect_error("routes", "{\"paths\":[\"/ok\",\"foo\"]}",
                 "{\"paths\":[null,\"should start with: / (fixed path) or ~/ (regex path)\"]}",
                 "schema violation (paths.2: should start with: / (fixed path) or ~/ (regex "
                 "path))");
    expect_error("routes", "{\"paths\":[\"/a//b\"]}",
                 "{\"paths\":[\"must not have empty segments\"]}", NULL);
    expect_error("routes", "{\"paths\":[\"a//b\"]}",
                 "{\"paths\":[\"must not have empty segments\"]}", NULL);
    expect_error("routes", "{\"paths\":[\"/a/../b\"]}",
                 "{\"paths\":[\"non-normalized path, consider use '/b' instead\"]}", NULL);
    expect_error("routes", "{\"paths\":[\"/%7Efoo\"]}",
                 "{\"paths\":[\"non-normalized path, consider use '/~foo' instead\"]}", NULL);
    static const char *const norm[][2] = {
        {"/x/y/../z", "/x/z"}, {"/a/./b", "/a/b"},   {"/a/.", "/a/"}, {"/a/..", "/"},
        {"/%41b", "/Ab"},      {"/a%2fb", "/a%2Fb"}, {"/../a", "/a"},
    };
    for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
        char in[128], want[256];
        snprintf(in, sizeof(in), "{\"paths\":[\"%s\"]}", norm[i][0]);
        snprintf(want, sizeof(want),
                 "{\"paths\":[\"non-normalized path, consider use '%s' instead\"]}", norm[i][1]);
        expect_error("routes", in, want, NULL);
    }
    json_t *err = sch_err("routes", GW_SCHEMA_INSERT, "{\"paths\":[\"~/users/(foo\"]}", NULL);
    const char *m = json_string_value(json_array_get(json_object_get(err, "paths"), 0));
    assert_non_null(m);
    assert_non_null(strstr(m, "invalid regex: '/users/(foo' (PCRE returned: "));
    json_decref(err);
    json_t *r = sch_ok("routes", GW_SCHEMA_INSERT,
                       "{\"paths\":[\"~/users/(?<id>\\\\d+)$\",\"/caf%C3%A9\"]}", NULL);
    json_decref(r);

    expect_error("routes", "{\"hosts\":[\"*.a.*\"]}",
                 "{\"hosts\":[\"invalid wildcard: must have at most one wildcard\"]}", NULL);
    expect_error("routes", "{\"hosts\":[\"a.*.com\"]}",
                 "{\"hosts\":[\"invalid wildcard: must be placed at leftmost or rightmost "
                 "label\"]}",
                 NULL);
    expect_error("routes", "{\"hosts\":[\"a b\"]}", "{\"hosts\":[\"invalid hostname: a b\"]}",
                 NULL);
    r = sch_ok("routes", GW_SCHEMA_INSERT,
               "{\"hosts\":[\"*.example.com\",\"example.*\",\"a.test:8443\",\"10.0.0.1\"]}", NULL);
    json_decref(r);

    expect_error("routes", "{\"headers\":{\"Host\":[\"x\"]}}",
                 "{\"headers\":\"cannot contain 'host' header, which must be specified in the "
                 "'hosts' attribute\"}",
                 NULL);
    expect_error("routes", "{\"headers\":{\"x y\":[\"x\"]}}",
                 "{\"headers\":\"bad header name 'x y', allowed characters are A-Z, a-z, 0-9, "
                 "'_', and '-'\"}",
                 NULL);
    expect_error("routes", "{\"headers\":{\"x-a\":\"v\"}}", "{\"headers\":\"expected an array\"}",
                 NULL);
    r = sch_ok("routes", GW_SCHEMA_INSERT, "{\"headers\":{\"x-a\":[\"v\",\"~*w\"]}}", NULL);
    json_decref(r);

    expect_error("routes", "{\"paths\":[\"/\"],\"https_redirect_status_code\":200}",
                 "{\"https_redirect_status_code\":\"expected one of: 426, 301, 302, 307, 308\"}",
                 NULL);
    expect_error("routes", "{\"paths\":[\"/\"],\"path_handling\":\"v2\"}",
                 "{\"path_handling\":\"expected one of: v0, v1\"}", NULL);
    expect_error("routes", "{\"paths\":[\"/\"],\"protocols\":[]}",
                 "{\"protocols\":\"length must be at least 1\"}", NULL);
    expect_error("routes", "{\"paths\":[\"/\"],\"protocols\":[\"http\",\"tcp\"]}",
                 "{\"protocols\":\"these sets are mutually exclusive: ('http', 'https'), ('tcp', "
                 "'tls', 'udp')\"}",
                 NULL);
}

static void route_subschemas(void **state)
{
    (void)state;
    json_t *r = sch_ok("routes", GW_SCHEMA_INSERT,
                       "{\"protocols\":[\"grpc\",\"grpcs\"],\"paths\":[\"/svc.Svc/\"]}", NULL);
    assert_true(json_is_false(json_object_get(r, "strip_path")));
    json_decref(r);
    expect_error("routes", "{\"protocols\":[\"grpc\"],\"paths\":[\"/\"],\"strip_path\":true}",
                 "{\"strip_path\":\"cannot set 'strip_path' when 'protocols' is 'grpc' or "
                 "'grpcs'\"}",
                 NULL);
    expect_error("routes", "{\"protocols\":[\"tls\"],\"paths\":[\"/\"],\"snis\":[\"a.test\"]}",
                 "{\"paths\":\"cannot set 'paths' when 'protocols' is 'tcp', 'tls', "
                 "'tls_passthrough' or 'udp'\"}",
                 NULL);
    expect_error("routes", "{\"paths\":[\"/\"],\"sources\":[{\"ip\":\"1.2.3.4\"}]}",
                 "{\"sources\":\"cannot set 'sources' when 'protocols' is 'http' or 'https'\"}",
                 NULL);
    expect_error("routes", "{\"protocols\":[\"http\"],\"paths\":[\"/\"],\"snis\":[\"a.test\"]}",
                 "{\"snis\":\"length must be 0\",\"@entity\":[\"'snis' can only be set when "
                 "'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'\"]}",
                 NULL);
    expect_error("routes", "{\"protocols\":[\"ftp\"]}", "{\"protocols\":\"unknown type: ftp\"}",
                 NULL);
    expect_error("routes", "{\"protocols\":null,\"paths\":[\"/\"]}",
                 "{\"protocols\":\"required field missing\"}", NULL);
    expect_error("routes", "{\"protocols\":[\"https\"],\"snis\":[\"1.2.3.4\"]}",
                 "{\"snis\":[\"must not be an IP\"]}", NULL);
    expect_error("routes", "{\"protocols\":[\"https\"],\"snis\":[\"a.test:443\"]}",
                 "{\"snis\":[\"must not have a port\"]}", NULL);
    r = sch_ok("routes", GW_SCHEMA_INSERT, "{\"protocols\":[\"https\"],\"snis\":[\"*.a.test\"]}",
               NULL);
    json_decref(r);
}

/* ---------------------------------------------------------------- upstreams */

static const char *const hc_defaults =
    "{\"threshold\":0,\"active\":{\"type\":\"http\",\"timeout\":1,\"concurrency\":10,"
    "\"http_path\":\"/\",\"https_sni\":null,\"https_verify_certificate\":true,\"headers\":null,"
    "\"healthy\":{\"interval\":0,\"http_statuses\":[200,302],\"successes\":0},"
    "\"unhealthy\":{\"interval\":0,\"http_statuses\":[429,404,500,501,502,503,504,505],"
    "\"tcp_failures\":0,\"timeouts\":0,\"http_failures\":0}},"
    "\"passive\":{\"type\":\"http\",\"healthy\":{\"http_statuses\":[200,201,202,203,204,205,206,"
    "207,208,226,300,301,302,303,304,305,306,307,308],\"successes\":0},"
    "\"unhealthy\":{\"http_statuses\":[429,500,503],\"tcp_failures\":0,\"timeouts\":0,"
    "\"http_failures\":0}}}";

static void upstream_defaults(void **state)
{
    (void)state;
    json_t *u = sch_ok("upstreams", GW_SCHEMA_INSERT, "{\"name\":\"my.upstream\"}", NULL);
    assert_json(json_object_get(u, "healthchecks"), hc_defaults);
    json_object_del(u, "healthchecks");
    strip_auto(u);
    assert_json(u, "{\"name\":\"my.upstream\",\"algorithm\":\"round-robin\",\"hash_on\":\"none\","
                   "\"hash_fallback\":\"none\",\"hash_on_header\":null,"
                   "\"hash_fallback_header\":null,\"hash_on_cookie\":null,"
                   "\"hash_on_cookie_path\":\"/\",\"hash_on_query_arg\":null,"
                   "\"hash_fallback_query_arg\":null,\"hash_on_uri_capture\":null,"
                   "\"hash_fallback_uri_capture\":null,\"slots\":10000,\"tags\":null,"
                   "\"host_header\":null,\"client_certificate\":null,\"use_srv_name\":false}");
    json_decref(u);
}

static void upstream_name_rules(void **state)
{
    (void)state;
    expect_error("upstreams", "{}", "{\"name\":\"required field missing\"}",
                 "schema violation (name: required field missing)");
    expect_error("upstreams", "{\"name\":\"1.2.3.4\"}",
                 "{\"name\":\"Invalid name ('1.2.3.4'); no ip addresses allowed\"}",
                 "schema violation (name: Invalid name ('1.2.3.4'); no ip addresses allowed)");
    expect_error("upstreams", "{\"name\":\"a.test:80\"}",
                 "{\"name\":\"Invalid name ('a.test:80'); no port allowed\"}", NULL);
    expect_error("upstreams", "{\"name\":\"a_b c\"}",
                 "{\"name\":\"Invalid name ('a_b c'); must be a valid hostname\"}", NULL);
    expect_error("upstreams", "{\"name\":\"u\",\"slots\":5}",
                 "{\"slots\":\"value should be between 10 and 65536\"}", NULL);
    expect_error("upstreams", "{\"name\":\"u\",\"algorithm\":\"random\"}",
                 "{\"algorithm\":\"expected one of: consistent-hashing, least-connections, "
                 "round-robin, latency\"}",
                 NULL);
    expect_error("upstreams", "{\"name\":\"u\",\"host_header\":\"a b\"}",
                 "{\"host_header\":\"invalid hostname: a b\"}", NULL);
    json_t *u =
        sch_ok("upstreams", GW_SCHEMA_INSERT, "{\"name\":\"u\",\"host_header\":\"h:81\"}", NULL);
    json_decref(u);
}

static void upstream_hashing(void **state)
{
    (void)state;
    json_t *u =
        sch_ok("upstreams", GW_SCHEMA_INSERT, "{\"name\":\"u\",\"hash_on\":\"consumer\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(u, "algorithm")), "consistent-hashing");
    json_decref(u);
    u = sch_ok("upstreams", GW_SCHEMA_INSERT,
               "{\"name\":\"u\",\"algorithm\":\"least-connections\",\"hash_on\":\"ip\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(u, "algorithm")), "least-connections");
    assert_string_equal(json_string_value(json_object_get(u, "hash_on")), "none");
    json_decref(u);

    expect_error("upstreams", "{\"name\":\"u\",\"hash_on\":\"header\"}",
                 "{\"hash_on_header\":\"required field missing\",\"@entity\":[\"failed "
                 "conditional validation given value of field 'hash_on'\"]}",
                 NULL);
    expect_error("upstreams",
                 "{\"name\":\"u\",\"hash_on\":\"consumer\",\"hash_fallback\":"
                 "\"consumer\"}",
                 "{\"@entity\":[\"failed conditional validation given value of field "
                 "'hash_on'\"],\"hash_fallback\":\"expected one of: none, ip, header, cookie, "
                 "path, query_arg, uri_capture\"}",
                 NULL);
    expect_error("upstreams", "{\"name\":\"u\",\"hash_fallback\":\"ip\"}",
                 "{\"@entity\":[\"failed conditional validation given value of field "
                 "'hash_on'\"],\"hash_fallback\":\"expected one of: none\"}",
                 NULL);
    expect_error("upstreams",
                 "{\"name\":\"u\",\"hash_on\":\"header\",\"hash_on_header\":\"a\","
                 "\"hash_fallback\":\"header\",\"hash_fallback_header\":\"a\"}",
                 "{\"@entity\":[\"values of these fields must be distinct: 'hash_on_header', "
                 "'hash_fallback_header'\"]}",
                 NULL);
    expect_error("upstreams", "{\"name\":\"u\",\"hash_on\":\"cookie\",\"hash_on_cookie\":\"a b\"}",
                 "{\"hash_on_cookie\":\"bad cookie name 'a b', allowed characters are A-Z, a-z, "
                 "0-9, '_', and '-'\"}",
                 NULL);
    expect_error("upstreams", "{\"name\":\"u\",\"hash_on\":\"query_arg\"}",
                 "{\"hash_on_query_arg\":\"required field missing\",\"@entity\":[\"failed "
                 "conditional validation given value of field 'hash_on'\"]}",
                 NULL);
    u = sch_ok("upstreams", GW_SCHEMA_INSERT,
               "{\"name\":\"u\",\"hash_on\":\"header\",\"hash_on_header\":\"x-a\","
               "\"hash_fallback\":\"uri_capture\",\"hash_fallback_uri_capture\":\"c\"}",
               NULL);
    json_decref(u);
}

static void upstream_healthchecks(void **state)
{
    (void)state;
    json_t *u = sch_ok("upstreams", GW_SCHEMA_INSERT, "{\"name\":\"u\"}", NULL);
    json_t *p = sch_ok("upstreams", GW_SCHEMA_UPDATE,
                       "{\"healthchecks\":{\"active\":{\"http_path\":\"/status\"}}}", u);
    json_t *hc = json_deep_copy(json_object_get(p, "healthchecks"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(hc, "active"), "http_path")), "/status");
    json_object_set_new(json_object_get(hc, "active"), "http_path", json_string("/"));
    assert_json(hc, hc_defaults);
    json_decref(hc);

    /* a second PATCH keeps the first one's change */
    json_t *p2 = sch_ok("upstreams", GW_SCHEMA_UPDATE,
                        "{\"healthchecks\":{\"active\":{\"healthy\":{\"interval\":5}}}}", p);
    json_t *active = json_object_get(json_object_get(p2, "healthchecks"), "active");
    assert_string_equal(json_string_value(json_object_get(active, "http_path")), "/status");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(active, "healthy"), "interval")), 5);
    assert_json(json_object_get(json_object_get(active, "healthy"), "http_statuses"), "[200,302]");

    /* PUT resets everything not given */
    json_t *r = sch_ok("upstreams", GW_SCHEMA_UPSERT, "{\"name\":\"u\"}", p2);
    assert_json(json_object_get(r, "healthchecks"), hc_defaults);
    assert_true(json_equal(json_object_get(r, "id"), json_object_get(u, "id")));

    /* records are implicitly required, as in Kong */
    json_t *nerr =
        sch_err("upstreams", GW_SCHEMA_UPDATE, "{\"healthchecks\":{\"active\":null}}", u);
    assert_json(nerr, "{\"healthchecks\":{\"active\":\"required field missing\"}}");
    json_decref(nerr);
    nerr = sch_err("upstreams", GW_SCHEMA_UPDATE, "{\"healthchecks\":null}", u);
    assert_json(nerr, "{\"healthchecks\":\"required field missing\"}");
    json_decref(nerr);

    json_t *err = sch_err("upstreams", GW_SCHEMA_UPDATE,
                          "{\"healthchecks\":{\"active\":{\"timeout\":-1,\"concurrency\":0},"
                          "\"threshold\":101}}",
                          u);
    assert_json(err, "{\"healthchecks\":{\"active\":{\"timeout\":\"value should be between 0 and "
                     "65535\",\"concurrency\":\"value should be between 1 and 2147483648\"},"
                     "\"threshold\":\"value should be between 0 and 100\"}}");
    assert_message(err, "2 schema violations (healthchecks.active: {\n"
                        "  concurrency = \"value should be between 1 and 2147483648\",\n"
                        "  timeout = \"value should be between 0 and 65535\"\n"
                        "}; healthchecks.threshold: value should be between 0 and 100)");
    json_decref(err);
    err = sch_err("upstreams", GW_SCHEMA_INSERT,
                  "{\"name\":\"u\",\"healthchecks\":{\"active\":{\"type\":\"udp\",\"unhealthy\":"
                  "{\"http_statuses\":[99]},\"foo\":1}}}",
                  NULL);
    assert_json(err, "{\"healthchecks\":{\"active\":{\"type\":\"expected one of: tcp, http, "
                     "https, grpc, grpcs\",\"unhealthy\":{\"http_statuses\":[\"value should be "
                     "between 100 and 999\"]},\"foo\":\"unknown field\"}}}");
    json_decref(err);
    json_decref(r);
    json_decref(p2);
    json_decref(p);
    json_decref(u);
}

/* ---------------------------------------------------------------- targets */

#define UPSTREAM_ID "{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}"

static void target_normalisation(void **state)
{
    (void)state;
    json_t *t = sch_ok("targets", GW_SCHEMA_INSERT,
                       "{\"upstream\":" UPSTREAM_ID ",\"target\":\"konghq.test\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(t, "target")), "konghq.test:8000");
    assert_int_equal(json_integer_value(json_object_get(t, "weight")), 100);
    assert_true(json_is_real(json_object_get(t, "created_at")));
    double ca = json_real_value(json_object_get(t, "created_at"));
    assert_true(ca > 1600000000.0);
    double ms = ca * 1000.0;
    assert_true(ms - (double)(long long)(ms + 0.5) < 0.01);
    assert_json(json_object_get(t, "upstream"), UPSTREAM_ID);
    json_decref(t);

    t = sch_ok("targets", GW_SCHEMA_INSERT,
               "{\"upstream\":" UPSTREAM_ID ",\"target\":\"10.0.0.1:81\",\"weight\":0}", NULL);
    assert_string_equal(json_string_value(json_object_get(t, "target")), "10.0.0.1:81");
    json_decref(t);
    t = sch_ok("targets", GW_SCHEMA_INSERT, "{\"upstream\":" UPSTREAM_ID ",\"target\":\"::1\"}",
               NULL);
    assert_string_equal(json_string_value(json_object_get(t, "target")),
                        "[0000:0000:0000:0000:0000:0000:0000:0001]:8000");
    json_decref(t);
    t = sch_ok("targets", GW_SCHEMA_INSERT,
               "{\"upstream\":" UPSTREAM_ID ",\"target\":\"[2001:db8::1]:8192\"}", NULL);
    assert_string_equal(json_string_value(json_object_get(t, "target")),
                        "[2001:0db8:0000:0000:0000:0000:0000:0001]:8192");
    json_decref(t);
}

static void target_rules(void **state)
{
    (void)state;
    expect_error("targets", "{\"upstream\":" UPSTREAM_ID ",\"target\":\"a b\"}",
                 "{\"target\":\"Invalid target ('a b'); not a valid hostname or ip address\"}",
                 NULL);
    expect_error("targets", "{\"upstream\":" UPSTREAM_ID ",\"target\":\"1.2.3.999\"}",
                 "{\"target\":\"Invalid target ('1.2.3.999'); not a valid hostname or ip "
                 "address\"}",
                 NULL);
    expect_error("targets", "{\"upstream\":" UPSTREAM_ID ",\"target\":\"a:70000\"}",
                 "{\"target\":\"Invalid target ('a:70000'); not a valid hostname or ip "
                 "address\"}",
                 NULL);
    expect_error("targets", "{\"upstream\":" UPSTREAM_ID ",\"target\":\"a\",\"weight\":65536}",
                 "{\"weight\":\"value should be between 0 and 65535\"}",
                 "schema violation (weight: value should be between 0 and 65535)");
    expect_error("targets", "{\"target\":\"a\"}", "{\"upstream\":\"required field missing\"}",
                 NULL);
    expect_error("targets", "{\"upstream\":{\"name\":\"u\"},\"target\":\"a\"}",
                 "{\"upstream\":{\"id\":\"missing primary key\"}}",
                 "schema violation (upstream.id: missing primary key)");
}

/* ---------------------------------------------------------------- consumers */

static void consumer_rules(void **state)
{
    (void)state;
    expect_error("consumers", "{}",
                 "{\"@entity\":[\"at least one of these fields must be non-empty: 'custom_id', "
                 "'username'\"]}",
                 "schema violation (at least one of these fields must be non-empty: 'custom_id', "
                 "'username')");
    json_t *c = sch_ok("consumers", GW_SCHEMA_INSERT, "{\"username\":\"bob\"}", NULL);
    strip_auto(c);
    assert_json(c, "{\"username\":\"bob\",\"custom_id\":null,\"tags\":null}");
    json_t *err = sch_err("consumers", GW_SCHEMA_UPDATE, "{\"username\":null}", c);
    assert_json(err, "{\"@entity\":[\"when updating, at least one of these fields must be "
                     "non-empty: 'custom_id', 'username'\"]}");
    json_decref(err);
    json_t *p = sch_ok("consumers", GW_SCHEMA_UPDATE, "{\"custom_id\":\"c1\"}", c);
    assert_string_equal(json_string_value(json_object_get(p, "username")), "bob");
    json_decref(p);
    json_decref(c);
    expect_error("consumers", "{\"username\":5}", "{\"username\":\"expected a string\"}", NULL);
}

/* ---------------------------------------------------------------- error bodies, form, meta */

static void error_body_ordering(void **state)
{
    (void)state;
    json_t *f = tj("{\"zeta\":\"z\",\"alpha\":\"a\",\"@entity\":[\"e1\",\"e2\"],"
                   "\"mid\":{\"b\":\"x\",\"a\":\"y\"},\"arr\":[null,\"second\"]}");
    assert_message(f, "7 schema violations (e1; e2; alpha: a; arr.2: second; mid.a: y; mid.b: x; "
                      "zeta: z)");
    json_decref(f);
    f = tj("{\"name\":\"required field missing\"}");
    assert_message(f, "schema violation (name: required field missing)");
    json_decref(f);
}

static void form_coercion(void **state)
{
    (void)state;
    const struct gw_schema *s = gw_schema_get("routes");
    json_t *in = tj("{\"paths\":\"/a\",\"strip_path\":\"false\",\"regex_priority\":\"7\","
                    "\"name\":\"\",\"methods\":{\"1\":\"GET\",\"2\":\"POST\"},"
                    "\"service\":{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}}");
    gw_schema_coerce_form(s, in);
    assert_json(in, "{\"paths\":[\"/a\"],\"strip_path\":false,\"regex_priority\":7,\"name\":null,"
                    "\"methods\":[\"GET\",\"POST\"],\"service\":{\"id\":"
                    "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}}");
    json_decref(in);

    s = gw_schema_get("upstreams");
    in = tj("{\"name\":\"u\",\"slots\":\"abc\",\"healthchecks\":{\"active\":{\"timeout\":\"2.5\","
            "\"healthy\":{\"http_statuses\":\"200\"}}}}");
    gw_schema_coerce_form(s, in);
    assert_json(in, "{\"name\":\"u\",\"slots\":\"abc\",\"healthchecks\":{\"active\":{\"timeout\":"
                    "2.5,\"healthy\":{\"http_statuses\":[200]}}}}");
    json_decref(in);
}

static void metadata(void **state)
{
    (void)state;
    const char *const *names = gw_schema_entities();
    size_t n = 0;
    for (; names[n] != NULL; n++)
        assert_non_null(gw_schema_get(names[n]));
    assert_int_equal(n, 10);
    assert_string_equal(names[0], "certificates");
    assert_null(gw_schema_get("nope"));
    const struct gw_schema *t = gw_schema_get("targets");
    assert_string_equal(gw_schema_name(t), "targets");
    assert_string_equal(gw_schema_endpoint_key(t), "target");
    assert_true(gw_schema_ms_timestamps(t));
    size_t nf = 0;
    const struct gw_schema_foreign *fk = gw_schema_foreigns(t, &nf);
    assert_int_equal(nf, 1);
    assert_string_equal(fk[0].field, "upstream");
    assert_string_equal(fk[0].entity, "upstreams");
    assert_true(fk[0].required);
    assert_int_equal(fk[0].on_delete, GW_SCHEMA_ON_DELETE_CASCADE);
    const struct gw_schema *c = gw_schema_get("consumers");
    assert_string_equal(gw_schema_endpoint_key(c), "username");
    assert_string_equal(gw_schema_unique_fields(c)[0], "username");
    assert_string_equal(gw_schema_unique_fields(c)[1], "custom_id");
    assert_null(gw_schema_unique_fields(c)[2]);
    assert_false(gw_schema_ms_timestamps(c));
    assert_null(gw_schema_endpoint_key(gw_schema_get("certificates")));
}

static void validate_stored(void **state)
{
    (void)state;
    const struct gw_schema *s = gw_schema_get("services");
    json_t *svc = sch_ok("services", GW_SCHEMA_INSERT, "{\"host\":\"x\"}", NULL);
    json_t *err = NULL;
    assert_int_equal(gw_schema_validate(s, svc, &err), GW_OK);
    assert_null(err);
    json_object_set_new(svc, "port", json_integer(-1));
    assert_int_equal(gw_schema_validate(s, svc, &err), GW_ERR_INVALID);
    assert_json(err, "{\"port\":\"value should be between 0 and 65535\"}");
    assert_int_equal(json_integer_value(json_object_get(svc, "port")), -1);
    json_decref(err);
    json_object_del(svc, "id");
    assert_int_equal(gw_schema_validate(s, svc, &err), GW_ERR_INVALID);
    assert_json(err, "{\"port\":\"value should be between 0 and 65535\",\"id\":\"required field "
                     "missing\"}");
    json_decref(err);
    json_object_set_new(svc, "id", json_string("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
    json_object_del(svc, "host");
    assert_int_equal(gw_schema_validate(s, svc, &err), GW_ERR_INVALID);
    assert_json(err, "{\"port\":\"value should be between 0 and 65535\",\"host\":\"required field "
                     "missing\"}");
    json_decref(err);
    json_decref(svc);

    json_t *in = tj("[1]"), *out = NULL;
    assert_int_equal(gw_schema_process(s, GW_SCHEMA_INSERT, in, NULL, &out, &err), GW_ERR_INVALID);
    assert_null(out);
    assert_non_null(err);
    json_decref(err);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(service_defaults),
        cmocka_unit_test(service_keeps_given_id),
        cmocka_unit_test(service_url_shorthand),
        cmocka_unit_test(service_field_rules),
        cmocka_unit_test(service_hostile_input),
        cmocka_unit_test(service_entity_checks),
        cmocka_unit_test(service_patch_and_put),
        cmocka_unit_test(route_defaults),
        cmocka_unit_test(route_needs_a_matcher),
        cmocka_unit_test(route_field_rules),
        cmocka_unit_test(route_subschemas),
        cmocka_unit_test(upstream_defaults),
        cmocka_unit_test(upstream_name_rules),
        cmocka_unit_test(upstream_hashing),
        cmocka_unit_test(upstream_healthchecks),
        cmocka_unit_test(target_normalisation),
        cmocka_unit_test(target_rules),
        cmocka_unit_test(consumer_rules),
        cmocka_unit_test(error_body_ordering),
        cmocka_unit_test(form_coercion),
        cmocka_unit_test(metadata),
        cmocka_unit_test(validate_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
