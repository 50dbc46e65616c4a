/*
 * A background thread that works in rounds, sleeps between them, can be woken early
 * ("kicked") and stopped at any time: the shape shared by the migrator, the PostgreSQL watch
 * and the request-head reaper. The owner embeds struct bgthread and its thread function
 * loops on bgthread_sleep.
 */
#ifndef TODO_BGTHREAD_H
#define TODO_BGTHREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bgthread {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool kicked;
    atomic_bool stopping; /* bgthread_stop was called: read by bgthread_stop_requested */
    void *(*fn)(void *);
    void *arg;
};

/* Starts fn(arg) on a new thread. Returns ERR_OK or ERR_NOMEM (t is then unusable). */
int bgthread_start(struct bgthread *t, void *(*fn)(void *), void *arg);

/* Asks the thread to stop, wakes it and joins it; t may not be used afterwards. */
void bgthread_stop(struct bgthread *t);

/* Called by the thread: sleeps ms milliseconds (forever when ms < 0) or until kicked.
 * Returns false when asked to stop, true otherwise (and clears the kick). */
bool bgthread_sleep(struct bgthread *t, int64_t ms);

/* Wakes the thread's current or next bgthread_sleep early; returns at once. */
void bgthread_kick(struct bgthread *t);

/* True on a thread started by bgthread_start. */
bool bgthread_on_thread(void);

/* True when the calling thread was started by bgthread_start and has been asked to stop.
 * A long wait made on such a thread (a database connect or statement, store/postgres.c)
 * checks it every BGTHREAD_STOP_POLL_MS and gives up, so stopping a background thread
 * never waits out a deadline of the call it happens to be in. */
bool bgthread_stop_requested(void);
#define BGTHREAD_STOP_POLL_MS 50

#endif
