/* tests/unit/dp/plugin_fixture.h: a fake proxy request implementing struct dp_plugin_req_ops, and
 * helpers to build protobuf Configs, for the plugin unit tests.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef TEST_PLUGIN_FIXTURE_H
#define TEST_PLUGIN_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/dp_plugin.h"
#include "plugins/dp_plugin_env.h"
#include "plugins/dp_plugin_set.h"

#define FX_MAX    48
#define FX_UNUSED __attribute__((unused))

struct fx_kv {
    char name[64];
    char value[512];
};

struct fx_list {
    struct fx_kv kv[FX_MAX];
    size_t n;
};

struct fake_req {
    struct dp_plugin_req base;
    char method[16];
    char path[256];
    char query[1024];
    struct fx_list req; /* request headers (as sent upstream after plugin changes) */
    char body[2048];
    size_t body_len;
    bool body_buffered;
    bool body_set;
    char ip[64];
    struct fx_list pending; /* set_response_header */
    int up_status;          /* upstream response */
    struct fx_list up;
    int resp_status; /* respond(): 0 = not called */
    struct fx_list resp;
    char resp_body[8192];
    size_t resp_len;
};

FX_UNUSED static void fx_list_add(struct fx_list *l, const char *n, const char *v)
{
    if (l->n >= FX_MAX)
        return;
    snprintf(l->kv[l->n].name, sizeof(l->kv[0].name), "%s", n);
    snprintf(l->kv[l->n].value, sizeof(l->kv[0].value), "%s", v);
    l->n++;
}

FX_UNUSED static void fx_list_del(struct fx_list *l, const char *n)
{
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->kv[i].name, n) != 0)
            l->kv[o++] = l->kv[i];
    }
    l->n = o;
}

FX_UNUSED static const char *fx_list_get(const struct fx_list *l, const char *n, size_t nth)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!strcasecmp(l->kv[i].name, n) && nth-- == 0)
            return l->kv[i].value;
    }
    return NULL;
}

#define FX(r) ((struct fake_req *)(r))

static const char *fx_method(struct dp_plugin_req *r)
{
    return FX(r)->method;
}
static const char *fx_path(struct dp_plugin_req *r)
{
    return FX(r)->path;
}
static const char *fx_query(struct dp_plugin_req *r)
{
    return FX(r)->query;
}
static const char *fx_header(struct dp_plugin_req *r, const char *name, size_t nth)
{
    return fx_list_get(&FX(r)->req, name, nth);
}
static enum gw_err fx_set_header(struct dp_plugin_req *r, const char *name, const char *value)
{
    fx_list_del(&FX(r)->req, name);
    fx_list_add(&FX(r)->req, name, value);
    return GW_OK;
}
static void fx_clear_header(struct dp_plugin_req *r, const char *name)
{
    fx_list_del(&FX(r)->req, name);
}
static enum gw_err fx_set_query(struct dp_plugin_req *r, const char *q)
{
    snprintf(FX(r)->query, sizeof(FX(r)->query), "%s", q);
    return GW_OK;
}
static enum gw_err fx_body(struct dp_plugin_req *r, const char **data, size_t *len)
{
    if (!FX(r)->body_buffered)
        return GW_ERR_DECLINED;
    *data = FX(r)->body;
    *len = FX(r)->body_len;
    return GW_OK;
}
static enum gw_err fx_set_body(struct dp_plugin_req *r, const char *data, size_t len)
{
    if (len >= sizeof(FX(r)->body))
        return GW_ERR_TOOBIG;
    memcpy(FX(r)->body, data, len);
    FX(r)->body[len] = '\0';
    FX(r)->body_len = len;
    FX(r)->body_set = true;
    return GW_OK;
}
static const char *fx_client_ip(struct dp_plugin_req *r)
{
    return FX(r)->ip;
}
static enum gw_err fx_set_response_header(struct dp_plugin_req *r, const char *name,
                                          const char *value)
{
    fx_list_del(&FX(r)->pending, name);
    fx_list_add(&FX(r)->pending, name, value);
    return GW_OK;
}
static int fx_response_status(struct dp_plugin_req *r)
{
    return FX(r)->up_status;
}
static const char *fx_response_header(struct dp_plugin_req *r, const char *name, size_t nth)
{
    return fx_list_get(&FX(r)->up, name, nth);
}
static void fx_response_headers_each(struct dp_plugin_req *r, dp_plugin_req_header_fn fn, void *arg)
{
    for (size_t i = 0; i < FX(r)->up.n; i++)
        fn(arg, FX(r)->up.kv[i].name, FX(r)->up.kv[i].value);
}
static enum gw_err fx_respond(struct dp_plugin_req *r, int status, const struct dp_header *h,
                              size_t n, const char *body, size_t len)
{
    struct fake_req *f = FX(r);
    f->resp_status = status;
    f->resp.n = 0;
    for (size_t i = 0; i < f->pending.n; i++) {
        bool given = false;
        for (size_t j = 0; j < n && !given; j++)
            given = !strcasecmp(h[j].name, f->pending.kv[i].name);
        if (!given)
            fx_list_add(&f->resp, f->pending.kv[i].name, f->pending.kv[i].value);
    }
    for (size_t j = 0; j < n; j++)
        fx_list_add(&f->resp, h[j].name, h[j].value);
    if (len >= sizeof(f->resp_body))
        len = sizeof(f->resp_body) - 1;
    if (len)
        memcpy(f->resp_body, body, len);
    f->resp_body[len] = '\0';
    f->resp_len = len;
    return GW_OK;
}

/* name and value of a prepared line as C strings */
static void fx_line(const struct dp_header_line *l, char *name, size_t nsz, char *value, size_t vsz)
{
    snprintf(name, nsz, "%.*s", (int)l->nlen, l->line);
    snprintf(value, vsz, "%.*s", l->removed ? 0 : (int)l->vlen, l->line + l->nlen + 2);
}
static enum gw_err fx_set_header_lines(struct dp_plugin_req *r, bool response,
                                       const struct dp_header_line *l, size_t n, bool copy)
{
    (void)copy;
    for (size_t i = 0; i < n; i++) {
        char name[64], value[512];
        fx_line(&l[i], name, sizeof(name), value, sizeof(value));
        if (response)
            fx_set_response_header(r, name, value); /* never removed in responses here */
        else if (l[i].removed)
            fx_clear_header(r, name);
        else
            fx_set_header(r, name, value);
    }
    return GW_OK;
}
static enum gw_err fx_respond_lines(struct dp_plugin_req *r, int status,
                                    const struct dp_header_line *l, size_t n, const char *body,
                                    size_t len, void (*release)(void *arg), void *arg)
{
    struct dp_header h[FX_MAX];
    static char names[FX_MAX][64], values[FX_MAX][512];
    size_t k = 0;
    for (size_t i = 0; i < n && k < FX_MAX; i++) {
        if (l[i].removed)
            continue;
        fx_line(&l[i], names[k], sizeof(names[k]), values[k], sizeof(values[k]));
        h[k] = (struct dp_header){names[k], values[k]};
        k++;
    }
    enum gw_err e = fx_respond(r, status, h, k, body, len);
    if (release) /* copied: the fake request ends here */
        release(arg);
    return e;
}

FX_UNUSED static const struct dp_plugin_req_ops fx_ops = {
    .method = fx_method,
    .path = fx_path,
    .query = fx_query,
    .header = fx_header,
    .set_header = fx_set_header,
    .clear_header = fx_clear_header,
    .set_query = fx_set_query,
    .body = fx_body,
    .set_body = fx_set_body,
    .client_ip = fx_client_ip,
    .set_response_header = fx_set_response_header,
    .response_status = fx_response_status,
    .response_header = fx_response_header,
    .response_headers_each = fx_response_headers_each,
    .respond = fx_respond,
    .set_header_lines = fx_set_header_lines,
    .respond_lines = fx_respond_lines,
};

/* A fresh GET request for path?query from 10.0.0.1. */
FX_UNUSED static void fx_init(struct fake_req *f, const char *method, const char *path,
                              const char *query)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &fx_ops;
    snprintf(f->method, sizeof(f->method), "%s", method);
    snprintf(f->path, sizeof(f->path), "%s", path);
    snprintf(f->query, sizeof(f->query), "%s", query ? query : "");
    snprintf(f->ip, sizeof(f->ip), "10.0.0.1");
}

/* The header the client would get: respond()'s when called, else pending ones. */
FX_UNUSED static const char *fx_client_header(const struct fake_req *f, const char *name)
{
    return f->resp_status ? fx_list_get(&f->resp, name, 0) : fx_list_get(&f->pending, name, 0);
}

/* ---- protobuf Config builder (everything heap-allocated, freed by the unpacked-free) ---- */

FX_UNUSED static char *fx_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

FX_UNUSED static Portico__V1__Config *fx_config_new(void)
{
    Portico__V1__Config *c = calloc(1, sizeof(*c));
    portico__v1__config__init(c);
    return c;
}

#define FX_PUSH(arr, n, item)                                                                      \
    do {                                                                                           \
        (arr) = realloc((arr), ((n) + 1) * sizeof(*(arr)));                                        \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

FX_UNUSED static Portico__V1__Ref *fx_ref(const char *id)
{
    if (!id)
        return NULL;
    Portico__V1__Ref *r = calloc(1, sizeof(*r));
    portico__v1__ref__init(r);
    r->id = strdup(id);
    return r;
}

FX_UNUSED static void fx_add_route(Portico__V1__Config *c, const char *id, const char *service)
{
    Portico__V1__Route *r = calloc(1, sizeof(*r));
    portico__v1__route__init(r);
    r->id = strdup(id);
    r->service = fx_ref(service);
    FX_PUSH(c->routes, c->n_routes, r);
}

FX_UNUSED static void fx_add_consumer(Portico__V1__Config *c, const char *id, const char *username,
                                      const char *custom_id)
{
    Portico__V1__Consumer *r = calloc(1, sizeof(*r));
    portico__v1__consumer__init(r);
    r->id = strdup(id);
    r->username = fx_strdup(username);
    r->custom_id = fx_strdup(custom_id);
    FX_PUSH(c->consumers, c->n_consumers, r);
}

FX_UNUSED static void fx_add_key(Portico__V1__Config *c, const char *id, const char *consumer,
                                 const char *key)
{
    Portico__V1__KeyAuthCredential *k = calloc(1, sizeof(*k));
    portico__v1__key_auth_credential__init(k);
    k->id = strdup(id);
    k->consumer = fx_ref(consumer);
    k->key = strdup(key);
    FX_PUSH(c->keyauth_credentials, c->n_keyauth_credentials, k);
}

/* Adds a plugin entity; returns it so the test can fill its config. */
FX_UNUSED static Portico__V1__Plugin *fx_add_plugin(Portico__V1__Config *c, const char *id,
                                                    const char *name, const char *route,
                                                    const char *service, const char *consumer)
{
    Portico__V1__Plugin *p = calloc(1, sizeof(*p));
    portico__v1__plugin__init(p);
    p->id = strdup(id);
    p->name = strdup(name);
    p->route = fx_ref(route);
    p->service = fx_ref(service);
    p->consumer = fx_ref(consumer);
    if (!strcmp(name, "key-auth")) {
        p->config_case = PORTICO__V1__PLUGIN__CONFIG_KEY_AUTH;
        p->key_auth = calloc(1, sizeof(*p->key_auth));
        portico__v1__key_auth_config__init(p->key_auth);
    } else if (!strcmp(name, "rate-limiting")) {
        p->config_case = PORTICO__V1__PLUGIN__CONFIG_RATE_LIMITING;
        p->rate_limiting = calloc(1, sizeof(*p->rate_limiting));
        portico__v1__rate_limiting_config__init(p->rate_limiting);
    } else if (!strcmp(name, "proxy-cache")) {
        p->config_case = PORTICO__V1__PLUGIN__CONFIG_PROXY_CACHE;
        p->proxy_cache = calloc(1, sizeof(*p->proxy_cache));
        portico__v1__proxy_cache_config__init(p->proxy_cache);
        p->proxy_cache->strategy = strdup("memory");
    }
    FX_PUSH(c->plugins, c->n_plugins, p);
    return p;
}

FX_UNUSED static void fx_strv_add(char ***v, size_t *n, const char *s)
{
    FX_PUSH(*v, *n, strdup(s));
}

FX_UNUSED static void fx_config_free(Portico__V1__Config *c)
{
    portico__v1__config__free_unpacked(c, NULL);
}

/* Collects build errors into one string for asserts. */
struct fx_errors {
    char text[2048];
    int count;
};

FX_UNUSED static void fx_on_error(void *arg, const char *entity, const char *id, const char *field,
                                  const char *message)
{
    struct fx_errors *e = arg;
    size_t l = strlen(e->text);
    snprintf(e->text + l, sizeof(e->text) - l, "%s/%s/%s: %s\n", entity, id, field, message);
    e->count++;
}

#endif
