/* common/gw_err.c: names of the error codes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_err.h"

const char *gw_err_str(enum gw_err err)
{
    static const char *const names[GW_ERR_COUNT_] = {
        [GW_OK] = "ok",
        [GW_ERR_NOMEM] = "out of memory",
        [GW_ERR_INVALID] = "invalid input",
        [GW_ERR_NOTFOUND] = "not found",
        [GW_ERR_EXISTS] = "already exists",
        [GW_ERR_TOOBIG] = "size limit exceeded",
        [GW_ERR_IO] = "i/o error",
        [GW_ERR_AGAIN] = "try again",
        [GW_ERR_DECLINED] = "declined",
        [GW_ERR_TIMEOUT] = "timed out",
        [GW_ERR_UNAVAILABLE] = "unavailable",
        [GW_ERR_TLS] = "tls error",
        [GW_ERR_INTERNAL] = "internal error",
    };
    if ((unsigned)err >= GW_ERR_COUNT_)
        return "unknown error";
    return names[err];
}
