/* In-app notifications and the exactly-once claim of due reminders (see notifications.h). */
#include "domain/notifications.h"

#include <string.h>

#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

#define NOTE_COLS                                                                                  \
    "id, user_id, task_id, kind, title, rfc3339(remind_at), rfc3339(created_at), "                 \
    "rfc3339(read_at)"
#define RECENT_MAX (NOTIFY_LIST_MAX * 10)

static int64_t int_cell(const char *s)
{
    int64_t v = 0;
    if (s)
        parse_int64(s, INT64_MIN, INT64_MAX, &v);
    return v;
}

static void row_to_note(const struct db_rows *r, size_t i, struct notification *n)
{
    n->id = int_cell(db_cell(r, i, 0));
    n->user_id = db_cell(r, i, 1);
    n->task_id = int_cell(db_cell(r, i, 2));
    n->kind = db_cell(r, i, 3);
    n->title = db_cell(r, i, 4);
    n->remind_at = db_cell(r, i, 5);
    n->created_at = db_cell(r, i, 6);
    n->read_at = db_cell(r, i, 7);
}

/* Rows of a NOTE_COLS query as an arena array. */
static int rows_to_notes(const struct db_rows *rows, struct arena *a, struct notification **out,
                         size_t *n)
{
    *out = arena_calloc(a, rows->nrows ? rows->nrows : 1, sizeof(**out));
    if (!*out)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows->nrows; i++)
        row_to_note(rows, i, &(*out)[i]);
    *n = rows->nrows;
    return ERR_OK;
}

int notifications_claim(struct store_conn *c, struct arena *a, int64_t now, int limit,
                        struct claimed **out, size_t *n)
{
    static const struct sql due = {
        "SELECT t.id, t.user_id, t.title, rfc3339(t.remind_at), "
        "CASE WHEN u.email_reminders = 1 THEN u.email END "
        "FROM tasks t JOIN users u ON u.id = t.user_id "
        "WHERE t.remind_at IS NOT NULL AND t.completed = 0 AND t.remind_at <= $1 "
        "AND (t.reminded_at IS NULL OR t.reminded_at <> t.remind_at) "
        "ORDER BY t.remind_at, t.id LIMIT $2",
        "SELECT t.id, t.user_id, t.title, rfc3339(t.remind_at), "
        "CASE WHEN u.email_reminders THEN u.email END "
        "FROM tasks t JOIN users u ON u.id = t.user_id "
        "WHERE t.remind_at IS NOT NULL AND t.completed = false AND t.remind_at <= $1 "
        "AND (t.reminded_at IS NULL OR t.reminded_at <> t.remind_at) "
        "ORDER BY t.remind_at, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED"};
    static const struct sql mark = {"UPDATE tasks SET reminded_at = remind_at WHERE id = $1", NULL};
    static const struct sql note = {
        "INSERT INTO notifications (user_id, task_id, kind, title, remind_at, created_at) "
        "VALUES ($1, $2, 'reminder', $3, $4, $5) ON CONFLICT DO NOTHING "
        "RETURNING id, rfc3339(created_at)",
        NULL};
    *n = 0;
    *out = NULL;
    char when[TIME_TEXT_MAX];
    time_format(now, when);
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    struct db_param p[] = {P_TEXT(when), P_INT(limit)};
    struct db_rows rows;
    rc = store_exec(c, &due, p, ARRAY_LEN(p), a, &rows);
    struct claimed *cl = NULL;
    if (rc == ERR_OK && rows.nrows) {
        cl = arena_calloc(a, rows.nrows, sizeof(*cl));
        if (!cl)
            rc = ERR_NOMEM;
    }
    size_t made = 0;
    for (size_t i = 0; rc == ERR_OK && i < rows.nrows; i++) {
        const char *tid = db_cell(&rows, i, 0);
        struct db_param m[] = {P_INT(int_cell(tid))};
        rc = store_exec(c, &mark, m, 1, a, NULL);
        if (rc != ERR_OK)
            break;
        struct claimed *x = &cl[made];
        x->n.user_id = db_cell(&rows, i, 1);
        x->n.task_id = int_cell(tid);
        x->n.kind = "reminder";
        x->n.title = db_cell(&rows, i, 2);
        x->n.remind_at = db_cell(&rows, i, 3);
        x->email = db_cell(&rows, i, 4);
        struct db_param q[] = {P_TEXT(x->n.user_id), P_INT(x->n.task_id), P_TEXT(x->n.title),
                               P_TEXT(x->n.remind_at), P_TEXT(when)};
        struct db_rows got;
        rc = store_exec(c, &note, q, ARRAY_LEN(q), a, &got);
        if (rc == ERR_OK && got.nrows == 1) {
            x->n.id = int_cell(db_cell(&got, 0, 0));
            x->n.created_at = db_cell(&got, 0, 1);
            made++;
        }
    }
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK) {
        store_rollback(c);
        return rc;
    }
    *out = cl;
    *n = made;
    return ERR_OK;
}

int notifications_list(struct store_conn *c, struct arena *a, const char *uid, bool unread_only,
                       int64_t before, int limit, struct notification **out, size_t *n)
{
    static const struct sql q = {
        "SELECT " NOTE_COLS " FROM notifications WHERE user_id = $1 "
        "AND ($2 = 0 OR read_at IS NULL) AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
        "SELECT " NOTE_COLS " FROM notifications WHERE user_id = $1 "
        "AND ($2::int = 0 OR read_at IS NULL) AND ($3::bigint = 0 OR id < $3::bigint) "
        "ORDER BY id DESC LIMIT $4"};
    struct db_param p[] = {P_TEXT(uid), P_INT(unread_only ? 1 : 0), P_INT(before), P_INT(limit)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    return rc == ERR_OK ? rows_to_notes(&rows, a, out, n) : rc;
}

int notifications_mark(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                       bool read, int64_t now, struct notification *out)
{
    /* A read notification keeps the time it was first read. */
    static const struct sql q = {
        "UPDATE notifications SET read_at = CASE WHEN $3 = 1 THEN COALESCE(read_at, $4) END "
        "WHERE id = $1 AND user_id = $2 RETURNING " NOTE_COLS,
        "UPDATE notifications SET read_at = CASE WHEN $3::int = 1 THEN "
        "COALESCE(read_at, $4::timestamptz) END "
        "WHERE id = $1 AND user_id = $2 RETURNING " NOTE_COLS};
    char when[TIME_TEXT_MAX];
    time_format(now, when);
    struct db_param p[] = {P_INT(id), P_TEXT(uid), P_INT(read ? 1 : 0), P_TEXT(when)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    row_to_note(&rows, 0, out);
    return ERR_OK;
}

int notifications_mark_all(struct store_conn *c, struct arena *a, const char *uid, int64_t now,
                           int64_t *count)
{
    static const struct sql q = {
        "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL", NULL};
    char when[TIME_TEXT_MAX];
    time_format(now, when);
    struct db_param p[] = {P_TEXT(uid), P_TEXT(when)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc == ERR_OK)
        *count = rows.changes;
    return rc;
}

int notifications_recent(struct store_conn *c, struct arena *a, const char *uids_json,
                         const char *since, struct notification **out, size_t *n)
{
    static const struct sql q = {
        "SELECT " NOTE_COLS " FROM notifications WHERE user_id IN "
        "(SELECT value FROM json_each($1)) AND created_at >= $2 ORDER BY id LIMIT $3",
        "SELECT " NOTE_COLS " FROM notifications WHERE user_id IN "
        "(SELECT jsonb_array_elements_text($1::jsonb)) AND created_at >= $2 "
        "ORDER BY id LIMIT $3"};
    struct db_param p[] = {P_TEXT(uids_json), P_TEXT(since), P_INT(RECENT_MAX)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    return rc == ERR_OK ? rows_to_notes(&rows, a, out, n) : rc;
}

int notifications_versions(struct store_conn *c, struct arena *a, const char *uids_json,
                           const char ***uids, int64_t **versions, size_t *n)
{
    static const struct sql q = {
        "SELECT id, tasks_version FROM users WHERE id IN (SELECT value FROM json_each($1))",
        "SELECT id, tasks_version FROM users WHERE id IN "
        "(SELECT jsonb_array_elements_text($1::jsonb))"};
    struct db_param p[] = {P_TEXT(uids_json)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    size_t k = rows.nrows ? rows.nrows : 1;
    *uids = arena_calloc(a, k, sizeof(**uids));
    *versions = arena_calloc(a, k, sizeof(**versions));
    if (!*uids || !*versions)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows.nrows; i++) {
        (*uids)[i] = db_cell(&rows, i, 0);
        (*versions)[i] = int_cell(db_cell(&rows, i, 1));
    }
    *n = rows.nrows;
    return ERR_OK;
}

/* Adds a string or null. */
static void str_or_null(yyjson_mut_doc *doc, yyjson_mut_val *o, const char *key, const char *v)
{
    if (v)
        yyjson_mut_obj_add_str(doc, o, key, v);
    else
        yyjson_mut_obj_add_null(doc, o, key);
}

yyjson_mut_val *notification_to_json(yyjson_mut_doc *doc, const struct notification *n)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "id", n->id);
    yyjson_mut_obj_add_str(doc, o, "kind", n->kind ? n->kind : "reminder");
    if (n->task_id > 0)
        yyjson_mut_obj_add_int(doc, o, "task_id", n->task_id);
    else
        yyjson_mut_obj_add_null(doc, o, "task_id");
    yyjson_mut_obj_add_str(doc, o, "title", n->title ? n->title : "");
    str_or_null(doc, o, "remind_at", n->remind_at);
    str_or_null(doc, o, "created_at", n->created_at);
    str_or_null(doc, o, "read_at", n->read_at);
    yyjson_mut_obj_add_bool(doc, o, "read", n->read_at != NULL);
    return o;
}
