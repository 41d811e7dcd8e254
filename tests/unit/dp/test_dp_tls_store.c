/* tests/unit/dp/test_dp_tls_store.c: the TLS part of a config: Kong's certificate choice by SNI
 * (exact, "*.x", "x.*", "*", default), validation of certificates and SNIs, upstream TLS
 * parameters and their pool identity, the contexts of active https health checks.
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/dp_tls_io.h"
#include "tls/dp_tls_store.h"

#define MAXE 16

/* A hand-built config with certificates, SNIs, CA certificates and services. */
struct tcfg {
    Portico__V1__Config cfg;
    Portico__V1__Certificate certs[MAXE], *certp[MAXE];
    Portico__V1__Sni snis[MAXE], *snip[MAXE];
    Portico__V1__Ref refs[MAXE * 2];
    size_t nrefs;
    Portico__V1__Service svcs[MAXE], *svcp[MAXE];
    Portico__V1__CaCertificate cas[MAXE], *cap[MAXE];
    Portico__V1__Upstream ups[MAXE], *upp[MAXE];
    Portico__V1__Healthchecks hcs[MAXE];
    Portico__V1__ActiveHealthcheck acts[MAXE];
    char *pem[MAXE * 2];
    size_t npem;
    int nerrors;
    char last_field[64];
};

static void tcfg_init(struct tcfg *t)
{
    memset(t, 0, sizeof(*t));
    portico__v1__config__init(&t->cfg);
    t->cfg.certificates = t->certp;
    t->cfg.snis = t->snip;
    t->cfg.services = t->svcp;
    t->cfg.ca_certificates = t->cap;
    t->cfg.upstreams = t->upp;
}

static void tcfg_free(struct tcfg *t)
{
    for (size_t i = 0; i < t->npem; i++)
        free(t->pem[i]);
}

/* A self-signed P-256 certificate for cn; *cert and *key are PEM kept by t. */
static void make_pair(struct tcfg *t, const char *cn, char **cert, char **key)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    assert_non_null(pk);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, pk);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    PEM_write_bio_X509(b, x);
    long n = BIO_get_mem_data(b, &p);
    *cert = strndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    *key = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
    t->pem[t->npem++] = *cert;
    t->pem[t->npem++] = *key;
}

static Portico__V1__Certificate *add_cert(struct tcfg *t, const char *id)
{
    Portico__V1__Certificate *c = &t->certs[t->cfg.n_certificates];
    portico__v1__certificate__init(c);
    c->id = (char *)id;
    make_pair(t, id, &c->cert, &c->key);
    t->certp[t->cfg.n_certificates++] = c;
    return c;
}

static Portico__V1__Ref *ref(struct tcfg *t, const char *id)
{
    Portico__V1__Ref *r = &t->refs[t->nrefs++];
    portico__v1__ref__init(r);
    r->id = (char *)id;
    return r;
}

static void add_sni(struct tcfg *t, const char *name, const char *cert_id)
{
    Portico__V1__Sni *s = &t->snis[t->cfg.n_snis];
    portico__v1__sni__init(s);
    s->id = (char *)name;
    s->name = (char *)name;
    s->certificate = ref(t, cert_id);
    t->snip[t->cfg.n_snis++] = s;
}

static Portico__V1__Service *add_service(struct tcfg *t, const char *id, const char *proto)
{
    Portico__V1__Service *s = &t->svcs[t->cfg.n_services];
    portico__v1__service__init(s);
    s->id = (char *)id;
    s->protocol = (char *)proto;
    s->host = (char *)"127.0.0.1";
    t->svcp[t->cfg.n_services++] = s;
    return s;
}

/* An upstream named name whose active checks have type type (NULL = no healthchecks). */
static Portico__V1__Upstream *add_upstream(struct tcfg *t, const char *name, const char *type)
{
    size_t i = t->cfg.n_upstreams;
    Portico__V1__Upstream *u = &t->ups[i];
    portico__v1__upstream__init(u);
    u->id = (char *)name;
    u->name = (char *)name;
    if (type) {
        portico__v1__healthchecks__init(&t->hcs[i]);
        portico__v1__active_healthcheck__init(&t->acts[i]);
        t->acts[i].type = (char *)type;
        t->hcs[i].active = &t->acts[i];
        u->healthchecks = &t->hcs[i];
    }
    t->upp[t->cfg.n_upstreams++] = u;
    return u;
}

static void on_error(void *arg, const char *entity, const char *id, const char *field,
                     const char *message)
{
    struct tcfg *t = arg;
    (void)entity;
    (void)id;
    (void)message;
    t->nerrors++;
    snprintf(t->last_field, sizeof(t->last_field), "%s", field);
}

static const char *pick(const struct dp_tls_store *s, const char *name)
{
    const char *id = dp_tls_store_find_id(s, name);
    return id ? id : "default";
}

static void sni_exact_wildcards_default(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    add_cert(&t, "exact");
    add_cert(&t, "suffix");
    add_cert(&t, "prefix");
    add_sni(&t, "api.example.com", "exact");
    add_sni(&t, "*.example.com", "suffix");
    add_sni(&t, "www.example.*", "prefix");
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_OK);
    assert_string_equal(pick(s, "api.example.com"), "exact");
    assert_string_equal(pick(s, "API.Example.COM"), "exact");
    assert_string_equal(pick(s, "web.example.com"), "suffix");
    /* exact beats the wildcard that also covers it; "*.x" beats "x.*" */
    assert_string_equal(pick(s, "www.example.com"), "suffix");
    assert_string_equal(pick(s, "www.example.org"), "prefix");
    /* one label only */
    assert_string_equal(pick(s, "a.b.example.com"), "default");
    assert_string_equal(pick(s, "example.com"), "default");
    assert_string_equal(pick(s, "other.test"), "default");
    assert_string_equal(pick(s, ""), "default");
    assert_string_equal(pick(s, NULL), "default");
    assert_null(dp_tls_store_find(s, "other.test"));
    assert_non_null(dp_tls_store_find(s, "api.example.com"));
    dp_tls_store_destroy(s);
    tcfg_free(&t);
}

static void sni_star_is_the_config_default(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    add_cert(&t, "named");
    add_cert(&t, "star");
    add_sni(&t, "named.test", "named");
    add_sni(&t, "*", "star");
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_OK);
    assert_string_equal(pick(s, "named.test"), "named");
    assert_string_equal(pick(s, "other.test"), "star");
    assert_string_equal(pick(s, NULL), "star");
    dp_tls_store_destroy(s);
    tcfg_free(&t);
}

static void no_wildcard_on_the_top_level(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    add_cert(&t, "tld");
    add_sni(&t, "*.com", "tld");
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_OK);
    /* Kong builds "*.rest" only when rest still has a dot */
    assert_string_equal(pick(s, "example.com"), "default");
    assert_string_equal(pick(s, "*.com"), "tld");
    dp_tls_store_destroy(s);
    tcfg_free(&t);
}

static void empty_config_has_no_certificates(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_OK);
    assert_null(dp_tls_store_find(s, "a.test"));
    assert_null(dp_tls_store_find(NULL, "a.test"));
    assert_null(dp_tls_store_upstream(s, 0));
    dp_tls_store_destroy(s);
    dp_tls_store_destroy(NULL);
    tcfg_free(&t);
}

static void bad_certificates_are_rejected(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    Portico__V1__Certificate *c = add_cert(&t, "broken");
    c->cert = (char *)"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_ERR_INVALID);
    assert_null(s);
    assert_string_equal(t.last_field, "cert");
    tcfg_free(&t);

    /* a key of another certificate */
    tcfg_init(&t);
    Portico__V1__Certificate *a = add_cert(&t, "a");
    Portico__V1__Certificate *b = add_cert(&t, "b");
    a->key = b->key;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_ERR_INVALID);
    assert_string_equal(t.last_field, "key");
    tcfg_free(&t);

    /* an SNI pointing nowhere, and a duplicate name */
    tcfg_init(&t);
    add_cert(&t, "a");
    add_sni(&t, "x.test", "missing");
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_ERR_INVALID);
    assert_string_equal(t.last_field, "certificate");
    tcfg_free(&t);
    tcfg_init(&t);
    add_cert(&t, "a");
    add_sni(&t, "x.test", "a");
    add_sni(&t, "X.TEST", "a");
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_ERR_INVALID);
    assert_string_equal(t.last_field, "name");
    tcfg_free(&t);
}

static void upstream_parameters(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    add_cert(&t, "client");
    Portico__V1__CaCertificate *ca = &t.cas[0];
    portico__v1__ca_certificate__init(ca);
    ca->id = (char *)"ca1";
    char *cakey;
    make_pair(&t, "ca", &ca->cert, &cakey);
    t.cap[t.cfg.n_ca_certificates++] = ca;
    add_service(&t, "plain", "http");
    Portico__V1__Service *v = add_service(&t, "verify", "https");
    v->has_tls_verify = true;
    v->tls_verify = true;
    char *cas[] = {(char *)"ca1"};
    v->ca_certificates = cas;
    v->n_ca_certificates = 1;
    add_service(&t, "noverify", "https");
    Portico__V1__Service *m = add_service(&t, "mtls", "https");
    m->client_certificate = ref(&t, "client");
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_OK);
    assert_null(dp_tls_store_upstream(s, 0));
    const struct dp_tls_upstream *uv = dp_tls_store_upstream(s, 1);
    const struct dp_tls_upstream *un = dp_tls_store_upstream(s, 2);
    const struct dp_tls_upstream *um = dp_tls_store_upstream(s, 3);
    assert_non_null(uv);
    assert_non_null(un);
    assert_non_null(um);
    assert_null(dp_tls_store_upstream(s, 4));
    assert_true(uv->verify);
    assert_false(un->verify);
    assert_false(um->verify);
    /* different parameters never share pooled connections */
    assert_true(uv->hash != un->hash);
    assert_true(um->hash != un->hash);
    assert_non_null(SSL_CTX_get0_certificate(um->ctx));
    assert_null(SSL_CTX_get0_certificate(un->ctx));
    struct dp_tls_io *io = dp_tls_upstream_new(uv, "up.test", "127.0.0.1:443");
    assert_non_null(io);
    dp_tls_store_destroy(s); /* the connection keeps its own reference */
    dp_tls_io_free(io);
    tcfg_free(&t);

    /* a CA certificate that does not exist */
    tcfg_init(&t);
    v = add_service(&t, "verify", "https");
    v->has_tls_verify = true;
    v->tls_verify = true;
    v->ca_certificates = cas;
    v->n_ca_certificates = 1;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_ERR_INVALID);
    assert_string_equal(t.last_field, "ca_certificates");
    tcfg_free(&t);
}

static void health_check_contexts(void **state)
{
    (void)state;
    struct tcfg t;
    tcfg_init(&t);
    add_cert(&t, "client");
    Portico__V1__CaCertificate *ca = &t.cas[0];
    portico__v1__ca_certificate__init(ca);
    ca->id = (char *)"ca1";
    char *cakey;
    make_pair(&t, "ca", &ca->cert, &cakey);
    t.cap[t.cfg.n_ca_certificates++] = ca;
    add_upstream(&t, "plain", NULL);
    add_upstream(&t, "http", "http");
    Portico__V1__Upstream *m = add_upstream(&t, "mtls", "https");
    m->client_certificate = ref(&t, "client");
    Portico__V1__Upstream *nv = add_upstream(&t, "noverify", "https");
    nv->healthchecks->active->has_https_verify_certificate = true;
    nv->healthchecks->active->https_verify_certificate = false;
    add_upstream(&t, "trusted", "https");
    add_upstream(&t, "system", "https");
    /* a service reaching "trusted" with a CA: the probes trust it too */
    Portico__V1__Service *v = add_service(&t, "verify", "https");
    v->host = (char *)"TRUSTED";
    v->has_tls_verify = true;
    v->tls_verify = true;
    v->has_tls_verify_depth = true;
    v->tls_verify_depth = 3;
    char *cas[] = {(char *)"ca1"};
    v->ca_certificates = cas;
    v->n_ca_certificates = 1;
    struct dp_tls_store *s = NULL;
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_OK);
    assert_null(dp_tls_store_health(s, 0));
    assert_null(dp_tls_store_health(s, 1));
    const struct dp_tls_upstream *hm = dp_tls_store_health(s, 2);
    const struct dp_tls_upstream *hn = dp_tls_store_health(s, 3);
    const struct dp_tls_upstream *ht = dp_tls_store_health(s, 4);
    const struct dp_tls_upstream *hs = dp_tls_store_health(s, 5);
    assert_non_null(hs);
    assert_null(dp_tls_store_health(s, 6));
    /* the system store is loaded once and shared */
    assert_ptr_equal(SSL_CTX_get_cert_store(hm->ctx), SSL_CTX_get_cert_store(hs->ctx));
    assert_ptr_not_equal(SSL_CTX_get_cert_store(hm->ctx), SSL_CTX_get_cert_store(ht->ctx));
    assert_non_null(hm);
    assert_non_null(hn);
    assert_non_null(ht);
    /* Kong's default: https_verify_certificate = true */
    assert_true(hm->verify);
    assert_false(hn->verify);
    assert_true(ht->verify);
    assert_non_null(SSL_CTX_get0_certificate(hm->ctx));
    assert_null(SSL_CTX_get0_certificate(hn->ctx));
    assert_int_equal(SSL_CTX_get_verify_depth(ht->ctx), 3);
    assert_int_equal(SSL_CTX_get_verify_depth(hm->ctx), 1);
    /* the service's CA is in the probe context's trust store */
    X509_STORE *st = SSL_CTX_get_cert_store(ht->ctx);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    assert_int_equal(sk_X509_OBJECT_num(objs), 1);
    /* an SSL for a probe: SNI sent, none for an IP address */
    SSL *ssl = dp_tls_client_ssl(hm, "api.test");
    assert_non_null(ssl);
    assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "api.test");
    SSL_free(ssl);
    ssl = dp_tls_client_ssl(hm, "127.0.0.1");
    assert_non_null(ssl);
    assert_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    SSL_free(ssl);
    dp_tls_store_destroy(s);
    tcfg_free(&t);

    /* an upstream whose client certificate does not exist */
    tcfg_init(&t);
    m = add_upstream(&t, "mtls", "https");
    m->client_certificate = ref(&t, "missing");
    assert_int_equal(dp_tls_store_build(&t.cfg, on_error, &t, &s), GW_ERR_INVALID);
    assert_string_equal(t.last_field, "client_certificate");
    tcfg_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sni_exact_wildcards_default),
        cmocka_unit_test(sni_star_is_the_config_default),
        cmocka_unit_test(no_wildcard_on_the_top_level),
        cmocka_unit_test(empty_config_has_no_certificates),
        cmocka_unit_test(bad_certificates_are_rejected),
        cmocka_unit_test(upstream_parameters),
        cmocka_unit_test(health_check_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
