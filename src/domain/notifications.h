/*
 * In-app notifications and the claim that turns due reminders into them, exactly once.
 *
 * A task's reminder is due when remind_at has passed, the task is open and its
 * reminded_at is not that remind_at. notifications_claim marks a batch of due tasks
 * (tasks.reminded_at = remind_at) and writes their notifications in one transaction: on
 * PostgreSQL the due rows are taken with FOR UPDATE SKIP LOCKED, so replicas claiming at
 * once take disjoint batches and a replica that dies mid-batch leaves its rows to the next
 * claim (its transaction rolls back); on SQLite the transaction is the single writer
 * (BEGIN IMMEDIATE). The unique key (task_id, remind_at) of notifications makes a second
 * delivery impossible even by mistake. Changing remind_at arms the reminder again.
 *
 * Threads: no state; any thread. Memory: results in the caller's arena.
 */
#ifndef TODO_NOTIFICATIONS_H
#define TODO_NOTIFICATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "store/store.h"

#define NOTIFY_CLAIM_BATCH  200
#define NOTIFY_LIST_MAX     200
#define NOTIFY_LIST_DEFAULT 50

/* A notification (arena text; times RFC 3339, NULL when none). */
struct notification {
    int64_t id;
    const char *user_id;
    int64_t task_id;  /* 0 when the task is gone */
    const char *kind; /* "reminder" */
    const char *title;
    const char *remind_at;
    const char *created_at;
    const char *read_at;
};

/* A reminder just claimed: its notification and where to mail it (NULL: do not). */
struct claimed {
    struct notification n;
    const char *email;
};

/* Claims up to limit due reminders at time now (see above). *out, *n: the notifications
 * made (a claimed task whose notification existed already yields none). ERR_OK or a store
 * error (nothing claimed then). */
int notifications_claim(struct store_conn *c, struct arena *a, int64_t now, int limit,
                        struct claimed **out, size_t *n);

/* The user's notifications, newest first: at most limit, only those with id < before
 * when before > 0, only unread ones when unread_only. */
int notifications_list(struct store_conn *c, struct arena *a, const char *uid, bool unread_only,
                       int64_t before, int limit, struct notification **out, size_t *n);

/* Marks one of the user's notifications read (or unread) at time now; *out is the row.
 * ERR_NOTFOUND when the user has no such notification. */
int notifications_mark(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                       bool read, int64_t now, struct notification *out);

/* Marks all the user's unread notifications read; *count is how many. */
int notifications_mark_all(struct store_conn *c, struct arena *a, const char *uid, int64_t now,
                           int64_t *count);

/* The notifications made at or after since (RFC 3339) for the users of uids_json (a JSON
 * array of ids), oldest first, at most NOTIFY_LIST_MAX * 10: the event hub's scan. */
int notifications_recent(struct store_conn *c, struct arena *a, const char *uids_json,
                         const char *since, struct notification **out, size_t *n);

/* The tasks_version of each user of uids_json: parallel arrays in the arena. */
int notifications_versions(struct store_conn *c, struct arena *a, const char *uids_json,
                           const char ***uids, int64_t **versions, size_t *n);

/* {id, kind, task_id, title, remind_at, created_at, read_at, read}. */
yyjson_mut_val *notification_to_json(yyjson_mut_doc *doc, const struct notification *n);

#endif
