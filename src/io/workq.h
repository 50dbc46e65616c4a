/*
 * A small work queue in the shape of libuv's uv_queue_work: blocking work (a database step,
 * a tool call) runs on one of a few pool threads, and its completion runs back on the I/O
 * loop (io/loop.h). It is how a streaming request, suspended and holding no database
 * connection, takes one per step: the work function acquires a connection, runs its
 * statements and releases it before it returns; the completion continues the stream.
 *
 *     static void step(struct work *w)  { ... store_acquire / store_exec / store_release ... }
 *     static void after(struct work *w, int status) { ... ERR_OK: step ran ... }
 *     workq_submit(q, &ctx->work, step, after);
 *
 * The struct work lives in the caller's object, which must stay alive until after has run
 * (hold a reference for it). Threads: submit and cancel from any thread; work on a pool
 * thread; after on the loop thread, exactly once for every accepted submission.
 */
#ifndef TODO_WORKQ_H
#define TODO_WORKQ_H

#include <stdbool.h>
#include <stddef.h>

#include "io/loop.h"

/* Most items waiting for a thread; more are refused (ERR_LIMIT). */
#define WORKQ_MAX_QUEUED 4096

struct workq;

struct work {
    struct loop_call call; /* the completion, posted to the loop */
    struct work *next;     /* the queue */
    void (*work)(struct work *w);
    void (*after)(struct work *w, int status);
    int status; /* ERR_OK when work ran, ERR_CANCELED when it never will */
    bool queued;
};

/* Starts threads pool threads whose completions go to loop. ERR_OK or ERR_NOMEM; the caller
 * owns *out: workq_quiesce, then workq_free. */
int workq_start(struct loop *loop, int threads, struct workq **out);

/* Queues w: work(w) on a pool thread, then after(w, ERR_OK) on the loop. ERR_OK;
 * ERR_LIMIT when WORKQ_MAX_QUEUED wait; ERR_UNAVAILABLE once quiescing (after then never
 * runs). Any thread. */
int workq_submit(struct workq *q, struct work *w, void (*work)(struct work *w),
                 void (*after)(struct work *w, int status));

/* Takes w out of the queue if no thread has started it: after(w, ERR_CANCELED) then runs
 * on the loop, and true is returned. false when it runs or ran already. Any thread. */
bool workq_cancel(struct workq *q, struct work *w);

/* Refuses new work, cancels what waits (after with ERR_CANCELED) and waits for the work
 * running now to finish; completions are posted to the loop, which must still run. */
void workq_quiesce(struct workq *q);

/* Joins the threads and frees q (after workq_quiesce). NULL is allowed. */
void workq_free(struct workq *q);

#endif
