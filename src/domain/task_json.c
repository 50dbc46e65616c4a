/*
 * Task rules and JSON (see tasks.h): reading a create or update body into a validated
 * task_input, and writing a stored task as the API's JSON object. Used by the REST
 * handlers and by the MCP tools, so both enforce exactly the same rules.
 */
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/json.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/tasks.h"

static const char *priority_names[] = {"high", "medium", "low"};
static const char *recurrence_names[] = {"none", "daily", "weekly", "monthly", "yearly"};

const char *task_priority_name(enum task_priority p)
{
    return priority_names[p];
}

const char *task_recurrence_name(enum task_recurrence r)
{
    return recurrence_names[r];
}

int task_priority_parse(const char *s, enum task_priority *out)
{
    for (size_t i = 0; s && i < ARRAY_LEN(priority_names); i++) {
        if (strcasecmp(s, priority_names[i]) == 0) {
            *out = (enum task_priority)i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

int task_recurrence_parse(const char *s, enum task_recurrence *out)
{
    for (size_t i = 0; s && i < ARRAY_LEN(recurrence_names); i++) {
        if (strcasecmp(s, recurrence_names[i]) == 0) {
            *out = (enum task_recurrence)i;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

void task_filter_defaults(struct task_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->priority = -1;
    f->overdue = -1;
    f->order = -1;
    f->limit = TASK_LIST_DEFAULT;
}

/* Reads a bounded text field under the text rule (core/text.h). Returns ERR_OK with *out
 * set (NULL for JSON null, or an empty text, when nullable), or ERR_INVALID after recording
 * the problem. */
static int read_text(yyjson_val *v, const char *field, size_t min, size_t max, bool nullable,
                     bool multiline, struct arena *a, const char **out, struct verrors *errs)
{
    if (yyjson_is_null(v) && nullable) {
        *out = NULL;
        return ERR_OK;
    }
    if (!yyjson_is_str(v)) {
        verr_add(errs, "body", field, "Input should be a valid string", "string_type");
        return ERR_INVALID;
    }
    const struct text_rule rule = {min, max, multiline};
    enum text_problem why;
    const char *t = NULL;
    int rc = text_clean(a, yyjson_get_str(v), yyjson_get_len(v), &rule, &t, &why);
    if (rc == ERR_INVALID)
        verr_add(errs, "body", field, text_problem_msg(a, why, &rule), text_problem_type(why));
    if (rc != ERR_OK)
        return rc;
    *out = (nullable && !*t) ? NULL : t;
    return ERR_OK;
}

static void read_tags(yyjson_val *v, struct arena *a, struct task_input *in, struct verrors *errs)
{
    if (yyjson_is_null(v)) {
        in->ntags = 0;
        in->present |= TF_TAGS;
        return;
    }
    if (!yyjson_is_arr(v)) {
        verr_add(errs, "body", "tags", "Input should be a valid list", "list_type");
        return;
    }
    if (yyjson_arr_size(v) > TASK_MAX_TAGS) {
        verr_add(errs, "body", "tags", "At most 20 tags per task", "too_long");
        return;
    }
    size_t i, max;
    yyjson_val *item;
    in->ntags = 0;
    yyjson_arr_foreach(v, i, max, item)
    {
        const char *tag;
        if (read_text(item, "tags", 1, TASK_TAG_MAX, false, false, a, &tag, errs) != ERR_OK)
            return;
        for (size_t j = 0; j < in->ntags; j++) {
            if (text_equal_fold(a, in->tags[j], tag)) {
                verr_add(errs, "body", "tags", "Tags must be unique (case-insensitive)",
                         "value_error");
                return;
            }
        }
        in->tags[in->ntags++] = tag;
    }
    in->present |= TF_TAGS;
}

/* Reads an RFC 3339 time (or a date) or null into *out (0 for null). */
static void read_time(yyjson_val *v, const char *field, enum date_only date_only, unsigned flag,
                      int64_t *out, unsigned *present, struct verrors *errs)
{
    if (yyjson_is_null(v)) {
        *out = 0;
        *present |= flag;
        return;
    }
    if (!json_cstr(v) || time_parse(json_cstr(v), date_only, out) != ERR_OK || *out <= 0) {
        verr_add(errs, "body", field,
                 "Input should be an RFC 3339 date-time (2026-01-31T17:00:00Z) or a date "
                 "(2026-01-31)",
                 "datetime_parsing");
        return;
    }
    *present |= flag;
}

int task_input_parse(yyjson_val *obj, enum task_input_mode mode, struct arena *a,
                     struct task_input *in, struct verrors *errs)
{
    memset(in, 0, sizeof(*in));
    in->priority = PRIO_MEDIUM;
    in->recurrence = REC_NONE;
    in->interval = 1;
    if (!yyjson_is_obj(obj)) {
        verr_add(errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        return ERR_INVALID;
    }
    size_t before = errs->n;
    yyjson_val *v;
    if ((v = yyjson_obj_get(obj, "title"))) {
        if (read_text(v, "title", 1, TASK_TITLE_MAX, false, false, a, &in->title, errs) == ERR_OK)
            in->present |= TF_TITLE;
    } else if (mode != TASK_PATCH) {
        verr_add(errs, "body", "title", "Field required", "missing");
    }
    if ((v = yyjson_obj_get(obj, "description")) &&
        read_text(v, "description", 0, TASK_DESCRIPTION_MAX, true, true, a, &in->description,
                  errs) == ERR_OK)
        in->present |= TF_DESCRIPTION;
    if ((v = yyjson_obj_get(obj, "completed"))) {
        if (yyjson_is_bool(v)) {
            in->completed = yyjson_get_bool(v);
            in->present |= TF_COMPLETED;
        } else {
            verr_add(errs, "body", "completed", "Input should be a valid boolean", "bool_type");
        }
    }
    if ((v = yyjson_obj_get(obj, "priority"))) {
        if (json_cstr(v) && task_priority_parse(json_cstr(v), &in->priority) == ERR_OK)
            in->present |= TF_PRIORITY;
        else
            verr_add(errs, "body", "priority", "Input should be 'high', 'medium' or 'low'", "enum");
    }
    if ((v = yyjson_obj_get(obj, "tags")))
        read_tags(v, a, in, errs);
    if ((v = yyjson_obj_get(obj, "due_at")))
        read_time(v, "due_at", DATE_END_OF_DAY, TF_DUE, &in->due_at, &in->present, errs);
    if ((v = yyjson_obj_get(obj, "remind_at")))
        read_time(v, "remind_at", DATE_START_OF_DAY, TF_REMIND, &in->remind_at, &in->present, errs);
    if ((v = yyjson_obj_get(obj, "recurrence"))) {
        if (yyjson_is_null(v)) {
            in->recurrence = REC_NONE;
            in->present |= TF_RECURRENCE;
        } else if (json_cstr(v) && task_recurrence_parse(json_cstr(v), &in->recurrence) == ERR_OK) {
            in->present |= TF_RECURRENCE;
        } else {
            verr_add(errs, "body", "recurrence",
                     "Input should be 'none', 'daily', 'weekly', 'monthly' or 'yearly'", "enum");
        }
    }
    if ((v = yyjson_obj_get(obj, "recurrence_interval"))) {
        if (yyjson_is_int(v) && yyjson_get_sint(v) >= 1 &&
            yyjson_get_sint(v) <= TASK_INTERVAL_MAX) {
            in->interval = (int)yyjson_get_sint(v);
            in->present |= TF_INTERVAL;
        } else {
            verr_add(errs, "body", "recurrence_interval",
                     "Input should be an integer from 1 to 1000", "int_type");
        }
    }
    if (mode == TASK_PATCH && errs->n == before && in->present == 0)
        verr_add(errs, "body", NULL,
                 "The body has no known task field: send at least one of title, description, "
                 "completed, priority, tags, due_at, remind_at, recurrence, recurrence_interval",
                 "value_error");
    return errs->n == before ? ERR_OK : ERR_INVALID;
}

/* Adds a string or null. */
static void add_str_or_null(yyjson_mut_doc *doc, yyjson_mut_val *o, const char *key, const char *v)
{
    if (v)
        yyjson_mut_obj_add_str(doc, o, key, v);
    else
        yyjson_mut_obj_add_null(doc, o, key);
}

/* Adds a value the database already produced as JSON text (numbers, the tag array). */
static void add_raw(yyjson_mut_doc *doc, yyjson_mut_val *o, const char *key, const char *json,
                    const char *fallback)
{
    const char *v = json && *json ? json : fallback;
    yyjson_mut_obj_add_val(doc, o, key, yyjson_mut_rawn(doc, v, strlen(v)));
}

yyjson_mut_val *task_to_json(yyjson_mut_doc *doc, const struct task *t)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    add_raw(doc, o, "id", t->id, "0");
    yyjson_mut_obj_add_str(doc, o, "user_id", t->user_id);
    yyjson_mut_obj_add_str(doc, o, "title", t->title);
    add_str_or_null(doc, o, "description", t->description);
    yyjson_mut_obj_add_bool(doc, o, "completed", t->completed);
    add_str_or_null(doc, o, "completed_at", t->completed_at);
    yyjson_mut_obj_add_str(doc, o, "priority", t->priority);
    add_raw(doc, o, "tags", t->tags_json, "[]");
    add_str_or_null(doc, o, "due_at", t->due_at);
    add_str_or_null(doc, o, "remind_at", t->remind_at);
    yyjson_mut_obj_add_str(doc, o, "recurrence", t->recurrence);
    add_raw(doc, o, "recurrence_interval", t->recurrence_interval, "1");
    yyjson_mut_obj_add_str(doc, o, "created_at", t->created_at);
    yyjson_mut_obj_add_str(doc, o, "updated_at", t->updated_at);
    return o;
}
