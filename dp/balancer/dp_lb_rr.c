/* dp/balancer/dp_lb_rr.c: weighted round-robin. A wheel of total_weight/gcd slots in smooth
 * weighted order; a position shared by every worker (and kept across configs) walks it, so
 * every full turn gives the exact weight proportions (Kong's round_robin.lua).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "dp_lb.h"
#include "dp_lb_state.h"

struct lb_rr {
    struct dp_lb base;
    uint32_t *wheel; /* indexes into up->addrs */
    size_t len;
};

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static enum gw_err rr_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    struct lb_rr *rr = (struct lb_rr *)lb;
    const struct dp_upstream *up = lb->up;
    if (!rr->len)
        return GW_ERR_UNAVAILABLE;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < rr->len; i++) {
            uint64_t pos =
                atomic_fetch_add_explicit(&up->state->rr_pos, 1, memory_order_relaxed) % rr->len;
            const struct dp_addr *a = up->addrs[rr->wheel[pos]];
            if (dp_lb_usable(ctx, a, pass == 1)) {
                *out = a;
                return GW_OK;
            }
        }
        if (!ctx->ntried)
            break;
    }
    return GW_ERR_UNAVAILABLE;
}

static void rr_destroy(struct dp_lb *lb)
{
    struct lb_rr *rr = (struct lb_rr *)lb;
    free(rr->wheel);
    free(rr);
}

static const struct dp_lb_ops rr_ops = {.pick = rr_pick, .destroy = rr_destroy};

struct dp_lb *dp_lb_rr_create(const struct dp_upstream *up)
{
    struct lb_rr *rr = calloc(1, sizeof(*rr));
    if (!rr)
        return NULL;
    rr->base.ops = &rr_ops;
    rr->base.up = up;
    size_t g = 0, total = 0, n = up->naddrs;
    for (size_t i = 0; i < n; i++)
        g = gcd(g, (size_t)up->addrs[i]->weight);
    if (!n || !g)
        return &rr->base;
    for (size_t i = 0; i < n; i++)
        total += (size_t)up->addrs[i]->weight / g;
    rr->wheel = calloc(total, sizeof(*rr->wheel));
    long long *cur = calloc(n, sizeof(*cur));
    if (!rr->wheel || !cur) {
        free(cur);
        rr_destroy(&rr->base);
        return NULL;
    }
    if (total * n <= 20u * 1000 * 1000) {
        /* Smooth weighted order (nginx): spreads each address evenly over the turn. */
        for (size_t k = 0; k < total; k++) {
            size_t best = 0;
            for (size_t i = 0; i < n; i++) {
                cur[i] += (long long)((size_t)up->addrs[i]->weight / g);
                if (cur[i] > cur[best])
                    best = i;
            }
            cur[best] -= (long long)total;
            rr->wheel[k] = (uint32_t)best;
        }
    } else {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < (size_t)up->addrs[i]->weight / g; j++)
                rr->wheel[k++] = (uint32_t)i;
    }
    rr->len = total;
    free(cur);
    return &rr->base;
}
