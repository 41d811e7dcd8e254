/* cp/health/cp_health_cluster.h: the glue between the health registry and the cluster server's
 * extension hooks (struct cp_cluster_ext): HealthReports in, data planes connected/gone, and
 * HealthCommands out through a broadcast log with a cursor per connection. main.c fills a
 * cp_cluster_ext with these functions (arg = the struct cp_health_cluster) and links the
 * cluster's kick once it runs.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_HEALTH_CLUSTER_H
#define CP_HEALTH_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portico_proto/portico.pb-c.h"

struct cp_health_cluster; /* opaque */

/* Wakes the cluster server so connections send what the log holds. */
typedef void (*cp_health_kick_fn)(void *arg);

/* Returns an owned glue object (cp_health_cluster_destroy) or NULL when out of memory. */
struct cp_health_cluster *cp_health_cluster_create(void);

/* Installs the command sink: Admin API commands go to the log, then kick(kick_arg) wakes the
 * cluster server. kick_arg is borrowed until cp_health_cluster_destroy. Main thread. */
void cp_health_cluster_link(struct cp_health_cluster *h, cp_health_kick_fn kick, void *kick_arg);

/* Removes the sink and frees h. Call after the cluster server stopped. Accepts NULL. */
void cp_health_cluster_destroy(struct cp_health_cluster *h);

/* The cp_cluster_ext hooks (arg = the struct cp_health_cluster). Cluster server thread. */
void cp_health_ext_connected(void *arg, const char *node_id, const char *hostname);
void cp_health_ext_gone(void *arg, const char *node_id);
void cp_health_ext_message(void *arg, const char *node_id, const char *hostname,
                           const Portico__V1__ClusterMessage *m);
uint64_t cp_health_ext_cursor_init(void *arg);
bool cp_health_ext_next(void *arg, uint64_t *cursor, uint8_t **out, size_t *len);

#endif
