/* The PostgreSQL watch and the asynchronous cancel thread (see pg_guard.h). */
#include "store/pg_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/bgthread.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#define CANCEL_QUEUE 8

struct pg_guard {
    pg_probe_fn probe;
    void *ctx;
    struct bgthread bg;
    atomic_bool down;
    int efd; /* readable while down */
};

static void set_down(struct pg_guard *g, bool down)
{
    atomic_store(&g->down, down);
    if (down) {
        uint64_t one = 1;
        (void)!write(g->efd, &one, sizeof(one));
    } else {
        uint64_t v;
        (void)!read(g->efd, &v, sizeof(v)); /* non-blocking: empties the counter */
    }
}

/* Probes when kicked; while the database is down, every PG_PROBE_INTERVAL_MS as well. */
static void *watch(void *arg)
{
    struct pg_guard *g = arg;
    while (bgthread_sleep(&g->bg, atomic_load(&g->down) ? PG_PROBE_INTERVAL_MS : -1)) {
        bool was_down = atomic_load(&g->down);
        bool answered = g->probe(g->ctx, PG_PROBE_TIMEOUT_MS) == ERR_OK;
        if (answered && was_down) {
            set_down(g, false);
            log_info("postgres: the database answers again");
        } else if (!answered && !was_down) {
            set_down(g, true);
            log_warn("postgres: the database does not answer within %d ms; requests fail "
                     "at once until it does",
                     PG_PROBE_TIMEOUT_MS);
        }
    }
    return NULL;
}

int pg_guard_start(pg_probe_fn probe, void *ctx, struct pg_guard **out)
{
    struct pg_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return ERR_NOMEM;
    g->probe = probe;
    g->ctx = ctx;
    g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->efd < 0) {
        free(g);
        return ERR_IO;
    }
    if (bgthread_start(&g->bg, watch, g) != ERR_OK) {
        close(g->efd);
        free(g);
        return ERR_NOMEM;
    }
    *out = g;
    return ERR_OK;
}

void pg_guard_stop(struct pg_guard *g)
{
    if (!g)
        return;
    bgthread_stop(&g->bg);
    close(g->efd);
    free(g);
}

bool pg_guard_down(struct pg_guard *g)
{
    return atomic_load(&g->down);
}

int pg_guard_fd(struct pg_guard *g)
{
    return g->efd;
}

void pg_guard_kick(struct pg_guard *g)
{
    bgthread_kick(&g->bg);
}

/* --- the cancel thread ------------------------------------------------------------------ */

static pthread_mutex_t cancel_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cv = PTHREAD_COND_INITIALIZER;
static PGcancel *cancel_queue[CANCEL_QUEUE]; /* a ring; reachable, so never reported leaked */
static size_t cancel_head, cancel_len;
static bool cancel_started;

/* Sends queued cancels one at a time. PQcancel may wait as long as the server is stopped:
 * only this thread waits, and the queue stays bounded meanwhile. */
static void *cancel_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&cancel_mu);
        while (cancel_len == 0)
            pthread_cond_wait(&cancel_cv, &cancel_mu);
        PGcancel *c = cancel_queue[cancel_head];
        cancel_queue[cancel_head] = NULL;
        cancel_head = (cancel_head + 1) % CANCEL_QUEUE;
        cancel_len--;
        pthread_mutex_unlock(&cancel_mu);
        char err[256];
        (void)PQcancel(c, err, sizeof(err));
        PQfreeCancel(c);
    }
    return NULL;
}

void pg_guard_cancel(PGconn *pg)
{
    PGcancel *c = pg ? PQgetCancel(pg) : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&cancel_mu);
    if (!cancel_started) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        cancel_started = pthread_create(&t, &attr, cancel_thread, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!cancel_started || cancel_len == CANCEL_QUEUE) {
        pthread_mutex_unlock(&cancel_mu);
        PQfreeCancel(c); /* the connection is dropped anyway; the server ends it later */
        return;
    }
    cancel_queue[(cancel_head + cancel_len) % CANCEL_QUEUE] = c;
    cancel_len++;
    pthread_cond_signal(&cancel_cv);
    pthread_mutex_unlock(&cancel_mu);
}
