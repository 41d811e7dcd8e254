/* dp/dp_config_internal.h: the layout of struct dp_config and the reference-counting calls the
 * workers use (acquire the published config, hold it per request, release it). Only dp/ code
 * that runs requests includes this; everyone else uses dp_config.h.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONFIG_INTERNAL_H
#define DP_CONFIG_INTERNAL_H

#include <stdatomic.h>

#include "dp_config.h"
#include "dp_config_types.h"
#include "dp_strmap.h"

struct dp_tls_store;

struct dp_config {
    atomic_int refs;
    struct dp_config *reap_next; /* dp_config_reaper's queue */
    int64_t revision;
    char hash[65];
    struct dp_service *services; /* owned arrays */
    size_t nservices;
    struct dp_route *routes;
    size_t nroutes;
    struct dp_upstream *upstreams;
    size_t nupstreams;
    struct dp_router *router;
    /* Plugins, consumers and key-auth credentials, compiled (dp/plugins/dp_plugin_set.h);
     * each route points at its precomputed chain. */
    struct dp_plugin_set *plugins;
    struct dp_tls_store *tls; /* certificates, SNIs, upstream TLS (dp/tls/dp_tls_store.h) */
};

/* Returns a new reference to the published config, or NULL before the first publish. Release
 * with dp_config_unref. Any thread (takes a mutex: call it once per config change, not per
 * request; see dp_config_generation). */
struct dp_config *dp_config_acquire(void);

/* Adds a reference (cfg must already be referenced by the caller). Any thread, lock-free. */
void dp_config_ref(struct dp_config *cfg);

/* Drops a reference; the last one frees the config. Accepts NULL. Any thread. */
void dp_config_unref(struct dp_config *cfg);

/* A counter bumped by every publish; a worker compares it with the value it saw last to know
 * when to call dp_config_acquire. Any thread, lock-free. */
uint64_t dp_config_generation(void);

/* Drops the published config (at shutdown). Main thread, after the workers stopped. */
void dp_config_shutdown(void);

#endif
