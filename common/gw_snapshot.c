/* common/gw_snapshot.c: Config <-> Snapshot (serialise, SHA-256, zlib) with limits.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_snapshot.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void gw_snapshot_hash(const uint8_t *data, size_t len, char out[GW_SNAPSHOT_HASH_HEXLEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        memset(out, '0', GW_SNAPSHOT_HASH_HEXLEN);
        out[GW_SNAPSHOT_HASH_HEXLEN] = '\0';
        return;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[GW_SNAPSHOT_HASH_HEXLEN] = '\0';
}

enum gw_err gw_snapshot_build(const Portico__V1__Config *cfg, int64_t revision,
                              Portico__V1__Snapshot *snap)
{
    enum gw_err rc = GW_ERR_NOMEM;
    size_t raw_len = portico__v1__config__get_packed_size(cfg);
    uint8_t *raw = malloc(raw_len ? raw_len : 1);
    uint8_t *z = NULL;
    char *hash = malloc(GW_SNAPSHOT_HASH_HEXLEN + 1);
    if (!raw || !hash)
        goto fail;
    portico__v1__config__pack(cfg, raw);
    gw_snapshot_hash(raw, raw_len, hash);

    uLongf zlen = compressBound((uLong)raw_len);
    z = malloc(zlen ? zlen : 1);
    if (!z)
        goto fail;
    if (compress2(z, &zlen, raw, (uLong)raw_len, Z_BEST_SPEED) != Z_OK) {
        rc = GW_ERR_INTERNAL;
        goto fail;
    }
    free(raw);
    snap->has_revision = 1;
    snap->revision = revision;
    snap->hash = hash;
    snap->has_compression = 1;
    snap->compression = PORTICO__V1__COMPRESSION__COMPRESSION_ZLIB;
    snap->has_uncompressed_size = 1;
    snap->uncompressed_size = raw_len;
    snap->has_config = 1;
    snap->config.data = z;
    snap->config.len = zlen;
    return GW_OK;
fail:
    free(raw);
    free(z);
    free(hash);
    return rc;
}

void gw_snapshot_clear(Portico__V1__Snapshot *snap)
{
    if (!snap)
        return;
    free(snap->hash);
    snap->hash = NULL;
    free(snap->config.data);
    snap->config.data = NULL;
    snap->config.len = 0;
    snap->has_config = 0;
}

enum gw_err gw_snapshot_open(const Portico__V1__Snapshot *snap, size_t max_size,
                             Portico__V1__Config **cfg, char *err, size_t errlen)
{
    const uint8_t *raw;
    size_t raw_len;
    uint8_t *buf = NULL;
    char hash[GW_SNAPSHOT_HASH_HEXLEN + 1];

    *cfg = NULL;
    if (!snap->has_config || !snap->hash) {
        snprintf(err, errlen, "snapshot has no config or no hash");
        return GW_ERR_INVALID;
    }
    if (snap->compression == PORTICO__V1__COMPRESSION__COMPRESSION_ZLIB) {
        if (!snap->has_uncompressed_size || snap->uncompressed_size > max_size) {
            snprintf(err, errlen, "snapshot of %llu bytes exceeds the limit of %zu bytes",
                     (unsigned long long)snap->uncompressed_size, max_size);
            return GW_ERR_TOOBIG;
        }
        uLongf len = (uLongf)snap->uncompressed_size;
        buf = malloc(len ? len : 1);
        if (!buf) {
            snprintf(err, errlen, "out of memory decompressing the snapshot");
            return GW_ERR_NOMEM;
        }
        int zrc = uncompress(buf, &len, snap->config.data, (uLong)snap->config.len);
        if (zrc != Z_OK || len != (uLongf)snap->uncompressed_size) {
            free(buf);
            snprintf(err, errlen, "snapshot is corrupt: decompression failed (zlib %d)", zrc);
            return GW_ERR_INVALID;
        }
        raw = buf;
        raw_len = len;
    } else if (snap->compression == PORTICO__V1__COMPRESSION__COMPRESSION_NONE) {
        if (snap->config.len > max_size) {
            snprintf(err, errlen, "snapshot of %zu bytes exceeds the limit of %zu bytes",
                     snap->config.len, max_size);
            return GW_ERR_TOOBIG;
        }
        raw = snap->config.data;
        raw_len = snap->config.len;
    } else {
        snprintf(err, errlen, "snapshot uses an unknown compression (%d)", (int)snap->compression);
        return GW_ERR_INVALID;
    }
    gw_snapshot_hash(raw, raw_len, hash);
    if (strcmp(hash, snap->hash) != 0) {
        free(buf);
        snprintf(err, errlen, "snapshot hash mismatch: computed %.12s..., announced %.12s...", hash,
                 snap->hash);
        return GW_ERR_INVALID;
    }
    *cfg = portico__v1__config__unpack(NULL, raw_len, raw);
    free(buf);
    if (!*cfg) {
        snprintf(err, errlen, "snapshot config cannot be decoded as portico.v1.Config");
        return GW_ERR_INVALID;
    }
    return GW_OK;
}
