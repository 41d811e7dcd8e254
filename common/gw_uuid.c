/* common/gw_uuid.c: UUID v4/v5 and parsing.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_uuid.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool gw_uuid_parse(const char *s, unsigned char out[16])
{
    if (!s || strlen(s) != GW_UUID_STRLEN)
        return false;
    int j = 0;
    for (int i = 0; i < GW_UUID_STRLEN;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[j++] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    return true;
}

bool gw_uuid_valid(const char *s)
{
    unsigned char tmp[16];
    return gw_uuid_parse(s, tmp);
}

void gw_uuid_format(const unsigned char in[16], char out[GW_UUID_STRLEN + 1])
{
    snprintf(out, GW_UUID_STRLEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", in[0], in[1],
             in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9], in[10], in[11], in[12], in[13],
             in[14], in[15]);
}

enum gw_err gw_uuid_v4(char out[GW_UUID_STRLEN + 1])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return GW_ERR_INTERNAL;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    gw_uuid_format(b, out);
    return GW_OK;
}

enum gw_err gw_uuid_v5(const char *ns, const char *name, size_t name_len,
                       char out[GW_UUID_STRLEN + 1])
{
    unsigned char nsb[16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!gw_uuid_parse(ns, nsb))
        return GW_ERR_INVALID;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return GW_ERR_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, nsb, sizeof(nsb)) == 1 &&
             EVP_DigestUpdate(ctx, name, name_len) == 1 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen < 16)
        return GW_ERR_INTERNAL;
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    gw_uuid_format(md, out);
    return GW_OK;
}
