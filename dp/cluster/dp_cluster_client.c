/* dp/cluster/dp_cluster_client.c: the data plane's libwebsockets cluster client and its apply
 * thread.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_cluster_client.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_cluster_backoff.h"
#include "dp_cluster_nodeid.h"
#include "plugins/dp_plugin_set.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_snapshot.h"
#include "gw_thread.h"
#include "gw_time.h"
#include "gw_x509.h"

#define CLUSTER_PATH        "/v1/cluster"
#define CLUSTER_SUBPROTOCOL "portico.cluster.v1"
#define MAX_CPS             16
#define TX_CHUNK            (64 * 1024)
#define MAX_NACK_ERRORS     100
#define OUTQ_MAX            64

/* What TLS said about the last failed handshake (lws thread only): lws logs certificate
 * verification failures, OpenSSL reports alerts the control plane sent. */
static char tls_we_refused[256];
static char tls_they_refused[256];
static bool tls_handshake_done;

struct cp_addr {
    char host[256];
    int port;
};

struct outmsg {
    uint8_t *data; /* packed ClusterMessage (owned) */
    size_t len;
    unsigned epoch; /* connection it belongs to */
    struct outmsg *next;
};

struct dp_cluster_client {
    /* configuration (immutable after start) */
    char node_id[GW_UUID_STRLEN + 1];
    char hostname[256];
    struct cp_addr cps[MAX_CPS];
    size_t ncps;
    bool pki;
    char *cert, *key, *ca, *server_name;
    char shared_name[128];
    unsigned char own_digest[GW_X509_DIGEST_LEN];
    size_t max_payload;
    int hb_interval_s;
    dp_cluster_apply_fn apply;
    void *apply_arg;
    dp_cluster_current_fn current;
    struct dp_cluster_ext ext;

    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    pthread_t lws_thread, apply_thread;
    bool apply_started, lws_started;
    atomic_bool stop;

    /* lws thread only */
    struct lws *wsi;
    bool accepted;
    unsigned attempt;
    size_t cp_idx;
    char cp_label[300];
    lws_sorted_usec_list_t sul_connect, sul_heartbeat;
    struct gw_buf rx;
    bool rx_skipping;
    size_t rx_skipped;
    uint8_t *tx_buf;
    struct outmsg *tx; /* in progress (owned) */
    size_t tx_off;

    /* shared, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned epoch; /* incremented per connection */
    Portico__V1__ClusterMessage *pending;
    unsigned pending_epoch;
    bool kicked; /* poll the extension when writable */
    struct outmsg *out_head, *out_tail;
    size_t out_n;
    int64_t applied_revision;
    char applied_hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
};

/* ---- shared state helpers ---- */

/* What this data plane runs. With a current() callback the serving config is the truth; a
 * snapshot acknowledged without rebuilding (same hash, newer revision) is remembered here, so
 * its revision is reported as long as that configuration serves. */
static void applied_get(struct dp_cluster_client *c, int64_t *rev, char *hash, size_t hashlen)
{
    pthread_mutex_lock(&c->lock);
    int64_t local_rev = c->applied_revision;
    char local_hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
    memcpy(local_hash, c->applied_hash, sizeof(local_hash));
    pthread_mutex_unlock(&c->lock);
    if (!c->current) {
        *rev = local_rev;
        snprintf(hash, hashlen, "%s", local_hash);
        return;
    }
    *rev = c->current(hash, hashlen);
    if (local_hash[0] && strcmp(local_hash, hash) == 0 && local_rev > *rev)
        *rev = local_rev;
}

/* Queues a message for connection epoch (takes ownership of data) and wakes the lws thread. */
static void push_out(struct dp_cluster_client *c, uint8_t *data, size_t len, unsigned epoch)
{
    struct outmsg *m = calloc(1, sizeof(*m));
    if (!m) {
        free(data);
        return;
    }
    m->data = data;
    m->len = len;
    m->epoch = epoch;
    pthread_mutex_lock(&c->lock);
    if (c->out_n >= OUTQ_MAX) {
        pthread_mutex_unlock(&c->lock);
        GW_LOG(GW_LOG_WARN, "cluster send queue full, message dropped");
        free(data);
        free(m);
        return;
    }
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_n++;
    pthread_mutex_unlock(&c->lock);
    if (c->ctx)
        lws_cancel_service(c->ctx);
}

static bool pack_and_push(struct dp_cluster_client *c, const Portico__V1__ClusterMessage *m,
                          unsigned epoch)
{
    size_t len = portico__v1__cluster_message__get_packed_size(m);
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return false;
    portico__v1__cluster_message__pack(m, b);
    push_out(c, b, len, epoch);
    return true;
}

static struct outmsg *pop_out(struct dp_cluster_client *c)
{
    pthread_mutex_lock(&c->lock);
    struct outmsg *m = c->out_head;
    if (m) {
        c->out_head = m->next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_n--;
    }
    pthread_mutex_unlock(&c->lock);
    return m;
}

static void free_out(struct outmsg *m)
{
    if (m) {
        free(m->data);
        free(m);
    }
}

/* ---- apply thread ---- */

struct errlist {
    Portico__V1__ValidationError *items[MAX_NACK_ERRORS];
    size_t n;
    size_t dropped;
};

static char *dupz(const char *s)
{
    return strdup(s ? s : "");
}

static void collect_error(void *arg, const char *entity, const char *id, const char *field,
                          const char *message)
{
    struct errlist *l = arg;
    GW_LOG(GW_LOG_WARN, "snapshot error entity=%s id=%s field=%s message=\"%s\"",
           entity ? entity : "", id ? id : "", field ? field : "", message ? message : "");
    if (l->n >= MAX_NACK_ERRORS) {
        l->dropped++;
        return;
    }
    Portico__V1__ValidationError *e = malloc(sizeof(*e));
    if (!e)
        return;
    portico__v1__validation_error__init(e);
    e->entity = dupz(entity);
    e->id = dupz(id);
    e->field = dupz(field);
    e->message = dupz(message);
    l->items[l->n++] = e;
}

static void free_errors(struct errlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i]->entity);
        free(l->items[i]->id);
        free(l->items[i]->field);
        free(l->items[i]->message);
        free(l->items[i]);
    }
    l->n = 0;
}

static void send_nack(struct dp_cluster_client *c, unsigned epoch, bool has_rev, int64_t rev,
                      const char *hash, struct errlist *errs)
{
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    Portico__V1__Nack n = PORTICO__V1__NACK__INIT;
    n.has_revision = has_rev;
    n.revision = rev;
    n.hash = (char *)(hash ? hash : "");
    n.n_errors = errs->n;
    n.errors = errs->items;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_NACK;
    m.nack = &n;
    pack_and_push(c, &m, epoch);
}

static void apply_one(struct dp_cluster_client *c, Portico__V1__ClusterMessage *msg, unsigned epoch)
{
    const Portico__V1__Snapshot *snap = msg->snapshot;
    const char *hash = snap->hash ? snap->hash : "";
    int64_t cur_rev;
    char cur_hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
    applied_get(c, &cur_rev, cur_hash, sizeof(cur_hash));
    struct errlist errs = {.n = 0};
    uint64_t t0 = gw_time_mono_us();
    enum gw_err rc = GW_OK;
    bool noop = hash[0] && strcmp(hash, cur_hash) == 0;
    if (!noop) {
        rc = c->apply(c->apply_arg, snap, collect_error, &errs);
        if (rc != GW_OK && errs.n == 0)
            collect_error(&errs, "@snapshot", "", "", gw_err_str(rc));
    }
    uint64_t us = gw_time_mono_us() - t0;
    if (rc == GW_OK) {
        pthread_mutex_lock(&c->lock);
        c->applied_revision = snap->revision;
        snprintf(c->applied_hash, sizeof(c->applied_hash), "%s", hash);
        pthread_mutex_unlock(&c->lock);
        GW_LOG(noop ? GW_LOG_INFO : GW_LOG_NOTICE, "%s revision=%lld hash=%s apply_ms=%.1f",
               noop ? "snapshot unchanged" : "applied snapshot", (long long)snap->revision, hash,
               (double)us / 1000.0);
        Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
        Portico__V1__Ack a = PORTICO__V1__ACK__INIT;
        a.has_revision = 1;
        a.revision = snap->revision;
        a.hash = (char *)hash;
        a.has_apply_micros = 1;
        a.apply_micros = us;
        m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_ACK;
        m.ack = &a;
        pack_and_push(c, &m, epoch);
    } else {
        GW_LOG(GW_LOG_WARN,
               "data plane rejected snapshot, the previous configuration keeps serving "
               "revision=%lld hash=%s errors=%zu",
               (long long)snap->revision, hash, errs.n + errs.dropped);
        send_nack(c, epoch, snap->has_revision, snap->revision, hash, &errs);
    }
    free_errors(&errs);
}

static void *apply_main(void *arg)
{
    struct dp_cluster_client *c = arg;
    /* decode + validate + build competes with the proxy workers for the CPU: it gets what they
     * leave (docs/internals/cluster.md, "Apply thread priority") */
    gw_thread_set_background("snapshot apply");
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->pending && !atomic_load(&c->stop))
            pthread_cond_wait(&c->cond, &c->lock);
        if (atomic_load(&c->stop))
            break;
        Portico__V1__ClusterMessage *msg = c->pending;
        unsigned epoch = c->pending_epoch;
        c->pending = NULL;
        pthread_mutex_unlock(&c->lock);
        apply_one(c, msg, epoch);
        portico__v1__cluster_message__free_unpacked(msg, NULL);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

enum gw_err dp_cluster_apply_open_only(void *arg, const Portico__V1__Snapshot *snap,
                                       dp_config_error_fn on_error, void *err_arg)
{
    size_t max = arg ? *(const size_t *)arg : (size_t)64 << 20;
    Portico__V1__Config *cfg = NULL;
    char err[256];
    enum gw_err rc = gw_snapshot_open(snap, max, &cfg, err, sizeof(err));
    if (rc != GW_OK) {
        if (on_error)
            on_error(err_arg, "@snapshot", "", "", err);
        return rc;
    }
    portico__v1__config__free_unpacked(cfg, NULL);
    return GW_OK;
}

/* ---- lws thread ---- */

static void schedule_connect(struct dp_cluster_client *c, bool backoff);

static void send_hello(struct dp_cluster_client *c, unsigned epoch)
{
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    Portico__V1__Hello h = PORTICO__V1__HELLO__INIT;
    char hash[GW_SNAPSHOT_HASH_HEXLEN + 1] = "";
    int64_t rev = 0;
    applied_get(c, &rev, hash, sizeof(hash));
    h.node_id = c->node_id;
    h.hostname = c->hostname;
    h.version = PORTICO_VERSION;
    h.has_applied_revision = 1;
    h.applied_revision = rev;
    h.applied_hash = hash;
    h.has_heartbeat_interval = 1;
    h.heartbeat_interval = c->hb_interval_s;
    /* the plugins this data plane runs (packing only reads them) */
    const char *const *pl = dp_plugin_names();
    while (pl[h.n_plugins])
        h.n_plugins++;
    h.plugins = (char **)pl;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HELLO;
    m.hello = &h;
    pack_and_push(c, &m, epoch);
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    struct dp_cluster_client *c = lws_container_of(sul, struct dp_cluster_client, sul_heartbeat);
    if (!c->wsi || !c->accepted)
        return;
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    Portico__V1__Heartbeat h = PORTICO__V1__HEARTBEAT__INIT;
    char hash[GW_SNAPSHOT_HASH_HEXLEN + 1] = "";
    int64_t rev = 0;
    applied_get(c, &rev, hash, sizeof(hash));
    h.has_applied_revision = 1;
    h.applied_revision = rev;
    h.applied_hash = hash;
    h.has_unix_ms = 1;
    h.unix_ms = gw_time_unix_ms();
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HEARTBEAT;
    m.heartbeat = &h;
    pthread_mutex_lock(&c->lock);
    unsigned epoch = c->epoch;
    pthread_mutex_unlock(&c->lock);
    pack_and_push(c, &m, epoch);
    uint8_t *extra = NULL;
    size_t extra_len = 0;
    if (c->ext.poll && c->ext.poll(c->ext.arg, true, &extra, &extra_len))
        push_out(c, extra, extra_len, epoch);
    lws_sul_schedule(c->ctx, 0, &c->sul_heartbeat, heartbeat_cb,
                     (lws_usec_t)c->hb_interval_s * LWS_US_PER_SEC);
}

static void connect_cb(lws_sorted_usec_list_t *sul)
{
    struct dp_cluster_client *c = lws_container_of(sul, struct dp_cluster_client, sul_connect);
    if (atomic_load(&c->stop) || c->wsi)
        return;
    const struct cp_addr *a = &c->cps[c->cp_idx];
    snprintf(c->cp_label, sizeof(c->cp_label), "%s:%d", a->host, a->port);
    const char *name = c->pki ? (c->server_name[0] ? c->server_name : a->host) : c->shared_name;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = c->ctx;
    ci.address = a->host;
    ci.port = a->port;
    ci.path = CLUSTER_PATH;
    ci.host = name;
    ci.origin = name;
    ci.protocol = CLUSTER_SUBPROTOCOL;
    ci.local_protocol_name = CLUSTER_SUBPROTOCOL;
    ci.ssl_connection = LCCSCF_USE_SSL;
    ci.pwsi = &c->wsi;
    tls_we_refused[0] = tls_they_refused[0] = '\0';
    tls_handshake_done = false;
    GW_LOG(GW_LOG_INFO, "connecting to control plane address=%s server_name=%s mode=%s",
           c->cp_label, name, c->pki ? "pki" : "shared");
    if (!lws_client_connect_via_info(&ci)) {
        c->wsi = NULL;
        GW_LOG(GW_LOG_WARN, "cannot start connection to control plane address=%s", c->cp_label);
        schedule_connect(c, true);
    }
}

static void schedule_connect(struct dp_cluster_client *c, bool backoff)
{
    if (atomic_load(&c->stop))
        return;
    uint32_t ms = 0;
    if (backoff) {
        uint32_t rnd = 0;
        RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
        ms = dp_cluster_backoff_ms(c->attempt++, rnd);
        c->cp_idx = (c->cp_idx + 1) % c->ncps;
        GW_LOG(GW_LOG_INFO, "reconnecting to control plane delay_ms=%u next=%s:%d", ms,
               c->cps[c->cp_idx].host, c->cps[c->cp_idx].port);
    }
    lws_sul_schedule(c->ctx, 0, &c->sul_connect, connect_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void drop_connection_state(struct dp_cluster_client *c)
{
    c->wsi = NULL;
    c->accepted = false;
    lws_sul_cancel(&c->sul_heartbeat);
    free_out(c->tx);
    c->tx = NULL;
    c->tx_off = 0;
    gw_buf_reset(&c->rx);
    c->rx_skipping = false;
    pthread_mutex_lock(&c->lock);
    c->epoch++;
    struct outmsg *m = c->out_head;
    c->out_head = c->out_tail = NULL;
    c->out_n = 0;
    pthread_mutex_unlock(&c->lock);
    while (m) {
        struct outmsg *next = m->next;
        free_out(m);
        m = next;
    }
}

/* Writes the next chunk; returns -1 to close. */
static int on_writeable(struct lws *wsi, struct dp_cluster_client *c)
{
    unsigned epoch;
    pthread_mutex_lock(&c->lock);
    epoch = c->epoch;
    pthread_mutex_unlock(&c->lock);
    while (!c->tx) {
        c->tx = pop_out(c);
        if (!c->tx && c->accepted && c->ext.poll) {
            pthread_mutex_lock(&c->lock);
            bool kicked = c->kicked;
            c->kicked = false;
            pthread_mutex_unlock(&c->lock);
            uint8_t *extra = NULL;
            size_t extra_len = 0;
            if (kicked && c->ext.poll(c->ext.arg, false, &extra, &extra_len)) {
                c->tx = calloc(1, sizeof(*c->tx));
                if (!c->tx) {
                    free(extra);
                    return 0;
                }
                c->tx->data = extra;
                c->tx->len = extra_len;
                c->tx->epoch = epoch;
            }
        }
        if (!c->tx)
            return 0;
        if (c->tx->epoch != epoch) { /* meant for an earlier connection */
            free_out(c->tx);
            c->tx = NULL;
        }
        c->tx_off = 0;
    }
    if (!c->tx_buf) {
        c->tx_buf = malloc(LWS_PRE + TX_CHUNK);
        if (!c->tx_buf)
            return -1;
    }
    size_t n = c->tx->len - c->tx_off;
    if (n > TX_CHUNK)
        n = TX_CHUNK;
    bool first = c->tx_off == 0, last = c->tx_off + n == c->tx->len;
    memcpy(c->tx_buf + LWS_PRE, c->tx->data + c->tx_off, n);
    int flags = lws_write_ws_flags(LWS_WRITE_BINARY, first, last);
    if (lws_write(wsi, c->tx_buf + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n) {
        GW_LOG(GW_LOG_WARN, "write to control plane failed address=%s", c->cp_label);
        return -1;
    }
    c->tx_off += n;
    if (c->tx_off == c->tx->len) {
        free_out(c->tx);
        c->tx = NULL;
    }
    pthread_mutex_lock(&c->lock);
    bool more = c->tx || c->out_head;
    pthread_mutex_unlock(&c->lock);
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

/* Handles one complete message from the control plane. Returns -1 to close. */
static int handle_message(struct dp_cluster_client *c, struct lws *wsi)
{
    /* the control plane answers every heartbeat: silence means it is gone */
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 3 * c->hb_interval_s + 5);
    Portico__V1__ClusterMessage *m =
        portico__v1__cluster_message__unpack(NULL, c->rx.len, (const uint8_t *)c->rx.data);
    size_t len = c->rx.len;
    gw_buf_reset(&c->rx);
    if (!m) {
        GW_LOG(GW_LOG_WARN,
               "data plane closed the connection: malformed message from control plane "
               "address=%s bytes=%zu",
               c->cp_label, len);
        return -1;
    }
    switch (m->msg_case) {
    case PORTICO__V1__CLUSTER_MESSAGE__MSG_HELLO_REPLY: {
        const Portico__V1__HelloReply *r = m->hello_reply;
        if (!r->accepted) {
            GW_LOG(GW_LOG_ERROR,
                   "control plane refused this data plane address=%s node_id=%s reason=\"%s\"",
                   c->cp_label, c->node_id, r->reason ? r->reason : "");
            portico__v1__cluster_message__free_unpacked(m, NULL);
            return -1;
        }
        c->accepted = true;
        c->attempt = 0;
        if (c->ext.connected)
            c->ext.connected(c->ext.arg);
        if (c->ext.poll) { /* let the extension send its first message at once */
            pthread_mutex_lock(&c->lock);
            c->kicked = true;
            pthread_mutex_unlock(&c->lock);
            lws_callback_on_writable(c->wsi);
        }
        GW_LOG(GW_LOG_NOTICE,
               "connected to control plane address=%s control_plane_id=%s version=%s node_id=%s",
               c->cp_label, r->control_plane_id ? r->control_plane_id : "",
               r->version ? r->version : "", c->node_id);
        lws_sul_schedule(c->ctx, 0, &c->sul_heartbeat, heartbeat_cb,
                         (lws_usec_t)c->hb_interval_s * LWS_US_PER_SEC);
        break;
    }
    case PORTICO__V1__CLUSTER_MESSAGE__MSG_SNAPSHOT:
        if (!c->accepted) {
            GW_LOG(GW_LOG_WARN, "snapshot before HelloReply ignored address=%s", c->cp_label);
            break;
        }
        GW_LOG(GW_LOG_INFO, "snapshot received revision=%lld hash=%s bytes=%zu",
               (long long)m->snapshot->revision, m->snapshot->hash ? m->snapshot->hash : "", len);
        pthread_mutex_lock(&c->lock);
        if (c->pending) {
            GW_LOG(GW_LOG_INFO, "newer snapshot arrived during a build, skipping revision=%lld",
                   (long long)c->pending->snapshot->revision);
            portico__v1__cluster_message__free_unpacked(c->pending, NULL);
        }
        c->pending = m;
        c->pending_epoch = c->epoch;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return 0; /* ownership moved to the apply thread */
    case PORTICO__V1__CLUSTER_MESSAGE__MSG_HEARTBEAT:
        GW_DEBUG("control plane heartbeat revision=%lld",
                 (long long)m->heartbeat->applied_revision);
        break;
    default:
        if (c->ext.message && c->accepted) {
            c->ext.message(c->ext.arg, m);
            break;
        }
        GW_LOG(GW_LOG_INFO, "unexpected message from control plane ignored case=%d",
               (int)m->msg_case);
        break;
    }
    portico__v1__cluster_message__free_unpacked(m, NULL);
    return 0;
}

static bool check_pin(struct dp_cluster_client *c, struct lws *wsi)
{
    if (c->pki)
        return true;
    SSL *ssl = lws_get_ssl(wsi);
    X509 *pc = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
    unsigned char d[GW_X509_DIGEST_LEN];
    bool ok = pc && gw_x509_digest(pc, d) == GW_OK && memcmp(d, c->own_digest, sizeof(d)) == 0;
    X509_free(pc);
    if (!ok)
        GW_LOG(GW_LOG_ERROR,
               "data plane refused control plane certificate address=%s mode=shared "
               "reason=\"not the cluster certificate (SHA-256 digest differs)\"",
               c->cp_label);
    return ok;
}

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", line);
    buf[strcspn(buf, "\n")] = '\0';
    const char *e = strstr(buf, "SSL error: ");
    if (e)
        snprintf(tls_we_refused, sizeof(tls_we_refused), "%s", e + 11);
    GW_LOG(level == LLL_ERR ? GW_LOG_INFO : GW_LOG_DEBUG, "libwebsockets: %s", buf);
}

static void tls_info_cb(const SSL *ssl, int where, int ret)
{
    (void)ssl;
    if (where & SSL_CB_HANDSHAKE_DONE)
        tls_handshake_done = true;
    if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ) &&
        strcmp(SSL_alert_type_string(ret), "F") == 0)
        snprintf(tls_they_refused, sizeof(tls_they_refused), "%s", SSL_alert_desc_string_long(ret));
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
        SSL_CTX_set_info_callback((SSL_CTX *)user, tls_info_cb);
        return 0;
    }
    if (!wsi)
        return 0;
    /* one client per process: the context carries it */
    struct dp_cluster_client *c = lws_context_user(lws_get_context(wsi));
    (void)user;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        const char *why = in ? (const char *)in : "unknown";
        if (tls_we_refused[0])
            GW_LOG(GW_LOG_ERROR,
                   "data plane refused control plane certificate address=%s mode=%s "
                   "reason=\"%s\"",
                   c->cp_label, c->pki ? "pki" : "shared", tls_we_refused);
        else if (tls_they_refused[0])
            GW_LOG(GW_LOG_ERROR,
                   "control plane refused this data plane's certificate address=%s mode=%s "
                   "tls_alert=\"%s\"",
                   c->cp_label, c->pki ? "pki" : "shared", tls_they_refused);
        else if (tls_handshake_done)
            /* TLS 1.3 clients finish their side of the handshake before the server checks the
             * client certificate; the refusal then shows as a close before the upgrade. */
            GW_LOG(GW_LOG_ERROR,
                   "control plane closed the connection right after the TLS handshake: it "
                   "refused this data plane's certificate (see its log) address=%s mode=%s "
                   "reason=\"%s\"",
                   c->cp_label, c->pki ? "pki" : "shared", why);
        else
            GW_LOG(GW_LOG_WARN, "cannot connect to control plane address=%s reason=\"%s\"",
                   c->cp_label, why);
        tls_we_refused[0] = tls_they_refused[0] = '\0';
        tls_handshake_done = false;
        drop_connection_state(c);
        schedule_connect(c, true);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        tls_we_refused[0] = tls_they_refused[0] = '\0';
        if (!check_pin(c, wsi))
            return -1;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 3 * c->hb_interval_s + 5);
        pthread_mutex_lock(&c->lock);
        unsigned epoch = c->epoch;
        pthread_mutex_unlock(&c->lock);
        send_hello(c, epoch);
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_is_first_fragment(wsi)) {
            gw_buf_reset(&c->rx);
            c->rx_skipping = false;
            c->rx_skipped = 0;
        }
        if (!c->rx_skipping && gw_buf_append(&c->rx, in, len) != GW_OK) {
            c->rx_skipping = true;
            c->rx_skipped = c->rx.len;
            gw_buf_reset(&c->rx);
        }
        if (c->rx_skipping)
            c->rx_skipped += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
            return 0;
        if (c->rx_skipping) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "message of %zu bytes is larger than cluster_max_payload (%zu bytes)",
                     c->rx_skipped, c->max_payload);
            GW_LOG(GW_LOG_ERROR, "data plane rejected a message from control plane address=%s: %s",
                   c->cp_label, msg);
            c->rx_skipping = false;
            struct errlist errs = {.n = 0};
            collect_error(&errs, "@snapshot", "", "", msg);
            pthread_mutex_lock(&c->lock);
            unsigned epoch = c->epoch;
            pthread_mutex_unlock(&c->lock);
            send_nack(c, epoch, false, 0, "", &errs);
            free_errors(&errs);
            lws_callback_on_writable(wsi);
            return 0;
        }
        return handle_message(c, wsi);

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(wsi, c);

    case LWS_CALLBACK_CLIENT_CLOSED:
        GW_LOG(c->accepted ? GW_LOG_WARN : GW_LOG_INFO,
               "connection to control plane closed address=%s", c->cp_label);
        drop_connection_state(c);
        schedule_connect(c, true);
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        if (c->wsi) {
            pthread_mutex_lock(&c->lock);
            bool more = c->out_head != NULL || c->kicked;
            pthread_mutex_unlock(&c->lock);
            if (more)
                lws_callback_on_writable(c->wsi);
        }
        return 0;
    }
    default:
        return 0;
    }
}

static void *lws_main(void *arg)
{
    struct dp_cluster_client *c = arg;
    schedule_connect(c, false);
    while (!atomic_load(&c->stop))
        if (lws_service(c->ctx, 0) < 0)
            break;
    return NULL;
}

/* Parses "host:port, [v6]:port, ..." into c->cps. */
static enum gw_err parse_cps(struct dp_cluster_client *c, const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ",");
        char item[256];
        snprintf(item, sizeof(item), "%.*s", (int)(n < sizeof(item) - 1 ? n : sizeof(item) - 1), p);
        p += n;
        size_t e = strlen(item);
        while (e && item[e - 1] == ' ')
            item[--e] = '\0';
        char *colon = strrchr(item, ':');
        char *end;
        if (!colon || colon == item)
            goto bad;
        *colon = '\0';
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (errno || *end || port < 1 || port > 65535)
            goto bad;
        const char *host = item;
        size_t hl = strlen(host);
        if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
            item[hl - 1] = '\0';
            host = item + 1;
        }
        if (c->ncps >= MAX_CPS) {
            GW_LOG(GW_LOG_CRIT, "cluster_control_plane: more than %d addresses", MAX_CPS);
            return GW_ERR_INVALID;
        }
        snprintf(c->cps[c->ncps].host, sizeof(c->cps[0].host), "%.255s", host);
        c->cps[c->ncps].port = (int)port;
        c->ncps++;
        continue;
    bad:
        GW_LOG(GW_LOG_CRIT, "cluster_control_plane: '%s' is not host:port", item);
        return GW_ERR_INVALID;
    }
    if (c->ncps == 0) {
        GW_LOG(GW_LOG_CRIT, "cluster_control_plane is empty");
        return GW_ERR_INVALID;
    }
    return GW_OK;
}

enum gw_err dp_cluster_client_start(const struct gw_conf *conf, dp_cluster_apply_fn apply,
                                    void *apply_arg, dp_cluster_current_fn current,
                                    struct dp_cluster_client **out)
{
    return dp_cluster_client_start_ext(conf, apply, apply_arg, current, NULL, out);
}

void dp_cluster_client_kick(struct dp_cluster_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->kicked = true;
    pthread_mutex_unlock(&c->lock);
    lws_cancel_service(c->ctx);
}

enum gw_err dp_cluster_client_start_ext(const struct gw_conf *conf, dp_cluster_apply_fn apply,
                                        void *apply_arg, dp_cluster_current_fn current,
                                        const struct dp_cluster_ext *ext,
                                        struct dp_cluster_client **out)
{
    enum gw_err rc = GW_ERR_NOMEM;
    char err[512];
    *out = NULL;
    const char *cps = gw_conf_str(conf, "cluster_control_plane");
    if (strcmp(cps, "off") == 0) {
        GW_LOG(GW_LOG_NOTICE, "cluster_control_plane is off: configuration only from the "
                              "disk cache");
        return GW_OK;
    }
    struct dp_cluster_client *c = calloc(1, sizeof(*c));
    if (!c)
        return GW_ERR_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    atomic_init(&c->stop, false);
    c->apply = apply;
    c->apply_arg = apply_arg;
    if (ext)
        c->ext = *ext;
    c->current = current;
    c->pki = strcmp(gw_conf_str(conf, "cluster_mtls"), "pki") == 0;
    c->cert = strdup(gw_conf_str(conf, "cluster_cert"));
    c->key = strdup(gw_conf_str(conf, "cluster_cert_key"));
    c->ca = strdup(gw_conf_str(conf, "cluster_ca_cert"));
    c->server_name = strdup(gw_conf_str(conf, "cluster_server_name"));
    c->max_payload = gw_conf_size(conf, "cluster_max_payload");
    c->hb_interval_s = (int)gw_conf_int(conf, "cluster_heartbeat_interval");
    gw_buf_init(&c->rx, c->max_payload);
    if (!c->cert || !c->key || !c->ca || !c->server_name)
        goto fail;
    rc = parse_cps(c, cps);
    if (rc != GW_OK)
        goto fail;
    rc = dp_cluster_node_id(gw_conf_str(conf, "prefix"), c->node_id);
    if (rc != GW_OK)
        goto fail;
    if (gethostname(c->hostname, sizeof(c->hostname)) == -1)
        snprintf(c->hostname, sizeof(c->hostname), "unknown");
    c->hostname[sizeof(c->hostname) - 1] = '\0';

    X509 *own = gw_x509_load(c->cert, err, sizeof(err));
    if (!own) {
        GW_LOG(GW_LOG_CRIT, "cannot load cluster_cert: %s", err);
        rc = GW_ERR_TLS;
        goto fail;
    }
    gw_x509_digest(own, c->own_digest);
    gw_x509_common_name(own, c->shared_name, sizeof(c->shared_name));
    X509_free(own);
    if (!c->shared_name[0])
        snprintf(c->shared_name, sizeof(c->shared_name), "portico_clustering");
    if (c->pki && !c->ca[0]) {
        GW_LOG(GW_LOG_CRIT, "cluster_mtls = pki needs cluster_ca_cert on the data plane");
        rc = GW_ERR_TLS;
        goto fail;
    }
    if (access(c->key, R_OK) == -1) {
        GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot read cluster_cert_key path=%s", c->key);
        rc = GW_ERR_TLS;
        goto fail;
    }

    lws_set_log_level(LLL_ERR, lws_log_emit);
    c->protocols[0].name = CLUSTER_SUBPROTOCOL;
    c->protocols[0].callback = callback;
    c->protocols[0].rx_buffer_size = 64 * 1024;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.user = c;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    /* shared: trust exactly the cluster certificate (and pin it); pki: the cluster CA */
    info.client_ssl_ca_filepath = c->pki ? c->ca : c->cert;
    info.client_ssl_cert_filepath = c->cert;
    info.client_ssl_private_key_filepath = c->key;
    info.ssl_client_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    info.pt_serv_buf_size = 64 * 1024;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        GW_LOG(GW_LOG_CRIT, "cannot create the cluster client (bad cluster_cert, "
                            "cluster_cert_key or cluster_ca_cert?)");
        rc = GW_ERR_TLS;
        goto fail;
    }
    int e = pthread_create(&c->apply_thread, NULL, apply_main, c);
    if (e) {
        GW_LOG_ERRNO(GW_LOG_CRIT, e, "cannot start the snapshot apply thread");
        rc = GW_ERR_IO;
        goto fail;
    }
    c->apply_started = true;
    e = pthread_create(&c->lws_thread, NULL, lws_main, c);
    if (e) {
        GW_LOG_ERRNO(GW_LOG_CRIT, e, "cannot start the cluster client thread");
        rc = GW_ERR_IO;
        goto fail;
    }
    c->lws_started = true;
    GW_LOG(GW_LOG_NOTICE, "cluster client started node_id=%s control_planes=%zu mode=%s",
           c->node_id, c->ncps, c->pki ? "pki" : "shared");
    *out = c;
    return GW_OK;
fail:
    dp_cluster_client_stop(c);
    return rc;
}

void dp_cluster_client_stop(struct dp_cluster_client *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, true);
    if (c->lws_started) {
        lws_cancel_service(c->ctx);
        pthread_join(c->lws_thread, NULL);
    }
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->apply_started)
        pthread_join(c->apply_thread, NULL);
    if (c->ctx)
        lws_context_destroy(c->ctx);
    drop_connection_state(c);
    if (c->pending)
        portico__v1__cluster_message__free_unpacked(c->pending, NULL);
    gw_buf_cleanup(&c->rx);
    free(c->tx_buf);
    free(c->cert);
    free(c->key);
    free(c->ca);
    free(c->server_name);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
