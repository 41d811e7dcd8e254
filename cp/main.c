/* cp/main.c: portico-cp, the control plane. Parses the command line and configuration, then
 * dispatches to a subcommand or runs the control plane in the foreground.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "admin/cp_admin.h"
#include "cluster/cp_cluster.h"
#include "cluster/cp_cluster_gencert.h"
#include "health/cp_health.h"
#include "health/cp_health_admin.h"
#include "health/cp_health_cluster.h"
#include "cp_conf.h"
#include "cp_gui.h"
#include "declarative/cp_decl_admin.h"
#include "declarative/cp_decl_cli.h"
#include "gw_cli.h"
#include "gw_log.h"
#include "store/cp_migrations.h"
#include "store/cp_store.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: portico-cp [-c FILE] [--show-config] [--help] [--version]\n"
                 "       portico-cp [-c FILE] migrations bootstrap|up|status|reset --yes\n"
                 "       portico-cp [-c FILE] gen-cert [CERT KEY] [--days N]\n"
                 "       portico-cp [-c FILE] config validate|diff|sync|dump FILE\n\n"
                 "Runs the Portico control plane (Admin API, PostgreSQL store, cluster listener)\n"
                 "in the foreground. Every key can also be set as PORTICO_<KEY> in the\n"
                 "environment.\n\nconfiguration keys:\n");
    gw_conf_help(cp_conf_keys, cp_conf_nkeys, out);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    GW_LOG(GW_LOG_NOTICE, "signal received, stopping signal=%d", (int)sig);
    event_base_loopbreak(arg);
}

/* SIGUSR1 (logrotate, `systemctl reload`): reopens log_file; the process keeps running. The
 * event lives at file scope so that run()'s early exits need no extra cleanup variable. */
static struct event *sigusr1_event;

static void on_reopen_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    if (gw_log_reopen() != 0)
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot reopen the log file");
    else
        GW_LOG(GW_LOG_NOTICE, "log file reopened");
}

/* Wakes the cluster server so data planes get queued health commands (cp/health). */
static void kick_cluster(void *arg)
{
    cp_cluster_kick(arg);
}

/* Runs the control plane until SIGTERM/SIGINT: the Admin API (and, beside it, the cluster
 * server) on one event loop. Returns the exit status. */
static int run(struct gw_conf *conf)
{
    int rc = 1;
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct cp_store *store = NULL;
    struct cp_admin *admin = NULL;
    struct cp_cluster *cluster = NULL;
    struct cp_health_cluster *health = NULL;
    char msg[512];

    const char *prefix = gw_conf_str(conf, "prefix");
    if (gw_mkdir_p(prefix) != GW_OK) {
        GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot create prefix directory prefix=%s", prefix);
        return 1;
    }
    store = cp_store_create(conf);
    if (!store)
        goto out;
    if (cp_migrations_check(store, msg, sizeof(msg)) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "cannot start: %s", msg);
        fprintf(stderr, "portico-cp: %s\n", msg);
        goto out;
    }
    base = event_base_new();
    if (!base) {
        GW_LOG(GW_LOG_CRIT, "cannot create event loop");
        goto out;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0)
        goto out;
    sigusr1_event = evsignal_new(base, SIGUSR1, on_reopen_signal, NULL);
    if (!sigusr1_event || evsignal_add(sigusr1_event, NULL) != 0)
        goto out;
    if (cp_admin_start(base, conf, store, &admin) != GW_OK)
        goto out;
    if (cp_decl_admin_register(admin) != GW_OK)
        goto out;
    if (cp_health_admin_register(admin) != GW_OK) {
        GW_LOG(GW_LOG_CRIT, "cannot register the health endpoints");
        goto out;
    }
    /* target health from the data planes: reports in, manual commands out (cp/health) */
    health = cp_health_cluster_create();
    if (!health)
        goto out;
    struct cp_cluster_ext ext = {.arg = health,
                                 .connected = cp_health_ext_connected,
                                 .gone = cp_health_ext_gone,
                                 .message = cp_health_ext_message,
                                 .cursor_init = cp_health_ext_cursor_init,
                                 .next = cp_health_ext_next};
    if (cp_cluster_start_ext(conf, &ext, &cluster) != GW_OK)
        goto out;
    if (cluster)
        cp_health_cluster_link(health, kick_cluster, cluster);
    if (cp_gui_start(base, conf) != GW_OK)
        goto out;
    GW_LOG(GW_LOG_NOTICE, "control plane started version=%s", PORTICO_VERSION);
    event_base_dispatch(base);
    rc = 0;
out:
    cp_gui_stop();
    cp_cluster_stop(cluster);
    cp_health_cluster_destroy(health);
    cp_admin_stop(admin);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sigusr1_event)
        event_free(sigusr1_event);
    sigusr1_event = NULL;
    if (base)
        event_base_free(base);
    cp_store_destroy(store);
    cp_health_reset();
    GW_LOG(GW_LOG_NOTICE, "control plane stopped");
    return rc;
}

/* portico-cp migrations ...: prints to stdout; returns the exit status. */
static int migrations(struct gw_conf *conf, int argc, char **argv)
{
    struct cp_store *store = cp_store_create(conf);
    if (!store)
        return 1;
    int rc = cp_migrations_command(store, argc, argv, stdout);
    cp_store_destroy(store);
    return rc;
}

int main(int argc, char **argv)
{
    struct gw_cli cli;
    struct gw_conf conf = {0};
    char err[256];

    signal(SIGPIPE, SIG_IGN);
    if (gw_cli_parse(argc, argv, &cli, err, sizeof(err)) != GW_OK) {
        fprintf(stderr, "portico-cp: %s\n", err);
        return 2;
    }
    if (cli.help) {
        usage(stdout);
        return 0;
    }
    if (cli.version) {
        printf("portico-cp %s\n", PORTICO_VERSION);
        return 0;
    }
    if (!gw_cli_load_config("portico-cp", "cp", &cli, cp_conf_keys, cp_conf_nkeys, &conf))
        return 2;
    if (cli.show_config) {
        gw_conf_show(&conf, stdout);
        gw_conf_cleanup(&conf);
        return 0;
    }
    int rc;
    if (cli.argc > 0 && strcmp(cli.argv[0], "config") == 0) {
        rc = cp_decl_cli_main(&conf, cli.argc, cli.argv);
    } else if (cli.argc > 0 && strcmp(cli.argv[0], "migrations") == 0) {
        rc = migrations(&conf, cli.argc - 1, cli.argv + 1);
    } else if (cli.argc > 0 && strcmp(cli.argv[0], "gen-cert") == 0) {
        rc = cp_cluster_gencert_main(cli.argc, cli.argv);
    } else if (cli.argc > 0) {
        fprintf(stderr, "portico-cp: unknown command '%s' (see --help)\n", cli.argv[0]);
        rc = 2;
    } else {
        rc = run(&conf);
    }
    gw_conf_cleanup(&conf);
    return rc;
}
