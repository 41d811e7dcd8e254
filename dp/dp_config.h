/* dp/dp_config.h: the data plane's runtime configuration: one immutable struct dp_config built
 * from a protobuf Config off the worker threads (compiled router, services, balancers, plugin
 * chains, indexes), validated completely, then published with one atomic pointer swap. Requests
 * hold a reference to the config they started with; the old config is freed when its last
 * reference goes. Protobuf structs never reach the hot path.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

struct dp_config; /* opaque outside dp/ config and worker code */

/* Receives one validation error: entity table ("routes"), entity id (may be ""), field
 * ("service", "paths[2]", "@entity") and a message. Called on the building thread. */
typedef void (*dp_config_error_fn)(void *arg, const char *entity, const char *id, const char *field,
                                   const char *message);

/* Builds a runtime config from pb (borrowed; the caller may free it once this returns). Every
 * problem is reported through on_error (may be NULL); any problem makes the whole build fail
 * with GW_ERR_INVALID and nothing is returned. On success *out is owned by the caller: publish
 * it or destroy it. Call from any thread except a proxy worker (building may take a while). */
enum gw_err dp_config_build(const Portico__V1__Config *pb, int64_t revision, const char *hash,
                            dp_config_error_fn on_error, void *arg, struct dp_config **out);

/* Destroys a config that was built but never published. Accepts NULL. */
void dp_config_destroy(struct dp_config *cfg);

/* Publishes cfg (takes ownership) with one atomic swap. State that outlives a config (health,
 * balancer positions, rate-limit counters, keep-alive pools) is carried over by identity.
 * Any thread except a proxy worker. */
void dp_config_publish(struct dp_config *cfg);

/* Revision and hash of the published config (0 and "" before the first). hash_out gets at most
 * hash_len bytes including the NUL. Any thread. */
int64_t dp_config_current(char *hash_out, size_t hash_len);

#endif
