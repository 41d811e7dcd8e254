/* tests/unit/dp/test_dp_io.c: dp_io, the data plane's buffered socket, on real plain sockets (a
 * socketpair whose other end the test reads and writes itself, and TCP for connects): output
 * queued by a socket callback is written when it returns, output queued elsewhere at the end of
 * the loop iteration; output of more than one sendmsg's extents and output larger than the
 * socket buffer arrive intact, with the write low watermark; byte-exact input through the
 * small-read (scratch copy) and big-read (reservation) paths; EOF, connect refused and connect
 * success; the read high watermark and resuming after a drain; dp_io_free inside the socket's
 * own callbacks (no write after it, other queued sockets unaffected). TLS is not covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "dp_io.h"

#define MAX_LOGGED_READS 64

struct fx {
    struct event_base *base;
    struct dp_io_loop *loop;
    struct dp_io *io; /* wraps sv[0]; NULL once the test freed it */
    int peer;         /* sv[1], non-blocking: the test's end */
    struct event *watchdog;
    bool timed_out;
    /* the checker: an event that looks at the peer when it runs */
    struct event *checker;
    char seen[256];
    ssize_t seen_len; /* bytes the checker found readable (-1: none, 0: EOF) */
    /* callback records */
    int nread, nwrite, nevent;
    short what;
    int err;         /* the socket error when the event callback ran */
    size_t max_in;   /* largest input length seen by the read callback */
    size_t in_seen;  /* input length when the read callback last returned */
    size_t drain_at; /* the read callback moves the input to rx from this length (0: never) */
    struct evbuffer *rx;
    size_t reads[MAX_LOGGED_READS]; /* bytes each read event added (first ones) */
    bool probe_space;               /* and the free space after them in the input's last chain */
    size_t space[MAX_LOGGED_READS];
    int nreads;
    size_t max_read;
    size_t wcb_first_len, wcb_max_len; /* output length seen by the write callback */
    struct dp_io *victims[4];          /* other sockets, freed or kept by the free_inside_* tests */
};

static uint8_t pat(size_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    return (uint8_t)(x >> 24);
}

static void fill_pat(uint8_t *p, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pat(off + i);
}

static bool matches_pat(const uint8_t *p, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(off + i))
            return false;
    return true;
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fx *f = arg;
    (void)fd;
    (void)what;
    f->timed_out = true;
}

/* One loop iteration that waits for an event; fails instead of hanging (10 s). */
static void run_once(struct fx *f)
{
    struct timeval tv = {10, 0};
    event_add(f->watchdog, &tv);
    assert_int_not_equal(event_base_loop(f->base, EVLOOP_ONCE), -1);
    event_del(f->watchdog);
    assert_false(f->timed_out);
}

/* One loop iteration that does not wait (ONCE: bounded even when a socket stays ready). */
static void run_nonblock(struct fx *f)
{
    assert_int_not_equal(event_base_loop(f->base, EVLOOP_NONBLOCK | EVLOOP_ONCE), -1);
}

/* Events added to the base (dp_io's read/write events; the loop's flush event is only ever
 * activated, the test's own are not added outside run_once). */
static int nadded(struct fx *f)
{
    return event_base_get_num_events(f->base, EVENT_BASE_COUNT_ADDED);
}

/* What the peer fd can read now: bytes, 0 at EOF, -1 when nothing is there. */
static ssize_t peer_recv(int fd, void *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    if (n < 0) {
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        return -1;
    }
    return n;
}

static void peer_send(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL), (ssize_t)n);
}

static void checker_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fx *f = arg;
    (void)fd;
    (void)what;
    f->seen_len = peer_recv(f->peer, f->seen, sizeof(f->seen));
}

/* A socketpair: returns the dp_io on one end, *peer is the other (non-blocking). */
static struct dp_io *new_pair(struct fx *f, int *peer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(evutil_make_socket_nonblocking(sv[1]), 0);
    struct dp_io *io = dp_io_socket_new(f->loop, sv[0]);
    assert_non_null(io);
    assert_int_equal(dp_io_getfd(io), sv[0]);
    *peer = sv[1];
    return io;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->loop = dp_io_loop_create(f->base);
    assert_non_null(f->loop);
    f->io = new_pair(f, &f->peer);
    f->watchdog = evtimer_new(f->base, watchdog_cb, f);
    f->checker = event_new(f->base, -1, 0, checker_cb, f);
    f->rx = evbuffer_new();
    assert_non_null(f->watchdog);
    assert_non_null(f->checker);
    assert_non_null(f->rx);
    f->seen_len = -2; /* the checker did not run */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    dp_io_free(f->io);
    if (f->peer >= 0)
        close(f->peer);
    evbuffer_free(f->rx);
    event_free(f->checker);
    event_free(f->watchdog);
    dp_io_loop_destroy(f->loop);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* ---- callbacks ------------------------------------------------------------------------------ */

/* Answers "re:" + the input; activates the checker first, so that it runs after this callback
 * returned but before an end-of-iteration flush would. */
static void reply_readcb(struct dp_io *io, void *arg)
{
    struct fx *f = arg;
    f->nread++;
    event_active(f->checker, EV_READ, 0);
    evbuffer_add(dp_io_get_output(io), "re:", 3);
    evbuffer_add_buffer(dp_io_get_output(io), dp_io_get_input(io));
}

/* Logs each read's size; moves the input to f->rx once it holds drain_at bytes. */
static void log_readcb(struct dp_io *io, void *arg)
{
    struct fx *f = arg;
    size_t len = dp_io_input_len(io);
    size_t got = len - f->in_seen;
    f->nread++;
    if (f->nreads < MAX_LOGGED_READS) {
        struct evbuffer_iovec v;
        if (f->probe_space)
            f->space[f->nreads] =
                evbuffer_reserve_space(dp_io_get_input(io), 1, &v, 1) == 1 ? v.iov_len : 0;
        f->reads[f->nreads++] = got;
    }
    if (got > f->max_read)
        f->max_read = got;
    if (len > f->max_in)
        f->max_in = len;
    if (f->drain_at && len >= f->drain_at) {
        evbuffer_add_buffer(f->rx, dp_io_get_input(io));
        len = 0;
    }
    f->in_seen = len;
}

static void record_writecb(struct dp_io *io, void *arg)
{
    struct fx *f = arg;
    size_t len = dp_io_output_len(io);
    if (!f->nwrite)
        f->wcb_first_len = len;
    if (len > f->wcb_max_len)
        f->wcb_max_len = len;
    f->nwrite++;
}

static void record_eventcb(struct dp_io *io, short what, void *arg)
{
    struct fx *f = arg;
    (void)io;
    f->nevent++;
    f->what = what;
    f->err = EVUTIL_SOCKET_ERROR();
}

/* ---- 1, 2: when queued output is written ---------------------------------------------------- */

static void output_queued_in_read_callback_goes_when_it_returns(void **state)
{
    struct fx *f = *state;
    dp_io_setcb(f->io, reply_readcb, NULL, record_eventcb, f);
    dp_io_enable(f->io, EV_READ);
    char buf[64];
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), -1);
    peer_send(f->peer, "ping", 4);
    run_once(f);
    assert_int_equal(f->nread, 1);
    /* The checker ran after the read callback, in the same iteration, and the reply was
     * already there: written when the callback returned, not by a later flush event. */
    assert_int_equal(f->seen_len, 7);
    assert_memory_equal(f->seen, "re:ping", 7);
    assert_int_equal(dp_io_output_len(f->io), 0);
    assert_int_equal(dp_io_input_len(f->io), 0);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), -1);
    /* and again: each read answered within its own iteration */
    peer_send(f->peer, "second", 6);
    f->seen_len = -2;
    run_once(f);
    assert_int_equal(f->nread, 2);
    assert_int_equal(f->seen_len, 9);
    assert_memory_equal(f->seen, "re:second", 9);
    assert_int_equal(f->nevent, 0);
}

static void queue_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fx *f = arg;
    (void)fd;
    (void)what;
    event_active(f->checker, EV_READ, 0);
    evbuffer_add(dp_io_get_output(f->io), "from-timer", 10);
}

static void output_queued_outside_callbacks_goes_at_next_iteration(void **state)
{
    struct fx *f = *state;
    char buf[64];
    evbuffer_add(dp_io_get_output(f->io), "hello", 5);
    evbuffer_add(dp_io_get_output(f->io), " world", 6);
    /* nothing is written before the loop runs */
    assert_int_equal(dp_io_output_len(f->io), 11);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), -1);
    run_nonblock(f);
    assert_int_equal(dp_io_output_len(f->io), 0);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), -1);
    /* queued by a non-socket callback: written at the end of that iteration (the checker,
     * activated before the output was queued, runs first and finds nothing) */
    struct event *ev = event_new(f->base, -1, 0, queue_cb, f);
    assert_non_null(ev);
    event_active(ev, EV_READ, 0);
    run_nonblock(f);
    event_free(ev);
    assert_int_equal(f->seen_len, -1);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), 10);
    assert_memory_equal(buf, "from-timer", 10);
}

/* ---- 3, 4: output of many extents, output larger than the socket buffer --------------------- */

static int nrefs_released;

static void ref_released(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    (void)arg;
    nrefs_released++;
}

static void output_of_many_extents_arrives_in_order(void **state)
{
    struct fx *f = *state;
    enum { NBUF = 100, NREF = 200, NPIECE = NBUF + NREF };
    size_t total = 0, sizes[NPIECE];
    for (int k = 0; k < NPIECE; k++) {
        sizes[k] = 1 + (size_t)k * 37 % 200; /* 300 extents, about 30 KB: fits the socket buffer */
        total += sizes[k];
    }
    uint8_t *src = malloc(total);
    uint8_t *got = malloc(total);
    assert_non_null(src);
    assert_non_null(got);
    fill_pat(src, 0, total);
    nrefs_released = 0;
    struct evbuffer *out = dp_io_get_output(f->io);
    size_t off = 0;
    for (int k = 0; k < NPIECE; k++) {
        if (k < NBUF) {
            struct evbuffer *piece = evbuffer_new();
            assert_non_null(piece);
            assert_int_equal(evbuffer_add(piece, src + off, sizes[k]), 0);
            assert_int_equal(evbuffer_add_buffer(out, piece), 0);
            evbuffer_free(piece);
        } else {
            assert_int_equal(evbuffer_add_reference(out, src + off, sizes[k], ref_released, NULL),
                             0);
        }
        off += sizes[k];
    }
    assert_int_equal(evbuffer_get_length(out), total);
    /* more extents than one sendmsg takes (64) */
    int extents = evbuffer_peek(out, (ev_ssize_t)total, NULL, NULL, 0);
    assert_true(extents >= NPIECE);
    /* all of it in one flush when the socket buffer has room (no EV_WRITE round) */
    assert_true(total < 64 * 1024);
    run_nonblock(f);
    assert_int_equal(dp_io_output_len(f->io), 0);
    assert_int_equal(nadded(f), 0);
    size_t have = 0;
    for (int i = 0; i < 1000 && have < total; i++) {
        if (i)
            run_nonblock(f);
        ssize_t n;
        while (have < total && (n = peer_recv(f->peer, got + have, total - have)) > 0)
            have += (size_t)n;
    }
    assert_int_equal(have, total);
    assert_memory_equal(got, src, total);
    assert_int_equal(dp_io_output_len(f->io), 0);
    assert_int_equal(nrefs_released, NREF);
    char extra;
    assert_int_equal(peer_recv(f->peer, &extra, 1), -1);
    free(src);
    free(got);
}

static void large_output_to_slow_peer_with_write_low_watermark(void **state)
{
    struct fx *f = *state;
    const size_t total = 8u << 20, low = 1u << 20, step = 16 * 1024;
    int sndbuf = 64 * 1024; /* the socket buffer is far smaller than the output */
    assert_int_equal(setsockopt(dp_io_getfd(f->io), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
                     0);
    uint8_t *src = malloc(total);
    uint8_t *chunk = malloc(step);
    assert_non_null(src);
    assert_non_null(chunk);
    fill_pat(src, 0, total);
    dp_io_setcb(f->io, NULL, record_writecb, record_eventcb, f);
    dp_io_setwatermark(f->io, EV_WRITE, low, 0);
    assert_int_equal(evbuffer_add(dp_io_get_output(f->io), src, total), 0);
    free(src);
    run_nonblock(f);
    /* the first write took what the kernel holds: well above the watermark, no callback */
    size_t left = dp_io_output_len(f->io);
    assert_true(left > low && left < total);
    assert_int_equal(f->nwrite, 0);
    /* the peer drains at most step bytes per iteration */
    size_t have = 0;
    bool intact = true;
    for (int i = 0; i < 200000 && have < total; i++) {
        ssize_t n = peer_recv(f->peer, chunk, step);
        assert_int_not_equal(n, 0);
        if (n > 0) {
            intact = intact && matches_pat(chunk, have, (size_t)n);
            have += (size_t)n;
        }
        run_nonblock(f);
        if (!f->nwrite)
            assert_true(dp_io_output_len(f->io) > low);
    }
    free(chunk);
    assert_int_equal(have, total);
    assert_true(intact);
    assert_int_equal(dp_io_output_len(f->io), 0);
    /* the write callback came once the output was at most low, while some was still queued */
    assert_true(f->nwrite >= 1);
    assert_true(f->wcb_first_len > 0 && f->wcb_first_len <= low);
    assert_true(f->wcb_max_len <= low);
    assert_int_equal(f->nevent, 0);
}

/* ---- 5: input ---------------------------------------------------------------------------------
 */

static void large_input_arrives_byte_exact(void **state)
{
    struct fx *f = *state;
    dp_io_setcb(f->io, log_readcb, NULL, record_eventcb, f);
    dp_io_enable(f->io, EV_READ);
    /* Writes the read path sees one by one (one recv of at most 64 KiB per read event). A read
     * after one of <= 900 bytes lands in the scratch buffer; after a bigger one, straight in a
     * 64 KiB reservation. */
    static const size_t sched[] = {1,    100,    900, 901,   64 * 1024, 500, 899,
                                   2000, 100000, 900, 70000, 10,        1000};
    static const size_t expect[] = {1,     100,   900, 901,   64 * 1024, 500, 899, 2000,
                                    65536, 34464, 900, 65536, 4464,      10,  1000};
    enum {
        NSCHED = sizeof(sched) / sizeof(sched[0]),
        NEXPECT = sizeof(expect) / sizeof(expect[0])
    };
    uint8_t *buf = malloc(256 * 1024);
    assert_non_null(buf);
    int sndbuf = 256 * 1024; /* each scheduled write fits in one send, whatever the default */
    assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    size_t sent = 0;
    f->drain_at = 1;
    f->probe_space = true;
    for (int s = 0; s < NSCHED; s++) {
        fill_pat(buf, sent, sched[s]);
        peer_send(f->peer, buf, sched[s]);
        sent += sched[s];
        for (int i = 0; i < 10 && evbuffer_get_length(f->rx) < sent; i++)
            run_once(f);
        assert_int_equal(evbuffer_get_length(f->rx), sent);
    }
    assert_int_equal(f->nreads, NEXPECT);
    for (int i = 0; i < NEXPECT; i++)
        assert_int_equal(f->reads[i], expect[i]);
    /* Where each small read landed (the input was empty before it): a 64 KiB reservation leaves
     * the rest free after the data; a copy from the scratch buffer gets a chain of about its
     * own size. */
    for (int i = 0; i < NEXPECT; i++) {
        if (expect[i] > 900)
            continue;
        if (i > 0 && expect[i - 1] > 900)
            assert_true(f->space[i] >= 64 * 1024 - expect[i]);
        else
            assert_true(f->space[i] < 16 * 1024);
    }
    f->probe_space = false;
    /* 4 MiB more, written as fast as the socket takes it; the input is left to grow to 256 KiB
     * before the read callback takes it (reservations appended to a non-empty input) */
    const size_t bulk = 4u << 20, end = sent + bulk;
    f->drain_at = 256 * 1024;
    f->max_read = 0;
    int nread_before = f->nread;
    for (int i = 0; i < 100000 && evbuffer_get_length(f->rx) + dp_io_input_len(f->io) < end; i++) {
        if (sent < end) {
            size_t n = end - sent < 256 * 1024 ? end - sent : 256 * 1024;
            fill_pat(buf, sent, n);
            ssize_t w = send(f->peer, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0)
                assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            else
                sent += (size_t)w;
        }
        run_nonblock(f);
    }
    assert_int_equal(sent, end);
    evbuffer_add_buffer(f->rx, dp_io_get_input(f->io));
    assert_int_equal(evbuffer_get_length(f->rx), end);
    assert_true(f->max_read > 900 && f->max_read <= 64 * 1024);
    assert_true(f->nread - nread_before >= (int)(bulk / (64 * 1024)));
    /* every byte, in order */
    size_t off = 0;
    bool intact = true;
    while (off < end) {
        int n = evbuffer_remove(f->rx, buf, 256 * 1024);
        assert_true(n > 0);
        intact = intact && matches_pat(buf, off, (size_t)n);
        off += (size_t)n;
    }
    assert_true(intact);
    assert_int_equal(f->nevent, 0);
    free(buf);
}

/* ---- 6: EOF, connect errors, connect --------------------------------------------------------- */

static void peer_close_reports_eof(void **state)
{
    struct fx *f = *state;
    dp_io_setcb(f->io, log_readcb, NULL, record_eventcb, f);
    dp_io_enable(f->io, EV_READ);
    peer_send(f->peer, "bye", 3);
    close(f->peer);
    f->peer = -1;
    run_once(f);
    /* the data first, then the end */
    assert_int_equal(f->nread, 1);
    assert_int_equal(f->nevent, 0);
    assert_int_equal(dp_io_input_len(f->io), 3);
    run_once(f);
    assert_int_equal(f->nevent, 1);
    assert_int_equal(f->what, BEV_EVENT_EOF | BEV_EVENT_READING);
    assert_int_equal(f->nread, 1);
    char buf[3];
    assert_int_equal(evbuffer_remove(dp_io_get_input(f->io), buf, 3), 3);
    assert_memory_equal(buf, "bye", 3);
    /* reading stopped with the EOF (as a bufferevent's): a callback that kept the socket is not
     * told again on every iteration */
    assert_int_equal(nadded(f), 0);
    for (int i = 0; i < 5; i++)
        run_nonblock(f);
    assert_int_equal(f->nevent, 1);
}

/* A TCP socket bound on 127.0.0.1 (listening or not); *sa gets its address. */
static int bound_tcp(struct sockaddr_in *sa, bool listening)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)sa, sizeof(*sa)), 0);
    socklen_t sl = sizeof(*sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)sa, &sl), 0);
    if (listening)
        assert_int_equal(listen(s, 4), 0);
    return s;
}

static void connect_refused_reports_error(void **state)
{
    struct fx *f = *state;
    /* bound but not listening: the port is taken (no one else gets it) and refuses */
    struct sockaddr_in sa;
    int s = bound_tcp(&sa, false);
    struct dp_io *c = dp_io_socket_new(f->loop, -1);
    assert_non_null(c);
    dp_io_setcb(c, NULL, NULL, record_eventcb, f);
    assert_int_equal(dp_io_socket_connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (int i = 0; i < 10 && !f->nevent; i++)
        run_once(f);
    assert_int_equal(f->nevent, 1);
    assert_true(f->what & BEV_EVENT_ERROR);
    assert_false(f->what & (BEV_EVENT_CONNECTED | BEV_EVENT_EOF));
    assert_int_equal(f->err, ECONNREFUSED);
    /* reported once: the socket is no longer watched */
    assert_int_equal(nadded(f), 0);
    run_nonblock(f);
    assert_int_equal(f->nevent, 1);
    dp_io_free(c);
    close(s);
}

static void connect_succeeds_then_sends_queued_output(void **state)
{
    struct fx *f = *state;
    struct sockaddr_in sa;
    int s = bound_tcp(&sa, true);
    struct dp_io *c = dp_io_socket_new(f->loop, -1);
    assert_non_null(c);
    dp_io_setcb(c, log_readcb, NULL, record_eventcb, f);
    /* queued before the connect: goes once connected */
    evbuffer_add(dp_io_get_output(c), "early", 5);
    assert_int_equal(dp_io_socket_connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (int i = 0; i < 10 && !f->nevent; i++)
        run_once(f);
    assert_int_equal(f->nevent, 1);
    assert_int_equal(f->what, BEV_EVENT_CONNECTED);
    assert_int_equal(dp_io_output_len(c), 0);
    int a = accept(s, NULL, NULL);
    assert_true(a >= 0);
    char buf[8];
    assert_int_equal(recv(a, buf, sizeof(buf), 0), 5); /* already sent: does not block */
    assert_memory_equal(buf, "early", 5);
    /* reading, enabled once connected */
    dp_io_enable(c, EV_READ);
    assert_int_equal(send(a, "late", 4, MSG_NOSIGNAL), 4);
    for (int i = 0; i < 10 && dp_io_input_len(c) < 4; i++)
        run_once(f);
    assert_int_equal(dp_io_input_len(c), 4);
    assert_memory_equal(evbuffer_pullup(dp_io_get_input(c), 4), "late", 4);
    dp_io_free(c);
    close(a);
    close(s);
}

static void read_enabled_before_connect_starts_once_connected(void **state)
{
    struct fx *f = *state;
    struct sockaddr_in sa;
    int s = bound_tcp(&sa, true);
    struct dp_io *c = dp_io_socket_new(f->loop, -1);
    assert_non_null(c);
    dp_io_setcb(c, log_readcb, NULL, record_eventcb, f);
    dp_io_enable(c, EV_READ); /* as with a bufferevent: before the socket exists */
    assert_int_equal(dp_io_socket_connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (int i = 0; i < 10 && !f->nevent; i++)
        run_once(f);
    assert_int_equal(f->nevent, 1);
    assert_int_equal(f->what, BEV_EVENT_CONNECTED);
    int a = accept(s, NULL, NULL);
    assert_true(a >= 0);
    assert_int_equal(send(a, "hello", 5, MSG_NOSIGNAL), 5);
    for (int i = 0; i < 10 && dp_io_input_len(c) < 5; i++)
        run_once(f);
    assert_int_equal(dp_io_input_len(c), 5);
    assert_memory_equal(evbuffer_pullup(dp_io_get_input(c), 5), "hello", 5);
    dp_io_free(c);
    close(a);
    close(s);
}

/* ---- 7: read high watermark ------------------------------------------------------------------ */

static void read_high_watermark_stops_and_resumes(void **state)
{
    struct fx *f = *state;
    enum { TOTAL = 5000, HIGH = 1000, DRAIN = 600 };
    uint8_t src[TOTAL], got[TOTAL];
    fill_pat(src, 0, TOTAL);
    dp_io_setcb(f->io, log_readcb, NULL, record_eventcb, f);
    dp_io_setwatermark(f->io, EV_READ, 0, HIGH);
    dp_io_enable(f->io, EV_READ);
    peer_send(f->peer, src, TOTAL);
    for (int i = 0; i < 20; i++)
        run_nonblock(f);
    /* stopped at exactly HIGH; the rest waits in the kernel, no read event spins */
    assert_int_equal(dp_io_input_len(f->io), HIGH);
    assert_int_equal(f->nread, 1);
    int pending = 0;
    assert_int_equal(ioctl(dp_io_getfd(f->io), FIONREAD, &pending), 0);
    assert_int_equal(pending, TOTAL - HIGH);
    assert_int_equal(nadded(f), 0);
    /* draining through dp_io_get_input resumes reading, never past HIGH */
    size_t have = 0;
    for (int i = 0; i < 100 && have < TOTAL; i++) {
        size_t n = dp_io_input_len(f->io) < DRAIN ? dp_io_input_len(f->io) : DRAIN;
        assert_int_equal(evbuffer_remove(dp_io_get_input(f->io), got + have, n), (int)n);
        have += n;
        f->in_seen -= n;
        run_nonblock(f);
    }
    assert_int_equal(have, TOTAL);
    assert_memory_equal(got, src, TOTAL);
    assert_int_equal(f->max_in, HIGH);
    assert_int_equal(f->nevent, 0);
}

/* ---- 8: dp_io_free inside callbacks ---------------------------------------------------------- */

/* Queues output on itself and on victims[1..3], then frees itself and victims[1] (the middle of
 * the flush list). */
static void freeing_readcb(struct dp_io *io, void *arg)
{
    struct fx *f = arg;
    f->nread++;
    evbuffer_add(dp_io_get_output(io), "self", 4);
    evbuffer_add(dp_io_get_output(f->victims[3]), "kept-3", 6);
    evbuffer_add(dp_io_get_output(f->victims[1]), "lost-1", 6);
    evbuffer_add(dp_io_get_output(f->victims[2]), "kept-2", 6);
    dp_io_free(f->victims[1]);
    f->victims[1] = NULL;
    dp_io_free(io);
    f->io = NULL;
}

static void free_inside_read_callback(void **state)
{
    struct fx *f = *state;
    int peers[4];
    for (int k = 1; k < 4; k++)
        f->victims[k] = new_pair(f, &peers[k]);
    dp_io_setcb(f->io, freeing_readcb, record_writecb, record_eventcb, f);
    dp_io_enable(f->io, EV_READ);
    peer_send(f->peer, "x", 1);
    run_once(f);
    assert_int_equal(f->nread, 1);
    assert_null(f->io);
    for (int i = 0; i < 5; i++)
        run_nonblock(f);
    char buf[16];
    /* the freed sockets wrote nothing (their peers see the close right away) */
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), 0);
    assert_int_equal(peer_recv(peers[1], buf, sizeof(buf)), 0);
    /* the others queued in the same callback were written */
    assert_int_equal(peer_recv(peers[2], buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "kept-2", 6);
    assert_int_equal(peer_recv(peers[3], buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "kept-3", 6);
    assert_int_equal(f->nwrite, 0);
    assert_int_equal(f->nevent, 0);
    for (int k = 1; k < 4; k++) {
        dp_io_free(f->victims[k]);
        close(peers[k]);
    }
}

static void freeing_writecb(struct dp_io *io, void *arg)
{
    struct fx *f = arg;
    f->nwrite++;
    evbuffer_add(dp_io_get_output(io), "never", 5);
    dp_io_free(io);
    f->io = NULL;
}

static void freeing_eventcb(struct dp_io *io, short what, void *arg)
{
    struct fx *f = arg;
    f->nevent++;
    f->what = what;
    dp_io_free(io);
    f->victims[0] = NULL;
}

static void free_inside_write_and_event_callbacks(void **state)
{
    struct fx *f = *state;
    char buf[16];
    /* write callback (from the end-of-iteration flush): what it queued before freeing is not
     * written */
    dp_io_setcb(f->io, NULL, freeing_writecb, NULL, f);
    evbuffer_add(dp_io_get_output(f->io), "data", 4);
    run_nonblock(f);
    assert_int_equal(f->nwrite, 1);
    assert_null(f->io);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "data", 4);
    assert_int_equal(peer_recv(f->peer, buf, sizeof(buf)), 0);
    /* event callback on EOF */
    int peer;
    f->victims[0] = new_pair(f, &peer);
    dp_io_setcb(f->victims[0], NULL, NULL, freeing_eventcb, f);
    dp_io_enable(f->victims[0], EV_READ);
    close(peer);
    run_once(f);
    assert_int_equal(f->nevent, 1);
    assert_int_equal(f->what, BEV_EVENT_EOF | BEV_EVENT_READING);
    assert_null(f->victims[0]);
    run_nonblock(f);
    assert_int_equal(f->nevent, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(output_queued_in_read_callback_goes_when_it_returns),
        T(output_queued_outside_callbacks_goes_at_next_iteration),
        T(output_of_many_extents_arrives_in_order),
        T(large_output_to_slow_peer_with_write_low_watermark),
        T(large_input_arrives_byte_exact),
        T(peer_close_reports_eof),
        T(connect_refused_reports_error),
        T(connect_succeeds_then_sends_queued_output),
        T(read_enabled_before_connect_starts_once_connected),
        T(read_high_watermark_stops_and_resumes),
        T(free_inside_read_callback),
        T(free_inside_write_and_event_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
