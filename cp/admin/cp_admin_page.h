/* cp/admin/cp_admin_page.h: Kong's pagination tokens and page options: `offset` is the
 * unpadded base64 of a JSON array holding the last row's key (["<uuid>"]), `size` is 1..1000
 * (default 100), `tags` is "a,b" (all) or "a/b" (any), at most 5 tags.
 * Pure functions: any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ADMIN_PAGE_H
#define CP_ADMIN_PAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

#define CP_ADMIN_PAGE_DEFAULT 100
#define CP_ADMIN_PAGE_MAX     1000
#define CP_ADMIN_MAX_TAGS     5

/* Standard-alphabet base64 of in[0..n) without padding. Returns owned text (free()) or NULL. */
char *cp_admin_base64_encode(const unsigned char *in, size_t n);

/* Decodes base64 (standard or URL-safe alphabet, padding optional). Returns owned bytes with a
 * NUL after them (free()) and *n, or NULL when the text is not base64. */
unsigned char *cp_admin_base64_decode(const char *in, size_t *n);

/* Builds an offset token from a key (an array of strings, borrowed). Returns owned text. */
char *cp_admin_offset_encode(const json_t *key);

/* Decodes an offset token into its key array (owned) with nkeys strings. On failure returns
 * GW_ERR_INVALID and writes Kong's reason ("bad base64 encoding", "bad json encoding", ...)
 * into why. */
enum gw_err cp_admin_offset_decode(const char *token, size_t nkeys, json_t **key, char *why,
                                   size_t whylen);

/* Parses the size query argument (NULL = default). GW_ERR_INVALID with Kong's message ("size
 * must be a number", "size must be an integer between 1 and 1000") in msg. */
enum gw_err cp_admin_page_size(const char *arg, size_t *size, char *msg, size_t msglen);

/* Parses the tags query argument. On GW_OK *tags is an owned array of strings (json_decref) and
 * *any tells whether they are OR-ed. GW_ERR_INVALID with the option error in msg ("cannot be
 * null", "invalid filter syntax", "cannot query more than 5 tags"). */
enum gw_err cp_admin_page_tags(const char *arg, json_t **tags, bool *any, char *msg, size_t msglen);

#endif
