/*
 * Unit tests for the PostgreSQL host name lookup done outside libpq (src/store/pg_addr.c)
 * and the lookup with a deadline under it (src/core/resolve.c): which URLs are left to
 * libpq, how a name becomes `host` + `hostaddr` lists (ports kept in step), and that a lookup
 * the caller stops waiting for returns at once. Only names /etc/hosts answers (localhost)
 * are looked up: no DNS.
 */
#include "unit.h"

#include <unistd.h>

#include "core/err.h"
#include "core/resolve.h"
#include "core/util.h"
#include "store/pg_addr.h"

static int resolve(const char *url, struct pg_addr *a)
{
    char why[128];
    return pg_addr_resolve(url, now_mono_ms() + 5000, NULL, NULL, a, why, sizeof(why));
}

/* URLs libpq reads by itself: numeric hosts, socket directories, no host, a hostaddr. */
static void test_left_to_libpq(void **state)
{
    (void)state;
    static const char *urls[] = {
        "postgresql://todo@127.0.0.1:5432/todo",
        "postgresql://todo@[::1]:5432/todo",
        "postgresql:///todo?host=/var/run/postgresql",
        "postgresql:///todo",
        "host=@abstract dbname=todo",
        "postgresql://todo@localhost/todo?hostaddr=127.0.0.1",
        "host=localhost,localhost,localhost port=1,2 dbname=todo", /* libpq's error to report */
        "not a url at all = =",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct pg_addr a;
        assert_int_equal(resolve(urls[i], &a), ERR_OK);
        if (a.n != 0)
            fail_msg("%s: %d keywords", urls[i], a.n);
    }
}

static void test_name_gets_hostaddr(void **state)
{
    (void)state;
    struct pg_addr a;
    assert_int_equal(resolve("postgresql://todo:pw@localhost:5433/todo?sslmode=disable", &a),
                     ERR_OK);
    assert_int_equal(a.n, 2); /* one port: the URL's stands */
    assert_string_equal(a.keys[0], "host");
    assert_string_equal(a.keys[1], "hostaddr");
    /* As many hosts as addresses, each named localhost (TLS checks the name). */
    assert_true(strncmp(a.vals[0], "localhost", 9) == 0);
    assert_true(strncmp(a.vals[1], "127.0.0.1", 9) == 0 || strncmp(a.vals[1], "::1", 3) == 0);
    size_t hosts = 1, addrs = 1;
    for (const char *p = a.vals[0]; *p; p++)
        hosts += *p == ',';
    for (const char *p = a.vals[1]; *p; p++)
        addrs += *p == ',';
    assert_int_equal(hosts, addrs);
}

static void test_host_lists_keep_their_ports(void **state)
{
    (void)state;
    struct pg_addr a;
    assert_int_equal(resolve("host=/tmp,localhost,10.0.0.9 port=5000,5001,5002 dbname=todo", &a),
                     ERR_OK);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.keys[2], "port");
    /* localhost may have more than one address: then it repeats, with its port. */
    assert_true(strncmp(a.vals[0], "/tmp,localhost,", 15) == 0);
    assert_true(strncmp(a.vals[1], ",127.0.0.1,", 11) == 0 || strncmp(a.vals[1], ",::1,", 5) == 0);
    assert_true(strncmp(a.vals[2], "5000,5001,", 10) == 0);
    size_t n = strlen(a.vals[2]);
    assert_string_equal(a.vals[2] + n - 5, ",5002");
    assert_string_equal(a.vals[0] + strlen(a.vals[0]) - 9, ",10.0.0.9");
}

static bool always(void *arg)
{
    (*(int *)arg)++;
    return true;
}

/* A caller that stops waiting gets ERR_TIMEOUT at once, or the answer if it was already
 * there; either way nothing leaks (the thread frees what it shares, ASan checks). */
static void test_stop_gives_up(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        struct resolve_result r;
        int polls = 0;
        int rc = resolve_host("localhost", now_mono_ms() + 5000, always, &polls, &r, NULL);
        assert_true(rc == ERR_TIMEOUT || (rc == ERR_OK && r.n >= 1));
        assert_true(polls <= 1);
    }
    struct resolve_result r;
    assert_int_equal(resolve_host("", now_mono_ms() + 100, NULL, NULL, &r, NULL), ERR_INVALID);
    char longname[RESOLVE_HOST_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(resolve_host(longname, now_mono_ms() + 100, NULL, NULL, &r, NULL),
                     ERR_INVALID);
    assert_true(resolve_is_numeric("192.0.2.1"));
    assert_true(resolve_is_numeric("2001:db8::1"));
    assert_false(resolve_is_numeric("db.example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_left_to_libpq),
        cmocka_unit_test(test_name_gets_hostaddr),
        cmocka_unit_test(test_host_lists_keep_their_ports),
        cmocka_unit_test(test_stop_gives_up),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    usleep(200000); /* lookups given up on finish on their own threads */
    return rc;
}
