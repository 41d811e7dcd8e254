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

/* EWMA / weight; an address without samples scores the average of the others (slow start). */
static double lat_score(const struct dp_addr *a, void *arg)
{
    bool known;
    double e = dp_lb_state_ewma(a->state, &known);
    return (known ? e : *(const double *)arg) / (double)a->weight;
}

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
    return dp_lb_pick_lowest(up, ctx, lat_score, &avg, out);
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
