/* dp/dp_status.h: the status listener (status_listen): GET /status (JSON: connections,
 * requests, config revision and hash, control plane connection), GET /status/ready (200 once a
 * config is loaded, else 503) and GET /metrics (Prometheus text).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_STATUS_H
#define DP_STATUS_H

#include <event2/event.h>
#include <stddef.h>

#include "gw_err.h"
#include "gw_listen.h"

struct dp_status;

/* Starts listening on every address of ls (borrowed) on base (borrowed; the main loop).
 * Returns owned (free with dp_status_destroy) or NULL with a message in err. Main thread. */
struct dp_status *dp_status_create(struct event_base *base, const struct gw_listen *ls, size_t nls,
                                   char *err, size_t errlen);

/* Stops listening and frees. Accepts NULL. Main thread. */
void dp_status_destroy(struct dp_status *s);

#endif
