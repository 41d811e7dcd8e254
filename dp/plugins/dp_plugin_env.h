/* dp/plugins/dp_plugin_env.h: the plugins' process-wide state (rate-limit counters, proxy
 * cache), created once at data plane start and kept across config updates, and the proxy-cache
 * purge used by the status listener.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_PLUGIN_ENV_H
#define DP_PLUGIN_ENV_H

#include <stddef.h>

#include "gw_err.h"
#include "plugins/dp_plugin.h"

/* Creates the stores of env (caller-provided storage): the proxy cache bounded to cache_bytes
 * (proxy_cache_memory_size) and the rate-limit counters. GW_ERR_NOMEM (env left empty). Pair
 * with dp_plugin_env_cleanup once every plugin set built with it is destroyed. Main thread. */
enum gw_err dp_plugin_env_init(struct dp_plugin_env *env, size_t cache_bytes);

/* Frees the stores. Accepts an empty env. Main thread, after the workers stopped. */
void dp_plugin_env_cleanup(struct dp_plugin_env *env);

/* Purges the proxy cache: every entry (key NULL), for DELETE /proxy-cache (answer 204), or
 * key in every plugin instance, for DELETE /proxy-cache/{key} (GW_OK: 204; GW_ERR_NOTFOUND:
 * 404). Any thread. */
enum gw_err dp_plugin_env_cache_purge(const struct dp_plugin_env *env, const char *key);

/* The process-wide env: dp_plugin_env_global_init(proxy_cache_memory_size) from main before
 * the first config is built (later calls change nothing), dp_plugin_env_global() wherever a
 * plugin set is built (it creates the env with a 128 MiB cache if main did not), and
 * dp_plugin_env_global_cleanup() from main after every config is gone. Thread-safe. */
enum gw_err dp_plugin_env_global_init(size_t cache_bytes);
const struct dp_plugin_env *dp_plugin_env_global(void);
void dp_plugin_env_global_cleanup(void);

#endif
