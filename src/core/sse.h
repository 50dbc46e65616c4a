/*
 * Server-Sent Events (the WHATWG HTML "text/event-stream" format), both ways, with no I/O:
 *
 * Writing: sse_encode frames one event — an optional "event:" and "id:" line, the data as
 * one "data:" line per line of text (so multi-line data survives), and the blank line that
 * ends the event. A reader joins the data lines with "\n": text with CR LF or CR line breaks
 * arrives with LF ones. sse_comment frames a comment line (heartbeats).
 *
 * Reading: an sse_reader takes a stream's bytes in chunks of any size (sse_reader_feed) and
 * hands out complete events one at a time (sse_reader_next), so a consumer can stop between
 * two events and continue later. Line ends may be LF, CR LF or CR, also when a chunk ends
 * between CR and LF; a leading byte order mark is skipped; comments and unknown fields are
 * ignored; an "id" holding NUL is ignored, as the standard says. Bounded: a line or an event's
 * data over the reader's limit is an error.
 */
#ifndef TODO_SSE_H
#define TODO_SSE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest event name and id written or read. */
#define SSE_NAME_MAX 128
/* Input a reader holds beyond its limit: the rest of one chunk fed after a partial line. */
#define SSE_FEED_SLACK (64 * 1024)

/* Bytes sse_encode writes for this event, or 0 when event or id hold CR, LF or NUL or are
 * longer than SSE_NAME_MAX. event and id may be NULL (no such line); data may hold any
 * bytes but NUL, and len may be 0 (an event with empty data). */
size_t sse_encoded_len(const char *event, const char *id, const char *data, size_t len);

/* Writes the event into out, which has room for sse_encoded_len(...) bytes (checked by the
 * caller, who must not call this when it is 0). Returns the bytes written. */
size_t sse_encode(char *out, const char *event, const char *id, const char *data, size_t len);

/* Bytes sse_comment writes for text (no CR or LF allowed: 0 then). */
size_t sse_comment_len(const char *text);

/* Writes ": text\n\n" (":\n\n" for an empty text) into out; returns the bytes written. */
size_t sse_comment(char *out, const char *text);

/* One event as read. The pointers stay valid until the next sse_reader call. */
struct sse_event {
    const char *event; /* the "event" field, or "message" when none was given */
    const char *data;  /* NUL-terminated; data_len excludes the NUL */
    size_t data_len;
    const char *id; /* the last "id" field seen on the stream so far, "" when none */
    long retry_ms;  /* a "retry" field of this event, or -1 */
};

struct sse_reader;

/* A reader whose lines and event data are each at most max bytes. ERR_OK or ERR_NOMEM; the
 * caller frees *out with sse_reader_free. */
int sse_reader_new(size_t max, struct sse_reader **out);

void sse_reader_free(struct sse_reader *r);

/* Appends n bytes of the stream. Feed only after sse_reader_next returned 0 (everything
 * complete taken), so the reader holds at most one partial line. ERR_OK, or ERR_TOOBIG when
 * the unread input would pass max + SSE_FEED_SLACK (the reader is then unusable). */
int sse_reader_feed(struct sse_reader *r, const char *p, size_t n);

/* The next complete event: 1 and *ev filled, 0 when more input is needed, or ERR_TOOBIG
 * when a line or the event's data passes the limit (the reader is then unusable). */
int sse_reader_next(struct sse_reader *r, struct sse_event *ev);

#endif
