/* cp/admin/cp_admin_internal.h: what the Admin API's server and its handler files share: the
 * server state, one request's context, reply helpers and the handler entry points.
 * Everything here runs on the Admin API loop thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ADMIN_INTERNAL_H
#define CP_ADMIN_INTERNAL_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdint.h>

#include "admin/cp_admin.h"
#include "admin/cp_admin_body.h"
#include "admin/cp_admin_ext.h"
#include "admin/cp_admin_router.h"
#include "gw_uuid.h"
#include "store/cp_store.h"

#define CP_ADMIN_MAX_LISTENERS 16

struct cp_gui_cors;

struct cp_admin {
    struct event_base *base;
    const struct gw_conf *conf;
    struct cp_store *store;
    struct evhttp *http_plain;
    struct evhttp *http_ssl;
    void *ssl_ctx; /* SSL_CTX * */
    char node_id[GW_UUID_STRLEN + 1];
    char hostname[256];
    const char *token;        /* "" = no authentication */
    struct cp_gui_cors *cors; /* CORS for Portico Manager (cp/gui/cp_gui_cors.h), owned */
    uint64_t total_requests;
    uint64_t connections_accepted;
    struct evhttp_connection **conns; /* connections that sent a request and are open */
    size_t nconns, capconns;
    uint64_t connections_handled; /* connections that sent at least one request */
    int64_t started_ms;
    struct cp_admin_route ext_routes[CP_ADMIN_MAX_EXT_ROUTES]; /* patterns owned */
    cp_admin_handler_fn ext_fn[CP_ADMIN_MAX_EXT_ROUTES];
    void *ext_arg[CP_ADMIN_MAX_EXT_ROUTES];
    size_t next;
};

struct cp_admin_req {
    struct cp_admin *admin;
    struct evhttp_request *ev;
    enum cp_admin_method method;
    struct cp_admin_match match;
    struct evkeyvalq query;
    json_t *body; /* decoded body for POST/PUT/PATCH (owned), else NULL */
    enum cp_admin_body_type body_type;
};

/* Replies and accessors: see cp_admin_ext.h. */

/* Handlers (cp_admin_entity.c): COLLECTION, ENTITY, NESTED_*, FOREIGN_ENTITY, TARGETS_ALL. */
void cp_admin_handle_entity(struct cp_admin_req *r);

/* Handlers (cp_admin_info.c): ROOT, STATUS, ENDPOINTS, TAGS, TAG, SCHEMA*, PLUGINS_ENABLED,
 * DATA_PLANES, CLUSTER_STATUS. */
void cp_admin_handle_info(struct cp_admin_req *r);

/* Replies for a failed store call: 503 when the database is unreachable, 404 for not found,
 * Kong's error bodies for constraint violations (doc is the entity being written, borrowed, may
 * be NULL; deleting tells a restrict violation from a missing reference), else 500. */
void cp_admin_reply_store_error(struct cp_admin_req *r, enum gw_err e,
                                const struct cp_store_dberr *err, const json_t *doc, bool deleting);

/* Kong's paging options from the query: size, offset (decoded key array, owned) and tags.
 * Replies 400 itself and returns false on a bad option. */
struct cp_admin_paging {
    size_t size;
    json_t *offset_key; /* owned or NULL */
    json_t *tags;       /* owned or NULL */
    bool tags_any;
    const char *offset_raw;
    const char *size_raw;
    const char *tags_raw;
};
bool cp_admin_paging_parse(struct cp_admin_req *r, size_t nkeys, struct cp_admin_paging *p);
void cp_admin_paging_cleanup(struct cp_admin_paging *p);

/* Builds {"data": data, "offset"?: token, "next": link|null} (data stolen). base is the path
 * for the next link ("/services"); last_key (borrowed, may be NULL) the key array of the last
 * row when more rows follow. */
json_t *cp_admin_page_body(const struct cp_admin_paging *p, json_t *data, const char *base,
                           const json_t *last_key);

/* Replaces every byte of s that is not part of valid UTF-8 by '?', in place, so that text
 * quoting the request can go into a JSON body. Returns s. */
char *cp_admin_utf8_sanitize(char *s);

/* Lua-pretty text of a key object, as Kong's messages print it: {id="..."} (owned; free()). */
char *cp_admin_lua_pretty(const json_t *v);

#endif
