/*
 * Unit tests for the tool table (src/domain/tools.c) on SQLite: every tool through
 * tools_run, argument checking (unknown arguments, rules, task ids), user_id that never
 * selects the user, isolation between two users, the descriptions, and the offline assistant
 * (src/assistant/offline.h) running whole turns through the table, as the chat will: its
 * documented result shapes must be what the tools return.
 */
#include "unit.h"
#include "unit_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "assistant/offline.h"
#include "core/err.h"
#include "core/json.h"
#include "core/util.h"
#include "domain/tasks.h"
#include "domain/tools.h"
#include "domain/users.h"
#include "store/store.h"

/* Runs tool name as uid with the JSON arguments; returns the result or the tool error. */
static struct tool_out run(struct fixture *f, const char *uid, const char *name, const char *json)
{
    const struct tool *t = tools_find(name);
    assert_non_null(t);
    struct tool_env env = {f->c, f->a, uid, NULL};
    struct tool_out out;
    yyjson_val *args = json ? yyjson_doc_get_root(unit_json(f->a, json)) : NULL;
    assert_int_equal(tools_run(t, &env, args, f->doc, &out), ERR_OK);
    assert_true((out.result == NULL) != (out.error == NULL));
    return out;
}

static int64_t int_of(yyjson_mut_val *o, const char *key)
{
    return yyjson_mut_get_sint(yyjson_mut_obj_get(o, key));
}

static const char *str_of(yyjson_mut_val *o, const char *key)
{
    return yyjson_mut_get_str(yyjson_mut_obj_get(o, key));
}

static void test_table_matches_the_assistants_tools(void **state)
{
    (void)state;
    assert_int_equal(tools_count, TOOL_TASK_STATS + 1);
    for (int t = TOOL_ADD_TASK; t <= TOOL_TASK_STATS; t++) {
        assert_string_equal(tools_table[t].name, offline_tool_name((enum offline_tool)t));
        assert_ptr_equal(tools_find(tools_table[t].name), &tools_table[t]);
    }
    assert_null(tools_find("drop_tables"));
    assert_null(tools_find(NULL));
}

static void test_descriptions_are_complete(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < tools_count; i++) {
        yyjson_mut_val *d = tools_describe(&tools_table[i], f->doc);
        assert_string_equal(str_of(d, "name"), tools_table[i].name);
        assert_non_null(str_of(d, "title"));
        yyjson_mut_val *in = yyjson_mut_obj_get(d, "inputSchema");
        assert_string_equal(str_of(in, "type"), "object");
        assert_non_null(yyjson_mut_obj_get(yyjson_mut_obj_get(in, "properties"), "user_id"));
        assert_false(yyjson_mut_get_bool(yyjson_mut_obj_get(in, "additionalProperties")));
        assert_string_equal(str_of(yyjson_mut_obj_get(d, "outputSchema"), "type"), "object");
        yyjson_mut_val *ann = yyjson_mut_obj_get(d, "annotations");
        assert_true(yyjson_mut_is_bool(yyjson_mut_obj_get(ann, "readOnlyHint")));
    }
}

/* Every property of the task schema's input (FS_CREATE for add_task, FS_PATCH for
 * update_task, the filter's FS_ARGS for list_tasks) is in the tool's input schema exactly as
 * the task schema declares it, and the tool adds only task_id and user_id: the tools' schemas
 * are derived from the one field table, never copied. */
static void check_derived(struct fixture *f, const char *tool, yyjson_mut_val *from,
                          bool with_task_id)
{
    yyjson_mut_val *d = tools_describe(tools_find(tool), f->doc);
    yyjson_mut_val *props = yyjson_mut_obj_get(yyjson_mut_obj_get(d, "inputSchema"), "properties");
    yyjson_mut_val *want = yyjson_mut_obj_get(from, "properties");
    assert_non_null(props);
    assert_non_null(want);
    size_t i, max;
    yyjson_mut_val *k, *v;
    yyjson_mut_obj_foreach(want, i, max, k, v)
    {
        yyjson_mut_val *got = yyjson_mut_obj_get(props, yyjson_mut_get_str(k));
        if (!got)
            fail_msg("%s: no %s", tool, yyjson_mut_get_str(k));
        if (!yyjson_mut_equals(got, v))
            fail_msg("%s: %s differs from the task schema's", tool, yyjson_mut_get_str(k));
    }
    size_t extra = 1 + (with_task_id ? 1 : 0); /* user_id, task_id */
    assert_int_equal(yyjson_mut_obj_size(props), yyjson_mut_obj_size(want) + extra);
    assert_non_null(yyjson_mut_obj_get(props, "user_id"));
    if (with_task_id)
        assert_non_null(yyjson_mut_obj_get(props, "task_id"));
}

static void test_schemas_derive_from_the_task_schema(void **state)
{
    struct fixture *f = *state;
    check_derived(f, "add_task", task_json_schema(f->doc, FS_CREATE), false);
    check_derived(f, "update_task", task_json_schema(f->doc, FS_PATCH), true);
    check_derived(f, "list_tasks", task_filter_json_schema(f->doc, FS_ARGS), false);
    /* A stored task in a result is the task schema's output (the REST API's Task). */
    yyjson_mut_val *get = tools_describe(tools_find("get_task"), f->doc);
    assert_true(yyjson_mut_equals(yyjson_mut_obj_get(get, "outputSchema"),
                                  task_json_schema(f->doc, FS_OUTPUT)));
    yyjson_mut_val *add = tools_describe(tools_find("add_task"), f->doc);
    yyjson_mut_val *task = yyjson_mut_obj_get(
        yyjson_mut_obj_get(yyjson_mut_obj_get(add, "outputSchema"), "properties"), "task");
    assert_true(yyjson_mut_equals(task, task_json_schema(f->doc, FS_OUTPUT)));
}

static void test_every_tool_runs(void **state)
{
    struct fixture *f = *state;
    const char *a = f->alice.id;
    struct tool_out o = run(f, a, "add_task",
                            "{\"title\":\"Water plants\",\"tags\":[\"home\"],\"due_at\":"
                            "\"2030-01-07\",\"recurrence\":\"weekly\"}");
    assert_string_equal(str_of(o.result, "status"), "created");
    int64_t id = int_of(o.result, "task_id");
    assert_true(id > 0);
    assert_int_equal(int_of(yyjson_mut_obj_get(o.result, "task"), "id"), id);
    char args[64];
    snprintf(args, sizeof(args), "{\"task_id\":%lld}", (long long)id);
    o = run(f, a, "get_task", args);
    assert_string_equal(str_of(o.result, "title"), "Water plants");
    o = run(f, a, "list_tasks", "{\"tag\":\"home\",\"status\":\"pending\"}");
    assert_int_equal(int_of(o.result, "total"), 1);
    o = run(f, a, "complete_task", args);
    assert_string_equal(str_of(o.result, "status"), "completed");
    assert_true(yyjson_mut_is_obj(yyjson_mut_obj_get(o.result, "next_task")));
    char upd[96];
    snprintf(upd, sizeof(upd), "{\"task_id\":\"%lld\",\"title\":\"Water all plants\"}",
             (long long)id);
    o = run(f, a, "update_task", upd);
    assert_string_equal(str_of(o.result, "title"), "Water all plants");
    o = run(f, a, "list_tags", NULL);
    assert_int_equal(yyjson_mut_arr_size(yyjson_mut_obj_get(o.result, "tags")), 1);
    o = run(f, a, "task_stats", "{}");
    assert_int_equal(int_of(o.result, "total"), 2);
    o = run(f, a, "delete_task", args);
    assert_string_equal(str_of(o.result, "status"), "deleted");
    o = run(f, a, "get_task", args);
    assert_non_null(strstr(o.error, "not found"));
}

static void test_arguments_are_checked(void **state)
{
    struct fixture *f = *state;
    const char *a = f->alice.id;
    struct tool_out o = run(f, a, "add_task", "{\"title\":\"x\",\"due_date\":\"2030-01-01\"}");
    assert_non_null(strstr(o.error, "\"due_date\""));
    assert_non_null(strstr(o.error, "due_at")); /* says what it accepts */
    o = run(f, a, "add_task", "{}");
    assert_non_null(strstr(o.error, "title"));
    o = run(f, a, "get_task", "{\"task_id\":0}");
    assert_non_null(strstr(o.error, "task_id"));
    o = run(f, a, "get_task", "{\"task_id\":\"07\"}");
    assert_non_null(strstr(o.error, "task_id"));
    o = run(f, a, "list_tasks", "{\"limit\":500}");
    assert_non_null(strstr(o.error, "limit"));
    const struct tool *t = tools_find("task_stats");
    struct tool_env env = {f->c, f->a, a, NULL};
    struct tool_out out;
    assert_int_equal(tools_run(t, &env, yyjson_doc_get_root(unit_json(f->a, "[1]")), f->doc, &out),
                     ERR_OK);
    assert_non_null(out.error);
}

static void test_user_id_never_selects_the_user(void **state)
{
    struct fixture *f = *state;
    struct tool_out o = run(f, f->alice.id, "add_task", "{\"title\":\"Alice's\"}");
    int64_t id = int_of(o.result, "task_id");
    char args[160];
    snprintf(args, sizeof(args), "{\"user_id\":\"%s\",\"task_id\":%lld}", f->alice.id,
             (long long)id);
    /* Bob, naming Alice: nothing of hers, whatever the tool. */
    static const char *const by_id[] = {"get_task", "complete_task", "delete_task"};
    for (size_t i = 0; i < ARRAY_LEN(by_id); i++)
        assert_non_null(run(f, f->bob.id, by_id[i], args).error);
    char list[128];
    snprintf(list, sizeof(list), "{\"user_id\":\"%s\"}", f->alice.id);
    assert_int_equal(int_of(run(f, f->bob.id, "list_tasks", list).result, "total"), 0);
    assert_int_equal(int_of(run(f, f->bob.id, "task_stats", list).result, "total"), 0);
    o = run(f, f->bob.id, "add_task", "{\"user_id\":\"someone-else\",\"title\":\"Bob's\"}");
    assert_string_equal(str_of(yyjson_mut_obj_get(o.result, "task"), "user_id"), f->bob.id);
    struct task t;
    assert_int_equal(tasks_get(f->c, f->a, f->alice.id, id, &t), ERR_OK);
    assert_false(t.completed);
}

/* --- the offline assistant through the table --- */

struct bridge {
    struct fixture *f;
    const char *uid;
};

/* The runner the chat will use: the table's tools as the user, results as JSON values. */
static int bridge_call(void *ctx, const char *tool, yyjson_mut_doc *doc, yyjson_mut_val *args,
                       yyjson_val **result, bool *is_error)
{
    struct bridge *b = ctx;
    const struct tool *t = tools_find(tool);
    if (!t)
        return ERR_INVALID;
    yyjson_alc alc;
    arena_yyjson_alc(b->f->a, &alc);
    yyjson_doc *in = yyjson_mut_val_imut_copy(args, &alc);
    if (!in)
        return ERR_NOMEM;
    struct tool_env env = {b->f->c, b->f->a, b->uid, NULL};
    struct tool_out out;
    int rc = tools_run(t, &env, yyjson_doc_get_root(in), doc, &out);
    if (rc != ERR_OK)
        return rc;
    *is_error = out.error != NULL;
    yyjson_mut_val *v = out.error ? yyjson_mut_str(doc, out.error) : out.result;
    yyjson_doc *r = yyjson_mut_val_imut_copy(v, &alc);
    *result = r ? yyjson_doc_get_root(r) : NULL;
    return r ? ERR_OK : ERR_NOMEM;
}

static const char *say(struct fixture *f, const char *uid, const char *message)
{
    struct bridge b = {f, uid};
    struct offline_runner r = {bridge_call, &b};
    struct offline_input in = {message, strlen(message), 1893456000 /* 2030-01-01 */, 0};
    struct offline_turn turn;
    assert_int_equal(offline_turn(f->a, &in, &r, f->doc, &turn), ERR_OK);
    assert_non_null(turn.reply);
    return turn.reply;
}

static void test_offline_assistant_through_the_table(void **state)
{
    struct fixture *f = *state;
    const char *a = f->alice.id;
    const char *reply = say(f, a, "add buy milk tomorrow at 5pm #shopping !high");
    assert_non_null(strstr(reply, "uy milk"));
    struct task *tasks;
    size_t n;
    int64_t total;
    struct task_filter all;
    task_filter_defaults(&all);
    assert_int_equal(tasks_list(f->c, f->a, a, &all, &tasks, &n, &total), ERR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tasks[0].priority, PRIO_HIGH);
    assert_int_equal(tasks[0].due_at, 1893603600); /* 2030-01-02T17:00:00Z */
    reply = say(f, a, "show my tasks");
    assert_non_null(strstr(reply, "uy milk"));
    reply = say(f, a, "what tags do I have");
    assert_non_null(strstr(reply, "shopping"));
    reply = say(f, a, "complete buy milk");
    assert_non_null(strstr(reply, "uy milk"));
    assert_int_equal(tasks_list(f->c, f->a, a, &all, &tasks, &n, &total), ERR_OK);
    assert_true(tasks[0].completed);
    reply = say(f, a, "how many tasks do I have");
    assert_non_null(strstr(reply, "1"));
    reply = say(f, a, "delete task 424242");
    assert_non_null(strstr(reply, "not found"));
    /* Bob's assistant sees nothing of Alice's. */
    reply = say(f, f->bob.id, "show my tasks");
    assert_null(strstr(reply, "milk"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_the_assistants_tools),
        cmocka_unit_test_setup_teardown(test_descriptions_are_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schemas_derive_from_the_task_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_tool_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_id_never_selects_the_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_assistant_through_the_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
