/*
 * Unit tests for the connection limit (src/http/server.c): HTTP_CONN_LIMIT when set, else
 * 16384 lowered to what half the process's memory limit holds at a full request head's cost,
 * never below 256; and the cgroup files the memory limit is read from (v2, then v1; "max" and
 * v1's "unlimited" are no limit).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/server.h"

static void test_limit_for(void **state)
{
    (void)state;
    assert_int_equal(http_conn_limit_for(0, 0), 16384);
    assert_int_equal(http_conn_limit_for(0, 128LL << 20), (128 << 20) / 2 / (17 * 1024)); /* 3855 */
    assert_int_equal(http_conn_limit_for(0, 512LL << 20), 15420);
    assert_int_equal(http_conn_limit_for(0, 1LL << 30), 16384);
    assert_int_equal(http_conn_limit_for(0, 1LL << 20), 256);
    assert_int_equal(http_conn_limit_for(500, 128LL << 20), 500); /* the operator's word */
    assert_int_equal(http_conn_limit_for(40000, 0), 40000);
    /* The automatic limit's full heads fit in half of any limit it was derived from. */
    for (int64_t mem = 16LL << 20; mem <= 4LL << 30; mem += 7LL << 20)
        assert_true((int64_t)http_conn_limit_for(0, mem) * HTTP_CONN_COST <= mem / 2);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_memory_limit_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/todo-cgroup-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char v1[600];
    snprintf(v1, sizeof(v1), "%s/memory", dir);
    assert_int_equal(mkdir(v1, 0700), 0);
    assert_int_equal(http_memory_limit(dir), 0); /* no files: no limit */
    put(v1, "memory.limit_in_bytes", "9223372036854771712\n");
    assert_int_equal(http_memory_limit(dir), 0); /* v1's "unlimited" */
    put(v1, "memory.limit_in_bytes", "268435456\n");
    assert_int_equal(http_memory_limit(dir), 268435456);
    put(dir, "memory.max", "max\n");
    assert_int_equal(http_memory_limit(dir), 268435456); /* v2 says none: v1's stands */
    put(dir, "memory.max", "134217728\n");
    assert_int_equal(http_memory_limit(dir), 134217728);
    put(dir, "memory.max", "12ab\n");
    put(v1, "memory.limit_in_bytes", "");
    assert_int_equal(http_memory_limit(dir), 0); /* unreadable values: no limit */
    char path[700];
    snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", v1);
    unlink(path);
    rmdir(v1);
    snprintf(path, sizeof(path), "%s/memory.max", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_for),
        cmocka_unit_test(test_memory_limit_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
