/* dp/plugins/dp_plugin_env.c: creation of the plugins' process-wide stores and cache purge.
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_plugin_env.h"

#include "plugins/dp_cache_store.h"
#include "plugins/dp_rl_store.h"

enum gw_err dp_plugin_env_init(struct dp_plugin_env *env, size_t cache_bytes)
{
    env->ratelimit = dp_rl_store_create(0);
    env->cache = dp_cache_store_create(cache_bytes);
    if (!env->ratelimit || !env->cache) {
        dp_plugin_env_cleanup(env);
        return GW_ERR_NOMEM;
    }
    return GW_OK;
}

void dp_plugin_env_cleanup(struct dp_plugin_env *env)
{
    if (!env)
        return;
    dp_rl_store_destroy(env->ratelimit);
    dp_cache_store_destroy(env->cache);
    env->ratelimit = NULL;
    env->cache = NULL;
}

enum gw_err dp_plugin_env_cache_purge(const struct dp_plugin_env *env, const char *key)
{
    if (!env || !env->cache)
        return key ? GW_ERR_NOTFOUND : GW_OK;
    return dp_cache_store_purge(env->cache, key);
}
