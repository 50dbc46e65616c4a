/*
 * A user's data as one document, and back: the export (GET /api/{user_id}/export) and the
 * import (POST /api/{user_id}/import) of the same versioned JSON format, or of a Todoist CSV
 * export. The format:
 *
 *   {"format": "todo-export", "version": 1, "exported_at": "…Z",
 *    "user": {id, email, name, created_at, timezone},
 *    "tasks": [task as the API returns it, …],
 *    "tags": [{"name", "count"}, …],
 *    "conversations": [{title, created_at, updated_at, messages: [{role, content,
 *                       tool_calls, created_at}, …]}, …]}
 *
 * An import adds the tasks (new ids, as if created now, keeping completion, due dates,
 * reminders, recurrence and tags) and the conversations (with their times) to the account in
 * one transaction: every item is checked first, and one bad item stores nothing. "user" and
 * "tags" are informational on import (tags come from the tasks).
 *
 * Threads: no state. Memory: everything in the caller's arena / document.
 */
#ifndef TODO_PORTABLE_H
#define TODO_PORTABLE_H

#include <stddef.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/verror.h"
#include "store/store.h"

#define PORTABLE_FORMAT        "todo-export"
#define PORTABLE_VERSION       1
#define PORTABLE_TASKS_MAX     10000 /* tasks one import takes */
#define PORTABLE_CONVS_MAX     1000  /* conversations one import takes */
#define PORTABLE_MESSAGES_MAX  10000 /* messages of all conversations of one import */
#define PORTABLE_CSV_FIELD_MAX 8192  /* bytes of one CSV field */

/* What an import added. */
struct import_counts {
    size_t tasks;
    size_t conversations;
    size_t messages;
};

/* Builds the user's export in doc (*out is its root object). */
int portable_export(struct store_conn *c, struct arena *a, const char *uid, yyjson_mut_doc *doc,
                    yyjson_mut_val **out);

/* Imports a document of the format above. ERR_INVALID with the problems in errs (nothing
 * stored); a store error (nothing stored). */
int portable_import_json(struct store_conn *c, struct arena *a, const char *uid, yyjson_val *root,
                         struct import_counts *n, struct verrors *errs);

/* Imports a Todoist CSV export (TYPE, CONTENT, DESCRIPTION, PRIORITY, …, DATE, …): its "task"
 * rows become tasks (Todoist's p1/p2 → high, p3 → medium, p4 → low; "@label" words → tags;
 * a DATE that is an ISO date or date-time → due_at, "every day/week/month/year" → a
 * recurrence; other dates are kept in the description). Sections and notes are skipped. */
int portable_import_todoist(struct store_conn *c, struct arena *a, const char *uid, const char *csv,
                            size_t len, struct import_counts *n, struct verrors *errs);

#endif
