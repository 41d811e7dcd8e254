/* dp/health/dp_health_checker.h: the active health checker: one thread with its own libevent
 * loop (never a proxy worker) that follows the published config, probes the addresses of every
 * upstream with active checks (http, https, tcp) at the healthy and unhealthy intervals, at most
 * `concurrency` probes per upstream at a time, and feeds the results to dp_health. It also puts
 * the addresses of upstreams whose checks are off back to healthy (HEALTHCHECKS_OFF).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_CHECKER_H
#define DP_HEALTH_CHECKER_H

#include "gw_err.h"

struct dp_health_checker; /* opaque */

/* Starts the checker thread. Returns GW_OK and *out (owned;
 * stop with dp_health_checker_stop), or GW_ERR_NOMEM / GW_ERR_TLS / GW_ERR_IO (logged). Main
 * thread. */
enum gw_err dp_health_checker_start(struct dp_health_checker **out);

/* Called on the checker thread (within one tick, 50 ms) after the health version or the config
 * generation moved: used to wake the cluster client so a HealthReport goes out at once. */
typedef void (*dp_health_kick_fn)(void *arg);

/* Sets the kick hook (fn may be NULL; arg borrowed: clear the hook before arg goes away). The
 * pair is read under a lock by the checker thread. Main thread. */
void dp_health_checker_set_kick(struct dp_health_checker *c, dp_health_kick_fn fn, void *arg);

/* Stops the loop (probes in flight are abandoned), joins the thread and frees everything,
 * including the checker's config references. Accepts NULL. Main thread, before
 * dp_config_shutdown. */
void dp_health_checker_stop(struct dp_health_checker *c);

#endif
