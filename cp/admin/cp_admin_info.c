/* cp/admin/cp_admin_info.c: the Admin API's informational endpoints: GET / (node information),
 * /status, /endpoints, /tags, /schemas, /plugins/enabled and the data plane registry
 * (/clustering/data-planes, /clustering/status).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/cp_admin_internal.h"
#include "admin/cp_admin_page.h"
#include "gw_log.h"
#include "gw_schema.h"
#include "store/cp_migrations.h"
#include "store/cp_store_entity.h"

static json_t *enabled_plugins(struct cp_admin_req *r, bool *reachable)
{
    json_t *arr = json_array();
    PGresult *res = NULL;
    enum gw_err e =
        cp_store_query(r->admin->store, "SELECT DISTINCT doc->>'name' AS n FROM plugins ORDER BY n",
                       0, NULL, &res, NULL);
    *reachable = e != GW_ERR_UNAVAILABLE;
    if (e != GW_OK)
        return arr;
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(arr, json_string(PQgetvalue(res, i, 0)));
    PQclear(res);
    return arr;
}

static void root(struct cp_admin_req *r)
{
    struct cp_admin *a = r->admin;
    json_t *avail = json_object();
    for (const char *const *p = gw_schema_plugin_names(); p && *p; p++)
        json_object_set_new(avail, *p,
                            json_pack("{s:s,s:i}", "version", PORTICO_VERSION, "priority",
                                      gw_schema_plugin_priority(*p)));
    bool reachable;
    json_t *enabled = enabled_plugins(r, &reachable);
    json_t *listen = json_array();
    json_array_append_new(listen, json_string(gw_conf_str(a->conf, "admin_listen")));
    json_t *body = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:{s:o,s:o},s:{s:s,s:s,s:o,s:s,s:i,s:s,s:s},s:{s:i},s:{s:i,s:i}}",
        "tagline", "Welcome to portico", "version", PORTICO_VERSION, "edition", "community",
        "hostname", a->hostname, "node_id", a->node_id, "plugins", "available_on_server", avail,
        "enabled_in_cluster", enabled, "configuration", "role", "control_plane", "database",
        "postgres", "admin_listen", listen, "pg_host", gw_conf_str(a->conf, "pg_host"), "pg_port",
        (int)gw_conf_int(a->conf, "pg_port"), "pg_database", gw_conf_str(a->conf, "pg_database"),
        "prefix", gw_conf_str(a->conf, "prefix"), "pids", "master", (int)getpid(), "timers",
        "running", 0, "pending", 0);
    cp_admin_reply_json(r, 200, body);
}

static void status(struct cp_admin_req *r)
{
    struct cp_admin *a = r->admin;
    bool reachable = cp_store_ping(a->store);
    json_t *body = json_pack(
        "{s:{s:I,s:I,s:I,s:I,s:i,s:i,s:I},s:{s:b},s:{s:{},s:{}}}", "server", "total_requests",
        (json_int_t)a->total_requests, "connections_accepted", (json_int_t)a->connections_accepted,
        "connections_handled", (json_int_t)a->connections_handled, "connections_active",
        (json_int_t)a->nconns, "connections_reading", 0, "connections_writing", 1,
        "connections_waiting", (json_int_t)(a->nconns > 0 ? a->nconns - 1 : 0), "database",
        "reachable", reachable, "memory", "workers_lua_vms", "lua_shared_dicts");
    /* Portico: the configuration revision every change bumps (Portico Manager's overview). */
    PGresult *res = NULL;
    json_t *rev = json_null();
    if (reachable && cp_store_query(a->store, "SELECT revision FROM config_revision", 0, NULL, &res,
                                    NULL) == GW_OK) {
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            rev = json_integer((json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10));
        PQclear(res);
    }
    if (body)
        json_object_set_new(body, "config_revision", rev);
    else
        json_decref(rev);
    cp_admin_reply_json(r, 200, body);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void endpoints(struct cp_admin_req *r)
{
    size_t nb = 0;
    const struct cp_admin_route *rt = cp_admin_routes(&nb);
    size_t n = nb + r->admin->next;
    const char **v = calloc(n, sizeof(*v));
    if (!v) {
        cp_admin_reply_message(r, 500, "An unexpected error occurred");
        return;
    }
    for (size_t i = 0; i < nb; i++)
        v[i] = rt[i].pattern;
    for (size_t i = 0; i < r->admin->next; i++)
        v[nb + i] = r->admin->ext_routes[i].pattern;
    qsort(v, n, sizeof(*v), cmp_str);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, json_string(v[i]));
    free(v);
    cp_admin_reply_json(r, 200, json_pack("{s:o,s:n}", "data", data, "next"));
}

/* GET /tags and /tags/{tag}: every (tag, entity) pair, ordered by tag, entity name, id. */
static void tags(struct cp_admin_req *r, const char *tag)
{
    struct cp_admin_paging p;
    if (!cp_admin_paging_parse(r, 3, &p))
        return;
    static const char sql[] =
        "SELECT tag, entity_name, entity_id FROM ("
        "SELECT jsonb_array_elements_text(doc->'tags') AS tag, e.entity_name, id::text AS "
        "entity_id FROM ("
        "SELECT 'services' AS entity_name, id, doc FROM services UNION ALL "
        "SELECT 'routes', id, doc FROM routes UNION ALL "
        "SELECT 'upstreams', id, doc FROM upstreams UNION ALL "
        "SELECT 'targets', id, doc FROM targets UNION ALL "
        "SELECT 'consumers', id, doc FROM consumers UNION ALL "
        "SELECT 'plugins', id, doc FROM plugins UNION ALL "
        "SELECT 'keyauth_credentials', id, doc FROM keyauth_credentials UNION ALL "
        "SELECT 'certificates', id, doc FROM certificates UNION ALL "
        "SELECT 'ca_certificates', id, doc FROM ca_certificates UNION ALL "
        "SELECT 'snis', id, doc FROM snis) e WHERE jsonb_typeof(doc->'tags') = 'array') t "
        "WHERE ($1::text IS NULL OR tag = $1) AND ($2::text IS NULL OR (tag, entity_name, "
        "entity_id) > ($2, $3, $4)) ORDER BY tag, entity_name, entity_id LIMIT $5::bigint";
    char limit[32];
    snprintf(limit, sizeof(limit), "%zu", p.size + 1);
    const char *params[5] = {tag, NULL, NULL, NULL, limit};
    if (p.offset_key) {
        params[1] = json_string_value(json_array_get(p.offset_key, 0));
        params[2] = json_string_value(json_array_get(p.offset_key, 1));
        params[3] = json_string_value(json_array_get(p.offset_key, 2));
    }
    PGresult *res = NULL;
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_query(r->admin->store, sql, 5, params, &res, &err);
    if (e != GW_OK) {
        cp_admin_paging_cleanup(&p);
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return;
    }
    json_t *data = json_array();
    int n = PQntuples(res);
    json_t *last = NULL;
    for (int i = 0; i < n && (size_t)i < p.size; i++) {
        json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "tag", PQgetvalue(res, i, 0),
                                              "entity_name", PQgetvalue(res, i, 1), "entity_id",
                                              PQgetvalue(res, i, 2)));
    }
    if ((size_t)n > p.size) {
        int i = (int)p.size - 1;
        last = json_pack("[s,s,s]", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                         PQgetvalue(res, i, 2));
    }
    PQclear(res);
    char base[600];
    if (tag) {
        char *esc = evhttp_uriencode(tag, -1, 0);
        snprintf(base, sizeof(base), "/tags/%.500s", esc ? esc : "");
        free(esc);
    } else {
        snprintf(base, sizeof(base), "/tags");
    }
    cp_admin_reply_json(r, 200, cp_admin_page_body(&p, data, base, last));
    json_decref(last);
    cp_admin_paging_cleanup(&p);
}

static void schema(struct cp_admin_req *r)
{
    const char *name = r->match.params[0];
    const struct gw_schema *s = gw_schema_get(name);
    json_t *d = s ? gw_schema_describe(s) : NULL;
    if (!d) {
        char msg[300];
        snprintf(msg, sizeof(msg), "No entity named '%.200s'", name);
        cp_admin_utf8_sanitize(msg);
        cp_admin_reply_message(r, 404, msg);
        return;
    }
    cp_admin_reply_json(r, 200, d);
}

static void schema_plugin(struct cp_admin_req *r)
{
    const char *name = r->match.params[0];
    json_t *d = gw_schema_describe_plugin(name);
    if (!d) {
        char msg[300];
        snprintf(msg, sizeof(msg), "No plugin named '%.200s'", name);
        cp_admin_utf8_sanitize(msg);
        cp_admin_reply_message(r, 404, msg);
        return;
    }
    cp_admin_reply_json(r, 200, d);
}

static void schema_validate(struct cp_admin_req *r)
{
    const char *name = r->match.params[0];
    const struct gw_schema *s = gw_schema_get(name);
    if (!s) {
        char msg[300];
        snprintf(msg, sizeof(msg), "No entity named '%.200s'", name);
        cp_admin_utf8_sanitize(msg);
        cp_admin_reply_message(r, 404, msg);
        return;
    }
    json_t *input = json_deep_copy(r->body ? r->body : json_object());
    if (r->body_type == CP_ADMIN_BODY_FORM || r->body_type == CP_ADMIN_BODY_MULTIPART)
        gw_schema_coerce_form(s, input);
    json_t *out = NULL, *errf = NULL;
    enum gw_err e = gw_schema_process(s, GW_SCHEMA_INSERT, input, NULL, &out, &errf);
    json_decref(input);
    json_decref(out);
    if (e == GW_OK)
        cp_admin_reply_message(r, 200, "schema validation successful");
    else if (e == GW_ERR_INVALID)
        cp_admin_reply_json(r, 400, gw_schema_error_body(errf));
    else
        cp_admin_reply_message(r, 500, "An unexpected error occurred");
    json_decref(errf);
}

static void plugins_enabled(struct cp_admin_req *r)
{
    json_t *arr = json_array();
    for (const char *const *p = gw_schema_plugin_names(); p && *p; p++)
        json_array_append_new(arr, json_string(*p));
    cp_admin_reply_json(r, 200, json_pack("{s:o}", "enabled_plugins", arr));
}

#define DP_JSON                                                                                    \
    "json_build_object('id', id, 'hostname', hostname, 'ip', ip, 'version', version, "             \
    "'sync_status', coalesce(sync_status, 'unknown'), 'config_hash', config_hash, 'last_seen', "   \
    "extract(epoch from last_seen)::bigint, 'labels', labels, 'cert_details', "                    \
    "json_build_object('expiry_timestamp', cert_expiry), 'connected', " CP_DP_CONNECTED_SQL        \
    ", 'applied_revision', applied_revision, 'last_error', last_error, "                           \
    "'control_plane_id', control_plane_id, 'created_at', extract(epoch from created_at)::bigint, " \
    "'updated_at', extract(epoch from updated_at)::bigint)::text"

static void data_planes(struct cp_admin_req *r)
{
    struct cp_admin_paging p;
    if (!cp_admin_paging_parse(r, 1, &p))
        return;
    const char *after = p.offset_key ? json_string_value(json_array_get(p.offset_key, 0)) : NULL;
    if (after && !gw_uuid_valid(after)) {
        char m[512];
        snprintf(m, sizeof(m), "'%.300s' is not a valid offset: bad json encoding", p.offset_raw);
        cp_admin_utf8_sanitize(m);
        cp_admin_paging_cleanup(&p);
        cp_admin_reply_json(
            r, 400, json_pack("{s:i,s:s,s:s}", "code", 7, "name", "invalid offset", "message", m));
        return;
    }
    char limit[32];
    snprintf(limit, sizeof(limit), "%zu", p.size + 1);
    const char *params[] = {after, limit};
    PGresult *res = NULL;
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_query(r->admin->store,
                                   "SELECT " DP_JSON ", id::text FROM clustering_data_planes "
                                   "WHERE ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id "
                                   "LIMIT $2::bigint",
                                   2, params, &res, &err);
    if (e != GW_OK) {
        cp_admin_paging_cleanup(&p);
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return;
    }
    json_t *data = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n && (size_t)i < p.size; i++) {
        json_error_t je;
        json_t *v = json_loads(PQgetvalue(res, i, 0), 0, &je);
        if (v)
            json_array_append_new(data, v);
    }
    json_t *last =
        (size_t)n > p.size ? json_pack("[s]", PQgetvalue(res, (int)p.size - 1, 1)) : NULL;
    PQclear(res);
    cp_admin_reply_json(r, 200, cp_admin_page_body(&p, data, "/clustering/data-planes", last));
    json_decref(last);
    cp_admin_paging_cleanup(&p);
}

static void cluster_status(struct cp_admin_req *r)
{
    PGresult *res = NULL;
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_query(r->admin->store,
                                   "SELECT id::text, json_build_object('config_hash', config_hash, "
                                   "'hostname', hostname, 'ip', ip, 'last_seen', extract(epoch "
                                   "from last_seen)::bigint, 'connected', " CP_DP_CONNECTED_SQL
                                   ")::text FROM clustering_data_planes "
                                   "ORDER BY id",
                                   0, NULL, &res, &err);
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return;
    }
    json_t *body = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        json_error_t je;
        json_t *v = json_loads(PQgetvalue(res, i, 1), 0, &je);
        if (v)
            json_object_set_new(body, PQgetvalue(res, i, 0), v);
    }
    PQclear(res);
    cp_admin_reply_json(r, 200, body);
}

void cp_admin_handle_info(struct cp_admin_req *r)
{
    switch (r->match.route->kind) {
    case CP_ADMIN_ROOT:
        root(r);
        break;
    case CP_ADMIN_STATUS:
        status(r);
        break;
    case CP_ADMIN_ENDPOINTS:
        endpoints(r);
        break;
    case CP_ADMIN_TAGS:
        tags(r, NULL);
        break;
    case CP_ADMIN_TAG:
        tags(r, r->match.params[0]);
        break;
    case CP_ADMIN_SCHEMA:
        schema(r);
        break;
    case CP_ADMIN_SCHEMA_PLUGIN:
        schema_plugin(r);
        break;
    case CP_ADMIN_SCHEMA_VALIDATE:
        schema_validate(r);
        break;
    case CP_ADMIN_PLUGINS_ENABLED:
        plugins_enabled(r);
        break;
    case CP_ADMIN_DATA_PLANES:
        data_planes(r);
        break;
    case CP_ADMIN_CLUSTER_STATUS:
        cluster_status(r);
        break;
    default:
        cp_admin_reply_message(r, 404, "Not found");
        break;
    }
}
