/* cp/declarative/cp_decl_flatten.h: turns a parsed declarative configuration (Kong's kong.yaml
 * shape) into a flat, normalised entity set, the way Kong's declarative_config.flatten does:
 * checks the top level (_format_version "1.1"/"2.1"/"3.0", _transform, _comment, _ignore),
 * migrates format 1.1/2.1 regex route paths (prefixing "~"), un-nests children
 * (services[].routes[].plugins[], consumers[].keyauth_credentials[], upstreams[].targets[],
 * certificates[].snis[], ...), gives every entity without an id Kong's deterministic UUID v5,
 * resolves references to parents by endpoint key (name, username, ...) or id, and reports
 * duplicates. Errors mirror the file: the `fields` tree has the shape of the input
 * (fields.services[0].routes[1].paths = "..."), like Kong's invalid declarative configuration
 * errors.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_FLATTEN_H
#define CP_DECL_FLATTEN_H

#include <jansson.h>
#include <stdbool.h>

#include "gw_err.h"

/* Called for every flat entity once ids and references are resolved, in table order (parents
 * first). table is the entity table ("routes"); *entity (owned by the caller of the callback)
 * may be replaced: the callback then decrefs the old value and stores an owned new one (for
 * example the entity with Kong's defaults filled in). Returns GW_OK, or GW_ERR_INVALID with
 * *err_fields = an owned Kong `fields` object for that entity, or another error to abort. */
typedef enum gw_err (*cp_decl_process_fn)(void *ud, const char *table, json_t **entity,
                                          json_t **err_fields);

struct cp_decl_flatten_opts {
    cp_decl_process_fn process; /* NULL: entities are left as written (plus id and keys) */
    void *process_ud;
    const char *const *select_tags; /* NULL-terminated; added to each entity's tags if missing */
};

/* Flattens input (borrowed, not modified). opts may be NULL.
 * On success returns GW_OK and *out (owned) = {"_format_version": "<as written>",
 * "_transform": bool, "_comment"?: ..., "<table>": [entities...]} with one array per entity
 * table (cp_decl_entities(), always present, possibly empty); each entity has an "id" and its
 * foreign keys as {"id": "<uuid>"}.
 * On invalid input returns GW_ERR_INVALID and *err_fields (owned) = Kong's `fields` tree.
 * GW_ERR_NOMEM, or an error returned by the process callback, otherwise. Any thread. */
enum gw_err cp_decl_flatten(const json_t *input, const struct cp_decl_flatten_opts *opts,
                            json_t **out, json_t **err_fields);

/* Kong's format-1.1 path migration of one route path (kong/db/migrations/migrate_path_280_300):
 * a path made only of [A-Za-z0-9.-_~/%] is normalised (percent-decoding of non-reserved
 * characters, dot segments removed, slashes merged); anything else is a regex and becomes "~"
 * followed by the path with percent-escapes of non-reserved characters decoded (regex
 * metacharacters escaped). Returns an owned string (free()), NULL when out of memory. Any thread.
 */
char *cp_decl_migrate_path(const char *path);

/* The deterministic id Kong gives an entity: UUID v5 of key in the namespace that is itself
 * the UUID v5 of table in fd02801f-0957-4a15-a55a-c8d9606f30b5. table and key are borrowed;
 * writes 37 bytes (lowercase UUID and NUL) to out. Any thread. */
void cp_decl_entity_uuid(const char *table, const char *key, char out[37]);

#endif
