/* dp/dp_io.c: buffered sockets with deferred, batched writes (see dp_io.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/dp_tls_io.h"

#define READ_CHUNK (64 * 1024)
/* A read (one recv) lands in the loop's scratch buffer and is copied into the input buffer:
 * libevent then allocates a chain of 1 KiB (a thread-cache malloc) for a request or a small
 * response instead of one that holds READ_CHUNK (a 128 KiB malloc and free per read). After a
 * read of more than READ_SMALL bytes the next one goes straight into a READ_CHUNK reservation
 * (a body is streaming, the copy would cost more than the allocation). */
#define READ_SMALL 900
#define WRITE_IOV  64 /* extents per sendmsg (libevent's evbuffer_write takes 128) */

struct dp_io_loop {
    struct event_base *base;
    struct event *flush_ev;
    struct dp_io *head;       /* sockets with output queued this iteration */
    bool scheduled;           /* flush_ev is active */
    int in_io;                /* socket callbacks on the stack (see io_begin) */
    char scratch[READ_CHUNK]; /* small reads land here first (see READ_SMALL) */
};

struct dp_io {
    struct dp_io_loop *loop;
    evutil_socket_t fd;
    struct event *rev, *wev;
    struct evbuffer *in, *out;
    dp_io_data_cb rcb, wcb;
    dp_io_event_cb ecb;
    void *arg;
    size_t rhigh, wlow;
    int in_cb;      /* callbacks of this socket on the stack */
    bool want_read; /* the user enabled reading */
    bool reading;   /* rev is added */
    bool wev_added; /* wev is added (connect in progress or kernel buffer full) */
    bool connecting;
    bool queued;     /* on the loop's flush list */
    bool check_read; /* the input may have been drained below the high watermark */
    bool big_reads;  /* the last read took more than READ_SMALL: reserve READ_CHUNK */
    bool dead;       /* dp_io_free was called inside a callback */
    struct dp_io *qnext, *qprev;
    struct dp_tls_io *tls; /* NULL = plain socket */
};

static void really_free(struct dp_io *io)
{
    if (io->in)
        evbuffer_free(io->in);
    if (io->out)
        evbuffer_free(io->out);
    free(io);
}

static void cb_begin(struct dp_io *io)
{
    io->in_cb++;
}

/* Returns false when io was freed by the callback (it must not be touched again). */
static bool cb_end(struct dp_io *io)
{
    io->in_cb--;
    if (io->dead) {
        if (!io->in_cb)
            really_free(io);
        return false;
    }
    return true;
}

static void unqueue(struct dp_io *io)
{
    if (!io->queued)
        return;
    if (io->qprev)
        io->qprev->qnext = io->qnext;
    else
        io->loop->head = io->qnext;
    if (io->qnext)
        io->qnext->qprev = io->qprev;
    io->qnext = io->qprev = NULL;
    io->queued = false;
}

static void fire_event(struct dp_io *io, short what)
{
    if (!io->ecb)
        return;
    cb_begin(io);
    io->ecb(io, what, io->arg);
    cb_end(io);
}

static void update_read(struct dp_io *io);

/* End of the input (EOF or a read error): reading stops, as a bufferevent's does, then the event
 * callback hears of it (a callback that neither frees nor re-enables io is not called again). */
static void read_failed(struct dp_io *io, short what)
{
    io->want_read = false;
    update_read(io);
    fire_event(io, what);
}

static void update_read(struct dp_io *io)
{
    bool want = io->rev && !io->dead &&
                ((io->want_read && !(io->rhigh && evbuffer_get_length(io->in) >= io->rhigh)) ||
                 (io->tls && (io->tls->handshaking || io->tls->write_want_read)));
    if (want && !io->reading) {
        event_add(io->rev, NULL);
        io->reading = true;
        /* decrypted or buffered TLS bytes produce no socket event */
        if (io->tls && dp_tls_io_pending(io->tls))
            event_active(io->rev, EV_READ, 0);
    } else if (!want && io->reading) {
        event_del(io->rev);
        io->reading = false;
    }
}

/* One send() of the output when it is one extent (a response read in one piece), else
 * sendmsg() of up to WRITE_IOV extents at a time; drains what the kernel took. Returns the bytes
 * written, or -1 (errno) when nothing could be. send/recv go straight to
 * the socket layer: readv/writev pass through the file layer first (position lock, range
 * check, iterator setup), a few percent of a proxied request's kernel time on loopback. */
static ssize_t send_out(struct dp_io *io)
{
    ssize_t total = 0;
    for (;;) {
        struct evbuffer_iovec v[WRITE_IOV];
        int nv = evbuffer_peek(io->out, -1, NULL, v, WRITE_IOV);
        if (nv > WRITE_IOV)
            nv = WRITE_IOV;
        if (nv <= 0)
            return total;
        ssize_t n;
        size_t given = 0;
        if (nv == 1) {
            given = v[0].iov_len;
            n = send(io->fd, v[0].iov_base, given, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            struct iovec iov[WRITE_IOV];
            for (int i = 0; i < nv; i++) {
                iov[i].iov_base = v[i].iov_base;
                iov[i].iov_len = v[i].iov_len;
                given += v[i].iov_len;
            }
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)nv};
            n = sendmsg(io->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n <= 0)
            return total ? total : n;
        evbuffer_drain(io->out, (size_t)n);
        total += n;
        /* the kernel took all it was given and more extents wait: go on (output of more than
         * WRITE_IOV extents); a short write means the socket buffer is full */
        if ((size_t)n < given || !evbuffer_get_length(io->out))
            return total;
    }
}

/* Writes what the kernel takes; arms EV_WRITE for the rest. */
static void do_write(struct dp_io *io)
{
    if (io->dead || io->connecting || io->fd < 0)
        return;
    if (io->tls && io->tls->handshaking)
        return;
    size_t before = evbuffer_get_length(io->out);
    if (before && io->tls) {
        enum dp_tls_res tr = dp_tls_io_write(io->tls, io->out);
        if (tr == DP_TLS_ERROR || tr == DP_TLS_EOF) {
            if (io->wev_added) {
                event_del(io->wev);
                io->wev_added = false;
            }
            fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
            return;
        }
        if (tr == DP_TLS_WANT_READ)
            update_read(io);
    } else if (before) {
        ssize_t n = send_out(io);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            if (io->wev_added) {
                event_del(io->wev);
                io->wev_added = false;
            }
            fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
            return;
        }
    }
    size_t left = evbuffer_get_length(io->out);
    if (io->tls && io->tls->write_want_read)
        left = 0; /* waits for a read event instead (see read_ready) */
    if (left && !io->wev_added) {
        event_add(io->wev, NULL);
        io->wev_added = true;
    } else if (!left && io->wev_added) {
        event_del(io->wev);
        io->wev_added = false;
    }
    left = evbuffer_get_length(io->out);
    if (left < before && left <= io->wlow && io->wcb) {
        cb_begin(io);
        io->wcb(io, io->arg);
        cb_end(io);
    }
}

/* Writes every socket on the flush list (and re-checks its reading). Counts as a socket
 * callback: output a write callback queues meanwhile joins this flush. */
static void flush_list(struct dp_io_loop *l)
{
    l->in_io++;
    while (l->head) {
        struct dp_io *io = l->head;
        unqueue(io);
        cb_begin(io);
        if (io->check_read) {
            io->check_read = false;
            update_read(io);
        }
        do_write(io);
        cb_end(io);
    }
    l->in_io--;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dp_io_loop *l = arg;
    (void)fd;
    (void)what;
    l->scheduled = false;
    flush_list(l);
}

/* Socket callbacks are bracketed by io_begin/io_end: output queued inside one is written when it
 * returns, so a request goes to the upstream (and a response to the client) while the loop goes
 * on with the other ready sockets, and several pieces of output queued by one callback still go
 * in one send. Output queued anywhere else (timers, other events) waits for the end of the loop
 * iteration (flush_ev). */
static void io_begin(struct dp_io_loop *l)
{
    l->in_io++;
}

static void io_end(struct dp_io_loop *l)
{
    if (--l->in_io == 0)
        flush_list(l);
}

/* Puts io on the loop's flush list. No evbuffer callbacks: they would run on every add and
 * drain. */
static void enqueue(struct dp_io *io)
{
    if (io->queued || io->dead)
        return;
    io->queued = true;
    io->qprev = NULL;
    io->qnext = io->loop->head;
    if (io->loop->head)
        io->loop->head->qprev = io;
    io->loop->head = io;
    if (!io->loop->scheduled && !io->loop->in_io) {
        io->loop->scheduled = true;
        event_active(io->loop->flush_ev, EV_WRITE, 0);
    }
}

static void tls_handshake_step(struct dp_io *io);
static void tls_read_ready(struct dp_io *io);

static void read_ready_io(evutil_socket_t fd, struct dp_io *io)
{
    if (io->tls) {
        tls_read_ready(io);
        return;
    }
    size_t len = evbuffer_get_length(io->in);
    size_t want = READ_CHUNK;
    if (io->rhigh) {
        if (len >= io->rhigh) {
            update_read(io);
            return;
        }
        if (io->rhigh - len < want)
            want = io->rhigh - len;
    }
    ssize_t n;
    if (io->big_reads && want > READ_SMALL) {
        /* a body is streaming: straight into one contiguous reservation */
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(io->in, (ev_ssize_t)want, &v, 1) != 1) {
            read_failed(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
            return;
        }
        n = recv(fd, v.iov_base, want, MSG_DONTWAIT);
        int err = errno;
        v.iov_len = n > 0 ? (size_t)n : 0;
        evbuffer_commit_space(io->in, &v, 1);
        errno = err;
    } else {
        n = recv(fd, io->loop->scratch, want, MSG_DONTWAIT);
        if (n > 0 && evbuffer_add(io->in, io->loop->scratch, (size_t)n) != 0) {
            read_failed(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
            return;
        }
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        read_failed(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
        return;
    }
    if (n == 0) {
        read_failed(io, BEV_EVENT_EOF | BEV_EVENT_READING);
        return;
    }
    io->big_reads = (size_t)n > READ_SMALL;
    cb_begin(io);
    if (io->rcb)
        io->rcb(io, io->arg);
    if (cb_end(io))
        update_read(io);
}

static void write_ready_io(evutil_socket_t fd, struct dp_io *io)
{
    if (io->tls && io->tls->handshaking && !io->connecting) {
        tls_handshake_step(io);
        return;
    }
    if (io->tls && io->tls->read_want_write) {
        tls_read_ready(io);
        if (io->dead)
            return;
    }
    if (io->connecting) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1)
            err = errno;
        if (err == EINPROGRESS)
            return;
        io->connecting = false;
        event_del(io->wev);
        io->wev_added = false;
        if (err) {
            errno = err;
            fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
            return;
        }
        if (io->tls) {
            dp_tls_io_start_client(io->tls, io->fd);
            tls_handshake_step(io);
            return;
        }
        update_read(io); /* reading enabled before the connect (there was no event to add) */
        cb_begin(io);
        if (io->ecb)
            io->ecb(io, BEV_EVENT_CONNECTED, io->arg);
        if (!cb_end(io))
            return;
    }
    cb_begin(io);
    do_write(io);
    cb_end(io);
}

/* Runs a socket callback between io_begin and io_end (io may be freed inside). */
static void as_io_callback(void (*fn)(evutil_socket_t, struct dp_io *), evutil_socket_t fd,
                           struct dp_io *io)
{
    struct dp_io_loop *l = io->loop;
    io_begin(l);
    fn(fd, io);
    io_end(l);
}

static void read_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    as_io_callback(read_ready_io, fd, arg);
}

static void write_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    as_io_callback(write_ready_io, fd, arg);
}

/* ---- TLS (dp/tls/dp_tls_io.c does the OpenSSL calls) ----------------------------------------- */

static void set_wev(struct dp_io *io, bool on)
{
    if (on && !io->wev_added) {
        event_add(io->wev, NULL);
        io->wev_added = true;
    } else if (!on && io->wev_added) {
        event_del(io->wev);
        io->wev_added = false;
    }
}

/* Client handshake: CONNECTED is reported once it is complete, then queued output goes. */
static void tls_handshake_step(struct dp_io *io)
{
    enum dp_tls_res tr = dp_tls_io_handshake(io->tls);
    if (tr == DP_TLS_WANT_READ || tr == DP_TLS_WANT_WRITE) {
        set_wev(io, tr == DP_TLS_WANT_WRITE);
        update_read(io);
        return;
    }
    set_wev(io, false);
    update_read(io);
    if (tr != DP_TLS_OK) {
        fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
        return;
    }
    cb_begin(io);
    if (io->ecb)
        io->ecb(io, BEV_EVENT_CONNECTED, io->arg);
    if (!cb_end(io))
        return;
    cb_begin(io);
    do_write(io);
    cb_end(io);
}

static void tls_read_ready(struct dp_io *io)
{
    if (io->tls->handshaking) {
        tls_handshake_step(io);
        return;
    }
    if (io->tls->write_want_read) {
        cb_begin(io);
        do_write(io);
        if (!cb_end(io))
            return;
        update_read(io);
        if (!io->want_read)
            return;
    }
    size_t len = evbuffer_get_length(io->in);
    size_t want = READ_CHUNK;
    if (io->rhigh) {
        if (len >= io->rhigh) {
            update_read(io);
            return;
        }
        if (io->rhigh - len < want)
            want = io->rhigh - len;
    }
    size_t n = 0;
    enum dp_tls_res tr = dp_tls_io_read(io->tls, io->in, want, &n);
    if (tr == DP_TLS_WANT_WRITE)
        set_wev(io, true);
    if (tr == DP_TLS_EOF) {
        read_failed(io, BEV_EVENT_EOF | BEV_EVENT_READING);
        return;
    }
    if (tr == DP_TLS_ERROR) {
        read_failed(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
        return;
    }
    if (!n)
        return;
    cb_begin(io);
    if (io->rcb)
        io->rcb(io, io->arg);
    if (!cb_end(io))
        return;
    update_read(io);
    /* Bytes OpenSSL already decrypted produce no socket event: come back for them. */
    if (io->reading && dp_tls_io_pending(io->tls))
        event_active(io->rev, EV_READ, 0);
}

void dp_io_set_tls(struct dp_io *io, struct dp_tls_io *tls)
{
    io->tls = tls;
}

struct dp_tls_io *dp_io_get_tls(struct dp_io *io)
{
    return io->tls;
}

struct dp_io_loop *dp_io_loop_create(struct event_base *base)
{
    struct dp_io_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->base = base;
    l->flush_ev = event_new(base, -1, 0, flush_cb, l);
    if (!l->flush_ev) {
        free(l);
        return NULL;
    }
    return l;
}

void dp_io_loop_destroy(struct dp_io_loop *l)
{
    if (!l)
        return;
    event_free(l->flush_ev);
    free(l);
}

static int make_events(struct dp_io *io)
{
    io->rev = event_new(io->loop->base, io->fd, EV_READ | EV_PERSIST, read_ready, io);
    io->wev = event_new(io->loop->base, io->fd, EV_WRITE | EV_PERSIST, write_ready, io);
    return io->rev && io->wev ? 0 : -1;
}

struct dp_io *dp_io_socket_new(struct dp_io_loop *l, evutil_socket_t fd)
{
    struct dp_io *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    io->loop = l;
    io->fd = fd;
    io->in = evbuffer_new();
    io->out = evbuffer_new();
    if (!io->in || !io->out || (fd >= 0 && make_events(io) != 0)) {
        if (io->rev)
            event_free(io->rev);
        if (io->wev)
            event_free(io->wev);
        really_free(io);
        return NULL;
    }
    if (fd >= 0)
        evutil_make_socket_nonblocking(fd);
    return io;
}

int dp_io_socket_connect(struct dp_io *io, const struct sockaddr *sa, int salen)
{
    io->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (io->fd == -1)
        return -1;
    if (make_events(io) != 0)
        return -1;
    if (connect(io->fd, sa, (socklen_t)salen) == -1 && errno != EINPROGRESS)
        return -1;
    io->connecting = true;
    event_add(io->wev, NULL);
    io->wev_added = true;
    return 0;
}

void dp_io_free(struct dp_io *io)
{
    if (!io || io->dead)
        return;
    unqueue(io);
    io->dead = true;
    if (io->rev)
        event_free(io->rev);
    if (io->wev)
        event_free(io->wev);
    io->rev = io->wev = NULL;
    /* before the close: the descriptor number may be reused at once */
    dp_tls_io_free(io->tls);
    io->tls = NULL;
    if (io->fd >= 0)
        evutil_closesocket(io->fd);
    io->fd = -1;
    if (!io->in_cb)
        really_free(io);
}

struct evbuffer *dp_io_get_input(struct dp_io *io)
{
    if (io->want_read && !io->reading && !io->dead) {
        io->check_read = true; /* reading stopped at the high watermark: the caller may drain */
        enqueue(io);
    }
    return io->in;
}

struct evbuffer *dp_io_get_output(struct dp_io *io)
{
    if (!io->connecting && !io->wev_added)
        enqueue(io); /* connecting / EV_WRITE armed: write_ready writes it */
    return io->out;
}

size_t dp_io_input_len(const struct dp_io *io)
{
    return evbuffer_get_length(io->in);
}

size_t dp_io_output_len(const struct dp_io *io)
{
    return evbuffer_get_length(io->out);
}

evutil_socket_t dp_io_getfd(struct dp_io *io)
{
    return io->fd;
}

void dp_io_setcb(struct dp_io *io, dp_io_data_cb readcb, dp_io_data_cb writecb,
                 dp_io_event_cb eventcb, void *arg)
{
    io->rcb = readcb;
    io->wcb = writecb;
    io->ecb = eventcb;
    io->arg = arg;
}

void dp_io_enable(struct dp_io *io, short what)
{
    if (what & EV_READ) {
        io->want_read = true;
        update_read(io);
    }
}

void dp_io_disable(struct dp_io *io, short what)
{
    if (what & EV_READ) {
        io->want_read = false;
        update_read(io);
    }
}

void dp_io_setwatermark(struct dp_io *io, short what, size_t low, size_t high)
{
    if (what & EV_READ)
        io->rhigh = high;
    if (what & EV_WRITE)
        io->wlow = low;
}

int dp_io_write_buffer(struct dp_io *io, struct evbuffer *buf)
{
    return evbuffer_add_buffer(dp_io_get_output(io), buf);
}
