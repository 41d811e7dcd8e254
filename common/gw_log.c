/* common/gw_log.c: one-line-per-event logger with lazy formatting and log reopen.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

volatile int gw_log_threshold = GW_LOG_INFO;

static char component[16] = "portico";
static int log_fd = STDERR_FILENO;
static char *log_path;
static pthread_mutex_t reopen_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[GW_LOG_LEVEL_COUNT_] = {
    [GW_LOG_DEBUG] = "debug", [GW_LOG_INFO] = "info",   [GW_LOG_NOTICE] = "notice",
    [GW_LOG_WARN] = "warn",   [GW_LOG_ERROR] = "error", [GW_LOG_CRIT] = "crit",
};

void gw_log_init(const char *comp, enum gw_log_level level)
{
    snprintf(component, sizeof(component), "%s", comp ? comp : "portico");
    gw_log_threshold = level;
}

bool gw_log_level_parse(const char *s, enum gw_log_level *out)
{
    if (!s)
        return false;
    for (int i = 0; i < GW_LOG_LEVEL_COUNT_; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum gw_log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = GW_LOG_WARN;
        return true;
    }
    if (strcasecmp(s, "err") == 0) {
        *out = GW_LOG_ERROR;
        return true;
    }
    return false;
}

const char *gw_log_level_name(enum gw_log_level level)
{
    if ((unsigned)level >= GW_LOG_LEVEL_COUNT_)
        return "unknown";
    return level_names[level];
}

void gw_log_set_level(enum gw_log_level level)
{
    gw_log_threshold = level;
}

static int open_path(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int gw_log_open(const char *path)
{
    if (!path || !*path || strcmp(path, "stderr") == 0 || strcmp(path, "/dev/stderr") == 0) {
        if (log_fd != STDERR_FILENO)
            close(log_fd);
        log_fd = STDERR_FILENO;
        free(log_path);
        log_path = NULL;
        return 0;
    }
    int fd = open_path(path);
    if (fd == -1)
        return -1;
    char *copy = strdup(path);
    if (!copy) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = copy;
    return 0;
}

int gw_log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&reopen_lock);
    if (log_path) {
        int fd = open_path(log_path);
        if (fd == -1) {
            rc = -1;
        } else {
            /* dup2 swaps the descriptor atomically for concurrent writers. */
            if (dup2(fd, log_fd) == -1)
                rc = -1;
            close(fd);
        }
    }
    pthread_mutex_unlock(&reopen_lock);
    return rc;
}

/* Appends src to dst[*len..cap) escaping newlines, carriage returns and other control bytes. */
static void append_escaped(char *dst, size_t *len, size_t cap, const char *src)
{
    for (const unsigned char *p = (const unsigned char *)src; *p && *len + 4 < cap; p++) {
        if (*p == '\n') {
            dst[(*len)++] = '\\';
            dst[(*len)++] = 'n';
        } else if (*p == '\r') {
            dst[(*len)++] = '\\';
            dst[(*len)++] = 'r';
        } else if (*p < 0x20 && *p != '\t') {
            *len += (size_t)snprintf(dst + *len, cap - *len, "\\x%02x", *p);
        } else {
            dst[(*len)++] = (char)*p;
        }
    }
}

void gw_log_vwrite(enum gw_log_level level, int err, const char *file, int line, const char *fmt,
                   va_list ap)
{
    char msg[LINE_MAX_BYTES];
    char out[LINE_MAX_BYTES + 256];
    struct timespec ts;
    struct tm tm;
    size_t len;

    (void)file;
    (void)line;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    len = (size_t)snprintf(out, sizeof(out),
                           "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s ",
                           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                           tm.tm_sec, ts.tv_nsec / 1000000, gw_log_level_name(level), component);
    append_escaped(out, &len, sizeof(out) - 2, msg);
    if (err) {
        char ebuf[128];
        const char *es = strerror_r(err, ebuf, sizeof(ebuf));
        int n = snprintf(out + len, sizeof(out) - 2 - len, " errno=%d error=\"%s\"", err, es);
        if (n > 0)
            len += (size_t)n < sizeof(out) - 2 - len ? (size_t)n : sizeof(out) - 3 - len;
    }
    out[len++] = '\n';
    ssize_t w = write(log_fd, out, len);
    (void)w;
}

void gw_log_write(enum gw_log_level level, int err, const char *file, int line, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    gw_log_vwrite(level, err, file, line, fmt, ap);
    va_end(ap);
}

void gw_log_bug(const char *cond, const char *file, int line)
{
    gw_log_write(GW_LOG_CRIT, 0, file, line, "BUG condition=\"%s\" file=%s line=%d", cond, file,
                 line);
    abort();
}
