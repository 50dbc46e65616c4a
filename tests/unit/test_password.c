/*
 * Unit tests for password hashing (src/auth/password.c): the memory setting picks OWASP's
 * passes for it, hashes carry their parameters, a hash made with other settings still
 * verifies and asks to be replaced, wrong passwords fail, and hashes run one at a time (the
 * process's peak memory grows by one hash's memory under a burst).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A field of /proc/self/status in KiB. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    fclose(f);
    assert_true(kb > 0);
    return kb;
}

static void *hash_twice(void *arg)
{
    char out[PASSWORD_HASH_MAX];
    const char *hash = arg;
    /* A hash, an unknown account's verification (the first one makes the dummy hash), and
     * a verification: every kind of Argon2id run. */
    assert_int_equal(password_hash("correct horse", out), ERR_OK);
    assert_int_equal(password_verify(NULL, "correct horse"), ERR_AUTH);
    assert_int_equal(password_verify(hash, "correct horse"), ERR_OK);
    return NULL;
}

/* Four threads hashing at once raise the peak RSS by one hash's memory (7 MiB), not four.
 * Argon2id maps its memory for each hash and unmaps it after, so the peak (VmHWM, reset
 * through /proc/self/clear_refs) shows how many ran at once. */
static void test_one_hash_at_a_time(void **state)
{
    (void)state;
    char hash[PASSWORD_HASH_MAX];
    hash_with(PASSWORD_MEMORY_MIB_MIN, hash);
    pthread_t t[4];
    /* The threads' stacks and first allocations, before the peak is reset. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hash_twice, hash), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    assert_non_null(f);
    assert_true(fputs("5", f) >= 0); /* VmHWM := VmRSS */
    fclose(f);
    long before = status_kb("VmRSS");
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hash_twice, hash), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    long grown = status_kb("VmHWM") - before;
    long one = (long)PASSWORD_MEMORY_MIB_MIN * 1024;
    printf("peak grew by %ld KiB with 4 threads hashing (one hash: %ld KiB)\n", grown, one);
    assert_true(grown >= one - 512); /* the hash ran and used its memory */
    assert_true(grown < one + one / 2);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_picks_owasp_passes),
        cmocka_unit_test(test_other_settings_verify_and_ask_for_rehash),
        cmocka_unit_test(test_unknown_account_fails),
        cmocka_unit_test(test_one_hash_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
