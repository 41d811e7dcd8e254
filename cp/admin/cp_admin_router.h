/* cp/admin/cp_admin_router.h: the Admin API's route table and path matching. A path is split
 * into segments, each percent-decoded, and matched against patterns such as
 * "/services/{services}/routes/{routes}"; a path that matches but not with this method is
 * "method not allowed" (405), a path that matches nothing is "not found" (404).
 * Pure functions over static data: any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ADMIN_ROUTER_H
#define CP_ADMIN_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

enum cp_admin_method {
    CP_ADMIN_GET = 0,
    CP_ADMIN_POST,
    CP_ADMIN_PUT,
    CP_ADMIN_PATCH,
    CP_ADMIN_DELETE,
    CP_ADMIN_OPTIONS,
    CP_ADMIN_METHOD_COUNT_ /* keep last */
};

#define CP_ADMIN_M(m) (1u << (m))

enum cp_admin_kind {
    CP_ADMIN_ROOT = 0,          /* GET / */
    CP_ADMIN_STATUS,            /* GET /status */
    CP_ADMIN_ENDPOINTS,         /* GET /endpoints */
    CP_ADMIN_TAGS,              /* GET /tags */
    CP_ADMIN_TAG,               /* GET /tags/{tags} */
    CP_ADMIN_SCHEMA,            /* GET /schemas/{name} */
    CP_ADMIN_SCHEMA_VALIDATE,   /* POST /schemas/{name}/validate */
    CP_ADMIN_SCHEMA_PLUGIN,     /* GET /schemas/plugins/{name} */
    CP_ADMIN_PLUGINS_ENABLED,   /* GET /plugins/enabled */
    CP_ADMIN_DATA_PLANES,       /* GET /clustering/data-planes */
    CP_ADMIN_CLUSTER_STATUS,    /* GET /clustering/status */
    CP_ADMIN_COLLECTION,        /* /E: entity */
    CP_ADMIN_ENTITY,            /* /E/{e}: entity */
    CP_ADMIN_NESTED_COLLECTION, /* /P/{p}/E: parent, entity, fk */
    CP_ADMIN_NESTED_ENTITY,     /* /P/{p}/E/{e}: parent, entity, fk */
    CP_ADMIN_FOREIGN_ENTITY,    /* /E/{e}/F: the entity that e's fk points to (parent) */
    CP_ADMIN_TARGETS_ALL,       /* /upstreams/{u}/targets/all */
    CP_ADMIN_CUSTOM,            /* added with cp_admin_route_add(): ext = its index */
    CP_ADMIN_KIND_COUNT_        /* keep last */
};

struct cp_admin_route {
    const char *pattern; /* with {name} placeholders */
    unsigned methods;    /* CP_ADMIN_M() bits */
    enum cp_admin_kind kind;
    const char *entity; /* table of the entity served (or NULL) */
    const char *parent; /* table of the parent / foreign entity (or NULL) */
    const char *fk;     /* field of entity that references parent (or NULL) */
    size_t ext;         /* CP_ADMIN_CUSTOM: index of the extension handler */
};

#define CP_ADMIN_MAX_PARAMS 3

struct cp_admin_match {
    const struct cp_admin_route *route; /* borrowed from the static table */
    char *params[CP_ADMIN_MAX_PARAMS];  /* decoded {placeholders} in order (owned) */
    size_t nparams;
};

/* Returns the static route table and its length (for GET /endpoints). */
const struct cp_admin_route *cp_admin_routes(size_t *n);

/* Parses an HTTP method name. GW_ERR_INVALID for other methods. */
enum gw_err cp_admin_method_parse(const char *name, enum cp_admin_method *out);

/* Matches path (the raw, percent-encoded path without query) for method. GW_OK with *m filled
 * (free with cp_admin_match_cleanup); GW_ERR_NOTFOUND (404); GW_ERR_DECLINED when the path is
 * known but the method is not (405); GW_ERR_INVALID for a malformed path (bad escape, NUL);
 * GW_ERR_NOMEM. */
enum gw_err cp_admin_route_match(enum cp_admin_method method, const char *path,
                                 struct cp_admin_match *m);

/* Same as cp_admin_route_match over another table (the extension routes). */
enum gw_err cp_admin_route_match_table(const struct cp_admin_route *table, size_t n,
                                       enum cp_admin_method method, const char *path,
                                       struct cp_admin_match *m);

/* Frees the params of m. Accepts a zeroed match. */
void cp_admin_match_cleanup(struct cp_admin_match *m);

/* Percent-decodes src[0..len) into a new string (owned; free()). plus_space turns '+' into ' '
 * (form bodies and query strings). NULL for a bad escape, an encoded NUL, or out of memory. */
char *cp_admin_unescape(const char *src, size_t len, bool plus_space);

#endif
