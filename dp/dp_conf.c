/* dp/dp_conf.c: the configuration keys of portico-dp, with Kong's names where Kong has one.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_conf.h"

static const char *const log_levels[] = {"debug", "info", "notice", "warn", "error", "crit", NULL};
static const char *const mtls_modes[] = {"shared", "pki", NULL};

const struct gw_conf_key dp_conf_keys[] = {
    {"prefix", GW_CONF_STR, "/var/lib/portico", "working directory (node id, config cache)"},
    {"log_level", GW_CONF_ENUM, "notice", "log threshold", 0, 0, log_levels},
    {"log_file", GW_CONF_STR, "stderr", "log destination (a path or stderr)"},
    {"worker_threads", GW_CONF_INT, "0", "proxy worker threads (0 = one per CPU)", 0, 256},
    {"proxy_listen", GW_CONF_LISTEN, "0.0.0.0:8000, 0.0.0.0:8443 ssl", "proxy listen addresses"},
    {"status_listen", GW_CONF_LISTEN, "127.0.0.1:8100", "status, readiness and metrics listener"},
    {"cluster_control_plane", GW_CONF_STR, "127.0.0.1:8005",
     "control plane host:port (a comma-separated list is tried in turn)"},
    {"cluster_mtls", GW_CONF_ENUM, "shared", "cluster mutual TLS mode", 0, 0, mtls_modes},
    {"cluster_cert", GW_CONF_STR, "cluster.crt", "cluster certificate (PEM)"},
    {"cluster_cert_key", GW_CONF_STR, "cluster.key", "cluster certificate key (PEM)"},
    {"cluster_ca_cert", GW_CONF_STR, "", "CA that signs the control plane certificate (pki mode)"},
    {"cluster_server_name", GW_CONF_STR, "", "name expected in the control plane certificate"},
    {"cluster_max_payload", GW_CONF_SIZE, "64m", "largest snapshot accepted", 1024,
     1024LL * 1024 * 1024},
    {"cluster_heartbeat_interval", GW_CONF_INT, "10", "seconds between heartbeats", 1, 3600},
    {"upstream_keepalive_pool_size", GW_CONF_INT, "60",
     "idle upstream connections kept per target and worker", 0, 100000},
    {"upstream_keepalive_max_requests", GW_CONF_INT, "10000",
     "requests per upstream connection before it is closed (0 = unlimited)", 0, 1000000000},
    {"upstream_keepalive_idle_timeout", GW_CONF_INT, "60",
     "seconds an idle upstream connection is kept", 0, 86400},
    {"client_header_buffer_size", GW_CONF_SIZE, "8k", "longest request line and header line", 1024,
     1024 * 1024},
    {"client_max_header_size", GW_CONF_SIZE, "32k", "largest request header block", 1024,
     16 * 1024 * 1024},
    {"client_max_body_size", GW_CONF_SIZE, "0", "largest request body (0 = unlimited)", 0, 0},
    {"client_header_timeout", GW_CONF_INT, "60", "seconds to receive a request header", 1, 3600},
    {"client_body_timeout", GW_CONF_INT, "60", "seconds between two reads of a request body", 1,
     3600},
    {"keepalive_timeout", GW_CONF_INT, "75", "seconds an idle client connection is kept", 0, 3600},
    {"shutdown_timeout", GW_CONF_INT, "10",
     "seconds in-flight requests get to finish on SIGTERM/SIGQUIT", 0, 3600},
    {"trusted_ips", GW_CONF_STR, "", "addresses/CIDRs whose X-Forwarded-* headers are trusted"},
    {"real_ip_header", GW_CONF_STR, "X-Real-IP", "header that carries the client address"},
    {"dns_resolver", GW_CONF_STR, "", "comma-separated DNS servers (default: /etc/resolv.conf)"},
    {"dns_hostsfile", GW_CONF_STR, "/etc/hosts", "hosts file used before DNS"},
    {"ssl_cert", GW_CONF_STR, "",
     "default proxy certificate(s), PEM, comma-separated RSA and ECDSA (empty = self-signed)"},
    {"ssl_cert_key", GW_CONF_STR, "", "keys of ssl_cert, in the same order"},
    {"ssl_protocols", GW_CONF_STR, "TLSv1.2 TLSv1.3", "TLS versions served"},
    {"ssl_cipher_suite", GW_CONF_STR, "intermediate", "modern, intermediate, old or custom"},
    {"ssl_ciphers", GW_CONF_STR, "", "OpenSSL cipher list used when ssl_cipher_suite is custom"},
    {"proxy_cache_memory_size", GW_CONF_SIZE, "128m", "memory bound of the proxy-cache plugin", 0,
     0},
};

const size_t dp_conf_nkeys = sizeof(dp_conf_keys) / sizeof(dp_conf_keys[0]);
