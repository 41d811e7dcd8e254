/* cp/declarative/cp_decl_load.c: parse + flatten + entity model.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_load.h"

#include <stdio.h>

#include "cp_decl_flatten.h"
#include "gw_schema.h"

static enum gw_err process(void *ud, const char *table, json_t **entity, json_t **err_fields)
{
    (void)ud;
    const struct gw_schema *s = gw_schema_get(table);
    if (!s)
        return GW_ERR_INTERNAL;
    json_t *out = NULL;
    enum gw_err rc = gw_schema_process(s, GW_SCHEMA_INSERT, *entity, NULL, &out, err_fields);
    if (rc != GW_OK)
        return rc;
    json_decref(*entity);
    *entity = out;
    return GW_OK;
}

enum gw_err cp_decl_load_doc(const json_t *doc, const char *const *select_tags, json_t **entities,
                             json_t **err_fields)
{
    struct cp_decl_flatten_opts opts = {process, NULL, select_tags};
    return cp_decl_flatten(doc, &opts, entities, err_fields);
}

enum gw_err cp_decl_load_text(const char *text, size_t len, enum cp_decl_format fmt,
                              const char *const *select_tags, json_t **doc, json_t **entities,
                              json_t **err_fields)
{
    char err[512];
    char msg[640];
    *doc = NULL;
    *entities = NULL;
    *err_fields = NULL;
    enum gw_err rc = cp_decl_parse(text, len, fmt, doc, err, sizeof(err));
    if (rc == GW_ERR_NOMEM)
        return rc;
    if (rc != GW_OK) {
        snprintf(msg, sizeof(msg), "failed parsing declarative configuration: %s", err);
        *err_fields = json_pack("{s:s}", "error", msg);
        return *err_fields ? (rc == GW_ERR_TOOBIG ? rc : GW_ERR_INVALID) : GW_ERR_NOMEM;
    }
    return cp_decl_load_doc(*doc, select_tags, entities, err_fields);
}
