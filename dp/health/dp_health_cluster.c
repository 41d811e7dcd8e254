/* dp/health/dp_health_cluster.c: data plane health <-> cluster client extension hooks.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_health_cluster.h"

#include <string.h>

#include "dp_health_pb.h"
#include "gw_log.h"

void dp_health_ext_connected(void *arg)
{
    struct dp_health_sync *s = arg;
    memset(s, 0, sizeof(*s)); /* a new connection gets a full report at once */
}

void dp_health_ext_message(void *arg, const Portico__V1__ClusterMessage *m)
{
    (void)arg;
    if (m->msg_case == PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_COMMAND && m->health_command)
        (void)dp_health_command_apply(m->health_command);
}

bool dp_health_ext_poll(void *arg, bool heartbeat, uint8_t **out, size_t *len)
{
    struct dp_health_sync *s = arg;
    if (dp_health_sync_poll(s, heartbeat, out, len) != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "out of memory, health report not sent");
        return false;
    }
    return *out != NULL;
}
