/* dp/balancer/dp_lb_state.h: balancer state that outlives a config (round-robin position,
 * per-address health, active connections, latency EWMA), kept in a process-wide registry keyed
 * by stable identities ("u:<upstream id>", "u:<upstream id>|<ip>:<port>") so that a new config
 * of the same upstream picks it up. Entries are refcounted; every config holding one keeps it.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_LB_STATE_H
#define DP_LB_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "health/dp_health_counter.h"

struct dp_upstream_state {
    atomic_uint_fast64_t rr_pos; /* next wheel position (shared by every worker) */
    atomic_uint_fast64_t lc_pos; /* tie breaker for least-connections and latency */
};

struct dp_addr_state {
    atomic_int active;   /* requests in flight to this address (every worker) */
    atomic_bool healthy; /* false = out of rotation (health checker hooks) */
    atomic_uint_fast64_t successes, failures, timeouts;
    pthread_mutex_t lock; /* guards ewma and ewma_at_us */
    double ewma;          /* seconds */
    uint64_t ewma_at_us;  /* monotonic time of the last update; 0 = never */

    /* health checker counters and state (dp/health), guarded by lock */
    struct dp_hc_counters hc;
};

/* Returns the upstream state for key (borrowed string), creating it; owned reference, release
 * with dp_lb_state_upstream_unref. NULL when out of memory. Any thread (builder). */
struct dp_upstream_state *dp_lb_state_upstream_get(const char *key);
void dp_lb_state_upstream_unref(struct dp_upstream_state *s);

/* Returns the address state for key, creating it (healthy); owned reference, release with
 * dp_lb_state_addr_unref. NULL when out of memory. Any thread (builder). */
struct dp_addr_state *dp_lb_state_addr_get(const char *key);
void dp_lb_state_addr_unref(struct dp_addr_state *s);

/* Health hooks for the health checker: mark an address up or down. Any thread. */
void dp_lb_state_set_healthy(struct dp_addr_state *s, bool healthy);

/* Passive reporting after a try: ok, a connection failure, or a timeout. Any thread. */
void dp_lb_state_report(struct dp_addr_state *s, bool ok, bool timeout);

/* Folds one response time (seconds) into the address EWMA (Kong's latency balancer: decay
 * exp(-dt/10s)). now_us is monotonic. Any thread. */
void dp_lb_state_ewma_update(struct dp_addr_state *s, double rtt, uint64_t now_us);

/* Reads the EWMA (0 when never updated). Any thread. */
double dp_lb_state_ewma(struct dp_addr_state *s, bool *known);

/* Number of live entries in the registry (tests). */
size_t dp_lb_state_count(void);

#endif
