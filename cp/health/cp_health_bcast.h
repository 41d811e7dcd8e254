/* cp/health/cp_health_bcast.h: a small broadcast log of HealthCommands for the cluster server:
 * the Admin API thread appends packed ClusterMessage{health_command}s; every data plane
 * connection keeps a cursor and sends what it has not sent yet from its writeable callback.
 * Bounded (the oldest entries are dropped; a cursor that fell behind skips to the oldest kept).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_HEALTH_BCAST_H
#define CP_HEALTH_BCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

#define CP_HEALTH_BCAST_MAX 64

struct cp_health_bcast; /* opaque */

/* Returns an owned log (cp_health_bcast_destroy) or NULL when out of memory. */
struct cp_health_bcast *cp_health_bcast_create(void);
void cp_health_bcast_destroy(struct cp_health_bcast *b);

/* Appends cmd (borrowed; packed now). GW_ERR_NOMEM. Any thread. */
enum gw_err cp_health_bcast_push(struct cp_health_bcast *b, const Portico__V1__HealthCommand *cmd);

/* The cursor of a new connection: only commands pushed from now on are sent to it. */
uint64_t cp_health_bcast_head(struct cp_health_bcast *b);

/* Copies the next message after *cursor into *out (owned; free()) of *len bytes and advances
 * *cursor. false when there is none (or out of memory). Any thread. */
bool cp_health_bcast_next(struct cp_health_bcast *b, uint64_t *cursor, uint8_t **out, size_t *len);

/* true when a message after cursor is waiting. Any thread. */
bool cp_health_bcast_pending(struct cp_health_bcast *b, uint64_t cursor);

#endif
