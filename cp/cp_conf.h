/* cp/cp_conf.h: the configuration keys of portico-cp.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONF_H
#define CP_CONF_H

#include <stddef.h>

#include "gw_conf.h"

/* The key table (static storage) and its length. */
extern const struct gw_conf_key cp_conf_keys[];
extern const size_t cp_conf_nkeys;

#endif
