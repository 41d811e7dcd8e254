/* dp/balancer/dp_lb_latency.c: the latency balancer (Kong's latency.lua): the available
 * address with the lowest EWMA(response time) / weight wins; an address without samples starts
 * at the average of the others ("slow start"); ties rotate.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "dp_lb.h"
#include "dp_lb_state.h"

struct lb_latency {
    struct dp_lb base;
};

static enum gw_err lat_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    const struct dp_upstream *up = lb->up;
    size_t n = up->naddrs;
    if (!n)
        return GW_ERR_UNAVAILABLE;
    double sum = 0;
    size_t nknown = 0;
    for (size_t i = 0; i < n; i++) {
        bool known;
        double e = dp_lb_state_ewma(up->addrs[i]->state, &known);
        if (known) {
            sum += e;
            nknown++;
        }
    }
    double avg = nknown ? sum / (double)nknown : 0.0;
    uint64_t start = atomic_fetch_add_explicit(&up->state->lc_pos, 1, memory_order_relaxed);
    for (int pass = 0; pass < 2; pass++) {
        const struct dp_addr *best = NULL;
        double best_score = 0;
        for (size_t k = 0; k < n; k++) {
            const struct dp_addr *a = up->addrs[(start + k) % n];
            if (!dp_lb_usable(ctx, a, pass == 1))
                continue;
            bool known;
            double e = dp_lb_state_ewma(a->state, &known);
            double score = (known ? e : avg) / (double)a->weight;
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

static void lat_destroy(struct dp_lb *lb)
{
    free(lb);
}

static const struct dp_lb_ops lat_ops = {.pick = lat_pick, .destroy = lat_destroy};

struct dp_lb *dp_lb_latency_create(const struct dp_upstream *up)
{
    struct lb_latency *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->base.ops = &lat_ops;
    l->base.up = up;
    return &l->base;
}
