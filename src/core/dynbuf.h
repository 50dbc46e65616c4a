/*
 * A bounded string builder, after curl's dynbuf: text is appended piece by piece into one
 * buffer that grows up to a hard cap and fails cleanly. A piece that does not fit is not
 * added at all, and from then on the builder refuses everything (the error is sticky), so a
 * caller appends freely and checks once, at the end: the text is always the pieces added
 * before the first failure, NUL-terminated.
 *
 * The buffer lives in one of three places, chosen at init:
 *   dyn_init_arena  the request's arena (per-request text: SQL, headers); nothing to free
 *   dyn_init_heap   malloc (text that outlives a request); dyn_take hands it over, or dyn_free
 *   dyn_init_fixed  the caller's array (no allocation at all); the array's size is the cap
 * The cap counts the terminating NUL: a builder with max 8 holds at most 7 characters.
 * Use this, never `used += snprintf` into an array.
 */
#ifndef TODO_DYNBUF_H
#define TODO_DYNBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

enum dyn_kind { DYN_ARENA = 0, DYN_HEAP, DYN_FIXED };

/* Treat as opaque; the fields are public only so builders can live on the stack. */
struct dynbuf {
    char *s;         /* the buffer (NULL until the first allocation) */
    size_t len;      /* bytes of text, without the NUL */
    size_t cap;      /* bytes the buffer holds, NUL included */
    size_t max;      /* hard cap on cap */
    struct arena *a; /* DYN_ARENA's arena */
    enum dyn_kind kind;
    int err; /* ERR_OK, or the first failure: ERR_TOOBIG (over the cap) or ERR_NOMEM */
};

/* A builder whose buffer comes from a, up to max bytes (NUL included, max ≥ 1). */
void dyn_init_arena(struct dynbuf *d, struct arena *a, size_t max);

/* A builder on the heap, up to max bytes; the caller ends it with dyn_take or dyn_free. */
void dyn_init_heap(struct dynbuf *d, size_t max);

/* A builder over the caller's array buf of size bytes (size ≥ 1); buf holds "" at once. */
void dyn_init_fixed(struct dynbuf *d, char *buf, size_t size);

/* Appends n bytes of p (NULs included, though the text is then no C string). Returns ERR_OK,
 * or the builder's error, the piece then left out. */
int dyn_addn(struct dynbuf *d, const void *p, size_t n);

/* Appends a C string; NULL appends nothing. */
int dyn_add(struct dynbuf *d, const char *s);

/* Appends one character. */
int dyn_addc(struct dynbuf *d, char c);

/* Appends an integer in decimal (no printf: for hot paths). */
int dyn_add_int(struct dynbuf *d, int64_t v);

/* Appends printf-formatted text. */
int dyn_addf(struct dynbuf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dyn_vaddf(struct dynbuf *d, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* The text so far (never NULL: "" when empty), valid until the next append, reset or free.
 * After a failure it holds the pieces added before it. */
const char *dyn_str(const struct dynbuf *d);

/* Bytes of text, without the NUL. */
size_t dyn_len(const struct dynbuf *d);

/* ERR_OK, or the first failure. */
int dyn_err(const struct dynbuf *d);

/* Fails the builder with err (ERR_NOMEM, ERR_TOOBIG …) unless it failed already: for a caller
 * that could not make a piece (an escape that ran out of memory). */
void dyn_fail(struct dynbuf *d, int err);

/* Room for n more bytes of text written in place: a pointer to the end of the text with at
 * least n bytes (and the NUL) free behind it, or NULL when the builder failed or cannot grow
 * that far (the failure sticks). For writers that bound a piece first and then write it without
 * a check per byte (core/json.h); dyn_used then adds what they wrote. */
char *dyn_room(struct dynbuf *d, size_t n);

/* Adds the n bytes written at dyn_room's pointer to the text (n ≤ the room asked for). */
void dyn_used(struct dynbuf *d, size_t n);

/* Cuts the text to its first len bytes (no-op when it is shorter); the error stays. */
void dyn_truncate(struct dynbuf *d, size_t len);

/* Empties the text and clears the error, keeping the buffer for reuse. */
void dyn_reset(struct dynbuf *d);

/* Heap builders: returns the text, which the caller frees with free(), and empties the
 * builder; NULL when the builder failed (its buffer is then freed). Arena builders: the
 * arena-owned text, or NULL on failure. Fixed builders: buf, or NULL on failure. */
char *dyn_take(struct dynbuf *d);

/* Heap builders: frees the buffer. Others: empties the builder. */
void dyn_free(struct dynbuf *d);

#endif
