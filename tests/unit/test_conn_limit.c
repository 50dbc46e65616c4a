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

static void mkdirs(const char *root, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    mkdir(path, 0700);
}

static void test_memory_limit_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/todo-cgroup-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char self[600], sub[600];
    snprintf(self, sizeof(self), "%s/self", dir);
    mkdirs(dir, "memory");
    snprintf(sub, sizeof(sub), "%s/memory", dir);
    /* A container with a cgroup namespace: its limits are the root's files. */
    put(dir, "self", "0::/\n");
    assert_int_equal(http_memory_limit(dir, self), 0); /* no files: no limit */
    put(sub, "memory.limit_in_bytes", "9223372036854771712\n");
    assert_int_equal(http_memory_limit(dir, self), 0); /* v1's "unlimited" */
    put(sub, "memory.limit_in_bytes", "268435456\n");
    assert_int_equal(http_memory_limit(dir, self), 268435456);
    put(dir, "memory.max", "max\n");
    assert_int_equal(http_memory_limit(dir, self), 268435456); /* v2 says none: v1's stands */
    put(dir, "memory.max", "134217728\n");
    assert_int_equal(http_memory_limit(dir, self), 134217728); /* the smaller */
    put(dir, "memory.max", "12ab\n");
    put(sub, "memory.limit_in_bytes", "");
    assert_int_equal(http_memory_limit(dir, self), 0); /* unreadable values: no limit */
    /* A service in a cgroup of its own (systemd's MemoryMax=), under a slice with a smaller
     * limit: the smallest on the way up holds. */
    mkdirs(dir, "system.slice/todo.service");
    snprintf(sub, sizeof(sub), "%s/system.slice/todo.service", dir);
    put(sub, "memory.max", "536870912\n");
    put(dir, "self", "1:name=systemd:/system.slice/todo.service\n0::/system.slice/todo.service\n");
    assert_int_equal(http_memory_limit(dir, self), 536870912);
    snprintf(sub, sizeof(sub), "%s/system.slice", dir);
    put(sub, "memory.max", "402653184\n");
    assert_int_equal(http_memory_limit(dir, self), 402653184);
    /* v1: the memory controller's line names the cgroup. */
    mkdirs(dir, "memory/a/b");
    snprintf(sub, sizeof(sub), "%s/memory/a/b", dir);
    put(sub, "memory.limit_in_bytes", "100663296\n");
    put(dir, "self", "4:memory:/a/b\n3:cpu,cpuacct:/x\n0::/\n");
    assert_int_equal(http_memory_limit(dir, self), 100663296);
    /* No file for the process's cgroups: the root's only. */
    put(dir, "self", "");
    assert_int_equal(http_memory_limit(dir, self), 0);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_for),
        cmocka_unit_test(test_memory_limit_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
