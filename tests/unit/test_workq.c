/*
 * Unit tests for the work queue (src/io/workq.c): work runs on pool threads and completions
 * on the I/O loop, every accepted item completes exactly once, a queued item can be canceled,
 * quiesce cancels what waits and waits for what runs, and a step that takes a database
 * connection (SQLite, the per-thread kind) releases it before its completion runs.
 */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <curl/curl.h>

#include "core/err.h"
#include "core/log.h"
#include "core/url.h"
#include "core/util.h"
#include "io/loop.h"
#include "io/workq.h"
#include "store/store.h"

#define ITEMS 200

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct item {
    struct work w; /* first: the item is found from its work */
    struct loop *loop;
    int sleep_ms;
    atomic_bool *gate; /* work waits until it opens, when set */
    atomic_int started, ran, after_runs, after_on_loop, work_on_loop;
    int status;
    struct store *store; /* when set, the work runs a statement on a connection of its own */
    int db_rc;
};

static atomic_int completed;

static void item_work(struct work *w)
{
    struct item *it = (struct item *)w;
    atomic_fetch_add(&it->started, 1);
    atomic_fetch_add(&it->work_on_loop, loop_on_thread(it->loop));
    for (int i = 0; it->gate && !atomic_load(it->gate) && i < 5000; i++)
        sleep_ms(1);
    if (it->sleep_ms)
        sleep_ms(it->sleep_ms);
    if (it->store) {
        static const struct sql q = {"SELECT 1", NULL};
        struct store_conn *c = NULL;
        it->db_rc = store_acquire(it->store, &c);
        if (it->db_rc == ERR_OK) {
            it->db_rc = store_exec(c, &q, NULL, 0, NULL, NULL);
            store_release(c);
        }
    }
    atomic_fetch_add(&it->ran, 1);
}

static void item_after(struct work *w, int status)
{
    struct item *it = (struct item *)w;
    it->status = status;
    atomic_fetch_add(&it->after_on_loop, loop_on_thread(it->loop));
    atomic_fetch_add(&it->after_runs, 1);
    atomic_fetch_add(&completed, 1);
}

static void wait_completed(int n)
{
    for (int i = 0; i < 5000 && atomic_load(&completed) < n; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&completed), n);
}

static void test_work_and_completions(void **state)
{
    (void)state;
    struct loop *l = NULL;
    struct workq *q = NULL;
    assert_int_equal(loop_start(&l), ERR_OK);
    assert_int_equal(workq_start(l, 3, &q), ERR_OK);
    static struct item items[ITEMS];
    memset(items, 0, sizeof(items));
    atomic_store(&completed, 0);
    for (int i = 0; i < ITEMS; i++) {
        items[i].loop = l;
        assert_int_equal(workq_submit(q, &items[i].w, item_work, item_after), ERR_OK);
    }
    wait_completed(ITEMS);
    for (int i = 0; i < ITEMS; i++) {
        assert_int_equal(atomic_load(&items[i].ran), 1);
        assert_int_equal(atomic_load(&items[i].after_runs), 1);
        assert_int_equal(atomic_load(&items[i].after_on_loop), 1);
        assert_int_equal(atomic_load(&items[i].work_on_loop), 0);
        assert_int_equal(items[i].status, ERR_OK);
    }
    workq_quiesce(q);
    workq_free(q);
    loop_stop(l);
    loop_free(l);
}

static void test_cancel_and_quiesce(void **state)
{
    (void)state;
    struct loop *l = NULL;
    struct workq *q = NULL;
    assert_int_equal(loop_start(&l), ERR_OK);
    assert_int_equal(workq_start(l, 1, &q), ERR_OK);
    static struct item busy, waiting[3];
    memset(&busy, 0, sizeof(busy));
    memset(waiting, 0, sizeof(waiting));
    atomic_store(&completed, 0);
    atomic_bool gate = false;
    busy.loop = l;
    busy.gate = &gate;
    busy.sleep_ms = 200;
    assert_int_equal(workq_submit(q, &busy.w, item_work, item_after), ERR_OK);
    for (int i = 0; i < 3; i++) {
        waiting[i].loop = l;
        assert_int_equal(workq_submit(q, &waiting[i].w, item_work, item_after), ERR_OK);
    }
    /* The one thread is busy: the middle item is still queued and can be taken back. */
    assert_true(workq_cancel(q, &waiting[1].w));
    assert_false(workq_cancel(q, &waiting[1].w));
    atomic_store(&gate, true);
    for (int i = 0; i < 5000 && !atomic_load(&busy.started); i++)
        sleep_ms(1);
    assert_false(workq_cancel(q, &busy.w)); /* running: too late (it sleeps 200 ms) */
    int64_t t0 = now_mono_ms();
    workq_quiesce(q); /* cancels waiting[0] and [2], waits for busy */
    assert_int_equal(atomic_load(&busy.ran), 1);
    assert_true(now_mono_ms() - t0 >= 100);
    assert_int_equal(workq_submit(q, &waiting[1].w, item_work, item_after), ERR_UNAVAILABLE);
    wait_completed(4);
    assert_int_equal(busy.status, ERR_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&waiting[i].ran), 0);
        assert_int_equal(atomic_load(&waiting[i].after_runs), 1);
        assert_int_equal(waiting[i].status, ERR_CANCELED);
        assert_int_equal(atomic_load(&waiting[i].after_on_loop), 1);
    }
    workq_free(q);
    loop_stop(l);
    loop_free(l);
}

/* Steps on SQLite from several pool threads at once: each takes its thread's connection and
 * gives it back, so none is ever found checked out by another. */
static void test_database_steps(void **state)
{
    (void)state;
    struct db_url url = {0};
    char why[128];
    assert_int_equal(db_url_parse("sqlite:///:memory:", &url, why, sizeof(why)), ERR_OK);
    struct store_options o = {.url = &url, .pool_size = 1, .max_overflow = 0};
    struct store *s = NULL;
    assert_int_equal(store_open(&o, &s), ERR_OK);
    struct loop *l = NULL;
    struct workq *q = NULL;
    assert_int_equal(loop_start(&l), ERR_OK);
    assert_int_equal(workq_start(l, 4, &q), ERR_OK);
    static struct item items[64];
    memset(items, 0, sizeof(items));
    atomic_store(&completed, 0);
    for (int i = 0; i < 64; i++) {
        items[i].loop = l;
        items[i].store = s;
        items[i].sleep_ms = i % 3;
        assert_int_equal(workq_submit(q, &items[i].w, item_work, item_after), ERR_OK);
    }
    wait_completed(64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(items[i].db_rc, ERR_OK);
    workq_quiesce(q);
    workq_free(q);
    loop_stop(l);
    loop_free(l);
    store_close(s);
    db_url_free(&url);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_work_and_completions),
        cmocka_unit_test(test_cancel_and_quiesce),
        cmocka_unit_test(test_database_steps),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
