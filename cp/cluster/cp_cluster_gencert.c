/* cp/cluster/cp_cluster_gencert.c: EC P-384 certificates for hybrid mode (shared and pki).
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_gencert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_x509.h"

#define DEFAULT_DAYS 1095 /* three years, like kong hybrid gen_cert */
#define SHARED_CN    "portico_clustering"

enum kind {
    KIND_SHARED = 0,
    KIND_CA,
    KIND_ISSUE,
    KIND_COUNT_ /* keep last */
};

static void ssl_err(const char *what)
{
    char e[256];
    ERR_error_string_n(ERR_get_error(), e, sizeof(e));
    fprintf(stderr, "portico-cp gen-cert: %s: %s\n", what, e);
    ERR_clear_error();
}

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-384");
    if (!k)
        ssl_err("cannot generate an EC P-384 key");
    return k;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex) {
        ssl_err("cannot build a certificate extension");
        return false;
    }
    int ok = X509_add_ext(cert, ex, -1);
    X509_EXTENSION_free(ex);
    return ok == 1;
}

/* "DNS:a,IP:1.2.3.4" from a comma-separated list of names. */
static void san_list(const char *cn, const char *extra, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    char list[1024];
    snprintf(list, sizeof(list), "%s%s%s", cn, extra && extra[0] ? "," : "", extra ? extra : "");
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        unsigned char buf[16];
        bool ip = inet_pton(AF_INET, t, buf) == 1 || inet_pton(AF_INET6, t, buf) == 1;
        int n =
            snprintf(out + used, outlen - used, "%s%s:%s", used ? "," : "", ip ? "IP" : "DNS", t);
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
}

static X509 *make_cert(enum kind kind, EVP_PKEY *key, const char *cn, const char *sans, int days,
                       bool expired, X509 *ca_cert, EVP_PKEY *ca_key)
{
    X509 *c = X509_new();
    if (!c)
        return NULL;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)))
        goto fail;
    X509_set_version(c, 2);
    if (expired) {
        X509_gmtime_adj(X509_getm_notBefore(c), -2L * 86400L);
        X509_gmtime_adj(X509_getm_notAfter(c), -86400L);
    } else {
        X509_gmtime_adj(X509_getm_notBefore(c), -60);
        X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400L);
    }
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509 *issuer = kind == KIND_ISSUE ? ca_cert : c;
    X509_set_issuer_name(c, X509_get_subject_name(issuer));
    char san[1200];
    bool ok = add_ext(c, issuer, NID_subject_key_identifier, "hash");
    if (kind == KIND_CA) {
        ok = ok && add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        san_list(cn, sans, san, sizeof(san));
        ok = ok && add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(c, issuer, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
             add_ext(c, issuer, NID_ext_key_usage, "serverAuth,clientAuth") &&
             add_ext(c, issuer, NID_subject_alt_name, san);
    }
    if (kind == KIND_ISSUE)
        ok = ok && add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
    if (!ok)
        goto fail;
    if (!X509_sign(c, kind == KIND_ISSUE ? ca_key : key, EVP_sha384())) {
        ssl_err("cannot sign the certificate");
        goto fail;
    }
    BN_free(bn);
    return c;
fail:
    BN_free(bn);
    X509_free(c);
    return NULL;
}

/* Creates path exclusively with mode and writes PEM through fn. */
static bool write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd == -1) {
        fprintf(stderr, "portico-cp gen-cert: cannot create %s: %s\n", path, strerror(errno));
        return false;
    }
    if (fchmod(fd, mode) == -1) {
        fprintf(stderr, "portico-cp gen-cert: cannot chmod %s: %s\n", path, strerror(errno));
        close(fd);
        return false;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return false;
    }
    int ok =
        key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "portico-cp gen-cert: cannot write %s\n", path);
        return false;
    }
    return true;
}

static EVP_PKEY *load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "portico-cp gen-cert: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        ssl_err("cannot read the CA key");
    return k;
}

static int usage(void)
{
    fprintf(stderr, "usage: portico-cp gen-cert [CERT KEY] [--days N]\n"
                    "       portico-cp gen-cert --ca [CERT KEY] [--days N]\n"
                    "       portico-cp gen-cert issue --ca-cert FILE --ca-key FILE --cn NAME "
                    "[--san NAME,...] [CERT KEY] [--days N]\n");
    return 2;
}

int cp_cluster_gencert_main(int argc, char **argv)
{
    enum kind kind = KIND_SHARED;
    long days = DEFAULT_DAYS;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    bool expired = false;
    const char *ca_cert_path = NULL, *ca_key_path = NULL, *cn = NULL, *sans = NULL;
    int i = 1;
    if (i < argc && strcmp(argv[i], "issue") == 0) {
        kind = KIND_ISSUE;
        i++;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--days") == 0 || strcmp(a, "-d") == 0) {
            char *end;
            if (!val)
                return usage();
            errno = 0;
            days = strtol(val, &end, 10);
            if (errno || *end || days < 1 || days > 36500) {
                fprintf(stderr, "portico-cp gen-cert: --days must be 1..36500\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--expired") == 0) {
            expired = true; /* for testing refusals: valid from two days ago until yesterday */
        } else if (strcmp(a, "--ca") == 0 && kind == KIND_SHARED) {
            kind = KIND_CA;
        } else if (strcmp(a, "--ca-cert") == 0 && val) {
            ca_cert_path = val;
            i++;
        } else if (strcmp(a, "--ca-key") == 0 && val) {
            ca_key_path = val;
            i++;
        } else if (strcmp(a, "--cn") == 0 && val) {
            cn = val;
            i++;
        } else if (strcmp(a, "--san") == 0 && val) {
            sans = val;
            i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "portico-cp gen-cert: unknown option '%s'\n", a);
            return usage();
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return usage();
        }
    }
    if (npos == 1)
        return usage();
    if (kind == KIND_ISSUE && (!ca_cert_path || !ca_key_path || !cn))
        return usage();
    char defcert[300], defkey[300];
    if (kind == KIND_SHARED) {
        snprintf(defcert, sizeof(defcert), "cluster.crt");
        snprintf(defkey, sizeof(defkey), "cluster.key");
        cn = SHARED_CN;
    } else if (kind == KIND_CA) {
        snprintf(defcert, sizeof(defcert), "cluster-ca.crt");
        snprintf(defkey, sizeof(defkey), "cluster-ca.key");
        cn = "Portico cluster CA";
    } else {
        snprintf(defcert, sizeof(defcert), "%s.crt", cn);
        snprintf(defkey, sizeof(defkey), "%s.key", cn);
    }
    const char *cert_path = npos ? pos[0] : defcert, *key_path = npos ? pos[1] : defkey;
    if (access(cert_path, F_OK) == 0 || access(key_path, F_OK) == 0) {
        fprintf(stderr, "portico-cp gen-cert: %s or %s already exists; not overwriting\n",
                cert_path, key_path);
        return 1;
    }

    int rc = 1;
    EVP_PKEY *key = NULL, *ca_key = NULL;
    X509 *cert = NULL, *ca_cert = NULL;
    if (kind == KIND_ISSUE) {
        char err[512];
        ca_cert = gw_x509_load(ca_cert_path, err, sizeof(err));
        if (!ca_cert) {
            fprintf(stderr, "portico-cp gen-cert: %s\n", err);
            goto out;
        }
        ca_key = load_key(ca_key_path);
        if (!ca_key)
            goto out;
        if (X509_check_private_key(ca_cert, ca_key) != 1) {
            fprintf(stderr, "portico-cp gen-cert: %s does not match %s\n", ca_key_path,
                    ca_cert_path);
            goto out;
        }
    }
    key = new_key();
    if (!key)
        goto out;
    cert = make_cert(kind, key, cn, sans, (int)days, expired, ca_cert, ca_key);
    if (!cert)
        goto out;
    if (!write_pem(key_path, 0600, key, NULL))
        goto out;
    if (!write_pem(cert_path, 0644, NULL, cert)) {
        unlink(key_path);
        goto out;
    }
    printf("wrote %s certificate %s and key %s (EC P-384, CN=%s, valid %ld days)\n",
           kind == KIND_CA      ? "CA"
           : kind == KIND_ISSUE ? "node"
                                : "shared cluster",
           cert_path, key_path, cn, days);
    rc = 0;
out:
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    X509_free(cert);
    X509_free(ca_cert);
    return rc;
}
