/* dp/dp_router.c: Kong's traditional_compatible router compiled into host buckets and path
 * tries.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_router.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_strmap.h"

enum host_kind {
    HOST_EXACT = 0,
    HOST_SUFFIX,     /* "*.example.com": stored ".example.com" */
    HOST_PREFIX,     /* "example.*": stored "example." */
    HOST_KIND_COUNT_ /* keep last */
};

struct hostpat {
    char *h;
    size_t len;
    enum host_kind kind;
    int port; /* 0 = any */
};

struct hdrval {
    char *v;
    size_t len;
    pcre2_code *re; /* "~*" values */
};

struct hdrcond {
    char *name; /* lowercase */
    size_t nlen;
    struct hdrval *vals;
    size_t nvals;
};

enum path_kind {
    PATH_NONE = 0,
    PATH_PREFIX,
    PATH_REGEX,
    PATH_KIND_COUNT_ /* keep last */
};

/* Shared match fields of one route (several matchers when it has several paths). */
struct rfields {
    char **methods;
    size_t nmethods;
    char **snis; /* lowercase; "*.x" and "x.*" wildcards */
    size_t nsnis;
    struct hostpat *hosts;
    size_t nhosts;
    struct hdrcond *headers;
    size_t nheaders;
    unsigned match_weight;
    bool plain_host_only;
};

struct matcher {
    const struct dp_route *route;
    const struct rfields *f;
    enum path_kind pkind;
    char *path;
    size_t plen;
    pcre2_code *re;
    size_t rank; /* 0 = highest priority */
};

struct mlist {
    struct matcher **v;
    size_t n, cap;
};

struct trie {
    unsigned char *keys;
    struct trie **kids;
    size_t nkids;
    struct mlist ms;
};

struct bucket {
    struct trie root;
    struct mlist regex;
    struct mlist nopath;
};

struct dp_router {
    struct matcher **all;
    size_t nall, capall;
    struct rfields **fields;
    size_t nfields, capfields;
    struct dp_strmap exact, suffix, prefix;
    struct bucket **buckets; /* every bucket, owned */
    size_t nbuckets, capbuckets;
    struct bucket *any;
    uint32_t max_captures;
};

static enum gw_err grow_array(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return GW_OK;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(*v, n * elem);
    if (!p)
        return GW_ERR_NOMEM;
    *v = p;
    *cap = n;
    return GW_OK;
}

static enum gw_err mlist_push(struct mlist *l, struct matcher *m)
{
    if (grow_array((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)) != GW_OK)
        return GW_ERR_NOMEM;
    l->v[l->n++] = m;
    return GW_OK;
}

static void trie_cleanup(struct trie *t)
{
    for (size_t i = 0; i < t->nkids; i++) {
        trie_cleanup(t->kids[i]);
        free(t->kids[i]);
    }
    free(t->keys);
    free(t->kids);
    free(t->ms.v);
}

static struct trie *trie_child(const struct trie *t, unsigned char c)
{
    size_t lo = 0, hi = t->nkids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->keys[mid] == c)
            return t->kids[mid];
        if (t->keys[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static struct trie *trie_child_add(struct trie *t, unsigned char c)
{
    struct trie *k = trie_child(t, c);
    if (k)
        return k;
    size_t pos = 0;
    while (pos < t->nkids && t->keys[pos] < c)
        pos++;
    unsigned char *keys = realloc(t->keys, t->nkids + 1);
    if (!keys)
        return NULL;
    t->keys = keys;
    struct trie **kids = realloc(t->kids, (t->nkids + 1) * sizeof(*kids));
    if (!kids)
        return NULL;
    t->kids = kids;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    memmove(t->keys + pos + 1, t->keys + pos, t->nkids - pos);
    memmove(t->kids + pos + 1, t->kids + pos, (t->nkids - pos) * sizeof(*kids));
    t->keys[pos] = c;
    t->kids[pos] = k;
    t->nkids++;
    return k;
}

struct dp_router *dp_router_create(void)
{
    struct dp_router *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    dp_strmap_init(&r->exact);
    dp_strmap_init(&r->suffix);
    dp_strmap_init(&r->prefix);
    return r;
}

static void fields_free(struct rfields *f)
{
    for (size_t i = 0; i < f->nmethods; i++)
        free(f->methods[i]);
    free(f->methods);
    for (size_t i = 0; i < f->nsnis; i++)
        free(f->snis[i]);
    free(f->snis);
    for (size_t i = 0; i < f->nhosts; i++)
        free(f->hosts[i].h);
    free(f->hosts);
    for (size_t i = 0; i < f->nheaders; i++) {
        for (size_t j = 0; j < f->headers[i].nvals; j++) {
            free(f->headers[i].vals[j].v);
            pcre2_code_free(f->headers[i].vals[j].re);
        }
        free(f->headers[i].vals);
        free(f->headers[i].name);
    }
    free(f->headers);
    free(f);
}

void dp_router_destroy(struct dp_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nall; i++) {
        free(r->all[i]->path);
        pcre2_code_free(r->all[i]->re);
        free(r->all[i]);
    }
    free(r->all);
    for (size_t i = 0; i < r->nfields; i++)
        fields_free(r->fields[i]);
    free(r->fields);
    for (size_t i = 0; i < r->nbuckets; i++) {
        trie_cleanup(&r->buckets[i]->root);
        free(r->buckets[i]->regex.v);
        free(r->buckets[i]->nopath.v);
        free(r->buckets[i]);
    }
    free(r->buckets);
    dp_strmap_cleanup(&r->exact);
    dp_strmap_cleanup(&r->suffix);
    dp_strmap_cleanup(&r->prefix);
    free(r);
}

size_t dp_router_count(const struct dp_router *r)
{
    return r->nall;
}

static char *dup_lower(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = '\0';
    return d;
}

static pcre2_code *compile_re(const char *pat, size_t len, uint32_t opts, char *msg, size_t msglen)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts | PCRE2_UTF, &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR buf[160];
        pcre2_get_error_message(errcode, buf, sizeof(buf));
        snprintf(msg, msglen, "invalid regex: '%.*s' (PCRE returned: %s at offset %zu)", (int)len,
                 pat, (const char *)buf, (size_t)erroff);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    return re;
}

static enum gw_err parse_host(const char *s, struct hostpat *hp, char *msg, size_t msglen)
{
    size_t len = strlen(s);
    const char *colon = NULL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb && rb[1] == ':')
            colon = rb + 1;
    } else {
        const char *c = strrchr(s, ':');
        if (c && strchr(s, ':') == c)
            colon = c;
    }
    hp->port = 0;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 1 || p > 65535) {
            snprintf(msg, msglen, "invalid port number");
            return GW_ERR_INVALID;
        }
        hp->port = (int)p;
        len = (size_t)(colon - s);
    }
    if (len == 0) {
        snprintf(msg, msglen, "invalid hostname");
        return GW_ERR_INVALID;
    }
    if (s[0] == '*' && len > 2 && s[1] == '.') {
        hp->kind = HOST_SUFFIX;
        hp->h = dup_lower(s + 1, len - 1);
        hp->len = len - 1;
    } else if (len > 2 && s[len - 1] == '*' && s[len - 2] == '.') {
        hp->kind = HOST_PREFIX;
        hp->h = dup_lower(s, len - 1);
        hp->len = len - 1;
    } else if (memchr(s, '*', len)) {
        snprintf(msg, msglen, "invalid wildcard: must be placed at leftmost or rightmost label");
        return GW_ERR_INVALID;
    } else {
        hp->kind = HOST_EXACT;
        hp->h = dup_lower(s, len);
        hp->len = len;
    }
    return hp->h ? GW_OK : GW_ERR_NOMEM;
}

static struct bucket *bucket_new(struct dp_router *r)
{
    if (grow_array((void **)&r->buckets, &r->capbuckets, r->nbuckets + 1, sizeof(*r->buckets)) !=
        GW_OK)
        return NULL;
    struct bucket *b = calloc(1, sizeof(*b));
    if (b)
        r->buckets[r->nbuckets++] = b;
    return b;
}

enum gw_err dp_router_add(struct dp_router *r, const struct dp_route *route,
                          const Portico__V1__Route *pb, char *field, size_t fieldlen, char *msg,
                          size_t msglen)
{
    enum gw_err err = GW_ERR_NOMEM;
    struct rfields *f = calloc(1, sizeof(*f));
    if (!f)
        return GW_ERR_NOMEM;
    if (grow_array((void **)&r->fields, &r->capfields, r->nfields + 1, sizeof(*r->fields)) !=
        GW_OK) {
        free(f);
        return GW_ERR_NOMEM;
    }
    r->fields[r->nfields++] = f;

    if (pb->n_methods) {
        f->methods = calloc(pb->n_methods, sizeof(*f->methods));
        if (!f->methods)
            return GW_ERR_NOMEM;
        for (size_t i = 0; i < pb->n_methods; i++) {
            f->methods[i] = strdup(pb->methods[i]);
            if (!f->methods[i])
                return GW_ERR_NOMEM;
            f->nmethods++;
        }
        f->match_weight++;
    }
    if (pb->n_hosts) {
        f->hosts = calloc(pb->n_hosts, sizeof(*f->hosts));
        if (!f->hosts)
            return GW_ERR_NOMEM;
        f->plain_host_only = true;
        for (size_t i = 0; i < pb->n_hosts; i++) {
            err = parse_host(pb->hosts[i], &f->hosts[i], msg, msglen);
            if (err != GW_OK) {
                snprintf(field, fieldlen, "hosts[%zu]", i + 1);
                return err;
            }
            f->nhosts++;
            if (f->hosts[i].kind != HOST_EXACT)
                f->plain_host_only = false;
        }
        f->match_weight++;
    }
    if (pb->n_headers) {
        f->headers = calloc(pb->n_headers, sizeof(*f->headers));
        if (!f->headers)
            return GW_ERR_NOMEM;
        for (size_t i = 0; i < pb->n_headers; i++) {
            const Portico__V1__HeaderValues *hv = pb->headers[i];
            struct hdrcond *hc = &f->headers[i];
            f->nheaders++;
            const char *name = hv->name ? hv->name : "";
            hc->nlen = strlen(name);
            hc->name = dup_lower(name, hc->nlen);
            hc->vals = calloc(hv->n_values ? hv->n_values : 1, sizeof(*hc->vals));
            if (!hc->name || !hc->vals)
                return GW_ERR_NOMEM;
            if (hc->nlen == 0 || strcmp(hc->name, "host") == 0) {
                snprintf(field, fieldlen, "headers");
                snprintf(msg, msglen,
                         "cannot contain 'host' header, which must be specified in "
                         "the 'hosts' attribute");
                return GW_ERR_INVALID;
            }
            for (size_t j = 0; j < hv->n_values; j++) {
                const char *v = hv->values[j];
                struct hdrval *val = &hc->vals[j];
                hc->nvals++;
                if (strncmp(v, "~*", 2) == 0) {
                    val->re = compile_re(v + 2, strlen(v + 2), PCRE2_CASELESS, msg, msglen);
                    if (!val->re) {
                        snprintf(field, fieldlen, "headers.%s", name);
                        return GW_ERR_INVALID;
                    }
                } else {
                    val->len = strlen(v);
                    val->v = dup_lower(v, val->len);
                    if (!val->v)
                        return GW_ERR_NOMEM;
                }
            }
        }
        f->match_weight++;
    }
    if (pb->n_snis) {
        f->snis = calloc(pb->n_snis, sizeof(*f->snis));
        if (!f->snis)
            return GW_ERR_NOMEM;
        for (size_t i = 0; i < pb->n_snis; i++) {
            f->snis[i] = dup_lower(pb->snis[i], strlen(pb->snis[i]));
            if (!f->snis[i])
                return GW_ERR_NOMEM;
            f->nsnis++;
        }
        f->match_weight++;
    }
    if (pb->n_sources)
        f->match_weight++;
    if (pb->n_destinations)
        f->match_weight++;
    if (pb->n_paths)
        f->match_weight++;

    size_t npaths = pb->n_paths ? pb->n_paths : 1;
    for (size_t i = 0; i < npaths; i++) {
        struct matcher *m = calloc(1, sizeof(*m));
        if (!m)
            return GW_ERR_NOMEM;
        if (grow_array((void **)&r->all, &r->capall, r->nall + 1, sizeof(*r->all)) != GW_OK) {
            free(m);
            return GW_ERR_NOMEM;
        }
        r->all[r->nall++] = m;
        m->route = route;
        m->f = f;
        if (!pb->n_paths) {
            m->pkind = PATH_NONE;
            continue;
        }
        const char *p = pb->paths[i];
        if (p[0] == '~') {
            m->pkind = PATH_REGEX;
            m->path = strdup(p + 1);
            if (!m->path)
                return GW_ERR_NOMEM;
            m->re = compile_re(p + 1, strlen(p + 1), PCRE2_ANCHORED, msg, msglen);
            if (!m->re) {
                snprintf(field, fieldlen, "paths[%zu]", i + 1);
                return GW_ERR_INVALID;
            }
            uint32_t cap = 0;
            pcre2_pattern_info(m->re, PCRE2_INFO_CAPTURECOUNT, &cap);
            if (cap > r->max_captures)
                r->max_captures = cap;
        } else if (p[0] == '/') {
            m->pkind = PATH_PREFIX;
            m->plen = strlen(p);
            m->path = strdup(p);
            if (!m->path)
                return GW_ERR_NOMEM;
        } else {
            snprintf(field, fieldlen, "paths[%zu]", i + 1);
            snprintf(msg, msglen, "should start with: / (fixed path) or ~/ (regex path)");
            return GW_ERR_INVALID;
        }
    }
    return GW_OK;
}

/* Kong's priority (transform.lua get_priority), compared field by field; then created_at, id. */
static int cmp_matchers(const void *a, const void *b)
{
    const struct matcher *x = *(const struct matcher *const *)a;
    const struct matcher *y = *(const struct matcher *const *)b;
#define DESC(ex, ey)                                                                               \
    do {                                                                                           \
        if ((ex) != (ey))                                                                          \
            return (ex) > (ey) ? -1 : 1;                                                           \
    } while (0)
    DESC(x->f->match_weight, y->f->match_weight);
    DESC(x->f->plain_host_only, y->f->plain_host_only);
    DESC(x->f->nheaders, y->f->nheaders);
    DESC(x->pkind == PATH_REGEX, y->pkind == PATH_REGEX);
    if (x->pkind == PATH_REGEX)
        DESC(x->route->regex_priority, y->route->regex_priority);
    DESC(x->plen, y->plen);
#undef DESC
    if (x->route->created_at != y->route->created_at)
        return x->route->created_at < y->route->created_at ? -1 : 1;
    int c = strcmp(x->route->id, y->route->id);
    if (c)
        return c;
    return x < y ? -1 : (x > y);
}

static enum gw_err bucket_add(struct bucket *b, struct matcher *m)
{
    if (m->pkind == PATH_NONE)
        return mlist_push(&b->nopath, m);
    if (m->pkind == PATH_REGEX)
        return mlist_push(&b->regex, m);
    struct trie *t = &b->root;
    for (size_t i = 0; i < m->plen; i++) {
        t = trie_child_add(t, (unsigned char)m->path[i]);
        if (!t)
            return GW_ERR_NOMEM;
    }
    return mlist_push(&t->ms, m);
}

static struct bucket *bucket_for(struct dp_router *r, struct dp_strmap *map, const char *key,
                                 size_t klen)
{
    struct bucket *b = dp_strmap_get(map, key, klen);
    if (b)
        return b;
    b = bucket_new(r);
    if (!b || dp_strmap_put(map, key, klen, b) != GW_OK)
        return NULL;
    return b;
}

enum gw_err dp_router_finish(struct dp_router *r)
{
    if (r->nall)
        qsort(r->all, r->nall, sizeof(*r->all), cmp_matchers);
    r->any = bucket_new(r);
    if (!r->any)
        return GW_ERR_NOMEM;
    /* Matchers go in in rank order, so every list in every bucket stays sorted by rank. */
    for (size_t i = 0; i < r->nall; i++) {
        struct matcher *m = r->all[i];
        m->rank = i;
        if (!m->f->nhosts) {
            if (bucket_add(r->any, m) != GW_OK)
                return GW_ERR_NOMEM;
            continue;
        }
        for (size_t h = 0; h < m->f->nhosts; h++) {
            const struct hostpat *hp = &m->f->hosts[h];
            bool dup = false;
            for (size_t k = 0; k < h; k++)
                if (m->f->hosts[k].kind == hp->kind && strcmp(m->f->hosts[k].h, hp->h) == 0)
                    dup = true;
            if (dup)
                continue;
            struct dp_strmap *map = hp->kind == HOST_EXACT    ? &r->exact
                                    : hp->kind == HOST_SUFFIX ? &r->suffix
                                                              : &r->prefix;
            struct bucket *b = bucket_for(r, map, hp->h, hp->len);
            if (!b || bucket_add(b, m) != GW_OK)
                return GW_ERR_NOMEM;
        }
    }
    return GW_OK;
}

pcre2_match_data *dp_router_match_data_create(void)
{
    return pcre2_match_data_create(64, NULL);
}

static bool ci_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

static bool host_ok(const struct rfields *f, const struct dp_router_req *req)
{
    if (!f->nhosts)
        return true;
    for (size_t i = 0; i < f->nhosts; i++) {
        const struct hostpat *hp = &f->hosts[i];
        if (hp->port && hp->port != req->dst_port)
            continue;
        switch (hp->kind) {
        case HOST_EXACT:
            if (ci_eq(hp->h, hp->len, req->host, req->host_len))
                return true;
            break;
        case HOST_SUFFIX:
            if (req->host_len > hp->len &&
                strncasecmp(req->host + req->host_len - hp->len, hp->h, hp->len) == 0)
                return true;
            break;
        case HOST_PREFIX:
            if (req->host_len > hp->len && strncasecmp(req->host, hp->h, hp->len) == 0)
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

/* A route with snis matches only TLS requests whose server name is one of them. */
static bool snis_ok(const struct rfields *f, const struct dp_router_req *req)
{
    if (!f->nsnis)
        return true;
    if (!req->sni)
        return false;
    size_t n = strlen(req->sni);
    for (size_t i = 0; i < f->nsnis; i++) {
        const char *p = f->snis[i];
        size_t pl = strlen(p);
        if (pl == n && strncasecmp(p, req->sni, n) == 0)
            return true;
        if (pl > 2 && p[0] == '*' && p[1] == '.' && n > pl - 1 &&
            strncasecmp(req->sni + n - (pl - 1), p + 1, pl - 1) == 0)
            return true;
        if (pl > 2 && p[pl - 1] == '*' && p[pl - 2] == '.' && n > pl - 1 &&
            strncasecmp(req->sni, p, pl - 1) == 0)
            return true;
    }
    return false;
}

static bool headers_ok(const struct rfields *f, const struct dp_router_req *req)
{
    for (size_t i = 0; i < f->nheaders; i++) {
        const struct hdrcond *hc = &f->headers[i];
        bool found = false;
        for (size_t h = 0; h < req->nheaders && !found; h++) {
            const struct dp_hdr *rh = &req->headers[h];
            if (!ci_eq(rh->name, rh->nlen, hc->name, hc->nlen))
                continue;
            for (size_t v = 0; v < hc->nvals && !found; v++) {
                const struct hdrval *hv = &hc->vals[v];
                if (hv->re) {
                    pcre2_match_data *md = pcre2_match_data_create_from_pattern(hv->re, NULL);
                    if (md) {
                        found = pcre2_match(hv->re, (PCRE2_SPTR)rh->value, rh->vlen, 0, 0, md,
                                            NULL) >= 0;
                        pcre2_match_data_free(md);
                    }
                } else {
                    found = ci_eq(hv->v, hv->len, rh->value, rh->vlen);
                }
            }
        }
        if (!found)
            return false;
    }
    return true;
}

static bool methods_ok(const struct rfields *f, const struct dp_router_req *req)
{
    if (!f->nmethods)
        return true;
    for (size_t i = 0; i < f->nmethods; i++)
        if (strlen(f->methods[i]) == req->method_len &&
            memcmp(f->methods[i], req->method, req->method_len) == 0)
            return true;
    return false;
}

static bool fields_ok(const struct matcher *m, const struct dp_router_req *req)
{
    return methods_ok(m->f, req) && host_ok(m->f, req) && snis_ok(m->f, req) &&
           headers_ok(m->f, req);
}

static bool regex_ok(const struct matcher *m, const struct dp_router_req *req, pcre2_match_data *md)
{
    return pcre2_match(m->re, (PCRE2_SPTR)req->path, req->path_len, 0, PCRE2_ANCHORED, md, NULL) >=
           0;
}

static void scan_list(const struct mlist *l, const struct dp_router_req *req, pcre2_match_data *md,
                      const struct matcher **best)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct matcher *m = l->v[i];
        if (*best && m->rank >= (*best)->rank)
            return; /* lists are sorted by rank */
        if (!fields_ok(m, req))
            continue;
        if (m->pkind == PATH_REGEX && !regex_ok(m, req, md))
            continue;
        *best = m;
        return;
    }
}

static void scan_bucket(const struct bucket *b, const struct dp_router_req *req,
                        pcre2_match_data *md, const struct matcher **best)
{
    const struct trie *t = &b->root;
    scan_list(&t->ms, req, md, best);
    for (size_t i = 0; i < req->path_len; i++) {
        t = trie_child(t, (unsigned char)req->path[i]);
        if (!t)
            break;
        scan_list(&t->ms, req, md, best);
    }
    scan_list(&b->regex, req, md, best);
    scan_list(&b->nopath, req, md, best);
}

bool dp_router_find(const struct dp_router *r, const struct dp_router_req *req,
                    pcre2_match_data *md, struct dp_router_match *m)
{
    const struct matcher *best = NULL;
    if (req->host_len) {
        const struct bucket *b = dp_strmap_get(&r->exact, req->host, req->host_len);
        if (b)
            scan_bucket(b, req, md, &best);
        if (r->suffix.count || r->prefix.count) {
            for (size_t i = 0; i < req->host_len; i++) {
                if (req->host[i] != '.')
                    continue;
                if (i > 0 && r->suffix.count) {
                    b = dp_strmap_get(&r->suffix, req->host + i, req->host_len - i);
                    if (b)
                        scan_bucket(b, req, md, &best);
                }
                if (i + 1 < req->host_len && r->prefix.count) {
                    b = dp_strmap_get(&r->prefix, req->host, i + 1);
                    if (b)
                        scan_bucket(b, req, md, &best);
                }
            }
        }
    }
    if (r->any)
        scan_bucket(r->any, req, md, &best);
    if (!best)
        return false;
    m->route = best->route;
    m->md = md;
    m->code = NULL;
    m->prefix_len = 0;
    if (best->pkind == PATH_PREFIX) {
        m->prefix_len = best->plen;
    } else if (best->pkind == PATH_REGEX) {
        /* Re-run: later candidates may have overwritten the match data. */
        if (regex_ok(best, req, md)) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            m->prefix_len = ov[1];
            m->code = best->re;
        }
    }
    return true;
}

bool dp_router_capture(const struct dp_router_match *m, const char *subject, const char *name,
                       const char **val, size_t *vlen)
{
    if (!m->code || !m->md)
        return false;
    int n;
    char *end;
    long num = strtol(name, &end, 10);
    if (*name && !*end)
        n = (int)num;
    else
        n = pcre2_substring_number_from_name(m->code, (PCRE2_SPTR)name);
    if (n < 0 || (uint32_t)n >= pcre2_get_ovector_count(m->md))
        return false;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
    if (ov[2 * n] == PCRE2_UNSET)
        return false;
    *val = subject + ov[2 * n];
    *vlen = ov[2 * n + 1] - ov[2 * n];
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t dp_router_normalize_path(const char *in, size_t len, char *out, size_t outcap)
{
    if (len == 0 || in[0] != '/' || outcap < len + 1)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%' && i + 2 < len + 0 && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
            int v = hexval(in[i + 1]) * 16 + hexval(in[i + 2]);
            if (isalnum(v) || v == '-' || v == '.' || v == '_' || v == '~') {
                c = (char)v;
                i += 2;
            } else {
                out[o++] = '%';
                out[o++] = (char)toupper((unsigned char)in[i + 1]);
                out[o++] = (char)toupper((unsigned char)in[i + 2]);
                i += 2;
                continue;
            }
        }
        if (c == '/' && o > 0 && out[o - 1] == '/')
            continue; /* merge slashes */
        out[o++] = c;
        /* Dot segments: "/./" and "/../" once a segment is complete. */
        if (c == '/' || i + 1 == len) {
            size_t segend = c == '/' ? o - 1 : o; /* segment = out[start..segend) */
            size_t start = segend;
            while (start > 0 && out[start - 1] != '/')
                start--;
            size_t seglen = segend - start;
            if (seglen == 1 && out[start] == '.') {
                o = start; /* drop "./" keeping the leading slash */
            } else if (seglen == 2 && out[start] == '.' && out[start + 1] == '.') {
                size_t p = start > 1 ? start - 1 : 0; /* the slash before ".." */
                while (p > 0 && out[p - 1] != '/')
                    p--;
                o = p > 0 ? p : 1;
            }
        }
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return o;
}

size_t dp_router_upstream_path(const struct dp_route *route, const char *service_path,
                               const char *path, size_t path_len, size_t prefix_len, char *out,
                               size_t outcap)
{
    const char *base = service_path && *service_path ? service_path : "/";
    size_t blen = strlen(base);
    if (outcap < blen + path_len + 2)
        return 0;
    const char *post = path + prefix_len;
    size_t postlen = prefix_len <= path_len ? path_len - prefix_len : 0;
    size_t o = 0;
#define PUT(p, n)                                                                                  \
    do {                                                                                           \
        memcpy(out + o, (p), (n));                                                                 \
        o += (n);                                                                                  \
    } while (0)
    if (route->path_handling == DP_PATH_V1) {
        const char *rest = route->strip_path ? post : path;
        size_t rlen = route->strip_path ? postlen : path_len;
        PUT(base, blen);
        if (rlen && rest[0] == '/' && base[blen - 1] == '/') {
            rest++;
            rlen--;
        }
        PUT(rest, rlen);
    } else if (base[blen - 1] == '/') {
        if (route->strip_path) {
            if (postlen == 0) {
                if (blen == 1)
                    PUT("/", 1);
                else if (path_len && path[path_len - 1] == '/')
                    PUT(base, blen);
                else
                    PUT(base, blen - 1);
            } else if (post[0] == '/') {
                PUT(base, blen - 1);
                PUT(post, postlen);
            } else {
                PUT(base, blen);
                PUT(post, postlen);
            }
        } else {
            PUT(base, blen);
            if (path_len)
                PUT(path + 1, path_len - 1);
        }
    } else {
        if (route->strip_path) {
            if (postlen == 0) {
                PUT(base, blen);
                if (path_len > 1 && path[path_len - 1] == '/')
                    PUT("/", 1);
            } else if (post[0] == '/') {
                PUT(base, blen);
                PUT(post, postlen);
            } else {
                PUT(base, blen);
                PUT("/", 1);
                PUT(post, postlen);
            }
        } else {
            PUT(base, blen);
            if (!(path_len == 1 && path[0] == '/'))
                PUT(path, path_len);
        }
    }
#undef PUT
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return o;
}
