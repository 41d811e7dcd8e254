/* cp/cluster/cp_cluster_reader.h: reads the whole configuration from PostgreSQL into a protobuf
 * Config, in one REPEATABLE READ transaction, converting only the rows that changed since the
 * previous read: each converted entity is cached with its row version (xmin and ctid), so a rebuild
 * after one change parses one JSON document instead of all of them. SPDX-License-Identifier:
 * Apache-2.0 */
#ifndef CP_CLUSTER_READER_H
#define CP_CLUSTER_READER_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

struct cp_cluster_reader; /* opaque; owned by one thread */

/* Returns a new, empty reader (owned; cp_cluster_reader_destroy) or NULL. */
struct cp_cluster_reader *cp_cluster_reader_create(void);

/* Frees the reader and its cached entities. Accepts NULL. */
void cp_cluster_reader_destroy(struct cp_cluster_reader *r);

/* Reads every table of Config through conn (borrowed, idle, blocking) plus config_revision.
 * On GW_OK, *cfg is a Config whose entity messages are borrowed from the reader: valid until the
 * next read or destroy; release it with cp_cluster_reader_release (never free_unpacked).
 * GW_ERR_UNAVAILABLE when the connection failed, GW_ERR_INVALID when a stored entity cannot be
 * converted (err names it), GW_ERR_NOMEM. On failure the cache is as before. Owning thread. */
enum gw_err cp_cluster_reader_read(struct cp_cluster_reader *r, PGconn *conn,
                                   Portico__V1__Config **cfg, int64_t *revision, char *err,
                                   size_t errlen);

/* Releases a Config returned by cp_cluster_reader_read (its arrays, not the cached messages).
 * Accepts NULL. */
void cp_cluster_reader_release(Portico__V1__Config *cfg);

/* Timings of the last successful read, in microseconds (for logs and benchmarks). */
struct cp_cluster_reader_stats {
    uint64_t sql_us, parse_us, convert_us;
    size_t rows, converted;
};
void cp_cluster_reader_stats(const struct cp_cluster_reader *r, struct cp_cluster_reader_stats *s);

#endif
