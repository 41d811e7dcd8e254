/* common/gw_pbjson.h: generic conversion between Kong Admin API JSON entities (jansson) and the
 * protobuf-c messages of proto/portico.proto, driven by the protobuf-c descriptors.
 *
 * Rules: JSON keys equal proto field names; JSON null <-> absent field; Ref <-> {"id": ...};
 * repeated HeaderValues <-> {"name": [values, ...]} objects (sorted by name in protobuf, so the
 * serialisation is deterministic); the plugin "config" object <-> the typed member of the
 * Plugin.config oneof selected by the plugin name ("key-auth" -> key_auth); proxy-cache's
 * response_headers keys "X-Cache-Status"/"X-Cache-Key" <-> x_cache_status/x_cache_key.
 *
 * Thread safety: no shared state; any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_PBJSON_H
#define GW_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

/* Flags for gw_pbjson_to_pb. */
#define GW_PBJSON_IGNORE_UNKNOWN                                                                   \
    0x1u /* skip JSON keys without a proto field instead of failing                                \
          */

/* Flags for gw_pbjson_from_pb. */
#define GW_PBJSON_OMIT_ABSENT 0x1u /* leave absent fields out instead of writing null */

/* Converts obj (borrowed JSON object) into a new message of type desc. On success *out is owned
 * by the caller: free with protobuf_c_message_free_unpacked(*out, NULL). On failure returns
 * GW_ERR_INVALID (wrong type, out of range, unknown key or plugin; err names the field path) or
 * GW_ERR_NOMEM, and *out is NULL. */
enum gw_err gw_pbjson_to_pb(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                            unsigned flags, ProtobufCMessage **out, char *err, size_t errlen);

/* Converts msg (borrowed) into Kong JSON. Returns a new reference (json_decref), NULL only when
 * out of memory. */
json_t *gw_pbjson_from_pb(const ProtobufCMessage *msg, unsigned flags);

/* Appends the entity doc (borrowed JSON) to the list of cfg named table ("services", "routes",
 * ..., the Config field names, which are the database table names). cfg must have been
 * allocated with malloc and be freed with portico__v1__config__free_unpacked(cfg, NULL).
 * Returns GW_OK, GW_ERR_NOTFOUND for an unknown table, GW_ERR_INVALID (message in err) or
 * GW_ERR_NOMEM; cfg is unchanged on failure. */
enum gw_err gw_pbjson_config_add(Portico__V1__Config *cfg, const char *table, const json_t *doc,
                                 unsigned flags, char *err, size_t errlen);

/* Returns a new, empty Config allocated with malloc (free with
 * portico__v1__config__free_unpacked(cfg, NULL)), or NULL when out of memory. */
Portico__V1__Config *gw_pbjson_config_new(void);

#endif
