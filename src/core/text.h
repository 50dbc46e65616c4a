/*
 * Unicode-aware text helpers: case folding for case-insensitive comparisons (tags, search),
 * using the C library's wide-character tables in the C.UTF-8 locale.
 */
#ifndef TODO_TEXT_H
#define TODO_TEXT_H

#include <stdbool.h>

#include "core/arena.h"

/* Loads the C.UTF-8 character tables; false (with ASCII-only folding from then on) when
 * the locale is not installed. Called once at start-up; safe to call again. */
bool text_init(void);

/* Returns a lower-cased copy of the UTF-8 string s in the arena ("Ärger" → "ärger"), or
 * NULL when out of memory. Invalid UTF-8 bytes are copied unchanged. */
char *text_fold(struct arena *a, const char *s);

/* True when a and b are equal ignoring case (both UTF-8). */
bool text_equal_fold(struct arena *a, const char *x, const char *y);

#endif
