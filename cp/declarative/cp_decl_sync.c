/* cp/declarative/cp_decl_sync.c: declarative sync against the PostgreSQL store.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_decl_diff.h"
#include "cp_decl_entities.h"
#include "gw_log.h"
#include "store/cp_store_entity.h"

#define PAGE 1000

static void db_message(char *err, size_t errlen, const char *what, const char *table,
                       const char *id, enum gw_err rc, const struct cp_store_dberr *dberr)
{
    if (rc == GW_ERR_IO && dberr && dberr->message[0])
        snprintf(err, errlen, "cannot %s %s %s: %s%s%s%s", what, cp_decl_entity_singular(table),
                 id ? id : "", dberr->message, dberr->constraint[0] ? " (constraint " : "",
                 dberr->constraint, dberr->constraint[0] ? ")" : "");
    else
        snprintf(err, errlen, "cannot %s %s %s: %s", what, cp_decl_entity_singular(table),
                 id ? id : "", gw_err_str(rc));
}

/* Reads every table inside the caller's transaction. */
static enum gw_err read_all(struct cp_store *s, json_t **current, char *err, size_t errlen)
{
    json_t *cur = json_object();
    if (!cur)
        return GW_ERR_NOMEM;
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n; t++) {
        json_t *arr = json_array();
        if (!arr || json_object_set_new(cur, all[t].name, arr) != 0) {
            json_decref(cur);
            return GW_ERR_NOMEM;
        }
        char *after = NULL;
        for (;;) {
            struct cp_store_list_opts o = {0};
            struct cp_store_dberr dberr = {0};
            json_t *page = NULL;
            char *last = NULL;
            o.after_id = after;
            o.size = PAGE;
            enum gw_err rc = cp_store_entity_list(s, all[t].name, &o, &page, &last, &dberr);
            free(after);
            after = NULL;
            if (rc != GW_OK) {
                db_message(err, errlen, "read", all[t].name, "", rc, &dberr);
                json_decref(cur);
                return rc;
            }
            int ext = json_array_extend(arr, page);
            json_decref(page);
            if (ext != 0) {
                free(last);
                json_decref(cur);
                return GW_ERR_NOMEM;
            }
            if (!last)
                break;
            after = last;
        }
    }
    *current = cur;
    return GW_OK;
}

enum gw_err cp_decl_sync_read(struct cp_store *s, json_t **current, char *err, size_t errlen)
{
    *current = NULL;
    enum gw_err rc = cp_store_begin(s);
    if (rc != GW_OK) {
        snprintf(err, errlen, "cannot reach PostgreSQL (%s)", cp_store_describe(s));
        return rc;
    }
    struct cp_store_dberr dberr = {0};
    rc = cp_store_query(s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                        NULL, &dberr);
    if (rc == GW_OK)
        rc = read_all(s, current, err, errlen);
    else
        snprintf(err, errlen, "cannot start a read transaction: %s", dberr.message);
    if (rc == GW_OK)
        rc = cp_store_commit(s);
    else
        cp_store_rollback(s);
    if (rc != GW_OK) {
        json_decref(*current);
        *current = NULL;
    }
    return rc;
}

/* Fields whose values are unique in the database (the constraints of cp_migrations). */
static bool unique_field(const char *table, const char *field)
{
    const struct cp_decl_entity *e = cp_decl_entity_get(table);
    for (size_t i = 0; e && e->unique[i]; i++)
        if (strcmp(e->unique[i], field) == 0)
            return true;
    return (strcmp(table, "targets") == 0 && strcmp(field, "target") == 0) ||
           (strcmp(table, "plugins") == 0 && strcmp(field, "name") == 0);
}

/* Rewrites the unique values of a row that is about to change or go to placeholders derived
 * from its id, so that the new values can be taken by other rows in the same transaction. */
static enum gw_err release_unique(struct cp_store *s, const char *table, const json_t *row,
                                  char *err, size_t errlen)
{
    static const char *const fields[] = {"name", "username",      "custom_id", "target",
                                         "key",  "instance_name", NULL};
    const char *id = json_string_value(json_object_get(row, "id"));
    json_t *doc = json_deep_copy(row);
    bool changed = false;
    if (!doc || !id) {
        json_decref(doc);
        return doc ? GW_OK : GW_ERR_NOMEM;
    }
    for (size_t i = 0; fields[i]; i++) {
        if (!unique_field(table, fields[i]) || !json_is_string(json_object_get(doc, fields[i])))
            continue;
        char ph[96];
        snprintf(ph, sizeof(ph), "__portico_sync_%s", id);
        json_object_set_new(doc, fields[i], json_string(ph));
        changed = true;
    }
    enum gw_err rc = GW_OK;
    if (changed) {
        struct cp_store_dberr dberr = {0};
        rc = cp_store_entity_update(s, table, doc, &dberr);
        if (rc == GW_ERR_NOTFOUND)
            rc = GW_OK; /* already gone (cascade) */
        if (rc != GW_OK)
            db_message(err, errlen, "update", table, id, rc, &dberr);
    }
    json_decref(doc);
    return rc;
}

static enum gw_err apply_diff(struct cp_store *s, const json_t *diff, char *err, size_t errlen)
{
    size_t i;
    json_t *c;
    enum gw_err rc;
    json_array_foreach(json_object_get(diff, "update"), i, c)
    {
        rc = release_unique(s, json_string_value(json_object_get(c, "table")),
                            json_object_get(c, "old"), err, errlen);
        if (rc != GW_OK)
            return rc;
    }
    json_array_foreach(json_object_get(diff, "delete"), i, c)
    {
        rc = release_unique(s, json_string_value(json_object_get(c, "table")),
                            json_object_get(c, "entity"), err, errlen);
        if (rc != GW_OK)
            return rc;
    }
    /* Creates and updates, parents first: merge both lists in table order. */
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n; t++) {
        json_array_foreach(json_object_get(diff, "create"), i, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "table")), all[t].name) != 0)
                continue;
            const json_t *e = json_object_get(c, "entity");
            struct cp_store_dberr dberr = {0};
            rc = cp_store_entity_insert(s, all[t].name, e, &dberr);
            if (rc != GW_OK) {
                db_message(err, errlen, "create", all[t].name,
                           json_string_value(json_object_get(e, "id")), rc, &dberr);
                return rc;
            }
        }
        json_array_foreach(json_object_get(diff, "update"), i, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "table")), all[t].name) != 0)
                continue;
            const json_t *e = json_object_get(c, "new");
            struct cp_store_dberr dberr = {0};
            /* Upsert: a cascade from an earlier step may have removed the row. */
            rc = cp_store_entity_upsert(s, all[t].name, e, &dberr);
            if (rc != GW_OK) {
                db_message(err, errlen, "update", all[t].name,
                           json_string_value(json_object_get(e, "id")), rc, &dberr);
                return rc;
            }
        }
    }
    json_array_foreach(json_object_get(diff, "delete"), i, c)
    {
        const char *table = json_string_value(json_object_get(c, "table"));
        const char *id = json_string_value(json_object_get(json_object_get(c, "entity"), "id"));
        struct cp_store_dberr dberr = {0};
        rc = cp_store_entity_delete(s, table, id, NULL, &dberr);
        if (rc != GW_OK) {
            db_message(err, errlen, "delete", table, id, rc, &dberr);
            return rc;
        }
    }
    return GW_OK;
}

enum gw_err cp_decl_sync(struct cp_store *s, const json_t *wanted, const char *const *select_tags,
                         bool apply, json_t **diff, int64_t *revision, char *err, size_t errlen)
{
    json_t *current = NULL;
    *diff = NULL;
    if (revision)
        *revision = 0;
    enum gw_err rc = cp_store_begin(s);
    if (rc != GW_OK) {
        snprintf(err, errlen, "cannot reach PostgreSQL (%s)", cp_store_describe(s));
        return rc;
    }
    /* Serialises with every other writer: they all update this row when they commit. */
    struct cp_store_dberr dberr = {0};
    rc =
        cp_store_query(s, "SELECT revision FROM config_revision FOR UPDATE", 0, NULL, NULL, &dberr);
    if (rc != GW_OK) {
        snprintf(err, errlen, "cannot lock the configuration: %s",
                 dberr.message[0] ? dberr.message : gw_err_str(rc));
        goto fail;
    }
    rc = read_all(s, &current, err, errlen);
    if (rc != GW_OK)
        goto fail;
    rc = cp_decl_diff(wanted, current, select_tags, diff);
    if (rc != GW_OK) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!apply || cp_decl_diff_count(*diff) == 0) {
        cp_store_rollback(s);
        json_decref(current);
        return GW_OK;
    }
    rc = apply_diff(s, *diff, err, errlen);
    if (rc != GW_OK)
        goto fail;
    rc = cp_store_commit_change(s, revision);
    if (rc != GW_OK) {
        snprintf(err, errlen, "cannot commit: %s", gw_err_str(rc));
        goto fail_committed;
    }
    GW_LOG(GW_LOG_NOTICE, "declarative configuration applied created=%zu updated=%zu deleted=%zu",
           json_array_size(json_object_get(*diff, "create")),
           json_array_size(json_object_get(*diff, "update")),
           json_array_size(json_object_get(*diff, "delete")));
    json_decref(current);
    return GW_OK;
fail:
    cp_store_rollback(s);
fail_committed:
    json_decref(current);
    json_decref(*diff);
    *diff = NULL;
    return rc;
}
