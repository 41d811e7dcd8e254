/* cp/health/cp_health_bcast.c: the bounded HealthCommand broadcast log.
 * SPDX-License-Identifier: Apache-2.0 */
#include "cp_health_bcast.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct msg {
    uint8_t *data;
    size_t len;
};

struct cp_health_bcast {
    pthread_mutex_t lock;
    uint64_t head; /* sequence number of the next message; message i lives in ring[i % MAX] */
    struct msg ring[CP_HEALTH_BCAST_MAX];
};

struct cp_health_bcast *cp_health_bcast_create(void)
{
    struct cp_health_bcast *b = calloc(1, sizeof(*b));
    if (b)
        pthread_mutex_init(&b->lock, NULL);
    return b;
}

void cp_health_bcast_destroy(struct cp_health_bcast *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < CP_HEALTH_BCAST_MAX; i++)
        free(b->ring[i].data);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

enum gw_err cp_health_bcast_push(struct cp_health_bcast *b, const Portico__V1__HealthCommand *cmd)
{
    Portico__V1__ClusterMessage m = PORTICO__V1__CLUSTER_MESSAGE__INIT;
    m.msg_case = PORTICO__V1__CLUSTER_MESSAGE__MSG_HEALTH_COMMAND;
    m.health_command = (Portico__V1__HealthCommand *)cmd;
    size_t len = portico__v1__cluster_message__get_packed_size(&m);
    uint8_t *data = malloc(len ? len : 1);
    if (!data)
        return GW_ERR_NOMEM;
    portico__v1__cluster_message__pack(&m, data);
    pthread_mutex_lock(&b->lock);
    struct msg *slot = &b->ring[b->head % CP_HEALTH_BCAST_MAX];
    free(slot->data);
    slot->data = data;
    slot->len = len;
    b->head++;
    pthread_mutex_unlock(&b->lock);
    return GW_OK;
}

uint64_t cp_health_bcast_head(struct cp_health_bcast *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t h = b->head;
    pthread_mutex_unlock(&b->lock);
    return h;
}

bool cp_health_bcast_pending(struct cp_health_bcast *b, uint64_t cursor)
{
    return cp_health_bcast_head(b) > cursor;
}

bool cp_health_bcast_next(struct cp_health_bcast *b, uint64_t *cursor, uint8_t **out, size_t *len)
{
    bool ok = false;
    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&b->lock);
    if (b->head > CP_HEALTH_BCAST_MAX && *cursor < b->head - CP_HEALTH_BCAST_MAX)
        *cursor = b->head - CP_HEALTH_BCAST_MAX; /* fell behind: the oldest kept */
    if (*cursor < b->head) {
        const struct msg *m = &b->ring[*cursor % CP_HEALTH_BCAST_MAX];
        *out = malloc(m->len ? m->len : 1);
        if (*out) {
            memcpy(*out, m->data, m->len);
            *len = m->len;
            (*cursor)++;
            ok = true;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}
