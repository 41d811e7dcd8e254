/* dp/cluster/dp_cluster_nodeid.c: persistent node id in <prefix>/node.id.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_cluster_nodeid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

#include "gw_log.h"

enum gw_err dp_cluster_node_id(const char *prefix, char out[GW_UUID_STRLEN + 1])
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/node.id", prefix);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd != -1) {
        char buf[64] = "";
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0) {
            GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot read node id path=%s", path);
            return GW_ERR_IO;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n \t")] = '\0';
        if (!gw_uuid_valid(buf)) {
            GW_LOG(GW_LOG_CRIT, "node id file does not hold a UUID path=%s", path);
            return GW_ERR_INVALID;
        }
        memcpy(out, buf, GW_UUID_STRLEN);
        out[GW_UUID_STRLEN] = '\0';
        return GW_OK;
    }
    if (errno != ENOENT) {
        GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot open node id path=%s", path);
        return GW_ERR_IO;
    }
    if (gw_uuid_v4(out) != GW_OK)
        return GW_ERR_IO;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd == -1) {
        GW_LOG_ERRNO(GW_LOG_CRIT, errno, "cannot create node id path=%s", tmp);
        return GW_ERR_IO;
    }
    char line[GW_UUID_STRLEN + 2];
    int len = snprintf(line, sizeof(line), "%s\n", out);
    bool ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok || rename(tmp, path) == -1) {
        GW_LOG_ERRNO(GW_LOG_CRIT, ok ? errno : saved, "cannot write node id path=%s", path);
        unlink(tmp);
        return GW_ERR_IO;
    }
    GW_LOG(GW_LOG_NOTICE, "generated node id node_id=%s path=%s", out, path);
    return GW_OK;
}
