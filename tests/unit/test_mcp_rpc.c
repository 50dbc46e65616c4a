/*
 * The MCP protocol core's answers stay valid JSON whatever the client sent: an error that
 * quotes the client's method or tool name cuts it at a UTF-8 boundary (found by
 * fuzz/mcp.c; seed fuzz/corpus/mcp/method_cut_in_utf8), and text_utf8_prefix's cuts.
 */
#include "unit.h"

#include <stdio.h>

#include "core/arena.h"
#include "core/text.h"
#include "mcp/mcp.h"

static void test_utf8_prefix(void **state)
{
    (void)state;
    assert_int_equal(text_utf8_prefix("abc", 64), 3);
    assert_int_equal(text_utf8_prefix("abc", 3), 3);
    assert_int_equal(text_utf8_prefix("abcd", 3), 3);
    assert_int_equal(text_utf8_prefix("ab\xc3\xa9", 3), 2);         /* é cut after its lead */
    assert_int_equal(text_utf8_prefix("ab\xc3\xa9", 4), 4);         /* é whole */
    assert_int_equal(text_utf8_prefix("a\xf0\x9f\x98\x80z", 3), 1); /* 😀 cut inside */
    assert_int_equal(text_utf8_prefix("a\xf0\x9f\x98\x80z", 5), 5);
    assert_int_equal(text_utf8_prefix("", 4), 0);
}

/* The answer to one message, written as JSON text (NULL when the writer refuses it). */
static char *answer(struct arena *a, const char *msg)
{
    yyjson_doc *in = unit_json(a, msg);
    struct mcp_msg m = {0};
    int code = 0;
    const char *why = NULL;
    assert_int_equal(mcp_read(yyjson_doc_get_root(in), &m, &code, &why), 0);
    struct mcp_server srv = {"todo", "todo", "0", "", 10, 0, NULL};
    struct mcp_ctx ctx = {.srv = &srv, .a = a, .uid = "u", .version = "2025-06-18"};
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_val *r = mcp_answer(&ctx, &m, doc);
    assert_non_null(r);
    yyjson_mut_doc_set_root(doc, r);
    return yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
}

static void test_quoted_names_stay_utf8(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    /* 63 ASCII bytes, then "é": the 64-byte cut used to fall between its two bytes. */
    char method[128] = "";
    memset(method, 'm', 63);
    memcpy(method + 63, "\xc3\xa9tail", 7);
    char msg[256];
    snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", method);
    const char *out = answer(a, msg);
    assert_non_null(out);
    assert_non_null(strstr(out, "\"code\":-32601"));
    snprintf(
        msg, sizeof(msg),
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"}}",
        method);
    out = answer(a, msg);
    assert_non_null(out);
    assert_non_null(strstr(out, "Unknown tool: mmm"));
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_prefix),
        cmocka_unit_test(test_quoted_names_stay_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
