/* cp/declarative/cp_decl_cli.h: the `portico-cp config` subcommands:
 *   config validate FILE                     check a file (no database needed)
 *   config diff FILE [--select-tag TAG]...   what sync would create, update and delete
 *   config sync FILE [--select-tag TAG]...   make the database match the file (one transaction)
 *   config dump [FILE] [--format yaml|json] [--select-tag TAG]...
 *                                            export the configuration (stdout without FILE)
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_CLI_H
#define CP_DECL_CLI_H

#include "gw_conf.h"

/* Runs the subcommand in argv (argv[0] is "config"; argc >= 1). conf (borrowed) gives the pg_*
 * settings. Prints results to stdout and errors to stderr. Returns the exit status: 0 success,
 * 1 invalid file or database failure, 2 usage error. Main thread, before any other thread. */
int cp_decl_cli_main(const struct gw_conf *conf, int argc, char **argv);

#endif
