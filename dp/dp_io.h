/* dp/dp_io.h: a lean buffered socket for the proxy's hot path, shaped like the subset of
 * libevent's bufferevent that Portico uses. Differences that save system calls: one recv per
 * read event (no FIONREAD ioctl); output queued by a socket callback is written when that
 * callback returns (queued elsewhere: at the end of the loop iteration), in one send or sendmsg,
 * arming EV_WRITE only when the kernel buffer is full (no epoll_ctl per response). send/recv
 * rather than writev/readv: they skip the kernel's file layer. No timeouts: the worker's tick
 * handles those. Everything runs on one worker thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_IO_H
#define DP_IO_H

#include <event2/buffer.h>
#include <event2/bufferevent.h> /* BEV_EVENT_* flags */
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

struct dp_io;
struct dp_io_loop;

typedef void (*dp_io_data_cb)(struct dp_io *io, void *arg);
typedef void (*dp_io_event_cb)(struct dp_io *io, short what, void *arg);

/* Per-worker flush scheduler. Returns owned (free with dp_io_loop_destroy) or NULL. */
struct dp_io_loop *dp_io_loop_create(struct event_base *base);
void dp_io_loop_destroy(struct dp_io_loop *l);

/* Wraps fd (takes ownership; closed by dp_io_free), or fd -1 before dp_io_socket_connect.
 * Returns owned or NULL. */
struct dp_io *dp_io_socket_new(struct dp_io_loop *l, evutil_socket_t fd);

/* Starts a non-blocking connect; the event callback gets BEV_EVENT_CONNECTED or
 * BEV_EVENT_ERROR. Returns 0, or -1 when the connect failed at once. */
int dp_io_socket_connect(struct dp_io *io, const struct sockaddr *sa, int salen);

/* Frees io and closes its socket; safe inside io's own callbacks. Accepts NULL. */
void dp_io_free(struct dp_io *io);

/* The input buffer (borrowed). Call it to consume input: when reading stopped at the high
 * watermark, reading is re-checked at the end of the loop iteration. */
struct evbuffer *dp_io_get_input(struct dp_io *io);

/* The output buffer (borrowed). Call it to add output: what it holds when the current socket
 * callback returns (outside one: at the end of the loop iteration) is written then, in one
 * system call. Output added through a pointer kept from an earlier call is not noticed. */
struct evbuffer *dp_io_get_output(struct dp_io *io);

/* Bytes waiting in the input / output buffer (no side effect). */
size_t dp_io_input_len(const struct dp_io *io);
size_t dp_io_output_len(const struct dp_io *io);
evutil_socket_t dp_io_getfd(struct dp_io *io);

void dp_io_setcb(struct dp_io *io, dp_io_data_cb readcb, dp_io_data_cb writecb,
                 dp_io_event_cb eventcb, void *arg);

/* EV_READ starts/stops reading (EV_WRITE is accepted and ignored: writing is automatic). */
void dp_io_enable(struct dp_io *io, short what);
void dp_io_disable(struct dp_io *io, short what);

/* EV_READ: stop reading while the input holds high bytes or more (0 = no limit).
 * EV_WRITE: call the write callback after a write leaves low bytes or fewer. */
void dp_io_setwatermark(struct dp_io *io, short what, size_t low, size_t high);

/* Makes io a TLS socket (dp/tls/dp_tls_io.h): tls (takes ownership; freed with io) is a server
 * end bound to io's accepted socket, or a client end whose handshake starts once
 * dp_io_socket_connect succeeded (BEV_EVENT_CONNECTED then means "handshake done"). Call
 * before enabling io. */
struct dp_tls_io;
void dp_io_set_tls(struct dp_io *io, struct dp_tls_io *tls);

/* The TLS layer of io (borrowed), or NULL for a plain socket. */
struct dp_tls_io *dp_io_get_tls(struct dp_io *io);

/* Moves buf's contents to the output. */
int dp_io_write_buffer(struct dp_io *io, struct evbuffer *buf);

#endif
