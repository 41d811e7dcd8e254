/* dp/cluster/dp_cluster_client.h: the data plane's cluster client: a libwebsockets client in its
 * own thread that connects to the control plane(s) of cluster_control_plane (tried in turn,
 * exponential backoff with jitter), authenticates with mutual TLS (shared: both sides present
 * the one cluster certificate, pinned by SHA-256; pki: CA-verified with cluster_server_name),
 * sends Hello, reassembles snapshots up to cluster_max_payload, hands them to an apply thread
 * (only the newest when several arrive during a build), answers Ack or Nack, and sends
 * heartbeats with the applied hash.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CLUSTER_CLIENT_H
#define DP_CLUSTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"
#include "gw_conf.h"
#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

/* Applies one received snapshot (borrowed; valid during the call): open (decompress, verify the
 * hash), validate, build, publish, persist. Reports every problem through on_error (with
 * err_arg) and returns GW_OK only when the snapshot now serves. Called on the client's apply
 * thread, one call at a time. */
typedef enum gw_err (*dp_cluster_apply_fn)(void *arg, const Portico__V1__Snapshot *snap,
                                           dp_config_error_fn on_error, void *err_arg);

/* Revision and hash of the configuration serving now (as dp_config_current). */
typedef int64_t (*dp_cluster_current_fn)(char *hash_out, size_t hash_len);

/* Extension hooks for modules that exchange their own messages with the control plane (target
 * health: HealthReport out, HealthCommand in). Every hook is optional (NULL) and runs on the
 * client thread; none may block. */
struct dp_cluster_ext {
    void *arg;
    /* The control plane accepted this data plane's Hello (a new connection: reset state). */
    void (*connected)(void *arg);
    /* A message the client does not handle itself (HealthCommand, ...), borrowed. */
    void (*message)(void *arg, const Portico__V1__ClusterMessage *m);
    /* Returns true with a packed ClusterMessage to send (owned by the caller, free()) when one
     * is due; heartbeat is true at each heartbeat. Polled after each heartbeat, and whenever
     * the connection is writable after dp_cluster_client_kick. */
    bool (*poll)(void *arg, bool heartbeat, uint8_t **out, size_t *len);
};

struct dp_cluster_client; /* opaque */

/* Starts the client from conf (borrowed; values copied): prefix, cluster_control_plane,
 * cluster_mtls, cluster_cert, cluster_cert_key, cluster_ca_cert, cluster_server_name,
 * cluster_max_payload, cluster_heartbeat_interval. apply (with apply_arg) installs snapshots;
 * current (may be NULL: the client then remembers what it applied) reports the serving
 * configuration for Hello and heartbeats. cluster_control_plane = off starts nothing (GW_OK,
 * *out NULL). Returns GW_OK and *out (owned; dp_cluster_client_stop),
 * or GW_ERR_INVALID / GW_ERR_TLS / GW_ERR_IO / GW_ERR_NOMEM with the reason logged. Main
 * thread. */
enum gw_err dp_cluster_client_start(const struct gw_conf *conf, dp_cluster_apply_fn apply,
                                    void *apply_arg, dp_cluster_current_fn current,
                                    struct dp_cluster_client **out);

/* Like dp_cluster_client_start, with extension hooks (copied; NULL = none). */
enum gw_err dp_cluster_client_start_ext(const struct gw_conf *conf, dp_cluster_apply_fn apply,
                                        void *apply_arg, dp_cluster_current_fn current,
                                        const struct dp_cluster_ext *ext,
                                        struct dp_cluster_client **out);

/* Makes the client poll the extension for messages to send. Accepts NULL. Any thread. */
void dp_cluster_client_kick(struct dp_cluster_client *c);

/* Disconnects, stops both threads (waiting for an apply in progress) and frees c. Accepts NULL.
 * Main thread. */
void dp_cluster_client_stop(struct dp_cluster_client *c);

/* A stand-in apply function until the data plane's dp_config_apply is wired in: opens the
 * snapshot (size limit arg = (size_t *) max uncompressed bytes, hash check, decoding) and
 * reports problems, without building a runtime config. */
enum gw_err dp_cluster_apply_open_only(void *arg, const Portico__V1__Snapshot *snap,
                                       dp_config_error_fn on_error, void *err_arg);

#endif
