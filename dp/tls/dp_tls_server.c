/* dp/tls/dp_tls_server.c: the proxy's server-side TLS context, default certificate, session
 * tickets and SNI certificate selection.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_tls_server.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dp_config_internal.h"
#include "dp_tls_io.h"
#include "dp_tls_store.h"
#include "dp_worker.h"
#include "gw_x509.h"
#include "gw_log.h"

/* Kong's ssl_cipher_suite values (Mozilla's profiles). modern = TLS 1.3 only. */
#define CIPHERS_INTERMEDIATE                                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"       \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
#define CIPHERS_OLD                                                                                \
    CIPHERS_INTERMEDIATE ":DHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:"                   \
                         "ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"    \
                         "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-"   \
                         "SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:"   \
                         "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-" \
                         "SHA:AES256-SHA:DES-CBC3-SHA"

#define SESSION_TIMEOUT_S   86400 /* Kong's ssl_session_timeout 1d */
#define SESSION_CACHE_SIZE  20480
#define TICKET_KEY_ROTATE_S 43200 /* a key encrypts for 12 h, then decrypts (and renews) 12 h */

static const unsigned char sid_ctx[] = "portico-proxy";

static struct {
    int min_proto, max_proto;
    char ciphers[2048]; /* TLS 1.2 and older; "" = OpenSSL's default */
} opts = {TLS1_2_VERSION, TLS1_3_VERSION, CIPHERS_INTERMEDIATE};

static SSL_CTX *base_ctx;
static int worker_idx = -1;

struct ticket_key {
    unsigned char name[16], aes[32], hmac[32];
    time_t created;
    bool valid;
};
static pthread_mutex_t ticket_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key tkeys[2]; /* [0] current, [1] previous */

enum gw_err dp_tls_server_options(const struct gw_conf *conf, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        int v;
    } protos[] = {{"TLSv1", TLS1_VERSION},
                  {"TLSv1.1", TLS1_1_VERSION},
                  {"TLSv1.2", TLS1_2_VERSION},
                  {"TLSv1.3", TLS1_3_VERSION}};
    const char *p = gw_conf_str(conf, "ssl_protocols");
    int lo = 0, hi = 0;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ,");
        int v = 0;
        for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
            if (strlen(protos[i].name) == n && strncmp(protos[i].name, p, n) == 0)
                v = protos[i].v;
        if (!v) {
            snprintf(err, errlen, "ssl_protocols: unknown protocol '%.*s'", (int)n, p);
            return GW_ERR_INVALID;
        }
        if (!lo || v < lo)
            lo = v;
        if (v > hi)
            hi = v;
        p += n;
    }
    if (!lo) {
        snprintf(err, errlen, "ssl_protocols: at least one protocol is required");
        return GW_ERR_INVALID;
    }
    const char *suite = gw_conf_str(conf, "ssl_cipher_suite");
    const char *ciphers;
    if (strcmp(suite, "intermediate") == 0) {
        ciphers = CIPHERS_INTERMEDIATE;
    } else if (strcmp(suite, "old") == 0) {
        ciphers = CIPHERS_OLD;
    } else if (strcmp(suite, "modern") == 0) {
        ciphers = "";
        if (lo < TLS1_3_VERSION)
            lo = TLS1_3_VERSION;
        if (hi < TLS1_3_VERSION) {
            snprintf(err, errlen, "ssl_cipher_suite: modern needs TLSv1.3 in ssl_protocols");
            return GW_ERR_INVALID;
        }
    } else if (strcmp(suite, "custom") == 0) {
        ciphers = gw_conf_str(conf, "ssl_ciphers");
        if (!*ciphers) {
            snprintf(err, errlen, "ssl_ciphers: required when ssl_cipher_suite is custom");
            return GW_ERR_INVALID;
        }
    } else {
        snprintf(err, errlen,
                 "ssl_cipher_suite: expected one of: modern, intermediate, old, custom");
        return GW_ERR_INVALID;
    }
    if (strlen(ciphers) >= sizeof(opts.ciphers)) {
        snprintf(err, errlen, "ssl_ciphers: too long");
        return GW_ERR_INVALID;
    }
    opts.min_proto = lo;
    opts.max_proto = hi;
    snprintf(opts.ciphers, sizeof(opts.ciphers), "%s", ciphers);
    /* Check the cipher list once, here, so a typo stops the start with the key's name. */
    SSL_CTX *probe = dp_tls_server_ctx_new();
    if (!probe) {
        snprintf(err, errlen, "ssl_ciphers: no usable cipher in '%s'", ciphers);
        return GW_ERR_INVALID;
    }
    SSL_CTX_free(probe);
    return GW_OK;
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    /* Only what is served: HTTP/1.1. */
    for (unsigned int i = 0; i < inlen;) {
        unsigned int l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *dp_tls_server_ctx_new(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, opts.min_proto);
    SSL_CTX_set_max_proto_version(ctx, opts.max_proto);
    if (opts.ciphers[0] && SSL_CTX_set_cipher_list(ctx, opts.ciphers) != 1) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_dh_auto(ctx, 1);
    /* As nginx: OpenSSL reads what the socket has (up to a record buffer) instead of a record
     * header, then its body: a full handshake takes 3-4 reads instead of 9, a request 1
     * instead of 2. dp_io asks SSL_has_pending, which counts the buffered bytes. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    return ctx;
}

/* ---- session tickets ------------------------------------------------------------------------ */

static bool new_ticket_key(struct ticket_key *k, time_t now)
{
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
        return false;
    k->created = now;
    k->valid = true;
    return true;
}

/* Copies the key to use (enc) or the key named name (dec) into *out; rotates when due.
 * Returns 0 (none), 1 (current) or 2 (previous: the session gets a new ticket). */
static int ticket_key_get(const unsigned char *name, bool enc, struct ticket_key *out)
{
    int rc = 0;
    time_t now = time(NULL);
    pthread_mutex_lock(&ticket_lock);
    if (!tkeys[0].valid || now - tkeys[0].created >= TICKET_KEY_ROTATE_S) {
        struct ticket_key k;
        if (new_ticket_key(&k, now)) {
            tkeys[1] = tkeys[0];
            tkeys[0] = k;
        }
    }
    if (enc) {
        if (tkeys[0].valid) {
            *out = tkeys[0];
            rc = 1;
        }
    } else {
        for (int i = 0; i < 2; i++)
            if (tkeys[i].valid && memcmp(tkeys[i].name, name, 16) == 0 &&
                now - tkeys[i].created < 2 * TICKET_KEY_ROTATE_S) {
                *out = tkeys[i];
                rc = i == 0 ? 1 : 2;
            }
    }
    pthread_mutex_unlock(&ticket_lock);
    return rc;
}

static int ticket_cb(SSL *s, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *ctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    (void)s;
    struct ticket_key k;
    int rc = ticket_key_get(key_name, enc != 0, &k);
    if (!rc)
        return enc ? -1 : 0;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac));
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"sha256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (enc) {
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
            return -1;
        memcpy(key_name, k.name, 16);
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
            EVP_MAC_CTX_set_params(hctx, params) != 1)
            return -1;
        OPENSSL_cleanse(&k, sizeof(k));
        return 1;
    }
    if (EVP_MAC_CTX_set_params(hctx, params) != 1 ||
        EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
        rc = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/* ---- certificate choice ---------------------------------------------------------------------- */

static int servername_cb(SSL *ssl, int *al, void *arg)
{
    (void)al;
    (void)arg;
    struct dp_worker *w = SSL_get_ex_data(ssl, worker_idx);
    struct dp_config *cfg = w ? dp_worker_config(w) : NULL;
    if (!cfg || !cfg->tls)
        return SSL_TLSEXT_ERR_OK;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_CTX *ctx = dp_tls_store_find(cfg->tls, name);
    /* The SSL takes a reference: the context outlives a config swap during the handshake. */
    if (ctx && !SSL_set_SSL_CTX(ssl, ctx))
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- default certificate --------------------------------------------------------------------- */

static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = gw_x509_new_serial();
    if (!x)
        return NULL;
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 86400);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Portico", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    if (X509_set_pubkey(x, key) != 1 || X509_sign(x, key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Writes a new self-signed pair to crt/key (key mode 0600). */
static enum gw_err generate_pair(bool ecdsa, const char *crt, const char *key)
{
    enum gw_err rc = GW_ERR_TLS;
    EVP_PKEY *pk = ecdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    X509 *x = pk ? self_signed(pk) : NULL;
    FILE *fc = NULL, *fk = NULL;
    if (!x)
        goto out;
    fk = fopen(key, "wx");
    if (!fk)
        goto out;
    chmod(key, 0600);
    fc = fopen(crt, "w");
    if (!fc)
        goto out;
    if (PEM_write_PrivateKey(fk, pk, NULL, NULL, 0, NULL, NULL) != 1 || PEM_write_X509(fc, x) != 1)
        goto out;
    rc = GW_OK;
out:
    if (fc && fclose(fc) != 0)
        rc = GW_ERR_IO;
    if (fk && fclose(fk) != 0)
        rc = GW_ERR_IO;
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}

static enum gw_err use_pair(SSL_CTX *ctx, const char *crt, const char *key, char *err,
                            size_t errlen)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) {
        snprintf(err, errlen, "ssl_cert: cannot load certificate %s", crt);
        return GW_ERR_INVALID;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "ssl_cert_key: cannot load key %s (or it does not match %s)", key,
                 crt);
        return GW_ERR_INVALID;
    }
    return GW_OK;
}

/* Splits a comma-separated list into at most 2 trimmed items. Returns the count, -1 if more. */
static int split2(const char *s, char out[2][1024])
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        size_t l = strcspn(s, ",");
        size_t t = l;
        while (t && s[t - 1] == ' ')
            t--;
        if (n == 2 || t >= 1024)
            return -1;
        memcpy(out[n], s, t);
        out[n][t] = '\0';
        n++;
        s += l;
    }
    return n;
}

enum gw_err dp_tls_server_init(const struct gw_conf *conf, const char *prefix, char *err,
                               size_t errlen)
{
    enum gw_err rc = GW_ERR_TLS;
    SSL_CTX *ctx = dp_tls_server_ctx_new();
    if (!ctx) {
        snprintf(err, errlen, "cannot create the TLS context");
        return GW_ERR_TLS;
    }
    char crts[2][1024], keys[2][1024];
    int nc = split2(gw_conf_str(conf, "ssl_cert"), crts);
    int nk = split2(gw_conf_str(conf, "ssl_cert_key"), keys);
    if (nc < 0 || nk < 0 || nc != nk) {
        snprintf(err, errlen,
                 "ssl_cert: ssl_cert and ssl_cert_key must list as many files (at most 2)");
        rc = GW_ERR_INVALID;
        goto fail;
    }
    if (nc == 0) {
        char dir[960];
        if ((size_t)snprintf(dir, sizeof(dir), "%s/ssl", prefix) >= sizeof(dir)) {
            snprintf(err, errlen, "prefix: path too long");
            goto fail;
        }
        if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            goto fail;
        }
        static const char *const names[2] = {"portico-default", "portico-default-ecdsa"};
        for (int i = 0; i < 2; i++) {
            snprintf(crts[i], sizeof(crts[i]), "%s/%s.crt", dir, names[i]);
            snprintf(keys[i], sizeof(keys[i]), "%s/%s.key", dir, names[i]);
            if (!exists(crts[i]) || !exists(keys[i])) {
                GW_LOG(GW_LOG_NOTICE, "generating the default TLS certificate path=%s", crts[i]);
                remove(keys[i]);
                if (generate_pair(i == 1, crts[i], keys[i]) != GW_OK) {
                    snprintf(err, errlen, "cannot generate the default certificate %s", crts[i]);
                    goto fail;
                }
            }
        }
        nc = 2;
    }
    for (int i = 0; i < nc; i++) {
        rc = use_pair(ctx, crts[i], keys[i], err, errlen);
        if (rc != GW_OK)
            goto fail;
    }
    if (worker_idx < 0)
        worker_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE_SIZE);
    SSL_CTX_set_timeout(ctx, SESSION_TIMEOUT_S);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    base_ctx = ctx;
    return GW_OK;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}

bool dp_tls_server_ready(void)
{
    return base_ctx != NULL;
}

void dp_tls_server_shutdown(void)
{
    SSL_CTX_free(base_ctx);
    base_ctx = NULL;
    OPENSSL_cleanse(tkeys, sizeof(tkeys));
}

struct dp_tls_io *dp_tls_server_accept(struct dp_worker *w, evutil_socket_t fd)
{
    if (!base_ctx)
        return NULL;
    SSL *ssl = SSL_new(base_ctx);
    if (!ssl)
        return NULL;
    SSL_set_ex_data(ssl, worker_idx, w);
    return dp_tls_io_server(ssl, fd);
}

const char *dp_tls_server_sni(struct dp_tls_io *t)
{
    return t ? SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}
