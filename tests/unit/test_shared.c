/*
 * Unit tests for reference-counted objects (src/core/shared.c) and the arena's cleanups
 * (arena_on_free): the last reference disposes once, an arena link drops its reference when
 * the arena is freed, cleanups run newest first, and counting holds under threads.
 */
#include "unit.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/shared.h"

#define RACE_THREADS 4
#define RACE_ROUNDS  20000

struct thing {
    int value;
    int *disposed;
};

static void thing_dispose(void *obj)
{
    struct thing *t = obj;
    (*t->disposed)++;
}

static void test_last_reference_disposes(void **state)
{
    (void)state;
    int disposed = 0;
    struct thing *t = shared_new(sizeof(*t), thing_dispose);
    assert_non_null(t);
    assert_int_equal((uintptr_t)t % alignof(max_align_t), 0);
    assert_int_equal(t->value, 0); /* zeroed */
    t->disposed = &disposed;
    assert_ptr_equal(shared_ref(t), t);
    assert_int_equal(shared_refs(t), 2);
    shared_unref(t);
    assert_int_equal(disposed, 0);
    shared_unref(t);
    assert_int_equal(disposed, 1);
    shared_unref(NULL);
}

static void test_arena_link(void **state)
{
    (void)state;
    int disposed = 0;
    struct thing *t = shared_new(sizeof(*t), thing_dispose);
    assert_non_null(t);
    t->disposed = &disposed;
    struct arena *a = arena_new();
    assert_non_null(a);
    assert_int_equal(shared_link(a, t), ERR_OK);
    shared_unref(t); /* the creator is done; the request still holds it */
    assert_int_equal(disposed, 0);
    assert_int_equal(shared_refs(t), 1);
    arena_free(a);
    assert_int_equal(disposed, 1);
    /* A recycled arena starts with no cleanups. */
    a = arena_new();
    arena_free(a);
    assert_int_equal(disposed, 1);
}

static void record(void *arg)
{
    int *order = arg;
    order[order[0] + 1] = order[0] == 0 ? 2 : 1;
    order[0]++;
}

static void test_cleanups_run_newest_first(void **state)
{
    (void)state;
    int order[4] = {0};
    struct arena *a = arena_new();
    assert_int_equal(arena_on_free(a, record, order), ERR_OK);
    assert_int_equal(arena_on_free(a, record, order), ERR_OK);
    arena_free(a);
    assert_int_equal(order[0], 2);
}

static void *race(void *arg)
{
    for (int i = 0; i < RACE_ROUNDS; i++) {
        shared_ref(arg);
        shared_unref(arg);
    }
    return NULL;
}

static void test_counting_under_threads(void **state)
{
    (void)state;
    int disposed = 0;
    struct thing *t = shared_new(sizeof(*t), thing_dispose);
    t->disposed = &disposed;
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race, t), 0);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(shared_refs(t), 1);
    assert_int_equal(disposed, 0);
    shared_unref(t);
    assert_int_equal(disposed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_reference_disposes),
        cmocka_unit_test(test_arena_link),
        cmocka_unit_test(test_cleanups_run_newest_first),
        cmocka_unit_test(test_counting_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
