/* tests/unit/common/test_gw_schema_certs.c: gw_schema for certificates, snis and
 * ca_certificates, with keys and certificates generated at run time by OpenSSL.
 * SPDX-License-Identifier: Apache-2.0 */
#include "common/schema_test_util.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct pem_pair {
    char *cert;
    char *key;
    char *digest; /* hex SHA-256 of the DER certificate */
};

static char *bio_string(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

/* Makes a self-signed certificate. ec: P-256 instead of RSA; ca: CA:TRUE basic constraint;
 * expired: notAfter in the past. */
static struct pem_pair make_cert(bool ec, bool ca, bool expired)
{
    struct pem_pair p = {0};
    EVP_PKEY *key = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    assert_non_null(key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    if (expired) {
        X509_gmtime_adj(X509_getm_notBefore(x), -7200);
        X509_gmtime_adj(X509_getm_notAfter(x), -3600);
    } else {
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    }
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"portico.test", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                              ca ? "critical,CA:TRUE" : "CA:FALSE");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);

    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    p.cert = bio_string(b);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    p.key = bio_string(b);
    BIO_free(b);

    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    assert_true(len > 0);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_true(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1);
    OPENSSL_free(der);
    p.digest = malloc(65);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(p.digest + 2 * i, 3, "%02x", md[i]);
    X509_free(x);
    EVP_PKEY_free(key);
    return p;
}

static void free_pair(struct pem_pair *p)
{
    free(p->cert);
    free(p->key);
    free(p->digest);
}

static json_t *cert_input(const struct pem_pair *c, const struct pem_pair *k)
{
    json_t *in = json_object();
    json_object_set_new(in, "cert", json_string(c->cert));
    json_object_set_new(in, "key", json_string(k->key));
    return in;
}

static enum gw_err run(const char *entity, enum gw_schema_op op, json_t *in, json_t **out,
                       json_t **err)
{
    enum gw_err r = gw_schema_process(gw_schema_get(entity), op, in, NULL, out, err);
    json_decref(in);
    return r;
}

static void certificates(void **state)
{
    (void)state;
    struct pem_pair rsa = make_cert(false, false, false);
    struct pem_pair rsa2 = make_cert(false, false, false);
    struct pem_pair ec = make_cert(true, false, false);
    json_t *out = NULL, *err = NULL;

    json_t *in = cert_input(&rsa, &rsa);
    json_object_set_new(in, "snis", tj("[\"a.test\",\"*.b.test\"]"));
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_OK);
    assert_null(json_object_get(out, "snis"));
    assert_string_equal(json_string_value(json_object_get(out, "cert")), rsa.cert);
    assert_true(json_is_null(json_object_get(out, "cert_alt")));
    assert_true(json_is_null(json_object_get(out, "key_alt")));
    assert_true(json_is_null(json_object_get(out, "tags")));
    json_decref(out);

    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, cert_input(&rsa, &rsa2), &out, &err),
                     GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"certificate does not match key\"]}");
    assert_message(err, "schema violation (certificate does not match key)");
    json_decref(err);

    in = cert_input(&rsa, &rsa);
    json_object_set_new(in, "cert_alt", json_string(ec.cert));
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"all or none of these fields must be set: 'cert_alt', "
                     "'key_alt'\"]}");
    json_decref(err);

    in = cert_input(&rsa, &rsa);
    json_object_set_new(in, "cert_alt", json_string(ec.cert));
    json_object_set_new(in, "key_alt", json_string(ec.key));
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_OK);
    assert_string_equal(json_string_value(json_object_get(out, "key_alt")), ec.key);
    json_decref(out);

    in = cert_input(&rsa, &rsa);
    json_object_set_new(in, "cert_alt", json_string(rsa2.cert));
    json_object_set_new(in, "key_alt", json_string(rsa2.key));
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"certificate and alternative certificate need to have "
                     "different type (e.g. RSA and ECDSA), the provided certificates were both "
                     "of the same type\"]}");
    json_decref(err);

    in = cert_input(&rsa, &rsa);
    json_object_set_new(in, "cert_alt", json_string(ec.cert));
    json_object_set_new(in, "key_alt", json_string(rsa2.key));
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"alternative certificate does not match key\"]}");
    json_decref(err);

    in = tj("{\"cert\":\"garbage\",\"key\":\"garbage\"}");
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    const char *m = json_string_value(json_object_get(err, "cert"));
    assert_non_null(m);
    assert_memory_equal(m, "invalid certificate: ", 21);
    m = json_string_value(json_object_get(err, "key"));
    assert_non_null(m);
    assert_memory_equal(m, "invalid key: ", 13);
    assert_null(json_object_get(err, "@entity"));
    json_decref(err);

    in = cert_input(&rsa, &rsa);
    json_object_set_new(in, "snis", tj("[\"1.2.3.4\"]"));
    assert_int_equal(run("certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"snis\":[\"must not be an IP\"]}");
    json_decref(err);

    expect_error("certificates", "{}",
                 "{\"cert\":\"required field missing\",\"key\":\"required field missing\"}",
                 "2 schema violations (cert: required field missing; key: required field "
                 "missing)");
    free_pair(&rsa);
    free_pair(&rsa2);
    free_pair(&ec);
}

static void snis(void **state)
{
    (void)state;
    json_t *s = sch_ok("snis", GW_SCHEMA_INSERT,
                       "{\"name\":\"*.example.test\",\"certificate\":{\"id\":"
                       "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}}",
                       NULL);
    strip_auto(s);
    assert_json(s, "{\"name\":\"*.example.test\",\"tags\":null,\"certificate\":{\"id\":"
                   "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}}");
    json_decref(s);
    expect_error("snis", "{\"name\":\"a.test\"}", "{\"certificate\":\"required field missing\"}",
                 NULL);
    expect_error("snis",
                 "{\"name\":\"10.0.0.1\",\"certificate\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}",
                 "{\"name\":\"must not be an IP\"}", NULL);
    expect_error("snis",
                 "{\"name\":\"a.test:443\",\"certificate\":\"6ba7b810-9dad-11d1-80b4-"
                 "00c04fd430c8\"}",
                 "{\"name\":\"must not have a port\"}", NULL);
    expect_error("snis",
                 "{\"name\":\"a.*.test\",\"certificate\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}",
                 "{\"name\":\"wildcard must be leftmost or rightmost character\"}", NULL);
    expect_error("snis",
                 "{\"name\":\"*.a.*\",\"certificate\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"}",
                 "{\"name\":\"only one wildcard must be specified\"}", NULL);
}

static void ca_certificates(void **state)
{
    (void)state;
    struct pem_pair ca = make_cert(false, true, false);
    struct pem_pair leaf = make_cert(true, false, false);
    struct pem_pair old = make_cert(true, true, true);
    json_t *out = NULL, *err = NULL;

    json_t *in = json_object();
    json_object_set_new(in, "cert", json_string(ca.cert));
    assert_int_equal(run("ca_certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_OK);
    assert_string_equal(json_string_value(json_object_get(out, "cert_digest")), ca.digest);
    assert_true(json_is_integer(json_object_get(out, "created_at")));
    /* a client-supplied digest is replaced by the computed one */
    in = json_object();
    json_object_set_new(in, "cert_digest", json_string("bogus"));
    json_t *p = NULL;
    assert_int_equal(
        gw_schema_process(gw_schema_get("ca_certificates"), GW_SCHEMA_UPDATE, in, out, &p, &err),
        GW_OK);
    json_decref(in);
    assert_string_equal(json_string_value(json_object_get(p, "cert_digest")), ca.digest);
    json_decref(p);
    json_decref(out);

    in = json_object();
    json_object_set_new(in, "cert", json_string(leaf.cert));
    assert_int_equal(run("ca_certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"certificate does not appear to be a CA because it is "
                     "missing the \\\"CA\\\" basic constraint\"]}");
    json_decref(err);

    in = json_object();
    json_object_set_new(in, "cert", json_string(old.cert));
    assert_int_equal(run("ca_certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"certificate expired, \\\"Not After\\\" time is in the "
                     "past\"]}");
    json_decref(err);

    size_t n = strlen(ca.cert) + strlen(leaf.cert) + 1;
    char *two = malloc(n);
    snprintf(two, n, "%s%s", ca.cert, leaf.cert);
    in = json_object();
    json_object_set_new(in, "cert", json_string(two));
    free(two);
    assert_int_equal(run("ca_certificates", GW_SCHEMA_INSERT, in, &out, &err), GW_ERR_INVALID);
    assert_json(err, "{\"@entity\":[\"please submit only one certificate at a time\"]}");
    json_decref(err);

    expect_error("ca_certificates", "{}", "{\"cert\":\"required field missing\"}", NULL);
    free_pair(&ca);
    free_pair(&leaf);
    free_pair(&old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(certificates),
        cmocka_unit_test(snis),
        cmocka_unit_test(ca_certificates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
