/* cp/cluster/cp_cluster.h: hybrid mode on the control plane: starts and stops the snapshot
 * builder, the data plane registry writer and the cluster listener together.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_H
#define CP_CLUSTER_H

#include "cp_cluster_server.h"
#include "gw_conf.h"
#include "gw_err.h"

struct cp_cluster; /* opaque */

/* Starts hybrid mode from conf (borrowed; values are copied): cluster_listen ("off" = nothing is
 * started and *out is NULL), cluster_mtls, cluster_cert, cluster_cert_key, cluster_ca_cert,
 * cluster_allowed_common_names, cluster_max_payload, cluster_data_plane_purge_delay,
 * cluster_snapshot_debounce_ms and the pg_* keys. Returns GW_OK and *out (owned; stop with
 * cp_cluster_stop), or GW_ERR_TLS / GW_ERR_IO / GW_ERR_INVALID / GW_ERR_NOMEM with the reason
 * logged. Main thread. */
enum gw_err cp_cluster_start(const struct gw_conf *conf, struct cp_cluster **out);

/* Like cp_cluster_start, with extension hooks (copied; NULL = none) for modules that exchange
 * their own messages with the data planes (see struct cp_cluster_ext). */
enum gw_err cp_cluster_start_ext(const struct gw_conf *conf, const struct cp_cluster_ext *ext,
                                 struct cp_cluster **out);

/* Wakes the cluster server so connections poll the extension's outgoing messages. Accepts NULL.
 * Any thread. */
void cp_cluster_kick(struct cp_cluster *c);

/* Stops every cluster thread and frees c. Accepts NULL. Main thread. */
void cp_cluster_stop(struct cp_cluster *c);

#endif
