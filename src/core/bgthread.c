/* Background threads with a sleep that stop and kick can cut short (see bgthread.h). */
#include "core/bgthread.h"

#include <time.h>

#include "core/err.h"
#include "core/util.h"

/* The bgthread the calling thread runs, or NULL. */
static _Thread_local struct bgthread *current;

/* Every bgthread starts here: it remembers itself for bgthread_stop_requested. */
static void *trampoline(void *p)
{
    struct bgthread *t = p;
    current = t;
    return t->fn(t->arg);
}

int bgthread_start(struct bgthread *t, void *(*fn)(void *), void *arg)
{
    t->stop = false;
    t->kicked = false;
    atomic_store(&t->stopping, false);
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, trampoline, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        return ERR_NOMEM;
    }
    return ERR_OK;
}

void bgthread_stop(struct bgthread *t)
{
    atomic_store(&t->stopping, true);
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

bool bgthread_sleep(struct bgthread *t, int64_t ms)
{
    struct timespec ts;
    if (ms >= 0)
        timespec_after_ms(&ts, ms);
    pthread_mutex_lock(&t->mu);
    while (!t->stop && !t->kicked) {
        if (ms < 0)
            pthread_cond_wait(&t->cv, &t->mu);
        else if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0)
            break; /* timed out */
    }
    bool go_on = !t->stop;
    t->kicked = false;
    pthread_mutex_unlock(&t->mu);
    return go_on;
}

void bgthread_kick(struct bgthread *t)
{
    pthread_mutex_lock(&t->mu);
    t->kicked = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

bool bgthread_on_thread(void)
{
    return current != NULL;
}

bool bgthread_stop_requested(void)
{
    return current && atomic_load(&current->stopping);
}
