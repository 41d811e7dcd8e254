/* tests/unit/common/test_gw_pbjson.c: Kong JSON <-> protobuf conversion: round trip of every
 * entity type and plugin config, nulls, header maps, aliases, errors and the Config builder.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gw_pbjson.h"
#include "gw_snapshot.h"

struct sample {
    const char *table;
    const char *json; /* complete Kong JSON, every field present */
};

static const struct sample samples[] = {
    {"services",
     "{\"id\":\"5b1484f2-5209-49d9-b43e-92ba09dd9d52\",\"created_at\":1700000000,"
     "\"updated_at\":1700000001,\"name\":\"example\",\"retries\":5,\"protocol\":\"http\","
     "\"host\":\"example.com\",\"port\":80,\"path\":\"/api\",\"connect_timeout\":60000,"
     "\"write_timeout\":60000,\"read_timeout\":60000,\"tags\":[\"a\",\"b\"],"
     "\"client_certificate\":{\"id\":\"0c1e6bd6-6a45-4f0e-9d3a-1a2b3c4d5e6f\"},"
     "\"tls_verify\":true,\"tls_verify_depth\":2,\"ca_certificates\":[\"x\"],\"enabled\":true}"},
    {"routes",
     "{\"id\":\"173a6cee-90d1-40a7-89cf-0329eca780a6\",\"created_at\":1,\"updated_at\":2,"
     "\"name\":\"r\",\"protocols\":[\"http\",\"https\"],\"methods\":[\"GET\"],"
     "\"hosts\":[\"a.com\"],\"paths\":[\"/x\"],\"headers\":{\"x-b\":[\"1\",\"2\"],\"x-a\":[\"z\"]},"
     "\"https_redirect_status_code\":426,\"regex_priority\":0,\"strip_path\":true,"
     "\"path_handling\":\"v0\",\"preserve_host\":false,\"request_buffering\":true,"
     "\"response_buffering\":true,\"snis\":[\"s.com\"],"
     "\"sources\":[{\"ip\":\"10.0.0.0/8\",\"port\":80}],\"destinations\":[{\"ip\":\"1.2.3.4\","
     "\"port\":null}],\"service\":{\"id\":\"5b1484f2-5209-49d9-b43e-92ba09dd9d52\"},"
     "\"tags\":null}"},
    {"upstreams",
     "{\"id\":\"u1\",\"created_at\":1,\"updated_at\":2,\"name\":\"up\",\"algorithm\":"
     "\"round-robin\",\"hash_on\":\"none\",\"hash_fallback\":\"none\",\"hash_on_header\":null,"
     "\"hash_fallback_header\":null,\"hash_on_cookie\":null,\"hash_on_cookie_path\":\"/\","
     "\"hash_on_query_arg\":null,\"hash_fallback_query_arg\":null,\"hash_on_uri_capture\":null,"
     "\"hash_fallback_uri_capture\":null,\"slots\":10000,\"healthchecks\":{\"threshold\":0,"
     "\"active\":{\"type\":\"http\",\"timeout\":1,\"concurrency\":10,\"http_path\":\"/\","
     "\"https_sni\":null,\"https_verify_certificate\":true,\"headers\":{\"h\":[\"v\"]},"
     "\"healthy\":{\"interval\":0,\"http_statuses\":[200,302],\"successes\":0},"
     "\"unhealthy\":{\"interval\":0.5,\"http_statuses\":[429,500],\"tcp_failures\":0,"
     "\"timeouts\":0,\"http_failures\":0}},\"passive\":{\"type\":\"http\",\"healthy\":{"
     "\"interval\":null,\"http_statuses\":[200],\"successes\":0},\"unhealthy\":{\"interval\":null,"
     "\"http_statuses\":[500],\"tcp_failures\":0,\"timeouts\":0,\"http_failures\":0}}},"
     "\"tags\":null,\"host_header\":null,\"client_certificate\":null,\"use_srv_name\":false}"},
    {"targets",
     "{\"id\":\"t1\",\"created_at\":1700000000.123,\"updated_at\":1700000000.5,"
     "\"upstream\":{\"id\":\"u1\"},\"target\":\"10.0.0.1:8000\",\"weight\":100,\"tags\":null}"},
    {"consumers",
     "{\"id\":\"c1\",\"created_at\":1,\"updated_at\":1,\"username\":\"bob\",\"custom_id\":null,"
     "\"tags\":[\"t\"]}"},
    {"plugins",
     "{\"config\":{\"key_names\":[\"apikey\"],\"hide_credentials\":false,\"anonymous\":null,"
     "\"key_in_header\":true,\"key_in_query\":true,\"key_in_body\":false,"
     "\"run_on_preflight\":true,\"realm\":null},\"id\":\"p1\",\"created_at\":1,\"updated_at\":1,"
     "\"name\":\"key-auth\",\"instance_name\":null,\"route\":null,\"service\":{\"id\":\"s\"},"
     "\"consumer\":null,\"protocols\":[\"grpc\",\"http\"],\"enabled\":true,\"tags\":null}"},
    {"plugins",
     "{\"config\":{\"second\":5,\"minute\":null,\"hour\":1000.5,\"day\":null,\"month\":null,"
     "\"year\":null,\"limit_by\":\"consumer\",\"header_name\":null,\"path\":null,"
     "\"policy\":\"redis\",\"fault_tolerant\":true,\"hide_client_headers\":false,"
     "\"error_code\":429,\"error_message\":\"API rate limit exceeded\",\"sync_rate\":-1,"
     "\"redis\":{\"host\":\"r\",\"port\":6379,\"username\":null,\"password\":\"pw\","
     "\"database\":0,\"timeout\":2000,\"ssl\":false,\"ssl_verify\":false,\"server_name\":null}},"
     "\"id\":\"p2\",\"created_at\":1,\"updated_at\":1,\"name\":\"rate-limiting\","
     "\"instance_name\":\"rl\",\"route\":{\"id\":\"r\"},\"service\":null,\"consumer\":null,"
     "\"protocols\":[\"http\"],\"enabled\":false,\"tags\":null}"},
    {"plugins",
     "{\"config\":{\"response_code\":[200,301],\"request_method\":[\"GET\",\"HEAD\"],"
     "\"content_type\":[\"text/plain\"],\"cache_ttl\":300,\"strategy\":\"memory\","
     "\"cache_control\":false,\"ignore_uri_case\":false,\"storage_ttl\":null,"
     "\"memory\":{\"dictionary_name\":\"kong_db_cache\"},\"vary_query_params\":null,"
     "\"vary_headers\":null,\"response_headers\":{\"age\":true,\"X-Cache-Status\":true,"
     "\"X-Cache-Key\":false}},\"id\":\"p3\",\"created_at\":1,\"updated_at\":1,"
     "\"name\":\"proxy-cache\",\"instance_name\":null,\"route\":null,\"service\":null,"
     "\"consumer\":{\"id\":\"c1\"},\"protocols\":[\"http\"],\"enabled\":true,\"tags\":null}"},
    {"keyauth_credentials",
     "{\"id\":\"k1\",\"created_at\":1,\"consumer\":{\"id\":\"c1\"},\"key\":\"secret\","
     "\"tags\":null,\"ttl\":null}"},
    {"certificates",
     "{\"id\":\"ce\",\"created_at\":1,\"updated_at\":1,\"cert\":\"-----BEGIN\",\"key\":\"k\","
     "\"cert_alt\":null,\"key_alt\":null,\"tags\":null}"},
    {"snis", "{\"id\":\"sn\",\"created_at\":1,\"updated_at\":1,\"name\":\"a.com\","
             "\"certificate\":{\"id\":\"ce\"},\"tags\":null}"},
    {"ca_certificates",
     "{\"id\":\"ca\",\"created_at\":1,\"updated_at\":1,\"cert\":\"c\",\"cert_digest\":\"d\","
     "\"tags\":null}"},
};

/* Kong JSON with [] and null equivalent (protobuf has no empty-vs-absent for lists). */
static void normalise(json_t *v)
{
    const char *k;
    json_t *x;
    void *tmp;
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, x)
        {
            if (json_is_array(x) && json_array_size(x) == 0)
                json_object_set_new(v, k, json_null());
            else
                normalise(x);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_array_foreach(v, i, x) normalise(x);
    }
}

static void round_trip_every_entity(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        json_error_t jerr;
        json_t *in = json_loads(samples[i].json, 0, &jerr);
        assert_non_null(in);
        Portico__V1__Config *cfg = gw_pbjson_config_new();
        char err[256];
        enum gw_err rc = gw_pbjson_config_add(cfg, samples[i].table, in, 0, err, sizeof(err));
        if (rc != GW_OK)
            fail_msg("%s: %s", samples[i].table, err);
        /* through the wire format and back */
        size_t len = portico__v1__config__get_packed_size(cfg);
        uint8_t *buf = malloc(len);
        portico__v1__config__pack(cfg, buf);
        Portico__V1__Config *back = portico__v1__config__unpack(NULL, len, buf);
        assert_non_null(back);
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
            &portico__v1__config__descriptor, samples[i].table);
        assert_int_equal(*(size_t *)((char *)back + f->quantifier_offset), 1);
        ProtobufCMessage *ent = (*(ProtobufCMessage ***)((char *)back + f->offset))[0];
        json_t *out = gw_pbjson_from_pb(ent, 0);
        assert_non_null(out);
        normalise(in);
        normalise(out);
        if (!json_equal(in, out)) {
            char *a = json_dumps(in, JSON_SORT_KEYS), *b = json_dumps(out, JSON_SORT_KEYS);
            fail_msg("%s differs:\n in: %s\nout: %s", samples[i].table, a, b);
        }
        json_decref(out);
        json_decref(in);
        free(buf);
        portico__v1__config__free_unpacked(back, NULL);
        portico__v1__config__free_unpacked(cfg, NULL);
    }
}

static void plugin_config_is_typed_by_name(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s, s:s, s:{s:{s:b, s:b}}}", "id", "p", "name", "proxy-cache",
                           "config", "response_headers", "X-Cache-Status", 1, "age", 0);
    ProtobufCMessage *m = NULL;
    char err[256];
    assert_int_equal(gw_pbjson_to_pb(&portico__v1__plugin__descriptor, in, 0, &m, err, sizeof(err)),
                     GW_OK);
    Portico__V1__Plugin *p = (Portico__V1__Plugin *)m;
    assert_int_equal(p->config_case, PORTICO__V1__PLUGIN__CONFIG_PROXY_CACHE);
    assert_non_null(p->proxy_cache->response_headers);
    assert_true(p->proxy_cache->response_headers->has_x_cache_status);
    assert_true(p->proxy_cache->response_headers->x_cache_status);
    assert_false(p->proxy_cache->response_headers->has_x_cache_key);
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(in);

    /* config order in the object does not matter; an unknown plugin is refused */
    in = json_loads("{\"config\":{\"a\":1},\"name\":\"cors\"}", 0, NULL);
    assert_int_equal(gw_pbjson_to_pb(&portico__v1__plugin__descriptor, in, GW_PBJSON_IGNORE_UNKNOWN,
                                     &m, err, sizeof(err)),
                     GW_ERR_INVALID);
    assert_null(m);
    assert_non_null(strstr(err, "cors"));
    json_decref(in);
}

static void header_maps_are_sorted(void **state)
{
    (void)state;
    json_t *in = json_loads("{\"headers\":{\"x-z\":\"one\",\"x-a\":[\"1\",\"2\"]}}", 0, NULL);
    ProtobufCMessage *m = NULL;
    char err[256];
    assert_int_equal(gw_pbjson_to_pb(&portico__v1__route__descriptor, in, 0, &m, err, sizeof(err)),
                     GW_OK);
    Portico__V1__Route *r = (Portico__V1__Route *)m;
    assert_int_equal(r->n_headers, 2);
    assert_string_equal(r->headers[0]->name, "x-a");
    assert_int_equal(r->headers[0]->n_values, 2);
    assert_string_equal(r->headers[1]->name, "x-z");
    assert_string_equal(r->headers[1]->values[0], "one");
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(in);
}

static void errors_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *needle;
    } bad[] = {
        {"{\"port\":\"80\"}", "port: expected an integer"},
        {"{\"port\":99999999999}", "port: value out of range"},
        {"{\"retries\":1.5}", "retries: expected an integer"},
        {"{\"tags\":[\"a\",3]}", "tags[1]: expected a string"},
        {"{\"client_certificate\":\"x\"}", "client_certificate: expected a record"},
        {"{\"client_certificate\":{\"id\":5}}", "client_certificate.id: expected a string"},
        {"{\"nope\":1}", "nope: unknown field"},
        {"{\"tls_verify\":\"yes\"}", "tls_verify: expected a boolean"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *in = json_loads(bad[i].json, 0, NULL);
        ProtobufCMessage *m = (ProtobufCMessage *)1;
        char err[256];
        assert_int_equal(
            gw_pbjson_to_pb(&portico__v1__service__descriptor, in, 0, &m, err, sizeof(err)),
            GW_ERR_INVALID);
        assert_null(m);
        if (!strstr(err, bad[i].needle))
            fail_msg("%s: got '%s', want '%s'", bad[i].json, err, bad[i].needle);
        json_decref(in);
    }
    /* unknown keys may be ignored on request */
    json_t *in = json_loads("{\"nope\":1,\"host\":\"h\"}", 0, NULL);
    ProtobufCMessage *m = NULL;
    char err[256];
    assert_int_equal(gw_pbjson_to_pb(&portico__v1__service__descriptor, in,
                                     GW_PBJSON_IGNORE_UNKNOWN, &m, err, sizeof(err)),
                     GW_OK);
    assert_string_equal(((Portico__V1__Service *)m)->host, "h");
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(in);
    /* non-object and a duplicate via alias */
    in = json_loads("[1]", 0, NULL);
    assert_int_equal(
        gw_pbjson_to_pb(&portico__v1__service__descriptor, in, 0, &m, err, sizeof(err)),
        GW_ERR_INVALID);
    json_decref(in);
    in = json_loads("{\"x_cache_key\":true,\"X-Cache-Key\":false}", 0, NULL);
    assert_int_equal(gw_pbjson_to_pb(&portico__v1__proxy_cache_response_headers__descriptor, in, 0,
                                     &m, err, sizeof(err)),
                     GW_ERR_INVALID);
    json_decref(in);
}

static void config_builder_many_and_hash_stable(void **state)
{
    (void)state;
    char hash[2][GW_SNAPSHOT_HASH_HEXLEN + 1];
    for (int round = 0; round < 2; round++) {
        Portico__V1__Config *cfg = gw_pbjson_config_new();
        char err[256];
        for (int i = 0; i < 100; i++) {
            json_t *svc =
                json_pack("{s:s%, s:s, s:i}", "id", "svc", (size_t)3, "host", "h", "port", i + 1);
            assert_int_equal(gw_pbjson_config_add(cfg, "services", svc, 0, err, sizeof(err)),
                             GW_OK);
            json_decref(svc);
        }
        json_t *x = json_object();
        assert_int_equal(gw_pbjson_config_add(cfg, "nope", x, 0, err, sizeof(err)),
                         GW_ERR_NOTFOUND);
        json_decref(x);
        assert_int_equal(cfg->n_services, 100);
        assert_int_equal(cfg->services[99]->port, 100);
        Portico__V1__Snapshot snap = PORTICO__V1__SNAPSHOT__INIT;
        assert_int_equal(gw_snapshot_build(cfg, 1, &snap), GW_OK);
        memcpy(hash[round], snap.hash, sizeof(hash[round]));
        gw_snapshot_clear(&snap);
        portico__v1__config__free_unpacked(cfg, NULL);
    }
    assert_string_equal(hash[0], hash[1]);
}

static void omit_absent(void **state)
{
    (void)state;
    Portico__V1__Service s = PORTICO__V1__SERVICE__INIT;
    s.host = "h";
    json_t *o = gw_pbjson_from_pb(&s.base, GW_PBJSON_OMIT_ABSENT);
    assert_int_equal(json_object_size(o), 1);
    json_decref(o);
    o = gw_pbjson_from_pb(&s.base, 0);
    assert_true(json_is_null(json_object_get(o, "port")));
    assert_true(json_is_null(json_object_get(o, "tags")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_entity),
        cmocka_unit_test(plugin_config_is_typed_by_name),
        cmocka_unit_test(header_maps_are_sorted),
        cmocka_unit_test(errors_name_the_field),
        cmocka_unit_test(config_builder_many_and_hash_stable),
        cmocka_unit_test(omit_absent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
