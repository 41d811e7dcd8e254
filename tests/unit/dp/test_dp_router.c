/* tests/unit/dp/test_dp_router.c: the router: every match rule, Kong's priority order, the
 * upstream path (strip_path, path_handling v0/v1, service path), path normalisation, captures,
 * and a lookup over 10,000 routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_helpers.h"
#include "dp_config_internal.h"
#include "dp_router.h"

#define L(...)                                                                                     \
    (const char *const[])                                                                          \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }

struct fixture {
    struct cfgh h;
    struct dp_config *cfg;
    pcre2_match_data *md;
};

static struct fixture *fx_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    cfgh_init(&f->h);
    cfgh_service(&f->h, "svc", "127.0.0.1", 80, NULL);
    f->md = dp_router_match_data_create();
    return f;
}

static void fx_build(struct fixture *f)
{
    assert_int_equal(dp_config_build(&f->h.cfg, 1, "h", NULL, NULL, &f->cfg), GW_OK);
}

static void fx_free(struct fixture *f)
{
    dp_config_destroy(f->cfg);
    pcre2_match_data_free(f->md);
    cfgh_free(&f->h);
    free(f);
}

/* Returns the id of the matched route or "" for none; *prefix gets the matched length. */
static const char *find(struct fixture *f, const char *method, const char *host, int port,
                        const char *path, const struct dp_hdr *hdrs, size_t nh, size_t *prefix)
{
    struct dp_router_req rq = {method,       strlen(method), host, strlen(host), port, path,
                               strlen(path), hdrs,           nh};
    struct dp_router_match m;
    if (!dp_router_find(f->cfg->router, &rq, f->md, &m))
        return "";
    if (prefix)
        *prefix = m.prefix_len;
    return m.route->id;
}

#define FIND(f, path) find((f), "GET", "", 8000, (path), NULL, 0, NULL)

static void prefix_paths_longest_wins(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "r-short", "svc", 1, L("/foo"), NULL, NULL, NULL);
    cfgh_route(&f->h, "r-long", "svc", 2, L("/foo/bar"), NULL, NULL, NULL);
    cfgh_route(&f->h, "r-root", "svc", 3, L("/"), NULL, NULL, NULL);
    fx_build(f);
    assert_string_equal(FIND(f, "/foo"), "r-short");
    assert_string_equal(FIND(f, "/foobar"), "r-short"); /* character prefix, not segment */
    assert_string_equal(FIND(f, "/foo/bar/baz"), "r-long");
    assert_string_equal(FIND(f, "/other"), "r-root");
    size_t pl = 0;
    find(f, "GET", "", 80, "/foo/bar/x", NULL, 0, &pl);
    assert_int_equal(pl, 8);
    fx_free(f);
}

static void regex_paths_and_priority(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "prefix-long", "svc", 1, L("/users/123/profile"), NULL, NULL, NULL);
    Portico__V1__Route *r1 =
        cfgh_route(&f->h, "re-low", "svc", 2, L("~/users/\\d+"), NULL, NULL, NULL);
    Portico__V1__Route *r2 = cfgh_route(&f->h, "re-high", "svc", 3,
                                        L("~/users/(?<uid>\\d+)/profile$"), NULL, NULL, NULL);
    r1->has_regex_priority = 1;
    r1->regex_priority = 1;
    r2->has_regex_priority = 1;
    r2->regex_priority = 5;
    cfgh_route(&f->h, "anchored", "svc", 4, L("~/a.c"), NULL, NULL, NULL);
    fx_build(f);
    /* regex beats prefix; higher regex_priority first */
    assert_string_equal(FIND(f, "/users/123/profile"), "re-high");
    assert_string_equal(FIND(f, "/users/123"), "re-low");
    assert_string_equal(FIND(f, "/users/abc"), "");
    /* anchored at the start */
    assert_string_equal(FIND(f, "/abc"), "anchored");
    assert_string_equal(FIND(f, "/x/abc"), "");
    /* captures */
    struct dp_router_req rq = {"GET", 3, "", 0, 80, "/users/42/profile", 17, NULL, 0};
    struct dp_router_match m;
    assert_true(dp_router_find(f->cfg->router, &rq, f->md, &m));
    const char *v;
    size_t vl;
    assert_true(dp_router_capture(&m, rq.path, "uid", &v, &vl));
    assert_int_equal(vl, 2);
    assert_memory_equal(v, "42", 2);
    assert_true(dp_router_capture(&m, rq.path, "1", &v, &vl));
    assert_false(dp_router_capture(&m, rq.path, "nope", &v, &vl));
    assert_int_equal(m.prefix_len, 17);
    fx_free(f);
}

static void hosts_exact_wildcard_port(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "wild-suffix", "svc", 1, NULL, L("*.example.com"), NULL, NULL);
    cfgh_route(&f->h, "wild-prefix", "svc", 2, NULL, L("api.*"), NULL, NULL);
    cfgh_route(&f->h, "exact", "svc", 3, NULL, L("www.example.com"), NULL, NULL);
    cfgh_route(&f->h, "port", "svc", 4, NULL, L("ported.test:8443"), NULL, NULL);
    cfgh_route(&f->h, "mixed", "svc", 5, NULL, L("Multi.Test", "*.multi.test"), NULL, NULL);
    fx_build(f);
    assert_string_equal(find(f, "GET", "www.example.com", 80, "/", NULL, 0, NULL), "exact");
    assert_string_equal(find(f, "GET", "a.b.example.com", 80, "/", NULL, 0, NULL), "wild-suffix");
    assert_string_equal(find(f, "GET", "example.com", 80, "/", NULL, 0, NULL), "");
    assert_string_equal(find(f, "GET", "api.foo.org", 80, "/", NULL, 0, NULL), "wild-prefix");
    assert_string_equal(find(f, "GET", "ported.test", 8443, "/", NULL, 0, NULL), "port");
    assert_string_equal(find(f, "GET", "ported.test", 8000, "/", NULL, 0, NULL), "");
    assert_string_equal(find(f, "GET", "multi.test", 80, "/", NULL, 0, NULL), "mixed");
    assert_string_equal(find(f, "GET", "x.multi.test", 80, "/", NULL, 0, NULL), "mixed");
    assert_string_equal(find(f, "GET", "", 80, "/", NULL, 0, NULL), "");
    fx_free(f);
}

static void plain_host_beats_wildcard(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "wild", "svc", 1, NULL, L("*.x.test"), NULL, NULL);
    cfgh_route(&f->h, "plain", "svc", 2, NULL, L("a.x.test"), NULL, NULL);
    fx_build(f);
    assert_string_equal(find(f, "GET", "a.x.test", 80, "/", NULL, 0, NULL), "plain");
    assert_string_equal(find(f, "GET", "b.x.test", 80, "/", NULL, 0, NULL), "wild");
    fx_free(f);
}

static void methods_and_headers(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "get", "svc", 1, L("/m"), NULL, L("GET", "HEAD"), NULL);
    cfgh_route(&f->h, "post", "svc", 2, L("/m"), NULL, L("POST"), NULL);
    cfgh_route(&f->h, "hdr1", "svc", 3, L("/h"), NULL, NULL, L("x-version=v1|V2"));
    cfgh_route(&f->h, "hdr2", "svc", 4, L("/h"), NULL, NULL, L("x-version=v1", "x-tier=~*^gold"));
    fx_build(f);
    assert_string_equal(find(f, "GET", "", 80, "/m", NULL, 0, NULL), "get");
    assert_string_equal(find(f, "POST", "", 80, "/m", NULL, 0, NULL), "post");
    assert_string_equal(find(f, "PUT", "", 80, "/m", NULL, 0, NULL), "");
    struct dp_hdr h1[] = {{"X-Version", 9, "v2", 2}};
    assert_string_equal(find(f, "GET", "", 80, "/h", h1, 1, NULL), "hdr1");
    struct dp_hdr h2[] = {{"x-version", 9, "V1", 2}, {"X-Tier", 6, "GOLDEN", 6}};
    assert_string_equal(find(f, "GET", "", 80, "/h", h2, 2, NULL), "hdr2"); /* more headers */
    struct dp_hdr h3[] = {{"x-version", 9, "v3", 2}};
    assert_string_equal(find(f, "GET", "", 80, "/h", h3, 1, NULL), "");
    assert_string_equal(find(f, "GET", "", 80, "/h", NULL, 0, NULL), "");
    fx_free(f);
}

static void more_fields_win_then_created_at(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "path-only", "svc", 1, L("/api/v1/long/path"), NULL, NULL, NULL);
    cfgh_route(&f->h, "host-path", "svc", 2, L("/api"), L("h.test"), NULL, NULL);
    cfgh_route(&f->h, "late", "svc", 20, L("/same"), NULL, NULL, NULL);
    cfgh_route(&f->h, "early", "svc", 10, L("/same"), NULL, NULL, NULL);
    fx_build(f);
    assert_string_equal(find(f, "GET", "h.test", 80, "/api/v1/long/path", NULL, 0, NULL),
                        "host-path");
    assert_string_equal(find(f, "GET", "other", 80, "/api/v1/long/path", NULL, 0, NULL),
                        "path-only");
    assert_string_equal(FIND(f, "/same"), "early");
    fx_free(f);
}

static void invalid_regex_is_reported(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    cfgh_route(&f->h, "bad", "svc", 1, L("/ok", "~/(unclosed"), NULL, NULL, NULL);
    assert_int_equal(dp_config_build(&f->h.cfg, 1, "h", NULL, NULL, &f->cfg), GW_ERR_INVALID);
    assert_null(f->cfg);
    fx_free(f);
}

static void upstream_path(const char *svc_path, bool strip, enum dp_path_handling ph,
                          const char *route_path, const char *req, const char *want)
{
    struct dp_route r = {0};
    r.strip_path = strip;
    r.path_handling = ph;
    char out[256];
    size_t prefix = route_path ? strlen(route_path) : 0;
    size_t n = dp_router_upstream_path(&r, svc_path, req, strlen(req), prefix, out, sizeof(out));
    out[n] = '\0';
    if (strcmp(out, want) != 0)
        fail_msg("svc=%s strip=%d v%d route=%s req=%s: got %s want %s", svc_path ? svc_path : "-",
                 strip, (int)ph, route_path, req, out, want);
}

static void upstream_paths_v0_v1(void **state)
{
    (void)state;
    /* Kong's get_upstream_uri_v0 table */
    upstream_path(NULL, true, DP_PATH_V0, "/mock", "/mock", "/");
    upstream_path(NULL, true, DP_PATH_V0, "/mock", "/mock/x", "/x");
    upstream_path(NULL, false, DP_PATH_V0, "/mock", "/mock/x", "/mock/x");
    upstream_path("/svc", true, DP_PATH_V0, "/api", "/api/x", "/svc/x");
    upstream_path("/svc", true, DP_PATH_V0, "/api", "/api", "/svc");
    upstream_path("/svc", true, DP_PATH_V0, "/api", "/api/", "/svc/");
    upstream_path("/svc", true, DP_PATH_V0, "/api", "/apix", "/svc/x");
    upstream_path("/svc/", true, DP_PATH_V0, "/api", "/api", "/svc");
    upstream_path("/svc/", true, DP_PATH_V0, "/api", "/api/", "/svc/");
    upstream_path("/svc/", true, DP_PATH_V0, "/api", "/api/x", "/svc/x");
    upstream_path("/svc/", true, DP_PATH_V0, "/api", "/apix", "/svc/x");
    upstream_path("/svc", false, DP_PATH_V0, "/api", "/api/x", "/svc/api/x");
    upstream_path("/svc", false, DP_PATH_V0, "/", "/", "/svc");
    upstream_path("/svc/", false, DP_PATH_V0, "/api", "/api/x", "/svc/api/x");
    /* v1: plain concatenation, only de-duplicating the joint's slash */
    upstream_path("/svc", true, DP_PATH_V1, "/api", "/apix", "/svcx");
    upstream_path("/svc", true, DP_PATH_V1, "/api", "/api/x", "/svc/x");
    upstream_path("/svc/", true, DP_PATH_V1, "/api", "/api/x", "/svc/x");
    upstream_path("/svc", false, DP_PATH_V1, "/api", "/api/x", "/svc/api/x");
}

static void normalize(const char *in, const char *want)
{
    char out[256];
    size_t n = dp_router_normalize_path(in, strlen(in), out, sizeof(out));
    if (!want) {
        assert_int_equal(n, 0);
        return;
    }
    if (strcmp(out, want) != 0)
        fail_msg("normalize(%s) = %s, want %s", in, out, want);
}

static void path_normalisation(void **state)
{
    (void)state;
    normalize("/a/b", "/a/b");
    normalize("/a/./b", "/a/b");
    normalize("/a/../b", "/b");
    normalize("/a/b/..", "/a/");
    normalize("/..", "/");
    normalize("//a///b", "/a/b");
    normalize("/%61%62%2Fc", "/ab%2Fc");
    normalize("/a%2fb", "/a%2Fb");
    normalize("relative", NULL);
}

static void ten_thousand_routes(void **state)
{
    (void)state;
    struct fixture *f = fx_new();
    char id[64], path[64], host[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "r%05d", i);
        snprintf(path, sizeof(path), "/svc%d/api", i);
        snprintf(host, sizeof(host), "h%d.test", i % 100);
        const char *paths[] = {path, NULL};
        const char *hosts[] = {host, NULL};
        cfgh_route(&f->h, id, "svc", i, paths, (i % 2) ? hosts : NULL, NULL, NULL);
    }
    fx_build(f);
    assert_int_equal(dp_router_count(f->cfg->router), 10000);
    assert_string_equal(FIND(f, "/svc9998/api/x"), "r09998");
    assert_string_equal(find(f, "GET", "h99.test", 80, "/svc9999/api", NULL, 0, NULL), "r09999");
    assert_string_equal(find(f, "GET", "h98.test", 80, "/svc9999/api", NULL, 0, NULL), "");
    assert_string_equal(FIND(f, "/nope"), "");
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefix_paths_longest_wins),
        cmocka_unit_test(regex_paths_and_priority),
        cmocka_unit_test(hosts_exact_wildcard_port),
        cmocka_unit_test(plain_host_beats_wildcard),
        cmocka_unit_test(methods_and_headers),
        cmocka_unit_test(more_fields_win_then_created_at),
        cmocka_unit_test(invalid_regex_is_reported),
        cmocka_unit_test(upstream_paths_v0_v1),
        cmocka_unit_test(path_normalisation),
        cmocka_unit_test(ten_thousand_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
