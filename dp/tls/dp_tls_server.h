/* dp/tls/dp_tls_server.h: TLS termination on the proxy's ssl listeners: the process-wide server
 * SSL_CTX (ssl_protocols, ssl_cipher_suite, session cache, session tickets with rotating keys,
 * ALPN http/1.1, the default certificate) and the per-handshake certificate choice by SNI from
 * the worker's current config (dp/tls/dp_tls_store.h).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_TLS_SERVER_H
#define DP_TLS_SERVER_H

#include <event2/util.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_conf.h"
#include "gw_err.h"

struct dp_worker;
struct dp_tls_io;

/* Reads ssl_protocols, ssl_cipher_suite and ssl_ciphers from conf (borrowed). GW_ERR_INVALID
 * with a message naming the key in err. Call before any config is built (the certificate
 * contexts of a config use these options). Main thread. */
enum gw_err dp_tls_server_options(const struct gw_conf *conf, char *err, size_t errlen);

/* Creates the server context with the default certificate: ssl_cert/ssl_cert_key (a
 * comma-separated list of up to two pairs, RSA and ECDSA), or a self-signed RSA and ECDSA pair
 * kept under <prefix>/ssl/ (generated when missing, as Kong does). Call only when an ssl
 * listener exists, after dp_tls_server_options. Main thread. */
enum gw_err dp_tls_server_init(const struct gw_conf *conf, const char *prefix, char *err,
                               size_t errlen);

/* True once dp_tls_server_init succeeded. Any thread. */
bool dp_tls_server_ready(void);

/* Frees the server context (connections still holding it keep their references). Main
 * thread, after the workers stopped. */
void dp_tls_server_shutdown(void);

/* Returns a new SSL_CTX with the server options (protocols, ciphers, ALPN, session id context)
 * and no certificate, for one certificate entity of a config. Returns owned (SSL_CTX_free) or
 * NULL. Any thread. */
SSL_CTX *dp_tls_server_ctx_new(void);

/* Starts TLS on an accepted socket fd of worker w (borrowed; its config chooses the
 * certificate). Returns owned (hand to dp_io_set_tls) or NULL. Worker thread. */
struct dp_tls_io *dp_tls_server_accept(struct dp_worker *w, evutil_socket_t fd);

/* The SNI the client sent (borrowed from the connection, lowercase not guaranteed), or NULL.
 * Worker thread. */
const char *dp_tls_server_sni(struct dp_tls_io *t);

#endif
