/* dp/dp_worker.c: proxy worker threads (one libevent loop, SO_REUSEPORT listeners, keep-alive
 * pool and config reference each) and their graceful shutdown.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dp_http.h"
#include "dp_io.h"
#include "gw_log.h"
#include "tls/dp_tls_server.h"

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    struct dp_worker *w = arg;
    (void)len;
    int port = 0;
    bool tls = false;
    for (size_t i = 0; i < w->nls; i++)
        if (w->ls[i] == l) {
            port = w->ls_port[i];
            tls = w->ls_ssl[i];
        }
    dp_conn_accept(w, fd, sa, port, tls);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct dp_worker *w = arg;
    (void)l;
    int e = EVUTIL_SOCKET_ERROR();
    GW_LOG_ERRNO(GW_LOG_ERROR, e, "accept failed worker=%d", w->id);
}

struct dp_config *dp_worker_config(struct dp_worker *w)
{
    uint64_t g = dp_config_generation();
    if (g != w->cfg_gen) {
        struct dp_config *c = dp_config_acquire();
        dp_config_unref(w->cfg);
        w->cfg = c;
        w->cfg_gen = g;
    }
    return w->cfg;
}

void dp_worker_request_id(struct dp_worker *w, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t lo = ++w->rid_counter * 0x9e3779b97f4a7c15ull;
    /* the high half is the same for every request of the worker: formatted once */
    if (!w->rid_hi_hex[0])
        for (int i = 0; i < 16; i++)
            w->rid_hi_hex[i] = hex[(w->rid_hi >> (60 - 4 * i)) & 0xf];
    memcpy(out, w->rid_hi_hex, 16);
    for (int i = 0; i < 16; i++)
        out[16 + i] = hex[(lo >> (60 - 4 * i)) & 0xf];
    out[32] = '\0';
}

static void free_listeners(struct dp_worker *w)
{
    for (size_t i = 0; i < w->nls; i++)
        if (w->ls[i])
            evconnlistener_free(w->ls[i]);
    w->nls = 0;
}

void dp_worker_conn_gone(struct dp_worker *w)
{
    if (w->draining && w->nconns == 0)
        event_base_loopbreak(w->base);
}

uint64_t dp_worker_now_ms(struct dp_worker *w)
{
    struct timeval tv;
    event_base_gettimeofday_cached(w->base, &tv);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dp_worker *w = arg;
    (void)fd;
    (void)what;
    uint64_t now = dp_worker_now_ms(w);
    (void)dp_worker_config(w); /* an idle worker lets go of a replaced config promptly */
    dp_conn_tick(w, now);
    if (++w->ticks % 10 == 0)
        dp_pool_tick(w->pool, now);
}

static void force_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dp_worker *w = arg;
    (void)fd;
    (void)what;
    GW_LOG(GW_LOG_WARN, "shutdown timeout reached, closing connections worker=%d open=%zu", w->id,
           w->nconns);
    while (w->conns)
        dp_conn_close(w->conns);
    event_base_loopbreak(w->base);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dp_worker *w = arg;
    uint64_t v;
    (void)what;
    if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
        GW_LOG_ERRNO(GW_LOG_WARN, errno, "worker wake-up read failed worker=%d", w->id);
    if (w->draining)
        return;
    w->draining = true;
    free_listeners(w);
    dp_conn_close_idle(w);
    if (w->nconns == 0) {
        event_base_loopbreak(w->base);
        return;
    }
    struct timeval tv = {w->set->shutdown_timeout_s, 0};
    event_add(w->force_ev, &tv);
}

struct dp_worker *dp_worker_create(int id, const struct dp_settings *set,
                                   const struct gw_listen *ls, size_t nls, char *err, size_t errlen)
{
    struct dp_worker *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->id = id;
    w->set = set;
    w->stop_fd = -1;
    gw_buf_init(&w->scratch, 0);
    w->base = event_base_new();
    w->pool = dp_pool_create(w);
    w->io = w->base ? dp_io_loop_create(w->base) : NULL;
    w->md = dp_router_match_data_create();
    /* Stop requests arrive from the main thread through an eventfd: the loops are built
     * without libevent's thread locking, which would cost a mutex on every event operation. */
    w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->stop_ev = w->base && w->stop_fd != -1
                     ? event_new(w->base, w->stop_fd, EV_READ | EV_PERSIST, stop_cb, w)
                     : NULL;
    if (w->stop_ev)
        event_add(w->stop_ev, NULL);
    w->force_ev = w->base ? evtimer_new(w->base, force_cb, w) : NULL;
    if (!w->base || !w->pool || !w->io || !w->md || !w->stop_ev || !w->force_ev) {
        snprintf(err, errlen, "out of memory");
        dp_worker_destroy(w);
        return NULL;
    }
    unsigned char rnd[8] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        fclose(f);
    }
    for (int i = 0; i < 8; i++)
        w->rid_hi = (w->rid_hi << 8) | rnd[i];
    w->rid_hi ^= (uint64_t)id;
    w->tick_ev = event_new(w->base, -1, EV_PERSIST, tick_cb, w);
    struct timeval tick = {0, 100 * 1000};
    if (!w->tick_ev || event_add(w->tick_ev, &tick) != 0) {
        snprintf(err, errlen, "out of memory");
        dp_worker_destroy(w);
        return NULL;
    }
    for (size_t i = 0; i < nls; i++) {
        if (ls[i].ssl && !dp_tls_server_ready())
            continue;
        struct evutil_addrinfo hints = {0}, *res = NULL;
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST;
        char port[16];
        snprintf(port, sizeof(port), "%d", ls[i].port);
        if (evutil_getaddrinfo(ls[i].host, port, &hints, &res) != 0 || !res) {
            snprintf(err, errlen, "proxy_listen: cannot parse address %s:%d", ls[i].host,
                     ls[i].port);
            dp_worker_destroy(w);
            return NULL;
        }
        struct evconnlistener *l =
            evconnlistener_new_bind(w->base, accept_cb, w,
                                    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                    511, res->ai_addr, (int)res->ai_addrlen);
        int e = errno;
        evutil_freeaddrinfo(res);
        if (!l) {
            snprintf(err, errlen, "proxy_listen: cannot listen on %s:%d: %s", ls[i].host,
                     ls[i].port, strerror(e));
            dp_worker_destroy(w);
            return NULL;
        }
        evconnlistener_set_error_cb(l, accept_error_cb);
        w->ls[w->nls] = l;
        w->ls_port[w->nls] = ls[i].port;
        w->ls_ssl[w->nls] = ls[i].ssl;
        w->nls++;
    }
    return w;
}

static void *worker_main(void *arg)
{
    struct dp_worker *w = arg;
    GW_LOG(GW_LOG_INFO, "worker started worker=%d", w->id);
    event_base_dispatch(w->base);
    /* Whatever is left (connections past the shutdown timeout) goes now. */
    while (w->conns)
        dp_conn_close(w->conns);
    GW_LOG(GW_LOG_INFO, "worker stopped worker=%d", w->id);
    return NULL;
}

enum gw_err dp_worker_start(struct dp_worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return GW_ERR_IO;
    w->started = true;
    return GW_OK;
}

void dp_worker_stop(struct dp_worker *w)
{
    uint64_t one = 1;
    if (write(w->stop_fd, &one, sizeof(one)) == -1)
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot wake worker worker=%d", w->id);
}

void dp_worker_destroy(struct dp_worker *w)
{
    if (!w)
        return;
    if (w->started)
        pthread_join(w->thread, NULL);
    while (w->conns)
        dp_conn_close(w->conns);
    dp_conn_free_req_cache(w);
    free_listeners(w);
    dp_pool_destroy(w->pool);
    if (w->stop_ev)
        event_free(w->stop_ev);
    if (w->stop_fd != -1)
        close(w->stop_fd);
    gw_buf_cleanup(&w->scratch);
    if (w->force_ev)
        event_free(w->force_ev);
    if (w->tick_ev)
        event_free(w->tick_ev);
    dp_io_loop_destroy(w->io);
    if (w->md)
        pcre2_match_data_free(w->md);
    dp_config_unref(w->cfg);
    if (w->base)
        event_base_free(w->base);
    free(w);
}
