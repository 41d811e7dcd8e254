/* cp/store/cp_migrations.c: the control plane's database schema, versioned in schema_meta.
 * SPDX-License-Identifier: Apache-2.0 */
#include "store/cp_migrations.h"

#include <stdlib.h>
#include <string.h>

#include "gw_log.h"

/* Version 1: every entity table, the revision counter and the data plane registry. Key
 * columns are generated from doc so the constraints follow the stored entity. */
// clang-format off
static const char MIGRATION_1[] =
    "CREATE TABLE certificates (id uuid PRIMARY KEY, doc jsonb NOT NULL);\n"
    "CREATE TABLE ca_certificates (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  cert_digest text GENERATED ALWAYS AS (doc->>'cert_digest') STORED,\n"
    "  CONSTRAINT uq_ca_certificates_cert_digest UNIQUE (cert_digest));\n"
    "CREATE TABLE services (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  name text GENERATED ALWAYS AS (doc->>'name') STORED,\n"
    "  client_certificate_id uuid GENERATED ALWAYS AS ((doc->'client_certificate'->>'id')::uuid) STORED,\n"
    "  CONSTRAINT uq_services_name UNIQUE (name),\n"
    "  CONSTRAINT fk_services_client_certificate FOREIGN KEY (client_certificate_id)\n"
    "    REFERENCES certificates (id) ON DELETE RESTRICT);\n"
    "CREATE TABLE routes (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  name text GENERATED ALWAYS AS (doc->>'name') STORED,\n"
    "  service_id uuid GENERATED ALWAYS AS ((doc->'service'->>'id')::uuid) STORED,\n"
    "  CONSTRAINT uq_routes_name UNIQUE (name),\n"
    "  CONSTRAINT fk_routes_service FOREIGN KEY (service_id) REFERENCES services (id)\n"
    "    ON DELETE RESTRICT);\n"
    "CREATE INDEX routes_service_id_idx ON routes (service_id);\n"
    "CREATE TABLE upstreams (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  name text GENERATED ALWAYS AS (doc->>'name') STORED,\n"
    "  client_certificate_id uuid GENERATED ALWAYS AS ((doc->'client_certificate'->>'id')::uuid) STORED,\n"
    "  CONSTRAINT uq_upstreams_name UNIQUE (name),\n"
    "  CONSTRAINT fk_upstreams_client_certificate FOREIGN KEY (client_certificate_id)\n"
    "    REFERENCES certificates (id) ON DELETE RESTRICT);\n"
    "CREATE TABLE targets (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  upstream_id uuid GENERATED ALWAYS AS ((doc->'upstream'->>'id')::uuid) STORED,\n"
    "  target text GENERATED ALWAYS AS (doc->>'target') STORED,\n"
    "  CONSTRAINT uq_targets_upstream_target UNIQUE (upstream_id, target),\n"
    "  CONSTRAINT fk_targets_upstream FOREIGN KEY (upstream_id) REFERENCES upstreams (id)\n"
    "    ON DELETE CASCADE);\n"
    "CREATE TABLE consumers (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  username text GENERATED ALWAYS AS (doc->>'username') STORED,\n"
    "  custom_id text GENERATED ALWAYS AS (doc->>'custom_id') STORED,\n"
    "  CONSTRAINT uq_consumers_username UNIQUE (username),\n"
    "  CONSTRAINT uq_consumers_custom_id UNIQUE (custom_id));\n"
    "CREATE TABLE plugins (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  instance_name text GENERATED ALWAYS AS (doc->>'instance_name') STORED,\n"
    "  service_id uuid GENERATED ALWAYS AS ((doc->'service'->>'id')::uuid) STORED,\n"
    "  route_id uuid GENERATED ALWAYS AS ((doc->'route'->>'id')::uuid) STORED,\n"
    "  consumer_id uuid GENERATED ALWAYS AS ((doc->'consumer'->>'id')::uuid) STORED,\n"
    "  cache_key text GENERATED ALWAYS AS ((doc->>'name') || ':' || coalesce(doc->'route'->>'id', '') || ':' || coalesce(doc->'service'->>'id', '') || ':' || coalesce(doc->'consumer'->>'id', '')) STORED,\n"
    "  CONSTRAINT uq_plugins_instance_name UNIQUE (instance_name),\n"
    "  CONSTRAINT uq_plugins_cache_key UNIQUE (cache_key),\n"
    "  CONSTRAINT fk_plugins_service FOREIGN KEY (service_id) REFERENCES services (id)\n"
    "    ON DELETE CASCADE,\n"
    "  CONSTRAINT fk_plugins_route FOREIGN KEY (route_id) REFERENCES routes (id)\n"
    "    ON DELETE CASCADE,\n"
    "  CONSTRAINT fk_plugins_consumer FOREIGN KEY (consumer_id) REFERENCES consumers (id)\n"
    "    ON DELETE CASCADE);\n"
    "CREATE INDEX plugins_service_id_idx ON plugins (service_id);\n"
    "CREATE INDEX plugins_route_id_idx ON plugins (route_id);\n"
    "CREATE INDEX plugins_consumer_id_idx ON plugins (consumer_id);\n"
    "CREATE TABLE keyauth_credentials (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  consumer_id uuid GENERATED ALWAYS AS ((doc->'consumer'->>'id')::uuid) STORED,\n"
    "  key text GENERATED ALWAYS AS (doc->>'key') STORED,\n"
    "  CONSTRAINT uq_keyauth_credentials_key UNIQUE (key),\n"
    "  CONSTRAINT fk_keyauth_credentials_consumer FOREIGN KEY (consumer_id)\n"
    "    REFERENCES consumers (id) ON DELETE CASCADE);\n"
    "CREATE INDEX keyauth_credentials_consumer_id_idx ON keyauth_credentials (consumer_id);\n"
    "CREATE TABLE snis (id uuid PRIMARY KEY, doc jsonb NOT NULL,\n"
    "  name text GENERATED ALWAYS AS (doc->>'name') STORED,\n"
    "  certificate_id uuid GENERATED ALWAYS AS ((doc->'certificate'->>'id')::uuid) STORED,\n"
    "  CONSTRAINT uq_snis_name UNIQUE (name),\n"
    "  CONSTRAINT fk_snis_certificate FOREIGN KEY (certificate_id) REFERENCES certificates (id)\n"
    "    ON DELETE CASCADE);\n"
    "CREATE INDEX snis_certificate_id_idx ON snis (certificate_id);\n"
    "CREATE TABLE config_revision (revision bigint NOT NULL);\n"
    "INSERT INTO config_revision (revision) VALUES (0);\n"
    "CREATE TABLE clustering_data_planes (id uuid PRIMARY KEY, hostname text, ip text,\n"
    "  version text, sync_status text, config_hash text, last_seen timestamptz,\n"
    "  connected boolean, applied_revision bigint, last_error text, control_plane_id text,\n"
    "  cert_expiry bigint, labels jsonb, created_at timestamptz DEFAULT now(),\n"
    "  updated_at timestamptz DEFAULT now());\n";

/* Version 2: the heartbeat interval each data plane announced in its Hello, so readers can tell
 * a live registry row from one left behind by a control plane that died (CP_DP_CONNECTED_SQL). */
static const char MIGRATION_2[] =
    "ALTER TABLE clustering_data_planes ADD COLUMN heartbeat_interval integer;\n";
// clang-format on

struct migration {
    int version;
    const char *name;
    const char *sql;
};

static const struct migration migrations[] = {
    {1, "000_base", MIGRATION_1},
    {2, "001_data_plane_heartbeat", MIGRATION_2},
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* Dropped by reset, children first. */
static const char *const all_tables[] = {"snis",
                                         "keyauth_credentials",
                                         "plugins",
                                         "targets",
                                         "routes",
                                         "services",
                                         "upstreams",
                                         "consumers",
                                         "certificates",
                                         "ca_certificates",
                                         "config_revision",
                                         "clustering_data_planes",
                                         "schema_meta",
                                         NULL};

static const struct cp_constraint constraints[] = {
    {"uq_services_name", CP_CONSTRAINT_UNIQUE, "services", {"name"}, NULL},
    {"fk_services_client_certificate",
     CP_CONSTRAINT_FOREIGN,
     "services",
     {"client_certificate"},
     "certificates"},
    {"uq_routes_name", CP_CONSTRAINT_UNIQUE, "routes", {"name"}, NULL},
    {"fk_routes_service", CP_CONSTRAINT_FOREIGN, "routes", {"service"}, "services"},
    {"uq_upstreams_name", CP_CONSTRAINT_UNIQUE, "upstreams", {"name"}, NULL},
    {"fk_upstreams_client_certificate",
     CP_CONSTRAINT_FOREIGN,
     "upstreams",
     {"client_certificate"},
     "certificates"},
    {"uq_targets_upstream_target", CP_CONSTRAINT_UNIQUE, "targets", {"target", "upstream"}, NULL},
    {"fk_targets_upstream", CP_CONSTRAINT_FOREIGN, "targets", {"upstream"}, "upstreams", true},
    {"uq_consumers_username", CP_CONSTRAINT_UNIQUE, "consumers", {"username"}, NULL},
    {"uq_consumers_custom_id", CP_CONSTRAINT_UNIQUE, "consumers", {"custom_id"}, NULL},
    {"uq_plugins_instance_name", CP_CONSTRAINT_UNIQUE, "plugins", {"instance_name"}, NULL},
    {"uq_plugins_cache_key",
     CP_CONSTRAINT_UNIQUE,
     "plugins",
     {"consumer", "name", "route", "service"},
     NULL},
    {"fk_plugins_service", CP_CONSTRAINT_FOREIGN, "plugins", {"service"}, "services", true},
    {"fk_plugins_route", CP_CONSTRAINT_FOREIGN, "plugins", {"route"}, "routes", true},
    {"fk_plugins_consumer", CP_CONSTRAINT_FOREIGN, "plugins", {"consumer"}, "consumers", true},
    {"uq_keyauth_credentials_key", CP_CONSTRAINT_UNIQUE, "keyauth_credentials", {"key"}, NULL},
    {"fk_keyauth_credentials_consumer",
     CP_CONSTRAINT_FOREIGN,
     "keyauth_credentials",
     {"consumer"},
     "consumers",
     true},
    {"uq_ca_certificates_cert_digest",
     CP_CONSTRAINT_UNIQUE,
     "ca_certificates",
     {"cert_digest"},
     NULL},
    {"uq_snis_name", CP_CONSTRAINT_UNIQUE, "snis", {"name"}, NULL},
    {"fk_snis_certificate", CP_CONSTRAINT_FOREIGN, "snis", {"certificate"}, "certificates", true},
};

#define PK(t)                                                                                      \
    {                                                                                              \
        t "_pkey", CP_CONSTRAINT_PRIMARY, t, {"id"}, NULL                                          \
    }
static const struct cp_constraint pk_constraints[] = {
    PK("services"),        PK("routes"),  PK("upstreams"),           PK("targets"),
    PK("consumers"),       PK("plugins"), PK("keyauth_credentials"), PK("certificates"),
    PK("ca_certificates"), PK("snis"),
};

const struct cp_constraint *cp_migrations_constraint(const char *name)
{
    for (size_t i = 0; i < sizeof(constraints) / sizeof(constraints[0]); i++)
        if (strcmp(constraints[i].name, name) == 0)
            return &constraints[i];
    for (size_t i = 0; i < sizeof(pk_constraints) / sizeof(pk_constraints[0]); i++)
        if (strcmp(pk_constraints[i].name, name) == 0)
            return &pk_constraints[i];
    return NULL;
}

int cp_migrations_latest(void)
{
    return migrations[NMIGRATIONS - 1].version;
}

enum gw_err cp_migrations_version(struct cp_store *s, int *version)
{
    PGresult *r = NULL;
    *version = 0;
    enum gw_err e =
        cp_store_query(s, "SELECT to_regclass('schema_meta') IS NOT NULL", 0, NULL, &r, NULL);
    if (e != GW_OK)
        return e;
    bool exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!exists)
        return GW_OK;
    e = cp_store_query(s, "SELECT version FROM schema_meta WHERE key = 'core'", 0, NULL, &r, NULL);
    if (e != GW_OK)
        return e;
    if (PQntuples(r) == 1)
        *version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return GW_OK;
}

enum gw_err cp_migrations_check(struct cp_store *s, char *msg, size_t msglen)
{
    int v;
    enum gw_err e = cp_migrations_version(s, &v);
    if (e != GW_OK) {
        snprintf(msg, msglen, "cannot reach PostgreSQL (%s)", cp_store_describe(s));
        return e;
    }
    if (v == 0) {
        snprintf(msg, msglen,
                 "the database is not bootstrapped; run 'portico-cp migrations bootstrap'");
        return GW_ERR_INVALID;
    }
    if (v < cp_migrations_latest()) {
        snprintf(msg, msglen,
                 "the database schema is at version %d, this build needs %d; run 'portico-cp "
                 "migrations up'",
                 v, cp_migrations_latest());
        return GW_ERR_INVALID;
    }
    if (v > cp_migrations_latest()) {
        snprintf(msg, msglen,
                 "the database schema (version %d) is newer than this build supports (%d)", v,
                 cp_migrations_latest());
        return GW_ERR_INVALID;
    }
    return GW_OK;
}

/* Applies migrations newer than from, in one transaction. */
static enum gw_err apply(struct cp_store *s, int from, bool bootstrap, FILE *out)
{
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_begin(s);
    if (e != GW_OK)
        return e;
    e = cp_store_query(s, "SELECT pg_advisory_xact_lock(7412001)", 0, NULL, NULL, &err);
    if (e != GW_OK)
        goto fail;
    if (bootstrap) {
        e = cp_store_exec(s,
                          "CREATE TABLE schema_meta (key text PRIMARY KEY, version integer NOT "
                          "NULL, updated_at timestamptz NOT NULL DEFAULT now())",
                          &err);
        if (e != GW_OK)
            goto fail;
    }
    for (size_t i = 0; i < NMIGRATIONS; i++) {
        if (migrations[i].version <= from)
            continue;
        e = cp_store_exec(s, migrations[i].sql, &err);
        if (e != GW_OK)
            goto fail;
        fprintf(out, "migrating core: %s\n", migrations[i].name);
    }
    char vbuf[16];
    snprintf(vbuf, sizeof(vbuf), "%d", cp_migrations_latest());
    const char *params[] = {vbuf};
    e = cp_store_query(
        s,
        "INSERT INTO schema_meta (key, version) VALUES ('core', $1::int) ON "
        "CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
        1, params, NULL, &err);
    if (e != GW_OK)
        goto fail;
    return cp_store_commit(s);
fail:
    cp_store_rollback(s);
    if (e == GW_ERR_IO)
        fprintf(out, "migration failed: %s\n", err.message);
    return e;
}

static int unreachable(struct cp_store *s, FILE *out)
{
    fprintf(out, "cannot reach PostgreSQL (%s)\n", cp_store_describe(s));
    return 1;
}

int cp_migrations_command(struct cp_store *s, int argc, char **argv, FILE *out)
{
    if (argc < 1) {
        fprintf(out, "usage: portico-cp migrations bootstrap|up|status|reset --yes\n");
        return 2;
    }
    const char *cmd = argv[0];
    int v = 0;
    if (strcmp(cmd, "bootstrap") && strcmp(cmd, "up") && strcmp(cmd, "status") &&
        strcmp(cmd, "reset")) {
        fprintf(out, "unknown migrations command '%s' (bootstrap, up, status, reset --yes)\n", cmd);
        return 2;
    }
    if (strcmp(cmd, "reset") == 0 && (argc < 2 || strcmp(argv[1], "--yes") != 0)) {
        fprintf(out, "reset deletes every entity in the database; run 'portico-cp migrations "
                     "reset --yes' to confirm\n");
        return 1;
    }
    if (cp_migrations_version(s, &v) != GW_OK)
        return unreachable(s, out);
    int latest = cp_migrations_latest();

    if (strcmp(cmd, "bootstrap") == 0) {
        if (v > 0) {
            fprintf(out, "database already bootstrapped (schema version %d)%s\n", v,
                    v < latest ? "; run 'portico-cp migrations up'" : "");
            return 0;
        }
        enum gw_err e = apply(s, 0, true, out);
        if (e == GW_ERR_UNAVAILABLE)
            return unreachable(s, out);
        if (e != GW_OK)
            return 1;
        fprintf(out, "database bootstrapped (schema version %d)\n", latest);
        return 0;
    }
    if (strcmp(cmd, "up") == 0) {
        if (v == 0) {
            fprintf(out, "the database is not bootstrapped; run 'portico-cp migrations "
                         "bootstrap'\n");
            return 1;
        }
        if (v >= latest) {
            fprintf(out, "database is up to date (schema version %d)\n", v);
            return 0;
        }
        enum gw_err e = apply(s, v, false, out);
        if (e == GW_ERR_UNAVAILABLE)
            return unreachable(s, out);
        if (e != GW_OK)
            return 1;
        fprintf(out, "database migrated to schema version %d\n", latest);
        return 0;
    }
    if (strcmp(cmd, "status") == 0) {
        if (v == 0) {
            fprintf(out, "database needs bootstrapping; run 'portico-cp migrations bootstrap'\n");
            return 3;
        }
        fprintf(out, "executed migrations:\n");
        for (size_t i = 0; i < NMIGRATIONS; i++)
            if (migrations[i].version <= v)
                fprintf(out, "  core: %s\n", migrations[i].name);
        if (v < latest) {
            fprintf(out, "pending migrations:\n");
            for (size_t i = 0; i < NMIGRATIONS; i++)
                if (migrations[i].version > v)
                    fprintf(out, "  core: %s\n", migrations[i].name);
            fprintf(out, "database has pending migrations; run 'portico-cp migrations up'\n");
            return 4;
        }
        fprintf(out, "database is up to date (schema version %d)\n", v);
        return 0;
    }
    /* reset --yes */
    struct {
        char text[1024];
    } sql;
    size_t off = (size_t)snprintf(sql.text, sizeof(sql.text), "DROP TABLE IF EXISTS ");
    for (size_t i = 0; all_tables[i]; i++)
        off += (size_t)snprintf(sql.text + off, sizeof(sql.text) - off, "%s%s", i ? ", " : "",
                                all_tables[i]);
    snprintf(sql.text + off, sizeof(sql.text) - off, " CASCADE");
    struct cp_store_dberr err = {0};
    enum gw_err e = cp_store_exec(s, sql.text, &err);
    if (e == GW_ERR_UNAVAILABLE)
        return unreachable(s, out);
    if (e != GW_OK) {
        fprintf(out, "reset failed: %s\n", err.message);
        return 1;
    }
    fprintf(out, "database reset: every Portico table was dropped\n");
    return 0;
}
