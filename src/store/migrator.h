/*
 * Migrations in the background: when the database cannot be reached at start-up, the
 * server still comes up (liveness 200, readiness 503) and this thread keeps trying, with
 * backoff, until the schema is current, then flips the ready flag.
 */
#ifndef TODO_MIGRATOR_H
#define TODO_MIGRATOR_H

#include <stdatomic.h>

#include "store/store.h"

#define MIGRATOR_FIRST_DELAY_MS 500
#define MIGRATOR_MAX_DELAY_MS   15000

struct migrator;

/* Starts retrying store_migrate(s); sets *ready once it succeeds. The caller owns *out and
 * must call migrator_stop before closing s. */
int migrator_start(struct store *s, atomic_bool *ready, struct migrator **out);

/* Wakes the thread, waits for it to finish its current attempt, and frees m. NULL is
 * allowed. */
void migrator_stop(struct migrator *m);

#endif
