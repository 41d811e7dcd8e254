/* common/gw_thread.h: scheduling of helper threads.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_THREAD_H
#define GW_THREAD_H

/* Nice value of background threads: the lowest CFS weight short of SCHED_IDLE. */
#define GW_THREAD_BACKGROUND_NICE 19

/* Lowers the calling thread's scheduling priority to nice GW_THREAD_BACKGROUND_NICE (Linux
 * keeps the nice value per thread; threads it creates afterwards inherit it). For threads
 * whose work may wait while request-serving threads run on the same CPU (config decode,
 * validation, build): they take the CPU time the workers leave idle, and still get a small
 * share (weight 15 against 1024 at nice 0) when the workers saturate it, so they cannot starve,
 * unlike SCHED_IDLE. what names the thread in the log line written when the kernel refuses
 * (never fatal). Any thread, for itself only. */
void gw_thread_set_background(const char *what);

#endif
