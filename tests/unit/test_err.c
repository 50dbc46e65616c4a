/*
 * Unit tests for the error table (src/core/err.c): every code has a row (values dense from
 * ERR_OK down), a distinct log text, a client detail and an HTTP status of the right class;
 * the statuses handlers rely on; codes outside the table read as an internal error.
 */
#include "unit.h"

#include "core/err.h"

static const struct {
    int code;
    const char *name;
} codes[] = {
#define ROW(name, value, status, text, detail) {name, #name},
    ERR_CODES(ROW)
#undef ROW
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_every_code_has_a_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        int c = codes[i].code;
        if (c != -(int)i)
            fail_msg("%s is %d: codes must run 0, -1, -2, … in table order", codes[i].name, c);
        int st = err_http_status(c);
        if (c == ERR_OK)
            assert_int_equal(st, 200);
        else if (st < 400 || st > 599)
            fail_msg("%s answers %d, not an error status", codes[i].name, st);
        assert_non_null(err_str(c));
        assert_non_null(err_detail(c));
        assert_true(err_detail(c)[0] != '\0');
        if (c != ERR_OK)
            assert_string_not_equal(err_str(c), "internal error");
        for (size_t j = 0; j < i; j++)
            if (strcmp(err_str(c), err_str(codes[j].code)) == 0)
                fail_msg("%s and %s share the log text \"%s\"", codes[i].name, codes[j].name,
                         err_str(c));
    }
}

static void test_statuses_handlers_rely_on(void **state)
{
    (void)state;
    assert_int_equal(err_http_status(ERR_INVALID), 400);
    assert_int_equal(err_http_status(ERR_AUTH), 401);
    assert_int_equal(err_http_status(ERR_FORBIDDEN), 403);
    assert_int_equal(err_http_status(ERR_NOTFOUND), 404);
    assert_int_equal(err_http_status(ERR_CONFLICT), 409);
    assert_int_equal(err_http_status(ERR_TOOBIG), 413);
    assert_int_equal(err_http_status(ERR_RANGE), 422);
    assert_int_equal(err_http_status(ERR_LIMIT), 429);
    assert_int_equal(err_http_status(ERR_NOMEM), 500);
    assert_int_equal(err_http_status(ERR_DB), 500);
    assert_int_equal(err_http_status(ERR_UNAVAILABLE), 503);
    assert_int_equal(err_http_status(ERR_TIMEOUT), 504);
    /* Nothing internal reaches a client: 5xx details are generic. */
    assert_string_equal(err_detail(ERR_DB), "Internal server error");
    assert_string_equal(err_detail(ERR_IO), "Internal server error");
}

static void test_unknown_codes(void **state)
{
    (void)state;
    static const int unknown[] = {1, 42, -(int)NCODES, -1000, -2147483647 - 1};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(err_http_status(unknown[i]), 500);
        assert_string_equal(err_str(unknown[i]), "internal error");
        assert_string_equal(err_detail(unknown[i]), "Internal server error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_row),
        cmocka_unit_test(test_statuses_handlers_rely_on),
        cmocka_unit_test(test_unknown_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
