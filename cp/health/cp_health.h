/* cp/health/cp_health.h: target health as the data planes see it, kept on the control plane
 * (Kong cannot show it in hybrid mode): the latest HealthReport of every data plane, marked
 * stale when its connection goes; Kong's /health format per data plane plus an aggregate per
 * target (HEALTHY / UNHEALTHY / MIXED with counts); and the way manual health commands reach
 * the data planes (a sink the cluster server installs). Process-wide, thread-safe: reports
 * arrive on the cluster thread, the Admin API reads on its loop.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_HEALTH_H
#define CP_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

/* Stores r (borrowed; copied) as the latest report of data plane node_id (hostname may be
 * NULL) and marks it connected. Any thread (the cluster server thread). */
void cp_health_dp_report(const char *node_id, const char *hostname,
                         const Portico__V1__HealthReport *r);

/* Marks data plane node_id connected (Hello accepted) or gone (connection closed: its last
 * report stays, shown as stale). Any thread. */
void cp_health_dp_connected(const char *node_id, const char *hostname);
void cp_health_dp_gone(const char *node_id);

/* Receives a command for every connected data plane; returns how many it was queued for.
 * Called on the Admin API thread; must not block. */
typedef size_t (*cp_health_command_fn)(void *arg, const Portico__V1__HealthCommand *cmd);

/* Installs (fn != NULL) or removes the command sink. arg is borrowed until removal. Any
 * thread. */
void cp_health_set_command_sink(cp_health_command_fn fn, void *arg);

/* Hands cmd (borrowed) to the sink. GW_OK with *queued (may be NULL) set, or
 * GW_ERR_UNAVAILABLE when no sink is installed (cluster listener off). Any thread. */
enum gw_err cp_health_send_command(const Portico__V1__HealthCommand *cmd, size_t *queued);

/* The Admin API body of GET /upstreams/{u}/health for the upstream upstream_id, given its
 * stored targets (borrowed JSON array of target entities, newest first):
 * {"data": [target + "health" (aggregate) + "data_planes" counts], "data_planes": [{node_id,
 * hostname, connected, stale, reported_at, health, targets: [Kong's per-target objects]}],
 * "next": null, "node_id": null}. With balancer, the balancer view per data plane. Returns
 * owned JSON or NULL when out of memory. Any thread. */
json_t *cp_health_upstream_json(const char *upstream_id, const json_t *targets, bool balancer);

/* Number of data planes known (tests). */
size_t cp_health_dp_count(void);

/* Forgets everything (at shutdown, and between tests). Any thread. */
void cp_health_reset(void);

#endif
