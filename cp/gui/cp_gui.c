/* cp/gui/cp_gui.c: Portico Manager's HTTP server: the embedded static files, /config.js, ETags,
 * security headers, on admin_gui_listen with libevent's evhttp on the control plane's loop.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_gui.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_gui_assets.h"
#include "gw_listen.h"
#include "gw_log.h"

#define GUI_CONFIG_JS_MAX 2048
#define GUI_ORIGIN_MAX    512
#define GUI_CSP_MAX       1024

struct cp_gui {
    struct evhttp *http;
    char api_url[GUI_ORIGIN_MAX]; /* admin_gui_api_url without a trailing slash; "" = same host */
    int api_port;                 /* first admin_listen port; 0 = Admin API off */
    int api_ssl;                  /* first admin_listen has the ssl flag */
    char config_js[GUI_CONFIG_JS_MAX];
    size_t config_js_len;
};

static struct cp_gui *gui;

/* URL characters we put into a script and a header without escaping: RFC 3986 unreserved,
 * gen-delims and the sub-delims that are harmless in both places. No quotes, backslash, angle
 * brackets, spaces or controls. */
static bool url_char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return strchr("-._~:/?#[]@!$&()*+,;=%", c) != NULL && c != '\0';
}

/* Returns the length of the scheme://authority prefix of url, or 0 when url is not an http or
 * https URL made of safe characters with a non-empty authority. */
static size_t url_origin_len(const char *url)
{
    size_t skip;
    if (strncmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return 0;
    for (const char *p = url; *p; p++) {
        if (!url_char_ok((unsigned char)*p))
            return 0;
    }
    size_t n = skip + strcspn(url + skip, "/?#");
    if (n == skip)
        return 0;
    /* The authority may not carry userinfo (it would end up in a header). */
    if (memchr(url + skip, '@', n - skip))
        return 0;
    return n;
}

enum gw_err cp_gui_config_js(const char *api_url, int api_port, int api_ssl, int token_required,
                             char *out, size_t outlen)
{
    if (api_url[0] && url_origin_len(api_url) == 0)
        return GW_ERR_INVALID;
    int n = snprintf(out, outlen,
                     "/* Portico Manager runtime configuration, written by portico-cp. */\n"
                     "window.PORTICO_CONFIG = {\"apiUrl\": \"%s\", \"apiPort\": %d, "
                     "\"apiScheme\": \"%s\", \"tokenRequired\": %s, \"version\": \"%s\"};\n",
                     api_url, api_port, api_ssl ? "https" : "http",
                     token_required ? "true" : "false", PORTICO_VERSION);
    if (n < 0 || (size_t)n >= outlen)
        return GW_ERR_TOOBIG;
    return GW_OK;
}

enum gw_err cp_gui_api_origin(const char *api_url, const char *host_header, int api_port,
                              int api_ssl, char *out, size_t outlen)
{
    int n;
    if (api_url && api_url[0]) {
        size_t len = url_origin_len(api_url);
        if (len == 0)
            return GW_ERR_INVALID;
        n = snprintf(out, outlen, "%.*s", (int)len, api_url);
    } else {
        if (!host_header || !host_header[0] || api_port <= 0)
            return GW_ERR_INVALID;
        size_t hlen;
        if (host_header[0] == '[') {
            const char *end = strchr(host_header, ']');
            if (!end)
                return GW_ERR_INVALID;
            hlen = (size_t)(end - host_header) + 1;
        } else {
            hlen = strcspn(host_header, ":");
        }
        if (hlen == 0)
            return GW_ERR_INVALID;
        for (size_t i = 0; i < hlen; i++) {
            unsigned char c = (unsigned char)host_header[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
            if (!ok)
                return GW_ERR_INVALID;
        }
        n = snprintf(out, outlen, "%s://%.*s:%d", api_ssl ? "https" : "http", (int)hlen,
                     host_header, api_port);
    }
    if (n < 0 || (size_t)n >= outlen)
        return GW_ERR_TOOBIG;
    return GW_OK;
}

static const struct cp_gui_asset *asset_find(const char *path)
{
    for (size_t i = 0; i < cp_gui_nassets; i++) {
        if (strcmp(cp_gui_assets[i].path, path) == 0)
            return &cp_gui_assets[i];
    }
    return NULL;
}

/* True when the If-None-Match header names etag (or is "*"). ETags are quoted hex, so finding
 * the quoted value inside the list is an exact match. */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    if (strcmp(if_none_match, "*") == 0)
        return true;
    return strstr(if_none_match, etag) != NULL;
}

static void add_common_headers(struct evkeyvalq *h)
{
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
}

static void send_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    add_common_headers(h);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *body = evbuffer_new();
    if (body)
        evbuffer_add_printf(body, "%s\n", text);
    evhttp_send_reply(req, code, reason, body);
    if (body)
        evbuffer_free(body);
}

static void add_csp(struct evhttp_request *req, struct evkeyvalq *h)
{
    char origin[GUI_ORIGIN_MAX];
    char csp[GUI_CSP_MAX];
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    const char *connect = "'self'";
    if (cp_gui_api_origin(gui->api_url, host, gui->api_port, gui->api_ssl, origin,
                          sizeof(origin)) == GW_OK)
        connect = origin;
    int n = snprintf(csp, sizeof(csp),
                     "default-src 'self'; script-src 'self'; style-src 'self'; "
                     "img-src 'self' data:; connect-src 'self' %s; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'none'",
                     connect);
    if (n > 0 && (size_t)n < sizeof(csp))
        evhttp_add_header(h, "Content-Security-Policy", csp);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        send_text(req, 405, "Method Not Allowed", "Method not allowed");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !path[0] || strcmp(path, "/") == 0)
        path = "/index.html";

    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (strcmp(path, "/config.js") == 0) {
        add_common_headers(h);
        evhttp_add_header(h, "Content-Type", "text/javascript; charset=utf-8");
        evhttp_add_header(h, "Cache-Control", "no-store");
        struct evbuffer *body = evbuffer_new();
        if (!body) {
            send_text(req, 500, "Internal Server Error", "out of memory");
            return;
        }
        evbuffer_add_reference(body, gui->config_js, gui->config_js_len, NULL, NULL);
        evhttp_send_reply(req, 200, "OK", body);
        evbuffer_free(body);
        return;
    }

    const struct cp_gui_asset *a = asset_find(path);
    if (!a) {
        send_text(req, 404, "Not Found", "Not found");
        return;
    }
    add_common_headers(h);
    evhttp_add_header(h, "ETag", a->etag);
    /* Revalidate every time: the ETag makes that a cheap 304, and a new portico-cp version is
     * picked up at once without stale scripts mixing with new ones. */
    evhttp_add_header(h, "Cache-Control", "no-cache");
    if (strncmp(a->content_type, "text/html", 9) == 0)
        add_csp(req, h);
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
    if (etag_matches(inm, a->etag)) {
        evhttp_send_reply(req, 304, "Not Modified", NULL);
        return;
    }
    evhttp_add_header(h, "Content-Type", a->content_type);
    struct evbuffer *body = evbuffer_new();
    if (!body) {
        send_text(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    evbuffer_add_reference(body, a->data, a->len, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
}

enum gw_err cp_gui_start(struct event_base *base, const struct gw_conf *conf)
{
    enum gw_err rc = GW_OK;
    char err[256];
    struct gw_listen gl[GW_LISTEN_MAX], al[GW_LISTEN_MAX];
    size_t ngl = 0, nal = 0;

    if (gui)
        return GW_ERR_INTERNAL;
    if (gw_listen_parse(gw_conf_str(conf, "admin_gui_listen"), gl, &ngl, err, sizeof(err)) !=
        GW_OK) {
        GW_LOG(GW_LOG_CRIT, "invalid admin_gui_listen error=\"%s\"", err);
        return GW_ERR_INVALID;
    }
    if (ngl == 0) {
        GW_LOG(GW_LOG_INFO, "Portico Manager disabled (admin_gui_listen = off)");
        return GW_OK;
    }
    if (gw_listen_parse(gw_conf_str(conf, "admin_listen"), al, &nal, err, sizeof(err)) != GW_OK)
        nal = 0;

    gui = calloc(1, sizeof(*gui));
    if (!gui)
        return GW_ERR_NOMEM;
    const char *api_url = gw_conf_str(conf, "admin_gui_api_url");
    size_t ulen = strlen(api_url);
    while (ulen > 0 && api_url[ulen - 1] == '/')
        ulen--;
    if (ulen >= sizeof(gui->api_url)) {
        GW_LOG(GW_LOG_CRIT, "admin_gui_api_url is too long");
        rc = GW_ERR_INVALID;
        goto fail;
    }
    memcpy(gui->api_url, api_url, ulen);
    gui->api_url[ulen] = '\0';
    gui->api_port = nal > 0 ? al[0].port : 0;
    gui->api_ssl = nal > 0 && al[0].ssl;
    const char *token = gw_conf_str(conf, "admin_token");
    rc = cp_gui_config_js(gui->api_url, gui->api_port, gui->api_ssl, token[0] != '\0',
                          gui->config_js, sizeof(gui->config_js));
    if (rc != GW_OK) {
        GW_LOG(GW_LOG_CRIT,
               "invalid admin_gui_api_url (expected an http:// or https:// URL) "
               "value=\"%.100s\"",
               gui->api_url);
        rc = GW_ERR_INVALID;
        goto fail;
    }
    gui->config_js_len = strlen(gui->config_js);

    gui->http = evhttp_new(base);
    if (!gui->http) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    evhttp_set_timeout(gui->http, 60);
    evhttp_set_max_headers_size(gui->http, 32 * 1024);
    evhttp_set_max_body_size(gui->http, 4096);
    evhttp_set_allowed_methods(gui->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(gui->http, on_request, NULL);
    for (size_t i = 0; i < ngl; i++) {
        if (gl[i].ssl) {
            GW_LOG(GW_LOG_CRIT,
                   "admin_gui_listen: the ssl flag is not supported; put a TLS "
                   "proxy in front of Portico Manager address=%s:%d",
                   gl[i].host, gl[i].port);
            rc = GW_ERR_INVALID;
            goto fail;
        }
        if (!evhttp_bind_socket_with_handle(gui->http, gl[i].host, (ev_uint16_t)gl[i].port)) {
            GW_LOG(GW_LOG_CRIT, "cannot listen for Portico Manager address=%s:%d", gl[i].host,
                   gl[i].port);
            rc = GW_ERR_IO;
            goto fail;
        }
        GW_LOG(GW_LOG_NOTICE, "Portico Manager listening address=%s:%d", gl[i].host, gl[i].port);
    }
    return GW_OK;

fail:
    cp_gui_stop();
    return rc;
}

void cp_gui_stop(void)
{
    if (!gui)
        return;
    if (gui->http)
        evhttp_free(gui->http);
    free(gui);
    gui = NULL;
}
