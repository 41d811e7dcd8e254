/* dp/plugins/dp_plugin_proxy_cache.c: the proxy-cache plugin (Kong's kong/plugins/proxy-cache)
 * with strategy memory: computes Kong's cache key, serves fresh entries from the data plane's
 * bounded LRU store (dp_cache_store) and stores cacheable upstream responses.
 * SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw_buf.h"
#include "gw_log.h"
#include "plugins/dp_cache_store.h"
#include "plugins/dp_plugin.h"
#include "plugins/dp_plugin_set.h"

/* Bound of the text hashed into a cache key (path, query and vary headers). */
#define KEY_TEXT_MAX 65536
/* Most response headers kept with an entry. */
#define MAX_STORED_HEADERS 64
#define CC_ABSENT          LONG_MIN

struct mime {
    char type[64];
    char subtype[128];
    size_t nparams;
    char params[8][2][64]; /* lower-cased name, value */
};

struct pc_conf {
    int *response_code;
    size_t nresponse_code;
    char **request_method;
    size_t nrequest_method;
    struct mime *content_type;
    size_t ncontent_type;
    int64_t cache_ttl;
    int64_t storage_ttl; /* 0 = unset */
    bool cache_control;
    bool ignore_uri_case;
    char **vary_query_params;
    size_t nvary_query_params;
    char **vary_headers;
    size_t nvary_headers;
    bool hdr_age, hdr_status, hdr_key;
    struct dp_cache_store *store; /* borrowed from the plugin env */
    EVP_MD *sha256;               /* fetched once: an implicit fetch per digest is slow */
};

/* Per-request state from access to the end of the body (Miss and Refresh only). */
struct pc_state {
    char key[65]; /* the public cache key (sha256 hex) */
    char *lookup; /* the key text: the store's lookup key (owned) */
    size_t lookup_len;
    bool storing; /* still collecting a cacheable response */
    int status;
    int64_t res_ttl;
    size_t nheaders;
    struct dp_header headers[MAX_STORED_HEADERS]; /* owned strings */
    size_t header_bytes;
    struct gw_buf body;
};

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void destroy(void *p)
{
    struct pc_conf *c = p;
    if (!c)
        return;
    free(c->response_code);
    free_strv(c->request_method, c->nrequest_method);
    free(c->content_type);
    free_strv(c->vary_query_params, c->nvary_query_params);
    free_strv(c->vary_headers, c->nvary_headers);
    EVP_MD_free(c->sha256);
    free(c);
}

static void lower(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
    }
}

static void trim_copy(char *out, size_t outlen, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Parses "type/subtype; a=b". Returns false when it is not a media type. */
static bool mime_parse(const char *s, struct mime *m)
{
    memset(m, 0, sizeof(*m));
    const char *semi = strchr(s, ';');
    size_t n = semi ? (size_t)(semi - s) : strlen(s);
    const char *slash = memchr(s, '/', n);
    if (!slash)
        return false;
    trim_copy(m->type, sizeof(m->type), s, (size_t)(slash - s));
    trim_copy(m->subtype, sizeof(m->subtype), slash + 1, n - (size_t)(slash - s) - 1);
    lower(m->type);
    lower(m->subtype);
    if (!m->type[0] || !m->subtype[0])
        return false;
    while (semi && m->nparams < 8) {
        const char *p = semi + 1;
        semi = strchr(p, ';');
        size_t pl = semi ? (size_t)(semi - p) : strlen(p);
        const char *eq = memchr(p, '=', pl);
        if (!eq)
            continue;
        trim_copy(m->params[m->nparams][0], 64, p, (size_t)(eq - p));
        lower(m->params[m->nparams][0]);
        trim_copy(m->params[m->nparams][1], 64, eq + 1, pl - (size_t)(eq - p) - 1);
        char *v = m->params[m->nparams][1];
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            memmove(v, v + 1, vl - 2);
            v[vl - 2] = '\0';
        }
        m->nparams++;
    }
    return true;
}

/* Kong's rule: type and subtype equal or '*', and exactly the same parameters. */
static bool mime_match(const struct mime *want, const struct mime *got)
{
    if (strcmp(want->type, "*") != 0 && strcmp(want->type, got->type) != 0)
        return false;
    if (strcmp(want->subtype, "*") != 0 && strcmp(want->subtype, got->subtype) != 0)
        return false;
    if (want->nparams != got->nparams)
        return false;
    for (size_t i = 0; i < want->nparams; i++) {
        bool found = false;
        for (size_t j = 0; j < got->nparams && !found; j++) {
            found = !strcmp(want->params[i][0], got->params[j][0]) &&
                    !strcasecmp(want->params[i][1], got->params[j][1]);
        }
        if (!found)
            return false;
    }
    return true;
}

static enum gw_err dup_strv(char *const *in, size_t n, char ***out, size_t *nout, bool low)
{
    *out = calloc(n ? n : 1, sizeof(char *));
    *nout = 0;
    if (!*out)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!((*out)[i] = strdup(in[i])))
            return GW_ERR_NOMEM;
        if (low)
            lower((*out)[i]);
        (*nout)++;
    }
    return GW_OK;
}

static enum gw_err build(const struct dp_plugin_build_ctx *b, void **out, char *err, size_t errlen)
{
    const Portico__V1__ProxyCacheConfig *pb = b->pb->proxy_cache;
    if (!b->env || !b->env->cache) {
        snprintf(err, errlen, "no proxy-cache memory store on this data plane");
        return GW_ERR_INVALID;
    }
    if (pb->strategy && strcmp(pb->strategy, "memory") != 0) {
        snprintf(err, errlen, "strategy '%s' is not supported by this data plane: use 'memory'",
                 pb->strategy);
        return GW_ERR_INVALID;
    }
    struct pc_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return GW_ERR_NOMEM;
    c->store = b->env->cache;
    if (!(c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
        snprintf(err, errlen, "SHA-256 is not available");
        destroy(c);
        return GW_ERR_INVALID;
    }
    static const int def_codes[] = {200, 301, 404};
    static char *const def_methods[] = {"GET", "HEAD"};
    static const char *const def_types[] = {"text/plain", "application/json"};
    size_t nc = pb->n_response_code ? pb->n_response_code : 3;
    if (!(c->response_code = calloc(nc, sizeof(int))))
        goto nomem;
    for (size_t i = 0; i < nc; i++)
        c->response_code[i] = pb->n_response_code ? pb->response_code[i] : def_codes[i];
    c->nresponse_code = nc;
    if (dup_strv(pb->n_request_method ? pb->request_method : def_methods,
                 pb->n_request_method ? pb->n_request_method : 2, &c->request_method,
                 &c->nrequest_method, false) != GW_OK)
        goto nomem;
    size_t nt = pb->n_content_type ? pb->n_content_type : 2;
    if (!(c->content_type = calloc(nt, sizeof(struct mime))))
        goto nomem;
    for (size_t i = 0; i < nt; i++) {
        const char *t = pb->n_content_type ? pb->content_type[i] : def_types[i];
        if (!mime_parse(t, &c->content_type[c->ncontent_type])) {
            snprintf(err, errlen, "content_type: '%s' is not a media type", t);
            destroy(c);
            return GW_ERR_INVALID;
        }
        c->ncontent_type++;
    }
    c->cache_ttl = pb->has_cache_ttl ? pb->cache_ttl : 300;
    c->storage_ttl = pb->has_storage_ttl ? pb->storage_ttl : 0;
    if (c->cache_ttl <= 0) {
        snprintf(err, errlen, "cache_ttl: value must be greater than 0");
        destroy(c);
        return GW_ERR_INVALID;
    }
    c->cache_control = pb->has_cache_control && pb->cache_control;
    c->ignore_uri_case = pb->has_ignore_uri_case && pb->ignore_uri_case;
    if (dup_strv(pb->vary_query_params, pb->n_vary_query_params, &c->vary_query_params,
                 &c->nvary_query_params, false) != GW_OK ||
        dup_strv(pb->vary_headers, pb->n_vary_headers, &c->vary_headers, &c->nvary_headers,
                 false) != GW_OK)
        goto nomem;
    const Portico__V1__ProxyCacheResponseHeaders *rh = pb->response_headers;
    c->hdr_age = !rh || !rh->has_age || rh->age;
    c->hdr_status = !rh || !rh->has_x_cache_status || rh->x_cache_status;
    c->hdr_key = !rh || !rh->has_x_cache_key || rh->x_cache_key;
    *out = c;
    return GW_OK;
nomem:
    destroy(c);
    return GW_ERR_NOMEM;
}

/* Parsed Cache-Control directives we look at (CC_ABSENT when absent). */
struct cc {
    bool no_store, no_cache, private_, only_if_cached;
    long max_age, s_maxage, max_stale, min_fresh;
};

static void cc_parse_value(struct cc *cc, const char *v)
{
    const char *p = v;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[128], name[64];
        trim_copy(item, sizeof(item), p, n);
        const char *eq = strchr(item, '=');
        trim_copy(name, sizeof(name), item, eq ? (size_t)(eq - item) : strlen(item));
        lower(name);
        long num = LONG_MAX; /* a directive without a number: no bound */
        if (eq) {
            const char *vs = eq + 1;
            if (*vs == '"')
                vs++;
            char *ep = NULL;
            long x = strtol(vs, &ep, 10);
            if (ep != vs)
                num = x;
        }
        if (!strcmp(name, "no-store"))
            cc->no_store = true;
        else if (!strcmp(name, "no-cache"))
            cc->no_cache = true;
        else if (!strcmp(name, "private"))
            cc->private_ = true;
        else if (!strcmp(name, "only-if-cached"))
            cc->only_if_cached = true;
        else if (!strcmp(name, "max-age"))
            cc->max_age = num;
        else if (!strcmp(name, "s-maxage"))
            cc->s_maxage = num;
        else if (!strcmp(name, "max-stale"))
            cc->max_stale = num;
        else if (!strcmp(name, "min-fresh"))
            cc->min_fresh = num;
        p = end ? end + 1 : NULL;
    }
}

typedef const char *(*header_get_fn)(struct dp_plugin_req *r, const char *name, size_t nth);

static void cc_parse(struct dp_plugin_req *r, header_get_fn get, struct cc *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = CC_ABSENT;
    const char *v;
    for (size_t i = 0; i < 16 && (v = get(r, "Cache-Control", i)); i++)
        cc_parse_value(cc, v);
}

/* Kong's resource_ttl: s-maxage, else max-age, else Expires - now; never negative. */
static int64_t resource_ttl(struct dp_plugin_req *r, const struct cc *cc, int64_t now)
{
    long ma = cc->s_maxage != CC_ABSENT ? cc->s_maxage : cc->max_age;
    if (ma != CC_ABSENT)
        return ma > 0 ? ma : 0;
    const char *exp = NULL, *v;
    for (size_t i = 0; i < 16 && (v = r->ops->response_header(r, "Expires", i)); i++)
        exp = v; /* the last one wins */
    if (!exp)
        return 0;
    struct tm tm = {0};
    const char *end = strptime(exp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return 0;
    int64_t t = (int64_t)timegm(&tm) - now;
    return t > 0 ? t : 0;
}

static void set_hdr(struct dp_plugin_call *c, bool enabled, const char *name, const char *value)
{
    if (enabled)
        c->req->ops->set_response_header(c->req, name, value);
}

static bool cacheable_request(struct dp_plugin_req *r, const struct pc_conf *conf,
                              const struct cc *cc)
{
    const char *m = r->ops->method(r);
    bool match = false;
    for (size_t i = 0; i < conf->nrequest_method && !match; i++)
        match = !strcmp(conf->request_method[i], m);
    if (!match)
        return false;
    if (conf->cache_control &&
        (cc->no_store || cc->no_cache || r->ops->header(r, "Authorization", 0)))
        return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The text of a cache key: in a stack buffer, on the heap past it (bounded by KEY_TEXT_MAX). */
struct ktext {
    char small[512];
    struct gw_buf big;
    size_t len;
    bool heap;
};

static void kt_init(struct ktext *k)
{
    k->len = 0;
    k->heap = false;
    gw_buf_init(&k->big, KEY_TEXT_MAX);
}

static char *kt_data(struct ktext *k)
{
    return k->heap ? k->big.data : k->small;
}

static enum gw_err kt_add(struct ktext *k, const char *s, size_t n)
{
    if (!k->heap) {
        if (k->len + n < sizeof(k->small)) {
            memcpy(k->small + k->len, s, n);
            k->len += n;
            return GW_OK;
        }
        enum gw_err e = gw_buf_append(&k->big, k->small, k->len);
        if (e != GW_OK)
            return e;
        k->heap = true;
    }
    enum gw_err e = gw_buf_append(&k->big, s, n);
    k->len = k->big.len;
    return e;
}

static enum gw_err kt_str(struct ktext *k, const char *s)
{
    return kt_add(k, s, strlen(s));
}

/* Appends "field=v1,v2" for the values (sorted) of a query arg or header. */
static enum gw_err append_field(struct ktext *b, bool *first, const char *field, char **vals,
                                size_t n)
{
    if (!n)
        return GW_OK;
    qsort(vals, n, sizeof(char *), cmp_str);
    enum gw_err e = *first ? GW_OK : kt_add(b, ":", 1);
    if (e == GW_OK)
        e = kt_str(b, field);
    if (e == GW_OK)
        e = kt_add(b, "=", 1);
    for (size_t i = 0; e == GW_OK && i < n; i++) {
        if (i)
            e = kt_add(b, ",", 1);
        if (e == GW_OK)
            e = kt_str(b, vals[i]);
    }
    *first = false;
    return e;
}

/* Decoded values of query argument name (up to max), each owned. */
static size_t query_values(const char *q, const char *name, char **vals, size_t max)
{
    size_t n = 0;
    const char *p = q;
    while (p && *p && n < max) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t nl = eq ? (size_t)(eq - p) : seg;
        char dn[256];
        if (nl && nl < sizeof(dn)) {
            dp_plugin_url_decode(p, nl, true, dn, sizeof(dn));
            if (!strcmp(dn, name)) {
                size_t vl = eq ? seg - nl - 1 : 0;
                char *v = malloc(vl + 1);
                if (v) {
                    dp_plugin_url_decode(eq ? eq + 1 : "", vl, true, v, vl + 1);
                    vals[n++] = v;
                }
            }
        }
        p = end ? end + 1 : NULL;
    }
    return n;
}

/* The decoded names of every query argument (owned, sorted, unique), up to max. */
static size_t query_names(const char *q, char **names, size_t max)
{
    size_t n = 0;
    const char *p = q;
    while (p && *p && n < max) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t nl = eq ? (size_t)(eq - p) : seg;
        if (nl) {
            char *d = malloc(nl + 1);
            if (d) {
                dp_plugin_url_decode(p, nl, true, d, nl + 1);
                bool dup = false;
                for (size_t i = 0; i < n && !dup; i++)
                    dup = !strcmp(names[i], d);
                if (dup)
                    free(d);
                else
                    names[n++] = d;
            }
        }
        p = end ? end + 1 : NULL;
    }
    qsort(names, n, sizeof(char *), cmp_str);
    return n;
}

#define MAX_VALS 64

static enum gw_err key_params(struct ktext *b, const char *q, const struct pc_conf *conf)
{
    char *names[MAX_VALS], *vals[MAX_VALS];
    size_t nn;
    char *const *fields;
    if (!conf->nvary_query_params && !q[0])
        return GW_OK;
    if (conf->nvary_query_params) {
        fields = conf->vary_query_params;
        nn = conf->nvary_query_params;
    } else {
        nn = query_names(q, names, MAX_VALS);
        fields = names;
    }
    bool first = true;
    enum gw_err e = GW_OK;
    for (size_t i = 0; i < nn && e == GW_OK; i++) {
        size_t nv = query_values(q, fields[i], vals, MAX_VALS);
        e = append_field(b, &first, fields[i], vals, nv);
        for (size_t j = 0; j < nv; j++)
            free(vals[j]);
    }
    if (!conf->nvary_query_params) {
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
    }
    return e;
}

static enum gw_err key_headers(struct ktext *b, struct dp_plugin_req *r, const struct pc_conf *conf)
{
    bool first = true;
    enum gw_err e = GW_OK;
    for (size_t i = 0; i < conf->nvary_headers && e == GW_OK; i++) {
        char *vals[MAX_VALS];
        size_t nv = 0;
        const char *v;
        while (nv < MAX_VALS && (v = r->ops->header(r, conf->vary_headers[i], nv)))
            vals[nv++] = (char *)v;
        e = append_field(b, &first, conf->vary_headers[i], vals, nv);
    }
    return e;
}

/* The text of Kong's cache key: "prefix|method|uri|params|headers", prefix being
 * "<consumer id>:<route id>", "<route id>" or "default". The public key is its sha256 hex
 * (key_hex); the store is looked up with the text itself, so a hit computes no digest. */
static enum gw_err cache_key_text(struct dp_plugin_call *c, const struct pc_conf *conf,
                                  struct ktext *b)
{
    struct dp_plugin_req *r = c->req;
    const char *route = dp_plugin_run_route_id(c->run);
    const struct dp_consumer *consumer = c->run->consumer;
    enum gw_err e = GW_OK;
    if (consumer && route) {
        e = kt_str(b, consumer->id);
        if (e == GW_OK)
            e = kt_add(b, ":", 1);
    }
    if (e == GW_OK)
        e = kt_str(b, route ? route : "default");
    if (e == GW_OK)
        e = kt_add(b, "|", 1);
    if (e == GW_OK)
        e = kt_str(b, r->ops->method(r));
    if (e == GW_OK)
        e = kt_add(b, "|", 1);
    size_t uri_at = b->len;
    if (e == GW_OK)
        e = kt_str(b, r->ops->path(r));
    if (e == GW_OK)
        e = kt_add(b, "|", 1);
    if (e == GW_OK && conf->ignore_uri_case) {
        char *d = kt_data(b);
        for (size_t i = uri_at; i < b->len; i++) {
            if (d[i] >= 'A' && d[i] <= 'Z')
                d[i] = (char)(d[i] + 32);
        }
    }
    if (e == GW_OK)
        e = key_params(b, r->ops->query(r), conf);
    if (e == GW_OK)
        e = kt_add(b, "|", 1);
    if (e == GW_OK)
        e = key_headers(b, r, conf);
    return e;
}

static enum gw_err key_hex(const struct pc_conf *conf, const char *text, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, len, md, &mdlen, conf->sha256, NULL) != 1 || mdlen != 32)
        return GW_ERR_INTERNAL;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return GW_OK;
}

static bool skip_stored_header(const char *name)
{
    static const char *const skip[] = {"connection",
                                       "keep-alive",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "te",
                                       "trailers",
                                       "transfer-encoding",
                                       "upgrade",
                                       "content-length",
                                       "age",
                                       "x-cache-status",
                                       "x-cache-key"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
        if (dp_plugin_streq_ci(name, skip[i]))
            return true;
    }
    /* the rate-limiting headers of this request win over the stored ones */
    return strcasestr(name, "ratelimit") != NULL;
}

/* A hit: the stored response as it is (its headers were filtered when stored) plus Age,
 * X-Cache-Status and X-Cache-Key; the upstream is not involved. */
static void entry_release(void *e)
{
    dp_cache_entry_release(e);
}

/* A hit: the stored response as it is (its headers were filtered when stored) plus Age,
 * X-Cache-Status and X-Cache-Key; the upstream is not involved. The entry's lines and body are
 * lent to the proxy with a reference (no copy before the one into the socket buffer). */
static enum dp_plugin_rc serve_hit(struct dp_plugin_call *c, const struct pc_conf *conf,
                                   struct dp_cache_entry *e, int64_t now)
{
    struct dp_plugin_req *r = c->req;
    struct dp_header_line lines[MAX_STORED_HEADERS + 2];
    size_t n = e->nheaders < MAX_STORED_HEADERS ? e->nheaders : MAX_STORED_HEADERS;
    memcpy(lines, e->lines, n * sizeof(lines[0]));
    if (conf->hdr_status)
        lines[n++] = e->hit_status;
    if (conf->hdr_key)
        lines[n++] = e->hit_key;
    if (conf->hdr_age) {
        char age[24], buf[48];
        char *ae = age + sizeof(age), *ad = ae;
        uint64_t a = now > e->timestamp ? (uint64_t)(now - e->timestamp) : 0;
        do {
            *--ad = (char)('0' + a % 10);
            a /= 10;
        } while (a);
        struct dp_header_line l;
        if (dp_header_line_put(buf, sizeof(buf), "Age", 3, ad, (size_t)(ae - ad), &l))
            r->ops->set_header_lines(r, true, &l, 1, true);
    }
    dp_cache_entry_ref(e);
    enum gw_err err =
        r->ops->respond_lines(r, e->status, lines, n, e->body, e->body_len, entry_release, e);
    if (err != GW_OK) {
        dp_cache_entry_release(e);
        GW_LOG(GW_LOG_ERROR, "proxy-cache could not serve a hit error=\"%s\"", gw_err_str(err));
    }
    return DP_PLUGIN_RESPONDED;
}

static void signal_store(struct dp_plugin_call *c, const struct pc_conf *conf, const char *key,
                         struct ktext *kt, const char *status)
{
    struct pc_state *st = calloc(1, sizeof(*st));
    if (st && (st->lookup = malloc(kt->len + 1))) {
        memcpy(st->key, key, sizeof(st->key));
        memcpy(st->lookup, kt_data(kt), kt->len);
        st->lookup[kt->len] = '\0';
        st->lookup_len = kt->len;
        st->storing = true;
        *c->state = st;
    } else {
        free(st);
    }
    set_hdr(c, conf->hdr_status, "X-Cache-Status", status);
}

static enum dp_plugin_rc access(struct dp_plugin_call *c)
{
    const struct pc_conf *conf = c->conf;
    struct dp_plugin_req *r = c->req;
    struct cc cc;
    if (conf->cache_control) {
        cc_parse(r, r->ops->header, &cc);
    } else { /* the request's Cache-Control is ignored: no need to read it */
        memset(&cc, 0, sizeof(cc));
        cc.max_age = cc.s_maxage = cc.max_stale = cc.min_fresh = CC_ABSENT;
    }
    if (!cacheable_request(r, conf, &cc)) {
        set_hdr(c, conf->hdr_status, "X-Cache-Status", "Bypass");
        return DP_PLUGIN_CONTINUE;
    }
    struct ktext kt;
    kt_init(&kt);
    enum dp_plugin_rc rc = DP_PLUGIN_CONTINUE;
    if (cache_key_text(c, conf, &kt) != GW_OK) {
        GW_LOG(GW_LOG_WARN, "proxy-cache could not build a cache key plugin=%s", c->plugin_id);
        set_hdr(c, conf->hdr_status, "X-Cache-Status", "Bypass");
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    struct dp_cache_entry *e =
        dp_cache_store_get(conf->store, c->plugin_id, kt_data(&kt), kt.len, now);
    bool stale = e != NULL;
    if (e) {
        int64_t age = now - e->timestamp;
        bool refresh;
        if (conf->cache_control) {
            refresh = (cc.max_age != CC_ABSENT && age > cc.max_age) ||
                      (cc.max_stale != CC_ABSENT && age - e->ttl > cc.max_stale) ||
                      (cc.min_fresh != CC_ABSENT && e->ttl - age < cc.min_fresh);
        } else {
            refresh = age > conf->cache_ttl; /* entries may be kept longer (storage_ttl) */
        }
        if (!refresh) {
            rc = serve_hit(c, conf, e, now);
            dp_cache_entry_release(e);
            goto out;
        }
        dp_cache_entry_release(e);
        e = NULL;
    }
    char key[65];
    if (key_hex(conf, kt_data(&kt), kt.len, key) != GW_OK) {
        GW_LOG(GW_LOG_WARN, "proxy-cache could not build a cache key plugin=%s", c->plugin_id);
        set_hdr(c, conf->hdr_status, "X-Cache-Status", "Bypass");
        goto out;
    }
    set_hdr(c, conf->hdr_key, "X-Cache-Key", key);
    if (!stale && conf->cache_control && cc.only_if_cached) {
        /* RFC 7234 5.2.1.7: the client only wants a cached response */
        if (r->ops->respond(r, 504, NULL, 0, NULL, 0) != GW_OK)
            GW_LOG(GW_LOG_ERROR, "proxy-cache could not respond status=504");
        rc = DP_PLUGIN_RESPONDED;
        goto out;
    }
    signal_store(c, conf, key, &kt, stale ? "Refresh" : "Miss");
out:
    gw_buf_cleanup(&kt.big);
    return rc;
}

static bool cacheable_response(struct dp_plugin_req *r, const struct pc_conf *conf,
                               const struct cc *cc, int64_t now)
{
    int status = r->ops->response_status(r);
    bool match = false;
    for (size_t i = 0; i < conf->nresponse_code && !match; i++)
        match = conf->response_code[i] == status;
    if (!match)
        return false;
    const char *ct = r->ops->response_header(r, "Content-Type", 0);
    if (!ct || !ct[0] || r->ops->response_header(r, "Content-Type", 1))
        return false;
    struct mime got;
    if (!mime_parse(ct, &got))
        return false;
    match = false;
    for (size_t i = 0; i < conf->ncontent_type && !match; i++)
        match = mime_match(&conf->content_type[i], &got);
    if (!match)
        return false;
    if (conf->cache_control && (cc->private_ || cc->no_store || cc->no_cache))
        return false;
    if (conf->cache_control && resource_ttl(r, cc, now) <= 0)
        return false;
    return true;
}

static void state_free(struct pc_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nheaders; i++) {
        free((char *)st->headers[i].name);
        free((char *)st->headers[i].value);
    }
    gw_buf_cleanup(&st->body);
    free(st->lookup);
    free(st);
}

static void stop_storing(struct pc_state *st)
{
    st->storing = false;
    gw_buf_cleanup(&st->body);
}

static void keep_header(void *arg, const char *name, const char *value)
{
    struct pc_state *st = arg;
    if (!st->storing || skip_stored_header(name))
        return;
    if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n")) { /* hits send stored lines as is */
        stop_storing(st);
        return;
    }
    if (st->nheaders >= MAX_STORED_HEADERS) {
        stop_storing(st);
        return;
    }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        stop_storing(st);
        return;
    }
    st->headers[st->nheaders++] = (struct dp_header){n, v};
    st->header_bytes += strlen(n) + strlen(v) + 2 + sizeof(struct dp_header);
}

static void header_filter(struct dp_plugin_call *c)
{
    const struct pc_conf *conf = c->conf;
    struct pc_state *st = *c->state;
    struct dp_plugin_req *r = c->req;
    if (!st || !st->storing)
        return;
    struct cc cc;
    cc_parse(r, r->ops->response_header, &cc);
    int64_t now = (int64_t)time(NULL);
    size_t max = dp_cache_store_entry_max(conf->store);
    const char *cl = r->ops->response_header(r, "Content-Length", 0);
    bool too_big = cl && strtoull(cl, NULL, 10) > max;
    if (too_big || !cacheable_response(r, conf, &cc, now)) {
        set_hdr(c, conf->hdr_status, "X-Cache-Status", "Bypass");
        stop_storing(st);
        return;
    }
    st->status = r->ops->response_status(r);
    st->res_ttl = conf->cache_control ? resource_ttl(r, &cc, now) : conf->cache_ttl;
    gw_buf_init(&st->body, max);
    r->ops->response_headers_each(r, keep_header, st);
}

static void body_filter(struct dp_plugin_call *c, const char *data, size_t len, bool eof)
{
    const struct pc_conf *conf = c->conf;
    struct pc_state *st = *c->state;
    if (!st || !st->storing)
        return;
    if (len && gw_buf_append(&st->body, data, len) != GW_OK) {
        /* larger than an entry may be: the rest streams through, nothing is cached */
        stop_storing(st);
        return;
    }
    if (!eof)
        return;
    st->storing = false;
    int64_t now = (int64_t)time(NULL);
    int64_t ttl = conf->storage_ttl     ? conf->storage_ttl
                  : conf->cache_control ? st->res_ttl
                                        : conf->cache_ttl;
    struct dp_cache_entry *e =
        dp_cache_entry_create(st->status, st->key, st->headers, st->nheaders, st->body.data,
                              st->body.len, now, st->res_ttl, now + ttl);
    gw_buf_cleanup(&st->body);
    if (!e)
        return;
    enum gw_err err = dp_cache_store_put(conf->store, c->plugin_id, st->lookup, st->lookup_len, e);
    if (err != GW_OK && err != GW_ERR_TOOBIG)
        GW_LOG(GW_LOG_WARN, "proxy-cache could not store a response error=\"%s\"", gw_err_str(err));
}

static void log_phase(struct dp_plugin_call *c)
{
    state_free(*c->state);
    *c->state = NULL;
}

const struct dp_plugin_ops dp_plugin_proxy_cache_ops = {
    .name = "proxy-cache",
    .priority = 100,
    .config_case = PORTICO__V1__PLUGIN__CONFIG_PROXY_CACHE,
    .build = build,
    .destroy = destroy,
    .access = access,
    .header_filter = header_filter,
    .body_filter = body_filter,
    .log = log_phase,
};
