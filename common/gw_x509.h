/* common/gw_x509.h: small X.509 helpers shared by the cluster server and client: SHA-256
 * digests for certificate pinning, common names, expiry.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_X509_H
#define GW_X509_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"

#define GW_X509_DIGEST_LEN 32

/* SHA-256 of the DER encoding of cert (borrowed) into out. Returns GW_OK or GW_ERR_TLS (cert
 * NULL or not encodable). Any thread. */
enum gw_err gw_x509_digest(X509 *cert, unsigned char out[GW_X509_DIGEST_LEN]);

/* Loads the first PEM certificate of path. Returns it (owned; X509_free) or NULL with a reason
 * in err. Any thread. */
X509 *gw_x509_load(const char *path, char *err, size_t errlen);

/* Writes the subject common name of cert (borrowed, may be NULL) into out ("" when none),
 * truncated to outlen. Any thread. */
void gw_x509_common_name(X509 *cert, char *out, size_t outlen);

/* notAfter of cert (borrowed, may be NULL) as unix seconds, 0 if it cannot be read. Any
 * thread. */
int64_t gw_x509_not_after(X509 *cert);

#endif
