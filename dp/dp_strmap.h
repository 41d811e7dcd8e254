/* dp/dp_strmap.h: a small string-keyed hash map (chained, power-of-two buckets) used to index
 * config entities by id or name and router buckets by host. Built once, read-only afterwards.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_STRMAP_H
#define DP_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"

struct dp_strmap_entry {
    char *key; /* owned copy */
    size_t klen;
    uint32_t hash;
    void *value; /* borrowed */
    struct dp_strmap_entry *next;
};

struct dp_strmap {
    struct dp_strmap_entry **buckets;
    size_t nbuckets; /* power of two, 0 before the first insert */
    size_t count;
};

/* Initialises caller storage (no allocation). Pair with dp_strmap_cleanup. */
void dp_strmap_init(struct dp_strmap *m);

/* Frees the entries and key copies (not the values). Accepts a zeroed map. */
void dp_strmap_cleanup(struct dp_strmap *m);

/* Inserts key (copied) -> value. GW_ERR_EXISTS if the key is present (map unchanged),
 * GW_ERR_NOMEM. Not thread-safe for writers. */
enum gw_err dp_strmap_put(struct dp_strmap *m, const char *key, size_t klen, void *value);

/* Returns the value for key, or NULL. Any thread once the map is no longer written. */
void *dp_strmap_get(const struct dp_strmap *m, const char *key, size_t klen);

/* FNV-1a 32-bit hash of key. */
uint32_t dp_strmap_hash(const char *key, size_t klen);

#endif
