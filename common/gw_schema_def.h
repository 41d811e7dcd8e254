/* common/gw_schema_def.h: the internal, table-driven description of entity and plugin schemas
 * (field descriptors, entity descriptors, shared validators) used by gw_schema*.c only.
 * Nothing outside common/gw_schema*.c includes this header; the public API is gw_schema.h.
 * All descriptors are immutable static data and every helper may be called from any thread;
 * json_t results are owned by the caller (json_decref) unless stated otherwise.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_SCHEMA_DEF_H
#define GW_SCHEMA_DEF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_schema.h"

enum gw_sf_type {
    GW_SF_STRING = 0,
    GW_SF_INTEGER,
    GW_SF_NUMBER,
    GW_SF_BOOLEAN,
    GW_SF_ARRAY,
    GW_SF_SET,
    GW_SF_MAP,
    GW_SF_RECORD,
    GW_SF_FOREIGN,
    GW_SF_TYPE_COUNT_ /* keep last */
};

/* Field flags. */
#define GW_SF_REQUIRED    0x0001u /* null or absent is "required field missing" */
#define GW_SF_AUTO        0x0002u /* generated: uuid id, timestamps, random key */
#define GW_SF_UUID        0x0004u /* string must be a UUID */
#define GW_SF_UNIQUE      0x0008u /* unique column (metadata only) */
#define GW_SF_TIMESTAMP   0x0010u /* must be > 0 */
#define GW_SF_BETWEEN     0x0020u /* min..max applies */
#define GW_SF_GT          0x0040u /* value must be greater than gt */
#define GW_SF_MUST_NULL   0x0080u /* value must be null (err, or "value must be null") */
#define GW_SF_NE_TRUE     0x0100u /* value must not be true (err) */
#define GW_SF_LEN_MIN     0x0200u /* len_min applies (strings default to 1) */
#define GW_SF_LEN_MAX     0x0400u /* len_max applies */
#define GW_SF_INPUT_ONLY  0x0800u /* accepted on input, validated, not stored */
#define GW_SF_OMIT_ABSENT 0x1000u /* a DAO option (ttl): kept when given, never defaulted */

/* A custom validator: returns true if value (of the right type) is valid, else writes Kong's
 * message into err. */
typedef bool (*gw_sf_check_fn)(const json_t *value, char *err, size_t errlen);

/* Entity (or record) check: inspects the complete entity and adds errors to errors (a Kong
 * `fields` object). update is true for PATCH (Kong's "when updating" wording). */
typedef void (*gw_sf_entity_check_fn)(const json_t *entity, json_t *errors, bool update);

struct gw_schema_field {
    const char *name;
    enum gw_sf_type type;
    unsigned flags;
    const char *def;               /* default as JSON text, or NULL */
    double min, max;               /* GW_SF_BETWEEN */
    double gt;                     /* GW_SF_GT */
    int len_min;                   /* GW_SF_LEN_MIN */
    int len_max;                   /* GW_SF_LEN_MAX */
    const char *const *one_of;     /* allowed strings, NULL-terminated */
    const int *one_of_int;         /* allowed integers, terminated by -1 */
    const char *const *not_one_of; /* with err */
    const char *starts_with;
    const char *err; /* message for MUST_NULL / NE_TRUE / not_one_of */
    gw_sf_check_fn check;
    const struct gw_schema_field *elements; /* array/set elements; map values */
    const struct gw_schema_field *keys;     /* map keys */
    const struct gw_schema_field *fields;   /* record fields, terminated by name == NULL */
    gw_sf_entity_check_fn record_check;     /* record-level checks */
    const char *reference;                  /* foreign: referenced entity */
    const char *const *mutex_sets;          /* protocols: groups separated by "" , end NULL */
};

/* Returns the field list to use for entity (a subschema override list: fields with the same name
 * replace the base ones; fields not in the base are added), or NULL for none. When the
 * subschema key is unknown, writes the error for that key into *err_key and err_msg. */
typedef const struct gw_schema_field *(*gw_sf_subschema_fn)(const json_t *entity,
                                                            const char **err_key, char *err_msg,
                                                            size_t errlen);

/* Entity-specific transformation applied to the input copy before defaults (shorthands). */
typedef void (*gw_sf_shorthand_fn)(json_t *input);

/* Entity-specific transformation applied after defaults, before validation (target
 * normalisation, auto key, ca digest). Returns GW_OK, or an error that aborts the write (the
 * random generator failing). */
typedef enum gw_err (*gw_sf_finish_fn)(json_t *entity, enum gw_schema_op op);

struct gw_schema {
    const char *name;
    const char *endpoint_key;
    const char *const *unique;
    const struct gw_schema_foreign *foreigns;
    size_t n_foreigns;
    bool ms_timestamps;
    const struct gw_schema_field *fields;
    gw_sf_subschema_fn subschema;
    gw_sf_shorthand_fn shorthand;
    gw_sf_finish_fn finish;
    gw_sf_entity_check_fn check;
};

/* Entity schemas (gw_schema_entities.c). */
extern const struct gw_schema gw_schema_services, gw_schema_routes, gw_schema_upstreams,
    gw_schema_targets, gw_schema_consumers, gw_schema_plugins, gw_schema_keyauth_credentials,
    gw_schema_certificates, gw_schema_snis, gw_schema_ca_certificates;

/* Plugin config subschemas (gw_schema_plugins.c). */
struct gw_schema_plugin {
    const char *name;
    int priority;
    const struct gw_schema_field *overrides; /* replaces plugin entity fields: config, ... */
    gw_sf_entity_check_fn check;             /* entity checks on the whole plugin */
};
/* Returns the plugin named name (static), or NULL when this build does not support it. */
const struct gw_schema_plugin *gw_schema_plugin_find(const char *name);

/* ---- shared helpers (gw_schema.c) ---- */

/* Validates value against field; returns NULL or an owned error (string, object or array). */
json_t *gw_sf_validate_value(const struct gw_schema_field *f, const json_t *value);

/* Like json_string, but never fails on a message cut inside a UTF-8 sequence. Owned result. */
json_t *gw_sf_string(const char *s);

/* Looks up a field by name in a NULL-name-terminated list. */
const struct gw_schema_field *gw_sf_find(const struct gw_schema_field *fields, const char *name);

/* Gets a dotted path ("config.redis.host") from obj; NULL if absent. */
json_t *gw_sf_get_path(const json_t *obj, const char *path);

/* Sets errors[path] = msg (dotted paths nest; an existing string is replaced). */
void gw_sf_set_error(json_t *errors, const char *path, const char *msg);

/* Appends msg to errors["@entity"]. */
void gw_sf_entity_error(json_t *errors, const char *msg);

/* Kong's is_nonempty: not absent, not null, not "", not an empty array/object. */
bool gw_sf_nonempty(const json_t *v);

/* true if v is a string equal to s. */
bool gw_sf_str_is(const json_t *v, const char *s);

/* Kong's at_least_one_of entity check over (dotted) names. */
void gw_sf_at_least_one_of(const json_t *e, json_t *errors, bool update, const char *const *names);

/* Kong's conditional check failure: sets then_field's error and the @entity message. */
void gw_sf_conditional_fail(json_t *errors, const char *if_field, const char *then_field,
                            const char *then_msg);

/* Kong's mutually_required check. */
void gw_sf_mutually_required(const json_t *e, json_t *errors, const char *const *names);

/* Kong's distinct check. */
void gw_sf_distinct(const json_t *e, json_t *errors, const char *a, const char *b);

/* ---- shared validators (gw_schema_validators.c) ---- */

enum gw_sf_host_kind {
    GW_SF_HOST_NAME = 0,
    GW_SF_HOST_IPV4,
    GW_SF_HOST_IPV6,
    GW_SF_HOST_KIND_COUNT_ /* keep last */
};

/* Result of gw_sf_normalize_ip: the kind, the host (IPv6 fully expanded, without brackets) and
 * the port (-1 when absent). */
struct gw_sf_host {
    enum gw_sf_host_kind kind;
    char host[256];
    long port;
};

/* Kong's utils.normalize_ip: parses "host", "host:port", "1.2.3.4[:port]", "[v6][:port]" and
 * "v6" into *out. Returns true, or false with Kong's reason in err ("invalid hostname: x",
 * "invalid ipv4 address: x", "invalid ipv6 address: x", "invalid port number"). */
bool gw_sf_normalize_ip(const char *s, struct gw_sf_host *out, char *err, size_t errlen);

bool gw_sf_check_host(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_host_opt_port(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_sni(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_wildcard_host(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_path(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_router_path(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_route_host(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_utf8_name(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_tag(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_header_name(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_cookie_name(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_http_method(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_ip_or_cidr(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_upstream_name(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_target(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_certificate(const json_t *v, char *err, size_t errlen);
bool gw_sf_check_key(const json_t *v, char *err, size_t errlen);

/* Normalises a prefix path like Kong's uri.normalize(path, true) into out. */
void gw_sf_normalize_path(const char *in, char *out, size_t outlen);

/* Common field descriptors shared by several entities. */
extern const struct gw_schema_field gw_sf_tag_elem;
extern const struct gw_schema_field gw_sf_protocol_elem;
extern const char *const gw_sf_protocols[];

#endif
