/* dp/dp_error_body.c: Kong's error-response formats (kong.tools.http get_response_type and
 * get_error_template, Kong 3.x), see dp_error_body.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_error_body.h"

#include <stdbool.h>
#include <string.h>

#include "dp_http.h"

/* [a-z0-9][a-z0-9-!#$&^_+.]+ or "*": Kong's media type name (at least 2 characters). */
static bool name_char(unsigned char ch, bool first)
{
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
        return true;
    if (ch >= '0' && ch <= '9')
        return true;
    return !first && ch && strchr("-!#$&^_+.", ch) != NULL;
}

static size_t name_len(const char *p, const char *end)
{
    if (p < end && *p == '*')
        return 1;
    size_t n = 0;
    while (p + n < end && name_char((unsigned char)p[n], n == 0))
        n++;
    return n >= 2 ? n : 0;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* q = 1, 1., 1.0, 1.00, 1.000, 0, 0., 0.d, 0.dd, 0.ddd (Kong's pattern; "1." is 1). Sets *q and
 * returns the length matched, 0 when the value does not fit the pattern. */
static size_t parse_q(const char *p, const char *end, double *q)
{
    if (p >= end || (*p != '0' && *p != '1'))
        return 0;
    size_t n = 1;
    double v = *p - '0', scale = 0.1;
    if (p + n < end && p[n] == '.') {
        n++;
        for (int i = 0; i < 3 && p + n < end; i++, n++) {
            if (*p == '1' ? p[n] != '0' : (p[n] < '0' || p[n] > '9'))
                break;
            v += (p[n] - '0') * scale;
            scale /= 10;
        }
    }
    *q = v;
    return n;
}

/* One media range: the type it maps to and its q; false when it does not parse. */
static bool media_range(const char *p, const char *end, enum dp_error_type *type, double *q)
{
    while (p < end && is_ws(*p))
        p++;
    const char *t = p;
    size_t tl = name_len(p, end);
    if (!tl || p + tl >= end || p[tl] != '/')
        return false;
    const char *s = p + tl + 1;
    size_t sl = name_len(s, end);
    if (!sl)
        return false;
    p = s + sl;
    *q = 1;
    for (;;) { /* parameters: ;q=... or ;name[=value] */
        const char *x = p;
        while (x < end && is_ws(*x))
            x++;
        if (x >= end || *x != ';')
            break;
        x++;
        while (x < end && is_ws(*x))
            x++;
        double v;
        size_t n;
        if (end - x >= 2 && (x[0] | 0x20) == 'q' && x[1] == '=' && (n = parse_q(x + 2, end, &v))) {
            *q = v;
            p = x + 2 + n;
            continue;
        }
        if (!(n = name_len(x, end)) || (n == 1 && *x == '*'))
            break;
        x += n;
        if (x < end && *x == '=')
            while (x < end && *x != ';')
                x++;
        p = x;
    }
    if (sl == 1 && *s == '*')
        *type = tl == 4 && dp_token_ieq(t, "text", 4) ? DP_ERROR_PLAIN : DP_ERROR_JSON;
    else if (tl == 4 && dp_token_ieq(t, "text", 4) && sl == 4 && dp_token_ieq(s, "html", 4))
        *type = DP_ERROR_HTML;
    else if (tl == 4 && dp_token_ieq(t, "text", 4) && sl == 5 && dp_token_ieq(s, "plain", 5))
        *type = DP_ERROR_PLAIN;
    else if (tl == 11 && dp_token_ieq(t, "application", 11) && sl == 3 && dp_token_ieq(s, "xml", 3))
        *type = DP_ERROR_XML;
    else
        *type = DP_ERROR_JSON;
    return true;
}

enum dp_error_type dp_error_type_from_accept(const char *accept, size_t len,
                                             enum dp_error_type current, double *best_q)
{
    const char *p = accept, *end = accept + len;
    while (p && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        enum dp_error_type t;
        double q;
        if (media_range(p, stop, &t, &q) && q > *best_q) {
            *best_q = q;
            current = t;
        }
        p = comma ? comma + 1 : end;
    }
    return current;
}

const char *dp_error_content_type(enum dp_error_type t)
{
    switch (t) {
    case DP_ERROR_HTML:
        return "text/html; charset=utf-8";
    case DP_ERROR_XML:
        return "application/xml; charset=utf-8";
    case DP_ERROR_PLAIN:
        return "text/plain; charset=utf-8";
    case DP_ERROR_JSON:
    default:
        return "application/json; charset=utf-8";
    }
}

enum gw_err dp_error_body(struct gw_buf *o, enum dp_error_type t, const char *message,
                          const char *request_id)
{
    switch (t) {
    case DP_ERROR_HTML:
        return gw_buf_appendf(o,
                              "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n"
                              "    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n"
                              "    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n",
                              message, request_id);
    case DP_ERROR_XML:
        return gw_buf_appendf(o,
                              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s"
                              "</message>\n  <requestid>%s</requestid>\n</error>\n",
                              message, request_id);
    case DP_ERROR_PLAIN:
        return gw_buf_appendf(o, "%s\nrequest_id: %s\n", message, request_id);
    case DP_ERROR_JSON:
    default:
        return gw_buf_appendf(o, "{\"message\":\"%s\",\"request_id\":\"%s\"}", message, request_id);
    }
}
