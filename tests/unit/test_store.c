/*
 * Unit tests for storage on SQLite (src/store/{store,sqlite,migrations}.c with
 * src/domain/{users,tasks}.c): migrations, accounts (case-insensitive unique email), the
 * task lifecycle, isolation between two users on every operation, recurring completion
 * with month-end clamping, listing filters and sorts, tags and statistics, and how
 * store_exec maps SQLite's errors. Each test gets a fresh database file and two users,
 * Alice and Bob, from the shared fixture (unit_store.h).
 */
#include "unit.h"

#include "core/log.h"
#include "core/timefmt.h"
#include "core/verror.h"
#include "domain/tasks.h"
#include "unit_store.h"

/* A migrated SQLite store opened from url_text (the :memory: test's; the other tests use
 * unit_store.h's fixture). 0, or -1 with nothing left open. */
static int open_store(const char *url_text, struct db_url *url, struct store **out)
{
    char why[256];
    if (db_url_parse(url_text, url, why, sizeof(why)) != ERR_OK) {
        print_error("db_url_parse(%s): %s\n", url_text, why);
        return -1;
    }
    struct store_options o = {.url = url, .pool_size = 1, .max_overflow = 0};
    if (store_open(&o, out) != ERR_OK) {
        db_url_free(url);
        return -1;
    }
    if (store_migrate(*out) != ERR_OK) {
        store_close(*out);
        db_url_free(url);
        return -1;
    }
    return 0;
}

/* Parses json as a task body in the given mode; fails the test when it is refused. */
static struct task_input input(struct fixture *f, const char *json, enum task_input_mode mode)
{
    struct task_input in;
    struct verrors errs = {0};
    yyjson_doc *doc = unit_json(f->a, json);
    int rc = task_input_parse(yyjson_doc_get_root(doc), mode, "body", f->a, &in, &errs);
    if (rc != ERR_OK)
        fail_msg("test body refused (%s: %s): %s", errs.n ? errs.e[0].field : "-",
                 errs.n ? errs.e[0].msg : "-", json);
    return in;
}

/* Creates a task for uid from a JSON body and returns its id. */
static int64_t create(struct fixture *f, const struct user *u, const char *json, struct task *out)
{
    struct task tmp;
    struct task *t = out ? out : &tmp;
    struct task_input in = input(f, json, TASK_CREATE);
    int rc = tasks_create(f->c, f->a, u->id, &in, t);
    if (rc != ERR_OK)
        fail_msg("tasks_create = %d for %s", rc, json);
    return t->id;
}

static int update(struct fixture *f, const struct user *u, int64_t id, const char *json,
                  enum task_input_mode mode, struct task *out)
{
    struct task_input in = input(f, json, mode);
    return tasks_update(f->c, f->a, u->id, id, &in, out);
}

static int64_t id_of(const struct task *t)
{
    return t->id;
}

/* The task's key as the API writes it: a string's text, NULL for null, else the JSON text
 * (["home"], 2). */
static const char *api(struct fixture *f, const struct task *t, const char *key)
{
    yyjson_alc alc;
    arena_yyjson_alc(f->a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    assert_non_null(doc);
    yyjson_mut_val *v = yyjson_mut_obj_get(task_to_json(doc, t), key);
    if (!v)
        fail_msg("the task has no key %s", key);
    if (yyjson_mut_is_null(v))
        return NULL;
    if (yyjson_mut_is_str(v))
        return yyjson_mut_get_str(v);
    return yyjson_mut_val_write_opts(v, 0, &alc, NULL, NULL);
}

/* Runs one statement without rows. */
static int exec(struct fixture *f, const char *sql, const struct db_param *p, size_t np)
{
    struct sql q = {sql, NULL};
    return store_exec(f->c, &q, p, np, f->a, NULL);
}

/* Runs a one-cell query and returns the cell (NULL for SQL NULL). */
static const char *scalar(struct fixture *f, const char *sql, const struct db_param *p, size_t np)
{
    struct sql q = {sql, NULL};
    struct db_rows rows;
    assert_int_equal(store_exec(f->c, &q, p, np, f->a, &rows), ERR_OK);
    assert_int_equal(rows.nrows, 1);
    assert_int_equal(rows.ncols, 1);
    return db_cell(&rows, 0, 0);
}

static void test_migrations(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_kind(f->store), DB_SQLITE);
    assert_true(store_schema_version() >= 2);
    char want[16];
    snprintf(want, sizeof(want), "%d", store_schema_version());
    assert_string_equal(scalar(f, "SELECT MAX(version) FROM schema_migrations", NULL, 0), want);
    /* Running them again changes nothing (this thread's connection goes back first: it is
     * checked out by one holder at a time). */
    store_release(f->c);
    assert_int_equal(store_migrate(f->store), ERR_OK);
    assert_int_equal(store_ping(f->store, 1000), ERR_OK);
    assert_int_equal(store_acquire(f->store, &f->c), ERR_OK);
    snprintf(want, sizeof(want), "%d", store_schema_version());
    assert_string_equal(scalar(f, "SELECT count(*) FROM schema_migrations", NULL, 0), want);
    /* The users survive a second migration. */
    assert_string_equal(scalar(f, "SELECT count(*) FROM users", NULL, 0), "2");
}

static void test_memory_store(void **state)
{
    (void)state;
    struct db_url u1, u2;
    struct store *s1, *s2;
    assert_int_equal(open_store("sqlite:///:memory:", &u1, &s1), 0);
    assert_int_equal(open_store("sqlite:///:memory:", &u2, &s2), 0);
    struct arena *a = arena_new();
    assert_non_null(a);
    struct store_conn *c = NULL;
    struct user usr;
    assert_int_equal(store_acquire(s1, &c), ERR_OK);
    assert_int_equal(users_create(c, a, "mem@example.com", "h", NULL, &usr), ERR_OK);
    store_release(c);
    /* Each :memory: store is its own database. */
    assert_int_equal(store_acquire(s2, &c), ERR_OK);
    assert_int_equal(users_by_email(c, a, "mem@example.com", &usr), ERR_NOTFOUND);
    store_release(c);
    assert_int_equal(store_acquire(s1, &c), ERR_OK);
    assert_int_equal(users_by_email(c, a, "mem@example.com", &usr), ERR_OK);
    store_release(c);
    store_close(s2);
    store_close(s1);
    db_url_free(&u1);
    db_url_free(&u2);
    arena_free(a);
}

/* A thread's SQLite connection has one holder at a time: a second checkout on the same
 * thread (what a request suspended while holding it would cause) is refused, never shared. */
static void test_connection_has_one_holder(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_begin(f->c), ERR_OK);
    struct store_conn *other = NULL;
    assert_int_equal(store_acquire(f->store, &other), ERR_UNAVAILABLE);
    assert_int_equal(store_ping(f->store, 1000), ERR_UNAVAILABLE);
    store_rollback(f->c);
    store_release(f->c);
    assert_int_equal(store_acquire(f->store, &other), ERR_OK);
    assert_ptr_equal(other, f->c); /* the thread's own, back again */
    f->c = other;
}

static void test_users(void **state)
{
    struct fixture *f = *state;
    const struct user *al = &f->alice;
    assert_int_equal(strlen(al->id), 36);
    assert_int_equal(al->id[14], '4'); /* UUID version 4 */
    assert_true(strchr("89ab", al->id[19]) != NULL);
    assert_string_not_equal(al->id, f->bob.id);
    assert_string_equal(al->email, "alice@example.com");
    assert_string_equal(al->name, "Alice");
    assert_string_equal(al->hashed_password, "hash-a");
    assert_null(f->bob.name);
    int64_t t = 0;
    assert_int_equal(time_parse(al->created_at, DATE_ONLY_REJECT, &t), ERR_OK);
    assert_true(llabs(t - now_unix()) < 120);

    struct user u;
    assert_int_equal(users_by_email(f->c, f->a, "ALICE@example.COM", &u), ERR_OK);
    assert_string_equal(u.id, al->id);
    assert_int_equal(users_by_id(f->c, f->a, f->bob.id, &u), ERR_OK);
    assert_string_equal(u.email, "bob@example.com");
    assert_int_equal(users_by_email(f->c, f->a, "nobody@example.com", &u), ERR_NOTFOUND);
    assert_int_equal(users_by_id(f->c, f->a, "no-such-id", &u), ERR_NOTFOUND);

    /* The same address in any case is a conflict. */
    assert_int_equal(users_create(f->c, f->a, "alice@EXAMPLE.com", "h", NULL, &u), ERR_CONFLICT);
    assert_int_equal(users_create(f->c, f->a, "bob@example.com", "h", "Bob 2", &u), ERR_CONFLICT);
    assert_string_equal(scalar(f, "SELECT count(*) FROM users", NULL, 0), "2");

    /* An address is stored lower-cased. */
    assert_int_equal(users_create(f->c, f->a, "Carol@Example.COM", "h", NULL, &u), ERR_OK);
    assert_string_equal(u.email, "carol@example.com");
    assert_int_equal(users_by_id(f->c, f->a, u.id, &u), ERR_OK);
    assert_string_equal(u.email, "carol@example.com");

    /* The public view never carries the password hash. */
    yyjson_alc alc;
    arena_yyjson_alc(f->a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_doc_set_root(doc, user_to_json(doc, al));
    char *json = yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
    assert_non_null(json);
    assert_false(unit_contains(json, "hash"));
    assert_true(unit_contains(json, "\"email\":\"alice@example.com\""));
    assert_true(unit_contains(json, "\"name\":\"Alice\""));
}

static void test_users_ensure(void **state)
{
    struct fixture *f = *state;
    struct user u;
    /* An external id whose email is free takes it; one whose email is taken gets none. */
    assert_int_equal(users_ensure(f->c, f->a, "ext-user-1", "Carol@Example.com"), ERR_OK);
    assert_int_equal(users_by_id(f->c, f->a, "ext-user-1", &u), ERR_OK);
    assert_string_equal(u.email, "carol@example.com");
    assert_null(u.hashed_password);
    assert_int_equal(users_ensure(f->c, f->a, "ext-user-2", "alice@example.com"), ERR_OK);
    assert_int_equal(users_by_id(f->c, f->a, "ext-user-2", &u), ERR_OK);
    assert_null(u.email);
    assert_int_equal(users_ensure(f->c, f->a, "ext-user-3", "not an email"), ERR_OK);
    assert_int_equal(users_by_id(f->c, f->a, "ext-user-3", &u), ERR_OK);
    assert_null(u.email);
    /* Idempotent. */
    assert_int_equal(users_ensure(f->c, f->a, "ext-user-1", "carol@example.com"), ERR_OK);
    assert_string_equal(scalar(f, "SELECT count(*) FROM users", NULL, 0), "5");

    assert_true(users_email_valid("a@b.co"));
    assert_true(users_email_valid("first.last+tag@sub.example.org"));
    static const char *bad[] = {"",         "a",         "@b.co",   "a@",       "a@b",
                                "a@.co",    "a@b.",      "a@@b.co", "a b@c.de", "a@b.co\n",
                                "<a@b.co>", "a\"b@c.de", "a@b@c.de"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (users_email_valid(bad[i]))
            fail_msg("users_email_valid accepted \"%s\"", bad[i]);
}

static void test_task_crud(void **state)
{
    struct fixture *f = *state;
    struct task t;
    int64_t id = create(f, &f->alice,
                        "{\"title\":\" Pay rent \",\"description\":\"by transfer\","
                        "\"priority\":\"high\",\"tags\":[\"home\",\"Bills\"],"
                        "\"due_at\":\"2026-01-31\",\"remind_at\":\"2026-01-30\","
                        "\"recurrence\":\"monthly\",\"recurrence_interval\":2}",
                        &t);
    assert_true(id > 0);
    assert_string_equal(t.user_id, f->alice.id);
    assert_string_equal(t.title, "Pay rent");
    assert_string_equal(t.description, "by transfer");
    assert_false(t.completed);
    assert_null(api(f, &t, "completed_at"));
    assert_string_equal(api(f, &t, "priority"), "high");
    assert_string_equal(api(f, &t, "tags"), "[\"home\",\"Bills\"]");
    assert_string_equal(api(f, &t, "due_at"), "2026-01-31T23:59:59Z");
    assert_string_equal(api(f, &t, "remind_at"), "2026-01-30T00:00:00Z");
    assert_string_equal(api(f, &t, "recurrence"), "monthly");
    assert_string_equal(api(f, &t, "recurrence_interval"), "2");
    assert_string_equal(api(f, &t, "created_at"), api(f, &t, "updated_at"));
    assert_int_equal(strlen(api(f, &t, "created_at")), TIME_TEXT_MAX - 1);

    struct task g;
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, id, &g), ERR_OK);
    assert_string_equal(g.title, "Pay rent");
    assert_string_equal(api(f, &g, "tags"), api(f, &t, "tags"));

    /* PATCH touches only the given fields. */
    struct task p;
    assert_int_equal(update(f, &f->alice, id, "{\"title\":\"Pay the rent\"}", TASK_PATCH, &p),
                     ERR_OK);
    assert_string_equal(p.title, "Pay the rent");
    assert_string_equal(p.description, "by transfer");
    assert_string_equal(api(f, &p, "priority"), "high");
    assert_string_equal(api(f, &p, "tags"), "[\"home\",\"Bills\"]");
    assert_string_equal(api(f, &p, "due_at"), "2026-01-31T23:59:59Z");
    assert_string_equal(api(f, &p, "recurrence_interval"), "2");
    assert_int_equal(update(f, &f->alice, id, "{\"tags\":[\"x\"],\"due_at\":null}", TASK_PATCH, &p),
                     ERR_OK);
    assert_string_equal(api(f, &p, "tags"), "[\"x\"]");
    assert_null(api(f, &p, "due_at"));
    assert_string_equal(api(f, &p, "remind_at"), "2026-01-30T00:00:00Z");
    assert_int_equal(update(f, &f->alice, id, "{\"tags\":[]}", TASK_PATCH, &p), ERR_OK);
    assert_string_equal(api(f, &p, "tags"), "[]");

    /* An explicit null clears a nullable field and leaves the others. */
    assert_int_equal(update(f, &f->alice, id, "{\"description\":null}", TASK_PATCH, &p), ERR_OK);
    assert_null(p.description);
    assert_string_equal(p.title, "Pay the rent");
    assert_string_equal(api(f, &p, "priority"), "high");
    assert_string_equal(api(f, &p, "remind_at"), "2026-01-30T00:00:00Z");
    assert_string_equal(api(f, &p, "recurrence_interval"), "2");

    /* Completion by PATCH sets completed_at once and clears it when reopened. */
    struct db_param old[] = {P_TEXT("2020-01-01T00:00:00Z"), P_INT(id)};
    assert_int_equal(update(f, &f->alice, id, "{\"completed\":true}", TASK_PATCH, &p), ERR_OK);
    assert_true(p.completed);
    assert_non_null(api(f, &p, "completed_at"));
    assert_int_equal(exec(f, "UPDATE tasks SET completed_at = $1 WHERE id = $2", old, 2), ERR_OK);
    assert_int_equal(update(f, &f->alice, id, "{\"completed\":true}", TASK_PATCH, &p), ERR_OK);
    assert_string_equal(api(f, &p, "completed_at"), "2020-01-01T00:00:00Z");
    assert_int_equal(update(f, &f->alice, id, "{\"completed\":false}", TASK_PATCH, &p), ERR_OK);
    assert_false(p.completed);
    assert_null(api(f, &p, "completed_at"));

    /* Created completed: completed_at is set at once. */
    create(f, &f->alice, "{\"title\":\"done already\",\"completed\":true}", &t);
    assert_true(t.completed);
    assert_non_null(api(f, &t, "completed_at"));

    /* Delete, then everything about the id is gone, tags included. */
    assert_int_equal(update(f, &f->alice, id, "{\"tags\":[\"gone\"]}", TASK_PATCH, &p), ERR_OK);
    assert_int_equal(tasks_delete(f->c, f->a, f->alice.id, id, NULL), ERR_OK);
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, id, &g), ERR_NOTFOUND);
    assert_int_equal(tasks_delete(f->c, f->a, f->alice.id, id, NULL), ERR_NOTFOUND);
    assert_int_equal(update(f, &f->alice, id, "{\"title\":\"x\"}", TASK_PATCH, &p), ERR_NOTFOUND);
    struct db_param pid[] = {P_INT(id)};
    assert_string_equal(scalar(f, "SELECT count(*) FROM task_tags WHERE task_id = $1", pid, 1),
                        "0");
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, 999999, &g), ERR_NOTFOUND);
}

static void test_isolation(void **state)
{
    struct fixture *f = *state;
    struct task t, out, next;
    bool has_next = true;
    int64_t id = create(f, &f->alice,
                        "{\"title\":\"Alice's\",\"tags\":[\"private\"],\"due_at\":\"2020-01-01\","
                        "\"recurrence\":\"daily\"}",
                        &t);
    const char *bob = f->bob.id;
    assert_int_equal(tasks_get(f->c, f->a, bob, id, &out), ERR_NOTFOUND);
    assert_int_equal(update(f, &f->bob, id, "{\"title\":\"mine now\"}", TASK_PATCH, &out),
                     ERR_NOTFOUND);
    assert_int_equal(tasks_complete(f->c, f->a, bob, id, 1, &out, &next, &has_next), ERR_NOTFOUND);
    assert_false(has_next);
    assert_int_equal(tasks_complete(f->c, f->a, bob, id, 0, &out, &next, &has_next), ERR_NOTFOUND);
    assert_int_equal(tasks_delete(f->c, f->a, bob, id, NULL), ERR_NOTFOUND);

    struct task_filter flt;
    task_filter_defaults(&flt);
    struct task *list;
    size_t n = 99;
    int64_t total = 99;
    assert_int_equal(tasks_list(f->c, f->a, bob, &flt, &list, &n, &total), ERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    struct db_rows tags;
    assert_int_equal(tasks_tags(f->c, f->a, bob, &tags), ERR_OK);
    assert_int_equal(tags.nrows, 0);
    struct task_stats st;
    assert_int_equal(tasks_stats(f->c, f->a, bob, &st), ERR_OK);
    assert_int_equal(st.total, 0);
    assert_int_equal(st.overdue, 0);

    /* Alice's task is untouched, and only one exists. */
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, id, &out), ERR_OK);
    assert_string_equal(out.title, "Alice's");
    assert_false(out.completed);
    assert_string_equal(api(f, &out, "updated_at"), api(f, &t, "updated_at"));
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");

    /* A task for a user that does not exist breaks the foreign key. */
    struct task_input in = input(f, "{\"title\":\"orphan\"}", TASK_CREATE);
    assert_int_equal(tasks_create(f->c, f->a, "no-such-user", &in, &out), ERR_INVALID);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");
}

/* Fills the stack below the caller with 0xAA so that an uninitialised read in the next call
 * sees a byte that is not a valid bool. */
static __attribute__((noinline)) void dirty_stack(void)
{
    volatile unsigned char junk[32 * 1024];
    memset((void *)junk, 0xAA, sizeof(junk));
}

static void test_toggle_other_users_task(void **state)
{
    struct fixture *f = *state;
    /* Regression (fixed): tasks_complete (src/domain/tasks.c) computes `in.completed = set < 0 ?
     * !cur.completed : …` before checking tasks_get's result, so toggling (set = -1) a task
     * that is missing or belongs to another user reads the uninitialised `struct task cur`
     * (an indeterminate bool; UBSan reports "load of value …, which is not a valid value for
     * type 'bool'" when the stack byte is not 0/1). The answer is still ERR_NOTFOUND. */

    struct task t, out, next;
    bool has_next = true;
    int64_t id = create(f, &f->alice, "{\"title\":\"Alice's\"}", &t);
    dirty_stack();
    assert_int_equal(tasks_complete(f->c, f->a, f->bob.id, id, -1, &out, &next, &has_next),
                     ERR_NOTFOUND);
    assert_false(has_next);
    dirty_stack();
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, 987654, -1, &out, &next, &has_next),
                     ERR_NOTFOUND);
}

static void test_complete_toggle(void **state)
{
    struct fixture *f = *state;
    struct task t, out, next;
    bool has_next = true;
    int64_t id = create(f, &f->alice, "{\"title\":\"once\"}", &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, &next, &has_next),
                     ERR_OK);
    assert_true(out.completed);
    assert_non_null(api(f, &out, "completed_at"));
    assert_false(has_next);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, -1, &out, &next, &has_next),
                     ERR_OK);
    assert_false(out.completed);
    assert_null(api(f, &out, "completed_at"));
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, -1, &out, &next, &has_next),
                     ERR_OK);
    assert_true(out.completed);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 0, &out, &next, &has_next),
                     ERR_OK);
    assert_false(out.completed);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 0, &out, &next, &has_next),
                     ERR_OK);
    assert_false(out.completed);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");
}

/* Completes a new recurring task and returns the next occurrence. */
static void complete_recurring(struct fixture *f, const char *json, struct task *next)
{
    struct task t, out;
    bool has_next = false;
    int64_t id = create(f, &f->alice, json, &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, next, &has_next), ERR_OK);
    assert_true(out.completed);
    assert_true(has_next);
    assert_int_not_equal(id_of(next), id);
    assert_false(next->completed);
    assert_null(api(f, next, "completed_at"));
    assert_string_equal(next->user_id, f->alice.id);
}

static void expect_next_due(struct fixture *f, const char *json, const char *due)
{
    struct task next;
    complete_recurring(f, json, &next);
    const char *got = api(f, &next, "due_at");
    if (!got || strcmp(got, due) != 0)
        fail_msg("next due %s, want %s, for %s", got ? got : "NULL", due, json);
}

static void test_recurring_completion(void **state)
{
    struct fixture *f = *state;
    struct task next;
    complete_recurring(f,
                       "{\"title\":\"Rent\",\"description\":\"d\",\"priority\":\"high\","
                       "\"tags\":[\"home\",\"money\"],\"due_at\":\"2024-01-31T10:00:00Z\","
                       "\"remind_at\":\"2024-01-30T10:00:00Z\",\"recurrence\":\"monthly\"}",
                       &next);
    assert_string_equal(next.title, "Rent");
    assert_string_equal(next.description, "d");
    assert_string_equal(api(f, &next, "priority"), "high");
    assert_string_equal(api(f, &next, "tags"), "[\"home\",\"money\"]");
    assert_string_equal(api(f, &next, "recurrence"), "monthly");
    assert_string_equal(api(f, &next, "recurrence_interval"), "1");
    assert_string_equal(api(f, &next, "due_at"), "2024-02-29T10:00:00Z");    /* leap year clamp */
    assert_string_equal(api(f, &next, "remind_at"), "2024-02-28T10:00:00Z"); /* same lead time */

    expect_next_due(
        f, "{\"title\":\"m\",\"due_at\":\"2023-01-31T08:00:00Z\",\"recurrence\":\"monthly\"}",
        "2023-02-28T08:00:00Z");
    expect_next_due(f, "{\"title\":\"m\",\"due_at\":\"2024-03-31\",\"recurrence\":\"monthly\"}",
                    "2024-04-30T23:59:59Z");
    expect_next_due(
        f, "{\"title\":\"m\",\"due_at\":\"2024-12-31T12:00:00Z\",\"recurrence\":\"monthly\"}",
        "2025-01-31T12:00:00Z");
    expect_next_due(
        f,
        "{\"title\":\"m\",\"due_at\":\"2024-01-31T12:00:00Z\",\"recurrence\":\"monthly\","
        "\"recurrence_interval\":13}",
        "2025-02-28T12:00:00Z");
    expect_next_due(
        f, "{\"title\":\"y\",\"due_at\":\"2024-02-29T09:00:00Z\",\"recurrence\":\"yearly\"}",
        "2025-02-28T09:00:00Z");
    expect_next_due(f,
                    "{\"title\":\"d\",\"due_at\":\"2026-01-30T09:00:00Z\",\"recurrence\":\"daily\","
                    "\"recurrence_interval\":3}",
                    "2026-02-02T09:00:00Z");
    expect_next_due(
        f,
        "{\"title\":\"w\",\"due_at\":\"2026-12-25T18:30:00Z\",\"recurrence\":\"weekly\","
        "\"recurrence_interval\":2}",
        "2027-01-08T18:30:00Z");

    /* Without a due date the next one is counted from now. */
    complete_recurring(f, "{\"title\":\"no due\",\"recurrence\":\"daily\"}", &next);
    int64_t due = 0;
    assert_non_null(api(f, &next, "due_at"));
    due = next.due_at;
    assert_true(llabs(due - (now_unix() + 86400)) < 120);
    assert_null(api(f, &next, "remind_at"));
}

static void test_recurring_past_year_9999(void **state)
{
    struct fixture *f = *state;
    /* RFC 3339 years have four digits: a series whose next date would pass 9999-12-31 ends,
     * instead of storing a next occurrence with an unwritable due_at. */
    struct task t, out, next;
    bool has_next = true;
    int64_t id =
        create(f, &f->alice,
               "{\"title\":\"far\",\"due_at\":\"9999-12-31\",\"recurrence\":\"yearly\"}", &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, &next, &has_next),
                     ERR_OK);
    assert_true(out.completed);
    assert_false(has_next);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks WHERE due_at = ''", NULL, 0), "0");
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");
}

static void test_recurring_reminder_past_year_9999(void **state)
{
    struct fixture *f = *state;
    /* Regression: a reminder after the due date moved past 9999-12-31 with a yearly series and
     * was stored as "". Completing is refused (ERR_RANGE: 422) and nothing changes. */
    struct task t, out, next;
    bool has_next = false;
    int64_t id = create(f, &f->alice,
                        "{\"title\":\"far\",\"due_at\":\"9998-12-01T00:00:00Z\","
                        "\"remind_at\":\"9999-06-01T00:00:00Z\",\"recurrence\":\"yearly\"}",
                        &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, &next, &has_next),
                     ERR_RANGE);
    assert_false(has_next);
    struct task g;
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, id, &g), ERR_OK);
    assert_false(g.completed);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");
    assert_string_equal(
        scalar(f, "SELECT count(*) FROM tasks WHERE due_at = '' OR remind_at = ''", NULL, 0), "0");
    /* A reminder before the due date moves along and stays in range. */
    id = create(f, &f->alice,
                "{\"title\":\"near\",\"due_at\":\"9998-12-01T00:00:00Z\","
                "\"remind_at\":\"9998-11-01T00:00:00Z\",\"recurrence\":\"yearly\"}",
                &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, &next, &has_next),
                     ERR_OK);
    assert_true(has_next);
    assert_string_equal(api(f, &next, "due_at"), "9999-12-01T00:00:00Z");
    assert_string_equal(api(f, &next, "remind_at"), "9999-11-01T00:00:00Z");
}

static void test_recurring_completed_twice(void **state)
{
    struct fixture *f = *state;
    struct task t, out, next;
    bool has_next = false;
    int64_t id = create(f, &f->alice,
                        "{\"title\":\"weekly\",\"due_at\":\"2026-01-05T09:00:00Z\","
                        "\"recurrence\":\"weekly\"}",
                        &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, &next, &has_next),
                     ERR_OK);
    assert_true(has_next);
    /* Completing what is already complete spawns nothing more. */
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 1, &out, &next, &has_next),
                     ERR_OK);
    assert_false(has_next);
    assert_true(out.completed);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "2");
    /* Reopening does not spawn either. */
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, id, 0, &out, &next, &has_next),
                     ERR_OK);
    assert_false(has_next);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "2");
    /* Completing through PATCH creates the next occurrence too, once. */
    int64_t other = create(f, &f->alice,
                           "{\"title\":\"patched\",\"due_at\":\"2024-01-31T10:00:00Z\","
                           "\"recurrence\":\"monthly\",\"tags\":[\"t\"]}",
                           &t);
    assert_int_equal(update(f, &f->alice, other, "{\"completed\":true}", TASK_PATCH, &out), ERR_OK);
    assert_true(out.completed);
    assert_non_null(api(f, &out, "completed_at"));
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "4");
    struct db_param pt[] = {P_TEXT("patched"), P_TEXT("2024-02-29T10:00:00Z")};
    assert_string_equal(scalar(f,
                               "SELECT count(*) FROM tasks WHERE title = $1 AND due_at = $2 "
                               "AND completed = 0",
                               pt, 2),
                        "1");
    assert_int_equal(update(f, &f->alice, other, "{\"completed\":true}", TASK_PATCH, &out), ERR_OK);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "4");
    /* A non-recurring completion never has a next. */
    int64_t plain = create(f, &f->alice, "{\"title\":\"plain\",\"due_at\":\"2026-01-05\"}", &t);
    assert_int_equal(tasks_complete(f->c, f->a, f->alice.id, plain, 1, &out, &next, &has_next),
                     ERR_OK);
    assert_false(has_next);
}

/* Lists with flt and checks the titles in order and the total. */
static void expect_list(struct fixture *f, const struct user *u, const struct task_filter *flt,
                        int64_t want_total, const char *const *titles, size_t n_titles)
{
    struct task *list = NULL;
    size_t n = 0;
    int64_t total = -1;
    int rc = tasks_list(f->c, f->a, u->id, flt, &list, &n, &total);
    assert_int_equal(rc, ERR_OK);
    bool ok = total == want_total && n == n_titles;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(list[i].title, titles[i]) == 0 && strcmp(list[i].user_id, u->id) == 0;
    if (!ok) {
        print_error("got total %lld, %zu rows:", (long long)total, n);
        for (size_t i = 0; i < n; i++)
            print_error(" \"%s\"", list[i].title);
        print_error("\nwant total %lld, %zu rows:", (long long)want_total, n_titles);
        for (size_t i = 0; i < n_titles; i++)
            print_error(" \"%s\"", titles[i]);
        print_error("\n");
        fail();
    }
}

#define EXPECT_LIST(f, u, flt, total, ...)                                                         \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        expect_list(f, u, flt, total, want_, ARRAY_LEN(want_));                                    \
    } while (0)

static void seed_list(struct fixture *f)
{
    create(f, &f->alice,
           "{\"title\":\"Alpha\",\"priority\":\"high\",\"tags\":[\"work\"],"
           "\"due_at\":\"2020-01-01T00:00:00Z\"}",
           NULL);
    create(f, &f->alice,
           "{\"title\":\"beta\",\"priority\":\"low\",\"tags\":[\"home\"],"
           "\"due_at\":\"2099-01-01T00:00:00Z\",\"completed\":true}",
           NULL);
    create(f, &f->alice, "{\"title\":\"Gamma 100%\",\"description\":\"has a Needle inside\"}",
           NULL);
    create(f, &f->alice, "{\"title\":\"delta_x\",\"tags\":[\"Work\",\"urgent\"]}", NULL);
    create(f, &f->bob, "{\"title\":\"Alpha\",\"priority\":\"high\",\"tags\":[\"work\"]}", NULL);
}

static void test_list_filters(void **state)
{
    struct fixture *f = *state;
    seed_list(f);
    struct task_filter flt;

    task_filter_defaults(&flt); /* newest first; same second, so by id descending */
    EXPECT_LIST(f, &f->alice, &flt, 4, "delta_x", "Gamma 100%", "beta", "Alpha");
    EXPECT_LIST(f, &f->bob, &flt, 1, "Alpha");

    flt.status = STATUS_PENDING;
    EXPECT_LIST(f, &f->alice, &flt, 3, "delta_x", "Gamma 100%", "Alpha");
    flt.status = STATUS_COMPLETED;
    EXPECT_LIST(f, &f->alice, &flt, 1, "beta");

    task_filter_defaults(&flt);
    flt.priority = PRIO_HIGH;
    EXPECT_LIST(f, &f->alice, &flt, 1, "Alpha");
    flt.priority = PRIO_MEDIUM;
    EXPECT_LIST(f, &f->alice, &flt, 2, "delta_x", "Gamma 100%");

    task_filter_defaults(&flt);
    struct field_list tags = {{"WORK"}, 1};
    flt.tags.list = &tags;
    EXPECT_LIST(f, &f->alice, &flt, 2, "delta_x", "Alpha");
    tags.v[1] = "urgent";
    tags.n = 2; /* every tag must match */
    EXPECT_LIST(f, &f->alice, &flt, 1, "delta_x");

    task_filter_defaults(&flt);
    flt.search = "needle"; /* description, case-insensitive */
    EXPECT_LIST(f, &f->alice, &flt, 1, "Gamma 100%");
    flt.search = "ALPHA";
    EXPECT_LIST(f, &f->alice, &flt, 1, "Alpha");
    flt.search = "%"; /* LIKE wildcards are literal */
    EXPECT_LIST(f, &f->alice, &flt, 1, "Gamma 100%");
    flt.search = "_";
    EXPECT_LIST(f, &f->alice, &flt, 1, "delta_x");
    flt.search = "a_x";
    EXPECT_LIST(f, &f->alice, &flt, 1, "delta_x");
    flt.search = "nothing like it";
    EXPECT_LIST(f, &f->alice, &flt, 0);

    task_filter_defaults(&flt);
    assert_int_equal(time_parse("2021-01-01", DATE_START_OF_DAY, &flt.due_before), ERR_OK);
    EXPECT_LIST(f, &f->alice, &flt, 1, "Alpha");
    flt.due_before = 0;
    assert_int_equal(time_parse("2050-01-01", DATE_START_OF_DAY, &flt.due_after), ERR_OK);
    EXPECT_LIST(f, &f->alice, &flt, 1, "beta");

    task_filter_defaults(&flt);
    flt.overdue = 1;
    EXPECT_LIST(f, &f->alice, &flt, 1, "Alpha");
    flt.overdue = 0;
    EXPECT_LIST(f, &f->alice, &flt, 3, "delta_x", "Gamma 100%", "beta");
}

static void test_list_sort_and_pages(void **state)
{
    struct fixture *f = *state;
    seed_list(f);
    struct task_filter flt;

    task_filter_defaults(&flt);
    flt.sort = SORT_TITLE; /* alphabetical, case-insensitive */
    EXPECT_LIST(f, &f->alice, &flt, 4, "Alpha", "beta", "delta_x", "Gamma 100%");
    flt.order = 1;
    EXPECT_LIST(f, &f->alice, &flt, 4, "Gamma 100%", "delta_x", "beta", "Alpha");

    task_filter_defaults(&flt);
    flt.sort = SORT_DUE; /* soonest first, undated last */
    EXPECT_LIST(f, &f->alice, &flt, 4, "Alpha", "beta", "Gamma 100%", "delta_x");

    task_filter_defaults(&flt);
    flt.sort = SORT_PRIORITY; /* most urgent first */
    EXPECT_LIST(f, &f->alice, &flt, 4, "Alpha", "delta_x", "Gamma 100%", "beta");

    task_filter_defaults(&flt);
    flt.sort = SORT_CREATED;
    flt.order = 0;
    EXPECT_LIST(f, &f->alice, &flt, 4, "Alpha", "beta", "Gamma 100%", "delta_x");

    task_filter_defaults(&flt);
    flt.limit = 2;
    flt.offset = 1;
    EXPECT_LIST(f, &f->alice, &flt, 4, "Gamma 100%", "beta");
    flt.offset = 3;
    EXPECT_LIST(f, &f->alice, &flt, 4, "Alpha");
    flt.offset = 10;
    EXPECT_LIST(f, &f->alice, &flt, 4);

    /* The total is the listing's on every page: the last page knows it without a count(*),
     * the others and an empty page past the end count (tasks_list). */
    for (int limit = 1; limit <= 5; limit++) {
        for (int offset = 0; offset <= 6; offset++) {
            for (int pending = 0; pending <= 1; pending++) {
                task_filter_defaults(&flt);
                flt.limit = limit;
                flt.offset = offset;
                flt.status = pending ? STATUS_PENDING : STATUS_ALL;
                int64_t want = pending ? 3 : 4; /* seed_list completes one of alice's four */
                struct task *list;
                size_t n = 99;
                int64_t total = -1;
                assert_int_equal(tasks_list(f->c, f->a, f->alice.id, &flt, &list, &n, &total),
                                 ERR_OK);
                assert_int_equal(total, want);
                int64_t left = want - offset > 0 ? want - offset : 0;
                assert_int_equal(n, left < limit ? left : limit);
            }
        }
    }
}

static void test_tags_and_stats(void **state)
{
    struct fixture *f = *state;
    seed_list(f);
    create(f, &f->alice, "{\"title\":\"more work\",\"tags\":[\"WORK\",\"home\"]}", NULL);

    struct db_rows rows;
    assert_int_equal(tasks_tags(f->c, f->a, f->alice.id, &rows), ERR_OK);
    assert_int_equal(rows.nrows, 3);
    assert_int_equal(rows.ncols, 2);
    /* work (3, grouped case-insensitively), home (2), urgent (1). */
    assert_true(str_ieq(db_cell(&rows, 0, 0), "work"));
    assert_string_equal(db_cell(&rows, 0, 1), "3");
    assert_string_equal(db_cell(&rows, 1, 0), "home");
    assert_string_equal(db_cell(&rows, 1, 1), "2");
    assert_string_equal(db_cell(&rows, 2, 0), "urgent");
    assert_string_equal(db_cell(&rows, 2, 1), "1");
    assert_int_equal(tasks_tags(f->c, f->a, f->bob.id, &rows), ERR_OK);
    assert_int_equal(rows.nrows, 1);
    assert_string_equal(db_cell(&rows, 0, 1), "1");

    /* Due later today (pending) and due today but done. */
    char today[TIME_TEXT_MAX], json[160];
    time_format(now_unix(), today);
    today[10] = '\0';
    snprintf(json, sizeof(json), "{\"title\":\"today\",\"due_at\":\"%s\"}", today);
    create(f, &f->alice, json, NULL);
    snprintf(json, sizeof(json), "{\"title\":\"today done\",\"due_at\":\"%s\",\"completed\":true}",
             today);
    create(f, &f->alice, json, NULL);

    struct task_stats st;
    assert_int_equal(tasks_stats(f->c, f->a, f->alice.id, &st), ERR_OK);
    assert_int_equal(st.total, 7);
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.pending, 5);
    assert_int_equal(st.overdue, 1); /* Alpha, due 2020 */
    assert_int_equal(st.due_today, 1);
    assert_int_equal(tasks_stats(f->c, f->a, f->bob.id, &st), ERR_OK);
    assert_int_equal(st.total, 1);
    assert_int_equal(st.completed, 0);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.overdue, 0);
    assert_int_equal(st.due_today, 0);
}

static void test_exec_error_mapping(void **state)
{
    struct fixture *f = *state;
    /* Unique violations are conflicts. */
    struct db_param dup[] = {P_TEXT(f->alice.id), P_TEXT("z@example.com"), P_TEXT("2026-01-01")};
    assert_int_equal(exec(f,
                          "INSERT INTO users (id, email, created_at, updated_at) "
                          "VALUES ($1, $2, $3, $3)",
                          dup, 3),
                     ERR_CONFLICT);
    /* CHECK, NOT NULL and foreign keys are invalid input. */
    int64_t id = create(f, &f->alice, "{\"title\":\"t\"}", NULL);
    struct db_param p_id[] = {P_INT(id)};
    assert_int_equal(exec(f, "UPDATE tasks SET priority = 'urgent' WHERE id = $1", p_id, 1),
                     ERR_INVALID);
    assert_int_equal(exec(f, "UPDATE tasks SET recurrence_interval = 0 WHERE id = $1", p_id, 1),
                     ERR_INVALID);
    assert_int_equal(exec(f, "UPDATE tasks SET title = NULL WHERE id = $1", p_id, 1), ERR_INVALID);
    struct db_param ghost[] = {P_TEXT("ghost"), P_TEXT("t"), P_TEXT("2026-01-01T00:00:00Z")};
    assert_int_equal(exec(f,
                          "INSERT INTO tasks (user_id, title, created_at, updated_at) "
                          "VALUES ($1, $2, $3, $3)",
                          ghost, 3),
                     ERR_INVALID);
    /* Anything else is a database error. */
    assert_int_equal(exec(f, "SELEC 1", NULL, 0), ERR_DB);
    assert_int_equal(exec(f, "SELECT * FROM no_such_table", NULL, 0), ERR_DB);
    /* Too many parameters are refused before reaching SQLite. */
    struct db_param many[STORE_MAX_PARAMS + 1];
    for (size_t i = 0; i < ARRAY_LEN(many); i++)
        many[i] = P_INT(i);
    assert_int_equal(exec(f, "SELECT $1", many, ARRAY_LEN(many)), ERR_INVALID);
    /* Results past STORE_MAX_ROWS are refused, not truncated. */
    struct sql big = {"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 10001) SELECT i FROM n",
                      NULL};
    struct db_rows rows;
    assert_int_equal(store_exec(f->c, &big, NULL, 0, f->a, &rows), ERR_TOOBIG);
    /* The connection is still fine after all of that. */
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");
    struct task g;
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, id, &g), ERR_OK);
    assert_string_equal(api(f, &g, "priority"), "medium");
    assert_string_equal(g.title, "t");
}

static void test_exec_rows_and_params(void **state)
{
    struct fixture *f = *state;
    struct sql q = {"SELECT $1, $2, $3, $4, $1", NULL};
    struct db_param p[] = {P_TEXT("text"), P_INT(-42), P_BOOL(true), P_NULL};
    struct db_rows rows;
    assert_int_equal(store_exec(f->c, &q, p, 4, f->a, &rows), ERR_OK);
    assert_int_equal(rows.nrows, 1);
    assert_int_equal(rows.ncols, 5);
    assert_string_equal(db_cell(&rows, 0, 0), "text");
    assert_string_equal(db_cell(&rows, 0, 1), "-42");
    assert_string_equal(db_cell(&rows, 0, 2), "1");
    assert_null(db_cell(&rows, 0, 3));
    assert_string_equal(db_cell(&rows, 0, 4), "text");
    /* P_TEXT(NULL) binds SQL NULL. */
    struct db_param pn[] = {P_TEXT(NULL)};
    assert_null(scalar(f, "SELECT $1", pn, 1));
    /* The cached statement runs again with other values. */
    struct db_param p2[] = {P_TEXT("again"), P_INT(7), P_BOOL(false), P_TEXT("x")};
    assert_int_equal(store_exec(f->c, &q, p2, 4, f->a, &rows), ERR_OK);
    assert_string_equal(db_cell(&rows, 0, 0), "again");
    assert_string_equal(db_cell(&rows, 0, 2), "0");
    assert_string_equal(db_cell(&rows, 0, 3), "x");
    /* Many rows, and changes counted. */
    create(f, &f->alice, "{\"title\":\"a\"}", NULL);
    create(f, &f->alice, "{\"title\":\"b\"}", NULL);
    create(f, &f->bob, "{\"title\":\"c\"}", NULL);
    struct sql upd = {"UPDATE tasks SET priority = 'low' WHERE user_id = $1", NULL};
    struct db_param pu[] = {P_TEXT(f->alice.id)};
    assert_int_equal(store_exec(f->c, &upd, pu, 1, f->a, &rows), ERR_OK);
    assert_int_equal(rows.changes, 2);
    assert_int_equal(rows.nrows, 0);
    struct sql sel = {"SELECT title FROM tasks ORDER BY title", NULL};
    assert_int_equal(store_exec(f->c, &sel, NULL, 0, f->a, &rows), ERR_OK);
    assert_int_equal(rows.nrows, 3);
    assert_string_equal(db_cell(&rows, 2, 0), "c");
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct task_input in = input(f, "{\"title\":\"in a transaction\"}", TASK_CREATE);
    struct task t;
    assert_int_equal(store_begin(f->c), ERR_OK);
    assert_int_equal(exec(f, "DELETE FROM tasks", NULL, 0), ERR_OK);
    struct db_param p[] = {P_TEXT(f->alice.id), P_TEXT("rolled back"),
                           P_TEXT("2026-01-01T00:00:00Z")};
    assert_int_equal(exec(f,
                          "INSERT INTO tasks (user_id, title, created_at, updated_at) "
                          "VALUES ($1, $2, $3, $3)",
                          p, 3),
                     ERR_OK);
    store_rollback(f->c);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "0");

    assert_int_equal(store_begin(f->c), ERR_OK);
    assert_int_equal(exec(f,
                          "INSERT INTO tasks (user_id, title, created_at, updated_at) "
                          "VALUES ($1, $2, $3, $3)",
                          p, 3),
                     ERR_OK);
    assert_int_equal(store_commit(f->c), ERR_OK);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");

    /* A failure inside tasks_create rolls its transaction back and leaves none open. */
    assert_int_equal(tasks_create(f->c, f->a, "ghost", &in, &t), ERR_INVALID);
    assert_int_equal(store_begin(f->c), ERR_OK);
    assert_int_equal(store_commit(f->c), ERR_OK);
    assert_string_equal(scalar(f, "SELECT count(*) FROM tasks", NULL, 0), "1");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        T(test_migrations),
        cmocka_unit_test(test_memory_store),
        T(test_connection_has_one_holder),
        T(test_users),
        T(test_users_ensure),
        T(test_task_crud),
        T(test_isolation),
        T(test_toggle_other_users_task),
        T(test_complete_toggle),
        T(test_recurring_completion),
        T(test_recurring_past_year_9999),
        T(test_recurring_reminder_past_year_9999),
        T(test_recurring_completed_twice),
        T(test_list_filters),
        T(test_list_sort_and_pages),
        T(test_tags_and_stats),
        T(test_exec_error_mapping),
        T(test_exec_rows_and_params),
        T(test_transactions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
