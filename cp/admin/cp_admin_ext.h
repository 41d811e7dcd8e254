/* cp/admin/cp_admin_ext.h: how other control plane modules add endpoints to the Admin API
 * (declarative config's /config, health endpoints, ...) without touching its route table:
 * register a pattern and a handler after cp_admin_start(); the handler gets the request
 * through the accessors below and must send exactly one reply.
 *
 * Everything here runs on the Admin API loop thread. Authentication (admin_token), URI limits
 * and the body size limit apply to extension routes too; bodies are NOT decoded in advance
 * (use cp_admin_req_json() or cp_admin_req_body()).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ADMIN_EXT_H
#define CP_ADMIN_EXT_H

#include <jansson.h>
#include <stddef.h>

#include "admin/cp_admin.h"
#include "admin/cp_admin_router.h"
#include "gw_err.h"
#include "store/cp_store.h"

struct cp_admin_req; /* one request; valid only during the handler call */

typedef void (*cp_admin_handler_fn)(struct cp_admin_req *r, void *arg);

#define CP_ADMIN_MAX_EXT_ROUTES 16

/* Adds a route. pattern uses {name} placeholders ("/config", "/upstreams/{upstreams}/health"),
 * methods is a mask of CP_ADMIN_M(CP_ADMIN_GET) ... bits. Extension routes are matched before
 * the built-in ones. pattern is copied; arg is borrowed (must outlive a). GW_ERR_TOOBIG past
 * CP_ADMIN_MAX_EXT_ROUTES, GW_ERR_INVALID for a pattern not starting with '/'. */
enum gw_err cp_admin_route_add(struct cp_admin *a, const char *pattern, unsigned methods,
                               cp_admin_handler_fn fn, void *arg);

/* Accessors. Strings are borrowed and live until the handler returns. */
enum cp_admin_method cp_admin_req_method(const struct cp_admin_req *r);
/* The i-th {placeholder} of the pattern, percent-decoded; NULL past the last. */
const char *cp_admin_req_param(const struct cp_admin_req *r, size_t i);
/* A query argument (decoded), NULL when absent. */
const char *cp_admin_query(struct cp_admin_req *r, const char *name);
/* A request header, NULL when absent. */
const char *cp_admin_req_header(struct cp_admin_req *r, const char *name);
/* The raw request body (not NUL-terminated; *len bytes; "" when empty). */
const char *cp_admin_req_body(struct cp_admin_req *r, size_t *len);
/* Decodes the body as the built-in endpoints do (JSON, form, multipart) into *out (owned
 * object; {} when empty). On failure it has already replied (400 "Cannot parse JSON body", 415)
 * and returns the error. */
enum gw_err cp_admin_req_json(struct cp_admin_req *r, json_t **out);
/* The server's store (borrowed), for handlers that read or write entities. */
struct cp_store *cp_admin_req_store(struct cp_admin_req *r);

/* Replies (send exactly one). json bodies are stolen (NULL gives a 500). */
void cp_admin_reply_json(struct cp_admin_req *r, int status, json_t *body);
void cp_admin_reply_message(struct cp_admin_req *r, int status, const char *message);
void cp_admin_reply_empty(struct cp_admin_req *r, int status);
/* Adds a response header before the reply is sent. */
void cp_admin_reply_header(struct cp_admin_req *r, const char *name, const char *value);

#endif
