/* tests/fuzz/fuzz_common_pbjson.c: libFuzzer target for the snapshot's conversion between
 * protobuf and Kong JSON and the data plane's validation of what it received: a serialised
 * Config is unpacked (as gw_snapshot_open does), every entity converted to JSON
 * (gw_pbjson_from_pb), validated with gw_schema_validate and converted back (gw_pbjson_to_pb);
 * and, the other way, JSON entities (as the control plane's builder reads them from the
 * database) are added to a Config with gw_pbjson_config_add and packed.
 *
 * Input layout: byte 0 bit 0 selects the direction (0: protobuf bytes, 1: JSON text), the
 * other bits pick the table for JSON input.
 * fuzz-requires: common/gw_pbjson.h
 * SPDX-License-Identifier: Apache-2.0 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gw_pbjson.h"
#include "gw_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_entity(const char *table, const ProtobufCMessage *msg)
{
    json_t *j = gw_pbjson_from_pb(msg, 0);
    if (!j)
        return;
    const struct gw_schema *s = gw_schema_get(table);
    json_t *errf = NULL;
    if (s && gw_schema_validate(s, j, &errf) == GW_ERR_INVALID && errf) {
        json_t *body = gw_schema_error_body(errf);
        json_decref(body);
    }
    json_decref(errf);
    ProtobufCMessage *back = NULL;
    char err[256];
    if (gw_pbjson_to_pb(msg->descriptor, j, 0, &back, err, sizeof err) == GW_OK)
        protobuf_c_message_free_unpacked(back, NULL);
    else if (back)
        __builtin_trap();
    json_decref(j);
}

static void from_pb(const uint8_t *p, size_t n)
{
    Portico__V1__Config *cfg = portico__v1__config__unpack(NULL, n, p);
    if (!cfg)
        return;
    const ProtobufCMessageDescriptor *d = cfg->base.descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t cnt = *(const size_t *)((const char *)cfg + f->quantifier_offset);
        ProtobufCMessage *const *items =
            *(ProtobufCMessage *const *const *)((const char *)cfg + f->offset);
        for (size_t k = 0; k < cnt && k < 64; k++)
            one_entity(f->name, items[k]);
    }
    json_t *all = gw_pbjson_from_pb(&cfg->base, GW_PBJSON_OMIT_ABSENT);
    json_decref(all);
    portico__v1__config__free_unpacked(cfg, NULL);
}

static void from_json(unsigned sel, const char *text, size_t n)
{
    static const char *const tables[] = {"services",
                                         "routes",
                                         "upstreams",
                                         "targets",
                                         "consumers",
                                         "plugins",
                                         "keyauth_credentials",
                                         "certificates",
                                         "snis",
                                         "ca_certificates",
                                         "nope"};
    json_error_t je;
    json_t *doc = json_loadb(text, n, 0, &je);
    if (!doc)
        return;
    Portico__V1__Config *cfg = gw_pbjson_config_new();
    if (cfg) {
        char err[256];
        const char *table = tables[sel % (sizeof tables / sizeof tables[0])];
        for (unsigned flags = 0; flags < 2; flags++)
            (void)gw_pbjson_config_add(cfg, table, doc, flags, err, sizeof err);
        size_t len = portico__v1__config__get_packed_size(cfg);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf) {
            portico__v1__config__pack(cfg, buf);
            from_pb(buf, len);
            free(buf);
        }
        portico__v1__config__free_unpacked(cfg, NULL);
    }
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        from_json(data[0] >> 1, (const char *)data + 1, size - 1);
    else
        from_pb(data + 1, size - 1);
    return 0;
}
