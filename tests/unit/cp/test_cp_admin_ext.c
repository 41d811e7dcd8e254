/* tests/unit/cp/test_cp_admin_ext.c: extension routes of the Admin API (cp_admin_route_add):
 * an in-process server on a free port, requests sent with libevent's HTTP client: the handler
 * gets decoded params, query and body; /endpoints lists the route; wrong methods are 405;
 * the token applies. No database is needed (nothing here touches the store).
 * SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "admin/cp_admin.h"
#include "admin/cp_admin_ext.h"
#include "cp_conf.h"
#include "store/cp_store.h"

struct reply {
    int status;
    char body[4096];
};

static struct event_base *base;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t l = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &l);
    close(fd);
    return ntohs(sa.sin_port);
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct reply *rep = arg;
    rep->status = req ? evhttp_request_get_response_code(req) : -1;
    if (req) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);
        if (n >= sizeof(rep->body))
            n = sizeof(rep->body) - 1;
        evbuffer_remove(b, rep->body, n);
        rep->body[n] = '\0';
    }
    event_base_loopbreak(base);
}

static struct reply send_req(int port, enum evhttp_cmd_type cmd, const char *uri, const char *body,
                             const char *token)
{
    struct reply rep = {0};
    struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(on_done, &rep);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "localhost");
    if (token)
        evhttp_add_header(h, "Authorization", token);
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/x-www-form-urlencoded");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    evhttp_make_request(c, req, cmd, uri);
    event_base_dispatch(base);
    evhttp_connection_free(c);
    return rep;
}

static void echo(struct cp_admin_req *r, void *arg)
{
    int *calls = arg;
    (*calls)++;
    json_t *body = NULL;
    if (cp_admin_req_method(r) == CP_ADMIN_POST && cp_admin_req_json(r, &body) != GW_OK)
        return; /* already replied */
    const char *q = cp_admin_query(r, "q");
    json_t *out =
        json_pack("{s:s,s:s?,s:o?}", "param", cp_admin_req_param(r, 0), "q", q, "body", body);
    cp_admin_reply_header(r, "X-Ext", "yes");
    cp_admin_reply_json(r, 201, out);
}

static void test_extension_routes(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/cp-admin-ext-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    int port = free_port();
    char listen[64], prefix[128];
    snprintf(listen, sizeof(listen), "PORTICO_ADMIN_LISTEN=127.0.0.1:%d", port);
    snprintf(prefix, sizeof(prefix), "PORTICO_PREFIX=%s", tmpl);
    char *envp[] = {listen, prefix, "PORTICO_ADMIN_TOKEN=tok", NULL};
    struct gw_conf conf = {0};
    char err[256];
    assert_int_equal(gw_conf_load(&conf, cp_conf_keys, cp_conf_nkeys, NULL, envp, err, sizeof(err)),
                     GW_OK);
    base = event_base_new();
    struct cp_store *store = cp_store_create(&conf);
    struct cp_admin *admin = NULL;
    assert_int_equal(cp_admin_start(base, &conf, store, &admin), GW_OK);
    int calls = 0;
    assert_int_equal(cp_admin_route_add(admin, "/things/{thing}/echo",
                                        CP_ADMIN_M(CP_ADMIN_GET) | CP_ADMIN_M(CP_ADMIN_POST), echo,
                                        &calls),
                     GW_OK);
    assert_int_equal(cp_admin_route_add(admin, "nope", CP_ADMIN_M(CP_ADMIN_GET), echo, &calls),
                     GW_ERR_INVALID);

    struct reply r = send_req(port, EVHTTP_REQ_GET, "/things/a%20b/echo?q=1", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_int_equal(calls, 0);

    r = send_req(port, EVHTTP_REQ_GET, "/things/a%20b/echo?q=1", NULL, "Bearer tok");
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "{\"param\":\"a b\",\"q\":\"1\",\"body\":null}");
    r = send_req(port, EVHTTP_REQ_POST, "/things/x/echo", "k.sub=v&arr[]=1", "Bearer tok");
    assert_int_equal(r.status, 201);
    assert_string_equal(
        r.body, "{\"param\":\"x\",\"q\":null,\"body\":{\"k\":{\"sub\":\"v\"},\"arr\":[\"1\"]}}");
    assert_int_equal(calls, 2);

    r = send_req(port, EVHTTP_REQ_DELETE, "/things/x/echo", NULL, "Bearer tok");
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body, "{\"message\":\"Method not allowed\"}");
    r = send_req(port, EVHTTP_REQ_GET, "/endpoints", NULL, "Bearer tok");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"/things/{thing}/echo\""));
    assert_int_equal(calls, 2);

    cp_admin_stop(admin);
    cp_store_destroy(store);
    event_base_free(base);
    gw_conf_cleanup(&conf);
    char path[256];
    snprintf(path, sizeof(path), "%s/node.id", tmpl);
    unlink(path);
    rmdir(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extension_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
