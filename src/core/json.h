/*
 * JSON output written straight into a bounded builder (json_put_str), for the hot paths that
 * would otherwise build a yyjson document only to serialise it (the task list). Its escapes
 * are yyjson's writer's with no flags, so both give the same bytes.
 *
 * JSON input, bounded: parsing untrusted text (a request body, an MCP message) into the
 * caller's arena with a nesting and a per-object key limit and no duplicate keys, and
 * string access for code that compares or parses with C string functions. A JSON string
 * may hold "\u0000": yyjson keeps it (with the true length), but strcmp, strtol and friends
 * stop at the first NUL, so "HS256\u0000x" would compare equal to "HS256". Every string that
 * reaches a C string function comes through json_cstr.
 */
#ifndef TODO_JSON_H
#define TODO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/dynbuf.h"

/* Nesting and per-object key limits of every JSON input. */
#define JSON_MAX_DEPTH 32
#define JSON_MAX_KEYS  256

/* Parses len bytes of text into a document in a. Returns ERR_OK; ERR_INVALID with *why
 * (static, client-safe, said of a request body) for malformed JSON, nesting past JSON_MAX_DEPTH, an
 * object of more than JSON_MAX_KEYS keys or a repeated key (which one would win?); ERR_NOMEM when
 * the arena is full. */
int json_parse(struct arena *a, const char *text, size_t len, yyjson_doc **out, const char **why);

/* True when v keeps the limits json_parse checks (for documents made otherwise). */
bool json_within_limits(yyjson_val *v);

/* The value of v as a C string, or NULL when v is not a string or holds a NUL byte. */
static inline const char *json_cstr(yyjson_val *v)
{
    const char *s = yyjson_get_str(v);
    return s && !memchr(s, '\0', yyjson_get_len(v)) ? s : NULL;
}

/* The most bytes json_write_str writes for len bytes of text (every byte a \u00XX escape). */
#define JSON_STR_BOUND(len) (6 * (size_t)(len) + 2)

/* Writes s (len bytes) at p as a JSON string, quoted and escaped as yyjson writes it with no
 * flags: '"' and '\\' by a backslash, \b \t \n \f \r short, other control characters as
 * \u00XX, everything else (UTF-8 included, '/' too) as is. p has room for
 * JSON_STR_BOUND(len) bytes. Returns the end of what it wrote, or NULL when s is not valid
 * UTF-8 (yyjson's writer refuses it too). */
char *json_write_str(char *p, const char *s, size_t len);

/* json_write_str appended to d; text that is not UTF-8 fails the builder (ERR_INVALID). */
void json_put_str(struct dynbuf *d, const char *s, size_t len);

#endif
