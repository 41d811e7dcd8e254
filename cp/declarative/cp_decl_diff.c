/* cp/declarative/cp_decl_diff.c: the configuration diff.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_decl_entities.h"

static bool ignored(const char *key)
{
    return strcmp(key, "created_at") == 0 || strcmp(key, "updated_at") == 0;
}

static bool same(const json_t *a, const json_t *b, bool top)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        /* Absent and null are the same: stored entities carry every field. */
        json_object_foreach((json_t *)a, k, v)
        {
            if (top && ignored(k))
                continue;
            json_t *w = json_object_get(b, k);
            if (!w)
                w = json_null();
            if (!same(v, w, false))
                return false;
        }
        json_object_foreach((json_t *)b, k, v)
        {
            if (top && ignored(k))
                continue;
            if (!json_object_get(a, k) && !json_is_null(v))
                return false;
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i), false))
                return false;
        return true;
    }
    return json_equal(a, b);
}

bool cp_decl_diff_same(const json_t *a, const json_t *b)
{
    return same(a, b, true);
}

static bool in_scope(const json_t *entity, const char *const *select_tags)
{
    if (!select_tags)
        return true;
    const json_t *tags = json_object_get(entity, "tags");
    for (size_t i = 0; select_tags[i]; i++) {
        bool have = false;
        size_t j;
        json_t *t;
        json_array_foreach(tags, j, t)
        {
            if (json_is_string(t) && strcmp(json_string_value(t), select_tags[i]) == 0)
                have = true;
        }
        if (!have)
            return false;
    }
    return true;
}

enum gw_err cp_decl_diff(const json_t *wanted, const json_t *current,
                         const char *const *select_tags, json_t **diff)
{
    json_t *d = json_pack("{s:[],s:[],s:[]}", "create", "update", "delete");
    json_t *seen = json_object();
    *diff = NULL;
    if (!d || !seen)
        goto nomem;
    json_t *creates = json_object_get(d, "create");
    json_t *updates = json_object_get(d, "update");
    json_t *deletes = json_object_get(d, "delete");
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n; t++) {
        const char *table = all[t].name;
        json_t *byid = json_object();
        if (!byid || json_object_set_new(seen, table, byid) != 0)
            goto nomem;
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(current, table), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            if (id && json_object_set(byid, id, e) != 0)
                goto nomem;
        }
        json_array_foreach(json_object_get(wanted, table), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            json_t *cur = id ? json_object_get(byid, id) : NULL;
            if (!cur) {
                if (json_array_append_new(creates,
                                          json_pack("{s:s,s:O}", "table", table, "entity", e)) != 0)
                    goto nomem;
                continue;
            }
            if (!same(cur, e, true)) {
                json_t *nw = json_deep_copy(e);
                json_t *ca = json_object_get(cur, "created_at");
                if (!nw || (ca && json_object_set(nw, "created_at", ca) != 0) ||
                    json_array_append_new(updates, json_pack("{s:s,s:O,s:o}", "table", table, "old",
                                                             cur, "new", nw)) != 0)
                    goto nomem;
            }
            json_object_del(byid, id);
        }
    }
    /* What is left in seen is current but not wanted: deleted, children first. */
    for (size_t t = n; t-- > 0;) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(current, all[t].name), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            if (!id || !json_object_get(json_object_get(seen, all[t].name), id))
                continue;
            if (!in_scope(e, select_tags))
                continue;
            if (json_array_append_new(
                    deletes, json_pack("{s:s,s:O}", "table", all[t].name, "entity", e)) != 0)
                goto nomem;
        }
    }
    json_decref(seen);
    *diff = d;
    return GW_OK;
nomem:
    json_decref(seen);
    json_decref(d);
    return GW_ERR_NOMEM;
}

size_t cp_decl_diff_count(const json_t *diff)
{
    return json_array_size(json_object_get(diff, "create")) +
           json_array_size(json_object_get(diff, "update")) +
           json_array_size(json_object_get(diff, "delete"));
}

static void label(struct gw_buf *out, const char *table, const json_t *e)
{
    static const char *const keys[] = {"name", "username", "custom_id", "target", "key", NULL};
    const char *l = NULL;
    for (size_t i = 0; keys[i] && !l; i++)
        l = json_string_value(json_object_get(e, keys[i]));
    const char *id = json_string_value(json_object_get(e, "id"));
    if (strcmp(table, "keyauth_credentials") == 0)
        l = NULL; /* keys are secrets: never printed */
    if (l)
        gw_buf_appendf(out, "%s %s (%s)", cp_decl_entity_singular(table), l, id ? id : "?");
    else
        gw_buf_appendf(out, "%s %s", cp_decl_entity_singular(table), id ? id : "?");
}

static void value_text(struct gw_buf *out, const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
    gw_buf_append_str(out, s ? s : "null");
    free(s);
}

static void changed_fields(struct gw_buf *out, const char *table, const json_t *old,
                           const json_t *nw, const char *prefix)
{
    json_t *keys = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)old, k, v)
    {
        json_object_set_new(keys, k, json_true());
    }
    json_object_foreach((json_t *)nw, k, v)
    {
        json_object_set_new(keys, k, json_true());
    }
    size_t n = json_object_size(keys), i = 0;
    const char **list = calloc(n + 1, sizeof(*list));
    json_object_foreach(keys, k, v)
    {
        if (list)
            list[i++] = k;
    }
    for (i = 0; list && i < n; i++) {
        if (!prefix[0] && ignored(list[i]))
            continue;
        json_t *a = json_object_get(old, list[i]);
        json_t *b = json_object_get(nw, list[i]);
        if (same(a ? a : json_null(), b ? b : json_null(), false))
            continue;
        if (json_is_object(a) && json_is_object(b)) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s%s.", prefix, list[i]);
            changed_fields(out, table, a, b, sub);
            continue;
        }
        gw_buf_appendf(out, "  %s%s: ", prefix, list[i]);
        if (strcmp(table, "keyauth_credentials") == 0 && strcmp(list[i], "key") == 0) {
            gw_buf_append_str(out, "(changed)\n");
            continue;
        }
        value_text(out, a);
        gw_buf_append_str(out, " -> ");
        value_text(out, b);
        gw_buf_append_str(out, "\n");
    }
    free(list);
    json_decref(keys);
}

enum gw_err cp_decl_diff_text(const json_t *diff, struct gw_buf *out)
{
    if (cp_decl_diff_count(diff) == 0)
        return gw_buf_append_str(out, "no changes\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(diff, "create"), i, c)
    {
        gw_buf_append_str(out, "creating ");
        label(out, json_string_value(json_object_get(c, "table")), json_object_get(c, "entity"));
        gw_buf_append_str(out, "\n");
    }
    json_array_foreach(json_object_get(diff, "update"), i, c)
    {
        const char *table = json_string_value(json_object_get(c, "table"));
        gw_buf_append_str(out, "updating ");
        label(out, table, json_object_get(c, "new"));
        gw_buf_append_str(out, "\n");
        changed_fields(out, table, json_object_get(c, "old"), json_object_get(c, "new"), "");
    }
    json_array_foreach(json_object_get(diff, "delete"), i, c)
    {
        gw_buf_append_str(out, "deleting ");
        label(out, json_string_value(json_object_get(c, "table")), json_object_get(c, "entity"));
        gw_buf_append_str(out, "\n");
    }
    return gw_buf_appendf(out, "Summary:\n  Created: %zu\n  Updated: %zu\n  Deleted: %zu\n",
                          json_array_size(json_object_get(diff, "create")),
                          json_array_size(json_object_get(diff, "update")),
                          json_array_size(json_object_get(diff, "delete")));
}
