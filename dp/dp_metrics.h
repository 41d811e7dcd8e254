/* dp/dp_metrics.h: process-wide proxy counters (connections, requests by status class and
 * service, upstream latency histogram) updated with relaxed atomics on the hot path and read by
 * the status listener (/status, /metrics).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "gw_buf.h"

#define DP_METRICS_LAT_BUCKETS 14

struct dp_svc_metrics {
    atomic_uint_fast64_t by_class[6]; /* index status/100, 0 unused */
};

struct dp_metrics {
    atomic_int_fast64_t conns_active;
    atomic_uint_fast64_t conns_total;
    atomic_uint_fast64_t requests_total;
    atomic_uint_fast64_t no_service_by_class[6];
    atomic_uint_fast64_t lat_buckets[DP_METRICS_LAT_BUCKETS]; /* cumulative at read time */
    atomic_uint_fast64_t lat_count, lat_sum_ms;
    atomic_int cluster_connected; /* set by the cluster client */
};

extern struct dp_metrics dp_metrics;

/* Returns the counters of service id (named name, may be NULL), creating them; they live until
 * dp_metrics_shutdown. NULL when out of memory. Builder thread. */
struct dp_svc_metrics *dp_metrics_service(const char *id, const char *name);

/* Counts one finished request. svc may be NULL. Any thread. */
void dp_metrics_request(struct dp_svc_metrics *svc, int status);

/* Records one upstream latency in milliseconds. Any thread. */
void dp_metrics_upstream_latency(uint64_t ms);

/* Appends the Prometheus text exposition to out. Any thread. */
void dp_metrics_render(struct gw_buf *out, int64_t revision);

/* Frees the service registry at exit. */
void dp_metrics_shutdown(void);

#endif
