/* cp/admin/cp_admin_body.c: Admin API request body decoding (JSON, form, multipart).
 * SPDX-License-Identifier: Apache-2.0 */
#include "admin/cp_admin_body.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/cp_admin_router.h"

#define MAX_KEY_SEGS 16
#define MAX_INDEX    100000

enum seg_kind { SEG_NAME = 0, SEG_APPEND, SEG_KIND_COUNT_ };

struct seg {
    enum seg_kind kind;
    char key[128]; /* object key; indexes become "#<n>" */
};

static int parse_key(const char *key, struct seg *segs)
{
    int n = 0;
    const char *p = key;
    while (*p) {
        if (n == MAX_KEY_SEGS)
            return -1;
        if (*p == '[') {
            if (n == 0)
                return -1;
            const char *e = strchr(p, ']');
            if (!e)
                return -1;
            size_t l = (size_t)(e - p - 1);
            if (l == 0) {
                segs[n].kind = SEG_APPEND;
                segs[n].key[0] = '\0';
            } else {
                bool digits = true;
                for (size_t i = 1; i <= l; i++)
                    digits = digits && isdigit((unsigned char)p[i]);
                if (l >= sizeof(segs[n].key) - 2)
                    return -1;
                segs[n].kind = SEG_NAME;
                if (digits) {
                    long idx = strtol(p + 1, NULL, 10);
                    if (idx > MAX_INDEX)
                        return -1;
                    snprintf(segs[n].key, sizeof(segs[n].key), "#%06ld", idx);
                } else {
                    memcpy(segs[n].key, p + 1, l);
                    segs[n].key[l] = '\0';
                }
            }
            n++;
            p = e + 1;
            if (*p == '.')
                p++;
            else if (*p && *p != '[')
                return -1;
            continue;
        }
        size_t l = strcspn(p, ".[");
        if (l == 0 || l >= sizeof(segs[n].key))
            return -1;
        segs[n].kind = SEG_NAME;
        memcpy(segs[n].key, p, l);
        segs[n].key[l] = '\0';
        n++;
        p += l;
        if (*p == '.') {
            p++;
            if (!*p)
                return -1;
        }
    }
    for (int i = 0; i < n - 1; i++)
        if (segs[i].kind == SEG_APPEND)
            return -1;
    return n;
}

static bool utf8_ok(const char *s)
{
    json_t *t = json_string(s);
    json_decref(t);
    return t != NULL;
}

enum gw_err cp_admin_body_set(json_t *obj, const char *key, json_t *value)
{
    struct seg segs[MAX_KEY_SEGS];
    enum gw_err e = GW_ERR_INVALID;
    if (!utf8_ok(key)) /* object keys must be UTF-8 */
        goto out;
    int n = parse_key(key, segs);
    if (n <= 0 || !value)
        goto out;
    bool append = segs[n - 1].kind == SEG_APPEND;
    int last = append ? n - 2 : n - 1;
    json_t *cur = obj;
    for (int i = 0; i < last; i++) {
        json_t *child = json_object_get(cur, segs[i].key);
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(cur, segs[i].key, child) != 0) {
                e = GW_ERR_NOMEM;
                goto out;
            }
        } else if (!json_is_object(child)) {
            goto out;
        }
        cur = child;
    }
    const char *k = segs[last].key;
    json_t *existing = json_object_get(cur, k);
    if (!existing) {
        if (append) {
            json_t *arr = json_array();
            if (!arr || json_array_append(arr, value) != 0 || json_object_set_new(cur, k, arr)) {
                json_decref(arr);
                e = GW_ERR_NOMEM;
                goto out;
            }
        } else if (json_object_set(cur, k, value) != 0) {
            e = GW_ERR_NOMEM;
            goto out;
        }
    } else if (json_is_array(existing)) {
        if (json_array_append(existing, value) != 0) {
            e = GW_ERR_NOMEM;
            goto out;
        }
    } else if (json_is_object(existing)) {
        goto out;
    } else {
        json_t *arr = json_array();
        if (!arr || json_array_append(arr, existing) != 0 || json_array_append(arr, value) != 0 ||
            json_object_set_new(cur, k, arr) != 0) {
            json_decref(arr);
            e = GW_ERR_NOMEM;
            goto out;
        }
    }
    e = GW_OK;
out:
    json_decref(value);
    return e;
}

static bool index_object(json_t *o)
{
    if (json_object_size(o) == 0)
        return false;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (k[0] != '#' || !isdigit((unsigned char)k[1]))
            return false;
    }
    return true;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *finish(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *c = json_array_get(v, i);
            json_t *r = finish(c);
            if (r != c)
                json_array_set_new(v, i, r);
        }
        return v;
    }
    if (!json_is_object(v))
        return v;
    const char *k;
    json_t *c;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, c)
    {
        json_t *r = finish(c);
        if (r != c)
            json_object_set_new(v, k, r);
    }
    if (!index_object(v))
        return v;
    size_t n = json_object_size(v);
    const char **keys = calloc(n, sizeof(*keys));
    json_t *arr = json_array();
    if (!keys || !arr) {
        free(keys);
        json_decref(arr);
        return v;
    }
    size_t i = 0;
    json_object_foreach(v, k, c) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_keys); /* "#%06ld": lexical order is numeric order */
    for (i = 0; i < n; i++)
        json_array_append(arr, json_object_get(v, keys[i]));
    free(keys);
    return arr;
}

void cp_admin_body_finish(json_t *obj)
{
    const char *k;
    json_t *c;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, c)
    {
        json_t *r = finish(c);
        if (r != c)
            json_object_set_new(obj, k, r);
    }
}

/* Sets value (borrowed) at the structured key; a key that cannot build structure (too deep,
 * malformed, crossing a scalar) is kept as one literal field name, so schema validation reports
 * it as an unknown field instead of the value vanishing silently. GW_ERR_INVALID when the key
 * is not UTF-8 or the literal name is taken too. */
static enum gw_err set_or_literal(json_t *obj, const char *key, json_t *value)
{
    enum gw_err e = cp_admin_body_set(obj, key, json_incref(value));
    if (e != GW_ERR_INVALID)
        return e;
    if (!utf8_ok(key) || json_object_get(obj, key))
        return GW_ERR_INVALID;
    return json_object_set(obj, key, value) == 0 ? GW_OK : GW_ERR_NOMEM;
}

/* true when s[0..len) holds the escape "%00" */
static bool has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (s[i] == '%' && s[i + 1] == '0' && s[i + 2] == '0')
            return true;
    return false;
}

enum gw_err cp_admin_body_form(const char *text, size_t len, json_t **out)
{
    json_t *obj = json_object();
    if (!obj)
        return GW_ERR_NOMEM;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '&')
            end++;
        if (end > i) {
            const char *eq = memchr(text + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (text + i)) : end - i;
            const char *vstart = eq ? eq + 1 : text + end;
            size_t vlen = eq ? (size_t)(text + end - vstart) : 0;
            /* a NUL byte, raw or escaped, would truncate the text silently: refused */
            if (memchr(text + i, '\0', end - i) || has_nul_escape(text + i, end - i)) {
                json_decref(obj);
                return GW_ERR_INVALID;
            }
            char *k = cp_admin_unescape(text + i, klen, true);
            char *v = cp_admin_unescape(vstart, vlen, true);
            if (!k)
                k = strndup(text + i, klen);
            if (!v)
                v = strndup(vstart, vlen);
            if (!k || !v) {
                free(k);
                free(v);
                json_decref(obj);
                return GW_ERR_NOMEM;
            }
            json_t *jv = json_string(v);
            if (!jv) { /* not UTF-8 */
                free(k);
                free(v);
                json_decref(obj);
                return GW_ERR_INVALID;
            }
            enum gw_err se = k[0] ? set_or_literal(obj, k, jv) : GW_OK;
            json_decref(jv);
            jv = NULL;
            if (se != GW_OK) {
                free(k);
                free(v);
                json_decref(obj);
                return se;
            }
            free(k);
            free(v);
        }
        i = end + 1;
    }
    cp_admin_body_finish(obj);
    *out = obj;
    return GW_OK;
}

static const char *memmem_s(const char *h, size_t hl, const char *n, size_t nl)
{
    return memmem(h, hl, n, nl);
}

/* Extracts the value of param (e.g. "name") from a header value like
 * `form-data; name="x"; filename="y"`. Returns owned string or NULL. */
static char *header_param(const char *hv, size_t hl, const char *param)
{
    size_t pl = strlen(param);
    const char *p = hv, *end = hv + hl;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            return NULL;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(end - p) > pl && strncasecmp(p, param, pl) == 0 && p[pl] == '=') {
            p += pl + 1;
            if (p < end && *p == '"') {
                p++;
                const char *q = memchr(p, '"', (size_t)(end - p));
                if (!q)
                    return NULL;
                return strndup(p, (size_t)(q - p));
            }
            size_t l = 0;
            while (p + l < end && p[l] != ';' && p[l] != ' ')
                l++;
            return strndup(p, l);
        }
    }
    return NULL;
}

enum gw_err cp_admin_body_multipart(const char *boundary, const char *body, size_t len,
                                    json_t **out)
{
    char delim[256];
    int dl = snprintf(delim, sizeof(delim), "--%s", boundary);
    if (dl <= 2 || (size_t)dl >= sizeof(delim))
        return GW_ERR_INVALID;
    json_t *obj = json_object();
    if (!obj)
        return GW_ERR_NOMEM;
    enum gw_err e = GW_ERR_INVALID;
    const char *p = memmem_s(body, len, delim, (size_t)dl);
    const char *end = body + len;
    if (!p)
        goto fail;
    for (;;) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            goto fail;
        p += 2;
        const char *hend = memmem_s(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            goto fail;
        if (memchr(p, '\0', (size_t)(hend - p))) /* a NUL would cut the part's name short */
            goto fail;
        char *name = NULL;
        const char *h = p;
        while (h < hend) {
            const char *eol = memmem_s(h, (size_t)(hend - h) + 2, "\r\n", 2);
            if (!eol || eol > hend)
                eol = hend;
            if ((size_t)(eol - h) > 20 && strncasecmp(h, "Content-Disposition:", 20) == 0 && !name)
                name = header_param(h + 20, (size_t)(eol - h - 20), "name");
            h = eol + 2;
        }
        const char *data = hend + 4;
        char ndelim[260];
        int nl = snprintf(ndelim, sizeof(ndelim), "\r\n%s", delim);
        const char *next = memmem_s(data, (size_t)(end - data), ndelim, (size_t)nl);
        if (!next) {
            free(name);
            goto fail;
        }
        if (name && name[0]) {
            json_t *v = json_stringn(data, (size_t)(next - data));
            if (!v) {
                free(name);
                goto fail;
            }
            enum gw_err se = set_or_literal(obj, name, v);
            json_decref(v);
            if (se != GW_OK) {
                free(name);
                e = se;
                goto fail;
            }
        }
        free(name);
        p = next + 2;
    }
    cp_admin_body_finish(obj);
    *out = obj;
    return GW_OK;
fail:
    json_decref(obj);
    return e;
}

static bool type_is(const char *ct, const char *want)
{
    while (*ct == ' ')
        ct++;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

enum gw_err cp_admin_body_decode(const char *content_type, const char *body, size_t len,
                                 json_t **out, enum cp_admin_body_type *type)
{
    *out = NULL;
    *type = CP_ADMIN_BODY_NONE;
    bool empty = len == 0;
    if (!content_type || !*content_type) {
        if (!empty)
            return GW_ERR_DECLINED;
        *out = json_object();
        return *out ? GW_OK : GW_ERR_NOMEM;
    }
    if (type_is(content_type, "application/json")) {
        *type = CP_ADMIN_BODY_JSON;
        size_t i = 0;
        while (i < len && isspace((unsigned char)body[i]))
            i++;
        if (i == len) {
            *out = json_object();
            return *out ? GW_OK : GW_ERR_NOMEM;
        }
        json_error_t je;
        json_t *v = json_loadb(body, len, 0, &je);
        if (!v || !json_is_object(v)) {
            json_decref(v);
            return GW_ERR_INVALID;
        }
        *out = v;
        return GW_OK;
    }
    if (type_is(content_type, "application/x-www-form-urlencoded")) {
        *type = CP_ADMIN_BODY_FORM;
        return cp_admin_body_form(body, len, out);
    }
    if (type_is(content_type, "multipart/form-data")) {
        *type = CP_ADMIN_BODY_MULTIPART;
        if (empty) {
            *out = json_object();
            return *out ? GW_OK : GW_ERR_NOMEM;
        }
        char *b = header_param(content_type, strlen(content_type), "boundary");
        if (!b)
            return GW_ERR_INVALID;
        enum gw_err e = cp_admin_body_multipart(b, body, len, out);
        free(b);
        return e;
    }
    if (empty) {
        *out = json_object();
        return *out ? GW_OK : GW_ERR_NOMEM;
    }
    return GW_ERR_DECLINED;
}
