/* cp/admin/cp_admin_entity.c: the generated CRUD endpoints of every entity, as Kong's
 * kong/api/endpoints.lua builds them: collections, entities by id or endpoint key, nested
 * collections and entities under a parent, foreign-entity endpoints, targets lists.
 * SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/cp_admin_internal.h"
#include "admin/cp_admin_page.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_schema.h"
#include "store/cp_store_entity.h"

#define MAX_TARGET_OFFSET 100000

static struct cp_store *store_of(struct cp_admin_req *r)
{
    return r->admin->store;
}

static const char *id_of(const json_t *doc)
{
    return json_string_value(json_object_get(doc, "id"));
}

static const char *fk_id(const json_t *doc, const char *fk)
{
    return json_string_value(json_object_get(json_object_get(doc, fk), "id"));
}

/* The path of a route with its placeholders replaced by the (escaped) request params. */
static char *route_path(struct cp_admin_req *r, const char *pattern)
{
    struct gw_buf b;
    gw_buf_init(&b, 16 * 1024);
    size_t pi = 0;
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (!e)
                break;
            if (pi < r->match.nparams) {
                char *esc = evhttp_uriencode(r->match.params[pi], -1, 0);
                gw_buf_append_str(&b, esc ? esc : "");
                free(esc);
            }
            pi++;
            p = e + 1;
        } else {
            gw_buf_append(&b, p, 1);
            p++;
        }
    }
    return gw_buf_steal(&b);
}

/* Adds ":8000" to a target without a port (Kong's default target port). */
static void normalize_target(const char *in, char *out, size_t outlen)
{
    const char *rb = strrchr(in, ']');
    const char *colon = strrchr(in, ':');
    bool has_port;
    if (in[0] == '[')
        has_port = rb && rb[1] == ':';
    else
        has_port = colon && strchr(in, ':') == colon; /* exactly one colon */
    bool ipv6_bare = in[0] != '[' && colon && strchr(in, ':') != colon;
    if (has_port)
        snprintf(out, outlen, "%s", in);
    else if (ipv6_bare)
        snprintf(out, outlen, "[%s]:8000", in);
    else
        snprintf(out, outlen, "%s:8000", in);
}

/* Finds an entity by id (a UUID key) or by its endpoint key. parent_id scopes targets. */
static enum gw_err lookup(struct cp_admin_req *r, const char *table, const char *key,
                          const char *parent_id, json_t **out, struct cp_store_dberr *err)
{
    *out = NULL;
    if (gw_uuid_valid(key)) {
        char id[GW_UUID_STRLEN + 1];
        for (size_t i = 0; i <= GW_UUID_STRLEN; i++)
            id[i] = (char)tolower((unsigned char)key[i]);
        return cp_store_entity_get(store_of(r), table, id, false, out, err);
    }
    if (strcmp(table, "certificates") == 0) {
        json_t *sni = NULL;
        struct cp_store_filter f = {"name", NULL, key};
        enum gw_err e = cp_store_entity_find(store_of(r), "snis", &f, 1, &sni, err);
        if (e != GW_OK)
            return e;
        const char *cid = fk_id(sni, "certificate");
        e = cid ? cp_store_entity_get(store_of(r), table, cid, false, out, err) : GW_ERR_NOTFOUND;
        json_decref(sni);
        return e;
    }
    const struct gw_schema *s = gw_schema_get(table);
    const char *ek = s ? gw_schema_endpoint_key(s) : NULL;
    if (!ek)
        return GW_ERR_NOTFOUND;
    if (strcmp(table, "targets") == 0) {
        char norm[512];
        normalize_target(key, norm, sizeof(norm));
        struct cp_store_filter f[2] = {{"target", NULL, norm}, {"upstream", "id", parent_id}};
        return cp_store_entity_find(store_of(r), table, f, parent_id ? 2 : 1, out, err);
    }
    struct cp_store_filter f = {ek, NULL, key};
    return cp_store_entity_find(store_of(r), table, &f, 1, out, err);
}

/* Replies Kong's 400 for a reference that names no existing entity. */
static void reply_bad_reference(struct cp_admin_req *r, const char *field, const char *entity,
                                const json_t *ref)
{
    char *pretty = cp_admin_lua_pretty(ref);
    char msg[1024];
    snprintf(msg, sizeof(msg), "the foreign key '%s' does not reference an existing '%s' entity.",
             pretty ? pretty : "", entity);
    cp_admin_utf8_sanitize(msg);
    free(pretty);
    cp_admin_reply_json(r, 400,
                        json_pack("{s:i,s:s,s:s,s:{s:O}}", "code", 4, "name",
                                  "foreign key violation", "message", msg, "fields", field, ref));
}

/* Resolves foreign keys given by endpoint key ({"name": "x"}, form service.name=x) to
 * {"id": ...}. Replies and returns false on failure. */
static bool resolve_refs(struct cp_admin_req *r, const struct gw_schema *s, json_t *input)
{
    size_t n = 0;
    const struct gw_schema_foreign *f = gw_schema_foreigns(s, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(input, f[i].field);
        if (!json_is_object(v) || json_object_get(v, "id"))
            continue;
        const struct gw_schema *ps = gw_schema_get(f[i].entity);
        const char *ek = ps ? gw_schema_endpoint_key(ps) : NULL;
        const char *kv = ek ? json_string_value(json_object_get(v, ek)) : NULL;
        if (!kv)
            continue; /* validation reports what is wrong */
        json_t *parent = NULL;
        struct cp_store_dberr err = {0};
        struct cp_store_filter flt = {ek, NULL, kv};
        enum gw_err e = cp_store_entity_find(store_of(r), f[i].entity, &flt, 1, &parent, &err);
        if (e == GW_ERR_NOTFOUND) {
            reply_bad_reference(r, f[i].field, f[i].entity, v);
            return false;
        }
        if (e != GW_OK) {
            cp_admin_reply_store_error(r, e, &err, NULL, false);
            return false;
        }
        json_object_set_new(input, f[i].field, json_pack("{s:s}", "id", id_of(parent)));
        json_decref(parent);
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Certificates carry a transient `snis` list: SNI entities created and replaced with them. */

static enum gw_err cert_sni_names(struct cp_admin_req *r, const char *cert_id, json_t **names)
{
    *names = json_array();
    struct cp_store_filter f = {"certificate", "id", cert_id};
    struct cp_store_list_opts o = {.filters = &f, .nfilters = 1, .size = 10000};
    json_t *data = NULL;
    char *last = NULL;
    enum gw_err e = cp_store_entity_list(store_of(r), "snis", &o, &data, &last, NULL);
    free(last);
    if (e != GW_OK)
        return e;
    size_t i;
    json_t *v;
    json_array_foreach(data, i, v) json_array_append(*names, json_object_get(v, "name"));
    json_decref(data);
    return GW_OK;
}

/* Adds "snis" to a certificate (and nothing to other entities). */
static enum gw_err decorate(struct cp_admin_req *r, const char *table, json_t *doc)
{
    if (strcmp(table, "certificates") != 0)
        return GW_OK;
    json_t *names = NULL;
    enum gw_err e = cert_sni_names(r, id_of(doc), &names);
    if (e == GW_OK)
        json_object_set_new(doc, "snis", names);
    else
        json_decref(names);
    return e;
}

/* Replaces the SNIs of certificate cert_id with names (an array; borrowed). Replies on error. */
static bool write_snis(struct cp_admin_req *r, const char *cert_id, const json_t *names)
{
    const struct gw_schema *ss = gw_schema_get("snis");
    if (!ss) {
        cp_admin_reply_message(r, 500, "An unexpected error occurred");
        return false;
    }
    struct cp_store_dberr err = {0};
    json_t *old = NULL;
    char *last = NULL;
    struct cp_store_filter f = {"certificate", "id", cert_id};
    struct cp_store_list_opts o = {.filters = &f, .nfilters = 1, .size = 10000};
    enum gw_err e = cp_store_entity_list(store_of(r), "snis", &o, &old, &last, &err);
    free(last);
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(old, i, v)
    {
        e = cp_store_entity_delete(store_of(r), "snis", id_of(v), NULL, &err);
        if (e != GW_OK) {
            json_decref(old);
            cp_admin_reply_store_error(r, e, &err, NULL, true);
            return false;
        }
    }
    json_decref(old);
    if (!json_is_array(names))
        return true;
    json_array_foreach(names, i, v)
    {
        json_t *in = json_pack("{s:O,s:{s:s}}", "name", v, "certificate", "id", cert_id);
        json_t *sni = NULL, *errf = NULL;
        e = gw_schema_process(ss, GW_SCHEMA_INSERT, in, NULL, &sni, &errf);
        json_decref(in);
        if (e != GW_OK) {
            json_t *fields = json_pack("{s:O}", "snis", errf ? errf : json_null());
            json_decref(errf);
            cp_admin_reply_json(r, 400, gw_schema_error_body(fields));
            json_decref(fields);
            return false;
        }
        e = cp_store_entity_insert(store_of(r), "snis", sni, &err);
        if (e != GW_OK) {
            cp_admin_reply_store_error(r, e, &err, sni, false);
            json_decref(sni);
            return false;
        }
        json_decref(sni);
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Writes */

/* The request body prepared for a schema: form values coerced, certificates' snis taken out
 * (*snis owned, NULL when absent). Returns a new reference to the input. */
static json_t *prepare_input(struct cp_admin_req *r, const char *table, const struct gw_schema *s,
                             const json_t *existing, json_t **snis)
{
    json_t *input = json_deep_copy(r->body ? r->body : json_object());
    if (!input)
        input = json_object();
    /* a plugin's config is typed by its name: a PATCH without one uses the stored name (as
     * Kong's plugins endpoint does) so form values can be coerced */
    if (existing && strcmp(table, "plugins") == 0 && !json_object_get(input, "name") &&
        json_object_get(existing, "name"))
        json_object_set(input, "name", json_object_get(existing, "name"));
    if (r->body_type == CP_ADMIN_BODY_FORM || r->body_type == CP_ADMIN_BODY_MULTIPART)
        gw_schema_coerce_form(s, input);
    *snis = NULL;
    if (strcmp(table, "certificates") == 0 && json_object_get(input, "snis")) {
        json_t *v = json_object_get(input, "snis");
        if (json_is_string(v)) /* form: snis=a */
            *snis = json_pack("[O]", v);
        else
            *snis = json_incref(v);
        json_object_del(input, "snis");
    }
    return input;
}

enum write_op { OP_CREATE = 0, OP_UPDATE, OP_UPSERT, OP_WRITE_COUNT_ };

/* Runs one write in a transaction and replies. existing: the stored entity (UPDATE/UPSERT of
 * an existing row; borrowed). Returns nothing: always replies. */
static void write_entity(struct cp_admin_req *r, const char *table, const struct gw_schema *s,
                         enum write_op op, json_t *input, json_t *snis, const json_t *existing)
{
    json_t *ent = NULL, *errf = NULL;
    struct cp_store_dberr err = {0};
    enum gw_schema_op sop = op == OP_CREATE   ? GW_SCHEMA_INSERT
                            : op == OP_UPDATE ? GW_SCHEMA_UPDATE
                                              : GW_SCHEMA_UPSERT;
    if (!resolve_refs(r, s, input))
        goto out;
    enum gw_err e = gw_schema_process(s, sop, input, existing, &ent, &errf);
    if (e == GW_ERR_INVALID) {
        cp_admin_reply_json(r, 400, gw_schema_error_body(errf));
        goto out;
    }
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, NULL, NULL, false);
        goto out;
    }
    if (op == OP_CREATE)
        e = cp_store_entity_insert(store_of(r), table, ent, &err);
    else if (op == OP_UPDATE)
        e = cp_store_entity_update(store_of(r), table, ent, &err);
    else
        e = cp_store_entity_upsert(store_of(r), table, ent, &err);
    if (e != GW_OK) {
        cp_store_rollback(store_of(r));
        cp_admin_reply_store_error(r, e, &err, ent, false);
        goto out;
    }
    if (snis && !write_snis(r, id_of(ent), snis)) {
        cp_store_rollback(store_of(r));
        goto out;
    }
    if ((e = decorate(r, table, ent)) != GW_OK ||
        (e = cp_store_commit_change(store_of(r), NULL)) != GW_OK) {
        cp_store_rollback(store_of(r));
        cp_admin_reply_store_error(r, e, NULL, NULL, false);
        goto out;
    }
    cp_admin_reply_json(r, op == OP_CREATE ? 201 : 200, ent);
    ent = NULL;
out:
    cp_store_rollback(store_of(r));
    json_decref(ent);
    json_decref(errf);
}

static const struct gw_schema *schema_or_404(struct cp_admin_req *r, const char *table)
{
    const struct gw_schema *s = gw_schema_get(table);
    if (!s)
        cp_admin_reply_message(r, 404, "Not found");
    return s;
}

static bool begin(struct cp_admin_req *r)
{
    enum gw_err e = cp_store_begin(store_of(r));
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, NULL, NULL, false);
        return false;
    }
    return true;
}

/* POST to a collection; parent_id/fk fill the foreign key of a nested collection. */
static void create(struct cp_admin_req *r, const char *table, const char *fk, const char *parent_id)
{
    const struct gw_schema *s = schema_or_404(r, table);
    if (!s || !begin(r))
        return;
    json_t *snis = NULL;
    json_t *input = prepare_input(r, table, s, NULL, &snis);
    if (fk && parent_id)
        json_object_set_new(input, fk, json_pack("{s:s}", "id", parent_id));
    write_entity(r, table, s, OP_CREATE, input, snis, NULL);
    json_decref(input);
    json_decref(snis);
}

/* GET/PATCH/PUT/DELETE of one entity addressed by key; when parent_id is set the entity must
 * reference it through fk (nested endpoints). */
static void entity_op(struct cp_admin_req *r, const char *table, const char *key, const char *fk,
                      const char *parent_id)
{
    const struct gw_schema *s = schema_or_404(r, table);
    if (!s)
        return;
    struct cp_store_dberr err = {0};
    json_t *existing = NULL, *input = NULL, *snis = NULL;
    bool in_txn = r->method != CP_ADMIN_GET;
    if (in_txn && !begin(r))
        return;
    enum gw_err e = lookup(r, table, key, parent_id, &existing, &err);
    if (e != GW_OK && e != GW_ERR_NOTFOUND) {
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        goto out;
    }
    bool owned = !existing || !parent_id ||
                 (fk_id(existing, fk) && strcmp(fk_id(existing, fk), parent_id) == 0);
    switch (r->method) {
    case CP_ADMIN_GET:
        if (!existing || !owned) {
            cp_admin_reply_message(r, 404, "Not found");
            goto out;
        }
        if ((e = decorate(r, table, existing)) != GW_OK) {
            cp_admin_reply_store_error(r, e, NULL, NULL, false);
            goto out;
        }
        cp_admin_reply_json(r, 200, existing);
        existing = NULL;
        goto out;
    case CP_ADMIN_DELETE:
        if (!owned) {
            cp_admin_reply_message(r, 404, "Not found");
            goto out;
        }
        if (existing) {
            e = cp_store_entity_delete(store_of(r), table, id_of(existing), NULL, &err);
            if (e == GW_OK)
                e = cp_store_commit_change(store_of(r), NULL);
            if (e != GW_OK) {
                cp_store_rollback(store_of(r));
                cp_admin_reply_store_error(r, e, &err, existing, true);
                goto out;
            }
        }
        cp_admin_reply_empty(r, 204);
        goto out;
    case CP_ADMIN_PATCH:
        if (!existing || !owned) {
            cp_admin_reply_message(r, 404, "Not found");
            goto out;
        }
        input = prepare_input(r, table, s, existing, &snis);
        if (parent_id && !json_object_get(input, fk))
            json_object_set_new(input, fk, json_pack("{s:s}", "id", parent_id));
        write_entity(r, table, s, OP_UPDATE, input, snis, existing);
        goto out;
    case CP_ADMIN_PUT: {
        if (!owned) {
            cp_admin_reply_message(r, 404, "Not found");
            goto out;
        }
        input = prepare_input(r, table, s, NULL, &snis);
        if (gw_uuid_valid(key)) {
            char id[GW_UUID_STRLEN + 1];
            for (size_t i = 0; i <= GW_UUID_STRLEN; i++)
                id[i] = (char)tolower((unsigned char)key[i]);
            json_object_set_new(input, "id", json_string(id));
        } else if (existing) {
            json_object_set(input, "id", json_object_get(existing, "id"));
        }
        if (!gw_uuid_valid(key)) {
            const char *ek = gw_schema_endpoint_key(s);
            if (ek)
                json_object_set_new(input, ek, json_string(key));
        }
        if (parent_id)
            json_object_set_new(input, fk, json_pack("{s:s}", "id", parent_id));
        write_entity(r, table, s, OP_UPSERT, input, snis, existing);
        goto out;
    }
    default:
        cp_admin_reply_message(r, 405, "Method not allowed");
        goto out;
    }
out:
    if (in_txn)
        cp_store_rollback(store_of(r));
    json_decref(existing);
    json_decref(input);
    json_decref(snis);
}

/* ---------------------------------------------------------------------------------------- */
/* Lists */

static void list(struct cp_admin_req *r, const char *table, const char *fk, const char *parent_id)
{
    if (!gw_schema_get(table)) {
        cp_admin_reply_message(r, 404, "Not found");
        return;
    }
    struct cp_admin_paging p;
    if (!cp_admin_paging_parse(r, 1, &p))
        return;
    struct cp_store_filter f[2];
    size_t nf = 0;
    if (fk && parent_id)
        f[nf++] = (struct cp_store_filter){fk, "id", parent_id};
    const char *custom_id = strcmp(table, "consumers") == 0 ? cp_admin_query(r, "custom_id") : NULL;
    if (custom_id) {
        if (!*custom_id) {
            cp_admin_reply_message(r, 400, "custom_id must be an unempty string");
            cp_admin_paging_cleanup(&p);
            return;
        }
        f[nf++] = (struct cp_store_filter){"custom_id", NULL, custom_id};
    }
    const char *tags[CP_ADMIN_MAX_TAGS];
    size_t ntags = 0;
    for (size_t i = 0; p.tags && i < json_array_size(p.tags) && i < CP_ADMIN_MAX_TAGS; i++)
        tags[ntags++] = json_string_value(json_array_get(p.tags, i));
    const char *after = p.offset_key ? json_string_value(json_array_get(p.offset_key, 0)) : NULL;
    if (after && !gw_uuid_valid(after)) {
        char m[512];
        snprintf(m, sizeof(m), "'%.300s' is not a valid offset: bad json encoding", p.offset_raw);
        cp_admin_utf8_sanitize(m);
        cp_admin_reply_json(
            r, 400, json_pack("{s:i,s:s,s:s}", "code", 7, "name", "invalid offset", "message", m));
        cp_admin_paging_cleanup(&p);
        return;
    }
    struct cp_store_list_opts o = {.filters = f,
                                   .nfilters = nf,
                                   .tags = ntags ? tags : NULL,
                                   .ntags = ntags,
                                   .tags_or = p.tags_any,
                                   .after_id = after,
                                   .size = p.size};
    json_t *data = NULL;
    char *last = NULL;
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_entity_list(store_of(r), table, &o, &data, &last, &err);
    if (e == GW_OK) {
        size_t i;
        json_t *v;
        json_array_foreach(data, i, v)
        {
            if ((e = decorate(r, table, v)) != GW_OK)
                break;
        }
    }
    if (e != GW_OK) {
        json_decref(data);
        free(last);
        cp_admin_paging_cleanup(&p);
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return;
    }
    char *base = route_path(r, r->match.route->pattern);
    json_t *key = last ? json_pack("[s]", last) : NULL;
    cp_admin_reply_json(r, 200, cp_admin_page_body(&p, data, base ? base : "", key));
    json_decref(key);
    free(base);
    free(last);
    cp_admin_paging_cleanup(&p);
}

/* Targets of an upstream, newest first, with integer offsets (Kong's targets DAO). */
static void list_targets(struct cp_admin_req *r, const char *upstream_id)
{
    if (!gw_schema_get("targets")) {
        cp_admin_reply_message(r, 404, "Not found");
        return;
    }
    struct cp_admin_paging p;
    if (!cp_admin_paging_parse(r, 0, &p))
        return;
    long off = 0;
    if (p.offset_raw) {
        char *end = NULL;
        off = strtol(p.offset_raw, &end, 10);
        if (!*p.offset_raw || *end || off < 0 || off > MAX_TARGET_OFFSET) {
            char m[512];
            snprintf(m, sizeof(m), "'%.300s' is not a valid offset: bad offset", p.offset_raw);
            cp_admin_utf8_sanitize(m);
            cp_admin_reply_json(
                r, 400,
                json_pack("{s:i,s:s,s:s}", "code", 7, "name", "invalid offset", "message", m));
            cp_admin_paging_cleanup(&p);
            return;
        }
    }
    const char *tags[CP_ADMIN_MAX_TAGS];
    size_t ntags = 0;
    for (size_t i = 0; p.tags && i < json_array_size(p.tags) && i < CP_ADMIN_MAX_TAGS; i++)
        tags[ntags++] = json_string_value(json_array_get(p.tags, i));
    struct cp_store_filter f = {"upstream", "id", upstream_id};
    struct cp_store_list_opts o = {.filters = &f,
                                   .nfilters = 1,
                                   .tags = ntags ? tags : NULL,
                                   .ntags = ntags,
                                   .tags_or = p.tags_any,
                                   .size = (size_t)off + p.size,
                                   .newest_first = true};
    json_t *all = NULL;
    char *last = NULL;
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_entity_list(store_of(r), "targets", &o, &all, &last, &err);
    if (e != GW_OK) {
        cp_admin_paging_cleanup(&p);
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return;
    }
    json_t *data = json_array();
    for (size_t i = (size_t)off; i < json_array_size(all); i++)
        json_array_append(data, json_array_get(all, i));
    json_decref(all);
    json_t *out = json_object();
    json_object_set_new(out, "data", data);
    if (last) {
        char *base = route_path(r, r->match.route->pattern);
        struct gw_buf b;
        gw_buf_init(&b, 16 * 1024);
        gw_buf_appendf(&b, "%s?offset=%ld", base ? base : "", off + (long)p.size);
        if (p.size_raw)
            gw_buf_appendf(&b, "&size=%zu", p.size);
        if (p.tags_raw) {
            char *esc = evhttp_uriencode(p.tags_raw, -1, 0);
            gw_buf_appendf(&b, "&tags=%s", esc ? esc : "");
            free(esc);
        }
        char offs[32];
        snprintf(offs, sizeof(offs), "%ld", off + (long)p.size);
        json_object_set_new(out, "offset", json_string(offs));
        json_object_set_new(out, "next", json_string(b.data ? b.data : ""));
        gw_buf_cleanup(&b);
        free(base);
    } else {
        json_object_set_new(out, "next", json_null());
    }
    free(last);
    cp_admin_paging_cleanup(&p);
    cp_admin_reply_json(r, 200, out);
}

/* ---------------------------------------------------------------------------------------- */

/* Loads the parent named by params[0]; replies 404/503 itself when it returns NULL. */
static json_t *load_parent(struct cp_admin_req *r, const char *table)
{
    if (!schema_or_404(r, table))
        return NULL;
    json_t *parent = NULL;
    struct cp_store_dberr err = {0};
    enum gw_err e = lookup(r, table, r->match.params[0], NULL, &parent, &err);
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, &err, NULL, false);
        return NULL;
    }
    return parent;
}

/* PUT /routes/{r}/service when the route has no service: creates the service with a new id and
 * points the route at it, in one transaction (Kong's "associate"). */
static void associate(struct cp_admin_req *r, json_t *child)
{
    const struct cp_admin_route *rt = r->match.route;
    const struct gw_schema *ps = schema_or_404(r, rt->parent);
    const struct gw_schema *cs = ps ? schema_or_404(r, rt->entity) : NULL;
    if (!cs || !begin(r))
        return;
    json_t *snis = NULL, *ent = NULL, *errf = NULL, *cin = NULL, *cent = NULL;
    json_t *input = prepare_input(r, rt->parent, ps, NULL, &snis);
    struct cp_store_dberr err = {0};
    char id[GW_UUID_STRLEN + 1];
    enum gw_err e = gw_uuid_v4(id);
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, NULL, NULL, false);
        goto out;
    }
    json_object_set_new(input, "id", json_string(id));
    if (!resolve_refs(r, ps, input))
        goto out;
    e = gw_schema_process(ps, GW_SCHEMA_UPSERT, input, NULL, &ent, &errf);
    if (e == GW_ERR_INVALID) {
        cp_admin_reply_json(r, 400, gw_schema_error_body(errf));
        goto out;
    }
    if (e == GW_OK && (e = cp_store_entity_insert(store_of(r), rt->parent, ent, &err)) != GW_OK) {
        cp_admin_reply_store_error(r, e, &err, ent, false);
        goto out;
    }
    if (e == GW_OK && snis && !write_snis(r, id, snis))
        goto out;
    cin = json_pack("{s:{s:s}}", rt->fk, "id", id);
    if (e == GW_OK)
        e = gw_schema_process(cs, GW_SCHEMA_UPDATE, cin, child, &cent, &errf);
    if (e == GW_OK)
        e = cp_store_entity_update(store_of(r), rt->entity, cent, &err);
    if (e == GW_OK)
        e = decorate(r, rt->parent, ent);
    if (e == GW_OK)
        e = cp_store_commit_change(store_of(r), NULL);
    if (e != GW_OK) {
        cp_admin_reply_store_error(r, e, &err, cent, false);
        goto out;
    }
    cp_admin_reply_json(r, 200, ent);
    ent = NULL;
out:
    cp_store_rollback(store_of(r));
    json_decref(input);
    json_decref(snis);
    json_decref(ent);
    json_decref(errf);
    json_decref(cin);
    json_decref(cent);
}

static void foreign_entity(struct cp_admin_req *r)
{
    const struct cp_admin_route *rt = r->match.route;
    json_t *child = load_parent(r, rt->entity);
    if (!child)
        return;
    const char *pid = fk_id(child, rt->fk);
    if (!pid && r->method == CP_ADMIN_PUT) {
        associate(r, child);
    } else if (!pid) {
        cp_admin_reply_message(r, 404, "Not found");
    } else {
        char id[GW_UUID_STRLEN + 1];
        snprintf(id, sizeof(id), "%s", pid);
        entity_op(r, rt->parent, id, NULL, NULL);
    }
    json_decref(child);
}

void cp_admin_handle_entity(struct cp_admin_req *r)
{
    const struct cp_admin_route *rt = r->match.route;
    json_t *parent = NULL;
    switch (rt->kind) {
    case CP_ADMIN_COLLECTION:
        if (r->method == CP_ADMIN_GET)
            list(r, rt->entity, NULL, NULL);
        else
            create(r, rt->entity, NULL, NULL);
        break;
    case CP_ADMIN_ENTITY:
        entity_op(r, rt->entity, r->match.params[0], NULL, NULL);
        break;
    case CP_ADMIN_NESTED_COLLECTION:
        if (!(parent = load_parent(r, rt->parent)))
            break;
        if (r->method == CP_ADMIN_GET && strcmp(rt->entity, "targets") == 0)
            list_targets(r, id_of(parent));
        else if (r->method == CP_ADMIN_GET)
            list(r, rt->entity, rt->fk, id_of(parent));
        else
            create(r, rt->entity, rt->fk, id_of(parent));
        break;
    case CP_ADMIN_NESTED_ENTITY:
        if (!(parent = load_parent(r, rt->parent)))
            break;
        entity_op(r, rt->entity, r->match.params[1], rt->fk, id_of(parent));
        break;
    case CP_ADMIN_TARGETS_ALL:
        if (!(parent = load_parent(r, rt->parent)))
            break;
        list_targets(r, id_of(parent));
        break;
    case CP_ADMIN_FOREIGN_ENTITY:
        foreign_entity(r);
        break;
    default:
        cp_admin_reply_message(r, 404, "Not found");
        break;
    }
    json_decref(parent);
}
