/* dp/health/dp_health_cluster.h: the glue between data plane health and the cluster client's
 * extension hooks (struct dp_cluster_ext): a HealthReport when the control plane accepts us,
 * after every health change or new config (the checker kicks the client) and with every
 * heartbeat; HealthCommands applied as they arrive. main.c fills a dp_cluster_ext with these
 * functions (arg = a struct dp_health_sync owned by main, zeroed).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_CLUSTER_H
#define DP_HEALTH_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portico_proto/portico.pb-c.h"

/* The dp_cluster_ext hooks (arg = struct dp_health_sync *). Cluster client thread. */
void dp_health_ext_connected(void *arg);
void dp_health_ext_message(void *arg, const Portico__V1__ClusterMessage *m);
bool dp_health_ext_poll(void *arg, bool heartbeat, uint8_t **out, size_t *len);

#endif
