/* dp/health/dp_health_view.h: health as Kong shows it: labels per address and target
 * (HEALTHY, UNHEALTHY, HEALTHCHECKS_OFF, DNS_ERROR), Kong's /upstreams/{u}/health JSON (with
 * ?balancer_health=1) and the lookups the health endpoints share (upstream by id or name,
 * target by id or host:port, address by ip[:port]).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_VIEW_H
#define DP_HEALTH_VIEW_H

#include <jansson.h>
#include <stdbool.h>

#include "dp_config_internal.h"

enum dp_health_label {
    DP_HEALTH_HEALTHY = 0,
    DP_HEALTH_UNHEALTHY,
    DP_HEALTH_CHECKS_OFF,
    DP_HEALTH_DNS_ERROR,
    DP_HEALTH_LABEL_COUNT_ /* keep last */
};

/* "HEALTHY", "UNHEALTHY", "HEALTHCHECKS_OFF", "DNS_ERROR". */
const char *dp_health_label_name(enum dp_health_label l);

/* Health of address a of target t in upstream u (all borrowed). Any thread. */
enum dp_health_label dp_health_addr_label(const struct dp_upstream *u, const struct dp_target *t,
                                          const struct dp_addr *a);

/* Health of target t; total/unavailable (may be NULL) get the weight sums of its addresses.
 * Any thread. */
enum dp_health_label dp_health_target_label(const struct dp_upstream *u, const struct dp_target *t,
                                            long long *total, long long *unavailable);

/* Balancer-level label: HEALTHCHECKS_OFF when checks are off, else HEALTHY or UNHEALTHY. */
enum dp_health_label dp_health_upstream_label(const struct dp_upstream *u);

/* Finds an upstream by id or name (case-insensitive name), a target of u by id or by
 * "host:port" (port 8000 when absent, as Kong normalises), an address of t by "ip[:port]"
 * ("[v6]:port" accepted; port 8000 when absent). NULL when not found. All borrowed. */
const struct dp_upstream *dp_health_find_upstream(const struct dp_config *cfg, const char *key);
const struct dp_target *dp_health_find_target(const struct dp_upstream *u, const char *key);
const struct dp_addr *dp_health_find_addr(const struct dp_target *t, const char *key);

/* Kong's GET /upstreams/{u}/health body for u (borrowed): {"data":[targets newest first with
 * "health" and "data"], "next":null, "node_id":...} or, with balancer, the balancer object.
 * node_id may be NULL (JSON null). Returns owned (json_decref) or NULL when out of memory. Any
 * thread. */
json_t *dp_health_json(const struct dp_upstream *u, bool balancer, const char *node_id);

/* The targets array alone (what the control plane shows per data plane). Owned or NULL. */
json_t *dp_health_targets_json(const struct dp_upstream *u);

#endif
