/* dp/plugins/dp_rl_store.h: the rate-limiting counters of one data plane (policy local), shared
 * by its worker threads and kept across config updates. Counters are keyed by an opaque key
 * (plugin id + limit identifier) and a fixed window per period; one check-and-count is atomic,
 * so with a limit of N exactly N requests of any concurrent burst in one window pass.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_RL_STORE_H
#define DP_RL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"

struct dp_rl_store;

enum dp_rl_period {
    DP_RL_SECOND = 0,
    DP_RL_MINUTE,
    DP_RL_HOUR,
    DP_RL_DAY,
    DP_RL_MONTH,
    DP_RL_YEAR,
    DP_RL_PERIOD_COUNT_ /* keep last */
};

/* Usage of one period, as seen by one hit. */
struct dp_rl_usage {
    bool active;             /* the period has a limit */
    double limit;            /* configured limit */
    int64_t count;           /* requests counted in the window before this one */
    int64_t window_start_ms; /* start of the current window (unix ms, UTC) */
};

/* Creates a store holding at most max_entries keys (0 = a default of 262144). Returns owned
 * (free with dp_rl_store_destroy) or NULL when out of memory. Any thread. */
struct dp_rl_store *dp_rl_store_create(size_t max_entries);

/* Frees the store. Accepts NULL. No thread may be using it. */
void dp_rl_store_destroy(struct dp_rl_store *s);

/* Counts one request for key (keylen bytes, borrowed) at now_ms against limits[p] (<= 0: no
 * limit for period p). usage[p] gets each period's state before this request. When some active
 * period has no room left (limit - count <= 0) nothing is counted and *stop is set to that
 * period (the longest such), else every active period is incremented and *stop is -1.
 * GW_ERR_TOOBIG when the store is full of live keys (nothing counted). Any thread. */
enum gw_err dp_rl_store_hit(struct dp_rl_store *s, const char *key, size_t keylen, int64_t now_ms,
                            const double limits[DP_RL_PERIOD_COUNT_],
                            struct dp_rl_usage usage[DP_RL_PERIOD_COUNT_], int *stop);

/* Number of keys held (live or not yet swept). Any thread. */
size_t dp_rl_store_count(struct dp_rl_store *s);

/* Start (unix ms, UTC) of the window of period p containing now_ms. */
int64_t dp_rl_window_start(enum dp_rl_period p, int64_t now_ms);

/* End (unix ms, exclusive) of the window of period p containing now_ms. */
int64_t dp_rl_window_end(enum dp_rl_period p, int64_t now_ms);

/* Kong's nominal length of a period in seconds (month 30 days, year 365 days), used for
 * RateLimit-Reset. */
int64_t dp_rl_period_seconds(enum dp_rl_period p);

/* "second", "minute", ... and "Second", "Minute", ... */
const char *dp_rl_period_name(enum dp_rl_period p);
const char *dp_rl_period_title(enum dp_rl_period p);

#endif
