/* dp/health/dp_health_conf.h: an upstream's health-check settings (Kong's `healthchecks`
 * record: threshold, active and passive blocks) compiled from the snapshot with Kong's defaults
 * filled in, immutable once built and owned by its struct dp_upstream.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_HEALTH_CONF_H
#define DP_HEALTH_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "portico_proto/portico.pb-c.h"

enum dp_hc_type {
    DP_HC_TYPE_HTTP = 0,
    DP_HC_TYPE_HTTPS,
    DP_HC_TYPE_TCP,
    DP_HC_TYPE_GRPC,
    DP_HC_TYPE_GRPCS,
    DP_HC_TYPE_COUNT_ /* keep last */
};

/* Status codes 100..999 as a bitmap. */
struct dp_hc_statuses {
    uint8_t bits[125];
};

/* One block (active or passive): what counts as a success or a failure and how many of each
 * flip the state. A limit of 0 disables that counter (the report is ignored). */
struct dp_hc_side {
    enum dp_hc_type type;
    double healthy_interval, unhealthy_interval; /* seconds, active only; 0 = off */
    struct dp_hc_statuses healthy_statuses, unhealthy_statuses;
    int successes, http_failures, tcp_failures, timeouts;
};

struct dp_hc_conf {
    double threshold; /* percent of the total weight that must stay available (strict >) */
    bool enabled;     /* Kong's is_upstream_using_healthcheck */
    bool active_on;   /* active probes run (an interval > 0 and a probe type we run) */
    struct dp_hc_side active, passive;
    double timeout; /* active probe socket timeout, seconds */
    int concurrency;
    char *http_path;   /* owned, "/" by default */
    char *https_sni;   /* owned, NULL = the target name */
    bool https_verify; /* https_verify_certificate */
    char *headers;     /* owned: "Name: value\r\n" lines for active probes ("" = none) */
};

/* Compiles pb (borrowed, may be NULL = every default) into an owned conf; free with
 * dp_hc_conf_destroy. NULL when out of memory. Builder thread (any thread). */
struct dp_hc_conf *dp_hc_conf_create(const Portico__V1__Healthchecks *pb);

/* Frees c. Accepts NULL. */
void dp_hc_conf_destroy(struct dp_hc_conf *c);

/* True if status is in the set. Any thread. */
bool dp_hc_statuses_has(const struct dp_hc_statuses *s, int status);

/* Adds status (100..999; others are ignored) to the set. */
void dp_hc_statuses_add(struct dp_hc_statuses *s, int status);

#endif
