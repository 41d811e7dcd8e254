/* dp/cluster/dp_cluster_backoff.h: reconnect delays: exponential from 1 s, doubling to a 30 s
 * cap, with +-25% jitter so data planes do not reconnect in lockstep.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CLUSTER_BACKOFF_H
#define DP_CLUSTER_BACKOFF_H

#include <stdint.h>

#define DP_CLUSTER_BACKOFF_BASE_MS 1000u
#define DP_CLUSTER_BACKOFF_CAP_MS  30000u

/* Delay in ms before reconnect attempt number attempt (0 = the first retry). rnd is any random
 * 32-bit value (it picks the jitter). Always in [750, 30000]. Any thread. */
uint32_t dp_cluster_backoff_ms(unsigned attempt, uint32_t rnd);

#endif
