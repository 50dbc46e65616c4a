/*
 * The memory budget the list caches share (LIST_CACHE_MIB): the rendered lists of
 * http/respcache.c and the task rows of domain/task_rows.c charge what they hold to one
 * counter, so together they stay under the one setting. Lock-free; any thread.
 */
#ifndef TODO_CACHEMEM_H
#define TODO_CACHEMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Sets the budget in bytes (0: nothing is cached). Call at start; until then 8 MiB. */
void cachemem_set_limit(size_t bytes);

/* Charges n bytes: true when they fit the budget (and are now counted), false otherwise
 * (nothing counted). */
bool cachemem_take(size_t n);

/* Gives back n bytes an earlier cachemem_take counted. */
void cachemem_give(size_t n);

/* The budget in bytes. */
size_t cachemem_limit(void);

/* Bytes counted now (tests, metrics). */
size_t cachemem_used(void);

#endif
