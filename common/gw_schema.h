/* common/gw_schema.h: Kong's entity model: the schema of every entity (fields, types, defaults,
 * validation rules, shorthands) and of every plugin's config, and the operations the Admin API,
 * the declarative loader and the data plane's snapshot check all share.
 *
 * Entities are jansson objects in Kong's Admin API JSON shape: every field present, unset
 * optional fields as JSON null, foreign keys as {"id": "<uuid>"}.
 *
 * Errors follow Kong (kong/db/errors.lua): a `fields` object mirroring the entity, each leaf a
 * message string ("required field missing", "expected an integer", ...), arrays of messages for
 * entity-level checks under "@entity", nested records nested (fields.healthchecks.active.timeout).
 * gw_schema_error_body() turns it into the full body {"code":2,"name":"schema violation",
 * "message":"...","fields":{...}}.
 *
 * Thread safety: schemas are immutable static data; every function may be called from any
 * thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_SCHEMA_H
#define GW_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

struct gw_schema; /* opaque */

enum gw_schema_on_delete {
    GW_SCHEMA_ON_DELETE_RESTRICT = 0, /* deleting the parent is refused while children exist */
    GW_SCHEMA_ON_DELETE_CASCADE,      /* children are deleted with the parent */
    GW_SCHEMA_ON_DELETE_COUNT_        /* keep last */
};

/* A foreign key of an entity: the field ("service") and the entity it references ("services"). */
struct gw_schema_foreign {
    const char *field;
    const char *entity;
    bool required;
    enum gw_schema_on_delete on_delete;
};

/* Entity names, in dependency order (parents before children):
 * "certificates", "ca_certificates", "services", "routes", "upstreams", "targets", "consumers",
 * "plugins", "keyauth_credentials", "snis". Returns the NULL-terminated list (static). */
const char *const *gw_schema_entities(void);

/* Returns the schema of entity (a table name above), or NULL. */
const struct gw_schema *gw_schema_get(const char *entity);

/* Metadata. All returned strings/arrays are static. */
const char *gw_schema_name(const struct gw_schema *s);         /* "services" */
const char *gw_schema_endpoint_key(const struct gw_schema *s); /* "name", "username", "target",
                                                                  "instance_name", "key"; NULL */
/* Unique fields besides id ("name"; consumers: "username", "custom_id"), NULL-terminated. */
const char *const *gw_schema_unique_fields(const struct gw_schema *s);
/* Foreign keys, *n set to their count. */
const struct gw_schema_foreign *gw_schema_foreigns(const struct gw_schema *s, size_t *n);
/* true when created_at/updated_at are seconds with millisecond precision (targets). */
bool gw_schema_ms_timestamps(const struct gw_schema *s);

/* Converts the string values of a form-urlencoded or multipart body (already shaped into an
 * object by dotted keys and arrays) into the JSON types the schema expects, as Kong's
 * arguments.infer_value does: "true"/"false" for booleans, numbers for integer/number fields,
 * a single string for an array field becomes a one-element array, "" for a nullable field
 * becomes null. Values that cannot be converted are left as they are (validation reports them).
 * Modifies input in place. */
void gw_schema_coerce_form(const struct gw_schema *s, json_t *input);

enum gw_schema_op {
    GW_SCHEMA_INSERT = 0, /* POST: defaults filled, id generated when absent */
    GW_SCHEMA_UPSERT,     /* PUT: full replacement; absent fields reset to defaults */
    GW_SCHEMA_UPDATE,     /* PATCH: merged into the existing entity (nested records merge) */
    GW_SCHEMA_OP_COUNT_   /* keep last */
};

/* Processes an Admin API write. input is the decoded request body (borrowed). existing is the
 * stored entity for UPDATE and UPSERT-of-an-existing-row (borrowed; NULL otherwise). Applies
 * shorthands (service `url`; upstream algorithm/hash_on normalisation; target host:port with
 * default port 8000), Kong's defaults, id (kept from existing or input, else a new v4 UUID),
 * created_at (kept from existing) and updated_at (now), then validates every field and entity
 * check.
 * On success returns GW_OK and *out = the complete entity (owned; json_decref).
 * On a validation failure returns GW_ERR_INVALID and *err_fields = Kong's `fields` object
 * (owned). Foreign-key existence and uniqueness are the store's job, not checked here. */
enum gw_err gw_schema_process(const struct gw_schema *s, enum gw_schema_op op, const json_t *input,
                              const json_t *existing, json_t **out, json_t **err_fields);

/* Validates a complete stored entity (for example from a snapshot) without changing it: types,
 * ranges, enums, required fields, entity checks, and plugin configs. Returns GW_OK, or
 * GW_ERR_INVALID with *err_fields (owned) as above. */
enum gw_err gw_schema_validate(const struct gw_schema *s, const json_t *entity,
                               json_t **err_fields);

/* Builds Kong's error body for a schema violation from a fields object (borrowed):
 * {"code":2,"name":"schema violation","message":"schema violation (name: required field
 * missing)","fields":{...}}; with N errors the message is "N schema violations (f1: e1; f2:
 * e2)", fields sorted, nested paths dotted. Returns an owned object. */
json_t *gw_schema_error_body(const json_t *err_fields);

/* Names of the plugins this build supports (static, NULL-terminated): "key-auth",
 * "rate-limiting", "proxy-cache". */
const char *const *gw_schema_plugin_names(void);

/* Kong's plugin priority (key-auth 1250, rate-limiting 910, proxy-cache 100), 0 if unknown. */
int gw_schema_plugin_priority(const char *plugin);

/* JSON description of an entity's schema for GET /schemas/{entity} (Kong's format: {"fields":
 * [{"id": {"type": "string", "uuid": true, "auto": true}}, ...]}), or of a plugin for GET
 * /schemas/plugins/{name}. Returns owned JSON or NULL if unknown. */
json_t *gw_schema_describe(const struct gw_schema *s);
json_t *gw_schema_describe_plugin(const char *plugin);

#endif
