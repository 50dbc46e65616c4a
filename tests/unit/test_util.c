/*
 * Unit tests for the shared parsing helpers (src/core/util.c): canonical ids and bounded
 * integers.
 */
#include "unit.h"

#include "core/err.h"
#include "core/util.h"

static void expect_id(const char *s, int64_t want)
{
    int64_t v = -1;
    if (parse_id(s, &v) != ERR_OK)
        fail_msg("parse_id refused \"%s\"", s);
    assert_int_equal(v, want);
}

static void test_canonical_ids(void **state)
{
    (void)state;
    expect_id("1", 1);
    expect_id("7", 7);
    expect_id("10", 10);
    expect_id("9223372036854775807", INT64_MAX);
    /* Regression: strtoll also took a sign, leading zeros and leading white space, so one
     * task had many spellings. Only the canonical one is an id. */
    static const char *bad[] = {
        "",
        "0",
        "00",
        "01",
        "+2",
        "-2",
        " 2",
        "2 ",
        "\t2",
        "2\n",
        "0x1f",
        "1e3",
        "1.0",
        "٣",
        "9223372036854775808",
        "99999999999999999999",
        "12a",
        "a12",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t v = 12345;
        if (parse_id(bad[i], &v) != ERR_INVALID)
            fail_msg("parse_id accepted \"%s\" as %lld", bad[i], (long long)v);
        assert_int_equal(v, 12345);
    }
    int64_t v;
    assert_int_equal(parse_id(NULL, &v), ERR_INVALID);
}

static void test_parse_int64_bounds(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(parse_int64("5", 1, 10, &v), ERR_OK);
    assert_int_equal(v, 5);
    assert_int_equal(parse_int64("11", 1, 10, &v), ERR_INVALID);
    assert_int_equal(parse_int64("0", 1, 10, &v), ERR_INVALID);
    assert_int_equal(parse_int64("", 1, 10, &v), ERR_INVALID);
    assert_int_equal(parse_int64("3x", 1, 10, &v), ERR_INVALID);
    assert_int_equal(parse_int64("99999999999999999999", 0, INT64_MAX, &v), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_ids),
        cmocka_unit_test(test_parse_int64_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
