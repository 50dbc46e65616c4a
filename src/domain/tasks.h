/*
 * Tasks: the model, its rules and its storage. Every operation takes the authenticated
 * user's id and touches only that user's rows; nothing here trusts a user id from input.
 *
 * The model is two tables, TASK_FIELDS and TASK_FILTER_FIELDS below. Each row declares a
 * field once — its member, kind, rules, default and description — and struct task, struct
 * task_filter, the row mapping, input parsing (create, partial update, filters from a query
 * string or a tool's arguments), the JSON output, the insert and update statements, the list
 * cache key and the JSON Schemas all come from the rows (domain/fields.h does the work).
 *
 * A new task field: a migration adding its column (store/migrations.c), one row in
 * TASK_FIELDS, and the property in docs/openapi.json (tests/unit/test_task_schema.c compares
 * the document with the JSON Schema the table gives). A new filter: one row in
 * TASK_FILTER_FIELDS, its clause in build_where (tasks.c), and the query parameter in
 * docs/openapi.json (compared likewise).
 */
#ifndef TODO_TASKS_H
#define TODO_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/dynbuf.h"
#include "core/verror.h"
#include "domain/fields.h"
#include "store/store.h"

#define TASK_TITLE_MAX       200
#define TASK_DESCRIPTION_MAX 1000 /* the hackathon contract's limit */
#define TASK_MAX_TAGS        FIELD_LIST_MAX
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
enum task_status { STATUS_ALL = 0, STATUS_PENDING, STATUS_COMPLETED };
enum task_sort { SORT_CREATED = 0, SORT_UPDATED, SORT_TITLE, SORT_DUE, SORT_PRIORITY };
enum task_order { ORDER_ASC = 0, ORDER_DESC };

/* The names of each enum's values, in enum order, NULL-terminated. */
extern const char *const task_priority_names[];
extern const char *const task_recurrence_names[];
extern const char *const task_status_names[];
extern const char *const task_sort_names[];
extern const char *const task_order_names[];

/*
 * The fields of a task, in the API's order: X(ID, member, C type, row), the row built with
 * domain/fields.h's FIELD_* (flags, bounds, default, description).
 */
#define TASK_FIELDS(X)                                                                             \
    X(ID, id, int64_t, FIELD_ID("The task's id."))                                                 \
    X(USER_ID, user_id, const char *, FIELD_UUID("The owner's id."))                               \
    X(TITLE, title, const char *,                                                                  \
      FIELD_TEXT(FF_REQUIRED, 1, TASK_TITLE_MAX,                                                   \
                 "What to do: 1-200 characters after trimming surrounding white space."))          \
    X(DESCRIPTION, description, const char *,                                                      \
      FIELD_TEXT(FF_NULLABLE | FF_MULTILINE, 0, TASK_DESCRIPTION_MAX,                              \
                 "Details, up to 1000 characters; null or empty for none."))                       \
    X(COMPLETED, completed, bool, FIELD_BOOL(0, false, "Whether the task is done."))               \
    X(COMPLETED_AT, completed_at, int64_t,                                                         \
      FIELD_TIME(FF_READONLY | FF_NULLABLE, DATE_ONLY_REJECT, "When it was first completed."))     \
    X(PRIORITY, priority, enum task_priority,                                                      \
      FIELD_ENUM(FF_ICASE, task_priority_names, PRIO_MEDIUM, "How urgent the task is."))           \
    X(TAGS, tags, struct field_tags,                                                               \
      FIELD_TAGS(FF_NULL_DEFAULT | FF_UNIQUE, "tags_json", TASK_MAX_TAGS, 1, TASK_TAG_MAX,         \
                 "Up to 20 labels of 1-50 characters, unique ignoring case; null for none."))      \
    X(DUE_AT, due_at, int64_t,                                                                     \
      FIELD_TIME(FF_NULLABLE, DATE_END_OF_DAY,                                                     \
                 "When it is due (RFC 3339; a date alone is the end of that day, UTC); null "      \
                 "for none."))                                                                     \
    X(REMIND_AT, remind_at, int64_t,                                                               \
      FIELD_TIME(FF_NULLABLE, DATE_START_OF_DAY,                                                   \
                 "When to remind (RFC 3339; a date alone is the start of that day, UTC); null "    \
                 "for none."))                                                                     \
    X(RECURRENCE, recurrence, enum task_recurrence,                                                \
      FIELD_ENUM(FF_ICASE | FF_NULL_DEFAULT, task_recurrence_names, REC_NONE,                      \
                 "How it repeats: completing a recurring task creates the next occurrence; "       \
                 "null for none."))                                                                \
    X(RECURRENCE_INTERVAL, recurrence_interval, int,                                               \
      FIELD_INT(0, 1, TASK_INTERVAL_MAX, 1, "Repeat every N days, weeks, months or years."))       \
    X(CREATED_AT, created_at, int64_t,                                                             \
      FIELD_TIME(FF_READONLY, DATE_ONLY_REJECT, "When it was created."))                           \
    X(UPDATED_AT, updated_at, int64_t,                                                             \
      FIELD_TIME(FF_READONLY, DATE_ONLY_REJECT, "When it last changed."))

/* A task, typed: times are Unix seconds (0 for none); texts are arena-owned (NULL for none);
 * tags hold the stored JSON array (and, in an input, the list read). */
struct task {
#define TASK_MEMBER(ID, member, type, ...) type member;
    TASK_FIELDS(TASK_MEMBER)
#undef TASK_MEMBER
};

/* Field indexes (TASK_FIELD_TITLE …) and bits for sets of fields (TF_TITLE …). */
enum task_field_index {
#define TASK_INDEX(ID, ...) TASK_FIELD_##ID,
    TASK_FIELDS(TASK_INDEX)
#undef TASK_INDEX
        TASK_NFIELDS
};
enum task_field_bit {
#define TASK_BIT(ID, ...) TF_##ID = 1u << TASK_FIELD_##ID,
    TASK_FIELDS(TASK_BIT)
#undef TASK_BIT
};

/* The table: task_fields[TASK_FIELD_TITLE] is the title's row. */
extern const struct field_spec task_fields[TASK_NFIELDS];

/* A validated create or update input: the fields present (TF_* bits) and their values in v
 * (a field absent keeps its default: medium priority, interval 1, none for the rest). */
struct task_input {
    unsigned present;
    struct task v;
};

/*
 * The listing filter: X(ID, member, C type, key, row). A key may come from a query string or
 * a tool's arguments; -1 in an optional member means "not given".
 */
#define TASK_FILTER_FIELDS(X)                                                                      \
    X(STATUS, status, enum task_status, "status",                                                  \
      FIELD_ENUM(0, task_status_names, STATUS_ALL, "Which tasks by completion."))                  \
    X(PRIORITY, priority, int, "priority",                                                         \
      FIELD_ENUM(FF_OPTIONAL, task_priority_names, -1, "Only tasks of this priority."))            \
    X(TAGS, tags, struct field_tags, "tag",                                                        \
      FIELD_TAGS(FF_REPEAT, NULL, TASK_MAX_TAGS, 1, TASK_TAG_MAX,                                  \
                 "Only tasks carrying all of these tags (case-insensitive)."))                     \
    X(SEARCH, search, const char *, "search",                                                      \
      FIELD_TEXT(FF_NULLABLE | FF_MULTILINE, 0, TASK_SEARCH_MAX,                                   \
                 "Case-insensitive substring of the title or the description."))                   \
    X(DUE_BEFORE, due_before, int64_t, "due_before",                                               \
      FIELD_TIME(0, DATE_END_OF_DAY,                                                               \
                 "Due at or before this time (a date means the end of that day)."))                \
    X(DUE_AFTER, due_after, int64_t, "due_after",                                                  \
      FIELD_TIME(0, DATE_START_OF_DAY,                                                             \
                 "Due at or after this time (a date means the start of that day)."))               \
    X(OVERDUE, overdue, int, "overdue",                                                            \
      FIELD_BOOL(FF_OPTIONAL | FF_CLOCK, -1,                                                       \
                 "true: only pending tasks whose due time has passed; false: only the others."))   \
    X(SORT, sort, enum task_sort, "sort",                                                          \
      FIELD_ENUM(0, task_sort_names, SORT_CREATED, "The order of the list."))                      \
    X(ORDER, order, int, "order",                                                                  \
      FIELD_ENUM(FF_OPTIONAL, task_order_names, -1,                                                \
                 "asc or desc; by default newest first for times, else ascending."))               \
    X(LIMIT, limit, int, "limit",                                                                  \
      FIELD_INT(0, 1, TASK_LIST_MAX, TASK_LIST_DEFAULT, "The page size."))                         \
    X(OFFSET, offset, int, "offset", FIELD_INT(0, 0, TASK_OFFSET_MAX, 0, "How many tasks to skip."))

struct task_filter {
#define FILTER_MEMBER(ID, member, type, ...) type member;
    TASK_FILTER_FIELDS(FILTER_MEMBER)
#undef FILTER_MEMBER
};

enum task_filter_index {
#define FILTER_INDEX(ID, ...) TASK_FILTER_##ID,
    TASK_FILTER_FIELDS(FILTER_INDEX)
#undef FILTER_INDEX
        TASK_FILTER_NFIELDS
};

extern const struct field_spec task_filter_fields[TASK_FILTER_NFIELDS];

/* TASK_CREATE needs a title; TASK_PATCH is a partial update (PUT and PATCH alike, as the
 * hackathon's TaskUpdate): only the fields present change, and it needs at least one. */
enum task_input_mode { TASK_CREATE, TASK_PATCH };

struct task_stats {
    int64_t total, completed, pending, overdue, due_today;
};

/* --- rules, JSON and schemas (task_schema.c) --- */

/* Reads a JSON object (a request body, a tool's arguments) into in, checking every rule;
 * problems go to errs at (loc, field): loc is the caller's ("body", or a tool argument's).
 * Unknown keys are ignored. Returns ERR_OK, ERR_INVALID or ERR_NOMEM. */
int task_input_parse(yyjson_val *obj, enum task_input_mode mode, const char *loc, struct arena *a,
                     struct task_input *in, struct verrors *errs);

/* A filter that matches every task of the user, first page, default order. */
void task_filter_defaults(struct task_filter *f);

/* Reads every filter key through get (a query string's values, or field_get_json over a
 * tool's arguments object) into f; problems go to errs at (loc, key). JSON null is "not
 * given". Returns ERR_OK, ERR_INVALID or ERR_NOMEM. */
int task_filter_parse(field_getter get, void *ctx, const char *loc, struct arena *a,
                      struct task_filter *f, struct verrors *errs);

/* Appends the listing's cache key — every filter field, from the table — to key. Returns
 * false (nothing appended) when the listing depends on the clock (FF_CLOCK: overdue) and
 * must not be cached. */
bool task_filter_key(const struct task_filter *f, struct dynbuf *key);

/* Checks values that did not come through the parsers: enums in range, bounds, and for an
 * input the fields its mode needs (a create's title; at least one for a patch). The storage
 * functions call these, so no caller can make them index out of a table. ERR_OK or
 * ERR_INVALID. */
int task_filter_check(const struct task_filter *f);
int task_input_check(const struct task_input *in, enum task_input_mode mode);

/* Appends t as a JSON object to doc and returns it. */
yyjson_mut_val *task_to_json(yyjson_mut_doc *doc, const struct task *t);

/* Appends t as a JSON object to d in one pass: the bytes task_to_json's object serialises to,
 * without a document. A failure sticks to d (dyn_err). */
void task_write_json(struct dynbuf *d, const struct task *t);

/* The JSON Schema of a task (FS_OUTPUT), of a create's input (FS_CREATE) or of a partial
 * update's (FS_PATCH); and of the filter as a tool's arguments (FS_ARGS) or as query
 * parameters (FS_QUERY: an object whose properties are the parameters' schemas). */
yyjson_mut_val *task_json_schema(yyjson_mut_doc *doc, enum field_schema mode);
yyjson_mut_val *task_filter_json_schema(yyjson_mut_doc *doc, enum field_schema mode);

const char *task_priority_name(enum task_priority p); /* NULL when out of range */
const char *task_recurrence_name(enum task_recurrence r);

/* --- storage (tasks.c) --- */

/* Each returns ERR_OK, ERR_NOTFOUND (missing or another user's), ERR_INVALID (an input or
 * filter out of its rules, see task_input_check), or a store error. Results are
 * arena-owned. */
int tasks_create(struct store_conn *c, struct arena *a, const char *uid,
                 const struct task_input *in, struct task *out);
/* tasks_create's work inside the caller's transaction (an import): *id is the new task's. */
int tasks_create_in(struct store_conn *c, struct arena *a, const char *uid,
                    const struct task_input *in, int64_t *id);
int tasks_get(struct store_conn *c, struct arena *a, const char *uid, int64_t id, struct task *out);
/* Applies the fields present in in (a TASK_PATCH input) to the task. Completing a recurring
 * task this way creates its next occurrence, as tasks_complete does. */
int tasks_update(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                 const struct task_input *in, struct task *out);
/* Deletes the task, keeping a snapshot that tasks_restore can bring back for
 * TASK_RESTORE_SECONDS (its fields: not its attachments); older snapshots (anyone's) are
 * purged by each delete and restore. The task's attachment files are then collected under
 * uploads (UPLOADS_DIR; NULL: a caller with no files, such as a unit test), so every way of
 * deleting a task (REST, an MCP tool, the assistant) frees them alike. */
int tasks_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                 const char *uploads);

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

/* --- the listing on rows held in memory (domain/task_rows.c) ---
 * The same filters and orders as tasks_list's SQL, written next to it in tasks.c (one table
 * row per filter holds both forms), so that a page built from a user's rows in memory is the
 * page the database would give. */

/* One task as the in-memory listing needs it: what its filters and orders read, and its
 * JSON (task_write_json's bytes). Texts are owned by the row set holding the row. */
struct task_row {
    int64_t id, created_at, updated_at, due_at; /* due_at 0: none */
    enum task_priority priority;
    bool completed;
    const char *search;      /* the search_text column: the folded title and description */
    const char *title_lower; /* the title with ASCII letters lowered (ORDER BY lower(title)) */
    const char **tags;       /* text_fold of each tag, as task_tags.name_lower holds them */
    size_t ntags;
    const char *json;
    size_t json_len;
    size_t mem; /* bytes of the block holding the row and its texts (task_rows.c) */
};

struct task_match;
typedef bool (*task_match_fn)(const struct task_row *r, const struct task_match *m);

/* A filter prepared for rows: its folded texts, the request's time, the conditions set. */
struct task_match {
    const struct task_filter *f;
    int64_t now; /* read once per listing, as the SQL reads it once per statement */
    const char *search;
    const char *tags[TASK_MAX_TAGS];
    size_t ntags;
    task_match_fn fns[TASK_FILTER_NFIELDS];
    size_t nfns;
};

/* Prepares m for f (checked) at this moment; texts in a. ERR_OK or ERR_NOMEM. */
int task_match_init(struct task_match *m, struct arena *a, const struct task_filter *f);

/* Whether row r passes every condition of m. */
bool task_row_matches(const struct task_row *r, const struct task_match *m);

/* The listing's order on rows: <0, 0 or >0 as x comes before, with or after y when sorting by
 * sort (descending when desc): a total order (ties end on the id), as order_by's SQL. */
int task_row_cmp(const struct task_row *x, const struct task_row *y, enum task_sort sort,
                 bool desc);

/* Whether f's order is descending (its order, or the sort's default). */
bool task_filter_desc(const struct task_filter *f);

/* True when every narrowing filter field has both its SQL and its in-memory form (tests). */
bool task_filter_ops_complete(void);

/* Reads uid's newest tasks in the default order (created_at, then id, descending), at most
 * max (below STORE_MAX_ROWS), into *out (n of them, in no particular order) with each one's
 * search_text in (*search)[i], the user's task version they are and the user's task count
 * (users.task_count: more than n when there are more tasks). One statement, so one snapshot:
 * the rows and the count are exactly that version's. All arena-owned. ERR_NOTFOUND without
 * the user. */
int tasks_read_all(struct store_conn *c, struct arena *a, const char *uid, size_t max,
                   struct task **out, const char ***search, size_t *n, int64_t *version,
                   int64_t *count);

/* The text search matches for t, as a write stores it in search_text (arena-owned). */
const char *task_search_text(struct arena *a, const struct task *t);

/* Tags with their task counts, most used first: rows of (name, count). */
int tasks_tags(struct store_conn *c, struct arena *a, const char *uid, struct db_rows *out);

int tasks_stats(struct store_conn *c, struct arena *a, const char *uid, struct task_stats *out);

/* The user's task version: it grows with every committed change to the user's tasks (in
 * the same transaction), so equal versions mean equal task data. */
int tasks_version(struct store_conn *c, struct arena *a, const char *uid, int64_t *out);

/* Sets the function told (on the writing thread, without waiting) whenever a user's tasks
 * change: the event hub (notify/events.h) announces the change to the user's streams. NULL
 * removes it. */
void tasks_on_change(void (*fn)(const char *uid));

#endif
