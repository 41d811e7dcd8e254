/* dp/health/dp_health.h: health checks and circuit breakers of the data plane (Kong's model).
 * Passive reports come from the proxy workers (proxied outcomes only); active probes run on
 * the checker's own event loop thread (dp_health_checker.c). Health lives in the address state
 * registry (balancer/dp_lb_state.h, keyed by upstream id + ip:port), so it survives config
 * updates; the balancers read the `healthy` flag lock-free.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_H
#define DP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config_types.h"
#include "gw_err.h"

enum dp_hc_source {
    DP_HC_SRC_ACTIVE = 0,
    DP_HC_SRC_PASSIVE,
    DP_HC_SRC_MANUAL,
    DP_HC_SRC_COUNT_ /* keep last */
};

/* Reports for address a (borrowed) of upstream u (borrowed; may be NULL = plain service, then
 * nothing happens). Ignored when u's health checks are off or a has weight 0. Any thread
 * (proxy workers, the checker thread); take the address lock briefly. */
void dp_health_report_status(const struct dp_upstream *u, const struct dp_addr *a,
                             enum dp_hc_source src, int status);
void dp_health_report_tcp_failure(const struct dp_upstream *u, const struct dp_addr *a,
                                  enum dp_hc_source src);
void dp_health_report_timeout(const struct dp_upstream *u, const struct dp_addr *a,
                              enum dp_hc_source src);
void dp_health_report_success(const struct dp_upstream *u, const struct dp_addr *a,
                              enum dp_hc_source src);

/* Sets a's health by hand and clears its counters (Kong's set_target_status). Any thread. */
void dp_health_set(const struct dp_upstream *u, const struct dp_addr *a, bool healthy);

/* True if address a takes traffic: weight > 0 and its healthy flag set. Any thread. */
bool dp_health_addr_healthy(const struct dp_addr *a);

/* Balancer health (Kong's updateStatus): total weight > 0 and available weight * 100 / total
 * weight > threshold (strict). total/available may be NULL. Any thread. */
bool dp_health_upstream_ok(const struct dp_upstream *u, long long *total, long long *available);

/* The proxy's check before picking: true when u has no threshold (threshold 0: the pick
 * itself finds out whether any address is available), else dp_health_upstream_ok. Worker
 * threads; O(addresses) only when a threshold is set. */
bool dp_health_threshold_ok(const struct dp_upstream *u);

/* A counter bumped by every health change (reporters compare it to know when to send). Any
 * thread. */
uint64_t dp_health_version(void);

/* Puts every address of u back to healthy with clear counters, without bumping the version
 * when nothing changed (used when u's checks are off). Any thread. */
void dp_health_reset_upstream(const struct dp_upstream *u);

#endif
