/* cp/gui/cp_gui_cors.h: CORS for the Admin API, so Portico Manager (another origin: its own
 * port) can call it from the browser. The Admin API server calls these on every request.
 *
 * Allowed origins: admin_gui_url's origin when it is set (Kong's rule: that origin is the
 * answer whatever the request's Origin, and the browser refuses a mismatch); otherwise the origin
 * of Portico Manager itself, i.e. an http(s) origin whose port is one of admin_gui_listen's and
 * whose host is the host the request was sent to (its Host header). Kong reflects any Origin here;
 * Portico does not, so other web sites cannot drive the Admin API through a browser.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_GUI_CORS_H
#define CP_GUI_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_conf.h"
#include "gw_err.h"

struct evhttp_request;
struct cp_gui_cors;

/* Reads admin_gui_url and admin_gui_listen from conf (borrowed, only during the call). Returns
 * owned; free with cp_gui_cors_destroy. NULL when out of memory or admin_gui_url is not an
 * http(s) URL (logged). Call from main before the loop runs. */
struct cp_gui_cors *cp_gui_cors_create(const struct gw_conf *conf);

/* Frees c; accepts NULL. */
void cp_gui_cors_destroy(struct cp_gui_cors *c);

/* Decides the Access-Control-Allow-Origin value for a request with headers origin and host
 * (either may be NULL). Writes it into out and returns GW_OK (admin_gui_url's origin when set;
 * else "*" when there is no Origin, as Kong does, or the origin itself when it is allowed).
 * GW_ERR_DECLINED when the origin is not allowed (send no CORS headers), GW_ERR_TOOBIG when out
 * is too small. Pure; any thread. */
enum gw_err cp_gui_cors_origin(const struct cp_gui_cors *c, const char *origin, const char *host,
                               char *out, size_t outlen);

/* Adds Access-Control-Allow-Origin (and Vary: Origin) to req's output headers when the request's
 * Origin is allowed. Call at the start of handling every Admin API request (headers persist until
 * the reply). Borrows req. Call on the Admin API's loop thread. */
void cp_gui_cors_apply(const struct cp_gui_cors *c, struct evhttp_request *req);

/* Answers an OPTIONS request the way Kong does: 204 with Allow and Access-Control-Allow-Methods
 * = allow_methods (e.g. "GET, HEAD, OPTIONS, POST"), Access-Control-Allow-Headers = the request's
 * Access-Control-Request-Headers (or "Content-Type"), Access-Control-Max-Age, and the
 * Access-Control-Allow-Origin of cp_gui_cors_apply. Must run BEFORE the admin_token check:
 * browsers never send credentials on a preflight. Sends the reply; req is done afterwards. */
void cp_gui_cors_preflight(const struct cp_gui_cors *c, struct evhttp_request *req,
                           const char *allow_methods);

#endif
