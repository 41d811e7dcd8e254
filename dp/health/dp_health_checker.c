/* dp/health/dp_health_checker.c: active probes on the checker thread's event loop
 * (lua-resty-healthcheck's run_single_check: connect, optional TLS, "GET <http_path>
 * HTTP/1.0" with the configured headers and Host, read the status line).
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_checker.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer/dp_lb_state.h"
#include "dp_config_internal.h"
#include "dp_health.h"
#include "dp_health_conf.h"
#include "gw_log.h"
#include "gw_time.h"
#include "tls/dp_tls_store.h"

#define TICK_MS         50
#define STATUS_LINE_MAX 8192

struct qitem {
    struct qitem *next;
    const struct dp_addr *a; /* in the checker's current config */
};

/* Scheduling state of one upstream, kept across configs by upstream id. */
struct sched {
    struct sched *next;
    char *upstream_id;
    const struct dp_upstream *u; /* in the checker's current config; NULL when gone */
    uint64_t last_healthy_ms, last_unhealthy_ms;
    size_t inflight;
    struct qitem *qhead, *qtail;
    bool seen;
};

struct probe {
    struct dp_health_checker *c;
    struct sched *s;
    struct dp_config *cfg; /* referenced: u and a stay valid while the probe runs */
    const struct dp_upstream *u;
    const struct dp_addr *a;
    struct bufferevent *bev;
    struct probe *next, *prev;
};

struct dp_health_checker {
    pthread_t thread;
    bool started;
    atomic_bool stopping; /* set by the main thread; the loop leaves at its next tick */
    struct event_base *base;
    struct event *tick;
    struct dp_config *cfg; /* referenced */
    uint64_t gen;
    struct sched *scheds;
    struct probe *probes;
    pthread_mutex_t kick_lock;
    dp_health_kick_fn kick;
    void *kick_arg;
    uint64_t kicked_version, kicked_gen;
};

static void sched_clear_queue(struct sched *s)
{
    while (s->qhead) {
        struct qitem *q = s->qhead;
        s->qhead = q->next;
        free(q);
    }
    s->qtail = NULL;
}

static void sched_free(struct sched *s)
{
    sched_clear_queue(s);
    free(s->upstream_id);
    free(s);
}

/* Frees scheds that left the config and have no probe in flight. */
static void sched_gc(struct dp_health_checker *c)
{
    for (struct sched **pp = &c->scheds; *pp;) {
        struct sched *s = *pp;
        if (!s->u && s->inflight == 0) {
            *pp = s->next;
            sched_free(s);
        } else {
            pp = &s->next;
        }
    }
}

static void launch(struct dp_health_checker *c, struct sched *s);

static void probe_done(struct probe *p)
{
    struct dp_health_checker *c = p->c;
    struct sched *s = p->s;
    if (p->bev)
        bufferevent_free(p->bev);
    if (p->prev)
        p->prev->next = p->next;
    else
        c->probes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    dp_config_unref(p->cfg);
    free(p);
    s->inflight--;
    if (s->u)
        launch(c, s);
    else
        sched_gc(c);
}

static void probe_tcp_failure(struct probe *p, const char *why)
{
    GW_DEBUG("health probe failed upstream=%s address=%s reason=\"%s\"", p->u->name, p->a->key,
             why);
    dp_health_report_tcp_failure(p->u, p->a, DP_HC_SRC_ACTIVE);
    probe_done(p);
}

/* Parses "HTTP/d.d SP ddd" (Kong's ^HTTP/\d+\.\d+\s+(\d+)); 0 when malformed. */
static int parse_status(const char *line, size_t len)
{
    size_t i = 0;
    if (len < 5 || memcmp(line, "HTTP/", 5) != 0)
        return 0;
    i = 5;
    size_t d = i;
    while (i < len && line[i] >= '0' && line[i] <= '9')
        i++;
    if (i == d || i >= len || line[i] != '.')
        return 0;
    d = ++i;
    while (i < len && line[i] >= '0' && line[i] <= '9')
        i++;
    if (i == d)
        return 0;
    d = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == d)
        return 0;
    int st = 0, nd = 0;
    while (i < len && line[i] >= '0' && line[i] <= '9' && nd < 4) {
        st = st * 10 + (line[i] - '0');
        i++;
        nd++;
    }
    return nd == 3 ? st : 0;
}

static void probe_read(struct bufferevent *bev, void *arg)
{
    struct probe *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t eol_len = 0;
    struct evbuffer_ptr pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (pos.pos < 0) {
        if (evbuffer_get_length(in) > STATUS_LINE_MAX) {
            dp_health_report_status(p->u, p->a, DP_HC_SRC_ACTIVE, 0);
            probe_done(p);
        }
        return;
    }
    size_t n = (size_t)pos.pos;
    const char *line = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    int status = line ? parse_status(line, n) : 0;
    GW_DEBUG("health probe answered upstream=%s address=%s status=%d", p->u->name, p->a->key,
             status);
    dp_health_report_status(p->u, p->a, DP_HC_SRC_ACTIVE, status);
    probe_done(p);
}

static void probe_send(struct probe *p)
{
    const struct dp_upstream *u = p->u;
    const struct dp_target *t = p->a->target;
    const char *host = u->host_header ? u->host_header : t ? t->name : p->a->ip;
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    struct evbuffer *out = bufferevent_get_output(p->bev);
    evbuffer_add_printf(out, "GET %s HTTP/1.0\r\n%sHost: %s%s%s\r\n\r\n", u->hc->http_path,
                        u->hc->headers, v6 ? "[" : "", host, v6 ? "]" : "");
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
}

static void probe_event(struct bufferevent *bev, short what, void *arg)
{
    struct probe *p = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (p->u->hc->active.type == DP_HC_TYPE_TCP) {
            dp_health_report_success(p->u, p->a, DP_HC_SRC_ACTIVE);
            probe_done(p);
            return;
        }
        probe_send(p);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        GW_DEBUG("health probe timed out upstream=%s address=%s", p->u->name, p->a->key);
        dp_health_report_timeout(p->u, p->a, DP_HC_SRC_ACTIVE);
        probe_done(p);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        if (e) {
            /* as Kong: a failed handshake is logged and counts as a tcp failure */
            SSL *ssl = bufferevent_openssl_get_ssl(bev);
            long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
            char buf[160] = "";
            ERR_error_string_n(e, buf, sizeof(buf));
            while (bufferevent_get_openssl_error(bev))
                ;
            const char *sni = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
            if (vr != X509_V_OK)
                GW_LOG(GW_LOG_WARN,
                       "health probe TLS handshake failed upstream=%s address=%s sni=%s "
                       "reason=\"certificate verify failed: %s\"",
                       p->u->name, p->a->key, sni ? sni : "-", X509_verify_cert_error_string(vr));
            else
                GW_LOG(GW_LOG_WARN,
                       "health probe TLS handshake failed upstream=%s address=%s sni=%s "
                       "reason=\"%s\"",
                       p->u->name, p->a->key, sni ? sni : "-", buf);
            probe_tcp_failure(p, buf);
            return;
        }
        probe_tcp_failure(p, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return;
    }
    probe_tcp_failure(p, "connection closed before the status line");
}

static void probe_start(struct dp_health_checker *c, struct sched *s, const struct dp_addr *a)
{
    const struct dp_upstream *u = s->u;
    struct probe *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->c = c;
    p->s = s;
    p->u = u;
    p->a = a;
    p->cfg = c->cfg;
    dp_config_ref(c->cfg);
    p->next = c->probes;
    if (c->probes)
        c->probes->prev = p;
    c->probes = p;
    s->inflight++;
    if (u->hc->active.type == DP_HC_TYPE_HTTPS) {
        /* the upstream's probe context from the config's TLS store (dp/tls): client
         * certificate, verification and trust as the proxy uses them for these targets */
        const struct dp_tls_upstream *tu =
            dp_tls_store_health(p->cfg->tls, (size_t)(u - p->cfg->upstreams));
        /* SNI (Kong): https_sni, else the upstream's host_header, else the target name */
        const char *sni = u->hc->https_sni ? u->hc->https_sni
                          : u->host_header ? u->host_header
                          : a->target      ? a->target->name
                                           : NULL;
        SSL *ssl = tu ? dp_tls_client_ssl(tu, sni) : NULL;
        if (!ssl) {
            probe_tcp_failure(p, "cannot create a TLS session");
            return;
        }
        p->bev = bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        if (!p->bev)
            SSL_free(ssl);
    } else {
        p->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!p->bev) {
        probe_tcp_failure(p, "out of memory");
        return;
    }
    bufferevent_setcb(p->bev, probe_read, NULL, probe_event, p);
    double to = u->hc->timeout;
    struct timeval tv = {(time_t)to, (suseconds_t)((to - (double)(time_t)to) * 1e6)};
    bufferevent_set_timeouts(p->bev, &tv, &tv);
    if (bufferevent_socket_connect(p->bev, (const struct sockaddr *)&a->sa, (int)a->salen) != 0)
        probe_tcp_failure(p, "connect failed");
}

static void launch(struct dp_health_checker *c, struct sched *s)
{
    while (s->u && s->qhead && s->inflight < (size_t)s->u->hc->concurrency) {
        struct qitem *q = s->qhead;
        s->qhead = q->next;
        if (!s->qhead)
            s->qtail = NULL;
        const struct dp_addr *a = q->a;
        free(q);
        probe_start(c, s, a);
    }
}

static bool busy(const struct dp_health_checker *c, const struct sched *s, const struct dp_addr *a)
{
    for (const struct qitem *q = s->qhead; q; q = q->next)
        if (q->a->state == a->state)
            return true;
    for (const struct probe *p = c->probes; p; p = p->next)
        if (p->s == s && p->a->state == a->state)
            return true;
    return false;
}

/* Queues every address of s whose health matches (healthy or unhealthy probing round). */
static void enqueue(struct dp_health_checker *c, struct sched *s, bool healthy_round)
{
    const struct dp_upstream *u = s->u;
    for (size_t i = 0; i < u->naddrs; i++) {
        const struct dp_addr *a = u->addrs[i];
        if (a->weight <= 0)
            continue;
        bool h = atomic_load_explicit(&a->state->healthy, memory_order_acquire);
        if (h != healthy_round || busy(c, s, a))
            continue;
        struct qitem *q = calloc(1, sizeof(*q));
        if (!q)
            return;
        q->a = a;
        if (s->qtail)
            s->qtail->next = q;
        else
            s->qhead = q;
        s->qtail = q;
    }
}

static void follow_config(struct dp_health_checker *c)
{
    uint64_t gen = dp_config_generation();
    if (gen == c->gen)
        return;
    c->gen = gen;
    struct dp_config *cfg = dp_config_acquire();
    uint64_t now = gw_time_mono_ms();
    for (struct sched *s = c->scheds; s; s = s->next) {
        sched_clear_queue(s); /* queued addresses belong to the old config */
        s->u = NULL;
    }
    for (size_t i = 0; cfg && i < cfg->nupstreams; i++) {
        const struct dp_upstream *u = &cfg->upstreams[i];
        if (!u->hc || !u->hc->enabled) {
            dp_health_reset_upstream(u);
            continue;
        }
        if (!u->hc->active_on)
            continue;
        struct sched *s;
        for (s = c->scheds; s; s = s->next)
            if (strcmp(s->upstream_id, u->id) == 0)
                break;
        if (!s) {
            s = calloc(1, sizeof(*s));
            if (!s || !(s->upstream_id = strdup(u->id))) {
                free(s);
                GW_LOG(GW_LOG_ERROR, "out of memory, active checks skipped upstream=%s", u->name);
                continue;
            }
            /* the first probe happens one interval after the checker starts (Kong) */
            s->last_healthy_ms = s->last_unhealthy_ms = now;
            s->next = c->scheds;
            c->scheds = s;
            GW_LOG(GW_LOG_INFO, "active health checks started upstream=%s", u->name);
        }
        s->u = u;
    }
    dp_config_unref(c->cfg);
    c->cfg = cfg;
    sched_gc(c);
}

static void kick_if_changed(struct dp_health_checker *c)
{
    uint64_t v = dp_health_version(), g = dp_config_generation();
    if (v == c->kicked_version && g == c->kicked_gen)
        return;
    c->kicked_version = v;
    c->kicked_gen = g;
    pthread_mutex_lock(&c->kick_lock);
    if (c->kick)
        c->kick(c->kick_arg);
    pthread_mutex_unlock(&c->kick_lock);
}

void dp_health_checker_set_kick(struct dp_health_checker *c, dp_health_kick_fn fn, void *arg)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->kick_lock);
    c->kick = fn;
    c->kick_arg = arg;
    pthread_mutex_unlock(&c->kick_lock);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct dp_health_checker *c = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&c->stopping)) {
        event_base_loopbreak(c->base);
        return;
    }
    follow_config(c);
    kick_if_changed(c);
    uint64_t now = gw_time_mono_ms();
    for (struct sched *s = c->scheds; s; s = s->next) {
        if (!s->u)
            continue;
        const struct dp_hc_side *a = &s->u->hc->active;
        if (a->healthy_interval > 0 &&
            now - s->last_healthy_ms >= (uint64_t)(a->healthy_interval * 1000.0)) {
            s->last_healthy_ms = now;
            enqueue(c, s, true);
        }
        if (a->unhealthy_interval > 0 &&
            now - s->last_unhealthy_ms >= (uint64_t)(a->unhealthy_interval * 1000.0)) {
            s->last_unhealthy_ms = now;
            enqueue(c, s, false);
        }
        launch(c, s);
    }
}

static void *run(void *arg)
{
    struct dp_health_checker *c = arg;
    event_base_dispatch(c->base);
    return NULL;
}

static void destroy(struct dp_health_checker *c)
{
    while (c->probes) {
        struct probe *p = c->probes;
        c->probes = p->next;
        if (p->bev)
            bufferevent_free(p->bev);
        dp_config_unref(p->cfg);
        free(p);
    }
    while (c->scheds) {
        struct sched *s = c->scheds;
        c->scheds = s->next;
        sched_free(s);
    }
    dp_config_unref(c->cfg);
    if (c->tick)
        event_free(c->tick);
    if (c->base)
        event_base_free(c->base);
    pthread_mutex_destroy(&c->kick_lock);
    free(c);
}

enum gw_err dp_health_checker_start(struct dp_health_checker **out)
{
    *out = NULL;
    struct dp_health_checker *c = calloc(1, sizeof(*c));
    if (!c)
        return GW_ERR_NOMEM;
    pthread_mutex_init(&c->kick_lock, NULL);
    c->base = event_base_new();
    c->tick = c->base ? event_new(c->base, -1, EV_PERSIST, on_tick, c) : NULL;
    if (!c->tick) {
        destroy(c);
        return GW_ERR_NOMEM;
    }
    struct timeval tv = {0, TICK_MS * 1000};
    if (event_add(c->tick, &tv) != 0) {
        destroy(c);
        return GW_ERR_IO;
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        destroy(c);
        return GW_ERR_IO;
    }
    c->started = true;
    *out = c;
    return GW_OK;
}

void dp_health_checker_stop(struct dp_health_checker *c)
{
    if (!c)
        return;
    if (c->started) {
        /* a loopbreak sent before the loop runs would be lost: the tick checks the flag */
        atomic_store(&c->stopping, true);
        pthread_join(c->thread, NULL);
    }
    destroy(c);
}
