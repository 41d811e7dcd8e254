/* dp/dp_conn.c: the client side of the proxy: accepting, parsing requests with llhttp (limits,
 * smuggling checks, keep-alive, pipelining, Expect: 100-continue), routing and the responses
 * Portico generates itself.
 * SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_error_body.h"
#include "dp_http.h"
#include "dp_req_plugins.h"
#include "dp_metrics.h"
#include "dp_wbuf.h"
#include "dp_worker.h"
#include "gw_log.h"
#include "gw_time.h"
#include "tls/dp_tls_server.h"

#define FEED_MAX (64 * 1024)

/* ---- header blocks ---------------------------------------------------------------------- */

void dp_hblock_init(struct dp_hblock *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void dp_hblock_cleanup(struct dp_hblock *b)
{
    free(b->buf);
    free(b->h);
    memset(b, 0, sizeof(*b));
}

static enum gw_err hb_append(struct dp_hblock *b, const char *at, size_t len)
{
    if (len == 0)
        return GW_OK;
    if (b->len + len > b->max)
        return GW_ERR_TOOBIG;
    if (b->len + len > b->cap) {
        size_t n = b->cap ? b->cap * 2 : 1024;
        while (n < b->len + len)
            n *= 2;
        if (n > b->max)
            n = b->max;
        char *p = realloc(b->buf, n);
        if (!p)
            return GW_ERR_NOMEM;
        b->buf = p;
        b->cap = n;
    }
    memcpy(b->buf + b->len, at, len);
    b->len += len;
    return GW_OK;
}

enum gw_err dp_hblock_add(struct dp_hblock *b, const char *at, size_t len, bool value)
{
    if (!value && (b->n == 0 || b->in_value)) {
        if (b->n == b->capn) {
            size_t n = b->capn ? b->capn * 2 : 16;
            if (n > 1024)
                return GW_ERR_TOOBIG;
            struct dp_hspan *h = realloc(b->h, n * sizeof(*h));
            if (!h)
                return GW_ERR_NOMEM;
            b->h = h;
            b->capn = n;
        }
        struct dp_hspan *s = &b->h[b->n++];
        s->no = (uint32_t)b->len;
        s->nl = 0;
        s->vo = 0;
        s->vl = 0;
        b->in_value = false;
    }
    if (b->n == 0)
        return GW_ERR_INVALID;
    struct dp_hspan *s = &b->h[b->n - 1];
    if (value && !b->in_value) {
        s->vo = (uint32_t)b->len;
        b->in_value = true;
    }
    enum gw_err err = hb_append(b, at, len);
    if (err != GW_OK)
        return err;
    if (value)
        s->vl += (uint32_t)len;
    else
        s->nl += (uint32_t)len;
    return GW_OK;
}

int dp_hblock_find(const struct dp_hblock *b, const char *lname, size_t nlen, size_t from)
{
    for (size_t i = from; i < b->n; i++)
        if (b->h[i].nl == nlen && dp_token_ieq(b->buf + b->h[i].no, lname, nlen))
            return (int)i;
    return -1;
}

bool dp_hblock_has_token(const struct dp_hblock *b, size_t i, const char *token)
{
    const char *v = b->buf + b->h[i].vo, *end = v + b->h[i].vl;
    size_t tl = strlen(token);
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
    }
    return false;
}

/* ---- requests --------------------------------------------------------------------------- */

#define REQ_CACHE_MAX 64 /* finished requests kept per worker with their buffers */

void dp_hblock_reset(struct dp_hblock *b, size_t max)
{
    b->len = 0;
    b->n = 0;
    b->in_value = false;
    b->max = max;
}

/* Requests come from a per-worker free list that keeps their header buffers, so a request
 * on the hot path allocates nothing in the common case. */
static struct dp_req *req_new(struct dp_conn *c)
{
    struct dp_worker *w = c->w;
    struct dp_req *r = w->free_reqs;
    if (r) {
        w->free_reqs = r->next_free;
        w->nfree_reqs--;
        struct dp_hblock hb = r->hb, rb = r->rb;
        struct gw_buf head = r->head;
        char *path = r->path;
        size_t path_cap = r->path_cap;
        struct dp_req_plugins *plg = r->plg;
        memset(r, 0, sizeof(*r));
        r->plg = plg;
        r->hb = hb;
        r->rb = rb;
        r->head = head;
        r->path = path;
        r->path_cap = path_cap;
        dp_hblock_reset(&r->hb, w->set->client_max_header_size);
        dp_hblock_reset(&r->rb, 64 * 1024);
        gw_buf_reset(&r->head);
    } else {
        r = calloc(1, sizeof(*r));
        if (!r)
            return NULL;
        dp_hblock_init(&r->hb, w->set->client_max_header_size);
        dp_hblock_init(&r->rb, 64 * 1024);
        gw_buf_init(&r->head, 0);
    }
    r->c = c;
    r->t_start_us = gw_time_mono_us();
    dp_worker_request_id(w, r->id);
    return r;
}

void dp_req_free(struct dp_req *r)
{
    if (!r)
        return;
    dp_req_plugins_finish(r);
    if (r->up)
        dp_proxy_release(r, false);
    if (r->pending)
        evbuffer_free(r->pending);
    r->pending = NULL;
    free(r->hash_cookie);
    free(r->hash_tmp);
    dp_config_unref(r->cfg);
    struct dp_worker *w = r->c->w;
    if (w->nfree_reqs < REQ_CACHE_MAX && r->hb.cap <= 16384 && r->rb.cap <= 16384) {
        r->next_free = w->free_reqs;
        w->free_reqs = r;
        w->nfree_reqs++;
        return;
    }
    dp_hblock_cleanup(&r->hb);
    dp_hblock_cleanup(&r->rb);
    gw_buf_cleanup(&r->head);
    free(r->path);
    dp_req_plugins_free(r->plg);
    free(r);
}

void dp_conn_free_req_cache(struct dp_worker *w)
{
    while (w->free_reqs) {
        struct dp_req *r = w->free_reqs;
        w->free_reqs = r->next_free;
        dp_hblock_cleanup(&r->hb);
        dp_hblock_cleanup(&r->rb);
        gw_buf_cleanup(&r->head);
        free(r->path);
        dp_req_plugins_free(r->plg);
        free(r);
    }
    w->nfree_reqs = 0;
}

void dp_conn_set_timeout(struct dp_conn *c, enum dp_tmo kind, uint64_t ms)
{
    const struct dp_settings *set = c->w->set;
    c->tkind = kind;
    switch (kind) {
    case DP_TMO_IDLE:
        ms = (uint64_t)set->keepalive_timeout_s * 1000u;
        break;
    case DP_TMO_HEADER:
        ms = (uint64_t)set->client_header_timeout_s * 1000u;
        break;
    case DP_TMO_BODY:
        ms = (uint64_t)set->client_body_timeout_s * 1000u;
        break;
    case DP_TMO_TUNNEL:
        break;
    default:
        c->deadline_ms = 0;
        return;
    }
    c->deadline_ms = dp_worker_now_ms(c->w) + (ms ? ms : 1);
}

static int on_message_begin(llhttp_t *p)
{
    struct dp_conn *c = p->data;
    if (!c->req) {
        c->req = req_new(c);
        if (!c->req)
            return -1;
    }
    c->state = DP_CONN_REQUEST;
    dp_conn_set_timeout(c, DP_TMO_HEADER, 0);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct dp_conn *c = p->data;
    struct dp_req *r = c->req;
    if (r->url_l + len + 16 > c->w->set->client_header_buffer_size) {
        r->error_status = 414;
        return -1;
    }
    if (hb_append(&r->hb, at, len) != GW_OK) {
        r->error_status = 414;
        return -1;
    }
    r->url_l += (uint32_t)len;
    return 0;
}

static int header_piece(llhttp_t *p, const char *at, size_t len, bool value)
{
    struct dp_conn *c = p->data;
    struct dp_req *r = c->req;
    enum gw_err err = dp_hblock_add(&r->hb, at, len, value);
    if (err != GW_OK) {
        r->error_status = err == GW_ERR_NOMEM ? 500 : 431;
        return -1;
    }
    const struct dp_hspan *s = &r->hb.h[r->hb.n - 1];
    if ((size_t)s->nl + s->vl + 4 > c->w->set->client_header_buffer_size) {
        r->error_status = 431;
        return -1;
    }
    return 0;
}

/* true for the characters of an RFC 9110 token (tchar): DIGIT, ALPHA and !#$%&'*+-.^_`|~,
 * as a bitmap of the 128 ASCII codes */
static bool is_tchar(unsigned char ch)
{
    static const uint64_t tchar[2] = {0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull};
    return ch < 128 && (tchar[ch >> 6] >> (ch & 63)) & 1u;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct dp_conn *c = p->data;
    c->req->value_done = false;
    /* a field name is a token: "Transfer Encoding" must not reach an upstream that reads it
     * another way */
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)at[i])) {
            c->req->error_status = 400;
            return -1;
        }
    }
    return header_piece(p, at, len, false);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    /* obs-fold (a value continued on the next line) is refused, as RFC 9112 allows: llhttp
     * reports the continuation as more value after the value was complete. */
    struct dp_conn *c = p->data;
    bool after_lf = at > c->feed_base ? at[-1] == '\n' : c->feed_prev_last == '\n';
    if (c->req->value_done || after_lf || memchr(at, '\n', len) || memchr(at, '\r', len)) {
        c->req->error_status = 400;
        return -1;
    }
    return header_piece(p, at, len, true);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct dp_conn *c = p->data;
    c->req->value_done = true;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct dp_conn *c = p->data;
    struct dp_req *r = c->req;
    r->method = llhttp_get_method(p);
    r->http_major = llhttp_get_http_major(p);
    r->http_minor = llhttp_get_http_minor(p);
    if (r->http_major != 1) {
        r->error_status = 400; /* HTTP/0.9 and unknown versions */
        return -1;
    }
    r->keepalive = llhttp_should_keep_alive(p) && c->w->set->keepalive_timeout_s > 0;
    r->chunked = (p->flags & F_CHUNKED) != 0;
    r->upgrade = p->upgrade != 0;
    /* Like nginx: HTTP/1.1 needs exactly one Host header. */
    int host = dp_hblock_find(&r->hb, "host", 4, 0);
    if ((host < 0 && r->http_minor >= 1) ||
        (host >= 0 && dp_hblock_find(&r->hb, "host", 4, (size_t)host + 1) >= 0)) {
        r->error_status = 400;
        return -1;
    }
    /* Duplicate Content-Length headers, even equal ones, are a smuggling vector. CONNECT is
     * not proxied: a gateway has no tunnel to offer, and forwarding it would ask the upstream
     * for one. */
    int cl = dp_hblock_find(&r->hb, "content-length", 14, 0);
    if ((cl >= 0 && dp_hblock_find(&r->hb, "content-length", 14, (size_t)cl + 1) >= 0) ||
        r->method == HTTP_CONNECT) {
        r->error_status = 400;
        return -1;
    }
    uint64_t max = c->w->set->client_max_body_size;
    if (max && (p->flags & F_CONTENT_LENGTH) && p->content_length > max) {
        r->error_status = 413;
        return -1;
    }
    int ex = dp_hblock_find(&r->hb, "expect", 6, 0);
    if (ex >= 0) {
        if (r->hb.h[ex].vl == 12 &&
            strncasecmp(r->hb.buf + r->hb.h[ex].vo, "100-continue", 12) == 0)
            r->expect_continue = r->http_major == 1 && r->http_minor >= 1;
    }
    r->headers_done = true;
    bool body = r->chunked || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
    dp_conn_set_timeout(c, body ? DP_TMO_BODY : DP_TMO_NONE, 0);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct dp_conn *c = p->data;
    struct dp_req *r = c->req;
    r->body_read += len;
    uint64_t max = c->w->set->client_max_body_size;
    if (max && r->body_read > max) {
        r->error_status = 413;
        return -1;
    }
    if (r->chunked && p->content_length == 0) {
        /* The chunk's data ends here and CRLF must follow. llhttp 8.1 skips those two bytes
         * without looking at them, so "5\r\nhelloXX0\r\n\r\n" would end the body early and
         * make what follows a new request: check them here (the rest of this input chunk) and
         * at the start of the next one (crlf_left). */
        const char *q = at + len;
        size_t k = 0;
        for (; k < 2 && q < c->feed_end; k++, q++) {
            if (*q != "\r\n"[k]) {
                r->error_status = 400;
                return -1;
            }
        }
        c->crlf_left = (uint8_t)(2 - k);
    }
    if (!r->pending && !(r->pending = evbuffer_new()))
        return -1;
    if (r->chunked) {
        char ch[24];
        evbuffer_add(r->pending, ch, dp_wb_chunk_head(ch, len));
    }
    evbuffer_add(r->pending, at, len);
    if (r->chunked)
        evbuffer_add(r->pending, "\r\n", 2);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct dp_conn *c = p->data;
    struct dp_req *r = c->req;
    if (r->chunked) {
        if (!r->pending && !(r->pending = evbuffer_new()))
            return -1;
        evbuffer_add(r->pending, "0\r\n\r\n", 5);
    }
    r->msg_complete = true;
    if (r->dispatched || r->headers_done)
        dp_conn_set_timeout(c, DP_TMO_NONE, 0);
    return HPE_PAUSED;
}

static const llhttp_settings_t req_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_header_value_complete = on_header_value_complete,
};

/* ---- generated responses ------------------------------------------------------------------ */

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "Request-URI Too Large";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

static const char *default_message(int status)
{
    switch (status) {
    case 400:
        return "Bad request";
    case 404:
        return "Not found";
    case 408:
        return "Request timeout";
    case 413:
        return "Request size limit exceeded";
    case 414:
        return "URI too long";
    case 431:
        return "Request header or cookie too large";
    case 502:
        return "An invalid response was received from the upstream server";
    case 503:
        return "The upstream server is currently unavailable";
    case 504:
        return "The upstream server is timing out";
    default:
        return "An unexpected error occurred";
    }
}

void dp_conn_respond(struct dp_conn *c, int status, const char *message, const char *extra)
{
    struct dp_req *r = c->req;
    if (!r || r->resp_started) {
        dp_conn_close(c);
        return;
    }
    if (!message)
        message = default_message(status);
    if (r->up)
        dp_proxy_release(r, false);
    if (!r->msg_complete || status == 400 || status == 408 || status == 413 || status == 414 ||
        status == 431 || c->w->draining || !r->keepalive)
        c->close_after = true;
    bool head = r->headers_done && r->method == HTTP_HEAD;
    /* the format the client accepts, as kong.response.error chooses it */
    enum dp_error_type type = DP_ERROR_JSON;
    double best_q = 0;
    for (int i = r->headers_done ? dp_hblock_find(&r->hb, "accept", 6, 0) : -1; i >= 0;
         i = dp_hblock_find(&r->hb, "accept", 6, (size_t)i + 1))
        type = dp_error_type_from_accept(r->hb.buf + r->hb.h[i].vo, r->hb.h[i].vl, type, &best_q);
    struct gw_buf body;
    gw_buf_init(&body, 4096);
    if (dp_error_body(&body, type, message, r->id) != GW_OK) {
        gw_buf_cleanup(&body);
        dp_conn_close(c);
        return;
    }
    uint64_t lat = (gw_time_mono_us() - r->t_start_us) / 1000;
    struct evbuffer *out = dp_io_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                        "Content-Length: %zu\r\n%sServer: portico/" PORTICO_VERSION "\r\n"
                        "X-Portico-Response-Latency: %llu\r\nX-Portico-Request-Id: %s\r\n%s",
                        status, reason(status), dp_error_content_type(type), body.len,
                        c->close_after ? "Connection: close\r\n"
                        : (r->http_major == 1 && r->http_minor == 0 && r->keepalive)
                            ? "Connection: keep-alive\r\n"
                            : "",
                        (unsigned long long)lat, r->id, extra ? extra : "");
    if (r->plg) { /* e.g. rate-limiting's headers on a 502 (no-op when inactive) */
        struct gw_buf ph;
        gw_buf_init(&ph, 64 * 1024);
        dp_req_plugins_response_headers(r, &ph);
        if (ph.len)
            evbuffer_add(out, ph.data, ph.len);
        gw_buf_cleanup(&ph);
    }
    evbuffer_add(out, "\r\n", 2);
    if (!head)
        evbuffer_add(out, body.data, body.len);
    gw_buf_cleanup(&body);
    r->status = status;
    r->resp_started = true;
    r->resp_complete = true;
    dp_conn_request_done(c);
}

void dp_conn_respond_raw(struct dp_conn *c, int status, const char *headers, size_t hlen,
                         const char *body, size_t len)
{
    struct dp_req *r = c->req;
    if (!r || r->resp_started) {
        dp_conn_close(c);
        return;
    }
    if (r->up)
        dp_proxy_release(r, false);
    if (!r->msg_complete || c->w->draining)
        c->close_after = true;
    bool head = r->method == HTTP_HEAD;
    uint64_t lat = (gw_time_mono_us() - r->t_start_us) / 1000;
    struct evbuffer *out = dp_io_get_output(c->bev);
    /* no printf on this path (a cache hit is served from here): the head is built with the
     * dp_wbuf appenders behind whatever the worker's scratch buffer already holds */
    struct gw_buf *o = &c->w->scratch;
    size_t base = o->len;
    if (gw_buf_reserve(o, hlen + 256 + sizeof(r->id)) != GW_OK) {
        dp_conn_close(c);
        return;
    }
    DP_WB_LIT(o, "HTTP/1.1 ");
    dp_wb_u64(o, (uint64_t)(status > 0 ? status : 0));
    DP_WB_LIT(o, " ");
    dp_wb_str(o, reason(status));
    DP_WB_LIT(o, "\r\n");
    dp_wb_mem(o, headers, hlen);
    DP_WB_LIT(o, "Content-Length: ");
    dp_wb_u64(o, len);
    DP_WB_LIT(o, "\r\n");
    if (c->close_after)
        DP_WB_LIT(o, "Connection: close\r\n");
    else if (r->http_major == 1 && r->http_minor == 0 && r->keepalive)
        DP_WB_LIT(o, "Connection: keep-alive\r\n");
    DP_WB_LIT(o, "Server: portico/" PORTICO_VERSION "\r\nX-Portico-Response-Latency: ");
    dp_wb_u64(o, lat);
    DP_WB_LIT(o, "\r\nX-Portico-Request-Id: ");
    dp_wb_mem(o, r->id, strnlen(r->id, sizeof(r->id)));
    DP_WB_LIT(o, "\r\n\r\n");
    const char *hd = o->data + base;
    size_t hn = o->len - base, blen = head ? 0 : len, total = hn + blen;
    struct evbuffer_iovec v;
    if (total <= 64 * 1024 && evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) == 1 &&
        v.iov_len >= total) { /* one copy into one chain (a cache hit's usual case) */
        memcpy(v.iov_base, hd, hn);
        if (blen)
            memcpy((char *)v.iov_base + hn, body, blen);
        v.iov_len = total;
        evbuffer_commit_space(out, &v, 1);
    } else {
        evbuffer_add(out, hd, hn);
        if (blen)
            evbuffer_add(out, body, blen);
    }
    o->len = base; /* what was there before stays */
    o->data[base] = '\0';
    r->status = status;
    r->resp_started = true;
    r->resp_complete = true;
    dp_conn_request_done(c);
}

/* ---- connection lifecycle ------------------------------------------------------------------ */

static void conn_free(struct dp_conn *c)
{
    struct dp_worker *w = c->w;
    if (c->next)
        c->next->prev = c->prev;
    if (c->prev)
        c->prev->next = c->next;
    else if (w->conns == c)
        w->conns = c->next;
    w->nconns--;
    free(c);
    atomic_fetch_sub_explicit(&dp_metrics.conns_active, 1, memory_order_relaxed);
    dp_worker_conn_gone(w);
}

void dp_conn_close(struct dp_conn *c)
{
    if (c->destroyed)
        return;
    c->destroyed = true;
    if (c->req) {
        struct dp_req *r = c->req;
        c->req = NULL;
        if (r->headers_done && !r->resp_complete)
            dp_metrics_request(r->svc ? r->svc->metrics : NULL, r->status ? r->status : 499);
        dp_req_free(r);
    }
    if (c->tunnel) {
        dp_upconn_free(c->tunnel);
        c->tunnel = NULL;
    }
    if (c->bev) {
        dp_io_free(c->bev);
        c->bev = NULL;
    }
    if (!c->in_process)
        conn_free(c);
}

void dp_conn_close_idle(struct dp_worker *w)
{
    struct dp_conn *c = w->conns;
    while (c) {
        struct dp_conn *next = c->next;
        if (c->state == DP_CONN_IDLE && !c->req)
            dp_conn_close(c);
        c = next;
    }
}

static void start_closing(struct dp_conn *c)
{
    c->state = DP_CONN_CLOSING;
    dp_io_disable(c->bev, EV_READ);
    if (dp_io_output_len(c->bev) == 0) {
        dp_conn_close(c);
        return;
    }
    dp_io_setwatermark(c->bev, EV_WRITE, 0, 0);
}

void dp_conn_request_done(struct dp_conn *c)
{
    struct dp_req *r = c->req;
    if (!r)
        return;
    dp_metrics_request(r->svc ? r->svc->metrics : NULL, r->status);
    if (!r->msg_complete || !r->keepalive || c->w->set->keepalive_timeout_s == 0)
        c->close_after = true; /* keepalive_timeout = 0 disables client keep-alive */
    c->req = NULL;
    dp_req_free(r);
    if (c->close_after || c->w->draining) {
        start_closing(c);
        return;
    }
    c->state = DP_CONN_IDLE;
    dp_conn_set_timeout(c, DP_TMO_IDLE, 0);
    if (c->paused) {
        c->paused = false;
        llhttp_resume(&c->p);
    }
    if (c->read_blocked) {
        c->read_blocked = false;
    }
    dp_io_enable(c->bev, EV_READ);
    dp_conn_process(c);
}

/* Splits the Host header into a lowercase host without port. */
/* Sets r->host to the host part of v (an authority: host, host:port or [v6]:port), lower-cased
 * into r->hostbuf and truncated to its size. */
static void set_host(struct dp_req *r, const char *v, size_t n)
{
    if (n && v[0] == '[') {
        const char *rb = memchr(v, ']', n);
        if (rb)
            n = (size_t)(rb - v) + 1;
    } else {
        const char *colon = memchr(v, ':', n);
        if (colon)
            n = (size_t)(colon - v);
    }
    if (n >= sizeof(r->hostbuf))
        n = sizeof(r->hostbuf) - 1;
    for (size_t i = 0; i < n; i++)
        r->hostbuf[i] = (char)tolower((unsigned char)v[i]);
    r->hostbuf[n] = '\0';
    r->host = r->hostbuf;
    r->host_len = n;
}

static void request_host(struct dp_req *r)
{
    int h = dp_hblock_find(&r->hb, "host", 4, 0);
    r->host_len = 0;
    r->host = r->hostbuf;
    if (h < 0)
        return;
    set_host(r, r->hb.buf + r->hb.h[h].vo, r->hb.h[h].vl);
}

/* The end of dispatch: plugins (access phase), then proxying. */
static void dispatch_plugins(struct dp_conn *c)
{
    struct dp_req *r = c->req;
    if (dp_req_plugins_access(r))
        return; /* answered by a plugin; r is gone */
    if (r->expect_continue && !r->msg_complete) {
        evbuffer_add(dp_io_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
        r->expect_continue = false;
    }
    dp_proxy_start(r);
}

/* Kong's forwarded_proto: https for a TLS connection, or when a trusted peer says so in
 * X-Forwarded-Proto (a TLS-terminating balancer in front). */
static bool forwarded_https(const struct dp_conn *c, const struct dp_req *r)
{
    if (c->tls)
        return true;
    if (!dp_settings_is_trusted(c->w->set, c->peer_ip))
        return false;
    int i = dp_hblock_find(&r->hb, "x-forwarded-proto", 17, 0);
    return i >= 0 && r->hb.h[i].vl == 5 && strncasecmp(r->hb.buf + r->hb.h[i].vo, "https", 5) == 0;
}

static void dispatch(struct dp_conn *c)
{
    struct dp_req *r = c->req;
    r->dispatched = true;
    struct dp_config *cfg = dp_worker_config(c->w);
    if (cfg) {
        dp_config_ref(cfg);
        r->cfg = cfg;
    }
    /* Request target: origin-form, or absolute-form whose authority replaces the Host header
     * (RFC 9112 3.2.2); from here on url_o/url_l point at the origin-form part. */
    const char *url = r->hb.buf + r->url_o;
    size_t ulen = r->url_l;
    const char *authority = NULL;
    size_t alen = 0;
    if (ulen > 7 && strncasecmp(url, "http://", 7) == 0) {
        const char *slash = memchr(url + 7, '/', ulen - 7);
        if (!slash) {
            dp_conn_respond(c, 400, NULL, NULL);
            return;
        }
        authority = url + 7;
        alen = (size_t)(slash - authority);
        r->url_o += (uint32_t)(slash - url);
        r->url_l -= (uint32_t)(slash - url);
        url = slash;
        ulen = r->url_l;
    }
    const char *q = memchr(url, '?', ulen);
    size_t plen = q ? (size_t)(q - url) : ulen;
    if (r->path_cap < plen + 2) {
        char *np = realloc(r->path, plen + 2);
        if (!np) {
            dp_conn_respond(c, 500, NULL, NULL);
            return;
        }
        r->path = np;
        r->path_cap = plen + 2;
    }
    r->path_len = dp_router_normalize_path(url, plen, r->path, plen + 2);
    if (!r->path_len) {
        dp_conn_respond(c, 400, NULL, NULL);
        return;
    }
    request_host(r);
    if (authority) {
        const char *at = memchr(authority, '@', alen);
        if (at) {
            alen -= (size_t)(at + 1 - authority);
            authority = at + 1;
        }
        set_host(r, authority, alen);
    }
    if (!cfg) {
        dp_conn_respond(c, 404, "no Route matched with those values", NULL);
        return;
    }
    struct dp_hdr stackh[32], *hdrs = stackh;
    if (r->hb.n > 32 && !(hdrs = malloc(r->hb.n * sizeof(*hdrs)))) {
        dp_conn_respond(c, 500, NULL, NULL);
        return;
    }
    for (size_t i = 0; i < r->hb.n; i++) {
        hdrs[i].name = r->hb.buf + r->hb.h[i].no;
        hdrs[i].nlen = r->hb.h[i].nl;
        hdrs[i].value = r->hb.buf + r->hb.h[i].vo;
        hdrs[i].vlen = r->hb.h[i].vl;
    }
    struct dp_router_req rq = {
        .method = llhttp_method_name((llhttp_method_t)r->method),
        .host = r->host,
        .host_len = r->host_len,
        .dst_port = c->local_port,
        .sni = c->tls ? dp_tls_server_sni(dp_io_get_tls(c->bev)) : NULL,
        .path = r->path,
        .path_len = r->path_len,
        .headers = hdrs,
        .nheaders = r->hb.n,
    };
    rq.method_len = strlen(rq.method);
    bool found = dp_router_find(cfg->router, &rq, c->w->md, &r->match);
    if (hdrs != stackh)
        free(hdrs);
    if (!found) {
        dp_conn_respond(c, 404, "no Route matched with those values", NULL);
        return;
    }
    r->route = r->match.route;
    if (!r->route->proto_http && !forwarded_https(c, r)) {
        int code = r->route->https_redirect_status_code;
        if (code == 426) {
            dp_conn_respond(c, 426, "Please use HTTPS protocol",
                            "Upgrade: TLS/1.2, HTTP/1.1\r\nConnection: Upgrade\r\n");
        } else {
            char loc[512];
            snprintf(loc, sizeof(loc), "Location: https://%.*s%.*s\r\n", (int)r->host_len, r->host,
                     (int)(r->url_l > 400 ? 400 : r->url_l), r->hb.buf + r->url_o);
            dp_conn_respond(c, code, "Moved", loc);
        }
        return;
    }
    r->svc = r->route->service;
    if (!r->svc) {
        dp_conn_respond(c, 503, "no Service found with those values", NULL);
        return;
    }
    if (dp_req_plugins_wait_body(r)) {
        /* a plugin reads the body (key_in_body): run the plugins once it is all here */
        if (r->expect_continue) {
            evbuffer_add(dp_io_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
            r->expect_continue = false;
        }
        r->plg_wait_body = true;
        return;
    }
    dispatch_plugins(c);
}

static int parse_error_status(struct dp_req *r, llhttp_errno_t err)
{
    if (r && r->error_status)
        return r->error_status;
    (void)err;
    return 400;
}

void dp_conn_process(struct dp_conn *c)
{
    if (c->in_process || c->destroyed)
        return;
    c->in_process = true;
    while (!c->destroyed) {
        if (c->state == DP_CONN_TUNNEL || c->state == DP_CONN_CLOSING)
            break;
        struct dp_req *r = c->req;
        if (r && r->headers_done && !r->dispatched) {
            dispatch(c);
            continue;
        }
        if (r && r->plg_wait_body && r->msg_complete) {
            r->plg_wait_body = false;
            dispatch_plugins(c);
            continue;
        }
        if (r && r->dispatched && r->up_ready && r->pending && !r->pending_kept &&
            evbuffer_get_length(r->pending))
            dp_proxy_push_body(r);
        if (r && r->dispatched && !r->msg_complete) {
            size_t queued = r->up_ready  ? dp_proxy_backlog(r)
                            : r->pending ? evbuffer_get_length(r->pending)
                                         : 0;
            if (queued > DP_HIGH_WATER) {
                c->read_blocked = true;
                dp_io_disable(c->bev, EV_READ);
                break;
            }
        }
        if (c->paused)
            break;
        struct evbuffer *in = dp_io_get_input(c->bev);
        size_t avail = evbuffer_get_length(in);
        if (!avail)
            break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t len = v.iov_len > FEED_MAX ? FEED_MAX : v.iov_len;
        const char *base = v.iov_base;
        c->feed_base = base;
        c->feed_end = base + len;
        llhttp_errno_t err = HPE_OK;
        const char *why = NULL;
        for (size_t i = 0; c->crlf_left && i < len; i++, c->crlf_left--) {
            if (base[i] != "\r\n"[2 - c->crlf_left]) {
                if (c->req)
                    c->req->error_status = 400;
                c->crlf_left = 0;
                err = HPE_INVALID_CHUNK_SIZE;
                why = "Expected CRLF after chunk data";
                break;
            }
        }
        if (err == HPE_OK)
            err = llhttp_execute(&c->p, base, len);
        c->feed_prev_last = base[len - 1];
        size_t consumed = len;
        if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
            consumed = (size_t)(llhttp_get_error_pos(&c->p) - base);
            c->paused = true;
        } else if (err != HPE_OK) {
            evbuffer_drain(in, len);
            int status = parse_error_status(c->req, err);
            if (!why)
                why = llhttp_get_error_reason(&c->p);
            GW_LOG(GW_LOG_INFO, "bad request client=%s status=%d error=%s reason=\"%s\"",
                   c->peer_ip, status, llhttp_errno_name(err), why ? why : "");
            if (!c->req && !(c->req = req_new(c))) {
                dp_conn_close(c);
                break;
            }
            c->close_after = true;
            if (c->req->resp_started)
                dp_conn_close(c);
            else
                dp_conn_respond(c, status, NULL, NULL);
            break;
        }
        evbuffer_drain(in, consumed);
    }
    c->in_process = false;
    if (c->destroyed)
        conn_free(c);
}

static void client_read_cb(struct dp_io *bev, void *arg)
{
    struct dp_conn *c = arg;
    if (c->tkind == DP_TMO_BODY)
        dp_conn_set_timeout(c, DP_TMO_BODY, 0);
    if (c->state == DP_CONN_TUNNEL) {
        if (c->tkind == DP_TMO_TUNNEL)
            c->deadline_ms = dp_worker_now_ms(c->w) + c->tunnel_ms;
        if (c->tunnel) {
            struct evbuffer *out = dp_io_get_output(c->tunnel->bev);
            evbuffer_add_buffer(out, dp_io_get_input(bev));
            if (evbuffer_get_length(out) > DP_HIGH_WATER)
                dp_io_disable(bev, EV_READ);
        }
        return;
    }
    dp_conn_process(c);
}

static void client_write_cb(struct dp_io *bev, void *arg)
{
    struct dp_conn *c = arg;
    if (c->state == DP_CONN_CLOSING) {
        if (dp_io_output_len(bev) == 0)
            dp_conn_close(c);
        return;
    }
    if (c->state == DP_CONN_TUNNEL) {
        if (c->tunnel)
            dp_io_enable(c->tunnel->bev, EV_READ);
        return;
    }
    if (c->req)
        dp_proxy_client_drained(c->req);
}

static void client_event_cb(struct dp_io *bev, short what, void *arg)
{
    struct dp_conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_EOF) {
        struct dp_req *r = c->req;
        if (c->state == DP_CONN_TUNNEL) {
            if (c->tunnel) {
                /* flush what is left, then close both */
                dp_conn_close(c);
                return;
            }
        }
        if (r && r->msg_complete && r->dispatched && !r->resp_complete) {
            /* half-close after a full request: answer, then close */
            c->close_after = true;
            dp_io_disable(c->bev, EV_READ);
            return;
        }
    }
    dp_conn_close(c);
}

static void on_timeout(struct dp_conn *c)
{
    struct dp_req *r = c->req;
    if (r && !r->resp_started && c->state == DP_CONN_REQUEST &&
        (c->tkind == DP_TMO_HEADER || c->tkind == DP_TMO_BODY)) {
        GW_LOG(GW_LOG_INFO, "client timed out client=%s", c->peer_ip);
        c->close_after = true;
        dp_conn_respond(c, 408, NULL, NULL);
        return;
    }
    dp_conn_close(c);
}

void dp_conn_tick(struct dp_worker *w, uint64_t now)
{
    struct dp_conn *c = w->conns;
    while (c) {
        struct dp_conn *next = c->next;
        if (c->deadline_ms && now >= c->deadline_ms) {
            c->deadline_ms = 0;
            on_timeout(c);
        } else if (c->req && c->req->up_deadline_ms && now >= c->req->up_deadline_ms) {
            c->req->up_deadline_ms = 0;
            dp_proxy_timeout(c->req);
        } else if (c->bev) {
            /* send timeout: a client that does not read its response for 60 s goes */
            size_t out = dp_io_output_len(c->bev);
            if (out == 0 || out != c->out_seen) {
                c->out_seen = out;
                c->out_since_ms = now;
            } else if (now - c->out_since_ms > 60000) {
                GW_LOG(GW_LOG_INFO, "client not reading, closing client=%s", c->peer_ip);
                dp_conn_close(c);
            }
        }
        c = next;
    }
}

void dp_conn_accept(struct dp_worker *w, evutil_socket_t fd, const struct sockaddr *sa,
                    int local_port, bool tls)
{
    struct dp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->w = w;
    c->local_port = local_port;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, c->peer_ip, sizeof(c->peer_ip));
        c->peer_port = ntohs(s->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, c->peer_ip, sizeof(c->peer_ip));
        c->peer_port = ntohs(s->sin6_port);
    }
    c->bev = dp_io_socket_new(w->io, fd);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    if (tls) {
        struct dp_tls_io *t = dp_tls_server_accept(w, fd);
        if (!t) {
            dp_io_free(c->bev);
            free(c);
            return;
        }
        dp_io_set_tls(c->bev, t);
        c->tls = true;
    }
    llhttp_init(&c->p, HTTP_REQUEST, &req_settings);
    c->p.data = c;
    dp_io_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
    dp_io_setwatermark(c->bev, EV_WRITE, DP_LOW_WATER, 0);
    dp_io_setwatermark(c->bev, EV_READ, 0, DP_HIGH_WATER);
    dp_conn_set_timeout(c, DP_TMO_IDLE, 0);
    dp_io_enable(c->bev, EV_READ | EV_WRITE);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    atomic_fetch_add_explicit(&dp_metrics.conns_active, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dp_metrics.conns_total, 1, memory_order_relaxed);
}
