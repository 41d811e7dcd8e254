/* dp/dp_strmap.c: string-keyed hash map for build-once, read-many indexes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_strmap.h"

#include <stdlib.h>
#include <string.h>

void dp_strmap_init(struct dp_strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void dp_strmap_cleanup(struct dp_strmap *m)
{
    if (!m || !m->buckets)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct dp_strmap_entry *e = m->buckets[i];
        while (e) {
            struct dp_strmap_entry *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

uint32_t dp_strmap_hash(const char *key, size_t klen)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

static enum gw_err grow(struct dp_strmap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    struct dp_strmap_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct dp_strmap_entry *e = m->buckets[i];
        while (e) {
            struct dp_strmap_entry *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return GW_OK;
}

enum gw_err dp_strmap_put(struct dp_strmap *m, const char *key, size_t klen, void *value)
{
    if (dp_strmap_get(m, key, klen))
        return GW_ERR_EXISTS;
    if (m->count + 1 > m->nbuckets * 3 / 4) {
        enum gw_err err = grow(m);
        if (err != GW_OK)
            return err;
    }
    struct dp_strmap_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return GW_ERR_NOMEM;
    e->key = malloc(klen + 1);
    if (!e->key) {
        free(e);
        return GW_ERR_NOMEM;
    }
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    e->klen = klen;
    e->hash = dp_strmap_hash(key, klen);
    e->value = value;
    size_t j = e->hash & (m->nbuckets - 1);
    e->next = m->buckets[j];
    m->buckets[j] = e;
    m->count++;
    return GW_OK;
}

void *dp_strmap_get(const struct dp_strmap *m, const char *key, size_t klen)
{
    if (!m->nbuckets)
        return NULL;
    uint32_t h = dp_strmap_hash(key, klen);
    for (const struct dp_strmap_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e->value;
    return NULL;
}
