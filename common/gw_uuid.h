/* common/gw_uuid.h: UUID generation (v4 random, v5 name-based) and validation.
 * Strings are 36 lowercase characters plus NUL (GW_UUID_STRLEN + 1 bytes).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_UUID_H
#define GW_UUID_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

#define GW_UUID_STRLEN 36

/* Writes a random (version 4) UUID into out[GW_UUID_STRLEN + 1]. Uses OpenSSL's CSPRNG.
 * Any thread. Returns GW_ERR_INTERNAL if the random generator fails. */
enum gw_err gw_uuid_v4(char out[GW_UUID_STRLEN + 1]);

/* Writes the name-based (version 5, SHA-1) UUID of name in namespace ns (a UUID string) into out.
 * Returns GW_ERR_INVALID if ns is not a UUID. Any thread. */
enum gw_err gw_uuid_v5(const char *ns, const char *name, size_t name_len,
                       char out[GW_UUID_STRLEN + 1]);

/* True if s is a UUID in 8-4-4-4-12 hex form (either case). */
bool gw_uuid_valid(const char *s);

/* Parses s (any case) into 16 bytes. Returns false if s is not a UUID. */
bool gw_uuid_parse(const char *s, unsigned char out[16]);

/* Formats 16 bytes as a lowercase UUID string. */
void gw_uuid_format(const unsigned char in[16], char out[GW_UUID_STRLEN + 1]);

#endif
