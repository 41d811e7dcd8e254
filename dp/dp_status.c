/* dp/dp_status.c: /status, /status/ready and /metrics on the status listener (evhttp, main
 * thread).
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_status.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_config.h"
#include "dp_metrics.h"
#include "plugins/dp_plugin_env.h"
#include "gw_buf.h"
#include "health/dp_health_http.h"

struct dp_status {
    struct evhttp *http;
};

static void reply(struct evhttp_request *req, int code, const char *ctype, const char *body,
                  size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Server", "portico/" PORTICO_VERSION);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, body, len);
    evhttp_send_reply(req, code,
                      code == 200   ? "OK"
                      : code == 404 ? "Not Found"
                      : code == 405 ? "Method Not Allowed"
                                    : "Unavailable",
                      b);
    evbuffer_free(b);
}

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    char path[256];
    size_t n = strcspn(uri, "?");
    snprintf(path, sizeof(path), "%.*s", (int)(n < sizeof(path) ? n : sizeof(path) - 1), uri);
    /* /upstreams/{u}/health and the manual health endpoints (dp/health) */
    if (dp_health_http_handle(req, path))
        return;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_PUT) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    char hash[80];
    int64_t rev = dp_config_current(hash, sizeof(hash));
    struct gw_buf b;
    gw_buf_init(&b, 4 * 1024 * 1024);
    if (strcmp(path, "/status") == 0) {
        gw_buf_appendf(
            &b,
            "{\"server\":{\"connections_active\":%lld,\"connections_accepted\":%llu,"
            "\"total_requests\":%llu},\"configuration\":{\"revision\":%lld,\"hash\":\"%s\","
            "\"loaded\":%s},\"control_plane\":{\"connected\":%s},\"version\":\"%s\"}",
            (long long)atomic_load(&dp_metrics.conns_active),
            (unsigned long long)atomic_load(&dp_metrics.conns_total),
            (unsigned long long)atomic_load(&dp_metrics.requests_total), (long long)rev, hash,
            hash[0] ? "true" : "false",
            atomic_load(&dp_metrics.cluster_connected) ? "true" : "false", PORTICO_VERSION);
        reply(req, 200, "application/json; charset=utf-8", b.data ? b.data : "", b.len);
    } else if (strcmp(path, "/status/ready") == 0) {
        if (hash[0]) {
            gw_buf_appendf(&b, "{\"message\":\"ready\",\"revision\":%lld}", (long long)rev);
            reply(req, 200, "application/json; charset=utf-8", b.data, b.len);
        } else {
            gw_buf_appendf(&b, "{\"message\":\"no configuration loaded yet\"}");
            reply(req, 503, "application/json; charset=utf-8", b.data, b.len);
        }
    } else if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE &&
               (strcmp(path, "/proxy-cache") == 0 || strncmp(path, "/proxy-cache/", 13) == 0)) {
        /* Kong's proxy-cache purge: every entry, or one cache key in every plugin instance */
        const char *key = path[12] == '/' && path[13] ? path + 13 : NULL;
        if (dp_plugin_env_cache_purge(dp_plugin_env_global(), key) == GW_OK) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Server",
                              "portico/" PORTICO_VERSION);
            evhttp_send_reply(req, 204, "No Content", NULL);
        } else {
            gw_buf_appendf(&b, "{\"message\":\"Not found\"}");
            reply(req, 404, "application/json; charset=utf-8", b.data, b.len);
        }
    } else if (evhttp_request_get_command(req) == EVHTTP_REQ_DELETE) {
        gw_buf_appendf(&b, "{\"message\":\"Method not allowed\"}");
        reply(req, 405, "application/json; charset=utf-8", b.data, b.len);
    } else if (strcmp(path, "/metrics") == 0) {
        dp_metrics_render(&b, rev);
        reply(req, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    } else {
        gw_buf_appendf(&b, "{\"message\":\"Not found\"}");
        reply(req, 404, "application/json; charset=utf-8", b.data, b.len);
    }
    gw_buf_cleanup(&b);
}

struct dp_status *dp_status_create(struct event_base *base, const struct gw_listen *ls, size_t nls,
                                   char *err, size_t errlen)
{
    struct dp_status *s = calloc(1, sizeof(*s));
    if (!s || !(s->http = evhttp_new(base))) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    evhttp_set_gencb(s->http, handle, s);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE);
    for (size_t i = 0; i < nls; i++) {
        if (!evhttp_bind_socket_with_handle(s->http, ls[i].host, (ev_uint16_t)ls[i].port)) {
            snprintf(err, errlen, "status_listen: cannot listen on %s:%d", ls[i].host, ls[i].port);
            dp_status_destroy(s);
            return NULL;
        }
    }
    return s;
}

void dp_status_destroy(struct dp_status *s)
{
    if (!s)
        return;
    if (s->http)
        evhttp_free(s->http);
    free(s);
}
