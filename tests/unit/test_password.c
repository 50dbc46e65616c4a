/*
 * Unit tests for password hashing (src/auth/password.c): the memory setting picks OWASP's
 * passes for it, hashes carry their parameters, a hash made with other settings still
 * verifies and asks to be replaced, and wrong passwords fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/password.h"
#include "core/err.h"

static void hash_with(int mib, char out[PASSWORD_HASH_MAX])
{
    password_set_memory(mib);
    assert_int_equal(password_hash("correct horse", out), ERR_OK);
}

static void test_memory_picks_owasp_passes(void **state)
{
    (void)state;
    static const struct {
        int mib;
        const char *params;
    } cases[] = {
        {7, "$argon2id$v=19$m=7168,t=5,p=1$"},   {8, "$argon2id$v=19$m=8192,t=5,p=1$"},
        {9, "$argon2id$v=19$m=9216,t=4,p=1$"},   {12, "$argon2id$v=19$m=12288,t=3,p=1$"},
        {19, "$argon2id$v=19$m=19456,t=2,p=1$"}, {46, "$argon2id$v=19$m=47104,t=1,p=1$"},
        {3, "$argon2id$v=19$m=7168,t=5,p=1$"}, /* below the floor: the floor */
    };
    char h[PASSWORD_HASH_MAX];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hash_with(cases[i].mib, h);
        assert_non_null(strstr(h, cases[i].params));
        assert_false(password_needs_rehash(h));
    }
}

static void test_other_settings_verify_and_ask_for_rehash(void **state)
{
    (void)state;
    char old[PASSWORD_HASH_MAX];
    hash_with(9, old);
    password_set_memory(7);
    assert_int_equal(password_verify(old, "correct horse"), ERR_OK);
    assert_int_equal(password_verify(old, "wrong horse"), ERR_AUTH);
    assert_true(password_needs_rehash(old));
    assert_true(password_needs_rehash(NULL));
    assert_true(password_needs_rehash("not a hash"));
    char fresh[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("correct horse", fresh), ERR_OK);
    assert_false(password_needs_rehash(fresh));
    assert_int_equal(password_verify(fresh, "correct horse"), ERR_OK);
}

static void test_unknown_account_fails(void **state)
{
    (void)state;
    password_set_memory(7);
    assert_int_equal(password_verify(NULL, "correct horse"), ERR_AUTH);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_picks_owasp_passes),
        cmocka_unit_test(test_other_settings_verify_and_ask_for_rehash),
        cmocka_unit_test(test_unknown_account_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
