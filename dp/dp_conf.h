/* dp/dp_conf.h: the configuration keys of portico-dp.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONF_H
#define DP_CONF_H

#include <stddef.h>

#include "gw_conf.h"

/* The key table (static storage) and its length. */
extern const struct gw_conf_key dp_conf_keys[];
extern const size_t dp_conf_nkeys;

#endif
