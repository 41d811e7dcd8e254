/* dp/dp_dns.h: name resolution for targets and service hosts. A resolver thread runs libevent's
 * evdns (nameservers from dns_resolver, else /etc/resolv.conf) behind a cache; names in the
 * hosts file (dns_hostsfile) win. Every cached name is re-queried when its TTL runs out (at
 * least 1 s; failures are retried every 30 s), and a change of its addresses calls the change
 * hook so the config is rebuilt with the new addresses. Config builds ask through
 * dp_dns_resolve, which blocks the building thread (never a proxy worker) until answered.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_DNS_H
#define DP_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "gw_err.h"

struct dp_dns_addr {
    struct sockaddr_storage sa; /* port 0 */
    socklen_t salen;
};

typedef void (*dp_dns_change_fn)(void *arg);

/* Starts the resolver thread. resolvers: comma-separated "ip[:port]" list or "" for
 * /etc/resolv.conf; hostsfile: path or "". on_change is called on the resolver thread.
 * Main thread, once. */
enum gw_err dp_dns_start(const char *resolvers, const char *hostsfile, dp_dns_change_fn on_change,
                         void *arg, char *err, size_t errlen);

/* Stops the thread and frees the cache. Accepts never started. Main thread. */
void dp_dns_stop(void);

/* Resolves name (an A/AAAA lookup) into an owned array (free with free()); *n may be 0 only
 * with an error. GW_ERR_NOTFOUND when the name does not resolve, GW_ERR_TIMEOUT. Without a
 * started resolver it falls back to getaddrinfo. Any thread except a proxy worker and the
 * resolver thread. */
enum gw_err dp_dns_resolve(const char *name, struct dp_dns_addr **out, size_t *n);

#endif
