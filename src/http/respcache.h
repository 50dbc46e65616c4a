/*
 * A validated response cache: response bodies stored under a key together with the
 * version of the data they were built from. A lookup names the version the caller just
 * read from the database and hits only when it is equal, so a cached body is never staler
 * than the database, on any replica. Fixed size: a new entry replaces the one in its slot.
 */
#ifndef TODO_RESPCACHE_H
#define TODO_RESPCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define RESPCACHE_SLOTS    1024
#define RESPCACHE_KEY_MAX  1024
#define RESPCACHE_BODY_MAX (256 * 1024)

/* Copies the body cached for (key, version) into the arena. Returns true on a hit, with
 * *total the number stored alongside it. */
bool respcache_get(const char *key, int64_t version, struct arena *a, const char **body,
                   size_t *len, int64_t *total);

/* Stores a copy of body for (key, version). Bodies over RESPCACHE_BODY_MAX, and any that
 * would take the list caches past their shared budget (core/cachemem.h, LIST_CACHE_MIB), are
 * not stored. */
void respcache_put(const char *key, int64_t version, const char *body, size_t len, int64_t total);

/* Drops every entry (tests, shutdown). */
void respcache_clear(void);

#endif
