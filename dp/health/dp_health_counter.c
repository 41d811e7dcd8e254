/* dp/health/dp_health_counter.c: Kong's counter and state rules (incr_counter and
 * set_target_status of lua-resty-healthcheck).
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_counter.h"

#include <string.h>

bool dp_hc_state_is_healthy(enum dp_hc_state s)
{
    return s == DP_HC_HEALTHY || s == DP_HC_MOSTLY_HEALTHY;
}

bool dp_hc_counters_incr(struct dp_hc_counters *c, enum dp_hc_ctr ctr, int limit)
{
    if (limit <= 0 || ctr < 0 || ctr >= DP_HC_CTR_COUNT_)
        return false;
    bool report_healthy = ctr == DP_HC_CTR_SUCCESS;
    enum dp_hc_state cur = (enum dp_hc_state)c->state;
    /* Successes are not counted while fully healthy, failures not while fully unhealthy. */
    if ((report_healthy && cur == DP_HC_HEALTHY) || (!report_healthy && cur == DP_HC_UNHEALTHY))
        return false;
    if (c->ctr[ctr] < 255)
        c->ctr[ctr]++;
    int n = c->ctr[ctr];
    if (report_healthy) {
        c->ctr[DP_HC_CTR_HTTP] = c->ctr[DP_HC_CTR_TCP] = c->ctr[DP_HC_CTR_TIMEOUT] = 0;
    } else {
        c->ctr[DP_HC_CTR_SUCCESS] = 0;
    }
    enum dp_hc_state next = cur;
    if (n >= limit)
        next = report_healthy ? DP_HC_HEALTHY : DP_HC_UNHEALTHY;
    else if (cur == DP_HC_HEALTHY && !report_healthy)
        next = DP_HC_MOSTLY_HEALTHY;
    else if (cur == DP_HC_UNHEALTHY && report_healthy)
        next = DP_HC_MOSTLY_UNHEALTHY;
    c->state = (uint8_t)next;
    return dp_hc_state_is_healthy(cur) != dp_hc_state_is_healthy(next);
}

bool dp_hc_counters_set(struct dp_hc_counters *c, bool healthy)
{
    bool was = dp_hc_state_is_healthy((enum dp_hc_state)c->state);
    memset(c->ctr, 0, sizeof(c->ctr));
    c->state = healthy ? DP_HC_HEALTHY : DP_HC_UNHEALTHY;
    return was != healthy;
}

const char *dp_hc_ctr_name(enum dp_hc_ctr ctr)
{
    static const char *const names[DP_HC_CTR_COUNT_] = {"success", "http", "tcp", "timeout"};
    return ctr >= 0 && ctr < DP_HC_CTR_COUNT_ ? names[ctr] : "?";
}

const char *dp_hc_state_name(enum dp_hc_state s)
{
    static const char *const names[DP_HC_STATE_COUNT_] = {"healthy", "unhealthy", "mostly_healthy",
                                                          "mostly_unhealthy"};
    return s >= 0 && s < DP_HC_STATE_COUNT_ ? names[s] : "?";
}
