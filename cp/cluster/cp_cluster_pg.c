/* cp/cluster/cp_cluster_pg.c: PostgreSQL connections for the cluster threads.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_pg.h"

#include <stdio.h>
#include <string.h>

#include "gw_log.h"

void cp_cluster_pg_params_init(struct cp_cluster_pg_params *p, const struct gw_conf *conf)
{
    long long timeout_ms = gw_conf_int(conf, "pg_timeout");
    memset(p, 0, sizeof(*p));
    snprintf(p->host, sizeof(p->host), "%s", gw_conf_str(conf, "pg_host"));
    snprintf(p->port, sizeof(p->port), "%lld", gw_conf_int(conf, "pg_port"));
    snprintf(p->user, sizeof(p->user), "%s", gw_conf_str(conf, "pg_user"));
    snprintf(p->password, sizeof(p->password), "%s", gw_conf_str(conf, "pg_password"));
    snprintf(p->dbname, sizeof(p->dbname), "%s", gw_conf_str(conf, "pg_database"));
    snprintf(p->sslmode, sizeof(p->sslmode), "%s",
             gw_conf_bool(conf, "pg_ssl") ? "require" : "disable");
    snprintf(p->connect_timeout, sizeof(p->connect_timeout), "%lld",
             timeout_ms < 1000 ? 1 : (timeout_ms + 999) / 1000);
    snprintf(p->options, sizeof(p->options), "-c statement_timeout=%lld", timeout_ms);
}

PGconn *cp_cluster_pg_connect(const struct cp_cluster_pg_params *p, const char *what)
{
    const char *keys[] = {"host",
                          "port",
                          "user",
                          "password",
                          "dbname",
                          "sslmode",
                          "options",
                          "application_name",
                          "connect_timeout",
                          NULL};
    const char *vals[] = {p->host,
                          p->port,
                          p->user,
                          p->password,
                          p->dbname,
                          p->sslmode,
                          p->options,
                          "portico-cp cluster",
                          p->connect_timeout,
                          NULL};
    /* an empty value (no password) is treated by libpq as unset */
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (!c) {
        GW_LOG(GW_LOG_ERROR, "cannot connect to PostgreSQL (out of memory) who=%s", what);
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        GW_LOG(GW_LOG_WARN,
               "cannot connect to PostgreSQL who=%s host=%s port=%s dbname=%s error=\"%s\"", what,
               p->host, p->port, p->dbname, msg);
        PQfinish(c);
        return NULL;
    }
    return c;
}
