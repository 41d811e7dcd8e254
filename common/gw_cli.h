/* common/gw_cli.h: the command-line shape shared by portico-cp and portico-dp:
 *   PROGRAM [-c FILE] [--show-config] [--help] [--version] [SUBCOMMAND ARGS...]
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_CLI_H
#define GW_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_conf.h"
#include "gw_err.h"

struct gw_cli {
    const char *conf_file; /* borrowed from argv; NULL = none */
    bool show_config;
    bool help;
    bool version;
    int argc;    /* positional arguments left (subcommand first) */
    char **argv; /* borrowed from argv */
};

/* Parses argv. Options may appear before the subcommand only; everything from the first
 * positional argument on is left in cli->argc/argv. GW_ERR_INVALID with a message in err for an
 * unknown option or a missing value. */
enum gw_err gw_cli_parse(int argc, char **argv, struct gw_cli *cli, char *err, size_t errlen);

/* Loads the program's configuration from cli->conf_file and the environment, then sets up
 * logging (log_level, log_file) for component. On error prints "PROGRAM: configuration error:
 * ..." to stderr and returns false (the caller exits with status 2). Call from main only. */
bool gw_cli_load_config(const char *program, const char *component, const struct gw_cli *cli,
                        const struct gw_conf_key *keys, size_t nkeys, struct gw_conf *conf);

/* Creates dir and its parents (mode 0700 for the last component) if missing. Returns GW_OK or
 * GW_ERR_IO with errno set. Any thread. */
enum gw_err gw_mkdir_p(const char *dir);

#endif
