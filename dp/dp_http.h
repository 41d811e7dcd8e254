/* dp/dp_http.h: the proxy's per-connection and per-request state, shared by the client side
 * (dp/dp_conn.c: parsing, limits, routing, generated responses), the upstream side
 * (dp/dp_proxy.c: balancing, connecting, forwarding, retries) and the keep-alive pool
 * (dp/dp_pool.c). Everything here lives on one worker thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HTTP_H
#define DP_HTTP_H

#include <event2/buffer.h>
#include "dp_io.h"
#include <event2/event.h>
#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>

#include "balancer/dp_lb.h"
#include "dp_config_internal.h"
#include "dp_router.h"
#include "gw_buf.h"

struct dp_worker;
struct dp_req_plugins;
struct dp_pool;

/* True if the n bytes at a and b are equal ignoring the case of ASCII letters (what
 * strncasecmp does in the C locale, without a call or locale lookup per byte: the hot path
 * compares many short header names). */
static inline bool dp_token_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y && ((x | 0x20) != (y | 0x20) || (unsigned)((x | 0x20) - 'a') > 25u))
            return false;
    }
    return true;
}

/* A header inside a request's or response's arena: offsets and lengths. */
struct dp_hspan {
    uint32_t no, nl, vo, vl;
};

/* Bounded arena of one header block (request line/status + headers). */
struct dp_hblock {
    char *buf;
    size_t len, cap, max;
    struct dp_hspan *h;
    size_t n, capn;
    bool in_value; /* last callback was a header value */
};

struct dp_upconn {
    struct dp_io *bev;
    struct dp_worker *w;
    struct dp_req *req;    /* current request; NULL while idle in the pool */
    struct dp_conn *tconn; /* client connection of a websocket tunnel */
    char key[360];         /* "ip:port", plus "|tls|<server name>" for TLS */
    int nrequests;
    struct dp_upconn *next, *prev; /* pool list */
    uint64_t idle_since_ms;        /* when it entered the pool */
    struct dp_pool_slot *slot;     /* the pool slot it is idle in, or NULL */
    struct dp_pool_slot *home;     /* the pool slot of its key, once it was pooled */
};

enum dp_resp_framing {
    DP_FRAME_NONE = 0, /* no body (HEAD, 204, 304) */
    DP_FRAME_LENGTH,   /* Content-Length passed through */
    DP_FRAME_CHUNKED,  /* re-chunked to the client */
    DP_FRAME_CLOSE,    /* body until close (HTTP/1.0 client) */
    DP_FRAME_COUNT_    /* keep last */
};

struct dp_req {
    struct dp_conn *c;
    struct dp_config *cfg; /* referenced */
    struct dp_hblock hb;   /* method, url, headers */
    uint32_t url_o, url_l;
    int method; /* llhttp_method_t */
    int http_major, http_minor;
    bool headers_done, dispatched, msg_complete;
    bool keepalive; /* the client allows another request */
    bool chunked, expect_continue, upgrade;
    uint64_t body_read;
    int error_status; /* set by a parser callback before failing */
    bool value_done;  /* the current header value is complete (obs-fold detection) */

    /* routing */
    struct dp_router_match match;
    const struct dp_route *route;
    const struct dp_service *svc;
    char *path; /* normalised path (owned) */
    size_t path_len;
    const char *host; /* into hb, lowercase copy in hostbuf */
    char hostbuf[256];
    size_t host_len;

    /* upstream */
    struct gw_buf head;       /* upstream request head without Host, kept for retries */
    size_t head_split;        /* end of the request line inside head */
    struct evbuffer *pending; /* framed body bytes not yet handed to an upstream connection */
    struct dp_upconn *up;
    const struct dp_addr *addr;
    struct dp_lb_ctx lbctx;
    int tries;
    bool up_ready;     /* head written: body goes straight to up */
    bool body_started; /* body bytes were handed to an upstream: no more retries */
    bool req_sent;     /* whole request written to the upstream */
    bool idempotent;
    char *hash_cookie; /* generated consistent-hashing cookie value (owned) */
    char *hash_tmp;    /* joined query-arg values for hashing (owned) */
    bool counted;      /* addr->state->active was incremented for this try */
    bool connected;    /* the current try's connection is established */
    bool skip_1xx;     /* an interim 1xx response is being skipped */
    bool up_read_blocked;
    bool pending_kept;        /* pending holds a copy already sent, kept only for retries */
    uint64_t up_deadline_ms;  /* upstream connect/write/read timeout, 0 = none */
    size_t path_cap;          /* allocated size of path */
    struct dp_req *next_free; /* worker's free list */

    /* response */
    llhttp_t rp;
    struct dp_hblock rb;
    int status;
    bool resp_headers_done, resp_started, resp_complete, resp_upgrade;
    enum dp_resp_framing framing;
    bool proxied;

    uint64_t t_start_us, t_up_start_us, t_up_headers_us;
    char id[33];

    struct dp_req_plugins *plg; /* plugin state (dp/dp_req_plugins.c); NULL without plugins */
    bool plg_wait_body;         /* dispatch waits for the whole body before the plugins run */
};

/* Client-side timeouts, checked by the worker's tick (no per-event timers on the hot path). */
enum dp_tmo {
    DP_TMO_NONE = 0,
    DP_TMO_IDLE,   /* keepalive_timeout between requests */
    DP_TMO_HEADER, /* client_header_timeout for the whole header */
    DP_TMO_BODY,   /* client_body_timeout between two reads of the body */
    DP_TMO_TUNNEL, /* service read_timeout of a websocket without traffic */
    DP_TMO_COUNT_  /* keep last */
};

enum dp_conn_state {
    DP_CONN_IDLE = 0,    /* waiting for a request */
    DP_CONN_REQUEST,     /* inside a request */
    DP_CONN_TUNNEL,      /* websocket: raw bytes both ways */
    DP_CONN_CLOSING,     /* flushing output, then close */
    DP_CONN_STATE_COUNT_ /* keep last */
};

struct dp_conn {
    struct dp_worker *w;
    struct dp_io *bev;
    llhttp_t p;
    struct dp_req *req;
    enum dp_conn_state state;
    bool paused;       /* parser paused after a complete request */
    bool in_process;   /* dp_conn_process is on the stack */
    bool close_after;  /* close once the response is out */
    bool read_blocked; /* reading stopped for upstream backpressure */
    bool destroyed;
    char peer_ip[48];
    uint16_t peer_port;
    int local_port;
    bool tls;                 /* accepted on an ssl listener */
    struct dp_upconn *tunnel; /* websocket upstream */
    uint64_t tunnel_ms;       /* idle limit of the tunnel */
    uint64_t deadline_ms;     /* client-side timeout (monotonic ms), 0 = none */
    int tkind;                /* enum dp_tmo of deadline_ms */
    size_t out_seen;          /* output length at the last tick (send timeout) */
    uint64_t out_since_ms;    /* since when the output has not moved */
    const char *feed_base;    /* start of the chunk being parsed (obs-fold detection) */
    const char *feed_end;     /* end of the chunk being parsed */
    char feed_prev_last;      /* last byte of the previous chunk */
    uint8_t crlf_left;        /* bytes of the CRLF after chunk data to check in the next chunk */
    struct dp_conn *next, *prev;
};

#define DP_HIGH_WATER (256 * 1024)
#define DP_LOW_WATER  (64 * 1024)

/* dp_conn.c: accepts fd on worker w (takes ownership of fd); tls: an ssl listener's connection
 * (TLS is terminated through dp/tls/dp_tls_server.h). */
void dp_conn_accept(struct dp_worker *w, evutil_socket_t fd, const struct sockaddr *sa,
                    int local_port, bool tls);

/* dp_conn.c: the request's response is complete (or failed); finishes the request and moves the
 * connection on (next request, or close). */
void dp_conn_request_done(struct dp_conn *c);

/* dp_conn.c: parses buffered client input as far as possible. */
void dp_conn_process(struct dp_conn *c);

/* dp_conn.c: sends a response generated by Portico (JSON {"message":...,"request_id":...})
 * for the current request and completes it. extra: more header lines ("Name: v\r\n") or NULL. */
void dp_conn_respond(struct dp_conn *c, int status, const char *message, const char *extra);

/* dp_conn.c: sends a response produced by a plugin (status, hlen bytes of header lines
 * "Name: v\r\n" in headers, body of len bytes; both borrowed, copied into the output) for the
 * current request and completes it. No printf: cache hits are served through it. */
void dp_conn_respond_raw(struct dp_conn *c, int status, const char *headers, size_t hlen,
                         const char *body, size_t len);

/* dp_conn.c: closes the client connection now (and its request). */
void dp_conn_close(struct dp_conn *c);

/* dp_conn.c: sets the client-side timeout kind (tunnel: ms is the idle limit). */
void dp_conn_set_timeout(struct dp_conn *c, enum dp_tmo kind, uint64_t ms);

/* dp_conn.c: the worker's periodic check of every connection's deadlines. */
void dp_conn_tick(struct dp_worker *w, uint64_t now_ms);

/* dp_proxy.c: the request's upstream deadline passed. */
void dp_proxy_timeout(struct dp_req *r);

/* dp_pool.c: closes pooled connections idle longer than the idle timeout. */
void dp_pool_tick(struct dp_pool *p, uint64_t now_ms);

/* dp_conn.c: closes every idle connection of the worker (graceful shutdown). */
void dp_conn_close_idle(struct dp_worker *w);

/* dp_proxy.c: starts proxying a routed request (pick, connect or reuse, send). */
void dp_proxy_start(struct dp_req *r);

/* dp_proxy.c: more framed body bytes are in r->pending; pushes them upstream if possible. */
void dp_proxy_push_body(struct dp_req *r);

/* dp_proxy.c: releases the request's upstream connection (to the pool when reusable). */
void dp_proxy_release(struct dp_req *r, bool reusable);

/* dp_proxy.c: bytes queued towards the upstream (request body backpressure). */
size_t dp_proxy_backlog(const struct dp_req *r);

/* dp_proxy.c: client output drained below the low watermark: resume reading the upstream. */
void dp_proxy_client_drained(struct dp_req *r);

/* dp_proxy.c: starts a websocket tunnel between c and up after a 101. */
void dp_proxy_tunnel_start(struct dp_conn *c, struct dp_upconn *up);

/* dp_pool.c: keep-alive pool of idle upstream connections, per worker. */
struct dp_pool;
struct dp_pool *dp_pool_create(struct dp_worker *w);
void dp_pool_destroy(struct dp_pool *p);
/* Takes an idle connection to key out of the pool, or NULL. */
struct dp_upconn *dp_pool_get(struct dp_pool *p, const char *key);
/* Puts up (idle) into the pool; closes it when the pool for its key is full. */
void dp_pool_put(struct dp_pool *p, struct dp_upconn *up);
/* Frees an upstream connection that is not in the pool. */
void dp_upconn_free(struct dp_upconn *up);
/* Number of idle connections (tests, status). */
size_t dp_pool_idle(const struct dp_pool *p);

/* dp_conn.c: ends a request's life (back to the worker's free list). */
void dp_req_free(struct dp_req *r);

/* dp_conn.c: frees the worker's cached requests (at worker exit). */
void dp_conn_free_req_cache(struct dp_worker *w);

/* Header block helpers (dp_conn.c). */
void dp_hblock_reset(struct dp_hblock *b, size_t max);
void dp_hblock_init(struct dp_hblock *b, size_t max);
void dp_hblock_cleanup(struct dp_hblock *b);
/* Appends a piece of a header name (value=false) or value; GW_ERR_TOOBIG past max. */
enum gw_err dp_hblock_add(struct dp_hblock *b, const char *at, size_t len, bool value);
/* Finds header lname (lowercase) from index from; returns its index or -1. */
int dp_hblock_find(const struct dp_hblock *b, const char *lname, size_t nlen, size_t from);
/* True if header i's value contains token (comma-separated, case-insensitive). */
bool dp_hblock_has_token(const struct dp_hblock *b, size_t i, const char *token);

#endif
