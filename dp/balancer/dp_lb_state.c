/* dp/balancer/dp_lb_state.c: the registry of balancer state keyed by stable identity.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_lb_state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp_strmap.h"

/* One registry entry; the state it carries follows the header so both go in one allocation. */
struct entry {
    struct entry *next;
    char *key;
    int refs; /* guarded by reg_lock */
    bool is_addr;
    union {
        struct dp_upstream_state up;
        struct dp_addr_state addr;
    } u;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *reg_buckets[1024];
static size_t reg_count;

static struct entry *find_or_add(const char *key, bool is_addr)
{
    size_t klen = strlen(key);
    uint32_t h = dp_strmap_hash(key, klen) & 1023u;
    pthread_mutex_lock(&reg_lock);
    struct entry *e;
    for (e = reg_buckets[h]; e; e = e->next)
        if (e->is_addr == is_addr && strcmp(e->key, key) == 0)
            break;
    if (e) {
        e->refs++;
    } else {
        e = calloc(1, sizeof(*e));
        if (e && !(e->key = strdup(key))) {
            free(e);
            e = NULL;
        }
        if (e) {
            e->refs = 1;
            e->is_addr = is_addr;
            if (is_addr) {
                atomic_init(&e->u.addr.active, 0);
                atomic_init(&e->u.addr.healthy, true);
                pthread_mutex_init(&e->u.addr.lock, NULL);
            }
            e->next = reg_buckets[h];
            reg_buckets[h] = e;
            reg_count++;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return e;
}

static void unref(struct entry *e)
{
    uint32_t h = dp_strmap_hash(e->key, strlen(e->key)) & 1023u;
    pthread_mutex_lock(&reg_lock);
    if (--e->refs > 0) {
        pthread_mutex_unlock(&reg_lock);
        return;
    }
    for (struct entry **pp = &reg_buckets[h]; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    reg_count--;
    pthread_mutex_unlock(&reg_lock);
    if (e->is_addr)
        pthread_mutex_destroy(&e->u.addr.lock);
    free(e->key);
    free(e);
}

#define ENTRY_OF(ptr, member) ((struct entry *)((char *)(ptr)-offsetof(struct entry, member)))

struct dp_upstream_state *dp_lb_state_upstream_get(const char *key)
{
    struct entry *e = find_or_add(key, false);
    return e ? &e->u.up : NULL;
}

void dp_lb_state_upstream_unref(struct dp_upstream_state *s)
{
    if (s)
        unref(ENTRY_OF(s, u.up));
}

struct dp_addr_state *dp_lb_state_addr_get(const char *key)
{
    struct entry *e = find_or_add(key, true);
    return e ? &e->u.addr : NULL;
}

void dp_lb_state_addr_unref(struct dp_addr_state *s)
{
    if (s)
        unref(ENTRY_OF(s, u.addr));
}

void dp_lb_state_set_healthy(struct dp_addr_state *s, bool healthy)
{
    atomic_store(&s->healthy, healthy);
}

void dp_lb_state_report(struct dp_addr_state *s, bool ok, bool timeout)
{
    if (ok)
        atomic_fetch_add_explicit(&s->successes, 1, memory_order_relaxed);
    else if (timeout)
        atomic_fetch_add_explicit(&s->timeouts, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed);
}

void dp_lb_state_ewma_update(struct dp_addr_state *s, double rtt, uint64_t now_us)
{
    pthread_mutex_lock(&s->lock);
    if (s->ewma_at_us == 0) {
        s->ewma = rtt;
    } else {
        double dt = now_us > s->ewma_at_us ? (double)(now_us - s->ewma_at_us) / 1e6 : 0.0;
        double w = exp(-dt / 10.0);
        s->ewma = s->ewma * w + rtt * (1.0 - w);
    }
    s->ewma_at_us = now_us ? now_us : 1;
    pthread_mutex_unlock(&s->lock);
}

double dp_lb_state_ewma(struct dp_addr_state *s, bool *known)
{
    pthread_mutex_lock(&s->lock);
    double v = s->ewma;
    *known = s->ewma_at_us != 0;
    pthread_mutex_unlock(&s->lock);
    return v;
}

size_t dp_lb_state_count(void)
{
    pthread_mutex_lock(&reg_lock);
    size_t n = reg_count;
    pthread_mutex_unlock(&reg_lock);
    return n;
}
