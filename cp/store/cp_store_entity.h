/* cp/store/cp_store_entity.h: entity rows (id + jsonb doc) of the Kong-named tables: read one,
 * find by field, list a page in primary-key order with tag and foreign-key filters, insert,
 * update, upsert, delete. Writes are meant to run inside cp_store_begin/cp_store_commit_change.
 *
 * table arguments must be one of the entity table names (checked: anything else is
 * GW_ERR_INVALID); field names are checked to be [a-z_]; values always travel as parameters.
 * Store thread only.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_STORE_ENTITY_H
#define CP_STORE_ENTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/cp_store.h"

/* One equality filter on a document field: doc->>field = value, or with sub set,
 * doc->field->>sub = value (foreign keys: field "service", sub "id"). */
struct cp_store_filter {
    const char *field;
    const char *sub;
    const char *value;
};

struct cp_store_list_opts {
    const struct cp_store_filter *filters; /* nfilters entries, AND-ed */
    size_t nfilters;
    const char *const *tags; /* ntags tags; NULL = no tag filter */
    size_t ntags;
    bool tags_or;         /* true: any of the tags; false: all of them */
    const char *after_id; /* page after this id (exclusive), NULL = first page */
    size_t size;          /* rows per page (1..1000) */
    bool newest_first;    /* order by created_at descending, then id (no after_id paging) */
};

/* true if table is one of the entity tables. */
bool cp_store_entity_table_ok(const char *table);

/* Reads the entity with primary key id (a UUID string). GW_OK with *out (owned), GW_ERR_NOTFOUND,
 * GW_ERR_UNAVAILABLE, GW_ERR_IO (err filled). With for_update the row is locked (inside a
 * transaction). */
enum gw_err cp_store_entity_get(struct cp_store *s, const char *table, const char *id,
                                bool for_update, json_t **out, struct cp_store_dberr *err);

/* Reads the first entity matching every filter (nf entries). Same returns as get. */
enum gw_err cp_store_entity_find(struct cp_store *s, const char *table,
                                 const struct cp_store_filter *f, size_t nf, json_t **out,
                                 struct cp_store_dberr *err);

/* Reads one page. *data gets a JSON array (owned). When more rows follow, *last_id gets the id
 * of the last row returned (owned string; free()), else NULL. */
enum gw_err cp_store_entity_list(struct cp_store *s, const char *table,
                                 const struct cp_store_list_opts *o, json_t **data, char **last_id,
                                 struct cp_store_dberr *err);

/* Writes. doc (borrowed) must hold a string "id". insert fails on an existing id (23505 on
 * "<table>_pkey"); update returns GW_ERR_NOTFOUND when no row has that id; upsert inserts or
 * replaces. Constraint violations are GW_ERR_IO with err filled. */
enum gw_err cp_store_entity_insert(struct cp_store *s, const char *table, const json_t *doc,
                                   struct cp_store_dberr *err);
enum gw_err cp_store_entity_update(struct cp_store *s, const char *table, const json_t *doc,
                                   struct cp_store_dberr *err);
enum gw_err cp_store_entity_upsert(struct cp_store *s, const char *table, const json_t *doc,
                                   struct cp_store_dberr *err);

/* Deletes the row with primary key id. *deleted (may be NULL) tells whether a row went. */
enum gw_err cp_store_entity_delete(struct cp_store *s, const char *table, const char *id,
                                   bool *deleted, struct cp_store_dberr *err);

/* Serialises an entity document the way it is stored and served (compact, real numbers with 15
 * significant digits so millisecond timestamps survive). Returns owned text (free()) or NULL. */
char *cp_store_entity_dump(const json_t *doc);

#endif
