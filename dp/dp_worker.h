/* dp/dp_worker.h: a proxy worker thread: its own libevent loop, its own SO_REUSEPORT listener on
 * every plain proxy_listen address, its own upstream keep-alive pool and its own reference to
 * the published config. A connection stays on its worker for life; the hot path takes no locks.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_config_internal.h"
#include "dp_router.h"
#include "dp_settings.h"
#include "gw_buf.h"
#include "gw_listen.h"

struct dp_conn;
struct dp_io_loop;
struct dp_pool;

struct dp_worker {
    int id;
    pthread_t thread;
    bool started;
    struct event_base *base;
    struct evconnlistener *ls[GW_LISTEN_MAX];
    int ls_port[GW_LISTEN_MAX];
    bool ls_ssl[GW_LISTEN_MAX]; /* TLS listener (dp/tls/dp_tls_server.h) */
    size_t nls;
    const struct dp_settings *set; /* borrowed from main */
    struct dp_config *cfg;         /* referenced; refreshed when the generation changes */
    uint64_t cfg_gen;
    pcre2_match_data *md;
    struct dp_pool *pool;
    struct dp_conn *conns; /* every client connection */
    size_t nconns;
    uint64_t rid_hi, rid_counter;
    char rid_hi_hex[16]; /* rid_hi in hex, formatted at the first request */
    struct event *stop_ev, *force_ev;
    int stop_fd;              /* eventfd: main thread -> worker stop request */
    struct gw_buf scratch;    /* response heads are built here (worker thread only) */
    struct dp_req *free_reqs; /* finished requests kept for reuse */
    struct dp_io_loop *io;    /* batched socket writes */
    size_t nfree_reqs;
    bool draining;
    struct event *tick_ev; /* 100 ms: timeouts of connections and pooled connections */
    unsigned ticks;
};

/* Creates worker id with its loop and listeners bound on every address of ls (borrowed; ssl
 * addresses only once dp_tls_server_init succeeded).
 * set is borrowed and must outlive the worker. Returns owned (free with dp_worker_destroy) or
 * NULL with a message in err. Main thread. */
struct dp_worker *dp_worker_create(int id, const struct dp_settings *set,
                                   const struct gw_listen *ls, size_t nls, char *err,
                                   size_t errlen);

/* Starts the worker's thread. Main thread. */
enum gw_err dp_worker_start(struct dp_worker *w);

/* Asks the worker to stop gracefully: stop accepting, finish in-flight requests (at most
 * shutdown_timeout), then leave its loop. Any thread. */
void dp_worker_stop(struct dp_worker *w);

/* Joins the thread (after dp_worker_stop) and frees everything. Accepts NULL. Main thread. */
void dp_worker_destroy(struct dp_worker *w);

/* Returns the config requests should start on (borrowed, held by the worker; the caller refs
 * it for a request), or NULL before the first publish. Worker thread. */
struct dp_config *dp_worker_config(struct dp_worker *w);

/* Writes a new request id (32 hex characters + NUL) into out. Worker thread. */
void dp_worker_request_id(struct dp_worker *w, char out[33]);

/* Monotonic milliseconds, cached per loop iteration. Worker thread. */
uint64_t dp_worker_now_ms(struct dp_worker *w);

/* Called by dp_conn when a connection is freed: ends the loop when draining and none is left. */
void dp_worker_conn_gone(struct dp_worker *w);

#endif
