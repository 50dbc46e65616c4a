/*
 * Unicode-aware text helpers: the one rule for text that users name things with, and case
 * folding for case-insensitive comparisons (tags, search), using the C library's
 * wide-character tables in the C.UTF-8 locale.
 */
#ifndef TODO_TEXT_H
#define TODO_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

/* What a text rule allows: a length in characters (code points, after trimming) and
 * whether line breaks are allowed (descriptions) or not (titles, tags, names). */
struct text_rule {
    size_t min;
    size_t max;
    bool multiline;
};

/* Why a text breaks its rule. */
enum text_problem { TEXT_OK = 0, TEXT_CONTROL, TEXT_TOO_SHORT, TEXT_TOO_LONG };

/* The one rule for user-supplied names and texts (task titles, descriptions and tags, user
 * names): s holds len bytes of valid UTF-8 (as a JSON parser delivers it, NULs included);
 * control characters (C0, DEL, C1; NUL always) are refused except tab, and line breaks
 * where the rule allows them; ASCII white space is trimmed from both ends; the trimmed text
 * must have rule->min..rule->max characters. Returns ERR_OK with the trimmed copy in *out
 * (arena-owned), ERR_INVALID with *why set, or ERR_NOMEM. */
int text_clean(struct arena *a, const char *s, size_t len, const struct text_rule *rule,
               const char **out, enum text_problem *why);

/* The 422 message (static or in the arena) and error type of a problem, for
 * {loc, msg, type}. */
const char *text_problem_msg(struct arena *a, enum text_problem p, const struct text_rule *rule);
const char *text_problem_type(enum text_problem p);

/* True when the len bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). For text that did not come through a JSON parser
 * (a multipart part's file name). */
bool text_utf8_valid(const char *s, size_t len);

/* The length of s cut to at most max bytes (or its NUL) without splitting a UTF-8 sequence:
 * a cut that would land inside one moves back to its lead byte, so valid UTF-8 stays
 * valid (a JSON writer refuses a split sequence). */
size_t text_utf8_prefix(const char *s, size_t max);

/* Loads the C.UTF-8 character tables; false (with ASCII-only folding from then on) when
 * the locale is not installed. Called once at start-up; safe to call again. */
bool text_init(void);

/* Returns a lower-cased copy of the UTF-8 string s in the arena ("Ärger" → "ärger"), or
 * NULL when out of memory. Invalid UTF-8 bytes are copied unchanged. */
char *text_fold(struct arena *a, const char *s);

/* True when a and b are equal ignoring case (both UTF-8). */
bool text_equal_fold(struct arena *a, const char *x, const char *y);

#endif
