/* cp/cluster/cp_cluster_snap.c: reference-counted, serialised-once snapshots.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_snap.h"

#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "gw_time.h"

struct cp_cluster_snap *cp_cluster_snap_create(const Portico__V1__Config *cfg, int64_t revision)
{
    Portico__V1__Snapshot snap = PORTICO__V1__SNAPSHOT__INIT;
    enum gw_err rc = gw_snapshot_build(cfg, revision, &snap);
    if (rc != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "cannot build snapshot revision=%lld error=\"%s\"",
               (long long)revision, gw_err_str(rc));
        return NULL;
    }
    struct cp_cluster_snap *s = calloc(1, sizeof(*s));
    Portico__V1__ClusterMessage msg = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    msg.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_SNAPSHOT;
    msg.snapshot = &snap;
    size_t len = portico__v1__cluster_message__get_packed_size(&msg);
    uint8_t *wire = malloc(len ? len : 1);
    if (!s || !wire) {
        GW_LOG(GW_LOG_ERROR, "cannot build snapshot: out of memory revision=%lld",
               (long long)revision);
        free(s);
        free(wire);
        gw_snapshot_clear(&snap);
        return NULL;
    }
    portico__v1__cluster_message__pack(&msg, wire);
    atomic_init(&s->refs, 1);
    s->revision = revision;
    memcpy(s->hash, snap.hash, sizeof(s->hash));
    s->config_size = (size_t)snap.uncompressed_size;
    s->wire = wire;
    s->len = len;
    s->built_mono_ms = gw_time_mono_ms();
    gw_snapshot_clear(&snap);
    return s;
}

struct cp_cluster_snap *cp_cluster_snap_ref(struct cp_cluster_snap *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void cp_cluster_snap_unref(struct cp_cluster_snap *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    free(s->wire);
    free(s);
}
