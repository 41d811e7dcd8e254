/* dp/plugins/dp_rl_store.c: rate-limit counters: a hash table split into lock stripes; each
 * key's counters for all periods change under its stripe's lock, so check-and-count is exact.
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_rl_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_log.h"
#include "plugins/dp_plugin_map.h"

#define NSTRIPES            64
#define DEFAULT_MAX_ENTRIES 262144

struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t expires_ms; /* when every window it holds has ended */
    int64_t window[DP_RL_PERIOD_COUNT_];
    int64_t count[DP_RL_PERIOD_COUNT_];
    size_t keylen;
    char key[]; /* keylen bytes */
};

struct stripe {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
};

struct dp_rl_store {
    struct stripe stripes[NSTRIPES];
    size_t per_stripe_max;
    atomic_size_t total;
};

static const char *const period_names[] = {"second", "minute", "hour", "day", "month", "year"};
static const char *const period_titles[] = {"Second", "Minute", "Hour", "Day", "Month", "Year"};
static const int64_t period_secs[] = {1, 60, 3600, 86400, 2592000, 31536000};

const char *dp_rl_period_name(enum dp_rl_period p)
{
    return (unsigned)p < DP_RL_PERIOD_COUNT_ ? period_names[p] : "";
}

const char *dp_rl_period_title(enum dp_rl_period p)
{
    return (unsigned)p < DP_RL_PERIOD_COUNT_ ? period_titles[p] : "";
}

int64_t dp_rl_period_seconds(enum dp_rl_period p)
{
    return (unsigned)p < DP_RL_PERIOD_COUNT_ ? period_secs[p] : 1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Unix ms of the first instant of the month (months_ahead = 0) or a later one, UTC. */
static int64_t month_start(int64_t now_ms, int months_ahead, bool year)
{
    time_t t = (time_t)floor_div(now_ms, 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    struct tm st = {0};
    st.tm_year = tm.tm_year + (year ? months_ahead : 0);
    st.tm_mon = year ? 0 : tm.tm_mon + months_ahead; /* timegm normalises month 12 */
    st.tm_mday = 1;
    return (int64_t)timegm(&st) * 1000;
}

int64_t dp_rl_window_start(enum dp_rl_period p, int64_t now_ms)
{
    switch (p) {
    case DP_RL_MONTH:
        return month_start(now_ms, 0, false);
    case DP_RL_YEAR:
        return month_start(now_ms, 0, true);
    default: {
        int64_t len = dp_rl_period_seconds(p) * 1000;
        return floor_div(now_ms, len) * len;
    }
    }
}

int64_t dp_rl_window_end(enum dp_rl_period p, int64_t now_ms)
{
    switch (p) {
    case DP_RL_MONTH:
        return month_start(now_ms, 1, false);
    case DP_RL_YEAR:
        return month_start(now_ms, 1, true);
    default:
        return dp_rl_window_start(p, now_ms) + dp_rl_period_seconds(p) * 1000;
    }
}

struct dp_rl_store *dp_rl_store_create(size_t max_entries)
{
    struct dp_rl_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (!max_entries)
        max_entries = DEFAULT_MAX_ENTRIES;
    s->per_stripe_max = max_entries / NSTRIPES ? max_entries / NSTRIPES : 1;
    size_t nb = 16;
    while (nb < s->per_stripe_max)
        nb *= 2;
    atomic_init(&s->total, 0);
    for (size_t i = 0; i < NSTRIPES; i++) {
        struct stripe *st = &s->stripes[i];
        pthread_mutex_init(&st->lock, NULL);
        st->nbuckets = nb;
        st->buckets = calloc(nb, sizeof(*st->buckets));
        if (!st->buckets) {
            for (size_t j = i + 1; j < NSTRIPES; j++)
                pthread_mutex_init(&s->stripes[j].lock, NULL);
            dp_rl_store_destroy(s);
            return NULL;
        }
    }
    return s;
}

void dp_rl_store_destroy(struct dp_rl_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < NSTRIPES; i++) {
        struct stripe *st = &s->stripes[i];
        for (size_t b = 0; st->buckets && b < st->nbuckets; b++) {
            struct entry *e = st->buckets[b];
            while (e) {
                struct entry *n = e->next;
                free(e);
                e = n;
            }
        }
        free(st->buckets);
        pthread_mutex_destroy(&st->lock);
    }
    free(s);
}

size_t dp_rl_store_count(struct dp_rl_store *s)
{
    return atomic_load(&s->total);
}

/* Frees the stripe's entries whose windows have all ended. Stripe lock held. */
static void sweep(struct dp_rl_store *s, struct stripe *st, int64_t now_ms)
{
    for (size_t b = 0; b < st->nbuckets; b++) {
        struct entry **pp = &st->buckets[b];
        while (*pp) {
            struct entry *e = *pp;
            if (e->expires_ms <= now_ms) {
                *pp = e->next;
                free(e);
                st->count--;
                atomic_fetch_sub(&s->total, 1);
            } else {
                pp = &e->next;
            }
        }
    }
}

enum gw_err dp_rl_store_hit(struct dp_rl_store *s, const char *key, size_t keylen, int64_t now_ms,
                            const double limits[DP_RL_PERIOD_COUNT_],
                            struct dp_rl_usage usage[DP_RL_PERIOD_COUNT_], int *stop)
{
    uint64_t h = dp_plugin_hash(key, keylen);
    struct stripe *st = &s->stripes[(h >> 58) % NSTRIPES];
    int64_t start[DP_RL_PERIOD_COUNT_], end_max = now_ms;
    *stop = -1;
    for (int p = 0; p < DP_RL_PERIOD_COUNT_; p++) {
        usage[p].active = limits[p] > 0;
        usage[p].limit = limits[p];
        usage[p].count = 0;
        usage[p].window_start_ms = 0;
        if (!usage[p].active)
            continue;
        start[p] = dp_rl_window_start((enum dp_rl_period)p, now_ms);
        usage[p].window_start_ms = start[p];
        int64_t end = dp_rl_window_end((enum dp_rl_period)p, now_ms);
        if (end > end_max)
            end_max = end;
    }
    enum gw_err rc = GW_OK;
    pthread_mutex_lock(&st->lock);
    struct entry **bucket = &st->buckets[h & (st->nbuckets - 1)];
    struct entry *e = *bucket;
    while (e && !(e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0))
        e = e->next;
    if (!e) {
        if (st->count >= s->per_stripe_max)
            sweep(s, st, now_ms);
        if (st->count >= s->per_stripe_max) {
            rc = GW_ERR_TOOBIG;
            goto out;
        }
        e = calloc(1, sizeof(*e) + keylen);
        if (!e) {
            rc = GW_ERR_NOMEM;
            goto out;
        }
        e->hash = h;
        e->keylen = keylen;
        memcpy(e->key, key, keylen);
        e->next = *bucket;
        *bucket = e;
        st->count++;
        atomic_fetch_add(&s->total, 1);
    }
    for (int p = 0; p < DP_RL_PERIOD_COUNT_; p++) {
        if (!usage[p].active)
            continue;
        if (e->window[p] != start[p]) {
            e->window[p] = start[p];
            e->count[p] = 0;
        }
        usage[p].count = e->count[p];
        if (limits[p] - (double)e->count[p] <= 0)
            *stop = p;
    }
    if (*stop < 0) {
        for (int p = 0; p < DP_RL_PERIOD_COUNT_; p++) {
            if (usage[p].active)
                e->count[p]++;
        }
    }
    if (end_max > e->expires_ms)
        e->expires_ms = end_max;
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}
