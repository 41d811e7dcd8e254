/* dp/config/dp_config_reaper.c: frees replaced configurations off the proxy workers.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config/dp_config_reaper.h"

#include <pthread.h>
#include <stdlib.h>

#include "dp_config.h"
#include "dp_config_internal.h"
#include "gw_log.h"
#include "gw_thread.h"
#include "gw_time.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct dp_config *queue; /* linked through reap_next, newest first */
static bool running, stopping;
static pthread_t thread;

static void *reaper_main(void *arg)
{
    (void)arg;
    gw_thread_set_background("config reaper");
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!queue && !stopping)
            pthread_cond_wait(&cond, &lock);
        struct dp_config *batch = queue;
        queue = NULL;
        bool stop = stopping;
        pthread_mutex_unlock(&lock);
        while (batch) {
            struct dp_config *next = batch->reap_next;
            uint64_t t0 = gw_time_mono_us();
            long long rev = (long long)batch->revision;
            size_t nservices = batch->nservices;
            dp_config_destroy(batch);
            GW_LOG(GW_LOG_DEBUG, "config freed revision=%lld services=%zu micros=%llu", rev,
                   nservices, (unsigned long long)(gw_time_mono_us() - t0));
            batch = next;
        }
        pthread_mutex_lock(&lock);
        if (stop && !queue)
            break;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

enum gw_err dp_config_reaper_start(void)
{
    pthread_mutex_lock(&lock);
    stopping = false;
    int e = pthread_create(&thread, NULL, reaper_main, NULL);
    running = e == 0;
    pthread_mutex_unlock(&lock);
    if (e) {
        GW_LOG_ERRNO(GW_LOG_WARN, e,
                     "cannot start the config reaper thread (configs are freed "
                     "by the thread that drops them last)");
        return GW_ERR_IO;
    }
    return GW_OK;
}

bool dp_config_reaper_put(struct dp_config *cfg)
{
    pthread_mutex_lock(&lock);
    bool ok = running;
    if (ok) {
        cfg->reap_next = queue;
        queue = cfg;
        pthread_cond_signal(&cond);
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

void dp_config_reaper_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return;
    }
    stopping = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    running = false;
    pthread_mutex_unlock(&lock);
}
