/*
 * Versioned schema migrations, embedded in the binary, one entry per version with the
 * SQL for each dialect. Append only: never edit a released migration.
 */
#ifndef TODO_MIGRATIONS_H
#define TODO_MIGRATIONS_H

#include <stddef.h>

struct migration {
    int version;
    const char *name;
    const char *sqlite;
    const char *pg;
};

extern const struct migration migrations[];
extern const size_t migrations_count;

#endif
