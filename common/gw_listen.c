/* common/gw_listen.c: parser for listen address lists.
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_listen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static enum gw_err parse_one(char *item, struct gw_listen *l, char *err, size_t errlen)
{
    char *save = NULL;
    char *addr = strtok_r(item, " \t", &save);
    memset(l, 0, sizeof(*l));
    if (!addr) {
        snprintf(err, errlen, "empty listen address");
        return GW_ERR_INVALID;
    }
    char *portstr;
    if (addr[0] == '[') {
        char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "bad listen address '%s': expected [ipv6]:port", addr);
            return GW_ERR_INVALID;
        }
        *rb = '\0';
        snprintf(l->host, sizeof(l->host), "%s", addr + 1);
        portstr = rb + 2;
    } else {
        char *colon = strrchr(addr, ':');
        if (!colon) {
            snprintf(err, errlen, "bad listen address '%s': expected host:port", addr);
            return GW_ERR_INVALID;
        }
        *colon = '\0';
        if (strlen(addr) >= sizeof(l->host) || !*addr) {
            snprintf(err, errlen, "bad listen host '%s'", addr);
            return GW_ERR_INVALID;
        }
        snprintf(l->host, sizeof(l->host), "%s", addr);
        portstr = colon + 1;
    }
    char *end = NULL;
    long port = strtol(portstr, &end, 10);
    if (!*portstr || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "bad listen port '%s'", portstr);
        return GW_ERR_INVALID;
    }
    l->port = (int)port;
    for (char *f = strtok_r(NULL, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
        if (strcmp(f, "ssl") == 0)
            l->ssl = true;
        else if (strcmp(f, "reuseport") == 0)
            l->reuseport = true;
        else if (strcmp(f, "http2") == 0)
            l->http2 = true;
        else if (strncmp(f, "backlog=", 8) == 0 || strcmp(f, "deferred") == 0 ||
                 strcmp(f, "bind") == 0)
            continue; /* accepted for kong.conf compatibility; no effect */
        else {
            snprintf(err, errlen, "unknown listen flag '%s'", f);
            return GW_ERR_INVALID;
        }
    }
    return GW_OK;
}

enum gw_err gw_listen_parse(const char *text, struct gw_listen *out, size_t *n, char *err,
                            size_t errlen)
{
    *n = 0;
    if (!text)
        return GW_OK;
    char *copy = strdup(text);
    if (!copy)
        return GW_ERR_NOMEM;
    enum gw_err rc = GW_OK;
    char *t = trim(copy);
    if (!*t || strcmp(t, "off") == 0)
        goto out;
    char *save = NULL;
    for (char *item = strtok_r(t, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*n >= GW_LISTEN_MAX) {
            snprintf(err, errlen, "too many listen addresses (at most %d)", GW_LISTEN_MAX);
            rc = GW_ERR_INVALID;
            goto out;
        }
        rc = parse_one(trim(item), &out[*n], err, errlen);
        if (rc != GW_OK)
            goto out;
        (*n)++;
    }
out:
    if (rc != GW_OK)
        *n = 0;
    free(copy);
    return rc;
}
