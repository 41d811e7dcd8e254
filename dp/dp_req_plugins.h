/* dp/dp_req_plugins.h: the proxy's side of the plugins: implements the plugin request API
 * (struct dp_plugin_req_ops) on struct dp_req and the hooks the request path calls (access
 * before proxying, upstream head edits, response header/body filters, finish).
 * Every function runs on the request's worker thread.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef DP_REQ_PLUGINS_H
#define DP_REQ_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_req;
struct gw_buf;

/* Whether the routed request must be read whole before the access phase: a plugin of its
 * chain reads the body (key-auth key_in_body), the body is not complete yet, is not chunked and
 * is at most 128 KiB (larger bodies are not waited for: the plugins then see no body). */
bool dp_req_plugins_wait_body(const struct dp_req *r);

/* Runs the access phase of the routed request's plugin chain (no-op for routes without
 * plugins). Returns true when the request was answered (a plugin's response, or a 500 when out
 * of memory): r has then been completed and may be freed, the caller must not touch it. */
bool dp_req_plugins_access(struct dp_req *r);

/* For the upstream request head: whether request header name (nlen bytes) was set or cleared
 * by a plugin (the original must be dropped), and the headers plugins set (appended to out). */
bool dp_req_plugins_header_edited(const struct dp_req *r, const char *name, size_t nlen);
void dp_req_plugins_upstream_headers(const struct dp_req *r, struct gw_buf *out);

/* The query string (without '?') a plugin replaced, or NULL when unchanged. */
const char *dp_req_plugins_query(const struct dp_req *r);

/* Whether a plugin replaced the request body (r->pending holds the new one) and its length. */
bool dp_req_plugins_body_len(const struct dp_req *r, uint64_t *len);

/* Upstream response head parsed (r->status, r->rb set), before it is written to the client:
 * runs header_filter. */
void dp_req_plugins_header_filter(struct dp_req *r);

/* Whether response header name was set by a plugin (the upstream's copy must be dropped), and
 * the response headers plugins set (appended to out). Also used for Portico's own responses. */
bool dp_req_plugins_response_edited(const struct dp_req *r, const char *name, size_t nlen);
void dp_req_plugins_response_headers(const struct dp_req *r, struct gw_buf *out);

/* Upstream response body bytes as they are forwarded; eof once at the end. */
void dp_req_plugins_body(struct dp_req *r, const char *data, size_t len, bool eof);

/* Id of the consumer an auth plugin authenticated, else of its credential, else NULL (for
 * hash_on consumer). Borrowed for the request's lifetime. */
const char *dp_req_plugins_consumer_id(const struct dp_req *r);

/* Runs the log phase and resets the plugin state, which stays with r for its next request
 * (from dp_req_free). Accepts r->plg == NULL. */
void dp_req_plugins_finish(struct dp_req *r);

/* Frees a plugin state when its struct dp_req is freed for good. Accepts NULL. */
struct dp_req_plugins;
void dp_req_plugins_free(struct dp_req_plugins *p);

#endif
