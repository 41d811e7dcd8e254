/* dp/dp_config.c: builds a struct dp_config from a protobuf Config (validating references,
 * resolving target names, compiling the router and the balancers), publishes it with one atomic
 * swap and frees it when its last reference goes (on the reaper thread when it runs).
 * SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/dp_lb.h"
#include "balancer/dp_lb_state.h"
#include "config/dp_config_reaper.h"
#include "dp_config_internal.h"
#include "plugins/dp_plugin_set.h"
#include "dp_dns.h"
#include "dp_metrics.h"
#include "dp_router.h"
#include "gw_log.h"
#include "gw_time.h"
#include "tls/dp_tls_store.h"
#include "health/dp_health_conf.h"

static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dp_config *published;
static atomic_uint_fast64_t generation;

struct build {
    dp_config_error_fn on_error;
    void *arg;
    int nerrors;
};

static void report(struct build *b, const char *entity, const char *id, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct build *b, const char *entity, const char *id, const char *field,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    b->nerrors++;
    GW_LOG(GW_LOG_ERROR, "config rejected entity=%s id=%s field=%s message=\"%s\"", entity,
           id ? id : "", field, msg);
    if (b->on_error)
        b->on_error(b->arg, entity, id ? id : "", field, msg);
}

static void tls_report(void *arg, const char *entity, const char *id, const char *field,
                       const char *message)
{
    report(arg, entity, id, field, "%s", message);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *lower_dup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return d;
}

static enum dp_hash_on parse_hash_on(const char *s)
{
    static const char *const names[DP_HASH_COUNT_] = {
        "none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"};
    if (s)
        for (int i = 0; i < DP_HASH_COUNT_; i++)
            if (strcmp(s, names[i]) == 0)
                return (enum dp_hash_on)i;
    return DP_HASH_NONE;
}

/* Splits "host:port", "[v6]:port", "host" (default port dflt). host gets at most hostcap
 * bytes. Returns false on a malformed value. */
static bool split_host_port(const char *s, char *host, size_t hostcap, uint16_t *port, int dflt)
{
    const char *h = s, *hend, *p = NULL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return false;
        h = s + 1;
        hend = rb;
        if (rb[1] == ':')
            p = rb + 2;
        else if (rb[1])
            return false;
    } else {
        const char *c = strrchr(s, ':');
        if (c && strchr(s, ':') == c) {
            hend = c;
            p = c + 1;
        } else {
            hend = s + strlen(s);
        }
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= hostcap)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    long v = dflt;
    if (p) {
        char *end;
        v = strtol(p, &end, 10);
        if (end == p || *end || v < 0 || v > 65535)
            return false;
    }
    *port = (uint16_t)v;
    return true;
}

static bool is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Resolves host (an IP or a name: /etc/hosts then DNS via getaddrinfo, on the builder thread)
 * into an owned array of addresses with port and weight, each tied to registry state under
 * key_prefix. */
/* Resolves host (an IP, or a name through dp_dns: hosts file, then DNS with TTL refresh) into
 * an owned array of addresses with port and weight, each tied to registry state under
 * key_prefix. Blocks the building thread while a new name is looked up. */
static enum gw_err resolve(const char *host, uint16_t port, int weight, const char *key_prefix,
                           const struct dp_target *target, struct dp_addr **out, size_t *nout)
{
    struct dp_dns_addr *res = NULL;
    size_t nres = 0;
    enum gw_err err;
    *out = NULL;
    *nout = 0;
    if (is_ip(host)) {
        res = calloc(1, sizeof(*res));
        if (!res)
            return GW_ERR_NOMEM;
        struct sockaddr_in *s4 = (struct sockaddr_in *)&res->sa;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&res->sa;
        if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
            res->salen = sizeof(*s4);
        } else {
            inet_pton(AF_INET6, host, &s6->sin6_addr);
            s6->sin6_family = AF_INET6;
            res->salen = sizeof(*s6);
        }
        nres = 1;
    } else {
        err = dp_dns_resolve(host, &res, &nres);
        if (err != GW_OK) {
            GW_LOG(GW_LOG_WARN, "name resolution failed host=%s error=%s", host, gw_err_str(err));
            free(res);
            return err == GW_ERR_NOMEM ? err : GW_ERR_NOTFOUND;
        }
    }
    struct dp_addr *v = calloc(nres ? nres : 1, sizeof(*v));
    if (!v) {
        free(res);
        return GW_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < nres; i++) {
        struct dp_addr *a = &v[k];
        memcpy(&a->sa, &res[i].sa, res[i].salen);
        a->salen = res[i].salen;
        if (a->sa.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
            sin->sin_port = htons(port);
            inet_ntop(AF_INET, &sin->sin_addr, a->ip, sizeof(a->ip));
        } else if (a->sa.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;
            sin6->sin6_port = htons(port);
            inet_ntop(AF_INET6, &sin6->sin6_addr, a->ip, sizeof(a->ip));
        } else {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            if (strcmp(v[j].ip, a->ip) == 0)
                dup = true;
        if (dup) {
            memset(a, 0, sizeof(*a));
            continue;
        }
        a->port = port;
        a->weight = weight;
        a->target = target;
        snprintf(a->key, sizeof(a->key), "%s:%u", a->ip, (unsigned)port);
        char skey[400];
        snprintf(skey, sizeof(skey), "%s|%s", key_prefix, a->key);
        a->state = dp_lb_state_addr_get(skey);
        if (!a->state) {
            for (size_t j = 0; j < k; j++)
                dp_lb_state_addr_unref(v[j].state);
            free(v);
            free(res);
            return GW_ERR_NOMEM;
        }
        k++;
    }
    free(res);
    *out = v;
    *nout = k;
    return GW_OK;
}

static void addrs_free(struct dp_addr *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dp_lb_state_addr_unref(a[i].state);
    free(a);
}

void dp_config_destroy(struct dp_config *cfg)
{
    if (!cfg)
        return;
    dp_router_destroy(cfg->router);
    dp_tls_store_destroy(cfg->tls);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        free(cfg->routes[i].id);
        free(cfg->routes[i].name);
    }
    free(cfg->routes);
    for (size_t i = 0; i < cfg->nservices; i++) {
        struct dp_service *s = &cfg->services[i];
        free(s->id);
        free(s->name);
        free(s->host);
        free(s->path);
        addrs_free(s->addrs, s->naddrs);
        dp_lb_state_upstream_unref(s->state);
    }
    free(cfg->services);
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        struct dp_upstream *u = &cfg->upstreams[i];
        dp_lb_destroy(u->lb);
        for (size_t t = 0; t < u->ntargets; t++) {
            free(u->targets[t].target);
            for (size_t k = 0; k < u->targets[t].ntags; k++)
                free(u->targets[t].tags[k]);
            free(u->targets[t].tags);
            free(u->targets[t].id);
            free(u->targets[t].name);
            addrs_free(u->targets[t].addrs, u->targets[t].naddrs);
        }
        free(u->targets);
        free(u->addrs);
        free(u->id);
        free(u->name);
        free(u->hash_on_header);
        free(u->hash_fallback_header);
        free(u->hash_on_cookie);
        free(u->hash_on_cookie_path);
        free(u->hash_on_query_arg);
        free(u->hash_fallback_query_arg);
        free(u->hash_on_uri_capture);
        free(u->hash_fallback_uri_capture);
        free(u->host_header);
        dp_hc_conf_destroy(u->hc);
        dp_lb_state_upstream_unref(u->state);
    }
    free(cfg->upstreams);
    dp_plugin_set_destroy(cfg->plugins);
    free(cfg);
}

static enum gw_err build_upstreams(struct dp_config *cfg, const Portico__V1__Config *pb,
                                   struct build *b, struct dp_strmap *by_id,
                                   struct dp_strmap *by_name)
{
    cfg->upstreams = calloc(pb->n_upstreams ? pb->n_upstreams : 1, sizeof(*cfg->upstreams));
    if (!cfg->upstreams)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_upstreams; i++) {
        const Portico__V1__Upstream *p = pb->upstreams[i];
        struct dp_upstream *u = &cfg->upstreams[cfg->nupstreams++];
        u->id = xstrdup(p->id ? p->id : "");
        u->name = lower_dup(p->name ? p->name : "");
        if (!u->id || !u->name)
            return GW_ERR_NOMEM;
        if (!p->id || !*p->id)
            report(b, "upstreams", "", "id", "required field missing");
        if (!p->name || !*p->name)
            report(b, "upstreams", u->id, "name", "required field missing");
        const char *algo = p->algorithm ? p->algorithm : "round-robin";
        if (strcmp(algo, "round-robin") == 0)
            u->algo = DP_LB_ROUND_ROBIN;
        else if (strcmp(algo, "consistent-hashing") == 0)
            u->algo = DP_LB_CONSISTENT_HASHING;
        else if (strcmp(algo, "least-connections") == 0)
            u->algo = DP_LB_LEAST_CONNECTIONS;
        else if (strcmp(algo, "latency") == 0)
            u->algo = DP_LB_LATENCY;
        else
            report(b, "upstreams", u->id, "algorithm",
                   "expected one of: consistent-hashing, least-connections, round-robin, latency");
        u->hash_on = parse_hash_on(p->hash_on);
        u->hash_fallback = parse_hash_on(p->hash_fallback);
        u->hash_on_header = lower_dup(p->hash_on_header);
        u->hash_fallback_header = lower_dup(p->hash_fallback_header);
        u->hash_on_cookie = xstrdup(p->hash_on_cookie);
        u->hash_on_cookie_path = xstrdup(p->hash_on_cookie_path ? p->hash_on_cookie_path : "/");
        u->hash_on_query_arg = xstrdup(p->hash_on_query_arg);
        u->hash_fallback_query_arg = xstrdup(p->hash_fallback_query_arg);
        u->hash_on_uri_capture = xstrdup(p->hash_on_uri_capture);
        u->hash_fallback_uri_capture = xstrdup(p->hash_fallback_uri_capture);
        u->host_header = p->host_header && *p->host_header ? xstrdup(p->host_header) : NULL;
        u->slots = p->has_slots ? p->slots : 10000;
        u->hc = dp_hc_conf_create(p->healthchecks);
        if (!u->hc)
            return GW_ERR_NOMEM;
        if ((u->hash_on == DP_HASH_HEADER && !u->hash_on_header) ||
            (u->hash_on == DP_HASH_COOKIE && !u->hash_on_cookie) ||
            (u->hash_on == DP_HASH_QUERY_ARG && !u->hash_on_query_arg) ||
            (u->hash_on == DP_HASH_URI_CAPTURE && !u->hash_on_uri_capture))
            report(b, "upstreams", u->id, "@entity",
                   "failed conditional validation given value of field 'hash_on'");
        char key[256];
        snprintf(key, sizeof(key), "u:%s", u->id);
        u->state = dp_lb_state_upstream_get(key);
        if (!u->state)
            return GW_ERR_NOMEM;
        if (dp_strmap_put(by_id, u->id, strlen(u->id), u) == GW_ERR_EXISTS)
            report(b, "upstreams", u->id, "id", "duplicate id");
        if (dp_strmap_put(by_name, u->name, strlen(u->name), u) == GW_ERR_EXISTS)
            report(b, "upstreams", u->id, "name", "UNIQUE violation detected on '{name=\"%s\"}'",
                   u->name);
    }
    return GW_OK;
}

static enum gw_err build_targets(struct dp_config *cfg, const Portico__V1__Config *pb,
                                 struct build *b, struct dp_strmap *ups)
{
    /* Count targets per upstream first so each upstream gets one array. */
    size_t *counts = calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*counts));
    if (!counts)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_targets; i++) {
        const Portico__V1__Target *t = pb->targets[i];
        const char *uid = t->upstream && t->upstream->id ? t->upstream->id : "";
        struct dp_upstream *u = dp_strmap_get(ups, uid, strlen(uid));
        if (!u) {
            report(b, "targets", t->id, "upstream",
                   "the foreign key '{id=\"%s\"}' does not reference an existing 'upstreams' "
                   "entity.",
                   uid);
            continue;
        }
        counts[u - cfg->upstreams]++;
    }
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        cfg->upstreams[i].targets =
            calloc(counts[i] ? counts[i] : 1, sizeof(*cfg->upstreams[i].targets));
        if (!cfg->upstreams[i].targets) {
            free(counts);
            return GW_ERR_NOMEM;
        }
    }
    free(counts);
    for (size_t i = 0; i < pb->n_targets; i++) {
        const Portico__V1__Target *p = pb->targets[i];
        const char *uid = p->upstream && p->upstream->id ? p->upstream->id : "";
        struct dp_upstream *u = dp_strmap_get(ups, uid, strlen(uid));
        if (!u)
            continue;
        struct dp_target *t = &u->targets[u->ntargets++];
        char host[256];
        t->id = xstrdup(p->id ? p->id : "");
        t->weight = p->has_weight ? p->weight : 100;
        t->created_at = p->has_created_at ? p->created_at : 0;
        t->updated_at = p->has_updated_at ? p->updated_at : t->created_at;
        t->target = xstrdup(p->target ? p->target : "");
        if (p->n_tags && (t->tags = calloc(p->n_tags, sizeof(*t->tags))))
            for (size_t k = 0; k < p->n_tags; k++)
                if ((t->tags[t->ntags] = xstrdup(p->tags[k])))
                    t->ntags++;
        if (!t->id || !t->target || (p->n_tags && t->ntags != p->n_tags))
            return GW_ERR_NOMEM;
        if (!p->target || !split_host_port(p->target, host, sizeof(host), &t->port, 8000)) {
            report(b, "targets", t->id, "target",
                   "Invalid target ('%s'); not a valid hostname or ip address",
                   p->target ? p->target : "");
            continue;
        }
        t->name = strdup(host);
        if (!t->name)
            return GW_ERR_NOMEM;
        t->name_is_ip = is_ip(host);
        char prefix[256];
        snprintf(prefix, sizeof(prefix), "u:%s", u->id);
        enum gw_err err = resolve(host, t->port, t->weight, prefix, t, &t->addrs, &t->naddrs);
        if (err == GW_ERR_NOMEM)
            return err;
    }
    /* The balancer works on every address of every target with weight > 0. */
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        struct dp_upstream *u = &cfg->upstreams[i];
        size_t n = 0;
        for (size_t t = 0; t < u->ntargets; t++)
            if (u->targets[t].weight > 0)
                n += u->targets[t].naddrs;
        u->addrs = calloc(n ? n : 1, sizeof(*u->addrs));
        if (!u->addrs)
            return GW_ERR_NOMEM;
        for (size_t t = 0; t < u->ntargets; t++)
            if (u->targets[t].weight > 0)
                for (size_t a = 0; a < u->targets[t].naddrs; a++)
                    u->addrs[u->naddrs++] = &u->targets[t].addrs[a];
        u->lb = dp_lb_create(u);
        if (!u->lb)
            return GW_ERR_NOMEM;
    }
    return GW_OK;
}

static enum gw_err build_services(struct dp_config *cfg, const Portico__V1__Config *pb,
                                  struct build *b, struct dp_strmap *by_id,
                                  struct dp_strmap *ups_by_name)
{
    cfg->services = calloc(pb->n_services ? pb->n_services : 1, sizeof(*cfg->services));
    if (!cfg->services)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_services; i++) {
        const Portico__V1__Service *p = pb->services[i];
        struct dp_service *s = &cfg->services[cfg->nservices];
        s->index = cfg->nservices++;
        s->id = xstrdup(p->id ? p->id : "");
        s->name = xstrdup(p->name);
        s->host = lower_dup(p->host ? p->host : "");
        s->path = p->path && *p->path ? xstrdup(p->path) : NULL;
        if (!s->id || !s->host)
            return GW_ERR_NOMEM;
        const char *proto = p->protocol ? p->protocol : "http";
        s->https = strcmp(proto, "https") == 0;
        s->port = (uint16_t)(p->has_port ? p->port : (s->https ? 443 : 80));
        s->retries = p->has_retries ? p->retries : 5;
        s->connect_timeout_ms = p->has_connect_timeout ? p->connect_timeout : 60000;
        s->write_timeout_ms = p->has_write_timeout ? p->write_timeout : 60000;
        s->read_timeout_ms = p->has_read_timeout ? p->read_timeout : 60000;
        s->enabled = p->has_enabled ? p->enabled : true;
        if (!*s->host)
            report(b, "services", s->id, "host", "required field missing");
        if (strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0)
            GW_LOG(GW_LOG_WARN, "service protocol not proxied by this data plane id=%s protocol=%s",
                   s->id, proto);
        if (dp_strmap_put(by_id, s->id, strlen(s->id), s) == GW_ERR_EXISTS)
            report(b, "services", s->id, "id", "duplicate id");
        s->upstream = dp_strmap_get(ups_by_name, s->host, strlen(s->host));
        s->metrics = dp_metrics_service(s->id, s->name);
        if (!s->metrics)
            return GW_ERR_NOMEM;
        char key[256];
        snprintf(key, sizeof(key), "s:%s", s->id);
        s->state = dp_lb_state_upstream_get(key);
        if (!s->state)
            return GW_ERR_NOMEM;
        if (!s->upstream && *s->host) {
            if (resolve(s->host, s->port, 1, key, NULL, &s->addrs, &s->naddrs) == GW_ERR_NOMEM)
                return GW_ERR_NOMEM;
        }
    }
    return GW_OK;
}

static enum gw_err build_routes(struct dp_config *cfg, const Portico__V1__Config *pb,
                                struct build *b, struct dp_strmap *svcs)
{
    cfg->routes = calloc(pb->n_routes ? pb->n_routes : 1, sizeof(*cfg->routes));
    cfg->router = dp_router_create();
    if (!cfg->routes || !cfg->router)
        return GW_ERR_NOMEM;
    struct dp_strmap ids;
    dp_strmap_init(&ids);
    enum gw_err err = GW_OK;
    for (size_t i = 0; i < pb->n_routes; i++) {
        const Portico__V1__Route *p = pb->routes[i];
        struct dp_route *r = &cfg->routes[cfg->nroutes++];
        r->id = xstrdup(p->id ? p->id : "");
        r->name = xstrdup(p->name);
        if (!r->id) {
            err = GW_ERR_NOMEM;
            goto out;
        }
        r->created_at = p->created_at;
        r->strip_path = p->has_strip_path ? p->strip_path : true;
        r->preserve_host = p->has_preserve_host ? p->preserve_host : false;
        r->regex_priority = p->has_regex_priority ? p->regex_priority : 0;
        r->https_redirect_status_code =
            p->has_https_redirect_status_code ? p->https_redirect_status_code : 426;
        r->path_handling =
            p->path_handling && strcmp(p->path_handling, "v1") == 0 ? DP_PATH_V1 : DP_PATH_V0;
        if (p->n_protocols == 0) {
            r->proto_http = r->proto_https = true;
        }
        for (size_t k = 0; k < p->n_protocols; k++) {
            if (strcmp(p->protocols[k], "http") == 0)
                r->proto_http = true;
            else if (strcmp(p->protocols[k], "https") == 0)
                r->proto_https = true;
        }
        if (dp_strmap_put(&ids, r->id, strlen(r->id), r) == GW_ERR_EXISTS)
            report(b, "routes", r->id, "id", "duplicate id");
        if (p->service && p->service->id) {
            r->service = dp_strmap_get(svcs, p->service->id, strlen(p->service->id));
            if (!r->service) {
                report(b, "routes", r->id, "service",
                       "the foreign key '{id=\"%s\"}' does not reference an existing 'services' "
                       "entity.",
                       p->service->id);
                continue;
            }
        }
        if (!r->proto_http && !r->proto_https)
            continue; /* stream/grpc routes are not served by the HTTP proxy */
        if (r->service && !r->service->enabled)
            continue; /* Kong leaves the routes of a disabled service out of the router */
        char field[64] = "", msg[400] = "";
        err = dp_router_add(cfg->router, r, p, field, sizeof(field), msg, sizeof(msg));
        if (err == GW_ERR_INVALID) {
            report(b, "routes", r->id, field, "%s", msg);
            err = GW_OK;
        } else if (err != GW_OK) {
            goto out;
        }
    }
    err = dp_router_finish(cfg->router);
out:
    dp_strmap_cleanup(&ids);
    return err;
}

/* Compiles the plugins (with consumers and credentials) and gives each route its chain. */
static enum gw_err build_plugins(struct dp_config *cfg, const Portico__V1__Config *pb,
                                 struct build *b)
{
    enum gw_err err = dp_plugin_set_build(pb, NULL, b->on_error, b->arg, &cfg->plugins);
    if (err == GW_ERR_INVALID) {
        b->nerrors++;
        return GW_OK; /* reported; the build fails as a whole below */
    }
    if (err != GW_OK)
        return err;
    for (size_t i = 0; i < cfg->nroutes; i++)
        cfg->routes[i].plugins = dp_plugin_set_chain(cfg->plugins, cfg->routes[i].id);
    return GW_OK;
}

enum gw_err dp_config_build(const Portico__V1__Config *pb, int64_t revision, const char *hash,
                            dp_config_error_fn on_error, void *arg, struct dp_config **out)
{
    struct build b = {on_error, arg, 0};
    struct dp_strmap ups_by_id, ups_by_name, svcs;
    dp_strmap_init(&ups_by_id);
    dp_strmap_init(&ups_by_name);
    dp_strmap_init(&svcs);
    *out = NULL;
    struct dp_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return GW_ERR_NOMEM;
    atomic_init(&cfg->refs, 1);
    cfg->revision = revision;
    snprintf(cfg->hash, sizeof(cfg->hash), "%s", hash ? hash : "");
    uint64_t t0 = gw_time_mono_us();
    enum gw_err err = build_upstreams(cfg, pb, &b, &ups_by_id, &ups_by_name);
    if (err == GW_OK)
        err = build_targets(cfg, pb, &b, &ups_by_id);
    if (err == GW_OK)
        err = build_services(cfg, pb, &b, &svcs, &ups_by_name);
    if (err == GW_OK)
        err = build_routes(cfg, pb, &b, &svcs);
    if (err == GW_OK)
        err = build_plugins(cfg, pb, &b);
    if (err == GW_OK) {
        err = dp_tls_store_build(pb, tls_report, &b, &cfg->tls);
        if (err == GW_ERR_INVALID)
            err = GW_OK; /* counted in b.nerrors */
    }
    if (err == GW_OK && b.nerrors)
        err = GW_ERR_INVALID;
    dp_strmap_cleanup(&ups_by_id);
    dp_strmap_cleanup(&ups_by_name);
    dp_strmap_cleanup(&svcs);
    if (err != GW_OK) {
        if (err == GW_ERR_NOMEM && b.on_error)
            b.on_error(b.arg, "@config", "", "@entity", "out of memory");
        dp_config_destroy(cfg);
        return err;
    }
    GW_LOG(GW_LOG_INFO,
           "config built revision=%lld services=%zu routes=%zu upstreams=%zu micros=%llu",
           (long long)revision, cfg->nservices, cfg->nroutes, cfg->nupstreams,
           (unsigned long long)(gw_time_mono_us() - t0));
    *out = cfg;
    return GW_OK;
}

void dp_config_publish(struct dp_config *cfg)
{
    pthread_mutex_lock(&pub_lock);
    struct dp_config *old = published;
    published = cfg;
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_mutex_unlock(&pub_lock);
    if (cfg)
        GW_LOG(GW_LOG_NOTICE, "config published revision=%lld hash=%s", (long long)cfg->revision,
               cfg->hash);
    dp_config_unref(old);
}

int64_t dp_config_current(char *hash_out, size_t hash_len)
{
    pthread_mutex_lock(&pub_lock);
    int64_t rev = published ? published->revision : 0;
    if (hash_out && hash_len)
        snprintf(hash_out, hash_len, "%s", published ? published->hash : "");
    pthread_mutex_unlock(&pub_lock);
    return rev;
}

struct dp_config *dp_config_acquire(void)
{
    pthread_mutex_lock(&pub_lock);
    struct dp_config *c = published;
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pub_lock);
    return c;
}

void dp_config_ref(struct dp_config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
}

void dp_config_unref(struct dp_config *cfg)
{
    /* the last reference is usually a worker's: the reaper thread frees it when it runs */
    if (cfg && atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1 &&
        !dp_config_reaper_put(cfg))
        dp_config_destroy(cfg);
}

uint64_t dp_config_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}

void dp_config_shutdown(void)
{
    dp_config_publish(NULL);
}
