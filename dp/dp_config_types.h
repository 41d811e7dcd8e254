/* dp/dp_config_types.h: the compiled, immutable entities of a data plane config (services,
 * routes, upstreams, targets with their resolved addresses) that the router, the balancers and
 * the proxy read on the hot path. Types only; built by dp/dp_config.c.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONFIG_TYPES_H
#define DP_CONFIG_TYPES_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dp_lb;
struct dp_router;
struct dp_addr_state;
struct dp_upstream_state;
struct dp_svc_metrics;
struct dp_plugin_chain;
struct dp_hc_conf;

enum dp_hash_on {
    DP_HASH_NONE = 0,
    DP_HASH_CONSUMER,
    DP_HASH_IP,
    DP_HASH_HEADER,
    DP_HASH_COOKIE,
    DP_HASH_PATH,
    DP_HASH_QUERY_ARG,
    DP_HASH_URI_CAPTURE,
    DP_HASH_COUNT_ /* keep last */
};

enum dp_lb_algo {
    DP_LB_ROUND_ROBIN = 0,
    DP_LB_CONSISTENT_HASHING,
    DP_LB_LEAST_CONNECTIONS,
    DP_LB_LATENCY,
    DP_LB_ALGO_COUNT_ /* keep last */
};

/* One resolved address of a target (or of a plain service host). */
struct dp_addr {
    struct sockaddr_storage sa;
    socklen_t salen;
    char ip[48]; /* textual IP, no brackets */
    uint16_t port;
    int weight;
    const struct dp_target *target; /* owner; NULL for a plain service */
    struct dp_addr_state *state;    /* persistent state (health, counters), refcounted */
    char key[80];                   /* "ip:port": stable identity inside its upstream */
};

struct dp_target {
    char *id;
    char *name; /* host part of "host:port" */
    uint16_t port;
    int weight;
    bool name_is_ip;
    struct dp_addr *addrs; /* owned; naddrs entries (0 when the name did not resolve) */
    size_t naddrs;
    /* entity fields shown by /upstreams/{u}/health (dp/health) */
    char *target;                  /* "host:port" as configured (owned) */
    double created_at, updated_at; /* seconds, millisecond precision */
    char **tags;                   /* owned; ntags strings */
    size_t ntags;
};

struct dp_upstream {
    char *id;
    char *name;
    enum dp_lb_algo algo;
    enum dp_hash_on hash_on, hash_fallback;
    char *hash_on_header, *hash_fallback_header; /* lowercase */
    char *hash_on_cookie, *hash_on_cookie_path;
    char *hash_on_query_arg, *hash_fallback_query_arg;
    char *hash_on_uri_capture, *hash_fallback_uri_capture;
    int slots;
    char *host_header;         /* NULL = none */
    struct dp_target *targets; /* owned */
    size_t ntargets;
    struct dp_addr **addrs; /* every address of every target with weight > 0 (borrowed) */
    size_t naddrs;
    struct dp_upstream_state *state; /* persistent per-upstream state, refcounted */
    struct dp_lb *lb;                /* owned */
    struct dp_hc_conf *hc;           /* owned: healthchecks with defaults (dp/health) */
};

struct dp_service {
    char *id;
    char *name; /* NULL = none */
    bool https;
    char *host;
    uint16_t port;
    char *path; /* NULL = none */
    int retries;
    int connect_timeout_ms, write_timeout_ms, read_timeout_ms;
    bool enabled;
    struct dp_upstream *upstream; /* borrowed from the config; NULL = host used directly */
    struct dp_addr *addrs;        /* resolved service host when upstream is NULL (owned) */
    size_t naddrs;
    struct dp_upstream_state *state; /* round-robin position over addrs */
    size_t index;                    /* position in the config's service array */
    struct dp_svc_metrics *metrics;  /* process-wide counters of this service (borrowed) */
};

enum dp_path_handling {
    DP_PATH_V0 = 0,
    DP_PATH_V1,
    DP_PATH_HANDLING_COUNT_ /* keep last */
};

struct dp_route {
    char *id;
    char *name;
    int64_t created_at;
    struct dp_service *service; /* borrowed; NULL = route without a service (answers 503) */
    bool proto_http, proto_https;
    int https_redirect_status_code;
    bool strip_path;
    bool preserve_host;
    enum dp_path_handling path_handling;
    int regex_priority;
    const struct dp_plugin_chain *plugins; /* borrowed from the config's plugin set */
};

#endif
