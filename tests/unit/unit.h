/*
 * Small helpers shared by the unit tests: the cmocka include order, a name→value table
 * standing in for the environment, and JSON parsing into an arena.
 */
#ifndef TODO_TESTS_UNIT_H
#define TODO_TESTS_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include "yyjson.h"

#include "core/arena.h"

/* One variable of a fake environment; a table ends with {NULL, NULL}. */
struct unit_env {
    const char *name;
    const char *value;
};

/* A config_get_fn over a struct unit_env table passed as ctx. */
static inline const char *unit_env_get(void *ctx, const char *name)
{
    for (const struct unit_env *e = ctx; e && e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->value;
    return NULL;
}

/* Parses json into a document allocated from the arena; fails the test when invalid. */
static inline yyjson_doc *unit_json(struct arena *a, const char *json)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_read_err err;
    yyjson_doc *doc = yyjson_read_opts((char *)json, strlen(json), 0, &alc, &err);
    if (!doc)
        fail_msg("bad test JSON at %zu: %s: %s", err.pos, err.msg, json);
    return doc;
}

/* True when the NUL-terminated haystack contains needle. */
static inline int unit_contains(const char *haystack, const char *needle)
{
    return haystack && needle && strstr(haystack, needle) != NULL;
}

#endif
