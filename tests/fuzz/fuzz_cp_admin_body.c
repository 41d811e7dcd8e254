/* tests/fuzz/fuzz_cp_admin_body.c: libFuzzer target for the Admin API write path without the
 * store: body decoding (JSON, form, multipart; cp_admin_body_decode) followed by what the Admin
 * API does with a decoded body (gw_schema_coerce_form, gw_schema_process for INSERT, UPSERT and
 * UPDATE) and gw_schema_validate of the result and of the raw body, for every entity.
 *
 * Input layout: byte 0 selects the entity (modulo the number of entities), byte 1 the
 * content type (0: application/json, 1: form, 2: multipart with boundary "XyZ", 3: the text up
 * to the first '\n' of the rest is the Content-Type header), then the body.
 * SPDX-License-Identifier: Apache-2.0 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "admin/cp_admin_body.h"
#include "gw_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CT 256

/* Runs process (op) of body against the schema, then validates what came out and feeds the
 * result back as an UPDATE, as a PATCH after a POST does. */
static void run_schema(const struct gw_schema *s, const json_t *body)
{
    json_t *ent = NULL, *errf = NULL;
    enum gw_err e = gw_schema_process(s, GW_SCHEMA_INSERT, body, NULL, &ent, &errf);
    if (e == GW_ERR_INVALID && errf) {
        json_t *eb = gw_schema_error_body(errf);
        json_decref(eb);
    }
    json_decref(errf);
    errf = NULL;
    if (e == GW_OK && ent) {
        json_t *vf = NULL;
        /* a processed entity must validate: anything else is a schema bug */
        if (gw_schema_validate(s, ent, &vf) != GW_OK)
            __builtin_trap();
        json_decref(vf);
        json_t *upd = NULL;
        if (gw_schema_process(s, GW_SCHEMA_UPDATE, body, ent, &upd, &errf) == GW_OK)
            json_decref(upd);
        json_decref(errf);
        errf = NULL;
        json_t *ups = NULL;
        if (gw_schema_process(s, GW_SCHEMA_UPSERT, body, ent, &ups, &errf) == GW_OK)
            json_decref(ups);
        json_decref(errf);
        errf = NULL;
    }
    json_decref(ent);
    /* the raw body as if it were a stored entity (what a snapshot check sees) */
    json_t *vf = NULL;
    if (gw_schema_validate(s, body, &vf) == GW_ERR_INVALID && vf) {
        json_t *eb = gw_schema_error_body(vf);
        json_decref(eb);
    }
    json_decref(vf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *const *names = gw_schema_entities();
    size_t nent = 0;
    while (names[nent])
        nent++;
    if (size < 2 || nent == 0)
        return 0;
    const struct gw_schema *s = gw_schema_get(names[data[0] % nent]);
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    char ct[MAX_CT];
    const char *ctp = NULL;
    switch (data[1] & 3) {
    case 0:
        ctp = "application/json";
        break;
    case 1:
        ctp = "application/x-www-form-urlencoded";
        break;
    case 2:
        ctp = "multipart/form-data; boundary=XyZ";
        break;
    default: {
        const char *nl = memchr(body, '\n', len);
        if (!nl)
            return 0;
        size_t n = (size_t)(nl - body);
        if (n >= sizeof ct)
            n = sizeof ct - 1;
        memcpy(ct, body, n);
        ct[n] = '\0';
        if (strlen(ct) != n) /* a header value cannot hold a NUL */
            return 0;
        ctp = ct;
        len -= (size_t)(nl - body) + 1;
        body = nl + 1;
        break;
    }
    }
    json_t *obj = NULL;
    enum cp_admin_body_type type = CP_ADMIN_BODY_NONE;
    enum gw_err e = cp_admin_body_decode(ctp, body, len, &obj, &type);
    if (e != GW_OK) {
        if (obj) /* the contract: no object on failure */
            __builtin_trap();
        return 0;
    }
    if (!json_is_object(obj))
        __builtin_trap();
    if (type == CP_ADMIN_BODY_FORM || type == CP_ADMIN_BODY_MULTIPART)
        gw_schema_coerce_form(s, obj);
    run_schema(s, obj);
    json_decref(obj);
    return 0;
}
