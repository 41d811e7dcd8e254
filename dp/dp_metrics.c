/* dp/dp_metrics.c: proxy counters and their Prometheus rendering.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_strmap.h"

struct dp_metrics dp_metrics;

struct svc_entry {
    struct svc_entry *next;
    char *id, *name;
    struct dp_svc_metrics m;
};

static pthread_mutex_t svc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct svc_entry *svcs;     /* every service seen, for rendering */
static struct dp_strmap svc_index; /* id -> entry: config builds look services up in O(1) */

static const uint64_t lat_bounds[DP_METRICS_LAT_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

struct dp_svc_metrics *dp_metrics_service(const char *id, const char *name)
{
    pthread_mutex_lock(&svc_lock);
    struct svc_entry *e = dp_strmap_get(&svc_index, id, strlen(id));
    if (e && name && strcmp(e->name, name) != 0) {
        char *n = strdup(name);
        if (n) {
            free(e->name); /* renamed: readers hold svc_lock */
            e->name = n;
        }
    }
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (e) {
            e->id = strdup(id);
            e->name = strdup(name ? name : id);
            if (!e->id || !e->name) {
                free(e->id);
                free(e->name);
                free(e);
                e = NULL;
            } else if (dp_strmap_put(&svc_index, e->id, strlen(e->id), e) != GW_OK) {
                free(e->id);
                free(e->name);
                free(e);
                e = NULL;
            } else {
                e->next = svcs;
                svcs = e;
            }
        }
    }
    pthread_mutex_unlock(&svc_lock);
    return e ? &e->m : NULL;
}

void dp_metrics_request(struct dp_svc_metrics *svc, int status)
{
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;
    atomic_fetch_add_explicit(&dp_metrics.requests_total, 1, memory_order_relaxed);
    if (svc)
        atomic_fetch_add_explicit(&svc->by_class[cls], 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&dp_metrics.no_service_by_class[cls], 1, memory_order_relaxed);
}

void dp_metrics_upstream_latency(uint64_t ms)
{
    size_t i = 0;
    while (i < DP_METRICS_LAT_BUCKETS - 1 && ms > lat_bounds[i])
        i++;
    atomic_fetch_add_explicit(&dp_metrics.lat_buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dp_metrics.lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dp_metrics.lat_sum_ms, ms, memory_order_relaxed);
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

void dp_metrics_render(struct gw_buf *o, int64_t revision)
{
    gw_buf_appendf(o, "# HELP portico_requests_total Proxied requests by status class and "
                      "service.\n# TYPE portico_requests_total counter\n");
    pthread_mutex_lock(&svc_lock);
    for (struct svc_entry *e = svcs; e; e = e->next)
        for (int c = 1; c <= 5; c++)
            if (LOAD(e->m.by_class[c]))
                gw_buf_appendf(o, "portico_requests_total{service=\"%s\",code=\"%dxx\"} %llu\n",
                               e->name, c, LOAD(e->m.by_class[c]));
    pthread_mutex_unlock(&svc_lock);
    for (int c = 1; c <= 5; c++)
        if (LOAD(dp_metrics.no_service_by_class[c]))
            gw_buf_appendf(o, "portico_requests_total{service=\"\",code=\"%dxx\"} %llu\n", c,
                           LOAD(dp_metrics.no_service_by_class[c]));
    gw_buf_appendf(o, "# HELP portico_upstream_latency_ms Time to the upstream's response "
                      "headers.\n# TYPE portico_upstream_latency_ms histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < DP_METRICS_LAT_BUCKETS; i++) {
        cum += LOAD(dp_metrics.lat_buckets[i]);
        if (i < DP_METRICS_LAT_BUCKETS - 1)
            gw_buf_appendf(o, "portico_upstream_latency_ms_bucket{le=\"%llu\"} %llu\n",
                           (unsigned long long)lat_bounds[i], cum);
        else
            gw_buf_appendf(o, "portico_upstream_latency_ms_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    gw_buf_appendf(o,
                   "portico_upstream_latency_ms_sum %llu\nportico_upstream_latency_ms_count %llu\n",
                   LOAD(dp_metrics.lat_sum_ms), LOAD(dp_metrics.lat_count));
    gw_buf_appendf(o,
                   "# HELP portico_connections_active Open client connections.\n"
                   "# TYPE portico_connections_active gauge\nportico_connections_active %lld\n"
                   "# HELP portico_connections_total Accepted client connections.\n"
                   "# TYPE portico_connections_total counter\nportico_connections_total %llu\n"
                   "# HELP portico_config_revision Revision of the config in use.\n"
                   "# TYPE portico_config_revision gauge\nportico_config_revision %lld\n"
                   "# HELP portico_cluster_connected 1 when connected to a control plane.\n"
                   "# TYPE portico_cluster_connected gauge\nportico_cluster_connected %d\n",
                   (long long)atomic_load(&dp_metrics.conns_active), LOAD(dp_metrics.conns_total),
                   (long long)revision, atomic_load(&dp_metrics.cluster_connected));
}

void dp_metrics_shutdown(void)
{
    pthread_mutex_lock(&svc_lock);
    while (svcs) {
        struct svc_entry *n = svcs->next;
        free(svcs->id);
        free(svcs->name);
        free(svcs);
        svcs = n;
    }
    dp_strmap_cleanup(&svc_index);
    pthread_mutex_unlock(&svc_lock);
}
