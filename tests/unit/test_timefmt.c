/*
 * Unit tests for RFC 3339 handling (src/core/timefmt.c): strict parsing with Z, offsets and
 * fractions, dates taken as the start or end of a day, refusal of impossible dates and
 * malformed text, leap years, formatting, and month arithmetic with end-of-month clamping;
 * the calendar arithmetic agrees with the C library's gmtime_r/timegm on days from 1970 to
 * 9999 and on seeded random instants.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

/* Parses s (expected valid) and returns it formatted back as UTC. */
static const char *roundtrip(const char *s, enum date_only mode, char out[TIME_TEXT_MAX])
{
    int64_t t = -1;
    int rc = time_parse(s, mode, &t);
    if (rc != ERR_OK)
        fail_msg("time_parse refused \"%s\" (rc %d)", s, rc);
    time_format(t, out);
    return out;
}

static void expect_utc(const char *s, enum date_only mode, const char *want)
{
    char out[TIME_TEXT_MAX];
    roundtrip(s, mode, out);
    if (strcmp(out, want) != 0)
        fail_msg("time_parse(\"%s\") = %s, want %s", s, out, want);
}

static void expect_invalid(const char *s, enum date_only mode)
{
    int64_t t = 12345;
    int rc = time_parse(s, mode, &t);
    if (rc != ERR_INVALID)
        fail_msg("time_parse accepted \"%s\" as %lld", s ? s : "(null)", (long long)t);
}

static void test_utc_z(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(time_parse("2026-01-02T03:04:05Z", DATE_ONLY_REJECT, &t), ERR_OK);
    assert_int_equal(t, 1767323045);
    assert_int_equal(time_parse("2000-01-01T00:00:00Z", DATE_ONLY_REJECT, &t), ERR_OK);
    assert_int_equal(t, 946684800);
    assert_int_equal(time_parse("1970-01-01T00:00:01Z", DATE_ONLY_REJECT, &t), ERR_OK);
    assert_int_equal(t, 1);
    /* Lower-case t/z and a space separator are RFC 3339 too. */
    expect_utc("2026-01-02t03:04:05z", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-02 03:04:05Z", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
}

static void test_offsets(void **state)
{
    (void)state;
    expect_utc("2026-01-02T03:04:05+00:00", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-02T03:04:05-00:00", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-02T08:34:05+05:30", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-01T22:04:05-05:00", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    /* Offsets move across day, month and year boundaries. */
    expect_utc("2025-12-31T23:30:00-01:00", DATE_ONLY_REJECT, "2026-01-01T00:30:00Z");
    expect_utc("2026-03-01T00:30:00+01:00", DATE_ONLY_REJECT, "2026-02-28T23:30:00Z");
    expect_utc("2026-01-02T03:04:05+23:59", DATE_ONLY_REJECT, "2026-01-01T03:05:05Z");
}

static void test_fractions(void **state)
{
    (void)state;
    expect_utc("2026-01-02T03:04:05.1Z", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-02T03:04:05.999Z", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-02T03:04:05.123456789Z", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_utc("2026-01-02T08:34:05.5+05:30", DATE_ONLY_REJECT, "2026-01-02T03:04:05Z");
    expect_invalid("2026-01-02T03:04:05.Z", DATE_ONLY_REJECT);
    expect_invalid("2026-01-02T03:04:05.", DATE_ONLY_REJECT);
    expect_invalid("2026-01-02T03:04:05,5Z", DATE_ONLY_REJECT);
}

static void test_date_only(void **state)
{
    (void)state;
    expect_utc("2026-01-31", DATE_START_OF_DAY, "2026-01-31T00:00:00Z");
    expect_utc("2026-01-31", DATE_END_OF_DAY, "2026-01-31T23:59:59Z");
    int64_t t = 0;
    assert_int_equal(time_parse("2026-01-31", DATE_END_OF_DAY, &t), ERR_OK);
    assert_int_equal(t, 1769903999);
    assert_int_equal(time_parse("2026-01-31", DATE_START_OF_DAY, &t), ERR_OK);
    assert_int_equal(t, 1769817600);
    expect_invalid("2026-01-31", DATE_ONLY_REJECT);
    /* The mode does not change how a full date-time is read. */
    expect_utc("2026-01-31T12:00:00Z", DATE_END_OF_DAY, "2026-01-31T12:00:00Z");
    expect_utc("2026-01-31T12:00:00Z", DATE_START_OF_DAY, "2026-01-31T12:00:00Z");
}

static void test_invalid_dates(void **state)
{
    (void)state;
    static const char *bad[] = {
        "2026-02-30T00:00:00Z", /* Feb 30 */
        "2026-02-29T00:00:00Z", /* not a leap year */
        "2026-04-31T00:00:00Z", /* April has 30 days */
        "2026-13-01T00:00:00Z", /* month 13 */
        "2026-00-10T00:00:00Z", /* month 0 */
        "2026-01-00T00:00:00Z", /* day 0 */
        "2026-01-32T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-01-02T24:00:00Z", /* hour 24 */
        "2026-01-02T03:60:00Z", /* minute 60 */
        "2026-01-02T03:04:61Z",
        "2026-01-02T03:04:05", /* missing zone */
        "2026-01-02T03:04Z",   /* missing seconds */
        "2026-01-02T03:04:05ZZ",
        "2026-01-02T03:04:05Z ", /* trailing junk */
        "2026-01-02T03:04:05Zjunk",
        "2026-01-02T03:04:05+05:30x",
        "2026-01-02T03:04:05+0530", /* offset without colon */
        "2026-01-02T03:04:05+24:00",
        "2026-01-02T03:04:05+05:60",
        "2026-01-02X03:04:05Z",
        "2026/01/02T03:04:05Z",
        "26-01-02T03:04:05Z",
        "2026-1-02T03:04:05Z",
        "2026-01-02x",
        "2026-01-02T",
        " 2026-01-02T03:04:05Z",
        "+2026-01-02T03:04:05Z",
        "",
        "yesterday",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_invalid(bad[i], DATE_START_OF_DAY);
    expect_invalid(NULL, DATE_START_OF_DAY);
    expect_invalid("2026-02-30", DATE_END_OF_DAY);
    expect_invalid("2026-13-01", DATE_START_OF_DAY);
    expect_invalid("2026-01-1", DATE_START_OF_DAY);
    /* Absurdly long input is refused without reading past it. */
    char long_text[200];
    memset(long_text, '9', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    expect_invalid(long_text, DATE_START_OF_DAY);
}

static void test_short_offset_no_overread(void **state)
{
    (void)state;
    /* Regression (fixed): time_parse (src/core/timefmt.c:76) evaluates `digits(p + 1, 2)` and
     * `digits(p + 4, 2)` before checking p[3] == ':', so an offset cut short
     * ("2026-01-02T03:04:05+05", "...+0") makes digits() read 1-2 bytes past the string's
     * NUL (ASan: global/heap-buffer-overflow READ in digits, timefmt.c:15). The result is
     * ERR_INVALID, but the read is out of bounds; due_at/remind_at in request bodies reach it. */

    static const char *cut[] = {"2026-01-02T03:04:05+05", "2026-01-02T03:04:05-0",
                                "2026-01-02T03:04:05+05:"};
    for (size_t i = 0; i < ARRAY_LEN(cut); i++) {
        /* Exactly sized heap copies so that any read past the NUL is caught by ASan. */
        size_t n = strlen(cut[i]) + 1;
        char *s = malloc(n);
        assert_non_null(s);
        memcpy(s, cut[i], n);
        expect_invalid(s, DATE_ONLY_REJECT);
        free(s);
    }
}

/* Regression: a negative offset pushed 9999-12-31 into year 10000, which was accepted and
 * then written as "" (strftime cannot fit a five-digit year). Past TIME_MAX_UNIX is refused. */
static void test_past_year_9999_refused(void **state)
{
    (void)state;
    expect_invalid("9999-12-31T23:00:00-05:00", DATE_ONLY_REJECT);
    expect_invalid("9999-12-31T23:59:59-00:01", DATE_ONLY_REJECT);
    expect_invalid("9999-12-31T20:00:00-23:59", DATE_END_OF_DAY);
    /* The last representable second, and the same instant written with an offset. */
    expect_utc("9999-12-31T23:59:59Z", DATE_ONLY_REJECT, "9999-12-31T23:59:59Z");
    expect_utc("9999-12-31T23:59:59+01:00", DATE_ONLY_REJECT, "9999-12-31T22:59:59Z");
    expect_utc("9999-12-31T18:59:59-05:00", DATE_ONLY_REJECT, "9999-12-31T23:59:59Z");
    expect_utc("9999-12-31", DATE_END_OF_DAY, "9999-12-31T23:59:59Z");
    int64_t t = 0;
    assert_int_equal(time_parse("9999-12-31T23:59:59Z", DATE_ONLY_REJECT, &t), ERR_OK);
    assert_int_equal(t, TIME_MAX_UNIX);
}

static void test_leap_years(void **state)
{
    (void)state;
    expect_utc("2024-02-29T12:00:00Z", DATE_ONLY_REJECT, "2024-02-29T12:00:00Z");
    expect_utc("2000-02-29", DATE_START_OF_DAY, "2000-02-29T00:00:00Z");
    expect_invalid("2100-02-29T00:00:00Z", DATE_ONLY_REJECT); /* divisible by 100 */
    expect_invalid("1900-02-29", DATE_START_OF_DAY);
    expect_invalid("2023-02-29", DATE_START_OF_DAY);
    int64_t t = 0;
    assert_int_equal(time_parse("2024-02-29T12:00:00Z", DATE_ONLY_REJECT, &t), ERR_OK);
    assert_int_equal(t, 1709208000);
}

static void test_leap_second_clamped(void **state)
{
    (void)state;
    expect_utc("2016-12-31T23:59:60Z", DATE_ONLY_REJECT, "2016-12-31T23:59:59Z");
}

static void test_format(void **state)
{
    (void)state;
    char out[TIME_TEXT_MAX];
    time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    time_format(1767323045, out);
    assert_string_equal(out, "2026-01-02T03:04:05Z");
    time_format(4107456000, out); /* 2100-02-28, past 2038 */
    assert_string_equal(out, "2100-02-28T00:00:00Z");
    assert_int_equal(strlen(out), TIME_TEXT_MAX - 1);
}

/* Parses a, adds months, and compares with want (all UTC text). */
static void expect_add(const char *a, int months, const char *want)
{
    int64_t t = 0;
    assert_int_equal(time_parse(a, DATE_ONLY_REJECT, &t), ERR_OK);
    char out[TIME_TEXT_MAX];
    time_format(time_add_months(t, months), out);
    if (strcmp(out, want) != 0)
        fail_msg("%s + %d months = %s, want %s", a, months, out, want);
}

static void test_add_months_clamps(void **state)
{
    (void)state;
    expect_add("2023-01-31T10:00:00Z", 1, "2023-02-28T10:00:00Z");
    expect_add("2024-01-31T10:00:00Z", 1, "2024-02-29T10:00:00Z");
    expect_add("2024-03-31T10:00:00Z", 1, "2024-04-30T10:00:00Z");
    expect_add("2024-01-31T10:00:00Z", 2, "2024-03-31T10:00:00Z");
    expect_add("2024-08-31T23:59:59Z", 1, "2024-09-30T23:59:59Z");
    expect_add("2024-02-29T00:00:00Z", 12, "2025-02-28T00:00:00Z");
    expect_add("2024-02-29T00:00:00Z", 48, "2028-02-29T00:00:00Z");
    expect_add("2024-01-15T08:30:00Z", 1, "2024-02-15T08:30:00Z");
}

static void test_add_months_year_wrap(void **state)
{
    (void)state;
    expect_add("2023-12-15T08:30:00Z", 1, "2024-01-15T08:30:00Z");
    expect_add("2024-12-31T23:59:59Z", 1, "2025-01-31T23:59:59Z");
    expect_add("2023-11-30T00:00:00Z", 3, "2024-02-29T00:00:00Z");
    expect_add("2024-01-31T10:00:00Z", 25, "2026-02-28T10:00:00Z");
    expect_add("2024-05-10T00:00:00Z", 0, "2024-05-10T00:00:00Z");
    expect_add("2024-01-01T00:00:00Z", 12 * 1000, "3024-01-01T00:00:00Z");
}

/* The C library's answer for t, as RFC 3339 UTC text. */
static void libc_format(int64_t t, char out[96])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void expect_like_libc(int64_t t)
{
    char ours[TIME_TEXT_MAX], theirs[96];
    time_format(t, ours);
    libc_format(t, theirs);
    if (strcmp(ours, theirs) != 0)
        fail_msg("time_format(%lld) = %s, libc says %s", (long long)t, ours, theirs);
    int64_t back = -1;
    if (time_parse(ours, DATE_ONLY_REJECT, &back) != ERR_OK || back != t)
        fail_msg("time_parse(%s) = %lld, want %lld", ours, (long long)back, (long long)t);
}

/* Every day from 1970 to 2298 and every 13th to 9999 (at a time of day that moves), and
 * random instants. */
static void test_calendar_matches_libc(void **state)
{
    (void)state;
    for (int64_t day = 0; day * 86400 <= TIME_MAX_UNIX; day += day < 120000 ? 1 : 13)
        expect_like_libc(day * 86400 + (day * 7919) % 86400);
    expect_like_libc(TIME_MAX_UNIX);
    srand(20260311);
    for (int i = 0; i < 200000; i++) {
        int64_t t = (((int64_t)rand() << 31) ^ rand()) % (TIME_MAX_UNIX + 1);
        expect_like_libc(t);
        /* Month arithmetic against timegm's normalisation, clamped as ours is. */
        int months = rand() % 2400;
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        int total = tm.tm_mon + months;
        tm.tm_year += total / 12;
        tm.tm_mon = total % 12;
        static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int y = tm.tm_year + 1900;
        int last =
            tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : dim[tm.tm_mon];
        if (tm.tm_mday > last)
            tm.tm_mday = last;
        int64_t want = (int64_t)timegm(&tm);
        if (time_add_months(t, months) != want)
            fail_msg("time_add_months(%lld, %d) = %lld, want %lld", (long long)t, months,
                     (long long)time_add_months(t, months), (long long)want);
    }
    /* Past four digits: nothing is written. */
    char out[TIME_TEXT_MAX] = "x";
    time_format(TIME_MAX_UNIX + 1, out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc_z),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_date_only),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_short_offset_no_overread),
        cmocka_unit_test(test_past_year_9999_refused),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_leap_second_clamped),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_add_months_clamps),
        cmocka_unit_test(test_add_months_year_wrap),
        cmocka_unit_test(test_calendar_matches_libc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
