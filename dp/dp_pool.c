/* dp/dp_pool.c: per-worker keep-alive pools of idle upstream connections, keyed by address
 * ("ip:port"), LIFO, at most upstream_keepalive_pool_size per key, closed after
 * upstream_keepalive_idle_timeout or as soon as the upstream closes or sends anything.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_http.h"
#include "dp_strmap.h"
#include "dp_worker.h"

#define POOL_BUCKETS 256

struct dp_pool_slot {
    struct dp_pool_slot *next; /* bucket chain */
    char key[360];
    struct dp_upconn *idle; /* most recent first */
    int count;
};

struct dp_pool {
    struct dp_worker *w;
    struct dp_pool_slot *b[POOL_BUCKETS];
    size_t idle;
};

struct dp_pool *dp_pool_create(struct dp_worker *w)
{
    struct dp_pool *p = calloc(1, sizeof(*p));
    if (p)
        p->w = w;
    return p;
}

void dp_upconn_free(struct dp_upconn *up)
{
    if (!up)
        return;
    if (up->bev)
        dp_io_free(up->bev);
    free(up);
}

static void unlink_idle(struct dp_pool *p, struct dp_upconn *up)
{
    struct dp_pool_slot *s = up->slot;
    if (up->prev)
        up->prev->next = up->next;
    else
        s->idle = up->next;
    if (up->next)
        up->next->prev = up->prev;
    up->next = up->prev = NULL;
    up->slot = NULL;
    s->count--;
    p->idle--;
}

void dp_pool_destroy(struct dp_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < POOL_BUCKETS; i++) {
        struct dp_pool_slot *s = p->b[i];
        while (s) {
            struct dp_pool_slot *next = s->next;
            while (s->idle) {
                struct dp_upconn *up = s->idle;
                unlink_idle(p, up);
                dp_upconn_free(up);
            }
            free(s);
            s = next;
        }
    }
    free(p);
}

static struct dp_pool_slot *slot_get(struct dp_pool *p, const char *key, bool create)
{
    uint32_t h = dp_strmap_hash(key, strlen(key)) % POOL_BUCKETS;
    for (struct dp_pool_slot *s = p->b[h]; s; s = s->next)
        if (strcmp(s->key, key) == 0)
            return s;
    if (!create)
        return NULL;
    struct dp_pool_slot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->key, sizeof(s->key), "%s", key);
    s->next = p->b[h];
    p->b[h] = s;
    return s;
}

/* Anything from an idle connection (data, EOF, error, idle timeout) ends it. */
static void idle_event(struct dp_io *bev, short what, void *arg)
{
    struct dp_upconn *up = arg;
    (void)bev;
    (void)what;
    struct dp_pool *p = up->w->pool;
    unlink_idle(p, up);
    dp_upconn_free(up);
}

static void idle_read(struct dp_io *bev, void *arg)
{
    idle_event(bev, 0, arg);
}

struct dp_upconn *dp_pool_get(struct dp_pool *p, const char *key)
{
    struct dp_pool_slot *s = slot_get(p, key, false);
    if (!s || !s->idle)
        return NULL;
    struct dp_upconn *up = s->idle;
    unlink_idle(p, up);
    return up;
}

void dp_pool_put(struct dp_pool *p, struct dp_upconn *up)
{
    const struct dp_settings *set = p->w->set;
    /* a connection keeps the slot of its key (slots live as long as the pool) */
    struct dp_pool_slot *s = up->home ? up->home : (up->home = slot_get(p, up->key, true));
    if (!s || s->count >= set->pool_size || p->w->draining) {
        dp_upconn_free(up);
        return;
    }
    up->slot = s;
    up->prev = NULL;
    up->next = s->idle;
    if (s->idle)
        s->idle->prev = up;
    s->idle = up;
    s->count++;
    p->idle++;
    dp_io_setcb(up->bev, idle_read, NULL, idle_event, up);
    up->idle_since_ms = dp_worker_now_ms(p->w);
}

void dp_pool_tick(struct dp_pool *p, uint64_t now)
{
    uint64_t limit = (uint64_t)p->w->set->pool_idle_timeout_s * 1000u;
    if (!limit || !p->idle)
        return;
    for (size_t i = 0; i < POOL_BUCKETS; i++) {
        for (struct dp_pool_slot *s = p->b[i]; s; s = s->next) {
            struct dp_upconn *up = s->idle;
            while (up) {
                struct dp_upconn *next = up->next;
                if (now - up->idle_since_ms >= limit) {
                    unlink_idle(p, up);
                    dp_upconn_free(up);
                }
                up = next;
            }
        }
    }
}

size_t dp_pool_idle(const struct dp_pool *p)
{
    return p->idle;
}
