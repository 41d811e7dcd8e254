/* cp/cluster/cp_cluster_registry.h: the data plane registry writer. A thread with its own
 * PostgreSQL connection applies queued upserts of clustering_data_planes rows (hello, ack, nack,
 * heartbeat, disconnect), marks rows disconnected whose last_seen is older than the liveness
 * bound (CP_DP_CONNECTED_SQL; at start and every 5 s) and purges rows silent for longer than
 * cluster_data_plane_purge_delay.
 * The server thread only queues; it never waits for the database.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_REGISTRY_H
#define CP_CLUSTER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_cluster_pg.h"
#include "gw_err.h"
#include "gw_snapshot.h"

/* The full registry view of one data plane; every write replaces the row's values. */
struct cp_cluster_reg_row {
    char id[40]; /* node id (uuid) */
    char hostname[256];
    char ip[64];
    char version[32];
    char sync_status[48];                          /* normal, unknown, kong_version_incompatible,
                                                      failed */
    char config_hash[GW_SNAPSHOT_HASH_HEXLEN + 1]; /* applied hash, "" = none */
    bool connected;
    int64_t applied_revision; /* -1 = none */
    char last_error[1024];    /* "" = none */
    int64_t cert_expiry;      /* unix seconds, 0 = unknown */
    int heartbeat_interval;   /* seconds, from the Hello; 0 = unknown */
};

struct cp_cluster_registry; /* opaque */

/* Starts the writer thread. cp_id (copied) is recorded as control_plane_id; purge_delay_s is
 * the retention of silent rows. Returns GW_OK and *out (owned; cp_cluster_registry_stop), or
 * GW_ERR_NOMEM / GW_ERR_IO. Main thread. */
enum gw_err cp_cluster_registry_start(const struct cp_cluster_pg_params *pg, const char *cp_id,
                                      long long purge_delay_s, struct cp_cluster_registry **out);

/* Queues an upsert of row (copied). Rows for the same id queued before the writer ran are
 * merged (the latest wins). Never blocks on the database. Any thread. */
void cp_cluster_registry_put(struct cp_cluster_registry *r, const struct cp_cluster_reg_row *row);

/* Writes what is queued (best effort, bounded by pg_timeout), stops the thread and frees r.
 * Accepts NULL. Main thread. */
void cp_cluster_registry_stop(struct cp_cluster_registry *r);

#endif
