/* dp/tls/dp_tls_io.c: non-blocking OpenSSL reads, writes and handshakes for dp_io.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_tls_io.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw_log.h"

#define TLS_WRITE_MAX 16384 /* one record */

struct dp_tls_io *dp_tls_io_server(SSL *ssl, evutil_socket_t fd)
{
    struct dp_tls_io *t = calloc(1, sizeof(*t));
    if (!t) {
        SSL_free(ssl);
        return NULL;
    }
    t->ssl = ssl;
    if (SSL_set_fd(ssl, (int)fd) != 1) {
        SSL_free(ssl);
        free(t);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return t;
}

struct dp_tls_io *dp_tls_io_client(SSL *ssl, const char *peer)
{
    struct dp_tls_io *t = calloc(1, sizeof(*t));
    if (!t) {
        SSL_free(ssl);
        return NULL;
    }
    t->ssl = ssl;
    t->client = true;
    snprintf(t->peer, sizeof(t->peer), "%s", peer ? peer : "-");
    return t;
}

void dp_tls_io_start_client(struct dp_tls_io *t, evutil_socket_t fd)
{
    SSL_set_fd(t->ssl, (int)fd);
    SSL_set_connect_state(t->ssl);
    t->handshaking = true;
}

/* The first queued OpenSSL error as text (clears the queue). */
static const char *ssl_error_text(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
        return buf;
    }
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

enum dp_tls_res dp_tls_io_handshake(struct dp_tls_io *t)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->handshaking = false;
        return DP_TLS_OK;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return DP_TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return DP_TLS_WANT_WRITE;
    char why[256];
    long vr = SSL_get_verify_result(t->ssl);
    ssl_error_text(why, sizeof(why));
    if (vr != X509_V_OK)
        GW_LOG(GW_LOG_ERROR,
               "upstream TLS handshake failed upstream=%s reason=\"certificate verify failed: "
               "%s\"",
               t->peer, X509_verify_cert_error_string(vr));
    else
        GW_LOG(GW_LOG_ERROR, "upstream TLS handshake failed upstream=%s reason=\"%s\"", t->peer,
               why);
    return DP_TLS_ERROR;
}

/* A plain HTTP request on a TLS port gets nginx's answer (400, in plain text since the client
 * speaks no TLS) before the connection closes. True when that was the error. */
static bool plain_http_answered(struct dp_tls_io *t)
{
    unsigned long e = ERR_peek_error();
    if (ERR_GET_LIB(e) != ERR_LIB_SSL || ERR_GET_REASON(e) != SSL_R_HTTP_REQUEST)
        return false;
    ERR_clear_error();
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Type: application/json; charset=utf-8\r\n"
                               "Content-Length: 59\r\n"
                               "Connection: close\r\n\r\n"
                               "{\"message\":\"The plain HTTP request was sent to HTTPS port\"}";
    int fd = SSL_get_fd(t->ssl);
    /* read what already arrived of the request: closing with unread bytes would reset the
     * connection before the client reads the answer */
    char sink[4096];
    for (int i = 0; fd >= 0 && i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
    if (fd >= 0 && send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
        GW_LOG_ERRNO(GW_LOG_DEBUG, errno, "cannot answer a plain HTTP request on a TLS port");
    GW_LOG(GW_LOG_INFO, "plain HTTP request on a TLS port answered with 400");
    return true;
}

enum dp_tls_res dp_tls_io_read(struct dp_tls_io *t, struct evbuffer *in, size_t max, size_t *n)
{
    *n = 0;
    t->read_want_write = false;
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(in, (ev_ssize_t)max, v, 2);
    if (nv <= 0)
        return DP_TLS_ERROR;
    enum dp_tls_res res = DP_TLS_OK;
    size_t got[2] = {0, 0};
    for (int i = 0; i < nv && res == DP_TLS_OK; i++) {
        while (got[i] < v[i].iov_len) {
            size_t want = v[i].iov_len - got[i];
            if (want > INT32_MAX)
                want = INT32_MAX;
            ERR_clear_error();
            errno = 0;
            int rc = SSL_read(t->ssl, (char *)v[i].iov_base + got[i], (int)want);
            if (rc > 0) {
                got[i] += (size_t)rc;
                /* Level-triggered events bring us back for bytes still in the socket: only
                 * what OpenSSL already holds is read now (saves a read that would block). */
                if (!SSL_has_pending(t->ssl))
                    goto done;
                continue;
            }
            int e = SSL_get_error(t->ssl, rc);
            if (e == SSL_ERROR_WANT_READ) {
                res = DP_TLS_WANT_READ;
            } else if (e == SSL_ERROR_WANT_WRITE) {
                t->read_want_write = true;
                res = DP_TLS_WANT_WRITE;
            } else if (e == SSL_ERROR_ZERO_RETURN) {
                res = DP_TLS_EOF;
            } else {
                if (!t->client && plain_http_answered(t))
                    return DP_TLS_ERROR;
                char why[256];
                ssl_error_text(why, sizeof(why));
                GW_LOG(GW_LOG_INFO, "TLS read failed peer=%s reason=\"%s\"",
                       t->client ? t->peer : "client", why);
                res = DP_TLS_ERROR;
            }
            break;
        }
    }
done:
    for (int i = 0; i < nv; i++) {
        v[i].iov_len = got[i];
        *n += got[i];
    }
    evbuffer_commit_space(in, v, nv);
    return *n ? DP_TLS_OK : res;
}

enum dp_tls_res dp_tls_io_write(struct dp_tls_io *t, struct evbuffer *out)
{
    t->write_want_read = false;
    while (evbuffer_get_length(out)) {
        /* One full record at a time: small pieces (a response head, then its body) are
         * joined so that they leave in one record and one send. A write repeated after
         * WANT_WRITE has the same length and bytes (nothing is drained until OpenSSL took
         * them). */
        size_t total = evbuffer_get_length(out);
        int len = t->wlen ? t->wlen : (int)(total > TLS_WRITE_MAX ? TLS_WRITE_MAX : total);
        unsigned char *data = evbuffer_pullup(out, len);
        if (!data)
            return DP_TLS_ERROR;
        ERR_clear_error();
        errno = 0;
        int rc = SSL_write(t->ssl, data, len);
        if (rc > 0) {
            t->wlen = 0;
            evbuffer_drain(out, (size_t)rc);
            continue;
        }
        t->wlen = len;
        int e = SSL_get_error(t->ssl, rc);
        if (e == SSL_ERROR_WANT_WRITE)
            return DP_TLS_WANT_WRITE;
        if (e == SSL_ERROR_WANT_READ) {
            t->write_want_read = true;
            return DP_TLS_WANT_READ;
        }
        char why[256];
        ssl_error_text(why, sizeof(why));
        GW_LOG(GW_LOG_INFO, "TLS write failed peer=%s reason=\"%s\"",
               t->client ? t->peer : "client", why);
        return DP_TLS_ERROR;
    }
    return DP_TLS_OK;
}

bool dp_tls_io_pending(const struct dp_tls_io *t)
{
    return SSL_has_pending(t->ssl) == 1;
}

void dp_tls_io_free(struct dp_tls_io *t)
{
    if (!t)
        return;
    if (!t->handshaking && SSL_is_init_finished(t->ssl)) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl); /* close_notify if the socket takes it; never waits */
        ERR_clear_error();
    }
    SSL_free(t->ssl);
    free(t);
}
