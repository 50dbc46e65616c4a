/*
 * JSON string access for code that compares or parses with C string functions. A JSON
 * string may hold "\u0000": yyjson keeps it (with the true length), but strcmp, strtol and
 * friends stop at the first NUL, so "HS256\u0000x" would compare equal to "HS256". Every
 * string that reaches a C string function comes through json_cstr.
 */
#ifndef TODO_JSON_H
#define TODO_JSON_H

#include <string.h>

#include "yyjson.h"

/* The value of v as a C string, or NULL when v is not a string or holds a NUL byte. */
static inline const char *json_cstr(yyjson_val *v)
{
    const char *s = yyjson_get_str(v);
    return s && !memchr(s, '\0', yyjson_get_len(v)) ? s : NULL;
}

#endif
