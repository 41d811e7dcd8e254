/* common/gw_buf.c: bounded growable buffer.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_buf_init(struct gw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX - 1;
}

void gw_buf_cleanup(struct gw_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

enum gw_err gw_buf_reserve(struct gw_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return GW_ERR_TOOBIG;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return GW_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return GW_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return GW_OK;
}

enum gw_err gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
    enum gw_err e = gw_buf_reserve(b, n);
    if (e != GW_OK)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return GW_OK;
}

enum gw_err gw_buf_append_str(struct gw_buf *b, const char *s)
{
    return gw_buf_append(b, s, strlen(s));
}

enum gw_err gw_buf_vappendf(struct gw_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return GW_ERR_INVALID;
    enum gw_err e = gw_buf_reserve(b, (size_t)n);
    if (e != GW_OK)
        return e;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return GW_OK;
}

enum gw_err gw_buf_appendf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum gw_err e = gw_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return e;
}

char *gw_buf_steal(struct gw_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
