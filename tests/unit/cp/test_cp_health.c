/* tests/unit/cp/test_cp_health.c: the control plane's health registry: reports kept per data
 * plane (latest wins), stale after disconnect (shown, not counted), Kong's per-target objects
 * per data plane, the aggregate per target (HEALTHY / UNHEALTHY / MIXED with counts), the
 * balancer view, and the command sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "health/cp_health.h"
#include "health/cp_health_bcast.h"

#define T1 "11111111-1111-4111-8111-111111111111"
#define T2 "22222222-2222-4222-8222-222222222222"
#define UP "99999999-9999-4999-8999-999999999999"

/* A report of UP with t1 at h1 and t2 at h2 (labels), each with one address. */
static void report(const char *node, const char *h1, const char *h2)
{
    Portico__V1__AddressHealth a1 = PORTICO__V1__ADDRESS_HEALTH__INIT, a2 = a1;
    a1.ip = "127.0.0.1";
    a1.has_port = a1.has_weight = 1;
    a1.port = 9001;
    a1.weight = 100;
    a1.health = (char *)h1;
    a2 = a1;
    a2.port = 9002;
    a2.health = (char *)h2;
    Portico__V1__AddressHealth *ap1[1] = {&a1}, *ap2[1] = {&a2};
    Portico__V1__TargetHealth t1 = PORTICO__V1__TARGET_HEALTH__INIT, t2 = t1;
    t1.target_id = T1;
    t1.target = "127.0.0.1:9001";
    t1.has_weight = 1;
    t1.weight = 100;
    t1.health = (char *)h1;
    t1.addresses = ap1;
    t1.n_addresses = 1;
    t2 = t1;
    t2.target_id = T2;
    t2.target = "127.0.0.1:9002";
    t2.health = (char *)h2;
    t2.addresses = ap2;
    Portico__V1__TargetHealth *tp[2] = {&t1, &t2};
    Portico__V1__UpstreamHealth u = PORTICO__V1__UPSTREAM_HEALTH__INIT;
    u.upstream_id = UP;
    u.upstream_name = "up.test";
    u.health = strcmp(h1, "HEALTHY") == 0 || strcmp(h2, "HEALTHY") == 0 ? "HEALTHY" : "UNHEALTHY";
    u.targets = tp;
    u.n_targets = 2;
    Portico__V1__UpstreamHealth *up[1] = {&u};
    Portico__V1__HealthReport r = PORTICO__V1__HEALTH_REPORT__INIT;
    r.upstreams = up;
    r.n_upstreams = 1;
    cp_health_dp_report(node, "host-of-node", &r);
}

static json_t *stored_targets(void)
{
    return json_pack("[{s:s,s:s,s:i,s:{s:s},s:f},{s:s,s:s,s:i,s:{s:s},s:f}]", "id", T2, "target",
                     "127.0.0.1:9002", "weight", 100, "upstream", "id", UP, "created_at", 2.0, "id",
                     T1, "target", "127.0.0.1:9001", "weight", 100, "upstream", "id", UP,
                     "created_at", 1.0);
}

static json_t *agg(json_t *body, const char *tid)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(body, "data"), i,
                       t) if (strcmp(json_string_value(json_object_get(t, "id")), tid) ==
                              0) return t;
    return NULL;
}

static void aggregate_and_stale(void **state)
{
    (void)state;
    cp_health_reset();
    json_t *targets = stored_targets();
    report("aaaaaaaa-0000-4000-8000-000000000001", "HEALTHY", "HEALTHY");
    report("aaaaaaaa-0000-4000-8000-000000000002", "HEALTHY", "UNHEALTHY");
    assert_int_equal(cp_health_dp_count(), 2);
    json_t *b = cp_health_upstream_json(UP, targets, false);
    assert_non_null(b);
    json_t *a1 = agg(b, T1), *a2 = agg(b, T2);
    assert_string_equal(json_string_value(json_object_get(a1, "health")), "HEALTHY");
    assert_string_equal(json_string_value(json_object_get(a2, "health")), "MIXED");
    json_t *c2 = json_object_get(a2, "data_planes");
    assert_int_equal(json_integer_value(json_object_get(c2, "total")), 2);
    assert_int_equal(json_integer_value(json_object_get(c2, "healthy")), 1);
    assert_int_equal(json_integer_value(json_object_get(c2, "unhealthy")), 1);
    /* entity fields are kept; newest first as stored */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(b, "data"), 0), "id")),
        T2);
    /* per data plane: Kong's per-target objects */
    json_t *dps = json_object_get(b, "data_planes");
    assert_int_equal(json_array_size(dps), 2);
    size_t i;
    json_t *d;
    int seen = 0;
    json_array_foreach(dps, i, d)
    {
        assert_string_equal(json_string_value(json_object_get(d, "hostname")), "host-of-node");
        assert_false(json_is_true(json_object_get(d, "stale")));
        json_t *tl = json_object_get(d, "targets");
        assert_int_equal(json_array_size(tl), 2);
        json_t *t = json_array_get(tl, 1); /* T1, older */
        assert_string_equal(json_string_value(json_object_get(t, "id")), T1);
        assert_string_equal(json_string_value(json_object_get(t, "health")), "HEALTHY");
        json_t *data = json_object_get(t, "data");
        assert_string_equal(json_string_value(json_object_get(data, "host")), "127.0.0.1");
        assert_int_equal(json_integer_value(json_object_get(data, "port")), 9001);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(data, "weight"), "available")), 100);
        seen++;
    }
    assert_int_equal(seen, 2);
    json_decref(b);

    /* the unhealthy data plane disconnects: shown stale, no longer counted */
    cp_health_dp_gone("aaaaaaaa-0000-4000-8000-000000000002");
    b = cp_health_upstream_json(UP, targets, false);
    assert_string_equal(json_string_value(json_object_get(agg(b, T2), "health")), "HEALTHY");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(agg(b, T2), "data_planes"), "total")),
        1);
    int stale = 0;
    json_array_foreach(json_object_get(b, "data_planes"), i, d) stale +=
        json_is_true(json_object_get(d, "stale"));
    assert_int_equal(stale, 1);
    json_decref(b);

    /* latest report wins; all unhealthy; balancer view */
    report("aaaaaaaa-0000-4000-8000-000000000001", "UNHEALTHY", "UNHEALTHY");
    b = cp_health_upstream_json(UP, targets, false);
    assert_string_equal(json_string_value(json_object_get(agg(b, T1), "health")), "UNHEALTHY");
    json_decref(b);
    b = cp_health_upstream_json(UP, targets, true);
    json_t *bd = json_object_get(b, "data");
    assert_string_equal(json_string_value(json_object_get(bd, "health")), "UNHEALTHY");
    assert_int_equal(json_array_size(json_object_get(bd, "data_planes")), 2);
    json_decref(b);

    /* an upstream nobody reported */
    b = cp_health_upstream_json("00000000-0000-4000-8000-000000000000", targets, false);
    assert_string_equal(json_string_value(json_object_get(agg(b, T1), "health")), "UNKNOWN");
    json_decref(b);
    json_decref(targets);
    cp_health_reset();
    assert_int_equal(cp_health_dp_count(), 0);
}

static size_t sink_calls;
static char sink_target[64];

static size_t sink(void *arg, const Portico__V1__HealthCommand *cmd)
{
    (void)arg;
    sink_calls++;
    strncpy(sink_target, cmd->target, sizeof(sink_target) - 1);
    return 3;
}

static void command_sink(void **state)
{
    (void)state;
    Portico__V1__HealthCommand c = PORTICO__V1__HEALTH_COMMAND__INIT;
    c.upstream = UP;
    c.target = T1;
    size_t q = 99;
    assert_int_equal(cp_health_send_command(&c, &q), GW_ERR_UNAVAILABLE);
    assert_int_equal(q, 0);
    cp_health_set_command_sink(sink, NULL);
    assert_int_equal(cp_health_send_command(&c, &q), GW_OK);
    assert_int_equal(q, 3);
    assert_int_equal(sink_calls, 1);
    assert_string_equal(sink_target, T1);
    cp_health_set_command_sink(NULL, NULL);
    assert_int_equal(cp_health_send_command(&c, NULL), GW_ERR_UNAVAILABLE);
}

static void bcast_log(void **state)
{
    (void)state;
    struct cp_health_bcast *b = cp_health_bcast_create();
    assert_non_null(b);
    uint64_t early = cp_health_bcast_head(b);
    Portico__V1__HealthCommand c = PORTICO__V1__HEALTH_COMMAND__INIT;
    c.upstream = UP;
    c.target = T1;
    c.has_healthy = 1;
    c.healthy = 0;
    assert_int_equal(cp_health_bcast_push(b, &c), GW_OK);
    uint64_t late = cp_health_bcast_head(b); /* a connection accepted now */
    assert_false(cp_health_bcast_pending(b, late));
    assert_true(cp_health_bcast_pending(b, early));
    uint8_t *buf;
    size_t len;
    assert_true(cp_health_bcast_next(b, &early, &buf, &len));
    Portico__V1__ClusterMessage *m = portico__v1__cluster_message__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(m);
    assert_int_equal(m->msg_case, PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_COMMAND);
    assert_string_equal(m->health_command->target, T1);
    assert_false(m->health_command->healthy);
    portico__v1__cluster_message__free_unpacked(m, NULL);
    assert_false(cp_health_bcast_next(b, &early, &buf, &len));
    /* a cursor that fell behind skips to the oldest message kept */
    for (int i = 0; i < CP_HEALTH_BCAST_MAX + 10; i++)
        assert_int_equal(cp_health_bcast_push(b, &c), GW_OK);
    int n = 0;
    while (cp_health_bcast_next(b, &late, &buf, &len)) {
        free(buf);
        n++;
    }
    assert_int_equal(n, CP_HEALTH_BCAST_MAX);
    cp_health_bcast_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aggregate_and_stale),
        cmocka_unit_test(command_sink),
        cmocka_unit_test(bcast_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
