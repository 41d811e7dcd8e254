/* tests/unit/dp/test_dp_plugin_set.c: building plugin sets from a Config, Kong's precedence,
 * enabled/protocols, priority order and build errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dp/plugin_fixture.h"

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

/* Rate-limiting instance with a distinct minute limit, so the test sees which one ran. */
static Portico__V1__Plugin *rl(Portico__V1__Config *c, const char *id, const char *route,
                               const char *service, const char *consumer, double minute)
{
    Portico__V1__Plugin *p = fx_add_plugin(c, id, "rate-limiting", route, service, consumer);
    p->rate_limiting->has_minute = 1;
    p->rate_limiting->minute = minute;
    return p;
}

/* Runs one request on route with apikey (may be NULL); returns the rate-limiting instance id. */
static const char *resolve(struct dp_plugin_set *set, const char *route, const char *apikey,
                           enum dp_plugin_proto proto, char *out, size_t outlen)
{
    struct fake_req f;
    fx_init(&f, "GET", "/", NULL);
    if (apikey)
        fx_list_add(&f.req, "apikey", apikey);
    struct dp_plugin_run run;
    dp_plugin_run_init(&run, set, dp_plugin_set_chain(set, route), &f.base, proto);
    dp_plugin_run_access(&run);
    const char *id = dp_plugin_run_instance_id(&run, "rate-limiting");
    snprintf(out, outlen, "%s", id ? id : "none");
    dp_plugin_run_finish(&run);
    return out;
}

static Portico__V1__Config *base_config(void)
{
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    fx_add_route(c, "r2", "s1");
    fx_add_route(c, "r3", "s2");
    fx_add_route(c, "r4", NULL);
    fx_add_consumer(c, "c1", "alice", NULL);
    fx_add_consumer(c, "c2", "bob", NULL);
    fx_add_key(c, "k1", "c1", "alice-key");
    fx_add_key(c, "k2", "c2", "bob-key");
    Portico__V1__Plugin *ka = fx_add_plugin(c, "ka", "key-auth", NULL, NULL, NULL);
    ka->key_auth->anonymous = strdup("c2"); /* no key: anonymous bob */
    return c;
}

static void precedence_without_consumer(void **state)
{
    (void)state;
    Portico__V1__Config *c = base_config();
    rl(c, "global", NULL, NULL, NULL, 1000);
    rl(c, "svc", NULL, "s1", NULL, 1001);
    rl(c, "route", "r2", NULL, NULL, 1002);
    rl(c, "route-svc", "r1", "s1", NULL, 1003);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    char b[64];
    /* a bad key falls back to the anonymous consumer (no consumer-scoped plugins here) */
    assert_string_equal(resolve(set, "r1", "x", DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "route-svc");
    assert_string_equal(resolve(set, "r1", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "route-svc");
    assert_string_equal(resolve(set, "r2", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "route");
    assert_string_equal(resolve(set, "r3", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "global");
    assert_string_equal(resolve(set, "r4", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "global");
    assert_string_equal(resolve(set, "unknown", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)),
                        "global");
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void precedence_with_consumer(void **state)
{
    (void)state;
    Portico__V1__Config *c = base_config();
    rl(c, "global", NULL, NULL, NULL, 1000);
    rl(c, "route", "r2", NULL, NULL, 1002);
    rl(c, "route-svc", "r1", "s1", NULL, 1003);
    rl(c, "cons-alice", NULL, NULL, "c1", 1004);
    rl(c, "route-cons-alice", "r3", NULL, "c1", 1005);
    rl(c, "svc-cons-bob", NULL, "s1", "c2", 1006);
    rl(c, "rsc-bob", "r1", "s1", "c2", 1007);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    char b[64];
    /* route+service beats consumer alone */
    assert_string_equal(resolve(set, "r1", "alice-key", DP_PLUGIN_PROTO_HTTP, b, sizeof(b)),
                        "route-svc");
    /* consumer alone beats route */
    assert_string_equal(resolve(set, "r2", "alice-key", DP_PLUGIN_PROTO_HTTP, b, sizeof(b)),
                        "cons-alice");
    /* route+consumer beats consumer */
    assert_string_equal(resolve(set, "r3", "alice-key", DP_PLUGIN_PROTO_HTTP, b, sizeof(b)),
                        "route-cons-alice");
    /* route+service+consumer beats everything; anonymous consumers count */
    assert_string_equal(resolve(set, "r1", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "rsc-bob");
    /* service+consumer beats route */
    assert_string_equal(resolve(set, "r2", "bob-key", DP_PLUGIN_PROTO_HTTP, b, sizeof(b)),
                        "svc-cons-bob");
    assert_string_equal(resolve(set, "r3", "bob-key", DP_PLUGIN_PROTO_HTTP, b, sizeof(b)),
                        "global");
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void disabled_and_protocols(void **state)
{
    (void)state;
    Portico__V1__Config *c = base_config();
    rl(c, "global", NULL, NULL, NULL, 1000);
    Portico__V1__Plugin *p = rl(c, "route-off", "r1", NULL, NULL, 1001);
    p->has_enabled = 1;
    p->enabled = 0;
    p = rl(c, "route-https", "r2", NULL, NULL, 1002);
    fx_strv_add(&p->protocols, &p->n_protocols, "https");
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    char b[64];
    assert_string_equal(resolve(set, "r1", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "global");
    assert_string_equal(resolve(set, "r2", NULL, DP_PLUGIN_PROTO_HTTP, b, sizeof(b)), "none");
    assert_string_equal(resolve(set, "r2", NULL, DP_PLUGIN_PROTO_HTTPS, b, sizeof(b)),
                        "route-https");
    const struct dp_plugin_chain *ch = dp_plugin_set_chain(set, "r1");
    assert_false(dp_plugin_chain_empty(ch));
    assert_false(dp_plugin_chain_needs_body(ch));
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void empty_chain_and_indexes(void **state)
{
    (void)state;
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    fx_add_consumer(c, "c1", "alice", "A-1");
    fx_add_key(c, "k1", "c1", "secret");
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    assert_true(dp_plugin_chain_empty(dp_plugin_set_chain(set, "r1")));
    const struct dp_credential *cr = dp_plugin_set_credential(set, "secret");
    assert_non_null(cr);
    assert_string_equal(cr->consumer->custom_id, "A-1");
    assert_null(dp_plugin_set_credential(set, "secreT"));
    assert_ptr_equal(dp_plugin_set_consumer(set, "alice"), dp_plugin_set_consumer(set, "c1"));
    assert_null(dp_plugin_set_consumer(set, "nobody"));
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void build_errors(void **state)
{
    (void)state;
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    fx_add_plugin(c, "p1", "basic-auth", NULL, NULL, NULL);
    Portico__V1__Plugin *p = rl(c, "p2", NULL, NULL, NULL, 5);
    p->rate_limiting->policy = strdup("cluster");
    rl(c, "p3", "r1", NULL, NULL, 5);
    rl(c, "p4", "r1", NULL, NULL, 6);                          /* same name and scope as p3 */
    fx_add_plugin(c, "p5", "rate-limiting", NULL, "s9", NULL); /* no limit at all */
    fx_add_key(c, "k1", "ghost", "key");
    struct fx_errors errs = {0};
    struct dp_plugin_set *set = (void *)1;
    assert_int_equal(dp_plugin_set_build(c, &env, fx_on_error, &errs, &set), GW_ERR_INVALID);
    assert_null(set);
    assert_int_equal(errs.count, 5);
    assert_non_null(strstr(errs.text, "plugins/p1/name: plugin 'basic-auth' not enabled"));
    assert_non_null(strstr(errs.text, "plugins/p2/config: policy 'cluster' is not supported"));
    assert_non_null(strstr(errs.text, "plugins/p4/@entity"));
    assert_non_null(strstr(errs.text, "plugins/p5/config: at least one of these fields"));
    assert_non_null(strstr(errs.text, "keyauth_credentials/k1/consumer"));
    fx_config_free(c);
}

static void names_and_priorities(void **state)
{
    (void)state;
    const char *const *n = dp_plugin_names();
    assert_string_equal(n[0], "key-auth");
    assert_string_equal(n[1], "rate-limiting");
    assert_string_equal(n[2], "proxy-cache");
    assert_null(n[3]);
}

static void global_env(void **state)
{
    (void)state;
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    Portico__V1__Plugin *p = fx_add_plugin(c, "pc", "proxy-cache", NULL, NULL, NULL);
    (void)p;
    assert_int_equal(dp_plugin_env_global_init(1 << 20), GW_OK);
    const struct dp_plugin_env *g = dp_plugin_env_global();
    assert_non_null(g);
    assert_non_null(g->cache);
    assert_int_equal(dp_plugin_env_global_init(1 << 10), GW_OK); /* no change */
    assert_ptr_equal(dp_plugin_env_global(), g);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, NULL, NULL, NULL, &set), GW_OK);
    assert_false(dp_plugin_chain_empty(dp_plugin_set_chain(set, "r1")));
    dp_plugin_set_destroy(set);
    dp_plugin_env_global_cleanup();
    dp_plugin_env_global_cleanup();
    fx_config_free(c);
}

/* Kong's collecting iterator: after key-auth answers 401, rate-limiting and proxy-cache are
 * still active for the request (their filters and log run), but their access did not run: no
 * rate-limit count, no rate-limit headers, no cache state. */
static void collected_after_a_response(void **state)
{
    (void)state;
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    fx_add_consumer(c, "c1", "alice", NULL);
    fx_add_key(c, "k1", "c1", "alice-key");
    fx_add_plugin(c, "ka", "key-auth", NULL, NULL, NULL);
    rl(c, "rl", NULL, NULL, NULL, 1);
    fx_add_plugin(c, "pc", "proxy-cache", NULL, NULL, NULL);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    for (int i = 0; i < 3; i++) { /* limit 1 per minute: never counted, never 429 */
        struct fake_req f;
        fx_init(&f, "GET", "/", NULL);
        struct dp_plugin_run run;
        dp_plugin_run_init(&run, set, dp_plugin_set_chain(set, "r1"), &f.base,
                           DP_PLUGIN_PROTO_HTTP);
        assert_true(dp_plugin_run_access(&run));
        assert_int_equal(f.resp_status, 401);
        assert_string_equal(dp_plugin_run_instance_id(&run, "rate-limiting"), "rl");
        assert_string_equal(dp_plugin_run_instance_id(&run, "proxy-cache"), "pc");
        f.up_status = 401; /* what the filters read in this fixture */
        dp_plugin_run_header_filter(&run);
        dp_plugin_run_body_filter(&run, "{}", 2, true);
        assert_null(fx_list_get(&f.resp, "X-RateLimit-Remaining-Minute", 0));
        assert_null(fx_list_get(&f.pending, "X-RateLimit-Remaining-Minute", 0));
        assert_null(fx_list_get(&f.pending, "X-Cache-Status", 0));
        dp_plugin_run_finish(&run);
    }
    /* the key passes, and this first request is the first one counted */
    struct fake_req f;
    fx_init(&f, "GET", "/", NULL);
    fx_list_add(&f.req, "apikey", "alice-key");
    struct dp_plugin_run run;
    dp_plugin_run_init(&run, set, dp_plugin_set_chain(set, "r1"), &f.base, DP_PLUGIN_PROTO_HTTP);
    assert_false(dp_plugin_run_access(&run));
    assert_string_equal(fx_list_get(&f.pending, "X-RateLimit-Remaining-Minute", 0), "0");
    dp_plugin_run_finish(&run);
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precedence_without_consumer),
        cmocka_unit_test(precedence_with_consumer),
        cmocka_unit_test(disabled_and_protocols),
        cmocka_unit_test(empty_chain_and_indexes),
        cmocka_unit_test(build_errors),
        cmocka_unit_test(names_and_priorities),
        cmocka_unit_test(global_env),
        cmocka_unit_test(collected_after_a_response),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
