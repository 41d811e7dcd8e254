/* cp/declarative/cp_decl_sync.h: reads the whole configuration from PostgreSQL and applies a
 * declarative configuration to it (decK's sync): one transaction that creates, updates and
 * deletes what differs, then bumps the configuration revision and notifies every control plane
 * (cp_store_commit_change), so data planes get one new snapshot. All or nothing.
 * Store thread only (the thread that owns the struct cp_store).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_SYNC_H
#define CP_DECL_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "store/cp_store.h"

/* Reads every entity of every table in one consistent (REPEATABLE READ) snapshot.
 * GW_OK: *current (owned) = {"<table>": [entities...]} with every table present.
 * GW_ERR_UNAVAILABLE / GW_ERR_IO / GW_ERR_NOMEM with a message in err. */
enum gw_err cp_decl_sync_read(struct cp_store *s, json_t **current, char *err, size_t errlen);

/* Compares wanted (borrowed; a flat, processed entity set as cp_decl_load_doc returns) with the
 * database and, when apply is set, makes the database equal to it inside one transaction
 * (select_tags: NULL-terminated or NULL; only current entities carrying all of them may be
 * deleted). Creates and updates go parents first, deletes children first; unique values of
 * rows that change or go are released first so renames and swaps apply cleanly.
 * GW_OK: *diff (owned, see cp_decl_diff) and, when something was applied, *revision (may be
 * NULL) = the new configuration revision (0 when nothing changed). On a database error the
 * transaction is rolled back, err says which entity failed and why, and GW_ERR_IO,
 * GW_ERR_UNAVAILABLE or GW_ERR_NOMEM is returned. */
enum gw_err cp_decl_sync(struct cp_store *s, const json_t *wanted, const char *const *select_tags,
                         bool apply, json_t **diff, int64_t *revision, char *err, size_t errlen);

#endif
