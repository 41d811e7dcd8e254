/* cp/health/cp_health.c: the per-data-plane health registry and its Kong-format views.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "gw_time.h"
#include "gw_uuid.h"

#define MAX_DATA_PLANES 4096
#define STALE_FORGET_MS (24LL * 3600 * 1000) /* stale entries older than this are dropped */

struct dp_entry {
    struct dp_entry *next;
    char node_id[GW_UUID_STRLEN + 1];
    char *hostname;
    bool connected;
    int64_t seen_ms;                   /* last report or connection change */
    int64_t report_ms;                 /* when the last report arrived; 0 = none */
    Portico__V1__HealthReport *report; /* owned (unpacked copy) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dp_entry *entries;
static size_t nentries;
static cp_health_command_fn sink;
static void *sink_arg;

static void entry_free(struct dp_entry *e)
{
    if (e->report)
        portico__v1__health_report__free_unpacked(e->report, NULL);
    free(e->hostname);
    free(e);
}

/* Drops stale entries nobody has heard of for a day. Under lock. */
static void forget_old(int64_t now)
{
    for (struct dp_entry **pp = &entries; *pp;) {
        struct dp_entry *e = *pp;
        if (!e->connected && now - e->seen_ms > STALE_FORGET_MS) {
            *pp = e->next;
            entry_free(e);
            nentries--;
        } else {
            pp = &e->next;
        }
    }
}

/* Finds or adds node_id. Under lock. NULL when out of memory or full. */
static struct dp_entry *entry(const char *node_id, const char *hostname)
{
    struct dp_entry *e;
    for (e = entries; e; e = e->next)
        if (strcmp(e->node_id, node_id) == 0)
            break;
    if (!e) {
        if (nentries >= MAX_DATA_PLANES)
            forget_old(gw_time_unix_ms());
        if (nentries >= MAX_DATA_PLANES || !(e = calloc(1, sizeof(*e))))
            return NULL;
        snprintf(e->node_id, sizeof(e->node_id), "%s", node_id);
        e->next = entries;
        entries = e;
        nentries++;
    }
    if (hostname && (!e->hostname || strcmp(e->hostname, hostname) != 0)) {
        char *h = strdup(hostname);
        if (h) {
            free(e->hostname);
            e->hostname = h;
        }
    }
    return e;
}

void cp_health_dp_report(const char *node_id, const char *hostname,
                         const Portico__V1__HealthReport *r)
{
    if (!node_id || !*node_id || !r)
        return;
    /* deep copy through the wire format */
    size_t n = portico__v1__health_report__get_packed_size(r);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return;
    portico__v1__health_report__pack(r, buf);
    Portico__V1__HealthReport *copy = portico__v1__health_report__unpack(NULL, n, buf);
    free(buf);
    if (!copy)
        return;
    int64_t now = gw_time_unix_ms();
    pthread_mutex_lock(&lock);
    struct dp_entry *e = entry(node_id, hostname);
    if (e) {
        if (e->report)
            portico__v1__health_report__free_unpacked(e->report, NULL);
        e->report = copy;
        e->report_ms = now;
        e->seen_ms = now;
        e->connected = true;
        copy = NULL;
    }
    pthread_mutex_unlock(&lock);
    if (copy)
        portico__v1__health_report__free_unpacked(copy, NULL);
}

void cp_health_dp_connected(const char *node_id, const char *hostname)
{
    if (!node_id || !*node_id)
        return;
    pthread_mutex_lock(&lock);
    struct dp_entry *e = entry(node_id, hostname);
    if (e) {
        e->connected = true;
        e->seen_ms = gw_time_unix_ms();
    }
    pthread_mutex_unlock(&lock);
}

void cp_health_dp_gone(const char *node_id)
{
    if (!node_id)
        return;
    pthread_mutex_lock(&lock);
    for (struct dp_entry *e = entries; e; e = e->next) {
        if (strcmp(e->node_id, node_id) == 0) {
            e->connected = false;
            e->seen_ms = gw_time_unix_ms();
        }
    }
    pthread_mutex_unlock(&lock);
}

void cp_health_set_command_sink(cp_health_command_fn fn, void *arg)
{
    pthread_mutex_lock(&lock);
    sink = fn;
    sink_arg = arg;
    pthread_mutex_unlock(&lock);
}

enum gw_err cp_health_send_command(const Portico__V1__HealthCommand *cmd, size_t *queued)
{
    pthread_mutex_lock(&lock);
    cp_health_command_fn fn = sink;
    void *arg = sink_arg;
    size_t q = fn ? fn(arg, cmd) : 0;
    pthread_mutex_unlock(&lock);
    if (queued)
        *queued = q;
    return fn ? GW_OK : GW_ERR_UNAVAILABLE;
}

size_t cp_health_dp_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = nentries;
    pthread_mutex_unlock(&lock);
    return n;
}

void cp_health_reset(void)
{
    pthread_mutex_lock(&lock);
    while (entries) {
        struct dp_entry *e = entries;
        entries = e->next;
        entry_free(e);
    }
    nentries = 0;
    pthread_mutex_unlock(&lock);
}

/* ---- views ---------------------------------------------------------------------------------- */

enum label {
    L_HEALTHY = 0,
    L_UNHEALTHY,
    L_OFF,
    L_DNS,
    L_COUNT_ /* keep last */
};

static int label_of(const char *s)
{
    static const char *const names[L_COUNT_] = {"HEALTHY", "UNHEALTHY", "HEALTHCHECKS_OFF",
                                                "DNS_ERROR"};
    for (int i = 0; s && i < L_COUNT_; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const Portico__V1__UpstreamHealth *find_upstream(const Portico__V1__HealthReport *r,
                                                        const char *id)
{
    for (size_t i = 0; r && i < r->n_upstreams; i++)
        if (r->upstreams[i]->upstream_id && strcmp(r->upstreams[i]->upstream_id, id) == 0)
            return r->upstreams[i];
    return NULL;
}

static const Portico__V1__TargetHealth *find_target(const Portico__V1__UpstreamHealth *u,
                                                    const char *id)
{
    for (size_t i = 0; u && id && i < u->n_targets; i++)
        if (u->targets[i]->target_id && strcmp(u->targets[i]->target_id, id) == 0)
            return u->targets[i];
    return NULL;
}

/* Splits "host:port" / "[v6]:port". */
static void host_port(const char *t, char *host, size_t cap, int *port)
{
    const char *h = t, *he, *p = NULL;
    if (*t == '[') {
        const char *rb = strchr(t, ']');
        h = t + 1;
        he = rb ? rb : t + strlen(t);
        p = rb && rb[1] == ':' ? rb + 2 : NULL;
    } else {
        const char *c = strrchr(t, ':');
        he = c ? c : t + strlen(t);
        p = c ? c + 1 : NULL;
    }
    size_t n = (size_t)(he - h) < cap ? (size_t)(he - h) : cap - 1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = p ? (int)strtol(p, NULL, 10) : 8000;
}

/* Kong's per-target health object: the stored entity + "health" + "data". */
static json_t *target_obj(const json_t *entity, const Portico__V1__TargetHealth *th)
{
    json_t *o = json_deep_copy(entity);
    json_t *addrs = json_array();
    if (!o || !addrs)
        goto fail;
    long long total = 0, un = 0;
    for (size_t i = 0; i < th->n_addresses; i++) {
        const Portico__V1__AddressHealth *a = th->addresses[i];
        total += a->weight;
        if (label_of(a->health) == L_UNHEALTHY)
            un += a->weight;
        if (json_array_append_new(addrs, json_pack("{s:s,s:i,s:i,s:s}", "ip", a->ip ? a->ip : "",
                                                   "port", a->port, "weight", a->weight, "health",
                                                   a->health ? a->health : "")) != 0)
            goto fail;
    }
    char host[256];
    int port;
    host_port(th->target ? th->target : "", host, sizeof(host), &port);
    const char *dns = label_of(th->health) == L_DNS ? "name resolution failed"
                      : th->n_addresses && th->addresses[0]->ip && strchr(th->addresses[0]->ip, ':')
                          ? "AAAA"
                          : "A";
    json_t *data =
        json_pack("{s:s,s:i,s:s,s:i,s:{s:I,s:I,s:I},s:o}", "host", host, "port", port, "dns", dns,
                  "nodeWeight", th->weight, "weight", "total", (json_int_t)total, "available",
                  (json_int_t)(total - un), "unavailable", (json_int_t)un, "addresses", addrs);
    addrs = NULL;
    if (!data || json_object_set_new(o, "health", json_string(th->health ? th->health : "")) ||
        json_object_set_new(o, "data", data))
        goto fail;
    return o;
fail:
    json_decref(addrs);
    json_decref(o);
    return NULL;
}

static const char *aggregate(const int counts[L_COUNT_], int total)
{
    int good = counts[L_HEALTHY] + counts[L_OFF], bad = counts[L_UNHEALTHY] + counts[L_DNS];
    if (total == 0)
        return "UNKNOWN";
    if (bad == 0)
        return counts[L_HEALTHY] ? "HEALTHY" : "HEALTHCHECKS_OFF";
    if (good == 0)
        return counts[L_UNHEALTHY] ? "UNHEALTHY" : "DNS_ERROR";
    return "MIXED";
}

static json_t *targets_view(const char *upstream_id, const json_t *targets)
{
    json_t *data = json_array(), *dps = json_array();
    json_t *out = data && dps ? json_pack("{s:o,s:o,s:n,s:n}", "data", data, "data_planes", dps,
                                          "next", "node_id")
                              : NULL;
    if (!out) {
        if (!data || !dps) {
            json_decref(data);
            json_decref(dps);
        }
        return NULL;
    }
    size_t i;
    const json_t *t;
    json_array_foreach(targets, i, t)
    {
        const char *tid = json_string_value(json_object_get(t, "id"));
        int counts[L_COUNT_] = {0}, total = 0;
        for (const struct dp_entry *e = entries; e; e = e->next) {
            if (!e->connected)
                continue; /* stale data planes are shown but not counted */
            const Portico__V1__TargetHealth *th =
                find_target(find_upstream(e->report, upstream_id), tid);
            int l = th ? label_of(th->health) : -1;
            if (l >= 0) {
                counts[l]++;
                total++;
            }
        }
        json_t *o = json_deep_copy(t);
        if (!o || json_object_set_new(o, "health", json_string(aggregate(counts, total))) ||
            json_object_set_new(o, "data_planes",
                                json_pack("{s:i,s:i,s:i,s:i,s:i}", "total", total, "healthy",
                                          counts[L_HEALTHY], "unhealthy", counts[L_UNHEALTHY],
                                          "healthchecks_off", counts[L_OFF], "dns_error",
                                          counts[L_DNS])) ||
            json_array_append_new(data, o)) {
            json_decref(out);
            return NULL;
        }
    }
    for (const struct dp_entry *e = entries; e; e = e->next) {
        const Portico__V1__UpstreamHealth *uh = find_upstream(e->report, upstream_id);
        json_t *tl = json_array();
        json_array_foreach(targets, i, t)
        {
            const Portico__V1__TargetHealth *th =
                find_target(uh, json_string_value(json_object_get(t, "id")));
            json_t *o = th ? target_obj(t, th) : NULL;
            if (o && tl)
                json_array_append_new(tl, o);
        }
        json_t *d = tl ? json_pack("{s:s,s:s?,s:b,s:b,s:I,s:s?,s:o}", "node_id", e->node_id,
                                   "hostname", e->hostname, "connected", e->connected, "stale",
                                   !e->connected, "reported_at", (json_int_t)e->report_ms, "health",
                                   uh ? uh->health : NULL, "targets", tl)
                       : NULL;
        if (!d || json_array_append_new(dps, d)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *balancer_view(const char *upstream_id)
{
    json_t *dps = json_array();
    int counts[L_COUNT_] = {0}, total = 0;
    for (const struct dp_entry *e = entries; dps && e; e = e->next) {
        const Portico__V1__UpstreamHealth *uh = find_upstream(e->report, upstream_id);
        int l = uh ? label_of(uh->health) : -1;
        if (e->connected && l >= 0) {
            counts[l]++;
            total++;
        }
        if (json_array_append_new(dps, json_pack("{s:s,s:s?,s:b,s:b,s:s?}", "node_id", e->node_id,
                                                 "hostname", e->hostname, "connected", e->connected,
                                                 "stale", !e->connected, "health",
                                                 uh ? uh->health : NULL))) {
            json_decref(dps);
            return NULL;
        }
    }
    if (!dps)
        return NULL;
    return json_pack("{s:{s:s,s:s,s:{s:i,s:i,s:i,s:i},s:o},s:n,s:n}", "data", "id", upstream_id,
                     "health", aggregate(counts, total), "data_planes_count", "total", total,
                     "healthy", counts[L_HEALTHY], "unhealthy", counts[L_UNHEALTHY],
                     "healthchecks_off", counts[L_OFF], "data_planes", dps, "next", "node_id");
}

json_t *cp_health_upstream_json(const char *upstream_id, const json_t *targets, bool balancer)
{
    pthread_mutex_lock(&lock);
    json_t *out = balancer ? balancer_view(upstream_id) : targets_view(upstream_id, targets);
    pthread_mutex_unlock(&lock);
    return out;
}
