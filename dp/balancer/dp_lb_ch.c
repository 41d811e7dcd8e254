/* dp/balancer/dp_lb_ch.c: consistent hashing (Kong's consistent_hashing.lua): a continuum of
 * `slots` points (at least 1000), each address owning about weight/total * targets * 160
 * points placed by xxHash32 of "<ip>:<port> <i>"; a value hashes to a point and the walk goes
 * downwards to the first available address. Unhealthy addresses are skipped, not removed.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_lb.h"

struct lb_ch {
    struct dp_lb base;
    uint32_t *ring; /* addr index + 1, 0 = empty point */
    uint32_t points;
    size_t used;
};

static enum gw_err ch_pick(struct dp_lb *lb, struct dp_lb_ctx *ctx, const struct dp_addr **out)
{
    struct lb_ch *ch = (struct lb_ch *)lb;
    if (!ch->used)
        return GW_ERR_UNAVAILABLE;
    if (!ctx->ring_pos_set) {
        const char *v = ctx->hash_value ? ctx->hash_value : "";
        ctx->ring_pos = dp_lb_xxhash32(v, ctx->hash_value ? ctx->hash_len : 0, 0) % ch->points;
        ctx->ring_pos_set = true;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint32_t pos = ctx->ring_pos;
        for (uint32_t k = 0; k < ch->points; k++) {
            uint32_t e = ch->ring[pos];
            if (e) {
                const struct dp_addr *a = lb->up->addrs[e - 1];
                if (dp_lb_usable(ctx, a, pass == 1)) {
                    *out = a;
                    return GW_OK;
                }
            }
            pos = pos ? pos - 1 : ch->points - 1;
        }
        if (!ctx->ntried)
            break;
    }
    return GW_ERR_UNAVAILABLE;
}

static void ch_destroy(struct dp_lb *lb)
{
    struct lb_ch *ch = (struct lb_ch *)lb;
    free(ch->ring);
    free(ch);
}

static const struct dp_lb_ops ch_ops = {.pick = ch_pick, .destroy = ch_destroy};

static int cmp_key(const void *a, const void *b, void *arg)
{
    const struct dp_upstream *up = arg;
    return strcmp(up->addrs[*(const uint32_t *)a]->key, up->addrs[*(const uint32_t *)b]->key);
}

struct dp_lb *dp_lb_ch_create(const struct dp_upstream *up)
{
    struct lb_ch *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    ch->base.ops = &ch_ops;
    ch->base.up = up;
    ch->points = up->slots >= 1000 ? (uint32_t)up->slots : 1000;
    ch->ring = calloc(ch->points, sizeof(*ch->ring));
    uint32_t *order = calloc(up->naddrs ? up->naddrs : 1, sizeof(*order));
    if (!ch->ring || !order) {
        free(order);
        ch_destroy(&ch->base);
        return NULL;
    }
    long long total = 0;
    size_t ntargets = 0;
    for (size_t i = 0; i < up->ntargets; i++)
        if (up->targets[i].weight > 0)
            ntargets++;
    for (size_t i = 0; i < up->naddrs; i++) {
        order[i] = (uint32_t)i;
        total += up->addrs[i]->weight;
    }
    qsort_r(order, up->naddrs, sizeof(*order), cmp_key, (void *)up);
    for (size_t o = 0; o < up->naddrs && total > 0 && ch->used < ch->points; o++) {
        const struct dp_addr *a = up->addrs[order[o]];
        size_t entries = (size_t)((double)a->weight / (double)total * (double)ntargets * 160.0);
        if (entries < 1)
            entries = 1;
        size_t placed = 0;
        for (size_t i = 1; placed < entries && ch->used < ch->points && i < entries * 64; i++) {
            char key[128];
            int n = snprintf(key, sizeof(key), "%s:%u %zu", a->ip, (unsigned)a->port, i);
            uint32_t idx = dp_lb_xxhash32(key, (size_t)n, 0) % ch->points;
            if (ch->ring[idx])
                continue; /* collision: one more entry */
            ch->ring[idx] = order[o] + 1;
            ch->used++;
            placed++;
        }
    }
    free(order);
    return &ch->base;
}
