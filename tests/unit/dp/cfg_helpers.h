/* tests/unit/dp/cfg_helpers.h: builds protobuf Configs by hand for the data plane unit tests
 * (routes, services, upstreams, targets). Everything allocated here is freed by cfgh_free.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CFG_HELPERS_H
#define CFG_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portico_proto/portico.pb-c.h"

#define CFGH_MAX 20000

struct cfgh {
    Portico__V1__Config cfg;
    Portico__V1__Service *svc[16];
    Portico__V1__Route **routes;
    Portico__V1__Upstream *ups[16];
    Portico__V1__Target *tgts[64];
    void *allocs[CFGH_MAX * 8];
    size_t nallocs;
};

static inline void *cfgh_keep(struct cfgh *h, void *p)
{
    if (h->nallocs < sizeof(h->allocs) / sizeof(h->allocs[0]))
        h->allocs[h->nallocs++] = p;
    return p;
}

static inline char *cfgh_str(struct cfgh *h, const char *s)
{
    return cfgh_keep(h, strdup(s));
}

static inline void cfgh_init(struct cfgh *h)
{
    memset(h, 0, sizeof(*h));
    portico__v1__config__init(&h->cfg);
    h->routes = calloc(CFGH_MAX, sizeof(*h->routes));
    h->cfg.services = h->svc;
    h->cfg.routes = h->routes;
    h->cfg.upstreams = h->ups;
    h->cfg.targets = h->tgts;
}

static inline void cfgh_free(struct cfgh *h)
{
    for (size_t i = 0; i < h->nallocs; i++)
        free(h->allocs[i]);
    free(h->routes);
}

static inline Portico__V1__Ref *cfgh_ref(struct cfgh *h, const char *id)
{
    Portico__V1__Ref *r = cfgh_keep(h, calloc(1, sizeof(*r)));
    portico__v1__ref__init(r);
    r->id = cfgh_str(h, id);
    return r;
}

static inline Portico__V1__Service *cfgh_service(struct cfgh *h, const char *id, const char *host,
                                                 int port, const char *path)
{
    Portico__V1__Service *s = cfgh_keep(h, calloc(1, sizeof(*s)));
    portico__v1__service__init(s);
    s->id = cfgh_str(h, id);
    s->name = cfgh_str(h, id);
    s->host = cfgh_str(h, host);
    s->has_port = 1;
    s->port = port;
    if (path)
        s->path = cfgh_str(h, path);
    h->svc[h->cfg.n_services++] = s;
    return s;
}

static inline char **cfgh_list(struct cfgh *h, const char *const *v, size_t *n)
{
    size_t k = 0;
    while (v && v[k])
        k++;
    *n = k;
    if (!k)
        return NULL;
    char **out = cfgh_keep(h, calloc(k, sizeof(*out)));
    for (size_t i = 0; i < k; i++)
        out[i] = cfgh_str(h, v[i]);
    return out;
}

/* A route: paths, hosts, methods are NULL-terminated lists (or NULL); headers "name=v1|v2". */
static inline Portico__V1__Route *cfgh_route(struct cfgh *h, const char *id, const char *svc,
                                             int64_t created, const char *const *paths,
                                             const char *const *hosts, const char *const *methods,
                                             const char *const *headers)
{
    Portico__V1__Route *r = cfgh_keep(h, calloc(1, sizeof(*r)));
    portico__v1__route__init(r);
    r->id = cfgh_str(h, id);
    r->created_at = created;
    r->has_created_at = 1;
    if (svc)
        r->service = cfgh_ref(h, svc);
    r->paths = cfgh_list(h, paths, &r->n_paths);
    r->hosts = cfgh_list(h, hosts, &r->n_hosts);
    r->methods = cfgh_list(h, methods, &r->n_methods);
    size_t nh = 0;
    while (headers && headers[nh])
        nh++;
    if (nh) {
        r->headers = cfgh_keep(h, calloc(nh, sizeof(*r->headers)));
        r->n_headers = nh;
        for (size_t i = 0; i < nh; i++) {
            Portico__V1__HeaderValues *hv = cfgh_keep(h, calloc(1, sizeof(*hv)));
            portico__v1__header_values__init(hv);
            char *spec = cfgh_str(h, headers[i]);
            char *eq = strchr(spec, '=');
            *eq = '\0';
            hv->name = spec;
            char *vals = eq + 1;
            hv->values = cfgh_keep(h, calloc(8, sizeof(char *)));
            char *save = NULL;
            for (char *t = strtok_r(vals, "|", &save); t && hv->n_values < 8;
                 t = strtok_r(NULL, "|", &save))
                hv->values[hv->n_values++] = t;
            r->headers[i] = hv;
        }
    }
    h->routes[h->cfg.n_routes++] = r;
    return r;
}

static inline Portico__V1__Upstream *cfgh_upstream(struct cfgh *h, const char *id, const char *name,
                                                   const char *algo)
{
    Portico__V1__Upstream *u = cfgh_keep(h, calloc(1, sizeof(*u)));
    portico__v1__upstream__init(u);
    u->id = cfgh_str(h, id);
    u->name = cfgh_str(h, name);
    if (algo)
        u->algorithm = cfgh_str(h, algo);
    h->ups[h->cfg.n_upstreams++] = u;
    return u;
}

static inline Portico__V1__Target *cfgh_target(struct cfgh *h, const char *id, const char *up,
                                               const char *target, int weight)
{
    Portico__V1__Target *t = cfgh_keep(h, calloc(1, sizeof(*t)));
    portico__v1__target__init(t);
    t->id = cfgh_str(h, id);
    t->upstream = cfgh_ref(h, up);
    t->target = cfgh_str(h, target);
    t->has_weight = 1;
    t->weight = weight;
    h->tgts[h->cfg.n_targets++] = t;
    return t;
}

#endif
