/* tests/fuzz/fuzz_dp_router.c: libFuzzer target for the proxy's routing path on hostile
 * requests: path normalisation (percent-decoding, dot segments, repeated slashes), the router
 * lookup over a fixed set of routes (prefix, regex, hosts, wildcard hosts, methods, headers) and
 * the upstream path computation.
 *
 * Input layout: byte 0 = flags (bit 0: route paths from the input instead of the fixed ones),
 * then newline-separated fields: method, host, path, header name, header value[, route paths,
 * one per line]. Invariants checked: a normalised path starts with '/', holds no "//", no "."
 * or ".." segment, and is never longer than its input.
 * fuzz-requires: dp/dp_router.h
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 12
#define MAX_ROUTES 6

static const char *const FIXED_PATHS[] = {"/",
                                          "/api",
                                          "/api/v1/",
                                          "~/users/(?<id>\\d+)$",
                                          "/static/.hidden",
                                          "~/files/(?<name>[^/]+)/(.*)"};

/* Splits data at '\n' into at most max fields (spans into data). Returns the count. */
static size_t split(const char *d, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i == n || d[i] == '\n') {
            f[k] = d + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

static void check_normalized(const char *p, size_t n, size_t in_len)
{
    if (n == 0)
        return;
    if (p[0] != '/' || n > in_len)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '/')
            continue;
        if (i + 1 < n && p[i + 1] == '/')
            __builtin_trap();
        size_t seg = i + 1, e = seg;
        while (e < n && p[e] != '/')
            e++;
        size_t sl = e - seg;
        if ((sl == 1 && p[seg] == '.') || (sl == 2 && p[seg] == '.' && p[seg + 1] == '.'))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t nf = split((const char *)data + 1, size - 1, f, fl, MAX_FIELDS);
    if (nf < 3)
        return 0;
    bool own_paths = data[0] & 1;

    /* the request path, normalised as the proxy does */
    char *norm = malloc(fl[2] + 1);
    if (!norm)
        return 0;
    size_t nl = dp_router_normalize_path(f[2], fl[2], norm, fl[2] + 1);
    check_normalized(norm, nl, fl[2]);

    /* routes */
    struct dp_router *r = dp_router_create();
    struct dp_route routes[MAX_ROUTES];
    char *paths[MAX_ROUTES];
    size_t nroutes = 0;
    memset(routes, 0, sizeof routes);
    for (size_t i = 0; i < MAX_ROUTES && r; i++) {
        const char *pp;
        if (own_paths) {
            if (5 + i >= nf)
                break;
            paths[i] = strndup(f[5 + i], fl[5 + i]);
        } else {
            paths[i] = strdup(FIXED_PATHS[i]);
        }
        if (!paths[i])
            break;
        nroutes = i + 1;
        pp = paths[i];
        char *pathv[1] = {(char *)pp};
        char *hosts[2] = {"example.com", "*.wild.test"};
        char *methods[1] = {"GET"};
        Portico__V1__Route pb = PORTICO__V1__ROUTE__INIT;
        pb.n_paths = 1;
        pb.paths = pathv;
        if (i % 2 == 1) {
            pb.n_hosts = 2;
            pb.hosts = hosts;
        }
        if (i % 3 == 2) {
            pb.n_methods = 1;
            pb.methods = methods;
        }
        routes[i].proto_http = true;
        routes[i].strip_path = i % 2 == 0;
        routes[i].path_handling = i % 2;
        routes[i].created_at = (int64_t)i;
        char field[64], msg[256];
        (void)dp_router_add(r, &routes[i], &pb, field, sizeof field, msg, sizeof msg);
    }
    if (r && dp_router_finish(r) == GW_OK && nl > 0) {
        pcre2_match_data *md = dp_router_match_data_create();
        struct dp_hdr hdr = {f[3], fl[3], nf > 4 ? f[4] : "", nf > 4 ? fl[4] : 0};
        struct dp_router_req req = {.method = f[0],
                                    .method_len = fl[0],
                                    .host = f[1],
                                    .host_len = fl[1],
                                    .dst_port = 8000,
                                    .path = norm,
                                    .path_len = nl,
                                    .headers = &hdr,
                                    .nheaders = 1};
        struct dp_router_match m;
        memset(&m, 0, sizeof m);
        if (md && dp_router_find(r, &req, md, &m)) {
            if (m.prefix_len > nl)
                __builtin_trap();
            const char *v;
            size_t vl;
            if (m.code && dp_router_capture(&m, norm, "id", &v, &vl) &&
                (v < norm || v + vl > norm + nl))
                __builtin_trap();
            const char *svc_path = data[0] & 2 ? "/base/" : NULL;
            size_t cap = nl + 16;
            char *up = malloc(cap);
            if (up) {
                size_t ul =
                    dp_router_upstream_path(m.route, svc_path, norm, nl, m.prefix_len, up, cap);
                if (ul > cap || (ul > 0 && up[0] != '/'))
                    __builtin_trap();
                free(up);
            }
        }
        pcre2_match_data_free(md);
    }
    dp_router_destroy(r);
    for (size_t i = 0; i < nroutes; i++)
        free(paths[i]);
    free(norm);
    return 0;
}
