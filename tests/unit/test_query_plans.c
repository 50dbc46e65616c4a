/*
 * The task statements' query plans, on both backends: creating, reading, completing, listing
 * and counting a user's tasks use indexes, never a scan of the whole tasks table, and reading
 * one task uses its primary key, both while the table holds one task (never analysed) and once
 * it holds 10,000. The plans come from the store's explain hook (store_explain), so the
 * statements checked are the ones the domain really runs, with their parameters; PostgreSQL's
 * session prefers generic plans (plan_cache_mode = force_generic_plan), the kind a prepared
 * statement keeps. A create once read every task of its user this way (issue 15): the plan
 * made while the table was small walked the (user_id, …) index and filtered on the id.
 */
#include "unit.h"
#include "unit_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/url.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/tasks.h"
#include "domain/users.h"
#include "store/store.h"

static struct unit_pg pg;

static int cluster_up(void **state)
{
    (void)state;
    return unit_pg_start(&pg);
}

static int cluster_down(void **state)
{
    (void)state;
    return unit_pg_stop(&pg);
}

/* Every plan seen, and the problems found in them. */
struct plans {
    bool pg;
    int seen;  /* statements on tasks */
    int by_id; /* of which, one task by its id */
    int paged; /* of which, a page in the default order, once grown */
    bool grown;
    char bad[4096];
};

static void note_bad(struct plans *p, const char *why, const char *sql, const char *plan)
{
    size_t used = strlen(p->bad);
    if (used < sizeof(p->bad) - 1)
        snprintf(p->bad + used, sizeof(p->bad) - used, "%s:\n  %s\n%s\n", why, sql, plan);
}

/* Checks one statement's plan (the explain callback). */
static void check_plan(void *ctx, const char *sql, const char *plan)
{
    struct plans *p = ctx;
    if (!strstr(sql, " tasks") || strncmp(sql, "INSERT INTO tasks", 17) == 0)
        return; /* other tables; an INSERT … VALUES reads nothing */
    p->seen++;
    if (p->pg ? strstr(plan, "Seq Scan on tasks") != NULL
              : (strstr(plan, "SCAN t\n") != NULL || strstr(plan, "SCAN tasks\n") != NULL))
        note_bad(p, "a scan of the whole tasks table", sql, plan);
    if (strstr(sql, "id = $1 AND (")) { /* one task by id: OWNER_CHECK */
        p->by_id++;
        if (!strstr(plan, p->pg ? "tasks_pkey" : "INTEGER PRIMARY KEY"))
            note_bad(p, "one task not read by its primary key", sql, plan);
    }
    /* The default page of a grown user, whose tasks all share one created_at: the index
     * must give the order with its tie-break (the id), so the page reads its rows and stops,
     * rather than sorting all of them (migration 14). */
    if (p->grown && strstr(sql, "ORDER BY t.created_at DESC, t.id DESC LIMIT")) {
        p->paged++;
        if (strstr(plan, "Sort") || strstr(plan, "TEMP B-TREE"))
            note_bad(p, "the default page sorts instead of reading the index in order", sql, plan);
    }
}

struct fixture {
    struct db_url url;
    struct store *store;
    struct store_conn *c;
    struct arena *a;
    char dir[64];
    struct user u;
};

static int open_store(struct fixture *f, const char *url)
{
    char why[256];
    if (db_url_parse(url, &f->url, why, sizeof(why)) != ERR_OK)
        return -1;
    struct store_options o = {.url = &f->url, .pool_size = 1, .max_overflow = 0};
    if (store_open(&o, &f->store) != ERR_OK || store_migrate(f->store) != ERR_OK ||
        store_acquire(f->store, &f->c) != ERR_OK)
        return -1;
    f->a = arena_new();
    if (!f->a || users_create(f->c, f->a, "plans@example.com", "h", NULL, &f->u) != ERR_OK)
        return -1;
    return 0;
}

static int setup_sqlite(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/todo-unit-plans-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char url[128];
    snprintf(url, sizeof(url), "sqlite:///%s/todo.db", f->dir);
    *state = f;
    return open_store(f, url);
}

static int setup_pg(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    if (open_store(f, pg.url) != 0)
        return -1;
    static const struct sql generic = {"SET plan_cache_mode = force_generic_plan", NULL};
    return store_exec(f->c, &generic, NULL, 0, NULL, NULL) == ERR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    if (f->c) {
        store_explain(f->c, NULL, NULL);
        store_release(f->c);
    }
    store_close(f->store);
    db_url_free(&f->url);
    arena_free(f->a);
    if (f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        if (system(cmd) != 0)
            print_error("could not remove %s\n", f->dir);
    }
    free(f);
    return 0;
}

/* Lists f's tasks in the default order from offset: sets *n and *total. */
static void list_default(struct fixture *f, int64_t offset, size_t *n, int64_t *total)
{
    struct task_filter flt;
    task_filter_defaults(&flt);
    flt.offset = offset;
    struct task *page;
    assert_int_equal(tasks_list(f->c, f->a, f->u.id, &flt, &page, n, total), ERR_OK);
}

/* Creates, reads, completes, lists and counts f's tasks with the plans checked. */
static void exercise(struct fixture *f)
{
    struct verrors errs = {0};
    struct task_input in;
    yyjson_doc *doc = unit_json(f->a, "{\"title\":\"plan\",\"tags\":[\"a\",\"b\"]}");
    assert_int_equal(
        task_input_parse(yyjson_doc_get_root(doc), TASK_CREATE, "body", f->a, &in, &errs), ERR_OK);
    struct task t;
    assert_int_equal(tasks_create(f->c, f->a, f->u.id, &in, &t), ERR_OK);
    assert_int_equal(tasks_get(f->c, f->a, f->u.id, t.id, &t), ERR_OK);
    struct task next;
    bool has_next;
    assert_int_equal(tasks_complete(f->c, f->a, f->u.id, t.id, 1, &t, &next, &has_next), ERR_OK);
    size_t n;
    int64_t total;
    list_default(f, 0, &n, &total);
    assert_true(n > 0 && total > 0);
    list_default(f, 1000000, &n, &total); /* an empty page past the end: the count runs */
    assert_true(n == 0 && total > 0);
}

/* Adds n tasks for f's user and n for n other users, in SQL. */
static void grow(struct fixture *f, int n)
{
    char sql[1024];
    const char *now = store_kind(f->store) == DB_POSTGRES ? "now()" : "'2030-01-01T00:00:00Z'";
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) "
             "INSERT INTO users (id, email, created_at, updated_at) "
             "SELECT 'other-' || g, 'other' || g || '@example.com', %s, %s FROM s",
             n, now, now);
    struct sql q = {sql, NULL};
    assert_int_equal(store_exec(f->c, &q, NULL, 0, NULL, NULL), ERR_OK);
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) "
             "INSERT INTO tasks (user_id, title, created_at, updated_at) "
             "SELECT CASE WHEN g %% 2 = 0 THEN $1 ELSE 'other-' || (g %% %d + 1) END, 'grown', "
             "%s, %s FROM s",
             2 * n, n, now, now);
    struct db_param p[] = {P_TEXT(f->u.id)};
    assert_int_equal(store_exec(f->c, &q, p, 1, NULL, NULL), ERR_OK);
}

/* The plans made while the table holds one task, then after it has grown. */
static void test_task_statements_use_indexes(void **state)
{
    struct fixture *f = *state;
    struct plans p = {.pg = store_kind(f->store) == DB_POSTGRES};
    store_explain(f->c, check_plan, &p);
    exercise(f);
    store_explain(f->c, NULL, NULL);
    grow(f, 5000);
    store_explain(f->c, check_plan, &p);
    exercise(f);
    store_explain(f->c, NULL, NULL);
    /* The first page in the default order, once the table is analysed (as autovacuum would
     * have by then: PostgreSQL then knows the user has thousands of tasks). */
    if (p.pg) {
        static const struct sql analyze = {"ANALYZE tasks", NULL};
        assert_int_equal(store_exec(f->c, &analyze, NULL, 0, NULL, NULL), ERR_OK);
    }
    p.grown = true;
    store_explain(f->c, check_plan, &p);
    size_t n;
    int64_t total;
    list_default(f, 0, &n, &total);
    assert_true(n > 0 && total > (int64_t)n);
    store_explain(f->c, NULL, NULL);
    if (p.bad[0])
        fail_msg("%s", p.bad);
    assert_true(p.seen >= 8);
    assert_true(p.by_id >= 4);
    assert_true(p.paged >= 1);
}

int main(void)
{
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test_setup_teardown(test_task_statements_use_indexes, setup_sqlite, teardown),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_setup_teardown(test_task_statements_use_indexes, setup_pg, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("postgres", pg_tests, cluster_up, cluster_down);
    return failed;
}
