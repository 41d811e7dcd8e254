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

struct edit {
    const char *name;  /* in the arena */
    const char *value; /* in the arena; NULL = header removed */
    size_t nlen, vlen;
};

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
    /* a plugin's response, sent after access returns */
    int resp_status;
    struct evbuffer *resp_head;
    char *resp_body;
    size_t resp_len;
    size_t used;
    struct overflow *more;
    char arena[ARENA_SIZE];
};

#define PLG(pr) ((struct dp_req_plugins *)(pr))

static const char *keep(struct dp_req_plugins *p, const char *s, size_t n)
{
    char *c;
    if (n < ARENA_SIZE - p->used) {
        c = p->arena + p->used;
        p->used += n + 1;
    } else {
        struct overflow *o = malloc(sizeof(*o) + n + 1);
        if (!o)
            return NULL;
        o->next = p->more;
        p->more = o;
        c = o->data;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static const struct edit *edit_find(const struct edit *e, size_t n, const char *name, size_t nlen)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].nlen == nlen && ((e[i].name[0] ^ name[0]) & ~0x20) == 0 &&
            strncasecmp(e[i].name, name, nlen) == 0)
            return &e[i];
    }
    return NULL;
}

/* Header names and values must not smuggle a line break into the head. */
static bool safe_value(const char *s)
{
    return !strpbrk(s, "\r\n");
}

static enum gw_err edit_set(struct dp_req_plugins *p, struct edit *e, size_t *n, const char *name,
                            const char *value)
{
    size_t nlen = strlen(name), vlen = value ? strlen(value) : 0;
    if (!nlen || !safe_value(name) || (value && !safe_value(value)))
        return GW_ERR_INVALID;
    const char *v = value ? keep(p, value, vlen) : NULL;
    if (value && !v)
        return GW_ERR_NOMEM;
    struct edit *found = (struct edit *)edit_find(e, *n, name, nlen);
    if (found) {
        found->value = v;
        found->vlen = vlen;
        return GW_OK;
    }
    if (*n >= MAX_EDITS)
        return GW_ERR_TOOBIG;
    const char *nm = keep(p, name, nlen);
    if (!nm)
        return GW_ERR_NOMEM;
    e[*n] = (struct edit){nm, v, nlen, vlen};
    (*n)++;
    return GW_OK;
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
        return nth == 0 ? e->value : NULL;
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
    return edit_set(p, p->resp_edits, &p->nresp_edits, name, value);
}

static int op_response_status(struct dp_plugin_req *pr)
{
    return PLG(pr)->r->status;
}

static const char *op_response_header(struct dp_plugin_req *pr, const char *name, size_t nth)
{
    struct dp_req_plugins *p = PLG(pr);
    return hb_nth(p, &p->r->rb, 1, name, nth); /* 0 is the reason phrase */
}

static void op_response_headers_each(struct dp_plugin_req *pr, dp_plugin_req_header_fn fn,
                                     void *arg)
{
    const struct dp_hblock *b = &PLG(pr)->r->rb;
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

static bool given(const struct dp_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(h[i].name, name))
            return true;
    }
    return false;
}

static void head_line(struct evbuffer *b, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    evbuffer_add(b, name, nlen);
    evbuffer_add(b, ": ", 2);
    evbuffer_add(b, value, vlen);
    evbuffer_add(b, "\r\n", 2);
}

static enum gw_err op_respond(struct dp_plugin_req *pr, int status, const struct dp_header *h,
                              size_t n, const char *body, size_t len)
{
    struct dp_req_plugins *p = PLG(pr);
    if (p->resp_head)
        return GW_ERR_EXISTS;
    if (!(p->resp_head = evbuffer_new()))
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < p->nresp_edits; i++) {
        const struct edit *e = &p->resp_edits[i];
        if (e->value && !given(h, n, e->name))
            head_line(p->resp_head, e->name, e->nlen, e->value, e->vlen);
    }
    for (size_t i = 0; i < n; i++) {
        if (safe_value(h[i].value) && safe_value(h[i].name))
            head_line(p->resp_head, h[i].name, strlen(h[i].name), h[i].value, strlen(h[i].value));
    }
    if (len && !(p->resp_body = malloc(len)))
        return GW_ERR_NOMEM;
    if (len)
        memcpy(p->resp_body, body, len);
    p->resp_len = len;
    p->resp_status = status;
    return GW_OK;
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

bool dp_req_plugins_access(struct dp_req *r)
{
    const struct dp_plugin_chain *chain = r->route ? r->route->plugins : NULL;
    if (!chain || dp_plugin_chain_empty(chain))
        return false;
    struct dp_req_plugins *p = r->plg;
    if (!p && !(p = r->plg = malloc(sizeof(*p)))) {
        dp_conn_respond(r->c, 500, NULL, NULL);
        return true;
    }
    p->base.ops = &ops;
    p->r = r;
    p->active = true;
    p->nreq_edits = p->nresp_edits = 0;
    p->new_query = NULL;
    p->body_replaced = false;
    p->resp_status = 0;
    p->resp_head = NULL;
    p->resp_body = NULL;
    p->resp_len = 0;
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
    if (!p->resp_head) { /* a plugin said it responded but could not build the response */
        dp_conn_respond(r->c, 500, NULL, NULL);
        return true;
    }
    dp_conn_respond_raw(r->c, p->resp_status, p->resp_head, p->resp_body, p->resp_len);
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
        if (!e[i].value)
            continue;
        dp_wb_mem(out, e[i].name, e[i].nlen);
        DP_WB_LIT(out, ": ");
        dp_wb_mem(out, e[i].value, e[i].vlen);
        DP_WB_LIT(out, "\r\n");
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
    if (p->resp_head)
        evbuffer_free(p->resp_head);
    p->resp_head = NULL;
    free(p->resp_body);
    p->resp_body = NULL;
}

void dp_req_plugins_free(struct dp_req_plugins *p)
{
    free(p);
}
