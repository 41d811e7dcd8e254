/* cp/store/cp_migrations.h: the versioned database schema of the control plane and the
 * `portico-cp migrations bootstrap|up|status|reset --yes` commands. The schema's version is kept
 * in the schema_meta table (key 'core').
 *
 * Tables (the snapshot builder's contract): one per entity named as Kong's, each with
 * `id uuid primary key` and `doc jsonb not null` (the entity as the Admin API returns it) plus
 * generated key columns carrying the unique and foreign-key constraints; config_revision (one
 * row); clustering_data_planes (written by the cluster server).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_MIGRATIONS_H
#define CP_MIGRATIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "gw_err.h"
#include "store/cp_store.h"

/* SQL condition on a clustering_data_planes row: the data plane is connected now. The stored
 * `connected` flag alone is not enough: a control plane killed with SIGKILL never writes its
 * data planes' disconnect. A connected data plane's row is rewritten (last_seen = now()) at
 * least at every heartbeat, and its control plane drops it after 3 heartbeat intervals + 5 s
 * of silence (proto/README.md, Liveness), so a row is connected only when its last_seen is
 * within that bound of the database clock. heartbeat_interval NULL (rows written before
 * migration 2) counts as the default 10 s. t: "" or a table name with its dot. */
#define CP_DP_CONNECTED_SQL_OF(t)                                                                  \
    "(coalesce(" t "connected, false) AND " t "last_seen >= now() - make_interval(secs => 3 * "    \
    "least(coalesce(" t "heartbeat_interval, 10), 3600) + 5))"
/* The same for unqualified column names. */
#define CP_DP_CONNECTED_SQL CP_DP_CONNECTED_SQL_OF("")

/* The schema version this build writes and expects. */
int cp_migrations_latest(void);

/* Reads the schema version into *version (0 = not bootstrapped). GW_ERR_UNAVAILABLE when the
 * database cannot be reached. Store thread only. */
enum gw_err cp_migrations_version(struct cp_store *s, int *version);

/* Checks that the database is bootstrapped and up to date. On GW_ERR_INVALID msg names the
 * command to run ("... run 'portico-cp migrations bootstrap'"). */
enum gw_err cp_migrations_check(struct cp_store *s, char *msg, size_t msglen);

/* Runs the command given by argv[0..argc) ("bootstrap", "up", "status", "reset --yes"), printing
 * its outcome on out. Returns the process exit status (0 success; 1 failure; for status: 0 up to
 * date, 3 not bootstrapped, 4 migrations pending). Main thread only. */
int cp_migrations_command(struct cp_store *s, int argc, char **argv, FILE *out);

/* What a named constraint of the schema means, for turning database errors into Kong's. */
enum cp_constraint_kind {
    CP_CONSTRAINT_PRIMARY = 0, /* primary key of table */
    CP_CONSTRAINT_UNIQUE,      /* unique over fields */
    CP_CONSTRAINT_FOREIGN,     /* fields[0] of table references entity ref */
    CP_CONSTRAINT_KIND_COUNT_  /* keep last */
};

struct cp_constraint {
    const char *name; /* constraint name in the database */
    enum cp_constraint_kind kind;
    const char *table;     /* table the constraint is on */
    const char *fields[5]; /* entity fields (foreign keys by field name), NULL-terminated */
    const char *ref;       /* FOREIGN: referenced table */
    bool cascade;          /* FOREIGN: ON DELETE CASCADE (else RESTRICT) */
};

/* Returns the description of constraint name (static), or NULL if it is not one of ours.
 * Primary keys are named "<table>_pkey". Any thread. */
const struct cp_constraint *cp_migrations_constraint(const char *name);

#endif
