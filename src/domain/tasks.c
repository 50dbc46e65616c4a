/*
 * Task storage (see tasks.h). Every statement is scoped by user_id. Writes run in one
 * transaction each; the list query is composed from the filter with numbered
 * parameters only, so its few shapes are prepared once per connection and reused.
 */
#include "domain/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"

/* The columns of struct task, in order. rfc3339() reads both dialects' timestamps. */
#define TASK_COLS                                                                                  \
    "t.id, t.user_id, t.title, t.description, t.completed, rfc3339(t.completed_at), "              \
    "t.priority, t.tags_json, rfc3339(t.due_at), rfc3339(t.remind_at), t.recurrence, "             \
    "t.recurrence_interval, rfc3339(t.created_at), rfc3339(t.updated_at)"
#define TASK_NCOLS 14

/* Longest composed list query. */
#define LIST_SQL_MAX 4096

static void row_to_task(const struct db_rows *r, size_t i, struct task *t)
{
    t->id = db_cell(r, i, 0);
    t->user_id = db_cell(r, i, 1);
    t->title = db_cell(r, i, 2);
    t->description = db_cell(r, i, 3);
    const char *done = db_cell(r, i, 4);
    t->completed = done && (done[0] == 't' || done[0] == '1');
    t->completed_at = db_cell(r, i, 5);
    t->priority = db_cell(r, i, 6);
    t->tags_json = db_cell(r, i, 7);
    t->due_at = db_cell(r, i, 8);
    t->remind_at = db_cell(r, i, 9);
    t->recurrence = db_cell(r, i, 10);
    t->recurrence_interval = db_cell(r, i, 11);
    t->created_at = db_cell(r, i, 12);
    t->updated_at = db_cell(r, i, 13);
}

/* Formats t into the arena, or NULL for 0 ("no time"). Inputs are validated to lie in
 * 1970..9999 (time_parse, spawn_next), so the text is never empty. */
static const char *time_text(struct arena *a, int64_t t)
{
    if (t <= 0 || t > TIME_MAX_UNIX)
        return NULL;
    char buf[TIME_TEXT_MAX];
    time_format(t, buf);
    return arena_strdup(a, buf);
}

static const char *now_text(struct arena *a)
{
    return time_text(a, now_unix());
}

/* Runs q (a one-task SELECT of TASK_COLS by $1 id and $2 user) into out. */
static int fetch_task(struct store_conn *c, struct arena *a, const struct sql *q, const char *uid,
                      int64_t id, struct task *out)
{
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1 || rows.ncols != TASK_NCOLS)
        return ERR_NOTFOUND;
    row_to_task(&rows, 0, out);
    return ERR_OK;
}

int tasks_get(struct store_conn *c, struct arena *a, const char *uid, int64_t id, struct task *out)
{
    static const struct sql q = {
        "SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1 AND t.user_id = $2", NULL};
    return fetch_task(c, a, &q, uid, id, out);
}

/* Reads the user's task and locks its row until the transaction ends, so that a
 * read-merge-write cannot lose a concurrent write (PostgreSQL, READ COMMITTED: a second
 * writer waits here and then reads the first one's committed row). A SQLite write
 * transaction (BEGIN IMMEDIATE) holds the whole database already. */
static int get_for_update(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                          struct task *out)
{
    static const struct sql q = {
        "SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1 AND t.user_id = $2",
        "SELECT " TASK_COLS " FROM tasks t WHERE t.id = $1 AND t.user_id = $2 FOR UPDATE"};
    return fetch_task(c, a, &q, uid, id, out);
}

/* The JSON array text of tags, in the arena. */
static const char *tags_json(struct arena *a, const char *const *tags, size_t ntags)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    if (!doc)
        return NULL;
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < ntags; i++)
        yyjson_mut_arr_add_str(doc, arr, tags[i]);
    return yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
}

/* Replaces the task's tags with tags (in order), in task_tags and in tasks.tags_json. */
static int write_tags(struct store_conn *c, const char *uid, int64_t id, const char *const *tags,
                      size_t ntags, struct arena *a, bool clear_first)
{
    static const struct sql del = {"DELETE FROM task_tags WHERE task_id = $1", NULL};
    static const struct sql ins = {
        "INSERT INTO task_tags (task_id, user_id, name, name_lower, position) "
        "VALUES ($1, $2, $3, $4, $5)",
        NULL};
    static const struct sql set_json = {"UPDATE tasks SET tags_json = $2 WHERE id = $1", NULL};
    int rc = ERR_OK;
    if (clear_first) {
        struct db_param p[] = {P_INT(id)};
        rc = store_exec(c, &del, p, 1, NULL, NULL);
    }
    for (size_t i = 0; rc == ERR_OK && i < ntags; i++) {
        const char *folded = text_fold(a, tags[i]);
        if (!folded)
            return ERR_NOMEM;
        struct db_param p[] = {P_INT(id), P_TEXT(uid), P_TEXT(tags[i]), P_TEXT(folded), P_INT(i)};
        rc = store_exec(c, &ins, p, ARRAY_LEN(p), a, NULL);
    }
    if (rc == ERR_OK && (clear_first || ntags)) {
        const char *json = tags_json(a, tags, ntags);
        struct db_param p[] = {P_INT(id), P_TEXT(json)};
        rc = json ? store_exec(c, &set_json, p, ARRAY_LEN(p), a, NULL) : ERR_NOMEM;
    }
    return rc;
}

/* Runs body inside a transaction: commit on success, roll back otherwise. */
#define IN_TRANSACTION(c, rc, body)                                                                \
    do {                                                                                           \
        (rc) = store_begin(c);                                                                     \
        if ((rc) == ERR_OK) {                                                                      \
            body;                                                                                  \
            if ((rc) == ERR_OK)                                                                    \
                (rc) = store_commit(c);                                                            \
            if ((rc) != ERR_OK)                                                                    \
                store_rollback(c);                                                                 \
        }                                                                                          \
    } while (0)

/* The folded text that search matches: title and description. */
static const char *search_text(struct arena *a, const struct task_input *in)
{
    const char *both = arena_printf(a, "%s\n%s", in->title ? in->title : "",
                                    in->description ? in->description : "");
    return both ? text_fold(a, both) : NULL;
}

/* Records that the user's tasks changed (see tasks_version); call inside the write's
 * transaction. */
static int bump_version(struct store_conn *c, const char *uid)
{
    static const struct sql q = {"UPDATE users SET tasks_version = tasks_version + 1 WHERE id = $1",
                                 NULL};
    struct db_param p[] = {P_TEXT(uid)};
    return store_exec(c, &q, p, 1, NULL, NULL);
}

int tasks_version(struct store_conn *c, struct arena *a, const char *uid, int64_t *out)
{
    static const struct sql q = {"SELECT tasks_version FROM users WHERE id = $1", NULL};
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    return parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, out);
}

/* The columns insert_task writes, in the order of its parameters $1..$13. */
#define INSERT_COLS                                                                                \
    "user_id, title, description, completed, completed_at, priority, due_at, remind_at, "          \
    "recurrence, recurrence_interval, created_at, search_text, updated_at"

/* What a re-inserted row keeps from its earlier life (tasks_restore); NULL for a new task. */
struct row_origin {
    int64_t id;
    const char *created_at;   /* RFC 3339 */
    const char *completed_at; /* RFC 3339 or NULL */
};

/* Inserts a task and returns its id; times are RFC 3339 text or NULL. A new task gets the
 * next id and now as its creation time; a restored one (origin) gets its own back. */
static int insert_task(struct store_conn *c, struct arena *a, const char *uid,
                       const struct task_input *in, const char *now,
                       const struct row_origin *origin, int64_t *id)
{
    static const struct sql fresh = {
        "INSERT INTO tasks (" INSERT_COLS ") "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11) RETURNING id",
        NULL};
    static const struct sql again = {
        "INSERT INTO tasks (" INSERT_COLS ", id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        NULL};
    const char *completed_at = in->completed ? now : NULL;
    if (origin && in->completed && origin->completed_at)
        completed_at = origin->completed_at;
    struct db_param p[] = {
        P_TEXT(uid),
        P_TEXT(in->title),
        P_TEXT(in->description),
        P_BOOL(in->completed),
        P_TEXT(completed_at),
        P_TEXT(task_priority_name(in->priority)),
        P_TEXT(time_text(a, in->due_at)),
        P_TEXT(time_text(a, in->remind_at)),
        P_TEXT(task_recurrence_name(in->recurrence)),
        P_INT(in->interval),
        P_TEXT(origin ? origin->created_at : now),
        P_TEXT(search_text(a, in)),
        P_TEXT(now),
        P_INT(origin ? origin->id : 0),
    };
    struct db_rows rows;
    int rc = origin ? store_exec(c, &again, p, ARRAY_LEN(p), a, &rows)
                    : store_exec(c, &fresh, p, ARRAY_LEN(p) - 2, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_DB;
    if (rc == ERR_OK)
        *id = strtoll(db_cell(&rows, 0, 0), NULL, 10);
    return rc;
}

int tasks_create(struct store_conn *c, struct arena *a, const char *uid,
                 const struct task_input *in, struct task *out)
{
    const char *now = now_text(a);
    int64_t id = 0;
    int rc;
    IN_TRANSACTION(c, rc, {
        rc = insert_task(c, a, uid, in, now, NULL, &id);
        if (rc == ERR_OK)
            rc = write_tags(c, uid, id, in->tags, in->ntags, a, false);
        if (rc == ERR_OK)
            rc = bump_version(c, uid);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    return rc;
}

/* Builds "UPDATE tasks SET …" for the given fields. */
static int update_row(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                      const struct task_input *in, unsigned fields, const char *now)
{
    char sql[LIST_SQL_MAX];
    struct db_param p[STORE_MAX_PARAMS];
    size_t np = 0, used = 0;
    p[np++] = P_INT(id);
    p[np++] = P_TEXT(uid);
    p[np++] = P_TEXT(now);
    used += (size_t)snprintf(sql + used, sizeof(sql) - used, "UPDATE tasks SET updated_at = $3");
#define SET(field, expr, param)                                                                    \
    do {                                                                                           \
        if (fields & (field)) {                                                                    \
            p[np++] = (param);                                                                     \
            used += (size_t)snprintf(sql + used, sizeof(sql) - used, expr, np);                    \
        }                                                                                          \
    } while (0)
    SET(TF_TITLE, ", title = $%zu", P_TEXT(in->title));
    SET(TF_DESCRIPTION, ", description = $%zu", P_TEXT(in->description));
    SET(TF_PRIORITY, ", priority = $%zu", P_TEXT(task_priority_name(in->priority)));
    SET(TF_DUE, ", due_at = $%zu", P_TEXT(time_text(a, in->due_at)));
    SET(TF_REMIND, ", remind_at = $%zu", P_TEXT(time_text(a, in->remind_at)));
    SET(TF_RECURRENCE, ", recurrence = $%zu", P_TEXT(task_recurrence_name(in->recurrence)));
    SET(TF_INTERVAL, ", recurrence_interval = $%zu", P_INT(in->interval));
    SET(TF_TITLE | TF_DESCRIPTION, ", search_text = $%zu", P_TEXT(search_text(a, in)));
    SET(TF_COMPLETED, ", completed = $%zu", P_BOOL(in->completed));
    if (fields & TF_COMPLETED) {
        /* Keep the first completion time; clear it when reopened. $np is the boolean bound
         * just above and $3 the update time, so both dialects can type every parameter. */
        used += (size_t)snprintf(sql + used, sizeof(sql) - used,
                                 ", completed_at = CASE WHEN $%zu THEN COALESCE(completed_at, $3) "
                                 "ELSE NULL END",
                                 np);
    }
#undef SET
    if (used + 64 >= sizeof(sql))
        return ERR_TOOBIG;
    snprintf(sql + used, sizeof(sql) - used, " WHERE id = $1 AND user_id = $2");
    struct sql q = {sql, NULL};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, np, a, &rows);
    if (rc == ERR_OK && rows.changes == 0)
        rc = ERR_NOTFOUND;
    return rc;
}

static int spawn_next(struct store_conn *c, struct arena *a, const char *uid, const struct task *t,
                      const char *now, int64_t *next_id);

/* Reads a stored task back into an input, so that a patch can be merged onto it. */
static void task_as_input(struct arena *a, const struct task *t, struct task_input *in)
{
    memset(in, 0, sizeof(*in));
    in->title = t->title;
    in->description = t->description;
    in->completed = t->completed;
    in->priority = PRIO_MEDIUM;
    task_priority_parse(t->priority, &in->priority);
    task_recurrence_parse(t->recurrence, &in->recurrence);
    int64_t interval = 1;
    parse_int64(t->recurrence_interval, 1, TASK_INTERVAL_MAX, &interval);
    in->interval = (int)interval;
    if (t->due_at)
        time_parse(t->due_at, DATE_ONLY_REJECT, &in->due_at);
    if (t->remind_at)
        time_parse(t->remind_at, DATE_ONLY_REJECT, &in->remind_at);
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *doc =
        t->tags_json ? yyjson_read_opts((char *)t->tags_json, strlen(t->tags_json), 0, &alc, NULL)
                     : NULL;
    size_t i, max;
    yyjson_val *item;
    yyjson_arr_foreach(yyjson_doc_get_root(doc), i, max, item)
    {
        if (in->ntags < TASK_MAX_TAGS && yyjson_is_str(item))
            in->tags[in->ntags++] = yyjson_get_str(item);
    }
}

/* Applies the fields present in patch to base. */
static void merge(struct task_input *base, const struct task_input *patch)
{
    unsigned f = patch->present;
    if (f & TF_TITLE)
        base->title = patch->title;
    if (f & TF_DESCRIPTION)
        base->description = patch->description;
    if (f & TF_COMPLETED)
        base->completed = patch->completed;
    if (f & TF_PRIORITY)
        base->priority = patch->priority;
    if (f & TF_DUE)
        base->due_at = patch->due_at;
    if (f & TF_REMIND)
        base->remind_at = patch->remind_at;
    if (f & TF_RECURRENCE)
        base->recurrence = patch->recurrence;
    if (f & TF_INTERVAL)
        base->interval = patch->interval;
    if (f & TF_TAGS) {
        base->ntags = patch->ntags;
        memcpy(base->tags, patch->tags, patch->ntags * sizeof(patch->tags[0]));
    }
}

int tasks_update(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                 const struct task_input *in, struct task *out)
{
    const unsigned row_fields = TF_TITLE | TF_DESCRIPTION | TF_COMPLETED | TF_PRIORITY | TF_DUE |
                                TF_REMIND | TF_RECURRENCE | TF_INTERVAL;
    const char *now = now_text(a);
    int rc;
    /* Read, merge, write the whole row: every path that completes a recurring task then
     * creates its next occurrence, as /complete does. */
    IN_TRANSACTION(c, rc, {
        struct task cur;
        struct task_input merged;
        rc = get_for_update(c, a, uid, id, &cur);
        if (rc == ERR_OK) {
            task_as_input(a, &cur, &merged);
            merge(&merged, in);
            rc = update_row(c, a, uid, id, &merged, row_fields, now);
        }
        if (rc == ERR_OK && (in->present & TF_TAGS))
            rc = write_tags(c, uid, id, merged.tags, merged.ntags, a, true);
        if (rc == ERR_OK && merged.completed && !cur.completed && merged.recurrence != REC_NONE) {
            struct task done;
            int64_t next_id;
            rc = tasks_get(c, a, uid, id, &done);
            if (rc == ERR_OK)
                rc = spawn_next(c, a, uid, &done, now, &next_id);
        }
        if (rc == ERR_OK)
            rc = bump_version(c, uid);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    return rc;
}

/* Keeps t's API JSON in deleted_tasks, so tasks_restore can bring it back. */
static int trash_put(struct store_conn *c, struct arena *a, const char *uid, const struct task *t,
                     const char *now)
{
    static const struct sql ins = {"INSERT INTO deleted_tasks (task_id, user_id, snapshot, "
                                   "deleted_at) VALUES ($1, $2, $3, $4)",
                                   NULL};
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    if (!doc)
        return ERR_NOMEM;
    yyjson_mut_doc_set_root(doc, task_to_json(doc, t));
    const char *json = yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
    if (!json)
        return ERR_NOMEM;
    struct db_param p[] = {P_INT(strtoll(t->id, NULL, 10)), P_TEXT(uid), P_TEXT(json), P_TEXT(now)};
    return store_exec(c, &ins, p, ARRAY_LEN(p), a, NULL);
}

/* Forgets every deleted task (any user's) past the restore window. Best effort, in its own
 * statement after the caller's transaction (so concurrent purges never deadlock with the
 * caller's row locks): a failure only delays the clean-up. */
static void trash_purge(struct store_conn *c, struct arena *a)
{
    static const struct sql q = {"DELETE FROM deleted_tasks WHERE deleted_at < $1", NULL};
    struct db_param p[] = {P_TEXT(time_text(a, now_unix() - TASK_RESTORE_SECONDS))};
    store_exec(c, &q, p, ARRAY_LEN(p), a, NULL);
}

int tasks_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t id)
{
    static const struct sql del = {"DELETE FROM tasks WHERE id = $1 AND user_id = $2", NULL};
    static const struct sql forget = {"DELETE FROM deleted_tasks WHERE task_id = $1", NULL};
    const char *now = now_text(a);
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    int rc;
    IN_TRANSACTION(c, rc, {
        struct task t;
        struct db_rows rows;
        rc = get_for_update(c, a, uid, id, &t);
        if (rc == ERR_OK)
            rc = store_exec(c, &del, p, ARRAY_LEN(p), a, &rows);
        if (rc == ERR_OK && rows.changes == 0)
            rc = ERR_NOTFOUND;
        if (rc == ERR_OK) /* a stale entry for this id (expired, not yet purged) */
            rc = store_exec(c, &forget, p, 1, a, NULL);
        if (rc == ERR_OK)
            rc = trash_put(c, a, uid, &t, now);
        if (rc == ERR_OK)
            rc = bump_version(c, uid);
    });
    trash_purge(c, a);
    return rc;
}

/* Reads a deleted task's snapshot back: the fields a client can set through the task rules
 * (so a field added to them is restored with no change here), the rest into origin. */
static int snapshot_read(struct arena *a, const char *json, int64_t id, struct task_input *in,
                         struct row_origin *origin)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *doc = yyjson_read_opts((char *)json, strlen(json), 0, &alc, NULL);
    yyjson_val *root = yyjson_doc_get_root(doc);
    struct verrors errs = {0};
    if (!root || task_input_parse(root, TASK_CREATE, a, in, &errs) != ERR_OK)
        return ERR_INVALID;
    origin->id = id;
    origin->created_at = yyjson_get_str(yyjson_obj_get(root, "created_at"));
    origin->completed_at = yyjson_get_str(yyjson_obj_get(root, "completed_at"));
    return origin->created_at ? ERR_OK : ERR_INVALID;
}

int tasks_restore(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                  struct task *out)
{
    static const struct sql take = {"DELETE FROM deleted_tasks WHERE task_id = $1 AND "
                                    "user_id = $2 AND deleted_at >= $3 RETURNING snapshot",
                                    NULL};
    const char *now = now_text(a);
    const char *cutoff = time_text(a, now_unix() - TASK_RESTORE_SECONDS);
    struct db_param p[] = {P_INT(id), P_TEXT(uid), P_TEXT(cutoff)};
    int rc;
    IN_TRANSACTION(c, rc, {
        struct db_rows rows;
        struct task_input in;
        struct row_origin origin;
        int64_t got = 0;
        rc = store_exec(c, &take, p, ARRAY_LEN(p), a, &rows);
        if (rc == ERR_OK && rows.nrows != 1)
            rc = ERR_NOTFOUND;
        if (rc == ERR_OK)
            rc = snapshot_read(a, db_cell(&rows, 0, 0), id, &in, &origin);
        if (rc == ERR_OK)
            rc = insert_task(c, a, uid, &in, now, &origin, &got);
        if (rc == ERR_OK)
            rc = write_tags(c, uid, id, in.tags, in.ntags, a, false);
        if (rc == ERR_OK)
            rc = bump_version(c, uid);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    trash_purge(c, a);
    return rc;
}

/* The next due time of a recurring task: base advanced by interval units. */
static int64_t advance(int64_t base, enum task_recurrence r, int interval)
{
    switch (r) {
    case REC_DAILY:
        return base + (int64_t)interval * 86400;
    case REC_WEEKLY:
        return base + (int64_t)interval * 7 * 86400;
    case REC_MONTHLY:
        return time_add_months(base, interval);
    case REC_YEARLY:
        return time_add_months(base, interval * 12);
    default:
        return base;
    }
}

/* Creates the next occurrence of t (already completed) and returns its id, or 0 when the
 * series has ended (its next due date would pass year 9999). ERR_RANGE when only its
 * reminder (set after the due date) would pass year 9999. */
static int spawn_next(struct store_conn *c, struct arena *a, const char *uid, const struct task *t,
                      const char *now, int64_t *next_id)
{
    static const struct sql copy_tags = {
        "INSERT INTO task_tags (task_id, user_id, name, name_lower, position) "
        "SELECT $1, user_id, name, name_lower, position FROM task_tags WHERE task_id = $2",
        NULL};
    static const struct sql copy_json = {"UPDATE tasks SET tags_json = $2 WHERE id = $1", NULL};
    struct task_input in = {0};
    in.title = t->title;
    in.description = t->description;
    task_priority_parse(t->priority, &in.priority);
    task_recurrence_parse(t->recurrence, &in.recurrence);
    int64_t interval = 1;
    parse_int64(t->recurrence_interval, 1, TASK_INTERVAL_MAX, &interval);
    in.interval = (int)interval;
    int64_t base = 0, remind = 0;
    if (!t->due_at || time_parse(t->due_at, DATE_ONLY_REJECT, &base) != ERR_OK)
        base = now_unix();
    in.due_at = advance(base, in.recurrence, in.interval);
    *next_id = 0;
    if (in.due_at > TIME_MAX_UNIX)
        return ERR_OK; /* past year 9999 the series simply ends */
    if (t->remind_at && time_parse(t->remind_at, DATE_ONLY_REJECT, &remind) == ERR_OK)
        in.remind_at = remind + (in.due_at - base);
    if (in.remind_at > TIME_MAX_UNIX)
        return ERR_RANGE; /* a reminder after the due date, pushed past year 9999: refused */
    int rc = insert_task(c, a, uid, &in, now, NULL, next_id);
    if (rc == ERR_OK) {
        int64_t old_id = strtoll(t->id, NULL, 10);
        struct db_param p[] = {P_INT(*next_id), P_INT(old_id)};
        rc = store_exec(c, &copy_tags, p, ARRAY_LEN(p), a, NULL);
    }
    if (rc == ERR_OK) {
        struct db_param p[] = {P_INT(*next_id), P_TEXT(t->tags_json)};
        rc = store_exec(c, &copy_json, p, ARRAY_LEN(p), a, NULL);
    }
    return rc;
}

int tasks_complete(struct store_conn *c, struct arena *a, const char *uid, int64_t id, int set,
                   struct task *out, struct task *next, bool *has_next)
{
    const char *now = now_text(a);
    *has_next = false;
    int rc;
    IN_TRANSACTION(c, rc, {
        struct task cur = {0};
        rc = get_for_update(c, a, uid, id, &cur);
        struct task_input in = {0};
        if (rc == ERR_OK) {
            in.completed = set < 0 ? !cur.completed : set == 1;
            rc = update_row(c, a, uid, id, &in, TF_COMPLETED, now);
        }
        bool recurring = rc == ERR_OK && cur.recurrence && strcmp(cur.recurrence, "none") != 0;
        int64_t next_id = 0;
        if (recurring && in.completed && !cur.completed) {
            rc = spawn_next(c, a, uid, &cur, now, &next_id);
            if (rc == ERR_OK && next_id) /* 0: the series ended (past year 9999) */
                rc = tasks_get(c, a, uid, next_id, next);
            *has_next = rc == ERR_OK && next_id;
        }
        if (rc == ERR_OK)
            rc = bump_version(c, uid);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    return rc;
}

/* Appends text to the composed SQL, failing once it would not fit. */
struct sqlbuf {
    char s[LIST_SQL_MAX];
    size_t len;
    bool overflow;
    struct db_param p[STORE_MAX_PARAMS];
    size_t np;
};

static void sb_add(struct sqlbuf *b, const char *text)
{
    size_t n = strlen(text);
    if (b->len + n >= sizeof(b->s)) {
        b->overflow = true;
        return;
    }
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

/* Appends a clause in which every "$?" names one new parameter p. */
static void sb_param(struct sqlbuf *b, const char *clause, struct db_param p)
{
    if (b->np >= STORE_MAX_PARAMS) {
        b->overflow = true;
        return;
    }
    b->p[b->np++] = p;
    char num[8];
    snprintf(num, sizeof(num), "%zu", b->np);
    for (const char *c = clause; *c && !b->overflow; c++) {
        if (c[0] == '$' && c[1] == '?') {
            sb_add(b, "$");
            sb_add(b, num);
            c++;
            continue;
        }
        char one[2] = {*c, '\0'};
        sb_add(b, one);
    }
}

/* Escapes LIKE wildcards in s and wraps it in %…%. */
static const char *like_pattern(struct arena *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = arena_alloc(a, 2 * n + 3);
    if (!out)
        return NULL;
    size_t j = 0;
    out[j++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
            out[j++] = '\\';
        out[j++] = s[i];
    }
    out[j++] = '%';
    out[j] = '\0';
    return out;
}

static void build_where(struct sqlbuf *b, struct arena *a, const char *uid,
                        const struct task_filter *f)
{
    sb_param(b, " WHERE t.user_id = $?", P_TEXT(uid));
    if (f->status != STATUS_ALL)
        sb_param(b, " AND t.completed = $?", P_BOOL(f->status == STATUS_COMPLETED));
    if (f->priority >= 0)
        sb_param(b, " AND t.priority = $?", P_TEXT(task_priority_name(f->priority)));
    for (size_t i = 0; i < f->ntags; i++)
        sb_param(b,
                 " AND EXISTS (SELECT 1 FROM task_tags g WHERE g.task_id = t.id AND "
                 "g.name_lower = $?)",
                 P_TEXT(text_fold(a, f->tags[i])));
    if (f->search)
        sb_param(b, " AND t.search_text LIKE $? ESCAPE '\\'",
                 P_TEXT(like_pattern(a, text_fold(a, f->search))));
    if (f->due_before)
        sb_param(b, " AND t.due_at <= $?", P_TEXT(time_text(a, f->due_before)));
    if (f->due_after)
        sb_param(b, " AND t.due_at >= $?", P_TEXT(time_text(a, f->due_after)));
    if (f->overdue >= 0) {
        sb_param(b, f->overdue ? " AND t.completed = $?" : " AND (t.completed <> $?",
                 P_BOOL(false));
        sb_param(b, f->overdue ? " AND t.due_at < $?" : " OR t.due_at IS NULL OR t.due_at >= $?)",
                 P_TEXT(now_text(a)));
    }
}

static const char *order_by(const struct task_filter *f)
{
    static const char *clauses[][2] = {
        /* asc, desc */
        {" ORDER BY t.created_at ASC, t.id ASC", " ORDER BY t.created_at DESC, t.id DESC"},
        {" ORDER BY t.updated_at ASC, t.id ASC", " ORDER BY t.updated_at DESC, t.id DESC"},
        {" ORDER BY lower(t.title) ASC, t.id ASC", " ORDER BY lower(t.title) DESC, t.id DESC"},
        {" ORDER BY t.due_at IS NULL, t.due_at ASC, t.id ASC",
         " ORDER BY t.due_at IS NULL, t.due_at DESC, t.id DESC"},
        {" ORDER BY CASE t.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END ASC, "
         "t.created_at DESC, t.id DESC",
         " ORDER BY CASE t.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END DESC, "
         "t.created_at DESC, t.id DESC"},
    };
    /* Newest first by default for times; alphabetical, soonest and most urgent first. */
    int desc = f->order >= 0 ? f->order : (f->sort == SORT_CREATED || f->sort == SORT_UPDATED);
    return clauses[f->sort][desc];
}

int tasks_list(struct store_conn *c, struct arena *a, const char *uid, const struct task_filter *f,
               struct task **out, size_t *n, int64_t *total)
{
    struct sqlbuf *b = arena_alloc(a, sizeof(*b)); /* no zero-fill: 5 KiB per request */
    if (!b)
        return ERR_NOMEM;
    b->len = 0;
    b->np = 0;
    b->overflow = false;
    b->s[0] = '\0';
    sb_add(b, "SELECT count(*) FROM tasks t");
    build_where(b, a, uid, f);
    if (b->overflow)
        return ERR_TOOBIG;
    struct sql count_q = {b->s, NULL};
    struct db_rows rows;
    int rc = store_exec(c, &count_q, b->p, b->np, a, &rows);
    if (rc != ERR_OK)
        return rc;
    *total = rows.nrows ? strtoll(db_cell(&rows, 0, 0), NULL, 10) : 0;

    b->len = 0;
    b->np = 0;
    b->s[0] = '\0';
    sb_add(b, "SELECT " TASK_COLS " FROM tasks t");
    build_where(b, a, uid, f);
    sb_add(b, order_by(f));
    sb_param(b, " LIMIT $?", P_INT(f->limit));
    sb_param(b, " OFFSET $?", P_INT(f->offset));
    if (b->overflow)
        return ERR_TOOBIG;
    struct sql list_q = {b->s, NULL};
    rc = store_exec(c, &list_q, b->p, b->np, a, &rows);
    if (rc != ERR_OK)
        return rc;
    *n = rows.nrows;
    *out = arena_calloc(a, rows.nrows ? rows.nrows : 1, sizeof(struct task));
    if (!*out)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows.nrows; i++)
        row_to_task(&rows, i, &(*out)[i]);
    return ERR_OK;
}

int tasks_tags(struct store_conn *c, struct arena *a, const char *uid, struct db_rows *out)
{
    static const struct sql q = {"SELECT MIN(name), count(*) FROM task_tags WHERE user_id = $1 "
                                 "GROUP BY name_lower ORDER BY count(*) DESC, MIN(name) ASC",
                                 NULL};
    struct db_param p[] = {P_TEXT(uid)};
    return store_exec(c, &q, p, 1, a, out);
}

int tasks_stats(struct store_conn *c, struct arena *a, const char *uid, struct task_stats *out)
{
    static const struct sql q = {
        "SELECT count(*), "
        "COALESCE(SUM(CASE WHEN completed = $2 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN completed <> $2 AND due_at < $3 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN completed <> $2 AND due_at >= $4 AND due_at <= $5 "
        "THEN 1 ELSE 0 END), 0) FROM tasks WHERE user_id = $1",
        NULL};
    int64_t now = now_unix();
    int64_t day_start = now - now % 86400;
    struct db_param p[] = {P_TEXT(uid), P_BOOL(true), P_TEXT(time_text(a, now)),
                           P_TEXT(time_text(a, day_start)),
                           P_TEXT(time_text(a, day_start + 86399))};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_DB;
    out->total = strtoll(db_cell(&rows, 0, 0), NULL, 10);
    out->completed = strtoll(db_cell(&rows, 0, 1), NULL, 10);
    out->pending = out->total - out->completed;
    out->overdue = strtoll(db_cell(&rows, 0, 2), NULL, 10);
    out->due_today = strtoll(db_cell(&rows, 0, 3), NULL, 10);
    return ERR_OK;
}
