/* dp/plugins/dp_plugin_map.c: string-keyed hash map with SipHash-1-3 and a random process key.
 * SPDX-License-Identifier: Apache-2.0 */
#include "plugins/dp_plugin_map.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t sip_k0, sip_k1;
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_key_init(void)
{
    unsigned char k[16];
    if (RAND_bytes(k, sizeof(k)) != 1) {
        /* Still usable, just predictable; the maps only hold config-bounded key sets. */
        uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&sip_k0;
        memcpy(k, &t, 8);
        memcpy(k + 8, &t, 8);
    }
    memcpy(&sip_k0, k, 8);
    memcpy(&sip_k1, k + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

uint64_t dp_plugin_hash(const void *data, size_t n)
{
    pthread_once(&sip_once, sip_key_init);
    const unsigned char *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ sip_k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ sip_k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ sip_k0;
    uint64_t v3 = 0x7465646279746573ULL ^ sip_k1;
    uint64_t b = ((uint64_t)n) << 56;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m;
        memcpy(&m, p + i, 8); /* little-endian hosts; consistency within a process is all we need */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; i + j < n; j++)
        b |= ((uint64_t)p[i + j]) << (8 * j);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void dp_plugin_map_init(struct dp_plugin_map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

void dp_plugin_map_cleanup(struct dp_plugin_map *m)
{
    if (!m)
        return;
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

static struct dp_plugin_map_slot *find(const struct dp_plugin_map *m, const char *key, size_t n,
                                       uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct dp_plugin_map_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && s->keylen == n && memcmp(s->key, key, n) == 0)
            return s;
    }
}

static enum gw_err grow(struct dp_plugin_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct dp_plugin_map_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return GW_ERR_NOMEM;
    struct dp_plugin_map old = *m;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key)
            *find(m, old.slots[i].key, old.slots[i].keylen, old.slots[i].hash) = old.slots[i];
    }
    free(old.slots);
    return GW_OK;
}

enum gw_err dp_plugin_map_put(struct dp_plugin_map *m, const char *key, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3) { /* keep the load factor under 3/4 */
        enum gw_err e = grow(m);
        if (e != GW_OK)
            return e;
    }
    size_t n = strlen(key);
    uint64_t h = dp_plugin_hash(key, n);
    struct dp_plugin_map_slot *s = find(m, key, n, h);
    if (s->key)
        return GW_ERR_EXISTS;
    s->key = key;
    s->keylen = n;
    s->hash = h;
    s->value = value;
    m->len++;
    return GW_OK;
}

void *dp_plugin_map_getn(const struct dp_plugin_map *m, const char *key, size_t n)
{
    if (!m->cap || !key)
        return NULL;
    struct dp_plugin_map_slot *s = find(m, key, n, dp_plugin_hash(key, n));
    return s->key ? s->value : NULL;
}

void *dp_plugin_map_get(const struct dp_plugin_map *m, const char *key)
{
    return key ? dp_plugin_map_getn(m, key, strlen(key)) : NULL;
}
