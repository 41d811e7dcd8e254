/* dp/dp_error_body.h: the body of a response Portico produces itself (no route, 502, 504, 413,
 * ...), in the format the client's Accept header asks for, as Kong's kong.response.error does:
 * JSON (the default), HTML, XML or plain text, each carrying the message and the request id.
 * Pure functions; any thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_ERROR_BODY_H
#define DP_ERROR_BODY_H

#include <stddef.h>

#include "gw_buf.h"

enum dp_error_type {
    DP_ERROR_JSON = 0,
    DP_ERROR_HTML,
    DP_ERROR_XML,
    DP_ERROR_PLAIN,
};

/* The type for one Accept header value (accept, len bytes), chosen as Kong's get_response_type
 * does: the comma-separated media ranges are read in order, and the first one with the highest
 * q (a range with q=0 never) decides: text/html -> HTML, application/xml -> XML, text/plain and
 * text/\* -> plain text, anything else (application/json, \*\/\*, image/png...) -> JSON.
 * Unlike Kong, media type names are compared case-insensitively (RFC 9110). current and *best_q
 * carry the choice across several Accept headers (start with DP_ERROR_JSON and 0). */
enum dp_error_type dp_error_type_from_accept(const char *accept, size_t len,
                                             enum dp_error_type current, double *best_q);

/* "application/json; charset=utf-8" and so on: the Content-Type of type t. */
const char *dp_error_content_type(enum dp_error_type t);

/* Appends the body for message and request_id (both NUL-terminated; inserted as they are, as
 * Kong does: the messages are Portico's own constants) to o. Returns o's status. */
enum gw_err dp_error_body(struct gw_buf *o, enum dp_error_type t, const char *message,
                          const char *request_id);

#endif
