/* dp/config/dp_config_validate.c: shared-schema validation of received configs, incremental.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_config_validate.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_thread.h"
#include "gw_pbjson.h"
#include "gw_schema.h"

/* Fingerprints (64-bit FNV-1a of the packed message, tagged by table) of the entities that
 * passed validation in the last successful call: an open-addressing set rebuilt each time. */
struct fp_set {
    uint64_t *slots; /* 0 = empty */
    size_t cap;      /* power of two */
    size_t count;
};

static struct fp_set validated;

static uint64_t fnv1a64(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool set_has(const struct fp_set *s, uint64_t fp)
{
    if (!s->cap)
        return false;
    for (size_t i = fp & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == fp)
            return true;
        if (s->slots[i] == 0)
            return false;
    }
}

static void set_add(struct fp_set *s, uint64_t fp)
{
    for (size_t i = fp & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == fp)
            return;
        if (s->slots[i] == 0) {
            s->slots[i] = fp;
            s->count++;
            return;
        }
    }
}

struct report_ctx {
    dp_config_error_fn on_error;
    void *arg;
    const char *table;
    const char *id;
    int reported;
};

/* Serialises error reports from the validating threads (errors are rare). */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* Walks a Kong `fields` object and reports each message with its dotted path. */
static void report_fields(struct report_ctx *rc, const json_t *v, const char *path)
{
    if (json_is_string(v)) {
        rc->reported++;
        GW_LOG(GW_LOG_WARN, "snapshot entity invalid entity=%s id=%s field=%s message=\"%s\"",
               rc->table, rc->id, path[0] ? path : "@entity", json_string_value(v));
        if (rc->on_error)
            rc->on_error(rc->arg, rc->table, rc->id, path[0] ? path : "@entity",
                         json_string_value(v));
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) report_fields(rc, e, path);
        return;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
            report_fields(rc, e, sub);
        }
    }
}

/* One entity to check: its table and message. */
struct item {
    unsigned table;
    const ProtobufCMessage *msg;
};

#define NTABLES       10
#define MAX_THREADS   4
#define PARALLEL_FROM 2000 /* entities; below this one thread is faster than starting more */

struct pass {
    const struct item *items;
    size_t n;
    const char *const *names;
    const struct gw_schema *const *schemas;
    const uint64_t *seeds;
    dp_config_error_fn on_error;
    void *arg;
};

/* What one thread did with the items i where i % nthreads == tid. */
struct part {
    const struct pass *pass;
    unsigned tid, nthreads;
    uint64_t *ok; /* fingerprints of valid entities */
    size_t nok;
    size_t checked;
    enum gw_err rc;
    pthread_t thread;
};

static void check_one(struct part *pt, const struct item *it, uint8_t **scratch, size_t *cap)
{
    const struct pass *ps = pt->pass;
    size_t len = protobuf_c_message_get_packed_size(it->msg);
    if (len > *cap) {
        uint8_t *p = realloc(*scratch, len);
        if (!p) {
            pt->rc = GW_ERR_NOMEM;
            return;
        }
        *scratch = p;
        *cap = len;
    }
    protobuf_c_message_pack(it->msg, *scratch);
    uint64_t fp = fnv1a64(*scratch, len, ps->seeds[it->table]) | 1; /* never 0 (empty slot) */
    if (set_has(&validated, fp)) {
        pt->ok[pt->nok++] = fp;
        return;
    }
    pt->checked++;
    /* Absent fields are Kong's nulls; omitting them also keeps message types shared by several
     * records (HealthyConfig's active-only interval) from showing up where a record has none. */
    json_t *doc = gw_pbjson_from_pb(it->msg, GW_PBJSON_OMIT_ABSENT);
    if (!doc) {
        pt->rc = GW_ERR_NOMEM;
        return;
    }
    json_t *errs = NULL, *full = NULL;
    /* Checked as the Admin API checks a write: fields a peer left out get Kong's defaults (the
     * builder applies the same ones), every present value and entity rule is checked. */
    if (gw_schema_process(ps->schemas[it->table], GW_SCHEMA_INSERT, doc, NULL, &full, &errs) ==
        GW_OK) {
        pt->ok[pt->nok++] = fp;
    } else {
        const char *id = json_string_value(json_object_get(doc, "id"));
        struct report_ctx r = {ps->on_error, ps->arg, ps->names[it->table], id ? id : "", 0};
        pthread_mutex_lock(&report_lock);
        report_fields(&r, errs, "");
        if (!r.reported && ps->on_error)
            ps->on_error(ps->arg, r.table, r.id, "@entity", "invalid entity");
        pthread_mutex_unlock(&report_lock);
        if (pt->rc == GW_OK)
            pt->rc = GW_ERR_INVALID;
    }
    json_decref(full);
    json_decref(errs);
    json_decref(doc);
}

static void *run_part(void *arg)
{
    struct part *pt = arg;
    if (pt->tid > 0) /* a helper thread; part 0 runs on the caller's thread as it is */
        gw_thread_set_background("snapshot validation");
    uint8_t *scratch = NULL;
    size_t cap = 0;
    for (size_t i = pt->tid; i < pt->pass->n && pt->rc != GW_ERR_NOMEM; i += pt->nthreads)
        check_one(pt, &pt->pass->items[i], &scratch, &cap);
    free(scratch);
    return NULL;
}

enum gw_err dp_config_validate(const Portico__V1__Config *pb, dp_config_error_fn on_error,
                               void *arg)
{
    static const char *const names[NTABLES] = {
        "services",  "routes",         "upstreams",           "targets",
        "consumers", "plugins",        "keyauth_credentials", "certificates",
        "snis",      "ca_certificates"};
    const size_t counts[NTABLES] = {
        pb->n_services,  pb->n_routes,         pb->n_upstreams,           pb->n_targets,
        pb->n_consumers, pb->n_plugins,        pb->n_keyauth_credentials, pb->n_certificates,
        pb->n_snis,      pb->n_ca_certificates};
    ProtobufCMessage *const *lists[NTABLES] = {(ProtobufCMessage **)pb->services,
                                               (ProtobufCMessage **)pb->routes,
                                               (ProtobufCMessage **)pb->upstreams,
                                               (ProtobufCMessage **)pb->targets,
                                               (ProtobufCMessage **)pb->consumers,
                                               (ProtobufCMessage **)pb->plugins,
                                               (ProtobufCMessage **)pb->keyauth_credentials,
                                               (ProtobufCMessage **)pb->certificates,
                                               (ProtobufCMessage **)pb->snis,
                                               (ProtobufCMessage **)pb->ca_certificates};
    const struct gw_schema *schemas[NTABLES];
    uint64_t seeds[NTABLES];
    size_t total = 0;
    for (unsigned t = 0; t < NTABLES; t++) {
        schemas[t] = gw_schema_get(names[t]);
        seeds[t] = fnv1a64((const uint8_t *)names[t], strlen(names[t]), 14695981039346656037ull);
        total += counts[t];
    }

    enum gw_err rc = GW_ERR_NOMEM;
    struct item *items = malloc((total ? total : 1) * sizeof(*items));
    struct part parts[MAX_THREADS] = {0};
    struct fp_set next = {0};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nthreads = total < PARALLEL_FROM || ncpu < 2 ? 1
                        : ncpu > MAX_THREADS              ? MAX_THREADS
                                                          : (unsigned)ncpu;
    if (!items)
        goto out;
    size_t k = 0;
    for (unsigned t = 0; t < NTABLES; t++)
        for (size_t i = 0; i < counts[t]; i++)
            items[k++] = (struct item){t, lists[t][i]};

    struct pass ps = {items, total, names, schemas, seeds, on_error, arg};
    unsigned started = 1;
    for (unsigned t = 0; t < nthreads; t++) {
        parts[t] = (struct part){.pass = &ps, .tid = t, .nthreads = nthreads, .rc = GW_OK};
        parts[t].ok = malloc((total / nthreads + 1) * sizeof(uint64_t));
        if (!parts[t].ok)
            goto join;
    }
    for (; started < nthreads; started++)
        if (pthread_create(&parts[started].thread, NULL, run_part, &parts[started]) != 0)
            break;
    /* Threads that could not start leave their share to this one. */
    for (unsigned t = started; t < nthreads; t++)
        parts[t].rc = GW_ERR_NOMEM;
    run_part(&parts[0]);
join:
    for (unsigned t = 1; t < started; t++)
        pthread_join(parts[t].thread, NULL);
    rc = GW_OK;
    size_t checked = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        if (!parts[t].ok || parts[t].rc == GW_ERR_NOMEM)
            rc = GW_ERR_NOMEM;
        else if (parts[t].rc != GW_OK && rc == GW_OK)
            rc = parts[t].rc;
        checked += parts[t].checked;
    }
    if (rc != GW_OK)
        goto out;
    next.cap = 16;
    while (next.cap < total * 2)
        next.cap *= 2;
    next.slots = calloc(next.cap, sizeof(uint64_t));
    if (!next.slots) {
        rc = GW_ERR_NOMEM;
        goto out;
    }
    for (unsigned t = 0; t < nthreads; t++)
        for (size_t i = 0; i < parts[t].nok; i++)
            set_add(&next, parts[t].ok[i]);
    free(validated.slots);
    validated = next;
    GW_LOG(GW_LOG_INFO, "snapshot validated entities=%zu checked=%zu threads=%u", total, checked,
           nthreads);
out:
    for (unsigned t = 0; t < MAX_THREADS; t++)
        free(parts[t].ok);
    free(items);
    return rc;
}

void dp_config_validate_cleanup(void)
{
    free(validated.slots);
    memset(&validated, 0, sizeof(validated));
}
