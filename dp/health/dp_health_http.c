/* dp/health/dp_health_http.c: /upstreams/{u}/health and the manual healthy/unhealthy
 * endpoints on the status listener; the node id they report.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_http.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_config_internal.h"
#include "dp_health.h"
#include "dp_health_conf.h"
#include "dp_health_view.h"
#include "gw_log.h"
#include "gw_uuid.h"

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static char node_id[GW_UUID_STRLEN + 1];

void dp_health_set_node_id(const char *id)
{
    pthread_mutex_lock(&id_lock);
    snprintf(node_id, sizeof(node_id), "%s", id ? id : "");
    pthread_mutex_unlock(&id_lock);
}

void dp_health_node_id(char out[37])
{
    pthread_mutex_lock(&id_lock);
    memcpy(out, node_id, sizeof(node_id));
    pthread_mutex_unlock(&id_lock);
}

static void send_json(struct evhttp_request *req, int code, const char *reason, json_t *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!b || (!s && code != 204)) {
        free(s);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evhttp_add_header(h, "Server", "portico/" PORTICO_VERSION);
    if (s) {
        evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
        evbuffer_add(b, s, strlen(s));
    }
    evhttp_send_reply(req, code, reason, code == 204 ? NULL : b);
    evbuffer_free(b);
    free(s);
}

static void message(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    send_json(req, code, reason, json_pack("{s:s}", "message", msg));
}

/* Splits path after "/upstreams/" into decoded segments; returns their count (at most max). */
static size_t segments(const char *rest, char **seg, size_t max)
{
    size_t n = 0;
    while (*rest && n < max) {
        const char *slash = strchr(rest, '/');
        size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
        char *raw = strndup(rest, len);
        seg[n] = raw ? evhttp_uridecode(raw, 0, NULL) : NULL;
        free(raw);
        if (!seg[n])
            break;
        n++;
        if (!slash)
            break;
        rest = slash + 1;
    }
    return n;
}

static bool query_flag(struct evhttp_request *req, const char *name)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq kv = {0}; /* initialised by evhttp_parse_query_str */
    if (!q || evhttp_parse_query_str(q, &kv) != 0)
        return false;
    const char *v = evhttp_find_header(&kv, name);
    bool on = v && strcmp(v, "1") == 0;
    evhttp_clear_headers(&kv);
    return on;
}

static void get_health(struct evhttp_request *req, const struct dp_upstream *u)
{
    char id[GW_UUID_STRLEN + 1];
    dp_health_node_id(id);
    json_t *body = dp_health_json(u, query_flag(req, "balancer_health"), id[0] ? id : NULL);
    if (!body) {
        message(req, 500, "Internal Server Error", "An unexpected error occurred");
        return;
    }
    send_json(req, 200, "OK", body);
}

static void put_health(struct evhttp_request *req, const struct dp_upstream *u, const char *tkey,
                       const char *akey, bool healthy)
{
    const struct dp_target *t = dp_health_find_target(u, tkey);
    if (!t) {
        message(req, 404, "Not Found", "Not found");
        return;
    }
    if (!u->hc || !u->hc->enabled) {
        char msg[400];
        snprintf(msg, sizeof(msg), "no healthchecker found for '%s'", u->name);
        message(req, 400, "Bad Request", msg);
        return;
    }
    if (akey) {
        const struct dp_addr *a = dp_health_find_addr(t, akey);
        if (!a) {
            message(req, 404, "Not Found", "Not found");
            return;
        }
        dp_health_set(u, a, healthy);
    } else {
        for (size_t i = 0; i < t->naddrs; i++)
            dp_health_set(u, &t->addrs[i], healthy);
    }
    send_json(req, 204, "No Content", NULL);
}

bool dp_health_http_handle(struct evhttp_request *req, const char *path)
{
    if (strncmp(path, "/upstreams/", 11) != 0)
        return false;
    char *seg[6] = {0};
    size_t n = segments(path + 11, seg, 6);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    bool is_get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
    bool health = n == 2 && strcmp(seg[1], "health") == 0;
    bool manual = (n == 4 || n == 5) && strcmp(seg[1], "targets") == 0 &&
                  (strcmp(seg[n - 1], "healthy") == 0 || strcmp(seg[n - 1], "unhealthy") == 0);
    struct dp_config *cfg = NULL;
    if (!health && !manual) {
        message(req, 404, "Not Found", "Not found");
    } else if ((health && !is_get) || (manual && m != EVHTTP_REQ_PUT)) {
        message(req, 405, "Method Not Allowed", "Method not allowed");
    } else {
        cfg = dp_config_acquire();
        const struct dp_upstream *u = dp_health_find_upstream(cfg, seg[0]);
        if (!u)
            message(req, 404, "Not Found", "Not found");
        else if (health)
            get_health(req, u);
        else
            put_health(req, u, seg[2], n == 5 ? seg[3] : NULL, strcmp(seg[n - 1], "healthy") == 0);
    }
    dp_config_unref(cfg);
    for (size_t i = 0; i < n; i++)
        free(seg[i]);
    return true;
}
