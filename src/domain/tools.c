/*
 * The task tools (see tools.h): the table, argument checking, the functions that run each
 * tool through domain/tasks.h, and the tools' JSON Schemas.
 */
#include "domain/tools.h"

#include <pthread.h>
#include <string.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/tasks.h"

/* The longest message listing argument problems or the accepted arguments. */
#define TOOL_MESSAGE_MAX 1024

/* --- JSON Schema building blocks ----------------------------------------------------------- */

/* {"type": type} with a description; type may be "string", "integer", … */
static yyjson_mut_val *typed(yyjson_mut_doc *doc, const char *type, const char *description)
{
    yyjson_mut_val *s = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, s, "type", type);
    if (description)
        yyjson_mut_obj_add_str(doc, s, "description", description);
    return s;
}

/* {"type": [type, "null"]}. */
static yyjson_mut_val *nullable(yyjson_mut_doc *doc, const char *type, const char *description)
{
    yyjson_mut_val *s = yyjson_mut_obj(doc);
    yyjson_mut_val *t = yyjson_mut_arr(doc);
    yyjson_mut_arr_add_str(doc, t, type);
    yyjson_mut_arr_add_str(doc, t, "null");
    yyjson_mut_obj_add_val(doc, s, "type", t);
    if (description)
        yyjson_mut_obj_add_str(doc, s, "description", description);
    return s;
}

/* An object schema: properties, the required names (NULL-terminated, or NULL) and whether
 * other keys are refused (inputs) or allowed (outputs, which may grow). */
static yyjson_mut_val *object(yyjson_mut_doc *doc, yyjson_mut_val *props,
                              const char *const *required, bool closed)
{
    yyjson_mut_val *s = typed(doc, "object", NULL);
    yyjson_mut_obj_add_val(doc, s, "properties", props);
    if (required && required[0]) {
        yyjson_mut_val *r = yyjson_mut_arr(doc);
        for (size_t i = 0; required[i]; i++)
            yyjson_mut_arr_add_str(doc, r, required[i]);
        yyjson_mut_obj_add_val(doc, s, "required", r);
    }
    if (closed)
        yyjson_mut_obj_add_bool(doc, s, "additionalProperties", false);
    return s;
}

/* A stored task as the tools return it: the task schema's output (the REST API's Task). */
static yyjson_mut_val *task_schema(yyjson_mut_doc *doc)
{
    return task_json_schema(doc, FS_OUTPUT);
}

/* Turns an input schema of the task schema's into a tool's arguments: task_id first when the
 * tool names a task, the hackathon's user_id (which selects nothing), no other keys, and
 * exactly the required names given. */
static yyjson_mut_val *arguments(yyjson_mut_doc *doc, yyjson_mut_val *s, bool with_task_id,
                                 const char *const *required)
{
    yyjson_mut_val *props = yyjson_mut_obj_get(s, "properties");
    if (!props) {
        props = yyjson_mut_obj(doc);
        yyjson_mut_obj_put(s, yyjson_mut_str(doc, "properties"), props);
    }
    if (with_task_id) {
        yyjson_mut_val *id = typed(doc, "integer", "The task's id (from list_tasks or add_task).");
        yyjson_mut_obj_add_int(doc, id, "minimum", 1);
        yyjson_mut_obj_insert(props, yyjson_mut_str(doc, "task_id"), id, 0);
    }
    yyjson_mut_obj_add_val(
        doc, props, "user_id",
        typed(doc, "string", "Optional and ignored: the tool always acts for the signed-in user."));
    yyjson_mut_obj_remove_key(s, "minProperties");
    yyjson_mut_obj_remove_key(s, "required");
    if (required && required[0]) {
        yyjson_mut_val *r = yyjson_mut_arr(doc);
        for (size_t i = 0; required[i]; i++)
            yyjson_mut_arr_add_str(doc, r, required[i]);
        yyjson_mut_obj_add_val(doc, s, "required", r);
    }
    yyjson_mut_obj_put(s, yyjson_mut_str(doc, "additionalProperties"), yyjson_mut_false(doc));
    return s;
}

static const char *const req_title[] = {"title", NULL};
static const char *const req_task_id[] = {"task_id", NULL};

static yyjson_mut_val *in_add(yyjson_mut_doc *doc)
{
    return arguments(doc, task_json_schema(doc, FS_CREATE), false, req_title);
}

static yyjson_mut_val *in_update(yyjson_mut_doc *doc)
{
    return arguments(doc, task_json_schema(doc, FS_PATCH), true, req_task_id);
}

static yyjson_mut_val *in_task_id(yyjson_mut_doc *doc)
{
    return arguments(doc, typed(doc, "object", NULL), true, req_task_id);
}

static yyjson_mut_val *in_none(yyjson_mut_doc *doc)
{
    return arguments(doc, typed(doc, "object", NULL), false, NULL);
}

static yyjson_mut_val *in_list(yyjson_mut_doc *doc)
{
    return arguments(doc, task_filter_json_schema(doc, FS_ARGS), false, NULL);
}

/* {task_id, status, title, task[, next_task]}: what a change returns. */
static yyjson_mut_val *out_change(yyjson_mut_doc *doc, const char *status, bool next)
{
    static const char *const required[] = {"task_id", "status", "title", "task", NULL};
    static const char *const required_next[] = {"task_id", "status",    "title",
                                                "task",    "next_task", NULL};
    yyjson_mut_val *p = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_val(doc, p, "task_id", typed(doc, "integer", NULL));
    yyjson_mut_val *st = typed(doc, "string", NULL);
    yyjson_mut_obj_add_str(doc, st, "const", status);
    yyjson_mut_obj_add_val(doc, p, "status", st);
    yyjson_mut_obj_add_val(doc, p, "title", typed(doc, "string", NULL));
    yyjson_mut_obj_add_val(doc, p, "task", task_schema(doc));
    if (next) {
        yyjson_mut_val *n = task_schema(doc);
        yyjson_mut_val *t = yyjson_mut_arr(doc);
        yyjson_mut_arr_add_str(doc, t, "object");
        yyjson_mut_arr_add_str(doc, t, "null");
        yyjson_mut_obj_put(n, yyjson_mut_str(doc, "type"), t);
        yyjson_mut_obj_add_str(doc, n, "description",
                               "The next occurrence a recurring task's completion created, "
                               "or null.");
        yyjson_mut_obj_add_val(doc, p, "next_task", n);
    }
    return object(doc, p, next ? required_next : required, false);
}

static yyjson_mut_val *out_created(yyjson_mut_doc *doc)
{
    return out_change(doc, "created", false);
}

static yyjson_mut_val *out_updated(yyjson_mut_doc *doc)
{
    return out_change(doc, "updated", false);
}

static yyjson_mut_val *out_deleted(yyjson_mut_doc *doc)
{
    return out_change(doc, "deleted", false);
}

static yyjson_mut_val *out_completed(yyjson_mut_doc *doc)
{
    return out_change(doc, "completed", true);
}

static yyjson_mut_val *out_list(yyjson_mut_doc *doc)
{
    static const char *const required[] = {"tasks", "total", "limit", "offset", NULL};
    yyjson_mut_val *p = yyjson_mut_obj(doc);
    yyjson_mut_val *arr = typed(doc, "array", "This page of matching tasks.");
    yyjson_mut_obj_add_val(doc, arr, "items", task_schema(doc));
    yyjson_mut_obj_add_val(doc, p, "tasks", arr);
    yyjson_mut_obj_add_val(doc, p, "total",
                           typed(doc, "integer", "How many tasks match, across all pages."));
    yyjson_mut_obj_add_val(doc, p, "limit", typed(doc, "integer", NULL));
    yyjson_mut_obj_add_val(doc, p, "offset", typed(doc, "integer", NULL));
    yyjson_mut_obj_add_val(
        doc, p, "next_offset",
        nullable(doc, "integer", "The offset of the next page, or null on the last page."));
    return object(doc, p, required, false);
}

static yyjson_mut_val *out_task(yyjson_mut_doc *doc)
{
    return task_schema(doc);
}

static yyjson_mut_val *out_tags(yyjson_mut_doc *doc)
{
    static const char *const req_tag[] = {"name", "count", NULL};
    static const char *const required[] = {"tags", NULL};
    yyjson_mut_val *tp = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_val(doc, tp, "name", typed(doc, "string", NULL));
    yyjson_mut_obj_add_val(doc, tp, "count", typed(doc, "integer", NULL));
    yyjson_mut_val *arr =
        typed(doc, "array", "Each tag with its number of tasks, most used first.");
    yyjson_mut_obj_add_val(doc, arr, "items", object(doc, tp, req_tag, false));
    yyjson_mut_val *p = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_val(doc, p, "tags", arr);
    return object(doc, p, required, false);
}

static yyjson_mut_val *out_stats(yyjson_mut_doc *doc)
{
    static const char *const names[] = {"total",   "completed", "pending",
                                        "overdue", "due_today", NULL};
    yyjson_mut_val *p = yyjson_mut_obj(doc);
    for (size_t i = 0; names[i]; i++)
        yyjson_mut_obj_add_val(doc, p, names[i], typed(doc, "integer", NULL));
    return object(doc, p, names, false);
}

/* --- results --------------------------------------------------------------------------------- */

/* A task as a JSON value whose members are all real values: task_to_json writes the stored
 * tag list as raw JSON text (fast to serialise), which an in-process reader of the result
 * (the assistant's runner) would not see as an array. */
static yyjson_mut_val *task_value(yyjson_mut_doc *doc, struct arena *a, const struct task *t)
{
    static const char *const raw_keys[] = {"tags"};
    yyjson_mut_val *o = task_to_json(doc, t);
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    for (size_t i = 0; o && i < ARRAY_LEN(raw_keys); i++) {
        yyjson_mut_val *val = yyjson_mut_obj_get(o, raw_keys[i]);
        if (!yyjson_mut_is_raw(val))
            continue;
        yyjson_doc *d = yyjson_read_opts((char *)yyjson_mut_get_raw(val), yyjson_mut_get_len(val),
                                         0, &alc, NULL);
        yyjson_mut_val *copy = d ? yyjson_val_mut_copy(doc, yyjson_doc_get_root(d)) : NULL;
        if (copy)
            yyjson_mut_obj_replace(o, yyjson_mut_str(doc, raw_keys[i]), copy);
    }
    return o;
}

/* {task_id, status, title, task}. */
static yyjson_mut_val *change(const struct tool_env *env, yyjson_mut_doc *doc, const struct task *t,
                              const char *status)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "task_id", t->id);
    yyjson_mut_obj_add_str(doc, o, "status", status);
    yyjson_mut_obj_add_str(doc, o, "title", t->title);
    yyjson_mut_obj_add_val(doc, o, "task", task_value(doc, env->a, t));
    return o;
}

/* A tool error for a task the user does not have (missing and foreign alike). */
static void not_found(const struct tool_env *env, int64_t id, struct tool_out *out)
{
    out->error = arena_printf(
        env->a, "Task %lld not found: list_tasks shows the ids of your tasks.", (long long)id);
    if (!out->error)
        out->error = "Task not found: list_tasks shows the ids of your tasks.";
}

/* Writes the validation errors as one message a model can act on. */
static const char *problems(struct arena *a, const struct verrors *errs)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, TOOL_MESSAGE_MAX);
    dyn_add(&d, "Invalid arguments:");
    for (size_t i = 0; i < errs->n; i++)
        dyn_addf(&d, "%s %s: %s", i ? ";" : "", errs->e[i].field ? errs->e[i].field : "arguments",
                 errs->e[i].msg);
    dyn_add(&d, ".");
    return dyn_err(&d) == ERR_NOMEM ? "Invalid arguments." : dyn_str(&d);
}

/* Reads task_id: a positive integer (a canonical decimal string is accepted too, as models
 * write them). Records a problem otherwise. */
static int64_t read_task_id(yyjson_val *args, struct verrors *errs)
{
    yyjson_val *v = yyjson_obj_get(args, "task_id");
    int64_t id = 0;
    if (!v)
        verr_add(errs, "arguments", "task_id", "Field required", "missing");
    else if (yyjson_is_int(v) && yyjson_get_sint(v) >= 1)
        id = yyjson_get_sint(v);
    else if (!(json_cstr(v) && parse_id(json_cstr(v), &id) == ERR_OK))
        verr_add(errs, "arguments", "task_id", "Input should be a task id (a positive integer)",
                 "int_parsing");
    return id;
}

/* The prologue of the tools that take only task_id (get, complete, delete): reads it into
 * *id and returns true, or sets out->error to the problem a model can act on and returns
 * false (the tool then answers ERR_OK with that error). */
static bool task_id_arg(const struct tool_env *env, yyjson_val *args, struct tool_out *out,
                        int64_t *id)
{
    struct verrors errs = {0};
    *id = read_task_id(args, &errs);
    if (errs.n) {
        out->error = problems(env->a, &errs);
        return false;
    }
    return true;
}

/* Maps a storage outcome to the tool's: a missing task is a tool error, as is a computed
 * time out of range; the rest (the database is down …) is a failure to run. */
static int task_outcome(const struct tool_env *env, int rc, int64_t id, struct tool_out *out)
{
    if (rc == ERR_NOTFOUND) {
        not_found(env, id, out);
        return ERR_OK;
    }
    if (rc == ERR_RANGE) {
        out->error = "The next occurrence's reminder would fall after 9999-12-31T23:59:59Z";
        return ERR_OK;
    }
    if (rc == ERR_INVALID) {
        out->error = "Invalid task data";
        return ERR_OK;
    }
    return rc;
}

/* --- the tools ---------------------------------------------------------------------------- */

static int run_add(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                   struct tool_out *out)
{
    struct task_input in;
    struct verrors errs = {0};
    if (task_input_parse(args, TASK_CREATE, "arguments", env->a, &in, &errs) != ERR_OK) {
        out->error = problems(env->a, &errs);
        return ERR_OK;
    }
    struct task t;
    int rc = tasks_create(env->db, env->a, env->uid, &in, &t);
    if (rc != ERR_OK)
        return task_outcome(env, rc, 0, out);
    out->result = change(env, doc, &t, "created");
    return ERR_OK;
}

static int run_update(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                      struct tool_out *out)
{
    struct verrors errs = {0};
    int64_t id = read_task_id(args, &errs);
    struct task_input in = {0};
    /* Only the task's fields: without one (task_id alone) the update says what it takes. */
    task_input_parse(args, TASK_PATCH, "arguments", env->a, &in, &errs);
    if (errs.n) {
        out->error = problems(env->a, &errs);
        return ERR_OK;
    }
    struct task t;
    int rc = tasks_update(env->db, env->a, env->uid, id, &in, &t);
    if (rc != ERR_OK)
        return task_outcome(env, rc, id, out);
    out->result = change(env, doc, &t, "updated");
    return ERR_OK;
}

static int run_get(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                   struct tool_out *out)
{
    int64_t id;
    if (!task_id_arg(env, args, out, &id))
        return ERR_OK;
    struct task t;
    int rc = tasks_get(env->db, env->a, env->uid, id, &t);
    if (rc != ERR_OK)
        return task_outcome(env, rc, id, out);
    out->result = task_value(doc, env->a, &t);
    return ERR_OK;
}

static int run_complete(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                        struct tool_out *out)
{
    int64_t id;
    if (!task_id_arg(env, args, out, &id))
        return ERR_OK;
    struct task t, next;
    bool has_next = false;
    int rc = tasks_complete(env->db, env->a, env->uid, id, 1, &t, &next, &has_next);
    if (rc != ERR_OK)
        return task_outcome(env, rc, id, out);
    out->result = change(env, doc, &t, "completed");
    if (has_next)
        yyjson_mut_obj_add_val(doc, out->result, "next_task", task_value(doc, env->a, &next));
    else
        yyjson_mut_obj_add_null(doc, out->result, "next_task");
    return ERR_OK;
}

static int run_delete(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                      struct tool_out *out)
{
    int64_t id;
    if (!task_id_arg(env, args, out, &id))
        return ERR_OK;
    /* The answer names what was deleted: read it first (a delete in between is a 404). */
    struct task t;
    int rc = tasks_get(env->db, env->a, env->uid, id, &t);
    if (rc == ERR_OK)
        rc = tasks_delete(env->db, env->a, env->uid, id, env->uploads);
    if (rc != ERR_OK)
        return task_outcome(env, rc, id, out);
    out->result = change(env, doc, &t, "deleted");
    return ERR_OK;
}

static int run_list(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                    struct tool_out *out)
{
    struct task_filter f;
    struct verrors errs = {0};
    int rc = task_filter_parse(field_get_json, args, "arguments", env->a, &f, &errs);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != ERR_OK) {
        out->error = problems(env->a, &errs);
        return ERR_OK;
    }
    struct task *tasks;
    size_t n;
    int64_t total;
    rc = tasks_list(env->db, env->a, env->uid, &f, &tasks, &n, &total);
    if (rc != ERR_OK)
        return rc;
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    for (size_t i = 0; i < n; i++)
        yyjson_mut_arr_append(arr, task_value(doc, env->a, &tasks[i]));
    yyjson_mut_obj_add_val(doc, o, "tasks", arr);
    yyjson_mut_obj_add_int(doc, o, "total", total);
    yyjson_mut_obj_add_int(doc, o, "limit", f.limit);
    yyjson_mut_obj_add_int(doc, o, "offset", f.offset);
    if ((int64_t)f.offset + (int64_t)n < total)
        yyjson_mut_obj_add_int(doc, o, "next_offset", (int64_t)f.offset + (int64_t)n);
    else
        yyjson_mut_obj_add_null(doc, o, "next_offset");
    out->result = o;
    return ERR_OK;
}

static int run_tags(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                    struct tool_out *out)
{
    (void)args;
    struct db_rows rows;
    int rc = tasks_tags(env->db, env->a, env->uid, &rows);
    if (rc != ERR_OK)
        return rc;
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    for (size_t i = 0; i < rows.nrows; i++) {
        yyjson_mut_val *t = yyjson_mut_arr_add_obj(doc, arr);
        yyjson_mut_obj_add_str(doc, t, "name", db_cell(&rows, i, 0));
        int64_t count = 0;
        parse_int64(db_cell(&rows, i, 1), 0, INT64_MAX, &count);
        yyjson_mut_obj_add_int(doc, t, "count", count);
    }
    out->result = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_val(doc, out->result, "tags", arr);
    return ERR_OK;
}

static int run_stats(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
                     struct tool_out *out)
{
    (void)args;
    struct task_stats s;
    int rc = tasks_stats(env->db, env->a, env->uid, &s);
    if (rc != ERR_OK)
        return rc;
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "total", s.total);
    yyjson_mut_obj_add_int(doc, o, "completed", s.completed);
    yyjson_mut_obj_add_int(doc, o, "pending", s.pending);
    yyjson_mut_obj_add_int(doc, o, "overdue", s.overdue);
    yyjson_mut_obj_add_int(doc, o, "due_today", s.due_today);
    out->result = o;
    return ERR_OK;
}

/* --- the table ------------------------------------------------------------------------------ */

#define READ_ONLY                                                                                  \
    {                                                                                              \
        true, false, true                                                                          \
    }
#define ADDITIVE                                                                                   \
    {                                                                                              \
        false, false, false                                                                        \
    }
#define OVERWRITING                                                                                \
    {                                                                                              \
        false, true, true                                                                          \
    }

/* In the order of enum offline_tool (assistant/offline.h). */
const struct tool tools_table[] = {
    {"add_task", "Add a task",
     "Create a task for the user. Only title is required; priority, tags, a due date, a "
     "reminder and a recurrence are optional. Returns the new task's id and the task.",
     in_add, out_created, ADDITIVE, run_add},
    {"list_tasks", "List tasks",
     "List the user's tasks, newest first unless sorted otherwise. Filter by status "
     "(pending/completed), priority, tag, a search text, due dates or overdue; page with "
     "limit and offset. Returns the page of tasks and the total number that match.",
     in_list, out_list, READ_ONLY, run_list},
    {"get_task", "Show a task", "Show one task of the user, with every field, by its id.",
     in_task_id, out_task, READ_ONLY, run_get},
    {"complete_task",
     "Complete a task",
     "Mark a task done. Completing a recurring task creates its next occurrence, returned as "
     "next_task. Completing a task that is already done changes nothing.",
     in_task_id,
     out_completed,
     {false, false, true},
     run_complete},
    {"delete_task",
     "Delete a task",
     "Delete a task for good (the web app can undo it for 30 seconds). Returns what was "
     "deleted.",
     in_task_id,
     out_deleted,
     {false, true, true},
     run_delete},
    {"update_task", "Update a task",
     "Change some fields of a task: only the fields given change; null clears description, "
     "tags, due_at, remind_at or recurrence. Use complete_task to mark it done.",
     in_update, out_updated, OVERWRITING, run_update},
    {"list_tags", "List tags", "The user's tags, each with its number of tasks, most used first.",
     in_none, out_tags, READ_ONLY, run_tags},
    {"task_stats", "Task statistics",
     "Counts of the user's tasks: total, completed, pending, overdue and due today.", in_none,
     out_stats, READ_ONLY, run_stats},
};

const size_t tools_count = ARRAY_LEN(tools_table);

const struct tool *tools_find(const char *name)
{
    for (size_t i = 0; name && i < tools_count; i++)
        if (strcmp(tools_table[i].name, name) == 0)
            return &tools_table[i];
    return NULL;
}

/* --- input schemas, built once ---------------------------------------------------------- */

/* Each tool's input schema as an immutable document, built at first use and kept for the
 * process's life (constant data: never freed, never changed). */
static yyjson_doc *input_docs[ARRAY_LEN(tools_table)];
static pthread_once_t input_once = PTHREAD_ONCE_INIT;

static void build_inputs(void)
{
    for (size_t i = 0; i < tools_count; i++) {
        yyjson_mut_doc *m = yyjson_mut_doc_new(NULL);
        if (!m)
            continue;
        yyjson_mut_doc_set_root(m, tools_table[i].input_schema(m));
        input_docs[i] = yyjson_mut_doc_imut_copy(m, NULL);
        yyjson_mut_doc_free(m);
    }
}

/* The input schema's properties of t, or NULL when out of memory. */
static yyjson_val *input_props(const struct tool *t)
{
    pthread_once(&input_once, build_inputs);
    yyjson_doc *d = input_docs[t - tools_table];
    return d ? yyjson_obj_get(yyjson_doc_get_root(d), "properties") : NULL;
}

/* A tool error naming the unknown arguments and those the tool accepts. */
static const char *unknown_args(struct arena *a, yyjson_val *args, yyjson_val *props)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, TOOL_MESSAGE_MAX);
    dyn_add(&d, "Unknown argument");
    size_t i, max, n = 0;
    yyjson_val *k, *v;
    yyjson_obj_foreach(args, i, max, k, v)
    {
        if (yyjson_obj_getn(props, yyjson_get_str(k), yyjson_get_len(k)))
            continue;
        size_t len = yyjson_get_len(k);
        dyn_add(&d, n++ ? ", \"" : ": \"");
        dyn_addn(&d, yyjson_get_str(k), len > 64 ? 64 : len);
        dyn_addc(&d, '"');
    }
    dyn_add(&d, ". This tool accepts:");
    n = 0;
    yyjson_obj_foreach(props, i, max, k, v)
    {
        dyn_add(&d, n++ ? ", " : " ");
        dyn_add(&d, yyjson_get_str(k));
    }
    dyn_addc(&d, '.');
    return dyn_err(&d) == ERR_NOMEM ? "Unknown argument." : dyn_str(&d);
}

int tools_run(const struct tool *t, const struct tool_env *env, yyjson_val *args,
              yyjson_mut_doc *doc, struct tool_out *out)
{
    out->result = NULL;
    out->error = NULL;
    static const char empty_json[] = "{}";
    if (!args) {
        yyjson_doc *e = NULL;
        const char *why;
        if (json_parse(env->a, empty_json, sizeof(empty_json) - 1, &e, &why) != ERR_OK)
            return ERR_NOMEM;
        args = yyjson_doc_get_root(e);
    }
    if (!yyjson_is_obj(args)) {
        out->error = "The arguments must be a JSON object.";
        return ERR_OK;
    }
    yyjson_val *props = input_props(t);
    if (!props)
        return ERR_NOMEM;
    size_t i, max;
    yyjson_val *k, *v;
    yyjson_obj_foreach(args, i, max, k, v)
    {
        if (!yyjson_obj_getn(props, yyjson_get_str(k), yyjson_get_len(k))) {
            out->error = unknown_args(env->a, args, props);
            return out->error ? ERR_OK : ERR_NOMEM;
        }
    }
    /* The hackathon's user_id: accepted, never used. */
    yyjson_val *uid = yyjson_obj_get(args, "user_id");
    if (uid && !(json_cstr(uid) && strcmp(json_cstr(uid), env->uid) == 0) && log_enabled(LOG_DEBUG))
        log_fields(LOG_DEBUG, "tool user_id ignored: the tool acts for the caller",
                   (struct log_field[]){LF_S("tool", t->name), LF_S("user_id", env->uid)}, 2);
    int rc = t->run(env, args, doc, out);
    if (rc == ERR_OK && !out->result && !out->error)
        rc = ERR_NOMEM;
    return rc;
}

yyjson_mut_val *tools_describe(const struct tool *t, yyjson_mut_doc *doc)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, o, "name", t->name);
    yyjson_mut_obj_add_str(doc, o, "title", t->title);
    yyjson_mut_obj_add_str(doc, o, "description", t->description);
    pthread_once(&input_once, build_inputs);
    yyjson_doc *in = input_docs[t - tools_table];
    yyjson_mut_obj_add_val(doc, o, "inputSchema",
                           in ? yyjson_val_mut_copy(doc, yyjson_doc_get_root(in))
                              : t->input_schema(doc));
    yyjson_mut_obj_add_val(doc, o, "outputSchema", t->output_schema(doc));
    yyjson_mut_val *ann = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, ann, "title", t->title);
    yyjson_mut_obj_add_bool(doc, ann, "readOnlyHint", t->hints.read_only);
    yyjson_mut_obj_add_bool(doc, ann, "destructiveHint", t->hints.destructive);
    yyjson_mut_obj_add_bool(doc, ann, "idempotentHint", t->hints.idempotent);
    yyjson_mut_obj_add_bool(doc, ann, "openWorldHint", false);
    yyjson_mut_obj_add_val(doc, o, "annotations", ann);
    return o;
}
