/* tests/bench/tlshs.c: new TLS connections per second, every one a full handshake. wrk over
 * https resumes the previous session when it reconnects (SSL_clear keeps it), so its
 * "Connection: close" figure mixes full and abbreviated handshakes and depends on each server's
 * session settings. Here every connection has a fresh SSL with no session to offer (client
 * session cache off, tickets refused), makes the handshake, sends one request with
 * "Connection: close", reads the response to the end and closes; C connections run at once on
 * one epoll loop.
 *
 *   portico-tlshs -c CONNS -d SECONDS [-v 1.2|1.3] [-n SNI] [-p PATH] 127.0.0.1 PORT
 *
 * Output: one JSON object: {"connections":N,"per_s":..,"errors":..,"resumed":..,
 * "protocol":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256","group":"X25519","p50_ms":..,
 * "p99_ms":..} (protocol, cipher and key exchange group of the last completed connection;
 * latency from connect() to the end of the response).
 * SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define LAT_MAX   200000 /* latency samples kept (the rest are counted only) */

enum phase { CONNECTING = 0, HANDSHAKE, WRITING, READING };

struct conn {
    int fd;
    SSL *ssl;
    enum phase phase;
    size_t wrote;
    char head[16]; /* the first bytes of the response */
    size_t nhead;
    uint64_t t0;
};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep;
static char request[1024];
static size_t request_len;
static const char *sni = "bench.test";
static uint64_t done, errors, resumed;
static char protocol[32] = "-", cipher[64] = "-", group[32] = "-";
static uint64_t *lat;
static size_t nlat;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void watch(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) == -1) {
        perror("epoll_ctl");
        exit(1);
    }
}

static void start(struct conn *c)
{
    memset(c, 0, sizeof(*c));
    c->t0 = now_ns();
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd == -1) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_set_tlsext_host_name(c->ssl, sni) != 1) {
        fprintf(stderr, "tlshs: SSL_new failed\n");
        exit(1);
    }
    SSL_set_connect_state(c->ssl);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 && errno != EINPROGRESS) {
        perror("connect");
        exit(1);
    }
    c->phase = CONNECTING;
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void finish(struct conn *c, int ok)
{
    if (ok) {
        done++;
        if (SSL_session_reused(c->ssl))
            resumed++;
        if (nlat < LAT_MAX)
            lat[nlat++] = now_ns() - c->t0;
    } else {
        errors++;
    }
    SSL_free(c->ssl);
    close(c->fd); /* also leaves the epoll set */
    start(c);
}

static void record_params(struct conn *c)
{
    snprintf(protocol, sizeof(protocol), "%s", SSL_get_version(c->ssl));
    snprintf(cipher, sizeof(cipher), "%s", SSL_get_cipher_name(c->ssl));
    int nid = SSL_get_negotiated_group(c->ssl);
    const char *g = nid ? OBJ_nid2sn(nid) : NULL;
    snprintf(group, sizeof(group), "%s", g ? g : "-");
}

/* Runs c as far as it goes; returns when it waits for the socket. */
static void step(struct conn *c)
{
    for (;;) {
        int rc, e;
        switch (c->phase) {
        case CONNECTING: {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                finish(c, 0);
                return;
            }
            c->phase = HANDSHAKE;
            break;
        }
        case HANDSHAKE:
            rc = SSL_do_handshake(c->ssl);
            if (rc == 1) {
                c->phase = WRITING;
                break;
            }
            e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ) {
                watch(c, EPOLLIN, EPOLL_CTL_MOD);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                watch(c, EPOLLOUT, EPOLL_CTL_MOD);
                return;
            }
            ERR_clear_error();
            finish(c, 0);
            return;
        case WRITING:
            rc = SSL_write(c->ssl, request + c->wrote, (int)(request_len - c->wrote));
            if (rc > 0) {
                c->wrote += (size_t)rc;
                if (c->wrote == request_len) {
                    c->phase = READING;
                    watch(c, EPOLLIN, EPOLL_CTL_MOD);
                }
                break;
            }
            e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                watch(c, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
                return;
            }
            ERR_clear_error();
            finish(c, 0);
            return;
        case READING: {
            char buf[16384];
            rc = SSL_read(c->ssl, buf, sizeof(buf));
            if (rc > 0) {
                size_t take = sizeof(c->head) - c->nhead;
                if (take > (size_t)rc)
                    take = (size_t)rc;
                memcpy(c->head + c->nhead, buf, take);
                c->nhead += take;
                break;
            }
            e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ) {
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                watch(c, EPOLLOUT, EPOLL_CTL_MOD);
                return;
            }
            /* the end of the response: close_notify or the connection closed */
            ERR_clear_error();
            int ok = c->nhead >= 12 && memcmp(c->head, "HTTP/1.1 200", 12) == 0;
            if (ok)
                record_params(c);
            finish(c, ok);
            return;
        }
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int nconns = 32, seconds = 5, opt;
    const char *version = "1.3", *path = "/";
    while ((opt = getopt(argc, argv, "c:d:v:n:p:")) != -1) {
        switch (opt) {
        case 'c':
            nconns = (int)strtol(optarg, NULL, 10);
            break;
        case 'd':
            seconds = (int)strtol(optarg, NULL, 10);
            break;
        case 'v':
            version = optarg;
            break;
        case 'n':
            sni = optarg;
            break;
        case 'p':
            path = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (optind + 2 != argc || nconns < 1 || nconns > MAX_CONNS || seconds < 1)
        goto usage;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)strtol(argv[optind + 1], NULL, 10));
    if (inet_pton(AF_INET, argv[optind], &addr.sin_addr) != 1)
        goto usage;
    int n = snprintf(request, sizeof(request),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, sni);
    if (n < 0 || (size_t)n >= sizeof(request))
        goto usage;
    request_len = (size_t)n;

    ctx = SSL_CTX_new(TLS_client_method());
    int v = strcmp(version, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, v);
    SSL_CTX_set_max_proto_version(ctx, v);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* as wrk */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    lat = calloc(LAT_MAX, sizeof(*lat));
    struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!ctx || !lat || !conns || ep == -1) {
        fprintf(stderr, "tlshs: out of memory\n");
        return 1;
    }
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000ull;
    for (int i = 0; i < nconns; i++)
        start(&conns[i]);
    struct epoll_event evs[256];
    while (now_ns() < end) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++)
            step(evs[i].data.ptr);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    double p50 = nlat ? (double)lat[nlat / 2] / 1e6 : 0;
    double p99 = nlat ? (double)lat[nlat * 99 / 100] / 1e6 : 0;
    printf("{\"connections\":%llu,\"per_s\":%.1f,\"errors\":%llu,\"resumed\":%llu,"
           "\"protocol\":\"%s\",\"cipher\":\"%s\",\"group\":\"%s\",\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f}\n",
           (unsigned long long)done, (double)done / secs, (unsigned long long)errors,
           (unsigned long long)resumed, protocol, cipher, group, p50, p99);
    return 0;
usage:
    fprintf(stderr, "usage: portico-tlshs -c CONNS -d SECONDS [-v 1.2|1.3] [-n SNI] [-p PATH] "
                    "127.0.0.1 PORT\n");
    return 2;
}
