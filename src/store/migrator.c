/* Background migration retries (see migrator.h). */
#include "store/migrator.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

struct migrator {
    struct store *store;
    atomic_bool *ready;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

/* Sleeps up to ms or until stopped; returns true when asked to stop. */
static bool wait_or_stop(struct migrator *m, int ms)
{
    struct timespec ts;
    timespec_after_ms(&ts, ms);
    pthread_mutex_lock(&m->mu);
    while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &ts) == 0)
        ;
    bool stop = m->stop;
    pthread_mutex_unlock(&m->mu);
    return stop;
}

static void *run(void *arg)
{
    struct migrator *m = arg;
    int delay = MIGRATOR_FIRST_DELAY_MS;
    while (!wait_or_stop(m, delay)) {
        int rc = store_migrate(m->store);
        if (rc == ERR_OK) {
            atomic_store(m->ready, true);
            log_info("database reachable: schema is current, ready");
            break;
        }
        if (rc != ERR_UNAVAILABLE)
            log_error("migration failed (%s); retrying", err_str(rc));
        delay = delay * 2 > MIGRATOR_MAX_DELAY_MS ? MIGRATOR_MAX_DELAY_MS : delay * 2;
    }
    return NULL;
}

int migrator_start(struct store *s, atomic_bool *ready, struct migrator **out)
{
    struct migrator *m = calloc(1, sizeof(*m));
    if (!m)
        return ERR_NOMEM;
    m->store = s;
    m->ready = ready;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        free(m);
        return ERR_NOMEM;
    }
    *out = m;
    return ERR_OK;
}

void migrator_stop(struct migrator *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}
