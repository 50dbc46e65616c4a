/*
 * The I/O loop: one thread that runs what must never block an HTTP worker. It owns the
 * process's libcurl multi handle (every outbound transfer of io/httpc.h and its callbacks),
 * runs calls posted from other threads (the completions of io/workq.h, cancellations,
 * resumptions), and fires timers (heartbeats of streamed responses, transfer deadlines).
 * Everything it runs must be short and must not block: it is libuv's loop thread.
 *
 * Threads. loop_post and loop_wake may be called from any thread; everything else that
 * takes a struct loop (timers, the multi handle) only from the loop thread itself, that is
 * from inside something the loop runs.
 *
 * Stopping. loop_stop makes the loop finish: it runs the calls still queued and the stop
 * hooks (io/httpc.h aborts its transfers in one), fires every armed timer with canceled set,
 * runs the calls those posted, and ends the thread. From then on loop_post refuses calls.
 */
#ifndef TODO_LOOP_H
#define TODO_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

/* Longest sleep of the loop when nothing is due: also how late a missed wakeup can be. */
#define LOOP_POLL_MAX_MS 1000
/* Most timers armed at once (a timer per streamed response, one per subsystem). */
#define LOOP_MAX_TIMERS 8192

struct loop;

/* A call to run on the loop thread, embedded by its owner (no allocation). Fill fn, then
 * post it; it must not be posted again before it has run. */
struct loop_call {
    struct loop_call *next;
    void (*fn)(struct loop_call *c);
};

/* A one-shot timer embedded by its owner. fn runs on the loop thread when it is due, or with
 * canceled set when the loop stops first; the timer is disarmed before fn runs, so fn may
 * start it again. */
struct loop_timer {
    int64_t due_ms;
    size_t slot; /* index in the heap + 1; 0 when not armed */
    void (*fn)(struct loop_timer *t, bool canceled);
};

/* An easy handle's link to the loop: CURLINFO_PRIVATE of every easy handle added to the
 * multi handle points at one, and done runs (on the loop thread) when its transfer ends. */
struct loop_easy {
    void (*done)(struct loop_easy *e, CURLcode rc);
};

/* Starts the loop's thread (libcurl is initialised later, by the first loop_multi). Returns
 * ERR_OK or ERR_NOMEM; the caller owns *out: loop_stop, then loop_free. */
int loop_start(struct loop **out);

/* Finishes the loop as described above and joins its thread. Any thread but the loop's;
 * safe to call twice. */
void loop_stop(struct loop *l);

/* Frees a stopped loop. NULL is allowed. */
void loop_free(struct loop *l);

/* Queues c to run on the loop thread, in posting order, and wakes the loop. ERR_OK, or
 * ERR_UNAVAILABLE once the loop has stopped (c then never runs). Any thread. */
int loop_post(struct loop *l, struct loop_call *c);

/* Registers c to run on the loop thread when the loop stops, before timers are canceled.
 * Call before other threads use the loop. */
void loop_at_stop(struct loop *l, struct loop_call *c);

/* True on the loop's own thread. */
bool loop_on_thread(const struct loop *l);

/* True once loop_stop has begun (any thread). */
bool loop_stopping(const struct loop *l);

/* Arms t to fire in delay_ms (re-arming an armed one). Loop thread only. ERR_OK, ERR_LIMIT
 * over LOOP_MAX_TIMERS, or ERR_UNAVAILABLE while the loop stops (t is then not armed). */
int loop_timer_start(struct loop *l, struct loop_timer *t, int64_t delay_ms);

/* Disarms t (nothing when it is not armed); fn does not run. Loop thread only. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);

/* The multi handle, for io/httpc.c, made on the first call (with libcurl's global
 * initialisation, core/libcurl.h); NULL when that failed. Loop thread only. */
CURLM *loop_multi(struct loop *l);

#endif
