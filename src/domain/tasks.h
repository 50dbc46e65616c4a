/*
 * Tasks: the model, its rules and its storage. Every operation takes the authenticated
 * user's id and touches only that user's rows; nothing here trusts a user id from input.
 * To add a task field: a column (new migration), TASK_COLS and struct task, the
 * task_input parser and task_to_json (task_json.c), and the OpenAPI document.
 */
#ifndef TODO_TASKS_H
#define TODO_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/verror.h"
#include "store/store.h"

#define TASK_TITLE_MAX       200
#define TASK_DESCRIPTION_MAX 1000 /* the hackathon contract's limit */
#define TASK_MAX_TAGS        20
#define TASK_TAG_MAX         50
#define TASK_INTERVAL_MAX    1000
#define TASK_LIST_DEFAULT    50
#define TASK_LIST_MAX        200
#define TASK_SEARCH_MAX      200
#define TASK_OFFSET_MAX      1000000000
/* How long a deleted task can be restored (tasks_restore). */
#define TASK_RESTORE_SECONDS 30

enum task_priority { PRIO_HIGH = 0, PRIO_MEDIUM, PRIO_LOW };
enum task_recurrence { REC_NONE = 0, REC_DAILY, REC_WEEKLY, REC_MONTHLY, REC_YEARLY };

/* A stored task as text straight from the database (arena-owned). */
struct task {
    const char *id;
    const char *user_id;
    const char *title;
    const char *description; /* NULL when empty */
    bool completed;
    const char *completed_at;
    const char *priority;
    const char *tags_json; /* a JSON array of strings */
    const char *due_at;
    const char *remind_at;
    const char *recurrence;
    const char *recurrence_interval;
    const char *created_at;
    const char *updated_at;
};

/* Which fields an input carries. */
enum task_field {
    TF_TITLE = 1 << 0,
    TF_DESCRIPTION = 1 << 1,
    TF_COMPLETED = 1 << 2,
    TF_PRIORITY = 1 << 3,
    TF_TAGS = 1 << 4,
    TF_DUE = 1 << 5,
    TF_REMIND = 1 << 6,
    TF_RECURRENCE = 1 << 7,
    TF_INTERVAL = 1 << 8,
};

/* A validated create or update input. Times are Unix seconds; 0 with the field
 * present means "clear". Strings are arena-owned. */
struct task_input {
    unsigned present;
    const char *title;
    const char *description;
    bool completed;
    enum task_priority priority;
    const char *tags[TASK_MAX_TAGS];
    size_t ntags;
    int64_t due_at;
    int64_t remind_at;
    enum task_recurrence recurrence;
    int interval;
};

/* TASK_CREATE needs a title; TASK_PATCH is a partial update (PUT and PATCH alike, as the
 * hackathon's TaskUpdate): only the fields present change, and it needs at least one. */
enum task_input_mode { TASK_CREATE, TASK_PATCH };

enum task_status { STATUS_ALL = 0, STATUS_PENDING, STATUS_COMPLETED };
enum task_sort { SORT_CREATED = 0, SORT_UPDATED, SORT_TITLE, SORT_DUE, SORT_PRIORITY };

/* Listing filters; task_filter_defaults gives "all tasks, newest first, 50". */
struct task_filter {
    enum task_status status;
    int priority; /* -1 for any, else enum task_priority */
    const char *tags[TASK_MAX_TAGS];
    size_t ntags;
    const char *search;
    int64_t due_before; /* 0 for none */
    int64_t due_after;
    int overdue; /* -1 any, 0 not overdue, 1 overdue */
    enum task_sort sort;
    int order; /* -1 default for the sort, 0 asc, 1 desc */
    int limit;
    int offset;
};

struct task_stats {
    int64_t total, completed, pending, overdue, due_today;
};

/* --- rules and JSON (task_json.c) --- */

/* A filter that matches every task of the user, first page, default order. */
void task_filter_defaults(struct task_filter *f);

/* Reads a JSON object into in, checking every rule; problems go to errs (loc "body").
 * Returns ERR_OK or ERR_INVALID. */
int task_input_parse(yyjson_val *obj, enum task_input_mode mode, struct arena *a,
                     struct task_input *in, struct verrors *errs);

/* Appends t as a JSON object to doc and returns it. */
yyjson_mut_val *task_to_json(yyjson_mut_doc *doc, const struct task *t);

const char *task_priority_name(enum task_priority p);
const char *task_recurrence_name(enum task_recurrence r);
int task_priority_parse(const char *s, enum task_priority *out);
int task_recurrence_parse(const char *s, enum task_recurrence *out);

/* --- storage (tasks.c) --- */

/* Each returns ERR_OK, ERR_NOTFOUND (missing or another user's), or a store error.
 * Results are arena-owned. */
int tasks_create(struct store_conn *c, struct arena *a, const char *uid,
                 const struct task_input *in, struct task *out);
int tasks_get(struct store_conn *c, struct arena *a, const char *uid, int64_t id, struct task *out);
/* Applies the fields present in in (a TASK_PATCH input) to the task. Completing a recurring
 * task this way creates its next occurrence, as tasks_complete does. */
int tasks_update(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                 const struct task_input *in, struct task *out);
/* Deletes the task, keeping a snapshot that tasks_restore can bring back for
 * TASK_RESTORE_SECONDS; older snapshots (anyone's) are purged by each delete and restore. */
int tasks_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t id);

/* Brings back a task the user deleted less than TASK_RESTORE_SECONDS ago, with its id, fields,
 * tags, completion and creation time; ERR_NOTFOUND when there is none (never deleted, another
 * user's, already restored, or too old). */
int tasks_restore(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                  struct task *out);

/* Sets completion (set = 0/1) or toggles it (set = -1). Completing a recurring task
 * creates its next occurrence in the same transaction (*has_next then true); past year 9999
 * the series ends, and ERR_RANGE (nothing changed) when only the next reminder would pass
 * it. tasks_update's completions follow the same rules. */
int tasks_complete(struct store_conn *c, struct arena *a, const char *uid, int64_t id, int set,
                   struct task *out, struct task *next, bool *has_next);

/* Lists one page and the total count for the filter. */
int tasks_list(struct store_conn *c, struct arena *a, const char *uid, const struct task_filter *f,
               struct task **out, size_t *n, int64_t *total);

/* Tags with their task counts, most used first: rows of (name, count). */
int tasks_tags(struct store_conn *c, struct arena *a, const char *uid, struct db_rows *out);

int tasks_stats(struct store_conn *c, struct arena *a, const char *uid, struct task_stats *out);

/* The user's task version: it grows with every committed change to the user's tasks (in
 * the same transaction), so equal versions mean equal task data. */
int tasks_version(struct store_conn *c, struct arena *a, const char *uid, int64_t *out);

#endif
