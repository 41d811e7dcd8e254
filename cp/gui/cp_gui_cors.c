/* cp/gui/cp_gui_cors.c: CORS decisions and headers for the Admin API (see cp_gui_cors.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_gui_cors.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_listen.h"
#include "gw_log.h"

#define CORS_ORIGIN_MAX 512

struct cp_gui_cors {
    char gui_origin[CORS_ORIGIN_MAX]; /* from admin_gui_url; "" = Portico Manager's own origin */
    int ports[GW_LISTEN_MAX];         /* admin_gui_listen ports */
    size_t nports;
};

/* Splits "scheme://host[:port]" (nothing after it) into host and port. Returns false for anything
 * else (paths, userinfo, odd characters, bad ports). */
static bool parse_origin(const char *o, const char **host, size_t *hostlen, int *port)
{
    int def;
    if (strncasecmp(o, "http://", 7) == 0) {
        o += 7;
        def = 80;
    } else if (strncasecmp(o, "https://", 8) == 0) {
        o += 8;
        def = 443;
    } else {
        return false;
    }
    const char *end;
    if (o[0] == '[') {
        end = strchr(o, ']');
        if (!end)
            return false;
        end++;
    } else {
        end = o + strcspn(o, ":");
    }
    if (end == o)
        return false;
    for (const char *p = o; p < end; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '[' || ch == ']' ||
                  (ch == ':' && o[0] == '[');
        if (!ok)
            return false;
    }
    *host = o;
    *hostlen = (size_t)(end - o);
    if (*end == '\0') {
        *port = def;
        return true;
    }
    if (*end != ':' || end[1] == '\0')
        return false;
    char *stop;
    long v = strtol(end + 1, &stop, 10);
    if (*stop != '\0' || v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* Host part of a Host header ("example.com:8001" -> "example.com", "[::1]:8001" -> "[::1]"). */
static size_t host_len(const char *h)
{
    if (h[0] == '[') {
        const char *end = strchr(h, ']');
        return end ? (size_t)(end - h) + 1 : 0;
    }
    return strcspn(h, ":");
}

struct cp_gui_cors *cp_gui_cors_create(const struct gw_conf *conf)
{
    struct cp_gui_cors *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    const char *url = gw_conf_str(conf, "admin_gui_url");
    if (url[0]) {
        /* Only the origin counts: "http://gui.example:8002/some/path" -> "http://gui.example:8002".
         */
        const char *rest = strstr(url, "://");
        size_t n = rest ? (size_t)(rest - url) + 3 + strcspn(rest + 3, "/?#") : 0;
        const char *host;
        size_t hl;
        int port;
        if (n == 0 || n >= sizeof(c->gui_origin)) {
            GW_LOG(GW_LOG_CRIT,
                   "invalid admin_gui_url (expected http(s)://host[:port]) value=\"%.100s\"", url);
            free(c);
            return NULL;
        }
        memcpy(c->gui_origin, url, n);
        c->gui_origin[n] = '\0';
        if (!parse_origin(c->gui_origin, &host, &hl, &port)) {
            GW_LOG(GW_LOG_CRIT,
                   "invalid admin_gui_url (expected http(s)://host[:port]) value=\"%.100s\"", url);
            free(c);
            return NULL;
        }
    }
    struct gw_listen l[GW_LISTEN_MAX];
    size_t nl = 0;
    char err[256];
    if (gw_listen_parse(gw_conf_str(conf, "admin_gui_listen"), l, &nl, err, sizeof(err)) != GW_OK)
        nl = 0;
    for (size_t i = 0; i < nl; i++)
        c->ports[c->nports++] = l[i].port;
    return c;
}

void cp_gui_cors_destroy(struct cp_gui_cors *c)
{
    free(c);
}

enum gw_err cp_gui_cors_origin(const struct cp_gui_cors *c, const char *origin, const char *host,
                               char *out, size_t outlen)
{
    const char *value = NULL;
    if (c->gui_origin[0]) {
        /* Kong: the configured origin whatever the request says (a browser on another origin
         * then refuses the answer itself). */
        value = c->gui_origin;
    } else if (!origin || !origin[0]) {
        value = "*";
    } else {
        const char *oh;
        size_t ohl;
        int port;
        if (!parse_origin(origin, &oh, &ohl, &port) || !host)
            return GW_ERR_DECLINED;
        size_t hl = host_len(host);
        if (hl != ohl || strncasecmp(oh, host, hl) != 0)
            return GW_ERR_DECLINED;
        bool port_ok = false;
        for (size_t i = 0; i < c->nports; i++)
            port_ok = port_ok || c->ports[i] == port;
        if (!port_ok)
            return GW_ERR_DECLINED;
        value = origin;
    }
    int n = snprintf(out, outlen, "%s", value);
    if (n < 0 || (size_t)n >= outlen)
        return GW_ERR_TOOBIG;
    return GW_OK;
}

void cp_gui_cors_apply(const struct cp_gui_cors *c, struct evhttp_request *req)
{
    if (!c)
        return;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *origin = evhttp_find_header(in, "Origin");
    char value[CORS_ORIGIN_MAX];
    if (cp_gui_cors_origin(c, origin, evhttp_find_header(in, "Host"), value, sizeof(value)) !=
        GW_OK)
        return;
    evhttp_add_header(out, "Access-Control-Allow-Origin", value);
    if (strcmp(value, "*") != 0)
        evhttp_add_header(out, "Vary", "Origin");
}

/* True when s is a sane header-name list ("content-type,authorization"). */
static bool header_list_ok(const char *s)
{
    if (strlen(s) > 1024)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == ',' || ch == ' ';
        if (!ok)
            return false;
    }
    return true;
}

void cp_gui_cors_preflight(const struct cp_gui_cors *c, struct evhttp_request *req,
                           const char *allow_methods)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    if (!evhttp_find_header(out, "Access-Control-Allow-Origin"))
        cp_gui_cors_apply(c, req);
    const char *req_headers = evhttp_find_header(in, "Access-Control-Request-Headers");
    evhttp_add_header(out, "Allow", allow_methods);
    evhttp_add_header(out, "Access-Control-Allow-Methods", allow_methods);
    evhttp_add_header(out, "Access-Control-Allow-Headers",
                      req_headers && header_list_ok(req_headers) ? req_headers : "Content-Type");
    evhttp_add_header(out, "Access-Control-Max-Age", "600");
    evhttp_send_reply(req, 204, "No Content", NULL);
}
