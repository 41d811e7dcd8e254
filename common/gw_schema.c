/* common/gw_schema.c: the table-driven schema engine: defaults, shorthands, merge, validation
 * with Kong's messages and error shapes, error bodies, form coercion and schema description.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_buf.h"
#include "gw_schema_def.h"
#include "gw_time.h"
#include "gw_uuid.h"

#define ERR_MAX 1024

static const struct gw_schema *const all_schemas[] = {
    &gw_schema_certificates,
    &gw_schema_ca_certificates,
    &gw_schema_services,
    &gw_schema_routes,
    &gw_schema_upstreams,
    &gw_schema_targets,
    &gw_schema_consumers,
    &gw_schema_plugins,
    &gw_schema_keyauth_credentials,
    &gw_schema_snis,
    NULL,
};

static const char *const entity_names[] = {
    "certificates",
    "ca_certificates",
    "services",
    "routes",
    "upstreams",
    "targets",
    "consumers",
    "plugins",
    "keyauth_credentials",
    "snis",
    NULL,
};

const char *const *gw_schema_entities(void)
{
    return entity_names;
}

const struct gw_schema *gw_schema_get(const char *entity)
{
    if (entity == NULL)
        return NULL;
    for (size_t i = 0; all_schemas[i] != NULL; i++)
        if (strcmp(all_schemas[i]->name, entity) == 0)
            return all_schemas[i];
    return NULL;
}

const char *gw_schema_name(const struct gw_schema *s)
{
    return s->name;
}

const char *gw_schema_endpoint_key(const struct gw_schema *s)
{
    return s->endpoint_key;
}

const char *const *gw_schema_unique_fields(const struct gw_schema *s)
{
    static const char *const none[] = {NULL};
    return s->unique != NULL ? s->unique : none;
}

const struct gw_schema_foreign *gw_schema_foreigns(const struct gw_schema *s, size_t *n)
{
    *n = s->n_foreigns;
    return s->foreigns;
}

bool gw_schema_ms_timestamps(const struct gw_schema *s)
{
    return s->ms_timestamps;
}

/* ---------------------------------------------------------------- helpers */

json_t *gw_sf_string(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    /* a message cut inside a UTF-8 sequence by a bounded buffer: drop the partial sequence */
    size_t n = strlen(s);
    for (size_t cut = 1; cut <= 3 && cut <= n; cut++) {
        j = json_stringn(s, n - cut);
        if (j != NULL)
            return j;
    }
    return json_string("invalid value");
}

const struct gw_schema_field *gw_sf_find(const struct gw_schema_field *fields, const char *name)
{
    if (fields == NULL)
        return NULL;
    for (const struct gw_schema_field *f = fields; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

json_t *gw_sf_get_path(const json_t *obj, const char *path)
{
    char head[128];
    const char *dot = strchr(path, '.');
    if (!json_is_object(obj))
        return NULL;
    if (dot == NULL)
        return json_object_get(obj, path);
    size_t n = (size_t)(dot - path);
    if (n >= sizeof(head))
        return NULL;
    memcpy(head, path, n);
    head[n] = '\0';
    return gw_sf_get_path(json_object_get(obj, head), dot + 1);
}

void gw_sf_set_error(json_t *errors, const char *path, const char *msg)
{
    char head[128];
    const char *dot = strchr(path, '.');
    if (dot == NULL) {
        json_object_set_new(errors, path, gw_sf_string(msg));
        return;
    }
    size_t n = (size_t)(dot - path);
    if (n >= sizeof(head))
        return;
    memcpy(head, path, n);
    head[n] = '\0';
    json_t *sub = json_object_get(errors, head);
    if (!json_is_object(sub)) {
        sub = json_object();
        json_object_set_new(errors, head, sub);
    }
    gw_sf_set_error(sub, dot + 1, msg);
}

void gw_sf_entity_error(json_t *errors, const char *msg)
{
    json_t *arr = json_object_get(errors, "@entity");
    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(errors, "@entity", arr);
    }
    json_array_append_new(arr, gw_sf_string(msg));
}

bool gw_sf_nonempty(const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return false;
    if (json_is_string(v) && json_string_length(v) == 0)
        return false;
    if (json_is_array(v) && json_array_size(v) == 0)
        return false;
    if (json_is_object(v) && json_object_size(v) == 0)
        return false;
    return true;
}

bool gw_sf_str_is(const json_t *v, const char *s)
{
    return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

static void quoted_list(struct gw_buf *b, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        gw_buf_appendf(b, "%s'%s'", i ? ", " : "", names[i]);
}

void gw_sf_at_least_one_of(const json_t *e, json_t *errors, bool update, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        if (gw_sf_nonempty(gw_sf_get_path(e, names[i])))
            return;
    struct gw_buf b;
    gw_buf_init(&b, ERR_MAX);
    gw_buf_appendf(
        &b, "%sat least one of these fields must be non-empty: ", update ? "when updating, " : "");
    quoted_list(&b, names);
    gw_sf_entity_error(errors, b.data != NULL ? b.data : "");
    gw_buf_cleanup(&b);
}

void gw_sf_conditional_fail(json_t *errors, const char *if_field, const char *then_field,
                            const char *then_msg)
{
    char msg[256];
    gw_sf_set_error(errors, then_field, then_msg);
    snprintf(msg, sizeof(msg), "failed conditional validation given value of field '%s'", if_field);
    gw_sf_entity_error(errors, msg);
}

void gw_sf_mutually_required(const json_t *e, json_t *errors, const char *const *names)
{
    size_t set = 0, n = 0;
    for (; names[n] != NULL; n++)
        if (gw_sf_nonempty(gw_sf_get_path(e, names[n])))
            set++;
    if (set == 0 || set == n)
        return;
    struct gw_buf b;
    gw_buf_init(&b, ERR_MAX);
    gw_buf_append_str(&b, "all or none of these fields must be set: ");
    quoted_list(&b, names);
    gw_sf_entity_error(errors, b.data != NULL ? b.data : "");
    gw_buf_cleanup(&b);
}

void gw_sf_distinct(const json_t *e, json_t *errors, const char *a, const char *b)
{
    json_t *va = gw_sf_get_path(e, a), *vb = gw_sf_get_path(e, b);
    if (!gw_sf_nonempty(va) || !gw_sf_nonempty(vb) || !json_equal(va, vb))
        return;
    char msg[256];
    snprintf(msg, sizeof(msg), "values of these fields must be distinct: '%s', '%s'", a, b);
    gw_sf_entity_error(errors, msg);
}

/* libm-free helpers: true if d is finite and has no fractional part within int64 range. */
static double dabs(double d)
{
    return d < 0 ? -d : d;
}

static bool whole(double d)
{
    return isfinite(d) && dabs(d) < 9.2e18 && d == (double)(long long)d;
}

/* Kong formats numbers in messages with %d (integers) or tostring (numbers). */
static void fmt_num(char *out, size_t n, double v)
{
    if (whole(v) && dabs(v) < 1e15)
        snprintf(out, n, "%lld", (long long)v);
    else
        snprintf(out, n, "%.14g", v);
}

static double num_of(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return whole(d);
}

/* Kong makes record fields required unless a schema says otherwise (make_records_required), so
 * nested records are always expanded with their defaults and cannot be null. */
static bool is_required(const struct gw_schema_field *f)
{
    return (f->flags & GW_SF_REQUIRED) || f->type == GW_SF_RECORD;
}

/* ---------------------------------------------------------------- field validation */

static json_t *validate_record(const struct gw_schema_field *fields,
                               const struct gw_schema_field *overrides, gw_sf_entity_check_fn check,
                               const json_t *obj, bool update);

static json_t *errstr(const char *s)
{
    return gw_sf_string(s);
}

static json_t *validate_elements(const struct gw_schema_field *f, const json_t *arr)
{
    json_t *errs = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        json_t *e;
        if (json_is_null(v))
            e = errstr("required field missing");
        else
            e = gw_sf_validate_value(f->elements, v);
        if (e == NULL)
            continue;
        if (errs == NULL)
            errs = json_array();
        while (json_array_size(errs) < i)
            json_array_append_new(errs, json_null());
        json_array_append_new(errs, e);
    }
    return errs;
}

static size_t value_len(const struct gw_schema_field *f, const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v);
    if (json_is_array(v))
        return json_array_size(v);
    if (f->type == GW_SF_MAP && json_is_object(v))
        return json_object_size(v);
    return 0;
}

static json_t *check_mutex_sets(const struct gw_schema_field *f, const json_t *v)
{
    /* mutex_sets: groups of names, each group ended by "", list ended by NULL. */
    const char *const *groups[16];
    size_t ngroups = 0, hit_count = 0;
    const char *const *hit[16];
    const char *const *g = f->mutex_sets;
    while (*g != NULL && ngroups < 16) {
        groups[ngroups++] = g;
        while (*g != NULL && **g != '\0')
            g++;
        if (*g != NULL)
            g++;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            continue;
        for (size_t k = 0; k < ngroups; k++) {
            bool in = false;
            for (const char *const *n = groups[k]; *n != NULL && **n != '\0'; n++)
                if (strcmp(*n, json_string_value(e)) == 0)
                    in = true;
            if (!in)
                continue;
            bool seen = false;
            for (size_t h = 0; h < hit_count; h++)
                if (hit[h] == groups[k])
                    seen = true;
            if (!seen && hit_count < 16)
                hit[hit_count++] = groups[k];
        }
    }
    if (hit_count <= 1)
        return NULL;
    struct gw_buf b;
    gw_buf_init(&b, ERR_MAX);
    gw_buf_append_str(&b, "these sets are mutually exclusive: ");
    for (size_t h = 0; h < hit_count; h++) {
        gw_buf_append_str(&b, h ? ", (" : "(");
        for (const char *const *n = hit[h]; *n != NULL && **n != '\0'; n++)
            gw_buf_appendf(&b, "%s'%s'", n == hit[h] ? "" : ", ", *n);
        gw_buf_append_str(&b, ")");
    }
    json_t *r = gw_sf_string(b.data != NULL ? b.data : "");
    gw_buf_cleanup(&b);
    return r;
}

json_t *gw_sf_validate_value(const struct gw_schema_field *f, const json_t *v)
{
    char err[ERR_MAX];
    char n1[32], n2[32];

    if (v == NULL || json_is_null(v)) {
        if (is_required(f))
            return errstr("required field missing");
        return NULL;
    }
    if (f->flags & GW_SF_MUST_NULL)
        return errstr(f->err != NULL ? f->err : "value must be null");

    switch (f->type) {
    case GW_SF_ARRAY:
    case GW_SF_SET: {
        if (json_is_object(v) && json_object_size(v) == 0)
            break; /* Lua cannot tell {} from [] */
        if (!json_is_array(v))
            return errstr(f->type == GW_SF_SET ? "expected a set" : "expected an array");
        if (f->elements != NULL) {
            json_t *e = validate_elements(f, v);
            if (e != NULL)
                return e;
        }
        break;
    }
    case GW_SF_MAP: {
        if (!json_is_object(v))
            return errstr("expected a map");
        const char *k;
        json_t *mv;
        json_object_foreach((json_t *)v, k, mv)
        {
            if (f->keys != NULL) {
                json_t *ks = json_string(k);
                json_t *e = gw_sf_validate_value(f->keys, ks);
                json_decref(ks);
                if (e != NULL)
                    return e;
            }
            if (f->elements != NULL) {
                json_t *e = json_is_null(mv) ? errstr("required field missing")
                                             : gw_sf_validate_value(f->elements, mv);
                if (e != NULL) {
                    /* Kong returns the first error of a map as a plain value */
                    if (json_is_array(e)) {
                        size_t i;
                        json_t *x;
                        json_array_foreach(e, i, x)
                        {
                            if (json_is_string(x)) {
                                json_t *s = json_incref(x);
                                json_decref(e);
                                return s;
                            }
                        }
                    }
                    return e;
                }
            }
        }
        break;
    }
    case GW_SF_RECORD: {
        if (!json_is_object(v))
            return errstr("expected a record");
        json_t *e = validate_record(f->fields, NULL, f->record_check, v, false);
        if (e != NULL)
            return e;
        break;
    }
    case GW_SF_FOREIGN: {
        json_t *id = json_is_object(v) ? json_object_get(v, "id") : NULL;
        json_t *e = NULL;
        if (id == NULL)
            e = errstr("missing primary key");
        else if (json_is_null(id))
            e = errstr("required field missing");
        else if (!json_is_string(id))
            e = errstr("expected a string");
        else if (!gw_uuid_valid(json_string_value(id)) || json_string_length(id) != 36)
            e = errstr("expected a valid UUID");
        if (e != NULL) {
            json_t *o = json_object();
            json_object_set_new(o, "id", e);
            return o;
        }
        break;
    }
    case GW_SF_INTEGER:
        if (!is_integral(v))
            return errstr("expected an integer");
        break;
    case GW_SF_NUMBER:
        if (!json_is_number(v) || !isfinite(num_of(v)))
            return errstr("expected a number");
        break;
    case GW_SF_BOOLEAN:
        if (!json_is_boolean(v))
            return errstr("expected a boolean");
        break;
    case GW_SF_STRING:
        if (!json_is_string(v))
            return errstr("expected a string");
        /* C consumers would silently truncate at an embedded NUL */
        if (strlen(json_string_value(v)) != json_string_length(v))
            return errstr("invalid value: contains a NUL byte");
        break;
    default:
        return errstr("invalid type");
    }

    /* validators, in Kong's order */
    if ((f->flags & GW_SF_NE_TRUE) && json_is_true(v))
        return errstr(f->err != NULL ? f->err : "value must not be true");
    if (f->one_of != NULL && json_is_string(v)) {
        bool ok = false;
        for (size_t i = 0; f->one_of[i] != NULL; i++)
            if (strcmp(f->one_of[i], json_string_value(v)) == 0)
                ok = true;
        if (!ok) {
            struct gw_buf b;
            gw_buf_init(&b, ERR_MAX);
            gw_buf_append_str(&b, "expected one of: ");
            for (size_t i = 0; f->one_of[i] != NULL; i++)
                gw_buf_appendf(&b, "%s%s", i ? ", " : "", f->one_of[i]);
            json_t *r = json_string(b.data);
            gw_buf_cleanup(&b);
            return r;
        }
    }
    if (f->one_of_int != NULL && json_is_number(v)) {
        bool ok = false;
        for (size_t i = 0; f->one_of_int[i] != -1; i++)
            if ((double)f->one_of_int[i] == num_of(v))
                ok = true;
        if (!ok) {
            struct gw_buf b;
            gw_buf_init(&b, ERR_MAX);
            gw_buf_append_str(&b, "expected one of: ");
            for (size_t i = 0; f->one_of_int[i] != -1; i++)
                gw_buf_appendf(&b, "%s%d", i ? ", " : "", f->one_of_int[i]);
            json_t *r = json_string(b.data);
            gw_buf_cleanup(&b);
            return r;
        }
    }
    if (f->not_one_of != NULL && json_is_string(v)) {
        for (size_t i = 0; f->not_one_of[i] != NULL; i++)
            if (strcmp(f->not_one_of[i], json_string_value(v)) == 0)
                return errstr(f->err != NULL ? f->err : "invalid value");
    }
    if ((f->flags & GW_SF_GT) && json_is_number(v) && !(num_of(v) > f->gt)) {
        fmt_num(n1, sizeof(n1), f->gt);
        snprintf(err, sizeof(err), "value must be greater than %s", n1);
        return errstr(err);
    }
    if ((f->flags & GW_SF_TIMESTAMP) && json_is_number(v) && !(num_of(v) > 0))
        return errstr("expected a valid timestamp");
    if ((f->flags & GW_SF_UUID) && json_is_string(v) &&
        (json_string_length(v) != 36 || !gw_uuid_valid(json_string_value(v))))
        return errstr("expected a valid UUID");
    if ((f->flags & GW_SF_BETWEEN) && json_is_number(v)) {
        double d = num_of(v);
        if (d < f->min || d > f->max) {
            fmt_num(n1, sizeof(n1), f->min);
            fmt_num(n2, sizeof(n2), f->max);
            snprintf(err, sizeof(err), "value should be between %s and %s", n1, n2);
            return errstr(err);
        }
    }
    if (f->type == GW_SF_STRING || (f->flags & GW_SF_LEN_MIN)) {
        int min = (f->flags & GW_SF_LEN_MIN) ? f->len_min : 1;
        if (value_len(f, v) < (size_t)min) {
            snprintf(err, sizeof(err), "length must be at least %d", min);
            return errstr(err);
        }
    }
    if ((f->flags & GW_SF_LEN_MAX) && value_len(f, v) > (size_t)f->len_max) {
        snprintf(err, sizeof(err), "length must be at most %d", f->len_max);
        return errstr(err);
    }
    if (f->starts_with != NULL && json_is_string(v) &&
        strncmp(json_string_value(v), f->starts_with, strlen(f->starts_with)) != 0) {
        snprintf(err, sizeof(err), "should start with: %s", f->starts_with);
        return errstr(err);
    }
    if (f->check != NULL) {
        err[0] = '\0';
        if (!f->check(v, err, sizeof(err)))
            return errstr(err[0] != '\0' ? err : "invalid value");
    }
    if (f->mutex_sets != NULL && json_is_array(v)) {
        json_t *e = check_mutex_sets(f, v);
        if (e != NULL)
            return e;
    }
    return NULL;
}

/* Resolves the field named name: the subschema override first, then the base list. */
static const struct gw_schema_field *resolve(const struct gw_schema_field *fields,
                                             const struct gw_schema_field *overrides,
                                             const char *name)
{
    const struct gw_schema_field *f = gw_sf_find(overrides, name);
    return f != NULL ? f : gw_sf_find(fields, name);
}

/* Calls fn for each effective field: base fields (overridden when the subschema redefines
 * them), then subschema-only fields. */
#define FOREACH_FIELD(fields, overrides, f, body)                                                  \
    do {                                                                                           \
        for (const struct gw_schema_field *base_ = (fields); base_ != NULL && base_->name != NULL; \
             base_++) {                                                                            \
            const struct gw_schema_field *f =                                                      \
                (overrides) != NULL ? resolve((fields), (overrides), base_->name) : base_;         \
            body                                                                                   \
        }                                                                                          \
        for (const struct gw_schema_field *ov_ = (overrides); ov_ != NULL && ov_->name != NULL;    \
             ov_++) {                                                                              \
            if (gw_sf_find((fields), ov_->name) != NULL)                                           \
                continue;                                                                          \
            const struct gw_schema_field *f = ov_;                                                 \
            body                                                                                   \
        }                                                                                          \
    } while (0)

static json_t *validate_record(const struct gw_schema_field *fields,
                               const struct gw_schema_field *overrides, gw_sf_entity_check_fn check,
                               const json_t *obj, bool update)
{
    json_t *errors = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        const struct gw_schema_field *f = resolve(fields, overrides, k);
        if (f == NULL) {
            json_object_set_new(errors, k, errstr("unknown field"));
            continue;
        }
        json_t *e = gw_sf_validate_value(f, v);
        if (e != NULL)
            json_object_set_new(errors, k, e);
    }
    FOREACH_FIELD(fields, overrides, f, {
        if (is_required(f)) {
            json_t *cur = json_object_get(obj, f->name);
            if (cur == NULL || json_is_null(cur))
                json_object_set_new(errors, f->name, errstr("required field missing"));
        }
    });
    if (check != NULL)
        check(obj, errors, update);
    if (json_object_size(errors) == 0) {
        json_decref(errors);
        return NULL;
    }
    return errors;
}

/* ---------------------------------------------------------------- defaults and normalisation */

static json_t *parse_default(const char *text)
{
    json_error_t jerr;
    return json_loads(text, JSON_DECODE_ANY, &jerr);
}

static void fill_record(const struct gw_schema_field *fields,
                        const struct gw_schema_field *overrides, json_t *obj);

/* Removes duplicates from a set, keeping the first occurrence (Kong's make_set). Returns a new
 * array, or NULL when there was nothing to remove. Strings use a hash; other values are compared
 * pairwise, which is bounded to small arrays. */
static json_t *dedupe_set(const json_t *v)
{
    size_t n = json_array_size(v), i;
    json_t *e, *out = json_array(), *seen = json_object();
    bool all_strings = true;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            all_strings = false;
    }
    if (!all_strings && n > 1000)
        goto keep;
    json_array_foreach(v, i, e)
    {
        bool dup = false;
        if (all_strings) {
            const char *s = json_string_value(e);
            if (strlen(s) == json_string_length(e)) {
                dup = json_object_get(seen, s) != NULL;
                if (!dup)
                    json_object_set_new(seen, s, json_true());
            }
        } else {
            size_t j;
            json_t *o;
            json_array_foreach(out, j, o)
            {
                if (json_equal(o, e))
                    dup = true;
            }
        }
        if (!dup)
            json_array_append(out, e);
    }
    if (json_array_size(out) != n) {
        json_decref(seen);
        return out;
    }
keep:
    json_decref(seen);
    json_decref(out);
    return NULL;
}

/* Normalises one present value in place where Kong would (sets deduplicated, empty object as
 * empty array, integral reals as integers, bare uuid as foreign key, nested record defaults).
 * Returns the (possibly replaced) value to store, or NULL to keep v. */
static json_t *normalise_value(const struct gw_schema_field *f, json_t *v)
{
    if (v == NULL || json_is_null(v))
        return NULL;
    switch (f->type) {
    case GW_SF_INTEGER:
        if (json_is_real(v) && is_integral(v))
            return json_integer((json_int_t)json_real_value(v));
        return NULL;
    case GW_SF_RECORD:
        if (json_is_object(v))
            fill_record(f->fields, NULL, v);
        return NULL;
    case GW_SF_FOREIGN:
        if (json_is_string(v)) {
            json_t *o = json_object();
            json_object_set(o, "id", v);
            return o;
        }
        if (json_is_object(v) && json_object_get(v, "id") != NULL && json_object_size(v) > 1) {
            json_t *o = json_object();
            json_object_set(o, "id", json_object_get(v, "id"));
            return o;
        }
        return NULL;
    case GW_SF_ARRAY:
    case GW_SF_SET: {
        if (json_is_object(v) && json_object_size(v) == 0)
            return json_array();
        if (!json_is_array(v))
            return NULL;
        size_t i;
        json_t *e;
        if (f->elements != NULL) {
            json_array_foreach(v, i, e)
            {
                json_t *r = normalise_value(f->elements, e);
                if (r != NULL)
                    json_array_set_new(v, i, r);
            }
        }
        if (f->type == GW_SF_SET)
            return dedupe_set(v);
        return NULL;
    }
    default:
        return NULL;
    }
}

static void fill_record(const struct gw_schema_field *fields,
                        const struct gw_schema_field *overrides, json_t *obj)
{
    FOREACH_FIELD(fields, overrides, f, {
        json_t *cur = json_object_get(obj, f->name);
        if (f->flags & (GW_SF_INPUT_ONLY | GW_SF_OMIT_ABSENT))
            continue;
        if (cur == NULL) {
            if (f->def != NULL) {
                json_t *d = parse_default(f->def);
                if (d != NULL) {
                    json_t *r = normalise_value(f, d);
                    json_object_set_new(obj, f->name, r != NULL ? r : d);
                    if (r != NULL)
                        json_decref(d);
                }
            } else if (f->flags & GW_SF_AUTO) {
                /* generated by the caller */
            } else if (!is_required(f)) {
                json_object_set_new(obj, f->name, json_null());
            } else if (f->type == GW_SF_RECORD) {
                json_t *rec = json_object();
                fill_record(f->fields, NULL, rec);
                json_object_set_new(obj, f->name, rec);
            }
        } else {
            json_t *r = normalise_value(f, cur);
            if (r != NULL)
                json_object_set_new(obj, f->name, r);
        }
    });
}

/* Kong's merge_values: top wins, records merge field by field. */
static void merge_into(const struct gw_schema_field *fields,
                       const struct gw_schema_field *overrides, json_t *top, const json_t *bottom)
{
    const char *k;
    json_t *bv;
    json_object_foreach((json_t *)bottom, k, bv)
    {
        const struct gw_schema_field *f = resolve(fields, overrides, k);
        if (f == NULL || (f->flags & GW_SF_INPUT_ONLY))
            continue; /* stored columns the schema does not know are not part of the entity */
        json_t *tv = json_object_get(top, k);
        if (tv == NULL) {
            json_object_set_new(top, k, json_deep_copy(bv));
            continue;
        }
        if (f != NULL && f->type == GW_SF_RECORD && json_is_object(tv) && json_is_object(bv))
            merge_into(f->fields, NULL, tv, bv);
    }
}

/* ---------------------------------------------------------------- process / validate */

static const struct gw_schema_field *subschema_of(const struct gw_schema *s, const json_t *e,
                                                  json_t **err_fields)
{
    if (s->subschema == NULL)
        return NULL;
    const char *key = NULL;
    char msg[ERR_MAX];
    msg[0] = '\0';
    const struct gw_schema_field *ov = s->subschema(e, &key, msg, sizeof(msg));
    if (ov == NULL && key != NULL && err_fields != NULL) {
        *err_fields = json_object();
        json_object_set_new(*err_fields, key, gw_sf_string(msg));
    }
    return ov;
}

static void run_checks(const struct gw_schema *s, const json_t *e, json_t *errors, bool update)
{
    if (s->check != NULL)
        s->check(e, errors, update);
}

static json_t *validate_entity(const struct gw_schema *s, const json_t *e, bool update)
{
    json_t *sub_err = NULL;
    const struct gw_schema_field *ov = subschema_of(s, e, &sub_err);
    if (sub_err != NULL)
        return sub_err;
    json_t *errors = validate_record(s->fields, ov, NULL, e, update);
    if (errors == NULL)
        errors = json_object();
    run_checks(s, e, errors, update);
    if (json_object_size(errors) == 0) {
        json_decref(errors);
        return NULL;
    }
    return errors;
}

static void set_timestamp(const struct gw_schema *s, json_t *e, const char *name)
{
    if (gw_sf_find(s->fields, name) == NULL)
        return;
    if (s->ms_timestamps) {
        int64_t ms = gw_time_unix_ms();
        json_object_set_new(e, name, json_real((double)ms / 1000.0));
    } else {
        json_object_set_new(e, name, json_integer(gw_time_unix_s()));
    }
}

enum gw_err gw_schema_process(const struct gw_schema *s, enum gw_schema_op op, const json_t *input,
                              const json_t *existing, json_t **out, json_t **err_fields)
{
    json_t *e = NULL, *errors = NULL;
    *out = NULL;
    *err_fields = NULL;

    if (s == NULL || input == NULL || !json_is_object(input)) {
        errors = json_object();
        gw_sf_entity_error(errors, "expected an input table");
        goto invalid;
    }
    e = json_deep_copy(input);
    if (e == NULL)
        return GW_ERR_NOMEM;
    if (s->shorthand != NULL)
        s->shorthand(e);

    if (op == GW_SCHEMA_UPDATE && json_is_object(existing)) {
        json_t *sub_err = NULL;
        const struct gw_schema_field *ov = subschema_of(s, existing, &sub_err);
        json_decref(sub_err);
        /* the subschema key may change in this PATCH: merge with the new one when known */
        json_t *probe = json_deep_copy(existing);
        json_object_update(probe, e);
        const struct gw_schema_field *ov2 = subschema_of(s, probe, NULL);
        json_decref(probe);
        merge_into(s->fields, ov2 != NULL ? ov2 : ov, e, existing);
    }
    if (json_is_object(existing)) {
        json_t *id = json_object_get(existing, "id");
        if (id != NULL)
            json_object_set(e, "id", id);
        json_t *ca = json_object_get(existing, "created_at");
        if (ca != NULL && gw_sf_find(s->fields, "created_at") != NULL)
            json_object_set(e, "created_at", ca);
    }

    /* defaults of the subschema key first (routes' protocols), then the rest */
    {
        const struct gw_schema_field *pf = gw_sf_find(s->fields, "protocols");
        if (pf != NULL && pf->def != NULL && json_object_get(e, "protocols") == NULL)
            json_object_set_new(e, "protocols", parse_default(pf->def));
        json_t *sub_err = NULL;
        const struct gw_schema_field *ov = subschema_of(s, e, &sub_err);
        if (sub_err != NULL) {
            errors = sub_err;
            goto invalid;
        }
        fill_record(s->fields, ov, e);
    }

    /* auto fields */
    {
        json_t *id = json_object_get(e, "id");
        if (gw_sf_find(s->fields, "id") != NULL && (id == NULL || json_is_null(id))) {
            char u[GW_UUID_STRLEN + 1];
            if (gw_uuid_v4(u) != GW_OK) {
                json_decref(e);
                return GW_ERR_INTERNAL;
            }
            json_object_set_new(e, "id", json_string(u));
        }
        json_t *ca = json_object_get(e, "created_at");
        if (ca == NULL || json_is_null(ca))
            set_timestamp(s, e, "created_at");
        set_timestamp(s, e, "updated_at");
    }
    if (s->finish != NULL && s->finish(e, op) != GW_OK) {
        json_decref(e);
        return GW_ERR_INTERNAL;
    }

    errors = validate_entity(s, e, op == GW_SCHEMA_UPDATE);
    if (errors != NULL)
        goto invalid;

    /* input-only fields are validated but not stored */
    for (const struct gw_schema_field *f = s->fields; f->name != NULL; f++)
        if (f->flags & GW_SF_INPUT_ONLY)
            json_object_del(e, f->name);
    *out = e;
    return GW_OK;

invalid:
    json_decref(e);
    *err_fields = errors;
    return GW_ERR_INVALID;
}

enum gw_err gw_schema_validate(const struct gw_schema *s, const json_t *entity, json_t **err_fields)
{
    *err_fields = NULL;
    if (s == NULL || !json_is_object(entity)) {
        *err_fields = json_object();
        gw_sf_entity_error(*err_fields, "expected an input table");
        return GW_ERR_INVALID;
    }
    json_t *errors = validate_entity(s, entity, false);
    if (errors == NULL)
        return GW_OK;
    *err_fields = errors;
    return GW_ERR_INVALID;
}

/* ---------------------------------------------------------------- error body */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of an object; returns a malloc'ed array (free()) and sets *n. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **keys = calloc(*n + 1, sizeof(*keys));
    if (keys == NULL) {
        *n = 0;
        return NULL;
    }
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

static bool lua_ident(const char *k)
{
    if (*k == '\0' || (*k >= '0' && *k <= '9'))
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static void pretty_scalar(struct gw_buf *b, const json_t *v)
{
    if (json_is_string(v)) {
        gw_buf_append_str(b, "\"");
        for (const char *p = json_string_value(v); *p; p++) {
            if (*p == '"' || *p == '\\')
                gw_buf_appendf(b, "\\%c", *p);
            else if (*p == '\n')
                gw_buf_append_str(b, "\\n");
            else
                gw_buf_append(b, p, 1);
        }
        gw_buf_append_str(b, "\"");
    } else if (json_is_true(v)) {
        gw_buf_append_str(b, "true");
    } else if (json_is_false(v)) {
        gw_buf_append_str(b, "false");
    } else if (json_is_number(v)) {
        char n[32];
        fmt_num(n, sizeof(n), num_of(v));
        gw_buf_append_str(b, n);
    } else {
        gw_buf_append_str(b, "nil");
    }
}

/* Penlight's pretty.write (indent of two spaces), used by Kong for deep error values. */
static void pretty(struct gw_buf *b, const json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v)) {
        pretty_scalar(b, v);
        return;
    }
    gw_buf_append_str(b, "{\n");
    bool first = true;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        bool holes = false;
        json_array_foreach(v, i, e)
        {
            if (json_is_null(e))
                holes = true;
        }
        json_array_foreach(v, i, e)
        {
            if (json_is_null(e))
                continue;
            if (!first)
                gw_buf_append_str(b, ",\n");
            first = false;
            gw_buf_appendf(b, "%*s", (depth + 1) * 2, "");
            if (holes)
                gw_buf_appendf(b, "[%zu] = ", i + 1);
            pretty(b, e, depth + 1);
        }
    } else {
        size_t n;
        const char **keys = sorted_keys(v, &n);
        for (size_t i = 0; i < n; i++) {
            if (!first)
                gw_buf_append_str(b, ",\n");
            first = false;
            gw_buf_appendf(b, "%*s", (depth + 1) * 2, "");
            if (lua_ident(keys[i]))
                gw_buf_appendf(b, "%s = ", keys[i]);
            else
                gw_buf_appendf(b, "[\"%s\"] = ", keys[i]);
            pretty(b, json_object_get(v, keys[i]), depth + 1);
        }
        free(keys);
    }
    gw_buf_appendf(b, "\n%*s}", depth * 2, "");
}

static void add_msg(json_t *list, const char *field, const char *sub, const json_t *value)
{
    struct gw_buf b;
    gw_buf_init(&b, 64 * 1024);
    if (sub != NULL)
        gw_buf_appendf(&b, "%s.%s: ", field, sub);
    else
        gw_buf_appendf(&b, "%s: ", field);
    if (json_is_string(value))
        gw_buf_append_str(&b, json_string_value(value));
    else
        pretty(&b, value, 0);
    json_array_append_new(list, gw_sf_string(b.data != NULL ? b.data : ""));
    gw_buf_cleanup(&b);
}

json_t *gw_schema_error_body(const json_t *err_fields)
{
    json_t *msgs = json_array();
    json_t *ent = json_object_get(err_fields, "@entity");
    if (json_is_array(ent)) {
        size_t i;
        json_t *m;
        json_array_foreach(ent, i, m)
        {
            if (json_is_string(m))
                json_array_append(msgs, m);
        }
    }
    size_t n = 0;
    const char **keys = json_is_object(err_fields) ? sorted_keys(err_fields, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(keys[i], "@entity") == 0)
            continue;
        json_t *fe = json_object_get(err_fields, keys[i]);
        char idx[32];
        if (json_is_array(fe)) {
            size_t j;
            json_t *x;
            json_array_foreach(fe, j, x)
            {
                if (json_is_null(x))
                    continue;
                snprintf(idx, sizeof(idx), "%zu", j + 1);
                add_msg(msgs, keys[i], idx, x);
            }
        } else if (json_is_object(fe)) {
            size_t m;
            const char **sub = sorted_keys(fe, &m);
            for (size_t j = 0; j < m; j++)
                add_msg(msgs, keys[i], sub[j], json_object_get(fe, sub[j]));
            free(sub);
        } else {
            add_msg(msgs, keys[i], NULL, fe);
        }
    }
    free(keys);

    struct gw_buf b;
    gw_buf_init(&b, 256 * 1024);
    size_t count = json_array_size(msgs);
    if (count == 1)
        gw_buf_appendf(&b, "schema violation (%s)", json_string_value(json_array_get(msgs, 0)));
    else {
        gw_buf_appendf(&b, "%zu schema violations (", count);
        for (size_t i = 0; i < count; i++)
            gw_buf_appendf(&b, "%s%s", i ? "; " : "", json_string_value(json_array_get(msgs, i)));
        gw_buf_append_str(&b, ")");
    }
    json_decref(msgs);
    json_t *body = json_object();
    json_object_set_new(body, "code", json_integer(2));
    json_object_set_new(body, "name", json_string("schema violation"));
    json_object_set_new(body, "message", gw_sf_string(b.data != NULL ? b.data : ""));
    json_object_set_new(body, "fields",
                        err_fields != NULL ? json_deep_copy(err_fields) : json_object());
    gw_buf_cleanup(&b);
    return body;
}

/* ---------------------------------------------------------------- form coercion */

static json_t *coerce_value(const struct gw_schema_field *f, json_t *v);

static void coerce_record(const struct gw_schema_field *fields,
                          const struct gw_schema_field *overrides, json_t *obj)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        const struct gw_schema_field *f = resolve(fields, overrides, k);
        if (f == NULL)
            continue;
        json_t *r = coerce_value(f, v);
        if (r != NULL)
            json_object_set_new(obj, k, r);
    }
}

static json_t *coerce_value(const struct gw_schema_field *f, json_t *v)
{
    /* an empty form value clears a nullable field */
    if (json_is_string(v) && json_string_length(v) == 0 && !is_required(f))
        return json_null();
    switch (f->type) {
    case GW_SF_BOOLEAN:
        if (gw_sf_str_is(v, "true"))
            return json_true();
        if (gw_sf_str_is(v, "false"))
            return json_false();
        return NULL;
    case GW_SF_INTEGER:
    case GW_SF_NUMBER: {
        if (!json_is_string(v))
            return NULL;
        const char *s = json_string_value(v);
        char *end = NULL;
        if (*s == '\0')
            return NULL;
        double d = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(d))
            return NULL;
        if (whole(d) && strpbrk(s, ".eE") == NULL)
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    case GW_SF_ARRAY:
    case GW_SF_SET: {
        json_t *arr = NULL;
        if (json_is_string(v) || json_is_number(v) || json_is_boolean(v)) {
            arr = json_array();
            json_array_append(arr, v);
        } else if (json_is_object(v) && json_object_size(v) > 0) {
            /* {"1": a, "2": b} from key[1]=a */
            size_t n = json_object_size(v);
            arr = json_array();
            for (size_t i = 1; i <= n; i++) {
                char idx[32];
                snprintf(idx, sizeof(idx), "%zu", i);
                json_t *x = json_object_get(v, idx);
                if (x == NULL) {
                    json_decref(arr);
                    arr = NULL;
                    break;
                }
                json_array_append(arr, x);
            }
        }
        json_t *target = arr != NULL ? arr : v;
        if (json_is_array(target) && f->elements != NULL) {
            size_t i;
            json_t *e;
            json_array_foreach(target, i, e)
            {
                json_t *r = coerce_value(f->elements, e);
                if (r != NULL)
                    json_array_set_new(target, i, r);
            }
        }
        return arr;
    }
    case GW_SF_MAP:
        if (json_is_object(v) && f->elements != NULL) {
            const char *k;
            json_t *x;
            void *tmp;
            json_object_foreach_safe(v, tmp, k, x)
            {
                json_t *r = coerce_value(f->elements, x);
                if (r != NULL)
                    json_object_set_new(v, k, r);
            }
        }
        return NULL;
    case GW_SF_RECORD:
        if (json_is_object(v))
            coerce_record(f->fields, NULL, v);
        return NULL;
    default:
        return NULL;
    }
}

void gw_schema_coerce_form(const struct gw_schema *s, json_t *input)
{
    if (s == NULL || !json_is_object(input))
        return;
    const struct gw_schema_field *ov = subschema_of(s, input, NULL);
    coerce_record(s->fields, ov, input);
}

/* ---------------------------------------------------------------- describe */

static const char *const type_names[GW_SF_TYPE_COUNT_] = {
    "string", "integer", "number", "boolean", "array", "set", "map", "record", "foreign",
};

static json_t *describe_fields(const struct gw_schema_field *fields,
                               const struct gw_schema_field *overrides);

static json_t *describe_field(const struct gw_schema_field *f)
{
    json_t *d = json_object();
    json_object_set_new(d, "type", json_string(type_names[f->type]));
    if (is_required(f) && !(f->flags & GW_SF_AUTO))
        json_object_set_new(d, "required", json_true());
    if (f->flags & GW_SF_AUTO)
        json_object_set_new(d, "auto", json_true());
    if (f->flags & GW_SF_UUID)
        json_object_set_new(d, "uuid", json_true());
    if (f->flags & GW_SF_UNIQUE)
        json_object_set_new(d, "unique", json_true());
    if (f->flags & GW_SF_TIMESTAMP)
        json_object_set_new(d, "timestamp", json_true());
    if (f->flags & GW_SF_MUST_NULL)
        json_object_set_new(d, "eq", json_null());
    if (f->def != NULL) {
        json_t *def = parse_default(f->def);
        if (def != NULL)
            json_object_set_new(d, "default", def);
    }
    if (f->flags & GW_SF_BETWEEN) {
        json_t *b = json_array();
        json_array_append_new(b, json_integer((json_int_t)f->min));
        json_array_append_new(b, json_integer((json_int_t)f->max));
        json_object_set_new(d, "between", b);
    }
    if (f->flags & GW_SF_GT)
        json_object_set_new(d, "gt", json_real(f->gt));
    if (f->flags & GW_SF_LEN_MIN)
        json_object_set_new(d, "len_min", json_integer(f->len_min));
    if (f->flags & GW_SF_LEN_MAX)
        json_object_set_new(d, "len_max", json_integer(f->len_max));
    if (f->one_of != NULL || f->one_of_int != NULL) {
        json_t *o = json_array();
        for (size_t i = 0; f->one_of != NULL && f->one_of[i] != NULL; i++)
            json_array_append_new(o, json_string(f->one_of[i]));
        for (size_t i = 0; f->one_of_int != NULL && f->one_of_int[i] != -1; i++)
            json_array_append_new(o, json_integer(f->one_of_int[i]));
        json_object_set_new(d, "one_of", o);
    }
    if (f->starts_with != NULL)
        json_object_set_new(d, "starts_with", json_string(f->starts_with));
    if (f->reference != NULL)
        json_object_set_new(d, "reference", json_string(f->reference));
    if ((f->type == GW_SF_ARRAY || f->type == GW_SF_SET) && f->elements != NULL)
        json_object_set_new(d, "elements", describe_field(f->elements));
    if (f->type == GW_SF_MAP) {
        if (f->keys != NULL)
            json_object_set_new(d, "keys", describe_field(f->keys));
        if (f->elements != NULL)
            json_object_set_new(d, "values", describe_field(f->elements));
    }
    if (f->type == GW_SF_RECORD && f->fields != NULL)
        json_object_set_new(d, "fields", describe_fields(f->fields, NULL));
    return d;
}

static json_t *describe_fields(const struct gw_schema_field *fields,
                               const struct gw_schema_field *overrides)
{
    json_t *arr = json_array();
    FOREACH_FIELD(fields, overrides, f, {
        if (f->flags & (GW_SF_INPUT_ONLY | GW_SF_OMIT_ABSENT))
            continue;
        json_t *one = json_object();
        json_object_set_new(one, f->name, describe_field(f));
        json_array_append_new(arr, one);
    });
    return arr;
}

json_t *gw_schema_describe(const struct gw_schema *s)
{
    if (s == NULL)
        return NULL;
    json_t *d = json_object();
    json_object_set_new(d, "fields", describe_fields(s->fields, NULL));
    return d;
}

json_t *gw_schema_describe_plugin(const char *plugin)
{
    const struct gw_schema_plugin *p = plugin != NULL ? gw_schema_plugin_find(plugin) : NULL;
    if (p == NULL)
        return NULL;
    json_t *d = json_object();
    /* Kong describes a plugin by its own schema: the fields it (re)defines, config included */
    json_object_set_new(d, "fields", describe_fields(p->overrides, NULL));
    return d;
}
