/* cp/declarative/cp_decl_errors.h: Kong's "invalid declarative configuration" errors: the
 * `fields` tree that mirrors the input file, the Admin API body (code 14, optionally with
 * Kong's flattened_errors list) and a readable text for the command line.
 * Paths are JSON arrays of object keys (strings) and array positions (integers, from 0), for
 * example ["services", 0, "routes", 1]. Every function may be called from any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_ERRORS_H
#define CP_DECL_ERRORS_H

#include <jansson.h>
#include <stdbool.h>

#include "gw_err.h"

/* Records msg (copied) in the tree errs (modified) at path (borrowed). field NULL puts the
 * message at the path itself (for an entry that is not an object); "@entity" appends it to the
 * entity-level list; another field sets fields[field] unless a message is already there. */
enum gw_err cp_decl_errors_add(json_t *errs, const json_t *path, const char *field,
                               const char *msg);

/* Merges a Kong `fields` object (borrowed) into errs at path. */
enum gw_err cp_decl_errors_merge(json_t *errs, const json_t *path, const json_t *fields);

/* "declarative config is invalid: {services={{host=\"required field missing\"}}}" (Kong's
 * message, entries counted from 1 as Kong does). Returns owned (free()), NULL on NOMEM. */
char *cp_decl_error_message(const json_t *fields);

/* The Admin API body: {"code":14,"name":"invalid declarative configuration","message":...,
 * "fields":...}; with flatten and input (the parsed file, borrowed) it also has Kong's
 * "flattened_errors" list (entity_type, entity_name, entity_id, entity_tags, entity, errors).
 * Returns owned JSON, NULL on NOMEM. */
json_t *cp_decl_error_body(const json_t *fields, const json_t *input, bool flatten);

/* One line per error for the command line, each naming the place in the file and the entity:
 * "services[1] (example_service) > routes[1] (mocking) > strip_path: expected a boolean".
 * Entries count from 1. input (borrowed, may be NULL) supplies the entity names.
 * Returns owned text ending in a newline (free()), NULL on NOMEM. */
char *cp_decl_error_text(const json_t *fields, const json_t *input);

#endif
