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
    uint32_t hash; /* dp_strmap_hash of key */
    int refs;      /* guarded by reg_lock */
    bool is_addr;
    union {
        struct dp_upstream_state up;
        struct dp_addr_state addr;
    } u;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
/* Chained hash table, doubled when it gets 3/4 full so chains stay short with tens of
 * thousands of targets. Guarded by reg_lock. */
static struct entry **reg_buckets;
static size_t reg_nbuckets; /* power of two, 0 before the first insert */
static size_t reg_count;

/* Doubles the table (reg_lock held). On allocation failure the old, longer chains stay. */
static void grow(void)
{
    size_t n = reg_nbuckets ? reg_nbuckets * 2 : 1024;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < reg_nbuckets; i++) {
        for (struct entry *e = reg_buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(reg_buckets);
    reg_buckets = b;
    reg_nbuckets = n;
}

static struct entry *find_or_add(const char *key, bool is_addr)
{
    size_t klen = strlen(key);
    uint32_t hash = dp_strmap_hash(key, klen);
    pthread_mutex_lock(&reg_lock);
    if (reg_count + 1 > reg_nbuckets * 3 / 4)
        grow();
    struct entry *e = NULL;
    if (reg_nbuckets) {
        for (e = reg_buckets[hash & (reg_nbuckets - 1)]; e; e = e->next)
            if (e->hash == hash && e->is_addr == is_addr && strcmp(e->key, key) == 0)
                break;
    }
    if (e) {
        e->refs++;
    } else {
        e = calloc(1, sizeof(*e));
        if (e && !(e->key = strdup(key))) {
            free(e);
            e = NULL;
        }
        if (e && !reg_nbuckets) { /* the table could never be allocated */
            free(e->key);
            free(e);
            e = NULL;
        }
        if (e) {
            e->refs = 1;
            e->hash = hash;
            e->is_addr = is_addr;
            if (is_addr) {
                atomic_init(&e->u.addr.active, 0);
                atomic_init(&e->u.addr.healthy, true);
                pthread_mutex_init(&e->u.addr.lock, NULL);
            }
            e->next = reg_buckets[hash & (reg_nbuckets - 1)];
            reg_buckets[hash & (reg_nbuckets - 1)] = e;
            reg_count++;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return e;
}

static void unref(struct entry *e)
{
    pthread_mutex_lock(&reg_lock);
    size_t h = e->hash & (reg_nbuckets - 1);
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
    if (--reg_count == 0) { /* last entry gone (shutdown): release the table too */
        free(reg_buckets);
        reg_buckets = NULL;
        reg_nbuckets = 0;
    }
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
