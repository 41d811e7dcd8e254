/* dp/plugins/dp_plugin_util.c: helpers shared by plugins: Kong-style error responses, query
 * string access, percent-decoding.
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_plugin.h"

#include <stdlib.h>
#include <string.h>

#include "gw_buf.h"
#include "gw_log.h"

/* Longest error message body we produce (messages come from config: error_message). */
#define ERROR_BODY_MAX 4096

static enum gw_err json_escape_into(struct gw_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        enum gw_err e;
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            e = gw_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            e = gw_buf_appendf(b, "\\u%04x", *p);
        } else {
            e = gw_buf_append(b, p, 1);
        }
        if (e != GW_OK)
            return e;
    }
    return GW_OK;
}

enum dp_plugin_rc dp_plugin_respond_error(struct dp_plugin_call *c, int status, const char *message,
                                          const struct dp_header *headers, size_t nheaders)
{
    struct gw_buf body;
    gw_buf_init(&body, ERROR_BODY_MAX);
    struct dp_header hdrs[16];
    size_t n = 0;
    hdrs[n++] = (struct dp_header){"Content-Type", "application/json; charset=utf-8"};
    for (size_t i = 0; i < nheaders && n < sizeof(hdrs) / sizeof(hdrs[0]); i++)
        hdrs[n++] = headers[i];
    enum gw_err e = gw_buf_append_str(&body, "{\"message\":\"");
    if (e == GW_OK)
        e = json_escape_into(&body, message ? message : "");
    if (e == GW_OK)
        e = gw_buf_append_str(&body, "\"}");
    if (e != GW_OK) {
        /* Message too long for the bound: fall back to a fixed body rather than fail. */
        gw_buf_reset(&body);
        gw_buf_append_str(&body, "{\"message\":\"An unexpected error occurred\"}");
    }
    e = c->req->ops->respond(c->req, status, hdrs, n, body.data ? body.data : "", body.len);
    if (e != GW_OK)
        GW_LOG(GW_LOG_ERROR, "plugin could not respond status=%d error=\"%s\"", status,
               gw_err_str(e));
    gw_buf_cleanup(&body);
    return DP_PLUGIN_RESPONDED;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t dp_plugin_url_decode(const char *s, size_t n, bool plus, char *out, size_t outlen)
{
    size_t o = 0;
    if (!outlen)
        return 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            out[o++] =
                (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (ch == '+' && plus) {
            out[o++] = ' ';
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return o;
}

/* Compares the decoded form of the n-byte name s with name. */
static bool name_matches(const char *s, size_t n, const char *name)
{
    char tmp[256];
    if (n >= sizeof(tmp) * 3)
        return false;
    size_t len = dp_plugin_url_decode(s, n, true, tmp, sizeof(tmp));
    return len == strlen(name) && memcmp(tmp, name, len) == 0 && len < sizeof(tmp) - 1;
}

size_t dp_plugin_query_get(const char *q, const char *name, char *out, size_t outlen)
{
    size_t count = 0;
    if (outlen)
        out[0] = '\0';
    if (!q)
        return 0;
    const char *p = q;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t nlen = eq ? (size_t)(eq - p) : seg;
        if (nlen && name_matches(p, nlen, name)) {
            if (count == 0 && outlen) {
                if (eq)
                    dp_plugin_url_decode(eq + 1, seg - nlen - 1, true, out, outlen);
                else
                    out[0] = '\0';
            }
            count++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return count;
}

enum gw_err dp_plugin_query_remove(const char *q, const char *name, char **out)
{
    size_t qlen = q ? strlen(q) : 0;
    char *res = malloc(qlen + 1);
    if (!res)
        return GW_ERR_NOMEM;
    size_t o = 0;
    const char *p = q ? q : "";
    while (*p) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t nlen = eq ? (size_t)(eq - p) : seg;
        if (seg && !(nlen && name_matches(p, nlen, name))) {
            if (o)
                res[o++] = '&';
            memcpy(res + o, p, seg);
            o += seg;
        }
        if (!end)
            break;
        p = end + 1;
    }
    res[o] = '\0';
    *out = res;
    return GW_OK;
}

bool dp_plugin_streq_ci(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    for (; *a && *b; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return *a == *b;
}

enum gw_err dp_header_line_make(struct dp_header_line *out, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = value ? strlen(value) : 0;
    *out = (struct dp_header_line){0};
    if (!nlen || strpbrk(name, "\r\n") || (value && strpbrk(value, "\r\n")))
        return GW_ERR_INVALID;
    size_t total = value ? nlen + vlen + 5 : nlen + 1;
    char *line = malloc(total);
    if (!line)
        return GW_ERR_NOMEM;
    memcpy(line, name, nlen);
    if (value) {
        memcpy(line + nlen, ": ", 2);
        memcpy(line + nlen + 2, value, vlen);
        memcpy(line + nlen + 2 + vlen, "\r\n", 3);
    } else {
        line[nlen] = '\0';
    }
    *out = (struct dp_header_line){line, nlen, vlen, !value};
    return GW_OK;
}

void dp_header_line_free(struct dp_header_line *l)
{
    free((char *)l->line);
    *l = (struct dp_header_line){0};
}

size_t dp_header_line_put(char *buf, size_t cap, const char *name, size_t nlen, const char *value,
                          size_t vlen, struct dp_header_line *out)
{
    size_t total = nlen + vlen + 4;
    if (total > cap)
        return 0;
    memcpy(buf, name, nlen);
    memcpy(buf + nlen, ": ", 2);
    memcpy(buf + nlen + 2, value, vlen);
    memcpy(buf + nlen + 2 + vlen, "\r\n", 2);
    *out = (struct dp_header_line){buf, nlen, vlen, false};
    return total;
}
