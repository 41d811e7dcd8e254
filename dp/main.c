/* dp/main.c: portico-dp, the data plane. Parses the command line and configuration, then
 * runs the data plane in the foreground.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cluster/dp_cluster_client.h"
#include "dp_conf.h"
#include "gw_cli.h"
#include "gw_log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: portico-dp [-c FILE] [--show-config] [--help] [--version]\n\n"
                 "Runs a Portico data plane (HTTP proxy fed by a control plane) in the\n"
                 "foreground. Every key can also be set as PORTICO_<KEY> in the environment.\n\n"
                 "configuration keys:\n");
    gw_conf_help(dp_conf_keys, dp_conf_nkeys, out);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    GW_LOG(GW_LOG_NOTICE, "signal received, stopping signal=%d", (int)sig);
    event_base_loopbreak(arg);
}

static int run(struct gw_conf *conf)
{
    const char *prefix = gw_conf_str(conf, "prefix");
    if (gw_mkdir_p(prefix) != GW_OK) {
        GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot create prefix directory prefix=%s", prefix);
        return 1;
    }
    struct event_base *base = event_base_new();
    if (!base) {
        GW_LOG(GW_LOG_CRIT, "cannot create event loop");
        return 1;
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    /* TODO(dp merge): pass dp_config_apply and dp_config_current once they exist */
    size_t max_payload = gw_conf_size(conf, "cluster_max_payload");
    struct dp_cluster_client *cluster = NULL;
    if (dp_cluster_client_start(conf, dp_cluster_apply_open_only, &max_payload, NULL, &cluster) !=
        GW_OK) {
        event_free(sigterm);
        event_free(sigint);
        event_base_free(base);
        return 1;
    }
    GW_LOG(GW_LOG_NOTICE, "data plane started version=%s", PORTICO_VERSION);
    event_base_dispatch(base);
    dp_cluster_client_stop(cluster);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    GW_LOG(GW_LOG_NOTICE, "data plane stopped");
    return 0;
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
