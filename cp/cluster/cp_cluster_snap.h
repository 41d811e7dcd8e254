/* cp/cluster/cp_cluster_snap.h: one built snapshot, shared by every data plane connection: the
 * packed ClusterMessage{snapshot} bytes, serialised once, with its revision and hash.
 * Immutable after creation; reference-counted across the builder and server threads.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_SNAP_H
#define CP_CLUSTER_SNAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_snapshot.h"

struct cp_cluster_snap {
    atomic_int refs;
    int64_t revision;
    char hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
    size_t config_size; /* uncompressed Config bytes */
    uint8_t *wire;      /* packed ClusterMessage (owned) */
    size_t len;
    uint64_t built_mono_ms;
};

/* Builds a snapshot of cfg (borrowed) at revision. Returns it with one reference (owned; release
 * with cp_cluster_snap_unref) or NULL on failure (logged). Any thread. */
struct cp_cluster_snap *cp_cluster_snap_create(const Portico__V1__Config *cfg, int64_t revision);

/* Takes another reference; returns s. Any thread. */
struct cp_cluster_snap *cp_cluster_snap_ref(struct cp_cluster_snap *s);

/* Drops a reference, freeing s with the last one. Accepts NULL. Any thread. */
void cp_cluster_snap_unref(struct cp_cluster_snap *s);

#endif
