/* cp/declarative/cp_decl_diff.h: what it takes to turn the current configuration into the
 * wanted one (decK's diff): entities to create, to update and to delete, matched by id.
 * Timestamps do not count as differences; with select tags only current entities carrying all
 * of them are candidates for deletion (decK's --select-tag).
 * Pure functions over JSON: any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_DIFF_H
#define CP_DECL_DIFF_H

#include <jansson.h>
#include <stdbool.h>

#include "gw_buf.h"
#include "gw_err.h"

/* Compares wanted and current (both borrowed, {"<table>": [entities...]}; missing tables are
 * empty). On GW_OK *diff (owned) = {"create": [{"table", "entity"}], "update": [{"table", "old",
 * "new"}], "delete": [{"table", "entity"}]}: creates and updates parents first, deletes
 * children first. An update's "new" keeps the current created_at. select_tags (NULL-terminated,
 * may be NULL) limits deletions to current entities tagged with all of them. GW_ERR_NOMEM. */
enum gw_err cp_decl_diff(const json_t *wanted, const json_t *current,
                         const char *const *select_tags, json_t **diff);

/* Number of changes in diff (creates + updates + deletes). */
size_t cp_decl_diff_count(const json_t *diff);

/* True when a and b are the same entity content: created_at/updated_at ignored, numbers
 * compared by value (5 equals 5.0), objects compared key by key. */
bool cp_decl_diff_same(const json_t *a, const json_t *b);

/* Appends decK-style text to out: "creating service example_service (<id>)", "updating ..."
 * with one "  field: old -> new" line per changed field, "deleting ...", then a summary
 * ("Summary:\n  Created: 1\n  Updated: 0\n  Deleted: 0\n"), or "no changes\n" when diff is
 * empty. */
enum gw_err cp_decl_diff_text(const json_t *diff, struct gw_buf *out);

#endif
