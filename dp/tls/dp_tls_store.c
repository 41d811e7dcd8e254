/* dp/tls/dp_tls_store.c: certificates, SNIs and upstream TLS contexts of one config.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_tls_store.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_strmap.h"
#include "dp_tls_io.h"
#include "dp_tls_server.h"

struct cert {
    char *id; /* owned */
    SSL_CTX *ctx;
};

struct dp_tls_store {
    struct cert *certs;
    size_t ncerts;
    struct dp_strmap snis;      /* lowercase name -> struct cert */
    struct dp_tls_upstream *up; /* per service (NULL ctx = plain http) */
    size_t nup;
    struct dp_tls_upstream *hc; /* per upstream: active https checks (NULL ctx = none) */
    size_t nhc;
};

struct build {
    dp_tls_error_fn on_error;
    void *arg;
    int nerrors;
};

static void report(struct build *b, const char *entity, const char *id, const char *field,
                   const char *msg)
{
    b->nerrors++;
    if (b->on_error)
        b->on_error(b->arg, entity, id ? id : "", field, msg);
}

/* Loads a PEM certificate (leaf first, then its chain) and its key into ctx. Returns NULL or
 * the name of the bad field. */
static const char *load_pair(SSL_CTX *ctx, const char *cert, const char *key, bool alt)
{
    const char *bad = alt ? "cert_alt" : "cert";
    BIO *b = BIO_new_mem_buf(cert, -1);
    X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1)
        goto fail;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
            X509_free(x);
            goto fail;
        }
    ERR_clear_error(); /* the end of the PEM data */
    BIO_free(b);
    X509_free(leaf);
    leaf = NULL;
    bad = alt ? "key_alt" : "key";
    b = BIO_new_mem_buf(key, -1);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    int ok = pk && SSL_CTX_use_PrivateKey(ctx, pk) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(pk);
    if (!ok)
        goto fail;
    BIO_free(b);
    return NULL;
fail:
    ERR_clear_error();
    X509_free(leaf);
    BIO_free(b);
    return bad;
}

static char *lower(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    return buf;
}

static uint64_t fnv64(uint64_t h, const char *s)
{
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    h ^= 0xff; /* separator */
    h *= 0x100000001b3ull;
    return h;
}

static const Portico__V1__Certificate *find_cert(const Portico__V1__Config *pb, const char *id)
{
    for (size_t i = 0; id && i < pb->n_certificates; i++)
        if (pb->certificates[i]->id && strcmp(pb->certificates[i]->id, id) == 0)
            return pb->certificates[i];
    return NULL;
}

static const Portico__V1__CaCertificate *find_ca(const Portico__V1__Config *pb, const char *id)
{
    for (size_t i = 0; id && i < pb->n_ca_certificates; i++)
        if (pb->ca_certificates[i]->id && strcmp(pb->ca_certificates[i]->id, id) == 0)
            return pb->ca_certificates[i];
    return NULL;
}

static enum gw_err build_certs(struct dp_tls_store *s, const Portico__V1__Config *pb,
                               struct build *b)
{
    s->certs = calloc(pb->n_certificates ? pb->n_certificates : 1, sizeof(*s->certs));
    if (!s->certs)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_certificates; i++) {
        const Portico__V1__Certificate *p = pb->certificates[i];
        struct cert *c = &s->certs[s->ncerts++];
        c->id = strdup(p->id ? p->id : "");
        c->ctx = dp_tls_server_ctx_new();
        if (!c->id || !c->ctx)
            return GW_ERR_NOMEM;
        const char *bad = load_pair(c->ctx, p->cert ? p->cert : "", p->key ? p->key : "", false);
        if (!bad && p->cert_alt && *p->cert_alt)
            bad = load_pair(c->ctx, p->cert_alt, p->key_alt ? p->key_alt : "", true);
        if (bad)
            report(b, "certificates", c->id, bad,
                   "invalid certificate or key (PEM), or the key does not match");
    }
    for (size_t i = 0; i < pb->n_snis; i++) {
        const Portico__V1__Sni *p = pb->snis[i];
        char name[256];
        const char *cid = p->certificate ? p->certificate->id : NULL;
        struct cert *c = NULL;
        for (size_t k = 0; cid && k < s->ncerts; k++)
            if (strcmp(s->certs[k].id, cid) == 0)
                c = &s->certs[k];
        if (!c) {
            report(b, "snis", p->id, "certificate",
                   "the foreign key does not reference an existing 'certificates' entity.");
            continue;
        }
        if (!p->name || !lower(p->name, name, sizeof(name))) {
            report(b, "snis", p->id, "name", "invalid value");
            continue;
        }
        if (dp_strmap_put(&s->snis, name, strlen(name), c) == GW_ERR_EXISTS)
            report(b, "snis", p->id, "name", "duplicate SNI name");
    }
    return GW_OK;
}

/* The session slot of a client context: shared by the workers, lives as long as the context
 * (connections keep it alive after their config is gone). */
struct sess_slot {
    pthread_mutex_t lock;
    SSL_SESSION *session;
    char sni[256];
};

static int slot_idx = -1;
static pthread_once_t slot_idx_once = PTHREAD_ONCE_INIT;

static void slot_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct sess_slot *sl = ptr;
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (!sl)
        return;
    SSL_SESSION_free(sl->session);
    pthread_mutex_destroy(&sl->lock);
    free(sl);
}

static void slot_idx_init(void)
{
    slot_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, slot_free);
}

/* A session arrived (after the handshake with TLS 1.3): keep it for the next connection. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct sess_slot *sl = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), slot_idx);
    if (!sl)
        return 0;
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    pthread_mutex_lock(&sl->lock);
    SSL_SESSION *old = sl->session;
    sl->session = sess;
    snprintf(sl->sni, sizeof(sl->sni), "%s", sni ? sni : "");
    pthread_mutex_unlock(&sl->lock);
    SSL_SESSION_free(old);
    return 1; /* the reference is ours */
}

/* The system CA store, loaded once (the bundle is ~150 certificates: parsing it per context
 * would cost milliseconds and ~1 MB for every https service or https-checked upstream of every
 * config) and shared by reference; X509_STORE lookups are thread-safe. */
static X509_STORE *sys_store;
static pthread_once_t sys_store_once = PTHREAD_ONCE_INIT;

static void sys_store_init(void)
{
    X509_STORE *st = X509_STORE_new();
    if (st && X509_STORE_set_default_paths(st) != 1)
        ERR_clear_error();
    sys_store = st;
}

/* What one client context is made of (a service's upstream TLS, or the active https health
 * checks of an upstream). Entity/id name the owner in validation errors. */
struct client_params {
    bool verify;
    int depth;
    const char *const *ca_ids; /* CA Certificate ids, NULL/0 = the system store */
    size_t nca;
    const char *ca_entity, *ca_owner;
    const char *ccid; /* client certificate id or NULL */
    const char *cc_entity, *cc_owner;
};

static enum gw_err build_client(struct dp_tls_upstream *u, const Portico__V1__Config *pb,
                                const struct client_params *cp, struct build *b)
{
    u->verify = cp->verify;
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv64(h, u->verify ? "verify" : "noverify");
    char d[16];
    snprintf(d, sizeof(d), "%d", cp->depth);
    h = fnv64(h, d);
    h = fnv64(h, cp->ccid);
    for (size_t i = 0; i < cp->nca; i++)
        h = fnv64(h, cp->ca_ids[i]);
    u->hash = h;

    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c)
        return GW_ERR_NOMEM;
    u->ctx = c;
    pthread_once(&slot_idx_once, slot_idx_init);
    struct sess_slot *sl = calloc(1, sizeof(*sl));
    if (!sl)
        return GW_ERR_NOMEM;
    if (pthread_mutex_init(&sl->lock, NULL) != 0) {
        free(sl);
        return GW_ERR_NOMEM;
    }
    if (SSL_CTX_set_ex_data(c, slot_idx, sl) != 1) {
        slot_free(NULL, sl, NULL, 0, 0, NULL);
        return GW_ERR_NOMEM;
    }
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, new_session_cb);
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x08http/1.1", 9);
    if (u->verify) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(c, cp->depth);
        if (cp->nca) {
            X509_STORE *st = SSL_CTX_get_cert_store(c);
            for (size_t i = 0; i < cp->nca; i++) {
                const Portico__V1__CaCertificate *ca = find_ca(pb, cp->ca_ids[i]);
                if (!ca || !ca->cert) {
                    report(b, cp->ca_entity, cp->ca_owner, "ca_certificates",
                           "does not reference an existing 'ca_certificates' entity");
                    continue;
                }
                BIO *bio = BIO_new_mem_buf(ca->cert, -1);
                X509 *x;
                int n = 0;
                while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
                    X509_STORE_add_cert(st, x);
                    X509_free(x);
                    n++;
                }
                ERR_clear_error();
                BIO_free(bio);
                if (!n)
                    report(b, "ca_certificates", ca->id, "cert", "invalid certificate (PEM)");
            }
        } else {
            pthread_once(&sys_store_once, sys_store_init);
            if (sys_store)
                SSL_CTX_set1_cert_store(c, sys_store);
        }
    }
    if (cp->ccid) {
        const Portico__V1__Certificate *cc = find_cert(pb, cp->ccid);
        if (!cc) {
            report(b, cp->cc_entity, cp->cc_owner, "client_certificate",
                   "the foreign key does not reference an existing 'certificates' entity.");
        } else {
            const char *bad = load_pair(c, cc->cert ? cc->cert : "", cc->key ? cc->key : "", false);
            if (!bad && cc->cert_alt && *cc->cert_alt)
                bad = load_pair(c, cc->cert_alt, cc->key_alt ? cc->key_alt : "", true);
            if (bad)
                report(b, "certificates", cc->id, bad,
                       "invalid certificate or key (PEM), or the key does not match");
        }
    }
    return GW_OK;
}

static bool is_https_service(const Portico__V1__Service *p)
{
    return p->protocol && strcmp(p->protocol, "https") == 0;
}

static enum gw_err build_upstream(struct dp_tls_upstream *u, const Portico__V1__Config *pb,
                                  const Portico__V1__Service *p, struct build *b)
{
    const char *sid = p->id ? p->id : "";
    struct client_params cp = {
        .verify = p->has_tls_verify && p->tls_verify,
        .depth = p->has_tls_verify_depth ? p->tls_verify_depth : 1, /* nginx's default */
        .ca_ids = (const char *const *)p->ca_certificates,
        .nca = p->n_ca_certificates,
        .ca_entity = "services",
        .ca_owner = sid,
        .ccid = p->client_certificate ? p->client_certificate->id : NULL,
        .cc_entity = "services",
        .cc_owner = sid,
    };
    /* client certificate: the service's, else its upstream's */
    if (!cp.ccid && p->host)
        for (size_t i = 0; i < pb->n_upstreams; i++) {
            const Portico__V1__Upstream *up = pb->upstreams[i];
            if (up->name && strcasecmp(up->name, p->host) == 0 && up->client_certificate) {
                cp.ccid = up->client_certificate->id;
                cp.cc_entity = "upstreams";
                cp.cc_owner = up->id;
            }
        }
    return build_client(u, pb, &cp, b);
}

/* The client context of an upstream's active https checks (see dp_tls_store_health). */
static enum gw_err build_health(struct dp_tls_upstream *u, const Portico__V1__Config *pb,
                                const Portico__V1__Upstream *up, struct build *b)
{
    const Portico__V1__ActiveHealthcheck *a = up->healthchecks ? up->healthchecks->active : NULL;
    struct client_params cp = {
        .verify = a && a->has_https_verify_certificate ? a->https_verify_certificate : true,
        .depth = 1,
        .ccid = up->client_certificate ? up->client_certificate->id : NULL,
        .cc_entity = "upstreams",
        .cc_owner = up->id ? up->id : "",
    };
    /* trust: what the proxy trusts for these targets, i.e. the CA certificates of the https
     * services that reach this upstream (their union, depth = the largest), else the system
     * store. The ids were validated with their services: unknown ones are skipped here. */
    size_t n = 0;
    for (size_t i = 0; i < pb->n_services; i++) {
        const Portico__V1__Service *p = pb->services[i];
        if (is_https_service(p) && p->host && up->name && strcasecmp(p->host, up->name) == 0)
            n += p->n_ca_certificates;
    }
    const char **ids = n ? calloc(n, sizeof(*ids)) : NULL;
    if (n && !ids)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_services; i++) {
        const Portico__V1__Service *p = pb->services[i];
        if (!is_https_service(p) || !p->host || !up->name || strcasecmp(p->host, up->name) != 0)
            continue;
        if (p->has_tls_verify_depth && p->tls_verify_depth > cp.depth)
            cp.depth = p->tls_verify_depth;
        for (size_t k = 0; k < p->n_ca_certificates; k++) {
            bool dup = false;
            for (size_t j = 0; j < cp.nca && !dup; j++)
                dup = strcmp(ids[j], p->ca_certificates[k]) == 0;
            if (!dup && find_ca(pb, p->ca_certificates[k]))
                ids[cp.nca++] = p->ca_certificates[k];
        }
    }
    cp.ca_ids = ids;
    cp.ca_entity = "upstreams";
    cp.ca_owner = cp.cc_owner;
    enum gw_err err = build_client(u, pb, &cp, b);
    free(ids);
    return err;
}

void dp_tls_store_destroy(struct dp_tls_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncerts; i++) {
        SSL_CTX_free(s->certs[i].ctx);
        free(s->certs[i].id);
    }
    free(s->certs);
    for (size_t i = 0; i < s->nup; i++)
        SSL_CTX_free(s->up[i].ctx);
    free(s->up);
    for (size_t i = 0; i < s->nhc; i++)
        SSL_CTX_free(s->hc[i].ctx);
    free(s->hc);
    dp_strmap_cleanup(&s->snis);
    free(s);
}

enum gw_err dp_tls_store_build(const Portico__V1__Config *pb, dp_tls_error_fn on_error, void *arg,
                               struct dp_tls_store **out)
{
    struct build b = {on_error, arg, 0};
    *out = NULL;
    struct dp_tls_store *s = calloc(1, sizeof(*s));
    if (!s)
        return GW_ERR_NOMEM;
    dp_strmap_init(&s->snis);
    enum gw_err err = build_certs(s, pb, &b);
    if (err == GW_OK) {
        s->up = calloc(pb->n_services ? pb->n_services : 1, sizeof(*s->up));
        if (!s->up)
            err = GW_ERR_NOMEM;
        else
            s->nup = pb->n_services;
    }
    for (size_t i = 0; err == GW_OK && i < pb->n_services; i++) {
        const Portico__V1__Service *p = pb->services[i];
        if (is_https_service(p))
            err = build_upstream(&s->up[i], pb, p, &b);
    }
    if (err == GW_OK) {
        s->hc = calloc(pb->n_upstreams ? pb->n_upstreams : 1, sizeof(*s->hc));
        if (!s->hc)
            err = GW_ERR_NOMEM;
        else
            s->nhc = pb->n_upstreams;
    }
    for (size_t i = 0; err == GW_OK && i < pb->n_upstreams; i++) {
        const Portico__V1__Upstream *up = pb->upstreams[i];
        const Portico__V1__ActiveHealthcheck *a =
            up->healthchecks ? up->healthchecks->active : NULL;
        if (a && a->type && strcmp(a->type, "https") == 0)
            err = build_health(&s->hc[i], pb, up, &b);
    }
    if (err == GW_OK && b.nerrors)
        err = GW_ERR_INVALID;
    if (err != GW_OK) {
        dp_tls_store_destroy(s);
        return err;
    }
    *out = s;
    return GW_OK;
}

static const struct cert *lookup(const struct dp_tls_store *s, const char *name)
{
    if (!s || !s->snis.count)
        return NULL;
    char buf[256], w[258];
    const struct cert *c = NULL;
    if (name && *name && lower(name, buf, sizeof(buf))) {
        size_t n = strlen(buf);
        c = dp_strmap_get(&s->snis, buf, n);
        const char *dot = strchr(buf, '.');
        if (!c && dot && dot > buf && strchr(dot + 1, '.')) {
            /* "*.example.com" (never "*.com", as Kong) */
            int k = snprintf(w, sizeof(w), "*%s", dot);
            c = dp_strmap_get(&s->snis, w, (size_t)k);
        }
        const char *last = strrchr(buf, '.');
        if (!c && last) {
            /* "www.example.*" */
            int k = snprintf(w, sizeof(w), "%.*s.*", (int)(last - buf), buf);
            c = dp_strmap_get(&s->snis, w, (size_t)k);
        }
    }
    if (!c)
        c = dp_strmap_get(&s->snis, "*", 1);
    return c;
}

SSL_CTX *dp_tls_store_find(const struct dp_tls_store *s, const char *name)
{
    const struct cert *c = lookup(s, name);
    return c ? c->ctx : NULL;
}

const char *dp_tls_store_find_id(const struct dp_tls_store *s, const char *name)
{
    const struct cert *c = lookup(s, name);
    return c ? c->id : NULL;
}

const struct dp_tls_upstream *dp_tls_store_upstream(const struct dp_tls_store *s, size_t i)
{
    if (!s || i >= s->nup || !s->up[i].ctx)
        return NULL;
    return &s->up[i];
}

const struct dp_tls_upstream *dp_tls_store_health(const struct dp_tls_store *s, size_t i)
{
    if (!s || i >= s->nhc || !s->hc[i].ctx)
        return NULL;
    return &s->hc[i];
}

static bool is_ip(const char *s)
{
    unsigned char ip[16];
    return s && (inet_pton(AF_INET, s, ip) == 1 || inet_pton(AF_INET6, s, ip) == 1);
}

SSL *dp_tls_client_ssl(const struct dp_tls_upstream *u, const char *sni)
{
    SSL *ssl = SSL_new(u->ctx);
    if (!ssl)
        return NULL;
    bool ip = is_ip(sni);
    if (sni && *sni && !ip && SSL_set_tlsext_host_name(ssl, sni) != 1)
        goto fail;
    if (u->verify && sni && *sni) {
        if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni) != 1
               : SSL_set1_host(ssl, sni) != 1)
            goto fail;
    }
    struct sess_slot *sl = SSL_CTX_get_ex_data(u->ctx, slot_idx);
    const char *sent = sni && !ip ? sni : "";
    if (sl) {
        pthread_mutex_lock(&sl->lock);
        if (sl->session && strcmp(sl->sni, sent) == 0)
            SSL_set_session(ssl, sl->session);
        pthread_mutex_unlock(&sl->lock);
    }
    return ssl;
fail:
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
}

struct dp_tls_io *dp_tls_upstream_new(const struct dp_tls_upstream *u, const char *sni,
                                      const char *peer)
{
    SSL *ssl = dp_tls_client_ssl(u, sni);
    if (!ssl)
        return NULL;
    /* dp_io asks SSL_has_pending, which counts read-ahead bytes (the health checker's
     * bufferevent_openssl does not: its SSLs keep the default) */
    SSL_set_read_ahead(ssl, 1);
    char label[96];
    snprintf(label, sizeof(label), "%s sni=%s", peer ? peer : "-", sni && !is_ip(sni) ? sni : "-");
    return dp_tls_io_client(ssl, label);
}
