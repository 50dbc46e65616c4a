/*
 * The I/O loop (see loop.h). Each pass: run the posted calls, drive libcurl
 * (curl_multi_perform, then the finished transfers' done callbacks), fire the due timers,
 * then sleep in curl_multi_poll until a socket is ready, a timer is due, a call is posted
 * (curl_multi_wakeup) or LOOP_POLL_MAX_MS passes. Timers live in a binary min-heap of at
 * most LOOP_MAX_TIMERS entries, allocated once.
 *
 * The multi handle is made on the first loop_multi (the first transfer), not at start: making
 * it needs libcurl's global initialisation (core/libcurl.h), which a process that never makes
 * an outbound transfer skips. Until then the loop sleeps on a condition variable instead.
 */
#include "io/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/libcurl.h"
#include "core/log.h"
#include "core/util.h"

/* Bound on the passes of the stop sequence (each runs what the last one posted). */
#define LOOP_STOP_ROUNDS 64
/* Bound on the finished-transfer messages read per pass. */
#define LOOP_MSGS_PER_PASS 4096

struct loop {
    pthread_t thread;
    bool mu_ready;
    pthread_mutex_t mu;  /* guards the fields up to `exited` */
    pthread_cond_t wake; /* signalled by loop_post and loop_stop while multi is NULL */
    CURLM *multi;        /* made by the loop thread on first use; never changes after */
    struct loop_call *head, *tail;
    bool stop;
    bool exited;
    atomic_bool stopping;
    struct loop_call *at_stop; /* set before the loop is shared */
    /* The loop thread's own. */
    struct loop_timer **heap;
    size_t n_timers;
};

/* ---- timers ------------------------------------------------------------------------- */

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
    l->heap[i] = t;
    t->slot = i + 1;
}

static void sift_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) { /* ends: i halves */
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->due_ms <= t->due_ms)
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void sift_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) { /* ends: i at least doubles */
        size_t child = 2 * i + 1;
        if (child >= l->n_timers)
            break;
        if (child + 1 < l->n_timers && l->heap[child + 1]->due_ms < l->heap[child]->due_ms)
            child++;
        if (l->heap[child]->due_ms >= t->due_ms)
            break;
        heap_set(l, i, l->heap[child]);
        i = child;
    }
    heap_set(l, i, t);
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    l->n_timers--;
    if (i == l->n_timers)
        return;
    struct loop_timer *moved = l->heap[l->n_timers];
    heap_set(l, i, moved);
    sift_up(l, i);
    sift_down(l, moved->slot - 1);
}

int loop_timer_start(struct loop *l, struct loop_timer *t, int64_t delay_ms)
{
    if (atomic_load(&l->stopping))
        return ERR_UNAVAILABLE;
    loop_timer_stop(l, t);
    if (l->n_timers >= LOOP_MAX_TIMERS)
        return ERR_LIMIT;
    t->due_ms = now_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    heap_set(l, l->n_timers++, t);
    sift_up(l, l->n_timers - 1);
    return ERR_OK;
}

/* Fires the timers due by now; returns the milliseconds until the next one (capped). */
static int64_t fire_timers(struct loop *l)
{
    for (size_t i = 0; i < LOOP_MAX_TIMERS && l->n_timers > 0; i++) {
        struct loop_timer *t = l->heap[0];
        int64_t wait = t->due_ms - now_mono_ms();
        if (wait > 0)
            return wait < LOOP_POLL_MAX_MS ? wait : LOOP_POLL_MAX_MS;
        loop_timer_stop(l, t);
        t->fn(t, false);
    }
    return l->n_timers > 0 ? 0 : LOOP_POLL_MAX_MS;
}

/* ---- posted calls ---------------------------------------------------------------------- */

/* Wakes the loop thread from its sleep. Called with mu held. */
static void wake_locked(struct loop *l)
{
    if (l->multi)
        curl_multi_wakeup(l->multi); /* thread-safe; the handle lives until loop_free */
    else
        pthread_cond_signal(&l->wake);
}

int loop_post(struct loop *l, struct loop_call *c)
{
    c->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->exited) {
        pthread_mutex_unlock(&l->mu);
        return ERR_UNAVAILABLE;
    }
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    wake_locked(l);
    pthread_mutex_unlock(&l->mu);
    return ERR_OK;
}

/* Runs the calls queued now (not those they post: the next pass takes them). Returns
 * whether there were any. */
static bool run_posted(struct loop *l)
{
    pthread_mutex_lock(&l->mu);
    struct loop_call *c = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    bool any = c != NULL;
    while (c) { /* ends: the list taken is finite and nothing joins it */
        struct loop_call *next = c->next;
        c->fn(c);
        c = next;
    }
    return any;
}

/* ---- the thread ------------------------------------------------------------------------ */

/* Drives libcurl and ends the finished transfers. */
static void drive_curl(struct loop *l)
{
    if (!l->multi)
        return; /* no transfer was ever added */
    int running = 0;
    curl_multi_perform(l->multi, &running);
    for (int i = 0; i < LOOP_MSGS_PER_PASS; i++) {
        int left = 0;
        CURLMsg *m = curl_multi_info_read(l->multi, &left);
        if (!m)
            break;
        if (m->msg != CURLMSG_DONE)
            continue;
        struct loop_easy *e = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&e);
        CURLcode rc = m->data.result;
        if (e)
            e->done(e, rc); /* may remove and free the handle */
    }
}

/* The stop sequence: queued calls, stop hooks, canceled timers, and whatever they post. */
static void finish(struct loop *l)
{
    run_posted(l);
    for (struct loop_call *c = l->at_stop; c;) {
        struct loop_call *next = c->next;
        c->fn(c);
        c = next;
    }
    for (int round = 0; round < LOOP_STOP_ROUNDS; round++) {
        drive_curl(l);
        bool any = run_posted(l);
        for (size_t i = 0; i < LOOP_MAX_TIMERS && l->n_timers > 0; i++) {
            struct loop_timer *t = l->heap[0];
            loop_timer_stop(l, t);
            t->fn(t, true);
            any = true;
        }
        if (!any)
            break;
    }
    pthread_mutex_lock(&l->mu);
    l->exited = true;
    struct loop_call *late = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    if (late)
        log_error("loop: calls posted during the last stop round were dropped");
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    for (;;) {
        run_posted(l);
        drive_curl(l);
        int64_t wait = fire_timers(l);
        pthread_mutex_lock(&l->mu);
        if (!l->multi && !l->stop && !l->head) {
            /* No multi handle yet: sleep until a call is posted, a stop, or the next timer. */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += wait / 1000;
            until.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&l->wake, &l->mu, &until);
        }
        bool stop = l->stop;
        bool queued = l->head != NULL;
        CURLM *multi = l->multi;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        if (!queued && multi)
            curl_multi_poll(multi, NULL, 0, (int)wait, NULL);
    }
    finish(l);
    return NULL;
}

int loop_start(struct loop **out)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return ERR_NOMEM;
    l->heap = calloc(LOOP_MAX_TIMERS, sizeof(*l->heap));
    if (!l->heap) {
        loop_free(l);
        return ERR_NOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&l->mu, NULL);
    l->mu_ready = true;
    atomic_init(&l->stopping, false);
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        loop_free(l);
        return ERR_NOMEM;
    }
    *out = l;
    return ERR_OK;
}

void loop_stop(struct loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    bool first = !l->stop;
    l->stop = true;
    if (first) {
        atomic_store(&l->stopping, true);
        wake_locked(l);
    }
    pthread_mutex_unlock(&l->mu);
    if (!first)
        return;
    pthread_join(l->thread, NULL);
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    if (l->mu_ready) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->wake);
    }
    if (l->multi)
        curl_multi_cleanup(l->multi);
    free(l->heap);
    free(l);
}

void loop_at_stop(struct loop *l, struct loop_call *c)
{
    c->next = l->at_stop;
    l->at_stop = c;
}

bool loop_on_thread(const struct loop *l)
{
    return pthread_equal(pthread_self(), l->thread);
}

bool loop_stopping(const struct loop *l)
{
    return atomic_load(&((struct loop *)(uintptr_t)l)->stopping);
}

CURLM *loop_multi(struct loop *l)
{
    if (!l->multi && libcurl_ready()) {
        CURLM *m = curl_multi_init();
        pthread_mutex_lock(&l->mu);
        l->multi = m;
        pthread_mutex_unlock(&l->mu);
    }
    return l->multi;
}
