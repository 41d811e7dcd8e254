/* common/gw_thread.c: scheduling of helper threads.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_thread.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gw_log.h"

void gw_thread_set_background(const char *what)
{
    /* PRIO_PROCESS with a thread id addresses that one thread on Linux (not POSIX). */
    id_t tid = (id_t)syscall(SYS_gettid);
    if (setpriority(PRIO_PROCESS, tid, GW_THREAD_BACKGROUND_NICE) != 0)
        GW_LOG_ERRNO(GW_LOG_INFO, errno, "cannot lower the priority of the %s thread",
                     what ? what : "background");
}
