/* dp/balancer/dp_lb.h: the load-balancer interface. Each algorithm is a static ops table plus a
 * struct embedding struct dp_lb first (round-robin, consistent-hashing, least-connections,
 * latency). A balancer is built with its upstream as part of a config and is read-only
 * afterwards; mutable state lives in dp_lb_state (shared, atomic) so every worker may pick.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_LB_H
#define DP_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config_types.h"
#include "gw_err.h"

#define DP_LB_MAX_TRIED 8

/* Per-request balancer context, caller storage zeroed before the first pick. */
struct dp_lb_ctx {
    const struct dp_addr *tried[DP_LB_MAX_TRIED]; /* addresses that failed for this request */
    size_t ntried;
    const char *hash_value; /* consistent-hashing input (borrowed), NULL = "" */
    size_t hash_len;
    bool ring_pos_set; /* consistent-hashing: retries continue from the saved position */
    uint32_t ring_pos;
};

struct dp_lb;

struct dp_lb_ops {
    /* Picks an available address not tried yet. GW_ERR_UNAVAILABLE when none. */
    enum gw_err (*pick)(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out);
    void (*destroy)(struct dp_lb *lb);
};

struct dp_lb {
    const struct dp_lb_ops *ops;
    const struct dp_upstream *up; /* borrowed: the upstream owns the balancer */
};

/* Constructors: each returns an owned balancer over up->addrs (borrowed; up outlives it), or
 * NULL when out of memory. Builder thread. */
struct dp_lb *dp_lb_rr_create(const struct dp_upstream *up);
struct dp_lb *dp_lb_ch_create(const struct dp_upstream *up);
struct dp_lb *dp_lb_lc_create(const struct dp_upstream *up);
struct dp_lb *dp_lb_latency_create(const struct dp_upstream *up);

/* Creates the balancer of up->algo. */
struct dp_lb *dp_lb_create(const struct dp_upstream *up);

/* Picks an address (see dp_lb_ops.pick). Any worker thread. */
enum gw_err dp_lb_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out);

/* Destroys lb. Accepts NULL. */
void dp_lb_destroy(struct dp_lb *lb);

/* Records that addr failed for this request (so a retry avoids it). */
void dp_lb_ctx_failed(struct dp_lb_ctx *ctx, const struct dp_addr *addr);

/* True if addr may take traffic for this request: healthy, weight > 0, not tried. When
 * every available address was tried, tried ones count again (Kong resets the exclusion). */
bool dp_lb_usable(const struct dp_lb_ctx *ctx, const struct dp_addr *addr, bool ignore_tried);

/* Scores an address for dp_lb_pick_lowest (lower is better). */
typedef double (*dp_lb_score_fn)(const struct dp_addr *addr, void *arg);

/* Picks the usable address of up with the lowest score, starting at a position that rotates
 * with every call so ties spread; when every usable address was already tried for this request,
 * tried ones count again. Used by least-connections and latency. Worker threads. */
enum gw_err dp_lb_pick_lowest(const struct dp_upstream *up, struct dp_lb_ctx *ctx,
                              dp_lb_score_fn score, void *arg, const struct dp_addr **out);

/* Round-robin over a plain service's resolved addresses (no upstream). */
enum gw_err dp_lb_pick_plain(struct dp_addr *addrs, size_t naddrs, struct dp_upstream_state *state,
                             struct dp_lb_ctx *ctx, const struct dp_addr **out);

/* xxHash32 (seed 0), as Kong's consistent hashing uses. */
uint32_t dp_lb_xxhash32(const void *data, size_t len, uint32_t seed);

#endif
