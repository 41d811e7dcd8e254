/* dp/plugins/dp_plugin_set.c: builds the plugins of a runtime config (compiled instances,
 * consumer and credential indexes, per-route chains) and runs them per request.
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_plugin_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
#include "plugins/dp_plugin_env.h"
#include "plugins/dp_plugin_map.h"

extern const struct dp_plugin_ops dp_plugin_key_auth_ops;
extern const struct dp_plugin_ops dp_plugin_rate_limiting_ops;
extern const struct dp_plugin_ops dp_plugin_proxy_cache_ops;

/* Every plugin this build runs, in execution order (priority, highest first). */
static const struct dp_plugin_ops *const registry[] = {
    &dp_plugin_key_auth_ops,
    &dp_plugin_rate_limiting_ops,
    &dp_plugin_proxy_cache_ops,
};
#define NTYPES (sizeof(registry) / sizeof(registry[0]))
_Static_assert(NTYPES <= DP_PLUGIN_MAX_TYPES, "raise DP_PLUGIN_MAX_TYPES");

static const char *const names[] = {"key-auth", "rate-limiting", "proxy-cache", NULL};
_Static_assert(sizeof(names) / sizeof(names[0]) == NTYPES + 1, "names must list the registry");

/* Separator of the parts of a scope key "route<SEP>service<SEP>consumer". */
#define SEP           "\x1f"
#define SCOPE_KEY_MAX 512

/* Scope levels, most specific first, as Kong orders them. */
enum scope_level {
    LEVEL_RSC = 0,
    LEVEL_RC,
    LEVEL_SC,
    LEVEL_RS,
    LEVEL_C,
    LEVEL_R,
    LEVEL_S,
    LEVEL_GLOBAL,
    LEVEL_NONE,
    LEVEL_COUNT_ /* keep last */
};

struct dp_plugin_instance {
    const struct dp_plugin_ops *ops;
    char *id;
    char *scope_key; /* owned "route\x1fservice\x1fconsumer" (empty parts when absent) */
    bool has_consumer;
    unsigned protocols; /* bits of enum dp_plugin_proto */
    void *conf;
};

struct dp_plugin_chain {
    char *route_id;   /* owned; NULL for the global chain */
    char *service_id; /* owned; may be NULL */
    const struct dp_plugin_instance *base[DP_PLUGIN_MAX_TYPES];
    unsigned char base_level[DP_PLUGIN_MAX_TYPES]; /* enum scope_level */
    bool needs_body;
    bool empty;
};

struct dp_plugin_set {
    const struct dp_plugin_env *env;
    struct dp_plugin_instance *instances;
    size_t ninstances;
    struct dp_consumer *consumers;
    size_t nconsumers;
    struct dp_credential *credentials;
    size_t ncredentials;
    struct dp_plugin_map consumer_by_id, consumer_by_name, credential_by_key, chain_by_route;
    struct dp_plugin_map scoped[DP_PLUGIN_MAX_TYPES];
    bool consumer_scoped[DP_PLUGIN_MAX_TYPES]; /* type has consumer-scoped instances */
    bool consumer_needs_body;
    struct dp_plugin_chain *chains;
    size_t nchains;
    struct dp_plugin_chain global;
};

const char *const *dp_plugin_names(void)
{
    return names;
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *ref_id(const Portico__V1__Ref *ref)
{
    return ref && ref->id && ref->id[0] ? ref->id : NULL;
}

static void report(dp_plugin_error_fn fn, void *arg, const char *entity, const char *id,
                   const char *field, const char *msg)
{
    GW_LOG(GW_LOG_ERROR, "invalid configuration entity=%s id=%s field=%s error=\"%s\"", entity,
           id ? id : "", field, msg);
    if (fn)
        fn(arg, entity, id ? id : "", field, msg);
}

static unsigned parse_protocols(const Portico__V1__Plugin *p)
{
    if (!p->n_protocols)
        return (1u << DP_PLUGIN_PROTO_COUNT_) - 1;
    unsigned bits = 0;
    for (size_t i = 0; i < p->n_protocols; i++) {
        const char *s = p->protocols[i];
        if (!strcmp(s, "http"))
            bits |= 1u << DP_PLUGIN_PROTO_HTTP;
        else if (!strcmp(s, "https"))
            bits |= 1u << DP_PLUGIN_PROTO_HTTPS;
        else if (!strcmp(s, "grpc"))
            bits |= 1u << DP_PLUGIN_PROTO_GRPC;
        else if (!strcmp(s, "grpcs"))
            bits |= 1u << DP_PLUGIN_PROTO_GRPCS;
        /* stream and websocket protocols never reach the HTTP plugin chain */
    }
    return bits;
}

static int scope_key(char *out, size_t outlen, const char *r, const char *s, const char *c)
{
    int n = snprintf(out, outlen, "%s" SEP "%s" SEP "%s", r ? r : "", s ? s : "", c ? c : "");
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static const struct dp_plugin_instance *scoped_get(const struct dp_plugin_set *set, size_t t,
                                                   const char *r, const char *s, const char *c)
{
    char key[SCOPE_KEY_MAX];
    if (scope_key(key, sizeof(key), r, s, c) != 0)
        return NULL;
    return dp_plugin_map_get(&set->scoped[t], key);
}

static void chain_resolve(const struct dp_plugin_set *set, struct dp_plugin_chain *ch)
{
    const char *r = ch->route_id, *s = ch->service_id;
    ch->empty = true;
    ch->needs_body = set->consumer_needs_body;
    for (size_t t = 0; t < NTYPES; t++) {
        const struct dp_plugin_instance *in = NULL;
        enum scope_level lvl = LEVEL_NONE;
        if (r && s && (in = scoped_get(set, t, r, s, NULL)))
            lvl = LEVEL_RS;
        else if (r && (in = scoped_get(set, t, r, NULL, NULL)))
            lvl = LEVEL_R;
        else if (s && (in = scoped_get(set, t, NULL, s, NULL)))
            lvl = LEVEL_S;
        else if ((in = scoped_get(set, t, NULL, NULL, NULL)))
            lvl = LEVEL_GLOBAL;
        ch->base[t] = in;
        ch->base_level[t] = (unsigned char)lvl;
        if (in || set->consumer_scoped[t])
            ch->empty = false;
        if (in && in->ops->needs_body_fn && in->ops->needs_body_fn(in->conf))
            ch->needs_body = true;
    }
}

static enum gw_err build_consumers(struct dp_plugin_set *set, const Portico__V1__Config *pb,
                                   dp_plugin_error_fn on_error, void *arg, bool *bad)
{
    set->consumers = calloc(pb->n_consumers ? pb->n_consumers : 1, sizeof(*set->consumers));
    if (!set->consumers)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_consumers; i++) {
        const Portico__V1__Consumer *c = pb->consumers[i];
        if (!c->id || !c->id[0]) {
            report(on_error, arg, "consumers", "", "id", "required field missing");
            *bad = true;
            continue;
        }
        struct dp_consumer *dc = &set->consumers[set->nconsumers];
        dc->id = dupstr(c->id);
        dc->username = dupstr(c->username);
        dc->custom_id = dupstr(c->custom_id);
        set->nconsumers++;
        if (!dc->id || (c->username && !dc->username) || (c->custom_id && !dc->custom_id))
            return GW_ERR_NOMEM;
        enum gw_err e = dp_plugin_map_put(&set->consumer_by_id, dc->id, dc);
        if (e == GW_ERR_EXISTS) {
            report(on_error, arg, "consumers", c->id, "id", "duplicate id");
            *bad = true;
        } else if (e != GW_OK) {
            return e;
        }
        if (dc->username) {
            e = dp_plugin_map_put(&set->consumer_by_name, dc->username, dc);
            if (e == GW_ERR_EXISTS) {
                report(on_error, arg, "consumers", c->id, "username", "duplicate username");
                *bad = true;
            } else if (e != GW_OK) {
                return e;
            }
        }
    }
    return GW_OK;
}

/* key-auth's upstream headers for a credential, as prepared lines (Kong's set_consumer). A
 * value with CR or LF leaves them unprepared: key-auth then sets them one by one, which refuses
 * such values. */
static enum gw_err prepare_upstream_lines(struct dp_credential *dc)
{
    const struct dp_consumer *c = dc->consumer;
    const char *hdr_names[5] = {"X-Consumer-ID", "X-Consumer-Custom-ID", "X-Consumer-Username",
                                "X-Credential-Identifier", "X-Anonymous-Consumer"};
    const char *hdr_values[5] = {c->id, c->custom_id, c->username, dc->id, NULL};
    for (size_t i = 0; i < 5; i++) {
        enum gw_err e = dp_header_line_make(&dc->upstream[i], hdr_names[i], hdr_values[i]);
        if (e != GW_OK) {
            for (size_t j = 0; j < i; j++)
                dp_header_line_free(&dc->upstream[j]);
            return e;
        }
    }
    dc->nupstream = 5;
    return GW_OK;
}

static enum gw_err build_credentials(struct dp_plugin_set *set, const Portico__V1__Config *pb,
                                     dp_plugin_error_fn on_error, void *arg, bool *bad)
{
    size_t n = pb->n_keyauth_credentials;
    set->credentials = calloc(n ? n : 1, sizeof(*set->credentials));
    if (!set->credentials)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const Portico__V1__KeyAuthCredential *k = pb->keyauth_credentials[i];
        const char *cid = ref_id(k->consumer);
        const struct dp_consumer *consumer =
            cid ? dp_plugin_map_get(&set->consumer_by_id, cid) : NULL;
        if (!k->id || !k->key || !k->key[0]) {
            report(on_error, arg, "keyauth_credentials", k->id, k->id ? "key" : "id",
                   "required field missing");
            *bad = true;
            continue;
        }
        if (!consumer) {
            report(on_error, arg, "keyauth_credentials", k->id, "consumer",
                   "the referenced consumer does not exist");
            *bad = true;
            continue;
        }
        struct dp_credential *dc = &set->credentials[set->ncredentials];
        dc->id = dupstr(k->id);
        dc->key = dupstr(k->key);
        dc->consumer = consumer;
        /* ttl counts from created_at (seconds), as the credential was created with it */
        dc->expires_at = (k->has_ttl && k->ttl > 0) ? k->created_at + k->ttl : 0;
        set->ncredentials++;
        if (!dc->id || !dc->key)
            return GW_ERR_NOMEM;
        enum gw_err le = prepare_upstream_lines(dc);
        if (le == GW_ERR_NOMEM)
            return le;
        enum gw_err e = dp_plugin_map_put(&set->credential_by_key, dc->key, dc);
        if (e == GW_ERR_EXISTS) {
            report(on_error, arg, "keyauth_credentials", k->id, "key", "duplicate key");
            *bad = true;
        } else if (e != GW_OK) {
            return e;
        }
    }
    return GW_OK;
}

static int type_of(const Portico__V1__Plugin *p)
{
    for (size_t t = 0; t < NTYPES; t++) {
        if (p->name && !strcmp(p->name, registry[t]->name))
            return (int)t;
    }
    return -1;
}

static enum gw_err build_plugins(struct dp_plugin_set *set, const Portico__V1__Config *pb,
                                 dp_plugin_error_fn on_error, void *arg, bool *bad)
{
    set->instances = calloc(pb->n_plugins ? pb->n_plugins : 1, sizeof(*set->instances));
    if (!set->instances)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_plugins; i++) {
        const Portico__V1__Plugin *p = pb->plugins[i];
        char err[256];
        if (p->has_enabled && !p->enabled)
            continue;
        int t = type_of(p);
        if (t < 0) {
            snprintf(err, sizeof(err), "plugin '%s' not enabled on this data plane",
                     p->name ? p->name : "");
            report(on_error, arg, "plugins", p->id, "name", err);
            *bad = true;
            continue;
        }
        const struct dp_plugin_ops *ops = registry[t];
        if ((int)p->config_case != ops->config_case) {
            report(on_error, arg, "plugins", p->id, "config",
                   "config missing or of another plugin");
            *bad = true;
            continue;
        }
        if (!p->id || !p->id[0]) {
            report(on_error, arg, "plugins", "", "id", "required field missing");
            *bad = true;
            continue;
        }
        struct dp_plugin_build_ctx b = {.env = set->env, .pb = p};
        void *conf = NULL;
        err[0] = '\0';
        enum gw_err e = ops->build(&b, &conf, err, sizeof(err));
        if (e == GW_ERR_INVALID) {
            report(on_error, arg, "plugins", p->id, "config", err[0] ? err : "invalid config");
            *bad = true;
            continue;
        }
        if (e != GW_OK)
            return e;
        struct dp_plugin_instance *in = &set->instances[set->ninstances++];
        in->ops = ops;
        in->conf = conf;
        in->protocols = parse_protocols(p);
        in->id = dupstr(p->id);
        const char *c = ref_id(p->consumer);
        in->has_consumer = c != NULL;
        char key[SCOPE_KEY_MAX];
        if (scope_key(key, sizeof(key), ref_id(p->route), ref_id(p->service), c) != 0) {
            report(on_error, arg, "plugins", p->id, "@entity", "scope ids too long");
            *bad = true;
            continue;
        }
        in->scope_key = dupstr(key);
        if (!in->id || !in->scope_key)
            return GW_ERR_NOMEM;
        e = dp_plugin_map_put(&set->scoped[t], in->scope_key, in);
        if (e == GW_ERR_EXISTS) {
            report(on_error, arg, "plugins", p->id, "@entity",
                   "a plugin of this name is already configured for this scope");
            *bad = true;
            continue;
        }
        if (e != GW_OK)
            return e;
        if (c) {
            set->consumer_scoped[t] = true;
            if (ops->needs_body_fn && ops->needs_body_fn(conf))
                set->consumer_needs_body = true;
        }
    }
    return GW_OK;
}

static enum gw_err build_chains(struct dp_plugin_set *set, const Portico__V1__Config *pb,
                                dp_plugin_error_fn on_error, void *arg, bool *bad)
{
    set->chains = calloc(pb->n_routes ? pb->n_routes : 1, sizeof(*set->chains));
    if (!set->chains)
        return GW_ERR_NOMEM;
    for (size_t i = 0; i < pb->n_routes; i++) {
        const Portico__V1__Route *r = pb->routes[i];
        if (!r->id || !r->id[0])
            continue; /* the router reports it */
        struct dp_plugin_chain *ch = &set->chains[set->nchains++];
        ch->route_id = dupstr(r->id);
        ch->service_id = dupstr(ref_id(r->service));
        if (!ch->route_id || (ref_id(r->service) && !ch->service_id))
            return GW_ERR_NOMEM;
        chain_resolve(set, ch);
        enum gw_err e = dp_plugin_map_put(&set->chain_by_route, ch->route_id, ch);
        if (e == GW_ERR_EXISTS) {
            report(on_error, arg, "routes", r->id, "id", "duplicate id");
            *bad = true;
        } else if (e != GW_OK) {
            return e;
        }
    }
    chain_resolve(set, &set->global);
    return GW_OK;
}

enum gw_err dp_plugin_set_build(const Portico__V1__Config *pb, const struct dp_plugin_env *env,
                                dp_plugin_error_fn on_error, void *arg, struct dp_plugin_set **out)
{
    *out = NULL;
    struct dp_plugin_set *set = calloc(1, sizeof(*set));
    if (!set)
        return GW_ERR_NOMEM;
    set->env = env ? env : dp_plugin_env_global();
    dp_plugin_map_init(&set->consumer_by_id);
    dp_plugin_map_init(&set->consumer_by_name);
    dp_plugin_map_init(&set->credential_by_key);
    dp_plugin_map_init(&set->chain_by_route);
    for (size_t t = 0; t < NTYPES; t++)
        dp_plugin_map_init(&set->scoped[t]);
    bool bad = false;
    enum gw_err e = build_consumers(set, pb, on_error, arg, &bad);
    if (e == GW_OK)
        e = build_credentials(set, pb, on_error, arg, &bad);
    if (e == GW_OK)
        e = build_plugins(set, pb, on_error, arg, &bad);
    if (e == GW_OK)
        e = build_chains(set, pb, on_error, arg, &bad);
    if (e == GW_OK && bad)
        e = GW_ERR_INVALID;
    if (e != GW_OK)
        goto fail;
    *out = set;
    return GW_OK;
fail:
    dp_plugin_set_destroy(set);
    return e;
}

void dp_plugin_set_destroy(struct dp_plugin_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->ninstances; i++) {
        struct dp_plugin_instance *in = &set->instances[i];
        if (in->ops && in->ops->destroy)
            in->ops->destroy(in->conf);
        free(in->id);
        free(in->scope_key);
    }
    free(set->instances);
    for (size_t i = 0; i < set->nconsumers; i++) {
        free((char *)set->consumers[i].id);
        free((char *)set->consumers[i].username);
        free((char *)set->consumers[i].custom_id);
    }
    free(set->consumers);
    for (size_t i = 0; i < set->ncredentials; i++) {
        free((char *)set->credentials[i].id);
        free((char *)set->credentials[i].key);
        for (size_t j = 0; j < set->credentials[i].nupstream; j++)
            dp_header_line_free(&set->credentials[i].upstream[j]);
    }
    free(set->credentials);
    for (size_t i = 0; i < set->nchains; i++) {
        free(set->chains[i].route_id);
        free(set->chains[i].service_id);
    }
    free(set->chains);
    dp_plugin_map_cleanup(&set->consumer_by_id);
    dp_plugin_map_cleanup(&set->consumer_by_name);
    dp_plugin_map_cleanup(&set->credential_by_key);
    dp_plugin_map_cleanup(&set->chain_by_route);
    for (size_t t = 0; t < NTYPES; t++)
        dp_plugin_map_cleanup(&set->scoped[t]);
    free(set);
}

const struct dp_plugin_chain *dp_plugin_set_chain(const struct dp_plugin_set *set,
                                                  const char *route_id)
{
    const struct dp_plugin_chain *ch =
        route_id ? dp_plugin_map_get(&set->chain_by_route, route_id) : NULL;
    return ch ? ch : &set->global;
}

bool dp_plugin_chain_needs_body(const struct dp_plugin_chain *chain)
{
    return chain && chain->needs_body;
}

bool dp_plugin_chain_empty(const struct dp_plugin_chain *chain)
{
    return !chain || chain->empty;
}

const struct dp_consumer *dp_plugin_set_consumer(const struct dp_plugin_set *set,
                                                 const char *id_or_username)
{
    const struct dp_consumer *c = dp_plugin_map_get(&set->consumer_by_id, id_or_username);
    return c ? c : dp_plugin_map_get(&set->consumer_by_name, id_or_username);
}

const struct dp_credential *dp_plugin_set_credential(const struct dp_plugin_set *set,
                                                     const char *key)
{
    return dp_plugin_map_get(&set->credential_by_key, key);
}

void dp_plugin_run_init(struct dp_plugin_run *run, const struct dp_plugin_set *set,
                        const struct dp_plugin_chain *chain, struct dp_plugin_req *req,
                        enum dp_plugin_proto proto)
{
    memset(run, 0, sizeof(*run));
    run->set = set;
    run->chain = chain ? chain : &set->global;
    run->req = req;
    run->proto = (unsigned)proto;
}

const char *dp_plugin_run_route_id(const struct dp_plugin_run *run)
{
    return run->chain->route_id;
}

const char *dp_plugin_run_service_id(const struct dp_plugin_run *run)
{
    return run->chain->service_id;
}

void dp_plugin_run_authenticate(struct dp_plugin_run *run, const struct dp_consumer *consumer,
                                const struct dp_credential *credential)
{
    run->consumer = consumer;
    run->credential = credential;
}

/* The instance of type t for this request, with the consumer known so far. */
static const struct dp_plugin_instance *resolve(const struct dp_plugin_run *run, size_t t)
{
    const struct dp_plugin_chain *ch = run->chain;
    const struct dp_plugin_instance *base = ch->base[t];
    if (!run->consumer || !run->set->consumer_scoped[t])
        return base;
    const char *r = ch->route_id, *s = ch->service_id, *c = run->consumer->id;
    const struct dp_plugin_instance *in = NULL;
    if (r && s && (in = scoped_get(run->set, t, r, s, c)))
        return in;
    if (r && (in = scoped_get(run->set, t, r, NULL, c)))
        return in;
    if (s && (in = scoped_get(run->set, t, NULL, s, c)))
        return in;
    if (ch->base_level[t] == LEVEL_RS)
        return base;
    if ((in = scoped_get(run->set, t, NULL, NULL, c)))
        return in;
    return base;
}

static void call_init(struct dp_plugin_run *run, size_t t, struct dp_plugin_call *c)
{
    const struct dp_plugin_instance *in = run->active[t];
    c->req = run->req;
    c->run = run;
    c->plugin_id = in->id;
    c->conf = in->conf;
    c->state = &run->state[t];
}

const char *dp_plugin_run_instance_id(const struct dp_plugin_run *run, const char *name)
{
    for (size_t t = 0; t < NTYPES; t++) {
        if (run->active[t] && !strcmp(run->active[t]->ops->name, name))
            return run->active[t]->id;
    }
    return NULL;
}

bool dp_plugin_run_access(struct dp_plugin_run *run)
{
    for (size_t t = 0; t < NTYPES; t++) {
        const struct dp_plugin_instance *in = resolve(run, t);
        if (!in || !(in->protocols & (1u << run->proto)))
            continue;
        /* Kong's collecting iterator: once a plugin responded, the rest are still collected
         * (their header_filter, body_filter and log run) but their access does not */
        run->active[t] = in;
        if (!in->ops->access || run->responded)
            continue;
        struct dp_plugin_call c;
        call_init(run, t, &c);
        if (in->ops->access(&c) == DP_PLUGIN_RESPONDED)
            run->responded = true;
    }
    return run->responded;
}

void dp_plugin_run_header_filter(struct dp_plugin_run *run)
{
    for (size_t t = 0; t < NTYPES; t++) {
        if (!run->active[t] || !run->active[t]->ops->header_filter)
            continue;
        struct dp_plugin_call c;
        call_init(run, t, &c);
        run->active[t]->ops->header_filter(&c);
    }
}

void dp_plugin_run_body_filter(struct dp_plugin_run *run, const char *data, size_t len, bool eof)
{
    for (size_t t = 0; t < NTYPES; t++) {
        if (!run->active[t] || !run->active[t]->ops->body_filter)
            continue;
        struct dp_plugin_call c;
        call_init(run, t, &c);
        run->active[t]->ops->body_filter(&c, data, len, eof);
    }
}

void dp_plugin_run_finish(struct dp_plugin_run *run)
{
    if (run->finished)
        return;
    run->finished = true;
    for (size_t t = 0; t < NTYPES; t++) {
        if (!run->active[t])
            continue;
        if (run->active[t]->ops->log) {
            struct dp_plugin_call c;
            call_init(run, t, &c);
            run->active[t]->ops->log(&c);
        }
        free(run->state[t]); /* NULL when the plugin released it */
        run->state[t] = NULL;
    }
}
