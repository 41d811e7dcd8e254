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

/* Stops the loop (probes in flight are abandoned), joins the thread and frees everything,
 * including the checker's config references. Accepts NULL. Main thread, before
 * dp_config_shutdown. */
void dp_health_checker_stop(struct dp_health_checker *c);

#endif
