/* cp/admin/cp_admin_server.c: the Admin API's HTTP(S) server: listeners, request limits,
 * authentication, body decoding, dispatch, replies and Kong's error bodies.
 * SPDX-License-Identifier: Apache-2.0 */
#include "admin/cp_admin_internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/cp_admin_page.h"
#include "gw_buf.h"
#include "gw_listen.h"
#include "gw_log.h"
#include "gw_schema.h"
#include "gui/cp_gui_cors.h"
#include "gw_time.h"
#include "store/cp_migrations.h"

#define MAX_URI_LEN      8192
#define MAX_HEADERS_SIZE (64 * 1024)
#define CONN_TIMEOUT_S   60

/* ---------------------------------------------------------------------------------------- */
/* Replies */

static const char *cmd_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

static void send_reply(struct cp_admin_req *r, int status, const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    }
    cp_gui_cors_apply(r->admin->cors, r->ev);
    evhttp_add_header(h, "Server", "portico/" PORTICO_VERSION);
    struct evbuffer *b = NULL;
    if (body) {
        b = evbuffer_new();
        if (b)
            evbuffer_add(b, body, len);
    }
    const char *reason = NULL;
    switch (status) {
    case 413:
        reason = "Request Entity Too Large";
        break;
    case 415:
        reason = "Unsupported Media Type";
        break;
    case 503:
        reason = "Service Unavailable";
        break;
    default:
        break;
    }
    GW_LOG(GW_LOG_INFO, "admin request method=%s uri=\"%.200s\" status=%d",
           cmd_name(evhttp_request_get_command(r->ev)), evhttp_request_get_uri(r->ev), status);
    evhttp_send_reply(r->ev, status, reason, b);
    if (b)
        evbuffer_free(b);
}

void cp_admin_reply_json(struct cp_admin_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"message\":\"An unexpected error occurred\"}";
        send_reply(r, 500, oom, sizeof(oom) - 1);
        return;
    }
    send_reply(r, status, text, strlen(text));
    free(text);
}

void cp_admin_reply_message(struct cp_admin_req *r, int status, const char *message)
{
    cp_admin_reply_json(r, status, json_pack("{s:s}", "message", message));
}

void cp_admin_reply_empty(struct cp_admin_req *r, int status)
{
    send_reply(r, status, NULL, 0);
}

const char *cp_admin_query(struct cp_admin_req *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

void cp_admin_reply_header(struct cp_admin_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

enum cp_admin_method cp_admin_req_method(const struct cp_admin_req *r)
{
    return r->method;
}

const char *cp_admin_req_param(const struct cp_admin_req *r, size_t i)
{
    return i < r->match.nparams ? r->match.params[i] : NULL;
}

const char *cp_admin_req_header(struct cp_admin_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

const char *cp_admin_req_body(struct cp_admin_req *r, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    *len = evbuffer_get_length(in);
    const char *data = *len ? (const char *)evbuffer_pullup(in, -1) : NULL;
    if (!data)
        *len = 0;
    return data ? data : "";
}

struct cp_store *cp_admin_req_store(struct cp_admin_req *r)
{
    return r->admin->store;
}

/* Decodes the body into r->body; replies itself on failure. */
static enum gw_err decode_body(struct cp_admin_req *r)
{
    struct evkeyvalq *ih = evhttp_request_get_input_headers(r->ev);
    int nct = 0;
    const char *ct = NULL;
    for (struct evkeyval *kv = TAILQ_FIRST(ih); kv; kv = TAILQ_NEXT(kv, next)) {
        if (strcasecmp(kv->key, "Content-Type") == 0) {
            nct++;
            ct = kv->value;
        }
    }
    if (nct > 1) {
        cp_admin_reply_message(r, 400, "Multiple Content-Type headers");
        return GW_ERR_INVALID;
    }
    size_t len = 0;
    const char *data = cp_admin_req_body(r, &len);
    enum gw_err e = cp_admin_body_decode(ct, data, len, &r->body, &r->body_type);
    if (e == GW_ERR_DECLINED)
        cp_admin_reply_message(r, 415, "Unsupported Media Type");
    else if (e == GW_ERR_INVALID)
        cp_admin_reply_message(r, 400,
                               r->body_type == CP_ADMIN_BODY_JSON ? "Cannot parse JSON body"
                                                                  : "Cannot parse form body");
    else if (e != GW_OK)
        cp_admin_reply_message(r, 500, "An unexpected error occurred");
    return e;
}

enum gw_err cp_admin_req_json(struct cp_admin_req *r, json_t **out)
{
    *out = NULL;
    if (!r->body) {
        enum gw_err e = decode_body(r);
        if (e != GW_OK)
            return e;
    }
    *out = json_incref(r->body);
    return GW_OK;
}

enum gw_err cp_admin_route_add(struct cp_admin *a, const char *pattern, unsigned methods,
                               cp_admin_handler_fn fn, void *arg)
{
    if (!pattern || pattern[0] != '/' || !fn)
        return GW_ERR_INVALID;
    if (a->next >= CP_ADMIN_MAX_EXT_ROUTES)
        return GW_ERR_TOOBIG;
    char *copy = strdup(pattern);
    if (!copy)
        return GW_ERR_NOMEM;
    a->ext_routes[a->next] = (struct cp_admin_route){
        .pattern = copy, .methods = methods, .kind = CP_ADMIN_CUSTOM, .ext = a->next};
    a->ext_fn[a->next] = fn;
    a->ext_arg[a->next] = arg;
    a->next++;
    return GW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Kong's error bodies */

char *cp_admin_utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = 0;
        if (p[0] < 0x80)
            n = 1;
        else if (p[0] >= 0xc2 && p[0] <= 0xdf)
            n = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
            n = 3;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
            n = 4;
        bool ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return s;
}

static void lua_pretty_into(const json_t *v, struct gw_buf *b)
{
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        if (!keys)
            return;
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) keys[i++] = k;
        for (size_t a = 1; a < n; a++) /* insertion sort: few keys */
            for (size_t z = a; z > 0 && strcmp(keys[z - 1], keys[z]) > 0; z--) {
                const char *t = keys[z];
                keys[z] = keys[z - 1];
                keys[z - 1] = t;
            }
        gw_buf_append_str(b, "{");
        for (i = 0; i < n; i++) {
            gw_buf_appendf(b, "%s%s=", i ? "," : "", keys[i]);
            lua_pretty_into(json_object_get(v, keys[i]), b);
        }
        gw_buf_append_str(b, "}");
        free(keys);
    } else if (json_is_string(v)) {
        gw_buf_appendf(b, "\"%s\"", json_string_value(v));
    } else if (json_is_null(v) || !v) {
        gw_buf_append_str(b, "null");
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (t)
            gw_buf_append_str(b, t);
        free(t);
    }
}

char *cp_admin_lua_pretty(const json_t *v)
{
    struct gw_buf b;
    gw_buf_init(&b, 64 * 1024);
    lua_pretty_into(v, &b);
    return gw_buf_steal(&b);
}

static json_t *fk_key(const json_t *v)
{
    const json_t *id = json_object_get(v, "id");
    if (json_is_object(v) && id)
        return json_pack("{s:O}", "id", id);
    return v ? json_incref((json_t *)v) : json_null();
}

void cp_admin_reply_store_error(struct cp_admin_req *r, enum gw_err e,
                                const struct cp_store_dberr *err, const json_t *doc, bool deleting)
{
    if (e == GW_ERR_UNAVAILABLE) {
        cp_admin_reply_message(r, 503, "database unavailable");
        return;
    }
    if (e == GW_ERR_NOTFOUND) {
        cp_admin_reply_message(r, 404, "Not found");
        return;
    }
    if (e == GW_ERR_IO && err && err->sqlstate[0]) {
        const struct cp_constraint *c =
            err->constraint[0] ? cp_migrations_constraint(err->constraint) : NULL;
        if (strcmp(err->sqlstate, "23505") == 0 && c) {
            json_t *fields = json_object();
            for (size_t i = 0; c->fields[i]; i++) {
                json_t *v = doc ? json_object_get(doc, c->fields[i]) : NULL;
                json_object_set_new(fields, c->fields[i], fk_key(v));
            }
            char *pretty = cp_admin_lua_pretty(fields);
            char msg[1024];
            if (c->kind == CP_CONSTRAINT_PRIMARY) {
                snprintf(msg, sizeof(msg), "primary key violation on key '%s'",
                         pretty ? pretty : "");
                cp_admin_utf8_sanitize(msg);
                cp_admin_reply_json(r, 400,
                                    json_pack("{s:i,s:s,s:s,s:o}", "code", 3, "name",
                                              "primary key violation", "message", msg, "fields",
                                              fields));
            } else {
                snprintf(msg, sizeof(msg), "UNIQUE violation detected on '%s'",
                         pretty ? pretty : "");
                cp_admin_utf8_sanitize(msg);
                cp_admin_reply_json(r, 409,
                                    json_pack("{s:i,s:s,s:s,s:o}", "code", 5, "name",
                                              "unique constraint violation", "message", msg,
                                              "fields", fields));
            }
            free(pretty);
            return;
        }
        if (strcmp(err->sqlstate, "23503") == 0 && c && c->kind == CP_CONSTRAINT_FOREIGN) {
            char msg[1024];
            if (deleting) {
                snprintf(msg, sizeof(msg), "an existing '%s' entity references this '%s' entity",
                         c->table, c->ref);
                cp_admin_reply_json(r, 400,
                                    json_pack("{s:i,s:s,s:s,s:{s:s}}", "code", 4, "name",
                                              "foreign key violation", "message", msg, "fields",
                                              "@referenced_by", c->table));
                return;
            }
            json_t *key = fk_key(doc ? json_object_get(doc, c->fields[0]) : NULL);
            char *pretty = cp_admin_lua_pretty(key);
            snprintf(msg, sizeof(msg),
                     "the foreign key '%s' does not reference an existing '%s' entity.",
                     pretty ? pretty : "", c->ref);
            cp_admin_utf8_sanitize(msg);
            free(pretty);
            cp_admin_reply_json(r, 400,
                                json_pack("{s:i,s:s,s:s,s:{s:o}}", "code", 4, "name",
                                          "foreign key violation", "message", msg, "fields",
                                          c->fields[0], key));
            return;
        }
        if (strncmp(err->sqlstate, "22", 2) == 0) {
            /* data exceptions (bad uuid text, bytes jsonb refuses): the input's fault */
            cp_admin_reply_json(r, 400,
                                json_pack("{s:i,s:s,s:s}", "code", 2, "name", "schema violation",
                                          "message", err->message));
            return;
        }
        GW_LOG(GW_LOG_ERROR, "database error sqlstate=%s constraint=%s error=\"%s\"", err->sqlstate,
               err->constraint, err->message);
    } else {
        GW_LOG(GW_LOG_ERROR, "admin request failed error=\"%s\"", gw_err_str(e));
    }
    cp_admin_reply_message(r, 500, "An unexpected error occurred");
}

/* ---------------------------------------------------------------------------------------- */
/* Paging */

bool cp_admin_paging_parse(struct cp_admin_req *r, size_t nkeys, struct cp_admin_paging *p)
{
    memset(p, 0, sizeof(*p));
    char msg[256];
    p->size_raw = cp_admin_query(r, "size");
    p->offset_raw = cp_admin_query(r, "offset");
    p->tags_raw = cp_admin_query(r, "tags");
    if (cp_admin_page_size(p->size_raw, &p->size, msg, sizeof(msg)) != GW_OK) {
        cp_admin_reply_json(
            r, 400, json_pack("{s:i,s:s,s:s}", "code", 9, "name", "invalid size", "message", msg));
        return false;
    }
    if (p->offset_raw && nkeys > 0) {
        char why[128];
        if (cp_admin_offset_decode(p->offset_raw, nkeys, &p->offset_key, why, sizeof(why)) !=
            GW_OK) {
            char m[512];
            snprintf(m, sizeof(m), "'%.300s' is not a valid offset: %s", p->offset_raw, why);
            cp_admin_utf8_sanitize(m);
            cp_admin_reply_json(
                r, 400,
                json_pack("{s:i,s:s,s:s}", "code", 7, "name", "invalid offset", "message", m));
            return false;
        }
    }
    if (p->tags_raw) {
        if (cp_admin_page_tags(p->tags_raw, &p->tags, &p->tags_any, msg, sizeof(msg)) != GW_OK) {
            char m[512];
            snprintf(m, sizeof(m), "invalid option (tags: %s)", msg);
            cp_admin_reply_json(r, 400,
                                json_pack("{s:i,s:s,s:s,s:{s:s}}", "code", 11, "name",
                                          "invalid options", "message", m, "options", "tags", msg));
            cp_admin_paging_cleanup(p);
            return false;
        }
    }
    return true;
}

void cp_admin_paging_cleanup(struct cp_admin_paging *p)
{
    json_decref(p->offset_key);
    json_decref(p->tags);
    p->offset_key = NULL;
    p->tags = NULL;
}

static void append_escaped(struct gw_buf *b, const char *s)
{
    char *e = evhttp_uriencode(s, -1, 0);
    if (e) {
        gw_buf_append_str(b, e);
        free(e);
    }
}

json_t *cp_admin_page_body(const struct cp_admin_paging *p, json_t *data, const char *base,
                           const json_t *last_key)
{
    json_t *out = json_object();
    json_object_set_new(out, "data", data ? data : json_array());
    if (!last_key) {
        json_object_set_new(out, "next", json_null());
        return out;
    }
    char *token = cp_admin_offset_encode(last_key);
    struct gw_buf b;
    gw_buf_init(&b, 16 * 1024);
    gw_buf_appendf(&b, "%s?offset=", base);
    append_escaped(&b, token ? token : "");
    if (p->tags_raw) {
        gw_buf_append_str(&b, "&tags=");
        append_escaped(&b, p->tags_raw);
    }
    if (p->size_raw)
        gw_buf_appendf(&b, "&size=%zu", p->size);
    json_object_set_new(out, "offset", json_string(token ? token : ""));
    json_object_set_new(out, "next", json_string(b.data ? b.data : ""));
    gw_buf_cleanup(&b);
    free(token);
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests */

static bool token_ok(struct cp_admin *a, struct evhttp_request *ev)
{
    if (!a->token[0])
        return true;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(ev), "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    size_t tl = strlen(t), al = strlen(a->token);
    if (tl != al)
        return false;
    return CRYPTO_memcmp(t, a->token, al) == 0;
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct cp_admin *a = arg;
    for (size_t i = 0; i < a->nconns; i++) {
        if (a->conns[i] == evcon) {
            a->conns[i] = a->conns[--a->nconns];
            return;
        }
    }
}

/* Counts the request's connection as active until it closes (for /status). */
static void track_connection(struct cp_admin *a, struct evhttp_request *ev)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    if (!evcon)
        return;
    for (size_t i = 0; i < a->nconns; i++)
        if (a->conns[i] == evcon)
            return;
    if (a->nconns == a->capconns) {
        size_t cap = a->capconns ? a->capconns * 2 : 64;
        if (cap > 65536)
            return; /* keep serving; the count saturates */
        void *p = realloc(a->conns, cap * sizeof(*a->conns));
        if (!p)
            return;
        a->conns = p;
        a->capconns = cap;
    }
    a->conns[a->nconns++] = evcon;
    a->connections_handled++;
    evhttp_connection_set_closecb(evcon, on_conn_close, a);
}

/* OPTIONS: Kong's preflight answer with the methods the path accepts, in Kong's (alphabetical)
 * order; 404 for an unknown path. */
static void preflight(struct cp_admin_req *r, const char *uri)
{
    static const struct {
        const char *name;
        int method; /* -1: implied (HEAD with GET, OPTIONS always) */
    } order[] = {
        {"DELETE", CP_ADMIN_DELETE}, {"GET", CP_ADMIN_GET},   {"HEAD", -1},         {"OPTIONS", -1},
        {"PATCH", CP_ADMIN_PATCH},   {"POST", CP_ADMIN_POST}, {"PUT", CP_ADMIN_PUT}};
    struct cp_admin *a = r->admin;
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(uri, EVHTTP_URI_NONCONFORMANT);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    unsigned ok = 0;
    for (int m = 0; path && *path && m < CP_ADMIN_METHOD_COUNT_; m++) {
        struct cp_admin_match match = {0};
        enum gw_err e = a->next
                            ? cp_admin_route_match_table(a->ext_routes, a->next, m, path, &match)
                            : GW_ERR_NOTFOUND;
        cp_admin_match_cleanup(&match);
        if (e != GW_OK) {
            e = cp_admin_route_match(m, path, &match);
            cp_admin_match_cleanup(&match);
        }
        if (e == GW_OK)
            ok |= CP_ADMIN_M(m);
    }
    if (u)
        evhttp_uri_free(u);
    if (!ok) {
        cp_admin_reply_message(r, 404, "Not found");
        return;
    }
    char methods[96] = "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        bool on = order[i].method >= 0                 ? (ok & CP_ADMIN_M(order[i].method)) != 0
                  : strcmp(order[i].name, "HEAD") == 0 ? (ok & CP_ADMIN_M(CP_ADMIN_GET)) != 0
                                                       : true;
        if (on)
            len += (size_t)snprintf(methods + len, sizeof(methods) - len, "%s%s", len ? ", " : "",
                                    order[i].name);
    }
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Server",
                      "portico/" PORTICO_VERSION);
    cp_gui_cors_preflight(a->cors, r->ev, methods);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct cp_admin *a = arg;
    struct cp_admin_req r = {.admin = a, .ev = ev};
    TAILQ_INIT(&r.query);
    a->total_requests++;
    track_connection(a, ev);

    const char *uri = evhttp_request_get_uri(ev);
    if (!uri || strlen(uri) > MAX_URI_LEN) {
        cp_admin_reply_message(&r, 414, "URI too long");
        return;
    }
    /* CORS preflights are answered before authentication: browsers never send credentials on
     * them (cp/gui/cp_gui_cors.h). */
    if (evhttp_request_get_command(ev) == EVHTTP_REQ_OPTIONS) {
        preflight(&r, uri);
        return;
    }
    if (!token_ok(a, ev)) {
        evhttp_add_header(evhttp_request_get_output_headers(ev), "WWW-Authenticate",
                          "Bearer realm=\"portico\"");
        cp_admin_reply_message(&r, 401, "Unauthorized");
        return;
    }
    const char *mname = cmd_name(evhttp_request_get_command(ev));
    if (cp_admin_method_parse(mname, &r.method) != GW_OK) {
        cp_admin_reply_message(&r, 405, "Method not allowed");
        return;
    }
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(uri, EVHTTP_URI_NONCONFORMANT);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (!u || !path || !*path) {
        if (u)
            evhttp_uri_free(u);
        cp_admin_reply_message(&r, 404, "Not found");
        return;
    }
    const char *q = evhttp_uri_get_query(u);
    if (q && evhttp_parse_query_str(q, &r.query) != 0) {
        evhttp_clear_headers(&r.query);
        TAILQ_INIT(&r.query);
    }
    enum gw_err e =
        a->next ? cp_admin_route_match_table(a->ext_routes, a->next, r.method, path, &r.match)
                : GW_ERR_NOTFOUND;
    if (e != GW_OK) {
        enum gw_err e2 = cp_admin_route_match(r.method, path, &r.match);
        if (e2 == GW_OK || e2 == GW_ERR_DECLINED || e == GW_ERR_NOTFOUND)
            e = e2;
    }
    evhttp_uri_free(u);
    if (e == GW_ERR_DECLINED) {
        cp_admin_reply_message(&r, 405, "Method not allowed");
        goto out;
    }
    if (e != GW_OK) {
        cp_admin_reply_message(&r, e == GW_ERR_NOMEM ? 500 : 404,
                               e == GW_ERR_NOMEM ? "An unexpected error occurred" : "Not found");
        goto out;
    }
    if (r.match.route->kind == CP_ADMIN_CUSTOM) {
        size_t i = r.match.route->ext;
        a->ext_fn[i](&r, a->ext_arg[i]);
        goto done;
    }
    if ((r.method == CP_ADMIN_POST || r.method == CP_ADMIN_PUT || r.method == CP_ADMIN_PATCH) &&
        decode_body(&r) != GW_OK)
        goto out;
    if (r.match.route->kind >= CP_ADMIN_COLLECTION)
        cp_admin_handle_entity(&r);
    else
        cp_admin_handle_info(&r);
done:
    if (cp_store_in_transaction(a->store)) { /* a handler bug; never leave one open */
        GW_LOG(GW_LOG_ERROR, "admin handler left a transaction open uri=%.200s", uri);
        cp_store_rollback(a->store);
    }
out:
    json_decref(r.body);
    evhttp_clear_headers(&r.query);
    cp_admin_match_cleanup(&r.match);
}

/* ---------------------------------------------------------------------------------------- */
/* Listeners */

static struct bufferevent *ssl_bevcb(struct event_base *base, void *arg)
{
    struct cp_admin *a = arg;
    a->connections_accepted++;
    SSL *ssl = SSL_new(a->ssl_ctx);
    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static struct bufferevent *plain_bevcb(struct event_base *base, void *arg)
{
    struct cp_admin *a = arg;
    a->connections_accepted++;
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static struct evhttp *new_http(struct cp_admin *a, bool ssl)
{
    struct evhttp *h = evhttp_new(a->base);
    if (!h)
        return NULL;
    evhttp_set_max_body_size(h, (ev_ssize_t)gw_conf_size(a->conf, "admin_max_body_size"));
    evhttp_set_max_headers_size(h, MAX_HEADERS_SIZE);
    evhttp_set_timeout(h, CONN_TIMEOUT_S);
    evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                      EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                      EVHTTP_REQ_OPTIONS);
    evhttp_set_default_content_type(h, "application/json; charset=utf-8");
    evhttp_set_gencb(h, on_request, a);
    evhttp_set_bevcb(h, ssl ? ssl_bevcb : plain_bevcb, a);
    return h;
}

static enum gw_err load_ssl(struct cp_admin *a)
{
    const char *cert = gw_conf_str(a->conf, "admin_ssl_cert");
    const char *key = gw_conf_str(a->conf, "admin_ssl_cert_key");
    if (!cert[0] || !key[0]) {
        GW_LOG(GW_LOG_CRIT, "admin_listen has an ssl address but admin_ssl_cert or "
                            "admin_ssl_cert_key is not set");
        return GW_ERR_INVALID;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return GW_ERR_NOMEM;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        GW_LOG(GW_LOG_CRIT, "cannot load the admin TLS certificate cert=%s key=%s error=\"%s\"",
               cert, key, buf);
        SSL_CTX_free(ctx);
        return GW_ERR_TLS;
    }
    a->ssl_ctx = ctx;
    return GW_OK;
}

/* Reads <prefix>/node.id, or writes a new one. */
static void load_node_id(struct cp_admin *a)
{
    const char *prefix = gw_conf_str(a->conf, "prefix");
    char path[4096];
    snprintf(path, sizeof(path), "%s/node.id", prefix);
    FILE *f = fopen(path, "r");
    if (f) {
        char buf[64] = {0};
        if (fgets(buf, sizeof(buf), f)) {
            buf[strcspn(buf, "\r\n ")] = '\0';
            if (gw_uuid_valid(buf)) {
                memcpy(a->node_id, buf, GW_UUID_STRLEN);
                a->node_id[GW_UUID_STRLEN] = 0;
                fclose(f);
                return;
            }
        }
        fclose(f);
    }
    if (gw_uuid_v4(a->node_id) != GW_OK)
        snprintf(a->node_id, sizeof(a->node_id), "00000000-0000-4000-8000-000000000000");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1) {
        GW_LOG_ERRNO(GW_LOG_WARN, errno, "cannot write the node id path=%s", path);
        return;
    }
    char line[GW_UUID_STRLEN + 2];
    int n = snprintf(line, sizeof(line), "%s\n", a->node_id);
    if (write(fd, line, (size_t)n) != n)
        GW_LOG_ERRNO(GW_LOG_WARN, errno, "cannot write the node id path=%s", path);
    close(fd);
}

enum gw_err cp_admin_start(struct event_base *base, const struct gw_conf *conf,
                           struct cp_store *store, struct cp_admin **out)
{
    *out = NULL;
    struct gw_listen ls[GW_LISTEN_MAX];
    size_t nls = 0;
    char err[256];
    if (gw_listen_parse(gw_conf_str(conf, "admin_listen"), ls, &nls, err, sizeof(err)) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "bad admin_listen error=\"%s\"", err);
        return GW_ERR_INVALID;
    }
    struct cp_admin *a = calloc(1, sizeof(*a));
    if (!a)
        return GW_ERR_NOMEM;
    a->base = base;
    a->conf = conf;
    a->store = store;
    a->token = gw_conf_str(conf, "admin_token");
    a->started_ms = gw_time_unix_ms();
    enum gw_err e = GW_OK;
    a->cors = cp_gui_cors_create(conf);
    if (!a->cors) {
        e = GW_ERR_INVALID;
        goto fail;
    }
    if (gethostname(a->hostname, sizeof(a->hostname) - 1) != 0)
        snprintf(a->hostname, sizeof(a->hostname), "localhost");
    load_node_id(a);
    for (size_t i = 0; i < nls; i++) {
        struct evhttp **hp = ls[i].ssl ? &a->http_ssl : &a->http_plain;
        if (ls[i].ssl && !a->ssl_ctx && (e = load_ssl(a)) != GW_OK)
            goto fail;
        if (!*hp && !(*hp = new_http(a, ls[i].ssl))) {
            e = GW_ERR_NOMEM;
            goto fail;
        }
        if (!evhttp_bind_socket_with_handle(*hp, ls[i].host, (ev_uint16_t)ls[i].port)) {
            GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot listen for the Admin API address=%s:%d",
                         ls[i].host, ls[i].port);
            e = GW_ERR_IO;
            goto fail;
        }
        GW_LOG(GW_LOG_NOTICE, "Admin API listening address=%s:%d%s", ls[i].host, ls[i].port,
               ls[i].ssl ? " ssl" : "");
    }
    *out = a;
    return GW_OK;
fail:
    cp_admin_stop(a);
    return e;
}

void cp_admin_stop(struct cp_admin *a)
{
    if (!a)
        return;
    if (a->http_plain)
        evhttp_free(a->http_plain);
    if (a->http_ssl)
        evhttp_free(a->http_ssl);
    if (a->ssl_ctx)
        SSL_CTX_free(a->ssl_ctx);
    for (size_t i = 0; i < a->next; i++)
        free((char *)a->ext_routes[i].pattern);
    free(a->conns);
    cp_gui_cors_destroy(a->cors);
    free(a);
}
