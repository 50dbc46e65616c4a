/*
 * Objects that outlive a request or are used by several threads at once: reference counted,
 * as h2o's shared memory is. shared_new returns an object with one reference; each holder
 * takes its own (shared_ref) and drops it when done (shared_unref); the last drop runs the
 * object's dispose function and frees it. A request ties an object to itself with
 * shared_link: the request's arena then holds a reference and drops it when the request
 * ends, so a handler never has to remember to.
 *
 * Every type built on this says, next to its declaration, who holds its references.
 * Counting is atomic; what the object holds is guarded by the object's own locks.
 */
#ifndef TODO_SHARED_H
#define TODO_SHARED_H

#include <stddef.h>

#include "core/arena.h"

/* Called with the object once its last reference is dropped, just before it is freed: it
 * releases what the object owns. Runs on whichever thread dropped that reference. */
typedef void (*shared_dispose_fn)(void *obj);

/* A zeroed object of size bytes (aligned for any type) with one reference, owned by the
 * caller; dispose may be NULL. NULL when out of memory. */
void *shared_new(size_t size, shared_dispose_fn dispose);

/* Takes one more reference to obj; returns obj. */
void *shared_ref(void *obj);

/* Takes a reference unless the last one is already gone (the object is being disposed of);
 * returns obj or NULL. For registries whose entries unlink themselves on dispose: call it
 * under the registry's lock, which dispose also takes. */
void *shared_tryref(void *obj);

/* Drops one reference; the last one disposes of obj and frees it. NULL is allowed. */
void shared_unref(void *obj);

/* Gives the arena a: a reference to obj, dropped when a is freed. ERR_OK or ERR_NOMEM (no
 * reference is then taken). */
int shared_link(struct arena *a, void *obj);

/* The number of references held (for tests and assertions; racy by nature). */
size_t shared_refs(const void *obj);

#endif
