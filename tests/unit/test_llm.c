/*
 * Unit tests for the OpenAI Chat Completions wire format (src/assistant/llm.c): request
 * bodies, streamed text, tool calls joined by index from fragments split anywhere (also
 * between the bytes of one character), parallel calls, calls without an index or id,
 * arguments given as objects, unstreamed completions, error objects, bounds, and the masking
 * of key-like text in provider error messages.
 */
#include "unit.h"

#include <stdio.h>

#include "assistant/llm.h"
#include "core/err.h"

struct fixture {
    struct arena *a;
    char text[4096];
    size_t text_len;
    int deltas;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->a = arena_new();
    *state = f;
    return f->a ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    arena_free(f->a);
    free(f);
    return 0;
}

static void on_text(void *ctx, const char *p, size_t n)
{
    struct fixture *f = ctx;
    if (f->text_len + n < sizeof(f->text)) {
        memcpy(f->text + f->text_len, p, n);
        f->text_len += n;
        f->text[f->text_len] = '\0';
    }
    f->deltas++;
}

static yyjson_mut_doc *new_doc(struct arena *a)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    return yyjson_mut_doc_new(&alc);
}

static void request_body(void **state)
{
    struct fixture *f = *state;
    yyjson_mut_doc *doc = new_doc(f->a);
    yyjson_mut_val *msgs = yyjson_mut_arr(doc);
    llm_msg(doc, msgs, "system", "You are TodoAssistant.");
    llm_msg(doc, msgs, "user", "add milk");
    yyjson_mut_val *as = llm_msg(doc, msgs, "assistant", NULL);
    llm_msg_add_call(doc, as, "call_1", "add_task", "{\"title\":\"milk\"}");
    llm_tool_msg(doc, msgs, "call_1", "{\"task_id\":1}");
    yyjson_mut_val *tools = yyjson_mut_arr(doc);
    yyjson_mut_arr_add_obj(doc, tools);
    struct llm_params p = {.model = "gpt-test",
                           .max_tokens = 2000,
                           .temperature = 0.5,
                           .tools = tools,
                           .tool_choice = "auto"};
    const char *body;
    size_t len;
    assert_int_equal(llm_request_body(doc, msgs, &p, f->a, 1 << 20, &body, &len), ERR_OK);
    yyjson_doc *d = unit_json(f->a, body);
    yyjson_val *root = yyjson_doc_get_root(d);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(root, "model")), "gpt-test");
    assert_true(yyjson_get_bool(yyjson_obj_get(root, "stream")));
    assert_int_equal(yyjson_get_int(yyjson_obj_get(root, "max_tokens")), 2000);
    assert_true(yyjson_get_real(yyjson_obj_get(root, "temperature")) == 0.5);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(root, "tool_choice")), "auto");
    yyjson_val *m = yyjson_obj_get(root, "messages");
    assert_int_equal(yyjson_arr_size(m), 4);
    yyjson_val *a3 = yyjson_arr_get(m, 2);
    assert_true(yyjson_is_null(yyjson_obj_get(a3, "content")));
    yyjson_val *call = yyjson_arr_get_first(yyjson_obj_get(a3, "tool_calls"));
    assert_string_equal(yyjson_get_str(yyjson_obj_get(call, "type")), "function");
    assert_string_equal(
        yyjson_get_str(yyjson_obj_get(yyjson_obj_get(call, "function"), "arguments")),
        "{\"title\":\"milk\"}");
    assert_string_equal(yyjson_get_str(yyjson_obj_get(yyjson_arr_get(m, 3), "tool_call_id")),
                        "call_1");
    /* The same messages build a second request (they were detached again). */
    llm_msg(doc, msgs, "assistant", "Added.");
    p.tools = NULL;
    p.max_tokens = 0;
    p.temperature = -1;
    assert_int_equal(llm_request_body(doc, msgs, &p, f->a, 1 << 20, &body, &len), ERR_OK);
    root = yyjson_doc_get_root(unit_json(f->a, body));
    assert_int_equal(yyjson_arr_size(yyjson_obj_get(root, "messages")), 5);
    assert_null(yyjson_obj_get(root, "tools"));
    assert_null(yyjson_obj_get(root, "tool_choice"));
    assert_null(yyjson_obj_get(root, "max_tokens"));
    assert_null(yyjson_obj_get(root, "temperature"));
    assert_int_equal(llm_request_body(doc, msgs, &p, f->a, 10, &body, &len), ERR_TOOBIG);
}

static void feed(struct llm_reader *r, const char *chunk)
{
    int rc = llm_reader_chunk(r, chunk, strlen(chunk));
    if (rc != ERR_OK)
        fail_msg("chunk refused (%d): %s", rc, chunk);
}

static void streamed_text(void **state)
{
    struct fixture *f = *state;
    struct llm_reader *r = llm_reader_new(f->a, on_text, f);
    feed(r, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}");
    feed(r, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}");
    feed(r, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\"}}]}");
    feed(r, "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}");
    feed(r, "{\"choices\":[],\"usage\":{\"total_tokens\":3}}");
    feed(r, "[DONE]");
    const struct llm_answer *ans = llm_reader_answer(r);
    assert_true(ans->complete);
    assert_string_equal(ans->text, "Hello \xC3\xA9");
    assert_string_equal(f->text, "Hello \xC3\xA9");
    assert_int_equal(f->deltas, 2);
    assert_string_equal(ans->finish_reason, "stop");
    assert_int_equal(ans->ncalls, 0);
}

/* Two parallel calls whose fragments interleave; the arguments are cut mid-key, mid-escape
 * and between the two bytes of "é". */
static void parallel_calls_split_anywhere(void **state)
{
    struct fixture *f = *state;
    struct llm_reader *r = llm_reader_new(f->a, on_text, f);
    feed(r, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":"
            "\"function\",\"function\":{\"name\":\"add_task\",\"arguments\":\"\"}}]}}]}");
    feed(r, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
            "\"{\\\"ti\"}}]}}]}");
    feed(r, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":"
            "{\"name\":\"add_\",\"arguments\":\"{\\\"title\\\": \\\"eg\"}}]}}]}");
    feed(r,
         "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"name\":\"task\","
         "\"arguments\":\"gs\\\"}\"}}]}}]}");
    /* A raw split of one character: the first chunk ends with C3, the next starts with A9. */
    const char c1[] = "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
                      "\"arguments\":\"tle\\\":\\\"caf\xC3\"}}]}}]}";
    const char c2[] = "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
                      "\"arguments\":\"\xA9 \\\\\\\"x\\\\\\\"\\\"}\"}}]}}]}";
    assert_int_equal(llm_reader_chunk(r, c1, strlen(c1)), ERR_OK);
    assert_int_equal(llm_reader_chunk(r, c2, strlen(c2)), ERR_OK);
    feed(r, "{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}");
    feed(r, "[DONE]");
    const struct llm_answer *ans = llm_reader_answer(r);
    assert_true(ans->complete);
    assert_string_equal(ans->finish_reason, "tool_calls");
    assert_int_equal(ans->ncalls, 2);
    assert_string_equal(ans->calls[0].id, "call_a");
    assert_string_equal(ans->calls[0].name, "add_task");
    assert_string_equal(ans->calls[0].arguments, "{\"title\":\"caf\xC3\xA9 \\\"x\\\"\"}");
    /* Joined, the arguments are valid JSON again. */
    yyjson_doc *d = unit_json(f->a, ans->calls[0].arguments);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(yyjson_doc_get_root(d), "title")),
                        "caf\xC3\xA9 \"x\"");
    assert_string_equal(ans->calls[1].id, "call_b");
    assert_string_equal(ans->calls[1].name, "add_task");
    assert_string_equal(ans->calls[1].arguments, "{\"title\": \"eggs\"}");
    assert_int_equal(f->deltas, 0);
}

/* Servers that send whole calls without an index (or without an id), or arguments as an
 * object. */
static void calls_without_index(void **state)
{
    struct fixture *f = *state;
    struct llm_reader *r = llm_reader_new(f->a, NULL, NULL);
    feed(r, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"x1\",\"function\":{\"name\":"
            "\"list_tasks\",\"arguments\":{\"status\":\"pending\"}}},{\"id\":\"x2\",\"function\":{"
            "\"name\":\"task_stats\",\"arguments\":\"{}\"}}]}}]}");
    feed(r,
         "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"list_tags\"}}]}}]}");
    feed(r, "{\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}");
    const struct llm_answer *ans = llm_reader_answer(r);
    assert_true(ans->complete); /* a finish_reason ends the answer even without [DONE] */
    assert_int_equal(ans->ncalls, 2);
    assert_string_equal(ans->calls[0].arguments, "{\"status\":\"pending\"}");
    assert_string_equal(ans->calls[1].name, "task_statslist_tags"); /* no index, no new id */
    struct llm_reader *r2 = llm_reader_new(f->a, NULL, NULL);
    feed(r2, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":"
             "\"get_task\",\"arguments\":\"{\\\"task_id\\\":3}\"}}]}}]}");
    ans = llm_reader_answer(r2);
    assert_false(ans->complete); /* cut before the end */
    assert_string_equal(ans->calls[0].id, "call_1");
}

static void completion(void **state)
{
    struct fixture *f = *state;
    struct llm_reader *r = llm_reader_new(f->a, on_text, f);
    const char *body =
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{"
        "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"complete_task\",\"arguments\":\"{\\\"task_id\\\":"
        "7}\"}},{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"delete_task\","
        "\"arguments\":\"not json\"}}]},\"finish_reason\":\"tool_calls\"}]}";
    assert_int_equal(llm_reader_completion(r, body, strlen(body)), ERR_OK);
    const struct llm_answer *ans = llm_reader_answer(r);
    assert_true(ans->complete);
    assert_int_equal(ans->ncalls, 2);
    assert_string_equal(ans->calls[1].arguments, "not json");
    assert_string_equal(ans->text, "");
    struct llm_reader *r2 = llm_reader_new(f->a, on_text, f);
    body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Done.\"},"
           "\"finish_reason\":\"stop\"}]}";
    assert_int_equal(llm_reader_completion(r2, body, strlen(body)), ERR_OK);
    assert_string_equal(llm_reader_answer(r2)->text, "Done.");
    assert_string_equal(f->text, "Done.");
    assert_int_equal(llm_reader_answer(r2)->prompt_tokens, 0); /* no usage given */
    /* the usage a completion reports, and a stream's usage-only last chunk */
    struct llm_reader *r3 = llm_reader_new(f->a, NULL, NULL);
    body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
           "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":120,"
           "\"completion_tokens\":7,\"total_tokens\":127}}";
    assert_int_equal(llm_reader_completion(r3, body, strlen(body)), ERR_OK);
    assert_int_equal(llm_reader_answer(r3)->prompt_tokens, 120);
    assert_int_equal(llm_reader_answer(r3)->completion_tokens, 7);
    struct llm_reader *r4 = llm_reader_new(f->a, NULL, NULL);
    body = "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}";
    assert_int_equal(llm_reader_chunk(r4, body, strlen(body)), ERR_OK);
    assert_int_equal(llm_reader_answer(r4)->completion_tokens, 2);
}

static void errors_and_bounds(void **state)
{
    struct fixture *f = *state;
    struct llm_reader *r = llm_reader_new(f->a, NULL, NULL);
    const char *e = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\"}}";
    assert_int_equal(llm_reader_chunk(r, e, strlen(e)), ERR_INVALID);
    assert_string_equal(llm_reader_answer(r)->error, "Rate limit reached");
    /* Sticky: nothing more is taken. */
    assert_int_equal(llm_reader_chunk(r, "[DONE]", 6), ERR_INVALID);
    r = llm_reader_new(f->a, NULL, NULL);
    assert_int_equal(llm_reader_chunk(r, "not json", 8), ERR_INVALID);
    r = llm_reader_new(f->a, NULL, NULL);
    assert_int_equal(llm_reader_chunk(r, "{\"object\":\"x\"}", 14), ERR_INVALID);
    /* More than LLM_MAX_CALLS calls. */
    r = llm_reader_new(f->a, NULL, NULL);
    char chunk[256];
    int rc = ERR_OK;
    for (int i = 0; i <= LLM_MAX_CALLS && rc == ERR_OK; i++) {
        snprintf(chunk, sizeof(chunk),
                 "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":\"c%d\","
                 "\"function\":{\"name\":\"list_tags\",\"arguments\":\"{}\"}}]}}]}",
                 i, i);
        rc = llm_reader_chunk(r, chunk, strlen(chunk));
    }
    assert_int_equal(rc, ERR_TOOBIG);
    /* Arguments over LLM_ARGS_MAX. */
    r = llm_reader_new(f->a, NULL, NULL);
    size_t big = LLM_ARGS_MAX + 100;
    char *json = arena_alloc(f->a, big + 256);
    int n = snprintf(json, 256,
                     "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
                     "\"arguments\":\"");
    memset(json + n, 'x', big);
    memcpy(json + n + big, "\"}}]}}]}", 9);
    assert_int_equal(llm_reader_chunk(r, json, strlen(json)), ERR_TOOBIG);
}

static void error_messages_are_masked(void **state)
{
    struct fixture *f = *state;
    const char *b = "{\"error\":{\"message\":\"Incorrect API key provided: "
                    "sk-proj-abcdefghijklmnopqrstuvwxyz0123. You can find\\nyour key.\"}}";
    const char *m = llm_error_message(f->a, b, strlen(b), 200);
    assert_non_null(m);
    assert_false(unit_contains(m, "abcdefghij"));
    assert_true(unit_contains(m, "Incorrect API key provided: ***. You can find your key."));
    assert_string_equal(llm_error_message(f->a, "{\"error\":\"Bad model\"}", 21, 200), "Bad model");
    assert_null(llm_error_message(f->a, "<html>", 6, 200));
    assert_int_equal(strlen(llm_error_message(f->a, b, strlen(b), 10)), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(request_body, setup, teardown),
        cmocka_unit_test_setup_teardown(streamed_text, setup, teardown),
        cmocka_unit_test_setup_teardown(parallel_calls_split_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(calls_without_index, setup, teardown),
        cmocka_unit_test_setup_teardown(completion, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_and_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(error_messages_are_masked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
