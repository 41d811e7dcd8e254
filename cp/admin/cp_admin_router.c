/* cp/admin/cp_admin_router.c: the Admin API's route table and path matching.
 * SPDX-License-Identifier: Apache-2.0 */
#include "admin/cp_admin_router.h"

#include <stdlib.h>
#include <string.h>

#define GET  CP_ADMIN_M(CP_ADMIN_GET)
#define COLL (CP_ADMIN_M(CP_ADMIN_GET) | CP_ADMIN_M(CP_ADMIN_POST))
#define ENT                                                                                        \
    (CP_ADMIN_M(CP_ADMIN_GET) | CP_ADMIN_M(CP_ADMIN_PATCH) | CP_ADMIN_M(CP_ADMIN_PUT) |            \
     CP_ADMIN_M(CP_ADMIN_DELETE))
#define FOREIGN (CP_ADMIN_M(CP_ADMIN_GET) | CP_ADMIN_M(CP_ADMIN_PATCH) | CP_ADMIN_M(CP_ADMIN_PUT))

#define ENTITY_ROUTES(path, table, key)                                                            \
    {"/" path, COLL, CP_ADMIN_COLLECTION, table, NULL, NULL},                                      \
    {                                                                                              \
        "/" path "/{" key "}", ENT, CP_ADMIN_ENTITY, table, NULL, NULL                             \
    }

#define NESTED_ROUTES(ppath, pkey, ptable, cpath, ckey, ctable, fk)                                \
    {"/" ppath "/{" pkey "}/" cpath, COLL, CP_ADMIN_NESTED_COLLECTION, ctable, ptable, fk},        \
    {                                                                                              \
        "/" ppath "/{" pkey "}/" cpath "/{" ckey "}", ENT, CP_ADMIN_NESTED_ENTITY, ctable, ptable, \
            fk                                                                                     \
    }

static const struct cp_admin_route routes[] = {
    {"/", GET, CP_ADMIN_ROOT, NULL, NULL, NULL},
    {"/status", GET, CP_ADMIN_STATUS, NULL, NULL, NULL},
    {"/endpoints", GET, CP_ADMIN_ENDPOINTS, NULL, NULL, NULL},
    {"/tags", GET, CP_ADMIN_TAGS, NULL, NULL, NULL},
    {"/tags/{tags}", GET, CP_ADMIN_TAG, NULL, NULL, NULL},
    {"/schemas/plugins/{name}", GET, CP_ADMIN_SCHEMA_PLUGIN, NULL, NULL, NULL},
    {"/schemas/{name}", GET, CP_ADMIN_SCHEMA, NULL, NULL, NULL},
    {"/schemas/{name}/validate", CP_ADMIN_M(CP_ADMIN_POST), CP_ADMIN_SCHEMA_VALIDATE, NULL, NULL,
     NULL},
    {"/plugins/enabled", GET, CP_ADMIN_PLUGINS_ENABLED, NULL, NULL, NULL},
    {"/clustering/data-planes", GET, CP_ADMIN_DATA_PLANES, NULL, NULL, NULL},
    {"/clustering/status", GET, CP_ADMIN_CLUSTER_STATUS, NULL, NULL, NULL},

    ENTITY_ROUTES("services", "services", "services"),
    NESTED_ROUTES("services", "services", "services", "routes", "routes", "routes", "service"),
    NESTED_ROUTES("services", "services", "services", "plugins", "plugins", "plugins", "service"),

    ENTITY_ROUTES("routes", "routes", "routes"),
    {"/routes/{routes}/service", FOREIGN, CP_ADMIN_FOREIGN_ENTITY, "routes", "services", "service"},
    NESTED_ROUTES("routes", "routes", "routes", "plugins", "plugins", "plugins", "route"),

    ENTITY_ROUTES("upstreams", "upstreams", "upstreams"),
    {"/upstreams/{upstreams}/targets", COLL, CP_ADMIN_NESTED_COLLECTION, "targets", "upstreams",
     "upstream"},
    {"/upstreams/{upstreams}/targets/all", GET, CP_ADMIN_TARGETS_ALL, "targets", "upstreams",
     "upstream"},
    {"/upstreams/{upstreams}/targets/{targets}", ENT, CP_ADMIN_NESTED_ENTITY, "targets",
     "upstreams", "upstream"},

    ENTITY_ROUTES("consumers", "consumers", "consumers"),
    NESTED_ROUTES("consumers", "consumers", "consumers", "plugins", "plugins", "plugins",
                  "consumer"),
    NESTED_ROUTES("consumers", "consumers", "consumers", "key-auth", "keyauth_credentials",
                  "keyauth_credentials", "consumer"),

    ENTITY_ROUTES("plugins", "plugins", "plugins"),

    ENTITY_ROUTES("key-auths", "keyauth_credentials", "keyauth_credentials"),
    {"/key-auths/{keyauth_credentials}/consumer", FOREIGN, CP_ADMIN_FOREIGN_ENTITY,
     "keyauth_credentials", "consumers", "consumer"},

    ENTITY_ROUTES("certificates", "certificates", "certificates"),
    NESTED_ROUTES("certificates", "certificates", "certificates", "snis", "snis", "snis",
                  "certificate"),

    ENTITY_ROUTES("snis", "snis", "snis"),
    {"/snis/{snis}/certificate", FOREIGN, CP_ADMIN_FOREIGN_ENTITY, "snis", "certificates",
     "certificate"},

    ENTITY_ROUTES("ca_certificates", "ca_certificates", "ca_certificates"),
};

const struct cp_admin_route *cp_admin_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}

enum gw_err cp_admin_method_parse(const char *name, enum cp_admin_method *out)
{
    static const char *const names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (int i = 0; i < CP_ADMIN_METHOD_COUNT_; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (enum cp_admin_method)i;
            return GW_OK;
        }
    }
    if (strcmp(name, "HEAD") == 0) {
        *out = CP_ADMIN_GET;
        return GW_OK;
    }
    return GW_ERR_INVALID;
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

char *cp_admin_unescape(const char *src, size_t len, bool plus_space)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len) {
                free(out);
                return NULL;
            }
            int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else if (c == '\0') {
            free(out);
            return NULL;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

#define MAX_SEGS 8

/* Splits a pattern or path into segment pointers/lengths; returns the count or -1. */
static int split(const char *p, const char *segs[MAX_SEGS], size_t lens[MAX_SEGS])
{
    int n = 0;
    if (*p != '/')
        return -1;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0) {
            if (!e) /* trailing slash or root */
                break;
            return -1; /* empty segment */
        }
        if (n == MAX_SEGS)
            return -1;
        segs[n] = p;
        lens[n] = l;
        n++;
        p += l;
    }
    return n;
}

enum gw_err cp_admin_route_match(enum cp_admin_method method, const char *path,
                                 struct cp_admin_match *m)
{
    return cp_admin_route_match_table(routes, sizeof(routes) / sizeof(routes[0]), method, path, m);
}

enum gw_err cp_admin_route_match_table(const struct cp_admin_route *table, size_t n,
                                       enum cp_admin_method method, const char *path,
                                       struct cp_admin_match *m)
{
    memset(m, 0, sizeof(*m));
    const char *ps[MAX_SEGS];
    size_t pl[MAX_SEGS];
    int pn = split(path, ps, pl);
    if (pn < 0)
        return GW_ERR_NOTFOUND;
    char *dec[MAX_SEGS] = {0};
    enum gw_err e = GW_ERR_NOTFOUND;
    for (int i = 0; i < pn; i++) {
        dec[i] = cp_admin_unescape(ps[i], pl[i], false);
        if (!dec[i]) {
            e = GW_ERR_INVALID;
            goto out;
        }
    }
    bool path_known = false;
    for (size_t r = 0; r < n; r++) {
        const char *rs[MAX_SEGS];
        size_t rl[MAX_SEGS];
        int rn = split(table[r].pattern, rs, rl);
        if (rn != pn)
            continue;
        bool ok = true;
        for (int i = 0; i < rn && ok; i++) {
            if (rs[i][0] == '{')
                continue;
            ok = strlen(dec[i]) == rl[i] && memcmp(dec[i], rs[i], rl[i]) == 0;
        }
        if (!ok)
            continue;
        path_known = true;
        if (!(table[r].methods & CP_ADMIN_M(method)))
            continue;
        m->route = &table[r];
        for (int i = 0; i < rn; i++) {
            if (rs[i][0] == '{' && m->nparams < CP_ADMIN_MAX_PARAMS) {
                m->params[m->nparams++] = dec[i];
                dec[i] = NULL;
            }
        }
        e = GW_OK;
        goto out;
    }
    e = path_known ? GW_ERR_DECLINED : GW_ERR_NOTFOUND;
out:
    for (int i = 0; i < pn; i++)
        free(dec[i]);
    return e;
}

void cp_admin_match_cleanup(struct cp_admin_match *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nparams; i++)
        free(m->params[i]);
    m->nparams = 0;
    m->route = NULL;
}
