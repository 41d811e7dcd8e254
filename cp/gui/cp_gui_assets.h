/* cp/gui/cp_gui_assets.h: the Portico Manager files compiled into portico-cp. The table is
 * generated at build time by cp/gui/embed.cmake from cp/gui/www/.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_GUI_ASSETS_H
#define CP_GUI_ASSETS_H

#include <stddef.h>

struct cp_gui_asset {
    const char *path;         /* "/index.html": the URL path it is served at */
    const char *content_type; /* "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t len;       /* bytes in data (data[len] is a NUL, not counted) */
    const char *etag; /* strong ETag with its quotes: "\"<32 hex of SHA-256>\"" */
};

/* Static storage, generated; read-only, any thread. */
extern const struct cp_gui_asset cp_gui_assets[];
extern const size_t cp_gui_nassets;

#endif
