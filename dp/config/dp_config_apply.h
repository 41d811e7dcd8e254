/* dp/config/dp_config_apply.h: applying a received snapshot (open, build, publish, write the
 * disk cache) and loading the disk cache at start. The cache, <prefix>/config.cache, holds the
 * packed portico.v1.Snapshot message, written atomically (temp file, fsync, rename, mode 0600).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONFIG_APPLY_H
#define DP_CONFIG_APPLY_H

#include <stddef.h>

#include "dp_config.h"
#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

/* Sets the directory of the cache file (copied). Call once from main before any apply. */
void dp_config_apply_init(const char *prefix);

/* Frees what dp_config_apply_init allocated. Main thread, at exit. */
void dp_config_apply_cleanup(void);

/* Opens snap (borrowed; hash verified, at most max_size bytes once decompressed), builds and
 * publishes the config, then writes the disk cache. Validation errors go to on_error (may be
 * NULL). Returns GW_OK, or the first failure (GW_ERR_INVALID for a bad snapshot or config,
 * GW_ERR_TOOBIG, GW_ERR_NOMEM); on failure the running config is untouched. A cache write
 * failure is only logged. Any thread except a proxy worker. */
enum gw_err dp_config_apply_snapshot(const Portico__V1__Snapshot *snap, size_t max_size,
                                     dp_config_error_fn on_error, void *arg);

/* Loads <prefix>/config.cache, if present, and applies it without rewriting it. A missing
 * cache is GW_ERR_NOTFOUND; a corrupt one is logged and ignored (GW_ERR_INVALID). Main thread,
 * before the workers take traffic. */
enum gw_err dp_config_apply_load_cache(size_t max_size);

/* Builds and publishes the last applied snapshot again (after a DNS answer changed), without
 * touching the cache. GW_ERR_NOTFOUND when nothing was applied yet. Any thread except a proxy
 * worker and the resolver thread. */
enum gw_err dp_config_apply_rebuild(size_t max_size);

/* Writes snap to <prefix>/config.cache atomically. GW_ERR_IO on failure (logged). */
enum gw_err dp_config_apply_write_cache(const Portico__V1__Snapshot *snap);

#endif
