/* dp/plugins/dp_plugin_key_auth.c: the key-auth plugin (Kong's kong/plugins/key-auth): finds an
 * API key in a header, the query string or the body, looks the credential up in the config's
 * hash index and authenticates its consumer, or answers 401.
 * SPDX-License-Identifier: Apache-2.0 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw_log.h"
#include "plugins/dp_plugin.h"
#include "plugins/dp_plugin_set.h"

/* Longest API key we look at; longer keys cannot match (credentials are looked up whole). */
#define KEY_MAX 1024

struct key_auth_conf {
    char **key_names;
    size_t nkey_names;
    bool hide_credentials;
    bool key_in_header;
    bool key_in_query;
    bool key_in_body;
    bool run_on_preflight;
    char *anonymous; /* consumer id or username, NULL when unset */
    char *www_auth;  /* WWW-Authenticate value */
};

static void destroy(void *p)
{
    struct key_auth_conf *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < c->nkey_names; i++)
        free(c->key_names[i]);
    free(c->key_names);
    free(c->anonymous);
    free(c->www_auth);
    free(c);
}

static enum gw_err build(const struct dp_plugin_build_ctx *b, void **out, char *err, size_t errlen)
{
    const Portico__V1__KeyAuthConfig *pb = b->pb->key_auth;
    struct key_auth_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return GW_ERR_NOMEM;
    /* Kong's defaults for absent fields (the control plane normally fills them) */
    c->hide_credentials = pb->has_hide_credentials && pb->hide_credentials;
    c->key_in_header = !pb->has_key_in_header || pb->key_in_header;
    c->key_in_query = !pb->has_key_in_query || pb->key_in_query;
    c->key_in_body = pb->has_key_in_body && pb->key_in_body;
    c->run_on_preflight = !pb->has_run_on_preflight || pb->run_on_preflight;
    size_t n = pb->n_key_names ? pb->n_key_names : 1;
    c->key_names = calloc(n, sizeof(char *));
    if (!c->key_names)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const char *name = pb->n_key_names ? pb->key_names[i] : "apikey";
        if (!name[0]) {
            snprintf(err, errlen, "key_names: empty key name");
            destroy(c);
            return GW_ERR_INVALID;
        }
        if (!(c->key_names[i] = strdup(name)))
            goto nomem;
        c->nkey_names++;
    }
    if (pb->anonymous && pb->anonymous[0] && !(c->anonymous = strdup(pb->anonymous)))
        goto nomem;
    const char *realm = pb->realm && pb->realm[0] ? pb->realm : "portico";
    size_t wlen = strlen(realm) + 16;
    if (!(c->www_auth = malloc(wlen)))
        goto nomem;
    snprintf(c->www_auth, wlen, "Key realm=\"%s\"", realm);
    *out = c;
    return GW_OK;
nomem:
    destroy(c);
    return GW_ERR_NOMEM;
}

static bool needs_body(const void *conf)
{
    return ((const struct key_auth_conf *)conf)->key_in_body;
}

/* The parsed request body, when key_in_body asks for it. */
enum body_kind {
    BODY_NONE = 0, /* not parsed yet */
    BODY_EMPTY,    /* absent, unparsable or of an unsupported type */
    BODY_FORM,
    BODY_JSON,
    BODY_KIND_COUNT_ /* keep last */
};

struct body {
    enum body_kind kind;
    char *form;   /* owned NUL-terminated copy (BODY_FORM) */
    json_t *json; /* owned object (BODY_JSON) */
};

static bool has_prefix_ci(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s && strncasecmp(s, prefix, n) == 0;
}

static void body_load(struct dp_plugin_req *r, struct body *b)
{
    if (b->kind != BODY_NONE)
        return;
    b->kind = BODY_EMPTY;
    const char *data = NULL;
    size_t len = 0;
    if (r->ops->body(r, &data, &len) != GW_OK || !len)
        return;
    const char *ct = r->ops->header(r, "Content-Type", 0);
    if (has_prefix_ci(ct, "application/x-www-form-urlencoded")) {
        if ((b->form = malloc(len + 1))) {
            memcpy(b->form, data, len);
            b->form[len] = '\0';
            b->kind = BODY_FORM;
        }
    } else if (has_prefix_ci(ct, "application/json")) {
        json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(j)) {
            b->json = j;
            b->kind = BODY_JSON;
        } else {
            json_decref(j);
        }
    } else {
        GW_LOG(GW_LOG_INFO, "key-auth cannot process request body content_type=\"%s\"",
               ct ? ct : "");
    }
}

static void body_cleanup(struct body *b)
{
    free(b->form);
    json_decref(b->json);
}

/* Looks name up in the body: 0 absent, 1 found (copied into out), 2 not a string. */
static int body_get(struct body *b, const char *name, char *out, size_t outlen)
{
    if (b->kind == BODY_FORM) {
        size_t n = dp_plugin_query_get(b->form, name, out, outlen);
        return n == 0 ? 0 : n == 1 ? 1 : 2;
    }
    if (b->kind == BODY_JSON) {
        json_t *v = json_object_get(b->json, name);
        if (!v)
            return 0;
        if (!json_is_string(v))
            return 2;
        snprintf(out, outlen, "%s", json_string_value(v));
        return 1;
    }
    return 0;
}

static void body_hide(struct dp_plugin_req *r, struct body *b, const char *name)
{
    if (b->kind == BODY_FORM) {
        char *nb = NULL;
        if (dp_plugin_query_remove(b->form, name, &nb) == GW_OK) {
            r->ops->set_body(r, nb, strlen(nb));
            free(nb);
        }
    } else if (b->kind == BODY_JSON) {
        json_object_del(b->json, name);
        char *s = json_dumps(b->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s) {
            r->ops->set_body(r, s, strlen(s));
            free(s);
        }
    }
}

static void set_consumer(struct dp_plugin_call *c, const struct dp_consumer *consumer,
                         const struct dp_credential *cred)
{
    struct dp_plugin_req *r = c->req;
    dp_plugin_run_authenticate(c->run, consumer, cred);
    if (cred && cred->nupstream && cred->consumer == consumer &&
        r->ops->set_header_lines(r, false, cred->upstream, cred->nupstream, false) == GW_OK)
        return; /* the usual case: lines prepared with the config */
    if (consumer && consumer->id)
        r->ops->set_header(r, "X-Consumer-ID", consumer->id);
    else
        r->ops->clear_header(r, "X-Consumer-ID");
    if (consumer && consumer->custom_id)
        r->ops->set_header(r, "X-Consumer-Custom-ID", consumer->custom_id);
    else
        r->ops->clear_header(r, "X-Consumer-Custom-ID");
    if (consumer && consumer->username)
        r->ops->set_header(r, "X-Consumer-Username", consumer->username);
    else
        r->ops->clear_header(r, "X-Consumer-Username");
    if (cred && cred->id)
        r->ops->set_header(r, "X-Credential-Identifier", cred->id);
    else
        r->ops->clear_header(r, "X-Credential-Identifier");
    if (cred)
        r->ops->clear_header(r, "X-Anonymous-Consumer");
    else
        r->ops->set_header(r, "X-Anonymous-Consumer", "true");
}

/* Authenticates; returns NULL on success or the 401 message. */
static const char *authenticate(struct dp_plugin_call *c, const struct key_auth_conf *conf)
{
    struct dp_plugin_req *r = c->req;
    struct body body = {0};
    char key[KEY_MAX];
    const char *msg = NULL;
    bool found = false;
    key[0] = '\0';
    for (size_t i = 0; i < conf->nkey_names && !found && !msg; i++) {
        const char *name = conf->key_names[i];
        int where = 0; /* 1 header, 2 query, 3 body */
        if (conf->key_in_header) {
            const char *v = r->ops->header(r, name, 0);
            if (v && r->ops->header(r, name, 1)) {
                msg = "Duplicate API key found";
                break;
            }
            if (v) {
                size_t kl = strnlen(v, sizeof(key) - 1);
                memcpy(key, v, kl);
                key[kl] = '\0';
                where = 1;
            }
        }
        if (!where && conf->key_in_query) {
            size_t n = dp_plugin_query_get(r->ops->query(r), name, key, sizeof(key));
            if (n > 1) {
                msg = "Duplicate API key found";
                break;
            }
            if (n == 1)
                where = 2;
        }
        if (!where && conf->key_in_body) {
            body_load(r, &body);
            int got = body_get(&body, name, key, sizeof(key));
            if (got == 2) {
                msg = "Duplicate API key found";
                break;
            }
            if (got == 1)
                where = 3;
        }
        if (!where)
            continue;
        found = true;
        if (conf->hide_credentials) {
            char *nq = NULL;
            if (dp_plugin_query_get(r->ops->query(r), name, NULL, 0) &&
                dp_plugin_query_remove(r->ops->query(r), name, &nq) == GW_OK)
                r->ops->set_query(r, nq);
            free(nq);
            r->ops->clear_header(r, name);
            if (conf->key_in_body) {
                body_load(r, &body);
                body_hide(r, &body, name);
            }
        }
    }
    body_cleanup(&body);
    if (msg)
        return msg;
    if (!found || !key[0])
        return "No API key found in request";
    const struct dp_credential *cred = dp_plugin_set_credential(c->run->set, key);
    if (!cred || (cred->expires_at && (int64_t)time(NULL) >= cred->expires_at))
        return "Unauthorized";
    set_consumer(c, cred->consumer, cred);
    return NULL;
}

static enum dp_plugin_rc access(struct dp_plugin_call *c)
{
    const struct key_auth_conf *conf = c->conf;
    struct dp_plugin_req *r = c->req;
    if (!conf->run_on_preflight && !strcmp(r->ops->method(r), "OPTIONS"))
        return DP_PLUGIN_CONTINUE;
    if (conf->anonymous && c->run->credential)
        return DP_PLUGIN_CONTINUE; /* already authenticated by a higher-priority plugin */
    const char *msg = authenticate(c, conf);
    if (!msg)
        return DP_PLUGIN_CONTINUE;
    if (conf->anonymous) {
        const struct dp_consumer *anon = dp_plugin_set_consumer(c->run->set, conf->anonymous);
        if (!anon) {
            GW_LOG(GW_LOG_ERROR,
                   "key-auth anonymous consumer is configured but does not exist plugin=%s "
                   "anonymous=\"%s\"",
                   c->plugin_id, conf->anonymous);
            return dp_plugin_respond_error(c, 500, "An unexpected error occurred", NULL, 0);
        }
        set_consumer(c, anon, NULL);
        return DP_PLUGIN_CONTINUE;
    }
    struct dp_header h = {"WWW-Authenticate", conf->www_auth};
    return dp_plugin_respond_error(c, 401, msg, &h, 1);
}

const struct dp_plugin_ops dp_plugin_key_auth_ops = {
    .name = "key-auth",
    .priority = 1250,
    .config_case = PORTICO__V1__PLUGIN__CONFIG_KEY_AUTH,
    .build = build,
    .destroy = destroy,
    .needs_body_fn = needs_body,
    .access = access,
};
