/* cp/cluster/cp_cluster_version.c: the Hello version rule (same major, data plane minor not
 * newer than the control plane's).
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_cluster_version.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Parses "major.minor" at the start of s (anything may follow). */
static bool parse(const char *s, long *major, long *minor)
{
    char *end;
    if (!s || !isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    *major = strtol(s, &end, 10);
    if (errno || *end != '.' || !isdigit((unsigned char)end[1]))
        return false;
    *minor = strtol(end + 1, &end, 10);
    if (errno || (*end != '\0' && *end != '.' && *end != '-'))
        return false;
    return true;
}

bool cp_cluster_version_compatible(const char *cp_version, const char *dp_version, char *reason,
                                   size_t reasonlen)
{
    long cmaj, cmin, dmaj, dmin;
    if (!parse(cp_version, &cmaj, &cmin)) {
        snprintf(reason, reasonlen, "control plane version '%s' cannot be parsed",
                 cp_version ? cp_version : "");
        return false;
    }
    if (!parse(dp_version, &dmaj, &dmin)) {
        snprintf(reason, reasonlen, "data plane version '%s' cannot be parsed",
                 dp_version ? dp_version : "");
        return false;
    }
    if (dmaj != cmaj) {
        snprintf(reason, reasonlen,
                 "data plane version %s and control plane version %s have different major "
                 "versions",
                 dp_version, cp_version);
        return false;
    }
    if (dmin > cmin) {
        snprintf(reason, reasonlen,
                 "data plane version %s is newer than control plane version %s (minor %ld > %ld)",
                 dp_version, cp_version, dmin, cmin);
        return false;
    }
    if (reasonlen)
        reason[0] = '\0';
    return true;
}
