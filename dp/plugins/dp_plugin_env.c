/* dp/plugins/dp_plugin_env.c: creation of the plugins' process-wide stores and cache purge.
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_plugin_env.h"

#include <pthread.h>
#include <stdbool.h>

#include "gw_log.h"
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

#define DEFAULT_CACHE_BYTES ((size_t)128 << 20)

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dp_plugin_env global_env;
static bool global_ready;

enum gw_err dp_plugin_env_global_init(size_t cache_bytes)
{
    enum gw_err e = GW_OK;
    pthread_mutex_lock(&global_lock);
    if (!global_ready) {
        e = dp_plugin_env_init(&global_env, cache_bytes);
        global_ready = e == GW_OK;
    }
    pthread_mutex_unlock(&global_lock);
    return e;
}

const struct dp_plugin_env *dp_plugin_env_global(void)
{
    if (dp_plugin_env_global_init(DEFAULT_CACHE_BYTES) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "cannot create the plugin stores error=\"out of memory\"");
        return NULL;
    }
    return &global_env;
}

void dp_plugin_env_global_cleanup(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_ready)
        dp_plugin_env_cleanup(&global_env);
    global_ready = false;
    pthread_mutex_unlock(&global_lock);
}
