/* dp/health/dp_health_report.c: passive and active reports, manual overrides and the balancer
 * threshold, applied to the persistent address state.
 * SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>

#include "balancer/dp_lb_state.h"
#include "dp_health.h"
#include "dp_health_conf.h"
#include "gw_log.h"

static atomic_uint_fast64_t health_version = 1;

static const char *const src_names[DP_HC_SRC_COUNT_] = {"active", "passive", "manual"};

uint64_t dp_health_version(void)
{
    return atomic_load_explicit(&health_version, memory_order_acquire);
}

static void changed(const struct dp_upstream *u, const struct dp_addr *a, bool healthy,
                    enum dp_hc_source src, enum dp_hc_ctr ctr, int count)
{
    atomic_store_explicit(&a->state->healthy, healthy, memory_order_release);
    atomic_fetch_add_explicit(&health_version, 1, memory_order_acq_rel);
    if (src == DP_HC_SRC_MANUAL)
        GW_LOG(GW_LOG_WARN, "target health set by hand upstream=%s target=%s address=%s health=%s",
               u->name, a->target ? a->target->name : "-", a->key,
               healthy ? "healthy" : "unhealthy");
    else
        GW_LOG(GW_LOG_WARN,
               "target health changed upstream=%s target=%s address=%s health=%s source=%s "
               "counter=%s count=%d",
               u->name, a->target ? a->target->name : "-", a->key,
               healthy ? "healthy" : "unhealthy", src_names[src], dp_hc_ctr_name(ctr), count);
}

static void incr(const struct dp_upstream *u, const struct dp_addr *a, enum dp_hc_source src,
                 enum dp_hc_ctr ctr)
{
    if (!u || !u->hc || !u->hc->enabled || !a || !a->state || a->weight <= 0)
        return;
    const struct dp_hc_side *s = src == DP_HC_SRC_ACTIVE ? &u->hc->active : &u->hc->passive;
    int limit = ctr == DP_HC_CTR_SUCCESS ? s->successes
                : ctr == DP_HC_CTR_HTTP  ? s->http_failures
                : ctr == DP_HC_CTR_TCP   ? s->tcp_failures
                                         : s->timeouts;
    if (limit <= 0)
        return; /* disabled counter: no lock taken on the hot path */
    struct dp_addr_state *st = a->state;
    pthread_mutex_lock(&st->lock);
    bool flip = dp_hc_counters_incr(&st->hc, ctr, limit);
    bool healthy = dp_hc_state_is_healthy((enum dp_hc_state)st->hc.state);
    int count = st->hc.ctr[ctr];
    if (flip)
        atomic_store_explicit(&st->healthy, healthy, memory_order_release);
    pthread_mutex_unlock(&st->lock);
    if (flip)
        changed(u, a, healthy, src, ctr, count);
}

void dp_health_report_status(const struct dp_upstream *u, const struct dp_addr *a,
                             enum dp_hc_source src, int status)
{
    if (!u || !u->hc || !u->hc->enabled)
        return;
    const struct dp_hc_side *s = src == DP_HC_SRC_ACTIVE ? &u->hc->active : &u->hc->passive;
    if (dp_hc_statuses_has(&s->healthy_statuses, status))
        incr(u, a, src, DP_HC_CTR_SUCCESS);
    else if (status == 0 || dp_hc_statuses_has(&s->unhealthy_statuses, status))
        incr(u, a, src, DP_HC_CTR_HTTP);
}

void dp_health_report_tcp_failure(const struct dp_upstream *u, const struct dp_addr *a,
                                  enum dp_hc_source src)
{
    incr(u, a, src, DP_HC_CTR_TCP);
}

void dp_health_report_timeout(const struct dp_upstream *u, const struct dp_addr *a,
                              enum dp_hc_source src)
{
    incr(u, a, src, DP_HC_CTR_TIMEOUT);
}

void dp_health_report_success(const struct dp_upstream *u, const struct dp_addr *a,
                              enum dp_hc_source src)
{
    incr(u, a, src, DP_HC_CTR_SUCCESS);
}

void dp_health_set(const struct dp_upstream *u, const struct dp_addr *a, bool healthy)
{
    if (!a || !a->state)
        return;
    struct dp_addr_state *st = a->state;
    pthread_mutex_lock(&st->lock);
    bool flip = dp_hc_counters_set(&st->hc, healthy);
    bool cur = atomic_load(&st->healthy);
    atomic_store_explicit(&st->healthy, healthy, memory_order_release);
    pthread_mutex_unlock(&st->lock);
    if (flip || cur != healthy)
        changed(u, a, healthy, DP_HC_SRC_MANUAL, DP_HC_CTR_SUCCESS, 0);
}

bool dp_health_addr_healthy(const struct dp_addr *a)
{
    return a->weight > 0 && a->state &&
           atomic_load_explicit(&a->state->healthy, memory_order_acquire);
}

bool dp_health_upstream_ok(const struct dp_upstream *u, long long *total, long long *available)
{
    long long t = 0, av = 0;
    for (size_t i = 0; i < u->naddrs; i++) {
        const struct dp_addr *a = u->addrs[i];
        if (a->weight <= 0)
            continue;
        t += a->weight;
        if (atomic_load_explicit(&a->state->healthy, memory_order_relaxed))
            av += a->weight;
    }
    if (total)
        *total = t;
    if (available)
        *available = av;
    if (t <= 0)
        return false;
    double threshold = u->hc ? u->hc->threshold : 0;
    return (double)av / (double)t * 100.0 > threshold;
}

bool dp_health_threshold_ok(const struct dp_upstream *u)
{
    if (!u->hc || u->hc->threshold <= 0)
        return true;
    return dp_health_upstream_ok(u, NULL, NULL);
}

void dp_health_reset_upstream(const struct dp_upstream *u)
{
    bool any = false;
    for (size_t t = 0; t < u->ntargets; t++) {
        const struct dp_target *tg = &u->targets[t];
        for (size_t i = 0; i < tg->naddrs; i++) {
            struct dp_addr_state *st = tg->addrs[i].state;
            pthread_mutex_lock(&st->lock);
            bool was = atomic_load(&st->healthy);
            if (!was || st->hc.state != DP_HC_HEALTHY) {
                dp_hc_counters_set(&st->hc, true);
                atomic_store_explicit(&st->healthy, true, memory_order_release);
                any = any || !was;
            }
            pthread_mutex_unlock(&st->lock);
        }
    }
    if (any) {
        atomic_fetch_add_explicit(&health_version, 1, memory_order_acq_rel);
        GW_LOG(GW_LOG_NOTICE, "health checks off, every address healthy again upstream=%s",
               u->name);
    }
}
