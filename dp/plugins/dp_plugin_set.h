/* dp/plugins/dp_plugin_set.h: the plugins of one runtime config: built from a protobuf Config
 * (plugins compiled, consumers and key-auth credentials indexed), resolved per route ahead of
 * time with Kong's precedence, and run per request in priority order (struct dp_plugin_run).
 *
 * Precedence (most specific wins): route+service+consumer > route+consumer > service+consumer >
 * route+service > consumer > route > service > global. Disabled plugins are left out at build
 * time (so a less specific one applies); a plugin whose protocols exclude the request's is
 * skipped. The consumer-less part is precomputed per route; consumer-scoped plugins are looked
 * up (at most four hash probes) when their turn comes and a consumer is known.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_PLUGIN_SET_H
#define DP_PLUGIN_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "plugins/dp_plugin.h"
#include "portico_proto/portico.pb-c.h"

struct dp_plugin_set;
struct dp_plugin_chain;
struct dp_plugin_instance;

/* Most plugins a build knows (the registry's length is checked against it). */
#define DP_PLUGIN_MAX_TYPES 16

/* Receives one build error (entity table, entity id or "", field, message). */
typedef void (*dp_plugin_error_fn)(void *arg, const char *entity, const char *id, const char *field,
                                   const char *message);

/* Builds the plugin set of pb (borrowed; may be freed once this returns). env is borrowed and
 * must outlive the set; NULL means the process-wide dp_plugin_env_global(). Every problem goes to
 * on_error (may be NULL) and makes the build fail with GW_ERR_INVALID; GW_ERR_NOMEM on allocation
 * failure. On success *out is owned: free with dp_plugin_set_destroy. Any thread except a proxy
 * worker. */
enum gw_err dp_plugin_set_build(const Portico__V1__Config *pb, const struct dp_plugin_env *env,
                                dp_plugin_error_fn on_error, void *arg, struct dp_plugin_set **out);

/* Frees a set. Accepts NULL. No request may still use it. */
void dp_plugin_set_destroy(struct dp_plugin_set *set);

/* The precomputed chain of route_id (NULL or unknown: the chain of global plugins only).
 * Borrowed; lives as long as set. Cache it in the compiled route. Any thread. */
const struct dp_plugin_chain *dp_plugin_set_chain(const struct dp_plugin_set *set,
                                                  const char *route_id);

/* Whether requests on this chain need their body buffered before the access phase. */
bool dp_plugin_chain_needs_body(const struct dp_plugin_chain *chain);

/* Whether this chain runs any plugin at all (lets the proxy skip the plugin calls). */
bool dp_plugin_chain_empty(const struct dp_plugin_chain *chain);

/* Consumer by id or, failing that, by username (NULL when neither). Borrowed. Any thread. */
const struct dp_consumer *dp_plugin_set_consumer(const struct dp_plugin_set *set,
                                                 const char *id_or_username);

/* Credential by key (NULL when none). Borrowed. Any thread. */
const struct dp_credential *dp_plugin_set_credential(const struct dp_plugin_set *set,
                                                     const char *key);

/* Names of the plugins this data plane can run (static, NULL-terminated, for Hello.plugins). */
const char *const *dp_plugin_names(void);

/* Per-request plugin state. Caller-provided storage (the proxy embeds it in its request):
 * dp_plugin_run_init, the phases in order, then dp_plugin_run_finish exactly once. */
struct dp_plugin_run {
    const struct dp_plugin_set *set;     /* borrowed */
    const struct dp_plugin_chain *chain; /* borrowed */
    struct dp_plugin_req *req;           /* borrowed */
    unsigned proto;                      /* enum dp_plugin_proto of the request */
    const struct dp_consumer *consumer;  /* authenticated consumer, or NULL */
    const struct dp_credential *credential;
    bool responded; /* a plugin produced the response in access */
    bool finished;
    const struct dp_plugin_instance *active[DP_PLUGIN_MAX_TYPES]; /* resolved in access */
    void *state[DP_PLUGIN_MAX_TYPES];
};

/* Starts a run. set, chain (from dp_plugin_set_chain) and req are borrowed for the request's
 * lifetime. No allocation. Worker thread. */
void dp_plugin_run_init(struct dp_plugin_run *run, const struct dp_plugin_set *set,
                        const struct dp_plugin_chain *chain, struct dp_plugin_req *req,
                        enum dp_plugin_proto proto);

/* Route and service ids of the run's chain (NULL when none). Borrowed. */
const char *dp_plugin_run_route_id(const struct dp_plugin_run *run);
const char *dp_plugin_run_service_id(const struct dp_plugin_run *run);

/* Sets the authenticated consumer and credential (either may be NULL). Called by auth
 * plugins; borrowed pointers from the same set. */
void dp_plugin_run_authenticate(struct dp_plugin_run *run, const struct dp_consumer *consumer,
                                const struct dp_credential *credential);

/* Id of the plugin entity named name that this run resolved in access (NULL when none). For
 * logs and tests. */
const char *dp_plugin_run_instance_id(const struct dp_plugin_run *run, const char *name);

/* Runs the access phase in priority order. Returns true when a plugin responded (the proxy
 * runs the header and body filters on that response, sends it and must not proxy). As Kong's
 * collecting iterator, the plugins after the one that responded are still made active (their
 * filters and log run, their access does not). Worker thread. */
bool dp_plugin_run_access(struct dp_plugin_run *run);

/* Runs header_filter for the response (the upstream's, or the one a plugin produced; status
 * and headers readable through the request API). Worker thread. */
void dp_plugin_run_header_filter(struct dp_plugin_run *run);

/* Runs body_filter for each chunk of the response body (upstream's or a plugin's); eof on the
 * last. Worker thread. */
void dp_plugin_run_body_filter(struct dp_plugin_run *run, const char *data, size_t len, bool eof);

/* Runs the log phase and frees every per-request state. Safe to call whatever phase the
 * request reached (also after an aborted request); idempotent. Worker thread. */
void dp_plugin_run_finish(struct dp_plugin_run *run);

#endif
