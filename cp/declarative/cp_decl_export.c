/* cp/declarative/cp_decl_export.c: the declarative exporter (YAML through libyaml's emitter,
 * JSON through jansson).
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_export.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "cp_decl_entities.h"
#include "gw_buf.h"

static int cmp_id(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
    return strcmp(x ? x : "", y ? y : "");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of v without null members (recursively in objects), keys sorted. */
static json_t *clean(const json_t *v)
{
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = calloc(n + 1, sizeof(*keys));
        json_t *o = json_object();
        if (!keys || !o)
            goto fail;
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        for (i = 0; i < n; i++) {
            m = json_object_get(v, keys[i]);
            if (json_is_null(m))
                continue;
            if (json_object_set_new(o, keys[i], clean(m)) != 0)
                goto fail;
        }
        free(keys);
        return o;
    fail:
        free(keys);
        json_decref(o);
        return NULL;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            if (!a || json_array_append_new(a, clean(m)) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    return json_deep_copy(v);
}

static json_t *export_entity(const struct cp_decl_entity *e, const json_t *entity)
{
    json_t *c = clean(entity);
    if (!c)
        return NULL;
    json_object_del(c, "created_at");
    json_object_del(c, "updated_at");
    for (size_t i = 0; i < e->nfks; i++) {
        json_t *ref = json_object_get(c, e->fks[i].field);
        json_t *id = json_object_get(ref, "id");
        if (json_is_string(id))
            json_object_set(c, e->fks[i].field, id);
    }
    return c;
}

json_t *cp_decl_export_doc(const json_t *entities)
{
    json_t *doc = json_pack("{s:s,s:b}", "_format_version", "3.0", "_transform", 0);
    if (!doc)
        return NULL;
    size_t n;
    const struct cp_decl_entity *all = cp_decl_entities(&n);
    for (size_t t = 0; t < n; t++) {
        const json_t *arr = json_object_get(entities, all[t].name);
        size_t cnt = json_array_size(arr);
        if (cnt == 0)
            continue;
        json_t **items = calloc(cnt, sizeof(*items));
        json_t *out = json_array();
        if (!items || !out || json_object_set_new(doc, all[t].name, out) != 0) {
            free(items);
            json_decref(doc);
            return NULL;
        }
        for (size_t i = 0; i < cnt; i++)
            items[i] = json_array_get(arr, i);
        qsort(items, cnt, sizeof(*items), cmp_id);
        bool fail = false;
        for (size_t i = 0; i < cnt && !fail; i++)
            if (json_array_append_new(out, export_entity(&all[t], items[i])) != 0)
                fail = true;
        free(items);
        if (fail) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

/* ---- YAML emission ----------------------------------------------------------------------------
 */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return gw_buf_append(data, buffer, size) == GW_OK;
}

/* True when a plain scalar would not read back as this same string. */
static bool needs_quotes(const char *s, size_t len)
{
    json_t *v = cp_decl_yaml_plain_scalar(s, len);
    bool q = !json_is_string(v) || strlen(json_string_value(v)) != len;
    json_decref(v);
    if (q)
        return true;
    const char *t = s + ((s[0] == '-' || s[0] == '+') ? 1 : 0);
    /* Forms other YAML readers type as non-strings. */
    return strcasecmp(t, ".inf") == 0 || strcasecmp(s, ".nan") == 0 ||
           (len == 1 && strchr("yYnN", s[0]));
}

static bool emit_scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style))
        return false;
    return yaml_emitter_emit(em, &ev);
}

static bool emit_value(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            yaml_scalar_style_t ks = needs_quotes(k, strlen(k)) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                                : YAML_ANY_SCALAR_STYLE;
            if (!emit_scalar(em, k, ks) || !emit_value(em, m))
                return false;
        }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_style_t st =
            json_array_size(v) == 0 ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE;
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, st) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            if (!emit_value(em, m))
                return false;
        }
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        yaml_scalar_style_t st = YAML_ANY_SCALAR_STYLE;
        if (strlen(s) != len)
            return false; /* embedded NUL: not representable */
        if (strchr(s, '\n'))
            st = YAML_LITERAL_SCALAR_STYLE;
        else if (needs_quotes(s, len))
            st = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        return emit_scalar(em, s, st);
    }
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, num, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL: {
        double d = json_real_value(v);
        snprintf(num, sizeof(num), "%.15g", d);
        if (strtod(num, NULL) != d)
            snprintf(num, sizeof(num), "%.17g", d);
        if (!strpbrk(num, ".eEn"))
            strncat(num, ".0", sizeof(num) - strlen(num) - 1);
        return emit_scalar(em, num, YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_TRUE:
        return emit_scalar(em, "true", YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(em, "false", YAML_PLAIN_SCALAR_STYLE);
    default:
        return emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
    }
}

static enum gw_err emit_yaml(const json_t *doc, struct gw_buf *b)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    enum gw_err rc = GW_ERR_INTERNAL;
    if (!yaml_emitter_initialize(&em))
        return GW_ERR_NOMEM;
    yaml_emitter_set_output(&em, write_handler, b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
        !yaml_emitter_emit(&em, &ev))
        goto out;
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
        !yaml_emitter_emit(&em, &ev))
        goto out;
    if (!emit_value(&em, doc))
        goto out;
    if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&em, &ev))
        goto out;
    if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&em, &ev))
        goto out;
    rc = GW_OK;
out:
    if (rc != GW_OK && em.error == YAML_MEMORY_ERROR)
        rc = GW_ERR_NOMEM;
    yaml_emitter_delete(&em);
    return rc;
}

enum gw_err cp_decl_export(const json_t *entities, enum cp_decl_format fmt, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *doc = cp_decl_export_doc(entities);
    if (!doc)
        return GW_ERR_NOMEM;
    enum gw_err rc;
    if (fmt == CP_DECL_FORMAT_JSON) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
        if (!s)
            return GW_ERR_NOMEM;
        *len = strlen(s);
        *out = s;
        return GW_OK;
    }
    struct gw_buf b;
    gw_buf_init(&b, 0);
    rc = emit_yaml(doc, &b);
    json_decref(doc);
    if (rc != GW_OK) {
        gw_buf_cleanup(&b);
        return rc;
    }
    *len = b.len;
    *out = gw_buf_steal(&b);
    return *out ? GW_OK : GW_ERR_NOMEM;
}
