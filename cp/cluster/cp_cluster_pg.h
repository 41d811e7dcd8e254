/* cp/cluster/cp_cluster_pg.h: the cluster threads' own PostgreSQL connections (snapshot builder,
 * registry writer), made from the pg_* configuration keys.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_PG_H
#define CP_CLUSTER_PG_H

#include <libpq-fe.h>

#include "gw_conf.h"

/* Connection settings copied out of the configuration. */
struct cp_cluster_pg_params {
    char host[256];
    char port[24];
    char user[128];
    char password[256];
    char dbname[128];
    char sslmode[16];
    char connect_timeout[24];
    char options[96]; /* statement_timeout */
};

/* Copies the pg_* keys of conf (borrowed) into p. Main thread, before the threads start. */
void cp_cluster_pg_params_init(struct cp_cluster_pg_params *p, const struct gw_conf *conf);

/* Connects (blocking, at most about pg_timeout). Returns a connection (owned; PQfinish it) or
 * NULL, with the reason logged under what ("snapshot builder", "registry"). Any thread. */
PGconn *cp_cluster_pg_connect(const struct cp_cluster_pg_params *p, const char *what);

#endif
