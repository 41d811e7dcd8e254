/* cp/health/cp_health_admin.c: Admin API handlers of the health endpoints.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_health_admin.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "admin/cp_admin_ext.h"
#include "cp_health.h"
#include "gw_log.h"
#include "gw_uuid.h"
#include "store/cp_store_entity.h"

static void store_error(struct cp_admin_req *r, enum gw_err e)
{
    if (e == GW_ERR_NOTFOUND)
        cp_admin_reply_message(r, 404, "Not found");
    else if (e == GW_ERR_UNAVAILABLE)
        cp_admin_reply_message(r, 503, "database unavailable");
    else
        cp_admin_reply_message(r, 500, "An unexpected error occurred");
}

/* Loads the upstream named by key (id or name). */
static enum gw_err load_upstream(struct cp_admin_req *r, const char *key, json_t **out)
{
    struct cp_store_dberr err = {0};
    if (gw_uuid_valid(key)) {
        char id[GW_UUID_STRLEN + 1];
        for (size_t i = 0; i <= GW_UUID_STRLEN; i++)
            id[i] = (char)tolower((unsigned char)key[i]);
        return cp_store_entity_get(cp_admin_req_store(r), "upstreams", id, false, out, &err);
    }
    struct cp_store_filter f = {"name", NULL, key};
    return cp_store_entity_find(cp_admin_req_store(r), "upstreams", &f, 1, out, &err);
}

/* Adds ":8000" to a target without a port (Kong's default target port). */
static void normalize_target(const char *in, char *out, size_t outlen)
{
    const char *colon = strrchr(in, ':');
    bool has_port = in[0] == '[' ? (strchr(in, ']') && strchr(in, ']')[1] == ':')
                                 : (colon && strchr(in, ':') == colon);
    bool v6_bare = in[0] != '[' && colon && strchr(in, ':') != colon;
    if (has_port)
        snprintf(out, outlen, "%s", in);
    else if (v6_bare)
        snprintf(out, outlen, "[%s]:8000", in);
    else
        snprintf(out, outlen, "%s:8000", in);
}

static enum gw_err load_target(struct cp_admin_req *r, const char *upstream_id, const char *key,
                               json_t **out)
{
    struct cp_store_dberr err = {0};
    enum gw_err e;
    if (gw_uuid_valid(key)) {
        char id[GW_UUID_STRLEN + 1];
        for (size_t i = 0; i <= GW_UUID_STRLEN; i++)
            id[i] = (char)tolower((unsigned char)key[i]);
        e = cp_store_entity_get(cp_admin_req_store(r), "targets", id, false, out, &err);
        if (e == GW_OK) {
            const char *uid =
                json_string_value(json_object_get(json_object_get(*out, "upstream"), "id"));
            if (!uid || strcmp(uid, upstream_id) != 0) {
                json_decref(*out);
                *out = NULL;
                return GW_ERR_NOTFOUND;
            }
        }
        return e;
    }
    char norm[512];
    normalize_target(key, norm, sizeof(norm));
    struct cp_store_filter f[2] = {{"target", NULL, norm}, {"upstream", "id", upstream_id}};
    return cp_store_entity_find(cp_admin_req_store(r), "targets", f, 2, out, &err);
}

static void get_health(struct cp_admin_req *r, void *arg)
{
    (void)arg;
    json_t *up = NULL, *targets = NULL;
    enum gw_err e = load_upstream(r, cp_admin_req_param(r, 0), &up);
    if (e != GW_OK) {
        store_error(r, e);
        return;
    }
    const char *uid = json_string_value(json_object_get(up, "id"));
    struct cp_store_filter f = {"upstream", "id", uid};
    struct cp_store_list_opts o = {
        .filters = &f, .nfilters = 1, .size = 1000, .newest_first = true};
    char *last = NULL;
    struct cp_store_dberr err = {0};
    e = cp_store_entity_list(cp_admin_req_store(r), "targets", &o, &targets, &last, &err);
    free(last);
    if (e != GW_OK) {
        json_decref(up);
        store_error(r, e);
        return;
    }
    const char *bh = cp_admin_query(r, "balancer_health");
    json_t *body = cp_health_upstream_json(uid, targets, bh && strcmp(bh, "1") == 0);
    json_decref(targets);
    json_decref(up);
    cp_admin_reply_json(r, 200, body);
}

static void put_health(struct cp_admin_req *r, bool healthy, bool with_address)
{
    json_t *up = NULL, *tg = NULL;
    enum gw_err e = load_upstream(r, cp_admin_req_param(r, 0), &up);
    if (e == GW_OK)
        e = load_target(r, json_string_value(json_object_get(up, "id")), cp_admin_req_param(r, 1),
                        &tg);
    if (e != GW_OK) {
        json_decref(up);
        store_error(r, e);
        return;
    }
    Portico__V1__HealthCommand cmd = PORTICO__V1__HEALTH_COMMAND__INIT;
    cmd.upstream = (char *)json_string_value(json_object_get(up, "id"));
    cmd.target = (char *)json_string_value(json_object_get(tg, "id"));
    cmd.address = with_address ? (char *)cp_admin_req_param(r, 2) : NULL;
    cmd.has_healthy = 1;
    cmd.healthy = healthy;
    size_t queued = 0;
    e = cp_health_send_command(&cmd, &queued);
    GW_LOG(GW_LOG_NOTICE,
           "health command forwarded upstream=%s target=%s address=%s health=%s data_planes=%zu",
           cmd.upstream, json_string_value(json_object_get(tg, "target")),
           cmd.address ? cmd.address : "-", healthy ? "healthy" : "unhealthy", queued);
    json_decref(tg);
    json_decref(up);
    if (e != GW_OK) {
        cp_admin_reply_message(r, 503, "cluster listener off: no data plane can be reached");
        return;
    }
    cp_admin_reply_empty(r, 204);
}

static void put_healthy(struct cp_admin_req *r, void *arg)
{
    (void)arg;
    put_health(r, true, false);
}

static void put_unhealthy(struct cp_admin_req *r, void *arg)
{
    (void)arg;
    put_health(r, false, false);
}

static void put_addr_healthy(struct cp_admin_req *r, void *arg)
{
    (void)arg;
    put_health(r, true, true);
}

static void put_addr_unhealthy(struct cp_admin_req *r, void *arg)
{
    (void)arg;
    put_health(r, false, true);
}

enum gw_err cp_health_admin_register(struct cp_admin *a)
{
    static const struct {
        const char *pattern;
        enum cp_admin_method m;
        cp_admin_handler_fn fn;
    } routes[] = {
        {"/upstreams/{upstreams}/health", CP_ADMIN_GET, get_health},
        {"/upstreams/{upstreams}/targets/{targets}/healthy", CP_ADMIN_PUT, put_healthy},
        {"/upstreams/{upstreams}/targets/{targets}/unhealthy", CP_ADMIN_PUT, put_unhealthy},
        {"/upstreams/{upstreams}/targets/{targets}/{address}/healthy", CP_ADMIN_PUT,
         put_addr_healthy},
        {"/upstreams/{upstreams}/targets/{targets}/{address}/unhealthy", CP_ADMIN_PUT,
         put_addr_unhealthy},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        enum gw_err e =
            cp_admin_route_add(a, routes[i].pattern, CP_ADMIN_M(routes[i].m), routes[i].fn, NULL);
        if (e != GW_OK)
            return e;
    }
    return GW_OK;
}
