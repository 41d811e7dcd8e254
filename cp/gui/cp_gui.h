/* cp/gui/cp_gui.h: Portico Manager, the web admin UI. Serves the files embedded from cp/gui/www
 * and a small runtime configuration (/config.js) on admin_gui_listen, on the control plane's
 * libevent loop. The UI itself talks to the Admin API from the browser.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_GUI_H
#define CP_GUI_H

#include <stddef.h>

#include "gw_conf.h"
#include "gw_err.h"

struct event_base;

/* Starts serving on every address of admin_gui_listen ("off" = not started, GW_OK). Reads
 * admin_gui_api_url, admin_listen and admin_token from conf (borrowed; only read during the
 * call). GW_ERR_INVALID for a bad admin_gui_api_url or an `ssl` listen flag (not supported),
 * GW_ERR_IO when an address cannot be bound, GW_ERR_NOMEM; nothing is left running on error.
 * base is borrowed and must outlive cp_gui_stop. Call once, from the loop's thread, before
 * event_base_dispatch. */
enum gw_err cp_gui_start(struct event_base *base, const struct gw_conf *conf);

/* Closes the listeners and open connections and frees everything cp_gui_start made. Safe when
 * not started. Call from the loop's thread, before event_base_free. */
void cp_gui_stop(void);

/* Writes into out the runtime configuration script served as /config.js:
 *   window.PORTICO_CONFIG = {"apiUrl": ..., "apiPort": ..., ...};
 * api_url is admin_gui_api_url ("" = same host as the UI, port api_port). Returns GW_OK,
 * GW_ERR_INVALID when api_url is not an http(s) URL of safe characters, GW_ERR_TOOBIG when out
 * is too small. Pure function, any thread; exposed for the unit tests. */
enum gw_err cp_gui_config_js(const char *api_url, int api_port, int api_ssl, int token_required,
                             char *out, size_t outlen);

/* Writes into out the origin ("scheme://host[:port]") the UI's pages may connect to, for the
 * Content-Security-Policy. With api_url set it is api_url's origin; otherwise it is built from
 * the request's Host header (host only, port replaced by api_port). Returns GW_ERR_INVALID when
 * no safe origin can be made (missing or odd Host), GW_ERR_TOOBIG. Pure function, any thread. */
enum gw_err cp_gui_api_origin(const char *api_url, const char *host_header, int api_port,
                              int api_ssl, char *out, size_t outlen);

#endif
