/* cp/cluster/cp_cluster_version.h: the Hello version rule: a data plane is accepted when its
 * major version equals the control plane's and its minor version is not newer.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLUSTER_VERSION_H
#define CP_CLUSTER_VERSION_H

#include <stdbool.h>
#include <stddef.h>

/* Checks dp_version against cp_version (both borrowed, "major.minor[.patch][-suffix]"). Returns
 * true when compatible; otherwise false with a human-readable reason in reason (NUL-terminated,
 * at most reasonlen bytes). A missing or malformed version is incompatible. Any thread. */
bool cp_cluster_version_compatible(const char *cp_version, const char *dp_version, char *reason,
                                   size_t reasonlen);

#endif
