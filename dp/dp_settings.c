/* dp/dp_settings.c: configuration keys -> struct dp_settings.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_settings.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gw_err dp_settings_parse_trusted(struct dp_settings *s, const char *text, char *err,
                                      size_t errlen)
{
    s->ntrusted = 0;
    const char *p = text;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        char item[80];
        size_t n = (size_t)(e - p);
        if (n >= sizeof(item) || s->ntrusted >= DP_TRUSTED_MAX) {
            snprintf(err, errlen, "trusted_ips: entry too long or too many entries");
            return GW_ERR_INVALID;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p = e;
        if (strcmp(item, "unix:") == 0)
            continue;
        struct dp_cidr *c = &s->trusted[s->ntrusted];
        char *slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        if (inet_pton(AF_INET, item, c->addr) == 1) {
            c->family = AF_INET;
            c->bits = 32;
        } else if (inet_pton(AF_INET6, item, c->addr) == 1) {
            c->family = AF_INET6;
            c->bits = 128;
        } else {
            snprintf(err, errlen, "trusted_ips: invalid address '%s'", item);
            return GW_ERR_INVALID;
        }
        if (slash) {
            char *end;
            long b = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || b < 0 || b > c->bits) {
                snprintf(err, errlen, "trusted_ips: invalid prefix length in '%s/%s'", item,
                         slash + 1);
                return GW_ERR_INVALID;
            }
            c->bits = (int)b;
        }
        s->ntrusted++;
    }
    return GW_OK;
}

enum gw_err dp_settings_load(struct dp_settings *s, const struct gw_conf *conf, char *err,
                             size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->client_header_buffer_size = gw_conf_size(conf, "client_header_buffer_size");
    s->client_max_header_size = gw_conf_size(conf, "client_max_header_size");
    s->client_max_body_size = gw_conf_size(conf, "client_max_body_size");
    s->client_header_timeout_s = (int)gw_conf_int(conf, "client_header_timeout");
    s->client_body_timeout_s = (int)gw_conf_int(conf, "client_body_timeout");
    s->keepalive_timeout_s = (int)gw_conf_int(conf, "keepalive_timeout");
    s->shutdown_timeout_s = (int)gw_conf_int(conf, "shutdown_timeout");
    s->pool_size = (int)gw_conf_int(conf, "upstream_keepalive_pool_size");
    s->pool_max_requests = (int)gw_conf_int(conf, "upstream_keepalive_max_requests");
    s->pool_idle_timeout_s = (int)gw_conf_int(conf, "upstream_keepalive_idle_timeout");
    snprintf(s->real_ip_header, sizeof(s->real_ip_header), "%s",
             gw_conf_str(conf, "real_ip_header"));
    return dp_settings_parse_trusted(s, gw_conf_str(conf, "trusted_ips"), err, errlen);
}

bool dp_settings_is_trusted(const struct dp_settings *s, const char *ip)
{
    if (!s->ntrusted)
        return false;
    unsigned char a[16];
    int fam;
    if (inet_pton(AF_INET, ip, a) == 1)
        fam = AF_INET;
    else if (inet_pton(AF_INET6, ip, a) == 1)
        fam = AF_INET6;
    else
        return false;
    for (size_t i = 0; i < s->ntrusted; i++) {
        const struct dp_cidr *c = &s->trusted[i];
        if (c->family != fam)
            continue;
        int full = c->bits / 8, rem = c->bits % 8;
        if (memcmp(a, c->addr, (size_t)full) != 0)
            continue;
        if (rem && ((a[full] ^ c->addr[full]) & (0xff << (8 - rem))))
            continue;
        return true;
    }
    return false;
}
