/* dp/config/dp_config_apply.c: snapshot -> published config, and the disk cache.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_config_apply.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp_config_validate.h"
#include "gw_log.h"
#include "gw_snapshot.h"
#include "gw_time.h"

static char *cache_path;
/* Applies are serialised; the last applied snapshot is kept (packed) for rebuilds after a DNS
 * change. */
static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *last_snap;
static size_t last_len;

static void keep_last(const Portico__V1__Snapshot *snap)
{
    size_t len = portico__v1__snapshot__get_packed_size(snap);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return;
    portico__v1__snapshot__pack(snap, buf);
    free(last_snap);
    last_snap = buf;
    last_len = len;
}

void dp_config_apply_init(const char *prefix)
{
    free(cache_path);
    size_t n = strlen(prefix) + 32;
    cache_path = malloc(n);
    if (cache_path)
        snprintf(cache_path, n, "%s/config.cache", prefix);
}

void dp_config_apply_cleanup(void)
{
    free(cache_path);
    cache_path = NULL;
    free(last_snap);
    last_snap = NULL;
    last_len = 0;
    dp_config_validate_cleanup();
}

static enum gw_err apply(const Portico__V1__Snapshot *snap, size_t max_size,
                         dp_config_error_fn on_error, void *arg)
{
    Portico__V1__Config *pb = NULL;
    char err[256] = "";
    uint64_t t0 = gw_time_mono_us();
    enum gw_err e = gw_snapshot_open(snap, max_size, &pb, err, sizeof(err));
    if (e != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "snapshot rejected revision=%lld error=\"%s\"",
               (long long)snap->revision, err);
        if (on_error)
            on_error(arg, "@snapshot", "", "@entity", err);
        return e;
    }
    e = dp_config_validate(pb, on_error, arg);
    if (e != GW_OK) {
        portico__v1__config__free_unpacked(pb, NULL);
        GW_LOG(GW_LOG_ERROR,
               "config rejected by validation, keeping the running one "
               "revision=%lld error=%s",
               (long long)snap->revision, gw_err_str(e));
        return e;
    }
    struct dp_config *cfg = NULL;
    e = dp_config_build(pb, snap->revision, snap->hash, on_error, arg, &cfg);
    portico__v1__config__free_unpacked(pb, NULL);
    if (e != GW_OK) {
        GW_LOG(GW_LOG_ERROR, "config rejected, keeping the running one revision=%lld error=%s",
               (long long)snap->revision, gw_err_str(e));
        return e;
    }
    dp_config_publish(cfg);
    keep_last(snap);
    GW_LOG(GW_LOG_INFO, "snapshot applied revision=%lld micros=%llu", (long long)snap->revision,
           (unsigned long long)(gw_time_mono_us() - t0));
    return GW_OK;
}

enum gw_err dp_config_apply_write_cache(const Portico__V1__Snapshot *snap)
{
    if (!cache_path)
        return GW_ERR_IO;
    size_t len = portico__v1__snapshot__get_packed_size(snap);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return GW_ERR_NOMEM;
    portico__v1__snapshot__pack(snap, buf);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cache_path);
    enum gw_err ret = GW_ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot write config cache path=%s", tmp);
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot write config cache path=%s", tmp);
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) == -1 || close(fd) == -1) {
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot sync config cache path=%s", tmp);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, cache_path) == -1) {
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot rename config cache path=%s", cache_path);
        unlink(tmp);
        goto out;
    }
    ret = GW_OK;
out:
    free(buf);
    return ret;
}

enum gw_err dp_config_apply_snapshot(const Portico__V1__Snapshot *snap, size_t max_size,
                                     dp_config_error_fn on_error, void *arg)
{
    pthread_mutex_lock(&apply_lock);
    enum gw_err e = apply(snap, max_size, on_error, arg);
    if (e == GW_OK)
        (void)dp_config_apply_write_cache(snap);
    pthread_mutex_unlock(&apply_lock);
    return e;
}

enum gw_err dp_config_apply_rebuild(size_t max_size)
{
    pthread_mutex_lock(&apply_lock);
    enum gw_err e = GW_ERR_NOTFOUND;
    if (last_snap) {
        Portico__V1__Snapshot *snap = portico__v1__snapshot__unpack(NULL, last_len, last_snap);
        e = snap ? apply(snap, max_size, NULL, NULL) : GW_ERR_NOMEM;
        if (snap)
            portico__v1__snapshot__free_unpacked(snap, NULL);
    }
    pthread_mutex_unlock(&apply_lock);
    return e;
}

enum gw_err dp_config_apply_load_cache(size_t max_size)
{
    if (!cache_path)
        return GW_ERR_NOTFOUND;
    FILE *f = fopen(cache_path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            GW_LOG(GW_LOG_NOTICE, "no config cache, waiting for a control plane path=%s",
                   cache_path);
            return GW_ERR_NOTFOUND;
        }
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot read config cache path=%s", cache_path);
        return GW_ERR_IO;
    }
    enum gw_err ret = GW_ERR_INVALID;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == -1 || st.st_size < 0 || (size_t)st.st_size > max_size + 4096) {
        GW_LOG(GW_LOG_ERROR, "config cache ignored: unreadable or too big path=%s", cache_path);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        ret = GW_ERR_NOMEM;
        goto out;
    }
    if (fread(buf, 1, len, f) != len) {
        GW_LOG(GW_LOG_ERROR, "config cache ignored: short read path=%s", cache_path);
        goto out;
    }
    Portico__V1__Snapshot *snap = portico__v1__snapshot__unpack(NULL, len, buf);
    if (!snap) {
        GW_LOG(GW_LOG_ERROR, "config cache ignored: not a snapshot (corrupt) path=%s", cache_path);
        goto out;
    }
    pthread_mutex_lock(&apply_lock);
    ret = apply(snap, max_size, NULL, NULL);
    pthread_mutex_unlock(&apply_lock);
    if (ret == GW_OK)
        GW_LOG(GW_LOG_NOTICE, "config loaded from cache revision=%lld path=%s",
               (long long)snap->revision, cache_path);
    else
        GW_LOG(GW_LOG_ERROR, "config cache ignored: %s path=%s", gw_err_str(ret), cache_path);
    portico__v1__snapshot__free_unpacked(snap, NULL);
out:
    free(buf);
    fclose(f);
    return ret;
}
