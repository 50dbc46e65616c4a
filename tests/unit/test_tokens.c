/*
 * Unit tests for personal access tokens (src/domain/tokens.c) on SQLite: the request rules,
 * the secret's shape and that only its hash is stored, verification (unknown, malformed,
 * expired, revoked), last_used_at, the per-user cap and isolation between two users.
 */
#include "unit.h"
#include "unit_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/tokens.h"
#include "domain/users.h"
#include "store/store.h"

static int parse(struct fixture *f, const char *json, struct token_input *in, struct verrors *errs)
{
    return tokens_input_parse(yyjson_doc_get_root(unit_json(f->a, json)), f->a, in, errs);
}

/* Creates a token for uid named name; returns its id and its secret in secret. */
static int64_t create(struct fixture *f, const char *uid, const char *name,
                      char secret[TOKEN_TEXT_MAX])
{
    struct token_input in = {name, TOKEN_DAYS_DEFAULT};
    struct token t;
    assert_int_equal(tokens_create(f->c, f->a, uid, &in, &t, secret), ERR_OK);
    return strtoll(t.id, NULL, 10);
}

static int verify(struct fixture *f, const char *secret, const char **uid)
{
    const char *why = NULL;
    int rc = tokens_verify(f->c, f->a, secret, now_unix(), uid, &why);
    if (rc != ERR_OK)
        assert_non_null(why);
    return rc;
}

static void test_input_rules(void **state)
{
    struct fixture *f = *state;
    struct token_input in;
    struct verrors errs = {0};
    assert_int_equal(parse(f, "{\"name\":\"  Laptop \"}", &in, &errs), ERR_OK);
    assert_string_equal(in.name, "Laptop");
    assert_int_equal(in.days, TOKEN_DAYS_DEFAULT);
    assert_int_equal(parse(f, "{\"name\":\"x\",\"expires_in_days\":null}", &in, &errs), ERR_OK);
    assert_int_equal(in.days, 0);
    assert_int_equal(parse(f, "{\"name\":\"x\",\"expires_in_days\":3650}", &in, &errs), ERR_OK);
    assert_int_equal(in.days, 3650);
    static const char *bad[] = {
        "{}",
        "[]",
        "{\"name\":\"\"}",
        "{\"name\":\"a\\nb\"}",
        "{\"name\":\"a\\u0000b\"}",
        "{\"name\":\"x\",\"expires_in_days\":0}",
        "{\"name\":\"x\",\"expires_in_days\":3651}",
        "{\"name\":\"x\",\"expires_in_days\":2.5}",
        "{\"name\":\"x\",\"expires_in_days\":true}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        errs.n = 0;
        assert_int_equal(parse(f, bad[i], &in, &errs), ERR_INVALID);
        assert_true(errs.n > 0);
    }
}

static void test_secret_shape_and_only_its_hash_is_stored(void **state)
{
    struct fixture *f = *state;
    char secret[TOKEN_TEXT_MAX];
    create(f, f->alice.id, "laptop", secret);
    assert_int_equal(strlen(secret), strlen(TOKEN_PREFIX) + TOKEN_SECRET_CHARS);
    assert_true(tokens_is_pat(secret));
    static const struct sql q = {"SELECT token_hash, hint FROM access_tokens", NULL};
    struct db_rows rows;
    assert_int_equal(store_exec(f->c, &q, NULL, 0, f->a, &rows), ERR_OK);
    assert_int_equal(rows.nrows, 1);
    assert_int_equal(strlen(db_cell(&rows, 0, 0)), 64); /* hex SHA-256 */
    assert_null(strstr(db_cell(&rows, 0, 0), secret + strlen(TOKEN_PREFIX)));
    assert_null(strstr(db_cell(&rows, 0, 1), secret + strlen(TOKEN_PREFIX))); /* 4 chars only */
    const char *uid = NULL;
    assert_int_equal(verify(f, secret, &uid), ERR_OK);
    assert_string_equal(uid, f->alice.id);
}

static void test_unknown_and_malformed_secrets(void **state)
{
    struct fixture *f = *state;
    char secret[TOKEN_TEXT_MAX];
    create(f, f->alice.id, "laptop", secret);
    char other[TOKEN_TEXT_MAX];
    memcpy(other, secret, sizeof(other));
    other[strlen(other) - 1] = other[strlen(other) - 1] == 'A' ? 'B' : 'A';
    const char *uid;
    assert_int_equal(verify(f, other, &uid), ERR_AUTH);
    static const char *bad[] = {"",
                                "todo_pat_",
                                "todo_pat_abc",
                                "eyJhbGciOi.x.y",
                                "todo_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                "todo_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(verify(f, bad[i], &uid), ERR_AUTH);
}

static void test_expired_and_revoked(void **state)
{
    struct fixture *f = *state;
    char secret[TOKEN_TEXT_MAX];
    int64_t id = create(f, f->alice.id, "short", secret);
    const char *uid, *why = NULL;
    char past[TIME_TEXT_MAX];
    time_format(now_unix() - 1, past);
    static const struct sql age = {"UPDATE access_tokens SET expires_at = $2 WHERE id = $1", NULL};
    struct db_param p[] = {P_INT(id), P_TEXT(past)};
    assert_int_equal(store_exec(f->c, &age, p, 2, NULL, NULL), ERR_OK);
    assert_int_equal(tokens_verify(f->c, f->a, secret, now_unix(), &uid, &why), ERR_AUTH);
    assert_string_equal(why, "Token expired");
    int64_t id2 = create(f, f->alice.id, "revoked", secret);
    assert_int_equal(verify(f, secret, &uid), ERR_OK);
    assert_int_equal(tokens_revoke(f->c, f->a, f->bob.id, id2), ERR_NOTFOUND); /* not Bob's */
    assert_int_equal(verify(f, secret, &uid), ERR_OK);
    assert_int_equal(tokens_revoke(f->c, f->a, f->alice.id, id2), ERR_OK);
    assert_int_equal(verify(f, secret, &uid), ERR_AUTH);
    assert_int_equal(tokens_revoke(f->c, f->a, f->alice.id, id2), ERR_NOTFOUND);
}

static void test_last_used_and_lists_per_user(void **state)
{
    struct fixture *f = *state;
    char secret[TOKEN_TEXT_MAX];
    create(f, f->alice.id, "a1", secret);
    create(f, f->bob.id, "b1", secret);
    const char *uid;
    assert_int_equal(verify(f, secret, &uid), ERR_OK);
    assert_string_equal(uid, f->bob.id);
    struct token *list;
    size_t n;
    assert_int_equal(tokens_list(f->c, f->a, f->alice.id, &list, &n), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "a1");
    assert_null(list[0].last_used_at);
    assert_int_equal(tokens_list(f->c, f->a, f->bob.id, &list, &n), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "b1");
    assert_non_null(list[0].last_used_at);
}

static void test_at_most_fifty_per_user(void **state)
{
    struct fixture *f = *state;
    char secret[TOKEN_TEXT_MAX];
    for (int i = 0; i < TOKENS_PER_USER_MAX; i++)
        create(f, f->alice.id, "t", secret);
    struct token_input in = {"one more", 1};
    struct token t;
    assert_int_equal(tokens_create(f->c, f->a, f->alice.id, &in, &t, secret), ERR_CONFLICT);
    assert_int_equal(tokens_create(f->c, f->a, f->bob.id, &in, &t, secret), ERR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_input_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_shape_and_only_its_hash_is_stored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_malformed_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_and_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used_and_lists_per_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_at_most_fifty_per_user, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
