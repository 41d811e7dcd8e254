/* dp/balancer/dp_lb_lc.c: weighted least-connections (Kong's least_connections.lua): the
 * available address with the lowest (active + 1) / weight wins; ties rotate. Active counts are
 * shared by every worker and survive config changes (dp_lb_state).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "dp_lb.h"
#include "dp_lb_state.h"

struct lb_lc {
    struct dp_lb base;
};

static enum gw_err lc_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    const struct dp_upstream *up = lb->up;
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
            double score =
                (double)(atomic_load_explicit(&a->state->active, memory_order_relaxed) + 1) /
                (double)a->weight;
            if (!best || score < best_score) {
                best = a;
                best_score = score;
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

static void lc_destroy(struct dp_lb *lb)
{
    free(lb);
}

static const struct dp_lb_ops lc_ops = {.pick = lc_pick, .destroy = lc_destroy};

struct dp_lb *dp_lb_lc_create(const struct dp_upstream *up)
{
    struct lb_lc *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return NULL;
    lc->base.ops = &lc_ops;
    lc->base.up = up;
    return &lc->base;
}
