/* dp/tls/dp_tls_io.h: the TLS layer under dp_io: one OpenSSL SSL object bound to a socket,
 * with non-blocking read, write and client handshake steps that report what they wait for.
 * dp_io calls these; nothing else needs to. Everything runs on one worker thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_TLS_IO_H
#define DP_TLS_IO_H

#include <event2/buffer.h>
#include <event2/util.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

enum dp_tls_res {
    DP_TLS_OK = 0,     /* progress (data moved, or the handshake finished) */
    DP_TLS_WANT_READ,  /* wait until the socket is readable */
    DP_TLS_WANT_WRITE, /* wait until the socket is writable */
    DP_TLS_EOF,        /* the peer closed */
    DP_TLS_ERROR,      /* fatal; the connection must go */
    DP_TLS_RES_COUNT_  /* keep last */
};

struct dp_tls_io {
    SSL *ssl;
    bool client;          /* we connect (upstream) rather than accept (client side) */
    bool handshaking;     /* client: the handshake runs before any data */
    bool read_want_write; /* the last read needs the socket writable */
    bool write_want_read; /* the last write needs the socket readable */
    int wlen;             /* length of an SSL_write to repeat after WANT_WRITE, 0 = none */
    char peer[96];        /* for log lines: "ip:port" (and the SNI sent) */
};

/* Wraps ssl (takes ownership) as the server end of an accepted connection. Returns owned (free
 * with dp_tls_io_free) or NULL. Worker thread. */
struct dp_tls_io *dp_tls_io_server(SSL *ssl, evutil_socket_t fd);

/* Wraps ssl (takes ownership) as the client end of a connection still to be made; the socket
 * is bound by dp_tls_io_start_client. peer (borrowed, copied) names the upstream in log lines.
 * Returns owned or NULL. Worker thread. */
struct dp_tls_io *dp_tls_io_client(SSL *ssl, const char *peer);

/* Binds the connected socket fd and starts the client handshake. Worker thread. */
void dp_tls_io_start_client(struct dp_tls_io *t, evutil_socket_t fd);

/* One step of the client handshake. DP_TLS_OK when it is complete; DP_TLS_ERROR logs why
 * (certificate verification included). Worker thread. */
enum dp_tls_res dp_tls_io_handshake(struct dp_tls_io *t);

/* Reads decrypted bytes into in, at most max. *n gets the count; DP_TLS_OK whenever *n > 0.
 * Worker thread. */
enum dp_tls_res dp_tls_io_read(struct dp_tls_io *t, struct evbuffer *in, size_t max, size_t *n);

/* Encrypts and sends as much of out as the socket takes (drained from out). Worker thread. */
enum dp_tls_res dp_tls_io_write(struct dp_tls_io *t, struct evbuffer *out);

/* True when OpenSSL holds bytes not yet read, decrypted or not (no socket event will announce
 * them). */
bool dp_tls_io_pending(const struct dp_tls_io *t);

/* Sends close_notify (best effort, never blocks) and frees t. Accepts NULL. Worker thread. */
void dp_tls_io_free(struct dp_tls_io *t);

#endif
