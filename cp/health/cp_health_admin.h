/* cp/health/cp_health_admin.h: the health endpoints of the Admin API (extension routes):
 * GET /upstreams/{u}/health (per data plane + aggregate; ?balancer_health=1) and
 * PUT /upstreams/{u}/targets/{t}/healthy|unhealthy, PUT /upstreams/{u}/targets/{t}/{address}/
 * healthy|unhealthy, forwarded to every connected data plane as a HealthCommand (Kong refuses
 * these on a control plane; Portico forwards them).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_HEALTH_ADMIN_H
#define CP_HEALTH_ADMIN_H

#include "admin/cp_admin.h"
#include "gw_err.h"

/* Registers the routes on a (borrowed; after cp_admin_start). GW_ERR_TOOBIG when the
 * extension table is full. Main thread. */
enum gw_err cp_health_admin_register(struct cp_admin *a);

#endif
