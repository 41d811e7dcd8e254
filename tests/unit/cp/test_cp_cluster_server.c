/* tests/unit/cp/test_cp_cluster_server.c: the cluster server in-process, without PostgreSQL:
 * a libwebsockets client with the shared certificate says Hello, gets the HelloReply and the
 * published snapshot, and exercises the extension hooks (connected, message, gone, outgoing
 * messages after a kick).
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "cluster/cp_cluster_gencert.h"
#include "cluster/cp_cluster_server.h"
#include "cluster/cp_cluster_snap.h"
#include "gw_time.h"

#define NODE_ID "0b7c3b6e-4d7e-4d1a-9d35-3a3a3a3a3a3a"

/* Two libwebsockets contexts with global TLS init in one process (server and test client)
 * leave OpenSSL's global state unreleased at exit; LeakSanitizer reports it as indirect leaks
 * inside libcrypto/libssl. The real processes (one context each) are leak-checked by the e2e
 * tests, so OpenSSL-internal allocations are not reported for this test program only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\nleak:libssl.so\n";
}

/* ---- extension hooks (server thread) ---- */

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_connected, n_gone, n_messages;
static char connected_id[64];
static int last_message_case;
static int n_outgoing_available; /* messages the extension has for each connection */

static void on_connected(void *arg, const char *node_id, const char *hostname)
{
    (void)arg;
    (void)hostname;
    pthread_mutex_lock(&hook_lock);
    n_connected++;
    snprintf(connected_id, sizeof(connected_id), "%s", node_id);
    pthread_mutex_unlock(&hook_lock);
}

static void on_gone(void *arg, const char *node_id)
{
    (void)arg;
    (void)node_id;
    pthread_mutex_lock(&hook_lock);
    n_gone++;
    pthread_mutex_unlock(&hook_lock);
}

static void on_message(void *arg, const char *node_id, const char *hostname,
                       const Portico__V1__ClusterMessage *m)
{
    (void)arg;
    (void)node_id;
    (void)hostname;
    pthread_mutex_lock(&hook_lock);
    n_messages++;
    last_message_case = (int)m->msg_case;
    pthread_mutex_unlock(&hook_lock);
}

static uint64_t cursor_init(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&hook_lock);
    uint64_t c = (uint64_t)n_outgoing_available;
    pthread_mutex_unlock(&hook_lock);
    return c;
}

static bool next_msg(void *arg, uint64_t *cursor, uint8_t **out, size_t *len)
{
    (void)arg;
    pthread_mutex_lock(&hook_lock);
    bool have = *cursor < (uint64_t)n_outgoing_available;
    pthread_mutex_unlock(&hook_lock);
    if (!have)
        return false;
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    Portico__V1__HealthCommand hc = PORTICO__V1__HEALTH_COMMAND__INIT;
    hc.upstream = "up";
    hc.target = "10.0.0.1:80";
    hc.has_healthy = 1;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_COMMAND;
    m.health_command = &hc;
    *len = portico__v1__cluster_message__get_packed_size(&m);
    *out = malloc(*len);
    portico__v1__cluster_message__pack(&m, *out);
    (*cursor)++;
    return true;
}

/* ---- a minimal data plane (lws client, test thread) ---- */

struct client {
    struct lws_context *ctx;
    struct lws *wsi;
    bool established, closed, close_now;
    int replies, snapshots, commands;
    bool accepted;
    int64_t snap_revision;
    uint8_t out[LWS_PRE + 4096];
    size_t out_len;
    uint8_t rx[1 << 16];
    size_t rx_len;
};

static struct client cl;

static void client_queue(const Portico__V1__ClusterMessage *m)
{
    cl.out_len = portico__v1__cluster_message__get_packed_size(m);
    assert_true(cl.out_len < sizeof(cl.out) - LWS_PRE);
    portico__v1__cluster_message__pack(m, cl.out + LWS_PRE);
    lws_callback_on_writable(cl.wsi);
    lws_cancel_service(cl.ctx); /* requested outside a callback: wake the next service */
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        cl.established = true;
        Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
        Portico__V1__Hello h = PORTICO__V1__HELLO__INIT;
        h.node_id = NODE_ID;
        h.hostname = "unit";
        h.version = PORTICO_VERSION;
        m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HELLO;
        m.hello = &h;
        client_queue(&m);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (cl.close_now)
            return -1;
        if (cl.out_len) {
            lws_write(wsi, cl.out + LWS_PRE, cl.out_len, LWS_WRITE_BINARY);
            cl.out_len = 0;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (lws_is_first_fragment(wsi))
            cl.rx_len = 0;
        if (cl.rx_len + len > sizeof(cl.rx))
            return -1;
        memcpy(cl.rx + cl.rx_len, in, len);
        cl.rx_len += len;
        if (!lws_is_final_fragment(wsi))
            return 0;
        Portico__V1__ClusterMessage *m =
            portico__v1__cluster_message__unpack(NULL, cl.rx_len, cl.rx);
        if (!m)
            return -1;
        if (m->msg_case == PORTICO__V1__CLUSTER_MESSAGE__MSG_HELLO_REPLY) {
            cl.replies++;
            cl.accepted = m->hello_reply->accepted;
        } else if (m->msg_case == PORTICO__V1__CLUSTER_MESSAGE__MSG_SNAPSHOT) {
            cl.snapshots++;
            cl.snap_revision = m->snapshot->revision;
        } else if (m->msg_case == PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_COMMAND) {
            cl.commands++;
        }
        portico__v1__cluster_message__free_unpacked(m, NULL);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        cl.closed = true;
        cl.wsi = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    {CP_CLUSTER_SUBPROTOCOL, client_cb, 0, 1 << 16, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Services the client until cond holds or 10 s pass. */
#define PUMP_UNTIL(cond)                                                                           \
    do {                                                                                           \
        uint64_t deadline_ = gw_time_mono_ms() + 10000;                                            \
        while (!(cond) && gw_time_mono_ms() < deadline_)                                           \
            lws_service(cl.ctx, 0);                                                                \
        assert_true(cond);                                                                         \
    } while (0)

/* Waits (without servicing the client) until a server-side condition holds or 10 s pass. */
#define WAIT_UNTIL(cond)                                                                           \
    do {                                                                                           \
        uint64_t deadline_ = gw_time_mono_ms() + 10000;                                            \
        while (!(cond) && gw_time_mono_ms() < deadline_)                                           \
            usleep(5000);                                                                          \
        assert_true(cond);                                                                         \
    } while (0)

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int hook_count(int *v)
{
    pthread_mutex_lock(&hook_lock);
    int x = *v;
    pthread_mutex_unlock(&hook_lock);
    return x;
}

static void hello_snapshot_and_extension(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-cp-cluster-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char crt[128], key[128];
    snprintf(crt, sizeof(crt), "%s/c.crt", dir);
    snprintf(key, sizeof(key), "%s/c.key", dir);
    char *argv[] = {"gen-cert", crt, key, NULL};
    assert_int_equal(cp_cluster_gencert_main(3, argv), 0);

    int port = free_port();
    struct gw_listen l = {.host = "127.0.0.1", .port = port};
    struct cp_cluster_server_opts o = {
        .listen = &l,
        .nlisten = 1,
        .cert = crt,
        .key = key,
        .ca = "",
        .allowed_cns = "",
        .max_payload = 1 << 20,
        .cp_id = "unit-cp",
        .ext = {.connected = on_connected,
                .gone = on_gone,
                .message = on_message,
                .cursor_init = cursor_init,
                .next = next_msg},
    };
    struct cp_cluster_server *srv = NULL;
    assert_int_equal(cp_cluster_server_start(&o, &srv), GW_OK);

    Portico__V1__Config cfg = PORTICO__V1__CONFIG__INIT;
    struct cp_cluster_snap *snap = cp_cluster_snap_create(&cfg, 42);
    assert_non_null(snap);
    cp_cluster_server_publish(srv, snap);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.client_ssl_ca_filepath = crt;
    info.client_ssl_cert_filepath = crt;
    info.client_ssl_private_key_filepath = key;
    cl.ctx = lws_create_context(&info);
    assert_non_null(cl.ctx);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = cl.ctx;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = CP_CLUSTER_PATH;
    ci.host = "portico_clustering";
    ci.origin = "portico_clustering";
    ci.protocol = CP_CLUSTER_SUBPROTOCOL;
    ci.ssl_connection = LCCSCF_USE_SSL;
    ci.pwsi = &cl.wsi;
    assert_non_null(lws_client_connect_via_info(&ci));

    PUMP_UNTIL(cl.replies == 1 && cl.snapshots == 1);
    assert_true(cl.accepted);
    assert_int_equal(cl.snap_revision, 42);
    assert_int_equal(hook_count(&n_connected), 1);
    assert_string_equal(connected_id, NODE_ID);

    /* a message the server does not handle goes to the extension */
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    Portico__V1__HealthReport hr = PORTICO__V1__HEALTH_REPORT__INIT;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_REPORT;
    m.health_report = &hr;
    client_queue(&m);
    PUMP_UNTIL(cl.out_len == 0); /* written */
    WAIT_UNTIL(hook_count(&n_messages) == 1);
    assert_int_equal(last_message_case, PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_REPORT);

    /* outgoing extension messages are sent after a kick, once each */
    pthread_mutex_lock(&hook_lock);
    n_outgoing_available = 2;
    pthread_mutex_unlock(&hook_lock);
    cp_cluster_server_kick(srv);
    PUMP_UNTIL(cl.commands == 2);

    /* a new snapshot reaches the connected data plane */
    cp_cluster_server_publish(srv, cp_cluster_snap_create(&cfg, 43));
    PUMP_UNTIL(cl.snapshots == 2 && cl.snap_revision == 43);

    cl.close_now = true;
    lws_callback_on_writable(cl.wsi);
    lws_cancel_service(cl.ctx);
    PUMP_UNTIL(cl.closed);
    uint64_t deadline = gw_time_mono_ms() + 5000;
    while (hook_count(&n_gone) == 0 && gw_time_mono_ms() < deadline)
        usleep(10000);
    assert_int_equal(hook_count(&n_gone), 1);
    cp_cluster_server_stop(srv);
    lws_context_destroy(cl.ctx);
    cl.ctx = NULL;
    unlink(crt);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(hello_snapshot_and_extension)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
