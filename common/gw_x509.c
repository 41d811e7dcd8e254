/* common/gw_x509.c: X.509 digests, names and expiry with OpenSSL.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_x509.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum gw_err gw_x509_digest(X509 *cert, unsigned char out[GW_X509_DIGEST_LEN])
{
    unsigned int len = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), out, &len) != 1 || len != GW_X509_DIGEST_LEN)
        return GW_ERR_TLS;
    return GW_OK;
}

X509 *gw_x509_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!c) {
        char e[160];
        ERR_error_string_n(ERR_get_error(), e, sizeof(e));
        snprintf(err, errlen, "%s holds no PEM certificate (%s)", path, e);
        ERR_clear_error();
    }
    return c;
}

void gw_x509_common_name(X509 *cert, char *out, size_t outlen)
{
    if (outlen)
        out[0] = '\0';
    X509_NAME *n = cert ? X509_get_subject_name(cert) : NULL;
    if (!n || outlen == 0)
        return;
    if (X509_NAME_get_text_by_NID(n, NID_commonName, out, (int)outlen) < 0)
        out[0] = '\0';
}

int64_t gw_x509_not_after(X509 *cert)
{
    const ASN1_TIME *t = cert ? X509_get0_notAfter(cert) : NULL;
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}
