/* tests/fuzz/fuzz_common_snapshot.c: libFuzzer target for the snapshot decoding a data plane
 * does on every message and on its disk cache: gw_snapshot_open on hostile input.
 *
 * Input layout: byte 0 selects the mode, the rest is the payload.
 *   mode 0: the payload is a serialised Snapshot message (the wire form), opened as received;
 *   mode 1: the payload is a serialised Config, wrapped uncompressed with its correct hash so
 *           the Config decoder is reached;
 *   mode 2: the same, zlib-compressed with a correct hash and size;
 *   mode 3: the payload is zlib data with a hash and size that do not match.
 * A Config that opens is built into a snapshot again and reopened.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gw_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SNAPSHOT (4u << 20)

static void check_open(const Portico__V1__Snapshot *snap)
{
    Portico__V1__Config *cfg = NULL;
    char err[256];
    err[0] = '\0';
    enum gw_err e = gw_snapshot_open(snap, MAX_SNAPSHOT, &cfg, err, sizeof err);
    if (e != GW_OK) {
        if (cfg || err[0] == '\0') /* the contract: no config, a message */
            __builtin_trap();
        return;
    }
    /* round trip: what opened builds again and opens without harm. It need not open: the
     * protobuf-c decoder keeps unknown fields, even an over-long encoded field number 0, which
     * it then packs in a form its own decoder refuses. */
    Portico__V1__Snapshot again = PORTICO__V1__SNAPSHOT__INIT;
    if (gw_snapshot_build(cfg, 1, &again) == GW_OK) {
        Portico__V1__Config *cfg2 = NULL;
        if (gw_snapshot_open(&again, MAX_SNAPSHOT * 2, &cfg2, err, sizeof err) == GW_OK)
            portico__v1__config__free_unpacked(cfg2, NULL);
        else if (cfg2)
            __builtin_trap();
        gw_snapshot_clear(&again);
    }
    portico__v1__config__free_unpacked(cfg, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    char hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
    switch (data[0] & 3) {
    case 0: {
        Portico__V1__Snapshot *snap = portico__v1__snapshot__unpack(NULL, n, p);
        if (snap) {
            check_open(snap);
            portico__v1__snapshot__free_unpacked(snap, NULL);
        }
        break;
    }
    case 1: {
        Portico__V1__Snapshot snap = PORTICO__V1__SNAPSHOT__INIT;
        gw_snapshot_hash(p, n, hash);
        snap.hash = hash;
        snap.has_compression = 1;
        snap.compression = PORTICO__V1__COMPRESSION__COMPRESSION_NONE;
        snap.has_config = 1;
        snap.config.data = (uint8_t *)p;
        snap.config.len = n;
        check_open(&snap);
        break;
    }
    case 2: {
        uLongf zlen = compressBound((uLong)n);
        uint8_t *z = malloc(zlen);
        if (!z)
            return 0;
        if (compress2(z, &zlen, p, (uLong)n, Z_BEST_SPEED) == Z_OK) {
            Portico__V1__Snapshot snap = PORTICO__V1__SNAPSHOT__INIT;
            gw_snapshot_hash(p, n, hash);
            snap.hash = hash;
            snap.has_compression = 1;
            snap.compression = PORTICO__V1__COMPRESSION__COMPRESSION_ZLIB;
            snap.has_uncompressed_size = 1;
            snap.uncompressed_size = n;
            snap.has_config = 1;
            snap.config.data = z;
            snap.config.len = zlen;
            check_open(&snap);
        }
        free(z);
        break;
    }
    default: {
        Portico__V1__Snapshot snap = PORTICO__V1__SNAPSHOT__INIT;
        snap.hash = "0000";
        snap.has_compression = 1;
        snap.compression = PORTICO__V1__COMPRESSION__COMPRESSION_ZLIB;
        snap.has_uncompressed_size = 1;
        snap.uncompressed_size = n > 8 ? ((uint64_t)p[0] << 16 | (uint64_t)p[1] << 8 | p[2]) : n;
        snap.has_config = 1;
        snap.config.data = (uint8_t *)p;
        snap.config.len = n;
        check_open(&snap);
        break;
    }
    }
    return 0;
}
