/* cp/declarative/cp_decl_entities.c: the declarative metadata of every entity table, as in
 * Kong's entity schemas (kong/db/schema/entities/ (one file per entity),
 * kong/plugins/key-auth/daos.lua). SPDX-License-Identifier: Apache-2.0 */
#include "cp_decl_entities.h"

#include <string.h>

static const struct cp_decl_fk service_fks[] = {{"client_certificate", "certificates", false}};
static const struct cp_decl_fk route_fks[] = {{"service", "services", false}};
static const struct cp_decl_fk upstream_fks[] = {{"client_certificate", "certificates", false}};
static const struct cp_decl_fk target_fks[] = {{"upstream", "upstreams", true}};
static const struct cp_decl_fk plugin_fks[] = {
    {"route", "routes", true}, {"service", "services", true}, {"consumer", "consumers", true}};
static const struct cp_decl_fk keyauth_fks[] = {{"consumer", "consumers", true}};
static const struct cp_decl_fk sni_fks[] = {{"certificate", "certificates", false}};

static const char *const name_unique[] = {"name", NULL};
static const char *const consumer_unique[] = {"username", "custom_id", NULL};
static const char *const plugin_unique[] = {"instance_name", NULL};
static const char *const key_unique[] = {"key", NULL};
static const char *const none[] = {NULL};

static const char *const target_ck[] = {"upstream", "target", NULL};
static const char *const plugin_ck[] = {"name", "route", "service", "consumer", NULL};
static const char *const keyauth_ck[] = {"key", NULL};

#define FKS(a) a, sizeof(a) / sizeof(a[0])

static const struct cp_decl_entity entities[] = {
    {"certificates", NULL, false, NULL, none, NULL, 0},
    {"ca_certificates", NULL, false, NULL, none, NULL, 0},
    {"services", "name", true, NULL, name_unique, FKS(service_fks)},
    {"routes", "name", true, NULL, name_unique, FKS(route_fks)},
    {"upstreams", "name", true, NULL, name_unique, FKS(upstream_fks)},
    {"targets", "target", false, target_ck, none, FKS(target_fks)},
    {"consumers", "username", true, NULL, consumer_unique, NULL, 0},
    {"plugins", "instance_name", true, plugin_ck, plugin_unique, FKS(plugin_fks)},
    {"keyauth_credentials", "key", true, keyauth_ck, key_unique, FKS(keyauth_fks)},
    {"snis", "name", true, NULL, name_unique, FKS(sni_fks)},
};

const struct cp_decl_entity *cp_decl_entities(size_t *n)
{
    *n = sizeof(entities) / sizeof(entities[0]);
    return entities;
}

const struct cp_decl_entity *cp_decl_entity_get(const char *name)
{
    for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
        if (strcmp(entities[i].name, name) == 0)
            return &entities[i];
    return NULL;
}

const struct cp_decl_fk *cp_decl_entity_parent_fk(const struct cp_decl_entity *child,
                                                  const char *parent)
{
    for (size_t i = 0; i < child->nfks; i++)
        if (strcmp(child->fks[i].entity, parent) == 0)
            return &child->fks[i];
    return NULL;
}

const char *cp_decl_entity_singular(const char *name)
{
    static const char *const map[][2] = {
        {"certificates", "certificate"},
        {"ca_certificates", "ca_certificate"},
        {"services", "service"},
        {"routes", "route"},
        {"upstreams", "upstream"},
        {"targets", "target"},
        {"consumers", "consumer"},
        {"plugins", "plugin"},
        {"keyauth_credentials", "keyauth_credential"},
        {"snis", "sni"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], name) == 0)
            return map[i][1];
    return name;
}
