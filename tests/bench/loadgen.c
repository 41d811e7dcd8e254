/* tests/bench/loadgen.c: an open-loop HTTP/1.1 load generator (libevent) for latency at a fixed
 * offered rate. wrk is closed-loop: a stalled server also stalls wrk, hiding the stall
 * (coordinated omission). Here requests are scheduled on a fixed timetable regardless of
 * responses, latency is measured from the intended send time, and a per-second timeline is
 * printed for churn and fault runs.
 *
 *   portico-loadgen -r RATE -d SECONDS [-c MAXCONNS] [-H 'Name: value'] http://127.0.0.1:8000/path
 *
 * Output: one JSON object per second ({"t":1,"sent":..,"ok":..,"errors":..,"p99_us":..}) on
 * stdout, then a summary object ({"summary":true,"p50_us":..,"p99_us":..,"p999_us":..,...}).
 * SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIST_BUCKETS 2048 /* log-linear: 64 sub-buckets per power of two, up to ~2^32 us */
#define MAX_CONNS    20000

struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t total;
};

struct conn {
    struct bufferevent *bev;
    int busy;
    uint64_t intended_ns; /* when the request in flight was due */
    size_t need;          /* body bytes still expected; SIZE_MAX = reading headers */
    int close_after;      /* the server said Connection: close */
};

static struct event_base *base;
static struct sockaddr_in addr;
static char request[4096];
static size_t request_len;
static double rate;
static int duration_s;
static int max_conns = 1000;
static struct conn conns[MAX_CONNS];
static int nconns;
static uint64_t start_ns, next_due_ns, end_ns;
static uint64_t sent, ok, errors, backlog_drops;
static uint64_t sec_sent, sec_ok, sec_errors;
static struct hist total_hist, sec_hist;
static int second;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bucket_of(uint64_t us)
{
    if (us < 64)
        return (int)us;
    int msb = 63 - __builtin_clzll(us);
    int sub = (int)((us >> (msb - 6)) & 63);
    int b = (msb - 5) * 64 + sub;
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t bucket_value(int b)
{
    if (b < 64)
        return (uint64_t)b;
    int msb = b / 64 + 5;
    return ((uint64_t)(64 + b % 64)) << (msb - 6);
}

static void hist_add(struct hist *h, uint64_t us)
{
    h->count[bucket_of(us)]++;
    h->total++;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    if (!h->total)
        return 0;
    uint64_t want = (uint64_t)(p * (double)h->total);
    if (want >= h->total)
        want = h->total - 1;
    uint64_t seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen > want)
            return bucket_value(b);
    }
    return bucket_value(HIST_BUCKETS - 1);
}

static void conn_close(struct conn *c, int failed)
{
    if (c->busy && failed) {
        errors++;
        sec_errors++;
    }
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    c->busy = 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        if (!c->busy) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        if (c->need == SIZE_MAX) {
            struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (end.pos < 0)
                return;
            size_t hlen = (size_t)end.pos + 4;
            char *hdr = malloc(hlen + 1);
            evbuffer_remove(in, hdr, hlen);
            hdr[hlen] = '\0';
            int status = 0;
            sscanf(hdr, "HTTP/1.%*d %d", &status);
            size_t clen = 0;
            for (char *p = hdr; (p = strchr(p, '\n')) != NULL;) {
                p++;
                if (strncasecmp(p, "content-length:", 15) == 0)
                    clen = strtoul(p + 15, NULL, 10);
                else if (strncasecmp(p, "connection:", 11) == 0 && strstr(p, "close"))
                    c->close_after = 1;
            }
            free(hdr);
            c->need = clen;
            if (status < 200 || status >= 400) {
                errors++;
                sec_errors++;
                c->busy = 0; /* counted; the body is drained below */
                c->need = clen;
                evbuffer_drain(in, clen < evbuffer_get_length(in) ? clen : evbuffer_get_length(in));
                c->need = SIZE_MAX;
                return;
            }
        }
        size_t have = evbuffer_get_length(in);
        if (have < c->need)
            return;
        evbuffer_drain(in, c->need);
        uint64_t lat_us = (now_ns() - c->intended_ns) / 1000;
        hist_add(&total_hist, lat_us);
        hist_add(&sec_hist, lat_us);
        ok++;
        sec_ok++;
        c->busy = 0;
        c->need = SIZE_MAX;
        if (c->close_after) {
            c->close_after = 0;
            conn_close(c, 0);
            return;
        }
        if (!evbuffer_get_length(in))
            return;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_close(arg, 1);
}

static struct conn *get_idle_conn(void)
{
    for (int i = 0; i < nconns; i++)
        if (conns[i].bev && !conns[i].busy)
            return &conns[i];
    for (int i = 0; i < max_conns; i++) {
        struct conn *c = &conns[i];
        if (c->bev)
            continue;
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
            bufferevent_free(c->bev);
            c->bev = NULL;
            return NULL;
        }
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (i >= nconns)
            nconns = i + 1;
        return c;
    }
    return NULL;
}

static void print_second(void)
{
    second++;
    printf("{\"t\":%d,\"sent\":%llu,\"ok\":%llu,\"errors\":%llu,\"p50_us\":%llu,\"p99_us\":%llu}\n",
           second, (unsigned long long)sec_sent, (unsigned long long)sec_ok,
           (unsigned long long)sec_errors, (unsigned long long)hist_pct(&sec_hist, 0.50),
           (unsigned long long)hist_pct(&sec_hist, 0.99));
    fflush(stdout);
    sec_sent = sec_ok = sec_errors = 0;
    memset(&sec_hist, 0, sizeof(sec_hist));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t now = now_ns();
    uint64_t interval = (uint64_t)(1e9 / rate);
    while (next_due_ns <= now && next_due_ns < end_ns) {
        struct conn *c = get_idle_conn();
        if (!c) {
            backlog_drops++;
            errors++;
            sec_errors++;
        } else {
            c->busy = 1;
            c->need = SIZE_MAX;
            c->intended_ns = next_due_ns;
            bufferevent_write(c->bev, request, request_len);
            sent++;
            sec_sent++;
        }
        next_due_ns += interval;
    }
    if (now >= start_ns + (uint64_t)(second + 1) * 1000000000ull)
        print_second();
    if (now >= end_ns + 2000000000ull || (now >= end_ns && ok + errors >= sent))
        event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    char extra[2048] = "";
    size_t extra_len = 0;
    rate = 1000;
    duration_s = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            rate = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            duration_s = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            max_conns = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc) {
            int n = snprintf(extra + extra_len, sizeof(extra) - extra_len, "%s\r\n", argv[++i]);
            if (n > 0 && (size_t)n < sizeof(extra) - extra_len)
                extra_len += (size_t)n;
        } else
            url = argv[i];
    }
    if (max_conns > MAX_CONNS)
        max_conns = MAX_CONNS;
    char host[256];
    int port = 80;
    char path[1024] = "/";
    if (!url || rate <= 0 || duration_s <= 0 ||
        sscanf(url, "http://%255[^:/]:%d%1023s", host, &port, path) < 2) {
        fprintf(stderr, "usage: portico-loadgen -r RATE -d SECONDS [-c MAXCONNS] [-H header] "
                        "http://IP:PORT/path\n");
        return 2;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: host must be an IPv4 address\n");
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof(request),
                                   "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, host, extra);
    /* Precise (timerfd) timers: epoll's millisecond timeouts would add up to 1 ms of our own
     * lateness to every measured latency. */
    struct event_config *ecfg = event_config_new();
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    start_ns = now_ns();
    next_due_ns = start_ns;
    end_ns = start_ns + (uint64_t)duration_s * 1000000000ull;
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 200};
    event_add(tick, &tv);
    event_base_dispatch(base);
    printf("{\"summary\":true,\"rate\":%.0f,\"seconds\":%d,\"sent\":%llu,\"ok\":%llu,"
           "\"errors\":%llu,\"no_free_connection\":%llu,\"connections\":%d,\"p50_us\":%llu,"
           "\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu}\n",
           rate, duration_s, (unsigned long long)sent, (unsigned long long)ok,
           (unsigned long long)errors, (unsigned long long)backlog_drops, nconns,
           (unsigned long long)hist_pct(&total_hist, 0.50),
           (unsigned long long)hist_pct(&total_hist, 0.99),
           (unsigned long long)hist_pct(&total_hist, 0.999),
           (unsigned long long)hist_pct(&total_hist, 1.0));
    for (int i = 0; i < nconns; i++)
        if (conns[i].bev)
            bufferevent_free(conns[i].bev);
    event_free(tick);
    event_base_free(base);
    return 0;
}
