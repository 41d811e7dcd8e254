/* cp/cluster/cp_cluster_server.c: the libwebsockets cluster server (mTLS, Hello, snapshots,
 * Ack/Nack/Heartbeat, registry updates).
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_server.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cp_cluster_version.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_uuid.h"
#include "gw_x509.h"

#define TX_CHUNK    (64 * 1024)
#define HELLO_SECS  10
#define NACK_MEMORY 256 /* nodes whose rejected hash is remembered across reconnects */
#define MAX_CN_LIST 32

enum conn_state {
    CONN_AWAIT_HELLO = 0,
    CONN_ACCEPTED,
    CONN_REFUSED,     /* HelloReply(refused) queued; close once it is sent */
    CONN_STATE_COUNT_ /* keep last */
};

struct nack_memo {
    char node_id[40];
    char hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
};

struct cp_cluster_server {
    struct cp_cluster_server_opts o;
    struct gw_listen listen[GW_LISTEN_MAX];
    char vhost_names[GW_LISTEN_MAX][32]; /* lws keeps the pointer */
    size_t nlisten;
    char *cert, *key, *ca, *cp_id;
    char cns[MAX_CN_LIST][128];
    size_t ncns;
    unsigned char own_digest[GW_X509_DIGEST_LEN];
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    pthread_t thread;
    atomic_bool stop;

    pthread_mutex_t lock;
    struct cp_cluster_snap *pending; /* published, not yet seen by the server thread */
    bool kicked;                     /* extension messages may be waiting */

    /* server thread only */
    struct cp_cluster_snap *current;
    struct nack_memo nacks[NACK_MEMORY];
    size_t nack_next;
};

/* Per connection, allocated (zeroed) by lws. */
struct conn {
    enum conn_state state;
    struct cp_cluster_reg_row *row; /* owned */
    char peer[64];
    char cn[128];
    struct gw_buf rx;
    /* the message being sent */
    uint8_t *tx_owned;               /* owned bytes (HelloReply), or NULL */
    struct cp_cluster_snap *tx_snap; /* or a snapshot reference */
    const uint8_t *tx_data;
    size_t tx_len, tx_off;
    uint8_t *tx_buf; /* LWS_PRE + TX_CHUNK, owned */
    /* snapshot bookkeeping */
    int64_t sent_revision;
    char sent_hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
    char nacked_hash[GW_SNAPSHOT_HASH_HEXLEN + 1];
    uint8_t *reply; /* queued HelloReply bytes (owned) */
    size_t reply_len;
    bool hb_due;         /* a Heartbeat answer is owed */
    uint64_t ext_cursor; /* position in the extension's outgoing messages */
    int idle_timeout;    /* seconds of silence before the connection is dropped */
};

/* The one server of this process. The TLS verification and cancel callbacks run with internal
 * wsis, so the server is found here rather than through the wsi. */
static struct cp_cluster_server *g_server;

static struct cp_cluster_server *server_of(struct lws *wsi)
{
    (void)wsi;
    return g_server;
}

/* ---- nack memory (server thread) ---- */

static const char *nack_lookup(struct cp_cluster_server *s, const char *node_id)
{
    for (size_t i = 0; i < NACK_MEMORY; i++)
        if (s->nacks[i].node_id[0] && strcmp(s->nacks[i].node_id, node_id) == 0)
            return s->nacks[i].hash;
    return "";
}

static void nack_remember(struct cp_cluster_server *s, const char *node_id, const char *hash)
{
    for (size_t i = 0; i < NACK_MEMORY; i++)
        if (strcmp(s->nacks[i].node_id, node_id) == 0) {
            snprintf(s->nacks[i].hash, sizeof(s->nacks[i].hash), "%s", hash);
            return;
        }
    struct nack_memo *m = &s->nacks[s->nack_next++ % NACK_MEMORY];
    snprintf(m->node_id, sizeof(m->node_id), "%s", node_id);
    snprintf(m->hash, sizeof(m->hash), "%s", hash);
}

static void nack_forget(struct cp_cluster_server *s, const char *node_id)
{
    for (size_t i = 0; i < NACK_MEMORY; i++)
        if (strcmp(s->nacks[i].node_id, node_id) == 0)
            s->nacks[i].node_id[0] = '\0';
}

/* ---- sending ---- */

static void tx_done(struct conn *c)
{
    free(c->tx_owned);
    c->tx_owned = NULL;
    cp_cluster_snap_unref(c->tx_snap);
    c->tx_snap = NULL;
    c->tx_data = NULL;
    c->tx_len = c->tx_off = 0;
}

/* true when the current snapshot should go to this connection */
static bool snapshot_due(struct cp_cluster_server *s, struct conn *c)
{
    if (c->state != CONN_ACCEPTED || !s->current)
        return false;
    if (c->sent_revision == s->current->revision && strcmp(c->sent_hash, s->current->hash) == 0)
        return false;
    /* a rejected configuration is not offered again until it changes */
    if (strcmp(c->nacked_hash, s->current->hash) == 0)
        return false;
    return true;
}

static bool queue_reply(struct conn *c, const Portico__V1__HelloReply *r)
{
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HELLO_REPLY;
    m.hello_reply = (Portico__V1__HelloReply *)r;
    size_t len = portico__v1__cluster_message__get_packed_size(&m);
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return false;
    portico__v1__cluster_message__pack(&m, b);
    free(c->reply);
    c->reply = b;
    c->reply_len = len;
    return true;
}

/* Makes the answer to a data plane Heartbeat the message in progress. */
static bool build_heartbeat(struct cp_cluster_server *s, struct conn *c)
{
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    Portico__V1__Heartbeat h = PORTICO__V1__HEARTBEAT__INIT;
    h.has_applied_revision = 1;
    h.applied_revision = s->current ? s->current->revision : 0;
    h.applied_hash = s->current ? s->current->hash : "";
    h.has_unix_ms = 1;
    h.unix_ms = gw_time_unix_ms();
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HEARTBEAT;
    m.heartbeat = &h;
    size_t len = portico__v1__cluster_message__get_packed_size(&m);
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return false;
    portico__v1__cluster_message__pack(&m, b);
    c->tx_owned = b;
    c->tx_data = b;
    c->tx_len = len;
    return true;
}

/* Writes the next chunk of the message in progress, or starts the next message. Returns -1 to
 * close the connection. */
static int on_writeable(struct lws *wsi, struct cp_cluster_server *s, struct conn *c)
{
    if (!c->tx_data) {
        if (c->reply) {
            c->tx_owned = c->reply;
            c->tx_data = c->reply;
            c->tx_len = c->reply_len;
            c->reply = NULL;
        } else if (snapshot_due(s, c)) {
            c->tx_snap = cp_cluster_snap_ref(s->current);
            c->tx_data = c->tx_snap->wire;
            c->tx_len = c->tx_snap->len;
            c->sent_revision = s->current->revision;
            memcpy(c->sent_hash, s->current->hash, sizeof(c->sent_hash));
            GW_LOG(GW_LOG_INFO,
                   "sending snapshot node_id=%s peer=%s revision=%lld hash=%s bytes=%zu",
                   c->row ? c->row->id : "-", c->peer, (long long)c->tx_snap->revision,
                   c->tx_snap->hash, c->tx_len);
        } else if (c->hb_due) {
            c->hb_due = false;
            if (!build_heartbeat(s, c))
                return -1;
        } else if (c->state == CONN_ACCEPTED && s->o.ext.next &&
                   s->o.ext.next(s->o.ext.arg, &c->ext_cursor, &c->tx_owned, &c->tx_len)) {
            c->tx_data = c->tx_owned;
        } else if (c->state == CONN_REFUSED) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"refused", 7);
            return -1;
        } else {
            return 0;
        }
    }
    if (!c->tx_buf) {
        c->tx_buf = malloc(LWS_PRE + TX_CHUNK);
        if (!c->tx_buf)
            return -1;
    }
    size_t n = c->tx_len - c->tx_off;
    if (n > TX_CHUNK)
        n = TX_CHUNK;
    bool first = c->tx_off == 0, last = c->tx_off + n == c->tx_len;
    memcpy(c->tx_buf + LWS_PRE, c->tx_data + c->tx_off, n);
    int flags = lws_write_ws_flags(LWS_WRITE_BINARY, first, last);
    if (lws_write(wsi, c->tx_buf + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n) {
        GW_LOG(GW_LOG_WARN, "write to data plane failed peer=%s", c->peer);
        return -1;
    }
    c->tx_off += n;
    if (c->tx_off == c->tx_len)
        tx_done(c);
    /* more to send; extension messages are polled again on the next kick or write */
    if (c->tx_data || c->reply || c->hb_due || snapshot_due(s, c) || c->state == CONN_REFUSED ||
        (c->state == CONN_ACCEPTED && s->o.ext.next))
        lws_callback_on_writable(wsi);
    return 0;
}

/* ---- receiving ---- */

static void registry_put(struct cp_cluster_server *s, struct conn *c)
{
    if (c->row && c->row->id[0])
        cp_cluster_registry_put(s->o.registry, c->row);
}

static void handle_hello(struct lws *wsi, struct cp_cluster_server *s, struct conn *c,
                         const Portico__V1__Hello *h)
{
    Portico__V1__HelloReply r = PORTICO__V1__HELLO_REPLY__INIT;
    char reason[512] = "";
    const char *node_id = h->node_id ? h->node_id : "";
    r.has_accepted = 1;
    r.control_plane_id = s->cp_id;
    r.version = PORTICO_VERSION;
    bool ok = false;
    if (!gw_uuid_valid(node_id))
        snprintf(reason, sizeof(reason), "node_id '%.40s' is not a UUID", node_id);
    else if (!cp_cluster_version_compatible(PORTICO_VERSION, h->version, reason, sizeof(reason)))
        ;
    else
        ok = true;
    struct cp_cluster_reg_row *row = c->row;
    if (gw_uuid_valid(node_id)) {
        snprintf(row->id, sizeof(row->id), "%s", node_id);
        snprintf(row->hostname, sizeof(row->hostname), "%s", h->hostname ? h->hostname : "");
        snprintf(row->ip, sizeof(row->ip), "%s", c->peer);
        snprintf(row->version, sizeof(row->version), "%s", h->version ? h->version : "");
        snprintf(row->config_hash, sizeof(row->config_hash), "%s",
                 h->applied_hash ? h->applied_hash : "");
        row->applied_revision = h->has_applied_revision ? h->applied_revision : -1;
    }
    if (!ok) {
        r.accepted = 0;
        r.reason = reason;
        GW_LOG(GW_LOG_WARN,
               "control plane refused data plane node_id=%s hostname=%s peer=%s version=%s "
               "reason=\"%s\"",
               node_id, h->hostname ? h->hostname : "", c->peer, h->version ? h->version : "",
               reason);
        row->connected = false;
        snprintf(row->sync_status, sizeof(row->sync_status), "kong_version_incompatible");
        snprintf(row->last_error, sizeof(row->last_error), "refused at hello: %s", reason);
        registry_put(s, c);
        c->state = CONN_REFUSED;
    } else {
        r.accepted = 1;
        c->state = CONN_ACCEPTED;
        int hb =
            h->has_heartbeat_interval && h->heartbeat_interval > 0 ? h->heartbeat_interval : 10;
        c->idle_timeout = hb > 3600 ? 3 * 3600 + 5 : 3 * hb + 5;
        row->heartbeat_interval = hb;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, c->idle_timeout);
        snprintf(c->nacked_hash, sizeof(c->nacked_hash), "%s", nack_lookup(s, node_id));
        /* A data plane that already runs the current config gets nothing new. */
        if (s->current && h->applied_hash && strcmp(h->applied_hash, s->current->hash) == 0 &&
            h->has_applied_revision && h->applied_revision == s->current->revision) {
            c->sent_revision = s->current->revision;
            memcpy(c->sent_hash, s->current->hash, sizeof(c->sent_hash));
        }
        row->connected = true;
        snprintf(row->sync_status, sizeof(row->sync_status), "%s",
                 s->current && h->applied_hash && strcmp(h->applied_hash, s->current->hash) == 0
                     ? "normal"
                     : "unknown");
        row->last_error[0] = '\0';
        registry_put(s, c);
        if (s->o.ext.cursor_init)
            c->ext_cursor = s->o.ext.cursor_init(s->o.ext.arg);
        if (s->o.ext.connected)
            s->o.ext.connected(s->o.ext.arg, row->id, row->hostname);
        GW_LOG(GW_LOG_NOTICE,
               "data plane connected node_id=%s hostname=%s peer=%s version=%s cn=%s "
               "applied_revision=%lld",
               node_id, row->hostname, c->peer, row->version, c->cn,
               (long long)row->applied_revision);
    }
    if (!queue_reply(c, &r)) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_callback_on_writable(wsi);
}

static void handle_ack(struct cp_cluster_server *s, struct conn *c, const Portico__V1__Ack *a)
{
    struct cp_cluster_reg_row *row = c->row;
    const char *hash = a->hash ? a->hash : "";
    snprintf(row->config_hash, sizeof(row->config_hash), "%s", hash);
    row->applied_revision = a->has_revision ? a->revision : -1;
    row->last_error[0] = '\0';
    snprintf(row->sync_status, sizeof(row->sync_status), "%s",
             s->current && strcmp(hash, s->current->hash) == 0 ? "normal" : "unknown");
    c->nacked_hash[0] = '\0';
    nack_forget(s, row->id);
    registry_put(s, c);
    GW_LOG(GW_LOG_INFO,
           "data plane applied snapshot node_id=%s revision=%lld hash=%s apply_ms=%.1f", row->id,
           (long long)row->applied_revision, hash,
           a->has_apply_micros ? (double)a->apply_micros / 1000.0 : 0.0);
}

static void handle_nack(struct cp_cluster_server *s, struct conn *c, const Portico__V1__Nack *n)
{
    struct cp_cluster_reg_row *row = c->row;
    struct gw_buf b;
    gw_buf_init(&b, sizeof(row->last_error) - 1);
    gw_buf_appendf(&b, "revision %lld rejected:", n->has_revision ? (long long)n->revision : -1LL);
    for (size_t i = 0; i < n->n_errors; i++) {
        const Portico__V1__ValidationError *e = n->errors[i];
        if (gw_buf_appendf(&b, "%s %s%s%s%s%s: %s", i ? ";" : "", e->entity ? e->entity : "",
                           e->id && e->id[0] ? " " : "", e->id ? e->id : "",
                           e->field && e->field[0] ? " " : "", e->field ? e->field : "",
                           e->message ? e->message : "") != GW_OK)
            break;
    }
    snprintf(row->last_error, sizeof(row->last_error), "%s", b.data ? b.data : "");
    gw_buf_cleanup(&b);
    snprintf(row->sync_status, sizeof(row->sync_status), "config_rejected");
    /* a Nack without a hash (message too large to read) is about what was sent last */
    const char *hash = n->hash && n->hash[0] ? n->hash : c->sent_hash;
    snprintf(c->nacked_hash, sizeof(c->nacked_hash), "%s", hash);
    nack_remember(s, row->id, hash);
    registry_put(s, c);
    GW_LOG(GW_LOG_WARN, "data plane rejected snapshot node_id=%s hash=%s errors=\"%s\"", row->id,
           hash, row->last_error);
}

static void handle_heartbeat(struct lws *wsi, struct cp_cluster_server *s, struct conn *c,
                             const Portico__V1__Heartbeat *h)
{
    c->hb_due = true;
    lws_callback_on_writable(wsi);
    struct cp_cluster_reg_row *row = c->row;
    const char *hash = h->applied_hash ? h->applied_hash : "";
    /* the same configuration acknowledged under a newer revision keeps that revision */
    bool same = strcmp(row->config_hash, hash) == 0;
    snprintf(row->config_hash, sizeof(row->config_hash), "%s", hash);
    if (h->has_applied_revision && !(same && h->applied_revision < row->applied_revision))
        row->applied_revision = h->applied_revision;
    if (strcmp(row->sync_status, "config_rejected") != 0)
        snprintf(row->sync_status, sizeof(row->sync_status), "%s",
                 s->current && strcmp(hash, s->current->hash) == 0 ? "normal" : "unknown");
    registry_put(s, c);
}

/* Handles one complete message. Returns -1 to close. */
static int handle_message(struct lws *wsi, struct cp_cluster_server *s, struct conn *c)
{
    Portico__V1__ClusterMessage *m =
        portico__v1__cluster_message__unpack(NULL, c->rx.len, (const uint8_t *)c->rx.data);
    gw_buf_reset(&c->rx);
    if (!m) {
        GW_LOG(GW_LOG_WARN,
               "control plane closed data plane connection: malformed message node_id=%s "
               "peer=%s",
               c->row->id[0] ? c->row->id : "-", c->peer);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_INVALID_PAYLOAD, (unsigned char *)"malformed", 9);
        return -1;
    }
    int rc = 0;
    if (c->state == CONN_AWAIT_HELLO) {
        if (m->msg_case != PORTICO__V1__CLUSTER_MESSAGE__MSG_HELLO) {
            GW_LOG(GW_LOG_WARN,
                   "control plane closed data plane connection: first message is not a Hello "
                   "peer=%s",
                   c->peer);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                             (unsigned char *)"hello expected", 14);
            rc = -1;
        } else {
            handle_hello(wsi, s, c, m->hello);
        }
    } else if (c->state == CONN_ACCEPTED) {
        /* any message proves the data plane alive */
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, c->idle_timeout);
        switch (m->msg_case) {
        case PORTICO__V1__CLUSTER_MESSAGE__MSG_ACK:
            handle_ack(s, c, m->ack);
            break;
        case PORTICO__V1__CLUSTER_MESSAGE__MSG_NACK:
            handle_nack(s, c, m->nack);
            break;
        case PORTICO__V1__CLUSTER_MESSAGE__MSG_HEARTBEAT:
            handle_heartbeat(wsi, s, c, m->heartbeat);
            break;
        default:
            if (s->o.ext.message) {
                s->o.ext.message(s->o.ext.arg, c->row->id, c->row->hostname, m);
                break;
            }
            GW_LOG(GW_LOG_INFO, "ignoring unexpected message from data plane node_id=%s case=%d",
                   c->row->id, (int)m->msg_case);
            break;
        }
    }
    portico__v1__cluster_message__free_unpacked(m, NULL);
    return rc;
}

/* ---- TLS checks ---- */

static void strip_v4mapped(char *peer)
{
    if (strncmp(peer, "::ffff:", 7) == 0)
        memmove(peer, peer + 7, strlen(peer + 7) + 1);
}

static void peer_of_ssl(SSL *ssl, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = ssl ? SSL_get_fd(ssl) : -1;
    snprintf(out, outlen, "-");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)outlen);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)outlen);
    strip_v4mapped(out);
}

/* The client certificate check (lws calls it once per chain depth; preverify = OpenSSL's
 * verdict). Returns 0 to accept, 1 to refuse. */
static int verify_client(struct cp_cluster_server *s, X509_STORE_CTX *xs, SSL *ssl, int preverify)
{
    int depth = X509_STORE_CTX_get_error_depth(xs);
    X509 *cert = X509_STORE_CTX_get_current_cert(xs);
    char subject[256] = "", peer[64];
    if (cert)
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    peer_of_ssl(ssl, peer, sizeof(peer));
    if (!preverify) {
        int err = X509_STORE_CTX_get_error(xs);
        GW_LOG(GW_LOG_WARN,
               "control plane refused data plane certificate peer=%s mode=%s depth=%d "
               "subject=\"%s\" reason=\"%s\"",
               peer, s->o.pki ? "pki" : "shared", depth, subject,
               X509_verify_cert_error_string(err));
        return 1;
    }
    if (depth != 0)
        return 0;
    if (!s->o.pki) {
        unsigned char d[GW_X509_DIGEST_LEN];
        if (gw_x509_digest(cert, d) != GW_OK || memcmp(d, s->own_digest, sizeof(d)) != 0) {
            GW_LOG(GW_LOG_WARN,
                   "control plane refused data plane certificate peer=%s mode=shared "
                   "subject=\"%s\" reason=\"not the cluster certificate (SHA-256 digest differs)\"",
                   peer, subject);
            return 1;
        }
        return 0;
    }
    if (s->ncns) {
        char cn[128];
        gw_x509_common_name(cert, cn, sizeof(cn));
        for (size_t i = 0; i < s->ncns; i++)
            if (strcmp(cn, s->cns[i]) == 0)
                return 0;
        GW_LOG(GW_LOG_WARN,
               "control plane refused data plane certificate peer=%s mode=pki cn=\"%s\" "
               "reason=\"common name not in cluster_allowed_common_names\"",
               peer, cn);
        return 1;
    }
    return 0;
}

/* ---- the protocol callback ---- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct cp_cluster_server *s;
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        s = server_of(wsi);
        return verify_client(s, (X509_STORE_CTX *)user, (SSL *)in, (int)len);

    case LWS_CALLBACK_SSL_INFO: {
        const struct lws_ssl_info *si = in;
        SSL *ssl = lws_get_ssl(wsi);
        /* fatal alerts we send during the handshake (never on an established data plane
         * connection, whose teardown may send one too): a refused client */
        if ((si->where & SSL_CB_ALERT) && (si->where & SSL_CB_WRITE) &&
            strcmp(SSL_alert_type_string(si->ret), "F") == 0 && ssl && SSL_in_init(ssl) &&
            !(c && c->row)) {
            char peer[64] = "-";
            peer_of_ssl(ssl, peer, sizeof(peer));
            int code = si->ret & 0xff;
            /* OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116) */
            const char *desc = code == 116 ? "certificate required: the client sent no "
                                             "certificate"
                                           : SSL_alert_desc_string_long(si->ret);
            GW_LOG(GW_LOG_WARN,
                   "control plane refused TLS connection peer=%s alert=%d "
                   "reason=\"%s\"",
                   peer, code, desc);
        }
        return 0;
    }

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[128] = "";
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
            strcmp(uri, CP_CLUSTER_PATH) != 0) {
            char peer[64] = "-";
            lws_get_peer_simple(wsi, peer, sizeof(peer));
            GW_LOG(GW_LOG_WARN, "control plane refused websocket on unknown path peer=%s path=%s",
                   peer, uri);
            return 1;
        }
        return 0;
    }

    case LWS_CALLBACK_HTTP:
        /* plain HTTP on the cluster port: nothing to serve */
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
        return -1;

    case LWS_CALLBACK_ESTABLISHED: {
        s = server_of(wsi);
        memset(c, 0, sizeof(*c));
        c->row = calloc(1, sizeof(*c->row));
        if (!c->row)
            return -1;
        c->row->applied_revision = -1;
        c->sent_revision = -1;
        gw_buf_init(&c->rx, s->o.max_payload);
        lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
        strip_v4mapped(c->peer);
        SSL *ssl = lws_get_ssl(wsi);
        X509 *pc = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
        if (!pc) {
            /* cannot happen with REQUIRE_VALID_OPENSSL_CLIENT_CERT; refuse anyway */
            GW_LOG(GW_LOG_WARN,
                   "control plane refused data plane peer=%s reason=\"no client "
                   "certificate\"",
                   c->peer);
            return -1;
        }
        gw_x509_common_name(pc, c->cn, sizeof(c->cn));
        c->row->cert_expiry = gw_x509_not_after(pc);
        X509_free(pc);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, HELLO_SECS);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE: {
        s = server_of(wsi);
        if (!c->row)
            return -1;
        if (lws_is_first_fragment(wsi))
            gw_buf_reset(&c->rx);
        if (gw_buf_append(&c->rx, in, len) != GW_OK) {
            GW_LOG(GW_LOG_WARN,
                   "control plane closed data plane connection: message larger than "
                   "cluster_max_payload node_id=%s peer=%s limit=%zu",
                   c->row->id[0] ? c->row->id : "-", c->peer, s->o.max_payload);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too big",
                             7);
            return -1;
        }
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
            return 0;
        return handle_message(wsi, s, c);
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
        s = server_of(wsi);
        if (!c->row)
            return -1;
        return on_writeable(wsi, s, c);

    case LWS_CALLBACK_CLOSED:
        s = server_of(wsi);
        if (c->row) {
            if (c->state == CONN_ACCEPTED) {
                c->row->connected = false;
                registry_put(s, c);
                if (s->o.ext.gone)
                    s->o.ext.gone(s->o.ext.arg, c->row->id);
                GW_LOG(GW_LOG_NOTICE, "data plane disconnected node_id=%s peer=%s", c->row->id,
                       c->peer);
            }
            free(c->row);
            c->row = NULL;
        }
        tx_done(c);
        free(c->reply);
        c->reply = NULL;
        free(c->tx_buf);
        c->tx_buf = NULL;
        gw_buf_cleanup(&c->rx);
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        s = server_of(wsi);
        if (!s || !s->ctx)
            return 0;
        pthread_mutex_lock(&s->lock);
        struct cp_cluster_snap *p = s->pending;
        s->pending = NULL;
        bool kicked = s->kicked;
        s->kicked = false;
        pthread_mutex_unlock(&s->lock);
        if (p) {
            cp_cluster_snap_unref(s->current);
            s->current = p;
        }
        if (p || kicked)
            lws_callback_on_writable_all_protocol(s->ctx, &s->protocols[0]);
        return 0;
    }

    default:
        return 0;
    }
}

/* ---- lifecycle ---- */

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", line);
    buf[strcspn(buf, "\n")] = '\0';
    GW_LOG(level == LLL_ERR ? GW_LOG_WARN : GW_LOG_INFO, "libwebsockets: %s", buf);
}

static void *server_main(void *arg)
{
    struct cp_cluster_server *s = arg;
    while (!atomic_load(&s->stop))
        if (lws_service(s->ctx, 0) < 0)
            break;
    return NULL;
}

void cp_cluster_server_publish(struct cp_cluster_server *s, struct cp_cluster_snap *snap)
{
    pthread_mutex_lock(&s->lock);
    cp_cluster_snap_unref(s->pending);
    s->pending = snap;
    pthread_mutex_unlock(&s->lock);
    lws_cancel_service(s->ctx);
}

void cp_cluster_server_kick(struct cp_cluster_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->kicked = true;
    pthread_mutex_unlock(&s->lock);
    lws_cancel_service(s->ctx);
}

static void parse_cns(struct cp_cluster_server *s, const char *list)
{
    const char *p = list ? list : "";
    while (*p && s->ncns < MAX_CN_LIST) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t e = n;
        while (e > 0 && p[e - 1] == ' ')
            e--;
        if (e > 0) {
            snprintf(s->cns[s->ncns], sizeof(s->cns[0]), "%.*s", (int)e, p);
            s->ncns++;
        }
        p += n;
    }
}

enum gw_err cp_cluster_server_start(const struct cp_cluster_server_opts *opts,
                                    struct cp_cluster_server **out)
{
    enum gw_err rc = GW_ERR_NOMEM;
    char err[512];
    struct cp_cluster_server *s = calloc(1, sizeof(*s));
    if (!s)
        return GW_ERR_NOMEM;
    s->o = *opts;
    s->nlisten = opts->nlisten < GW_LISTEN_MAX ? opts->nlisten : GW_LISTEN_MAX;
    if (s->nlisten)
        memcpy(s->listen, opts->listen, s->nlisten * sizeof(s->listen[0]));
    s->o.listen = s->listen;
    s->cert = strdup(opts->cert);
    s->key = strdup(opts->key);
    s->ca = strdup(opts->ca ? opts->ca : "");
    s->cp_id = strdup(opts->cp_id);
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->stop, false);
    if (!s->nlisten || !s->cert || !s->key || !s->ca || !s->cp_id)
        goto fail;
    parse_cns(s, opts->allowed_cns);

    X509 *own = gw_x509_load(s->cert, err, sizeof(err));
    if (!own) {
        GW_LOG(GW_LOG_CRIT, "cannot load cluster_cert: %s", err);
        rc = GW_ERR_TLS;
        goto fail;
    }
    gw_x509_digest(own, s->own_digest);
    X509_free(own);
    if (opts->pki && !s->ca[0]) {
        GW_LOG(GW_LOG_CRIT, "cluster_mtls = pki needs cluster_ca_cert");
        rc = GW_ERR_TLS;
        goto fail;
    }

    lws_set_log_level(LLL_ERR, lws_log_emit);
    s->protocols[0].name = CP_CLUSTER_SUBPROTOCOL;
    s->protocols[0].callback = callback;
    s->protocols[0].per_session_data_size = sizeof(struct conn);
    s->protocols[0].rx_buffer_size = 64 * 1024;

    /* One context, one vhost per cluster_listen address (each with its own listen socket and
     * the same TLS settings and protocol), all served by the one server thread. */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.user = s;
    info.pt_serv_buf_size = 64 * 1024;
    g_server = s; /* callbacks may run during creation */
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        g_server = NULL;
        GW_LOG(GW_LOG_CRIT, "cannot create the cluster listener context");
        rc = GW_ERR_IO;
        goto fail;
    }
    for (size_t i = 0; i < s->nlisten; i++) {
        const struct gw_listen *l = &s->listen[i];
        snprintf(s->vhost_names[i], sizeof(s->vhost_names[i]), "cluster%zu", i);
        memset(&info, 0, sizeof(info));
        info.vhost_name = s->vhost_names[i];
        info.port = l->port;
        info.iface = strcmp(l->host, "0.0.0.0") == 0 || strcmp(l->host, "*") == 0 ? NULL : l->host;
        info.protocols = s->protocols;
        info.user = s;
        info.options = LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
                       LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS |
                       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
        /* An IPv4 address on an IPv6 vhost is not bound: lws 4.1 writes it into the
         * sockaddr_in6 at the sockaddr_in offsets and the socket ends up on [::], every
         * interface. IPv4 addresses get an IPv4-only vhost. */
        struct in_addr a4;
        if (inet_pton(AF_INET, l->host, &a4) == 1)
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
        info.ssl_cert_filepath = s->cert;
        info.ssl_private_key_filepath = s->key;
        /* shared: the only trusted "CA" is the cluster certificate itself (then pinned by
         * digest) */
        info.ssl_ca_filepath = opts->pki ? s->ca : s->cert;
        info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        info.ssl_info_event_mask = SSL_CB_ALERT;
        if (!lws_create_vhost(s->ctx, &info)) {
            GW_LOG(GW_LOG_CRIT,
                   "cannot start the cluster listener address=%s:%d (port busy, or bad "
                   "cluster_cert/cluster_cert_key/cluster_ca_cert)",
                   l->host, l->port);
            lws_context_destroy(s->ctx);
            g_server = NULL;
            rc = GW_ERR_IO;
            goto fail;
        }
    }
    g_server = s;
    int e = pthread_create(&s->thread, NULL, server_main, s);
    if (e) {
        GW_LOG_ERRNO(GW_LOG_CRIT, e, "cannot start the cluster server thread");
        lws_context_destroy(s->ctx);
        g_server = NULL;
        rc = GW_ERR_IO;
        goto fail;
    }
    for (size_t i = 0; i < s->nlisten; i++)
        GW_LOG(GW_LOG_NOTICE, "cluster listener started address=%s:%d mode=%s path=%s",
               s->listen[i].host, s->listen[i].port, opts->pki ? "pki" : "shared", CP_CLUSTER_PATH);
    *out = s;
    return GW_OK;
fail:
    free(s->cert);
    free(s->key);
    free(s->ca);
    free(s->cp_id);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}

void cp_cluster_server_stop(struct cp_cluster_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    lws_context_destroy(s->ctx);
    g_server = NULL;
    cp_cluster_snap_unref(s->pending);
    cp_cluster_snap_unref(s->current);
    pthread_mutex_destroy(&s->lock);
    free(s->cert);
    free(s->key);
    free(s->ca);
    free(s->cp_id);
    free(s);
}
