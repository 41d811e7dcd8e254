/* cp/health/cp_health_cluster.c: health registry <-> cluster server extension hooks.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_health_cluster.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "cp_health.h"
#include "cp_health_bcast.h"
#include "gw_log.h"

struct cp_health_cluster {
    struct cp_health_bcast *log;
    cp_health_kick_fn kick;
    void *kick_arg;
    atomic_size_t connected; /* accepted data planes now */
};

struct cp_health_cluster *cp_health_cluster_create(void)
{
    struct cp_health_cluster *h = calloc(1, sizeof(*h));
    if (h && !(h->log = cp_health_bcast_create())) {
        free(h);
        h = NULL;
    }
    return h;
}

static size_t sink(void *arg, const Portico__V1__HealthCommand *cmd)
{
    struct cp_health_cluster *h = arg;
    if (cp_health_bcast_push(h->log, cmd) != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "out of memory, health command dropped");
        return 0;
    }
    if (h->kick)
        h->kick(h->kick_arg);
    return atomic_load(&h->connected);
}

void cp_health_cluster_link(struct cp_health_cluster *h, cp_health_kick_fn kick, void *kick_arg)
{
    h->kick = kick;
    h->kick_arg = kick_arg;
    cp_health_set_command_sink(sink, h);
}

void cp_health_cluster_destroy(struct cp_health_cluster *h)
{
    if (!h)
        return;
    cp_health_set_command_sink(NULL, NULL);
    cp_health_bcast_destroy(h->log);
    free(h);
}

void cp_health_ext_connected(void *arg, const char *node_id, const char *hostname)
{
    struct cp_health_cluster *h = arg;
    atomic_fetch_add(&h->connected, 1);
    cp_health_dp_connected(node_id, hostname);
}

void cp_health_ext_gone(void *arg, const char *node_id)
{
    struct cp_health_cluster *h = arg;
    if (atomic_load(&h->connected) > 0)
        atomic_fetch_sub(&h->connected, 1);
    cp_health_dp_gone(node_id);
}

void cp_health_ext_message(void *arg, const char *node_id, const char *hostname,
                           const Portico__V1__ClusterMessage *m)
{
    (void)arg;
    if (m->msg_case == PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_REPORT)
        cp_health_dp_report(node_id, hostname, m->health_report);
}

uint64_t cp_health_ext_cursor_init(void *arg)
{
    struct cp_health_cluster *h = arg;
    return cp_health_bcast_head(h->log);
}

bool cp_health_ext_next(void *arg, uint64_t *cursor, uint8_t **out, size_t *len)
{
    struct cp_health_cluster *h = arg;
    return cp_health_bcast_next(h->log, cursor, out, len);
}
