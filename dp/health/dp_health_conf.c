/* dp/health/dp_health_conf.c: compiles an upstream's healthchecks record with Kong's defaults.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_conf.h"

#include <stdlib.h>
#include <string.h>

#include "gw_buf.h"

static const int active_healthy_default[] = {200, 302, 0};
static const int active_unhealthy_default[] = {429, 404, 500, 501, 502, 503, 504, 505, 0};
static const int passive_healthy_default[] = {200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                              300, 301, 302, 303, 304, 305, 306, 307, 308, 0};
static const int passive_unhealthy_default[] = {429, 500, 503, 0};

bool dp_hc_statuses_has(const struct dp_hc_statuses *s, int status)
{
    if (status < 100 || status > 999)
        return false;
    unsigned i = (unsigned)(status - 100);
    return (s->bits[i / 8] >> (i % 8)) & 1u;
}

void dp_hc_statuses_add(struct dp_hc_statuses *s, int status)
{
    if (status < 100 || status > 999)
        return;
    unsigned i = (unsigned)(status - 100);
    s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void statuses(struct dp_hc_statuses *out, const int32_t *v, size_t n, const int *dflt)
{
    memset(out, 0, sizeof(*out));
    if (n == 0) {
        for (size_t i = 0; dflt[i]; i++)
            dp_hc_statuses_add(out, dflt[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dp_hc_statuses_add(out, v[i]);
}

static enum dp_hc_type parse_type(const char *s)
{
    static const char *const names[DP_HC_TYPE_COUNT_] = {"http", "https", "tcp", "grpc", "grpcs"};
    if (s)
        for (int i = 0; i < DP_HC_TYPE_COUNT_; i++)
            if (strcmp(s, names[i]) == 0)
                return (enum dp_hc_type)i;
    return DP_HC_TYPE_HTTP;
}

static int clamp_count(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

static void side(struct dp_hc_side *s, const char *type, const Portico__V1__HealthyConfig *h,
                 const Portico__V1__UnhealthyConfig *u, bool active)
{
    s->type = parse_type(type);
    s->healthy_interval = h && h->has_interval && h->interval > 0 ? h->interval : 0;
    s->unhealthy_interval = u && u->has_interval && u->interval > 0 ? u->interval : 0;
    if (!active)
        s->healthy_interval = s->unhealthy_interval = 0;
    statuses(&s->healthy_statuses, h ? h->http_statuses : NULL, h ? h->n_http_statuses : 0,
             active ? active_healthy_default : passive_healthy_default);
    statuses(&s->unhealthy_statuses, u ? u->http_statuses : NULL, u ? u->n_http_statuses : 0,
             active ? active_unhealthy_default : passive_unhealthy_default);
    s->successes = h && h->has_successes ? clamp_count(h->successes) : 0;
    s->http_failures = u && u->has_http_failures ? clamp_count(u->http_failures) : 0;
    s->tcp_failures = u && u->has_tcp_failures ? clamp_count(u->tcp_failures) : 0;
    s->timeouts = u && u->has_timeouts ? clamp_count(u->timeouts) : 0;
}

struct dp_hc_conf *dp_hc_conf_create(const Portico__V1__Healthchecks *pb)
{
    struct dp_hc_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    const Portico__V1__ActiveHealthcheck *a = pb ? pb->active : NULL;
    const Portico__V1__PassiveHealthcheck *p = pb ? pb->passive : NULL;
    c->threshold = pb && pb->has_threshold ? pb->threshold : 0;
    side(&c->active, a ? a->type : NULL, a ? a->healthy : NULL, a ? a->unhealthy : NULL, true);
    side(&c->passive, p ? p->type : NULL, p ? p->healthy : NULL, p ? p->unhealthy : NULL, false);
    c->timeout = a && a->has_timeout && a->timeout > 0 ? a->timeout : 1;
    c->concurrency = a && a->has_concurrency && a->concurrency > 0 ? a->concurrency : 10;
    c->https_verify = a && a->has_https_verify_certificate ? a->https_verify_certificate : true;
    c->http_path = strdup(a && a->http_path && *a->http_path ? a->http_path : "/");
    if (a && a->https_sni && *a->https_sni)
        c->https_sni = strdup(a->https_sni);
    struct gw_buf hb;
    gw_buf_init(&hb, 64 * 1024);
    bool ok = gw_buf_append_str(&hb, "") == GW_OK;
    for (size_t i = 0; ok && a && i < a->n_headers; i++) {
        const Portico__V1__HeaderValues *h = a->headers[i];
        if (!h->name || !*h->name || strpbrk(h->name, "\r\n:"))
            continue;
        for (size_t k = 0; ok && k < h->n_values; k++)
            if (h->values[k] && !strpbrk(h->values[k], "\r\n"))
                ok = gw_buf_appendf(&hb, "%s: %s\r\n", h->name, h->values[k]) != GW_ERR_NOMEM;
    }
    c->headers = gw_buf_steal(&hb);
    gw_buf_cleanup(&hb);
    /* Kong's is_upstream_using_healthcheck: passive successes alone do not enable checks. */
    c->enabled = c->active.healthy_interval > 0 || c->active.unhealthy_interval > 0 ||
                 c->passive.tcp_failures > 0 || c->passive.timeouts > 0 ||
                 c->passive.http_failures > 0;
    c->active_on = (c->active.healthy_interval > 0 || c->active.unhealthy_interval > 0) &&
                   (c->active.type == DP_HC_TYPE_HTTP || c->active.type == DP_HC_TYPE_HTTPS ||
                    c->active.type == DP_HC_TYPE_TCP);
    if (!ok || !c->http_path || !c->headers ||
        (a && a->https_sni && *a->https_sni && !c->https_sni)) {
        dp_hc_conf_destroy(c);
        return NULL;
    }
    return c;
}

void dp_hc_conf_destroy(struct dp_hc_conf *c)
{
    if (!c)
        return;
    free(c->http_path);
    free(c->https_sni);
    free(c->headers);
    free(c);
}
