/* dp/plugins/dp_plugin_rate_limiting.c: the rate-limiting plugin (Kong's
 * kong/plugins/rate-limiting) with policy local: counts requests per limit identifier in the
 * data plane's shared counter store (dp_rl_store) and answers error_code (429) past a limit,
 * with Kong's RateLimit-* and X-RateLimit-* headers.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "gw_time.h"
#include "plugins/dp_plugin.h"
#include "plugins/dp_plugin_set.h"
#include "plugins/dp_rl_store.h"
#include "plugins/dp_plugin_map.h"

/* Longest store key (plugin id + identifier); longer identifiers are hashed down. */
#define RL_KEY_MAX 1024

enum limit_by {
    LIMIT_BY_CONSUMER = 0,
    LIMIT_BY_CREDENTIAL,
    LIMIT_BY_IP,
    LIMIT_BY_SERVICE,
    LIMIT_BY_HEADER,
    LIMIT_BY_PATH,
    LIMIT_BY_COUNT_ /* keep last */
};

struct rl_conf {
    double limits[DP_RL_PERIOD_COUNT_];
    char limit_text[DP_RL_PERIOD_COUNT_][32]; /* each limit as Kong prints it, formatted once */
    /* prepared with the config: X-RateLimit-Limit-<Period> and RateLimit-Limit per period */
    struct dp_header_line limit_line[DP_RL_PERIOD_COUNT_];
    struct dp_header_line rl_limit_line[DP_RL_PERIOD_COUNT_];
    enum limit_by limit_by;
    char *header_name;
    char *path;
    bool fault_tolerant;
    bool hide_client_headers;
    int error_code;
    char *error_message;
    struct dp_rl_store *store; /* borrowed from the plugin env */
};

static void destroy(void *p)
{
    struct rl_conf *c = p;
    if (!c)
        return;
    for (int i = 0; i < DP_RL_PERIOD_COUNT_; i++) {
        dp_header_line_free(&c->limit_line[i]);
        dp_header_line_free(&c->rl_limit_line[i]);
    }
    free(c->header_name);
    free(c->path);
    free(c->error_message);
    free(c);
}

static const char *const limit_names[] = {"X-RateLimit-Limit-Second", "X-RateLimit-Limit-Minute",
                                          "X-RateLimit-Limit-Hour",   "X-RateLimit-Limit-Day",
                                          "X-RateLimit-Limit-Month",  "X-RateLimit-Limit-Year"};
static const char *const remaining_names[] = {
    "X-RateLimit-Remaining-Second", "X-RateLimit-Remaining-Minute", "X-RateLimit-Remaining-Hour",
    "X-RateLimit-Remaining-Day",    "X-RateLimit-Remaining-Month",  "X-RateLimit-Remaining-Year"};

/* Formats a limit or a remaining count as Kong prints Lua numbers ("5", "2.5"). Integers (the
 * common case) skip printf's floating-point path, which is slow. */
static void fmt_num(char *out, size_t len, double v)
{
    if (v >= 0 && v < 1e15 && v == (double)(int64_t)v) {
        char tmp[24];
        char *e = tmp + sizeof(tmp), *d = e;
        uint64_t x = (uint64_t)v;
        do {
            *--d = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        size_t n = (size_t)(e - d);
        if (n >= len)
            n = len - 1;
        memcpy(out, d, n);
        out[n] = '\0';
        return;
    }
    snprintf(out, len, "%.15g", v);
}

static enum gw_err build(const struct dp_plugin_build_ctx *b, void **out, char *err, size_t errlen)
{
    const Portico__V1__RateLimitingConfig *pb = b->pb->rate_limiting;
    if (!b->env || !b->env->ratelimit) {
        snprintf(err, errlen, "no rate-limiting counter store on this data plane");
        return GW_ERR_INVALID;
    }
    const char *policy = pb->policy ? pb->policy : "local";
    if (!strcmp(policy, "cluster")) {
        snprintf(err, errlen, "policy 'cluster' is not supported in hybrid mode: use 'local'");
        return GW_ERR_INVALID;
    }
    if (!strcmp(policy, "redis")) {
        /* Not implemented yet: count on this node rather than refuse the whole config. */
        GW_LOG(GW_LOG_WARN,
               "rate-limiting policy redis is not implemented yet, counting locally plugin=%s",
               b->pb->id ? b->pb->id : "");
    } else if (strcmp(policy, "local") != 0) {
        snprintf(err, errlen, "policy '%s' is not supported by this data plane: use 'local'",
                 policy);
        return GW_ERR_INVALID;
    }
    struct rl_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return GW_ERR_NOMEM;
    c->store = b->env->ratelimit;
    const protobuf_c_boolean has[] = {pb->has_second, pb->has_minute, pb->has_hour,
                                      pb->has_day,    pb->has_month,  pb->has_year};
    const double val[] = {pb->second, pb->minute, pb->hour, pb->day, pb->month, pb->year};
    bool any = false;
    for (int p = 0; p < DP_RL_PERIOD_COUNT_; p++) {
        c->limits[p] = has[p] ? val[p] : 0;
        fmt_num(c->limit_text[p], sizeof(c->limit_text[p]), c->limits[p]);
        if (has[p] &&
            (dp_header_line_make(&c->limit_line[p], limit_names[p], c->limit_text[p]) != GW_OK ||
             dp_header_line_make(&c->rl_limit_line[p], "RateLimit-Limit", c->limit_text[p]) !=
                 GW_OK)) {
            destroy(c);
            return GW_ERR_NOMEM;
        }
        if (has[p] && !(val[p] > 0)) {
            snprintf(err, errlen, "%s: value must be greater than 0",
                     dp_rl_period_name((enum dp_rl_period)p));
            goto invalid;
        }
        any = any || has[p];
    }
    if (!any) {
        snprintf(err, errlen,
                 "at least one of these fields must be non-empty: 'config.second', "
                 "'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'");
        goto invalid;
    }
    static const char *const by_names[] = {"consumer", "credential", "ip",
                                           "service",  "header",     "path"};
    const char *by = pb->limit_by ? pb->limit_by : "consumer";
    c->limit_by = LIMIT_BY_COUNT_;
    for (int i = 0; i < LIMIT_BY_COUNT_; i++) {
        if (!strcmp(by, by_names[i]))
            c->limit_by = (enum limit_by)i;
    }
    if (c->limit_by == LIMIT_BY_COUNT_) {
        snprintf(err, errlen,
                 "limit_by: expected one of: consumer, credential, ip, service, "
                 "header, path");
        goto invalid;
    }
    if (c->limit_by == LIMIT_BY_HEADER && !(pb->header_name && pb->header_name[0])) {
        snprintf(err, errlen, "header_name: required when limit_by is 'header'");
        goto invalid;
    }
    if (c->limit_by == LIMIT_BY_PATH && !(pb->path && pb->path[0])) {
        snprintf(err, errlen, "path: required when limit_by is 'path'");
        goto invalid;
    }
    c->fault_tolerant = !pb->has_fault_tolerant || pb->fault_tolerant;
    c->hide_client_headers = pb->has_hide_client_headers && pb->hide_client_headers;
    c->error_code = pb->has_error_code ? pb->error_code : 429;
    if (c->error_code < 100 || c->error_code > 599) {
        snprintf(err, errlen, "error_code: value should be between 100 and 599");
        goto invalid;
    }
    const char *msg = pb->error_message ? pb->error_message : "API rate limit exceeded";
    if (!(c->error_message = strdup(msg)) ||
        (pb->header_name && !(c->header_name = strdup(pb->header_name))) ||
        (pb->path && !(c->path = strdup(pb->path)))) {
        destroy(c);
        return GW_ERR_NOMEM;
    }
    *out = c;
    return GW_OK;
invalid:
    destroy(c);
    return GW_ERR_INVALID;
}

/* Kong's get_identifier: the configured source, falling back to the client address. */
static const char *identifier(struct dp_plugin_call *c, const struct rl_conf *conf)
{
    struct dp_plugin_req *r = c->req;
    const char *id = NULL;
    switch (conf->limit_by) {
    case LIMIT_BY_SERVICE:
        id = dp_plugin_run_service_id(c->run);
        break;
    case LIMIT_BY_CONSUMER:
        if (c->run->consumer)
            id = c->run->consumer->id;
        else if (c->run->credential)
            id = c->run->credential->id;
        break;
    case LIMIT_BY_CREDENTIAL:
        if (c->run->credential)
            id = c->run->credential->id;
        break;
    case LIMIT_BY_HEADER:
        id = r->ops->header(r, conf->header_name, 0);
        break;
    case LIMIT_BY_PATH: {
        const char *path = r->ops->path(r);
        if (path && !strcmp(path, conf->path))
            id = path;
        break;
    }
    default:
        break;
    }
    if (!id) {
        id = r->ops->client_ip(r);
        if (!id)
            id = "";
    }
    return id;
}

static enum dp_plugin_rc access(struct dp_plugin_call *c)
{
    const struct rl_conf *conf = c->conf;
    struct dp_plugin_req *r = c->req;
    const char *id = identifier(c, conf);
    char key[RL_KEY_MAX];
    size_t pl = strlen(c->plugin_id), il = strlen(id);
    int kn = (int)(pl + 1 + il);
    if (pl + 1 + il < sizeof(key)) {
        memcpy(key, c->plugin_id, pl);
        key[pl] = '\x1f';
        memcpy(key + pl + 1, id, il + 1);
    } else {
        /* an identifier this long (a huge header) is keyed by its hash */
        char h[40];
        snprintf(h, sizeof(h), "#%016llx%zx", (unsigned long long)dp_plugin_hash(id, strlen(id)),
                 strlen(id));
        kn = snprintf(key, sizeof(key), "%s\x1f%s", c->plugin_id, h);
        if (kn < 0 || (size_t)kn >= sizeof(key))
            kn = (int)sizeof(key) - 1;
    }
    int64_t now_ms = gw_time_unix_ms();
    struct dp_rl_usage usage[DP_RL_PERIOD_COUNT_];
    int stop = -1;
    enum gw_err e =
        dp_rl_store_hit(conf->store, key, (size_t)kn, now_ms, conf->limits, usage, &stop);
    if (e != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "rate-limiting failed to get usage plugin=%s error=\"%s\"",
               c->plugin_id, gw_err_str(e));
        if (conf->fault_tolerant)
            return DP_PLUGIN_CONTINUE;
        return dp_plugin_respond_error(c, 500, "An unexpected error occurred", NULL, 0);
    }
    char reset_s[32] = "";
    if (!conf->hide_client_headers) {
        /* limits: lines prepared with the config; counts: formatted here, copied by the proxy */
        struct dp_header_line fixed[DP_RL_PERIOD_COUNT_ + 1], counts[DP_RL_PERIOD_COUNT_ + 2];
        size_t nfixed = 0, ncounts = 0, used = 0;
        char buf[1024];
        double best_remaining = 0;
        int64_t best_window = 0, reset = 0;
        int best = -1;
        for (int p = 0; p < DP_RL_PERIOD_COUNT_; p++) {
            if (!usage[p].active)
                continue;
            double remaining = usage[p].limit - (double)usage[p].count;
            if (stop < 0 || stop == p)
                remaining -= 1;
            if (remaining < 0)
                remaining = 0;
            int64_t window = dp_rl_period_seconds((enum dp_rl_period)p);
            if (best < 0 || remaining < best_remaining ||
                (remaining == best_remaining && window > best_window)) {
                best = p;
                best_remaining = remaining;
                best_window = window;
                reset = window - (now_ms - usage[p].window_start_ms) / 1000;
                if (reset < 1)
                    reset = 1;
            }
            char v[32];
            fixed[nfixed++] = conf->limit_line[p];
            fmt_num(v, sizeof(v), remaining);
            used +=
                dp_header_line_put(buf + used, sizeof(buf) - used, remaining_names[p],
                                   strlen(remaining_names[p]), v, strlen(v), &counts[ncounts++]);
        }
        if (best >= 0) {
            char v[32];
            fixed[nfixed++] = conf->rl_limit_line[best];
            fmt_num(v, sizeof(v), best_remaining);
            used += dp_header_line_put(buf + used, sizeof(buf) - used, "RateLimit-Remaining",
                                       sizeof("RateLimit-Remaining") - 1, v, strlen(v),
                                       &counts[ncounts++]);
            fmt_num(reset_s, sizeof(reset_s), (double)reset);
            used += dp_header_line_put(buf + used, sizeof(buf) - used, "RateLimit-Reset",
                                       sizeof("RateLimit-Reset") - 1, reset_s, strlen(reset_s),
                                       &counts[ncounts++]);
        }
        r->ops->set_header_lines(r, true, fixed, nfixed, false);
        r->ops->set_header_lines(r, true, counts, ncounts, true);
    }
    if (stop >= 0) {
        struct dp_header h = {"Retry-After", reset_s};
        return dp_plugin_respond_error(c, conf->error_code, conf->error_message, &h,
                                       reset_s[0] ? 1 : 0);
    }
    return DP_PLUGIN_CONTINUE;
}

const struct dp_plugin_ops dp_plugin_rate_limiting_ops = {
    .name = "rate-limiting",
    .priority = 910,
    .config_case = PORTICO__V1__PLUGIN__CONFIG_RATE_LIMITING,
    .build = build,
    .destroy = destroy,
    .access = access,
};
