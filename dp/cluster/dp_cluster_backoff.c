/* dp/cluster/dp_cluster_backoff.c: exponential reconnect backoff with jitter.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_cluster_backoff.h"

uint32_t dp_cluster_backoff_ms(unsigned attempt, uint32_t rnd)
{
    uint32_t base = DP_CLUSTER_BACKOFF_BASE_MS;
    for (unsigned i = 0; i < attempt && base < DP_CLUSTER_BACKOFF_CAP_MS; i++)
        base *= 2;
    if (base > DP_CLUSTER_BACKOFF_CAP_MS)
        base = DP_CLUSTER_BACKOFF_CAP_MS;
    /* jitter: base * [0.75, 1.25] */
    uint32_t span = base / 2;
    uint32_t d = base - base / 4 + (span ? rnd % (span + 1) : 0);
    return d > DP_CLUSTER_BACKOFF_CAP_MS ? DP_CLUSTER_BACKOFF_CAP_MS : d;
}
