/*
 * Text that did not come through a JSON parser: UTF-8 validity (text_utf8_valid), the cut
 * at a character boundary (text_utf8_prefix, in test_mcp_rpc.c), and an attachment's file
 * name from a multipart part, whose bytes must be UTF-8 before the name rule reads them
 * (found by fuzz/multipart.c: a name of bytes such as 0x93 answered 500 instead of 422;
 * seed fuzz/corpus/multipart/name_not_utf8).
 */
#include "unit.h"

#include "core/arena.h"
#include "core/text.h"
#include "domain/attachments.h"

#define VALID(s)   assert_true(text_utf8_valid(s, sizeof(s) - 1))
#define INVALID(s) assert_false(text_utf8_valid(s, sizeof(s) - 1))

static void test_utf8_valid(void **state)
{
    (void)state;
    VALID("");
    VALID("plain ascii");
    VALID("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
    VALID("\xed\x9f\xbf");       /* U+D7FF, just below the surrogates */
    VALID("\xf4\x8f\xbf\xbf");   /* U+10FFFF */
    INVALID("p\x93\x93.png");    /* continuation bytes alone */
    INVALID("\xc3");             /* cut sequence */
    INVALID("\xc0\xaf");         /* overlong '/' */
    INVALID("\xe0\x80\xaf");     /* overlong, 3 bytes */
    INVALID("\xed\xa0\x80");     /* a surrogate */
    INVALID("\xf4\x90\x80\x80"); /* past U+10FFFF */
    INVALID("\xff");
}

static void test_attachment_name_must_be_utf8(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    const char *why = NULL;
    assert_null(attach_name_clean(a, "p\x93\x93\x93\x93\x93.png", &why));
    assert_non_null(why);
    assert_non_null(strstr(why, "UTF-8"));
    why = NULL;
    const char *ok = attach_name_clean(a, "r\xc3\xa9sum\xc3\xa9.pdf", &why);
    assert_non_null(ok);
    assert_string_equal(ok, "r\xc3\xa9sum\xc3\xa9.pdf");
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_attachment_name_must_be_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
