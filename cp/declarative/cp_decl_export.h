/* cp/declarative/cp_decl_export.h: writes a flat entity set as a declarative configuration in
 * Kong's export layout (what `kong config db_export` writes): `_format_version: "3.0"`,
 * `_transform: false`, then one top-level array per entity table, parents first, entities
 * sorted by id, foreign keys as plain ids, unset (null) fields and timestamps left out.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_EXPORT_H
#define CP_DECL_EXPORT_H

#include <jansson.h>
#include <stddef.h>

#include "cp_decl_parse.h"
#include "gw_err.h"

/* Builds the export document (owned JSON; json_decref) from entities (borrowed): an object with
 * one array per table name ("services": [...]); unknown keys and "_"-prefixed keys are ignored.
 * NULL when out of memory. Any thread. */
json_t *cp_decl_export_doc(const json_t *entities);

/* Serialises entities as YAML (fmt YAML or AUTO) or JSON (fmt JSON, two-space indent).
 * On success returns GW_OK, *out = NUL-terminated text (owned; free()) and *len its length.
 * GW_ERR_NOMEM or GW_ERR_INTERNAL (emitter failure) otherwise. Any thread. */
enum gw_err cp_decl_export(const json_t *entities, enum cp_decl_format fmt, char **out,
                           size_t *len);

#endif
