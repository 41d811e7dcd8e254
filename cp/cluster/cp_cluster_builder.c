/* cp/cluster/cp_cluster_builder.c: LISTEN/NOTIFY-driven, debounced snapshot builder thread.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_builder.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cp_cluster_reader.h"
#include "gw_log.h"
#include "gw_time.h"

#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 5000

struct cp_cluster_builder {
    struct cp_cluster_pg_params pg;
    int debounce_ms;
    cp_cluster_publish_fn publish;
    void *arg;
    pthread_t thread;
    int wakefd;
    atomic_bool stop;
    PGconn *conn;
    struct cp_cluster_reader *reader; /* converted entities cached across builds */
    int64_t built_revision;           /* -1 before the first build */
    char built_hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
};

static bool exec_ok(PGconn *conn, const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(conn, sql);
    bool ok = r && PQresultStatus(r) == want;
    if (!ok) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        GW_LOG(GW_LOG_WARN, "snapshot builder query failed sql=\"%.40s\" error=\"%s\"", sql, msg);
    }
    PQclear(r);
    return ok;
}

/* Builds and publishes a snapshot unless the revision and hash are those already published. */
static enum gw_err build(struct cp_cluster_builder *b)
{
    Portico__V1__Config *cfg = NULL;
    int64_t revision = 0;
    char err[512];
    uint64_t t0 = gw_time_mono_us();
    enum gw_err rc = cp_cluster_reader_read(b->reader, b->conn, &cfg, &revision, err, sizeof(err));
    if (rc != GW_OK) {
        GW_LOG(GW_LOG_ERROR,
               "snapshot build failed, data planes keep the previous snapshot error=\"%s\"", err);
        return rc;
    }
    uint64_t t1 = gw_time_mono_us();
    struct cp_cluster_snap *s = cp_cluster_snap_create(cfg, revision);
    cp_cluster_reader_release(cfg);
    if (!s)
        return GW_ERR_NOMEM;
    if (revision == b->built_revision && strcmp(s->hash, b->built_hash) == 0) {
        cp_cluster_snap_unref(s);
        return GW_OK;
    }
    uint64_t t2 = gw_time_mono_us();
    struct cp_cluster_reader_stats st;
    cp_cluster_reader_stats(b->reader, &st);
    GW_LOG(GW_LOG_INFO,
           "snapshot built revision=%lld hash=%s config_bytes=%zu wire_bytes=%zu read_ms=%.1f "
           "encode_ms=%.1f rows=%zu converted=%zu sql_ms=%.1f json_ms=%.1f convert_ms=%.1f",
           (long long)revision, s->hash, s->config_size, s->len, (double)(t1 - t0) / 1000.0,
           (double)(t2 - t1) / 1000.0, st.rows, st.converted, (double)st.sql_us / 1000.0,
           (double)st.parse_us / 1000.0, (double)st.convert_us / 1000.0);
    b->built_revision = revision;
    memcpy(b->built_hash, s->hash, sizeof(b->built_hash));
    b->publish(b->arg, s);
    return GW_OK;
}

static void drop_conn(struct cp_cluster_builder *b)
{
    if (b->conn) {
        PQfinish(b->conn);
        b->conn = NULL;
    }
}

static bool connect_and_listen(struct cp_cluster_builder *b)
{
    b->conn = cp_cluster_pg_connect(&b->pg, "snapshot builder");
    if (!b->conn)
        return false;
    if (!exec_ok(b->conn, "LISTEN portico_config", PGRES_COMMAND_OK)) {
        drop_conn(b);
        return false;
    }
    GW_LOG(GW_LOG_INFO,
           "snapshot builder connected to PostgreSQL, listening channel=portico_config");
    return true;
}

/* Drains pending notifications; true when one announces a revision newer than the last build
 * (or cannot be parsed). */
static bool drain_notifies(struct cp_cluster_builder *b)
{
    bool newer = false;
    PGnotify *n;
    while ((n = PQnotifies(b->conn)) != NULL) {
        char *end;
        long long rev = strtoll(n->extra ? n->extra : "", &end, 10);
        if (!n->extra || end == n->extra || rev > b->built_revision)
            newer = true;
        PQfreemem(n);
    }
    return newer;
}

static void *builder_main(void *arg)
{
    struct cp_cluster_builder *b = arg;
    int backoff_ms = RECONNECT_MIN_MS;
    bool dirty = false;
    uint64_t build_at = 0;
    while (!atomic_load(&b->stop)) {
        if (!b->conn) {
            if (connect_and_listen(b)) {
                backoff_ms = RECONNECT_MIN_MS;
                dirty = true; /* changes may have happened while disconnected */
                build_at = gw_time_mono_ms();
            } else {
                struct pollfd w = {.fd = b->wakefd, .events = POLLIN};
                poll(&w, 1, backoff_ms);
                backoff_ms = backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff_ms * 2;
                continue;
            }
        }
        int timeout = -1;
        if (dirty) {
            uint64_t now = gw_time_mono_ms();
            timeout = build_at > now ? (int)(build_at - now) : 0;
        }
        struct pollfd fds[2] = {{.fd = b->wakefd, .events = POLLIN},
                                {.fd = PQsocket(b->conn), .events = POLLIN}};
        int n = poll(fds, 2, timeout);
        if (n == -1 && errno != EINTR) {
            GW_LOG_ERRNO(GW_LOG_ERROR, errno, "snapshot builder poll failed");
            break;
        }
        if (fds[0].revents) {
            uint64_t v;
            if (read(b->wakefd, &v, sizeof(v)) == -1 && errno != EAGAIN)
                GW_LOG_ERRNO(GW_LOG_WARN, errno, "snapshot builder wake read failed");
            continue; /* the loop condition checks stop */
        }
        if (fds[1].revents) {
            if (!PQconsumeInput(b->conn)) {
                GW_LOG(GW_LOG_WARN,
                       "snapshot builder lost its PostgreSQL connection; data planes keep the "
                       "last snapshot");
                drop_conn(b);
                continue;
            }
            if (drain_notifies(b) && !dirty) {
                dirty = true;
                build_at = gw_time_mono_ms() + (uint64_t)b->debounce_ms;
            }
        }
        if (dirty && gw_time_mono_ms() >= build_at) {
            dirty = false;
            if (build(b) == GW_ERR_UNAVAILABLE) {
                drop_conn(b);
                continue;
            }
            /* notifications read while the build ran */
            if (drain_notifies(b)) {
                dirty = true;
                build_at = gw_time_mono_ms() + (uint64_t)b->debounce_ms;
            }
        }
    }
    drop_conn(b);
    return NULL;
}

enum gw_err cp_cluster_builder_start(const struct cp_cluster_pg_params *pg, int debounce_ms,
                                     cp_cluster_publish_fn publish, void *arg,
                                     struct cp_cluster_builder **out)
{
    struct cp_cluster_builder *b = calloc(1, sizeof(*b));
    if (!b)
        return GW_ERR_NOMEM;
    b->pg = *pg;
    b->debounce_ms = debounce_ms < 0 ? 0 : debounce_ms;
    b->publish = publish;
    b->arg = arg;
    b->built_revision = -1;
    atomic_init(&b->stop, false);
    b->reader = cp_cluster_reader_create();
    if (!b->reader) {
        free(b);
        return GW_ERR_NOMEM;
    }
    b->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->wakefd == -1) {
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot create eventfd for the snapshot builder");
        cp_cluster_reader_destroy(b->reader);
        free(b);
        return GW_ERR_IO;
    }
    int err = pthread_create(&b->thread, NULL, builder_main, b);
    if (err) {
        GW_LOG_ERRNO(GW_LOG_ERROR, err, "cannot start the snapshot builder thread");
        close(b->wakefd);
        cp_cluster_reader_destroy(b->reader);
        free(b);
        return GW_ERR_IO;
    }
    *out = b;
    return GW_OK;
}

void cp_cluster_builder_stop(struct cp_cluster_builder *b)
{
    if (!b)
        return;
    atomic_store(&b->stop, true);
    uint64_t one = 1;
    if (write(b->wakefd, &one, sizeof(one)) == -1)
        GW_LOG_ERRNO(GW_LOG_WARN, errno, "cannot wake the snapshot builder");
    pthread_join(b->thread, NULL);
    close(b->wakefd);
    cp_cluster_reader_destroy(b->reader);
    free(b);
}
