/*
 * Per-user event streams: GET /api/{user_id}/events is a Server-Sent Events stream of the
 * user's reminders (event "reminder", data: the notification, id: its id) and of changes
 * to the user's tasks made anywhere (event "tasks", data {"version": n}: the list is stale
 * below that version), so the web UI refreshes without polling.
 *
 * Every stream is a suspended request (http/stream.h): it holds no database connection and
 * no worker thread. One hub thread per process serves all of them: every EVENTS_POLL_MS,
 * or at once when kicked (a reminder claimed here, a task written here), it reads in two
 * statements the task versions of the users with a stream and the notifications made in
 * the last EVENTS_WINDOW_S for them, and writes what is new. Because it reads the database
 * rather than in-process state, a change made on another replica reaches every stream
 * within a poll. A notification is sent once per process (a set of the ids sent); a stream
 * whose buffer fills (a reader that does not read) is ended, and its client reconnects
 * and re-reads.
 *
 * Threads: events_subscribe on an HTTP worker; events_kick from any thread; the hub thread
 * writes events; the streams' hooks run on workers. Memory: the hub owns its set; each
 * stream's subscriber record lives in the stream's data area (reference counted).
 */
#ifndef TODO_EVENTS_H
#define TODO_EVENTS_H

#include <stdint.h>

#include "core/config.h"
#include "http/request.h"
#include "io/loop.h"
#include "store/store.h"

#define EVENTS_WINDOW_S     60
#define EVENTS_BUFFER_BYTES (64 * 1024)
#define EVENTS_HEARTBEAT_MS 15000
#define EVENTS_MAX_STREAMS  4096
#define EVENTS_MAX_PER_USER 16
#define EVENTS_SENT_MAX     65536 /* notification ids remembered as sent */
#define EVENTS_RETRY_MS     3000  /* the reconnection delay the stream suggests */

struct events;
struct stream;

/* Starts the hub thread. ERR_OK or ERR_NOMEM; the caller owns *out: events_quiesce, then
 * events_free. */
int events_start(const struct config *cfg, struct store *store, struct loop *loop,
                 struct events **out);

/* Something may have changed: look now rather than at the next poll. Any thread; NULL is
 * allowed. */
void events_kick(struct events *ev);

/* Opens uid's stream for req, whose task version the client has seen is version: writes
 * the opening event ("ready") and registers it; a user with EVENTS_MAX_PER_USER streams
 * already loses the oldest (ended cleanly). *out is the caller's reference (release it once
 * the request holds its own). ERR_OK, ERR_UNAVAILABLE (too many in all, or stopping),
 * ERR_NOMEM. Worker thread. */
int events_subscribe(struct events *ev, struct request *req, const char *uid, int64_t version,
                     struct stream **out);

/* Streams open now. */
int events_live(struct events *ev);

/* Ends every stream cleanly (clients reconnect to another replica) and stops the hub. */
void events_quiesce(struct events *ev);

/* Frees the hub (after events_quiesce). NULL is allowed. */
void events_free(struct events *ev);

#endif
