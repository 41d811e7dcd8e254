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

static double lc_score(const struct dp_addr *a, void *arg)
{
    (void)arg;
    return (double)(atomic_load_explicit(&a->state->active, memory_order_relaxed) + 1) /
           (double)a->weight;
}

static enum gw_err lc_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    return dp_lb_pick_lowest(lb->up, ctx, lc_score, NULL, out);
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
