/* dp/tls/dp_tls_store.h: the TLS part of a data plane config, built with it from the protobuf
 * Config and immutable afterwards: one server SSL_CTX per Certificate entity (RSA and ECDSA
 * pairs), the SNI index (exact names, "*.x" and "x.*" wildcards, "*"), and per service the
 * client SSL_CTX used to reach its upstream over TLS (tls_verify, tls_verify_depth,
 * ca_certificates or the system store, client_certificate of the service or its upstream), and
 * per upstream with active https health checks the client SSL_CTX of those probes.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_TLS_STORE_H
#define DP_TLS_STORE_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

struct dp_tls_store;

/* Upstream TLS parameters of one service. Its context also keeps the last session the upstream
 * gave (ex data freed with the context), resumed by the next connection with the same SNI, as
 * nginx's proxy_ssl_session_reuse. */
struct dp_tls_upstream {
    SSL_CTX *ctx;  /* owned by the store */
    bool verify;   /* tls_verify: the certificate and the host name are checked */
    uint64_t hash; /* identity of the parameters, part of the keep-alive pool key */
};

/* Receives one validation error (entity table, id, field, message). Builder thread. */
typedef void (*dp_tls_error_fn)(void *arg, const char *entity, const char *id, const char *field,
                                const char *message);

/* Builds the store from pb (borrowed). Problems go to on_error and make the build fail with
 * GW_ERR_INVALID. On success *out is owned (free with dp_tls_store_destroy). Any thread except a
 * proxy worker. */
enum gw_err dp_tls_store_build(const Portico__V1__Config *pb, dp_tls_error_fn on_error, void *arg,
                               struct dp_tls_store **out);

/* Frees the store. Accepts NULL. Connections keep their own references to the contexts. */
void dp_tls_store_destroy(struct dp_tls_store *s);

/* Kong's certificate choice for a server name (NULL or "" = none sent): the exact name, then
 * "*.rest" (first label replaced), then "first.*" (last label replaced), then an SNI named "*".
 * Returns the certificate's context (borrowed, lives as long as the store) or NULL for the
 * default certificate. Any thread. */
SSL_CTX *dp_tls_store_find(const struct dp_tls_store *s, const char *name);

/* Id of the certificate dp_tls_store_find would choose, or NULL (tests, logs). Any thread. */
const char *dp_tls_store_find_id(const struct dp_tls_store *s, const char *name);

/* The upstream TLS parameters of the service at index i of pb->services (the config's service
 * order), or NULL when the service does not use https. Borrowed. Any thread. */
const struct dp_tls_upstream *dp_tls_store_upstream(const struct dp_tls_store *s, size_t i);

/* The client context of the active https health checks of the upstream at index i of
 * pb->upstreams (the config's upstream order), or NULL when its active check type is not https.
 * Client certificate = the upstream's client_certificate (Kong); verification per
 * healthchecks.active.https_verify_certificate (default on) against the CA certificates of the
 * https services whose host is the upstream (their union, depth = their largest
 * tls_verify_depth, else 1), or the system store when none lists any. Borrowed. Any thread. */
const struct dp_tls_upstream *dp_tls_store_health(const struct dp_tls_store *s, size_t i);

/* Creates an SSL of u's context for one client connection: SNI sni (NULL, "" or an IP address
 * = none sent), host name (or IP) check against sni when verifying, the context's last session
 * for that SNI resumed. Returns owned (SSL_free) or NULL. Any thread. */
SSL *dp_tls_client_ssl(const struct dp_tls_upstream *u, const char *sni);

/* Creates the SSL of one upstream connection: SNI sni (NULL or an IP address = none sent),
 * host name check against sni when verifying. peer (borrowed) names it in log lines. Returns
 * owned (hand to dp_io_set_tls) or NULL. Worker thread. */
struct dp_tls_io *dp_tls_upstream_new(const struct dp_tls_upstream *u, const char *sni,
                                      const char *peer);

#endif
