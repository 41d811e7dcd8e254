/* tests/unit/dp/test_dp_plugin_rate_limiting.c: rate-limiting with policy local: headers, 429,
 * limit_by fallbacks, windows, counters surviving config rebuilds, exactness under threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "dp/plugin_fixture.h"
#include "plugins/dp_rl_store.h"

static struct dp_plugin_env env;

static int setup(void **state)
{
    (void)state;
    return dp_plugin_env_init(&env, 1 << 20) == GW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dp_plugin_env_cleanup(&env);
    return 0;
}

static Portico__V1__Config *config(const char *plugin_id, Portico__V1__RateLimitingConfig **out)
{
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    fx_add_route(c, "r2", "s2");
    fx_add_consumer(c, "c1", "alice", NULL);
    fx_add_key(c, "k1", "c1", "alice-key");
    Portico__V1__Plugin *p = fx_add_plugin(c, plugin_id, "rate-limiting", NULL, NULL, NULL);
    *out = p->rate_limiting;
    return c;
}

static struct dp_plugin_set *build(Portico__V1__Config *c)
{
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    return set;
}

/* One request on route from ip with an optional header; returns the status (0 = proxied). */
static int req(struct dp_plugin_set *set, const char *route, const char *ip, const char *hname,
               const char *hval, struct fake_req *f)
{
    fx_init(f, "GET", "/things", NULL);
    snprintf(f->ip, sizeof(f->ip), "%s", ip);
    if (hname)
        fx_list_add(&f->req, hname, hval);
    struct dp_plugin_run r;
    dp_plugin_run_init(&r, set, dp_plugin_set_chain(set, route), &f->base, DP_PLUGIN_PROTO_HTTP);
    dp_plugin_run_access(&r);
    dp_plugin_run_finish(&r);
    return f->resp_status;
}

static void minute_five(void **state)
{
    (void)state;
    Portico__V1__RateLimitingConfig *rl;
    Portico__V1__Config *c = config("rl-minute-five", &rl);
    rl->has_minute = 1;
    rl->minute = 5;
    rl->has_hour = 1;
    rl->hour = 100;
    struct dp_plugin_set *set = build(c);
    struct fake_req f;
    char want[8];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(req(set, "r1", "10.1.1.1", NULL, NULL, &f), 0);
        snprintf(want, sizeof(want), "%d", 4 - i);
        assert_string_equal(fx_client_header(&f, "X-RateLimit-Limit-Minute"), "5");
        assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Minute"), want);
        assert_string_equal(fx_client_header(&f, "X-RateLimit-Limit-Hour"), "100");
        snprintf(want, sizeof(want), "%d", 99 - i);
        assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Hour"), want);
        assert_string_equal(fx_client_header(&f, "RateLimit-Limit"), "5");
        snprintf(want, sizeof(want), "%d", 4 - i);
        assert_string_equal(fx_client_header(&f, "RateLimit-Remaining"), want);
        long reset = strtol(fx_client_header(&f, "RateLimit-Reset"), NULL, 10);
        assert_true(reset >= 1 && reset <= 60);
        assert_null(fx_client_header(&f, "Retry-After"));
    }
    assert_int_equal(req(set, "r1", "10.1.1.1", NULL, NULL, &f), 429);
    assert_string_equal(f.resp_body, "{\"message\":\"API rate limit exceeded\"}");
    assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Minute"), "0");
    /* the hour was not counted for the refused request and is not the stopping period */
    assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Hour"), "95");
    assert_string_equal(fx_client_header(&f, "RateLimit-Remaining"), "0");
    assert_string_equal(fx_client_header(&f, "Retry-After"),
                        fx_client_header(&f, "RateLimit-Reset"));
    /* limit_by consumer without a consumer falls back to the client address */
    assert_int_equal(req(set, "r2", "10.1.1.2", NULL, NULL, &f), 0);
    assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Minute"), "4");
    /* a global plugin counts across routes */
    assert_int_equal(req(set, "r2", "10.1.1.1", NULL, NULL, &f), 429);
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void counters_survive_rebuild_and_custom_error(void **state)
{
    (void)state;
    Portico__V1__RateLimitingConfig *rl;
    Portico__V1__Config *c = config("rl-survive", &rl);
    rl->has_minute = 1;
    rl->minute = 3;
    struct dp_plugin_set *set = build(c);
    struct fake_req f;
    assert_int_equal(req(set, "r1", "10.2.0.1", NULL, NULL, &f), 0);
    assert_int_equal(req(set, "r1", "10.2.0.1", NULL, NULL, &f), 0);
    dp_plugin_set_destroy(set);
    /* a new config with the same plugin id keeps the counters */
    rl->has_error_code = 1;
    rl->error_code = 503;
    rl->error_message = strdup("slow \"down\"");
    rl->has_hide_client_headers = 1;
    rl->hide_client_headers = 1;
    set = build(c);
    assert_int_equal(req(set, "r1", "10.2.0.1", NULL, NULL, &f), 0);
    assert_null(fx_client_header(&f, "RateLimit-Limit"));
    assert_null(fx_client_header(&f, "X-RateLimit-Limit-Minute"));
    assert_int_equal(req(set, "r1", "10.2.0.1", NULL, NULL, &f), 503);
    assert_string_equal(f.resp_body, "{\"message\":\"slow \\\"down\\\"\"}");
    assert_null(fx_client_header(&f, "Retry-After"));
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void limit_by_variants(void **state)
{
    (void)state;
    Portico__V1__RateLimitingConfig *rl;
    Portico__V1__Config *c = config("rl-header", &rl);
    rl->has_minute = 1;
    rl->minute = 1;
    rl->limit_by = strdup("header");
    rl->header_name = strdup("X-Tenant");
    struct dp_plugin_set *set = build(c);
    struct fake_req f;
    assert_int_equal(req(set, "r1", "10.3.0.1", "X-Tenant", "t1", &f), 0);
    assert_int_equal(req(set, "r1", "10.3.0.2", "X-Tenant", "t1", &f), 429);
    assert_int_equal(req(set, "r1", "10.3.0.1", "X-Tenant", "t2", &f), 0);
    /* no header: by ip */
    assert_int_equal(req(set, "r1", "10.3.0.1", NULL, NULL, &f), 0);
    assert_int_equal(req(set, "r1", "10.3.0.1", NULL, NULL, &f), 429);
    dp_plugin_set_destroy(set);

    free(rl->limit_by);
    rl->limit_by = strdup("service");
    c->plugins[0]->id[3] = 'S'; /* a new plugin id: fresh counters */
    set = build(c);
    assert_int_equal(req(set, "r1", "10.3.1.1", NULL, NULL, &f), 0);
    assert_int_equal(req(set, "r1", "10.3.1.2", NULL, NULL, &f), 429);
    assert_int_equal(req(set, "r2", "10.3.1.2", NULL, NULL, &f), 0);
    dp_plugin_set_destroy(set);

    /* consumer: authenticated by key-auth */
    free(rl->limit_by);
    rl->limit_by = strdup("credential");
    c->plugins[0]->id[3] = 'C';
    fx_add_plugin(c, "ka", "key-auth", NULL, NULL, NULL);
    set = build(c);
    assert_int_equal(req(set, "r1", "10.3.2.1", "apikey", "alice-key", &f), 0);
    assert_int_equal(req(set, "r1", "10.3.2.2", "apikey", "alice-key", &f), 429);
    assert_int_equal(req(set, "r1", "10.3.2.2", "apikey", "nope", &f), 401);
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void fractional_limit(void **state)
{
    (void)state;
    Portico__V1__RateLimitingConfig *rl;
    Portico__V1__Config *c = config("rl-fraction", &rl);
    rl->has_day = 1;
    rl->day = 2.5;
    struct dp_plugin_set *set = build(c);
    struct fake_req f;
    assert_int_equal(req(set, "r1", "10.4.0.1", NULL, NULL, &f), 0);
    assert_string_equal(fx_client_header(&f, "X-RateLimit-Limit-Day"), "2.5");
    assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Day"), "1.5");
    assert_int_equal(req(set, "r1", "10.4.0.1", NULL, NULL, &f), 0);
    assert_int_equal(req(set, "r1", "10.4.0.1", NULL, NULL, &f), 0);
    assert_string_equal(fx_client_header(&f, "X-RateLimit-Remaining-Day"), "0");
    assert_int_equal(req(set, "r1", "10.4.0.1", NULL, NULL, &f), 429);
    long reset = strtol(fx_client_header(&f, "Retry-After"), NULL, 10);
    assert_true(reset >= 1 && reset <= 86400);
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void redis_counts_locally(void **state)
{
    (void)state;
    Portico__V1__RateLimitingConfig *rl;
    Portico__V1__Config *c = config("rl-redis", &rl);
    rl->has_minute = 1;
    rl->minute = 1;
    rl->policy = strdup("redis");
    struct dp_plugin_set *set = build(c);
    struct fake_req f;
    assert_int_equal(req(set, "r1", "10.5.0.1", NULL, NULL, &f), 0);
    assert_int_equal(req(set, "r1", "10.5.0.1", NULL, NULL, &f), 429);
    dp_plugin_set_destroy(set);
    free(rl->policy);
    rl->policy = strdup("gossip");
    struct dp_plugin_set *bad = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &bad), GW_ERR_INVALID);
    fx_config_free(c);
}

static void windows(void **state)
{
    (void)state;
    /* 2026-11-30T08:30:15.500Z */
    int64_t now = 1796027415500LL;
    assert_int_equal(dp_rl_window_start(DP_RL_SECOND, now), 1796027415000LL);
    assert_int_equal(dp_rl_window_start(DP_RL_MINUTE, now), 1796027400000LL);
    assert_int_equal(dp_rl_window_start(DP_RL_HOUR, now), 1796025600000LL);
    assert_int_equal(dp_rl_window_start(DP_RL_DAY, now), 1795996800000LL);
    assert_int_equal(dp_rl_window_start(DP_RL_MONTH, now), 1793491200000LL); /* Nov 1 */
    assert_int_equal(dp_rl_window_end(DP_RL_MONTH, now), 1796083200000LL);   /* Dec 1 */
    assert_int_equal(dp_rl_window_start(DP_RL_YEAR, now), 1767225600000LL);  /* Jan 1 2026 */
    assert_int_equal(dp_rl_window_end(DP_RL_YEAR, now), 1798761600000LL);

    struct dp_rl_store *s = dp_rl_store_create(64);
    double limits[DP_RL_PERIOD_COUNT_] = {0, 2, 0, 0, 0, 0};
    struct dp_rl_usage u[DP_RL_PERIOD_COUNT_];
    int stop;
    assert_int_equal(dp_rl_store_hit(s, "k", 1, now, limits, u, &stop), GW_OK);
    assert_int_equal(stop, -1);
    assert_int_equal(dp_rl_store_hit(s, "k", 1, now, limits, u, &stop), GW_OK);
    assert_int_equal(u[DP_RL_MINUTE].count, 1);
    assert_int_equal(dp_rl_store_hit(s, "k", 1, now, limits, u, &stop), GW_OK);
    assert_int_equal(stop, DP_RL_MINUTE);
    /* next minute: a fresh window */
    assert_int_equal(dp_rl_store_hit(s, "k", 1, now + 45000, limits, u, &stop), GW_OK);
    assert_int_equal(stop, -1);
    assert_int_equal(u[DP_RL_MINUTE].count, 0);
    dp_rl_store_destroy(s);
}

static void store_bound_and_sweep(void **state)
{
    (void)state;
    struct dp_rl_store *s = dp_rl_store_create(64); /* one key per stripe */
    double limits[DP_RL_PERIOD_COUNT_] = {10, 0, 0, 0, 0, 0};
    struct dp_rl_usage u[DP_RL_PERIOD_COUNT_];
    int stop, full = 0;
    int64_t now = 1796027415500LL;
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        enum gw_err e = dp_rl_store_hit(s, key, strlen(key), now, limits, u, &stop);
        assert_true(e == GW_OK || e == GW_ERR_TOOBIG);
        full += e == GW_ERR_TOOBIG;
    }
    assert_true(full > 0);
    assert_true(dp_rl_store_count(s) <= 64);
    /* two seconds later every window has ended: room again */
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "later-%d", i);
        if (dp_rl_store_hit(s, key, strlen(key), now + 2000, limits, u, &stop) == GW_OK)
            full = -1;
    }
    assert_int_equal(full, -1);
    assert_true(dp_rl_store_count(s) <= 64);
    dp_rl_store_destroy(s);

    /* a full store: fault_tolerant lets requests through, otherwise 500 */
    struct dp_plugin_env tiny = {.ratelimit = dp_rl_store_create(1), .cache = env.cache};
    Portico__V1__RateLimitingConfig *rl;
    Portico__V1__Config *c = config("rl-full", &rl);
    rl->has_minute = 1;
    rl->minute = 100;
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &tiny, NULL, NULL, &set), GW_OK);
    struct fake_req f;
    int refused = 0;
    for (int i = 0; i < 200; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.9.%d.%d", i / 250, i % 250);
        refused += req(set, "r1", ip, NULL, NULL, &f) != 0;
    }
    assert_int_equal(refused, 0);
    dp_plugin_set_destroy(set);
    rl->has_fault_tolerant = 1;
    rl->fault_tolerant = 0;
    assert_int_equal(dp_plugin_set_build(c, &tiny, NULL, NULL, &set), GW_OK);
    for (int i = 0; i < 200; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.8.%d.%d", i / 250, i % 250);
        refused += req(set, "r1", ip, NULL, NULL, &f) == 500;
    }
    assert_true(refused > 0);
    dp_plugin_set_destroy(set);
    dp_rl_store_destroy(tiny.ratelimit);
    fx_config_free(c);
}

#define THREADS 8
#define TRIES   2000
#define LIMIT   1000

static struct dp_rl_store *hammer_store;
static atomic_int passed;
static atomic_int go;

static void *hammer(void *arg)
{
    (void)arg;
    double limits[DP_RL_PERIOD_COUNT_] = {0, 0, LIMIT, LIMIT * 2, 0, 0};
    struct dp_rl_usage u[DP_RL_PERIOD_COUNT_];
    int64_t now = 1796027415500LL; /* one fixed window */
    while (!atomic_load(&go))
        ;
    for (int i = 0; i < TRIES; i++) {
        int stop;
        if (dp_rl_store_hit(hammer_store, "plugin\x1fshared", 13, now, limits, u, &stop) == GW_OK &&
            stop < 0)
            atomic_fetch_add(&passed, 1);
    }
    return NULL;
}

static void exact_under_concurrency(void **state)
{
    (void)state;
    hammer_store = dp_rl_store_create(0);
    atomic_store(&passed, 0);
    atomic_store(&go, 0);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
    atomic_store(&go, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&passed), LIMIT);
    dp_rl_store_destroy(hammer_store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minute_five),
        cmocka_unit_test(counters_survive_rebuild_and_custom_error),
        cmocka_unit_test(limit_by_variants),
        cmocka_unit_test(fractional_limit),
        cmocka_unit_test(redis_counts_locally),
        cmocka_unit_test(windows),
        cmocka_unit_test(store_bound_and_sweep),
        cmocka_unit_test(exact_under_concurrency),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
