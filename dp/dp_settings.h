/* dp/dp_settings.h: the proxy's runtime settings, read once from the configuration at start
 * (limits, timeouts, keep-alive pools, trusted addresses) into plain fields for the hot path.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_SETTINGS_H
#define DP_SETTINGS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw_conf.h"
#include "gw_err.h"

#define DP_TRUSTED_MAX 64

struct dp_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

struct dp_settings {
    size_t client_header_buffer_size;
    size_t client_max_header_size;
    uint64_t client_max_body_size; /* 0 = unlimited */
    int client_header_timeout_s, client_body_timeout_s, keepalive_timeout_s;
    int shutdown_timeout_s;
    int pool_size, pool_max_requests, pool_idle_timeout_s;
    struct dp_cidr trusted[DP_TRUSTED_MAX];
    size_t ntrusted;
    char real_ip_header[64];
};

/* Reads the settings from conf (borrowed). GW_ERR_INVALID with a message naming the key in err
 * for a bad trusted_ips entry. Main thread. */
enum gw_err dp_settings_load(struct dp_settings *s, const struct gw_conf *conf, char *err,
                             size_t errlen);

/* Parses a comma-separated list of IPs and CIDRs ("0.0.0.0/0, ::/0", "10.0.0.0/8") into s. */
enum gw_err dp_settings_parse_trusted(struct dp_settings *s, const char *text, char *err,
                                      size_t errlen);

/* True if the textual address ip is in one of the trusted ranges. Any thread. */
bool dp_settings_is_trusted(const struct dp_settings *s, const char *ip);

#endif
