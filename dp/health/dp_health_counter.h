/* dp/health/dp_health_counter.h: Kong's health counters of one address (lua-resty-healthcheck):
 * four 8-bit counters (success, HTTP failure, TCP failure, timeout) and an internal state
 * (healthy, unhealthy, mostly healthy, mostly unhealthy). A success clears the failure
 * counters, a failure clears the success counter; a counter reaching its limit flips the state;
 * a limit of 0 disables the counter. Pure logic: the caller provides locking.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_COUNTER_H
#define DP_HEALTH_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

enum dp_hc_state {
    DP_HC_HEALTHY = 0,
    DP_HC_UNHEALTHY,
    DP_HC_MOSTLY_HEALTHY,   /* healthy, but failures are being counted */
    DP_HC_MOSTLY_UNHEALTHY, /* unhealthy, but successes are being counted */
    DP_HC_STATE_COUNT_      /* keep last */
};

enum dp_hc_ctr {
    DP_HC_CTR_SUCCESS = 0,
    DP_HC_CTR_HTTP,
    DP_HC_CTR_TCP,
    DP_HC_CTR_TIMEOUT,
    DP_HC_CTR_COUNT_ /* keep last */
};

/* Zero-initialised = healthy with clear counters. */
struct dp_hc_counters {
    uint8_t state; /* enum dp_hc_state */
    uint8_t ctr[DP_HC_CTR_COUNT_];
};

/* True for DP_HC_HEALTHY and DP_HC_MOSTLY_HEALTHY (the address takes traffic). */
bool dp_hc_state_is_healthy(enum dp_hc_state s);

/* Counts one report of kind ctr against limit (0 = disabled: ignored). Returns true when the
 * address changed between healthy and unhealthy (mostly_* moves return false). */
bool dp_hc_counters_incr(struct dp_hc_counters *c, enum dp_hc_ctr ctr, int limit);

/* Forces the state (manual healthy/unhealthy) and clears every counter. Returns true when the
 * address changed between healthy and unhealthy. */
bool dp_hc_counters_set(struct dp_hc_counters *c, bool healthy);

/* Static names: "success", "http", "tcp", "timeout"; "healthy", "unhealthy", ... */
const char *dp_hc_ctr_name(enum dp_hc_ctr ctr);
const char *dp_hc_state_name(enum dp_hc_state s);

#endif
