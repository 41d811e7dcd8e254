/* cp/cluster/cp_cluster_reader.c: incremental (xmin-cached) configuration reader.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_reader.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "gw_pbjson.h"
#include "gw_time.h"

/* Above this many changed rows in a table, fetch the whole table instead of WHERE id = ANY. */
#define FETCH_ALL_ABOVE 256
#define ID_LEN          36
/* From this many documents to convert in one table, a helper thread takes half. */
#define PARALLEL_ABOVE 2000

struct entry {
    char id[ID_LEN + 1];
    char version[48];      /* xmin:ctid: a changed row has a different one */
    ProtobufCMessage *msg; /* owned by the cache (or by the pending read, see owned_new) */
    bool reused;           /* old cache: carried into the new one */
    bool owned_new;        /* new cache: converted by this read */
};

struct table_cache {
    struct entry *e;
    size_t n;
};

struct cp_cluster_reader {
    struct table_cache *tables; /* one per Config field */
    size_t ntables;
    struct cp_cluster_reader_stats stats;
};

struct cp_cluster_reader *cp_cluster_reader_create(void)
{
    struct cp_cluster_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ntables = portico__v1__config__descriptor.n_fields;
    r->tables = calloc(r->ntables, sizeof(*r->tables));
    if (!r->tables) {
        free(r);
        return NULL;
    }
    return r;
}

static void free_table(struct table_cache *t)
{
    for (size_t i = 0; i < t->n; i++)
        protobuf_c_message_free_unpacked(t->e[i].msg, NULL);
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

void cp_cluster_reader_destroy(struct cp_cluster_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ntables; i++)
        free_table(&r->tables[i]);
    free(r->tables);
    free(r);
}

void cp_cluster_reader_stats(const struct cp_cluster_reader *r, struct cp_cluster_reader_stats *s)
{
    *s = r->stats;
}

void cp_cluster_reader_release(Portico__V1__Config *cfg)
{
    if (!cfg)
        return;
    const ProtobufCMessageDescriptor *cd = &portico__v1__config__descriptor;
    for (unsigned i = 0; i < cd->n_fields; i++)
        free(*(void **)((char *)cfg + cd->fields[i].offset));
    free(cfg);
}

static void pq_err(PGconn *conn, char *err, size_t errlen, const char *what, const char *table)
{
    snprintf(err, errlen, "cannot read %s%s%s: %s", what, table ? " of " : "", table ? table : "",
             PQerrorMessage(conn));
    err[strcspn(err, "\n")] = '\0';
}

/* Converts one stored document into entry e (a new message owned by the pending read). */
static enum gw_err convert(struct cp_cluster_reader_stats *st, const ProtobufCFieldDescriptor *f,
                           const char *text, size_t len, struct entry *e, char *err, size_t errlen)
{
    json_error_t jerr;
    uint64_t t0 = gw_time_mono_us();
    json_t *doc = json_loadb(text, len, 0, &jerr);
    uint64_t t1 = gw_time_mono_us();
    st->parse_us += t1 - t0;
    if (!doc) {
        snprintf(err, errlen, "%s %s: invalid JSON: %s", f->name, e->id, jerr.text);
        return GW_ERR_INVALID;
    }
    Portico__V1__Config tmp = PORTICO__V1__CONFIG__INIT;
    enum gw_err rc =
        gw_pbjson_config_add(&tmp, f->name, doc, GW_PBJSON_IGNORE_UNKNOWN, err, errlen);
    json_decref(doc);
    st->convert_us += gw_time_mono_us() - t1;
    if (rc != GW_OK)
        return rc;
    ProtobufCMessage **arr = *(ProtobufCMessage ***)((char *)&tmp + f->offset);
    e->msg = arr[0];
    e->owned_new = true;
    free(arr);
    st->converted++;
    return GW_OK;
}

/* One document to convert into an entry. */
struct job {
    struct entry *e;
    const char *text;
    size_t len;
};

/* A share of the jobs converted on a helper thread. */
struct worker {
    const ProtobufCFieldDescriptor *f;
    struct job *jobs;
    size_t n;
    struct cp_cluster_reader_stats st;
    enum gw_err rc;
    char err[256];
};

static void *convert_share(void *arg)
{
    struct worker *w = arg;
    w->rc = GW_OK;
    for (size_t i = 0; i < w->n && w->rc == GW_OK; i++)
        w->rc = convert(&w->st, w->f, w->jobs[i].text, w->jobs[i].len, w->jobs[i].e, w->err,
                        sizeof(w->err));
    return NULL;
}

/* Converts every job; large batches (a first build) are split with one helper thread, since
 * parsing JSON dominates a full build. */
static enum gw_err convert_all(struct cp_cluster_reader *r, const ProtobufCFieldDescriptor *f,
                               struct job *jobs, size_t n, char *err, size_t errlen)
{
    struct worker w[2] = {{.f = f, .jobs = jobs, .n = n}, {.f = f}};
    pthread_t t;
    bool helper = false;
    if (n >= PARALLEL_ABOVE) {
        w[0].n = n / 2;
        w[1].jobs = jobs + n / 2;
        w[1].n = n - n / 2;
        helper = pthread_create(&t, NULL, convert_share, &w[1]) == 0;
        if (!helper)
            w[0].n = n; /* no thread: do it all here */
    }
    convert_share(&w[0]);
    if (helper)
        pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        r->stats.parse_us += w[i].st.parse_us;
        r->stats.convert_us += w[i].st.convert_us;
        r->stats.converted += w[i].st.converted;
    }
    for (int i = 0; i < 2; i++)
        if (w[i].rc != GW_OK) {
            snprintf(err, errlen, "%s", w[i].err);
            return w[i].rc;
        }
    return GW_OK;
}

/* Reads one table into *out (new entries; carried-over messages are borrowed from old). */
static enum gw_err read_table(struct cp_cluster_reader *r, PGconn *conn,
                              const ProtobufCFieldDescriptor *f, struct table_cache *old,
                              struct table_cache *out, char *err, size_t errlen)
{
    char sql[160];
    enum gw_err rc = GW_ERR_UNAVAILABLE;
    PGresult *res = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT id::text, xmin::text || ':' || ctid::text FROM %s ORDER BY id", f->name);
    uint64_t t0 = gw_time_mono_us();
    res = PQexec(conn, sql);
    r->stats.sql_us += gw_time_mono_us() - t0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pq_err(conn, err, errlen, "the row versions", f->name);
        goto fail;
    }
    size_t n = (size_t)PQntuples(res);
    out->e = calloc(n ? n : 1, sizeof(*out->e));
    if (!out->e) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    out->n = n;
    size_t changed = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
        struct entry *e = &out->e[i];
        snprintf(e->id, sizeof(e->id), "%s", PQgetvalue(res, (int)i, 0));
        snprintf(e->version, sizeof(e->version), "%s", PQgetvalue(res, (int)i, 1));
        /* both lists are sorted by id (uuid order = lowercase hex text order) */
        while (j < old->n && strcmp(old->e[j].id, e->id) < 0)
            j++;
        if (j < old->n && strcmp(old->e[j].id, e->id) == 0 &&
            strcmp(old->e[j].version, e->version) == 0) {
            e->msg = old->e[j].msg;
            old->e[j].reused = true;
        } else {
            changed++;
        }
    }
    PQclear(res);
    res = NULL;
    r->stats.rows += n;
    if (changed == 0)
        return GW_OK;

    t0 = gw_time_mono_us();
    if (changed > FETCH_ALL_ABOVE) {
        snprintf(sql, sizeof(sql), "SELECT id::text, doc::text FROM %s ORDER BY id", f->name);
        res = PQexec(conn, sql);
    } else {
        size_t cap = changed * (ID_LEN + 1) + 3, used = 0;
        char *list = malloc(cap);
        if (!list) {
            rc = GW_ERR_NOMEM;
            goto fail;
        }
        list[used++] = '{';
        for (size_t i = 0; i < n; i++) {
            if (out->e[i].msg)
                continue;
            if (used > 1)
                list[used++] = ',';
            memcpy(list + used, out->e[i].id, strlen(out->e[i].id));
            used += strlen(out->e[i].id);
        }
        list[used++] = '}';
        list[used] = '\0';
        snprintf(sql, sizeof(sql),
                 "SELECT id::text, doc::text FROM %s WHERE id = ANY($1::uuid[]) ORDER BY id",
                 f->name);
        const char *params[1] = {list};
        res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
        free(list);
    }
    r->stats.sql_us += gw_time_mono_us() - t0;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pq_err(conn, err, errlen, "the documents", f->name);
        goto fail;
    }
    /* match the fetched documents (sorted by id) with the entries that need one */
    size_t m = (size_t)PQntuples(res), k = 0, njobs = 0;
    struct job *jobs = malloc(changed * sizeof(*jobs));
    if (!jobs) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = &out->e[i];
        if (e->msg)
            continue;
        while (k < m && strcmp(PQgetvalue(res, (int)k, 0), e->id) < 0)
            k++;
        if (k >= m || strcmp(PQgetvalue(res, (int)k, 0), e->id) != 0) {
            snprintf(err, errlen, "%s %s: row vanished inside the transaction", f->name, e->id);
            free(jobs);
            rc = GW_ERR_INTERNAL;
            goto fail;
        }
        jobs[njobs++] = (struct job){
            .e = e, .text = PQgetvalue(res, (int)k, 1), .len = (size_t)PQgetlength(res, (int)k, 1)};
    }
    rc = convert_all(r, f, jobs, njobs, err, errlen);
    free(jobs);
    if (rc != GW_OK)
        goto fail;
    PQclear(res);
    return GW_OK;
fail:
    PQclear(res);
    if (PQstatus(conn) != CONNECTION_OK)
        rc = GW_ERR_UNAVAILABLE;
    return rc;
}

/* Drops a pending (failed) read: frees what it converted, clears the reuse marks. */
static void abandon(struct cp_cluster_reader *r, struct table_cache *fresh)
{
    for (size_t t = 0; t < r->ntables; t++) {
        for (size_t i = 0; i < fresh[t].n; i++)
            if (fresh[t].e[i].owned_new)
                protobuf_c_message_free_unpacked(fresh[t].e[i].msg, NULL);
        free(fresh[t].e);
        for (size_t i = 0; i < r->tables[t].n; i++)
            r->tables[t].e[i].reused = false;
    }
    free(fresh);
}

enum gw_err cp_cluster_reader_read(struct cp_cluster_reader *r, PGconn *conn,
                                   Portico__V1__Config **cfg_out, int64_t *revision, char *err,
                                   size_t errlen)
{
    enum gw_err rc = GW_ERR_UNAVAILABLE;
    const ProtobufCMessageDescriptor *cd = &portico__v1__config__descriptor;
    struct table_cache *fresh = calloc(r->ntables, sizeof(*fresh));
    Portico__V1__Config *cfg = NULL;
    PGresult *res = NULL;
    bool in_tx = false;
    *cfg_out = NULL;
    memset(&r->stats, 0, sizeof(r->stats));
    if (!fresh)
        return GW_ERR_NOMEM;
    res = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        pq_err(conn, err, errlen, "(begin)", NULL);
        goto fail;
    }
    PQclear(res);
    in_tx = true;
    res = PQexec(conn, "SELECT revision FROM config_revision");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pq_err(conn, err, errlen, "config_revision", NULL);
        rc = PQstatus(conn) == CONNECTION_OK ? GW_ERR_INVALID : GW_ERR_UNAVAILABLE;
        goto fail;
    }
    *revision = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    for (size_t t = 0; t < r->ntables; t++) {
        rc = read_table(r, conn, &cd->fields[t], &r->tables[t], &fresh[t], err, errlen);
        if (rc != GW_OK)
            goto fail;
    }
    res = PQexec(conn, "COMMIT");
    in_tx = false;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        pq_err(conn, err, errlen, "(commit)", NULL);
        rc = GW_ERR_UNAVAILABLE;
        goto fail;
    }
    PQclear(res);
    res = NULL;

    cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        rc = GW_ERR_NOMEM;
        goto fail;
    }
    portico__v1__config__init(cfg);
    for (size_t t = 0; t < r->ntables; t++) {
        const ProtobufCFieldDescriptor *f = &cd->fields[t];
        size_t n = fresh[t].n;
        ProtobufCMessage **arr = malloc((n ? n : 1) * sizeof(*arr));
        if (!arr) {
            cp_cluster_reader_release(cfg);
            cfg = NULL;
            rc = GW_ERR_NOMEM;
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            arr[i] = fresh[t].e[i].msg;
        *(size_t *)((char *)cfg + f->quantifier_offset) = n;
        *(ProtobufCMessage ***)((char *)cfg + f->offset) = arr;
    }
    /* commit the cache: free what was not carried over, adopt the fresh tables */
    for (size_t t = 0; t < r->ntables; t++) {
        struct table_cache *old = &r->tables[t];
        for (size_t i = 0; i < old->n; i++)
            if (!old->e[i].reused)
                protobuf_c_message_free_unpacked(old->e[i].msg, NULL);
        free(old->e);
        *old = fresh[t];
        for (size_t i = 0; i < old->n; i++)
            old->e[i].owned_new = false;
    }
    free(fresh);
    *cfg_out = cfg;
    if (errlen)
        err[0] = '\0';
    return GW_OK;
fail:
    PQclear(res);
    if (in_tx && PQstatus(conn) == CONNECTION_OK) {
        res = PQexec(conn, "ROLLBACK");
        PQclear(res);
    }
    abandon(r, fresh);
    if (PQstatus(conn) != CONNECTION_OK)
        rc = GW_ERR_UNAVAILABLE;
    return rc;
}
