/* cp/declarative/cp_decl_errors.c: the error tree, Kong's error body and the CLI error text.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_errors.h"

#include <stdlib.h>
#include <string.h>

#include "cp_decl_entities.h"
#include "gw_buf.h"
#include "gw_uuid.h"

#define TEXT_MAX (4u * 1024u * 1024u)

static json_t *new_container(const json_t *next_seg)
{
    return json_is_integer(next_seg) ? json_array() : json_object();
}

/* Returns the container at path[0..upto) creating it as needed, or NULL when the path runs into
 * a message (or out of memory). */
static json_t *node_at(json_t *errs, const json_t *path, size_t upto)
{
    json_t *cur = errs;
    for (size_t i = 0; i < upto; i++) {
        const json_t *seg = json_array_get(path, i);
        /* The next segment (even past upto) says what kind of container to create. */
        const json_t *next = json_array_get(path, i + 1);
        json_t *child;
        if (json_is_string(seg)) {
            if (!json_is_object(cur))
                return NULL;
            child = json_object_get(cur, json_string_value(seg));
            if (!child || json_is_null(child)) {
                child = new_container(next);
                if (json_object_set_new(cur, json_string_value(seg), child) != 0)
                    return NULL;
            }
        } else {
            size_t idx = (size_t)json_integer_value(seg);
            if (!json_is_array(cur))
                return NULL;
            while (json_array_size(cur) <= idx)
                if (json_array_append_new(cur, json_null()) != 0)
                    return NULL;
            child = json_array_get(cur, idx);
            if (json_is_null(child)) {
                child = new_container(next);
                if (json_array_set_new(cur, idx, child) != 0)
                    return NULL;
            }
        }
        cur = child;
    }
    return cur;
}

enum gw_err cp_decl_errors_add(json_t *errs, const json_t *path, const char *field, const char *msg)
{
    size_t n = json_array_size(path);
    if (!field) {
        if (n == 0)
            return json_object_set_new(errs, "@entity", json_pack("[s]", msg)) == 0 ? GW_OK
                                                                                    : GW_ERR_NOMEM;
        json_t *parent = node_at(errs, path, n - 1);
        const json_t *last = json_array_get(path, n - 1);
        if (!parent)
            return GW_OK; /* an enclosing message already covers it */
        if (json_is_string(last)) {
            if (!json_object_get(parent, json_string_value(last)))
                return json_object_set_new(parent, json_string_value(last), json_string(msg)) == 0
                           ? GW_OK
                           : GW_ERR_NOMEM;
            return GW_OK;
        }
        size_t idx = (size_t)json_integer_value(last);
        while (json_array_size(parent) <= idx)
            if (json_array_append_new(parent, json_null()) != 0)
                return GW_ERR_NOMEM;
        if (json_is_null(json_array_get(parent, idx)))
            return json_array_set_new(parent, idx, json_string(msg)) == 0 ? GW_OK : GW_ERR_NOMEM;
        return GW_OK;
    }
    json_t *node = node_at(errs, path, n);
    if (!json_is_object(node))
        return GW_OK;
    if (strcmp(field, "@entity") == 0) {
        json_t *list = json_object_get(node, "@entity");
        if (!json_is_array(list)) {
            list = json_array();
            if (json_object_set_new(node, "@entity", list) != 0)
                return GW_ERR_NOMEM;
        }
        return json_array_append_new(list, json_string(msg)) == 0 ? GW_OK : GW_ERR_NOMEM;
    }
    if (json_object_get(node, field))
        return GW_OK;
    return json_object_set_new(node, field, json_string(msg)) == 0 ? GW_OK : GW_ERR_NOMEM;
}

static enum gw_err merge_into(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        json_t *have = json_object_get(dst, k);
        if (json_is_object(have) && json_is_object(v)) {
            if (merge_into(have, v) != GW_OK)
                return GW_ERR_NOMEM;
        } else if (json_is_array(have) && json_is_array(v) && strcmp(k, "@entity") == 0) {
            if (json_array_extend(have, v) != 0)
                return GW_ERR_NOMEM;
        } else if (!have || json_is_null(have)) {
            if (json_object_set_new(dst, k, json_deep_copy(v)) != 0)
                return GW_ERR_NOMEM;
        }
    }
    return GW_OK;
}

enum gw_err cp_decl_errors_merge(json_t *errs, const json_t *path, const json_t *fields)
{
    json_t *node = node_at(errs, path, json_array_size(path));
    if (!json_is_object(node) || !json_is_object(fields))
        return GW_OK;
    return merge_into(node, fields);
}

/* ---- Kong's message (Penlight pretty.write with no indentation) ------------------------------ */

static bool is_ident(const char *s)
{
    if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return false;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of obj; owned array of borrowed strings (free()). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **keys = calloc(*n + 1, sizeof(*keys));
    if (!keys)
        return NULL;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

static enum gw_err put_quoted(struct gw_buf *b, const char *s)
{
    enum gw_err rc = gw_buf_append(b, "\"", 1);
    for (const char *c = s; *c && rc == GW_OK; c++) {
        if (*c == '"' || *c == '\\')
            rc = gw_buf_appendf(b, "\\%c", *c);
        else if (*c == '\n')
            rc = gw_buf_append_str(b, "\\n");
        else
            rc = gw_buf_append(b, c, 1);
    }
    return rc == GW_OK ? gw_buf_append(b, "\"", 1) : rc;
}

static enum gw_err pretty(struct gw_buf *b, const json_t *v)
{
    enum gw_err rc = GW_OK;
    if (json_is_string(v))
        return put_quoted(b, json_string_value(v));
    if (json_is_object(v)) {
        size_t n;
        const char **keys = sorted_keys(v, &n);
        if (!keys)
            return GW_ERR_NOMEM;
        rc = gw_buf_append(b, "{", 1);
        for (size_t i = 0; i < n && rc == GW_OK; i++) {
            if (i > 0)
                rc = gw_buf_append(b, ",", 1);
            if (rc == GW_OK)
                rc = is_ident(keys[i]) ? gw_buf_appendf(b, "%s=", keys[i]) : GW_OK;
            if (rc == GW_OK && !is_ident(keys[i])) {
                rc = gw_buf_append(b, "[", 1);
                if (rc == GW_OK)
                    rc = put_quoted(b, keys[i]);
                if (rc == GW_OK)
                    rc = gw_buf_append(b, "]=", 2);
            }
            if (rc == GW_OK)
                rc = pretty(b, json_object_get(v, keys[i]));
        }
        free(keys);
        return rc == GW_OK ? gw_buf_append(b, "}", 1) : rc;
    }
    if (json_is_array(v)) {
        bool holes = false;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_null(e))
                holes = true;
        }
        rc = gw_buf_append(b, "{", 1);
        bool first = true;
        json_array_foreach(v, i, e)
        {
            if (rc != GW_OK)
                break;
            if (json_is_null(e))
                continue;
            if (!first)
                rc = gw_buf_append(b, ",", 1);
            first = false;
            if (rc == GW_OK && holes)
                rc = gw_buf_appendf(b, "[%zu]=", i + 1);
            if (rc == GW_OK)
                rc = pretty(b, e);
        }
        return rc == GW_OK ? gw_buf_append(b, "}", 1) : rc;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return GW_ERR_NOMEM;
    rc = gw_buf_append_str(b, s);
    free(s);
    return rc;
}

char *cp_decl_error_message(const json_t *fields)
{
    struct gw_buf b;
    gw_buf_init(&b, TEXT_MAX);
    if (gw_buf_append_str(&b, "declarative config is invalid: ") != GW_OK ||
        pretty(&b, fields) != GW_OK) {
        /* Past the limit the message is cut short rather than lost. */
        if (!b.data) {
            gw_buf_cleanup(&b);
            return NULL;
        }
    }
    return gw_buf_steal(&b);
}

/* ---- flattened errors (Kong's errors:declarative_config_flattened) --------------------------- */

static void add_entity_errors(json_t *flattened, const char *etype, json_t *entity, json_t *err);

static void categorize(json_t *list, const json_t *err, const char *ns)
{
    size_t n;
    const char **keys = sorted_keys(err, &n);
    if (!keys)
        return;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(err, keys[i]);
        char field[512];
        if (ns && ns[0])
            snprintf(field, sizeof(field), "%s.%s", ns, keys[i]);
        else
            snprintf(field, sizeof(field), "%s", keys[i]);
        if (strcmp(keys[i], "@entity") == 0) {
            if (json_is_string(v)) {
                json_array_append_new(list, json_pack("{s:s,s:O}", "type", "entity", "message", v));
            } else {
                size_t j;
                json_t *m;
                json_array_foreach(v, j, m)
                {
                    if (json_is_string(m))
                        json_array_append_new(
                            list, json_pack("{s:s,s:O}", "type", "entity", "message", m));
                }
            }
        } else if (json_is_string(v)) {
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:O}", "type", "field", "field", field, "message", v));
        } else if (json_is_object(v)) {
            categorize(list, v, field);
        } else if (json_is_array(v)) {
            size_t j;
            json_t *m;
            json_array_foreach(v, j, m)
            {
                char sub[600];
                snprintf(sub, sizeof(sub), "%s.%zu", field, j + 1);
                if (json_is_string(m))
                    json_array_append_new(list, json_pack("{s:s,s:s,s:O}", "type", "field", "field",
                                                          sub, "message", m));
                else if (json_is_object(m))
                    categorize(list, m, sub);
            }
        }
    }
    free(keys);
}

static void add_entity_errors(json_t *flattened, const char *etype, json_t *entity, json_t *err)
{
    if (json_is_string(err)) {
        json_t *wrapped = json_pack("{s:[O]}", "@entity", err);
        json_decref(err);
        err = wrapped;
    }
    if (!json_is_object(err) || json_object_size(err) == 0 || !json_is_object(entity))
        goto out;
    const char *id = json_string_value(json_object_get(entity, "id"));
    bool valid_id = id && gw_uuid_valid(id);
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n; t++) {
        const struct cp_decl_fk *fk = cp_decl_entity_parent_fk(&all[t], etype);
        if (!fk)
            continue;
        json_t *children = json_incref(json_object_get(entity, all[t].name));
        json_t *cerr = json_incref(json_object_get(err, all[t].name));
        if (json_is_array(children)) {
            json_object_del(entity, all[t].name);
            json_object_del(err, all[t].name);
            size_t j;
            json_t *child;
            json_array_foreach(children, j, child)
            {
                json_t *e = json_array_get(cerr, j);
                if (!e || json_is_null(e) || !json_is_object(child))
                    continue;
                json_t *copy = json_deep_copy(child);
                if (copy && !json_object_get(copy, fk->field))
                    json_object_set_new(copy, fk->field,
                                        valid_id ? json_pack("{s:s}", "id", id) : json_null());
                add_entity_errors(flattened, all[t].name, copy, json_deep_copy(e));
            }
        }
        json_decref(children);
        json_decref(cerr);
    }
    if (json_object_size(err) == 0)
        goto out;
    json_t *list = json_array();
    categorize(list, err, "");
    if (json_array_size(list) == 0) {
        json_decref(list);
        goto out;
    }
    json_t *rec = json_object();
    const json_t *name = json_object_get(entity, "name");
    if (json_is_string(name) && json_string_length(name) > 0)
        json_object_set(rec, "entity_name", (json_t *)name);
    if (valid_id)
        json_object_set_new(rec, "entity_id", json_string(id));
    const json_t *tags = json_object_get(entity, "tags");
    if (json_is_array(tags)) {
        bool all_str = true;
        size_t j;
        json_t *tg;
        json_array_foreach(tags, j, tg)
        {
            if (!json_is_string(tg))
                all_str = false;
        }
        if (all_str)
            json_object_set(rec, "entity_tags", (json_t *)tags);
    }
    json_object_set_new(rec, "entity_type", json_string(cp_decl_entity_singular(etype)));
    json_object_set(rec, "entity", entity);
    json_object_set_new(rec, "errors", list);
    json_array_append_new(flattened, rec);
out:
    json_decref(entity);
    json_decref(err);
}

json_t *cp_decl_error_body(const json_t *fields, const json_t *input, bool flatten)
{
    json_t *remaining = json_deep_copy(fields);
    json_t *flattened = NULL;
    json_t *body = NULL;
    if (!remaining)
        return NULL;
    if (flatten && json_is_object(input)) {
        flattened = json_array();
        size_t n;
        const char **keys = sorted_keys(fields, &n);
        for (size_t i = 0; keys && i < n; i++) {
            const json_t *section = json_object_get(fields, keys[i]);
            const json_t *items = json_object_get(input, keys[i]);
            if (!json_is_array(section) || !json_is_array(items) || !cp_decl_entity_get(keys[i]))
                continue;
            size_t j;
            json_t *e;
            json_array_foreach(section, j, e)
            {
                if (json_is_null(e))
                    continue;
                add_entity_errors(flattened, keys[i], json_deep_copy(json_array_get(items, j)),
                                  json_deep_copy(e));
            }
            json_object_del(remaining, keys[i]);
        }
        free(keys);
    }
    char *msg = cp_decl_error_message(remaining);
    if (msg)
        body = json_pack("{s:i,s:s,s:s,s:O}", "code", 14, "name",
                         "invalid declarative configuration", "message", msg, "fields", remaining);
    free(msg);
    if (body && flattened)
        json_object_set(body, "flattened_errors", flattened);
    json_decref(flattened);
    json_decref(remaining);
    return body;
}

/* ---- text for the command line -------------------------------------------------------------- */

static const char *label_of(const json_t *item)
{
    static const char *const keys[] = {"name", "username", "custom_id", "target",
                                       "key",  "id",       NULL};
    for (size_t i = 0; keys[i]; i++) {
        const json_t *v = json_object_get(item, keys[i]);
        if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 100)
            return json_string_value(v);
    }
    return NULL;
}

static void text_walk(struct gw_buf *b, const json_t *node, const json_t *in, const char *prefix,
                      bool after_index)
{
    if (json_is_string(node)) {
        gw_buf_appendf(b, "%s: %s\n", prefix[0] ? prefix : "(top level)", json_string_value(node));
        return;
    }
    if (json_is_object(node)) {
        size_t n;
        const char **keys = sorted_keys(node, &n);
        for (size_t i = 0; keys && i < n; i++) {
            const json_t *v = json_object_get(node, keys[i]);
            if (strcmp(keys[i], "@entity") == 0) {
                size_t j;
                json_t *m;
                if (json_is_string(v))
                    gw_buf_appendf(b, "%s: %s\n", prefix[0] ? prefix : "(top level)",
                                   json_string_value(v));
                json_array_foreach(v, j, m)
                {
                    if (json_is_string(m))
                        gw_buf_appendf(b, "%s: %s\n", prefix[0] ? prefix : "(top level)",
                                       json_string_value(m));
                }
                continue;
            }
            char *sub = NULL;
            size_t len = strlen(prefix) + strlen(keys[i]) + 8;
            sub = malloc(len);
            if (!sub)
                break;
            if (!prefix[0])
                snprintf(sub, len, "%s", keys[i]);
            else
                snprintf(sub, len, "%s%s%s", prefix, after_index ? " > " : ".", keys[i]);
            text_walk(b, v, json_object_get(in, keys[i]), sub, false);
            free(sub);
        }
        free(keys);
        return;
    }
    if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e)
        {
            if (json_is_null(e))
                continue;
            const json_t *item = json_array_get(in, i);
            const char *label = json_is_object(item) ? label_of(item) : NULL;
            size_t len = strlen(prefix) + (label ? strlen(label) : 0) + 32;
            char *sub = malloc(len);
            if (!sub)
                break;
            if (label)
                snprintf(sub, len, "%s[%zu] (%s)", prefix, i + 1, label);
            else
                snprintf(sub, len, "%s[%zu]", prefix, i + 1);
            text_walk(b, e, item, sub, true);
            free(sub);
        }
    }
}

char *cp_decl_error_text(const json_t *fields, const json_t *input)
{
    struct gw_buf b;
    gw_buf_init(&b, TEXT_MAX);
    text_walk(&b, fields, input, "", false);
    if (b.len == 0)
        gw_buf_append_str(&b, "invalid declarative configuration\n");
    return gw_buf_steal(&b);
}
