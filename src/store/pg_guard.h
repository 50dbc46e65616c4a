/*
 * The PostgreSQL watch (private to src/store/): keeps a frozen or unreachable database from
 * holding the HTTP workers. A statement wait that lasts longer than PG_KICK_AFTER_MS asks
 * the watch to check the database; its thread runs a probe (SELECT 1 on a connection of its
 * own, bounded by PG_PROBE_TIMEOUT_MS). When the probe gets no answer the database is
 * declared down: every wait in progress is woken (an eventfd becomes readable) and gives up
 * with ERR_UNAVAILABLE, new requests fail at once, and the probe repeats every
 * PG_PROBE_INTERVAL_MS until the database answers again.
 *
 * Cancels are asynchronous too: PQcancel (libpq 15 has no non-blocking cancel) opens a
 * connection to the server and waits for it to close, without a timeout, so a stopped server
 * would hold the caller forever. pg_guard_cancel hands the request to one process-wide
 * cancel thread through a bounded queue (dropped when full) and returns at once.
 *
 * Threads: the watch thread (one per store) runs only the probe; the cancel thread (one per
 * process, detached) runs only PQcancel. Everything else is called from request threads.
 */
#ifndef TODO_PG_GUARD_H
#define TODO_PG_GUARD_H

#include <stdbool.h>

#include <libpq-fe.h>

#define PG_KICK_AFTER_MS     500  /* a wait this long makes the watch check the database */
#define PG_PROBE_TIMEOUT_MS  1500 /* a probe unanswered this long: the database is down */
#define PG_PROBE_INTERVAL_MS 500  /* while down, how often the probe repeats */

struct pg_guard;

/* Runs the probe: ERR_OK when the database answered within timeout_ms. Called on the watch
 * thread only. */
typedef int (*pg_probe_fn)(void *ctx, int timeout_ms);

/* Starts the watch thread. The caller owns *out (pg_guard_stop). */
int pg_guard_start(pg_probe_fn probe, void *ctx, struct pg_guard **out);

/* Stops and joins the watch thread (at most one probe's time) and frees g. */
void pg_guard_stop(struct pg_guard *g);

/* True while the database is declared down. */
bool pg_guard_down(struct pg_guard *g);

/* A file descriptor that is readable while the database is down (poll it with the socket). */
int pg_guard_fd(struct pg_guard *g);

/* Asks for a probe (a wait is taking long); returns at once. */
void pg_guard_kick(struct pg_guard *g);

/* Queues a cancel of the statement running on pg, to be sent by the cancel thread; returns
 * at once. Call before closing pg. */
void pg_guard_cancel(PGconn *pg);

#endif
