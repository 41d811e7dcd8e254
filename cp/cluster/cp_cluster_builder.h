/* cp/cluster/cp_cluster_builder.h: the snapshot builder thread. It holds its own PostgreSQL
 * connection, LISTENs on portico_config, and after each notification (debounced) reads the whole
 * configuration in one REPEATABLE READ transaction, converts it to a protobuf Config, builds the
 * snapshot once and hands it to the cluster server. While PostgreSQL is unreachable it retries
 * the connection and the server keeps serving the last snapshot.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_BUILDER_H
#define CP_CLUSTER_BUILDER_H

#include "cp_cluster_pg.h"
#include "cp_cluster_snap.h"
#include "gw_err.h"

struct cp_cluster_builder; /* opaque */

/* Receives each new snapshot (takes ownership of one reference). Called on the builder thread. */
typedef void (*cp_cluster_publish_fn)(void *arg, struct cp_cluster_snap *snap);

/* Starts the builder thread with connection settings pg (copied), the debounce delay and the
 * publish callback. Returns GW_OK and *out (owned; stop with cp_cluster_builder_stop), or
 * GW_ERR_NOMEM / GW_ERR_IO. Main thread. */
enum gw_err cp_cluster_builder_start(const struct cp_cluster_pg_params *pg, int debounce_ms,
                                     cp_cluster_publish_fn publish, void *arg,
                                     struct cp_cluster_builder **out);

/* Stops and joins the thread, closes the connection and frees b. Accepts NULL. Main thread. */
void cp_cluster_builder_stop(struct cp_cluster_builder *b);

#endif
