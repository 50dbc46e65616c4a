/*
 * Unit tests for the assistant's conversations (src/domain/conversations.c) on SQLite:
 * titles from a first message, a turn's two writes, the history's bounds (messages and
 * characters), listing order and paging, rename and delete, and that another user's
 * conversation behaves exactly like a missing one everywhere.
 */
#include "unit.h"
#include "unit_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "domain/conversations.h"
#include "domain/users.h"
#include "store/store.h"

static void titles(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(conv_title_from(f->a, "add buy milk tomorrow"), "add buy milk tomorrow");
    assert_string_equal(conv_title_from(f->a, "  add   milk\tand eggs \n and more"),
                        "add milk and eggs");
    assert_string_equal(conv_title_from(f->a, "\n\n  "), "New conversation");
    const char *t = conv_title_from(
        f->a, "please add a task to call the plumber about the leaking kitchen tap before friday");
    assert_true(str_starts(t, "please add a task to call the plumber about the leaking"));
    assert_true(unit_contains(t, "\xE2\x80\xA6"));
    assert_false(unit_contains(t, "tap"));
    /* Multi-byte characters count as one each and are never split. */
    char big[400] = {0};
    for (int i = 0; i < 70; i++)
        memcpy(big + 2 * i, "\xC3\xA9", 2); /* é */
    t = conv_title_from(f->a, big);
    assert_int_equal(strlen(t), (size_t)CONV_TITLE_AUTO_MAX * 2 + 3);
}

static void turns_and_history(void **state)
{
    struct fixture *f = *state;
    struct conversation cv;
    int64_t m1, m2, r1;
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, 0, "add milk", &cv, &m1), ERR_OK);
    assert_true(cv.id > 0);
    assert_string_equal(cv.title, "add milk");
    assert_int_equal(conv_add_reply(f->c, f->a, f->alice.id, cv.id, "Added milk.",
                                    "[{\"id\":\"c1\",\"tool\":\"add_task\",\"arguments\":{}}]",
                                    &r1),
                     ERR_OK);
    struct conversation again;
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, cv.id, "and eggs", &again, &m2),
                     ERR_OK);
    assert_int_equal(again.id, cv.id);
    assert_string_equal(again.title, "add milk"); /* the first message's title stays */
    /* History before the second message: both earlier messages, oldest first. */
    struct conv_message *h;
    size_t n;
    assert_int_equal(conv_history(f->c, f->a, f->alice.id, cv.id, m2, 10, 10000, &h, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].role, "user");
    assert_string_equal(h[0].content, "add milk");
    assert_string_equal(h[1].role, "assistant");
    assert_non_null(h[1].tool_calls);
    /* Bounded by messages: only the newest. */
    assert_int_equal(conv_history(f->c, f->a, f->alice.id, cv.id, m2, 1, 10000, &h, &n), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].role, "assistant");
    /* Bounded by characters: the reply with its tool calls is over 20 characters. */
    assert_int_equal(conv_history(f->c, f->a, f->alice.id, cv.id, m2, 10, 20, &h, &n), ERR_OK);
    assert_int_equal(n, 0);
    /* Everything, for GET …/conversations/{id}. */
    assert_int_equal(conv_messages(f->c, f->a, f->alice.id, cv.id, 0, &h, &n), ERR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(h[2].content, "and eggs");
    assert_int_equal(conv_messages(f->c, f->a, f->alice.id, cv.id, 2, &h, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].content, "Added milk.");
    /* JSON of a stored reply carries its tool calls as an array. */
    yyjson_alc alc;
    arena_yyjson_alc(f->a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_val *o = conv_message_to_json(doc, f->a, &h[0]);
    yyjson_mut_doc_set_root(doc, o);
    const char *json = yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
    assert_true(unit_contains(json, "\"tool_calls\":[{\"id\":\"c1\""));
    o = conv_message_to_json(doc, f->a, &h[1]);
    yyjson_mut_doc_set_root(doc, o);
    json = yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
    assert_true(unit_contains(json, "\"tool_calls\":[]"));
}

static void isolation(void **state)
{
    struct fixture *f = *state;
    struct conversation cv, other;
    int64_t m;
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, 0, "secret plans", &cv, &m), ERR_OK);
    /* Bob cannot continue, read, rename, delete or reply into Alice's conversation. */
    assert_int_equal(conv_begin_turn(f->c, f->a, f->bob.id, cv.id, "hi", &other, &m), ERR_NOTFOUND);
    assert_int_equal(conv_get(f->c, f->a, f->bob.id, cv.id, &other), ERR_NOTFOUND);
    assert_int_equal(conv_rename(f->c, f->a, f->bob.id, cv.id, "mine", &other), ERR_NOTFOUND);
    assert_int_equal(conv_delete(f->c, f->a, f->bob.id, cv.id), ERR_NOTFOUND);
    assert_int_equal(conv_add_reply(f->c, f->a, f->bob.id, cv.id, "x", NULL, &m), ERR_NOTFOUND);
    struct conv_message *h;
    size_t n;
    assert_int_equal(conv_messages(f->c, f->a, f->bob.id, cv.id, 0, &h, &n), ERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(conv_history(f->c, f->a, f->bob.id, cv.id, 0, 10, 1000, &h, &n), ERR_OK);
    assert_int_equal(n, 0);
    struct conversation *list;
    int64_t total;
    assert_int_equal(conv_list(f->c, f->a, f->bob.id, 50, 0, &list, &n, &total), ERR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    /* Alice's is untouched. */
    assert_int_equal(conv_get(f->c, f->a, f->alice.id, cv.id, &other), ERR_OK);
    assert_string_equal(other.title, "secret plans");
    assert_int_equal(conv_messages(f->c, f->a, f->alice.id, cv.id, 0, &h, &n), ERR_OK);
    assert_int_equal(n, 1);
}

static void list_rename_delete(void **state)
{
    struct fixture *f = *state;
    struct conversation a, b, c;
    int64_t m;
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, 0, "first", &a, &m), ERR_OK);
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, 0, "second", &b, &m), ERR_OK);
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, 0, "third", &c, &m), ERR_OK);
    struct conversation *list;
    size_t n;
    int64_t total;
    assert_int_equal(conv_list(f->c, f->a, f->alice.id, 2, 0, &list, &n, &total), ERR_OK);
    assert_int_equal(total, 3);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, c.id); /* newest first */
    assert_int_equal(list[1].id, b.id);
    assert_int_equal(conv_list(f->c, f->a, f->alice.id, 2, 2, &list, &n, &total), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, a.id);
    struct conversation r;
    assert_int_equal(conv_rename(f->c, f->a, f->alice.id, a.id, "Groceries", &r), ERR_OK);
    assert_string_equal(r.title, "Groceries");
    assert_int_equal(conv_delete(f->c, f->a, f->alice.id, b.id), ERR_OK);
    assert_int_equal(conv_delete(f->c, f->a, f->alice.id, b.id), ERR_NOTFOUND);
    assert_int_equal(conv_get(f->c, f->a, f->alice.id, b.id, &r), ERR_NOTFOUND);
    struct conv_message *h;
    assert_int_equal(conv_messages(f->c, f->a, f->alice.id, b.id, 0, &h, &n), ERR_OK);
    assert_int_equal(n, 0); /* the messages went with it */
    /* A reply to a conversation deleted meanwhile stores nothing. */
    assert_int_equal(conv_add_reply(f->c, f->a, f->alice.id, b.id, "late", NULL, &m), ERR_NOTFOUND);
    assert_int_equal(conv_begin_turn(f->c, f->a, f->alice.id, b.id, "more", &r, &m), ERR_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(titles, setup, teardown),
        cmocka_unit_test_setup_teardown(turns_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(list_rename_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
