/*
 * Task storage (see tasks.h). Every statement is scoped by user_id. Writes run in one
 * transaction each. The statements are derived from the task table: the columns read (and
 * mapped back into struct task), the columns an insert writes and those an update sets. The
 * list query is composed from the filter with numbered parameters only, so its few shapes
 * are prepared once per connection and reused. Statements are built in bounded buffers
 * (core/dynbuf.h) that fail cleanly.
 */
#include "domain/tasks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/attachments.h"
#include "domain/task_rows.h"
#include "domain/users.h"

/* Longest composed statement (the list query with 20 tags and every filter is ~2.5 KiB). */
#define TASK_SQL_MAX 4096
/* Longest statement built once (the columns of a task and the one-task SELECTs). */
#define TASK_COLS_MAX 1024

/* --- the statements built once from the table --- */

/* The columns of struct task in table order, per dialect: "t.id, t.user_id, …". Times reach
 * field_from_row as Unix seconds: PostgreSQL reads its TIMESTAMPTZ as an int8 of whole
 * seconds (formatting them with rfc3339()'s to_char cost a third of the database's
 * time on a list of 50: 13.4k → 19.7k lists/s in pgbench), SQLite stores the RFC 3339 text
 * already and reads the column itself (its rfc3339() is the identity, and calling it cost 5%
 * of a list), which field_from_row parses. */
enum { DIALECT_SQLITE, DIALECT_PG, DIALECTS };
static char select_cols[DIALECTS][TASK_COLS_MAX];
static char get_sql[DIALECTS][TASK_COLS_MAX];  /* one task by $1 id and $2 user */
static char get_lock_sql[TASK_COLS_MAX];       /* the same, locking its row (PostgreSQL) */
static char rows_sql[DIALECTS][TASK_COLS_MAX]; /* all of a user's ($1) tasks, at most $2 */
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

/* A statement that finds one task by id ($1) checks its owner ($2) with a condition PostgreSQL
 * cannot use as an index condition, so the row is found by the primary key, whatever the table's
 * statistics. A plain "user_id = $2" let a generic plan made while the table was small
 * (PostgreSQL caches one per prepared statement until the next ANALYZE) walk the user's
 * (user_id, …) index and filter on the id: every create read all of the user's tasks. */
#define OWNER_CHECK(alias) "(" alias "user_id = $2) IS TRUE"

static void build_sql(void)
{
    bool ok = true;
    for (int k = 0; k < DIALECTS; k++) {
        struct dynbuf d, g;
        dyn_init_fixed(&d, select_cols[k], sizeof(select_cols[k]));
        for (size_t i = 0; i < TASK_NFIELDS; i++) {
            const struct field_spec *f = &task_fields[i];
            bool epoch = k == DIALECT_PG && f->kind == FK_TIME;
            dyn_add(&d, i ? ", " : "");
            dyn_add(&d, epoch ? "floor(date_part('epoch', t." : "t.");
            dyn_add(&d, field_column(f));
            dyn_add(&d, epoch ? "))::int8" : "");
        }
        dyn_init_fixed(&g, get_sql[k], sizeof(get_sql[k]));
        dyn_addf(&g, "SELECT %s FROM tasks t WHERE t.id = $1 AND " OWNER_CHECK("t."),
                 select_cols[k]);
        struct dynbuf r;
        dyn_init_fixed(&r, rows_sql[k], sizeof(rows_sql[k]));
        /* The newest first, as the default listing (and its index) orders them. */
        dyn_addf(&r,
                 "SELECT %s, t.search_text, u.tasks_version, u.task_count FROM users u LEFT JOIN "
                 "(SELECT * FROM tasks WHERE user_id = $1 ORDER BY created_at DESC, id DESC "
                 "LIMIT $2) t ON 1 = 1 WHERE u.id = $1",
                 select_cols[k]);
        ok = ok && !dyn_err(&d) && !dyn_err(&g) && !dyn_err(&r);
    }
    struct dynbuf l;
    dyn_init_fixed(&l, get_lock_sql, sizeof(get_lock_sql));
    dyn_addf(&l, "%s FOR UPDATE", get_sql[DIALECT_PG]);
    if (!ok || dyn_err(&l)) { /* a table too wide: every read fails */
        log_error("tasks: the task's columns do not fit %d bytes", TASK_COLS_MAX);
        memset(select_cols, 0, sizeof(select_cols));
        memset(get_sql, 0, sizeof(get_sql));
        memset(rows_sql, 0, sizeof(rows_sql));
        get_lock_sql[0] = '\0';
    }
}

static void sql_init(void)
{
    pthread_once(&sql_once, build_sql);
}

/* Maps row i of a SELECT of select_cols (and maybe more columns after them) into t. ERR_DB
 * when a cell breaks the model. */
static int row_to_task(const struct db_rows *r, size_t i, struct task *t)
{
    if (r->ncols < TASK_NFIELDS)
        return ERR_DB;
    for (size_t k = 0; k < TASK_NFIELDS; k++) {
        if (field_from_row(&task_fields[k], r, i, k, t) != ERR_OK) {
            log_error("tasks: column %s holds a value the model refuses", task_fields[k].name);
            return ERR_DB;
        }
    }
    return ERR_OK;
}

/* Formats t into the arena, or NULL for 0 ("no time"). */
static const char *time_text(struct arena *a, int64_t t)
{
    if (t <= 0 || t > TIME_MAX_UNIX)
        return NULL;
    char buf[TIME_TEXT_MAX];
    time_format(t, buf);
    return arena_strdup(a, buf);
}

/* Runs q (a one-task SELECT of select_cols by $1 id and $2 user) into out. */
static int fetch_task(struct store_conn *c, struct arena *a, const struct sql *q, const char *uid,
                      int64_t id, struct task *out)
{
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    return row_to_task(&rows, 0, out);
}

int tasks_get(struct store_conn *c, struct arena *a, const char *uid, int64_t id, struct task *out)
{
    sql_init();
    const struct sql q = {get_sql[DIALECT_SQLITE], get_sql[DIALECT_PG]};
    return fetch_task(c, a, &q, uid, id, out);
}

/* Reads the user's task and locks its row until the transaction ends, so that a
 * read-merge-write cannot lose a concurrent write (PostgreSQL, READ COMMITTED: a second
 * writer waits here and then reads the first one's committed row). A SQLite write
 * transaction (BEGIN IMMEDIATE) holds the whole database already. */
static int get_for_update(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                          struct task *out)
{
    sql_init();
    const struct sql q = {get_sql[DIALECT_SQLITE], get_lock_sql};
    return fetch_task(c, a, &q, uid, id, out);
}

/* Replaces the task's rows in task_tags (for filters and counts) with the list, in order;
 * tasks.tags_json, which the API returns, is written with the task's other columns. */
static int write_tags(struct store_conn *c, const char *uid, int64_t id, const struct field_list *l,
                      struct arena *a, bool clear_first)
{
    static const struct sql del = {"DELETE FROM task_tags WHERE task_id = $1", NULL};
    int rc = ERR_OK;
    if (clear_first) {
        struct db_param p[] = {P_INT(id)};
        rc = store_exec(c, &del, p, 1, NULL, NULL);
    }
    /* One INSERT of up to TAGS_PER_INSERT rows (a create with a few tags writes them in one
     * statement, not one each): $1 task, $2 owner, then each tag's name and folded name; the
     * position is the row's literal index. Each count of rows is its own cached statement. */
    enum { TAGS_PER_INSERT = (STORE_MAX_PARAMS - 2) / 2 };
    for (size_t from = 0; rc == ERR_OK && l && from < l->n; from += TAGS_PER_INSERT) {
        size_t n = l->n - from < TAGS_PER_INSERT ? l->n - from : TAGS_PER_INSERT;
        struct db_param p[STORE_MAX_PARAMS] = {P_INT(id), P_TEXT(uid)};
        char text[128 + TAGS_PER_INSERT * 40];
        struct dynbuf d;
        dyn_init_fixed(&d, text, sizeof(text));
        dyn_add(&d, "INSERT INTO task_tags (task_id, user_id, name, name_lower, position) VALUES ");
        for (size_t k = 0; k < n; k++) {
            const char *folded = text_fold(a, l->v[from + k]);
            if (!folded)
                return ERR_NOMEM;
            p[2 + 2 * k] = P_TEXT(l->v[from + k]);
            p[3 + 2 * k] = P_TEXT(folded);
            dyn_addf(&d, "%s($1, $2, $%zu, $%zu, %zu)", k ? ", " : "", 3 + 2 * k, 4 + 2 * k,
                     from + k);
        }
        if (dyn_err(&d))
            return ERR_TOOBIG;
        struct sql ins = {dyn_str(&d), NULL};
        rc = store_exec(c, &ins, p, 2 + 2 * n, a, NULL);
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
static const char *search_text(struct arena *a, const struct task *t)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, ARENA_MAX_BYTES);
    dyn_add(&d, t->title);
    dyn_addc(&d, '\n');
    dyn_add(&d, t->description);
    return dyn_err(&d) ? NULL : text_fold(a, dyn_str(&d));
}

static _Atomic(void (*)(const char *uid)) change_hook;

void tasks_on_change(void (*fn)(const char *uid))
{
    atomic_store(&change_hook, fn);
}

/* How long a write waits for the announcement of its new version (store_version_await). */
#define VERSION_AWAIT_MS 250

/* Records that the user's tasks changed (see tasks_version); call inside the write's
 * transaction. *ver is the new version. Tells the change hook (a hint: the write may not have
 * committed yet). */
static void version_taken(const char *uid, int64_t ver, bool track)
{
    if (track)
        task_rows_writing(uid, ver);
    void (*hook)(const char *) = atomic_load(&change_hook);
    if (hook)
        hook(uid);
}

static int bump_version_as(struct store_conn *c, struct arena *a, const char *uid, int64_t *ver,
                           bool track)
{
    static const struct sql q = {
        "UPDATE users SET tasks_version = tasks_version + 1 WHERE id = $1 RETURNING tasks_version",
        NULL};
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc == ERR_OK)
        rc = parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, ver);
    if (rc == ERR_OK)
        version_taken(uid, *ver, track);
    return rc;
}

/* bump_version of a write that reports its rows (task_rows_written) once it has ended. */
static int bump_version(struct store_conn *c, struct arena *a, const char *uid, int64_t *ver)
{
    return bump_version_as(c, a, uid, ver, true);
}

/* After a committed write (rc ERR_OK) that made uid's version ver: answers only once this
 * process has received the change's announcement, which PostgreSQL sends every replica's
 * listener at the same commit, so a client that goes to another replica next finds it
 * there too. */
static void announced(struct store_conn *c, const char *uid, int rc, int64_t ver)
{
    if (rc != ERR_OK || ver <= 0)
        return;
    /* A task write changes no session: the generation at ver - 1 holds at ver (when the
     * write bumped the version more than once, nothing is carried). */
    users_session_gen_carry(uid, ver - 1, ver);
    store_version_await(c, uid, ver, VERSION_AWAIT_MS);
}

/* The user's version, without a round trip when the store knows it (store_version_peek). */
int tasks_version(struct store_conn *c, struct arena *a, const char *uid, int64_t *out)
{
    static const struct sql q = {"SELECT tasks_version FROM users WHERE id = $1", NULL};
    struct store_vticket t;
    if (store_version_peek(c, uid, out, &t))
        return ERR_OK;
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    rc = parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, out);
    if (rc == ERR_OK)
        store_version_put(c, uid, *out, &t);
    return rc;
}

/* --- composed statements --- */

/* A statement being composed and its parameters; any overflow fails the whole. */
struct sqlq {
    struct dynbuf sql;
    struct db_param p[STORE_MAX_PARAMS];
    size_t np;
    bool overflow;
};

static void q_init(struct sqlq *q, struct arena *a)
{
    dyn_init_arena(&q->sql, a, TASK_SQL_MAX);
    q->np = 0;
    q->overflow = false;
}

/* Binds p as the next parameter and appends its placeholder ("$7"). */
static void q_bind(struct sqlq *q, struct db_param p)
{
    if (q->np >= STORE_MAX_PARAMS) {
        q->overflow = true;
        return;
    }
    q->p[q->np++] = p;
    dyn_addc(&q->sql, '$');
    dyn_add_int(&q->sql, (int64_t)q->np);
}

/* Appends clause, in which one "$?" stands for the new parameter p. */
static void q_clause(struct sqlq *q, const char *clause, struct db_param p)
{
    const char *mark = strstr(clause, "$?");
    if (!mark) {
        q->overflow = true;
        return;
    }
    dyn_addn(&q->sql, clause, (size_t)(mark - clause));
    q_bind(q, p);
    dyn_add(&q->sql, mark + 2);
}

/* The statement, or NULL when it did not fit. */
static const char *q_text(const struct sqlq *q)
{
    return q->overflow || dyn_err(&q->sql) ? NULL : dyn_str(&q->sql);
}

/* What a re-inserted row keeps from its earlier life (tasks_restore); NULL for a new task. */
struct row_origin {
    int64_t id;
    int64_t created_at;
    int64_t completed_at; /* 0 when it was not completed */
};

/* The row that inserting v for uid writes: the server's own fields set (the owner, the
 * times, the completion time; the id too when origin gives it). */
static struct task row_for(const char *uid, const struct task *v, int64_t now,
                           const struct row_origin *origin)
{
    struct task row = *v;
    row.id = origin ? origin->id : 0;
    row.user_id = uid;
    row.created_at = origin ? origin->created_at : now;
    row.updated_at = now;
    row.completed_at = !row.completed                       ? 0
                       : origin && origin->completed_at > 0 ? origin->completed_at
                                                            : now;
    return row;
}

/* Appends to q "INSERT INTO tasks (…) VALUES (…) RETURNING id" for row: every column of the
 * table (the id only when the row has one) and search_text. *tags_json is the tags' text
 * bound (what the column then holds). */
static void compose_insert(struct sqlq *q, struct arena *a, const struct task *row,
                           const char **tags_json)
{
    dyn_add(&q->sql, "INSERT INTO tasks (");
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        if (i == TASK_FIELD_ID && !row->id)
            continue; /* the database assigns it */
        dyn_add(&q->sql, field_column(&task_fields[i]));
        dyn_add(&q->sql, ", ");
    }
    dyn_add(&q->sql, "search_text) VALUES (");
    *tags_json = NULL;
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        if (i == TASK_FIELD_ID && !row->id)
            continue;
        struct db_param p = field_param(&task_fields[i], row, a);
        if (i == TASK_FIELD_TAGS)
            *tags_json = p.s;
        q_bind(q, p);
        dyn_add(&q->sql, ", ");
    }
    const char *search = search_text(a, row);
    if (!search)
        q->overflow = true;
    q_bind(q, P_TEXT(search));
    dyn_add(&q->sql, ") RETURNING id");
}

/* What reading the inserted row back would give: the values bound, the tags as their stored
 * JSON (a create read its row back, a statement more for nothing new). */
static int stored_row(const struct task *row, int64_t id, const char *tags_json,
                      struct task *stored)
{
    if (!tags_json)
        return ERR_NOMEM;
    *stored = *row;
    stored->id = id;
    stored->tags = (struct field_tags){tags_json, NULL};
    return ERR_OK;
}

/* Runs an insert built in q that returns one row with the new task's id first: sets *rows
 * and *id. none_rc when it returns no row, ERR_DB when the id is missing, else the store's. */
static int exec_insert(struct store_conn *c, struct arena *a, struct sqlq *q, int none_rc,
                       struct db_rows *rows, int64_t *id)
{
    const char *text = q_text(q);
    if (!text)
        return ERR_TOOBIG;
    struct sql stmt = {text, NULL};
    int rc = store_exec(c, &stmt, q->p, q->np, a, rows);
    if (rc == ERR_OK && rows->nrows != 1)
        rc = none_rc;
    if (rc == ERR_OK && (!db_int(rows, 0, 0, id) || *id <= 0))
        rc = ERR_DB;
    return rc;
}

/* Inserts the task v for uid (row_for) and sets *id; *stored (when not NULL) to the row
 * as stored. */
static int insert_task(struct store_conn *c, struct arena *a, const char *uid, const struct task *v,
                       int64_t now, const struct row_origin *origin, int64_t *id,
                       struct task *stored)
{
    struct task row = row_for(uid, v, now, origin);
    struct sqlq *q = arena_alloc(a, sizeof(*q));
    if (!q)
        return ERR_NOMEM;
    q_init(q, a);
    const char *tags_json;
    compose_insert(q, a, &row, &tags_json);
    struct db_rows rows;
    int rc = exec_insert(c, a, q, ERR_DB, &rows, id);
    if (rc == ERR_OK && stored)
        rc = stored_row(&row, *id, tags_json, stored);
    return rc;
}

/* The most tags a PostgreSQL create writes in its one statement: $1 the owner, the task's 14
 * columns, two per tag. A create with more takes the statements one by one. */
#define CREATE_ONE_TAGS ((STORE_MAX_PARAMS - 15) / 2)

/* A create on PostgreSQL in one statement, which is its own transaction: the version bump,
 * the task and its tag rows, so a create costs one round trip instead of one per statement
 * and BEGIN and COMMIT. Sets *id, *ver (and version_taken), *gen (the user's session
 * generation at *ver) and *out. The caller announces the
 * write before (task_rows_writing with TASK_ROWS_VERSION_UNKNOWN): its version is known only
 * after the commit, which other threads may learn of first. Only running out of memory for
 * the answer can fail it once the statement has run, and the task then stays created. */
static int create_one(struct store_conn *c, struct arena *a, const char *uid, const struct task *v,
                      int64_t now, int64_t *id, int64_t *ver, int64_t *gen, struct task *out)
{
    struct task row = row_for(uid, v, now, NULL);
    struct sqlq *q = arena_alloc(a, sizeof(*q));
    if (!q)
        return ERR_NOMEM;
    q_init(q, a);
    dyn_add(&q->sql, "WITH v AS (UPDATE users SET tasks_version = tasks_version + 1 WHERE id = ");
    q_bind(q, P_TEXT(uid)); /* $1 */
    dyn_add(&q->sql, " RETURNING tasks_version, session_gen), i AS (");
    const char *tags_json;
    compose_insert(q, a, &row, &tags_json);
    dyn_add(&q->sql, ")");
    const struct field_list *l = v->tags.list;
    if (l && l->n > 0) {
        dyn_add(&q->sql, ", g AS (INSERT INTO task_tags (task_id, user_id, name, name_lower, "
                         "position) SELECT i.id, $1, x.n, x.l, x.p FROM i, (VALUES ");
        for (size_t k = 0; k < l->n; k++) {
            const char *folded = text_fold(a, l->v[k]);
            if (!folded)
                return ERR_NOMEM;
            dyn_add(&q->sql, k ? ", (" : "(");
            q_bind(q, P_TEXT(l->v[k]));
            dyn_add(&q->sql, ", ");
            q_bind(q, P_TEXT(folded));
            dyn_addf(&q->sql, ", %zu)", k);
        }
        dyn_add(&q->sql, ") AS x (n, l, p))");
    }
    dyn_add(&q->sql, " SELECT i.id, v.tasks_version, v.session_gen FROM i, v");
    struct db_rows rows;
    int rc = exec_insert(c, a, q, ERR_NOTFOUND, &rows, id); /* no row: no such user */
    if (rc == ERR_OK && (!db_int(&rows, 0, 1, ver) || !db_int(&rows, 0, 2, gen)))
        rc = ERR_DB;
    if (rc == ERR_OK)
        version_taken(uid, *ver, true);
    if (rc == ERR_OK)
        rc = stored_row(&row, *id, tags_json, out);
    return rc;
}

int tasks_create(struct store_conn *c, struct arena *a, const char *uid,
                 const struct task_input *in, struct task *out)
{
    if (task_input_check(in, TASK_CREATE) != ERR_OK)
        return ERR_INVALID;
    int64_t now = now_unix();
    int64_t id = 0;
    int rc;
    int64_t ver = 0;
    if (store_conn_kind(c) == DB_POSTGRES &&
        (!in->v.tags.list || in->v.tags.list->n <= CREATE_ONE_TAGS)) {
        task_rows_writing(uid, TASK_ROWS_VERSION_UNKNOWN);
        int64_t gen;
        rc = create_one(c, a, uid, &in->v, now, &id, &ver, &gen, out);
        if (rc == ERR_OK) /* the user's row, locked: the generation at this version */
            users_session_gen_known(uid, ver, gen);
    } else {
        IN_TRANSACTION(c, rc, {
            rc = insert_task(c, a, uid, &in->v, now, NULL, &id, out);
            if (rc == ERR_OK)
                rc = write_tags(c, uid, id, in->v.tags.list, a, false);
            if (rc == ERR_OK)
                rc = bump_version(c, a, uid, &ver);
        });
    }
    task_rows_written(uid, ver, rc == ERR_OK, out, 1, 1, 0, a);
    announced(c, uid, rc, ver);
    return rc;
}

int tasks_create_in(struct store_conn *c, struct arena *a, const char *uid,
                    const struct task_input *in, int64_t *id)
{
    if (task_input_check(in, TASK_CREATE) != ERR_OK)
        return ERR_INVALID;
    int rc = insert_task(c, a, uid, &in->v, now_unix(), NULL, id, NULL);
    if (rc == ERR_OK)
        rc = write_tags(c, uid, *id, in->v.tags.list, a, false);
    int64_t ver; /* the caller commits: other replicas learn of it by notification alone */
    if (rc == ERR_OK)
        rc = bump_version_as(c, a, uid, &ver, false); /* an import: the rows reload */
    return rc;
}

/* The fields an input may set (the table's writable ones). */
static unsigned writable_fields(void)
{
    unsigned set = 0;
    for (size_t i = 0; i < TASK_NFIELDS; i++)
        if (!(task_fields[i].flags & FF_READONLY))
            set |= 1u << i;
    return set;
}

/* Sets the given fields (TF_* bits of writable fields) of the user's task id to v's values,
 * with updated_at, search_text (when the title or description is set) and completed_at
 * (when completion is set: the first completion time is kept, reopening clears it). */
static int update_row(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                      const struct task *v, unsigned fields, int64_t now)
{
    struct sqlq *q = arena_alloc(a, sizeof(*q));
    if (!q)
        return ERR_NOMEM;
    q_init(q, a);
    q->p[q->np++] = P_INT(id); /* $1, $2 and $3 are fixed */
    q->p[q->np++] = P_TEXT(uid);
    q->p[q->np++] = P_TEXT(time_text(a, now));
    dyn_add(&q->sql, "UPDATE tasks SET updated_at = $3");
    size_t completed_param = 0;
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        const struct field_spec *f = &task_fields[i];
        if (!(fields & (1u << i)) || (f->flags & FF_READONLY))
            continue;
        dyn_add(&q->sql, ", ");
        dyn_add(&q->sql, field_column(f));
        dyn_add(&q->sql, " = ");
        q_bind(q, field_param(f, v, a));
        if (i == TASK_FIELD_COMPLETED)
            completed_param = q->np;
    }
    if (fields & (TF_TITLE | TF_DESCRIPTION))
        q_clause(q, ", search_text = $?", P_TEXT(search_text(a, v)));
    if (completed_param) {
        /* $n is the boolean bound above and $3 the update time, so both dialects can type
         * every parameter. */
        dyn_add(&q->sql, ", completed_at = CASE WHEN $");
        dyn_add_int(&q->sql, (int64_t)completed_param);
        dyn_add(&q->sql, " THEN COALESCE(completed_at, $3) ELSE NULL END");
    }
    dyn_add(&q->sql, " WHERE id = $1 AND " OWNER_CHECK(""));
    const char *text = q_text(q);
    if (!text)
        return ERR_TOOBIG;
    struct sql stmt = {text, NULL};
    struct db_rows rows;
    int rc = store_exec(c, &stmt, q->p, q->np, a, &rows);
    if (rc == ERR_OK && rows.changes == 0)
        rc = ERR_NOTFOUND;
    return rc;
}

static int spawn_next(struct store_conn *c, struct arena *a, const char *uid, const struct task *t,
                      int64_t now, int64_t *next_id);

/* Copies the fields present in patch onto base. */
static void merge(struct task *base, const struct task_input *patch)
{
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        const struct field_spec *f = &task_fields[i];
        if (patch->present & (1u << i))
            memcpy((char *)base + f->offset, (const char *)&patch->v + f->offset, f->size);
    }
}

int tasks_update(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                 const struct task_input *in, struct task *out)
{
    if (task_input_check(in, TASK_PATCH) != ERR_OK)
        return ERR_INVALID;
    /* Every writable column, so the statement has one shape (two with tags). */
    const unsigned fields = (writable_fields() & ~(unsigned)TF_TAGS) | (in->present & TF_TAGS);
    int64_t now = now_unix();
    int rc;
    int64_t ver = 0;
    /* Read, merge, write the whole row: every path that completes a recurring task then
     * creates its next occurrence, as /complete does. */
    bool spawned = false;
    IN_TRANSACTION(c, rc, {
        struct task cur;
        struct task merged;
        rc = get_for_update(c, a, uid, id, &cur);
        if (rc == ERR_OK) {
            merged = cur;
            merge(&merged, in);
            rc = update_row(c, a, uid, id, &merged, fields, now);
        }
        if (rc == ERR_OK && (in->present & TF_TAGS))
            rc = write_tags(c, uid, id, merged.tags.list, a, true);
        if (rc == ERR_OK && merged.completed && !cur.completed && merged.recurrence != REC_NONE) {
            int64_t next_id;
            rc = spawn_next(c, a, uid, &merged, now, &next_id);
            spawned = true;
        }
        if (rc == ERR_OK)
            rc = bump_version(c, a, uid, &ver);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    /* a next occurrence spawned here is not read back: the rows reload */
    task_rows_written(uid, ver, rc == ERR_OK && !spawned, out, 1, 0, 0, a);
    announced(c, uid, rc, ver);
    return rc;
}

/* Keeps t's API JSON in deleted_tasks, so tasks_restore can bring it back. */
static int trash_put(struct store_conn *c, struct arena *a, const char *uid, const struct task *t,
                     int64_t now)
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
    struct db_param p[] = {P_INT(t->id), P_TEXT(uid), P_TEXT(json), P_TEXT(time_text(a, now))};
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

int tasks_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                 const char *uploads)
{
    static const struct sql del = {"DELETE FROM tasks WHERE id = $1 AND " OWNER_CHECK(""), NULL};
    static const struct sql forget = {"DELETE FROM deleted_tasks WHERE task_id = $1", NULL};
    static const struct sql files = {
        "SELECT count(*) FROM attachments WHERE task_id = $1 AND user_id = $2", NULL};
    int64_t now = now_unix();
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    int rc;
    int64_t ver = 0, nfiles = 0;
    IN_TRANSACTION(c, rc, {
        struct task t;
        struct db_rows rows;
        rc = get_for_update(c, a, uid, id, &t);
        if (rc == ERR_OK)
            rc = store_exec(c, &files, p, ARRAY_LEN(p), a, &rows);
        if (rc == ERR_OK &&
            (rows.nrows != 1 || parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, &nfiles) != ERR_OK))
            rc = ERR_DB;
        if (rc == ERR_OK)
            rc = store_exec(c, &del, p, ARRAY_LEN(p), a, &rows);
        if (rc == ERR_OK && rows.changes == 0)
            rc = ERR_NOTFOUND;
        if (rc == ERR_OK) /* a stale entry for this id (expired, not yet purged) */
            rc = store_exec(c, &forget, p, 1, a, NULL);
        if (rc == ERR_OK)
            rc = trash_put(c, a, uid, &t, now);
        if (rc == ERR_OK)
            rc = bump_version(c, a, uid, &ver);
    });
    task_rows_written(uid, ver, rc == ERR_OK, NULL, 0, 0, id, a);
    announced(c, uid, rc, ver);
    trash_purge(c, a);
    /* The attachments' rows went with the task (ON DELETE CASCADE); their files now, after the
     * commit and under the user's lock (attachments_collect), whichever way the task was
     * deleted. A failure leaves the files to the next collection: the task is gone. */
    if (rc == ERR_OK && nfiles > 0 && uploads) {
        int crc = attachments_collect(c, a, uid, uploads);
        if (crc != ERR_OK)
            log_warn("attachments: collecting a deleted task's files failed: %s", err_str(crc));
    }
    return rc;
}

/* Reads a time of a snapshot (NULL or absent: 0). */
static int snapshot_time(yyjson_val *root, const char *key, int64_t *out)
{
    yyjson_val *v = yyjson_obj_get(root, key);
    *out = 0;
    if (!v || yyjson_is_null(v))
        return ERR_OK;
    return time_parse(yyjson_get_str(v), DATE_ONLY_REJECT, out);
}

/* Reads a deleted task's snapshot back: the fields a client can set through the task rules
 * (so a field added to the table is restored with no change here), the rest into origin. */
static int snapshot_read(struct arena *a, const char *json, int64_t id, struct task_input *in,
                         struct row_origin *origin)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *doc = yyjson_read_opts((char *)json, strlen(json), 0, &alc, NULL);
    yyjson_val *root = yyjson_doc_get_root(doc);
    struct verrors errs = {0};
    if (!root || task_input_parse(root, TASK_CREATE, "snapshot", a, in, &errs) != ERR_OK)
        return ERR_INVALID;
    origin->id = id;
    if (snapshot_time(root, "created_at", &origin->created_at) != ERR_OK ||
        snapshot_time(root, "completed_at", &origin->completed_at) != ERR_OK)
        return ERR_INVALID;
    return origin->created_at > 0 ? ERR_OK : ERR_INVALID;
}

int tasks_restore(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                  struct task *out)
{
    static const struct sql take = {"DELETE FROM deleted_tasks WHERE task_id = $1 AND "
                                    "user_id = $2 AND deleted_at >= $3 RETURNING snapshot",
                                    NULL};
    int64_t now = now_unix();
    const char *cutoff = time_text(a, now - TASK_RESTORE_SECONDS);
    struct db_param p[] = {P_INT(id), P_TEXT(uid), P_TEXT(cutoff)};
    int rc;
    int64_t ver = 0;
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
            rc = insert_task(c, a, uid, &in.v, now, &origin, &got, NULL);
        if (rc == ERR_OK)
            rc = write_tags(c, uid, id, in.v.tags.list, a, false);
        if (rc == ERR_OK)
            rc = bump_version(c, a, uid, &ver);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    task_rows_written(uid, ver, rc == ERR_OK, out, 1, 1, 0, a);
    announced(c, uid, rc, ver);
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

/* Creates the next occurrence of t (being completed): the same fields, pending, due one
 * interval later (its reminder moved alike), with t's tags. Returns its id, or 0 when the
 * series has ended (its next due date would pass year 9999). ERR_RANGE when only its
 * reminder (set after the due date) would pass year 9999. */
static int spawn_next(struct store_conn *c, struct arena *a, const char *uid, const struct task *t,
                      int64_t now, int64_t *next_id)
{
    static const struct sql copy_tags = {
        "INSERT INTO task_tags (task_id, user_id, name, name_lower, position) "
        "SELECT $1, user_id, name, name_lower, position FROM task_tags WHERE task_id = $2",
        NULL};
    struct task next = *t;
    next.completed = false;
    int64_t base = t->due_at > 0 ? t->due_at : now;
    next.due_at = advance(base, t->recurrence, t->recurrence_interval);
    *next_id = 0;
    if (next.due_at > TIME_MAX_UNIX)
        return ERR_OK; /* past year 9999 the series simply ends */
    if (t->remind_at > 0)
        next.remind_at = t->remind_at + (next.due_at - base);
    if (next.remind_at > TIME_MAX_UNIX)
        return ERR_RANGE; /* a reminder after the due date, pushed past year 9999: refused */
    int rc = insert_task(c, a, uid, &next, now, NULL, next_id, NULL);
    if (rc == ERR_OK) {
        struct db_param p[] = {P_INT(*next_id), P_INT(t->id)};
        rc = store_exec(c, &copy_tags, p, ARRAY_LEN(p), a, NULL);
    }
    return rc;
}

int tasks_complete(struct store_conn *c, struct arena *a, const char *uid, int64_t id, int set,
                   struct task *out, struct task *next, bool *has_next)
{
    int64_t now = now_unix();
    *has_next = false;
    int rc;
    int64_t ver = 0;
    IN_TRANSACTION(c, rc, {
        struct task cur;
        struct task done;
        rc = get_for_update(c, a, uid, id, &cur);
        if (rc == ERR_OK) {
            done = cur;
            done.completed = set < 0 ? !cur.completed : set == 1;
            rc = update_row(c, a, uid, id, &done, TF_COMPLETED, now);
        }
        int64_t next_id = 0;
        if (rc == ERR_OK && cur.recurrence != REC_NONE && done.completed && !cur.completed) {
            rc = spawn_next(c, a, uid, &cur, now, &next_id);
            if (rc == ERR_OK && next_id) /* 0: the series ended (past year 9999) */
                rc = tasks_get(c, a, uid, next_id, next);
            *has_next = rc == ERR_OK && next_id;
        }
        if (rc == ERR_OK)
            rc = bump_version(c, a, uid, &ver);
        if (rc == ERR_OK)
            rc = tasks_get(c, a, uid, id, out);
    });
    struct task written[2];
    if (rc == ERR_OK) {
        written[0] = *out;
        if (*has_next)
            written[1] = *next;
    }
    task_rows_written(uid, ver, rc == ERR_OK, written, *has_next ? 2 : 1, *has_next ? 1 : 0, 0, a);
    announced(c, uid, rc, ver);
    return rc;
}

/* --- listing --- */

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

/*
 * The listing's filters, each in its two forms side by side: the SQL condition the database
 * evaluates (where) and the same condition on a task row held in memory (match, for
 * domain/task_rows.c), so neither can change alone. One row per TASK_FILTER_FIELDS field that
 * narrows the list; sort, order, limit and offset are the order and the page (below), and
 * filter_ops_complete checks that every other field has both forms.
 */
static void where_status(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    (void)a;
    if (f->status != STATUS_ALL)
        q_clause(q, " AND t.completed = $?", P_BOOL(f->status == STATUS_COMPLETED));
}
static bool match_status(const struct task_row *r, const struct task_match *m)
{
    return r->completed == (m->f->status == STATUS_COMPLETED);
}

static void where_priority(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    (void)a;
    if (f->priority >= 0)
        q_clause(q, " AND t.priority = $?", P_TEXT(task_priority_names[f->priority]));
}
static bool match_priority(const struct task_row *r, const struct task_match *m)
{
    return (int)r->priority == m->f->priority;
}

static void where_tags(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    for (size_t i = 0; f->tags.list && i < f->tags.list->n; i++)
        q_clause(q,
                 " AND EXISTS (SELECT 1 FROM task_tags g WHERE g.task_id = t.id AND "
                 "g.name_lower = $?)",
                 P_TEXT(text_fold(a, f->tags.list->v[i])));
}
/* task_tags.name_lower is text_fold of each tag (write_tags), as r->tags holds. */
static bool match_tags(const struct task_row *r, const struct task_match *m)
{
    for (size_t i = 0; i < m->ntags; i++) {
        size_t k = 0;
        while (k < r->ntags && strcmp(r->tags[k], m->tags[i]) != 0)
            k++;
        if (k == r->ntags)
            return false;
    }
    return true;
}

static void where_search(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    if (f->search)
        q_clause(q, " AND t.search_text LIKE $? ESCAPE '\\'",
                 P_TEXT(like_pattern(a, text_fold(a, f->search))));
}
/* LIKE '%…%' with every wildcard escaped is a substring test on the folded text. */
static bool match_search(const struct task_row *r, const struct task_match *m)
{
    return strstr(r->search, m->search) != NULL;
}

/* A bound the SQL compares with a time's text, which time_text gives only for times in range
 * (else NULL, and a comparison with NULL holds for no row). */
static bool time_bound_ok(int64_t t)
{
    return t > 0 && t <= TIME_MAX_UNIX;
}

static void where_due_before(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    if (f->due_before)
        q_clause(q, " AND t.due_at <= $?", P_TEXT(time_text(a, f->due_before)));
}
static bool match_due_before(const struct task_row *r, const struct task_match *m)
{
    return time_bound_ok(m->f->due_before) && r->due_at && r->due_at <= m->f->due_before;
}

static void where_due_after(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    if (f->due_after)
        q_clause(q, " AND t.due_at >= $?", P_TEXT(time_text(a, f->due_after)));
}
static bool match_due_after(const struct task_row *r, const struct task_match *m)
{
    return time_bound_ok(m->f->due_after) && r->due_at && r->due_at >= m->f->due_after;
}

/* Overdue is read at the request's time (FF_CLOCK): never cached as a page. */
static void where_overdue(struct sqlq *q, struct arena *a, const struct task_filter *f)
{
    if (f->overdue < 0)
        return;
    const char *now = time_text(a, now_unix());
    q_clause(q, f->overdue ? " AND t.completed = $?" : " AND (t.completed <> $?", P_BOOL(false));
    q_clause(q, f->overdue ? " AND t.due_at < $?" : " OR t.due_at IS NULL OR t.due_at >= $?)",
             P_TEXT(now));
}
static bool match_overdue(const struct task_row *r, const struct task_match *m)
{
    bool overdue = !r->completed && r->due_at && r->due_at < m->now;
    return m->f->overdue ? overdue : !overdue;
}

/* Whether a filter field narrows f's listing (its match must run). */
static bool filter_set(size_t field, const struct task_filter *f)
{
    switch (field) {
    case TASK_FILTER_STATUS:
        return f->status != STATUS_ALL;
    case TASK_FILTER_PRIORITY:
        return f->priority >= 0;
    case TASK_FILTER_TAGS:
        return f->tags.list && f->tags.list->n > 0;
    case TASK_FILTER_SEARCH:
        return f->search != NULL;
    case TASK_FILTER_DUE_BEFORE:
        return f->due_before != 0;
    case TASK_FILTER_DUE_AFTER:
        return f->due_after != 0;
    case TASK_FILTER_OVERDUE:
        return f->overdue >= 0;
    default:
        return false;
    }
}

struct filter_op {
    void (*where)(struct sqlq *q, struct arena *a, const struct task_filter *f);
    task_match_fn match;
};

static const struct filter_op filter_ops[TASK_FILTER_NFIELDS] = {
    [TASK_FILTER_STATUS] = {where_status, match_status},
    [TASK_FILTER_PRIORITY] = {where_priority, match_priority},
    [TASK_FILTER_TAGS] = {where_tags, match_tags},
    [TASK_FILTER_SEARCH] = {where_search, match_search},
    [TASK_FILTER_DUE_BEFORE] = {where_due_before, match_due_before},
    [TASK_FILTER_DUE_AFTER] = {where_due_after, match_due_after},
    [TASK_FILTER_OVERDUE] = {where_overdue, match_overdue},
    /* SORT, ORDER, LIMIT, OFFSET: the order and the page, not conditions */
};

bool task_filter_ops_complete(void)
{
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++) {
        bool paging = i == TASK_FILTER_SORT || i == TASK_FILTER_ORDER || i == TASK_FILTER_LIMIT ||
                      i == TASK_FILTER_OFFSET;
        if (!paging && (!filter_ops[i].where || !filter_ops[i].match))
            return false;
    }
    return true;
}

/* The WHERE clause of a listing: one condition per filter field that is set. */
static bool build_where(struct sqlq *q, struct arena *a, const char *uid,
                        const struct task_filter *f)
{
    q_clause(q, " WHERE t.user_id = $?", P_TEXT(uid));
    size_t owner_only = dyn_len(&q->sql);
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++)
        if (filter_ops[i].where)
            filter_ops[i].where(q, a, f);
    return dyn_len(&q->sql) != owner_only;
}

int task_match_init(struct task_match *m, struct arena *a, const struct task_filter *f)
{
    memset(m, 0, sizeof(*m));
    m->f = f;
    m->now = now_unix();
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++)
        if (filter_ops[i].match && filter_set(i, f))
            m->fns[m->nfns++] = filter_ops[i].match;
    for (size_t i = 0; f->tags.list && i < f->tags.list->n && i < TASK_MAX_TAGS; i++) {
        if (!(m->tags[i] = text_fold(a, f->tags.list->v[i])))
            return ERR_NOMEM;
        m->ntags++;
    }
    if (f->search && !(m->search = text_fold(a, f->search)))
        return ERR_NOMEM;
    return ERR_OK;
}

bool task_row_matches(const struct task_row *r, const struct task_match *m)
{
    for (size_t i = 0; i < m->nfns; i++)
        if (!m->fns[i](r, m))
            return false;
    return true;
}

/* The ORDER BY of a (checked) filter, per dialect, and below it the same order on rows in
 * memory (task_row_cmp). PostgreSQL lowers and compares the title in the "C" collation, as
 * SQLite's lower() and BINARY collation do: ASCII letters lowered, then bytes compared, the
 * same order on both backends whatever the database's locale. */
static const char *order_by(const struct task_filter *f, int dialect)
{
    static const char *clauses[][2] = {
        /* asc, desc */
        [SORT_CREATED] = {" ORDER BY t.created_at ASC, t.id ASC",
                          " ORDER BY t.created_at DESC, t.id DESC"},
        [SORT_UPDATED] = {" ORDER BY t.updated_at ASC, t.id ASC",
                          " ORDER BY t.updated_at DESC, t.id DESC"},
        [SORT_TITLE] = {" ORDER BY lower(t.title) ASC, t.id ASC",
                        " ORDER BY lower(t.title) DESC, t.id DESC"},
        [SORT_DUE] = {" ORDER BY t.due_at IS NULL, t.due_at ASC, t.id ASC",
                      " ORDER BY t.due_at IS NULL, t.due_at DESC, t.id DESC"},
        [SORT_PRIORITY] = {" ORDER BY CASE t.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 "
                           "ELSE 2 END ASC, t.created_at DESC, t.id DESC",
                           " ORDER BY CASE t.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 "
                           "ELSE 2 END DESC, t.created_at DESC, t.id DESC"},
    };
    static const char *pg_title[2] = {" ORDER BY lower(t.title COLLATE \"C\") ASC, t.id ASC",
                                      " ORDER BY lower(t.title COLLATE \"C\") DESC, t.id DESC"};
    _Static_assert(ARRAY_LEN(clauses) == SORT_PRIORITY + 1, "a clause per sort");
    int desc = task_filter_desc(f);
    if (f->sort == SORT_TITLE && dialect == DIALECT_PG)
        return pg_title[desc];
    return clauses[f->sort][desc];
}

bool task_filter_desc(const struct task_filter *f)
{
    /* Newest first by default for times; alphabetical, soonest and most urgent first. */
    return f->order >= 0 ? f->order == ORDER_DESC
                         : (f->sort == SORT_CREATED || f->sort == SORT_UPDATED);
}

static int cmp_i64(int64_t x, int64_t y)
{
    return (x > y) - (x < y);
}

int task_row_cmp(const struct task_row *x, const struct task_row *y, enum task_sort sort, bool desc)
{
    int c;
    switch (sort) {
    case SORT_CREATED:
        c = cmp_i64(x->created_at, y->created_at);
        break;
    case SORT_UPDATED:
        c = cmp_i64(x->updated_at, y->updated_at);
        break;
    case SORT_TITLE:
        c = strcmp(x->title_lower, y->title_lower);
        break;
    case SORT_DUE:
        if (!x->due_at != !y->due_at) /* "due_at IS NULL" first: nulls last either way */
            return !x->due_at ? 1 : -1;
        c = cmp_i64(x->due_at, y->due_at);
        break;
    case SORT_PRIORITY: /* rank in the order asked, then newest first */
        c = cmp_i64(x->priority, y->priority);
        if (c)
            return desc ? -c : c;
        c = cmp_i64(x->created_at, y->created_at);
        return c ? -c : -cmp_i64(x->id, y->id);
    default:
        return 0;
    }
    if (!c)
        c = cmp_i64(x->id, y->id);
    return desc ? -c : c;
}

/* The total of a listing whose page did not show it: one count(*) with the page's filter;
 * without a filter, the user's task count (users.task_count, which triggers keep in each
 * write's transaction), a point read instead of counting all of a large user's tasks. */
static int count_tasks(struct store_conn *c, struct arena *a, struct sqlq *q, const char *uid,
                       const struct task_filter *f, int64_t *total)
{
    q_init(q, a);
    dyn_add(&q->sql, "SELECT count(*) FROM tasks t");
    if (!build_where(q, a, uid, f)) {
        q_init(q, a);
        q_clause(q, "SELECT task_count FROM users WHERE id = $?", P_TEXT(uid));
    }
    const char *text = q_text(q);
    if (!text)
        return ERR_TOOBIG;
    struct sql count_q = {text, NULL};
    struct db_rows rows;
    int rc = store_exec(c, &count_q, q->p, q->np, a, &rows);
    if (rc != ERR_OK)
        return rc;
    *total = 0;
    if (rows.nrows && parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, total) != ERR_OK)
        return ERR_DB;
    return ERR_OK;
}

/*
 * One statement per page. The page is read with one row more than the limit: when that row is
 * not there, the page is the listing's last and its total is the offset plus the rows read, so
 * most lists (the whole list fits a page) are one statement, one round trip on PostgreSQL.
 * Without a filter, the page's statement also reads the user's task count (users.task_count,
 * a primary-key read in a sub-query run once), so a page of a large user is one round trip
 * too. Otherwise only a page with more tasks behind it, or an empty page past the end, runs
 * the count(*). (Counting the tasks inside the page's statement, as a sub-query, was tried on
 * PostgreSQL: its generic plan, made while a database holds few users, scanned the whole
 * table on every list, however few tasks the user had.) A filtered page and its count are two
 * statements outside a transaction, so they are not one snapshot.
 */
int tasks_list(struct store_conn *c, struct arena *a, const char *uid, const struct task_filter *f,
               struct task **out, size_t *n, int64_t *total)
{
    if (task_filter_check(f) != ERR_OK)
        return ERR_INVALID;
    struct sqlq *q = arena_alloc(a, sizeof(*q)); /* no zero-fill: 0.5 KiB of parameters */
    if (!q)
        return ERR_NOMEM;

    /* The same statement in both dialects but for the column list (see build_sql) and the
     * order (order_by): the conditions, then the page. */
    sql_init();
    q_init(q, a);
    bool filtered = build_where(q, a, uid, f); /* $1 is the owner */
    size_t where_len = dyn_len(&q->sql);
    q_clause(q, " LIMIT $?", P_INT(f->limit + 1));
    q_clause(q, " OFFSET $?", P_INT(f->offset));
    const char *tail = q_text(q);
    if (!tail)
        return ERR_TOOBIG;
    const char *texts[DIALECTS];
    for (int k = 0; k < DIALECTS; k++) {
        struct dynbuf d;
        dyn_init_arena(&d, a, TASK_COLS_MAX + TASK_SQL_MAX);
        dyn_add(&d, "SELECT ");
        dyn_add(&d, select_cols[k]);
        if (!filtered)
            dyn_add(&d, ", (SELECT task_count FROM users WHERE id = $1)");
        dyn_add(&d, " FROM tasks t");
        dyn_addn(&d, tail, where_len);
        dyn_add(&d, order_by(f, k));
        dyn_add(&d, tail + where_len);
        if (dyn_err(&d))
            return ERR_TOOBIG;
        texts[k] = dyn_str(&d);
    }
    struct sql list_q = {texts[DIALECT_SQLITE], texts[DIALECT_PG]};
    struct db_rows rows;
    int rc = store_exec(c, &list_q, q->p, q->np, a, &rows);
    if (rc != ERR_OK)
        return rc;
    bool more = rows.nrows > (size_t)f->limit;
    *n = more ? (size_t)f->limit : rows.nrows;
    *out = arena_alloc(a, (*n ? *n : 1) * sizeof(struct task));
    if (!*out)
        return ERR_NOMEM;
    for (size_t i = 0; rc == ERR_OK && i < *n; i++)
        rc = row_to_task(&rows, i, &(*out)[i]);
    if (rc != ERR_OK)
        return rc;
    if (!more && (*n > 0 || f->offset == 0)) {
        *total = (int64_t)f->offset + (int64_t)*n;
        return ERR_OK;
    }
    if (!filtered && rows.nrows > 0) /* the count read with the page: its last column */
        return db_int(&rows, 0, rows.ncols - 1, total) ? ERR_OK : ERR_DB;
    return count_tasks(c, a, q, uid, f, total);
}

int tasks_read_all(struct store_conn *c, struct arena *a, const char *uid, size_t max,
                   struct task **out, const char ***search, size_t *n, int64_t *version,
                   int64_t *count)
{
    sql_init();
    if (!rows_sql[DIALECT_SQLITE][0] || max >= STORE_MAX_ROWS)
        return ERR_INVALID;
    struct sql q = {rows_sql[DIALECT_SQLITE], rows_sql[DIALECT_PG]};
    struct db_param p[] = {P_TEXT(uid), P_INT(max)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows == 0)
        return ERR_NOTFOUND; /* no such user */
    if (rows.nrows > max || rows.ncols != TASK_NFIELDS + 3 ||
        !db_int(&rows, 0, TASK_NFIELDS + 1, version) || !db_int(&rows, 0, TASK_NFIELDS + 2, count))
        return ERR_DB;
    /* A user without tasks is one row of NULLs from the outer join. */
    *n = db_cell(&rows, 0, TASK_FIELD_ID) ? rows.nrows : 0;
    *out = arena_alloc(a, (*n ? *n : 1) * sizeof(struct task));
    *search = arena_alloc(a, (*n ? *n : 1) * sizeof(char *));
    if (!*out || !*search)
        return ERR_NOMEM;
    for (size_t i = 0; rc == ERR_OK && i < *n; i++) {
        rc = row_to_task(&rows, i, &(*out)[i]);
        const char *s = db_cell(&rows, i, TASK_NFIELDS);
        (*search)[i] = s ? s : "";
    }
    return rc;
}

const char *task_search_text(struct arena *a, const struct task *t)
{
    return search_text(a, t);
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
    int64_t *counts[] = {&out->total, &out->completed, &out->overdue, &out->due_today};
    for (size_t i = 0; i < ARRAY_LEN(counts); i++)
        if (parse_int64(db_cell(&rows, 0, i), 0, INT64_MAX, counts[i]) != ERR_OK)
            return ERR_DB;
    out->pending = out->total - out->completed;
    return ERR_OK;
}
