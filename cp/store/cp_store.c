/* cp/store/cp_store.c: libpq connection handling with reconnection, parameterised queries and
 * transactions that bump the configuration revision.
 * SPDX-License-Identifier: Apache-2.0 */
#include "store/cp_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "gw_time.h"

#define RECONNECT_INTERVAL_MS 1000

struct cp_store {
    PGconn *conn;
    bool in_txn;
    bool was_up; /* last connection attempt succeeded (to log transitions once) */
    uint64_t last_attempt_ms;
    bool attempted;
    char host[256];
    char port[32];
    char user[128];
    char password[256];
    char dbname[128];
    char sslmode[16];
    char connect_timeout[32];
    char options[64];
    char tcp_user_timeout[32];
    char desc[1024];
};

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

struct cp_store *cp_store_create(const struct gw_conf *conf)
{
    struct cp_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    long long timeout_ms = gw_conf_int(conf, "pg_timeout");
    long long timeout_s = (timeout_ms + 999) / 1000;
    if (timeout_s < 2)
        timeout_s = 2; /* libpq's smallest useful connect_timeout */
    copy_str(s->host, sizeof(s->host), gw_conf_str(conf, "pg_host"));
    snprintf(s->port, sizeof(s->port), "%lld", gw_conf_int(conf, "pg_port"));
    copy_str(s->user, sizeof(s->user), gw_conf_str(conf, "pg_user"));
    copy_str(s->password, sizeof(s->password), gw_conf_str(conf, "pg_password"));
    copy_str(s->dbname, sizeof(s->dbname), gw_conf_str(conf, "pg_database"));
    copy_str(s->sslmode, sizeof(s->sslmode), gw_conf_bool(conf, "pg_ssl") ? "require" : "disable");
    snprintf(s->connect_timeout, sizeof(s->connect_timeout), "%lld", timeout_s);
    snprintf(s->options, sizeof(s->options), "-c statement_timeout=%lld", timeout_ms);
    snprintf(s->tcp_user_timeout, sizeof(s->tcp_user_timeout), "%lld", timeout_ms);
    snprintf(s->desc, sizeof(s->desc), "host=%s port=%s dbname=%s user=%s", s->host, s->port,
             s->dbname, s->user);
    s->was_up = true;
    return s;
}

void cp_store_destroy(struct cp_store *s)
{
    if (!s)
        return;
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

const char *cp_store_describe(const struct cp_store *s)
{
    return s->desc;
}

bool cp_store_in_transaction(const struct cp_store *s)
{
    return s->in_txn;
}

static void drop_conn(struct cp_store *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
    s->in_txn = false;
}

static void notice_quiet(void *arg, const char *msg)
{
    (void)arg;
    GW_DEBUG("postgres notice msg=\"%s\"", msg);
}

enum gw_err cp_store_connect(struct cp_store *s)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return GW_OK;
    drop_conn(s);
    uint64_t now = gw_time_mono_ms();
    if (s->attempted && !s->was_up && now - s->last_attempt_ms < RECONNECT_INTERVAL_MS)
        return GW_ERR_UNAVAILABLE;
    s->attempted = true;
    s->last_attempt_ms = now;

    const char *keys[] = {"host",
                          "port",
                          "user",
                          "password",
                          "dbname",
                          "sslmode",
                          "connect_timeout",
                          "options",
                          "tcp_user_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "application_name",
                          NULL};
    const char *vals[] = {s->host,
                          s->port,
                          s->user,
                          s->password[0] ? s->password : NULL,
                          s->dbname,
                          s->sslmode,
                          s->connect_timeout,
                          s->options,
                          s->tcp_user_timeout,
                          "1",
                          "10",
                          "5",
                          "3",
                          "portico-cp",
                          NULL};
    /* A NULL value ends libpq's list early: move the password to the end when unset. */
    if (!vals[3]) {
        keys[3] = "application_name";
        vals[3] = "portico-cp";
        keys[13] = NULL;
        vals[13] = NULL;
    }
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *msg = c ? PQerrorMessage(c) : "out of memory";
        char line[512];
        snprintf(line, sizeof(line), "%s", msg);
        line[strcspn(line, "\n")] = '\0';
        if (s->was_up)
            GW_LOG(GW_LOG_ERROR, "cannot connect to PostgreSQL %s error=\"%s\"", s->desc, line);
        else
            GW_DEBUG("cannot connect to PostgreSQL %s error=\"%s\"", s->desc, line);
        if (c)
            PQfinish(c);
        s->was_up = false;
        /* count the interval from the end of a (possibly slow) attempt, so an unreachable
         * host does not hold the loop for connect_timeout on every request */
        s->last_attempt_ms = gw_time_mono_ms();
        return GW_ERR_UNAVAILABLE;
    }
    PQsetNoticeProcessor(c, notice_quiet, NULL);
    if (!s->was_up)
        GW_LOG(GW_LOG_NOTICE, "connected to PostgreSQL again %s", s->desc);
    s->was_up = true;
    s->conn = c;
    s->in_txn = false;
    return GW_OK;
}

static void fill_err(struct cp_store_dberr *err, const PGresult *r, PGconn *conn)
{
    if (!err)
        return;
    memset(err, 0, sizeof(*err));
    const char *v = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    copy_str(err->sqlstate, sizeof(err->sqlstate), v);
    v = r ? PQresultErrorField(r, PG_DIAG_TABLE_NAME) : NULL;
    copy_str(err->table, sizeof(err->table), v);
    v = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    copy_str(err->constraint, sizeof(err->constraint), v);
    v = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    copy_str(err->message, sizeof(err->message), v ? v : PQerrorMessage(conn));
}

static enum gw_err run(struct cp_store *s, const char *sql, int n, const char *const *params,
                       bool multi, PGresult **res, struct cp_store_dberr *err)
{
    if (res)
        *res = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    for (int attempt = 0; attempt < 2; attempt++) {
        bool had_conn = s->conn != NULL;
        if (cp_store_connect(s) != GW_OK)
            return GW_ERR_UNAVAILABLE;
        PGresult *r = multi ? PQexec(s->conn, sql)
                            : PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            if (res)
                *res = r;
            else
                PQclear(r);
            return GW_OK;
        }
        if (PQstatus(s->conn) == CONNECTION_BAD) {
            bool retry = had_conn && !s->in_txn && attempt == 0;
            GW_LOG(GW_LOG_WARN, "lost the PostgreSQL connection %s error=\"%.*s\"%s", s->desc,
                   (int)strcspn(PQerrorMessage(s->conn), "\n"), PQerrorMessage(s->conn),
                   retry ? " (reconnecting)" : "");
            PQclear(r);
            drop_conn(s);
            s->was_up = true; /* allow an immediate reconnection attempt */
            if (retry)
                continue;
            return GW_ERR_UNAVAILABLE;
        }
        fill_err(err, r, s->conn);
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        /* 57014 statement timeout, 57P01 admin shutdown, 53xxx insufficient resources */
        bool unavailable = state && (strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0 ||
                                     strncmp(state, "08", 2) == 0);
        GW_LOG(unavailable ? GW_LOG_WARN : GW_LOG_DEBUG,
               "statement failed sqlstate=%s error=\"%s\"", state ? state : "-",
               r ? PQresultErrorMessage(r) : "no result");
        PQclear(r);
        return unavailable ? GW_ERR_UNAVAILABLE : GW_ERR_IO;
    }
    return GW_ERR_UNAVAILABLE;
}

enum gw_err cp_store_query(struct cp_store *s, const char *sql, int n, const char *const *params,
                           PGresult **res, struct cp_store_dberr *err)
{
    return run(s, sql, n, params, false, res, err);
}

enum gw_err cp_store_exec(struct cp_store *s, const char *sql, struct cp_store_dberr *err)
{
    return run(s, sql, 0, NULL, true, NULL, err);
}

bool cp_store_ping(struct cp_store *s)
{
    if (s->in_txn)
        return true;
    return run(s, "SELECT 1", 0, NULL, false, NULL, NULL) == GW_OK;
}

enum gw_err cp_store_begin(struct cp_store *s)
{
    if (s->in_txn)
        cp_store_rollback(s);
    enum gw_err e = run(s, "BEGIN", 0, NULL, false, NULL, NULL);
    if (e == GW_OK)
        s->in_txn = true;
    return e;
}

enum gw_err cp_store_commit(struct cp_store *s)
{
    enum gw_err e = run(s, "COMMIT", 0, NULL, false, NULL, NULL);
    s->in_txn = false;
    return e;
}

enum gw_err cp_store_commit_change(struct cp_store *s, int64_t *revision)
{
    PGresult *r = NULL;
    enum gw_err e = run(s,
                        "WITH r AS (UPDATE config_revision SET revision = revision + 1 "
                        "RETURNING revision) SELECT revision, pg_notify('" CP_STORE_NOTIFY_CHANNEL
                        "', revision::text) FROM r",
                        0, NULL, false, &r, NULL);
    if (e != GW_OK)
        goto fail;
    if (PQntuples(r) != 1) {
        GW_LOG(GW_LOG_ERROR, "config_revision has no row; run 'portico-cp migrations up'");
        e = GW_ERR_INTERNAL;
        goto fail;
    }
    int64_t rev = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    e = cp_store_commit(s);
    if (e == GW_OK && revision)
        *revision = rev;
    return e;
fail:
    PQclear(r);
    cp_store_rollback(s);
    return e;
}

void cp_store_rollback(struct cp_store *s)
{
    if (!s->in_txn)
        return;
    s->in_txn = false;
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return;
    PGresult *r = PQexec(s->conn, "ROLLBACK");
    if (PQstatus(s->conn) == CONNECTION_BAD)
        drop_conn(s);
    PQclear(r);
}
