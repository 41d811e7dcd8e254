/* cp/declarative/cp_decl_load.h: the whole load pipeline shared by the CLI and POST /config:
 * text -> document (YAML or JSON) -> flat entity set, every entity run through the entity model
 * (gw_schema_process, as an Admin API insert) so a file gets exactly the defaults and
 * validation the Admin API applies.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_LOAD_H
#define CP_DECL_LOAD_H

#include <jansson.h>
#include <stddef.h>

#include "cp_decl_parse.h"
#include "gw_err.h"

/* Flattens and processes a parsed document (borrowed). select_tags (NULL-terminated, may be
 * NULL) are added to every entity. GW_OK: *entities (owned) as cp_decl_flatten's output.
 * GW_ERR_INVALID: *err_fields (owned) = Kong's fields tree (see cp_decl_errors.h).
 * GW_ERR_NOMEM otherwise. Any thread. */
enum gw_err cp_decl_load_doc(const json_t *doc, const char *const *select_tags, json_t **entities,
                             json_t **err_fields);

/* Parses text (len bytes, borrowed) in format fmt, then as cp_decl_load_doc. When the text does
 * not parse, returns GW_ERR_INVALID with *err_fields = {"error": "failed parsing declarative
 * configuration: <reason>"} and *doc = NULL; otherwise *doc (owned) is the parsed document (for
 * error texts). GW_ERR_TOOBIG past CP_DECL_MAX_INPUT (with *err_fields set too). */
enum gw_err cp_decl_load_text(const char *text, size_t len, enum cp_decl_format fmt,
                              const char *const *select_tags, json_t **doc, json_t **entities,
                              json_t **err_fields);

#endif
