/* cp/declarative/cp_decl_parse.c: YAML (libyaml events) and JSON (jansson) readers for
 * declarative configuration files.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_parse.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gw_buf.h"

/* ---- scalar typing ------------------------------------------------------------------------ */

static bool eq_any(const char *s, size_t len, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
            return true;
    return false;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", "yes", "Yes",
                                         "YES",  "on",   "On",   "ON",  NULL};
static const char *const false_words[] = {"false", "False", "FALSE", "no",  "No",
                                          "NO",    "off",   "Off",   "OFF", NULL};
static const char *const inf_words[] = {".inf", ".Inf", ".INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

static bool is_digit_in(char c, int base)
{
    if (base == 2)
        return c == '0' || c == '1';
    if (base == 8)
        return c >= '0' && c <= '7';
    if (base == 10)
        return c >= '0' && c <= '9';
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Copies s without underscores into out (size > len). Returns the new length. */
static size_t strip_underscores(const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '_')
            out[n++] = s[i];
    out[n] = '\0';
    return n;
}

/* Integer forms of YAML 1.1: [-+]?(0|[1-9][0-9_]*), 0b..., 0x..., 0o... and 0[0-7_]+ (octal).
 * Returns true and sets *is_int when s is an integer; *val gets the value or, on overflow,
 * *is_int stays true and *overflow is set. */
static bool parse_int(const char *s, size_t len, long long *val, bool *overflow)
{
    size_t i = 0;
    bool neg = false;
    if (len == 0 || len > 80)
        return false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i >= len)
        return false;
    int base = 10;
    size_t start = i;
    if (s[i] == '0' && i + 1 < len) {
        char c = s[i + 1];
        if (c == 'b' || c == 'x' || c == 'o') {
            base = c == 'b' ? 2 : c == 'x' ? 16 : 8;
            start = i + 2;
        } else {
            base = 8;
            start = i + 1;
        }
    } else if (s[i] == '0') {
        *val = 0;
        *overflow = false;
        return true;
    }
    if (start >= len)
        return false;
    bool any = false;
    for (size_t k = start; k < len; k++) {
        if (s[k] == '_')
            continue;
        if (!is_digit_in(s[k], base))
            return false;
        any = true;
    }
    if (!any || s[start] == '_')
        return false;
    char digits[96];
    strip_underscores(s + start, len - start, digits);
    errno = 0;
    char *end = NULL;
    unsigned long long u = strtoull(digits, &end, base);
    if (errno == ERANGE || (!neg && u > (unsigned long long)LLONG_MAX) ||
        (neg && u > (unsigned long long)LLONG_MAX + 1ull)) {
        *overflow = true;
        return true;
    }
    *overflow = false;
    *val = neg ? (long long)(0ull - u) : (long long)u;
    return true;
}

/* Float forms: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)? with at least one digit, and
 * [-+]?[0-9][0-9_]*[eE][-+]?[0-9]+. */
static bool looks_float(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    bool dot = false;
    if (len == 0 || len > 80)
        return false;
    if (s[0] == '-' || s[0] == '+')
        i = 1;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digits++;
        else if (c == '_' && digits > 0)
            continue;
        else if (c == '.' && !dot)
            dot = true;
        else
            break;
    }
    if (digits == 0)
        return false;
    if (i == len)
        return dot;
    if (s[i] != 'e' && s[i] != 'E')
        return false;
    i++;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i >= len)
        return false;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

json_t *cp_decl_yaml_plain_scalar(const char *s, size_t len)
{
    if (len == 0 || eq_any(s, len, null_words))
        return json_null();
    if (eq_any(s, len, true_words))
        return json_true();
    if (eq_any(s, len, false_words))
        return json_false();
    long long iv;
    bool overflow = false;
    if (parse_int(s, len, &iv, &overflow)) {
        if (!overflow)
            return json_integer(iv);
        char buf[96];
        strip_underscores(s, len, buf);
        return json_real(strtod(buf, NULL));
    }
    if (looks_float(s, len)) {
        char buf[96];
        strip_underscores(s, len, buf);
        double d = strtod(buf, NULL);
        json_t *r = json_real(d);
        if (r)
            return r;
    }
    /* .inf/.nan have no JSON form: keep them as the strings they were written as. */
    (void)inf_words;
    (void)nan_words;
    return json_stringn(s, len);
}

/* ---- YAML reader ---------------------------------------------------------------------------- */

struct anchor {
    char *name;
    json_t *value; /* owned reference */
    size_t nodes;  /* values in the subtree (for the expansion bound) */
    bool complete; /* false while the anchored collection is being built (recursive alias) */
    struct anchor *next;
};

struct yreader {
    yaml_parser_t parser;
    struct anchor *anchors;
    size_t nodes;
    size_t max_nodes;
    char *err;
    size_t errlen;
    bool failed;
};

static void yfail(struct yreader *r, const yaml_mark_t *mark, const char *fmt, const char *arg)
{
    if (r->failed)
        return;
    r->failed = true;
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
    if (mark)
        snprintf(r->err, r->errlen, "line %zu column %zu: %s", mark->line + 1, mark->column + 1,
                 msg);
    else
        snprintf(r->err, r->errlen, "%s", msg);
}

static bool next_event(struct yreader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev))
        return true;
    if (!r->failed) {
        r->failed = true;
        const char *problem = r->parser.problem ? r->parser.problem : "invalid YAML";
        if (r->parser.error == YAML_MEMORY_ERROR)
            snprintf(r->err, r->errlen, "out of memory");
        else if (r->parser.context)
            snprintf(r->err, r->errlen, "line %zu column %zu: %s %s (line %zu)",
                     r->parser.problem_mark.line + 1, r->parser.problem_mark.column + 1, problem,
                     r->parser.context, r->parser.context_mark.line + 1);
        else
            snprintf(r->err, r->errlen, "line %zu column %zu: %s", r->parser.problem_mark.line + 1,
                     r->parser.problem_mark.column + 1, problem);
    }
    return false;
}

static struct anchor *find_anchor(struct yreader *r, const char *name)
{
    for (struct anchor *a = r->anchors; a; a = a->next)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* Registers (or redefines: YAML allows it, the latest wins) an anchor. */
static struct anchor *add_anchor(struct yreader *r, const char *name, json_t *value)
{
    struct anchor *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->name = strdup(name);
    if (!a->name) {
        free(a);
        return NULL;
    }
    a->value = json_incref(value);
    a->next = r->anchors;
    r->anchors = a;
    return a;
}

static bool count_node(struct yreader *r, const yaml_mark_t *mark)
{
    if (++r->nodes > r->max_nodes) {
        yfail(r, mark, "too many values (alias expansion limit)%s", NULL);
        return false;
    }
    return true;
}

static json_t *scalar_value(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag) {
        if (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0)
            return json_stringn(s, len);
        if (strcmp(tag, YAML_NULL_TAG) == 0)
            return json_null();
        if (strcmp(tag, YAML_BOOL_TAG) == 0 || strcmp(tag, YAML_INT_TAG) == 0 ||
            strcmp(tag, YAML_FLOAT_TAG) == 0)
            return cp_decl_yaml_plain_scalar(s, len);
        /* Unknown tags: the scalar is taken at face value. */
    }
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, len);
    return cp_decl_yaml_plain_scalar(s, len);
}

static json_t *read_node(struct yreader *r, yaml_event_t *ev, int depth);

/* Applies a `<<` merge value to obj: keys already present win. */
static bool apply_merge(struct yreader *r, json_t *obj, json_t *merge, const yaml_mark_t *mark)
{
    if (json_is_object(merge)) {
        const char *k;
        json_t *v;
        json_object_foreach(merge, k, v)
        {
            if (!json_object_get(obj, k) && json_object_set(obj, k, v) != 0) {
                yfail(r, mark, "out of memory%s", NULL);
                return false;
            }
        }
        return true;
    }
    if (json_is_array(merge)) {
        size_t i;
        json_t *m;
        json_array_foreach(merge, i, m)
        {
            if (!json_is_object(m)) {
                yfail(r, mark, "merge key '<<' expects a mapping or a list of mappings%s", NULL);
                return false;
            }
            if (!apply_merge(r, obj, m, mark))
                return false;
        }
        return true;
    }
    yfail(r, mark, "merge key '<<' expects a mapping or a list of mappings%s", NULL);
    return false;
}

static json_t *read_mapping(struct yreader *r, const yaml_event_t *start, int depth)
{
    json_t *obj = json_object();
    json_t *merges = json_array();
    if (!obj || !merges) {
        yfail(r, &start->start_mark, "out of memory%s", NULL);
        goto fail;
    }
    for (;;) {
        yaml_event_t kev;
        if (!next_event(r, &kev))
            goto fail;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        char *key = NULL;
        bool is_merge = false;
        if (kev.type == YAML_SCALAR_EVENT) {
            key = strndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
            is_merge =
                kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && key && strcmp(key, "<<") == 0;
            if (key && strlen(key) != kev.data.scalar.length) {
                yfail(r, &kev.start_mark, "mapping keys must not contain NUL bytes%s", NULL);
                free(key);
                yaml_event_delete(&kev);
                goto fail;
            }
        } else if (kev.type == YAML_ALIAS_EVENT) {
            struct anchor *a = find_anchor(r, (const char *)kev.data.alias.anchor);
            if (a && a->complete && json_is_string(a->value))
                key = strdup(json_string_value(a->value));
        }
        if (!key) {
            yfail(r, &kev.start_mark, "mapping keys must be scalars%s", NULL);
            yaml_event_delete(&kev);
            goto fail;
        }
        yaml_mark_t kmark = kev.start_mark;
        yaml_event_delete(&kev);

        yaml_event_t vev;
        if (!next_event(r, &vev)) {
            free(key);
            goto fail;
        }
        json_t *val = read_node(r, &vev, depth + 1);
        yaml_event_delete(&vev);
        if (!val) {
            free(key);
            goto fail;
        }
        int rc = is_merge ? json_array_append_new(merges, val) : json_object_set_new(obj, key, val);
        free(key);
        if (rc != 0) {
            yfail(r, &kmark, "out of memory%s", NULL);
            goto fail;
        }
    }
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m)
    {
        if (!apply_merge(r, obj, m, &start->start_mark))
            goto fail;
    }
    json_decref(merges);
    return obj;
fail:
    json_decref(obj);
    json_decref(merges);
    return NULL;
}

static json_t *read_sequence(struct yreader *r, int depth)
{
    json_t *arr = json_array();
    if (!arr) {
        yfail(r, NULL, "out of memory%s", NULL);
        return NULL;
    }
    for (;;) {
        yaml_event_t ev;
        if (!next_event(r, &ev))
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return arr;
        }
        json_t *v = read_node(r, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (!v || json_array_append_new(arr, v) != 0) {
            yfail(r, NULL, "out of memory%s", NULL);
            goto fail;
        }
    }
fail:
    json_decref(arr);
    return NULL;
}

/* Reads the node that starts with ev (borrowed; the caller deletes it). Returns owned JSON or
 * NULL with r->failed set. */
static json_t *read_node(struct yreader *r, yaml_event_t *ev, int depth)
{
    if (depth > CP_DECL_MAX_DEPTH) {
        yfail(r, &ev->start_mark, "nesting deeper than %s levels", "64");
        return NULL;
    }
    json_t *v = NULL;
    const char *anchor = NULL;
    size_t nodes_before = r->nodes;
    struct anchor *a = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (!count_node(r, &ev->start_mark))
            return NULL;
        v = scalar_value(ev);
        anchor = (const char *)ev->data.scalar.anchor;
        if (!v)
            yfail(r, &ev->start_mark, "out of memory%s", NULL);
        break;
    case YAML_ALIAS_EVENT: {
        a = find_anchor(r, (const char *)ev->data.alias.anchor);
        if (!a) {
            yfail(r, &ev->start_mark, "unknown alias '%s'", (const char *)ev->data.alias.anchor);
            return NULL;
        }
        if (!a->complete) {
            yfail(r, &ev->start_mark, "recursive alias '%s'", a->name);
            return NULL;
        }
        r->nodes += a->nodes;
        if (r->nodes > r->max_nodes) {
            yfail(r, &ev->start_mark, "too many values (alias expansion limit)%s", NULL);
            return NULL;
        }
        /* A copy: the flattener modifies entities in place and must not see shared ones. */
        v = json_deep_copy(a->value);
        if (!v)
            yfail(r, &ev->start_mark, "out of memory%s", NULL);
        return v;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (!count_node(r, &ev->start_mark))
            return NULL;
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        anchor = seq ? (const char *)ev->data.sequence_start.anchor
                     : (const char *)ev->data.mapping_start.anchor;
        if (anchor) {
            /* Registered before the children so a self-reference is detected as recursive. */
            json_t *placeholder = json_null();
            a = add_anchor(r, anchor, placeholder);
            if (!a) {
                yfail(r, &ev->start_mark, "out of memory%s", NULL);
                return NULL;
            }
            anchor = NULL;
        }
        v = seq ? read_sequence(r, depth) : read_mapping(r, ev, depth);
        if (a && v) {
            json_decref(a->value);
            a->value = json_incref(v);
            a->nodes = r->nodes - nodes_before;
            a->complete = true;
        }
        return v;
    }
    default:
        yfail(r, &ev->start_mark, "unexpected YAML event%s", NULL);
        return NULL;
    }
    if (v && anchor) {
        a = add_anchor(r, anchor, v);
        if (!a) {
            json_decref(v);
            yfail(r, &ev->start_mark, "out of memory%s", NULL);
            return NULL;
        }
        a->nodes = r->nodes - nodes_before;
        a->complete = true;
    }
    return v;
}

static enum gw_err parse_yaml(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    struct yreader r = {0};
    enum gw_err rc = GW_ERR_INVALID;
    json_t *doc = NULL;
    r.err = err;
    r.errlen = errlen;
    /* Without aliases a file cannot hold more values than it has bytes; the slack only
     * matters for alias expansion, which is what the bound is for. */
    r.max_nodes = len + 100000;
    if (!yaml_parser_initialize(&r.parser)) {
        snprintf(err, errlen, "out of memory");
        return GW_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    yaml_event_t ev;
    bool in_doc = false;
    for (;;) {
        if (!next_event(&r, &ev))
            goto out;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (doc) {
                yfail(&r, &ev.start_mark, "expected a single YAML document%s", NULL);
                yaml_event_delete(&ev);
                goto out;
            }
            in_doc = true;
        } else if (t == YAML_DOCUMENT_END_EVENT) {
            in_doc = false;
            if (!doc)
                doc = json_null();
        } else if (in_doc && (t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT ||
                              t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT)) {
            doc = read_node(&r, &ev, 0);
            if (!doc) {
                yaml_event_delete(&ev);
                goto out;
            }
        }
        yaml_event_delete(&ev);
    }
    if (!doc)
        doc = json_null();
    *out = doc;
    doc = NULL;
    rc = GW_OK;
out:
    json_decref(doc);
    while (r.anchors) {
        struct anchor *a = r.anchors;
        r.anchors = a->next;
        free(a->name);
        json_decref(a->value);
        free(a);
    }
    yaml_parser_delete(&r.parser);
    return rc;
}

static enum gw_err parse_json(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return GW_ERR_INVALID;
    }
    *out = v;
    return GW_OK;
}

enum gw_err cp_decl_parse(const char *text, size_t len, enum cp_decl_format fmt, json_t **out,
                          char *err, size_t errlen)
{
    *out = NULL;
    if (len > CP_DECL_MAX_INPUT) {
        snprintf(err, errlen, "configuration larger than %u bytes", CP_DECL_MAX_INPUT);
        return GW_ERR_TOOBIG;
    }
    if (fmt == CP_DECL_FORMAT_JSON)
        return parse_json(text, len, out, err, errlen);
    if (fmt == CP_DECL_FORMAT_AUTO) {
        size_t i = 0;
        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
            i++;
        if (i < len && (text[i] == '{' || text[i] == '[')) {
            char jerr[256];
            if (parse_json(text, len, out, jerr, sizeof(jerr)) == GW_OK)
                return GW_OK;
            /* Flow-style YAML also starts with '{'; report the JSON error if YAML fails too. */
            if (parse_yaml(text, len, out, err, errlen) == GW_OK)
                return GW_OK;
            snprintf(err, errlen, "%s", jerr);
            return GW_ERR_INVALID;
        }
    }
    return parse_yaml(text, len, out, err, errlen);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum gw_err cp_decl_parse_file(const char *path, json_t **out, char *err, size_t errlen)
{
    enum gw_err rc;
    struct gw_buf b;
    gw_buf_init(&b, CP_DECL_MAX_INPUT);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return GW_ERR_IO;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = gw_buf_append(&b, chunk, n);
        if (rc != GW_OK) {
            snprintf(err, errlen, "%s: %s", path,
                     rc == GW_ERR_TOOBIG ? "file larger than 64 MiB" : "out of memory");
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        rc = GW_ERR_IO;
        goto out;
    }
    enum cp_decl_format fmt = CP_DECL_FORMAT_AUTO;
    if (ends_with(path, ".json"))
        fmt = CP_DECL_FORMAT_JSON;
    else if (ends_with(path, ".yml") || ends_with(path, ".yaml"))
        fmt = CP_DECL_FORMAT_YAML;
    rc = cp_decl_parse(b.data ? b.data : "", b.len, fmt, out, err, errlen);
out:
    fclose(f);
    gw_buf_cleanup(&b);
    return rc;
}
