/* common/gw_conf.c: configuration loader (defaults, kong.conf-style file, PORTICO_* env).
 * SPDX-License-Identifier: Apache-2.0 */
#include "gw_conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_listen.h"
#include "gw_log.h"

#define ENV_PREFIX     "PORTICO_"
#define LINE_MAX_BYTES 8192

bool gw_conf_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool gw_conf_parse_int(const char *s, long long *out)
{
    char *end = NULL;
    if (!*s)
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool gw_conf_parse_size(const char *s, long long *out)
{
    char *end = NULL;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return false;
    long long mul = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mul = 1024;
            break;
        case 'm':
            mul = 1024 * 1024;
            break;
        case 'g':
            mul = 1024LL * 1024 * 1024;
            break;
        default:
            return false;
        }
        end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return false;
    }
    if (v > (long long)(9e18 / (double)mul))
        return false;
    *out = v * mul;
    return true;
}

static const struct gw_conf_key *find_key(const struct gw_conf_key *keys, size_t nkeys,
                                          const char *name, size_t *idx)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &keys[i];
        }
    }
    return NULL;
}

static enum gw_err check_value(const struct gw_conf_key *k, const char *v, char *err, size_t errlen)
{
    long long n;
    bool b;
    switch (k->type) {
    case GW_CONF_STR:
        return GW_OK;
    case GW_CONF_INT:
        if (!gw_conf_parse_int(v, &n)) {
            snprintf(err, errlen, "%s: expected an integer, got '%s'", k->name, v);
            return GW_ERR_INVALID;
        }
        break;
    case GW_CONF_SIZE:
        if (!gw_conf_parse_size(v, &n)) {
            snprintf(err, errlen, "%s: expected a size such as 64m, got '%s'", k->name, v);
            return GW_ERR_INVALID;
        }
        break;
    case GW_CONF_BOOL:
        if (!gw_conf_parse_bool(v, &b)) {
            snprintf(err, errlen, "%s: expected on or off, got '%s'", k->name, v);
            return GW_ERR_INVALID;
        }
        return GW_OK;
    case GW_CONF_ENUM:
        for (const char *const *c = k->choices; c && *c; c++)
            if (strcmp(*c, v) == 0)
                return GW_OK;
        {
            char list[256] = "";
            size_t len = 0;
            for (const char *const *c = k->choices; c && *c; c++) {
                int w = snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", *c);
                if (w < 0 || (size_t)w >= sizeof(list) - len)
                    break;
                len += (size_t)w;
            }
            snprintf(err, errlen, "%s: expected one of: %s, got '%s'", k->name, list, v);
        }
        return GW_ERR_INVALID;
    case GW_CONF_LISTEN: {
        struct gw_listen ls[GW_LISTEN_MAX];
        size_t cnt;
        char lerr[160];
        if (gw_listen_parse(v, ls, &cnt, lerr, sizeof(lerr)) != GW_OK) {
            snprintf(err, errlen, "%s: %s", k->name, lerr);
            return GW_ERR_INVALID;
        }
        return GW_OK;
    }
    default:
        snprintf(err, errlen, "%s: key has an unknown type", k->name);
        return GW_ERR_INTERNAL;
    }
    if ((k->min || k->max) && (n < k->min || n > k->max)) {
        snprintf(err, errlen, "%s: value %s out of range [%lld, %lld]", k->name, v, k->min, k->max);
        return GW_ERR_INVALID;
    }
    return GW_OK;
}

enum gw_err gw_conf_set(struct gw_conf *conf, const char *name, const char *value, char *err,
                        size_t errlen)
{
    size_t idx;
    const struct gw_conf_key *k = find_key(conf->keys, conf->nkeys, name, &idx);
    if (!k) {
        snprintf(err, errlen, "unknown configuration key '%s'", name);
        return GW_ERR_NOTFOUND;
    }
    enum gw_err e = check_value(k, value, err, errlen);
    if (e != GW_OK)
        return e;
    char *copy = strdup(value);
    if (!copy)
        return GW_ERR_NOMEM;
    free(conf->values[idx]);
    conf->values[idx] = copy;
    return GW_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Removes a trailing comment (an unescaped #) and unescapes \#, in place. */
static void strip_comment(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == '#') {
            *w++ = '#';
            r++;
            continue;
        }
        if (*r == '#')
            break;
        *w++ = *r;
    }
    *w = '\0';
}

static enum gw_err load_file(struct gw_conf *conf, const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read configuration file %s: %s", file, strerror(errno));
        return GW_ERR_IO;
    }
    char line[LINE_MAX_BYTES];
    int lineno = 0;
    enum gw_err rc = GW_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", file, lineno);
            rc = GW_ERR_INVALID;
            break;
        }
        strip_comment(line);
        char *t = trim(line);
        if (!*t)
            continue;
        char *eq = strchr(t, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", file, lineno);
            rc = GW_ERR_INVALID;
            break;
        }
        *eq = '\0';
        char *key = trim(t);
        char *value = trim(eq + 1);
        char kerr[256];
        rc = gw_conf_set(conf, key, value, kerr, sizeof(kerr));
        if (rc != GW_OK) {
            snprintf(err, errlen, "%s:%d: %s", file, lineno, kerr);
            if (rc == GW_ERR_NOTFOUND)
                rc = GW_ERR_INVALID;
            break;
        }
    }
    fclose(f);
    return rc;
}

static enum gw_err load_env(struct gw_conf *conf, char *const *envp, char *err, size_t errlen)
{
    size_t plen = strlen(ENV_PREFIX);
    for (char *const *e = envp; *e; e++) {
        if (strncmp(*e, ENV_PREFIX, plen) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char name[128];
        size_t nlen = (size_t)(eq - *e) - plen;
        if (nlen == 0 || nlen >= sizeof(name))
            continue;
        for (size_t i = 0; i < nlen; i++)
            name[i] = (char)tolower((unsigned char)(*e)[plen + i]);
        name[nlen] = '\0';
        char kerr[256];
        enum gw_err rc = gw_conf_set(conf, name, eq + 1, kerr, sizeof(kerr));
        if (rc == GW_ERR_NOTFOUND) {
            GW_LOG(GW_LOG_WARN, "ignoring unknown environment variable variable=%.*s",
                   (int)(eq - *e), *e);
            continue;
        }
        if (rc != GW_OK) {
            snprintf(err, errlen, "environment %.*s: %s", (int)(eq - *e), *e, kerr);
            return rc;
        }
    }
    return GW_OK;
}

enum gw_err gw_conf_load(struct gw_conf *conf, const struct gw_conf_key *keys, size_t nkeys,
                         const char *file, char *const *envp, char *err, size_t errlen)
{
    enum gw_err rc = GW_OK;
    conf->keys = keys;
    conf->nkeys = nkeys;
    conf->values = calloc(nkeys ? nkeys : 1, sizeof(char *));
    if (!conf->values)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < nkeys; i++) {
        conf->values[i] = strdup(keys[i].def ? keys[i].def : "");
        if (!conf->values[i]) {
            rc = GW_ERR_NOMEM;
            goto fail;
        }
    }
    if (file && (rc = load_file(conf, file, err, errlen)) != GW_OK)
        goto fail;
    if (envp && (rc = load_env(conf, envp, err, errlen)) != GW_OK)
        goto fail;
    return GW_OK;
fail:
    gw_conf_cleanup(conf);
    return rc;
}

void gw_conf_cleanup(struct gw_conf *conf)
{
    if (!conf || !conf->values)
        return;
    for (size_t i = 0; i < conf->nkeys; i++)
        free(conf->values[i]);
    free(conf->values);
    conf->values = NULL;
    conf->nkeys = 0;
}

static const char *value_of(const struct gw_conf *conf, const char *name,
                            const struct gw_conf_key **key)
{
    size_t idx;
    const struct gw_conf_key *k = find_key(conf->keys, conf->nkeys, name, &idx);
    if (!k) {
        GW_LOG(GW_LOG_CRIT, "configuration key missing from table key=%s", name);
        GW_BUG_ON(!k);
    }
    if (key)
        *key = k;
    return conf->values[idx];
}

const char *gw_conf_str(const struct gw_conf *conf, const char *name)
{
    return value_of(conf, name, NULL);
}

long long gw_conf_int(const struct gw_conf *conf, const char *name)
{
    long long v = 0;
    gw_conf_parse_int(value_of(conf, name, NULL), &v);
    return v;
}

bool gw_conf_bool(const struct gw_conf *conf, const char *name)
{
    bool b = false;
    gw_conf_parse_bool(value_of(conf, name, NULL), &b);
    return b;
}

size_t gw_conf_size(const struct gw_conf *conf, const char *name)
{
    long long v = 0;
    gw_conf_parse_size(value_of(conf, name, NULL), &v);
    return (size_t)v;
}

void gw_conf_show(const struct gw_conf *conf, FILE *out)
{
    for (size_t i = 0; i < conf->nkeys; i++) {
        const char *v = conf->values[i];
        if ((conf->keys[i].flags & GW_CONF_SECRET) && *v)
            v = "******";
        fprintf(out, "%s = %s\n", conf->keys[i].name, v);
    }
}

void gw_conf_help(const struct gw_conf_key *keys, size_t nkeys, FILE *out)
{
    for (size_t i = 0; i < nkeys; i++)
        fprintf(out, "  %-34s %s (default: %s)\n", keys[i].name, keys[i].help ? keys[i].help : "",
                keys[i].def && *keys[i].def ? keys[i].def : "-");
}
