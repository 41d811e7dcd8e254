/* cp/store/cp_store.h: the control plane's PostgreSQL connection (libpq): connection settings
 * from the configuration, automatic reconnection, parameterised queries, transactions whose
 * commit bumps the configuration revision and notifies every control plane.
 *
 * One struct cp_store is used by one thread only (the Admin API loop thread). Calls block for at
 * most about pg_timeout (connect_timeout, statement_timeout and tcp_user_timeout are derived
 * from it). While the database is unreachable, reconnection is attempted at most once per
 * second; in between, calls fail at once with GW_ERR_UNAVAILABLE.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_STORE_H
#define CP_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_conf.h"
#include "gw_err.h"

struct cp_store; /* opaque */

/* The notification channel every committed change is announced on (payload: the revision). */
#define CP_STORE_NOTIFY_CHANNEL "portico_config"

/* Details of a failed statement (SQL error, not a lost connection). */
struct cp_store_dberr {
    char sqlstate[6];    /* "23505" unique, "23503" foreign key, ... ; "" if none */
    char table[64];      /* PG_DIAG_TABLE_NAME, "" if none */
    char constraint[64]; /* PG_DIAG_CONSTRAINT_NAME, "" if none */
    char message[256];   /* primary message */
};

/* Creates a store for the pg_* keys of conf (borrowed; values are copied). Does not connect.
 * Returns the store (owned; free with cp_store_destroy) or NULL when out of memory. */
struct cp_store *cp_store_create(const struct gw_conf *conf);

/* Closes the connection and frees s. Accepts NULL. */
void cp_store_destroy(struct cp_store *s);

/* Makes sure a connection is up, connecting if needed (throttled to one attempt per second).
 * Returns GW_OK or GW_ERR_UNAVAILABLE (reason logged). Store thread only. */
enum gw_err cp_store_connect(struct cp_store *s);

/* Runs SELECT 1. true when the database answered. Store thread only. */
bool cp_store_ping(struct cp_store *s);

/* Runs one parameterised statement (params: n NUL-terminated texts, NULL entries are SQL NULL).
 * On GW_OK *res is the result (owned; PQclear it; NULL res means "discard"). GW_ERR_UNAVAILABLE
 * when the connection is lost or cannot be made (outside a transaction, a statement whose
 * connection turned out to be dead is retried once on a new connection). GW_ERR_IO when the
 * database reported an error; err (may be NULL) then holds its details. Store thread only. */
enum gw_err cp_store_query(struct cp_store *s, const char *sql, int n, const char *const *params,
                           PGresult **res, struct cp_store_dberr *err);

/* Runs a statement without parameters that may hold several commands (migrations). Same
 * returns as cp_store_query. */
enum gw_err cp_store_exec(struct cp_store *s, const char *sql, struct cp_store_dberr *err);

/* Starts a transaction (READ COMMITTED). Store thread only. */
enum gw_err cp_store_begin(struct cp_store *s);

/* Commits a transaction that changed the configuration: increments config_revision and runs
 * NOTIFY portico_config '<revision>' in the same transaction, then COMMIT. *revision (may be
 * NULL) gets the new revision. On failure the transaction is rolled back. */
enum gw_err cp_store_commit_change(struct cp_store *s, int64_t *revision);

/* Commits a transaction that changed nothing of the configuration. */
enum gw_err cp_store_commit(struct cp_store *s);

/* Rolls back the current transaction, if any. Never fails (a lost connection is noted). */
void cp_store_rollback(struct cp_store *s);

/* true while a transaction started with cp_store_begin is open. */
bool cp_store_in_transaction(const struct cp_store *s);

/* Human-readable target ("host=... port=... dbname=... user=...") for messages; borrowed. */
const char *cp_store_describe(const struct cp_store *s);

#endif
