/* dp/config/dp_config_reaper.h: frees replaced configurations off the proxy workers.
 *
 * A replaced config is freed when its last reference goes, and that reference is usually a
 * worker's (it lets go of the old config when it picks up the new one). Freeing a large config
 * there (router, balancers, hundreds of thousands of free() calls, many into the malloc arena of
 * the thread that built it, which may be building the next one) stalls that worker's requests.
 * While the reaper runs, dp_config_unref hands the config to its thread (nice 19, like the
 * snapshot apply thread) instead.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONFIG_REAPER_H
#define DP_CONFIG_REAPER_H

#include <stdbool.h>

#include "gw_err.h"

struct dp_config;

/* Starts the reaper thread. GW_OK, or GW_ERR_IO when the thread cannot start (configs are then
 * freed where their last reference goes, as without a reaper). Main thread, once. */
enum gw_err dp_config_reaper_start(void);

/* Queues cfg (its last reference, transferred) to be destroyed by the reaper. Returns false
 * when the reaper is not running: the caller destroys cfg itself. Never blocks on a destroy.
 * Any thread. */
bool dp_config_reaper_put(struct dp_config *cfg);

/* Destroys what is queued, stops and joins the thread; later puts return false. Call after the
 * last config was unpublished (dp_config_shutdown) and before the modules a config refers to
 * shut down. Main thread. */
void dp_config_reaper_stop(void);

#endif
