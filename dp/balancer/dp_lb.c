/* dp/balancer/dp_lb.c: balancer factory and the helpers every algorithm shares.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_lb.h"

#include <string.h>

#include "dp_lb_state.h"

struct dp_lb *dp_lb_create(const struct dp_upstream *up)
{
    switch (up->algo) {
    case DP_LB_CONSISTENT_HASHING:
        return dp_lb_ch_create(up);
    case DP_LB_LEAST_CONNECTIONS:
        return dp_lb_lc_create(up);
    case DP_LB_LATENCY:
        return dp_lb_latency_create(up);
    default:
        return dp_lb_rr_create(up);
    }
}

enum gw_err dp_lb_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    return lb->ops->pick(lb, ctx, out);
}

void dp_lb_destroy(struct dp_lb *lb)
{
    if (lb)
        lb->ops->destroy(lb);
}

void dp_lb_ctx_failed(struct dp_lb_ctx *ctx, const struct dp_addr *addr)
{
    if (ctx->ntried < DP_LB_MAX_TRIED)
        ctx->tried[ctx->ntried++] = addr;
}

bool dp_lb_usable(const struct dp_lb_ctx *ctx, const struct dp_addr *addr, bool ignore_tried)
{
    if (addr->weight <= 0 || !atomic_load_explicit(&addr->state->healthy, memory_order_relaxed))
        return false;
    if (!ignore_tried)
        for (size_t i = 0; i < ctx->ntried; i++)
            if (ctx->tried[i] == addr)
                return false;
    return true;
}

enum gw_err dp_lb_pick_lowest(const struct dp_upstream *up, struct dp_lb_ctx *ctx,
                              dp_lb_score_fn score, void *arg, const struct dp_addr **out)
{
    size_t n = up->naddrs;
    if (!n)
        return GW_ERR_UNAVAILABLE;
    uint64_t start = atomic_fetch_add_explicit(&up->state->lc_pos, 1, memory_order_relaxed);
    for (int pass = 0; pass < 2; pass++) {
        const struct dp_addr *best = NULL;
        double best_score = 0;
        for (size_t k = 0; k < n; k++) {
            const struct dp_addr *a = up->addrs[(start + k) % n];
            if (!dp_lb_usable(ctx, a, pass == 1))
                continue;
            double sc = score(a, arg);
            if (!best || sc < best_score) {
                best = a;
                best_score = sc;
            }
        }
        if (best) {
            *out = best;
            return GW_OK;
        }
        if (!ctx->ntried)
            break;
    }
    return GW_ERR_UNAVAILABLE;
}

enum gw_err dp_lb_pick_plain(struct dp_addr *addrs, size_t naddrs, struct dp_upstream_state *state,
                             struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    if (!naddrs)
        return GW_ERR_UNAVAILABLE;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < naddrs; i++) {
            uint64_t pos = atomic_fetch_add_explicit(&state->rr_pos, 1, memory_order_relaxed);
            const struct dp_addr *a = &addrs[pos % naddrs];
            if (dp_lb_usable(ctx, a, pass == 1)) {
                *out = a;
                return GW_OK;
            }
        }
    }
    return GW_ERR_UNAVAILABLE;
}

#define P1 2654435761u
#define P2 2246822519u
#define P3 3266489917u
#define P4 668265263u
#define P5 374761393u

static uint32_t rotl(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint32_t dp_lb_xxhash32(const void *data, size_t len, uint32_t seed)
{
    const unsigned char *p = data, *end = p + len;
    uint32_t h;
    if (len >= 16) {
        uint32_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const unsigned char *limit = end - 16;
        do {
            v1 = rotl(v1 + rd32(p) * P2, 13) * P1;
            v2 = rotl(v2 + rd32(p + 4) * P2, 13) * P1;
            v3 = rotl(v3 + rd32(p + 8) * P2, 13) * P1;
            v4 = rotl(v4 + rd32(p + 12) * P2, 13) * P1;
            p += 16;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    } else {
        h = seed + P5;
    }
    h += (uint32_t)len;
    while (p + 4 <= end) {
        h = rotl(h + rd32(p) * P3, 17) * P4;
        p += 4;
    }
    while (p < end) {
        h = rotl(h + (*p) * P5, 11) * P1;
        p++;
    }
    h ^= h >> 15;
    h *= P2;
    h ^= h >> 13;
    h *= P3;
    h ^= h >> 16;
    return h;
}
