/* dp/plugins/dp_plugin_map.h: the plugins' string-keyed hash map (open addressing, SipHash-1-3 with
 * a random per-process key, so keys chosen by clients cannot force collisions). Built once, then
 * read concurrently: inserts are not thread-safe, lookups on a map nobody modifies are.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_PLUGIN_MAP_H
#define DP_PLUGIN_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"

struct dp_plugin_map_slot {
    const char *key; /* borrowed; NULL = empty slot */
    size_t keylen;
    uint64_t hash;
    void *value;
};

/* Caller-provided storage: init, insert..., cleanup. */
struct dp_plugin_map {
    struct dp_plugin_map_slot *slots; /* owned */
    size_t cap;                       /* power of two, or 0 */
    size_t len;
};

/* SipHash-1-3 of n bytes under the process key (random, set on first use; thread-safe). */
uint64_t dp_plugin_hash(const void *data, size_t n);

/* Initialises an empty map; no allocation. */
void dp_plugin_map_init(struct dp_plugin_map *m);

/* Frees the slot array (not keys or values). Accepts a zeroed map. */
void dp_plugin_map_cleanup(struct dp_plugin_map *m);

/* Inserts key (borrowed: must outlive the map) -> value. GW_ERR_EXISTS when key is present
 * (the map is unchanged), GW_ERR_NOMEM. Building thread only. */
enum gw_err dp_plugin_map_put(struct dp_plugin_map *m, const char *key, void *value);

/* Value of key (n bytes), or NULL. Any thread once building is over. */
void *dp_plugin_map_getn(const struct dp_plugin_map *m, const char *key, size_t n);

/* Value of a NUL-terminated key, or NULL. */
void *dp_plugin_map_get(const struct dp_plugin_map *m, const char *key);

#endif
