/*
 * Per-request memory: a bump allocator that is freed once, as a whole, when the request
 * ends. Every allocation made while serving a request comes from its arena, so handlers
 * never free anything. An arena refuses to grow past ARENA_MAX_BYTES.
 */
#ifndef TODO_ARENA_H
#define TODO_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "yyjson.h"

/* The first block of an arena; most requests never need a second one. */
#define ARENA_FIRST_BLOCK (16 * 1024)
/* Hard cap on what one arena may hold (the body limit plus room to work on it). */
#define ARENA_MAX_BYTES (96u * 1024 * 1024)

struct arena;

/* Returns a new, empty arena (recycled from this thread's cache when possible), or NULL.
 * The caller owns it and releases it with arena_free. */
struct arena *arena_new(void);

/* Releases the arena and everything allocated from it. NULL is allowed. */
void arena_free(struct arena *a);

/* Returns size bytes aligned to 16, owned by the arena, or NULL when the cap is reached. */
void *arena_alloc(struct arena *a, size_t size);

/* Like arena_alloc, but zeroed. */
void *arena_calloc(struct arena *a, size_t n, size_t size);

/* Copies len bytes of s and a terminating NUL into the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t len);

/* strdup into the arena; NULL in gives NULL out. */
char *arena_strdup(struct arena *a, const char *s);

/* Resizes p (old_size bytes, allocated from a; NULL for a new allocation) to size bytes,
 * in place when p is the arena's newest allocation and its block has room, else by a copy
 * (the old bytes then stay unused until the arena is freed). NULL when the cap is reached. */
void *arena_realloc(struct arena *a, void *p, size_t old_size, size_t size);

/* printf into the arena; returns NULL on overflow of the cap. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Registers fn(arg) to run when a is freed (before its memory goes), last registered first:
 * how objects that outlive a request are tied to it (see core/shared.h). Returns ERR_OK or
 * ERR_NOMEM (fn is then not registered). */
int arena_on_free(struct arena *a, void (*fn)(void *arg), void *arg);

/* Total bytes handed out so far (for tests and limits). */
size_t arena_used(const struct arena *a);

/* A yyjson allocator backed by the arena, so parsed and built JSON needs no free. */
void arena_yyjson_alc(struct arena *a, yyjson_alc *out);

#endif
