/* cp/store/cp_store_entity.c: entity rows of the Kong-named tables (id + jsonb doc).
 * SPDX-License-Identifier: Apache-2.0 */
#include "store/cp_store_entity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_buf.h"
#include "gw_log.h"
#include "gw_uuid.h"

#define MAX_PARAMS 16

static const char *const tables[] = {"services",
                                     "routes",
                                     "upstreams",
                                     "targets",
                                     "consumers",
                                     "plugins",
                                     "keyauth_credentials",
                                     "certificates",
                                     "ca_certificates",
                                     "snis",
                                     NULL};

bool cp_store_entity_table_ok(const char *table)
{
    for (size_t i = 0; tables[i]; i++)
        if (strcmp(tables[i], table) == 0)
            return true;
    return false;
}

static bool ident_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

char *cp_store_entity_dump(const json_t *doc)
{
    return json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

static enum gw_err rows_to_array(PGresult *r, size_t max, json_t *arr)
{
    int n = PQntuples(r);
    for (int i = 0; i < n && (size_t)i < max; i++) {
        json_error_t je;
        json_t *doc = json_loads(PQgetvalue(r, i, 0), 0, &je);
        if (!doc) {
            GW_LOG(GW_LOG_ERROR, "stored document is not JSON error=\"%s\"", je.text);
            return GW_ERR_INTERNAL;
        }
        if (json_array_append_new(arr, doc) != 0)
            return GW_ERR_NOMEM;
    }
    return GW_OK;
}

/* Generated key columns of the tables (see cp_migrations.c): text columns named as the field,
 * uuid columns named <field>_id for foreign keys. Filtering on them uses their indexes. */
struct gen_col {
    const char *table;
    const char *field;
    bool fk;
};

static const struct gen_col gen_cols[] = {
    {"services", "name", false},
    {"routes", "name", false},
    {"routes", "service", true},
    {"upstreams", "name", false},
    {"targets", "upstream", true},
    {"targets", "target", false},
    {"consumers", "username", false},
    {"consumers", "custom_id", false},
    {"plugins", "instance_name", false},
    {"plugins", "service", true},
    {"plugins", "route", true},
    {"plugins", "consumer", true},
    {"keyauth_credentials", "consumer", true},
    {"keyauth_credentials", "key", false},
    {"snis", "name", false},
    {"snis", "certificate", true},
};

static const struct gen_col *gen_col_of(const char *table, const struct cp_store_filter *f)
{
    bool fk = f->sub && strcmp(f->sub, "id") == 0;
    if (f->sub && !fk)
        return NULL;
    if (fk && (!f->value || !gw_uuid_valid(f->value)))
        return NULL;
    for (size_t i = 0; i < sizeof(gen_cols) / sizeof(gen_cols[0]); i++)
        if (gen_cols[i].fk == fk && strcmp(gen_cols[i].table, table) == 0 &&
            strcmp(gen_cols[i].field, f->field) == 0)
            return &gen_cols[i];
    return NULL;
}

/* Appends " AND <filter>" for each filter, adding the values to params. */
static enum gw_err add_filters(struct gw_buf *sql, const char *table,
                               const struct cp_store_filter *f, size_t nf, const char **params,
                               int *np)
{
    for (size_t i = 0; i < nf; i++) {
        if (!ident_ok(f[i].field) || (f[i].sub && !ident_ok(f[i].sub)) || *np >= MAX_PARAMS - 4)
            return GW_ERR_INVALID;
        params[(*np)++] = f[i].value;
        enum gw_err e;
        const struct gen_col *gc = f[i].value ? gen_col_of(table, &f[i]) : NULL;
        if (gc && gc->fk)
            e = gw_buf_appendf(sql, " AND %s_id = $%d::uuid", gc->field, *np);
        else if (gc)
            e = gw_buf_appendf(sql, " AND %s = $%d", gc->field, *np);
        else if (f[i].value == NULL)
            e = f[i].sub
                    ? gw_buf_appendf(sql, " AND doc->'%s'->>'%s' IS NULL", f[i].field, f[i].sub)
                    : gw_buf_appendf(sql, " AND doc->>'%s' IS NULL", f[i].field);
        else if (f[i].sub)
            e = gw_buf_appendf(sql, " AND doc->'%s'->>'%s' = $%d", f[i].field, f[i].sub, *np);
        else
            e = gw_buf_appendf(sql, " AND doc->>'%s' = $%d", f[i].field, *np);
        if (f[i].value == NULL)
            (*np)--; /* no parameter needed */
        if (e != GW_OK)
            return e;
    }
    return GW_OK;
}

enum gw_err cp_store_entity_get(struct cp_store *s, const char *table, const char *id,
                                bool for_update, json_t **out, struct cp_store_dberr *err)
{
    *out = NULL;
    if (!cp_store_entity_table_ok(table))
        return GW_ERR_INVALID;
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT doc::text FROM %s WHERE id = $1::uuid%s", table,
             for_update ? " FOR UPDATE" : "");
    const char *params[] = {id};
    PGresult *r = NULL;
    enum gw_err e = cp_store_query(s, sql, 1, params, &r, err);
    if (e != GW_OK)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return GW_ERR_NOTFOUND;
    }
    json_error_t je;
    *out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
    PQclear(r);
    return *out ? GW_OK : GW_ERR_INTERNAL;
}

enum gw_err cp_store_entity_find(struct cp_store *s, const char *table,
                                 const struct cp_store_filter *f, size_t nf, json_t **out,
                                 struct cp_store_dberr *err)
{
    *out = NULL;
    if (!cp_store_entity_table_ok(table))
        return GW_ERR_INVALID;
    struct gw_buf sql;
    gw_buf_init(&sql, 4096);
    const char *params[MAX_PARAMS];
    int np = 0;
    PGresult *r = NULL;
    enum gw_err e = gw_buf_appendf(&sql, "SELECT doc::text FROM %s WHERE true", table);
    if (e == GW_OK)
        e = add_filters(&sql, table, f, nf, params, &np);
    if (e == GW_OK)
        e = gw_buf_append_str(&sql, " ORDER BY id LIMIT 1");
    if (e != GW_OK)
        goto out;
    e = cp_store_query(s, sql.data, np, params, &r, err);
    if (e != GW_OK)
        goto out;
    if (PQntuples(r) == 0) {
        e = GW_ERR_NOTFOUND;
        goto out;
    }
    json_error_t je;
    *out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
    e = *out ? GW_OK : GW_ERR_INTERNAL;
out:
    PQclear(r);
    gw_buf_cleanup(&sql);
    return e;
}

enum gw_err cp_store_entity_list(struct cp_store *s, const char *table,
                                 const struct cp_store_list_opts *o, json_t **data, char **last_id,
                                 struct cp_store_dberr *err)
{
    *data = NULL;
    *last_id = NULL;
    if (!cp_store_entity_table_ok(table) || o->size == 0)
        return GW_ERR_INVALID;
    struct gw_buf sql;
    gw_buf_init(&sql, 8192);
    const char *params[MAX_PARAMS];
    int np = 0;
    PGresult *r = NULL;
    char *tags_json = NULL;
    char limit[32];
    json_t *arr = NULL;
    enum gw_err e = gw_buf_appendf(&sql, "SELECT doc::text, id::text FROM %s WHERE true", table);
    if (e == GW_OK)
        e = add_filters(&sql, table, o->filters, o->nfilters, params, &np);
    if (e != GW_OK)
        goto out;
    if (o->tags && o->ntags > 0) {
        json_t *t = json_array();
        for (size_t i = 0; t && i < o->ntags; i++)
            json_array_append_new(t, json_string(o->tags[i]));
        tags_json = t ? json_dumps(t, JSON_COMPACT) : NULL;
        json_decref(t);
        if (!tags_json) {
            e = GW_ERR_NOMEM;
            goto out;
        }
        params[np++] = tags_json;
        e = o->tags_or ? gw_buf_appendf(&sql,
                                        " AND doc->'tags' ?| ARRAY(SELECT "
                                        "jsonb_array_elements_text($%d::jsonb))",
                                        np)
                       : gw_buf_appendf(&sql, " AND doc->'tags' @> $%d::jsonb", np);
        if (e != GW_OK)
            goto out;
    }
    if (o->after_id && !o->newest_first) {
        params[np++] = o->after_id;
        if ((e = gw_buf_appendf(&sql, " AND id > $%d::uuid", np)) != GW_OK)
            goto out;
    }
    snprintf(limit, sizeof(limit), "%zu", o->size + 1);
    params[np++] = limit;
    e = gw_buf_appendf(
        &sql, "%s LIMIT $%d::bigint",
        o->newest_first ? " ORDER BY (doc->>'created_at')::float8 DESC, id" : " ORDER BY id", np);
    if (e != GW_OK)
        goto out;
    e = cp_store_query(s, sql.data, np, params, &r, err);
    if (e != GW_OK)
        goto out;
    arr = json_array();
    if (!arr) {
        e = GW_ERR_NOMEM;
        goto out;
    }
    if ((e = rows_to_array(r, o->size, arr)) != GW_OK)
        goto out;
    if ((size_t)PQntuples(r) > o->size) {
        *last_id = strdup(PQgetvalue(r, (int)o->size - 1, 1));
        if (!*last_id) {
            e = GW_ERR_NOMEM;
            goto out;
        }
    }
    *data = arr;
    arr = NULL;
out:
    json_decref(arr);
    PQclear(r);
    free(tags_json);
    gw_buf_cleanup(&sql);
    return e;
}

static enum gw_err write_doc(struct cp_store *s, const char *table, const json_t *doc,
                             const char *fmt, bool *touched, struct cp_store_dberr *err)
{
    if (!cp_store_entity_table_ok(table))
        return GW_ERR_INVALID;
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (!id)
        return GW_ERR_INVALID;
    char *text = cp_store_entity_dump(doc);
    if (!text)
        return GW_ERR_NOMEM;
    char sql[256];
    snprintf(sql, sizeof(sql), fmt, table);
    const char *params[] = {id, text};
    PGresult *r = NULL;
    enum gw_err e = cp_store_query(s, sql, 2, params, &r, err);
    if (e == GW_OK && touched)
        *touched = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    free(text);
    return e;
}

enum gw_err cp_store_entity_insert(struct cp_store *s, const char *table, const json_t *doc,
                                   struct cp_store_dberr *err)
{
    return write_doc(s, table, doc, "INSERT INTO %s (id, doc) VALUES ($1::uuid, $2::jsonb)", NULL,
                     err);
}

enum gw_err cp_store_entity_update(struct cp_store *s, const char *table, const json_t *doc,
                                   struct cp_store_dberr *err)
{
    bool touched = false;
    enum gw_err e = write_doc(s, table, doc, "UPDATE %s SET doc = $2::jsonb WHERE id = $1::uuid",
                              &touched, err);
    if (e == GW_OK && !touched)
        return GW_ERR_NOTFOUND;
    return e;
}

enum gw_err cp_store_entity_upsert(struct cp_store *s, const char *table, const json_t *doc,
                                   struct cp_store_dberr *err)
{
    return write_doc(s, table, doc,
                     "INSERT INTO %s (id, doc) VALUES ($1::uuid, $2::jsonb) ON CONFLICT (id) DO "
                     "UPDATE SET doc = EXCLUDED.doc",
                     NULL, err);
}

enum gw_err cp_store_entity_delete(struct cp_store *s, const char *table, const char *id,
                                   bool *deleted, struct cp_store_dberr *err)
{
    if (!cp_store_entity_table_ok(table))
        return GW_ERR_INVALID;
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = $1::uuid", table);
    const char *params[] = {id};
    PGresult *r = NULL;
    enum gw_err e = cp_store_query(s, sql, 1, params, &r, err);
    if (e == GW_OK && deleted)
        *deleted = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return e;
}
