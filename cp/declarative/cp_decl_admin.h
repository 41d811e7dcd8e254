/* cp/declarative/cp_decl_admin.h: the Admin API's /config endpoint, transport-neutral (the admin
 * server decodes the request and sends the reply):
 *   POST /config  replaces the whole configuration atomically (one transaction; Kong's request
 *                 forms: a JSON body holding the configuration, a `config` field holding it as
 *                 YAML or JSON text, or the raw YAML/JSON body). ?check_hash=1 answers 304 when
 *                 the configuration already matches; ?flatten_errors=1 adds Kong's
 *                 flattened_errors. 201 with the entities by table and id; 400 with Kong's
 *                 "invalid declarative configuration" body (code 14).
 *   GET /config   200 {"config": "<the configuration as YAML>"} (?format=json for JSON text).
 * Store thread only (the Admin API loop that owns the struct cp_store).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_ADMIN_H
#define CP_DECL_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

struct cp_store;
struct cp_admin;

struct cp_decl_reply {
    int status;   /* HTTP status */
    json_t *body; /* owned (json_decref); NULL for no body (304) */
};

/* POST /config. raw/len: the request body (borrowed). decoded: the body as the admin layer
 * decoded it (a JSON body, or a form/multipart body shaped into an object), borrowed, may be
 * NULL for other content types. Fills *reply. */
void cp_decl_admin_post(struct cp_store *s, const char *raw, size_t len, const json_t *decoded,
                        bool check_hash, bool flatten_errors, struct cp_decl_reply *reply);

/* GET /config. format: NULL or "yaml" for YAML text, "json" for JSON text. Fills *reply. */
void cp_decl_admin_get(struct cp_store *s, const char *format, struct cp_decl_reply *reply);

/* Registers GET and POST /config on the running Admin API a (cp_admin_route_add). Call from
 * the Admin API loop thread after cp_admin_start(). GW_OK or the registration error. */
enum gw_err cp_decl_admin_register(struct cp_admin *a);

/* Kong's truthy() for the flatten_errors query argument: true, 1, "true", "1", "on", "yes"
 * (any case). check_hash is true only for "1". */
bool cp_decl_admin_truthy(const char *v);

#endif
