/* common/gw_buf.h: a growable byte buffer with a hard maximum size. Every buffer in Portico
 * that grows with input has a limit; reaching it is a normal error (GW_ERR_TOOBIG), not a crash.
 * The data is always NUL-terminated (the NUL is not counted in len).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "gw_err.h"

struct gw_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len; 0 = SIZE_MAX */
};

/* Initialises caller-provided storage; no allocation. Pair with gw_buf_cleanup. */
void gw_buf_init(struct gw_buf *b, size_t max);

/* Frees the data; b may be reused after gw_buf_init. Accepts a zeroed or NULL buffer. */
void gw_buf_cleanup(struct gw_buf *b);

/* Forgets the contents, keeps the allocation. */
void gw_buf_reset(struct gw_buf *b);

/* Makes room for extra more bytes. GW_ERR_TOOBIG past max, GW_ERR_NOMEM; b unchanged on error. */
enum gw_err gw_buf_reserve(struct gw_buf *b, size_t extra);

/* Appends n bytes. On error b is unchanged. */
enum gw_err gw_buf_append(struct gw_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
enum gw_err gw_buf_append_str(struct gw_buf *b, const char *s);

/* Appends formatted text. On error b is unchanged. */
enum gw_err gw_buf_appendf(struct gw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum gw_err gw_buf_vappendf(struct gw_buf *b, const char *fmt, va_list ap);

/* Hands the data to the caller (owned; free with free()), leaving b empty. Returns "" (owned)
 * for an empty buffer, NULL only when out of memory. */
char *gw_buf_steal(struct gw_buf *b);

#endif
