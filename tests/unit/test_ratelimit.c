/*
 * Unit tests for the fixed-window rate limiter (src/auth/ratelimit.c): the limit, the
 * Retry-After value (1..60 s, counting down within the window), the reset at the next
 * window, independent keys, and a flooded table that stays bounded and never forgets a key it
 * is limiting (new keys are refused when there is no room; expired slots are reused first).
 * Time is passed in, so no test sleeps.
 */
#include "unit.h"

#include <stdio.h>

#include "auth/ratelimit.h"
#include "core/util.h"

/* The start of a one-minute window (divisible by 60). */
#define T0 1767323040

static int setup(void **state)
{
    (void)state;
    ratelimit_reset();
    return 0;
}

static void test_limit_reached(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(ratelimit_hit("login-ip:10.0.0.1", 5, T0 + i), 0);
    int wait = ratelimit_hit("login-ip:10.0.0.1", 5, T0 + 5);
    assert_int_equal(wait, 55);
    /* Still limited, and the wait counts down to the window's end. */
    assert_int_equal(ratelimit_hit("login-ip:10.0.0.1", 5, T0 + 30), 30);
    assert_int_equal(ratelimit_hit("login-ip:10.0.0.1", 5, T0 + 59), 1);
    /* Refused hits are not counted against the next window. */
    assert_int_equal(ratelimit_hit("login-ip:10.0.0.1", 5, T0 + 60), 0);
}

static void test_retry_after_bounds(void **state)
{
    (void)state;
    for (int64_t offset = 0; offset < 2 * RATELIMIT_WINDOW_S; offset += 7) {
        char key[64];
        snprintf(key, sizeof(key), "bounds:%lld", (long long)offset);
        int64_t now = T0 + offset;
        assert_int_equal(ratelimit_hit(key, 1, now), 0);
        int wait = ratelimit_hit(key, 1, now);
        assert_true(wait >= 1 && wait <= RATELIMIT_WINDOW_S);
        assert_int_equal(wait, RATELIMIT_WINDOW_S - (int)(now % RATELIMIT_WINDOW_S));
    }
    /* At the very first second of a window the whole minute is left. */
    assert_int_equal(ratelimit_hit("bounds:first", 1, T0), 0);
    assert_int_equal(ratelimit_hit("bounds:first", 1, T0), RATELIMIT_WINDOW_S);
}

static void test_next_window_resets(void **state)
{
    (void)state;
    assert_int_equal(ratelimit_hit("k", 2, T0 + 10), 0);
    assert_int_equal(ratelimit_hit("k", 2, T0 + 11), 0);
    assert_true(ratelimit_hit("k", 2, T0 + 12) > 0);
    /* A later window: a fresh allowance of exactly `limit` hits. */
    assert_int_equal(ratelimit_hit("k", 2, T0 + 60), 0);
    assert_int_equal(ratelimit_hit("k", 2, T0 + 61), 0);
    assert_int_equal(ratelimit_hit("k", 2, T0 + 62), 58);
    /* Many windows later, too. */
    assert_int_equal(ratelimit_hit("k", 2, T0 + 3600 * 24), 0);
}

static void test_keys_independent(void **state)
{
    (void)state;
    assert_int_equal(ratelimit_hit("login-ip:1.1.1.1", 1, T0), 0);
    assert_true(ratelimit_hit("login-ip:1.1.1.1", 1, T0) > 0);
    assert_int_equal(ratelimit_hit("login-ip:1.1.1.2", 1, T0), 0);
    assert_int_equal(ratelimit_hit("login-email:1.1.1.1", 1, T0), 0);
    assert_int_equal(ratelimit_hit("login-ip:1.1.1.", 1, T0), 0);
    assert_true(ratelimit_hit("login-ip:1.1.1.1", 1, T0 + 1) > 0);
    /* Different limits for one key are judged against the same count. */
    assert_int_equal(ratelimit_hit("shared", 3, T0), 0);
    assert_int_equal(ratelimit_hit("shared", 3, T0), 0);
    assert_true(ratelimit_hit("shared", 2, T0) > 0);
    assert_int_equal(ratelimit_hit("shared", 3, T0), 0);
}

static void test_reset_forgets(void **state)
{
    (void)state;
    assert_int_equal(ratelimit_hit("r", 1, T0), 0);
    assert_true(ratelimit_hit("r", 1, T0) > 0);
    ratelimit_reset();
    assert_int_equal(ratelimit_hit("r", 1, T0), 0);
}

static void test_long_keys(void **state)
{
    (void)state;
    char key[RATELIMIT_KEY_MAX * 3];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(ratelimit_hit(key, 1, T0), 0);
    assert_true(ratelimit_hit(key, 1, T0) > 0);
}

static void test_table_full_stays_bounded(void **state)
{
    (void)state;
    /* A victim key, limited in the current window. */
    assert_int_equal(ratelimit_hit("victim", 1, T0), 0);
    assert_true(ratelimit_hit("victim", 1, T0) > 0);
    /* Flood with three times as many keys as there are slots, all in one window: once the
     * table has no free slot for a key, the key is refused, never admitted by forgetting. */
    int admitted = 0, refused = 0;
    for (int i = 0; i < 3 * RATELIMIT_SLOTS; i++) {
        char key[32];
        snprintf(key, sizeof(key), "flood:%d", i);
        int wait = ratelimit_hit(key, 1, T0 + 1);
        assert_true(wait >= 0 && wait <= RATELIMIT_WINDOW_S);
        if (wait == 0)
            admitted++;
        else
            refused++;
    }
    assert_true(admitted <= RATELIMIT_SLOTS);
    assert_true(refused >= 2 * RATELIMIT_SLOTS);
    /* Regression: the flood used to evict the victim's entry, resetting its limit within the
     * same minute. It is still limited, and so is every admitted flood key. */
    assert_true(ratelimit_hit("victim", 1, T0 + 2) > 0);
    for (int i = 0; i < 3 * RATELIMIT_SLOTS; i += 97) {
        char key[32];
        snprintf(key, sizeof(key), "flood:%d", i);
        int wait = ratelimit_hit(key, 1, T0 + 2);
        assert_true(wait >= 1 && wait <= RATELIMIT_WINDOW_S);
    }
    /* The next window: the stale entries make room again, and the victim is admitted. */
    assert_int_equal(ratelimit_hit("after-flood", 1, T0 + 60), 0);
    assert_true(ratelimit_hit("after-flood", 1, T0 + 60) > 0);
    assert_int_equal(ratelimit_hit("flood:24575", 1, T0 + 61), 0);
    assert_int_equal(ratelimit_hit("victim", 1, T0 + 61), 0);
}

/* Slots of past windows make room for new keys, and an active key is never evicted. */
static void test_expired_entries_make_room_locked_ones_stay(void **state)
{
    (void)state;
    /* Fill the whole table across two windows: the first half in window 0, the rest in 1. */
    for (int i = 0; i < RATELIMIT_SLOTS / 2; i++) {
        char key[32];
        snprintf(key, sizeof(key), "old:%d", i);
        ratelimit_hit(key, 5, T0);
    }
    for (int i = 0; i < RATELIMIT_SLOTS / 2; i++) {
        char key[32];
        snprintf(key, sizeof(key), "newer:%d", i);
        ratelimit_hit(key, 5, T0 + 60);
    }
    /* A locked key in the current window (T0 + 120). */
    assert_int_equal(ratelimit_hit("locked", 1, T0 + 120), 0);
    assert_true(ratelimit_hit("locked", 1, T0 + 120) > 0);
    /* New keys in the current window take expired slots; the locked key stays locked. */
    int admitted = 0;
    for (int i = 0; i < 2 * RATELIMIT_SLOTS; i++) {
        char key[32];
        snprintf(key, sizeof(key), "fresh:%d", i);
        if (ratelimit_hit(key, 5, T0 + 121) == 0)
            admitted++;
        assert_true(ratelimit_hit("locked", 1, T0 + 121) > 0);
    }
    assert_true(admitted > RATELIMIT_SLOTS / 2);
    assert_true(admitted < RATELIMIT_SLOTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_limit_reached, setup),
        cmocka_unit_test_setup(test_retry_after_bounds, setup),
        cmocka_unit_test_setup(test_next_window_resets, setup),
        cmocka_unit_test_setup(test_keys_independent, setup),
        cmocka_unit_test_setup(test_reset_forgets, setup),
        cmocka_unit_test_setup(test_long_keys, setup),
        cmocka_unit_test_setup(test_table_full_stays_bounded, setup),
        cmocka_unit_test_setup(test_expired_entries_make_room_locked_ones_stay, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
