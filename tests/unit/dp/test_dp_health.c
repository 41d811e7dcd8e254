/* tests/unit/dp/test_dp_health.c: Kong's health counter rules (a success clears failures, a
 * failure clears successes, limits, mostly_* states, disabled counters), healthchecks defaults
 * and the "enabled" rule, passive/active reports on built configs, the threshold (strict >),
 * weight 0, manual overrides and health surviving a new config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/dp_lb.h"
#include "balancer/dp_lb_state.h"
#include "cfg_helpers.h"
#include "dp_config_internal.h"
#include "health/dp_health.h"
#include "health/dp_health_conf.h"
#include "health/dp_health_counter.h"
#include "health/dp_health_pb.h"

static void counters_kong_rules(void **state)
{
    (void)state;
    struct dp_hc_counters c = {0};
    /* fully healthy: successes are not counted */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_SUCCESS, 2));
    assert_int_equal(c.ctr[DP_HC_CTR_SUCCESS], 0);
    /* a failure below the limit: mostly healthy, still healthy */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_HTTP, 3));
    assert_int_equal(c.state, DP_HC_MOSTLY_HEALTHY);
    assert_true(dp_hc_state_is_healthy((enum dp_hc_state)c.state));
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_HTTP, 3));
    assert_int_equal(c.ctr[DP_HC_CTR_HTTP], 2);
    /* a success clears every failure counter */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_SUCCESS, 5));
    assert_int_equal(c.ctr[DP_HC_CTR_HTTP], 0);
    assert_int_equal(c.ctr[DP_HC_CTR_SUCCESS], 1);
    /* a failure clears the success counter; three in a row trip it */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_HTTP, 3));
    assert_int_equal(c.ctr[DP_HC_CTR_SUCCESS], 0);
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_HTTP, 3));
    assert_true(dp_hc_counters_incr(&c, DP_HC_CTR_HTTP, 3));
    assert_int_equal(c.state, DP_HC_UNHEALTHY);
    /* fully unhealthy: failures are not counted */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_TCP, 1));
    assert_int_equal(c.ctr[DP_HC_CTR_TCP], 0);
    /* successes bring it back, going through mostly unhealthy */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_SUCCESS, 2));
    assert_int_equal(c.state, DP_HC_MOSTLY_UNHEALTHY);
    assert_false(dp_hc_state_is_healthy((enum dp_hc_state)c.state));
    assert_int_equal(c.ctr[DP_HC_CTR_HTTP], 0);
    assert_true(dp_hc_counters_incr(&c, DP_HC_CTR_SUCCESS, 2));
    assert_int_equal(c.state, DP_HC_HEALTHY);
    /* a limit of 0 disables the counter */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_TIMEOUT, 0));
    assert_int_equal(c.state, DP_HC_HEALTHY);
    assert_int_equal(c.ctr[DP_HC_CTR_TIMEOUT], 0);
    /* different failure kinds count separately; each has its own limit */
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_TCP, 2));
    assert_false(dp_hc_counters_incr(&c, DP_HC_CTR_TIMEOUT, 2));
    assert_true(dp_hc_counters_incr(&c, DP_HC_CTR_TCP, 2));
    /* manual set clears the counters */
    assert_true(dp_hc_counters_set(&c, true));
    assert_int_equal(c.ctr[DP_HC_CTR_TCP], 0);
    assert_int_equal(c.ctr[DP_HC_CTR_TIMEOUT], 0);
    assert_false(dp_hc_counters_set(&c, true));
    /* limit 1 trips at once; counters saturate at 255 */
    struct dp_hc_counters d = {0};
    assert_true(dp_hc_counters_incr(&d, DP_HC_CTR_TIMEOUT, 1));
    struct dp_hc_counters e = {0};
    for (int i = 0; i < 300; i++)
        dp_hc_counters_incr(&e, DP_HC_CTR_HTTP, 255);
    assert_int_equal(e.state, DP_HC_UNHEALTHY);
    assert_int_equal(e.ctr[DP_HC_CTR_HTTP], 255);
}

static void conf_defaults_and_enabled(void **state)
{
    (void)state;
    struct dp_hc_conf *c = dp_hc_conf_create(NULL);
    assert_non_null(c);
    assert_false(c->enabled);
    assert_false(c->active_on);
    assert_string_equal(c->http_path, "/");
    assert_true(c->https_verify);
    assert_int_equal(c->concurrency, 10);
    assert_true(c->timeout == 1.0);
    assert_true(dp_hc_statuses_has(&c->active.healthy_statuses, 302));
    assert_false(dp_hc_statuses_has(&c->active.healthy_statuses, 201));
    assert_true(dp_hc_statuses_has(&c->active.unhealthy_statuses, 404));
    assert_true(dp_hc_statuses_has(&c->passive.healthy_statuses, 226));
    assert_true(dp_hc_statuses_has(&c->passive.healthy_statuses, 308));
    assert_false(dp_hc_statuses_has(&c->passive.unhealthy_statuses, 502));
    assert_true(dp_hc_statuses_has(&c->passive.unhealthy_statuses, 429));
    assert_false(dp_hc_statuses_has(&c->passive.unhealthy_statuses, 1000));
    dp_hc_conf_destroy(c);

    /* passive successes alone do not enable checks; passive timeouts do */
    Portico__V1__Healthchecks hc = PORTICO__V1__HEALTHCHECKS__INIT;
    Portico__V1__PassiveHealthcheck p = PORTICO__V1__PASSIVE_HEALTHCHECK__INIT;
    Portico__V1__HealthyConfig ph = PORTICO__V1__HEALTHY_CONFIG__INIT;
    Portico__V1__UnhealthyConfig pu = PORTICO__V1__UNHEALTHY_CONFIG__INIT;
    hc.passive = &p;
    p.healthy = &ph;
    p.unhealthy = &pu;
    ph.has_successes = 1;
    ph.successes = 3;
    c = dp_hc_conf_create(&hc);
    assert_false(c->enabled);
    dp_hc_conf_destroy(c);
    pu.has_timeouts = 1;
    pu.timeouts = 2;
    c = dp_hc_conf_create(&hc);
    assert_true(c->enabled);
    assert_false(c->active_on);
    dp_hc_conf_destroy(c);

    /* active: interval, type, headers preformatted, header injection dropped */
    Portico__V1__ActiveHealthcheck a = PORTICO__V1__ACTIVE_HEALTHCHECK__INIT;
    Portico__V1__HealthyConfig ah = PORTICO__V1__HEALTHY_CONFIG__INIT;
    Portico__V1__HeaderValues h1 = PORTICO__V1__HEADER_VALUES__INIT;
    Portico__V1__HeaderValues h2 = PORTICO__V1__HEADER_VALUES__INIT;
    Portico__V1__HeaderValues *hs[2] = {&h1, &h2};
    char *v1[2] = {"a", "b"}, *v2[1] = {"x\r\nEvil: 1"};
    h1.name = "X-One";
    h1.values = v1;
    h1.n_values = 2;
    h2.name = "X-Two";
    h2.values = v2;
    h2.n_values = 1;
    a.headers = hs;
    a.n_headers = 2;
    a.healthy = &ah;
    ah.has_interval = 1;
    ah.interval = 0.5;
    a.type = "tcp";
    a.http_path = "/status";
    int32_t st[2] = {201, 1234};
    ah.http_statuses = st;
    ah.n_http_statuses = 2;
    hc.active = &a;
    c = dp_hc_conf_create(&hc);
    assert_true(c->enabled);
    assert_true(c->active_on);
    assert_int_equal(c->active.type, DP_HC_TYPE_TCP);
    assert_string_equal(c->http_path, "/status");
    assert_string_equal(c->headers, "X-One: a\r\nX-One: b\r\n");
    assert_true(dp_hc_statuses_has(&c->active.healthy_statuses, 201));
    assert_false(dp_hc_statuses_has(&c->active.healthy_statuses, 200));
    dp_hc_conf_destroy(c);
    a.type = "grpc";
    c = dp_hc_conf_create(&hc);
    assert_false(c->active_on); /* grpc probes are not run by this data plane */
    dp_hc_conf_destroy(c);
}

/* An upstream with passive checks (http_failures 2, tcp_failures 1, successes 2) and three
 * targets of weight 100, 100, 50; threshold in percent. */
static struct dp_config *build_cfg(struct cfgh *h, double threshold, int w3)
{
    cfgh_init(h);
    Portico__V1__Upstream *u = cfgh_upstream(h, "u1", "svc.test", NULL);
    Portico__V1__Healthchecks *hc = cfgh_keep(h, calloc(1, sizeof(*hc)));
    Portico__V1__PassiveHealthcheck *p = cfgh_keep(h, calloc(1, sizeof(*p)));
    Portico__V1__HealthyConfig *ph = cfgh_keep(h, calloc(1, sizeof(*ph)));
    Portico__V1__UnhealthyConfig *pu = cfgh_keep(h, calloc(1, sizeof(*pu)));
    portico__v1__healthchecks__init(hc);
    portico__v1__passive_healthcheck__init(p);
    portico__v1__healthy_config__init(ph);
    portico__v1__unhealthy_config__init(pu);
    hc->passive = p;
    p->healthy = ph;
    p->unhealthy = pu;
    ph->has_successes = 1;
    ph->successes = 2;
    pu->has_http_failures = 1;
    pu->http_failures = 2;
    pu->has_tcp_failures = 1;
    pu->tcp_failures = 1;
    hc->has_threshold = 1;
    hc->threshold = threshold;
    u->healthchecks = hc;
    cfgh_target(h, "t1", "u1", "127.0.0.1:9001", 100);
    cfgh_target(h, "t2", "u1", "127.0.0.1:9002", 100);
    cfgh_target(h, "t3", "u1", "127.0.0.1:9003", w3);
    struct dp_config *cfg = NULL;
    assert_int_equal(dp_config_build(&h->cfg, 1, "h", NULL, NULL, &cfg), GW_OK);
    return cfg;
}

static void passive_reports_and_threshold(void **state)
{
    (void)state;
    struct cfgh h;
    struct dp_config *cfg = build_cfg(&h, 50, 50);
    struct dp_upstream *u = &cfg->upstreams[0];
    const struct dp_addr *a1 = u->addrs[0], *a2 = u->addrs[1], *a3 = u->addrs[2];
    long long total = 0, avail = 0;
    assert_true(dp_health_upstream_ok(u, &total, &avail));
    assert_int_equal(total, 250);
    assert_int_equal(avail, 250);

    uint64_t v0 = dp_health_version();
    /* statuses outside both lists are ignored; 500 counts; the 2nd trips t1 */
    dp_health_report_status(u, a1, DP_HC_SRC_PASSIVE, 404);
    dp_health_report_status(u, a1, DP_HC_SRC_PASSIVE, 500);
    assert_true(dp_health_addr_healthy(a1));
    assert_int_equal(dp_health_version(), v0);
    dp_health_report_status(u, a1, DP_HC_SRC_PASSIVE, 503);
    assert_false(dp_health_addr_healthy(a1));
    assert_true(dp_health_version() > v0);
    /* 150/250 = 60% > 50 */
    assert_true(dp_health_upstream_ok(u, &total, &avail));
    assert_int_equal(avail, 150);
    assert_true(dp_health_threshold_ok(u));
    /* one tcp failure trips t3: 100/250 = 40% <= 50 */
    dp_health_report_tcp_failure(u, a3, DP_HC_SRC_PASSIVE);
    assert_false(dp_health_addr_healthy(a3));
    assert_false(dp_health_upstream_ok(u, NULL, &avail));
    assert_int_equal(avail, 100);
    assert_false(dp_health_threshold_ok(u));
    /* the balancer skips unhealthy addresses */
    for (int i = 0; i < 10; i++) {
        struct dp_lb_ctx ctx = {0};
        const struct dp_addr *a = NULL;
        assert_int_equal(dp_lb_pick(u->lb, &ctx, &a), GW_OK);
        assert_ptr_equal(a, a2);
    }
    /* passive successes (limit 2) bring t1 back */
    dp_health_report_status(u, a1, DP_HC_SRC_PASSIVE, 200);
    assert_false(dp_health_addr_healthy(a1));
    dp_health_report_status(u, a1, DP_HC_SRC_PASSIVE, 204);
    assert_true(dp_health_addr_healthy(a1));
    /* timeouts are disabled (limit 0): ignored */
    for (int i = 0; i < 5; i++)
        dp_health_report_timeout(u, a2, DP_HC_SRC_PASSIVE);
    assert_true(dp_health_addr_healthy(a2));
    /* active limits are all 0 in this config: active reports change nothing */
    dp_health_report_tcp_failure(u, a2, DP_HC_SRC_ACTIVE);
    assert_true(dp_health_addr_healthy(a2));

    /* health survives a new config of the same upstream; a new target starts healthy */
    struct cfgh h2;
    struct dp_config *cfg2 = build_cfg(&h2, 50, 50);
    cfgh_target(&h2, "t4", "u1", "127.0.0.1:9004", 100);
    struct dp_config *cfg3 = NULL;
    assert_int_equal(dp_config_build(&h2.cfg, 2, "h2", NULL, NULL, &cfg3), GW_OK);
    dp_config_destroy(cfg2);
    struct dp_upstream *u3 = &cfg3->upstreams[0];
    assert_true(dp_health_addr_healthy(u3->addrs[0]));
    assert_true(dp_health_addr_healthy(u3->addrs[1]));
    assert_false(dp_health_addr_healthy(u3->addrs[2])); /* t3 still down */
    assert_true(dp_health_addr_healthy(u3->addrs[3]));  /* t4 new */
    assert_ptr_equal(u3->addrs[2]->state, a3->state);

    /* manual override clears counters and bumps the version */
    uint64_t v1 = dp_health_version();
    dp_health_set(u3, u3->addrs[2], true);
    assert_true(dp_health_addr_healthy(a3));
    assert_true(dp_health_version() > v1);
    dp_health_set(u3, u3->addrs[0], false);
    assert_false(dp_health_addr_healthy(a1));

    /* checks turned off: every address healthy again */
    dp_health_reset_upstream(u3);
    assert_true(dp_health_addr_healthy(a1));
    dp_config_destroy(cfg3);
    dp_config_destroy(cfg);
    cfgh_free(&h);
    cfgh_free(&h2);
    assert_int_equal(dp_lb_state_count(), 0);
}

static void threshold_strict_and_weight_zero(void **state)
{
    (void)state;
    struct cfgh h;
    /* threshold 60 with t3 weight 0: total 200 */
    struct dp_config *cfg = build_cfg(&h, 50, 0);
    struct dp_upstream *u = &cfg->upstreams[0];
    assert_int_equal(u->naddrs, 2);
    /* weight 0: reports are ignored, never usable */
    const struct dp_addr *z = &u->targets[2].addrs[0];
    assert_int_equal(z->weight, 0);
    dp_health_report_tcp_failure(u, z, DP_HC_SRC_PASSIVE);
    assert_true(atomic_load(&z->state->healthy));
    assert_false(dp_health_addr_healthy(z));
    /* exactly 50% available with threshold 50: unhealthy (strict >) */
    dp_health_report_tcp_failure(u, u->addrs[0], DP_HC_SRC_PASSIVE);
    long long total = 0, avail = 0;
    assert_false(dp_health_upstream_ok(u, &total, &avail));
    assert_int_equal(total, 200);
    assert_int_equal(avail, 100);
    /* all unhealthy: no peer */
    dp_health_report_tcp_failure(u, u->addrs[1], DP_HC_SRC_PASSIVE);
    struct dp_lb_ctx ctx = {0};
    const struct dp_addr *a = NULL;
    assert_int_equal(dp_lb_pick(u->lb, &ctx, &a), GW_ERR_UNAVAILABLE);
    /* plain services (no upstream) are never reported */
    dp_health_report_tcp_failure(NULL, u->addrs[1], DP_HC_SRC_PASSIVE);
    dp_config_destroy(cfg);
    cfgh_free(&h);

    /* no targets at all: the balancer is unhealthy */
    struct cfgh e;
    cfgh_init(&e);
    cfgh_upstream(&e, "u9", "empty.test", NULL);
    struct dp_config *c2 = NULL;
    assert_int_equal(dp_config_build(&e.cfg, 1, "h", NULL, NULL, &c2), GW_OK);
    assert_false(dp_health_upstream_ok(&c2->upstreams[0], NULL, NULL));
    assert_true(dp_health_threshold_ok(&c2->upstreams[0])); /* threshold 0: left to the pick */
    dp_config_destroy(c2);
    cfgh_free(&e);
}

static void report_and_command(void **state)
{
    (void)state;
    struct cfgh h;
    struct dp_config *cfg = build_cfg(&h, 0, 0);
    dp_config_publish(cfg);
    struct dp_upstream *u = &cfg->upstreams[0];
    dp_health_report_tcp_failure(u, u->addrs[1], DP_HC_SRC_PASSIVE);

    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t ver = 0;
    assert_int_equal(dp_health_report_pack(&buf, &len, &ver), GW_OK);
    assert_int_equal(ver, dp_health_version());
    Portico__V1__ClusterMessage *m = portico__v1__cluster_message__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(m);
    assert_int_equal(m->msg_case, PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_REPORT);
    Portico__V1__HealthReport *r = m->health_report;
    assert_int_equal(r->n_upstreams, 1);
    assert_string_equal(r->upstreams[0]->upstream_id, "u1");
    assert_string_equal(r->upstreams[0]->health, "HEALTHY");
    assert_int_equal(r->upstreams[0]->n_targets, 3);
    assert_string_equal(r->upstreams[0]->targets[0]->target_id, "t1");
    assert_string_equal(r->upstreams[0]->targets[0]->health, "HEALTHY");
    assert_string_equal(r->upstreams[0]->targets[1]->health, "UNHEALTHY");
    assert_string_equal(r->upstreams[0]->targets[1]->target, "127.0.0.1:9002");
    assert_string_equal(r->upstreams[0]->targets[2]->health, "HEALTHCHECKS_OFF"); /* weight 0 */
    assert_int_equal(r->upstreams[0]->targets[1]->n_addresses, 1);
    assert_string_equal(r->upstreams[0]->targets[1]->addresses[0]->ip, "127.0.0.1");
    assert_int_equal(r->upstreams[0]->targets[1]->addresses[0]->port, 9002);
    assert_string_equal(r->upstreams[0]->targets[1]->addresses[0]->health, "UNHEALTHY");
    portico__v1__cluster_message__free_unpacked(m, NULL);

    /* sync: due at first, then only after a change or when forced */
    struct dp_health_sync sync = {0};
    assert_int_equal(dp_health_sync_poll(&sync, false, &buf, &len), GW_OK);
    assert_non_null(buf);
    free(buf);
    assert_int_equal(dp_health_sync_poll(&sync, false, &buf, &len), GW_OK);
    assert_null(buf);
    assert_int_equal(dp_health_sync_poll(&sync, true, &buf, &len), GW_OK);
    assert_non_null(buf);
    free(buf);
    dp_health_report_tcp_failure(u, u->addrs[0], DP_HC_SRC_PASSIVE);
    assert_int_equal(dp_health_sync_poll(&sync, false, &buf, &len), GW_OK);
    assert_non_null(buf);
    free(buf);
    dp_health_set(u, u->addrs[0], true);

    /* commands: by upstream name + target host:port, then one address; unknown ones */
    Portico__V1__HealthCommand c = PORTICO__V1__HEALTH_COMMAND__INIT;
    c.upstream = "svc.test";
    c.target = "127.0.0.1:9002";
    c.has_healthy = 1;
    c.healthy = 1;
    assert_int_equal(dp_health_command_apply(&c), GW_OK);
    assert_true(dp_health_addr_healthy(u->addrs[1]));
    c.upstream = "u1";
    c.target = "t1";
    c.address = "127.0.0.1:9001";
    c.healthy = 0;
    assert_int_equal(dp_health_command_apply(&c), GW_OK);
    assert_false(dp_health_addr_healthy(u->addrs[0]));
    c.address = "127.0.0.2:9001";
    assert_int_equal(dp_health_command_apply(&c), GW_ERR_NOTFOUND);
    c.address = NULL;
    c.target = "127.0.0.1:1";
    assert_int_equal(dp_health_command_apply(&c), GW_ERR_NOTFOUND);
    c.upstream = "nope";
    assert_int_equal(dp_health_command_apply(&c), GW_ERR_NOTFOUND);
    dp_config_shutdown();
    cfgh_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_kong_rules),
        cmocka_unit_test(conf_defaults_and_enabled),
        cmocka_unit_test(passive_reports_and_threshold),
        cmocka_unit_test(threshold_strict_and_weight_zero),
        cmocka_unit_test(report_and_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
