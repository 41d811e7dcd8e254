/* dp/main.c: portico-dp, the data plane. Parses the command line and configuration, then
 * runs the data plane in the foreground.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cluster/dp_cluster_client.h"
#include "cluster/dp_cluster_nodeid.h"
#include "config/dp_config_apply.h"
#include "config/dp_config_reaper.h"
#include "dp_conf.h"
#include "dp_dns.h"
#include "dp_config_internal.h"
#include "dp_metrics.h"
#include "dp_settings.h"
#include "dp_status.h"
#include "dp_worker.h"
#include "plugins/dp_plugin_env.h"
#include "gw_listen.h"
#include "gw_cli.h"
#include "gw_log.h"
#include "tls/dp_tls_server.h"
#include "health/dp_health_checker.h"
#include "health/dp_health_cluster.h"
#include "health/dp_health_pb.h"
#include "health/dp_health_http.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: portico-dp [-c FILE] [--show-config] [--help] [--version]\n\n"
                 "Runs a Portico data plane (HTTP proxy fed by a control plane) in the\n"
                 "foreground. Every key can also be set as PORTICO_<KEY> in the environment.\n\n"
                 "configuration keys:\n");
    gw_conf_help(dp_conf_keys, dp_conf_nkeys, out);
}

struct dp_main {
    struct event_base *base;
    bool stopping;
    size_t max_payload;
    int dns_fd; /* eventfd: the resolver thread asks for a rebuild */
};

/* Resolver thread: an answer changed; the main thread rebuilds the config. */
static void on_dns_change(void *arg)
{
    struct dp_main *m = arg;
    uint64_t one = 1;
    if (write(m->dns_fd, &one, sizeof(one)) == -1)
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot signal a DNS change");
}

static void on_dns_rebuild(evutil_socket_t fd, short what, void *arg)
{
    struct dp_main *m = arg;
    uint64_t v;
    (void)what;
    if (read(fd, &v, sizeof(v)) == -1)
        return;
    (void)dp_config_apply_rebuild(m->max_payload);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct dp_main *m = arg;
    (void)what;
    if (sig == SIGUSR1) {
        if (gw_log_reopen() != 0)
            GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot reopen the log file");
        else
            GW_LOG(GW_LOG_NOTICE, "log file reopened");
        return;
    }
    if (sig == SIGHUP) {
        /* Re-reads <prefix>/config.cache (data-plane-only operation and tests). */
        GW_LOG(GW_LOG_NOTICE, "SIGHUP: reloading the config cache");
        (void)dp_config_apply_load_cache(m->max_payload);
        return;
    }
    GW_LOG(GW_LOG_NOTICE, "signal received, stopping gracefully signal=%d", (int)sig);
    m->stopping = true;
    event_base_loopbreak(m->base);
}

/* Applies a snapshot from the cluster client (arg: the size_t cluster_max_payload). Runs on the
 * cluster client's apply thread. */
static enum gw_err apply_snapshot(void *arg, const Portico__V1__Snapshot *snap,
                                  dp_config_error_fn on_error, void *err_arg)
{
    return dp_config_apply_snapshot(snap, *(const size_t *)arg, on_error, err_arg);
}

/* Wakes the cluster client so a health report goes out now (dp/health). */
static void kick_cluster(void *arg)
{
    dp_cluster_client_kick(arg);
}

static int nworkers(const struct gw_conf *conf)
{
    long long n = gw_conf_int(conf, "worker_threads");
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? c : 1;
    }
    return (int)n;
}

static int run(struct gw_conf *conf)
{
    int rc = 1;
    struct dp_main m = {0};
    struct dp_settings set;
    struct gw_listen proxy[GW_LISTEN_MAX], status[GW_LISTEN_MAX];
    size_t nproxy = 0, nstatus = 0;
    char err[512] = "";
    struct dp_worker **workers = NULL;
    struct dp_cluster_client *cluster = NULL;
    struct dp_health_sync health_sync = {0};
    int nw = 0;
    struct dp_status *st = NULL;
    struct dp_health_checker *checker = NULL;
    struct event *sigs[5] = {0};
    struct event *dns_ev = NULL;
    m.dns_fd = -1;
    static const int signums[5] = {SIGTERM, SIGQUIT, SIGINT, SIGUSR1, SIGHUP};

    const char *prefix = gw_conf_str(conf, "prefix");
    if (gw_mkdir_p(prefix) != GW_OK) {
        GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot create prefix directory prefix=%s", prefix);
        return 1;
    }
    if (dp_settings_load(&set, conf, err, sizeof(err)) != GW_OK ||
        gw_listen_parse(gw_conf_str(conf, "proxy_listen"), proxy, &nproxy, err, sizeof(err)) !=
            GW_OK ||
        gw_listen_parse(gw_conf_str(conf, "status_listen"), status, &nstatus, err, sizeof(err)) !=
            GW_OK) {
        GW_LOG(GW_LOG_CRIT, "configuration error: %s", err);
        return 2;
    }
    /* TLS: options before any config is built (certificate contexts use them), the server
     * context with the default certificate when an ssl listener exists. */
    bool any_ssl = false;
    for (size_t i = 0; i < nproxy; i++)
        any_ssl = any_ssl || proxy[i].ssl;
    if (dp_tls_server_options(conf, err, sizeof(err)) != GW_OK ||
        (any_ssl && dp_tls_server_init(conf, prefix, err, sizeof(err)) != GW_OK)) {
        GW_LOG(GW_LOG_CRIT, "configuration error: %s", err);
        return 2;
    }
    m.base = event_base_new();
    if (!m.base) {
        GW_LOG(GW_LOG_CRIT, "cannot create event loop");
        return 1;
    }
    for (int i = 0; i < 5; i++) {
        sigs[i] = evsignal_new(m.base, signums[i], on_signal, &m);
        if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0) {
            GW_LOG(GW_LOG_CRIT, "cannot install signal handlers");
            goto out;
        }
    }

    if (dp_plugin_env_global_init(gw_conf_size(conf, "proxy_cache_memory_size")) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "cannot create the plugin stores");
        goto out;
    }
    m.max_payload = gw_conf_size(conf, "cluster_max_payload");
    m.dns_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    dns_ev = m.dns_fd == -1 ? NULL
                            : event_new(m.base, m.dns_fd, EV_READ | EV_PERSIST, on_dns_rebuild, &m);
    if (!dns_ev || event_add(dns_ev, NULL) != 0 ||
        dp_dns_start(gw_conf_str(conf, "dns_resolver"), gw_conf_str(conf, "dns_hostsfile"),
                     on_dns_change, &m, err, sizeof(err)) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "cannot start the resolver: %s", err);
        rc = 2;
        goto out;
    }
    dp_config_apply_init(prefix);
    (void)dp_config_reaper_start(); /* replaced configs are freed off the workers */
    (void)dp_config_apply_load_cache(m.max_payload);

    nw = nworkers(conf);
    workers = calloc((size_t)nw, sizeof(*workers));
    if (!workers)
        goto out;
    for (int i = 0; i < nw; i++) {
        workers[i] = dp_worker_create(i, &set, proxy, nproxy, err, sizeof(err));
        if (!workers[i]) {
            GW_LOG(GW_LOG_CRIT, "cannot start worker: %s", err);
            goto out;
        }
    }
    if (nstatus) {
        st = dp_status_create(m.base, status, nstatus, err, sizeof(err));
        if (!st) {
            GW_LOG(GW_LOG_CRIT, "%s", err);
            goto out;
        }
    }
    for (int i = 0; i < nw; i++) {
        if (dp_worker_start(workers[i]) != GW_OK) {
            GW_LOG(GW_LOG_CRIT, "cannot start worker thread worker=%d", i);
            goto out;
        }
    }

    /* health checks: node id for /upstreams/{u}/health, active checker thread */
    char node_id[GW_UUID_STRLEN + 1];
    if (dp_cluster_node_id(prefix, node_id) != GW_OK)
        goto out;
    dp_health_set_node_id(node_id);
    if (dp_health_checker_start(&checker) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "cannot start the health checker");
        goto out;
    }

    /* the cluster client connects to cluster_control_plane and applies every snapshot; health
     * reports go out on accept, on change (the checker kicks) and with heartbeats */
    struct dp_cluster_ext ext = {.arg = &health_sync,
                                 .connected = dp_health_ext_connected,
                                 .message = dp_health_ext_message,
                                 .poll = dp_health_ext_poll};
    if (dp_cluster_client_start_ext(conf, apply_snapshot, &m.max_payload, dp_config_current, &ext,
                                    &cluster) != GW_OK)
        goto out;
    if (cluster)
        dp_health_checker_set_kick(checker, kick_cluster, cluster);

    GW_LOG(GW_LOG_NOTICE, "data plane started version=%s workers=%d", PORTICO_VERSION, nw);
    event_base_dispatch(m.base);
    rc = 0;
    /* Further stop signals while draining are ignored (freeing an evsignal restores SIG_DFL). */
    for (int i = 0; i < 5; i++) {
        if (sigs[i])
            event_free(sigs[i]);
        sigs[i] = NULL;
    }
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);

out:
    /* the cluster client stops before the workers (the checker stops kicking it first) */
    dp_health_checker_set_kick(checker, NULL, NULL);
    dp_cluster_client_stop(cluster);
    if (workers) {
        for (int i = 0; i < nw; i++)
            if (workers[i] && workers[i]->started)
                dp_worker_stop(workers[i]);
        for (int i = 0; i < nw; i++)
            dp_worker_destroy(workers[i]);
        free(workers);
    }
    dp_health_checker_stop(checker);
    dp_status_destroy(st);
    dp_dns_stop();
    if (dns_ev)
        event_free(dns_ev);
    if (m.dns_fd != -1)
        close(m.dns_fd);
    for (int i = 0; i < 5; i++)
        if (sigs[i])
            event_free(sigs[i]);
    event_base_free(m.base);
    dp_config_shutdown();
    dp_config_reaper_stop(); /* frees what is queued: configs refer to the modules below */
    dp_tls_server_shutdown();
    dp_config_apply_cleanup();
    dp_plugin_env_global_cleanup();
    dp_metrics_shutdown();
    libevent_global_shutdown();
    GW_LOG(GW_LOG_NOTICE, "data plane stopped");
    return rc;
}

int main(int argc, char **argv)
{
    struct gw_cli cli;
    struct gw_conf conf = {0};
    char err[256];

    signal(SIGPIPE, SIG_IGN);
    if (gw_cli_parse(argc, argv, &cli, err, sizeof(err)) != GW_OK) {
        fprintf(stderr, "portico-dp: %s\n", err);
        return 2;
    }
    if (cli.help) {
        usage(stdout);
        return 0;
    }
    if (cli.version) {
        printf("portico-dp %s\n", PORTICO_VERSION);
        return 0;
    }
    if (!gw_cli_load_config("portico-dp", "dp", &cli, dp_conf_keys, dp_conf_nkeys, &conf))
        return 2;
    if (cli.show_config) {
        gw_conf_show(&conf, stdout);
        gw_conf_cleanup(&conf);
        return 0;
    }
    int rc;
    if (cli.argc > 0) {
        fprintf(stderr, "portico-dp: unknown command '%s' (see --help)\n", cli.argv[0]);
        rc = 2;
    } else {
        rc = run(&conf);
    }
    gw_conf_cleanup(&conf);
    return rc;
}
