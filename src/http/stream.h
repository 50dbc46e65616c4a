/*
 * A response produced by another thread while its connection is suspended: the web proxy's
 * streamed bodies, and later the chat endpoint's and MCP's Server-Sent Events.
 *
 * A handler creates a stream, starts the work that will produce the answer (an httpc
 * transfer, a work-queue step) and defers: the connection is suspended and the HTTP worker
 * is free (stream_defer; the request gives back its database connection). When the
 * producer knows how to answer it wakes the request (stream_wake); the resume callback then
 * runs on the connection's worker and answers — with an error, or with the stream as the
 * body (resp_stream). The producer writes body bytes from any thread:
 *
 *   stream_write   raw bytes, all or nothing: STREAM_FULL when the bounded buffer has no
 *                  room (nothing written); the writable hook fires once the reader has
 *                  drained it to half, and the producer writes again (the proxy pauses its
 *                  upstream transfer meanwhile)
 *   stream_event   one Server-Sent Event (event name, multi-line data), always written whole;
 *                  STREAM_FULL means "written, now full: pause until writable"
 *   stream_comment a comment line; stream_heartbeat sends one when the stream is quiet
 *   stream_end     the end: the body ends cleanly, or the connection is cut (ok = false)
 *
 * An empty buffer suspends the connection from inside libmicrohttpd's reader; the next
 * write resumes it. When nobody will read any more — the client went away, the response
 * ended, or the request ended without using the stream — the closed hook tells the producer
 * to stop, and writes return ERR_CANCELED.
 *
 * A stream is reference counted (core/shared.h): stream_new returns the producer's
 * reference; the request holds one until it ends (its arena), the body reader one until
 * libmicrohttpd lets go of the response, a heartbeat one while armed. The data area
 * (stream_data) lives as long as the stream; the dispose hook releases what it holds.
 *
 * The daemon must be started with MHD_ALLOW_SUSPEND_RESUME.
 */
#ifndef TODO_STREAM_H
#define TODO_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"
#include "io/loop.h"

/* What stream_write and stream_event return when the buffer is full (see above). */
#define STREAM_FULL 1
/* Bytes libmicrohttpd takes from the reader per call at most. */
#define STREAM_READ_BLOCK (32 * 1024)
/* Largest single write or event (beyond the buffer's bound when the buffer is empty). */
#define STREAM_WRITE_MAX (1024 * 1024)
/* How long stream_shutdown waits for resumed connections to finish, in all. */
#define STREAM_SHUTDOWN_WAIT_MS 1000

struct stream;
struct MHD_Response;

/* The producer's hooks. They run on an HTTP worker thread (or on the thread that ends the
 * request) without any lock held and must not block. */
struct stream_hooks {
    /* The buffer was full and is now drained to half: write again. */
    void (*writable)(struct stream *s);
    /* Nobody will read any more; runs once. */
    void (*closed)(struct stream *s);
    /* The stream is being freed: release what the data area holds (any thread). */
    void (*dispose)(struct stream *s);
};

/* Creates a stream for req's connection whose buffer holds up to cap bytes, with a zeroed
 * data area of data_size bytes. hooks may be NULL and must outlive the stream (static).
 * ERR_OK or ERR_NOMEM; *out is the producer's reference (stream_release). Worker thread. */
int stream_new(struct request *req, size_t cap, const struct stream_hooks *hooks, size_t data_size,
               struct stream **out);

/* The data area. */
void *stream_data(struct stream *s);

/* Another reference / dropping one (the last frees the stream). NULL is allowed for
 * release. Any thread. */
struct stream *stream_ref(struct stream *s);
void stream_release(struct stream *s);

/* Suspends req's connection until stream_wake or stream_end (at once when one came
 * already); resume(req) then runs on the connection's worker and must answer or defer
 * again. Releases req's database connection (resp_defer). Worker thread, in a handler or a
 * resume callback. */
void stream_defer(struct request *req, struct stream *s, void (*resume)(struct request *req));

/* Wakes the deferred request: the answer is ready. Any thread; once per stream_defer. */
void stream_wake(struct stream *s);

/* The stream as libmicrohttpd's response body (status and headers are the caller's); the
 * response holds a reference. NULL when out of memory. Worker thread, once. */
struct MHD_Response *stream_response(struct stream *s);

/* Answers req with status, content_type and the stream as body. Worker thread, once. */
void resp_stream(struct request *req, int status, const char *content_type, struct stream *s);

/* Producer side, any thread; see above. ERR_OK, STREAM_FULL, ERR_CANCELED (nobody reads),
 * ERR_INVALID (after stream_end, or an event name that cannot be framed), ERR_TOOBIG (over
 * STREAM_WRITE_MAX), ERR_NOMEM. */
int stream_write(struct stream *s, const void *p, size_t n);
int stream_event(struct stream *s, const char *event, const char *data, size_t len);
int stream_comment(struct stream *s, const char *text);

/* Sends a comment (": keep-alive") whenever the stream has been quiet for interval_ms,
 * from the loop's thread, until the stream ends or closes. Also how a client that went
 * away is noticed on an idle stream. ERR_OK or ERR_UNAVAILABLE (the loop stopped). */
int stream_heartbeat(struct stream *s, struct loop *loop, int interval_ms);

/* No more bytes: the reader sends what is buffered, then ends the body — cleanly when ok,
 * else by cutting the connection (the client sees an incomplete response). Also wakes a
 * deferred request. Any thread; later calls do nothing. */
void stream_end(struct stream *s, bool ok);

/* Whether the web side let go (a racy snapshot, for decisions that a later write
 * corrects). */
bool stream_closed(struct stream *s);

/* Streams alive in the process. */
int stream_live(void);

/* Shutdown: ends every live stream with an error (waking deferred requests), then waits up
 * to STREAM_SHUTDOWN_WAIT_MS for their connections to finish. Call before the daemon stops:
 * libmicrohttpd cannot stop with suspended connections. */
void stream_shutdown(void);

#endif
