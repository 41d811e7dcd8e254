/* dp/config/dp_config_validate.h: checks every entity of a received Config with the shared
 * entity model (common/gw_schema), the same code the Admin API validates writes with, before the
 * data plane builds a runtime config from it.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_CONFIG_VALIDATE_H
#define DP_CONFIG_VALIDATE_H

#include "dp_config.h"
#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

/* Validates every entity of pb (borrowed): each is converted to Kong's JSON (gw_pbjson) and
 * checked with gw_schema_process as an Admin API insert would be (absent fields take Kong's
 * defaults, every present value and entity rule is checked). Entities that were valid in the
 * previous successful call (same bytes) are not checked again, so a small change to a large config
 * costs little. Each problem is reported through on_error (may be NULL) as (table, id, field path,
 * message). Returns GW_OK, GW_ERR_INVALID or GW_ERR_NOMEM. Call from one thread at a time (the
 * apply path holds its lock); not from a proxy worker. */
enum gw_err dp_config_validate(const Portico__V1__Config *pb, dp_config_error_fn on_error,
                               void *arg);

/* Frees the memory of already-validated entities. Call at exit. */
void dp_config_validate_cleanup(void);

#endif
