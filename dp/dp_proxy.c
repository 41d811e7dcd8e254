/* dp/dp_proxy.c: the upstream side of the proxy: picking a peer (balancer or plain service),
 * reusing or opening a connection, writing the rewritten request, streaming the body, parsing
 * and forwarding the response, retries on connection errors and timeouts, websocket tunnels.
 * SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "balancer/dp_lb_state.h"
#include "dp_http.h"
#include "dp_req_plugins.h"
#include "dp_metrics.h"
#include "dp_wbuf.h"
#include "dp_worker.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_uuid.h"
#include "tls/dp_tls_store.h"
#include "health/dp_health.h"

#define VIA_TOKEN "1.1 portico/" PORTICO_VERSION

static void up_read_cb(struct dp_io *bev, void *arg);
static void up_write_cb(struct dp_io *bev, void *arg);
static void up_event_cb(struct dp_io *bev, short what, void *arg);
static void try_next(struct dp_req *r);
static void fail_try(struct dp_req *r, bool timeout, const char *why);

/* ---- request head --------------------------------------------------------------------------- */

/* Header names the proxy treats specially, classified once by length then compared. */
enum hname {
    H_OTHER = 0,
    H_HOP, /* connection, keep-alive, proxy-connection, te, trailer, transfer-encoding */
    H_UPGRADE,
    H_HOST,
    H_CONTENT_LENGTH,
    H_EXPECT,
    H_VIA,
    H_SERVER,
    H_X_REAL_IP,
    H_X_FORWARDED, /* x-forwarded-* */
    H_REQUEST_ID,  /* x-portico-request-id */
    H_COUNT_       /* keep last */
};

#define IS(lit) (l == sizeof(lit) - 1 && dp_token_ieq(n, lit, sizeof(lit) - 1))

static enum hname classify(const char *n, size_t l)
{
    switch (l) {
    case 2:
        return IS("te") ? H_HOP : H_OTHER;
    case 3:
        return IS("via") ? H_VIA : H_OTHER;
    case 4:
        return IS("host") ? H_HOST : H_OTHER;
    case 6:
        return IS("expect") ? H_EXPECT : IS("server") ? H_SERVER : H_OTHER;
    case 7:
        return IS("upgrade") ? H_UPGRADE : IS("trailer") ? H_HOP : H_OTHER;
    case 9:
        return IS("x-real-ip") ? H_X_REAL_IP : H_OTHER;
    case 10:
        return IS("connection") || IS("keep-alive") ? H_HOP : H_OTHER;
    case 14:
        return IS("content-length") ? H_CONTENT_LENGTH : H_OTHER;
    case 16:
        return IS("proxy-connection") ? H_HOP : H_OTHER;
    case 17:
        return IS("transfer-encoding") ? H_HOP : H_OTHER;
    case 20:
        if (IS("x-portico-request-id"))
            return H_REQUEST_ID;
        break;
    default:
        break;
    }
    if (l > 12 && dp_token_ieq(n, "x-forwarded-", 12))
        return H_X_FORWARDED;
    return H_OTHER;
}

#undef IS

/* True if header name n is listed in one of the Connection headers of b. */
static bool in_connection(const struct dp_hblock *b, const char *n, size_t l)
{
    char tok[64];
    if (l >= sizeof(tok))
        return false;
    memcpy(tok, n, l);
    tok[l] = '\0';
    for (int i = dp_hblock_find(b, "connection", 10, 0); i >= 0;
         i = dp_hblock_find(b, "connection", 10, (size_t)i + 1))
        if (dp_hblock_has_token(b, (size_t)i, tok))
            return true;
    return false;
}

/* True if a Connection header of b names something other than close, keep-alive or upgrade
 * (only then is every header checked against it). */
static bool connection_lists_headers(const struct dp_hblock *b)
{
    for (int i = dp_hblock_find(b, "connection", 10, 0); i >= 0;
         i = dp_hblock_find(b, "connection", 10, (size_t)i + 1)) {
        const char *v = b->buf + b->h[i].vo, *end = v + b->h[i].vl;
        while (v < end) {
            while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
                v++;
            const char *s = v;
            while (v < end && *v != ',' && *v != ' ' && *v != '\t')
                v++;
            size_t l = (size_t)(v - s);
            if (l && !(l == 5 && dp_token_ieq(s, "close", 5)) &&
                !(l == 10 && dp_token_ieq(s, "keep-alive", 10)) &&
                !(l == 7 && dp_token_ieq(s, "upgrade", 7)))
                return true;
        }
    }
    return false;
}

static const char *hval(const struct dp_hblock *b, const char *lname, size_t *len)
{
    int i = dp_hblock_find(b, lname, strlen(lname), 0);
    if (i < 0)
        return NULL;
    *len = b->h[i].vl;
    return b->buf + b->h[i].vo;
}

static enum gw_err build_head(struct dp_req *r)
{
    struct dp_conn *c = r->c;
    const struct dp_settings *set = c->w->set;
    const struct dp_hblock *b = &r->hb;
    struct gw_buf *h = &r->head; /* bounded by the client header limits it is built from */
    gw_buf_reset(h);
    /* Upstream URI: service path joining and strip_path on the normalised path; query as is. */
    const char *url = b->buf + r->url_o;
    const char *q = memchr(url, '?', r->url_l);
    size_t qlen = q ? r->url_l - (size_t)(q - url) : 0;
    const char *pq = dp_req_plugins_query(r); /* a plugin's new query string, without '?' */
    const char *url_q = q;                    /* the client's, for X-Forwarded-Path */
    if (pq) {
        q = pq[0] ? pq : NULL;
        qlen = pq[0] ? strlen(pq) + 1 : 0;
    }
    size_t splen = r->svc->path ? strlen(r->svc->path) : 1;
    size_t cap = r->path_len + splen + 4;
    if (gw_buf_reserve(h, cap + qlen + b->len + 1024) != GW_OK)
        return GW_ERR_NOMEM;
    dp_wb_str(h, llhttp_method_name((llhttp_method_t)r->method));
    DP_WB_LIT(h, " ");
    /* the path is written straight into the reserved space */
    size_t uplen = dp_router_upstream_path(r->route, r->svc->path, r->path, r->path_len,
                                           r->match.prefix_len, h->data + h->len, cap);
    h->len += uplen;
    if (pq && qlen) {
        DP_WB_LIT(h, "?");
        dp_wb_mem(h, pq, qlen - 1);
    } else {
        dp_wb_mem(h, q ? q : "", qlen);
    }
    q = url_q;
    DP_WB_LIT(h, " HTTP/1.1\r\n");
    r->head_split = h->len; /* the Host line goes here, per try */

    bool trusted = dp_settings_is_trusted(set, c->peer_ip);
    size_t xff_len = 0, via_len = 0;
    const char *xff = hval(b, "x-forwarded-for", &xff_len);
    const char *via = hval(b, "via", &via_len);
    bool conn_tokens = connection_lists_headers(b);
    for (size_t i = 0; i < b->n; i++) {
        const struct dp_hspan *s = &b->h[i];
        const char *n = b->buf + s->no;
        enum hname k = classify(n, s->nl);
        if ((k != H_OTHER && k != H_SERVER) || (conn_tokens && in_connection(b, n, s->nl)) ||
            dp_req_plugins_header_edited(r, n, s->nl))
            continue;
        dp_wb_mem(h, n, s->nl);
        DP_WB_LIT(h, ": ");
        dp_wb_mem(h, b->buf + s->vo, s->vl);
        DP_WB_LIT(h, "\r\n");
    }
    /* Real client address: real_ip_header is honoured only from trusted peers. */
    const char *real = c->peer_ip;
    size_t real_len = strlen(real);
    if (trusted) {
        char lname[64];
        size_t ln = strlen(set->real_ip_header);
        if (ln < sizeof(lname)) {
            for (size_t i = 0; i <= ln; i++)
                lname[i] = (char)tolower((unsigned char)set->real_ip_header[i]);
            size_t vl;
            const char *v = hval(b, lname, &vl);
            if (v && vl) {
                const char *comma = NULL;
                for (size_t i = 0; i < vl; i++)
                    if (v[i] == ',')
                        comma = v + i;
                if (comma) {
                    vl -= (size_t)(comma + 1 - v);
                    v = comma + 1;
                }
                while (vl && (*v == ' ' || *v == '\t')) {
                    v++;
                    vl--;
                }
                real = v;
                real_len = vl;
            }
        }
    }
    DP_WB_LIT(h, "X-Forwarded-For: ");
    if (xff) {
        dp_wb_mem(h, xff, xff_len);
        DP_WB_LIT(h, ", ");
    }
    dp_wb_str(h, c->peer_ip);
    DP_WB_LIT(h, "\r\n");
    size_t vl;
    const char *v;
    if (trusted && (v = hval(b, "x-forwarded-proto", &vl)))
        DP_WB_HDR(h, "X-Forwarded-Proto: ", v, vl);
    else if (c->tls)
        DP_WB_LIT(h, "X-Forwarded-Proto: https\r\n");
    else
        DP_WB_LIT(h, "X-Forwarded-Proto: http\r\n");
    if (trusted && (v = hval(b, "x-forwarded-host", &vl)))
        DP_WB_HDR(h, "X-Forwarded-Host: ", v, vl);
    else if (r->host_len)
        DP_WB_HDR(h, "X-Forwarded-Host: ", r->host, r->host_len);
    if (trusted && (v = hval(b, "x-forwarded-port", &vl))) {
        DP_WB_HDR(h, "X-Forwarded-Port: ", v, vl);
    } else {
        DP_WB_LIT(h, "X-Forwarded-Port: ");
        dp_wb_u64(h, (uint64_t)c->local_port);
        DP_WB_LIT(h, "\r\n");
    }
    if (trusted && (v = hval(b, "x-forwarded-path", &vl)))
        DP_WB_HDR(h, "X-Forwarded-Path: ", v, vl);
    else
        DP_WB_HDR(h, "X-Forwarded-Path: ", url, q ? (size_t)(q - url) : r->url_l);
    if (trusted && (v = hval(b, "x-forwarded-prefix", &vl)))
        DP_WB_HDR(h, "X-Forwarded-Prefix: ", v, vl);
    else if (r->route->strip_path && r->match.prefix_len > 1)
        DP_WB_HDR(h, "X-Forwarded-Prefix: ", r->path, r->match.prefix_len);
    DP_WB_HDR(h, "X-Real-IP: ", real, real_len);
    DP_WB_LIT(h, "Via: ");
    if (via) {
        dp_wb_mem(h, via, via_len);
        DP_WB_LIT(h, ", ");
    }
    DP_WB_LIT(h, VIA_TOKEN "\r\n");
    DP_WB_HDR(h, "X-Portico-Request-Id: ", r->id, 32);
    dp_req_plugins_upstream_headers(r, h);
    uint64_t new_len;
    if (dp_req_plugins_body_len(r, &new_len)) {
        DP_WB_LIT(h, "Content-Length: ");
        dp_wb_u64(h, new_len);
        DP_WB_LIT(h, "\r\n");
    } else if (r->chunked) {
        DP_WB_LIT(h, "Transfer-Encoding: chunked\r\n");
    } else if (r->c->p.flags & F_CONTENT_LENGTH || r->body_read) {
        DP_WB_LIT(h, "Content-Length: ");
        dp_wb_u64(h, r->body_read + r->c->p.content_length);
        DP_WB_LIT(h, "\r\n");
    }
    if (r->upgrade && (v = hval(b, "upgrade", &vl))) {
        DP_WB_HDR(h, "Upgrade: ", v, vl);
        DP_WB_LIT(h, "Connection: Upgrade\r\n");
    } else {
        DP_WB_LIT(h, "Connection: keep-alive\r\n");
    }
    DP_WB_LIT(h, "\r\n");
    return h->data ? GW_OK : GW_ERR_NOMEM;
}

/* Host header for the upstream request (Kong's set_host_header). */
static void host_header(struct dp_req *r, char *out, size_t outlen)
{
    const struct dp_service *s = r->svc;
    if (r->route->preserve_host) {
        size_t vl;
        const char *v = hval(&r->hb, "host", &vl);
        if (v) {
            snprintf(out, outlen, "%.*s", (int)vl, v);
            return;
        }
    }
    const char *name;
    unsigned port = r->addr->port;
    if (s->upstream)
        name = s->upstream->host_header ? s->upstream->host_header : r->addr->target->name;
    else
        name = s->host;
    bool v6 = strchr(name, ':') != NULL;
    size_t nl = strlen(name), o = 0;
    if (nl + 10 > outlen) {
        out[0] = '\0';
        return;
    }
    if (v6)
        out[o++] = '[';
    memcpy(out + o, name, nl);
    o += nl;
    if (v6)
        out[o++] = ']';
    if (!((port == 80 && !s->https) || (port == 443 && s->https))) {
        char t[8];
        size_t k = 0;
        do {
            t[k++] = (char)('0' + port % 10);
            port /= 10;
        } while (port);
        out[o++] = ':';
        while (k)
            out[o++] = t[--k];
    }
    out[o] = '\0';
}

/* ---- consistent-hashing input ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool query_arg(struct dp_req *r, const char *name, const char **val, size_t *vlen)
{
    const char *url = r->hb.buf + r->url_o;
    const char *q = memchr(url, '?', r->url_l);
    if (!q)
        return false;
    const char *p = q + 1, *end = url + r->url_l;
    size_t nl = strlen(name);
    char *vals[16];
    size_t nv = 0, total = 0;
    while (p < end && nv < 16) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq ? eq : e;
        if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq ? eq + 1 : "true";
            size_t l = eq ? (size_t)(e - eq - 1) : 4;
            if (l) {
                vals[nv] = strndup(v, l);
                if (vals[nv]) {
                    total += l + 1;
                    nv++;
                }
            }
        }
        p = e + 1;
    }
    if (!nv)
        return false;
    qsort(vals, nv, sizeof(*vals), cmp_str);
    free(r->hash_tmp);
    r->hash_tmp = malloc(total + 1);
    size_t o = 0;
    for (size_t i = 0; i < nv; i++) {
        if (r->hash_tmp) {
            if (i)
                r->hash_tmp[o++] = ',';
            size_t l = strlen(vals[i]);
            memcpy(r->hash_tmp + o, vals[i], l);
            o += l;
        }
        free(vals[i]);
    }
    if (!r->hash_tmp)
        return false;
    r->hash_tmp[o] = '\0';
    *val = r->hash_tmp;
    *vlen = o;
    return true;
}

static bool cookie_value(struct dp_req *r, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    for (int i = dp_hblock_find(&r->hb, "cookie", 6, 0); i >= 0;
         i = dp_hblock_find(&r->hb, "cookie", 6, (size_t)i + 1)) {
        const char *p = r->hb.buf + r->hb.h[i].vo, *end = p + r->hb.h[i].vl;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *e = memchr(p, ';', (size_t)(end - p));
            if (!e)
                e = end;
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
                *val = eq + 1;
                *vlen = (size_t)(e - eq - 1);
                return true;
            }
            p = e;
        }
    }
    return false;
}

static bool hash_input(struct dp_req *r, enum dp_hash_on on, const char *name, const char **val,
                       size_t *vlen)
{
    switch (on) {
    case DP_HASH_CONSUMER: /* Kong: the consumer id, else the credential id */
        *val = dp_req_plugins_consumer_id(r);
        *vlen = *val ? strlen(*val) : 0;
        return *val != NULL;
    case DP_HASH_IP:
        *val = r->c->peer_ip;
        *vlen = strlen(r->c->peer_ip);
        return true;
    case DP_HASH_HEADER:
        if (!name)
            return false;
        *val = hval(&r->hb, name, vlen);
        return *val != NULL;
    case DP_HASH_COOKIE:
        if (!name)
            return false;
        if (cookie_value(r, name, val, vlen))
            return true;
        if (!r->hash_cookie) {
            r->hash_cookie = malloc(GW_UUID_STRLEN + 1);
            if (!r->hash_cookie || gw_uuid_v4(r->hash_cookie) != GW_OK)
                return false;
        }
        *val = r->hash_cookie;
        *vlen = strlen(r->hash_cookie);
        return true;
    case DP_HASH_PATH:
        *val = r->path;
        *vlen = r->path_len;
        return true;
    case DP_HASH_QUERY_ARG:
        return name && query_arg(r, name, val, vlen);
    case DP_HASH_URI_CAPTURE:
        return name && dp_router_capture(&r->match, r->path, name, val, vlen);
    default:
        return false;
    }
}

static void set_hash(struct dp_req *r)
{
    const struct dp_upstream *u = r->svc->upstream;
    const char *v = NULL;
    size_t l = 0;
    const char *name = u->hash_on == DP_HASH_HEADER        ? u->hash_on_header
                       : u->hash_on == DP_HASH_COOKIE      ? u->hash_on_cookie
                       : u->hash_on == DP_HASH_QUERY_ARG   ? u->hash_on_query_arg
                       : u->hash_on == DP_HASH_URI_CAPTURE ? u->hash_on_uri_capture
                                                           : NULL;
    if (!hash_input(r, u->hash_on, name, &v, &l)) {
        name = u->hash_fallback == DP_HASH_HEADER        ? u->hash_fallback_header
               : u->hash_fallback == DP_HASH_QUERY_ARG   ? u->hash_fallback_query_arg
               : u->hash_fallback == DP_HASH_URI_CAPTURE ? u->hash_fallback_uri_capture
                                                         : NULL;
        if (!hash_input(r, u->hash_fallback, name, &v, &l)) {
            v = "";
            l = 0;
        }
    }
    r->lbctx.hash_value = v;
    r->lbctx.hash_len = l;
}

/* ---- connections ---------------------------------------------------------------------------- */

/* Arms the request's upstream deadline ms milliseconds from now (checked by the tick). */
static void up_deadline(struct dp_req *r, int ms)
{
    r->up_deadline_ms = dp_worker_now_ms(r->c->w) + (uint64_t)(ms > 0 ? ms : 1);
}

static void uncount(struct dp_req *r)
{
    if (r->counted && r->addr) {
        atomic_fetch_sub_explicit(&r->addr->state->active, 1, memory_order_relaxed);
        r->counted = false;
    }
}

void dp_proxy_timeout(struct dp_req *r)
{
    fail_try(r, true, r->connected ? "timeout" : "connect timeout");
}

void dp_proxy_release(struct dp_req *r, bool reusable)
{
    struct dp_upconn *up = r->up;
    uncount(r);
    r->up_deadline_ms = 0;
    if (!up)
        return;
    if (r->up_read_blocked) {
        r->up_read_blocked = false;
        dp_io_enable(up->bev, EV_READ);
    }
    r->up = NULL;
    r->up_ready = false;
    up->req = NULL;
    up->nrequests++;
    const struct dp_settings *set = r->c->w->set;
    if (reusable && set->pool_size > 0 &&
        (set->pool_max_requests == 0 || up->nrequests < set->pool_max_requests) &&
        dp_io_input_len(up->bev) == 0 && dp_io_output_len(up->bev) == 0)
        dp_pool_put(r->c->w->pool, up);
    else
        dp_upconn_free(up);
}

size_t dp_proxy_backlog(const struct dp_req *r)
{
    if (!r->up || !r->up_ready)
        return 0;
    return dp_io_output_len(r->up->bev);
}

static void send_head(struct dp_req *r)
{
    struct dp_upconn *up = r->up;
    struct evbuffer *out = dp_io_get_output(up->bev);
    char host[320];
    memcpy(host, "Host: ", 6);
    host_header(r, host + 6, sizeof(host) - 8);
    size_t hl = strlen(host);
    host[hl++] = '\r';
    host[hl++] = '\n';
    /* One reservation and one commit: a single round of buffer callbacks. */
    size_t rest = r->head.len - r->head_split, total = r->head_split + hl + rest;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) == 1 && v.iov_len >= total) {
        char *p = v.iov_base;
        memcpy(p, r->head.data, r->head_split);
        memcpy(p + r->head_split, host, hl);
        memcpy(p + r->head_split + hl, r->head.data + r->head_split, rest);
        v.iov_len = total;
        evbuffer_commit_space(out, &v, 1);
    } else {
        evbuffer_add(out, r->head.data, r->head_split);
        evbuffer_add(out, host, hl);
        evbuffer_add(out, r->head.data + r->head_split, rest);
    }
    r->up_ready = true;
    r->connected = true;
    up_deadline(r, r->msg_complete ? r->svc->read_timeout_ms : r->svc->write_timeout_ms);
    if (r->pending && evbuffer_get_length(r->pending)) {
        size_t pl = evbuffer_get_length(r->pending);
        if (r->msg_complete && pl <= DP_HIGH_WATER) {
            /* Small complete body: keep a copy so a retry can send it again. */
            evbuffer_add(out, evbuffer_pullup(r->pending, -1), pl);
            r->pending_kept = true;
        } else {
            evbuffer_add_buffer(out, r->pending);
            r->body_started = true;
        }
    }
    if (r->msg_complete)
        r->req_sent = true;
    dp_io_enable(up->bev, EV_READ | EV_WRITE);
    /* The client side may have stopped parsing while waiting for this connection. */
    struct dp_conn *c = r->c;
    if (c->read_blocked && !r->msg_complete) {
        c->read_blocked = false;
        dp_io_enable(c->bev, EV_READ);
        dp_conn_process(c);
    }
}

void dp_proxy_push_body(struct dp_req *r)
{
    if (!r->up || !r->up_ready || !r->pending || r->pending_kept)
        return;
    if (evbuffer_get_length(r->pending)) {
        evbuffer_add_buffer(dp_io_get_output(r->up->bev), r->pending);
        r->body_started = true;
    }
    if (r->msg_complete)
        r->req_sent = true;
}

static const llhttp_settings_t resp_settings;

static struct dp_upconn *upconn_new(struct dp_req *r, const char *key)
{
    struct dp_upconn *up = calloc(1, sizeof(*up));
    if (!up)
        return NULL;
    up->w = r->c->w;
    snprintf(up->key, sizeof(up->key), "%s", key);
    up->bev = dp_io_socket_new(up->w->io, -1);
    if (!up->bev) {
        free(up);
        return NULL;
    }
    return up;
}

static void attach(struct dp_req *r, struct dp_upconn *up)
{
    r->up = up;
    up->req = r;
    dp_io_setcb(up->bev, up_read_cb, up_write_cb, up_event_cb, up);
    dp_io_setwatermark(up->bev, EV_WRITE, DP_LOW_WATER, 0);
    dp_io_setwatermark(up->bev, EV_READ, 0, DP_HIGH_WATER);
    llhttp_init(&r->rp, HTTP_RESPONSE, &resp_settings);
    r->rp.data = r;
    dp_hblock_reset(&r->rb, 64 * 1024);
    r->resp_headers_done = false;
    r->skip_1xx = false;
}

static void fail_try(struct dp_req *r, bool timeout, const char *why)
{
    struct dp_conn *c = r->c;
    GW_LOG(GW_LOG_WARN,
           "upstream try failed request_id=%s upstream=%s try=%d timeout=%d reason=\"%s\"", r->id,
           r->addr ? r->addr->key : "-", r->tries, (int)timeout, why);
    if (r->addr) {
        dp_lb_state_report(r->addr->state, false, timeout);
        dp_lb_ctx_failed(&r->lbctx, r->addr);
        /* passive health: every failed try counts (Kong reports tries before a retry) */
        if (timeout)
            dp_health_report_timeout(r->svc->upstream, r->addr, DP_HC_SRC_PASSIVE);
        else
            dp_health_report_tcp_failure(r->svc->upstream, r->addr, DP_HC_SRC_PASSIVE);
    }
    bool sent = r->connected && r->req_sent;
    dp_proxy_release(r, false);
    r->connected = false;
    if (r->resp_started) {
        c->close_after = true;
        dp_conn_close(c);
        return;
    }
    bool can_retry = !r->body_started && r->tries <= r->svc->retries && (!sent || r->idempotent);
    if (can_retry) {
        try_next(r);
        return;
    }
    dp_conn_respond(c, timeout ? 504 : 502, NULL, NULL);
}

/* For a service with protocol https: its TLS parameters, the SNI (the upstream Host without
 * port) and a pool key that tells connections with other TLS parameters apart; NULL (key not
 * written) for plain HTTP. */
static const struct dp_tls_upstream *upstream_tls(struct dp_req *r, char *key, size_t keylen,
                                                  char *sni, size_t snilen)
{
    const struct dp_tls_upstream *tu =
        r->svc->https && r->cfg ? dp_tls_store_upstream(r->cfg->tls, r->svc->index) : NULL;
    sni[0] = '\0';
    if (!tu)
        return NULL; /* the caller keys the pool by the address alone */
    char host[300];
    host_header(r, host, sizeof(host));
    const char *h = host;
    size_t n = strlen(host);
    if (host[0] == '[') {
        h++;
        const char *rb = strchr(h, ']');
        n = rb ? (size_t)(rb - h) : 0;
    } else {
        const char *colon = strchr(host, ':');
        if (colon)
            n = (size_t)(colon - host);
    }
    snprintf(sni, snilen, "%.*s", (int)n, h);
    uint64_t hsh = tu->hash;
    for (const char *p = sni; *p; p++)
        hsh = (hsh ^ (unsigned char)*p) * 0x100000001b3ull;
    snprintf(key, keylen, "%.56s|t%016llx", r->addr->key, (unsigned long long)hsh);
    return tu;
}

static void try_next(struct dp_req *r)
{
    struct dp_conn *c = r->c;
    const struct dp_service *s = r->svc;
    const struct dp_addr *a = NULL;
    enum gw_err err;
    if (s->upstream) {
        err = GW_OK;
        /* balancer health: available weight must stay above the threshold (Kong) */
        if (!dp_health_threshold_ok(s->upstream))
            err = GW_ERR_UNAVAILABLE;
        if (err == GW_OK)
            err = dp_lb_pick(s->upstream->lb, &r->lbctx, &a);
        if (err != GW_OK) {
            if (r->tries == 0)
                dp_conn_respond(c, 503, "failure to get a peer from the ring-balancer", NULL);
            else
                dp_conn_respond(c, 502, NULL, NULL);
            return;
        }
    } else {
        err = dp_lb_pick_plain(s->addrs, s->naddrs, s->state, &r->lbctx, &a);
        if (err != GW_OK) {
            if (!s->naddrs)
                dp_conn_respond(c, 503, "name resolution failed", NULL);
            else
                dp_conn_respond(c, 502, NULL, NULL);
            return;
        }
    }
    r->tries++;
    r->addr = a;
    atomic_fetch_add_explicit(&a->state->active, 1, memory_order_relaxed);
    r->counted = true;
    r->t_up_start_us = gw_time_mono_us();
    char tkey[sizeof(((struct dp_upconn *)0)->key)], sni[256];
    const struct dp_tls_upstream *tu = upstream_tls(r, tkey, sizeof(tkey), sni, sizeof(sni));
    const char *key = tu ? tkey : a->key;
    struct dp_upconn *up = dp_pool_get(c->w->pool, key);
    if (up) {
        attach(r, up);
        send_head(r);
        return;
    }
    up = upconn_new(r, key);
    if (!up) {
        dp_conn_respond(c, 500, NULL, NULL);
        return;
    }
    if (tu) {
        struct dp_tls_io *t = dp_tls_upstream_new(tu, sni, a->key);
        if (!t) {
            dp_upconn_free(up);
            dp_conn_respond(c, 500, NULL, NULL);
            return;
        }
        dp_io_set_tls(up->bev, t);
    }
    attach(r, up);
    up_deadline(r, s->connect_timeout_ms);
    if (dp_io_socket_connect(up->bev, (const struct sockaddr *)&a->sa, (int)a->salen) != 0) {
        fail_try(r, false, "connect failed");
        return;
    }
}

void dp_proxy_start(struct dp_req *r)
{
    r->idempotent = r->method == HTTP_GET || r->method == HTTP_HEAD || r->method == HTTP_PUT ||
                    r->method == HTTP_DELETE || r->method == HTTP_OPTIONS ||
                    r->method == HTTP_TRACE;
    if (build_head(r) != GW_OK) {
        dp_conn_respond(r->c, 500, NULL, NULL);
        return;
    }
    if (r->svc->upstream && r->svc->upstream->algo == DP_LB_CONSISTENT_HASHING)
        set_hash(r);
    try_next(r);
}

/* ---- response ---------------------------------------------------------------------------------
 */

static int r_on_status(llhttp_t *p, const char *at, size_t len)
{
    struct dp_req *r = p->data;
    /* The reason phrase is kept as a pseudo header with an empty name. */
    if (r->rb.n == 0) {
        if (dp_hblock_add(&r->rb, "", 0, false) != GW_OK)
            return -1;
    }
    return dp_hblock_add(&r->rb, at, len, true) == GW_OK ? 0 : -1;
}

static int r_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct dp_req *r = p->data;
    if (r->rb.n == 0 && dp_hblock_add(&r->rb, "", 0, false) != GW_OK)
        return -1;
    if (r->rb.n == 1 && !r->rb.in_value)
        r->rb.in_value = true; /* pseudo header without reason */
    return dp_hblock_add(&r->rb, at, len, false) == GW_OK ? 0 : -1;
}

static int r_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct dp_req *r = p->data;
    return dp_hblock_add(&r->rb, at, len, true) == GW_OK ? 0 : -1;
}

static int r_on_headers_complete(llhttp_t *p)
{
    struct dp_req *r = p->data;
    struct dp_conn *c = r->c;
    int status = p->status_code;
    if (status >= 100 && status < 200 && status != 101) {
        r->skip_1xx = true;
        return 0;
    }
    r->status = status;
    r->resp_headers_done = true;
    r->t_up_headers_us = gw_time_mono_us();
    uint64_t up_ms = (r->t_up_headers_us - r->t_up_start_us) / 1000;
    uint64_t px_ms = (r->t_up_start_us - r->t_start_us) / 1000;
    dp_metrics_upstream_latency(up_ms);
    /* passive health: the upstream's own status (504 counts as a timeout, as Kong) */
    if (status == 504)
        dp_health_report_timeout(r->svc->upstream, r->addr, DP_HC_SRC_PASSIVE);
    else
        dp_health_report_status(r->svc->upstream, r->addr, DP_HC_SRC_PASSIVE, status);
    if (r->svc->upstream && r->svc->upstream->algo == DP_LB_LATENCY)
        dp_lb_state_ewma_update(r->addr->state,
                                (double)(r->t_up_headers_us - r->t_up_start_us) / 1e6,
                                r->t_up_headers_us);

    bool head = r->method == HTTP_HEAD;
    bool nobody = head || status == 204 || status == 304 || status == 101;
    bool client10 = r->http_major == 1 && r->http_minor == 0;
    if (status == 101) {
        r->resp_upgrade = true;
        r->framing = DP_FRAME_NONE;
    } else if (nobody) {
        r->framing = DP_FRAME_NONE;
    } else if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED)) {
        r->framing = DP_FRAME_LENGTH;
    } else if (!client10) {
        r->framing = DP_FRAME_CHUNKED;
    } else {
        r->framing = DP_FRAME_CLOSE;
        c->close_after = true;
    }
    if (r->upgrade && status != 101)
        c->close_after = true; /* the client parser stopped at the upgrade */
    if (c->w->draining)
        c->close_after = true;

    dp_req_plugins_header_filter(r);
    struct gw_buf *o = &c->w->scratch; /* flushed to the client after this llhttp run */
    const struct dp_hblock *b = &r->rb;
    size_t reason_len = b->n ? b->h[0].vl : 0;
    DP_WB_LIT(o, "HTTP/1.1 ");
    dp_wb_u64(o, (uint64_t)status);
    DP_WB_LIT(o, " ");
    dp_wb_mem(o, reason_len ? b->buf + b->h[0].vo : "", reason_len);
    DP_WB_LIT(o, "\r\n");
    bool server = false;
    size_t via_len = 0;
    const char *via = NULL;
    bool conn_tokens = connection_lists_headers(b);
    for (size_t i = 1; i < b->n; i++) {
        const struct dp_hspan *s = &b->h[i];
        const char *n = b->buf + s->no;
        enum hname k = classify(n, s->nl);
        if (k == H_VIA) {
            via = b->buf + s->vo;
            via_len = s->vl;
            continue;
        }
        if (k == H_UPGRADE && status == 101) {
            /* passed through for the tunnel */
        } else if (k == H_HOP || k == H_UPGRADE || (conn_tokens && in_connection(b, n, s->nl))) {
            continue;
        }
        if (k == H_CONTENT_LENGTH && r->framing != DP_FRAME_LENGTH && !(head || status == 304))
            continue;
        if (dp_req_plugins_response_edited(r, n, s->nl))
            continue;
        if (k == H_SERVER)
            server = true;
        dp_wb_mem(o, n, s->nl);
        DP_WB_LIT(o, ": ");
        dp_wb_mem(o, b->buf + s->vo, s->vl);
        DP_WB_LIT(o, "\r\n");
    }
    if (r->framing == DP_FRAME_CHUNKED)
        DP_WB_LIT(o, "Transfer-Encoding: chunked\r\n");
    if (status == 101)
        DP_WB_LIT(o, "Connection: Upgrade\r\n");
    else if (c->close_after || !r->keepalive)
        DP_WB_LIT(o, "Connection: close\r\n");
    else if (client10)
        DP_WB_LIT(o, "Connection: keep-alive\r\n");
    if (!server)
        DP_WB_LIT(o, "Server: portico/" PORTICO_VERSION "\r\n");
    DP_WB_LIT(o, "Via: ");
    if (via) {
        dp_wb_mem(o, via, via_len);
        DP_WB_LIT(o, ", ");
    }
    DP_WB_LIT(o, VIA_TOKEN "\r\n");
    if (r->hash_cookie) {
        DP_WB_LIT(o, "Set-Cookie: ");
        dp_wb_str(o, r->svc->upstream->hash_on_cookie);
        DP_WB_LIT(o, "=");
        dp_wb_str(o, r->hash_cookie);
        DP_WB_LIT(o, "; Path=");
        dp_wb_str(o, r->svc->upstream->hash_on_cookie_path);
        DP_WB_LIT(o, "; Same-Site=Lax; HttpOnly\r\n");
    }
    dp_req_plugins_response_headers(r, o);
    DP_WB_LIT(o, "X-Portico-Upstream-Latency: ");
    dp_wb_u64(o, up_ms);
    DP_WB_LIT(o, "\r\nX-Portico-Proxy-Latency: ");
    dp_wb_u64(o, px_ms);
    DP_WB_LIT(o, "\r\n");
    DP_WB_HDR(o, "X-Portico-Request-Id: ", r->id, 32);
    DP_WB_LIT(o, "\r\n");
    if (!o->data)
        return -1;
    r->resp_started = true;
    r->proxied = true;
    return head ? 1 : 0;
}

/* Moves what the response callbacks wrote into the worker's scratch buffer to the client. */
static void flush_out(struct dp_req *r)
{
    struct gw_buf *o = &r->c->w->scratch;
    if (o->len && r->c->bev)
        evbuffer_add(dp_io_get_output(r->c->bev), o->data, o->len);
    gw_buf_reset(o);
}

static int r_on_body(llhttp_t *p, const char *at, size_t len)
{
    struct dp_req *r = p->data;
    struct gw_buf *o = &r->c->w->scratch;
    if (r->framing == DP_FRAME_NONE)
        return 0;
    dp_req_plugins_body(r, at, len, false);
    if (r->framing == DP_FRAME_CHUNKED) {
        char ch[24];
        dp_wb_mem(o, ch, dp_wb_chunk_head(ch, len));
    }
    if (len > 4096) {
        /* big pieces go straight to the client buffer, without a copy into scratch */
        flush_out(r);
        evbuffer_add(dp_io_get_output(r->c->bev), at, len);
    } else {
        dp_wb_mem(o, at, len);
    }
    if (r->framing == DP_FRAME_CHUNKED)
        DP_WB_LIT(o, "\r\n");
    return 0;
}

static int r_on_message_complete(llhttp_t *p)
{
    struct dp_req *r = p->data;
    if (r->skip_1xx) {
        r->skip_1xx = false;
        dp_hblock_reset(&r->rb, 64 * 1024);
        return 0;
    }
    if (r->resp_upgrade)
        return 0; /* llhttp then stops with HPE_PAUSED_UPGRADE */
    if (r->framing == DP_FRAME_CHUNKED)
        DP_WB_LIT(&r->c->w->scratch, "0\r\n\r\n");
    dp_req_plugins_body(r, NULL, 0, true);
    r->resp_complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t resp_settings = {
    .on_status = r_on_status,
    .on_header_field = r_on_header_field,
    .on_header_value = r_on_header_value,
    .on_headers_complete = r_on_headers_complete,
    .on_body = r_on_body,
    .on_message_complete = r_on_message_complete,
};

static void response_done(struct dp_req *r)
{
    struct dp_conn *c = r->c;
    dp_lb_state_report(r->addr->state, true, false);
    bool reusable = llhttp_should_keep_alive(&r->rp) && r->req_sent && r->msg_complete;
    dp_proxy_release(r, reusable);
    dp_conn_request_done(c);
}

static void up_read_cb(struct dp_io *bev, void *arg)
{
    struct dp_upconn *up = arg;
    struct dp_req *r = up->req;
    if (!r)
        return;
    struct evbuffer *in = dp_io_get_input(bev);
    up_deadline(r, r->svc->read_timeout_ms);
    while (evbuffer_get_length(in)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        const char *base = v.iov_base;
        gw_buf_reset(&r->c->w->scratch);
        llhttp_errno_t err = llhttp_execute(&r->rp, base, v.iov_len);
        flush_out(r);
        if (err == HPE_OK) {
            evbuffer_drain(in, v.iov_len);
            continue;
        }
        if (err == HPE_PAUSED_UPGRADE && r->resp_upgrade) {
            evbuffer_drain(in, (size_t)(llhttp_get_error_pos(&r->rp) - base));
            dp_proxy_tunnel_start(r->c, up);
            return;
        }
        if (err == HPE_PAUSED) {
            evbuffer_drain(in, (size_t)(llhttp_get_error_pos(&r->rp) - base));
            response_done(r);
            return;
        }
        GW_LOG(GW_LOG_WARN, "invalid upstream response request_id=%s upstream=%s error=%s", r->id,
               up->key, llhttp_errno_name(err));
        evbuffer_drain(in, v.iov_len);
        dp_lb_state_report(r->addr->state, false, false);
        if (!r->resp_headers_done) /* Kong reports the 502 it answers as the status */
            dp_health_report_status(r->svc->upstream, r->addr, DP_HC_SRC_PASSIVE, 502);
        if (r->resp_started) {
            dp_conn_close(r->c);
        } else {
            dp_conn_respond(r->c, 502, NULL, NULL);
        }
        return;
    }
    /* Response backpressure: stop reading the upstream while the client is slow. */
    if (dp_io_output_len(r->c->bev) > DP_HIGH_WATER) {
        r->up_read_blocked = true;
        dp_io_disable(bev, EV_READ);
    }
}

void dp_proxy_client_drained(struct dp_req *r)
{
    if (r->up && r->up_read_blocked) {
        r->up_read_blocked = false;
        dp_io_enable(r->up->bev, EV_READ);
    }
}

static void up_write_cb(struct dp_io *bev, void *arg)
{
    struct dp_upconn *up = arg;
    struct dp_req *r = up->req;
    (void)bev;
    if (!r)
        return;
    struct dp_conn *c = r->c;
    up_deadline(r, r->req_sent ? r->svc->read_timeout_ms : r->svc->write_timeout_ms);
    if (c->read_blocked && !r->msg_complete) {
        c->read_blocked = false;
        dp_io_enable(c->bev, EV_READ);
        dp_conn_process(c);
    }
}

static void up_event_cb(struct dp_io *bev, short what, void *arg)
{
    struct dp_upconn *up = arg;
    struct dp_req *r = up->req;
    (void)bev;
    if (!r)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(dp_io_getfd(up->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        send_head(r);
        return;
    }
    if ((what & BEV_EVENT_EOF) && r->resp_headers_done) {
        /* End of a body delimited by close, or a truncated one. */
        gw_buf_reset(&r->c->w->scratch);
        llhttp_finish(&r->rp);
        flush_out(r);
        if (r->resp_complete) {
            r->c->close_after = r->c->close_after || r->framing == DP_FRAME_CLOSE;
            dp_proxy_release(r, false);
            dp_conn_request_done(r->c);
        } else {
            dp_conn_close(r->c);
        }
        return;
    }
    int e = EVUTIL_SOCKET_ERROR();
    fail_try(r, false,
             (what & BEV_EVENT_EOF) ? "connection closed" : evutil_socket_error_to_string(e));
}

/* ---- websocket tunnel ------------------------------------------------------------------------ */

static void tun_up_read(struct dp_io *bev, void *arg)
{
    struct dp_upconn *up = arg;
    struct dp_conn *c = up->tconn;
    c->deadline_ms = dp_worker_now_ms(c->w) + c->tunnel_ms;
    struct evbuffer *out = dp_io_get_output(c->bev);
    evbuffer_add_buffer(out, dp_io_get_input(bev));
    if (evbuffer_get_length(out) > DP_HIGH_WATER)
        dp_io_disable(bev, EV_READ);
}

static void tun_up_write(struct dp_io *bev, void *arg)
{
    struct dp_upconn *up = arg;
    struct dp_conn *c = up->tconn;
    (void)bev;
    dp_io_enable(c->bev, EV_READ);
}

static void tun_up_event(struct dp_io *bev, short what, void *arg)
{
    struct dp_upconn *up = arg;
    struct dp_conn *c = up->tconn;
    (void)bev;
    (void)what;
    /* The upstream side ended: flush what the client still has to get, then close. */
    c->tunnel = NULL;
    up->tconn = NULL;
    dp_upconn_free(up);
    c->state = DP_CONN_CLOSING;
    dp_io_disable(c->bev, EV_READ);
    if (dp_io_output_len(c->bev) == 0)
        dp_conn_close(c);
    else
        dp_io_setwatermark(c->bev, EV_WRITE, 0, 0);
}

void dp_proxy_tunnel_start(struct dp_conn *c, struct dp_upconn *up)
{
    struct dp_req *r = c->req;
    uncount(r);
    r->up = NULL;
    r->resp_complete = true;
    dp_metrics_request(r->svc->metrics, 101);
    r->status = 0;
    c->req = NULL;
    up->req = NULL;
    up->tconn = c;
    c->tunnel = up;
    c->state = DP_CONN_TUNNEL;
    c->tunnel_ms = (uint64_t)r->svc->read_timeout_ms;
    dp_conn_set_timeout(c, DP_TMO_TUNNEL, c->tunnel_ms);
    /* llhttp stopped at the upgrade; the request can go now. */
    if (r->pending) {
        dp_io_write_buffer(up->bev, r->pending);
        evbuffer_free(r->pending);
        r->pending = NULL;
    }
    dp_req_free(r);
    dp_io_setcb(up->bev, tun_up_read, tun_up_write, tun_up_event, up);
    dp_io_setwatermark(up->bev, EV_WRITE, DP_LOW_WATER, 0);
    dp_io_setwatermark(c->bev, EV_WRITE, DP_LOW_WATER, 0);
    dp_io_enable(up->bev, EV_READ | EV_WRITE);
    dp_io_enable(c->bev, EV_READ | EV_WRITE);
    /* Bytes that arrived behind the headers on either side. */
    if (dp_io_input_len(up->bev))
        tun_up_read(up->bev, up);
    if (dp_io_input_len(c->bev))
        dp_io_write_buffer(up->bev, dp_io_get_input(c->bev));
}
