/* dp/plugins/dp_plugin.h: the data plane's plugin interface: the narrow request API the proxy
 * implements (struct dp_plugin_req + struct dp_plugin_req_ops), the ops table every plugin provides
 * (struct dp_plugin_ops), and the per-request call context a plugin callback receives.
 *
 * Adding a plugin: write dp/plugins/dp_plugin_<name>.c exporting one `const struct
 * dp_plugin_ops`, list it in dp_plugin_registry (dp_plugin_set.c), and add its schema
 * (common/gw_schema) and proto config message (proto/portico.proto, Plugin.config oneof).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_PLUGIN_H
#define DP_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"
#include "portico_proto/portico.pb-c.h"

struct dp_plugin_req;
struct dp_plugin_run;
struct dp_rl_store;
struct dp_cache_store;

/* Request protocols a plugin may be restricted to (Plugin.protocols), as bits. */
enum dp_plugin_proto {
    DP_PLUGIN_PROTO_HTTP = 0,
    DP_PLUGIN_PROTO_HTTPS,
    DP_PLUGIN_PROTO_GRPC,
    DP_PLUGIN_PROTO_GRPCS,
    DP_PLUGIN_PROTO_COUNT_ /* keep last */
};

/* Phases a plugin runs in, as bits in dp_plugin_ops.phases. */
enum dp_plugin_phase {
    DP_PLUGIN_PHASE_ACCESS = 0,
    DP_PLUGIN_PHASE_HEADER_FILTER,
    DP_PLUGIN_PHASE_BODY_FILTER,
    DP_PLUGIN_PHASE_LOG,
    DP_PLUGIN_PHASE_COUNT_ /* keep last */
};

/* What an access callback did. */
enum dp_plugin_rc {
    DP_PLUGIN_CONTINUE = 0, /* go on with the next plugin, then proxy */
    DP_PLUGIN_RESPONDED,    /* the plugin produced the response (ops->respond); stop */
    DP_PLUGIN_RC_COUNT_     /* keep last */
};

/* One header for dp_plugin_req_ops.respond. Both strings borrowed for the duration of the call. */
struct dp_header {
    const char *name;
    const char *value;
};

/* A header edit prepared as one line "Name: value\r\n" (nlen + 2 + vlen + 2 bytes at line), or
 * only the name (nlen bytes) when the header is removed. Lines are trusted by the proxy: build
 * them with dp_header_line_make (which refuses CR and LF in names and values) or from constants
 * and digits. */
struct dp_header_line {
    const char *line;
    size_t nlen, vlen;
    bool removed;
};

/* Called once per response header by dp_plugin_req_ops.response_headers_each. */
typedef void (*dp_plugin_req_header_fn)(void *arg, const char *name, const char *value);

/* The request API a proxy implements. Every function is called on the worker thread that owns
 * the request, only while the request is alive. Strings returned are borrowed and stay valid
 * until the request ends or until the same item is modified. Names are case-insensitive. */
struct dp_plugin_req_ops {
    /* Request method ("GET"). */
    const char *(*method)(struct dp_plugin_req *r);
    /* Request path as received (no query string), e.g. "/users/1". */
    const char *(*path)(struct dp_plugin_req *r);
    /* Raw query string after '?', without it; "" when there is none. */
    const char *(*query)(struct dp_plugin_req *r);
    /* nth (0-based) value of request header name; NULL past the last one. */
    const char *(*header)(struct dp_plugin_req *r, const char *name, size_t nth);
    /* Sets (replaces) a header sent upstream. value is copied. */
    enum gw_err (*set_header)(struct dp_plugin_req *r, const char *name, const char *value);
    /* Removes every header name sent upstream. */
    void (*clear_header)(struct dp_plugin_req *r, const char *name);
    /* Replaces the query string sent upstream (without '?'; "" drops it). Copied. */
    enum gw_err (*set_query)(struct dp_plugin_req *r, const char *query);
    /* The buffered request body. GW_ERR_DECLINED when the proxy did not buffer it (it buffers
     * when dp_plugin_chain_needs_body() says so); *data may be NULL when len is 0. */
    enum gw_err (*body)(struct dp_plugin_req *r, const char **data, size_t *len);
    /* Replaces the request body sent upstream (Content-Length adjusted). Copied. */
    enum gw_err (*set_body)(struct dp_plugin_req *r, const char *data, size_t len);
    /* Client address after trusted_ips / real_ip_header processing ("10.0.0.1"). */
    const char *(*client_ip)(struct dp_plugin_req *r);
    /* Sets (replaces) a header on the response the client gets, whoever produces it (upstream,
     * another plugin, the proxy). May be called in access and header_filter. Copied. */
    enum gw_err (*set_response_header)(struct dp_plugin_req *r, const char *name,
                                       const char *value);
    /* Response status (the upstream's, or a plugin's response); valid from header_filter on. */
    int (*response_status)(struct dp_plugin_req *r);
    /* nth value of a response header (upstream's, or a plugin's response with the pending
     * headers it keeps); valid from header_filter on. */
    const char *(*response_header)(struct dp_plugin_req *r, const char *name, size_t nth);
    /* Calls fn for each upstream response header in order; valid from header_filter on. */
    void (*response_headers_each)(struct dp_plugin_req *r, dp_plugin_req_header_fn fn, void *arg);
    /* Ends the request with this response instead of proxying it (access phase only). Every
     * header given is sent (repeated names allowed); headers set with set_response_header are
     * sent too unless a header of the same name is given here. Content-Length comes from len
     * (no body is sent for HEAD). Copies body and headers. The header_filter and body_filter of
     * the request's plugins then run on it (set_response_header there replaces its headers),
     * as in Kong; log runs too. */
    enum gw_err (*respond)(struct dp_plugin_req *r, int status, const struct dp_header *headers,
                           size_t nheaders, const char *body, size_t len);
    /* The fast forms of set_header/clear_header (response false) and set_response_header
     * (response true) for prepared lines: no validation, no formatting. copy false: the lines
     * are borrowed until the request ends (memory of the plugin's config, which outlives its
     * requests); true: copied now. */
    enum gw_err (*set_header_lines)(struct dp_plugin_req *r, bool response,
                                    const struct dp_header_line *lines, size_t n, bool copy);
    /* respond with prepared header lines (the removed ones are ignored), for a response kept
     * ready (a cache hit); same rules as respond otherwise. release NULL: lines and body are
     * copied. Else they are borrowed, not copied, until the proxy calls release(arg), once,
     * when the request ends (the caller hands over a reference to what holds them); on an error
     * return release is not called. */
    enum gw_err (*respond_lines)(struct dp_plugin_req *r, int status,
                                 const struct dp_header_line *lines, size_t n, const char *body,
                                 size_t len, void (*release)(void *arg), void *arg);
};

/* Base of the proxy's request object: embed it (first member or not) and point ops at a
 * static table. */
struct dp_plugin_req {
    const struct dp_plugin_req_ops *ops;
};

/* A consumer as the plugins see it (owned by the plugin set; lives as long as its config). */
struct dp_consumer {
    const char *id;
    const char *username;  /* NULL when absent */
    const char *custom_id; /* NULL when absent */
};

/* A key-auth credential (owned by the plugin set). */
struct dp_credential {
    const char *id;
    const char *key;
    const struct dp_consumer *consumer;
    int64_t expires_at; /* unix seconds; 0 = never */
    /* key-auth's upstream headers for this credential, prepared with the config (X-Consumer-ID,
     * -Custom-ID, -Username, X-Credential-Identifier, X-Anonymous-Consumer); nupstream 0 when
     * they could not be prepared (then they are set one by one) */
    struct dp_header_line upstream[5];
    size_t nupstream;
};

/* Process-wide state plugins keep across configs: rate-limit counters and the proxy cache.
 * Both borrowed by every plugin set built with it, so it must outlive them. */
struct dp_plugin_env {
    struct dp_rl_store *ratelimit;
    struct dp_cache_store *cache;
};

/* Context of one plugin callback. All pointers borrowed for the callback's duration. */
struct dp_plugin_call {
    struct dp_plugin_req *req;
    struct dp_plugin_run *run; /* consumer, credential, route/service ids */
    const char *plugin_id;     /* the configured plugin entity id */
    const void *conf;          /* the plugin's compiled config (from ops->build) */
    void **state;              /* per-request slot of this plugin, NULL at first; whatever is
                                * left in it after ops->log is released with free() */
};

/* Everything ops->build may use. */
struct dp_plugin_build_ctx {
    const struct dp_plugin_env *env;
    const Portico__V1__Plugin *pb; /* borrowed; do not keep pointers into it */
};

/* The ops table of one plugin (a `static const` per plugin file). Callbacks not needed are
 * NULL. Every callback runs on the request's worker thread except build/destroy, which run on
 * the config-building thread. */
struct dp_plugin_ops {
    const char *name; /* "key-auth", as in Plugin.name */
    int priority;     /* Kong's PRIORITY; higher runs first */
    int config_case;  /* the Plugin.config oneof case this plugin reads */
    /* Compiles the typed config into an owned struct (*conf, freed with destroy). On a bad
     * config returns GW_ERR_INVALID and writes a message (NUL-terminated) into err. */
    enum gw_err (*build)(const struct dp_plugin_build_ctx *b, void **conf, char *err,
                         size_t errlen);
    /* Frees a compiled config. Accepts NULL. */
    void (*destroy)(void *conf);
    /* Whether this compiled config needs the request body buffered before access. NULL = no. */
    bool (*needs_body_fn)(const void *conf);
    enum dp_plugin_rc (*access)(struct dp_plugin_call *c);
    void (*header_filter)(struct dp_plugin_call *c);
    /* Sees the upstream response body as it streams; eof on the last call. Read-only. */
    void (*body_filter)(struct dp_plugin_call *c, const char *data, size_t len, bool eof);
    /* Runs once per request after the response (also for short-circuited requests). Releases
     * what *c->state owns and sets it to NULL, or leaves a plain malloc'd block for free(). */
    void (*log)(struct dp_plugin_call *c);
};

/* ---- helpers for plugins (dp_plugin_util.c) ---- */

/* Ends the request with Kong's JSON error body {"message":"<message>"}, Content-Type
 * application/json; charset=utf-8, plus extra headers (borrowed). Returns DP_PLUGIN_RESPONDED.
 * Worker thread. */
enum dp_plugin_rc dp_plugin_respond_error(struct dp_plugin_call *c, int status, const char *message,
                                          const struct dp_header *headers, size_t nheaders);

/* Finds query argument name (exact, case-sensitive, after percent-decoding of names and values,
 * '+' as space) in raw query q. Copies the first value into out (NUL-terminated, decoded) and
 * returns the number of occurrences (0 = absent). A value longer than outlen-1 is truncated. */
size_t dp_plugin_query_get(const char *q, const char *name, char *out, size_t outlen);

/* Returns in *out a copy of q without any argument whose decoded name is name (owned; free with
 * free(); never longer than q). GW_ERR_NOMEM. */
enum gw_err dp_plugin_query_remove(const char *q, const char *name, char **out);

/* Percent-decodes n bytes of s into out (outlen includes the NUL); '+' becomes ' ' when plus is
 * true. Returns the decoded length, truncated to outlen-1. */
size_t dp_plugin_url_decode(const char *s, size_t n, bool plus, char *out, size_t outlen);

/* Prepares the line "name: value\r\n" (value NULL: the header removed) into *out (out->line
 * owned; free with dp_header_line_free). GW_ERR_INVALID when name is empty or name or value
 * holds CR or LF; GW_ERR_NOMEM. Any thread. */
enum gw_err dp_header_line_make(struct dp_header_line *out, const char *name, const char *value);

/* Frees a line made by dp_header_line_make and zeroes it. Accepts a zeroed one. */
void dp_header_line_free(struct dp_header_line *l);

/* Writes "name: value\r\n" into buf (cap bytes) and describes it in *out; the caller vouches
 * for name and value (constants, digits, values already validated). Returns the bytes used, 0
 * when it does not fit. For lines passed with copy true. */
size_t dp_header_line_put(char *buf, size_t cap, const char *name, size_t nlen, const char *value,
                          size_t vlen, struct dp_header_line *out);

/* Case-insensitive ASCII string equality. */
bool dp_plugin_streq_ci(const char *a, const char *b);

#endif
