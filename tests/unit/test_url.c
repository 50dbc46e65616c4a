/*
 * Unit tests for URL rules (src/core/url.c): http(s) URLs, browser origins, DATABASE_URL
 * parsing for SQLite and PostgreSQL (driver suffixes, asyncpg's ssl=), rejection reasons
 * that never echo a password, and password redaction for printing.
 */
#include "unit.h"

#include <stdlib.h>

#include "core/err.h"
#include "core/url.h"
#include "core/util.h"

#define PASSWORD   "hunter2pw"
#define ORIGIN_MAX 256

static void test_url_is_http(void **state)
{
    (void)state;
    static const char *good[] = {
        "http://a",
        "https://example.com",
        "https://example.com:8443/x?y=1",
        "http://127.0.0.1:8000/",
        "http://[::1]:8080/",
    };
    static const char *bad[] = {
        "",
        "example.com",
        "ftp://example.com",
        "file:///etc/passwd",
        "http://",
        "https://",
        "javascript:alert(1)",
        "//example.com",
        "http:example.com",
        "mailto:a@b.c",
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        if (!url_is_http(good[i]))
            fail_msg("url_is_http refused %s", good[i]);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        if (url_is_http(bad[i]))
            fail_msg("url_is_http accepted \"%s\"", bad[i]);
    }
    assert_false(url_is_http(NULL));
}

static void test_origin_canonical(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } good[] = {
        {"https://a.example.com", "https://a.example.com"},
        {"https://a.example.com/", "https://a.example.com"},
        {"http://localhost:3000", "http://localhost:3000"},
        {"http://localhost:3000/", "http://localhost:3000"},
        {"http://127.0.0.1:5173", "http://127.0.0.1:5173"},
        {"http://[::1]:8080/", "http://[::1]:8080"},
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        char out[ORIGIN_MAX] = "unchanged";
        if (!url_origin_canonical(good[i].in, out, sizeof(out)))
            fail_msg("origin refused: %s", good[i].in);
        assert_string_equal(out, good[i].out);
    }
    static const char *bad[] = {
        "https://a.example.com/app", /* a path */
        "https://a.example.com//",
        "https://a.example.com?x=1", /* a query */
        "https://a.example.com/?x=1",
        "https://a.example.com/?",
        "*",
        "null",
        "a.example.com",
        "ftp://a.example.com",
        "",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char out[ORIGIN_MAX];
        if (url_origin_canonical(bad[i], out, sizeof(out)))
            fail_msg("origin accepted: \"%s\" as %s", bad[i], out);
    }
    assert_false(url_origin_canonical(NULL, (char[8]){0}, 8));
}

static void test_origin_canonical_default_port(void **state)
{
    (void)state;
    /* Regression (fixed): url_origin_canonical (src/core/url.c) keeps an explicit default port:
     * "https://a.example.com:443" stays "https://a.example.com:443", but browsers send
     * "Origin: https://a.example.com" (RFC 6454 drops the default port), so that CORS_ORIGINS
     * entry never matches in src/http/cors.c. curl_url_get(…, CURLUPART_PORT,
     * CURLU_NO_DEFAULT_PORT) would give the canonical form. */

    char out[ORIGIN_MAX];
    assert_true(url_origin_canonical("https://a.example.com:443", out, sizeof(out)));
    assert_string_equal(out, "https://a.example.com");
    assert_true(url_origin_canonical("http://a.example.com:80/", out, sizeof(out)));
    assert_string_equal(out, "http://a.example.com");
    /* A non-default port is part of the origin. */
    assert_true(url_origin_canonical("https://a.example.com:80", out, sizeof(out)));
    assert_string_equal(out, "https://a.example.com:80");
}

static void test_origin_canonical_bounded(void **state)
{
    (void)state;
    char small[16];
    /* "https://a.example.com" is 21 characters: does not fit, so refused. */
    assert_false(url_origin_canonical("https://a.example.com", small, sizeof(small)));
    char exact[22];
    assert_true(url_origin_canonical("https://a.example.com/", exact, sizeof(exact)));
    assert_string_equal(exact, "https://a.example.com");
}

/* Parses s and expects success; returns the result for the caller to free. */
static struct db_url parse_ok(const char *s)
{
    struct db_url u;
    char why[256] = "";
    int rc = db_url_parse(s, &u, why, sizeof(why));
    if (rc != ERR_OK)
        fail_msg("db_url_parse(%s) = %d: %s", s, rc, why);
    return u;
}

static void test_db_url_sqlite(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *path;
    } cases[] = {
        {"sqlite:///todo.db", "todo.db"},
        {"sqlite:///./var/todo.db", "./var/todo.db"},
        {"sqlite:////var/lib/todo/todo.db", "/var/lib/todo/todo.db"},
        {"sqlite:///:memory:", ":memory:"},
        {"sqlite+aiosqlite:///data/app.db", "data/app.db"},
        {"sqlite+pysqlite:////abs.db", "/abs.db"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct db_url u = parse_ok(cases[i].in);
        assert_int_equal(u.kind, DB_SQLITE);
        assert_non_null(u.sqlite_path);
        assert_string_equal(u.sqlite_path, cases[i].path);
        assert_null(u.pg_url);
        db_url_free(&u);
        assert_null(u.sqlite_path);
    }
}

static void test_db_url_postgres(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *pg;
    } cases[] = {
        {"postgresql://u:p@db.example.com:5432/todo", "postgresql://u:p@db.example.com:5432/todo"},
        {"postgres://u:p@db/todo", "postgresql://u:p@db/todo"},
        {"postgresql+psycopg://u@db/todo", "postgresql://u@db/todo"},
        {"postgresql+psycopg2://db/todo", "postgresql://db/todo"},
        {"postgresql+asyncpg://u:p@db:5432/todo?ssl=require",
         "postgresql://u:p@db:5432/todo?sslmode=require"},
        {"postgresql+asyncpg://u:p@db/todo?ssl=true", "postgresql://u:p@db/todo?sslmode=require"},
        {"postgresql://u:p@db/todo?application_name=todo&ssl=disable",
         "postgresql://u:p@db/todo?application_name=todo&sslmode=disable"},
        {"postgresql://u:p@db/todo?sslmode=verify-full",
         "postgresql://u:p@db/todo?sslmode=verify-full"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct db_url u = parse_ok(cases[i].in);
        assert_int_equal(u.kind, DB_POSTGRES);
        assert_null(u.sqlite_path);
        assert_non_null(u.pg_url);
        assert_string_equal(u.pg_url, cases[i].pg);
        db_url_free(&u);
    }
}

/* Expects s to be refused with a non-empty reason that does not contain PASSWORD. */
static void expect_invalid(const char *s)
{
    struct db_url u;
    char why[256];
    memset(why, 0, sizeof(why));
    int rc = db_url_parse(s, &u, why, sizeof(why));
    if (rc != ERR_INVALID) {
        db_url_free(&u);
        fail_msg("db_url_parse accepted \"%s\" (rc %d)", s, rc);
    }
    if (why[0] == '\0')
        fail_msg("no reason for \"%s\"", s);
    if (unit_contains(why, PASSWORD))
        fail_msg("reason for a refused URL leaks the password: %s", why);
    assert_null(u.sqlite_path);
    assert_null(u.pg_url);
}

static void test_db_url_invalid(void **state)
{
    (void)state;
    expect_invalid("");
    expect_invalid("mysql://u:" PASSWORD "@db/todo");
    expect_invalid("u:" PASSWORD "@db/todo");
    expect_invalid("sqlite://todo.db");
    expect_invalid("sqlite:///");
    expect_invalid("sqlite:///todo.db?mode=ro");
    expect_invalid("postgresql://u:" PASSWORD "@db/todo?bogus=1");
    expect_invalid("postgresql://u:" PASSWORD "@db/todo?sslmode");
    struct db_url u;
    char why[128] = "";
    assert_int_equal(db_url_parse(NULL, &u, why, sizeof(why)), ERR_INVALID);
    assert_true(why[0] != '\0');

    /* Over-long URLs are refused before any parsing. */
    size_t n = 5000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memcpy(big, "sqlite:///", 10);
    memset(big + 10, 'a', n - 10);
    big[n] = '\0';
    assert_int_equal(db_url_parse(big, &u, why, sizeof(why)), ERR_INVALID);
    assert_true(unit_contains(why, "shorter"));
    free(big);
}

/* Regression: map_ssl_param checked for 4 more bytes than the URL had but wrote up to 7 more
 * per "ssl=true", so a URL under the length limit with many of them overflowed the stack
 * buffer. Now the rewritten URL must fit, or the URL is refused as too long. */
static void test_db_url_many_ssl_params(void **state)
{
    (void)state;
    static const char head[] = "postgresql+asyncpg://u:" PASSWORD "@db/todo?application_name=";
    char *big = malloc(4096);
    assert_non_null(big);
    /* Several paddings, so that the rewrite meets the end of the buffer at every offset. */
    for (size_t pad = 0; pad < 9; pad++) {
        size_t used = sizeof(head) - 1;
        memcpy(big, head, used);
        memset(big + used, 'a', pad + 1);
        used += pad + 1;
        while (used + 9 < 4000) { /* each "&ssl=true" grows by 7 bytes when rewritten */
            memcpy(big + used, "&ssl=true", 9);
            used += 9;
        }
        big[used] = '\0';
        struct db_url u;
        char why[256] = "";
        assert_int_equal(db_url_parse(big, &u, why, sizeof(why)), ERR_INVALID);
        assert_true(unit_contains(why, "shorter"));
        assert_false(unit_contains(why, PASSWORD));
        assert_null(u.pg_url);
    }

    /* A few of them still map, each one. */
    struct db_url ok =
        parse_ok("postgresql+asyncpg://u:p@db/todo?ssl=true&application_name=ssl&ssl=disable");
    assert_string_equal(
        ok.pg_url, "postgresql://u:p@db/todo?sslmode=require&application_name=ssl&sslmode=disable");
    db_url_free(&ok);
    free(big);
}

static void test_db_url_invalid_port(void **state)
{
    (void)state;
    /* Regression (fixed): db_url_parse (src/core/url.c) relies on PQconninfoParse, which does not
     * check the port: "postgresql://host:notaport/db" and ":99999" are accepted (ERR_OK) and only
     * fail later at connect time instead of at start-up with a "DATABASE_URL: …" line. */

    expect_invalid("postgresql://host:notaport/db");
    expect_invalid("postgresql://u:" PASSWORD "@host:99999/db");
}

static void test_db_url_reason_never_holds_password(void **state)
{
    (void)state;
    /* Regression (fixed): db_url_parse (src/core/url.c) copies libpq's PQconninfoParse message into
     * why, and libpq quotes the whole URI or the offending token: for
     * "postgresql://u:hunter2pw@[::1/db" why is 'not a valid PostgreSQL URL: end of string
     * reached when looking for matching "]" in IPv6 host address in URI:
     * "postgresql://u:hunter2pw@[::1/db"', and a bad %-escape in the password gives
     * 'invalid percent-encoded token: "hunter2pw%zz"'. config_load prints why on stderr. */

    expect_invalid("postgresql://u:" PASSWORD "@[::1/db");
    expect_invalid("postgresql://u:" PASSWORD "%zz@db/todo");
}

/* True when db_url_parse accepts s. */
static bool db_url_parse_ok(const char *s)
{
    struct db_url u = {0};
    char why[256];
    int rc = db_url_parse(s, &u, why, sizeof(why));
    db_url_free(&u);
    return rc == ERR_OK;
}

static void expect_redacted(const char *in, const char *want)
{
    char *r = db_url_redact(in);
    assert_non_null(r);
    if (strcmp(r, want) != 0)
        fail_msg("db_url_redact(%s) = %s, want %s", in, r, want);
    free(r);
}

static void test_db_url_redact(void **state)
{
    (void)state;
    expect_redacted("postgresql://alice:" PASSWORD "@db.example.com:5432/todo",
                    "postgresql://alice:***@db.example.com:5432/todo");
    expect_redacted("postgres://alice:" PASSWORD "@db/todo?sslmode=require",
                    "postgres://alice:***@db/todo?sslmode=require");
    expect_redacted("postgresql://alice@db/todo", "postgresql://alice@db/todo");
    expect_redacted("postgresql://db/todo", "postgresql://db/todo");
    expect_redacted("sqlite:///./var/todo.db", "sqlite:///./var/todo.db");
    expect_redacted("postgresql://alice@db/todo?password=" PASSWORD,
                    "postgresql://alice@db/todo?password=***");
    expect_redacted("postgresql://alice:x@db/todo?sslmode=require&password=" PASSWORD "&a=b",
                    "postgresql://alice:***@db/todo?sslmode=require&password=***&a=b");
    /* Not a URL at all: nothing of it is echoed. */
    expect_redacted("alice:" PASSWORD "@db", "***");
    /* Regression (fuzz/corpus/config/password_with_at, found by make fuzz): a password with
     * an '@' that is not percent-encoded parses (libpq reads password "p", host
     * "ssword…@db"), and `todo config check` printed the rest of it. */
    assert_int_equal(db_url_parse_ok("postgresql://alice:p@" PASSWORD "@db/todo"), true);
    expect_redacted("postgresql://alice:p@" PASSWORD "@db:5432/todo?sslmode=require",
                    "postgresql://alice:***@db:5432/todo?sslmode=require");
    expect_redacted("postgresql://alice:p@ss@" PASSWORD "@db/todo",
                    "postgresql://alice:***@db/todo");
    char *r = db_url_redact(NULL);
    assert_non_null(r);
    assert_string_equal(r, "");
    free(r);
}

static void test_db_url_redact_encoded_query_key(void **state)
{
    (void)state;
    /* Regression (fixed): libpq percent-decodes query keys, so "?pass%77ord=…" is the password, but
     * db_url_redact (src/core/url.c, redact_query) only matches the literal "password=" and
     * returns the value verbatim. */

    char *r = db_url_redact("postgresql://alice@db/todo?pass%77ord=" PASSWORD);
    assert_non_null(r);
    bool leaked = unit_contains(r, PASSWORD);
    free(r);
    assert_false(leaked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_is_http),
        cmocka_unit_test(test_origin_canonical),
        cmocka_unit_test(test_origin_canonical_default_port),
        cmocka_unit_test(test_origin_canonical_bounded),
        cmocka_unit_test(test_db_url_sqlite),
        cmocka_unit_test(test_db_url_postgres),
        cmocka_unit_test(test_db_url_invalid),
        cmocka_unit_test(test_db_url_many_ssl_params),
        cmocka_unit_test(test_db_url_invalid_port),
        cmocka_unit_test(test_db_url_reason_never_holds_password),
        cmocka_unit_test(test_db_url_redact),
        cmocka_unit_test(test_db_url_redact_encoded_query_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
