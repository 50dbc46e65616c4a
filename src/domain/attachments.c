/* Task attachments: rows and rules (see attachments.h). */
#include "domain/attachments.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "store/blobs.h"

#define ATTACH_COLS "id, task_id, name, content_type, size, sha256, rfc3339(created_at)"

/* Documents, images, plain text and archives; never HTML, SVG or script, which a browser
 * would run in the app's origin. */
const char *const attach_types[] = {
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/json",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/heic",
    "text/plain",
    "text/csv",
    "text/markdown",
    "text/calendar",
    "audio/mpeg",
    "audio/ogg",
    "video/mp4",
    NULL,
};

const char *attach_type_allowed(const char *ct)
{
    if (!ct || !*ct)
        return attach_types[0];
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; attach_types[i]; i++)
        if (strlen(attach_types[i]) == n && strncasecmp(ct, attach_types[i], n) == 0)
            return attach_types[i];
    return NULL;
}

static const struct text_rule name_rule = {1, ATTACH_NAME_MAX, false};

const char *attach_name_clean(struct arena *a, const char *name, const char **why)
{
    if (!name || !*name) {
        *why = "The file needs a name";
        return NULL;
    }
    if (strpbrk(name, "/\\")) {
        *why = "A file name may not contain / or \\ (no paths)";
        return NULL;
    }
    /* A part's name comes as bytes, not through a JSON parser: text_clean needs UTF-8. */
    if (!text_utf8_valid(name, strlen(name))) {
        *why = "A file name must be UTF-8";
        return NULL;
    }
    const char *out = NULL;
    enum text_problem problem;
    if (text_clean(a, name, strlen(name), &name_rule, &out, &problem) != ERR_OK) {
        *why = "A file name must be one line of 1 to 255 characters without control "
               "characters";
        return NULL;
    }
    if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        *why = "A file name may not be . or ..";
        return NULL;
    }
    return out;
}

static void row_to_attachment(const struct db_rows *r, size_t i, struct attachment *t)
{
    parse_int64(db_cell(r, i, 0), 1, INT64_MAX, &t->id);
    parse_int64(db_cell(r, i, 1), 1, INT64_MAX, &t->task_id);
    t->name = db_cell(r, i, 2);
    t->content_type = db_cell(r, i, 3);
    parse_int64(db_cell(r, i, 4), 0, INT64_MAX, &t->size);
    t->sha256 = db_cell(r, i, 5);
    t->created_at = db_cell(r, i, 6);
}

int attachments_usage(struct store_conn *c, struct arena *a, const char *uid, int64_t *bytes)
{
    static const struct sql q = {
        "SELECT COALESCE(SUM(size), 0) FROM attachments WHERE user_id = $1", NULL};
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc == ERR_OK)
        rc = rows.nrows == 1 ? parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, bytes) : ERR_DB;
    return rc;
}

/* ERR_OK when the task is the user's (its row locked on PostgreSQL). */
static int own_task(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                    bool lock)
{
    static const struct sql q = {"SELECT id FROM tasks WHERE id = $1 AND user_id = $2", NULL};
    static const struct sql ql = {"SELECT id FROM tasks WHERE id = $1 AND user_id = $2",
                                  "SELECT id FROM tasks WHERE id = $1 AND user_id = $2 FOR UPDATE"};
    struct db_param p[] = {P_INT(task_id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, lock ? &ql : &q, p, 2, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    return rc;
}

static const struct sql lock_user = {"SELECT id FROM users WHERE id = $1",
                                     "SELECT id FROM users WHERE id = $1 FOR UPDATE"};

int attachments_add(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                    const char *name, const char *content_type, int64_t size, const char *sha,
                    int64_t quota, struct blob_writer *w, struct attachment *out)
{
    static const struct sql count = {"SELECT count(*) FROM attachments WHERE task_id = $1", NULL};
    static const struct sql ins = {
        "INSERT INTO attachments (user_id, task_id, name, content_type, size, sha256, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING " ATTACH_COLS,
        NULL};
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    struct db_param pu[] = {P_TEXT(uid)};
    struct db_param pt[] = {P_INT(task_id)};
    struct db_param pi[] = {P_TEXT(uid), P_INT(task_id), P_TEXT(name), P_TEXT(content_type),
                            P_INT(size), P_TEXT(sha),    P_TEXT(now)};
    struct db_rows rows;
    int64_t used = 0, n = 0;
    int rc = store_begin(c);
    if (rc != ERR_OK) {
        blob_abort(w);
        return rc;
    }
    /* The user's row serialises the quota check of concurrent uploads (PostgreSQL; SQLite's
     * write transaction holds the database). */
    rc = store_exec(c, &lock_user, pu, 1, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc == ERR_OK)
        rc = own_task(c, a, uid, task_id, true);
    if (rc == ERR_OK)
        rc = attachments_usage(c, a, uid, &used);
    if (rc == ERR_OK && used + size > quota)
        rc = ERR_TOOBIG;
    if (rc == ERR_OK)
        rc = store_exec(c, &count, pt, 1, a, &rows);
    if (rc == ERR_OK &&
        (rows.nrows != 1 || parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, &n) != ERR_OK))
        rc = ERR_DB;
    if (rc == ERR_OK && n >= ATTACH_PER_TASK_MAX)
        rc = ERR_LIMIT;
    if (rc == ERR_OK)
        rc = store_exec(c, &ins, pi, ARRAY_LEN(pi), a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_DB;
    if (rc == ERR_OK) {
        rc = blob_publish(w); /* the file appears while the row is being stored */
        w = NULL;
    }
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK) {
        store_rollback(c);
        blob_abort(w);
        return rc;
    }
    row_to_attachment(&rows, 0, out);
    return ERR_OK;
}

struct collect {
    struct store_conn *c;
    struct arena *a;
    const char *uid, *root;
    int rc;
};

static void collect_one(void *ctx, const char *sha)
{
    struct collect *k = ctx;
    bool used = true;
    if (k->rc != ERR_OK)
        return;
    k->rc = attachments_hash_used(k->c, k->a, k->uid, sha, &used);
    if (k->rc == ERR_OK && !used)
        blob_remove(k->root, k->uid, sha);
}

int attachments_collect(struct store_conn *c, struct arena *a, const char *uid, const char *root)
{
    struct db_param pu[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    rc = store_exec(c, &lock_user, pu, 1, a, &rows);
    struct collect k = {c, a, uid, root, ERR_OK};
    if (rc == ERR_OK) {
        blob_sweep(root, uid);
        blob_each(root, uid, 100000, collect_one, &k);
        rc = k.rc;
    }
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK)
        store_rollback(c);
    return rc;
}

int attachments_list(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                     struct attachment **out, size_t *n)
{
    static const struct sql q = {"SELECT " ATTACH_COLS " FROM attachments "
                                 "WHERE task_id = $1 AND user_id = $2 ORDER BY id",
                                 NULL};
    int rc = own_task(c, a, uid, task_id, false);
    if (rc != ERR_OK)
        return rc;
    struct db_param p[] = {P_INT(task_id), P_TEXT(uid)};
    struct db_rows rows;
    rc = store_exec(c, &q, p, 2, a, &rows);
    if (rc != ERR_OK)
        return rc;
    *out = rows.nrows ? arena_alloc(a, rows.nrows * sizeof(**out)) : NULL;
    if (rows.nrows && !*out)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows.nrows; i++)
        row_to_attachment(&rows, i, &(*out)[i]);
    *n = rows.nrows;
    return ERR_OK;
}

int attachments_get(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                    int64_t id, struct attachment *out)
{
    static const struct sql q = {"SELECT " ATTACH_COLS " FROM attachments "
                                 "WHERE id = $1 AND task_id = $2 AND user_id = $3",
                                 NULL};
    struct db_param p[] = {P_INT(id), P_INT(task_id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 3, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc == ERR_OK)
        row_to_attachment(&rows, 0, out);
    return rc;
}

int attachments_hash_used(struct store_conn *c, struct arena *a, const char *uid, const char *sha,
                          bool *used)
{
    static const struct sql q = {
        "SELECT 1 FROM attachments WHERE user_id = $1 AND sha256 = $2 LIMIT 1", NULL};
    struct db_param p[] = {P_TEXT(uid), P_TEXT(sha)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 2, a, &rows);
    if (rc == ERR_OK)
        *used = rows.nrows > 0;
    return rc;
}

int attachments_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                       int64_t id, struct attachment *gone, bool *still_used)
{
    static const struct sql del = {"DELETE FROM attachments WHERE id = $1 AND task_id = $2 AND "
                                   "user_id = $3 RETURNING " ATTACH_COLS,
                                   NULL};
    struct db_param p[] = {P_INT(id), P_INT(task_id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &del, p, 3, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc != ERR_OK)
        return rc;
    row_to_attachment(&rows, 0, gone);
    return attachments_hash_used(c, a, uid, gone->sha256, still_used);
}

yyjson_mut_val *attachment_to_json(yyjson_mut_doc *doc, const struct attachment *t)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "id", t->id);
    yyjson_mut_obj_add_int(doc, o, "task_id", t->task_id);
    yyjson_mut_obj_add_str(doc, o, "name", t->name);
    yyjson_mut_obj_add_str(doc, o, "content_type", t->content_type);
    yyjson_mut_obj_add_int(doc, o, "size", t->size);
    yyjson_mut_obj_add_str(doc, o, "sha256", t->sha256);
    yyjson_mut_obj_add_str(doc, o, "created_at", t->created_at);
    return o;
}
