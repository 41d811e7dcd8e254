/* dp/dp_io.c: buffered sockets with deferred, batched writes (see dp_io.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_io.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)

struct dp_io_loop {
    struct event_base *base;
    struct event *flush_ev;
    struct dp_io *head; /* sockets with output queued this iteration */
    bool scheduled;
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
    SSL *ssl;         /* TLS to the peer, NULL for plain TCP */
    bool handshaking; /* TLS handshake in progress (after the TCP connect) */
    bool hs_reading;  /* rev added for the handshake or an SSL_write that wants to read */
    bool queued;      /* on the loop's flush list */
    bool dead;        /* dp_io_free was called inside a callback */
    struct dp_io *qnext, *qprev;
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

static void update_read(struct dp_io *io)
{
    bool want = ((io->want_read && !(io->rhigh && evbuffer_get_length(io->in) >= io->rhigh)) ||
                 io->hs_reading) &&
                io->rev && !io->dead;
    if (want && !io->reading) {
        event_add(io->rev, NULL);
        io->reading = true;
    } else if (!want && io->reading) {
        event_del(io->rev);
        io->reading = false;
    }
}

/* SSL_write of the output until it is empty or TLS would block. Returns -1 on an error. */
static int tls_write(struct dp_io *io)
{
    while (evbuffer_get_length(io->out)) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(io->out, -1, NULL, &v, 1) < 1)
            break;
        size_t len = v.iov_len > 65536 ? 65536 : v.iov_len;
        ERR_clear_error();
        int n = SSL_write(io->ssl, v.iov_base, (int)len);
        if (n > 0) {
            evbuffer_drain(io->out, (size_t)n);
            continue;
        }
        int e = SSL_get_error(io->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE)
            return 0; /* do_write arms EV_WRITE */
        if (e == SSL_ERROR_WANT_READ) {
            io->hs_reading = true;
            update_read(io);
            return 0;
        }
        return -1;
    }
    return 0;
}

/* Writes what the kernel takes; arms EV_WRITE for the rest. */
static void do_write(struct dp_io *io)
{
    if (io->dead || io->connecting || io->fd < 0)
        return;
    if (io->handshaking)
        return;
    size_t before = evbuffer_get_length(io->out);
    if (before && io->ssl) {
        if (tls_write(io) != 0) {
            if (io->wev_added) {
                event_del(io->wev);
                io->wev_added = false;
            }
            fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
            return;
        }
    } else if (before) {
        int n = evbuffer_write(io->out, io->fd);
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
    if (left && !io->wev_added) {
        event_add(io->wev, NULL);
        io->wev_added = true;
    } else if (!left && io->wev_added) {
        event_del(io->wev);
        io->wev_added = false;
    }
    if (left < before && left <= io->wlow && io->wcb) {
        cb_begin(io);
        io->wcb(io, io->arg);
        cb_end(io);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dp_io_loop *l = arg;
    (void)fd;
    (void)what;
    l->scheduled = false;
    while (l->head) {
        struct dp_io *io = l->head;
        unqueue(io);
        cb_begin(io);
        do_write(io);
        cb_end(io);
    }
}

static void out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
    struct dp_io *io = arg;
    (void)b;
    if (!info->n_added || io->queued || io->connecting || io->handshaking || io->wev_added ||
        io->dead)
        return;
    io->queued = true;
    io->qprev = NULL;
    io->qnext = io->loop->head;
    if (io->loop->head)
        io->loop->head->qprev = io;
    io->loop->head = io;
    if (!io->loop->scheduled) {
        io->loop->scheduled = true;
        event_active(io->loop->flush_ev, EV_WRITE, 0);
    }
}

static void in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
    struct dp_io *io = arg;
    (void)b;
    if (info->n_deleted && io->want_read && !io->reading && !io->dead)
        update_read(io);
}

static void do_write(struct dp_io *io);

/* Drives the TLS handshake; reports BEV_EVENT_CONNECTED once done, ERROR on failure. */
static void tls_handshake(struct dp_io *io)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(io->ssl);
    if (rc == 1) {
        io->handshaking = false;
        io->hs_reading = false;
        if (io->wev_added) {
            event_del(io->wev);
            io->wev_added = false;
        }
        update_read(io);
        cb_begin(io);
        if (io->ecb)
            io->ecb(io, BEV_EVENT_CONNECTED, io->arg);
        if (cb_end(io))
            do_write(io);
        return;
    }
    int e = SSL_get_error(io->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        io->hs_reading = true;
        if (io->wev_added) {
            event_del(io->wev);
            io->wev_added = false;
        }
        update_read(io);
        return;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        if (!io->wev_added) {
            event_add(io->wev, NULL);
            io->wev_added = true;
        }
        return;
    }
    errno = ECONNRESET;
    fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
}

/* SSL_read into the input (all that is decrypted, up to want bytes), then the read callback. */
static void tls_read(struct dp_io *io, size_t want)
{
    size_t got = 0;
    bool eof = false, err = false;
    if (io->hs_reading) {
        /* an SSL_write wanted to read: let it go on */
        io->hs_reading = false;
        update_read(io);
        do_write(io);
        if (io->dead)
            return;
    }
    while (got < want) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(io->in, (ev_ssize_t)(want - got), &v, 1) < 1)
            break;
        ERR_clear_error();
        int n =
            SSL_read(io->ssl, v.iov_base, (int)(v.iov_len < want - got ? v.iov_len : want - got));
        if (n > 0) {
            v.iov_len = (size_t)n;
            evbuffer_commit_space(io->in, &v, 1);
            got += (size_t)n;
            if (!SSL_pending(io->ssl))
                break;
            continue;
        }
        int e = SSL_get_error(io->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            break;
        if (e == SSL_ERROR_WANT_WRITE) {
            if (!io->wev_added) {
                event_add(io->wev, NULL);
                io->wev_added = true;
            }
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && n == 0))
            eof = true;
        else
            err = true;
        break;
    }
    if (got) {
        cb_begin(io);
        if (io->rcb)
            io->rcb(io, io->arg);
        if (!cb_end(io))
            return;
        update_read(io);
    }
    if (eof)
        fire_event(io, BEV_EVENT_EOF | BEV_EVENT_READING);
    else if (err)
        fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
}

static void read_ready(evutil_socket_t fd, short what, void *arg)
{
    struct dp_io *io = arg;
    (void)what;
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
    if (io->handshaking) {
        tls_handshake(io);
        return;
    }
    if (io->ssl) {
        tls_read(io, want);
        return;
    }
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(io->in, (ev_ssize_t)want, v, 2);
    if (nv <= 0)
        return;
    struct iovec iov[2];
    for (int i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    ssize_t n = readv(fd, iov, nv);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_READING);
        return;
    }
    if (n == 0) {
        fire_event(io, BEV_EVENT_EOF | BEV_EVENT_READING);
        return;
    }
    size_t left = (size_t)n;
    for (int i = 0; i < nv; i++) {
        size_t take = left < v[i].iov_len ? left : v[i].iov_len;
        v[i].iov_len = take;
        left -= take;
    }
    evbuffer_commit_space(io->in, v, nv);
    cb_begin(io);
    if (io->rcb)
        io->rcb(io, io->arg);
    if (cb_end(io))
        update_read(io);
}

static void write_ready(evutil_socket_t fd, short what, void *arg)
{
    struct dp_io *io = arg;
    (void)what;
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
        if (io->ssl) {
            io->handshaking = true;
            if (SSL_set_fd(io->ssl, io->fd) != 1) {
                fire_event(io, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
                return;
            }
            cb_begin(io);
            tls_handshake(io);
            cb_end(io);
            return;
        }
        cb_begin(io);
        if (io->ecb)
            io->ecb(io, BEV_EVENT_CONNECTED, io->arg);
        if (!cb_end(io))
            return;
    }
    cb_begin(io);
    if (io->handshaking)
        tls_handshake(io);
    else
        do_write(io);
    cb_end(io);
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
    evbuffer_add_cb(io->out, out_cb, io);
    evbuffer_add_cb(io->in, in_cb, io);
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

int dp_io_set_tls(struct dp_io *io, SSL_CTX *ctx, const char *sni)
{
    io->ssl = SSL_new(ctx);
    if (!io->ssl)
        return -1;
    SSL_set_connect_state(io->ssl);
    SSL_set_mode(io->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (sni && *sni && SSL_set_tlsext_host_name(io->ssl, sni) != 1)
        return -1;
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
    if (io->ssl) {
        SSL_free(io->ssl);
        io->ssl = NULL;
    }
    if (io->fd >= 0)
        evutil_closesocket(io->fd);
    io->fd = -1;
    if (!io->in_cb)
        really_free(io);
}

struct evbuffer *dp_io_get_input(struct dp_io *io)
{
    return io->in;
}

struct evbuffer *dp_io_get_output(struct dp_io *io)
{
    return io->out;
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
    return evbuffer_add_buffer(io->out, buf);
}
