/* dp/dp_wbuf.h: printf-free appenders used to build HTTP heads on the hot path (into a
 * struct gw_buf): literals, spans, decimal and hex numbers, whole header lines.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_WBUF_H
#define DP_WBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw_buf.h"

/* Fast path when the buffer has room; gw_buf_append (growth, limit) otherwise. */
static inline void dp_wb_mem(struct gw_buf *b, const void *p, size_t n)
{
    if (b->data && b->len + n < b->cap) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    gw_buf_append(b, p, n);
}

#define DP_WB_LIT(b, lit) dp_wb_mem((b), (lit), sizeof(lit) - 1)

static inline void dp_wb_str(struct gw_buf *b, const char *s)
{
    dp_wb_mem(b, s, strlen(s));
}

static inline void dp_wb_u64(struct gw_buf *b, uint64_t v)
{
    char t[24];
    char *e = t + sizeof(t), *p = e;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    dp_wb_mem(b, p, (size_t)(e - p));
}

/* Writes "<hex>\r\n" for a chunk of n bytes into out (at least 20 bytes); returns its length. */
static inline size_t dp_wb_chunk_head(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char t[20];
    size_t k = 0;
    do {
        t[k++] = hex[n & 0xf];
        n >>= 4;
    } while (n);
    for (size_t i = 0; i < k; i++)
        out[i] = t[k - 1 - i];
    out[k] = '\r';
    out[k + 1] = '\n';
    return k + 2;
}

/* Appends "name" (with its ": ") then the value and CRLF. */
static inline void dp_wb_hdr(struct gw_buf *b, const char *name_colon, size_t nlen, const char *v,
                             size_t vlen)
{
    dp_wb_mem(b, name_colon, nlen);
    dp_wb_mem(b, v, vlen);
    dp_wb_mem(b, "\r\n", 2);
}

#define DP_WB_HDR(b, lit, v, vlen) dp_wb_hdr((b), (lit), sizeof(lit) - 1, (v), (vlen))

#endif
