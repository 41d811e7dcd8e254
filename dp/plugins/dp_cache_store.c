/* dp/plugins/dp_cache_store.c: bounded LRU store of cached responses (one lock: a hit holds it
 * for a hash probe and a list move only).
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_cache_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/dp_plugin_map.h"

#define ENTRY_OVERHEAD 256 /* bookkeeping charged per entry, beyond its strings */
#define ENTRY_MAX_CAP  (8u << 20)

struct node {
    struct node *hnext;       /* hash chain */
    struct node *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    struct dp_cache_entry *entry; /* one reference owned by the store */
    size_t nslen;                 /* key = ns "\x1f" cache key */
    size_t keylen;
    char key[];
};

struct dp_cache_store {
    pthread_mutex_t lock;
    struct node **buckets;
    size_t nbuckets; /* power of two */
    struct node *head, *tail;
    size_t count;
    size_t bytes;
    size_t max_bytes;
};

struct dp_cache_store *dp_cache_store_create(size_t max_bytes)
{
    struct dp_cache_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->nbuckets = 1024;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->max_bytes = max_bytes;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

size_t dp_cache_store_entry_max(const struct dp_cache_store *s)
{
    size_t m = s->max_bytes / 4;
    return m > ENTRY_MAX_CAP ? ENTRY_MAX_CAP : m;
}

struct dp_cache_entry *dp_cache_entry_create(int status, const char *key,
                                             const struct dp_header *headers, size_t nheaders,
                                             const char *body, size_t body_len, int64_t timestamp,
                                             int64_t ttl, int64_t expires_at)
{
    size_t strings = 0;
    for (size_t i = 0; i < nheaders; i++) /* name\0value\0 and "name: value\r\n" */
        strings += 2 * (strlen(headers[i].name) + strlen(headers[i].value)) + 6;
    strings += 128; /* the hit lines: X-Cache-Status (21 bytes), X-Cache-Key (at most 79) */
    size_t total = sizeof(struct dp_cache_entry) +
                   nheaders * (sizeof(struct dp_header) + sizeof(struct dp_header_line)) + strings +
                   body_len + 1;
    struct dp_cache_entry *e = malloc(total);
    if (!e)
        return NULL;
    char *p = (char *)(e + 1);
    e->headers = (struct dp_header *)p;
    p += nheaders * sizeof(struct dp_header);
    e->lines = (struct dp_header_line *)p;
    p += nheaders * sizeof(struct dp_header_line);
    for (size_t i = 0; i < nheaders; i++) {
        size_t nl = strlen(headers[i].name), vl = strlen(headers[i].value);
        memcpy(p, headers[i].name, nl + 1);
        e->headers[i].name = p;
        p += nl + 1;
        memcpy(p, headers[i].value, vl + 1);
        e->headers[i].value = p;
        p += vl + 1;
        p += dp_header_line_put(p, nl + vl + 4, headers[i].name, nl, headers[i].value, vl,
                                &e->lines[i]);
    }
    if (body_len)
        memcpy(p, body, body_len);
    p[body_len] = '\0';
    e->body = p;
    e->body_len = body_len;
    size_t kl = key ? strnlen(key, sizeof(e->key) - 1) : 0;
    memcpy(e->key, key ? key : "", kl);
    e->key[kl] = '\0';
    p += body_len + 1;
    p += dp_header_line_put(p, 24, "X-Cache-Status", 14, "Hit", 3, &e->hit_status);
    dp_header_line_put(p, 16 + kl, "X-Cache-Key", 11, e->key, kl, &e->hit_key);
    e->nheaders = nheaders;
    e->status = status;
    e->timestamp = timestamp;
    e->ttl = ttl;
    e->expires_at = expires_at;
    e->size = total + ENTRY_OVERHEAD;
    atomic_init(&e->refs, 1);
    return e;
}

void dp_cache_entry_ref(struct dp_cache_entry *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void dp_cache_entry_release(struct dp_cache_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

static size_t node_size(const struct node *n)
{
    return n->entry->size + n->keylen;
}

static void lru_unlink(struct dp_cache_store *s, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        s->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        s->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_push_front(struct dp_cache_store *s, struct node *n)
{
    n->prev = NULL;
    n->next = s->head;
    if (s->head)
        s->head->prev = n;
    s->head = n;
    if (!s->tail)
        s->tail = n;
}

/* Unlinks n from the table and the list and frees it. Lock held. */
static void node_remove(struct dp_cache_store *s, struct node *n)
{
    struct node **pp = &s->buckets[n->hash & (s->nbuckets - 1)];
    while (*pp && *pp != n)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = n->hnext;
    lru_unlink(s, n);
    s->count--;
    s->bytes -= node_size(n);
    dp_cache_entry_release(n->entry);
    free(n);
}

/* The node of ns "\x1f" lookup. Nodes are hashed by their lookup key only (the namespaces
 * are a few plugin ids): no copy of the full key to look one up. Lock held. */
static struct node *lookup_node(struct dp_cache_store *s, const char *ns, size_t nslen,
                                const char *lookup, size_t klen, uint64_t h)
{
    struct node *n = s->buckets[h & (s->nbuckets - 1)];
    while (n && !(n->hash == h && n->nslen == nslen && n->keylen == nslen + 1 + klen &&
                  memcmp(n->key + nslen + 1, lookup, klen) == 0 && memcmp(n->key, ns, nslen) == 0))
        n = n->hnext;
    return n;
}

static void grow(struct dp_cache_store *s)
{
    size_t nb = s->nbuckets * 2;
    struct node **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct node *n = s->buckets[i];
        while (n) {
            struct node *next = n->hnext;
            n->hnext = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

void dp_cache_store_destroy(struct dp_cache_store *s)
{
    if (!s)
        return;
    while (s->head)
        node_remove(s, s->head);
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

enum gw_err dp_cache_store_put(struct dp_cache_store *s, const char *ns, const char *lookup,
                               size_t klen, struct dp_cache_entry *e)
{
    if (e->size > dp_cache_store_entry_max(s)) {
        dp_cache_entry_release(e);
        return GW_ERR_TOOBIG;
    }
    size_t nslen = strlen(ns), len = nslen + 1 + klen;
    struct node *n = malloc(sizeof(*n) + len + 1);
    if (!n) {
        dp_cache_entry_release(e);
        return GW_ERR_NOMEM;
    }
    memcpy(n->key, ns, nslen);
    n->key[nslen] = '\x1f';
    memcpy(n->key + nslen + 1, lookup, klen);
    n->key[len] = '\0';
    n->keylen = len;
    n->nslen = nslen;
    n->hash = dp_plugin_hash(lookup, klen);
    n->entry = e;
    n->prev = n->next = n->hnext = NULL;
    size_t need = node_size(n);
    pthread_mutex_lock(&s->lock);
    struct node *old = lookup_node(s, ns, nslen, lookup, klen, n->hash);
    if (old)
        node_remove(s, old);
    while (s->tail && s->bytes + need > s->max_bytes)
        node_remove(s, s->tail);
    if (s->bytes + need > s->max_bytes) { /* cannot happen: entry_max <= max_bytes / 4 */
        pthread_mutex_unlock(&s->lock);
        dp_cache_entry_release(e);
        free(n);
        return GW_ERR_TOOBIG;
    }
    if (s->count >= s->nbuckets)
        grow(s);
    struct node **b = &s->buckets[n->hash & (s->nbuckets - 1)];
    n->hnext = *b;
    *b = n;
    lru_push_front(s, n);
    s->count++;
    s->bytes += need;
    pthread_mutex_unlock(&s->lock);
    return GW_OK;
}

struct dp_cache_entry *dp_cache_store_get(struct dp_cache_store *s, const char *ns,
                                          const char *lookup, size_t klen, int64_t now)
{
    uint64_t h = dp_plugin_hash(lookup, klen);
    size_t nslen = strlen(ns);
    struct dp_cache_entry *e = NULL;
    pthread_mutex_lock(&s->lock);
    struct node *n = lookup_node(s, ns, nslen, lookup, klen, h);
    if (n && n->entry->expires_at <= now) {
        node_remove(s, n);
        n = NULL;
    }
    if (n) {
        if (s->head != n) {
            lru_unlink(s, n);
            lru_push_front(s, n);
        }
        e = n->entry;
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

enum gw_err dp_cache_store_purge(struct dp_cache_store *s, const char *key)
{
    size_t removed = 0, kl = key ? strlen(key) : 0;
    pthread_mutex_lock(&s->lock);
    struct node *n = s->head;
    while (n) {
        struct node *next = n->next;
        if (!key || (strlen(n->entry->key) == kl && !memcmp(n->entry->key, key, kl))) {
            node_remove(s, n);
            removed++;
        }
        n = next;
    }
    pthread_mutex_unlock(&s->lock);
    return (key && !removed) ? GW_ERR_NOTFOUND : GW_OK;
}

size_t dp_cache_store_bytes(struct dp_cache_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t b = s->bytes;
    pthread_mutex_unlock(&s->lock);
    return b;
}

size_t dp_cache_store_count(struct dp_cache_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t c = s->count;
    pthread_mutex_unlock(&s->lock);
    return c;
}
