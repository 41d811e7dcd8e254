/* tests/unit/dp/test_dp_plugin_key_auth.c: the key-auth plugin against a fake request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

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

struct world {
    Portico__V1__Config *pb;
    Portico__V1__KeyAuthConfig *ka;
    struct dp_plugin_set *set;
};

static void world_init(struct world *w)
{
    w->pb = fx_config_new();
    fx_add_route(w->pb, "r1", "s1");
    fx_add_consumer(w->pb, "c1", "alice", "A-1");
    fx_add_consumer(w->pb, "c2", "anon", NULL);
    fx_add_key(w->pb, "k1", "c1", "good-key");
    Portico__V1__Plugin *p = fx_add_plugin(w->pb, "ka", "key-auth", "r1", NULL, NULL);
    w->ka = p->key_auth;
    w->set = NULL;
}

static void world_build(struct world *w)
{
    dp_plugin_set_destroy(w->set);
    w->set = NULL;
    assert_int_equal(dp_plugin_set_build(w->pb, &env, NULL, NULL, &w->set), GW_OK);
}

static void world_free(struct world *w)
{
    dp_plugin_set_destroy(w->set);
    fx_config_free(w->pb);
}

/* Runs access; returns true when the plugin responded. */
static bool run(struct world *w, struct fake_req *f, struct dp_plugin_run *r)
{
    dp_plugin_run_init(r, w->set, dp_plugin_set_chain(w->set, "r1"), &f->base,
                       DP_PLUGIN_PROTO_HTTP);
    bool responded = dp_plugin_run_access(r);
    dp_plugin_run_finish(r);
    return responded;
}

static void no_key_and_bad_key(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    world_build(&w);
    struct fake_req f;
    struct dp_plugin_run r;
    fx_init(&f, "GET", "/x", NULL);
    assert_true(run(&w, &f, &r));
    assert_int_equal(f.resp_status, 401);
    assert_string_equal(f.resp_body, "{\"message\":\"No API key found in request\"}");
    assert_string_equal(fx_client_header(&f, "WWW-Authenticate"), "Key realm=\"portico\"");
    assert_string_equal(fx_client_header(&f, "Content-Type"), "application/json; charset=utf-8");

    fx_init(&f, "GET", "/x", "apikey=wrong");
    assert_true(run(&w, &f, &r));
    assert_int_equal(f.resp_status, 401);
    assert_string_equal(f.resp_body, "{\"message\":\"Unauthorized\"}");
    assert_string_equal(fx_client_header(&f, "WWW-Authenticate"), "Key realm=\"portico\"");

    fx_init(&f, "GET", "/x", "apikey=");
    assert_true(run(&w, &f, &r));
    assert_string_equal(f.resp_body, "{\"message\":\"No API key found in request\"}");

    fx_init(&f, "GET", "/x", "apikey=good-key&apikey=good-key");
    assert_true(run(&w, &f, &r));
    assert_string_equal(f.resp_body, "{\"message\":\"Duplicate API key found\"}");

    w.ka->realm = strdup("shop");
    world_build(&w);
    fx_init(&f, "GET", "/x", NULL);
    assert_true(run(&w, &f, &r));
    assert_string_equal(fx_client_header(&f, "WWW-Authenticate"), "Key realm=\"shop\"");
    world_free(&w);
}

static void good_key_sets_consumer_headers(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    world_build(&w);
    struct fake_req f;
    struct dp_plugin_run r;
    fx_init(&f, "GET", "/x", NULL);
    fx_list_add(&f.req, "ApiKey", "good-key");
    fx_list_add(&f.req, "X-Consumer-Username", "forged");
    fx_list_add(&f.req, "X-Anonymous-Consumer", "true");
    dp_plugin_run_init(&r, w.set, dp_plugin_set_chain(w.set, "r1"), &f.base, DP_PLUGIN_PROTO_HTTP);
    assert_false(dp_plugin_run_access(&r));
    assert_non_null(r.consumer);
    assert_string_equal(r.consumer->id, "c1");
    assert_string_equal(r.credential->id, "k1");
    dp_plugin_run_finish(&r);
    assert_int_equal(f.resp_status, 0);
    assert_string_equal(fx_list_get(&f.req, "X-Consumer-ID", 0), "c1");
    assert_string_equal(fx_list_get(&f.req, "X-Consumer-Username", 0), "alice");
    assert_null(fx_list_get(&f.req, "X-Consumer-Username", 1));
    assert_string_equal(fx_list_get(&f.req, "X-Consumer-Custom-ID", 0), "A-1");
    assert_string_equal(fx_list_get(&f.req, "X-Credential-Identifier", 0), "k1");
    assert_null(fx_list_get(&f.req, "X-Anonymous-Consumer", 0));
    /* hide_credentials is off: the key goes upstream */
    assert_string_equal(fx_list_get(&f.req, "apikey", 0), "good-key");

    /* in the query string, percent-encoded */
    fx_init(&f, "GET", "/x", "a=1&apikey=good%2Dkey&b=2");
    assert_false(run(&w, &f, &r));
    assert_string_equal(fx_list_get(&f.req, "X-Consumer-ID", 0), "c1");
    assert_string_equal(f.query, "a=1&apikey=good%2Dkey&b=2");
    world_free(&w);
}

static void hide_credentials_and_key_names(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.ka->has_hide_credentials = 1;
    w.ka->hide_credentials = 1;
    fx_strv_add(&w.ka->key_names, &w.ka->n_key_names, "x-key");
    fx_strv_add(&w.ka->key_names, &w.ka->n_key_names, "token");
    world_build(&w);
    struct fake_req f;
    struct dp_plugin_run r;
    fx_init(&f, "GET", "/x", "a=1&token=good-key&b=2");
    assert_false(run(&w, &f, &r));
    assert_string_equal(f.query, "a=1&b=2");
    fx_init(&f, "GET", "/x", NULL);
    fx_list_add(&f.req, "X-Key", "good-key");
    assert_false(run(&w, &f, &r));
    assert_null(fx_list_get(&f.req, "x-key", 0));
    /* the default name is replaced by the configured ones */
    fx_init(&f, "GET", "/x", "apikey=good-key");
    assert_true(run(&w, &f, &r));
    assert_int_equal(f.resp_status, 401);
    /* key_in_query off */
    w.ka->has_key_in_query = 1;
    w.ka->key_in_query = 0;
    world_build(&w);
    fx_init(&f, "GET", "/x", "token=good-key");
    assert_true(run(&w, &f, &r));
    assert_string_equal(f.resp_body, "{\"message\":\"No API key found in request\"}");
    world_free(&w);
}

static void key_in_body(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.ka->has_key_in_body = 1;
    w.ka->key_in_body = 1;
    w.ka->has_hide_credentials = 1;
    w.ka->hide_credentials = 1;
    world_build(&w);
    assert_true(dp_plugin_chain_needs_body(dp_plugin_set_chain(w.set, "r1")));
    struct fake_req f;
    struct dp_plugin_run r;
    fx_init(&f, "POST", "/x", NULL);
    fx_list_add(&f.req, "Content-Type", "application/x-www-form-urlencoded");
    f.body_buffered = true;
    f.body_len = (size_t)snprintf(f.body, sizeof(f.body), "x=1&apikey=good-key&y=2");
    assert_false(run(&w, &f, &r));
    assert_true(f.body_set);
    assert_string_equal(f.body, "x=1&y=2");
    assert_string_equal(fx_list_get(&f.req, "X-Consumer-ID", 0), "c1");

    fx_init(&f, "POST", "/x", NULL);
    fx_list_add(&f.req, "Content-Type", "application/json");
    f.body_buffered = true;
    f.body_len = (size_t)snprintf(f.body, sizeof(f.body), "{\"apikey\":\"good-key\",\"n\":1}");
    assert_false(run(&w, &f, &r));
    assert_string_equal(f.body, "{\"n\":1}");

    fx_init(&f, "POST", "/x", NULL);
    fx_list_add(&f.req, "Content-Type", "application/json");
    f.body_buffered = true;
    f.body_len = (size_t)snprintf(f.body, sizeof(f.body), "{\"apikey\":\"bad\"}");
    assert_true(run(&w, &f, &r));
    assert_string_equal(f.resp_body, "{\"message\":\"Unauthorized\"}");

    /* garbage body: no key */
    fx_init(&f, "POST", "/x", NULL);
    fx_list_add(&f.req, "Content-Type", "application/json");
    f.body_buffered = true;
    f.body_len = (size_t)snprintf(f.body, sizeof(f.body), "{not json");
    assert_true(run(&w, &f, &r));
    assert_string_equal(f.resp_body, "{\"message\":\"No API key found in request\"}");
    world_free(&w);
}

static void anonymous_and_preflight(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.ka->anonymous = strdup("anon"); /* by username */
    w.ka->has_run_on_preflight = 1;
    w.ka->run_on_preflight = 0;
    world_build(&w);
    struct fake_req f;
    struct dp_plugin_run r;
    fx_init(&f, "GET", "/x", "apikey=wrong");
    assert_false(run(&w, &f, &r));
    assert_string_equal(fx_list_get(&f.req, "X-Consumer-ID", 0), "c2");
    assert_string_equal(fx_list_get(&f.req, "X-Anonymous-Consumer", 0), "true");
    assert_null(fx_list_get(&f.req, "X-Credential-Identifier", 0));

    fx_init(&f, "OPTIONS", "/x", NULL);
    assert_false(run(&w, &f, &r));
    assert_null(fx_list_get(&f.req, "X-Consumer-ID", 0));

    /* an anonymous consumer that does not exist is a server error */
    free(w.ka->anonymous);
    w.ka->anonymous = strdup("ghost");
    world_build(&w);
    fx_init(&f, "GET", "/x", NULL);
    assert_true(run(&w, &f, &r));
    assert_int_equal(f.resp_status, 500);
    assert_string_equal(f.resp_body, "{\"message\":\"An unexpected error occurred\"}");
    world_free(&w);
}

static void expired_credential(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    Portico__V1__KeyAuthCredential *k = w.pb->keyauth_credentials[0];
    k->has_created_at = 1;
    k->created_at = (int64_t)time(NULL) - 100;
    k->has_ttl = 1;
    k->ttl = 50;
    world_build(&w);
    struct fake_req f;
    struct dp_plugin_run r;
    fx_init(&f, "GET", "/x", "apikey=good-key");
    assert_true(run(&w, &f, &r));
    assert_string_equal(f.resp_body, "{\"message\":\"Unauthorized\"}");
    k->ttl = 500;
    world_build(&w);
    fx_init(&f, "GET", "/x", "apikey=good-key");
    assert_false(run(&w, &f, &r));
    world_free(&w);
}

static void query_helpers(void **state)
{
    (void)state;
    char v[16];
    assert_int_equal(dp_plugin_query_get("a=1&b=x%20y+z&a=2", "a", v, sizeof(v)), 2);
    assert_string_equal(v, "1");
    assert_int_equal(dp_plugin_query_get("a=1&b=x%20y+z&a=2", "b", v, sizeof(v)), 1);
    assert_string_equal(v, "x y z");
    assert_int_equal(dp_plugin_query_get("flag&c=", "flag", v, sizeof(v)), 1);
    assert_string_equal(v, "");
    assert_int_equal(dp_plugin_query_get("a=1", "zz", v, sizeof(v)), 0);
    assert_int_equal(dp_plugin_query_get("%zz=%4", "%zz", v, sizeof(v)), 1);
    assert_string_equal(v, "%4");
    char *out = NULL;
    assert_int_equal(dp_plugin_query_remove("a=1&b=2&a=3&&c", "a", &out), GW_OK);
    assert_string_equal(out, "b=2&c");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_key_and_bad_key),
        cmocka_unit_test(good_key_sets_consumer_headers),
        cmocka_unit_test(hide_credentials_and_key_names),
        cmocka_unit_test(key_in_body),
        cmocka_unit_test(anonymous_and_preflight),
        cmocka_unit_test(expired_credential),
        cmocka_unit_test(query_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
