/* cp/admin/cp_admin_page.c: pagination tokens (base64 JSON keys), page size and tag filters.
 * SPDX-License-Identifier: Apache-2.0 */
#include "admin/cp_admin_page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cp_admin_base64_encode(const unsigned char *in, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = B64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = B64[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-' || c == ' ') /* ' ': a '+' that a query string decoded */
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

unsigned char *cp_admin_base64_decode(const char *in, size_t *n)
{
    size_t len = strlen(in);
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *n = o;
    return out;
}

char *cp_admin_offset_encode(const json_t *key)
{
    char *j = json_dumps(key, JSON_COMPACT);
    if (!j)
        return NULL;
    char *t = cp_admin_base64_encode((const unsigned char *)j, strlen(j));
    free(j);
    return t;
}

enum gw_err cp_admin_offset_decode(const char *token, size_t nkeys, json_t **key, char *why,
                                   size_t whylen)
{
    *key = NULL;
    size_t n = 0;
    unsigned char *raw = cp_admin_base64_decode(token, &n);
    if (!raw || n == 0) {
        free(raw);
        snprintf(why, whylen, "bad base64 encoding");
        return GW_ERR_INVALID;
    }
    json_error_t je;
    json_t *v = json_loadb((const char *)raw, n, 0, &je);
    free(raw);
    if (!v || !json_is_array(v)) {
        json_decref(v);
        snprintf(why, whylen, "bad json encoding");
        return GW_ERR_INVALID;
    }
    if (json_array_size(v) != nkeys) {
        json_decref(v);
        snprintf(why, whylen, "bad json encoding");
        return GW_ERR_INVALID;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (!json_is_string(json_array_get(v, i))) {
            json_decref(v);
            snprintf(why, whylen, "bad json encoding");
            return GW_ERR_INVALID;
        }
    }
    *key = v;
    return GW_OK;
}

enum gw_err cp_admin_page_size(const char *arg, size_t *size, char *msg, size_t msglen)
{
    *size = CP_ADMIN_PAGE_DEFAULT;
    if (!arg)
        return GW_OK;
    char *end = NULL;
    errno = 0;
    double d = strtod(arg, &end);
    if (!*arg || end == arg || *end != '\0' || errno == ERANGE || d != d) {
        snprintf(msg, msglen, "size must be a number");
        return GW_ERR_INVALID;
    }
    if (d < 1 || d > CP_ADMIN_PAGE_MAX || d != (double)(long)d) {
        snprintf(msg, msglen, "size must be an integer between 1 and %d", CP_ADMIN_PAGE_MAX);
        return GW_ERR_INVALID;
    }
    *size = (size_t)d;
    return GW_OK;
}

/* Kong's tag bytes: 0x20-0x7E except ',' and '/', plus 0x80-0xF4. */
static bool tag_byte(unsigned char c)
{
    return (c >= 0x20 && c <= 0x7e && c != ',' && c != '/') || (c >= 0x80 && c <= 0xf4);
}

enum gw_err cp_admin_page_tags(const char *arg, json_t **tags, bool *any, char *msg, size_t msglen)
{
    *tags = NULL;
    *any = false;
    if (!arg || !*arg) {
        snprintf(msg, msglen, "cannot be null");
        return GW_ERR_INVALID;
    }
    bool has_comma = strchr(arg, ',') != NULL, has_slash = strchr(arg, '/') != NULL;
    for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
        if (!tag_byte(*p) && *p != ',' && *p != '/') {
            snprintf(msg, msglen,
                     "must only contain printable ascii (except `,` and `/`) or valid utf-8");
            return GW_ERR_INVALID;
        }
    }
    char sep = has_slash ? '/' : ',';
    size_t alen = strlen(arg);
    if ((has_comma && has_slash) || arg[0] == sep || arg[alen - 1] == sep ||
        strstr(arg, sep == ',' ? ",," : "//")) {
        snprintf(msg, msglen, "must be a table");
        return GW_ERR_INVALID;
    }
    json_t *arr = json_array();
    if (!arr)
        return GW_ERR_NOMEM;
    const char *p = arg;
    for (;;) {
        const char *e = strchr(p, sep);
        size_t l = e ? (size_t)(e - p) : strlen(p);
        json_t *s = json_stringn(p, l);
        if (!s) {
            json_decref(arr);
            snprintf(msg, msglen,
                     "must only contain printable ascii (except `,` and `/`) or valid utf-8");
            return GW_ERR_INVALID;
        }
        json_array_append_new(arr, s);
        if (!e)
            break;
        p = e + 1;
    }
    if (json_array_size(arr) > CP_ADMIN_MAX_TAGS) {
        json_decref(arr);
        snprintf(msg, msglen, "cannot query more than %d tags", CP_ADMIN_MAX_TAGS);
        return GW_ERR_INVALID;
    }
    *tags = arr;
    *any = has_slash;
    return GW_OK;
}
