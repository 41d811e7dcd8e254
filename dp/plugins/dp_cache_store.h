/* dp/plugins/dp_cache_store.h: the proxy-cache plugin's memory store (strategy memory): one per
 * data plane, shared by its worker threads, kept across config updates, bounded in bytes
 * (proxy_cache_memory_size) with LRU eviction. Entries are immutable and reference-counted, so
 * a hit is served without copying under the lock and an entry evicted while being served stays
 * alive until released. Entries are keyed by namespace (the plugin instance id) + cache key.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CACHE_STORE_H
#define DP_CACHE_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "plugins/dp_plugin.h"

struct dp_cache_store;

/* A cached response. Read-only once stored. */
struct dp_cache_entry {
    char key[65]; /* the cache key clients see (X-Cache-Key) and purge by */
    int status;
    size_t nheaders;
    struct dp_header *headers;    /* name/value strings live in the entry */
    struct dp_header_line *lines; /* the same headers as prepared lines (for respond_lines) */
    struct dp_header_line hit_status, hit_key; /* "X-Cache-Status: Hit", "X-Cache-Key: <key>" */
    const char *body;                          /* body_len bytes (not NUL-terminated) */
    size_t body_len;
    int64_t timestamp;  /* unix seconds when stored */
    int64_t ttl;        /* freshness lifetime (seconds) computed from the response */
    int64_t expires_at; /* unix seconds after which the store drops it */
    size_t size;        /* bytes charged against the store's bound */
    atomic_int refs;
};

/* Creates a store bounded to max_bytes (accounted as keys + headers + bodies + a fixed
 * overhead per entry). Returns owned (dp_cache_store_destroy) or NULL. Any thread. */
struct dp_cache_store *dp_cache_store_create(size_t max_bytes);

/* Frees the store and every entry not still referenced (those go with their last release).
 * Accepts NULL. No thread may be using the store. */
void dp_cache_store_destroy(struct dp_cache_store *s);

/* Largest entry the store accepts: a quarter of the bound, at most 8 MiB. */
size_t dp_cache_store_entry_max(const struct dp_cache_store *s);

/* Makes an entry (owned, refs = 1; give it to dp_cache_store_put or release it) with its public
 * cache key (at most 64 characters, the rest is cut). Copies everything. NULL when out of
 * memory. Any thread. */
struct dp_cache_entry *dp_cache_entry_create(int status, const char *key,
                                             const struct dp_header *headers, size_t nheaders,
                                             const char *body, size_t body_len, int64_t timestamp,
                                             int64_t ttl, int64_t expires_at);

/* Drops one reference; frees the entry at zero. Accepts NULL. Any thread. */
void dp_cache_entry_release(struct dp_cache_entry *e);

/* Takes one more reference. Any thread. */
void dp_cache_entry_ref(struct dp_cache_entry *e);

/* Stores e (takes ownership of the caller's reference) under ns + the lookup key (klen bytes,
 * any bytes; the proxy-cache plugin uses the text it hashes into the public key, so a hit
 * needs no digest), replacing an older entry, evicting least recently used entries until it
 * fits. GW_ERR_TOOBIG when e is larger than dp_cache_store_entry_max (e released, nothing
 * stored). Any thread. */
enum gw_err dp_cache_store_put(struct dp_cache_store *s, const char *ns, const char *lookup,
                               size_t klen, struct dp_cache_entry *e);

/* The entry under ns + lookup key that has not expired at now (unix s), with a new reference
 * (release with dp_cache_entry_release), or NULL. Marks it most recently used; drops it if
 * expired. No allocation, no copy of the key. Any thread. */
struct dp_cache_entry *dp_cache_store_get(struct dp_cache_store *s, const char *ns,
                                          const char *lookup, size_t klen, int64_t now);

/* Removes the entries whose public key (dp_cache_entry.key) is key, in every namespace (key
 * NULL: removes everything); a walk over the whole store. GW_ERR_NOTFOUND when key was in
 * none. Any thread. */
enum gw_err dp_cache_store_purge(struct dp_cache_store *s, const char *key);

/* Bytes and entries currently held. Any thread. */
size_t dp_cache_store_bytes(struct dp_cache_store *s);
size_t dp_cache_store_count(struct dp_cache_store *s);

#endif
