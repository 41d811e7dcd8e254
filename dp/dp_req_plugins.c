/* dp/dp_req_plugins.c: the plugin request API on top of the proxy's struct dp_req, and the
 * hooks of the request path (see dp_req_plugins.h and docs/internals/plugins.md).
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_req_plugins.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_http.h"
#include "dp_settings.h"
#include "dp_worker.h"
#include "dp_wbuf.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "plugins/dp_plugin.h"
#include "plugins/dp_plugin_set.h"

/* Bounds on what plugins may add to one request (they add a handful). */
#define MAX_EDITS  32
#define ARENA_SIZE 2048
/* Most headers of a plugin's response (a cache hit: its stored headers + 3). */
#define MAX_GIVEN 72

/* A header edit: a struct dp_header_line whose text is in the arena or borrowed from a
 * plugin's config (set_header_lines without copy). */
#define edit dp_header_line

/* Strings that do not fit the inline arena. */
struct overflow {
    struct overflow *next;
    char data[];
};

/* Per-request plugin state, recycled with its struct dp_req (no allocation per request in
 * the common case): reset by dp_req_plugins_finish, freed by dp_req_plugins_free. */
struct dp_req_plugins {
    struct dp_plugin_req base; /* ops: the table below */
    struct dp_req *r;
    bool active;
    struct dp_plugin_run run;
    struct edit req_edits[MAX_EDITS];
    size_t nreq_edits;
    struct edit resp_edits[MAX_EDITS];
    size_t nresp_edits;
    const char *query;     /* the request's query ("" when none), in the arena */
    const char *new_query; /* NULL = unchanged */
    bool body_replaced;
    uint64_t body_len;
    /* a plugin's response, sent after access and the header/body filters: its headers (lines
     * in the arena), and the head and body buffers, kept across requests (shrunk after a large
     * one) */
    bool responded;
    int resp_status;
    struct edit given[MAX_GIVEN];
    size_t ngiven;
    struct gw_buf resp_head;
    struct gw_buf resp_body;
    const char *body_ref; /* a borrowed body (respond_lines with release), or NULL */
    size_t body_ref_len;
    void (*release)(void *arg); /* releases what the borrowed lines and body live in */
    void *release_arg;
    size_t used;
    struct overflow *more;
    char arena[ARENA_SIZE];
};

#define PLG(pr) ((struct dp_req_plugins *)(pr))

/* n bytes of room in the arena (or an overflow block), NULL when out of memory. */
static char *room(struct dp_req_plugins *p, size_t n)
{
    if (n <= ARENA_SIZE - p->used) {
        char *c = p->arena + p->used;
        p->used += n;
        return c;
    }
    struct overflow *o = malloc(sizeof(*o) + n);
    if (!o)
        return NULL;
    o->next = p->more;
    p->more = o;
    return o->data;
}

/* A NUL-terminated copy of n bytes of s. */
static const char *keep(struct dp_req_plugins *p, const char *s, size_t n)
{
    char *c = room(p, n + 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static const struct edit *edit_find(const struct edit *e, size_t n, const char *name, size_t nlen)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].nlen == nlen && ((e[i].line[0] ^ name[0]) & ~0x20) == 0 &&
            strncasecmp(e[i].line, name, nlen) == 0)
            return &e[i];
    }
    return NULL;
}

/* Whether n bytes of s hold no line break (which would smuggle a header into the head). */
static bool safe_mem(const char *s, size_t n)
{
    return !memchr(s, '\n', n) && !memchr(s, '\r', n);
}

/* Sets (value) or removes (value NULL) header name in the edit list e: the edit is kept as one
 * "Name: value\r\n" line, so writing the head is one copy per edit. */
static enum gw_err edit_set(struct dp_req_plugins *p, struct edit *e, size_t *n, const char *name,
                            const char *value)
{
    size_t nlen = strlen(name), vlen = value ? strlen(value) : 0;
    if (!nlen || !safe_mem(name, nlen) || (value && !safe_mem(value, vlen)))
        return GW_ERR_INVALID;
    struct edit *found = (struct edit *)edit_find(e, *n, name, nlen);
    if (!found && *n >= MAX_EDITS)
        return GW_ERR_TOOBIG;
    char *line = room(p, value ? nlen + vlen + 5 : nlen + 1);
    if (!line)
        return GW_ERR_NOMEM;
    memcpy(line, name, nlen);
    if (value) {
        line[nlen] = ':';
        line[nlen + 1] = ' ';
        memcpy(line + nlen + 2, value, vlen);
        memcpy(line + nlen + 2 + vlen, "\r\n", 3);
    } else {
        line[nlen] = '\0';
    }
    if (!found)
        found = &e[(*n)++];
    *found = (struct edit){line, nlen, vlen, !value};
    return GW_OK;
}

/* Applies prepared lines to the edit list e (borrowed, or copied into the arena). */
static enum gw_err edit_lines(struct dp_req_plugins *p, struct edit *e, size_t *n,
                              const struct dp_header_line *l, size_t nl, bool copy)
{
    for (size_t i = 0; i < nl; i++) {
        struct edit *found = (struct edit *)edit_find(e, *n, l[i].line, l[i].nlen);
        if (!found && *n >= MAX_EDITS)
            return GW_ERR_TOOBIG;
        struct edit v = l[i];
        if (copy) {
            size_t len = v.removed ? v.nlen + 1 : v.nlen + v.vlen + 5;
            char *c = room(p, len);
            if (!c)
                return GW_ERR_NOMEM;
            memcpy(c, v.line, len - 1);
            c[len - 1] = '\0';
            v.line = c;
        }
        if (!found)
            found = &e[(*n)++];
        *found = v;
    }
    return GW_OK;
}

/* The value of an edit as a C string (a copy in the arena), NULL when removed. */
static const char *edit_value(struct dp_req_plugins *p, const struct edit *e)
{
    return e->removed ? NULL : keep(p, e->line + e->nlen + 2, e->vlen);
}

/* A header of a plugin's response replaced or removed after respond (by a header_filter). */
static void given_drop(struct dp_req_plugins *p, const char *name, size_t nlen)
{
    for (size_t i = 0; i < p->ngiven; i++) {
        struct edit *g = &p->given[i];
        if (!g->removed && g->nlen == nlen && !strncasecmp(g->line, name, nlen))
            g->removed = true;
    }
}

/* ---- the request API --------------------------------------------------------------------- */

static const char *op_method(struct dp_plugin_req *pr)
{
    return llhttp_method_name((llhttp_method_t)PLG(pr)->r->method);
}

static const char *op_path(struct dp_plugin_req *pr)
{
    return PLG(pr)->r->path;
}

static const char *op_query(struct dp_plugin_req *pr)
{
    struct dp_req_plugins *p = PLG(pr);
    return p->new_query ? p->new_query : p->query;
}

static const char *hb_nth(struct dp_req_plugins *p, const struct dp_hblock *b, size_t first,
                          const char *name, size_t nth)
{
    size_t nlen = strlen(name);
    for (int i = dp_hblock_find(b, name, nlen, first); i >= 0;
         i = dp_hblock_find(b, name, nlen, (size_t)i + 1)) {
        if (nth-- == 0)
            return keep(p, b->buf + b->h[i].vo, b->h[i].vl);
    }
    return NULL;
}

static const char *op_header(struct dp_plugin_req *pr, const char *name, size_t nth)
{
    struct dp_req_plugins *p = PLG(pr);
    const struct edit *e = edit_find(p->req_edits, p->nreq_edits, name, strlen(name));
    if (e)
        return nth == 0 ? edit_value(p, e) : NULL;
    return hb_nth(p, &p->r->hb, 0, name, nth);
}

static enum gw_err op_set_header(struct dp_plugin_req *pr, const char *name, const char *value)
{
    struct dp_req_plugins *p = PLG(pr);
    return edit_set(p, p->req_edits, &p->nreq_edits, name, value);
}

static void op_clear_header(struct dp_plugin_req *pr, const char *name)
{
    struct dp_req_plugins *p = PLG(pr);
    if (edit_set(p, p->req_edits, &p->nreq_edits, name, NULL) != GW_OK)
        GW_LOG(GW_LOG_WARN, "plugin header removal dropped header=%s", name);
}

static enum gw_err op_set_query(struct dp_plugin_req *pr, const char *q)
{
    struct dp_req_plugins *p = PLG(pr);
    const char *c = keep(p, q ? q : "", q ? strlen(q) : 0);
    if (!c)
        return GW_ERR_NOMEM;
    p->new_query = c;
    return GW_OK;
}

/* The body is available when it arrived whole with the request and is not chunked. */
static enum gw_err op_body(struct dp_plugin_req *pr, const char **data, size_t *len)
{
    struct dp_req *r = PLG(pr)->r;
    *data = NULL;
    *len = 0;
    if (!r->msg_complete || r->chunked)
        return GW_ERR_DECLINED;
    if (!r->pending)
        return GW_OK;
    size_t n = evbuffer_get_length(r->pending);
    if (n) {
        *data = (const char *)evbuffer_pullup(r->pending, -1);
        *len = n;
    }
    return GW_OK;
}

static enum gw_err op_set_body(struct dp_plugin_req *pr, const char *data, size_t len)
{
    struct dp_req_plugins *p = PLG(pr);
    struct dp_req *r = p->r;
    if (!r->msg_complete || r->chunked)
        return GW_ERR_DECLINED;
    if (!r->pending && !(r->pending = evbuffer_new()))
        return GW_ERR_NOMEM;
    evbuffer_drain(r->pending, evbuffer_get_length(r->pending));
    if (len && evbuffer_add(r->pending, data, len) != 0)
        return GW_ERR_NOMEM;
    p->body_replaced = true;
    p->body_len = len;
    return GW_OK;
}

/* Kong's forwarded ip: the peer, or real_ip_header's last address when the peer is trusted
 * (the address the proxy sends upstream as X-Real-IP). */
static const char *op_client_ip(struct dp_plugin_req *pr)
{
    struct dp_req_plugins *p = PLG(pr);
    struct dp_conn *c = p->r->c;
    const struct dp_settings *set = c->w->set;
    if (!set->real_ip_header[0] || !dp_settings_is_trusted(set, c->peer_ip))
        return c->peer_ip;
    const char *v = op_header(pr, set->real_ip_header, 0);
    if (!v)
        return c->peer_ip;
    const char *comma = strrchr(v, ',');
    if (comma)
        v = comma + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    const char *ip = n ? keep(p, v, n) : NULL;
    return ip ? ip : c->peer_ip;
}

static enum gw_err op_set_response_header(struct dp_plugin_req *pr, const char *name,
                                          const char *value)
{
    struct dp_req_plugins *p = PLG(pr);
    enum gw_err e = edit_set(p, p->resp_edits, &p->nresp_edits, name, value);
    if (e == GW_OK && p->responded) /* a header filter on a plugin's response: it wins */
        given_drop(p, name, strlen(name));
    return e;
}

static int op_response_status(struct dp_plugin_req *pr)
{
    struct dp_req_plugins *p = PLG(pr);
    return p->responded ? p->resp_status : p->r->status;
}

/* The nth header name of a plugin's response (its own, then the pending ones it keeps). */
static const struct edit *respond_nth(struct dp_req_plugins *p, const char *name, size_t nth)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < p->ngiven; i++) {
        const struct edit *g = &p->given[i];
        if (!g->removed && g->nlen == nlen && !strncasecmp(g->line, name, nlen) && nth-- == 0)
            return g;
    }
    for (size_t i = 0; i < p->nresp_edits; i++) {
        const struct edit *e = &p->resp_edits[i];
        if (!e->removed && e->nlen == nlen && !strncasecmp(e->line, name, nlen) &&
            !edit_find(p->given, p->ngiven, name, nlen) && nth-- == 0)
            return e;
    }
    return NULL;
}

static const char *op_response_header(struct dp_plugin_req *pr, const char *name, size_t nth)
{
    struct dp_req_plugins *p = PLG(pr);
    if (p->responded) {
        const struct edit *e = respond_nth(p, name, nth);
        return e ? edit_value(p, e) : NULL;
    }
    return hb_nth(p, &p->r->rb, 1, name, nth); /* 0 is the reason phrase */
}

static void each_line(const struct edit *e, dp_plugin_req_header_fn fn, void *arg)
{
    char name[256], value[1024];
    if (e->removed || e->nlen >= sizeof(name) || e->vlen >= sizeof(value))
        return;
    memcpy(name, e->line, e->nlen);
    name[e->nlen] = '\0';
    memcpy(value, e->line + e->nlen + 2, e->vlen);
    value[e->vlen] = '\0';
    fn(arg, name, value);
}

static void op_response_headers_each(struct dp_plugin_req *pr, dp_plugin_req_header_fn fn,
                                     void *arg)
{
    struct dp_req_plugins *p = PLG(pr);
    if (p->responded) { /* a plugin's response: the headers it will have */
        for (size_t i = 0; i < p->ngiven; i++)
            each_line(&p->given[i], fn, arg);
        for (size_t i = 0; i < p->nresp_edits; i++) {
            const struct edit *e = &p->resp_edits[i];
            if (!edit_find(p->given, p->ngiven, e->line, e->nlen))
                each_line(e, fn, arg);
        }
        return;
    }
    const struct dp_hblock *b = &p->r->rb;
    char name[256];
    for (size_t i = 1; i < b->n; i++) {
        if (b->h[i].nl >= sizeof(name))
            continue;
        memcpy(name, b->buf + b->h[i].no, b->h[i].nl);
        name[b->h[i].nl] = '\0';
        char *v = malloc(b->h[i].vl + 1);
        if (!v)
            return;
        memcpy(v, b->buf + b->h[i].vo, b->h[i].vl);
        v[b->h[i].vl] = '\0';
        fn(arg, name, v);
        free(v);
    }
}

static enum gw_err given_add(struct dp_req_plugins *p, const char *name, size_t nl,
                             const char *value, size_t vl)
{
    if (p->ngiven >= MAX_GIVEN)
        return GW_ERR_TOOBIG;
    char *line = room(p, nl + vl + 5);
    if (!line)
        return GW_ERR_NOMEM;
    dp_header_line_put(line, nl + vl + 4, name, nl, value, vl, &p->given[p->ngiven++]);
    line[nl + vl + 4] = '\0';
    return GW_OK;
}

static enum gw_err respond_end(struct dp_req_plugins *p, int status, const char *body, size_t len)
{
    gw_buf_reset(&p->resp_body);
    if (len && gw_buf_append(&p->resp_body, body, len) != GW_OK)
        return GW_ERR_NOMEM;
    p->resp_status = status;
    p->responded = true;
    return GW_OK;
}

static enum gw_err op_respond(struct dp_plugin_req *pr, int status, const struct dp_header *h,
                              size_t n, const char *body, size_t len)
{
    struct dp_req_plugins *p = PLG(pr);
    if (p->responded)
        return GW_ERR_EXISTS;
    p->ngiven = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
        if (!nl || !safe_mem(h[i].name, nl) || !safe_mem(h[i].value, vl))
            continue;
        enum gw_err e = given_add(p, h[i].name, nl, h[i].value, vl);
        if (e != GW_OK)
            return e;
    }
    return respond_end(p, status, body, len);
}

static enum gw_err op_respond_lines(struct dp_plugin_req *pr, int status,
                                    const struct dp_header_line *l, size_t n, const char *body,
                                    size_t len, void (*release)(void *arg), void *arg)
{
    struct dp_req_plugins *p = PLG(pr);
    if (p->responded)
        return GW_ERR_EXISTS;
    p->ngiven = 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i].removed)
            continue;
        if (release) { /* borrowed until release */
            if (p->ngiven >= MAX_GIVEN)
                return GW_ERR_TOOBIG;
            p->given[p->ngiven++] = l[i];
            continue;
        }
        enum gw_err e = given_add(p, l[i].line, l[i].nlen, l[i].line + l[i].nlen + 2, l[i].vlen);
        if (e != GW_OK)
            return e;
    }
    if (!release)
        return respond_end(p, status, body, len);
    p->body_ref = body ? body : "";
    p->body_ref_len = len;
    p->release = release;
    p->release_arg = arg;
    p->resp_status = status;
    p->responded = true;
    return GW_OK;
}

/* The head of a plugin's response: the pending response headers a header of the response does
 * not replace (those set after respond, by header filters, replaced them already), then the
 * response's own. */
static void respond_head(struct dp_req_plugins *p)
{
    struct gw_buf *o = &p->resp_head;
    gw_buf_reset(o);
    for (size_t i = 0; i < p->nresp_edits; i++) {
        const struct edit *e = &p->resp_edits[i];
        if (e->removed)
            continue;
        bool replaced = false;
        for (size_t j = 0; j < p->ngiven && !replaced; j++) {
            const struct edit *g = &p->given[j];
            replaced = !g->removed && g->nlen == e->nlen &&
                       ((g->line[0] ^ e->line[0]) & ~0x20) == 0 &&
                       !strncasecmp(g->line, e->line, e->nlen);
        }
        if (!replaced)
            dp_wb_mem(o, e->line, e->nlen + e->vlen + 4);
    }
    for (size_t j = 0; j < p->ngiven; j++) {
        if (!p->given[j].removed)
            dp_wb_mem(o, p->given[j].line, p->given[j].nlen + p->given[j].vlen + 4);
    }
}

static enum gw_err op_set_header_lines(struct dp_plugin_req *pr, bool response,
                                       const struct dp_header_line *l, size_t n, bool copy)
{
    struct dp_req_plugins *p = PLG(pr);
    if (response) {
        enum gw_err e = edit_lines(p, p->resp_edits, &p->nresp_edits, l, n, copy);
        for (size_t i = 0; e == GW_OK && p->responded && i < n; i++)
            given_drop(p, l[i].line, l[i].nlen);
        return e;
    }
    return edit_lines(p, p->req_edits, &p->nreq_edits, l, n, copy);
}

static const struct dp_plugin_req_ops ops = {
    .method = op_method,
    .path = op_path,
    .query = op_query,
    .header = op_header,
    .set_header = op_set_header,
    .clear_header = op_clear_header,
    .set_query = op_set_query,
    .body = op_body,
    .set_body = op_set_body,
    .client_ip = op_client_ip,
    .set_response_header = op_set_response_header,
    .response_status = op_response_status,
    .response_header = op_response_header,
    .response_headers_each = op_response_headers_each,
    .respond = op_respond,
    .set_header_lines = op_set_header_lines,
    .respond_lines = op_respond_lines,
};

/* ---- hooks ------------------------------------------------------------------------------- */

/* Largest body the plugins wait for (below the proxy's read high-water mark). */
#define BODY_WAIT_MAX (128 * 1024)

bool dp_req_plugins_wait_body(const struct dp_req *r)
{
    const struct dp_plugin_chain *chain = r->route ? r->route->plugins : NULL;
    if (!chain || !dp_plugin_chain_needs_body(chain) || r->msg_complete || r->chunked)
        return false;
    const llhttp_t *p = &r->c->p;
    return (p->flags & F_CONTENT_LENGTH) && r->body_read + p->content_length <= BODY_WAIT_MAX;
}

/* Largest response buffers kept with a recycled request between requests. */
#define RESP_KEEP_MAX (16 * 1024)

bool dp_req_plugins_access(struct dp_req *r)
{
    const struct dp_plugin_chain *chain = r->route ? r->route->plugins : NULL;
    if (!chain || dp_plugin_chain_empty(chain))
        return false;
    struct dp_req_plugins *p = r->plg;
    if (!p) {
        if (!(p = r->plg = malloc(sizeof(*p)))) {
            dp_conn_respond(r->c, 500, NULL, NULL);
            return true;
        }
        gw_buf_init(&p->resp_head, 1 << 20);
        gw_buf_init(&p->resp_body, 0);
    }
    p->base.ops = &ops;
    p->r = r;
    p->active = true;
    p->nreq_edits = p->nresp_edits = 0;
    p->new_query = NULL;
    p->body_replaced = false;
    p->responded = false;
    p->resp_status = 0;
    p->ngiven = 0;
    p->body_ref = NULL;
    p->release = NULL;
    p->used = 0;
    p->more = NULL;
    const char *url = r->hb.buf + r->url_o;
    const char *q = memchr(url, '?', r->url_l);
    size_t qlen = q ? r->url_l - (size_t)(q - url) - 1 : 0;
    if (!(p->query = keep(p, q ? q + 1 : "", qlen))) {
        dp_conn_respond(r->c, 500, NULL, NULL);
        return true;
    }
    dp_plugin_run_init(&p->run, r->cfg->plugins, chain, &p->base,
                       r->c->tls ? DP_PLUGIN_PROTO_HTTPS : DP_PLUGIN_PROTO_HTTP);
    if (!dp_plugin_run_access(&p->run))
        return false;
    if (!p->responded) { /* a plugin said it responded but could not build the response */
        dp_conn_respond(r->c, 500, NULL, NULL);
        return true;
    }
    /* As in Kong, the header and body filters of the request's plugins see a response a plugin
     * produced too (they may change its headers), then it is sent. */
    dp_plugin_run_header_filter(&p->run);
    const char *body = p->body_ref ? p->body_ref : p->resp_body.data;
    size_t blen = p->body_ref ? p->body_ref_len : p->resp_body.len;
    dp_plugin_run_body_filter(&p->run, body, blen, true);
    respond_head(p);
    dp_conn_respond_raw(r->c, p->resp_status, p->resp_head.data, p->resp_head.len, body, blen);
    return true;
}

#define ACTIVE(r) ((r)->plg && (r)->plg->active)

bool dp_req_plugins_header_edited(const struct dp_req *r, const char *name, size_t nlen)
{
    return ACTIVE(r) && edit_find(r->plg->req_edits, r->plg->nreq_edits, name, nlen);
}

static void write_edits(const struct edit *e, size_t n, struct gw_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!e[i].removed)
            dp_wb_mem(out, e[i].line, e[i].nlen + e[i].vlen + 4);
    }
}

void dp_req_plugins_upstream_headers(const struct dp_req *r, struct gw_buf *out)
{
    if (ACTIVE(r))
        write_edits(r->plg->req_edits, r->plg->nreq_edits, out);
}

const char *dp_req_plugins_query(const struct dp_req *r)
{
    return ACTIVE(r) ? r->plg->new_query : NULL;
}

bool dp_req_plugins_body_len(const struct dp_req *r, uint64_t *len)
{
    if (!ACTIVE(r) || !r->plg->body_replaced)
        return false;
    *len = r->plg->body_len;
    return true;
}

void dp_req_plugins_header_filter(struct dp_req *r)
{
    if (ACTIVE(r))
        dp_plugin_run_header_filter(&r->plg->run);
}

bool dp_req_plugins_response_edited(const struct dp_req *r, const char *name, size_t nlen)
{
    return ACTIVE(r) && edit_find(r->plg->resp_edits, r->plg->nresp_edits, name, nlen);
}

void dp_req_plugins_response_headers(const struct dp_req *r, struct gw_buf *out)
{
    if (ACTIVE(r))
        write_edits(r->plg->resp_edits, r->plg->nresp_edits, out);
}

void dp_req_plugins_body(struct dp_req *r, const char *data, size_t len, bool eof)
{
    if (ACTIVE(r))
        dp_plugin_run_body_filter(&r->plg->run, data, len, eof);
}

const char *dp_req_plugins_consumer_id(const struct dp_req *r)
{
    if (!ACTIVE(r))
        return NULL;
    const struct dp_plugin_run *run = &r->plg->run;
    if (run->consumer)
        return run->consumer->id;
    return run->credential ? run->credential->id : NULL;
}

void dp_req_plugins_finish(struct dp_req *r)
{
    struct dp_req_plugins *p = r->plg;
    if (!p || !p->active)
        return;
    dp_plugin_run_finish(&p->run);
    p->active = false;
    while (p->more) {
        struct overflow *o = p->more;
        p->more = o->next;
        free(o);
    }
    p->responded = false;
    p->ngiven = 0;
    p->body_ref = NULL;
    if (p->release) {
        p->release(p->release_arg);
        p->release = NULL;
    }
    if (p->resp_head.cap > RESP_KEEP_MAX)
        gw_buf_cleanup(&p->resp_head);
    if (p->resp_body.cap > RESP_KEEP_MAX)
        gw_buf_cleanup(&p->resp_body);
}

void dp_req_plugins_free(struct dp_req_plugins *p)
{
    if (!p)
        return;
    gw_buf_cleanup(&p->resp_head);
    gw_buf_cleanup(&p->resp_body);
    free(p);
}
