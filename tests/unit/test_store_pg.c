/*
 * Unit tests for the PostgreSQL backend (src/store/postgres.c) against a real server: a
 * throw-away cluster started with scripts/pg-test-server for this program (run from the
 * repository root, as `make unit` does). Prepared statements evicted from a connection's
 * cache are DEALLOCATEd, so pg_prepared_statements stays bounded however many statement
 * shapes a connection sees; evicted statements still run when they come back.
 */
#include "unit.h"
#include "unit_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/err.h"
#include "core/url.h"
#include "core/util.h"
#include "store/backend.h"
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

struct fixture {
    struct db_url url;
    struct store *store;
    struct store_conn *c;
    struct arena *a;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char why[256];
    if (!f || db_url_parse(pg.url, &f->url, why, sizeof(why)) != ERR_OK)
        return -1;
    struct store_options o = {.url = &f->url, .pool_size = 1, .max_overflow = 0};
    if (store_open(&o, &f->store) != ERR_OK || store_acquire(f->store, &f->c) != ERR_OK)
        return -1;
    f->a = arena_new();
    *state = f;
    return f->a ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_release(f->c);
    store_close(f->store);
    db_url_free(&f->url);
    arena_free(f->a);
    free(f);
    return 0;
}

/* Runs "SELECT $1::int + n" and checks the answer. */
static void expect_sum(struct fixture *f, int n)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SELECT $1::int + %d", n);
    struct sql q = {sql, NULL};
    struct db_param p[] = {P_INT(1000)};
    struct db_rows rows;
    int rc = store_exec(f->c, &q, p, 1, f->a, &rows);
    if (rc != ERR_OK || rows.nrows != 1)
        fail_msg("%s: rc %d, %zu rows", sql, rc, rows.nrows);
    char want[16];
    snprintf(want, sizeof(want), "%d", 1000 + n);
    assert_string_equal(db_cell(&rows, 0, 0), want);
}

static long prepared_count(struct fixture *f)
{
    static const struct sql q = {"SELECT count(*) FROM pg_prepared_statements", NULL};
    struct db_rows rows;
    assert_int_equal(store_exec(f->c, &q, NULL, 0, f->a, &rows), ERR_OK);
    return strtol(db_cell(&rows, 0, 0), NULL, 10);
}

static void test_prepared_statements_stay_bounded(void **state)
{
    struct fixture *f = *state;
    /* Regression: an evicted statement stayed prepared on the server, so a pooled connection
     * grew by one statement per new query shape, without bound. */
    const int shapes = 3 * STMT_CACHE_SLOTS;
    for (int n = 0; n < shapes; n++)
        expect_sum(f, n);
    long count = prepared_count(f);
    if (count > STMT_CACHE_SLOTS)
        fail_msg("%ld statements prepared on one connection after %d shapes (cache: %d)", count,
                 shapes, STMT_CACHE_SLOTS);
    assert_true(count > 0);
    /* Evicted shapes run again (prepared anew), and the bound holds. */
    for (int n = 0; n < shapes; n += 7)
        expect_sum(f, n);
    assert_true(prepared_count(f) <= STMT_CACHE_SLOTS);
}

static void test_statements_in_a_transaction_survive_eviction(void **state)
{
    struct fixture *f = *state;
    /* Evictions (and their DEALLOCATEs) inside a transaction do not disturb it. */
    assert_int_equal(store_begin(f->c), ERR_OK);
    for (int n = 0; n < 2 * STMT_CACHE_SLOTS; n++)
        expect_sum(f, 5000 + n);
    assert_int_equal(store_commit(f->c), ERR_OK);
    assert_true(prepared_count(f) <= STMT_CACHE_SLOTS);
    /* A failed statement inside a transaction, then a rollback: the connection is usable. */
    assert_int_equal(store_begin(f->c), ERR_OK);
    static const struct sql bad = {"SELECT no_such_column FROM pg_class", NULL};
    assert_int_equal(store_exec(f->c, &bad, NULL, 0, f->a, NULL), ERR_DB);
    store_rollback(f->c);
    expect_sum(f, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepared_statements_stay_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statements_in_a_transaction_survive_eviction, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, cluster_up, cluster_down);
}
