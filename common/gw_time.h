/* common/gw_time.h: clocks and time formatting.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_TIME_H
#define GW_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in milliseconds / microseconds / nanoseconds. Any thread. */
uint64_t gw_time_mono_ms(void);
uint64_t gw_time_mono_us(void);
uint64_t gw_time_mono_ns(void);

/* Wall clock: unix seconds, and unix milliseconds. Any thread. */
int64_t gw_time_unix_s(void);
int64_t gw_time_unix_ms(void);

/* Formats unix milliseconds as RFC 3339 UTC ("2026-11-30T08:30:00.123Z") into out (at least
 * 25 bytes). Returns out. */
char *gw_time_format_rfc3339_ms(int64_t unix_ms, char *out, size_t outlen);

/* Formats unix seconds as an HTTP date ("Mon, 30 Nov 2026 08:30:00 GMT") into out (at least 30
 * bytes). Returns out. */
char *gw_time_format_http(int64_t unix_s, char *out, size_t outlen);

#endif
