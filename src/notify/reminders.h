/*
 * The reminder scheduler: a thread in each api process that, every REMINDER_POLL_MS,
 * claims due reminders in the database (domain/notifications.h: exactly once across
 * replicas and restarts) in batches of NOTIFY_CLAIM_BATCH until none is left, then, for
 * each notification made, kicks the event hub (the user's streams get it) and queues an
 * email when the user opted in. The notification row is the delivery record; the email is
 * queued after the claim commits, so a process that dies in between loses that email (at
 * most once), never the notification.
 *
 * Threads: its own; the rest from the thread that owns the app.
 */
#ifndef TODO_REMINDERS_H
#define TODO_REMINDERS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"

struct scheduler;
struct mailer;
struct events;

/* Counters since start. */
struct scheduler_stats {
    int64_t claimed, emailed, rounds, errors;
};

/* Starts the scheduler's thread; it claims only once *ready (the schema is migrated).
 * mailer and events may be NULL. ERR_OK or ERR_NOMEM; the
 * caller owns *out: scheduler_stop, then scheduler_free. */
int scheduler_start(const struct config *cfg, struct store *store, const atomic_bool *ready,
                    struct mailer *mailer, struct events *events, struct scheduler **out);

struct scheduler_stats scheduler_stats(struct scheduler *s);

/* Finishes the batch under way and joins the thread. NULL is allowed. */
void scheduler_stop(struct scheduler *s);
void scheduler_free(struct scheduler *s);

#endif
