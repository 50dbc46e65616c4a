/*
 * Unit tests for the metrics table (src/core/metrics.c): every enum id has its row in order
 * with a valid name; counters, gauges and histograms render in the exposition format with
 * label values escaped; the table's capacity holds (overflowing label sets fold into one
 * series); and concurrent counting loses no increment.
 */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/metrics.h"

static const char *render(struct arena *a)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, METRICS_MAX_SERIES * 2048);
    assert_int_equal(metrics_render(&d), ERR_OK);
    return dyn_str(&d);
}

static void test_table_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < METRIC__COUNT; i++) {
        const struct metric_def *d = &metric_defs[i];
        assert_int_equal(d->id, i);
        assert_non_null(d->name);
        assert_non_null(d->help);
        assert_true(strncmp(d->name, "todo_", 5) == 0);
        for (const char *p = d->name; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9'));
        assert_true((d->type == METRIC_HISTOGRAM) == (d->n_buckets > 0));
        for (size_t b = 1; b < d->n_buckets; b++)
            assert_true(d->buckets[b - 1] < d->buckets[b]);
        if (d->type == METRIC_COUNTER)
            assert_true(strstr(d->name, "_total") != NULL);
    }
}

static void test_render(void **state)
{
    (void)state;
    metrics_reset();
    struct arena *a = arena_new();
    METRIC_INC(METRIC_HTTP_REQUESTS, "/a\"b\\c\nd", "GET", "200");
    metric_add(METRIC_HTTP_REQUESTS, (const char *const[]){"/a\"b\\c\nd", "GET", "200"}, 2);
    metric_set(METRIC_DB_POOL_IN_USE, NULL, 3);
    metric_observe(METRIC_HTTP_DURATION, (const char *const[]){"/x"}, 0.003);
    metric_observe(METRIC_HTTP_DURATION, (const char *const[]){"/x"}, 100);
    const char *t = render(a);
    assert_non_null(strstr(t, "# TYPE todo_http_requests_total counter\n"));
    assert_non_null(strstr(
        t,
        "todo_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",method=\"GET\",status=\"200\"} 3\n"));
    assert_non_null(strstr(t, "todo_db_pool_connections_in_use 3\n"));
    assert_non_null(
        strstr(t, "todo_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.001\"} 0\n"));
    assert_non_null(
        strstr(t, "todo_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"));
    assert_non_null(
        strstr(t, "todo_http_request_duration_seconds_bucket{route=\"/x\",le=\"10\"} 1\n"));
    assert_non_null(
        strstr(t, "todo_http_request_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(t, "todo_http_request_duration_seconds_count{route=\"/x\"} 2\n"));
    assert_non_null(strstr(t, "todo_http_request_duration_seconds_sum{route=\"/x\"} 100.003\n"));
    /* a metric without labels shows 0 before anything counted */
    assert_non_null(strstr(t, "todo_db_pool_waits_total 0\n"));
    arena_free(a);
}

static void test_overflow(void **state)
{
    (void)state;
    metrics_reset();
    char v[32];
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        snprintf(v, sizeof(v), "t%d", i);
        METRIC_INC(METRIC_MCP_CALLS, v, "ok");
    }
    struct arena *a = arena_new();
    const char *t = render(a);
    assert_non_null(
        strstr(t, "todo_mcp_tool_calls_total{tool=\"_other\",outcome=\"_other\"} 10\n"));
    arena_free(a);
    metrics_reset();
}

#define THREADS 4
#define ROUNDS  20000

static void *count(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        METRIC_INC(METRIC_REMINDERS_SENT, i % 2 ? "email" : "in_app");
        metric_observe(METRIC_LLM_DURATION, (const char *const[]){"p"}, 0.5);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    metrics_reset();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, count, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    struct arena *a = arena_new();
    const char *t = render(a);
    char want[128];
    snprintf(want, sizeof(want), "todo_reminders_sent_total{channel=\"email\"} %d\n",
             THREADS * ROUNDS / 2);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof(want), "todo_llm_call_duration_seconds_count{provider=\"p\"} %d\n",
             THREADS * ROUNDS);
    assert_non_null(strstr(t, want));
    arena_free(a);
    metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
