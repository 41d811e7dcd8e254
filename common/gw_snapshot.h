/* common/gw_snapshot.h: turning a protobuf Config into a Snapshot (serialised once, hashed with
 * SHA-256, zlib-compressed) and back, with size limits and hash verification. Used by the
 * control plane's snapshot builder, the data plane's cluster client and its disk cache.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_SNAPSHOT_H
#define GW_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

#define GW_SNAPSHOT_HASH_HEXLEN 64

/* Writes the lowercase hex SHA-256 of data into out (65 bytes with the NUL). Any thread. */
void gw_snapshot_hash(const uint8_t *data, size_t len, char out[GW_SNAPSHOT_HASH_HEXLEN + 1]);

/* Serialises cfg (borrowed), hashes the serialised bytes and compresses them into snap, which
 * must be initialised with PORTICO__V1__SNAPSHOT__INIT. snap->config.data and snap->hash are
 * owned by snap afterwards: release them with gw_snapshot_clear. Equal configs give equal bytes
 * and hashes (protobuf-c packs fields in number order; callers sort lists by id).
 * Returns GW_OK, GW_ERR_NOMEM, or GW_ERR_INTERNAL (compression failure). Any thread. */
enum gw_err gw_snapshot_build(const Portico__V1__Config *cfg, int64_t revision,
                              Portico__V1__Snapshot *snap);

/* Frees what gw_snapshot_build put into snap (not snap itself). Accepts a cleared snap. */
void gw_snapshot_clear(Portico__V1__Snapshot *snap);

/* Opens a received snapshot (borrowed): decompresses into at most max_size bytes, checks the
 * SHA-256 against snap->hash, and unpacks the Config. On success *cfg is owned by the caller
 * (free with portico__v1__config__free_unpacked(*cfg, NULL)). On failure returns GW_ERR_TOOBIG
 * (over max_size), GW_ERR_INVALID (corrupt, hash mismatch, undecodable) or GW_ERR_NOMEM, with a
 * message in err. Any thread. */
enum gw_err gw_snapshot_open(const Portico__V1__Snapshot *snap, size_t max_size,
                             Portico__V1__Config **cfg, char *err, size_t errlen);

#endif
