/* cp/cluster/cp_cluster_server.h: the cluster listener: a libwebsockets server in its own
 * thread, TLS 1.2+ with client certificates (shared: the peer must present the control plane's
 * own certificate; pki: signed by cluster_ca_cert, optionally with an allowed common name),
 * websocket path /v1/cluster, subprotocol portico.cluster.v1. It checks each data plane's Hello,
 * sends the current snapshot at once and every new one, handles Ack/Nack/Heartbeat and queues
 * registry writes.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_SERVER_H
#define CP_CLUSTER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_cluster_registry.h"
#include "cp_cluster_snap.h"
#include "gw_err.h"
#include "gw_listen.h"

#define CP_CLUSTER_PATH        "/v1/cluster"
#define CP_CLUSTER_SUBPROTOCOL "portico.cluster.v1"

/* Extension hooks for other modules that talk to data planes over the same connections (target
 * health: HealthReport in, HealthCommand out). Every hook is optional (NULL) and runs on the
 * server thread; none may block. */
struct cp_cluster_ext {
    void *arg;
    /* A data plane's Hello was accepted / the connection of an accepted data plane closed. */
    void (*connected)(void *arg, const char *node_id, const char *hostname);
    void (*gone)(void *arg, const char *node_id);
    /* A message the server does not handle itself (HealthReport, ...), borrowed. */
    void (*message)(void *arg, const char *node_id, const char *hostname,
                    const Portico__V1__ClusterMessage *m);
    /* Extra outgoing messages: each accepted connection gets a cursor from cursor_init; next
     * returns the following packed ClusterMessage after *cursor (owned by the caller, free())
     * and advances it, or false when there is none. Call cp_cluster_server_kick when new
     * messages are available. */
    uint64_t (*cursor_init)(void *arg);
    bool (*next)(void *arg, uint64_t *cursor, uint8_t **out, size_t *len);
};

struct cp_cluster_server_opts {
    const struct gw_listen *listen; /* the cluster_listen addresses (copied), at least one */
    size_t nlisten;
    bool pki;
    const char *cert; /* PEM paths */
    const char *key;
    const char *ca;                       /* pki only */
    const char *allowed_cns;              /* comma-separated; "" = any (pki only) */
    size_t max_payload;                   /* largest message accepted from a data plane */
    const char *cp_id;                    /* this control plane's id */
    struct cp_cluster_registry *registry; /* borrowed; may be NULL */
    struct cp_cluster_ext ext;            /* copied; zeroed = no extension */
};

struct cp_cluster_server; /* opaque */

/* Creates one listener per address (binds now, so a busy port fails here) and starts its thread.
 * opts and its strings are copied. Returns GW_OK and *out (owned; cp_cluster_server_stop),
 * GW_ERR_TLS (certificate problems, logged), GW_ERR_IO or GW_ERR_NOMEM. Main thread. */
enum gw_err cp_cluster_server_start(const struct cp_cluster_server_opts *opts,
                                    struct cp_cluster_server **out);

/* Makes snap the current snapshot (takes ownership of one reference) and wakes the server
 * thread to send it to every accepted data plane. Any thread. */
void cp_cluster_server_publish(struct cp_cluster_server *s, struct cp_cluster_snap *snap);

/* Wakes the server thread so every accepted connection polls ext.next. Any thread. */
void cp_cluster_server_kick(struct cp_cluster_server *s);

/* Closes every connection, stops and joins the thread, frees s. Accepts NULL. Main thread. */
void cp_cluster_server_stop(struct cp_cluster_server *s);

#endif
