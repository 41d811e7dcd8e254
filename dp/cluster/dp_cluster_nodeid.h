/* dp/cluster/dp_cluster_nodeid.h: the data plane's node id, generated once and kept in
 * <prefix>/node.id so a restarted data plane is the same node in the registry.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CLUSTER_NODEID_H
#define DP_CLUSTER_NODEID_H

#include "gw_err.h"
#include "gw_uuid.h"

/* Reads <prefix>/node.id, or creates it (mode 0600, written atomically) with a new v4 UUID.
 * A file holding something other than a UUID is an error (GW_ERR_INVALID), not silently
 * replaced. Returns GW_OK with the id in out, or GW_ERR_IO / GW_ERR_INVALID (logged). Main
 * thread. */
enum gw_err dp_cluster_node_id(const char *prefix, char out[GW_UUID_STRLEN + 1]);

#endif
