/* cp/cluster/cp_cluster_registry.c: queued writes of clustering_data_planes rows.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_log.h"
#include "gw_time.h"
#include "store/cp_migrations.h"

#define QUEUE_MAX      1024 /* pending rows; older updates of the same node are merged */
#define PURGE_EVERY_MS 60000
#define SWEEP_EVERY_MS 5000 /* stale connected=true rows are marked disconnected */
#define RETRY_MS       1000

struct cp_cluster_registry {
    struct cp_cluster_pg_params pg;
    char cp_id[64];
    long long purge_delay_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    struct cp_cluster_reg_row *queue; /* QUEUE_MAX entries */
    size_t n;
    PGconn *conn;
    uint64_t next_purge_ms;
    uint64_t next_sweep_ms;
};

/* A disconnect (connected = false) written by a control plane that no longer owns the row is
 * ignored: the data plane has already moved to another control plane, whose rows win. */
static const char UPSERT_SQL[] =
    "INSERT INTO clustering_data_planes (id, hostname, ip, version, sync_status, config_hash,"
    " last_seen, connected, applied_revision, last_error, control_plane_id, cert_expiry, labels,"
    " heartbeat_interval, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8,"
    " $9, $10, $11, '{}'::jsonb, $12, now(), now()) ON CONFLICT (id) DO UPDATE SET"
    " hostname = EXCLUDED.hostname, ip = EXCLUDED.ip, version = EXCLUDED.version,"
    " sync_status = EXCLUDED.sync_status, config_hash = EXCLUDED.config_hash, last_seen = now(),"
    " connected = EXCLUDED.connected, applied_revision = EXCLUDED.applied_revision,"
    " last_error = EXCLUDED.last_error, control_plane_id = EXCLUDED.control_plane_id,"
    " cert_expiry = EXCLUDED.cert_expiry,"
    " heartbeat_interval = coalesce(EXCLUDED.heartbeat_interval,"
    " clustering_data_planes.heartbeat_interval), updated_at = now()"
    " WHERE EXCLUDED.connected OR NOT " CP_DP_CONNECTED_SQL_OF(
        "clustering_data_planes.") " OR clustering_data_planes.control_plane_id IS NOT DISTINCT "
                                   "FROM EXCLUDED.control_plane_id";

/* Rows still flagged connected whose last_seen is older than the liveness bound: their control
 * plane died without writing the disconnect (SIGKILL, power loss, network partition). */
static const char SWEEP_SQL[] =
    "UPDATE clustering_data_planes SET connected = false, updated_at = now() WHERE connected"
    " AND NOT " CP_DP_CONNECTED_SQL;

void cp_cluster_registry_put(struct cp_cluster_registry *r, const struct cp_cluster_reg_row *row)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    size_t i;
    for (i = 0; i < r->n; i++)
        if (strcmp(r->queue[i].id, row->id) == 0)
            break;
    if (i < r->n) {
        r->queue[i] = *row;
    } else if (r->n < QUEUE_MAX) {
        r->queue[r->n++] = *row;
    } else {
        GW_LOG(GW_LOG_WARN, "registry queue full, update dropped node_id=%s", row->id);
    }
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static bool ensure_conn(struct cp_cluster_registry *r)
{
    if (r->conn && PQstatus(r->conn) == CONNECTION_OK)
        return true;
    if (r->conn) {
        PQfinish(r->conn);
        r->conn = NULL;
    }
    r->conn = cp_cluster_pg_connect(&r->pg, "registry");
    return r->conn != NULL;
}

static bool write_row(struct cp_cluster_registry *r, const struct cp_cluster_reg_row *row)
{
    char rev[24], expiry[24], hb[24];
    snprintf(rev, sizeof(rev), "%lld", (long long)row->applied_revision);
    snprintf(expiry, sizeof(expiry), "%lld", (long long)row->cert_expiry);
    snprintf(hb, sizeof(hb), "%d", row->heartbeat_interval);
    const char *params[12] = {
        row->id,
        row->hostname[0] ? row->hostname : NULL,
        row->ip[0] ? row->ip : NULL,
        row->version[0] ? row->version : NULL,
        row->sync_status,
        row->config_hash[0] ? row->config_hash : NULL,
        row->connected ? "true" : "false",
        row->applied_revision >= 0 ? rev : NULL,
        row->last_error[0] ? row->last_error : NULL,
        r->cp_id,
        row->cert_expiry > 0 ? expiry : NULL,
        row->heartbeat_interval > 0 ? hb : NULL,
    };
    PGresult *res = PQexecParams(r->conn, UPSERT_SQL, 12, NULL, params, NULL, NULL, 0);
    bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(r->conn));
        msg[strcspn(msg, "\n")] = '\0';
        GW_LOG(GW_LOG_WARN, "cannot write data plane registry row node_id=%s error=\"%s\"", row->id,
               msg);
    }
    PQclear(res);
    /* A SQL error (not a lost connection) is not retried. */
    return ok || PQstatus(r->conn) == CONNECTION_OK;
}

static void purge(struct cp_cluster_registry *r)
{
    char delay[32];
    snprintf(delay, sizeof(delay), "%lld", r->purge_delay_s);
    const char *params[1] = {delay};
    PGresult *res = PQexecParams(r->conn,
                                 "DELETE FROM clustering_data_planes WHERE last_seen < now() - "
                                 "make_interval(secs => $1::double precision)",
                                 1, NULL, params, NULL, NULL, 0);
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        const char *n = PQcmdTuples(res);
        if (n[0] && strcmp(n, "0") != 0)
            GW_LOG(GW_LOG_INFO, "purged silent data planes from the registry count=%s", n);
    }
    PQclear(res);
}

static void sweep(struct cp_cluster_registry *r)
{
    PGresult *res = PQexec(r->conn, SWEEP_SQL);
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        const char *n = PQcmdTuples(res);
        if (n[0] && strcmp(n, "0") != 0)
            GW_LOG(GW_LOG_NOTICE,
                   "marked silent data planes disconnected (no heartbeat within 3 intervals + 5 "
                   "s; their control plane is gone) count=%s",
                   n);
    }
    PQclear(res);
}

static void *registry_main(void *arg)
{
    struct cp_cluster_registry *r = arg;
    struct cp_cluster_reg_row *batch = malloc(QUEUE_MAX * sizeof(*batch));
    if (!batch) {
        GW_LOG(GW_LOG_CRIT, "registry writer: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (r->n == 0 && !r->stop && gw_time_mono_ms() < r->next_purge_ms &&
               gw_time_mono_ms() < r->next_sweep_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        }
        size_t n = r->n;
        memcpy(batch, r->queue, n * sizeof(*batch));
        r->n = 0;
        bool stopping = r->stop;
        pthread_mutex_unlock(&r->lock);

        size_t done = 0;
        bool up = ensure_conn(r);
        if (up)
            for (; done < n; done++)
                if (!write_row(r, &batch[done]))
                    break;
        /* periodic work; with the database down it is retried every RETRY_MS, not in a loop */
        uint64_t now = gw_time_mono_ms();
        if (now >= r->next_purge_ms) {
            up = up && PQstatus(r->conn) == CONNECTION_OK;
            if (up)
                purge(r);
            r->next_purge_ms = gw_time_mono_ms() + (up ? PURGE_EVERY_MS : RETRY_MS);
        }
        if (now >= r->next_sweep_ms) {
            up = up && PQstatus(r->conn) == CONNECTION_OK;
            if (up)
                sweep(r);
            r->next_sweep_ms = gw_time_mono_ms() + (up ? SWEEP_EVERY_MS : RETRY_MS);
        }
        pthread_mutex_lock(&r->lock);
        if (done < n && !stopping) {
            /* Requeue what was not written, unless newer updates for the node are queued. */
            for (size_t i = done; i < n; i++) {
                size_t j;
                for (j = 0; j < r->n; j++)
                    if (strcmp(r->queue[j].id, batch[i].id) == 0)
                        break;
                if (j == r->n && r->n < QUEUE_MAX)
                    r->queue[r->n++] = batch[i];
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += RETRY_MS / 1000;
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        }
        if (stopping || (r->stop && r->n == 0))
            break;
    }
    pthread_mutex_unlock(&r->lock);
    free(batch);
    return NULL;
}

enum gw_err cp_cluster_registry_start(const struct cp_cluster_pg_params *pg, const char *cp_id,
                                      long long purge_delay_s, struct cp_cluster_registry **out)
{
    struct cp_cluster_registry *r = calloc(1, sizeof(*r));
    if (!r)
        return GW_ERR_NOMEM;
    r->queue = malloc(QUEUE_MAX * sizeof(*r->queue));
    if (!r->queue) {
        free(r);
        return GW_ERR_NOMEM;
    }
    r->pg = *pg;
    snprintf(r->cp_id, sizeof(r->cp_id), "%s", cp_id);
    r->purge_delay_s = purge_delay_s;
    r->next_purge_ms = gw_time_mono_ms() + 5000;
    r->next_sweep_ms = 0; /* at start-up: rows left connected by a control plane that died */
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    int err = pthread_create(&r->thread, NULL, registry_main, r);
    if (err) {
        GW_LOG_ERRNO(GW_LOG_ERROR, err, "cannot start the registry thread");
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r->queue);
        free(r);
        return GW_ERR_IO;
    }
    *out = r;
    return GW_OK;
}

void cp_cluster_registry_stop(struct cp_cluster_registry *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    if (r->conn)
        PQfinish(r->conn);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r->queue);
    free(r);
}
