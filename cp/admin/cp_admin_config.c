/* cp/admin/cp_admin_config.c: the Admin API's /config endpoint (GET exports the configuration,
 * POST replaces it atomically), a thin adapter over cp/declarative/cp_decl_admin.
 * SPDX-License-Identifier: Apache-2.0 */
#if __has_include("admin/cp_admin_internal.h")

#include <string.h>
#include <strings.h>

#include "admin/cp_admin_internal.h"
#include "declarative/cp_decl_admin.h"

/* True for the content types the Admin API decodes itself (the others reach the declarative
 * reader as raw YAML or JSON text, as Kong's /config accepts YAML bodies). */
static bool decoded_type(const char *ct)
{
    static const char *const types[] = {"application/json", "application/x-www-form-urlencoded",
                                        "multipart/form-data", NULL};
    if (!ct)
        return false;
    for (size_t i = 0; types[i]; i++)
        if (strncasecmp(ct, types[i], strlen(types[i])) == 0)
            return true;
    return false;
}

void cp_admin_handle_config(struct cp_admin_req *r, const char *ct, const char *data, size_t len)
{
    struct cp_decl_reply reply = {0};
    if (r->method == CP_ADMIN_GET) {
        cp_decl_admin_get(r->admin->store, cp_admin_query(r, "format"), &reply);
    } else {
        json_t *decoded = NULL;
        if (decoded_type(ct)) {
            enum cp_admin_body_type type;
            enum gw_err e = cp_admin_body_decode(ct, data, len, &decoded, &type);
            if (e == GW_ERR_INVALID) {
                cp_admin_reply_message(r, 400,
                                       type == CP_ADMIN_BODY_JSON ? "Cannot parse JSON body"
                                                                  : "Cannot parse form body");
                return;
            }
            if (e != GW_OK) {
                cp_admin_reply_message(r, 500, "An unexpected error occurred");
                return;
            }
        }
        const char *ch = cp_admin_query(r, "check_hash");
        cp_decl_admin_post(r->admin->store, data, len, decoded, ch && strcmp(ch, "1") == 0,
                           cp_decl_admin_truthy(cp_admin_query(r, "flatten_errors")), &reply);
        json_decref(decoded);
    }
    if (reply.body)
        cp_admin_reply_json(r, reply.status, reply.body);
    else
        cp_admin_reply_empty(r, reply.status);
}

#endif
