/* dp/health/dp_health_pb.h: health over the cluster protocol: the HealthReport a data plane
 * sends (every upstream of the serving config, its targets and addresses with Kong's labels)
 * and the HealthCommand it receives (a target or one address set healthy/unhealthy by hand
 * through the control plane).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_PB_H
#define DP_HEALTH_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

/* Packs a ClusterMessage{health_report} of the published config into *out (owned; free()) of
 * *len bytes. *version gets dp_health_version() as read before the walk (send again when it
 * moves). With no config, the report has no upstreams. GW_ERR_NOMEM. Any thread. */
enum gw_err dp_health_report_pack(uint8_t **out, size_t *len, uint64_t *version);

/* Applies cmd (borrowed): upstream by id or name, target by id or host:port, address "ip[:port]"
 * or empty for every address of the target. GW_ERR_NOTFOUND (unknown upstream, target or
 * address), GW_ERR_DECLINED (health checks off for that upstream: Kong has no healthchecker
 * then), GW_OK. Any thread. */
enum gw_err dp_health_command_apply(const Portico__V1__HealthCommand *cmd);

/* Health reporting state of one cluster connection (zero it when a connection starts). */
struct dp_health_sync {
    bool sent_any;
    uint64_t sent_version; /* dp_health_version() of the last report sent */
    uint64_t sent_gen;     /* dp_config_generation() of the last report sent */
};

/* Packs a report into *out (owned; free()) when one is due: nothing sent yet on this
 * connection, a health change or a new config since the last one, or force (heartbeats). *out
 * is NULL when nothing is due. GW_ERR_NOMEM. The cluster client thread. */
enum gw_err dp_health_sync_poll(struct dp_health_sync *s, bool force, uint8_t **out, size_t *len);

#endif
