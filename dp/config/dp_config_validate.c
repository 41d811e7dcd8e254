/* dp/config/dp_config_validate.c: shared-schema validation of received configs, incremental.
 * SPDX-License-Identifier: Apache-2.0 */
#include "dp_config_validate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_log.h"
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

struct table {
    const char *name;
    size_t n;
    ProtobufCMessage **items;
};

enum gw_err dp_config_validate(const Portico__V1__Config *pb, dp_config_error_fn on_error,
                               void *arg)
{
    const struct table tables[] = {
        {"services", pb->n_services, (ProtobufCMessage **)pb->services},
        {"routes", pb->n_routes, (ProtobufCMessage **)pb->routes},
        {"upstreams", pb->n_upstreams, (ProtobufCMessage **)pb->upstreams},
        {"targets", pb->n_targets, (ProtobufCMessage **)pb->targets},
        {"consumers", pb->n_consumers, (ProtobufCMessage **)pb->consumers},
        {"plugins", pb->n_plugins, (ProtobufCMessage **)pb->plugins},
        {"keyauth_credentials", pb->n_keyauth_credentials,
         (ProtobufCMessage **)pb->keyauth_credentials},
        {"certificates", pb->n_certificates, (ProtobufCMessage **)pb->certificates},
        {"snis", pb->n_snis, (ProtobufCMessage **)pb->snis},
        {"ca_certificates", pb->n_ca_certificates, (ProtobufCMessage **)pb->ca_certificates},
    };
    size_t total = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        total += tables[t].n;
    struct fp_set next = {0};
    next.cap = 16;
    while (next.cap < total * 2)
        next.cap *= 2;
    next.slots = calloc(next.cap, sizeof(uint64_t));
    if (!next.slots)
        return GW_ERR_NOMEM;

    enum gw_err rc = GW_OK;
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    size_t checked = 0;
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        const struct gw_schema *schema = gw_schema_get(tables[t].name);
        uint64_t seed = fnv1a64((const uint8_t *)tables[t].name, strlen(tables[t].name),
                                14695981039346656037ull);
        for (size_t i = 0; i < tables[t].n; i++) {
            const ProtobufCMessage *m = tables[t].items[i];
            size_t len = protobuf_c_message_get_packed_size(m);
            if (len > scratch_cap) {
                uint8_t *p = realloc(scratch, len);
                if (!p) {
                    rc = GW_ERR_NOMEM;
                    goto out;
                }
                scratch = p;
                scratch_cap = len;
            }
            protobuf_c_message_pack(m, scratch);
            uint64_t fp = fnv1a64(scratch, len, seed) | 1; /* never 0 (the empty slot) */
            if (set_has(&validated, fp)) {
                set_add(&next, fp);
                continue;
            }
            checked++;
            /* Absent fields are Kong's nulls; omitting them also keeps message types shared by
             * several records (HealthyConfig's active-only interval) from showing up where
             * the record has no such field. */
            json_t *doc = gw_pbjson_from_pb(m, GW_PBJSON_OMIT_ABSENT);
            if (!doc) {
                rc = GW_ERR_NOMEM;
                goto out;
            }
            json_t *errs = NULL;
            const char *id = json_string_value(json_object_get(doc, "id"));
            /* Checked as the Admin API checks a write: fields a peer left out get Kong's
             * defaults (the builder applies the same ones), every present value must be valid. */
            json_t *full = NULL;
            enum gw_err ve = gw_schema_process(schema, GW_SCHEMA_INSERT, doc, NULL, &full, &errs);
            json_decref(full);
            if (ve != GW_OK) {
                struct report_ctx r = {on_error, arg, tables[t].name, id ? id : "", 0};
                report_fields(&r, errs, "");
                if (!r.reported && on_error)
                    on_error(arg, tables[t].name, id ? id : "", "@entity", "invalid entity");
                rc = GW_ERR_INVALID;
            } else {
                set_add(&next, fp);
            }
            json_decref(errs);
            json_decref(doc);
        }
    }
out:
    free(scratch);
    if (rc == GW_OK) {
        free(validated.slots);
        validated = next;
        GW_LOG(GW_LOG_INFO, "snapshot validated entities=%zu checked=%zu", total, checked);
    } else {
        free(next.slots);
    }
    return rc;
}

void dp_config_validate_cleanup(void)
{
    free(validated.slots);
    memset(&validated, 0, sizeof(validated));
}
