/* common/gw_pbjson.c: Kong JSON entities <-> protobuf-c messages, driven by the descriptors.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_pbjson.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH   16
#define MAX_NAMELEN 64

/* JSON names that differ from the proto field names (besides case and '-' vs '_'). */
struct json_alias {
    const ProtobufCMessageDescriptor *desc;
    const char *field;
    const char *json;
};

static const struct json_alias aliases[] = {
    {&portico__v1__proxy_cache_response_headers__descriptor, "x_cache_status", "X-Cache-Status"},
    {&portico__v1__proxy_cache_response_headers__descriptor, "x_cache_key", "X-Cache-Key"},
};

static const char *json_name(const ProtobufCMessageDescriptor *desc, const char *field)
{
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (aliases[i].desc == desc && strcmp(aliases[i].field, field) == 0)
            return aliases[i].json;
    return field;
}

/* ---- field access helpers ---- */

static void *field_ptr(const ProtobufCMessage *m, unsigned off)
{
    return (char *)m + off;
}

static size_t scalar_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static bool is_oneof(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (is_oneof(f))
        return *(uint32_t *)field_ptr(m, f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(size_t *)field_ptr(m, f->quantifier_offset) > 0;
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void **)field_ptr(m, f->offset) != NULL;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *(protobuf_c_boolean *)field_ptr(m, f->quantifier_offset) != 0;
    return true;
}

static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (is_oneof(f))
        *(uint32_t *)field_ptr(m, f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
             f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)field_ptr(m, f->quantifier_offset) = 1;
}

/* ---- JSON -> protobuf ---- */

#define PATH_MAX_DEPTH (MAX_DEPTH * 2 + 4)

/* One step of the path to the field being converted: a key, or an index into an array (key
 * NULL), or a bracketed id (key and bracket). Formatted only when an error is reported. */
struct path_seg {
    const char *key;
    size_t index;
    bool bracket;
};

struct ctx {
    unsigned flags;
    char *err;
    size_t errlen;
    struct path_seg path[PATH_MAX_DEPTH];
    size_t depth;
};

static void format_path(const struct ctx *c, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->depth && used < outlen; i++) {
        const struct path_seg *p = &c->path[i];
        int n;
        if (p->bracket)
            n = snprintf(out + used, outlen - used, "[%s]", p->key);
        else if (!p->key)
            n = snprintf(out + used, outlen - used, "[%zu]", p->index);
        else
            n = snprintf(out + used, outlen - used, "%s%s", used ? "." : "", p->key);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static enum gw_err fail(struct ctx *c, const char *fmt, const char *detail)
{
    if (c->errlen) {
        char msg[160], path[256];
        snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
        format_path(c, path, sizeof(path));
        snprintf(c->err, c->errlen, "%s%s%s", path, path[0] ? ": " : "", msg);
    }
    return GW_ERR_INVALID;
}

static size_t path_push(struct ctx *c, const char *key, size_t index, bool bracket)
{
    size_t old = c->depth;
    if (c->depth < PATH_MAX_DEPTH)
        c->path[c->depth++] = (struct path_seg){.key = key, .index = index, .bracket = bracket};
    return old;
}

static void path_pop(struct ctx *c, size_t old)
{
    c->depth = old;
}

static enum gw_err to_msg(struct ctx *c, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                          int depth, ProtobufCMessage **out);

static enum gw_err json_int(struct ctx *c, const json_t *v, long long lo, long long hi,
                            long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(long long)d)
            return fail(c, "expected an integer", NULL);
        *out = (long long)d;
    } else {
        return fail(c, "expected an integer", NULL);
    }
    if (*out < lo || *out > hi)
        return fail(c, "value out of range", NULL);
    return GW_OK;
}

/* Converts one JSON value (not null) into the storage at dst for field f. */
static enum gw_err to_value(struct ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                            int depth, void *dst)
{
    long long i;
    enum gw_err rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = json_int(c, v, INT32_MIN, INT32_MAX, &i)) != GW_OK)
            return rc;
        *(int32_t *)dst = (int32_t)i;
        return GW_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = json_int(c, v, 0, UINT32_MAX, &i)) != GW_OK)
            return rc;
        *(uint32_t *)dst = (uint32_t)i;
        return GW_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = json_int(c, v, INT64_MIN, INT64_MAX, &i)) != GW_OK)
            return rc;
        *(int64_t *)dst = (int64_t)i;
        return GW_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = json_int(c, v, 0, INT64_MAX, &i)) != GW_OK)
            return rc;
        *(uint64_t *)dst = (uint64_t)i;
        return GW_OK;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        if (!json_is_number(v))
            return fail(c, "expected a number", NULL);
        double d = json_number_value(v);
        if (f->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)dst = (float)d;
        else
            *(double *)dst = d;
        return GW_OK;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return fail(c, "expected a boolean", NULL);
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return GW_OK;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue *ev = NULL;
        if (json_is_string(v))
            ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        else if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
                 json_integer_value(v) <= INT32_MAX)
            ev = protobuf_c_enum_descriptor_get_value(ed, (int)json_integer_value(v));
        if (!ev)
            return fail(c, "expected one of the enum values", NULL);
        *(int *)dst = ev->value;
        return GW_OK;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return fail(c, "expected a string", NULL);
        char *s = strdup(json_string_value(v));
        if (!s)
            return GW_ERR_NOMEM;
        *(char **)dst = s;
        return GW_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return fail(c, "bytes fields have no JSON form", NULL);
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!json_is_object(v))
            return fail(c, "expected a record", NULL);
        return to_msg(c, f->descriptor, v, depth + 1, (ProtobufCMessage **)dst);
    }
    return fail(c, "unsupported field type", NULL);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {"name": ["v1", "v2"], ...} (a single string is a one-element list) into repeated
 * HeaderValues, sorted by name. */
static enum gw_err to_header_values(struct ctx *c, const ProtobufCFieldDescriptor *f,
                                    const json_t *v, ProtobufCMessage *m)
{
    if (!json_is_object(v))
        return fail(c, "expected a map of header names to lists of values", NULL);
    size_t n = json_object_size(v);
    if (n == 0)
        return GW_OK;
    const char **keys = calloc(n, sizeof(*keys));
    Portico__V1__HeaderValues **arr = calloc(n, sizeof(*arr));
    enum gw_err rc = GW_ERR_NOMEM;
    size_t k = 0, made = 0;
    const char *key;
    json_t *val;
    if (!keys || !arr)
        goto fail;
    json_object_foreach((json_t *)v, key, val)
    {
        keys[k++] = key;
    }
    qsort(keys, n, sizeof(*keys), cmp_keys);
    for (made = 0; made < n; made++) {
        const json_t *vals = json_object_get(v, keys[made]);
        Portico__V1__HeaderValues *hv = malloc(sizeof(*hv));
        if (!hv)
            goto fail;
        portico__v1__header_values__init(hv);
        arr[made] = hv;
        hv->name = strdup(keys[made]);
        if (!hv->name) {
            made++;
            goto fail;
        }
        size_t nv = json_is_array(vals) ? json_array_size(vals) : 1;
        if (!json_is_array(vals) && !json_is_string(vals)) {
            made++;
            rc = fail(c, "expected a list of strings for header %s", keys[made - 1]);
            goto fail;
        }
        hv->values = calloc(nv ? nv : 1, sizeof(char *));
        if (!hv->values) {
            made++;
            goto fail;
        }
        for (size_t j = 0; j < nv; j++) {
            const json_t *s = json_is_array(vals) ? json_array_get(vals, j) : vals;
            if (!json_is_string(s)) {
                made++;
                rc = fail(c, "expected a list of strings for header %s", keys[made - 1]);
                goto fail;
            }
            hv->values[j] = strdup(json_string_value(s));
            if (!hv->values[j]) {
                made++;
                goto fail;
            }
            hv->n_values = j + 1;
        }
    }
    *(size_t *)field_ptr(m, f->quantifier_offset) = n;
    *(void **)field_ptr(m, f->offset) = arr;
    free(keys);
    return GW_OK;
fail:
    for (size_t j = 0; j < made && arr; j++)
        protobuf_c_message_free_unpacked(&arr[j]->base, NULL);
    free(arr);
    free(keys);
    return rc;
}

static enum gw_err to_repeated(struct ctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                               int depth, ProtobufCMessage *m)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
        f->descriptor == &portico__v1__header_values__descriptor)
        return to_header_values(c, f, v, m);
    if (!json_is_array(v))
        return fail(c, "expected an array", NULL);
    size_t n = json_array_size(v);
    if (n == 0)
        return GW_OK;
    size_t sz = scalar_size(f->type);
    char *arr = calloc(n, sz);
    if (!arr)
        return GW_ERR_NOMEM;
    /* Publish the array at once so a failure frees what was converted so far. */
    *(void **)field_ptr(m, f->offset) = arr;
    for (size_t i = 0; i < n; i++) {
        size_t old = path_push(c, NULL, i, false);
        enum gw_err rc = to_value(c, f, json_array_get(v, i), depth, arr + i * sz);
        path_pop(c, old);
        if (rc != GW_OK)
            return rc;
        *(size_t *)field_ptr(m, f->quantifier_offset) = i + 1;
    }
    return GW_OK;
}

/* Finds a field by JSON key: exact, else lower-cased with '-' as '_'. */
static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    if (f)
        return f;
    char norm[MAX_NAMELEN];
    size_t n = strlen(key);
    if (n >= sizeof(norm))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        norm[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
    return protobuf_c_message_descriptor_get_field_by_name(desc, norm);
}

/* The Plugin.config oneof member for a plugin name ("key-auth" -> key_auth). */
static const ProtobufCFieldDescriptor *plugin_config_field(const char *plugin)
{
    if (!plugin)
        return NULL;
    const ProtobufCFieldDescriptor *f = find_field(&portico__v1__plugin__descriptor, plugin);
    if (!f || !is_oneof(f) || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return f;
}

static enum gw_err to_msg(struct ctx *c, const ProtobufCMessageDescriptor *desc, const json_t *obj,
                          int depth, ProtobufCMessage **out)
{
    *out = NULL;
    if (depth > MAX_DEPTH)
        return fail(c, "nested too deeply", NULL);
    if (!json_is_object(obj))
        return fail(c, "expected a record", NULL);
    ProtobufCMessage *m = malloc(desc->sizeof_message);
    if (!m)
        return GW_ERR_NOMEM;
    protobuf_c_message_init(desc, m);
    enum gw_err rc = GW_OK;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const ProtobufCFieldDescriptor *f;
        size_t old = path_push(c, key, 0, false);
        if (desc == &portico__v1__plugin__descriptor && strcmp(key, "config") == 0) {
            const char *name = json_string_value(json_object_get(obj, "name"));
            f = plugin_config_field(name);
            if (json_is_null(v)) {
                path_pop(c, old);
                continue;
            }
            if (!f) {
                rc = fail(c, "no typed configuration for plugin '%s'", name ? name : "(none)");
                goto fail;
            }
        } else {
            f = find_field(desc, key);
            if (!f || (desc == &portico__v1__plugin__descriptor && is_oneof(f))) {
                if (c->flags & GW_PBJSON_IGNORE_UNKNOWN) {
                    path_pop(c, old);
                    continue;
                }
                rc = fail(c, "unknown field", NULL);
                goto fail;
            }
        }
        if (json_is_null(v)) {
            path_pop(c, old);
            continue;
        }
        if (field_present(m, f)) {
            rc = fail(c, "field given twice", NULL);
            goto fail;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            rc = to_repeated(c, f, v, depth, m);
        } else {
            rc = to_value(c, f, v, depth, field_ptr(m, f->offset));
            if (rc == GW_OK)
                mark_present(m, f);
        }
        if (rc != GW_OK)
            goto fail;
        path_pop(c, old);
    }
    *out = m;
    return GW_OK;
fail:
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

enum gw_err gw_pbjson_to_pb(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                            unsigned flags, ProtobufCMessage **out, char *err, size_t errlen)
{
    struct ctx c = {.flags = flags, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    return to_msg(&c, desc, obj, 0, out);
}

/* ---- protobuf -> JSON ---- */

static json_t *from_msg(const ProtobufCMessage *m, unsigned flags, int depth);

static json_t *from_value(const ProtobufCFieldDescriptor *f, const void *src, unsigned flags,
                          int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)src);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)src);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)src);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)src);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)src);
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = *(const double *)src;
        /* Kong writes whole numbers of number fields as integers (interval = 0, threshold = 0). */
        if (d > -9e15 && d < 9e15 && d == (double)(long long)d)
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)src);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)src);
        return ev ? json_string(ev->name) : json_integer(*(const int *)src);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        return s ? json_string(s) : json_null();
    }
    case PROTOBUF_C_TYPE_BYTES:
        return json_null();
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)src;
        return sub ? from_msg(sub, flags, depth + 1) : json_null();
    }
    }
    return json_null();
}

static json_t *from_repeated(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             unsigned flags, int depth)
{
    size_t n = *(const size_t *)field_ptr(m, f->quantifier_offset);
    const char *arr = *(char *const *)field_ptr(m, f->offset);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
        f->descriptor == &portico__v1__header_values__descriptor) {
        json_t *o = json_object();
        for (size_t i = 0; o && i < n; i++) {
            const Portico__V1__HeaderValues *hv = ((Portico__V1__HeaderValues *const *)arr)[i];
            json_t *vals = json_array();
            for (size_t j = 0; vals && j < hv->n_values; j++)
                json_array_append_new(vals, json_string(hv->values[j]));
            if (!vals || json_object_set_new(o, hv->name ? hv->name : "", vals) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    json_t *a = json_array();
    size_t sz = scalar_size(f->type);
    for (size_t i = 0; a && i < n; i++) {
        json_t *v = from_value(f, arr + i * sz, flags, depth);
        if (!v || json_array_append_new(a, v) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *from_msg(const ProtobufCMessage *m, unsigned flags, int depth)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    json_t *o = json_object();
    if (!o || depth > MAX_DEPTH)
        return o;
    bool plugin = desc == &portico__v1__plugin__descriptor;
    if (plugin && !(flags & GW_PBJSON_OMIT_ABSENT))
        json_object_set_new(o, "config", json_null());
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *name = plugin && is_oneof(f) ? "config" : json_name(desc, f->name);
        json_t *v;
        if (!field_present(m, f)) {
            if ((flags & GW_PBJSON_OMIT_ABSENT) || is_oneof(f))
                continue;
            v = json_null();
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            v = from_repeated(m, f, flags, depth);
        } else {
            v = from_value(f, field_ptr(m, f->offset), flags, depth);
        }
        if (!v || json_object_set_new(o, name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *gw_pbjson_from_pb(const ProtobufCMessage *msg, unsigned flags)
{
    return from_msg(msg, flags, 0);
}

/* ---- Config helpers ---- */

Portico__V1__Config *gw_pbjson_config_new(void)
{
    Portico__V1__Config *cfg = malloc(sizeof(*cfg));
    if (cfg)
        portico__v1__config__init(cfg);
    return cfg;
}

enum gw_err gw_pbjson_config_add(Portico__V1__Config *cfg, const char *table, const json_t *doc,
                                 unsigned flags, char *err, size_t errlen)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&portico__v1__config__descriptor, table);
    if (!f || f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) {
        if (errlen)
            snprintf(err, errlen, "unknown table %s", table);
        return GW_ERR_NOTFOUND;
    }
    struct ctx c = {.flags = flags, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    path_push(&c, table, 0, false);
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (id)
        path_push(&c, id, 0, true);
    ProtobufCMessage *m = NULL;
    enum gw_err rc = to_msg(&c, f->descriptor, doc, 0, &m);
    if (rc != GW_OK)
        return rc;
    size_t *n = (size_t *)field_ptr(&cfg->base, f->quantifier_offset);
    ProtobufCMessage ***arr = (ProtobufCMessage ***)field_ptr(&cfg->base, f->offset);
    /* Capacity is the smallest power of two >= n: grow when n is zero or a power of two. */
    if ((*n & (*n - 1)) == 0) {
        size_t ncap = *n ? *n * 2 : 1;
        ProtobufCMessage **na = realloc(*arr, ncap * sizeof(*na));
        if (!na) {
            protobuf_c_message_free_unpacked(m, NULL);
            return GW_ERR_NOMEM;
        }
        *arr = na;
    }
    (*arr)[(*n)++] = m;
    return GW_OK;
}
