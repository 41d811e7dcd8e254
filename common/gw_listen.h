/* common/gw_listen.h: listen address lists as Kong writes them:
 *   "0.0.0.0:8000, 0.0.0.0:8443 ssl", "[::1]:8001", "127.0.0.1:8100", "off".
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_LISTEN_H
#define GW_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

#define GW_LISTEN_MAX 16

struct gw_listen {
    char host[64]; /* without brackets for IPv6 */
    int port;
    bool ssl;
    bool reuseport;
    bool http2;
};

/* Parses text into out[0..*n). "off" (or "") gives *n = 0. Unknown flags, bad ports or more than
 * GW_LISTEN_MAX entries are GW_ERR_INVALID with a message in err. */
enum gw_err gw_listen_parse(const char *text, struct gw_listen *out, size_t *n, char *err,
                            size_t errlen);

#endif
