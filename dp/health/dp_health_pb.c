/* dp/health/dp_health_pb.c: HealthReport building and HealthCommand handling.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_pb.h"

#include <stdlib.h>
#include <string.h>

#include "dp_config_internal.h"
#include "dp_health.h"
#include "dp_health_conf.h"
#include "dp_health_view.h"
#include "gw_log.h"
#include "gw_time.h"

/* Everything of one report in a few arrays, freed together. */
struct arena {
    Portico__V1__UpstreamHealth *ups, **upp;
    Portico__V1__TargetHealth *tgs, **tgp;
    Portico__V1__AddressHealth *ads, **adp;
};

static void arena_free(struct arena *a)
{
    free(a->ups);
    free(a->upp);
    free(a->tgs);
    free(a->tgp);
    free(a->ads);
    free(a->adp);
}

enum gw_err dp_health_report_pack(uint8_t **out, size_t *len, uint64_t *version)
{
    *out = NULL;
    *len = 0;
    *version = dp_health_version();
    struct dp_config *cfg = dp_config_acquire();
    size_t nu = cfg ? cfg->nupstreams : 0, nt = 0, na = 0;
    for (size_t i = 0; i < nu; i++) {
        nt += cfg->upstreams[i].ntargets;
        for (size_t t = 0; t < cfg->upstreams[i].ntargets; t++)
            na += cfg->upstreams[i].targets[t].naddrs;
    }
    struct arena a = {0};
    a.ups = calloc(nu + 1, sizeof(*a.ups));
    a.upp = calloc(nu + 1, sizeof(*a.upp));
    a.tgs = calloc(nt + 1, sizeof(*a.tgs));
    a.tgp = calloc(nt + 1, sizeof(*a.tgp));
    a.ads = calloc(na + 1, sizeof(*a.ads));
    a.adp = calloc(na + 1, sizeof(*a.adp));
    enum gw_err err = GW_ERR_NOMEM;
    if (!a.ups || !a.upp || !a.tgs || !a.tgp || !a.ads || !a.adp)
        goto out;
    Portico__V1__HealthReport rep = PORTICO__V1__HEALTH_REPORT__INIT;
    rep.has_unix_ms = 1;
    rep.unix_ms = gw_time_unix_ms();
    rep.upstreams = a.upp;
    size_t kt = 0, ka = 0;
    for (size_t i = 0; i < nu; i++) {
        const struct dp_upstream *u = &cfg->upstreams[i];
        Portico__V1__UpstreamHealth *uh = &a.ups[i];
        portico__v1__upstream_health__init(uh);
        uh->upstream_id = u->id;
        uh->upstream_name = u->name;
        uh->health = (char *)dp_health_label_name(dp_health_upstream_label(u));
        uh->targets = &a.tgp[kt];
        for (size_t t = 0; t < u->ntargets; t++) {
            const struct dp_target *tg = &u->targets[t];
            Portico__V1__TargetHealth *th = &a.tgs[kt];
            portico__v1__target_health__init(th);
            th->target_id = tg->id;
            th->target = tg->target;
            th->has_weight = 1;
            th->weight = tg->weight;
            th->health = (char *)dp_health_label_name(dp_health_target_label(u, tg, NULL, NULL));
            th->addresses = &a.adp[ka];
            for (size_t k = 0; k < tg->naddrs; k++) {
                const struct dp_addr *ad = &tg->addrs[k];
                Portico__V1__AddressHealth *ah = &a.ads[ka];
                portico__v1__address_health__init(ah);
                ah->ip = (char *)ad->ip;
                ah->has_port = 1;
                ah->port = ad->port;
                ah->has_weight = 1;
                ah->weight = ad->weight;
                ah->health = (char *)dp_health_label_name(dp_health_addr_label(u, tg, ad));
                a.adp[ka++] = ah;
                th->n_addresses++;
            }
            a.tgp[kt++] = th;
            uh->n_targets++;
        }
        a.upp[i] = uh;
        rep.n_upstreams++;
    }
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_REPORT;
    m.health_report = &rep;
    size_t n = portico__v1__cluster_message__get_packed_size(&m);
    *out = malloc(n ? n : 1);
    if (!*out)
        goto out;
    *len = portico__v1__cluster_message__pack(&m, *out);
    err = GW_OK;
out:
    arena_free(&a);
    dp_config_unref(cfg);
    return err;
}

enum gw_err dp_health_command_apply(const Portico__V1__HealthCommand *cmd)
{
    bool healthy = cmd->has_healthy ? cmd->healthy : true;
    struct dp_config *cfg = dp_config_acquire();
    enum gw_err err = GW_ERR_NOTFOUND;
    const struct dp_upstream *u =
        cmd->upstream && cfg ? dp_health_find_upstream(cfg, cmd->upstream) : NULL;
    const struct dp_target *t = u && cmd->target ? dp_health_find_target(u, cmd->target) : NULL;
    if (!t)
        goto out;
    if (!u->hc || !u->hc->enabled) {
        err = GW_ERR_DECLINED;
        goto out;
    }
    if (cmd->address && *cmd->address) {
        const struct dp_addr *a = dp_health_find_addr(t, cmd->address);
        if (!a)
            goto out;
        dp_health_set(u, a, healthy);
    } else {
        for (size_t i = 0; i < t->naddrs; i++)
            dp_health_set(u, &t->addrs[i], healthy);
    }
    err = GW_OK;
out:
    if (err != GW_OK)
        GW_LOG(GW_LOG_INFO,
               "health command from the control plane not applied upstream=%s target=%s "
               "address=%s reason=\"%s\"",
               cmd->upstream ? cmd->upstream : "", cmd->target ? cmd->target : "",
               cmd->address ? cmd->address : "",
               err == GW_ERR_DECLINED ? "health checks off" : "not found");
    dp_config_unref(cfg);
    return err;
}

enum gw_err dp_health_sync_poll(struct dp_health_sync *s, bool force, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    uint64_t gen = dp_config_generation();
    if (s->sent_any && !force && s->sent_version == dp_health_version() && s->sent_gen == gen)
        return GW_OK;
    uint64_t ver;
    enum gw_err err = dp_health_report_pack(out, len, &ver);
    if (err != GW_OK)
        return err;
    s->sent_any = true;
    s->sent_version = ver;
    s->sent_gen = gen;
    return GW_OK;
}
