/* cp/admin/cp_admin_body.h: decoding of Admin API request bodies into a JSON object, as Kong's
 * api_helpers do: application/json, application/x-www-form-urlencoded and multipart/form-data.
 * Form and multipart keys build structure: dotted keys nest objects
 * ("healthchecks.active.http_path=/st"), "key[]=a&key[]=b" and "key[1]=a" build arrays, a
 * repeated key becomes an array ("hosts=a&hosts=b"). Values stay strings; the caller then runs
 * gw_schema_coerce_form(). Pure functions: any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_ADMIN_BODY_H
#define CP_ADMIN_BODY_H

#include <jansson.h>
#include <stddef.h>

#include "gw_err.h"

enum cp_admin_body_type {
    CP_ADMIN_BODY_NONE = 0,   /* empty body */
    CP_ADMIN_BODY_JSON,       /* application/json */
    CP_ADMIN_BODY_FORM,       /* application/x-www-form-urlencoded */
    CP_ADMIN_BODY_MULTIPART,  /* multipart/form-data */
    CP_ADMIN_BODY_TYPE_COUNT_ /* keep last */
};

/* Decodes body[0..len) according to content_type (NULL = header absent). On GW_OK *out is an
 * object (owned; {} for an empty body) and *type says how it was encoded. Errors:
 * GW_ERR_DECLINED: unsupported content type with a non-empty body (HTTP 415);
 * GW_ERR_INVALID: malformed JSON or a JSON body that is not an object (HTTP 400 "Cannot parse
 * JSON body"), a malformed form or multipart body (HTTP 400); GW_ERR_NOMEM. */
enum gw_err cp_admin_body_decode(const char *content_type, const char *body, size_t len,
                                 json_t **out, enum cp_admin_body_type *type);

/* Decodes an application/x-www-form-urlencoded text into *out (owned object). A bad
 * percent-escape keeps the raw text. GW_ERR_INVALID when a value is not UTF-8 or the text
 * holds a NUL byte (raw or "%00"), GW_ERR_NOMEM. */
enum gw_err cp_admin_body_form(const char *text, size_t len, json_t **out);

/* Decodes a multipart/form-data body with the given boundary into *out (owned object).
 * GW_ERR_INVALID for a malformed body, a value that is not UTF-8 or part headers holding a
 * NUL byte. A NUL byte inside a value is kept (schema validation refuses it). */
enum gw_err cp_admin_body_multipart(const char *boundary, const char *body, size_t len,
                                    json_t **out);

/* Inserts value (a string; stolen) at the structured key (e.g. "a.b[]", "config.minute") of
 * obj, following the rules above. GW_ERR_INVALID for an unusable key (empty segment, a path
 * that crosses an existing scalar), GW_ERR_NOMEM. The value is released in every case. */
enum gw_err cp_admin_body_set(json_t *obj, const char *key, json_t *value);

/* Turns the index-keyed objects left by cp_admin_body_set ("key[2]=x") into arrays ordered by
 * index. Called by the decoders; exposed for tests. */
void cp_admin_body_finish(json_t *obj);

#endif
