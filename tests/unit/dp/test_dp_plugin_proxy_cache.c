/* tests/unit/dp/test_dp_plugin_proxy_cache.c: proxy-cache with strategy memory: Miss/Hit/
 * Refresh/Bypass, cache key, cacheability rules, the LRU store's bound and purge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "dp/plugin_fixture.h"
#include "plugins/dp_cache_store.h"

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

static Portico__V1__Config *config(const char *id, Portico__V1__ProxyCacheConfig **out)
{
    Portico__V1__Config *c = fx_config_new();
    fx_add_route(c, "r1", "s1");
    Portico__V1__Plugin *p = fx_add_plugin(c, id, "proxy-cache", NULL, NULL, NULL);
    *out = p->proxy_cache;
    return c;
}

struct upstream {
    int status;
    const char *content_type;
    const char *cache_control;
    const char *body;
};

/* One request through the plugin; the upstream answers u when the request is proxied.
 * Returns the status the client got. */
static int req(struct dp_plugin_set *set, const char *method, const char *path, const char *query,
               const struct upstream *u, struct fake_req *f)
{
    fx_init(f, method, path, query);
    struct dp_plugin_run r;
    dp_plugin_run_init(&r, set, dp_plugin_set_chain(set, "r1"), &f->base, DP_PLUGIN_PROTO_HTTP);
    int status;
    if (dp_plugin_run_access(&r)) {
        status = f->resp_status;
    } else {
        f->up_status = u->status;
        if (u->content_type)
            fx_list_add(&f->up, "Content-Type", u->content_type);
        if (u->cache_control)
            fx_list_add(&f->up, "Cache-Control", u->cache_control);
        fx_list_add(&f->up, "X-Upstream", "yes");
        fx_list_add(&f->up, "Connection", "keep-alive");
        dp_plugin_run_header_filter(&r);
        size_t len = strlen(u->body);
        /* two chunks, as a stream */
        dp_plugin_run_body_filter(&r, u->body, len / 2, false);
        dp_plugin_run_body_filter(&r, u->body + len / 2, len - len / 2, true);
        status = u->status;
    }
    dp_plugin_run_finish(&r);
    return status;
}

static void miss_then_hit(void **state)
{
    (void)state;
    Portico__V1__ProxyCacheConfig *pc;
    Portico__V1__Config *c = config("pc-miss-hit", &pc);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    struct upstream u = {200, "application/json", NULL, "{\"hello\":\"world\"}"};
    struct fake_req f;
    assert_int_equal(req(set, "GET", "/json", "b=2&a=1", &u, &f), 200);
    assert_int_equal(f.resp_status, 0);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    char key[80];
    snprintf(key, sizeof(key), "%s", fx_client_header(&f, "X-Cache-Key"));
    assert_int_equal(strlen(key), 64);

    /* same request with the arguments in another order: same key, served from cache */
    u.body = "{\"changed\":true}";
    assert_int_equal(req(set, "GET", "/json", "a=1&b=2", &u, &f), 200);
    assert_int_equal(f.resp_status, 200);
    assert_string_equal(f.resp_body, "{\"hello\":\"world\"}");
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    assert_string_equal(fx_client_header(&f, "X-Cache-Key"), key);
    assert_string_equal(fx_list_get(&f.resp, "Age", 0), "0");
    assert_string_equal(fx_list_get(&f.resp, "Content-Type", 0), "application/json");
    assert_string_equal(fx_list_get(&f.resp, "X-Upstream", 0), "yes");
    assert_null(fx_list_get(&f.resp, "Connection", 0));

    /* HEAD is cacheable too but another key; POST bypasses */
    assert_int_equal(req(set, "HEAD", "/json", "a=1&b=2", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    assert_int_equal(req(set, "POST", "/json", "a=1&b=2", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    assert_null(fx_client_header(&f, "X-Cache-Key"));
    /* another query: another key */
    assert_int_equal(req(set, "GET", "/json", "a=2&b=2", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    /* path case matters by default */
    assert_int_equal(req(set, "GET", "/JSON", "a=1&b=2", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void not_cacheable_responses(void **state)
{
    (void)state;
    Portico__V1__ProxyCacheConfig *pc;
    Portico__V1__Config *c = config("pc-bypass", &pc);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    struct fake_req f;
    struct upstream html = {200, "text/html", NULL, "<p>hi</p>"};
    assert_int_equal(req(set, "GET", "/html", NULL, &html, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    assert_int_equal(req(set, "GET", "/html", NULL, &html, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    /* parameters must match exactly, as Kong compares them */
    struct upstream charset = {200, "application/json; charset=utf-8", NULL, "{}"};
    assert_int_equal(req(set, "GET", "/cs", NULL, &charset, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    struct upstream err = {500, "application/json", NULL, "{}"};
    assert_int_equal(req(set, "GET", "/err", NULL, &err, &f), 500);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    struct upstream nf = {404, "text/plain", NULL, "nope"};
    assert_int_equal(req(set, "GET", "/nf", NULL, &nf, &f), 404);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    assert_int_equal(req(set, "GET", "/nf", NULL, &nf, &f), 404);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    /* cache_control off: no-store from upstream is ignored */
    struct upstream ns = {200, "text/plain", "no-store", "x"};
    assert_int_equal(req(set, "GET", "/ns", NULL, &ns, &f), 200);
    assert_int_equal(req(set, "GET", "/ns", NULL, &ns, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void cache_control_rules(void **state)
{
    (void)state;
    Portico__V1__ProxyCacheConfig *pc;
    Portico__V1__Config *c = config("pc-cc", &pc);
    pc->has_cache_control = 1;
    pc->cache_control = 1;
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    struct fake_req f;
    struct upstream ns = {200, "text/plain", "no-store", "x"};
    assert_int_equal(req(set, "GET", "/ns", NULL, &ns, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    struct upstream noage = {200, "text/plain", NULL, "x"};
    assert_int_equal(req(set, "GET", "/noage", NULL, &noage, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    struct upstream ok = {200, "text/plain", "public, max-age=60", "fresh"};
    assert_int_equal(req(set, "GET", "/ok", NULL, &ok, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    assert_int_equal(req(set, "GET", "/ok", NULL, &ok, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    /* a request with Authorization or no-cache bypasses */
    fx_init(&f, "GET", "/ok", NULL);
    fx_list_add(&f.req, "Authorization", "Bearer x");
    struct dp_plugin_run r;
    dp_plugin_run_init(&r, set, dp_plugin_set_chain(set, "r1"), &f.base, DP_PLUGIN_PROTO_HTTP);
    assert_false(dp_plugin_run_access(&r));
    dp_plugin_run_finish(&r);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Bypass");
    /* only-if-cached on a miss: 504 */
    fx_init(&f, "GET", "/never", NULL);
    fx_list_add(&f.req, "Cache-Control", "only-if-cached");
    dp_plugin_run_init(&r, set, dp_plugin_set_chain(set, "r1"), &f.base, DP_PLUGIN_PROTO_HTTP);
    assert_true(dp_plugin_run_access(&r));
    dp_plugin_run_finish(&r);
    assert_int_equal(f.resp_status, 504);
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void refresh_after_cache_ttl(void **state)
{
    (void)state;
    Portico__V1__ProxyCacheConfig *pc;
    Portico__V1__Config *c = config("pc-refresh", &pc);
    pc->has_cache_ttl = 1;
    pc->cache_ttl = 30;
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    struct fake_req f;
    struct upstream u = {200, "text/plain", NULL, "v1"};
    assert_int_equal(req(set, "GET", "/r", NULL, &u, &f), 200);
    char key[80];
    snprintf(key, sizeof(key), "%s", fx_client_header(&f, "X-Cache-Key"));
    /* plant an entry stored 40 s ago (older than cache_ttl, still within storage) */
    int64_t now = (int64_t)time(NULL);
    struct dp_header h = {"Content-Type", "text/plain"};
    /* the store is looked up with the key's text (route id|method|path|params|headers) */
    static const char text[] = "r1|GET|/r||";
    struct dp_cache_entry *e =
        dp_cache_entry_create(200, key, &h, 1, "old", 3, now - 40, 30, now + 60);
    assert_int_equal(dp_cache_store_put(env.cache, "pc-refresh", text, strlen(text), e), GW_OK);
    u.body = "v2";
    assert_int_equal(req(set, "GET", "/r", NULL, &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Refresh");
    assert_int_equal(req(set, "GET", "/r", NULL, &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    assert_string_equal(f.resp_body, "v2");
    /* an entry aged 7 s reports Age 7 */
    e = dp_cache_entry_create(200, key, &h, 1, "aged", 4, now - 7, 30, now + 60);
    assert_int_equal(dp_cache_store_put(env.cache, "pc-refresh", text, strlen(text), e), GW_OK);
    assert_int_equal(req(set, "GET", "/r", NULL, &u, &f), 200);
    long age = strtol(fx_list_get(&f.resp, "Age", 0), NULL, 10);
    assert_true(age >= 7 && age <= 8);
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void vary_and_case(void **state)
{
    (void)state;
    Portico__V1__ProxyCacheConfig *pc;
    Portico__V1__Config *c = config("pc-vary", &pc);
    fx_strv_add(&pc->vary_query_params, &pc->n_vary_query_params, "page");
    fx_strv_add(&pc->vary_headers, &pc->n_vary_headers, "x-lang");
    pc->has_ignore_uri_case = 1;
    pc->ignore_uri_case = 1;
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &env, NULL, NULL, &set), GW_OK);
    struct fake_req f;
    struct upstream u = {200, "text/plain", NULL, "x"};
    assert_int_equal(req(set, "GET", "/List", "page=1&junk=1", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    assert_int_equal(req(set, "GET", "/list", "page=1&junk=2", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    assert_int_equal(req(set, "GET", "/list", "page=2", &u, &f), 200);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    /* vary header */
    fx_init(&f, "GET", "/list", "page=1");
    fx_list_add(&f.req, "X-Lang", "fr");
    struct dp_plugin_run r;
    dp_plugin_run_init(&r, set, dp_plugin_set_chain(set, "r1"), &f.base, DP_PLUGIN_PROTO_HTTP);
    assert_false(dp_plugin_run_access(&r));
    dp_plugin_run_finish(&r);
    assert_string_equal(fx_client_header(&f, "X-Cache-Status"), "Miss");
    dp_plugin_set_destroy(set);
    fx_config_free(c);
}

static void too_big_is_passed_through(void **state)
{
    (void)state;
    struct dp_plugin_env small = {.ratelimit = env.ratelimit,
                                  .cache = dp_cache_store_create(64 * 1024)};
    Portico__V1__ProxyCacheConfig *pc;
    Portico__V1__Config *c = config("pc-big", &pc);
    struct dp_plugin_set *set = NULL;
    assert_int_equal(dp_plugin_set_build(c, &small, NULL, NULL, &set), GW_OK);
    char *big = malloc(40000);
    memset(big, 'a', 39999);
    big[39999] = '\0';
    struct upstream u = {200, "text/plain", NULL, big};
    struct fake_req f;
    assert_int_equal(req(set, "GET", "/big", NULL, &u, &f), 200);
    assert_int_equal(req(set, "GET", "/big", NULL, &u, &f), 200);
    assert_string_not_equal(fx_client_header(&f, "X-Cache-Status"), "Hit");
    assert_int_equal(dp_cache_store_count(small.cache), 0);
    free(big);
    dp_plugin_set_destroy(set);
    dp_cache_store_destroy(small.cache);
    fx_config_free(c);
}

static void lru_bound(void **state)
{
    (void)state;
    size_t bound = 64 * 1024;
    struct dp_cache_store *s = dp_cache_store_create(bound);
    char body[3000], key[32];
    memset(body, 'b', sizeof(body));
    struct dp_header h = {"Content-Type", "text/plain"};
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        struct dp_cache_entry *e =
            dp_cache_entry_create(200, key, &h, 1, body, sizeof(body), now, 60, now + 60);
        assert_int_equal(dp_cache_store_put(s, "ns", key, strlen(key), e), GW_OK);
        assert_true(dp_cache_store_bytes(s) <= bound);
        /* k0 stays hot: always used after each insert */
        struct dp_cache_entry *hot = dp_cache_store_get(s, "ns", "k0", 2, now);
        assert_non_null(hot);
        dp_cache_entry_release(hot);
    }
    assert_true(dp_cache_store_count(s) < 200);
    assert_null(dp_cache_store_get(s, "ns", "k1", 2, now)); /* evicted */
    struct dp_cache_entry *last = dp_cache_store_get(s, "ns", "k199", 4, now);
    assert_non_null(last);
    /* an entry in use survives its eviction */
    assert_int_equal(dp_cache_store_purge(s, NULL), GW_OK);
    assert_int_equal(dp_cache_store_count(s), 0);
    assert_int_equal(dp_cache_store_bytes(s), 0);
    assert_int_equal(last->body_len, sizeof(body));
    assert_int_equal(last->body[0], 'b');
    dp_cache_entry_release(last);
    /* expiry */
    struct dp_cache_entry *e = dp_cache_entry_create(200, "exp", &h, 1, "x", 1, now, 1, now + 1);
    assert_int_equal(dp_cache_store_put(s, "ns", "exp", 3, e), GW_OK);
    assert_null(dp_cache_store_get(s, "ns", "exp", 3, now + 1));
    assert_int_equal(dp_cache_store_count(s), 0);
    /* too large an entry */
    char *huge = calloc(1, bound / 2);
    e = dp_cache_entry_create(200, "huge", &h, 1, huge, bound / 2, now, 60, now + 60);
    assert_int_equal(dp_cache_store_put(s, "ns", "huge", 4, e), GW_ERR_TOOBIG);
    free(huge);
    dp_cache_store_destroy(s);
}

static void purge(void **state)
{
    (void)state;
    struct dp_plugin_env pe = {.ratelimit = env.ratelimit, .cache = dp_cache_store_create(1 << 20)};
    struct dp_header h = {"Content-Type", "text/plain"};
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < 3; i++) {
        char ns[8];
        snprintf(ns, sizeof(ns), "p%d", i);
        const char *key = i < 2 ? "shared" : "other";
        /* the lookup text differs from the public key, which purge goes by */
        char text[32];
        snprintf(text, sizeof(text), "text-%d", i);
        struct dp_cache_entry *e =
            dp_cache_entry_create(200, key, &h, 1, "x", 1, now, 60, now + 60);
        assert_int_equal(dp_cache_store_put(pe.cache, ns, text, strlen(text), e), GW_OK);
    }
    assert_int_equal(dp_plugin_env_cache_purge(&pe, "missing"), GW_ERR_NOTFOUND);
    assert_int_equal(dp_plugin_env_cache_purge(&pe, "shared"), GW_OK);
    assert_int_equal(dp_cache_store_count(pe.cache), 1);
    assert_int_equal(dp_plugin_env_cache_purge(&pe, "shared"), GW_ERR_NOTFOUND);
    assert_int_equal(dp_plugin_env_cache_purge(&pe, NULL), GW_OK);
    assert_int_equal(dp_cache_store_count(pe.cache), 0);
    dp_cache_store_destroy(pe.cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(miss_then_hit),       cmocka_unit_test(not_cacheable_responses),
        cmocka_unit_test(cache_control_rules), cmocka_unit_test(refresh_after_cache_ttl),
        cmocka_unit_test(vary_and_case),       cmocka_unit_test(too_big_is_passed_through),
        cmocka_unit_test(lru_bound),           cmocka_unit_test(purge),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
