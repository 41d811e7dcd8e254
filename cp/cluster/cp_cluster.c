/* cp/cluster/cp_cluster.c: wiring of the snapshot builder, registry writer and cluster server.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster.h"

#include <stdlib.h>
#include <string.h>

#include "cp_cluster_builder.h"
#include "cp_cluster_pg.h"
#include "cp_cluster_registry.h"
#include "cp_cluster_server.h"
#include "gw_listen.h"
#include "gw_log.h"
#include "gw_uuid.h"

struct cp_cluster {
    struct cp_cluster_registry *registry;
    struct cp_cluster_server *server;
    struct cp_cluster_builder *builder;
};

static void publish(void *arg, struct cp_cluster_snap *snap)
{
    struct cp_cluster *c = arg;
    cp_cluster_server_publish(c->server, snap);
}

enum gw_err cp_cluster_start(const struct gw_conf *conf, struct cp_cluster **out)
{
    return cp_cluster_start_ext(conf, NULL, out);
}

void cp_cluster_kick(struct cp_cluster *c)
{
    if (c)
        cp_cluster_server_kick(c->server);
}

enum gw_err cp_cluster_start_ext(const struct gw_conf *conf, const struct cp_cluster_ext *ext,
                                 struct cp_cluster **out)
{
    struct gw_listen l[GW_LISTEN_MAX];
    size_t nl = 0;
    char err[256];
    *out = NULL;
    if (gw_listen_parse(gw_conf_str(conf, "cluster_listen"), l, &nl, err, sizeof(err)) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "invalid cluster_listen: %s", err);
        return GW_ERR_INVALID;
    }
    if (nl == 0) {
        GW_LOG(GW_LOG_NOTICE, "cluster_listen is off: no data plane can connect");
        return GW_OK;
    }

    struct cp_cluster *c = calloc(1, sizeof(*c));
    if (!c)
        return GW_ERR_NOMEM;
    char cp_id[GW_UUID_STRLEN + 1];
    enum gw_err rc = gw_uuid_v4(cp_id);
    if (rc != GW_OK)
        goto fail;
    struct cp_cluster_pg_params pg;
    cp_cluster_pg_params_init(&pg, conf);
    rc = cp_cluster_registry_start(&pg, cp_id, gw_conf_int(conf, "cluster_data_plane_purge_delay"),
                                   &c->registry);
    if (rc != GW_OK)
        goto fail;
    struct cp_cluster_server_opts so = {
        .listen = l,
        .nlisten = nl,
        .pki = strcmp(gw_conf_str(conf, "cluster_mtls"), "pki") == 0,
        .cert = gw_conf_str(conf, "cluster_cert"),
        .key = gw_conf_str(conf, "cluster_cert_key"),
        .ca = gw_conf_str(conf, "cluster_ca_cert"),
        .allowed_cns = gw_conf_str(conf, "cluster_allowed_common_names"),
        .max_payload = gw_conf_size(conf, "cluster_max_payload"),
        .cp_id = cp_id,
        .registry = c->registry,
    };
    if (ext)
        so.ext = *ext;
    rc = cp_cluster_server_start(&so, &c->server);
    if (rc != GW_OK)
        goto fail;
    rc = cp_cluster_builder_start(&pg, (int)gw_conf_int(conf, "cluster_snapshot_debounce_ms"),
                                  publish, c, &c->builder);
    if (rc != GW_OK)
        goto fail;
    GW_LOG(GW_LOG_INFO, "hybrid mode started control_plane_id=%s", cp_id);
    *out = c;
    return GW_OK;
fail:
    cp_cluster_stop(c);
    return rc;
}

void cp_cluster_stop(struct cp_cluster *c)
{
    if (!c)
        return;
    /* builder first (it publishes into the server), then the server (it queues registry rows),
     * then the registry (it flushes them) */
    cp_cluster_builder_stop(c->builder);
    cp_cluster_server_stop(c->server);
    cp_cluster_registry_stop(c->registry);
    free(c);
}
