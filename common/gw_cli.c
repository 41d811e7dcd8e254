/* common/gw_cli.c: command-line parsing and configuration start-up shared by both programs.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_log.h"

extern char **environ;

enum gw_err gw_cli_parse(int argc, char **argv, struct gw_cli *cli, char *err, size_t errlen)
{
    memset(cli, 0, sizeof(*cli));
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            break;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--conf") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option %s needs a file name", a);
                return GW_ERR_INVALID;
            }
            cli->conf_file = argv[++i];
        } else if (strncmp(a, "--conf=", 7) == 0) {
            cli->conf_file = a + 7;
        } else if (strcmp(a, "--show-config") == 0) {
            cli->show_config = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli->help = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            cli->version = true;
        } else if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else {
            snprintf(err, errlen, "unknown option '%s' (see --help)", a);
            return GW_ERR_INVALID;
        }
    }
    cli->argc = argc - i;
    cli->argv = argv + i;
    return GW_OK;
}

bool gw_cli_load_config(const char *program, const char *component, const struct gw_cli *cli,
                        const struct gw_conf_key *keys, size_t nkeys, struct gw_conf *conf)
{
    char err[512] = "";
    /* Warnings from the loader (unknown PORTICO_* variables) go to stderr at notice level until
     * the configured level is known. */
    gw_log_init(component, GW_LOG_NOTICE);
    if (gw_conf_load(conf, keys, nkeys, cli->conf_file, environ, err, sizeof(err)) != GW_OK) {
        fprintf(stderr, "%s: configuration error: %s\n", program, err);
        return false;
    }
    enum gw_log_level level = GW_LOG_NOTICE;
    gw_log_level_parse(gw_conf_str(conf, "log_level"), &level);
    gw_log_init(component, level);
    if (!cli->show_config && gw_log_open(gw_conf_str(conf, "log_file")) != 0) {
        fprintf(stderr, "%s: configuration error: log_file: cannot open %s: %s\n", program,
                gw_conf_str(conf, "log_file"), strerror(errno));
        gw_conf_cleanup(conf);
        return false;
    }
    return true;
}

enum gw_err gw_mkdir_p(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return GW_ERR_IO;
    }
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) == -1 && errno != EEXIST)
            return GW_ERR_IO;
        *p = '/';
    }
    if (mkdir(path, 0700) == -1 && errno != EEXIST)
        return GW_ERR_IO;
    struct stat st;
    if (stat(path, &st) == -1)
        return GW_ERR_IO;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return GW_ERR_IO;
    }
    return GW_OK;
}
