/* tests/fuzz/fuzz_cp_decl.c: libFuzzer target for the declarative configuration loader: the
 * YAML/JSON parser (cp_decl_parse: anchors, aliases, merge keys, scalar typing, limits) and the
 * flattening of the parsed document into entities (cp_decl_flatten) with every entity run
 * through gw_schema_process, as `portico-cp config validate` does.
 *
 * Input layout: byte 0 selects the format (0: auto, 1: YAML, 2: JSON), the rest is the text.
 * fuzz-requires: cp/declarative/cp_decl_parse.h
 * SPDX-License-Identifier: Apache-2.0 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "declarative/cp_decl_flatten.h"
#include "declarative/cp_decl_parse.h"
#include "gw_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The flattening callback: Kong's defaults and validation for each entity. */
static enum gw_err process(void *ud, const char *table, json_t **entity, json_t **err_fields)
{
    (void)ud;
    const struct gw_schema *s = gw_schema_get(table);
    if (!s)
        return GW_OK;
    json_t *out = NULL;
    enum gw_err e = gw_schema_process(s, GW_SCHEMA_INSERT, *entity, NULL, &out, err_fields);
    if (e != GW_OK)
        return e;
    json_decref(*entity);
    *entity = out;
    return GW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum cp_decl_format fmt = (enum cp_decl_format)(data[0] % CP_DECL_FORMAT_COUNT_);
    json_t *doc = NULL;
    char err[512];
    err[0] = '\0';
    enum gw_err e = cp_decl_parse((const char *)data + 1, size - 1, fmt, &doc, err, sizeof err);
    if (e != GW_OK) {
        if (doc || err[0] == '\0') /* the contract: no document, a message */
            __builtin_trap();
        return 0;
    }
    struct cp_decl_flatten_opts opts = {
        .process = process, .process_ud = NULL, .select_tags = NULL};
    json_t *flat = NULL, *errf = NULL;
    e = cp_decl_flatten(doc, data[0] & 4 ? &opts : NULL, &flat, &errf);
    if (e == GW_OK && !json_is_object(flat))
        __builtin_trap();
    json_decref(flat);
    json_decref(errf);
    json_decref(doc);
    return 0;
}
