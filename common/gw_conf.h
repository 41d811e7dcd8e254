/* common/gw_conf.h: configuration loader shared by portico-cp and portico-dp.
 *
 * Sources, later ones winning: the key's default, a kong.conf-style file (`key = value`, `#`
 * comments, `\#` for a literal #), then environment variables PORTICO_<KEY IN UPPER CASE>.
 * An unknown key in the file is an error; an unknown PORTICO_* variable is only a warning so one
 * environment can serve both programs. Every value is checked against its key's type.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef GW_CONF_H
#define GW_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gw_err.h"

enum gw_conf_type {
    GW_CONF_STR = 0,    /* any string ("" = unset) */
    GW_CONF_INT,        /* integer in [min, max] */
    GW_CONF_BOOL,       /* on/off/true/false/yes/no/1/0 */
    GW_CONF_SIZE,       /* bytes with optional k/m/g suffix, in [min, max] */
    GW_CONF_ENUM,       /* one of choices */
    GW_CONF_LISTEN,     /* "off" or a gw_listen list ("0.0.0.0:8000, 0.0.0.0:8443 ssl") */
    GW_CONF_TYPE_COUNT_ /* keep last */
};

#define GW_CONF_SECRET 0x1u /* masked by --show-config */

struct gw_conf_key {
    const char *name;
    enum gw_conf_type type;
    const char *def;            /* default as text; NULL = "" */
    const char *help;           /* one line for --help */
    long long min, max;         /* INT and SIZE; both 0 = unbounded */
    const char *const *choices; /* ENUM: NULL-terminated list */
    unsigned flags;
};

struct gw_conf {
    const struct gw_conf_key *keys; /* borrowed; static tables */
    size_t nkeys;
    char **values; /* owned; one per key, never NULL after load */
};

/* Loads keys (an array of nkeys) from defaults, then file (NULL = none), then envp (NULL-
 * terminated "NAME=value" strings, NULL = none). On error writes a message naming the key (and
 * file line) into err and returns GW_ERR_INVALID (or GW_ERR_IO when the file cannot be read,
 * GW_ERR_NOMEM); conf is then empty. Free with gw_conf_cleanup. Call from main, before threads. */
enum gw_err gw_conf_load(struct gw_conf *conf, const struct gw_conf_key *keys, size_t nkeys,
                         const char *file, char *const *envp, char *err, size_t errlen);

/* Frees the values. Accepts a zeroed conf. */
void gw_conf_cleanup(struct gw_conf *conf);

/* Sets one key from text, validating it. GW_ERR_NOTFOUND for an unknown key, GW_ERR_INVALID with
 * a message in err for a bad value. */
enum gw_err gw_conf_set(struct gw_conf *conf, const char *name, const char *value, char *err,
                        size_t errlen);

/* Typed getters. The key must exist in the table (a missing key is a bug and aborts). The string
 * returned by gw_conf_str is borrowed from conf and lives until gw_conf_cleanup/gw_conf_set. */
const char *gw_conf_str(const struct gw_conf *conf, const char *name);
long long gw_conf_int(const struct gw_conf *conf, const char *name);
bool gw_conf_bool(const struct gw_conf *conf, const char *name);
size_t gw_conf_size(const struct gw_conf *conf, const char *name);

/* Prints `key = value` for every key, secrets masked, in table order. */
void gw_conf_show(const struct gw_conf *conf, FILE *out);

/* Prints the keys with defaults and help (for --help). */
void gw_conf_help(const struct gw_conf_key *keys, size_t nkeys, FILE *out);

/* Parsers used by the loader, exposed for other callers and tests. */
bool gw_conf_parse_bool(const char *s, bool *out);
bool gw_conf_parse_int(const char *s, long long *out);
bool gw_conf_parse_size(const char *s, long long *out);

#endif
