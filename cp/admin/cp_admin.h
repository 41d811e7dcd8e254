/* cp/admin/cp_admin.h: the Kong-compatible Admin API of the control plane: an HTTP (and
 * optionally HTTPS) server on admin_listen, run by libevent's evhttp on the main loop, backed by
 * the PostgreSQL store.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ADMIN_H
#define CP_ADMIN_H

#include <event2/event.h>

#include "gw_conf.h"
#include "gw_err.h"
#include "store/cp_store.h"

struct cp_admin; /* opaque */

/* Binds every admin_listen address on base and starts serving. conf and store are borrowed and
 * must outlive the server. The node id is read from (or created in) <prefix>/node.id.
 * Returns GW_OK with *out (owned; free with cp_admin_stop), GW_ERR_IO when a listener cannot be
 * bound, GW_ERR_TLS when the ssl certificate cannot be loaded, GW_ERR_INVALID for a bad
 * setting (all logged). Call from the loop thread. */
enum gw_err cp_admin_start(struct event_base *base, const struct gw_conf *conf,
                           struct cp_store *store, struct cp_admin **out);

/* Closes the listeners and open connections and frees a. Accepts NULL. Loop thread only. */
void cp_admin_stop(struct cp_admin *a);

#endif
