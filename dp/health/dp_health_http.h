/* dp/health/dp_health_http.h: the health endpoints of the data plane's status listener, as
 * Kong's Admin API has them on a node: GET /upstreams/{u}/health (and ?balancer_health=1),
 * PUT /upstreams/{u}/targets/{t}/healthy|unhealthy and
 * PUT /upstreams/{u}/targets/{t}/{address}/healthy|unhealthy (204). Plus this node's id.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_HTTP_H
#define DP_HEALTH_HTTP_H

#include <event2/http.h>
#include <stdbool.h>

#include "gw_err.h"

/* Answers req when path (the decoded-free request path, borrowed) is one of the endpoints
 * above and returns true; returns false (nothing sent) for any other path. Main thread (the
 * status listener's loop). */
bool dp_health_http_handle(struct evhttp_request *req, const char *path);

/* Sets the node id shown as node_id (copied). Any thread. */
void dp_health_set_node_id(const char *id);

/* Copies the node id into out (GW_UUID_STRLEN + 1 bytes); "" when unknown. Any thread. */
void dp_health_node_id(char out[37]);

#endif
