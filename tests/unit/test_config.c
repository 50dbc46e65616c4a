/*
 * Unit tests for configuration (src/core/config.c): the defaults, one rejection line per
 * bad variable naming it, aliases and empty values, CORS origins from CORS_ORIGINS and
 * FRONTEND_URL, config_print's redaction, and the development secret kept under DATA_DIR.
 * The environment is a table handed to config_load; the real one is never read.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"

/* A secret long enough for every environment, and one too short. */
#define GOOD_SECRET  "0123456789abcdef0123456789abcdef-good"
#define SHORT_SECRET "0123456789"

static int load(const struct unit_env *env, struct config *c, struct config_errors *errs)
{
    return config_load(c, unit_env_get, (void *)env, errs);
}

/* Fails with every collected line printed, so a broken rule is easy to read. */
static void dump_errors(const struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error("  config error: %s\n", errs->lines[i]);
}

static bool has_origin(const struct config *c, const char *origin)
{
    for (size_t i = 0; i < c->n_cors_origins; i++)
        if (strcmp(c->cors_origins[i], origin) == 0)
            return true;
    return false;
}

/* True when some error line starts with "NAME:". */
static bool has_line_for(const struct config_errors *errs, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < errs->n; i++)
        if (strncmp(errs->lines[i], name, n) == 0 && errs->lines[i][n] == ':')
            return true;
    return false;
}

/* Prints c into a string (caller frees). */
static char *print_to_string(const struct config *c)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    config_print(c, f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(text);
    return text;
}

static void test_defaults(void **state)
{
    (void)state;
    static const struct unit_env env[] = {{NULL, NULL}};
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(errs.n, 0);
    assert_int_equal(c.environment, ENV_DEVELOPMENT);
    assert_int_equal(c.role, ROLE_ALL);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8000);
    assert_int_equal(c.pool_size, 5);
    assert_int_equal(c.max_overflow, 10);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.jwt_expiration_days, 7);
    assert_int_equal(c.jwt_algorithm, 0); /* HS256 */
    assert_int_equal(c.rate_limit_per_minute, 60);
    assert_int_equal(c.shutdown_timeout_s, 20);
    assert_int_equal(c.max_body_bytes, 1024 * 1024);
    assert_true(c.migrate_on_start);
    assert_null(c.jwt_secret);
    assert_int_equal(c.secret_source, SECRET_NONE);
    assert_string_equal(c.data_dir, "./var");
    assert_int_equal(c.db.kind, DB_SQLITE);
    assert_string_equal(c.db.sqlite_path, "./var/todo.db");
    assert_null(c.db.pg_url);
    assert_null(c.frontend_url);
    assert_null(c.jwks_url);
    assert_true(c.workers >= 1 && c.workers <= 64);
    /* Development allows the local front end by default. */
    assert_true(has_origin(&c, "http://localhost:3000"));
    assert_true(has_origin(&c, "http://127.0.0.1:3000"));
    config_free(&c);
}

static void test_sqlite_default_follows_data_dir(void **state)
{
    (void)state;
    static const struct unit_env env[] = {{"DATA_DIR", "/srv/todo-data"}, {NULL, NULL}};
    struct config c;
    struct config_errors errs;
    assert_int_equal(load(env, &c, &errs), ERR_OK);
    assert_string_equal(c.data_dir, "/srv/todo-data");
    assert_int_equal(c.db.kind, DB_SQLITE);
    assert_string_equal(c.db.sqlite_path, "/srv/todo-data/todo.db");
    config_free(&c);
}

static void test_values_are_read(void **state)
{
    (void)state;
    static const struct unit_env env[] = {
        {"ENVIRONMENT", "Production"},
        {"JWT_SECRET", GOOD_SECRET},
        {"HOST", "0.0.0.0"},
        {"PORT", "9090"},
        {"DATABASE_URL", "postgresql://u:p@db.internal:5432/todo"},
        {"DATABASE_POOL_SIZE", "7"},
        {"DATABASE_MAX_OVERFLOW", "0"},
        {"LOG_LEVEL", "warning"},
        {"JWT_EXPIRATION_DAYS", "30"},
        {"RATE_LIMIT_PER_MINUTE", "5"},
        {"SHUTDOWN_TIMEOUT_SECONDS", "0"},
        {"MAX_BODY_BYTES", "2048"},
        {"MIGRATE_ON_START", "false"},
        {"ROLE", "api"},
        {"CORS_ORIGINS", "https://todo.example.com"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(c.environment, ENV_PRODUCTION);
    assert_string_equal(c.jwt_secret, GOOD_SECRET);
    assert_int_equal(c.secret_source, SECRET_ENV);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 9090);
    assert_int_equal(c.db.kind, DB_POSTGRES);
    assert_non_null(c.db.pg_url);
    assert_int_equal(c.pool_size, 7);
    assert_int_equal(c.max_overflow, 0);
    assert_int_equal(c.log_level, LOG_WARNING);
    assert_int_equal(c.jwt_expiration_days, 30);
    assert_int_equal(c.rate_limit_per_minute, 5);
    assert_int_equal(c.shutdown_timeout_s, 0);
    assert_int_equal(c.max_body_bytes, 2048);
    assert_false(c.migrate_on_start);
    assert_int_equal(c.role, ROLE_API);
    /* Outside development only the configured origins are allowed. */
    assert_int_equal(c.n_cors_origins, 1);
    assert_string_equal(c.cors_origins[0], "https://todo.example.com");
    config_free(&c);
}

/* One bad variable (plus what it needs to be judged) and the variable its line names. */
struct rule_case {
    struct unit_env env[3];
    const char *names;
};

static void test_each_rule_names_its_variable(void **state)
{
    (void)state;
    static const struct rule_case cases[] = {
        {{{"LOG_LEVEL", "LOUD"}}, "LOG_LEVEL"},
        {{{"PORT", "0"}}, "PORT"},
        {{{"PORT", "70000"}}, "PORT"},
        {{{"PORT", "abc"}}, "PORT"},
        {{{"PORT", "80 "}}, "PORT"},
        {{{"DATABASE_POOL_SIZE", "0"}}, "DATABASE_POOL_SIZE"},
        {{{"DATABASE_MAX_OVERFLOW", "-1"}}, "DATABASE_MAX_OVERFLOW"},
        {{{"CORS_ORIGINS", "notaurl"}}, "CORS_ORIGINS"},
        {{{"CORS_ORIGINS", "*"}}, "CORS_ORIGINS"},
        {{{"CORS_ORIGINS", "https://ok.example.com,https://x.example.com/app"}}, "CORS_ORIGINS"},
        {{{"DATABASE_URL", "mysql://x"}}, "DATABASE_URL"},
        {{{"DATABASE_URL", "sqlite:///"}}, "DATABASE_URL"},
        {{{"ENVIRONMENT", "production"}, {"JWT_SECRET", SHORT_SECRET}}, "JWT_SECRET"},
        {{{"ENVIRONMENT", "production"}}, "JWT_SECRET"},
        {{{"ENVIRONMENT", "staging"}}, "JWT_SECRET"},
        {{{"ENVIRONMENT", "prod"}}, "ENVIRONMENT"},
        {{{"MIGRATE_ON_START", "maybe"}}, "MIGRATE_ON_START"},
        {{{"ROLE", "x"}}, "ROLE"},
        {{{"JWT_ALGORITHM", "RS256"}}, "JWT_ALGORITHM"},
        {{{"JWT_EXPIRATION_DAYS", "0"}}, "JWT_EXPIRATION_DAYS"},
        {{{"RATE_LIMIT_PER_MINUTE", "0"}}, "RATE_LIMIT_PER_MINUTE"},
        {{{"SHUTDOWN_TIMEOUT_SECONDS", "-5"}}, "SHUTDOWN_TIMEOUT_SECONDS"},
        {{{"MAX_BODY_BYTES", "100"}}, "MAX_BODY_BYTES"},
        {{{"FRONTEND_URL", "app.example.com"}}, "FRONTEND_URL"},
        {{{"API_URL", "ftp://api.example.com"}}, "API_URL"},
        {{{"BETTER_AUTH_URL", "auth.example.com"}}, "BETTER_AUTH_URL"},
        {{{"BETTER_AUTH_JWKS_URL", "file:///etc/passwd"}}, "BETTER_AUTH_JWKS_URL"},
        {{{"WORKERS", "0"}}, "WORKERS"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct config c;
        struct config_errors errs;
        int rc = load(cases[i].env, &c, &errs);
        bool ok = rc == ERR_INVALID && errs.n == 1 && has_line_for(&errs, cases[i].names);
        if (!ok) {
            print_error("case %zu: %s=%s: rc %d, %zu line(s), expected one for %s\n", i,
                        cases[i].env[0].name, cases[i].env[0].value, rc, errs.n, cases[i].names);
            dump_errors(&errs);
        }
        config_free(&c);
        assert_true(ok);
    }
}

static void test_postgres_url_with_bad_port_rejected(void **state)
{
    (void)state;
    /* Regression (fixed): db_url_parse (src/core/url.c) leaves the URL to PQconninfoParse, which
     * does not check the port, so DATABASE_URL=postgresql://host:notaport/db loads with ERR_OK and
     * no "DATABASE_URL: …" line; the mistake only shows at the first connection. */

    static const struct unit_env env[] = {
        {"DATABASE_URL", "postgresql://host:notaport/db"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    config_free(&c);
    assert_int_equal(rc, ERR_INVALID);
    assert_int_equal(errs.n, 1);
    assert_true(has_line_for(&errs, "DATABASE_URL"));
}

static void test_several_bad_variables_give_several_lines(void **state)
{
    (void)state;
    static const struct unit_env env[] = {
        {"PORT", "abc"},
        {"LOG_LEVEL", "LOUD"},
        {"ROLE", "x"},
        {"DATABASE_URL", "mysql://x"},
        {"MIGRATE_ON_START", "maybe"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    assert_int_equal(load(env, &c, &errs), ERR_INVALID);
    if (errs.n != 5)
        dump_errors(&errs);
    assert_int_equal(errs.n, 5);
    assert_true(has_line_for(&errs, "PORT"));
    assert_true(has_line_for(&errs, "LOG_LEVEL"));
    assert_true(has_line_for(&errs, "ROLE"));
    assert_true(has_line_for(&errs, "DATABASE_URL"));
    assert_true(has_line_for(&errs, "MIGRATE_ON_START"));
    for (size_t i = 0; i < errs.n; i++)
        assert_null(strchr(errs.lines[i], '\n'));
    config_free(&c);
}

static void test_better_auth_secret_alias(void **state)
{
    (void)state;
    static const struct unit_env alias[] = {
        {"ENVIRONMENT", "production"},
        {"BETTER_AUTH_SECRET", GOOD_SECRET},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    assert_int_equal(load(alias, &c, &errs), ERR_OK);
    assert_string_equal(c.jwt_secret, GOOD_SECRET);
    assert_int_equal(c.secret_source, SECRET_ENV);
    config_free(&c);

    /* JWT_SECRET wins when both are set. */
    static const struct unit_env both[] = {
        {"ENVIRONMENT", "production"},
        {"JWT_SECRET", GOOD_SECRET "-primary"},
        {"BETTER_AUTH_SECRET", GOOD_SECRET},
        {NULL, NULL},
    };
    assert_int_equal(load(both, &c, &errs), ERR_OK);
    assert_string_equal(c.jwt_secret, GOOD_SECRET "-primary");
    config_free(&c);

    /* A short alias is reported under its own name. */
    static const struct unit_env short_alias[] = {
        {"ENVIRONMENT", "production"},
        {"BETTER_AUTH_SECRET", SHORT_SECRET},
        {NULL, NULL},
    };
    assert_int_equal(load(short_alias, &c, &errs), ERR_INVALID);
    assert_int_equal(errs.n, 1);
    assert_true(has_line_for(&errs, "BETTER_AUTH_SECRET"));
    config_free(&c);
}

static void test_empty_values_count_as_unset(void **state)
{
    (void)state;
    static const struct unit_env env[] = {
        {"PORT", ""},     {"HOST", ""},         {"LOG_LEVEL", ""},   {"DATABASE_URL", ""},
        {"ROLE", ""},     {"CORS_ORIGINS", ""}, {"JWT_SECRET", ""},  {"MIGRATE_ON_START", ""},
        {"DATA_DIR", ""}, {"FRONTEND_URL", ""}, {"ENVIRONMENT", ""}, {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.role, ROLE_ALL);
    assert_null(c.jwt_secret);
    assert_null(c.frontend_url);
    assert_true(c.migrate_on_start);
    assert_string_equal(c.db.sqlite_path, "./var/todo.db");
    assert_true(has_origin(&c, "http://localhost:3000"));
    config_free(&c);

    /* An empty secret outside development is a missing secret. */
    static const struct unit_env prod[] = {
        {"ENVIRONMENT", "production"},
        {"JWT_SECRET", ""},
        {"BETTER_AUTH_SECRET", ""},
        {NULL, NULL},
    };
    assert_int_equal(load(prod, &c, &errs), ERR_INVALID);
    assert_int_equal(errs.n, 1);
    assert_true(has_line_for(&errs, "JWT_SECRET"));
    config_free(&c);
}

static void test_forwarded_allow_ips(void **state)
{
    (void)state;
    static const struct unit_env list[] = {{"FORWARDED_ALLOW_IPS", " 10.0.0.7 , ::1,0:0::2"},
                                           {NULL, NULL}};
    static const struct unit_env any[] = {{"FORWARDED_ALLOW_IPS", "*"}, {NULL, NULL}};
    static const struct unit_env bad[] = {{"FORWARDED_ALLOW_IPS", "10.0.0.0/8"}, {NULL, NULL}};
    static const struct unit_env none[] = {{NULL, NULL}};
    struct config c;
    struct config_errors errs;

    assert_int_equal(load(none, &c, &errs), ERR_OK);
    assert_true(config_proxy_trusted(&c, "127.0.0.1")); /* the default */
    assert_false(config_proxy_trusted(&c, "10.0.0.7"));
    config_free(&c);

    assert_int_equal(load(list, &c, &errs), ERR_OK);
    assert_int_equal(c.n_trusted_proxies, 3);
    assert_true(config_proxy_trusted(&c, "10.0.0.7"));
    assert_true(config_proxy_trusted(&c, "::2")); /* compared in canonical form */
    assert_false(config_proxy_trusted(&c, "127.0.0.1"));
    config_free(&c);

    assert_int_equal(load(any, &c, &errs), ERR_OK);
    assert_true(c.trust_any_proxy);
    assert_true(config_proxy_trusted(&c, "192.0.2.1"));
    config_free(&c);

    assert_int_equal(load(bad, &c, &errs), ERR_INVALID);
    assert_true(has_line_for(&errs, "FORWARDED_ALLOW_IPS"));
    config_free(&c);
}

static void test_frontend_url_becomes_origin(void **state)
{
    (void)state;
    static const struct unit_env env[] = {
        {"ENVIRONMENT", "production"},
        {"JWT_SECRET", GOOD_SECRET},
        {"FRONTEND_URL", "http://app.example.com:3000/dashboard"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    assert_int_equal(rc, ERR_OK);
    assert_string_equal(c.frontend_url, "http://app.example.com:3000/dashboard");
    assert_int_equal(c.n_cors_origins, 1);
    assert_string_equal(c.cors_origins[0], "http://app.example.com:3000");
    config_free(&c);
}

static void test_frontend_https_url_becomes_origin(void **state)
{
    (void)state;
    /* Regression (fixed): config_load derives the FRONTEND_URL origin by searching for '/' from
     * offset strlen("https://") - 1 = 7, which for an https URL is the second slash of "//": the
     * "origin" becomes "https:/" and loading fails with
     * 'FRONTEND_URL: "https:/" is not an http(s) origin like https://example.com'. */

    static const struct unit_env env[] = {
        {"ENVIRONMENT", "production"},
        {"JWT_SECRET", GOOD_SECRET},
        {"FRONTEND_URL", "https://app.example.com/dashboard"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    size_t n = c.n_cors_origins;
    char first[CONFIG_ORIGIN_MAX];
    snprintf(first, sizeof(first), "%s", n ? c.cors_origins[0] : "");
    config_free(&c);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(first, "https://app.example.com");
}

static void test_cors_trailing_slash_normalised(void **state)
{
    (void)state;
    static const struct unit_env env[] = {
        {"CORS_ORIGINS", " https://a.example.com/ ,http://localhost:5173/,https://b.example.com"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    int rc = load(env, &c, &errs);
    dump_errors(&errs);
    assert_int_equal(rc, ERR_OK);
    /* The configured list replaces the development defaults. */
    assert_int_equal(c.n_cors_origins, 3);
    assert_string_equal(c.cors_origins[0], "https://a.example.com");
    assert_string_equal(c.cors_origins[1], "http://localhost:5173");
    assert_string_equal(c.cors_origins[2], "https://b.example.com");
    assert_false(has_origin(&c, "http://localhost:3000"));
    config_free(&c);
}

static void test_print_redacts_secret_and_db_password(void **state)
{
    (void)state;
    static const struct unit_env env[] = {
        {"ENVIRONMENT", "production"},
        {"JWT_SECRET", GOOD_SECRET},
        {"DATABASE_URL", "postgresql://alice:hunter2pw@db.example.com:5432/todo"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    assert_int_equal(load(env, &c, &errs), ERR_OK);
    char *text = print_to_string(&c);
    assert_false(unit_contains(text, GOOD_SECRET));
    assert_false(unit_contains(text, "0123456789abcdef"));
    assert_false(unit_contains(text, "hunter2pw"));
    assert_true(unit_contains(text, "JWT_SECRET=(set, redacted)\n"));
    assert_true(
        unit_contains(text, "DATABASE_URL=postgresql://alice:***@db.example.com:5432/todo\n"));
    assert_true(unit_contains(text, "ENVIRONMENT=production\n"));
    assert_true(unit_contains(text, "PORT=8000\n"));
    assert_true(unit_contains(text, "LOG_LEVEL=INFO\n"));
    free(text);
    config_free(&c);

    /* Unset secret: says so, prints no value. */
    static const struct unit_env dev[] = {{NULL, NULL}};
    assert_int_equal(load(dev, &c, &errs), ERR_OK);
    text = print_to_string(&c);
    assert_true(unit_contains(text, "JWT_SECRET=(unset)\n"));
    assert_true(unit_contains(text, "DATABASE_URL=sqlite:///./var/todo.db\n"));
    free(text);
    config_free(&c);
}

/* The table drives everything: each row of the Markdown table is a setting that
 * `config check` prints once, and each default in the table loads. */
static void test_table_rows_are_printed_and_documented(void **state)
{
    (void)state;
    char *md = NULL;
    size_t md_size = 0;
    FILE *f = open_memstream(&md, &md_size);
    assert_non_null(f);
    config_table_markdown(f);
    assert_int_equal(fclose(f), 0);
    assert_true(
        unit_contains(md, "| variable | default | rule / meaning |\n| --- | --- | --- |\n"));
    static const struct unit_env env[] = {{NULL, NULL}};
    struct config c;
    struct config_errors errs;
    assert_int_equal(load(env, &c, &errs), ERR_OK);
    char *text = print_to_string(&c);
    size_t rows = 0;
    for (const char *p = strstr(md, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
        const char *name = p + 4;
        const char *end = strchr(name, '`');
        assert_non_null(end);
        char want[80];
        assert_true((size_t)(end - name) < sizeof(want) - 3);
        snprintf(want, sizeof(want), "\n%.*s=", (int)(end - name), name);
        const char *at = strstr(text, want);
        bool first_line = strncmp(text, want + 1, strlen(want + 1)) == 0;
        if (!at && !first_line)
            fail_msg("config check does not print %s", want + 1);
        rows++;
    }
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, rows); /* one line per setting, no more */
    assert_true(rows >= 24);
    free(text);
    free(md);
    config_free(&c);
}

static void test_print_redacts_password_query_parameter(void **state)
{
    (void)state;
    /* libpq also takes the password as a query parameter. */
    static const struct unit_env env[] = {
        {"DATABASE_URL", "postgresql://alice@db.example.com/todo?password=hunter2pw"},
        {NULL, NULL},
    };
    struct config c;
    struct config_errors errs;
    assert_int_equal(load(env, &c, &errs), ERR_OK);
    char *text = print_to_string(&c);
    bool leaked = unit_contains(text, "hunter2pw");
    bool masked =
        unit_contains(text, "DATABASE_URL=postgresql://alice@db.example.com/todo?password=***\n");
    free(text);
    config_free(&c);
    assert_false(leaked);
    assert_true(masked);
}

/* A fresh DATA_DIR below a mkdtemp directory (not created yet). */
struct tmp_data {
    char root[64];
    char data[96];
    char secret[128];
};

static void tmp_data_init(struct tmp_data *t)
{
    snprintf(t->root, sizeof(t->root), "/tmp/todo-unit-config-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    snprintf(t->data, sizeof(t->data), "%s/data", t->root);
    snprintf(t->secret, sizeof(t->secret), "%s/jwt-secret", t->data);
}

static void tmp_data_cleanup(struct tmp_data *t)
{
    unlink(t->secret);
    rmdir(t->data);
    rmdir(t->root);
}

static void test_resolve_secret_creates_and_reuses_file(void **state)
{
    (void)state;
    struct tmp_data t;
    tmp_data_init(&t);
    const struct unit_env env[] = {{"DATA_DIR", t.data}, {NULL, NULL}};
    struct config c;
    struct config_errors errs;
    char why[256] = "";

    assert_int_equal(load(env, &c, &errs), ERR_OK);
    assert_null(c.jwt_secret);
    assert_int_equal(config_resolve_secret(&c, why, sizeof(why)), ERR_OK);
    assert_int_equal(c.secret_source, SECRET_GENERATED);
    assert_non_null(c.jwt_secret);
    assert_true(strlen(c.jwt_secret) >= CONFIG_SECRET_MIN);
    char first[256];
    snprintf(first, sizeof(first), "%s", c.jwt_secret);
    config_free(&c);

    struct stat st;
    assert_int_equal(stat(t.secret, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(t.data, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0077, 0);

    /* The second start reads the same secret back. */
    assert_int_equal(load(env, &c, &errs), ERR_OK);
    assert_int_equal(config_resolve_secret(&c, why, sizeof(why)), ERR_OK);
    assert_int_equal(c.secret_source, SECRET_FILE);
    assert_string_equal(c.jwt_secret, first);
    char *text = print_to_string(&c);
    assert_false(unit_contains(text, first));
    assert_true(unit_contains(text, "JWT_SECRET=(from DATA_DIR, redacted)\n"));
    free(text);
    config_free(&c);

    /* A configured secret is never replaced by the file. */
    const struct unit_env configured[] = {
        {"DATA_DIR", t.data}, {"JWT_SECRET", GOOD_SECRET}, {NULL, NULL}};
    assert_int_equal(load(configured, &c, &errs), ERR_OK);
    assert_int_equal(config_resolve_secret(&c, why, sizeof(why)), ERR_OK);
    assert_string_equal(c.jwt_secret, GOOD_SECRET);
    assert_int_equal(c.secret_source, SECRET_ENV);
    config_free(&c);

    tmp_data_cleanup(&t);
}

static void test_resolve_secret_rejects_short_file(void **state)
{
    (void)state;
    struct tmp_data t;
    tmp_data_init(&t);
    assert_int_equal(mkdir(t.data, 0700), 0);
    FILE *f = fopen(t.secret, "w");
    assert_non_null(f);
    fputs("short\n", f);
    assert_int_equal(fclose(f), 0);

    const struct unit_env env[] = {{"DATA_DIR", t.data}, {NULL, NULL}};
    struct config c;
    struct config_errors errs;
    char why[256] = "";
    assert_int_equal(load(env, &c, &errs), ERR_OK);
    assert_int_equal(config_resolve_secret(&c, why, sizeof(why)), ERR_INVALID);
    assert_null(c.jwt_secret);
    assert_true(unit_contains(why, "jwt-secret"));
    config_free(&c);
    tmp_data_cleanup(&t);
}

static void test_resolve_secret_outside_development(void **state)
{
    (void)state;
    struct tmp_data t;
    tmp_data_init(&t);
    const struct unit_env env[] = {{"ENVIRONMENT", "staging"}, {"DATA_DIR", t.data}, {NULL, NULL}};
    struct config c;
    struct config_errors errs;
    char why[256] = "";
    assert_int_equal(load(env, &c, &errs), ERR_INVALID);
    assert_int_equal(config_resolve_secret(&c, why, sizeof(why)), ERR_INVALID);
    assert_true(unit_contains(why, "JWT_SECRET"));
    assert_null(c.jwt_secret);
    /* Nothing was written. */
    assert_int_not_equal(access(t.secret, F_OK), 0);
    config_free(&c);
    tmp_data_cleanup(&t);
}

static void test_role_names(void **state)
{
    (void)state;
    enum role r = ROLE_ALL;
    assert_int_equal(config_role_parse("web", &r), ERR_OK);
    assert_int_equal(r, ROLE_WEB);
    assert_int_equal(config_role_parse("api", &r), ERR_OK);
    assert_int_equal(r, ROLE_API);
    assert_int_equal(config_role_parse("all", &r), ERR_OK);
    assert_int_equal(r, ROLE_ALL);
    assert_int_equal(config_role_parse("API ", &r), ERR_INVALID);
    assert_int_equal(config_role_parse(NULL, &r), ERR_INVALID);
    assert_string_equal(config_role_name(ROLE_WEB), "web");
    assert_string_equal(config_env_name(ENV_STAGING), "staging");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sqlite_default_follows_data_dir),
        cmocka_unit_test(test_values_are_read),
        cmocka_unit_test(test_each_rule_names_its_variable),
        cmocka_unit_test(test_postgres_url_with_bad_port_rejected),
        cmocka_unit_test(test_several_bad_variables_give_several_lines),
        cmocka_unit_test(test_better_auth_secret_alias),
        cmocka_unit_test(test_forwarded_allow_ips),
        cmocka_unit_test(test_empty_values_count_as_unset),
        cmocka_unit_test(test_frontend_url_becomes_origin),
        cmocka_unit_test(test_frontend_https_url_becomes_origin),
        cmocka_unit_test(test_cors_trailing_slash_normalised),
        cmocka_unit_test(test_print_redacts_secret_and_db_password),
        cmocka_unit_test(test_print_redacts_password_query_parameter),
        cmocka_unit_test(test_table_rows_are_printed_and_documented),
        cmocka_unit_test(test_resolve_secret_creates_and_reuses_file),
        cmocka_unit_test(test_resolve_secret_rejects_short_file),
        cmocka_unit_test(test_resolve_secret_outside_development),
        cmocka_unit_test(test_role_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
