/* dp/health/dp_health_view.c: Kong's health labels and /health JSON.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "balancer/dp_lb_state.h"
#include "dp_health.h"
#include "dp_health_conf.h"

const char *dp_health_label_name(enum dp_health_label l)
{
    static const char *const names[DP_HEALTH_LABEL_COUNT_] = {"HEALTHY", "UNHEALTHY",
                                                              "HEALTHCHECKS_OFF", "DNS_ERROR"};
    return l >= 0 && l < DP_HEALTH_LABEL_COUNT_ ? names[l] : "HEALTHCHECKS_OFF";
}

static bool checks_on(const struct dp_upstream *u)
{
    return u->hc && u->hc->enabled;
}

enum dp_health_label dp_health_addr_label(const struct dp_upstream *u, const struct dp_target *t,
                                          const struct dp_addr *a)
{
    if (!checks_on(u) || t->weight <= 0 || a->weight <= 0)
        return DP_HEALTH_CHECKS_OFF;
    return atomic_load_explicit(&a->state->healthy, memory_order_acquire) ? DP_HEALTH_HEALTHY
                                                                          : DP_HEALTH_UNHEALTHY;
}

enum dp_health_label dp_health_target_label(const struct dp_upstream *u, const struct dp_target *t,
                                            long long *total, long long *unavailable)
{
    long long tot = 0, un = 0;
    bool any_healthy = false, any_unhealthy = false;
    for (size_t i = 0; i < t->naddrs; i++) {
        const struct dp_addr *a = &t->addrs[i];
        tot += a->weight;
        enum dp_health_label l = dp_health_addr_label(u, t, a);
        if (l == DP_HEALTH_HEALTHY)
            any_healthy = true;
        else if (l == DP_HEALTH_UNHEALTHY) {
            any_unhealthy = true;
            un += a->weight;
        }
    }
    if (total)
        *total = tot;
    if (unavailable)
        *unavailable = un;
    if (t->naddrs == 0)
        return DP_HEALTH_DNS_ERROR;
    return any_healthy     ? DP_HEALTH_HEALTHY
           : any_unhealthy ? DP_HEALTH_UNHEALTHY
                           : DP_HEALTH_CHECKS_OFF;
}

enum dp_health_label dp_health_upstream_label(const struct dp_upstream *u)
{
    if (!checks_on(u))
        return DP_HEALTH_CHECKS_OFF;
    return dp_health_upstream_ok(u, NULL, NULL) ? DP_HEALTH_HEALTHY : DP_HEALTH_UNHEALTHY;
}

const struct dp_upstream *dp_health_find_upstream(const struct dp_config *cfg, const char *key)
{
    for (size_t i = 0; cfg && i < cfg->nupstreams; i++)
        if (strcmp(cfg->upstreams[i].id, key) == 0)
            return &cfg->upstreams[i];
    for (size_t i = 0; cfg && i < cfg->nupstreams; i++)
        if (strcasecmp(cfg->upstreams[i].name, key) == 0)
            return &cfg->upstreams[i];
    return NULL;
}

/* Splits "host[:port]" / "[v6][:port]" into host and port (dflt when absent). */
static bool split(const char *s, char *host, size_t cap, unsigned *port, unsigned dflt)
{
    const char *h = s, *he, *p = NULL;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || (rb[1] && rb[1] != ':'))
            return false;
        h = s + 1;
        he = rb;
        p = rb[1] ? rb + 2 : NULL;
    } else {
        const char *c = strrchr(s, ':');
        if (c && c == strchr(s, ':')) {
            he = c;
            p = c + 1;
        } else {
            he = s + strlen(s);
        }
    }
    size_t n = (size_t)(he - h);
    if (!n || n >= cap)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = dflt;
    if (p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || *end || v < 0 || v > 65535)
            return false;
        *port = (unsigned)v;
    }
    return true;
}

const struct dp_target *dp_health_find_target(const struct dp_upstream *u, const char *key)
{
    for (size_t i = 0; i < u->ntargets; i++)
        if (strcmp(u->targets[i].id, key) == 0)
            return &u->targets[i];
    char host[256];
    unsigned port;
    if (!split(key, host, sizeof(host), &port, 8000))
        return NULL;
    for (size_t i = 0; i < u->ntargets; i++) {
        const struct dp_target *t = &u->targets[i];
        if (t->name && strcasecmp(t->name, host) == 0 && t->port == port)
            return t;
    }
    return NULL;
}

const struct dp_addr *dp_health_find_addr(const struct dp_target *t, const char *key)
{
    char ip[64];
    unsigned port;
    if (!split(key, ip, sizeof(ip), &port, 8000))
        return NULL;
    for (size_t i = 0; i < t->naddrs; i++)
        if (strcmp(t->addrs[i].ip, ip) == 0 && t->addrs[i].port == port)
            return &t->addrs[i];
    return NULL;
}

static json_t *weight_json(long long total, long long unavailable)
{
    return json_pack("{s:I,s:I,s:I}", "total", (json_int_t)total, "available",
                     (json_int_t)(total - unavailable), "unavailable", (json_int_t)unavailable);
}

/* Kong's getTargetStatus object; bool_health = true gives addresses "healthy": bool (the
 * balancer view), else "health": label. */
static json_t *target_status(const struct dp_upstream *u, const struct dp_target *t,
                             bool bool_health)
{
    long long total = 0, un = 0;
    enum dp_health_label tl = dp_health_target_label(u, t, &total, &un);
    json_t *addrs = json_array();
    for (size_t i = 0; addrs && i < t->naddrs; i++) {
        const struct dp_addr *a = &t->addrs[i];
        enum dp_health_label al = dp_health_addr_label(u, t, a);
        json_t *o =
            bool_health
                ? json_pack("{s:s,s:i,s:i,s:b}", "ip", a->ip, "port", a->port, "weight", a->weight,
                            "healthy", atomic_load(&a->state->healthy) || al != DP_HEALTH_UNHEALTHY)
                : json_pack("{s:s,s:i,s:i,s:s}", "ip", a->ip, "port", a->port, "weight", a->weight,
                            "health", dp_health_label_name(al));
        if (!o || json_array_append_new(addrs, o) != 0) {
            json_decref(addrs);
            return NULL;
        }
    }
    const char *dns = tl == DP_HEALTH_DNS_ERROR                  ? "name resolution failed"
                      : t->naddrs && strchr(t->addrs[0].ip, ':') ? "AAAA"
                                                                 : "A";
    return json_pack("{s:s,s:i,s:s,s:i,s:o,s:o}", "host", t->name ? t->name : "", "port", t->port,
                     "dns", dns, "nodeWeight", t->weight, "weight", weight_json(total, un),
                     "addresses", addrs);
}

static int newest_first(const void *x, const void *y)
{
    const struct dp_target *a = *(const struct dp_target *const *)x;
    const struct dp_target *b = *(const struct dp_target *const *)y;
    if (a->created_at != b->created_at)
        return a->created_at > b->created_at ? -1 : 1;
    return strcmp(b->id, a->id);
}

static json_t *tags_json(const struct dp_target *t)
{
    if (!t->ntags)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->ntags; i++)
        json_array_append_new(a, json_string(t->tags[i]));
    return a;
}

json_t *dp_health_targets_json(const struct dp_upstream *u)
{
    const struct dp_target **order = calloc(u->ntargets ? u->ntargets : 1, sizeof(*order));
    json_t *data = json_array();
    if (!order || !data)
        goto fail;
    for (size_t i = 0; i < u->ntargets; i++)
        order[i] = &u->targets[i];
    qsort(order, u->ntargets, sizeof(*order), newest_first);
    for (size_t i = 0; i < u->ntargets; i++) {
        const struct dp_target *t = order[i];
        json_t *st = target_status(u, t, false);
        json_t *o =
            st ? json_pack("{s:s,s:f,s:f,s:{s:s},s:s,s:i,s:o,s:s,s:o}", "id", t->id, "created_at",
                           t->created_at, "updated_at", t->updated_at, "upstream", "id", u->id,
                           "target", t->target, "weight", t->weight, "tags", tags_json(t), "health",
                           dp_health_label_name(dp_health_target_label(u, t, NULL, NULL)), "data",
                           st)
               : NULL;
        if (!o || json_array_append_new(data, o) != 0)
            goto fail;
    }
    free(order);
    return data;
fail:
    free(order);
    json_decref(data);
    return NULL;
}

json_t *dp_health_json(const struct dp_upstream *u, bool balancer, const char *node_id)
{
    json_t *data;
    if (balancer) {
        long long total = 0, avail = 0;
        bool ok = dp_health_upstream_ok(u, &total, &avail);
        json_t *hosts = json_array();
        for (size_t i = 0; hosts && i < u->ntargets; i++) {
            json_t *h = target_status(u, &u->targets[i], true);
            if (!h || json_array_append_new(hosts, h) != 0) {
                json_decref(hosts);
                hosts = NULL;
            }
        }
        if (!hosts)
            return NULL;
        data = json_pack("{s:s,s:s,s:s,s:{s:b,s:o,s:o}}", "id", u->id, "health",
                         dp_health_label_name(dp_health_upstream_label(u)), "balancer_health",
                         ok ? "HEALTHY" : "UNHEALTHY", "details", "healthy", ok, "weight",
                         weight_json(total, total - avail), "hosts", hosts);
    } else {
        data = dp_health_targets_json(u);
    }
    if (!data)
        return NULL;
    return json_pack("{s:o,s:n,s:o}", "data", data, "next", "node_id",
                     node_id ? json_string(node_id) : json_null());
}
