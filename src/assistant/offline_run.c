/*
 * Running an offline plan (see offline.h): each intent becomes tool calls through the
 * caller's runner — a title fragment is first resolved with a list_tasks search — and the
 * reply is written from the tools' results into one bounded buffer. A piece of reply that
 * would not fit is left out whole, so the reply is always complete sentences and valid UTF-8.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "assistant/offline_internal.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"

#define RESOLVE_LIMIT 10 /* tasks a fragment search returns: enough to ask "which one?" */

static const char *const tool_names[] = {
    [TOOL_ADD_TASK] = "add_task",       [TOOL_LIST_TASKS] = "list_tasks",
    [TOOL_GET_TASK] = "get_task",       [TOOL_COMPLETE_TASK] = "complete_task",
    [TOOL_DELETE_TASK] = "delete_task", [TOOL_UPDATE_TASK] = "update_task",
    [TOOL_LIST_TAGS] = "list_tags",     [TOOL_TASK_STATS] = "task_stats",
};

const char *offline_tool_name(enum offline_tool t)
{
    return (size_t)t < ARRAY_LEN(tool_names) ? tool_names[t] : "";
}

/* --- the reply buffer --- */

struct reply {
    char s[OFFLINE_REPLY_MAX];
    struct dynbuf b; /* over s: a piece that does not fit ends the reply */
};

/* Appends formatted text, all or nothing. */
__attribute__((format(printf, 2, 3))) static void sayf(struct reply *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dyn_vaddf(&b->b, fmt, ap);
    va_end(ap);
}

/* Starts a new sentence: a space after the previous one. */
static void sentence(struct reply *b)
{
    size_t len = dyn_len(&b->b);
    if (len && dyn_str(&b->b)[len - 1] != '\n')
        sayf(b, " ");
}

/* --- one run --- */

struct run {
    struct arena *a;
    const struct offline_input *in;
    const struct offline_runner *r;
    yyjson_mut_doc *doc;
    struct offline_turn *turn;
    struct reply *out;
    int rc;      /* the runner's error, which stops the turn */
    bool capped; /* OFFLINE_MAX_CALLS reached */
};

/* Calls a tool and records it. False when it did not run (no result to read). */
static bool call(struct run *r, enum offline_tool tool, yyjson_mut_val *args, yyjson_val **result,
                 bool *is_error)
{
    *result = NULL;
    *is_error = false;
    if (r->rc != ERR_OK || !args)
        return false;
    if (r->turn->ncalls >= OFFLINE_MAX_CALLS) {
        r->capped = true;
        return false;
    }
    const char *name = offline_tool_name(tool);
    int rc = r->r->call(r->r->ctx, name, r->doc, args, result, is_error);
    struct offline_call *c = &r->turn->calls[r->turn->ncalls++];
    c->tool = name;
    c->args = args;
    c->result = rc == ERR_OK ? *result : NULL;
    c->is_error = rc == ERR_OK && *is_error;
    if (rc != ERR_OK) {
        r->rc = rc;
        return false;
    }
    return true;
}

/* --- reading results --- */

static yyjson_val *task_of(yyjson_val *v)
{
    yyjson_val *t = yyjson_obj_get(v, "task");
    return yyjson_is_obj(t) ? t : v;
}

static int64_t id_of(yyjson_val *v)
{
    yyjson_val *id = yyjson_obj_get(v, "task_id");
    if (!id)
        id = yyjson_obj_get(v, "id");
    return yyjson_is_int(id) ? yyjson_get_sint(id) : 0;
}

static const char *str_of(yyjson_val *v, const char *key)
{
    yyjson_val *s = yyjson_obj_get(v, key);
    return yyjson_is_str(s) ? yyjson_get_str(s) : NULL;
}

/* The items of a list result: the array itself, or obj[key]. */
static yyjson_val *items_of(yyjson_val *v, const char *key)
{
    if (yyjson_is_arr(v))
        return v;
    yyjson_val *a = yyjson_obj_get(v, key);
    return yyjson_is_arr(a) ? a : NULL;
}

/* A tool error's message: a string, or "error"/"detail"/"message" (FastAPI lists too). */
static const char *error_text(yyjson_val *v)
{
    if (yyjson_is_str(v))
        return yyjson_get_str(v);
    static const char *const keys[] = {"error", "detail", "message"};
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
        yyjson_val *e = yyjson_obj_get(v, keys[k]);
        if (yyjson_is_str(e))
            return yyjson_get_str(e);
        if (yyjson_is_arr(e) && yyjson_is_str(yyjson_obj_get(yyjson_arr_get_first(e), "msg")))
            return yyjson_get_str(yyjson_obj_get(yyjson_arr_get_first(e), "msg"));
    }
    yyjson_val *content = yyjson_arr_get_first(yyjson_obj_get(v, "content")); /* MCP shape */
    if (yyjson_is_str(yyjson_obj_get(content, "text")))
        return yyjson_get_str(yyjson_obj_get(content, "text"));
    return "the tool failed";
}

/* " due tomorrow at 17:00" for an RFC 3339 time, or "" when absent or unreadable. */
static const char *due_words(struct run *r, const char *prefix, const char *rfc3339)
{
    int64_t t;
    if (!rfc3339 || time_parse(rfc3339, DATE_END_OF_DAY, &t) != ERR_OK)
        return "";
    const char *w = when_describe(r->a, r->in->now, r->in->utc_offset_min, t);
    return w ? arena_printf(r->a, "%s%s", prefix, w) : "";
}

static const char *recurrence_words(struct arena *a, const char *rec, int64_t interval)
{
    static const char *const units[][3] = {{"daily", "day", "days"},
                                           {"weekly", "week", "weeks"},
                                           {"monthly", "month", "months"},
                                           {"yearly", "year", "years"}};
    if (!rec || strcmp(rec, "none") == 0)
        return NULL;
    for (size_t k = 0; k < ARRAY_LEN(units); k++) {
        if (strcmp(rec, units[k][0]) != 0)
            continue;
        if (interval <= 1)
            return arena_printf(a, "repeats %s", rec);
        return arena_printf(a, "repeats every %lld %s", (long long)interval, units[k][2]);
    }
    return NULL;
}

/* "#a #b" of a tags array (JSON) */
static const char *tags_words(struct arena *a, yyjson_val *tags)
{
    const char *out = NULL;
    size_t i, max;
    yyjson_val *t;
    yyjson_arr_foreach(tags, i, max, t)
    {
        if (!yyjson_is_str(t) || i >= OFFLINE_MAX_TAGS)
            continue;
        out = out ? arena_printf(a, "%s #%s", out, yyjson_get_str(t))
                  : arena_printf(a, "#%s", yyjson_get_str(t));
    }
    return out;
}

/* One line of a list: "#3 Buy milk, due today at 17:00, high priority". */
static void say_item(struct run *r, yyjson_val *t)
{
    const char *title = str_of(t, "title");
    sayf(r->out, "\n• #%lld %s", (long long)id_of(t), title ? title : "(untitled)");
    if (yyjson_get_bool(yyjson_obj_get(t, "completed")))
        sayf(r->out, " (done)");
    const char *due = due_words(r, ", due ", str_of(t, "due_at"));
    if (*due)
        sayf(r->out, "%s", due);
    const char *prio = str_of(t, "priority");
    if (prio && strcmp(prio, "medium") != 0)
        sayf(r->out, ", %s priority", prio);
}

/* --- add --- */

yyjson_mut_val *offline_task_args(yyjson_mut_doc *doc, const struct offline_fields *f)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    if (!o)
        return NULL;
    if (f->set & OF_TITLE)
        yyjson_mut_obj_add_strcpy(doc, o, "title", f->title);
    if (f->set & OF_DESCRIPTION)
        yyjson_mut_obj_add_strcpy(doc, o, "description", f->description);
    else if (f->clear & OF_DESCRIPTION)
        yyjson_mut_obj_add_null(doc, o, "description");
    if (f->set & OF_PRIORITY)
        yyjson_mut_obj_add_str(doc, o, "priority", f->priority);
    if (f->set & OF_TAGS) {
        yyjson_mut_val *arr = yyjson_mut_obj_add_arr(doc, o, "tags");
        for (size_t i = 0; i < f->ntags && arr; i++)
            yyjson_mut_arr_add_strcpy(doc, arr, f->tags[i]);
    }
    if (f->set & OF_DUE)
        yyjson_mut_obj_add_strcpy(doc, o, "due_at", f->due_at);
    else if (f->clear & OF_DUE)
        yyjson_mut_obj_add_null(doc, o, "due_at");
    if (f->set & OF_REMIND)
        yyjson_mut_obj_add_strcpy(doc, o, "remind_at", f->remind_at);
    else if (f->clear & OF_REMIND)
        yyjson_mut_obj_add_null(doc, o, "remind_at");
    if (f->set & OF_RECURRENCE)
        yyjson_mut_obj_add_str(doc, o, "recurrence", f->recurrence);
    if (f->set & OF_INTERVAL)
        yyjson_mut_obj_add_int(doc, o, "recurrence_interval", f->interval);
    return o;
}

/* "<lead>due tomorrow at 17:00, high priority, tagged #home, repeats weekly": the fields the
 * text gave, the first after lead and the others after ", ". */
static void say_fields(struct run *r, const struct offline_fields *f, const char *lead)
{
    const char *sep = lead;
#define PART(...)                                                                                  \
    do {                                                                                           \
        sayf(r->out, "%s", sep);                                                                   \
        sayf(r->out, __VA_ARGS__);                                                                 \
        sep = ", ";                                                                                \
    } while (0)
    if (f->set & OF_DUE)
        PART("%s", due_words(r, "due ", f->due_at));
    if (f->clear & OF_DUE)
        PART("no due date");
    if (f->set & OF_PRIORITY)
        PART("%s priority", f->priority);
    if ((f->set & OF_TAGS) && f->ntags) {
        PART("%s", f->tags_mode == TAGS_REMOVE ? "untagged" : "tagged");
        for (size_t i = 0; i < f->ntags; i++)
            sayf(r->out, " #%s", f->tags[i]);
    }
    if ((f->set & OF_TAGS) && !f->ntags && f->tags_mode == TAGS_REPLACE)
        PART("no tags");
    if (f->set & OF_RECURRENCE) {
        const char *w = recurrence_words(r->a, f->recurrence, f->interval);
        PART("%s", w ? w : "no longer repeats");
    }
    if (f->set & OF_REMIND)
        PART("%s", due_words(r, "reminder ", f->remind_at));
    if (f->clear & OF_REMIND)
        PART("no reminder");
    if (f->set & OF_DESCRIPTION)
        PART("with a description");
    if (f->clear & OF_DESCRIPTION)
        PART("no description");
#undef PART
}

static void run_add(struct run *r, const struct offline_intent *it)
{
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_ADD_TASK, offline_task_args(r->doc, &it->fields), &res, &err))
        return;
    sentence(r->out);
    if (err) {
        sayf(r->out, "I couldn't add \"%s\": %s.", it->fields.title, error_text(res));
        return;
    }
    yyjson_val *t = task_of(res);
    const char *title = str_of(t, "title");
    sayf(r->out, "Added \"%s\"", title ? title : it->fields.title);
    if (id_of(t))
        sayf(r->out, " (#%lld)", (long long)id_of(t));
    say_fields(r, &it->fields, ", ");
    sayf(r->out, ".");
}

/* --- targets --- */

/* Resolves the intent's target to ids: given ones, or a list_tasks search for the fragment
 * (open tasks only when completing). With several matches the reply asks which one (an
 * exact title wins). Returns how many ids were written to ids (0: the reply said why). */
static size_t resolve(struct run *r, const struct offline_intent *it, const char *verb,
                      int64_t *ids, const char **titles)
{
    const struct offline_target *t = &it->target;
    if (t->nids) {
        for (size_t i = 0; i < t->nids; i++) {
            ids[i] = t->ids[i];
            titles[i] = NULL;
        }
        return t->nids;
    }
    yyjson_mut_val *args = yyjson_mut_obj(r->doc);
    yyjson_mut_obj_add_strcpy(r->doc, args, "search", t->fragment);
    bool open_only = it->kind == INTENT_COMPLETE;
    if (open_only)
        yyjson_mut_obj_add_str(r->doc, args, "status", "pending");
    yyjson_mut_obj_add_int(r->doc, args, "limit", RESOLVE_LIMIT);
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_LIST_TASKS, args, &res, &err))
        return 0;
    if (err) {
        sentence(r->out);
        sayf(r->out, "I couldn't look for \"%s\": %s.", t->fragment, error_text(res));
        return 0;
    }
    yyjson_val *items = items_of(res, "tasks");
    size_t n = yyjson_arr_size(items);
    if (n == 0) {
        sentence(r->out);
        sayf(r->out, "I couldn't find %s task matching \"%s\".", open_only ? "an open" : "a",
             t->fragment);
        return 0;
    }
    yyjson_val *pick = n == 1 ? yyjson_arr_get_first(items) : NULL;
    size_t exact = 0, i, max;
    yyjson_val *item;
    yyjson_arr_foreach(items, i, max, item)
    {
        const char *title = str_of(item, "title");
        if (n > 1 && title && text_equal_fold(r->a, title, t->fragment)) {
            pick = item;
            exact++;
        }
    }
    if (n > 1 && exact != 1)
        pick = NULL;
    if (pick && id_of(pick)) {
        ids[0] = id_of(pick);
        titles[0] = str_of(pick, "title");
        return 1;
    }
    sentence(r->out);
    sayf(r->out, "Several tasks match \"%s\":", t->fragment);
    yyjson_arr_foreach(items, i, max, item)
    {
        say_item(r, item);
    }
    sayf(r->out, "\nWhich one? Say \"%s %lld\", for example.", verb,
         (long long)id_of(yyjson_arr_get_first(items)));
    return 0;
}

/* '"Buy milk" (#3)' or 'task #3'. */
static void say_task(struct run *r, yyjson_val *res, int64_t id, const char *known_title)
{
    const char *title = str_of(task_of(res), "title");
    if (!title)
        title = known_title;
    if (title)
        sayf(r->out, "\"%s\" (#%lld)", title, (long long)id);
    else
        sayf(r->out, "task #%lld", (long long)id);
}

static yyjson_mut_val *id_args(struct run *r, int64_t id)
{
    yyjson_mut_val *o = yyjson_mut_obj(r->doc);
    yyjson_mut_obj_add_int(r->doc, o, "task_id", id);
    return o;
}

static void run_complete_delete(struct run *r, const struct offline_intent *it)
{
    bool del = it->kind == INTENT_DELETE;
    int64_t ids[OFFLINE_MAX_IDS];
    const char *titles[OFFLINE_MAX_IDS];
    size_t n = resolve(r, it, del ? "delete" : "complete", ids, titles);
    for (size_t k = 0; k < n; k++) {
        yyjson_val *res;
        bool err;
        if (!call(r, del ? TOOL_DELETE_TASK : TOOL_COMPLETE_TASK, id_args(r, ids[k]), &res, &err))
            return;
        sentence(r->out);
        if (err) {
            sayf(r->out, "I couldn't %s task #%lld: %s.", del ? "delete" : "complete",
                 (long long)ids[k], error_text(res));
            continue;
        }
        sayf(r->out, del ? "Deleted " : "Marked ");
        say_task(r, res, ids[k], titles[k]);
        sayf(r->out, del ? "." : " as done.");
        yyjson_val *next = yyjson_obj_get(task_of(res), "next_task");
        if (!next)
            next = yyjson_obj_get(res, "next_task");
        if (yyjson_is_obj(next)) {
            sayf(r->out, " The next one (#%lld) is due%s.", (long long)id_of(next),
                 due_words(r, " ", str_of(next, "due_at")));
        }
    }
}

static void say_details(struct run *r, yyjson_val *t)
{
    const char *title = str_of(t, "title");
    sayf(r->out, "#%lld \"%s\": %s", (long long)id_of(t), title ? title : "",
         yyjson_get_bool(yyjson_obj_get(t, "completed")) ? "done" : "not done yet");
    const char *prio = str_of(t, "priority");
    if (prio)
        sayf(r->out, ", %s priority", prio);
    sayf(r->out, "%s", due_words(r, ", due ", str_of(t, "due_at")));
    const char *tags = tags_words(r->a, yyjson_obj_get(t, "tags"));
    if (tags)
        sayf(r->out, ", tagged %s", tags);
    yyjson_val *iv = yyjson_obj_get(t, "recurrence_interval");
    const char *rec = recurrence_words(r->a, str_of(t, "recurrence"),
                                       yyjson_is_int(iv) ? yyjson_get_sint(iv) : 1);
    if (rec)
        sayf(r->out, ", %s", rec);
    sayf(r->out, "%s", due_words(r, ", reminder ", str_of(t, "remind_at")));
    sayf(r->out, ".");
    const char *desc = str_of(t, "description");
    if (desc)
        sayf(r->out, " Description: %s", desc);
}

static void run_get(struct run *r, const struct offline_intent *it)
{
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_GET_TASK, id_args(r, it->target.ids[0]), &res, &err))
        return;
    sentence(r->out);
    if (err)
        sayf(r->out, "I couldn't show task #%lld: %s.", (long long)it->target.ids[0],
             error_text(res));
    else
        say_details(r, task_of(res));
}

/* Adds or removes tags against the task's current ones (read with get_task). */
static bool merge_tags(struct run *r, int64_t id, struct offline_fields *f)
{
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_GET_TASK, id_args(r, id), &res, &err))
        return false;
    if (err) {
        sentence(r->out);
        sayf(r->out, "I couldn't read task #%lld: %s.", (long long)id, error_text(res));
        return false;
    }
    const char *keep[OFFLINE_MAX_TAGS];
    size_t n = 0, i, max;
    yyjson_val *tag;
    yyjson_arr_foreach(yyjson_obj_get(task_of(res), "tags"), i, max, tag)
    {
        if (!yyjson_is_str(tag) || n >= OFFLINE_MAX_TAGS)
            continue;
        bool named = false;
        for (size_t k = 0; k < f->ntags; k++)
            named = named || text_equal_fold(r->a, f->tags[k], yyjson_get_str(tag));
        if (f->tags_mode == TAGS_ADD || !named)
            keep[n++] = yyjson_get_str(tag);
    }
    if (f->tags_mode == TAGS_ADD) {
        for (size_t k = 0; k < f->ntags && n < OFFLINE_MAX_TAGS; k++) {
            bool have = false;
            for (size_t j = 0; j < n; j++)
                have = have || text_equal_fold(r->a, keep[j], f->tags[k]);
            if (!have)
                keep[n++] = f->tags[k];
        }
    }
    memcpy(f->tags, keep, n * sizeof(keep[0]));
    f->ntags = n;
    return true;
}

static void run_update(struct run *r, const struct offline_intent *it)
{
    int64_t ids[OFFLINE_MAX_IDS];
    const char *titles[OFFLINE_MAX_IDS];
    size_t n = resolve(r, it, "update", ids, titles);
    for (size_t k = 0; k < n; k++) {
        struct offline_fields f = it->fields;
        if ((f.set & OF_TAGS) && f.tags_mode != TAGS_REPLACE && !merge_tags(r, ids[k], &f))
            return;
        yyjson_mut_val *args = offline_task_args(r->doc, &f);
        if (args)
            yyjson_mut_obj_insert(args, yyjson_mut_strcpy(r->doc, "task_id"),
                                  yyjson_mut_sint(r->doc, ids[k]), 0);
        yyjson_val *res;
        bool err;
        if (!call(r, TOOL_UPDATE_TASK, args, &res, &err))
            return;
        sentence(r->out);
        if (err) {
            sayf(r->out, "I couldn't update task #%lld: %s.", (long long)ids[k], error_text(res));
            continue;
        }
        sayf(r->out, "Updated ");
        say_task(r, res, ids[k], titles[k]);
        if (it->fields.set & OF_TITLE)
            sayf(r->out, ": renamed to \"%s\"", it->fields.title);
        say_fields(r, &it->fields, it->fields.set & OF_TITLE ? ", " : ": ");
        sayf(r->out, ".");
    }
}

/* --- list, tags, stats --- */

static yyjson_mut_val *filter_args(struct run *r, const struct offline_filter *f)
{
    yyjson_mut_doc *d = r->doc;
    yyjson_mut_val *o = yyjson_mut_obj(d);
    if (!o)
        return NULL;
    const struct {
        const char *key, *value;
    } strs[] = {{"status", f->status},
                {"priority", f->priority},
                {"tag", f->tag},
                {"search", f->search},
                {"due_before", f->due_before[0] ? f->due_before : NULL},
                {"due_after", f->due_after[0] ? f->due_after : NULL},
                {"sort", f->sort},
                {"order", f->order}};
    for (size_t i = 0; i < ARRAY_LEN(strs); i++)
        if (strs[i].value)
            yyjson_mut_obj_add_strcpy(d, o, strs[i].key, strs[i].value);
    if (f->overdue >= 0)
        yyjson_mut_obj_add_bool(d, o, "overdue", f->overdue == 1);
    if (f->limit > 0)
        yyjson_mut_obj_add_int(d, o, "limit", f->limit);
    return o;
}

/* "completed high-priority tasks tagged #work due today matching "x"" */
static const char *selection(struct run *r, const struct offline_filter *f, size_t count)
{
    const char *pre = "";
    if (f->overdue == 1)
        pre = "overdue ";
    else if (f->status && strcmp(f->status, "completed") == 0)
        pre = "completed ";
    else if (f->status && strcmp(f->status, "pending") == 0 && !f->due_label)
        pre = "open ";
    const char *prio = f->priority ? arena_printf(r->a, "%s-priority ", f->priority) : "";
    const char *tag = f->tag ? arena_printf(r->a, " tagged #%s", f->tag) : "";
    const char *due = f->due_label ? arena_printf(r->a, " %s", f->due_label) : "";
    const char *search = f->search ? arena_printf(r->a, " matching \"%s\"", f->search) : "";
    return arena_printf(r->a, "%s%s%s%s%s%s", pre, prio ? prio : "", count == 1 ? "task" : "tasks",
                        tag ? tag : "", due ? due : "", search ? search : "");
}

static void run_list(struct run *r, const struct offline_intent *it)
{
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_LIST_TASKS, filter_args(r, &it->filter), &res, &err))
        return;
    sentence(r->out);
    if (err) {
        sayf(r->out, "I couldn't list your tasks: %s.", error_text(res));
        return;
    }
    yyjson_val *items = items_of(res, "tasks");
    size_t n = yyjson_arr_size(items);
    yyjson_val *total_v = yyjson_obj_get(res, "total");
    size_t total = yyjson_is_uint(total_v) ? (size_t)yyjson_get_uint(total_v) : n;
    if (total < n)
        total = n;
    if (n == 0) {
        sayf(r->out, "You have no %s.", selection(r, &it->filter, 2));
        return;
    }
    sayf(r->out, "You have %zu %s:", total, selection(r, &it->filter, total));
    size_t i, max;
    yyjson_val *t;
    yyjson_arr_foreach(items, i, max, t)
    {
        if (i >= OFFLINE_LIST_SHOWN)
            break;
        say_item(r, t);
    }
    if (total > OFFLINE_LIST_SHOWN && n >= OFFLINE_LIST_SHOWN)
        sayf(r->out, "\n…and %zu more.", total - OFFLINE_LIST_SHOWN);
}

static void run_tags(struct run *r)
{
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_LIST_TAGS, yyjson_mut_obj(r->doc), &res, &err))
        return;
    sentence(r->out);
    if (err) {
        sayf(r->out, "I couldn't list your tags: %s.", error_text(res));
        return;
    }
    yyjson_val *items = items_of(res, "tags");
    if (!yyjson_arr_size(items)) {
        sayf(r->out, "You have no tags yet. Add one with a #word, for example \"add water the "
                     "plants #home\".");
        return;
    }
    sayf(r->out, "Your tags:");
    size_t i, max;
    yyjson_val *t;
    yyjson_arr_foreach(items, i, max, t)
    {
        const char *name = yyjson_is_str(t) ? yyjson_get_str(t) : str_of(t, "name");
        yyjson_val *count = yyjson_obj_get(t, "count");
        if (!name)
            continue;
        sayf(r->out, "%s #%s", i ? "," : "", name);
        if (yyjson_is_int(count))
            sayf(r->out, " (%lld)", (long long)yyjson_get_sint(count));
    }
    sayf(r->out, ".");
}

static int64_t count_of(yyjson_val *v, const char *key)
{
    yyjson_val *n = yyjson_obj_get(v, key);
    return yyjson_is_int(n) ? yyjson_get_sint(n) : 0;
}

static void run_stats(struct run *r, const struct offline_intent *it)
{
    yyjson_val *res;
    bool err;
    if (!call(r, TOOL_TASK_STATS, yyjson_mut_obj(r->doc), &res, &err))
        return;
    sentence(r->out);
    if (err) {
        sayf(r->out, "I couldn't count your tasks: %s.", error_text(res));
        return;
    }
    long long total = count_of(res, "total"), done = count_of(res, "completed"),
              open = count_of(res, "pending"), late = count_of(res, "overdue"),
              today = count_of(res, "due_today");
    const char *focus = it->focus;
    if (focus && strcmp(focus, "overdue") == 0)
        sayf(r->out, "%lld %s overdue.", late, late == 1 ? "task is" : "tasks are");
    else if (focus && strcmp(focus, "completed") == 0)
        sayf(r->out, "You have completed %lld %s.", done, done == 1 ? "task" : "tasks");
    else if (focus && strcmp(focus, "pending") == 0)
        sayf(r->out, "You have %lld open %s.", open, open == 1 ? "task" : "tasks");
    else if (focus && strcmp(focus, "due_today") == 0)
        sayf(r->out, "%lld %s due today.", today, today == 1 ? "task is" : "tasks are");
    else
        sayf(r->out,
             "You have %lld %s: %lld open and %lld completed. %lld %s overdue and %lld due "
             "today.",
             total, total == 1 ? "task" : "tasks", open, done, late, late == 1 ? "is" : "are",
             today);
}

static const char help_text[] =
    "I can manage your tasks (no AI model needed). Try:\n"
    "• \"add buy milk tomorrow at 5pm #shopping !high\"\n"
    "• \"add water the plants every monday\"\n"
    "• \"what's due today?\", \"what's overdue?\", \"show completed work tasks\"\n"
    "• \"complete 3\" or \"complete buy milk\"\n"
    "• \"delete the dentist task\"\n"
    "• \"rename 3 to Call mom\", \"move 3 to next friday\", \"make 3 high priority\"\n"
    "• \"list my tags\", \"stats\"";

int offline_run(struct arena *a, const struct offline_input *in, const struct offline_plan *plan,
                const struct offline_runner *runner, yyjson_mut_doc *doc, struct offline_turn *turn)
{
    memset(turn, 0, sizeof(*turn));
    struct reply *out = arena_alloc(a, sizeof(*out));
    if (!out)
        return ERR_NOMEM;
    dyn_init_fixed(&out->b, out->s, sizeof(out->s));
    struct run r = {a, in, runner, doc, turn, out, ERR_OK, false};
    bool only_greeting = plan->n > 0;
    for (size_t i = 0; i < plan->n; i++)
        only_greeting = only_greeting && plan->intents[i].kind == INTENT_GREETING;
    for (size_t i = 0; i < plan->n && r.rc == ERR_OK && !r.capped; i++) {
        const struct offline_intent *it = &plan->intents[i];
        switch (it->kind) {
        case INTENT_ADD:
            run_add(&r, it);
            break;
        case INTENT_COMPLETE:
        case INTENT_DELETE:
            run_complete_delete(&r, it);
            break;
        case INTENT_GET:
            run_get(&r, it);
            break;
        case INTENT_UPDATE:
            run_update(&r, it);
            break;
        case INTENT_LIST:
            run_list(&r, it);
            break;
        case INTENT_TAGS:
            run_tags(&r);
            break;
        case INTENT_STATS:
            run_stats(&r, it);
            break;
        case INTENT_GREETING:
            sentence(out);
            if (it->note) { /* thanks */
                sayf(out, "You're welcome!");
                break;
            }
            sayf(out, "Hi!");
            if (only_greeting && i + 1 == plan->n)
                sayf(out, " %s", help_text);
            break;
        case INTENT_REFUSE:
            sentence(out);
            sayf(out, "%s", it->note ? it->note : "");
            break;
        case INTENT_HELP:
            sentence(out);
            if (it->note && plan->understood)
                sayf(out, "I didn't understand \"%s\".", it->note);
            else if (!plan->understood)
                sayf(out, "Sorry, I didn't understand that. %s", help_text);
            else
                sayf(out, "%s", help_text);
            break;
        }
    }
    if (r.rc != ERR_OK)
        return r.rc;
    if (r.capped) {
        sentence(out);
        sayf(out, "I stopped after %d actions; send the rest in another message.",
             OFFLINE_MAX_CALLS);
    }
    turn->reply = arena_strndup(a, dyn_str(&out->b), dyn_len(&out->b));
    return turn->reply ? ERR_OK : ERR_NOMEM;
}

int offline_turn(struct arena *a, const struct offline_input *in, const struct offline_runner *r,
                 yyjson_mut_doc *doc, struct offline_turn *turn)
{
    struct offline_plan *plan = arena_alloc(a, sizeof(*plan));
    if (!plan)
        return ERR_NOMEM;
    int rc = offline_parse(a, in, plan);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != ERR_OK) {
        memset(turn, 0, sizeof(*turn));
        turn->reply = rc == ERR_TOOBIG
                          ? "That message is too long for me: send one or two requests at a time."
                          : "I couldn't read that message.";
        return ERR_OK;
    }
    return offline_run(a, in, plan, r, doc, turn);
}
