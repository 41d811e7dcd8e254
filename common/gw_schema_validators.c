/* common/gw_schema_validators.c: Kong's field validators (hosts, IPs, paths, names, tags,
 * header and cookie names, certificates and keys) with Kong's exact messages.
 * SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pcre2.h>

#include "gw_schema_def.h"

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool parse_port(const char *s, size_t n, long *port)
{
    if (n == 0 || n > 9 || !all_digits(s, n))
        return false;
    long p = 0;
    for (size_t i = 0; i < n; i++)
        p = p * 10 + (s[i] - '0');
    *port = p;
    return true;
}

static bool normalize_ipv6(const char *s, struct gw_sf_host *out, char *err, size_t errlen)
{
    char addr[64];
    const char *a = s;
    size_t alen;
    out->port = -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            goto bad;
        a = s + 1;
        alen = (size_t)(close - a);
        const char *rest = close + 1;
        if (*rest == ':') {
            rest++;
            if (*rest != '\0' && !parse_port(rest, strlen(rest), &out->port))
                goto bad;
        } else if (*rest != '\0') {
            goto bad;
        }
    } else {
        alen = strlen(s);
    }
    if (alen == 0 || alen >= sizeof(addr))
        goto bad;
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    unsigned char bin[16];
    if (inet_pton(AF_INET6, addr, bin) != 1)
        goto bad;
    if (out->port > 65535) {
        snprintf(err, errlen, "invalid port number");
        return false;
    }
    out->kind = GW_SF_HOST_IPV6;
    snprintf(out->host, sizeof(out->host),
             "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x", bin[0],
             bin[1], bin[2], bin[3], bin[4], bin[5], bin[6], bin[7], bin[8], bin[9], bin[10],
             bin[11], bin[12], bin[13], bin[14], bin[15]);
    return true;
bad:
    snprintf(err, errlen, "invalid ipv6 address: %s", s);
    return false;
}

static bool normalize_ipv4(const char *s, struct gw_sf_host *out, char *err, size_t errlen)
{
    unsigned oct[4];
    const char *p = s;
    out->port = -1;
    for (int k = 0; k < 4; k++) {
        size_t n = 0;
        unsigned v = 0;
        while (isdigit((unsigned char)p[n]) && n < 4) {
            v = v * 10 + (unsigned)(p[n] - '0');
            n++;
        }
        if (n == 0 || n > 3)
            goto bad;
        oct[k] = v;
        p += n;
        if (k < 3) {
            if (*p != '.')
                goto bad;
            p++;
        }
    }
    if (*p == ':') {
        if (!parse_port(p + 1, strlen(p + 1), &out->port))
            goto bad;
    } else if (*p != '\0') {
        goto bad;
    }
    for (int k = 0; k < 4; k++)
        if (oct[k] > 255)
            goto bad;
    if (out->port > 65535) {
        snprintf(err, errlen, "invalid port number");
        return false;
    }
    out->kind = GW_SF_HOST_IPV4;
    snprintf(out->host, sizeof(out->host), "%u.%u.%u.%u", oct[0], oct[1], oct[2], oct[3]);
    return true;
bad:
    snprintf(err, errlen, "invalid ipv4 address: %s", s);
    return false;
}

static bool check_hostname(const char *s, struct gw_sf_host *out, char *err, size_t errlen)
{
    size_t len = strlen(s), namelen = len;
    out->port = -1;
    const char *colon = strrchr(s, ':');
    if (colon != NULL && all_digits(colon + 1, strlen(colon + 1))) {
        namelen = (size_t)(colon - s);
        if (!parse_port(colon + 1, strlen(colon + 1), &out->port) || out->port > 65535) {
            snprintf(err, errlen, "invalid port number");
            return false;
        }
    }
    if (namelen == 0 || namelen >= sizeof(out->host))
        goto bad;
    for (size_t i = 0; i < namelen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
            goto bad;
    }
    /* segments must not end with '-' and must not be empty, except a final empty one (FQDN) */
    size_t start = 0;
    for (size_t i = 0; i <= namelen; i++) {
        if (i == namelen || s[i] == '.') {
            size_t seglen = i - start;
            if (seglen == 0 && i != namelen)
                goto bad;
            if (seglen > 0 && s[i - 1] == '-')
                goto bad;
            start = i + 1;
        }
    }
    memcpy(out->host, s, namelen);
    out->host[namelen] = '\0';
    out->kind = GW_SF_HOST_NAME;
    return true;
bad:
    snprintf(err, errlen, "invalid hostname: %s", s);
    return false;
}

bool gw_sf_normalize_ip(const char *s, struct gw_sf_host *out, char *err, size_t errlen)
{
    size_t colons = 0;
    bool digits_dots = true;
    for (const char *p = s; *p; p++) {
        if (*p == ':')
            colons++;
        else if (!(isdigit((unsigned char)*p) || *p == '.'))
            digits_dots = false;
    }
    if (colons > 1)
        return normalize_ipv6(s, out, err, errlen);
    if (*s != '\0' && digits_dots)
        return normalize_ipv4(s, out, err, errlen);
    return check_hostname(s, out, err, errlen);
}

bool gw_sf_check_host(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    struct gw_sf_host h;
    char e[512];
    if (!gw_sf_normalize_ip(s, &h, e, sizeof(e))) {
        if (strcmp(e, "invalid port number") == 0)
            snprintf(err, errlen, "must not have a port");
        else
            snprintf(err, errlen, "invalid value: %s", s);
        return false;
    }
    if (h.port >= 0) {
        snprintf(err, errlen, "must not have a port");
        return false;
    }
    return true;
}

bool gw_sf_check_host_opt_port(const json_t *v, char *err, size_t errlen)
{
    struct gw_sf_host h;
    return gw_sf_normalize_ip(json_string_value(v), &h, err, errlen);
}

static bool sni_check(const char *s, const char *shown, char *err, size_t errlen)
{
    struct gw_sf_host h;
    char e[512];
    if (!gw_sf_normalize_ip(s, &h, e, sizeof(e))) {
        if (strcmp(e, "invalid port number") == 0)
            snprintf(err, errlen, "must not have a port");
        else
            snprintf(err, errlen, "invalid value: %s", shown);
        return false;
    }
    if (h.kind != GW_SF_HOST_NAME) {
        snprintf(err, errlen, "must not be an IP");
        return false;
    }
    if (h.port >= 0) {
        snprintf(err, errlen, "must not have a port");
        return false;
    }
    return true;
}

bool gw_sf_check_sni(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    return sni_check(s, s, err, errlen);
}

bool gw_sf_check_wildcard_host(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    const char *star = strchr(s, '*');
    char mock[512];
    if (star == NULL)
        return sni_check(s, s, err, errlen);
    size_t idx = (size_t)(star - s);
    if (idx != 0 && idx != len - 1) {
        snprintf(err, errlen, "wildcard must be leftmost or rightmost character");
        return false;
    }
    if (strchr(star + 1, '*') != NULL) {
        snprintf(err, errlen, "only one wildcard must be specified");
        return false;
    }
    if (len + 8 >= sizeof(mock)) {
        snprintf(err, errlen, "invalid value: %s", s);
        return false;
    }
    snprintf(mock, sizeof(mock), "%.*swildcard%s", (int)idx, s, star + 1);
    return sni_check(mock, mock, err, errlen);
}

bool gw_sf_check_route_host(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    const char *star = strchr(s, '*');
    char mock[512];
    if (star != NULL && strchr(star + 1, '*') != NULL) {
        snprintf(err, errlen, "invalid wildcard: must have at most one wildcard");
        return false;
    }
    if (star != NULL &&
        !(strncmp(s, "*.", 2) == 0 || (len >= 2 && strcmp(s + len - 2, ".*") == 0))) {
        snprintf(err, errlen, "invalid wildcard: must be placed at leftmost or rightmost label");
        return false;
    }
    if (len + 3 >= sizeof(mock)) {
        snprintf(err, errlen, "invalid hostname: %s", s);
        return false;
    }
    if (star != NULL)
        snprintf(mock, sizeof(mock), "%.*sabc%s", (int)(star - s), s, star + 1);
    else
        snprintf(mock, sizeof(mock), "%s", s);
    struct gw_sf_host h;
    return gw_sf_normalize_ip(mock, &h, err, errlen);
}

static bool is_hex(char c)
{
    return isxdigit((unsigned char)c) != 0;
}

/* typedefs.path's custom validator: 0 ok, 1 rfc3986 error, 2 percent-encoding error. */
static int path_chars(const char *p, char *err, size_t errlen)
{
    static const char allowed[] = "._-~/%:@!$&'()*+,;=";
    if (p[0] != '/')
        goto rfc;
    for (const char *c = p; *c; c++)
        if (!isalnum((unsigned char)*c) && strchr(allowed, *c) == NULL)
            goto rfc;
    for (const char *c = p; *c; c++) {
        if (*c != '%')
            continue;
        if (is_hex(c[1]) && is_hex(c[2])) {
            c += 2;
            continue;
        }
        size_t n = 1;
        if (c[1] != '\0')
            n++;
        if (n == 2 && c[2] != '\0')
            n++;
        snprintf(err, errlen, "invalid url-encoded value: '%.*s'", (int)n, c);
        return 2;
    }
    return 0;
rfc:
    snprintf(err, errlen,
             "invalid path: '%s' (characters outside of the reserved list of RFC 3986 found)", p);
    return 1;
}

bool gw_sf_check_path(const json_t *v, char *err, size_t errlen)
{
    const char *p = json_string_value(v);
    if (strstr(p, "//") != NULL) {
        snprintf(err, errlen, "must not have empty segments");
        return false;
    }
    return path_chars(p, err, errlen) == 0;
}

static bool unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void gw_sf_normalize_path(const char *in, char *out, size_t outlen)
{
    /* 1. decode percent-encoded unreserved characters, uppercase the other escapes */
    size_t n = strlen(in);
    char *tmp = malloc(n + 1);
    char *res = malloc(n + 2);
    if (tmp == NULL || res == NULL || outlen == 0) {
        free(tmp);
        free(res);
        if (outlen > 0)
            snprintf(out, outlen, "%s", in);
        return;
    }
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && i + 2 < n && is_hex(in[i + 1]) && is_hex(in[i + 2])) {
            char hex[3] = {in[i + 1], in[i + 2], 0};
            int c = (int)strtol(hex, NULL, 16);
            if (unreserved(c)) {
                tmp[t++] = (char)c;
            } else {
                tmp[t++] = '%';
                tmp[t++] = (char)toupper((unsigned char)in[i + 1]);
                tmp[t++] = (char)toupper((unsigned char)in[i + 2]);
            }
            i += 2;
        } else {
            tmp[t++] = in[i];
        }
    }
    tmp[t] = '\0';
    /* 2. remove dot segments (RFC 3986 5.2.4); the output never outgrows the input */
    size_t r = 0;
    const char *p = tmp;
    while (*p) {
        if (strncmp(p, "../", 3) == 0) {
            p += 3;
        } else if (strncmp(p, "./", 2) == 0) {
            p += 2;
        } else if (strncmp(p, "/./", 3) == 0) {
            p += 2; /* "/./" becomes "/" */
        } else if (strcmp(p, "/.") == 0) {
            res[r++] = '/';
            break;
        } else if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0) {
            bool end = p[3] == '\0';
            p += 3; /* "/../" becomes "/" (p now at that '/'), "/.." becomes "/" */
            while (r > 0 && res[r - 1] != '/')
                r--;
            if (r > 0)
                r--;
            if (end) {
                res[r++] = '/';
                break;
            }
        } else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
            break;
        } else {
            do {
                res[r++] = *p++;
            } while (*p && *p != '/');
        }
    }
    res[r] = '\0';
    snprintf(out, outlen, "%s", res);
    free(tmp);
    free(res);
}

bool gw_sf_check_router_path(const json_t *v, char *err, size_t errlen)
{
    const char *p = json_string_value(v);
    /* Kong runs match_none ("//") before match_any (the prefix check) */
    if (strstr(p, "//") != NULL) {
        snprintf(err, errlen, "must not have empty segments");
        return false;
    }
    if (!(p[0] == '/' || (p[0] == '~' && p[1] == '/'))) {
        snprintf(err, errlen, "should start with: / (fixed path) or ~/ (regex path)");
        return false;
    }
    if (p[0] == '/') {
        if (path_chars(p, err, errlen) == 2)
            return false;
        size_t n = strlen(p) + 2;
        char *norm = malloc(n);
        if (norm == NULL) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        gw_sf_normalize_path(p, norm, n);
        bool ok = strcmp(norm, p) == 0;
        if (!ok)
            snprintf(err, errlen, "non-normalized path, consider use '%s' instead", norm);
        free(norm);
        return ok;
    }
    const char *re = p + 1;
    int ecode = 0;
    PCRE2_SIZE eoff = 0;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &ecode, &eoff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof(msg));
        snprintf(err, errlen,
                 "invalid regex: '%s' (PCRE returned: pcre2_compile() failed: %s in \"%s\")", re,
                 (const char *)msg, re);
        return false;
    }
    pcre2_code_free(code);
    return true;
}

/* Length of the UTF-8 sequence at s (0 if invalid). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && s[1] < 0xA0)
        return 0;
    if (c == 0xED && s[1] > 0x9F)
        return 0;
    if (c == 0xF0 && s[1] < 0x90)
        return 0;
    if (c == 0xF4 && s[1] > 0x8F)
        return 0;
    return n;
}

bool gw_sf_check_utf8_name(const json_t *v, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    for (size_t i = 0; s[i];) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i);
        if (n == 0) {
            snprintf(err, errlen, "invalid utf-8 character sequence detected at position %zu",
                     i + 1);
            return false;
        }
        i += n;
    }
    for (size_t i = 0; s[i]; i++) {
        if (s[i] >= 0x80 || isalnum(s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '_' ||
            s[i] == '~')
            continue;
        snprintf(err, errlen,
                 "invalid value '%s': the only accepted ascii characters are alphanumerics or ., "
                 "-, _, and ~",
                 (const char *)s);
        return false;
    }
    return true;
}

bool gw_sf_check_tag(const json_t *v, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    for (size_t i = 0; s[i];) {
        size_t n = s[i] >= 0x80 ? utf8_seq(s + i) : 1;
        if (n == 0) {
            snprintf(err, errlen, "invalid utf-8 character sequence detected at position %zu",
                     i + 1);
            return false;
        }
        i += n;
    }
    /* printable ASCII and space, except ',' and '/', plus UTF-8 sequences */
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = s[i];
        if ((c >= 0x20 && c <= 0x7E && c != ',' && c != '/') || c >= 0x80)
            continue;
        snprintf(err, errlen,
                 "invalid tag '%s': expected printable ascii (except `,` and `/`) or valid "
                 "utf-8 sequences",
                 (const char *)s);
        return false;
    }
    return true;
}

bool gw_sf_check_header_name(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    for (const char *p = s; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_')) {
            snprintf(err, errlen,
                     "bad header name '%s', allowed characters are A-Z, a-z, 0-9, '_', and '-'", s);
            return false;
        }
    }
    return true;
}

bool gw_sf_check_cookie_name(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    for (const char *p = s; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_')) {
            snprintf(err, errlen,
                     "bad cookie name '%s', allowed characters are A-Z, a-z, 0-9, '_', and '-'", s);
            return false;
        }
    }
    return true;
}

bool gw_sf_check_http_method(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    for (const char *p = s; *p; p++) {
        if (!(*p >= 'A' && *p <= 'Z')) {
            snprintf(err, errlen, "invalid value: %s", s);
            return false;
        }
    }
    return true;
}

bool gw_sf_check_ip_or_cidr(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    unsigned char bin[16];
    int family = 0;
    if (alen == 0 || alen >= sizeof(addr))
        goto bad;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, bin) == 1)
        family = 4;
    else if (inet_pton(AF_INET6, addr, bin) == 1)
        family = 6;
    else
        goto bad;
    if (slash != NULL) {
        long bits;
        if (!parse_port(slash + 1, strlen(slash + 1), &bits) || bits > (family == 4 ? 32 : 128))
            goto bad;
    }
    return true;
bad:
    snprintf(err, errlen, "invalid ip or cidr range: '%s'", s);
    return false;
}

bool gw_sf_check_upstream_name(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    struct gw_sf_host h;
    char e[512];
    if (!gw_sf_normalize_ip(s, &h, e, sizeof(e))) {
        snprintf(err, errlen, "Invalid name ('%s'); must be a valid hostname", s);
        return false;
    }
    if (h.kind != GW_SF_HOST_NAME) {
        snprintf(err, errlen, "Invalid name ('%s'); no ip addresses allowed", s);
        return false;
    }
    if (h.port >= 0) {
        snprintf(err, errlen, "Invalid name ('%s'); no port allowed", s);
        return false;
    }
    return true;
}

bool gw_sf_check_target(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    struct gw_sf_host h;
    char e[512];
    if (!gw_sf_normalize_ip(s, &h, e, sizeof(e))) {
        snprintf(err, errlen, "Invalid target ('%s'); not a valid hostname or ip address", s);
        return false;
    }
    return true;
}

static void openssl_reason(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, n, "%s", r != NULL ? r : "unknown error");
    ERR_clear_error();
}

/* Never prompt for a passphrase: an encrypted key is simply invalid here. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

bool gw_sf_check_certificate(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    BIO *bio = BIO_new_mem_buf(s, (int)json_string_length(v));
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (x == NULL) {
        char r[256];
        openssl_reason(r, sizeof(r));
        snprintf(err, errlen, "invalid certificate: x509.new: %s", r);
        return false;
    }
    X509_free(x);
    ERR_clear_error();
    return true;
}

bool gw_sf_check_key(const json_t *v, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    BIO *bio = BIO_new_mem_buf(s, (int)json_string_length(v));
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (k == NULL) {
        char r[256];
        openssl_reason(r, sizeof(r));
        snprintf(err, errlen, "invalid key: pkey.new:load_key: %s", r);
        return false;
    }
    EVP_PKEY_free(k);
    ERR_clear_error();
    return true;
}
