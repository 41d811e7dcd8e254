/* common/gw_err.h: the one error enum used by every fallible function in Portico.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_ERR_H
#define GW_ERR_H

enum gw_err {
    GW_OK = 0,
    GW_ERR_NOMEM,       /* allocation failed */
    GW_ERR_INVALID,     /* bad input: syntax, range, schema */
    GW_ERR_NOTFOUND,    /* the thing asked for does not exist */
    GW_ERR_EXISTS,      /* would create a duplicate */
    GW_ERR_TOOBIG,      /* a hard size limit was reached */
    GW_ERR_IO,          /* a system call failed; errno says why */
    GW_ERR_AGAIN,       /* would block: try again when ready */
    GW_ERR_DECLINED,    /* not mine: let the next handler try */
    GW_ERR_TIMEOUT,     /* a deadline passed */
    GW_ERR_UNAVAILABLE, /* a dependency (database, peer) cannot be reached */
    GW_ERR_TLS,         /* TLS or certificate failure */
    GW_ERR_INTERNAL,    /* a bug or an impossible state */
    GW_ERR_COUNT_       /* number of codes; keep last */
};

/* Returns a static, human readable name for err ("invalid input", ...). Any thread. */
const char *gw_err_str(enum gw_err err);

#endif
