/* dp/dp_dns.c: the resolver thread (evdns), its TTL-driven cache and the hosts file.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_time.h"

#define MAX_NAMES 4096
#define RETRY_MS  30000
#define WAIT_MS   10000

enum state {
    ST_NEW = 0, /* asked for, query not started */
    ST_PENDING, /* first query running */
    ST_OK,
    ST_FAILED,
    ST_COUNT_ /* keep last */
};

struct entry {
    struct entry *next;
    char *name;
    enum state state;
    struct dp_dns_addr *addrs; /* guarded by lock */
    size_t n;
    /* resolver thread only: the query in progress */
    int outstanding;
    struct dp_dns_addr tmp[64];
    size_t ntmp;
    uint32_t ttl;
    struct event *timer;
};

struct hosts_entry {
    char *name;
    struct dp_dns_addr addr;
};

static struct {
    bool started, stopping;
    pthread_t thread;
    struct event_base *base;
    struct evdns_base *dns;
    int wake_fd;
    struct event *wake_ev;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct entry *entries;
    size_t nentries;
    struct hosts_entry *hosts;
    size_t nhosts;
    dp_dns_change_fn on_change;
    void *arg;
} dns = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .wake_fd = -1};

static bool parse_ip(const char *s, struct dp_dns_addr *a)
{
    memset(a, 0, sizeof(*a));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
    if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        a->salen = sizeof(*s4);
        return true;
    }
    if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        a->salen = sizeof(*s6);
        return true;
    }
    return false;
}

static void load_hosts(const char *path)
{
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "r");
    if (!f) {
        GW_LOG_ERRNO(GW_LOG_WARN, errno, "cannot read hosts file path=%s", path);
        return;
    }
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL;
        char *ip = strtok_r(line, " \t\r\n", &save);
        struct dp_dns_addr a;
        if (!ip || !parse_ip(ip, &a))
            continue;
        for (char *name = strtok_r(NULL, " \t\r\n", &save); name;
             name = strtok_r(NULL, " \t\r\n", &save)) {
            struct hosts_entry *h = realloc(dns.hosts, (dns.nhosts + 1) * sizeof(*h));
            if (!h)
                break;
            dns.hosts = h;
            h[dns.nhosts].name = strdup(name);
            if (!h[dns.nhosts].name)
                break;
            for (char *p = h[dns.nhosts].name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            h[dns.nhosts].addr = a;
            dns.nhosts++;
        }
    }
    fclose(f);
}

static enum gw_err from_hosts(const char *name, struct dp_dns_addr **out, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < dns.nhosts; i++)
        if (strcasecmp(dns.hosts[i].name, name) == 0)
            k++;
    if (!k)
        return GW_ERR_NOTFOUND;
    *out = calloc(k, sizeof(**out));
    if (!*out)
        return GW_ERR_NOMEM;
    *n = 0;
    for (size_t i = 0; i < dns.nhosts; i++)
        if (strcasecmp(dns.hosts[i].name, name) == 0)
            (*out)[(*n)++] = dns.hosts[i].addr;
    return GW_OK;
}

static int cmp_addr(const void *a, const void *b)
{
    return memcmp(&((const struct dp_dns_addr *)a)->sa, &((const struct dp_dns_addr *)b)->sa,
                  sizeof(struct sockaddr_storage));
}

static void start_query(struct entry *e);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_query(arg);
}

/* All lookups of e are answered: publish the result, arm the refresh, report a change. */
static void finish(struct entry *e)
{
    qsort(e->tmp, e->ntmp, sizeof(e->tmp[0]), cmp_addr);
    bool changed = false;
    uint64_t next_ms;
    pthread_mutex_lock(&dns.lock);
    bool had = e->state == ST_OK || e->state == ST_FAILED;
    if (e->ntmp) {
        changed = had && (e->n != e->ntmp || memcmp(e->addrs, e->tmp, e->n * sizeof(*e->tmp)));
        struct dp_dns_addr *a = malloc(e->ntmp * sizeof(*a));
        if (a) {
            memcpy(a, e->tmp, e->ntmp * sizeof(*a));
            free(e->addrs);
            e->addrs = a;
            e->n = e->ntmp;
        }
        e->state = ST_OK;
        uint32_t ttl = e->ttl < 1 ? 1 : e->ttl;
        next_ms = (uint64_t)ttl * 1000u;
    } else {
        /* a failure removes every address of the name (Kong's DNS_ERROR) */
        changed = had && e->n > 0;
        free(e->addrs);
        e->addrs = NULL;
        e->n = 0;
        e->state = ST_FAILED;
        next_ms = RETRY_MS;
    }
    pthread_cond_broadcast(&dns.cond);
    pthread_mutex_unlock(&dns.lock);
    struct timeval tv = {(time_t)(next_ms / 1000), (suseconds_t)((next_ms % 1000) * 1000)};
    evtimer_add(e->timer, &tv);
    if (changed) {
        GW_LOG(GW_LOG_NOTICE, "dns answer changed, rebuilding name=%s addresses=%zu", e->name,
               e->n);
        if (dns.on_change)
            dns.on_change(dns.arg);
    }
}

static void answer_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
    struct entry *e = arg;
    if (result == DNS_ERR_NONE && count > 0) {
        for (int i = 0; i < count && e->ntmp < 64; i++) {
            struct dp_dns_addr *a = &e->tmp[e->ntmp];
            memset(a, 0, sizeof(*a));
            if (type == DNS_IPv4_A) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
                s4->sin_family = AF_INET;
                memcpy(&s4->sin_addr, (const char *)addresses + 4 * i, 4);
                a->salen = sizeof(*s4);
            } else if (type == DNS_IPv6_AAAA) {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
                s6->sin6_family = AF_INET6;
                memcpy(&s6->sin6_addr, (const char *)addresses + 16 * i, 16);
                a->salen = sizeof(*s6);
            } else {
                continue;
            }
            e->ntmp++;
        }
        if (ttl >= 0 && (uint32_t)ttl < e->ttl)
            e->ttl = (uint32_t)ttl;
    }
    if (--e->outstanding == 0)
        finish(e);
}

static void start_query(struct entry *e)
{
    e->ntmp = 0;
    e->ttl = 3600;
    e->outstanding = 2;
    if (!evdns_base_resolve_ipv4(dns.dns, e->name, DNS_QUERY_NO_SEARCH, answer_cb, e))
        e->outstanding--;
    if (!evdns_base_resolve_ipv6(dns.dns, e->name, DNS_QUERY_NO_SEARCH, answer_cb, e))
        e->outstanding--;
    if (e->outstanding == 0)
        finish(e);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    uint64_t v;
    (void)what;
    (void)arg;
    if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
        GW_LOG_ERRNO(GW_LOG_WARN, errno, "dns wake-up read failed");
    if (dns.stopping) {
        event_base_loopbreak(dns.base);
        return;
    }
    struct entry *start[MAX_NAMES];
    size_t k = 0;
    pthread_mutex_lock(&dns.lock);
    for (struct entry *e = dns.entries; e && k < MAX_NAMES; e = e->next) {
        if (e->state == ST_NEW) {
            e->state = ST_PENDING;
            start[k++] = e;
        }
    }
    pthread_mutex_unlock(&dns.lock);
    for (size_t i = 0; i < k; i++)
        start_query(start[i]);
}

static void *dns_main(void *arg)
{
    (void)arg;
    event_base_dispatch(dns.base);
    return NULL;
}

static void wake(void)
{
    uint64_t one = 1;
    if (write(dns.wake_fd, &one, sizeof(one)) == -1)
        GW_LOG_ERRNO(GW_LOG_ERROR, errno, "cannot wake the resolver thread");
}

enum gw_err dp_dns_start(const char *resolvers, const char *hostsfile, dp_dns_change_fn on_change,
                         void *arg, char *err, size_t errlen)
{
    dns.on_change = on_change;
    dns.arg = arg;
    load_hosts(hostsfile);
    dns.base = event_base_new();
    dns.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!dns.base || dns.wake_fd == -1) {
        snprintf(err, errlen, "cannot create the resolver loop");
        return GW_ERR_NOMEM;
    }
    dns.dns = evdns_base_new(dns.base, 0);
    if (!dns.dns) {
        snprintf(err, errlen, "cannot create the resolver");
        return GW_ERR_NOMEM;
    }
    evdns_base_set_option(dns.dns, "timeout:", "2");
    evdns_base_set_option(dns.dns, "attempts:", "2");
    if (resolvers && *resolvers) {
        char *copy = strdup(resolvers), *save = NULL;
        if (!copy)
            return GW_ERR_NOMEM;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (evdns_base_nameserver_ip_add(dns.dns, t) != 0) {
                snprintf(err, errlen, "dns_resolver: invalid nameserver '%s'", t);
                free(copy);
                return GW_ERR_INVALID;
            }
        }
        free(copy);
    } else if (evdns_base_resolv_conf_parse(dns.dns, DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC,
                                            "/etc/resolv.conf") != 0) {
        GW_LOG(GW_LOG_WARN, "no usable /etc/resolv.conf: only the hosts file and IP addresses "
                            "resolve");
    }
    dns.wake_ev = event_new(dns.base, dns.wake_fd, EV_READ | EV_PERSIST, wake_cb, NULL);
    if (!dns.wake_ev || event_add(dns.wake_ev, NULL) != 0) {
        snprintf(err, errlen, "cannot create the resolver loop");
        return GW_ERR_NOMEM;
    }
    if (pthread_create(&dns.thread, NULL, dns_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the resolver thread");
        return GW_ERR_IO;
    }
    dns.started = true;
    return GW_OK;
}

void dp_dns_stop(void)
{
    if (dns.started) {
        dns.stopping = true;
        wake();
        pthread_join(dns.thread, NULL);
        dns.started = false;
    }
    while (dns.entries) {
        struct entry *e = dns.entries;
        dns.entries = e->next;
        if (e->timer)
            event_free(e->timer);
        free(e->addrs);
        free(e->name);
        free(e);
    }
    dns.nentries = 0;
    if (dns.dns)
        evdns_base_free(dns.dns, 0);
    if (dns.wake_ev)
        event_free(dns.wake_ev);
    if (dns.base)
        event_base_free(dns.base);
    if (dns.wake_fd != -1)
        close(dns.wake_fd);
    for (size_t i = 0; i < dns.nhosts; i++)
        free(dns.hosts[i].name);
    free(dns.hosts);
    dns.hosts = NULL;
    dns.nhosts = 0;
    dns.dns = NULL;
    dns.wake_ev = NULL;
    dns.base = NULL;
    dns.wake_fd = -1;
}

static enum gw_err fallback(const char *name, struct dp_dns_addr **out, size_t *n)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return GW_ERR_NOTFOUND;
    size_t k = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        k++;
    *out = calloc(k ? k : 1, sizeof(**out));
    if (!*out) {
        freeaddrinfo(res);
        return GW_ERR_NOMEM;
    }
    *n = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memcpy(&(*out)[*n].sa, ai->ai_addr, ai->ai_addrlen);
        (*out)[*n].salen = ai->ai_addrlen;
        (*n)++;
    }
    freeaddrinfo(res);
    return *n ? GW_OK : GW_ERR_NOTFOUND;
}

enum gw_err dp_dns_resolve(const char *name, struct dp_dns_addr **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!dns.started)
        return fallback(name, out, n);
    enum gw_err err = from_hosts(name, out, n);
    if (err != GW_ERR_NOTFOUND)
        return err;
    pthread_mutex_lock(&dns.lock);
    struct entry *e;
    for (e = dns.entries; e; e = e->next)
        if (strcasecmp(e->name, name) == 0)
            break;
    if (!e) {
        if (dns.nentries >= MAX_NAMES) {
            pthread_mutex_unlock(&dns.lock);
            return fallback(name, out, n);
        }
        e = calloc(1, sizeof(*e));
        if (e && !(e->name = strdup(name))) {
            free(e);
            e = NULL;
        }
        if (e)
            e->timer = evtimer_new(dns.base, timer_cb, e);
        if (!e || !e->timer) {
            if (e) {
                free(e->name);
                free(e);
            }
            pthread_mutex_unlock(&dns.lock);
            return GW_ERR_NOMEM;
        }
        e->next = dns.entries;
        dns.entries = e;
        dns.nentries++;
        wake();
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    while (e->state == ST_NEW || e->state == ST_PENDING) {
        if (pthread_cond_timedwait(&dns.cond, &dns.lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (e->state == ST_OK && e->n) {
        *out = malloc(e->n * sizeof(**out));
        if (*out) {
            memcpy(*out, e->addrs, e->n * sizeof(**out));
            *n = e->n;
            err = GW_OK;
        } else {
            err = GW_ERR_NOMEM;
        }
    } else {
        err = (e->state == ST_NEW || e->state == ST_PENDING) ? GW_ERR_TIMEOUT : GW_ERR_NOTFOUND;
    }
    pthread_mutex_unlock(&dns.lock);
    return err;
}
