/* cp/cp_conf.c: the configuration keys of portico-cp, with Kong's names where Kong has one.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_conf.h"

static const char *const log_levels[] = {"debug", "info", "notice", "warn", "error", "crit", NULL};
static const char *const mtls_modes[] = {"shared", "pki", NULL};

const struct gw_conf_key cp_conf_keys[] = {
    {"prefix", GW_CONF_STR, "/var/lib/portico", "working directory (node id, pid)"},
    {"log_level", GW_CONF_ENUM, "notice", "log threshold", 0, 0, log_levels},
    {"log_file", GW_CONF_STR, "stderr", "log destination (a path or stderr)"},
    {"admin_listen", GW_CONF_LISTEN, "127.0.0.1:8001", "Admin API listen addresses"},
    {"admin_ssl_cert", GW_CONF_STR, "", "certificate for an 'ssl' admin_listen"},
    {"admin_ssl_cert_key", GW_CONF_STR, "", "key for an 'ssl' admin_listen"},
    {"admin_token", GW_CONF_STR, "", "when set, Admin API requests need 'Authorization: Bearer'", 0,
     0, NULL, GW_CONF_SECRET},
    {"admin_max_body_size", GW_CONF_SIZE, "10m", "largest Admin API request body", 1,
     1024LL * 1024 * 1024},
    {"admin_gui_listen", GW_CONF_LISTEN, "127.0.0.1:8002", "Portico Manager listen addresses"},
    {"admin_gui_api_url", GW_CONF_STR, "",
     "Admin API URL the web UI talks to (default: same host)"},
    {"admin_gui_url", GW_CONF_STR, "",
     "Portico Manager URL as users open it; when set, the only origin the Admin API allows (CORS)"},
    {"pg_host", GW_CONF_STR, "127.0.0.1", "PostgreSQL host (or socket directory)"},
    {"pg_port", GW_CONF_INT, "5432", "PostgreSQL port", 1, 65535},
    {"pg_user", GW_CONF_STR, "portico", "PostgreSQL user"},
    {"pg_password", GW_CONF_STR, "", "PostgreSQL password", 0, 0, NULL, GW_CONF_SECRET},
    {"pg_database", GW_CONF_STR, "portico", "PostgreSQL database"},
    {"pg_ssl", GW_CONF_BOOL, "off", "use TLS to PostgreSQL"},
    {"pg_timeout", GW_CONF_INT, "5000", "PostgreSQL connect and statement timeout (ms)", 100,
     600000},
    {"cluster_listen", GW_CONF_LISTEN, "0.0.0.0:8005", "cluster (data plane) listener"},
    {"cluster_mtls", GW_CONF_ENUM, "shared", "cluster mutual TLS mode", 0, 0, mtls_modes},
    {"cluster_cert", GW_CONF_STR, "cluster.crt", "cluster certificate (PEM)"},
    {"cluster_cert_key", GW_CONF_STR, "cluster.key", "cluster certificate key (PEM)", 0, 0, NULL,
     0},
    {"cluster_ca_cert", GW_CONF_STR, "", "CA that signs data plane certificates (pki mode)"},
    {"cluster_allowed_common_names", GW_CONF_STR, "",
     "comma-separated data plane certificate CNs accepted (pki mode; empty = any)"},
    {"cluster_max_payload", GW_CONF_SIZE, "64m", "largest cluster message accepted", 1024,
     1024LL * 1024 * 1024},
    {"cluster_data_plane_purge_delay", GW_CONF_INT, "1209600",
     "seconds before a silent data plane is removed from the registry", 60, 315360000},
    {"cluster_snapshot_debounce_ms", GW_CONF_INT, "5",
     "wait this long after a change before building a snapshot", 0, 10000},
};

const size_t cp_conf_nkeys = sizeof(cp_conf_keys) / sizeof(cp_conf_keys[0]);
