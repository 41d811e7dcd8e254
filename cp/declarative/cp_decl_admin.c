/* cp/declarative/cp_decl_admin.c: POST/GET /config on top of the load pipeline and the sync.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/cp_admin_ext.h"
#include "cp_decl_diff.h"
#include "cp_decl_errors.h"
#include "cp_decl_export.h"
#include "cp_decl_load.h"
#include "cp_decl_sync.h"
#include "gw_log.h"

bool cp_decl_admin_truthy(const char *v)
{
    return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0 ||
                 strcasecmp(v, "yes") == 0);
}

static void reply_message(struct cp_decl_reply *r, int status, const char *msg)
{
    r->status = status;
    r->body = json_pack("{s:s}", "message", msg);
}

/* Kong's 201 body: {"<table>": {"<id>": entity}} for every table with entities. */
static json_t *entities_by_id(const json_t *entities)
{
    json_t *out = json_object();
    const char *table;
    json_t *arr;
    json_object_foreach((json_t *)entities, table, arr)
    {
        if (table[0] == '_' || !json_is_array(arr) || json_array_size(arr) == 0)
            continue;
        json_t *byid = json_object();
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            if (id)
                json_object_set(byid, id, e);
        }
        json_object_set_new(out, table, byid);
    }
    return out;
}

void cp_decl_admin_post(struct cp_store *s, const char *raw, size_t len, const json_t *decoded,
                        bool check_hash, bool flatten_errors, struct cp_decl_reply *reply)
{
    json_t *doc = NULL, *entities = NULL, *errs = NULL, *diff = NULL;
    enum gw_err rc;
    reply->status = 500;
    reply->body = NULL;
    const json_t *cfg = json_object_get(decoded, "config");
    if (json_is_object(decoded) && json_object_get(decoded, "_format_version")) {
        doc = json_incref((json_t *)decoded);
        rc = cp_decl_load_doc(doc, NULL, &entities, &errs);
    } else if (json_is_string(cfg)) {
        rc = cp_decl_load_text(json_string_value(cfg), json_string_length(cfg), CP_DECL_FORMAT_AUTO,
                               NULL, &doc, &entities, &errs);
    } else if (json_is_object(cfg)) {
        doc = json_incref((json_t *)cfg);
        rc = cp_decl_load_doc(doc, NULL, &entities, &errs);
    } else if (json_is_object(decoded) && json_object_size(decoded) > 0) {
        /* Not a configuration: validating it says what is missing (_format_version). */
        doc = json_incref((json_t *)decoded);
        rc = cp_decl_load_doc(doc, NULL, &entities, &errs);
    } else if (!decoded && raw && len > 0) {
        rc = cp_decl_load_text(raw, len, CP_DECL_FORMAT_AUTO, NULL, &doc, &entities, &errs);
    } else {
        reply_message(reply, 400, "expected a declarative configuration");
        return;
    }
    if (rc == GW_ERR_INVALID || rc == GW_ERR_TOOBIG) {
        reply->status = rc == GW_ERR_TOOBIG ? 413 : 400;
        reply->body = cp_decl_error_body(errs, doc, flatten_errors);
        goto out;
    }
    if (rc != GW_OK) {
        reply_message(reply, 500, "An unexpected error occurred");
        goto out;
    }
    char err[1024];
    int64_t rev = 0;
    /* With check_hash the configuration is compared first and nothing is written when it
     * already matches (Kong answers 304 when the hash of the new configuration is the current
     * one). */
    rc = cp_decl_sync(s, entities, NULL, !check_hash, &diff, &rev, err, sizeof(err));
    if (rc == GW_OK && check_hash) {
        if (cp_decl_diff_count(diff) == 0) {
            reply->status = 304;
            goto out;
        }
        json_decref(diff);
        diff = NULL;
        rc = cp_decl_sync(s, entities, NULL, true, &diff, &rev, err, sizeof(err));
    }
    if (rc == GW_ERR_IO) {
        reply_message(reply, 400, err);
        goto out;
    }
    if (rc != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "POST /config failed error=\"%s\"", err);
        reply_message(reply, rc == GW_ERR_UNAVAILABLE ? 503 : 500, "An unexpected error occurred");
        goto out;
    }
    reply->status = 201;
    reply->body = entities_by_id(entities);
out:
    json_decref(diff);
    json_decref(errs);
    json_decref(entities);
    json_decref(doc);
}

void cp_decl_admin_get(struct cp_store *s, const char *format, struct cp_decl_reply *reply)
{
    json_t *current = NULL;
    char *text = NULL;
    size_t len = 0;
    char err[512];
    reply->body = NULL;
    if (format && strcmp(format, "json") != 0 && strcmp(format, "yaml") != 0) {
        reply_message(reply, 400, "format must be yaml or json");
        return;
    }
    enum gw_err rc = cp_decl_sync_read(s, &current, err, sizeof(err));
    if (rc != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "GET /config failed error=\"%s\"", err);
        reply_message(reply, rc == GW_ERR_UNAVAILABLE ? 503 : 500, "An unexpected error occurred");
        return;
    }
    enum cp_decl_format fmt =
        format && strcmp(format, "json") == 0 ? CP_DECL_FORMAT_JSON : CP_DECL_FORMAT_YAML;
    if (cp_decl_export(current, fmt, &text, &len) != GW_OK) {
        reply_message(reply, 500, "An unexpected error occurred");
    } else {
        reply->status = 200;
        reply->body = json_pack("{s:s%}", "config", text, len);
    }
    free(text);
    json_decref(current);
}

/* ---- the Admin API route ------------------------------------------------------------------ */

/* Content types the Admin API decodes itself; any other body reaches the declarative reader
 * as raw YAML or JSON text (Kong's /config takes YAML bodies). */
static bool decoded_type(const char *ct)
{
    static const char *const types[] = {"application/json", "application/x-www-form-urlencoded",
                                        "multipart/form-data", NULL};
    for (size_t i = 0; ct && types[i]; i++)
        if (strncasecmp(ct, types[i], strlen(types[i])) == 0)
            return true;
    return false;
}

static void handle_config(struct cp_admin_req *r, void *arg)
{
    (void)arg;
    struct cp_decl_reply reply = {0};
    struct cp_store *s = cp_admin_req_store(r);
    if (cp_admin_req_method(r) == CP_ADMIN_GET) {
        cp_decl_admin_get(s, cp_admin_query(r, "format"), &reply);
    } else {
        json_t *decoded = NULL;
        size_t len = 0;
        const char *raw = cp_admin_req_body(r, &len);
        if (decoded_type(cp_admin_req_header(r, "Content-Type")) &&
            cp_admin_req_json(r, &decoded) != GW_OK)
            return; /* cp_admin_req_json replied */
        /* An empty JSON or form body decodes to {}: no configuration at all. */
        if (decoded && json_object_size(decoded) == 0) {
            json_decref(decoded);
            decoded = NULL;
            len = 0;
        }
        const char *ch = cp_admin_query(r, "check_hash");
        cp_decl_admin_post(s, raw, len, decoded, ch && strcmp(ch, "1") == 0,
                           cp_decl_admin_truthy(cp_admin_query(r, "flatten_errors")), &reply);
        json_decref(decoded);
    }
    if (reply.body)
        cp_admin_reply_json(r, reply.status, reply.body);
    else
        cp_admin_reply_empty(r, reply.status);
}

enum gw_err cp_decl_admin_register(struct cp_admin *a)
{
    return cp_admin_route_add(a, "/config", CP_ADMIN_M(CP_ADMIN_GET) | CP_ADMIN_M(CP_ADMIN_POST),
                              handle_config, NULL);
}
