/* cp/declarative/cp_decl_entities.h: what the declarative format needs to know about each
 * entity table beyond its field schema: endpoint key, Kong's cache key (for deterministic ids),
 * foreign keys (for nesting and references) and unique fields (for duplicate detection).
 * The tables are static and immutable; every function may be called from any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_DECL_ENTITIES_H
#define CP_DECL_ENTITIES_H

#include <stdbool.h>
#include <stddef.h>

struct cp_decl_fk {
    const char *field;  /* "service" */
    const char *entity; /* "services" */
    bool cascade;       /* on_delete = cascade in Kong's schema */
};

struct cp_decl_entity {
    const char *name;             /* table name: "services" */
    const char *endpoint_key;     /* "name", "username", ...; NULL if none */
    bool endpoint_key_unique;     /* false for targets.target (unique per upstream) */
    const char *const *cache_key; /* Kong's cache_key fields, NULL-terminated; NULL if none */
    const char *const *unique;    /* globally unique fields besides id, NULL-terminated */
    const struct cp_decl_fk *fks; /* foreign keys */
    size_t nfks;
};

/* All entity tables the declarative format knows, parents before children (the order in which
 * they are written, exported and synced). *n receives the count. Static storage. */
const struct cp_decl_entity *cp_decl_entities(size_t *n);

/* The entity named name ("services"), or NULL. */
const struct cp_decl_entity *cp_decl_entity_get(const char *name);

/* The foreign key of child that references parent (routes -> services gives "service"), or
 * NULL if child cannot be nested under parent. */
const struct cp_decl_fk *cp_decl_entity_parent_fk(const struct cp_decl_entity *child,
                                                  const char *parent);

/* Kong's singular entity name for flattened errors ("services" -> "service"). Static storage. */
const char *cp_decl_entity_singular(const char *name);

#endif
