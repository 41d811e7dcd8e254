/* dp/dp_router.h: Kong's traditional_compatible router. Routes are compiled once per config
 * into an index (host buckets: exact hash, wildcard suffix/prefix hashes, host-less; inside
 * each bucket a character trie of prefix paths plus the regex and path-less matchers), so a
 * lookup's cost does not grow with the number of routes. Priority follows Kong (see
 * docs/internals/dp_router.md).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_ROUTER_H
#define DP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dp_config_types.h"
#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

struct dp_router;

/* A request header as the router sees it (borrowed spans; name in any case). */
struct dp_hdr {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
};

/* What the router needs from a request; every span is borrowed. host is the Host without port,
 * lowercase; path is the normalised path without query string. */
struct dp_router_req {
    const char *method;
    size_t method_len;
    const char *host;
    size_t host_len;
    int dst_port;
    const char *path;
    size_t path_len;
    const struct dp_hdr *headers;
    size_t nheaders;
    const char *sni; /* server name of a TLS connection (any case), NULL = none */
};

struct dp_router_match {
    const struct dp_route *route;
    size_t prefix_len; /* bytes of path matched by the route's path (what strip_path removes) */
    const pcre2_code *code; /* regex of the matched path, NULL for a prefix path */
    pcre2_match_data *md;   /* borrowed from the caller; holds the captures when code != NULL */
};

/* Creates an empty router. Returns owned; free with dp_router_destroy. Builder thread. */
struct dp_router *dp_router_create(void);

/* Frees the router. Accepts NULL. */
void dp_router_destroy(struct dp_router *r);

/* Adds route (borrowed; must outlive the router) with the match fields of pb (borrowed; copied).
 * On a bad field returns GW_ERR_INVALID with the field name ("paths[1]") in field and a message
 * in msg. Builder thread. */
enum gw_err dp_router_add(struct dp_router *r, const struct dp_route *route,
                          const Portico__V1__Route *pb, char *field, size_t fieldlen, char *msg,
                          size_t msglen);

/* Sorts by priority and builds the index. Call once after the last add. */
enum gw_err dp_router_finish(struct dp_router *r);

/* Finds the best route for req. md is a per-thread pcre2 match data (dp_router_match_data_create)
 * used for regex paths. Returns true and fills *m, or false for no match. Any thread; the
 * router is read-only after dp_router_finish. */
bool dp_router_find(const struct dp_router *r, const struct dp_router_req *req,
                    pcre2_match_data *md, struct dp_router_match *m);

/* Returns a match data big enough for every regex (owned; free with pcre2_match_data_free). */
pcre2_match_data *dp_router_match_data_create(void);

/* Looks up a named (or numbered, "1") capture of a regex match. Returns true with a span into
 * subject (the request path given to dp_router_find). */
bool dp_router_capture(const struct dp_router_match *m, const char *subject, const char *name,
                       const char **val, size_t *vlen);

/* Number of matchers (one per route path) in the router. */
size_t dp_router_count(const struct dp_router *r);

/* Normalises a request path for routing: decodes %XX of unreserved characters, removes dot
 * segments and merges repeated slashes. Writes at most outcap bytes (out needs at most len + 1
 * bytes) and returns the length, or 0 if the path is not absolute. */
size_t dp_router_normalize_path(const char *in, size_t len, char *out, size_t outcap);

/* Computes the upstream path (Kong's get_upstream_uri v0/v1) from the normalised request path,
 * the matched prefix length and the service path (NULL = "/"). Writes into out (needs
 * path_len + strlen(service_path) + 2 bytes) and returns the length. */
size_t dp_router_upstream_path(const struct dp_route *route, const char *service_path,
                               const char *path, size_t path_len, size_t prefix_len, char *out,
                               size_t outcap);

#endif
