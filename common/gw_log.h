/* common/gw_log.h: logging. One line per event on stderr (or a file), key=value style:
 *   ts=2026-11-30T08:30:00.123Z level=info comp=cp <message> key=value ...
 * Callers write a short message followed by key=value pairs. Formatting is lazy: GW_LOG checks
 * the level before any argument is formatted.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum gw_log_level {
    GW_LOG_DEBUG = 0,
    GW_LOG_INFO,
    GW_LOG_NOTICE,
    GW_LOG_WARN,
    GW_LOG_ERROR,
    GW_LOG_CRIT,
    GW_LOG_LEVEL_COUNT_ /* keep last */
};

/* The current threshold; read without locking by GW_LOG. */
extern volatile int gw_log_threshold;

/* Sets the component tag ("cp", "dp"; copied, at most 15 bytes) and the threshold. Call once from
 * main before threads start. */
void gw_log_init(const char *component, enum gw_log_level level);

/* Parses "debug|info|notice|warn|error|crit" into *out. Returns false for anything else. */
bool gw_log_level_parse(const char *s, enum gw_log_level *out);

/* Returns the name of a level ("info"). */
const char *gw_log_level_name(enum gw_log_level level);

/* Changes the threshold. Any thread. */
void gw_log_set_level(enum gw_log_level level);

/* Sends output to path (appending; created 0640) instead of stderr; NULL or "" or "stderr" means
 * stderr. Returns 0, or -1 with errno set (output unchanged). Call from main before threads. */
int gw_log_open(const char *path);

/* Reopens the log file given to gw_log_open (for log rotation, on SIGUSR1). Async-signal-unsafe:
 * call from a normal context (an event callback), any thread. Returns 0 or -1 with errno. */
int gw_log_reopen(void);

/* Writes one line at level. err != 0 appends errno=<n> error="<strerror>". Newlines in the
 * message are escaped. Thread-safe: each line is one write(2). Use the macros below. */
void gw_log_write(enum gw_log_level level, int err, const char *file, int line, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
void gw_log_vwrite(enum gw_log_level level, int err, const char *file, int line, const char *fmt,
                   va_list ap);

#define GW_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if ((int)(level) >= gw_log_threshold)                                                      \
            gw_log_write((level), 0, __FILE__, __LINE__, __VA_ARGS__);                             \
    } while (0)

/* Like GW_LOG with an explicit errno value. */
#define GW_LOG_ERRNO(level, err, ...)                                                              \
    do {                                                                                           \
        if ((int)(level) >= gw_log_threshold)                                                      \
            gw_log_write((level), (err), __FILE__, __LINE__, __VA_ARGS__);                         \
    } while (0)

#ifdef GW_DEBUG_BUILD
#define GW_DEBUG(...) GW_LOG(GW_LOG_DEBUG, __VA_ARGS__)
#else
/* Compiled out, but the arguments stay type-checked and "used". */
#define GW_DEBUG(...)                                                                              \
    do {                                                                                           \
        if (0)                                                                                     \
            GW_LOG(GW_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)
#endif

/* Invariant check kept in release builds: logs file and line, then aborts. */
#define GW_BUG_ON(cond)                                                                            \
    do {                                                                                           \
        if (__builtin_expect(!!(cond), 0))                                                         \
            gw_log_bug(#cond, __FILE__, __LINE__);                                                 \
    } while (0)

void gw_log_bug(const char *cond, const char *file, int line) __attribute__((noreturn));

#endif
