/*
 * The work queue (see workq.h): a FIFO of caller-embedded items under one mutex, a fixed
 * set of pool threads that sleep on a condition variable, and completions handed to the
 * loop with loop_post (no allocation anywhere).
 */
#include "io/workq.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/log.h"

/* Most pool threads. */
#define WORKQ_MAX_THREADS 64

struct workq {
    struct loop *loop;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work queued, or stopping */
    pthread_cond_t idle_cv; /* a running item finished */
    struct work *head, *tail;
    size_t n_queued;
    int running;
    bool stop;
    int n_threads;
    pthread_t threads[WORKQ_MAX_THREADS];
};

static void complete_call(struct loop_call *c)
{
    struct work *w = (struct work *)c; /* call is the first member */
    w->after(w, w->status);
}

/* Hands w's completion to the loop. */
static void complete(struct workq *q, struct work *w, int status)
{
    w->status = status;
    w->call.fn = complete_call;
    if (loop_post(q->loop, &w->call) != ERR_OK) {
        /* Only a shutdown in the wrong order gets here: run it rather than lose it. */
        log_error("workq: the loop has stopped; completing work on a pool thread");
        w->after(w, status);
    }
}

static void *pool_main(void *arg)
{
    struct workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop) /* woken by submit or quiesce */
            pthread_cond_wait(&q->cv, &q->mu);
        if (!q->head)
            break; /* stopping and nothing left */
        struct work *w = q->head;
        q->head = w->next;
        if (!q->head)
            q->tail = NULL;
        q->n_queued--;
        w->queued = false;
        w->next = NULL;
        q->running++;
        pthread_mutex_unlock(&q->mu);
        w->work(w);
        complete(q, w, ERR_OK);
        pthread_mutex_lock(&q->mu);
        q->running--;
        pthread_cond_broadcast(&q->idle_cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int workq_start(struct loop *loop, int threads, struct workq **out)
{
    if (threads < 1 || threads > WORKQ_MAX_THREADS)
        return ERR_INVALID;
    struct workq *q = calloc(1, sizeof(*q));
    if (!q)
        return ERR_NOMEM;
    q->loop = loop;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    pthread_cond_init(&q->idle_cv, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, pool_main, q) != 0) {
            workq_quiesce(q);
            workq_free(q);
            return ERR_NOMEM;
        }
        q->n_threads++;
    }
    *out = q;
    return ERR_OK;
}

int workq_submit(struct workq *q, struct work *w, void (*work)(struct work *w),
                 void (*after)(struct work *w, int status))
{
    w->work = work;
    w->after = after;
    w->next = NULL;
    pthread_mutex_lock(&q->mu);
    int rc = ERR_OK;
    if (q->stop)
        rc = ERR_UNAVAILABLE;
    else if (q->n_queued >= WORKQ_MAX_QUEUED)
        rc = ERR_LIMIT;
    if (rc == ERR_OK) {
        if (q->tail)
            q->tail->next = w;
        else
            q->head = w;
        q->tail = w;
        q->n_queued++;
        w->queued = true;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* Unlinks w from the queue. Caller holds q->mu and knows w is queued. */
static void unlink_locked(struct workq *q, struct work *w)
{
    struct work *prev = NULL;
    for (struct work *p = q->head; p; prev = p, p = p->next) { /* bounded by n_queued */
        if (p != w)
            continue;
        if (prev)
            prev->next = w->next;
        else
            q->head = w->next;
        if (q->tail == w)
            q->tail = prev;
        break;
    }
    q->n_queued--;
    w->queued = false;
    w->next = NULL;
}

bool workq_cancel(struct workq *q, struct work *w)
{
    pthread_mutex_lock(&q->mu);
    bool queued = w->queued;
    if (queued)
        unlink_locked(q, w);
    pthread_mutex_unlock(&q->mu);
    if (queued)
        complete(q, w, ERR_CANCELED);
    return queued;
}

void workq_quiesce(struct workq *q)
{
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    struct work *w = q->head;
    q->head = q->tail = NULL;
    q->n_queued = 0;
    for (struct work *p = w; p; p = p->next) /* the list taken is finite */
        p->queued = false;                   /* workq_cancel no longer finds them */
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    while (w) {
        struct work *next = w->next;
        w->next = NULL;
        complete(q, w, ERR_CANCELED);
        w = next;
    }
    pthread_mutex_lock(&q->mu);
    while (q->running > 0) /* bounded by the running items' own deadlines */
        pthread_cond_wait(&q->idle_cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

void workq_free(struct workq *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->idle_cv);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
