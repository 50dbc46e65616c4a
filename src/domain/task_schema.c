/*
 * The task schema (see tasks.h): the two tables built from TASK_FIELDS and
 * TASK_FILTER_FIELDS, and what the rest of the program asks of them — parsing a create or
 * update input and a listing filter, the filter's cache key, checks of values that did not
 * come through a parser, a task's JSON and the JSON Schemas. Used by the REST handlers, the
 * MCP tools and the assistant alike, so all enforce exactly the same rules.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/util.h"
#include "domain/tasks.h"

const char *const task_priority_names[] = {"high", "medium", "low", NULL};
const char *const task_recurrence_names[] = {"none", "daily", "weekly", "monthly", "yearly", NULL};
const char *const task_status_names[] = {"all", "pending", "completed", NULL};
const char *const task_sort_names[] = {"created", "updated", "title", "due_date", "priority", NULL};
const char *const task_order_names[] = {"asc", "desc", NULL};

/* Enum members are read and written as int (domain/fields.c). */
_Static_assert(sizeof(enum task_priority) == sizeof(int), "enum size");
_Static_assert(sizeof(enum task_recurrence) == sizeof(int), "enum size");
_Static_assert(sizeof(enum task_status) == sizeof(int), "enum size");
_Static_assert(sizeof(enum task_sort) == sizeof(int), "enum size");
/* Sets of task fields are bits of an unsigned. */
_Static_assert(TASK_NFIELDS <= 32, "too many task fields for a bit set");

const struct field_spec task_fields[TASK_NFIELDS] = {
#define TASK_ROW(ID, member, type, ...)                                                            \
    [TASK_FIELD_##ID] = {.name = #member,                                                          \
                         .offset = offsetof(struct task, member),                                  \
                         .size = sizeof(type),                                                     \
                         __VA_ARGS__},
    TASK_FIELDS(TASK_ROW)
#undef TASK_ROW
};

const struct field_spec task_filter_fields[TASK_FILTER_NFIELDS] = {
#define FILTER_ROW(ID, member, type, key, ...)                                                     \
    [TASK_FILTER_##ID] = {.name = key,                                                             \
                          .offset = offsetof(struct task_filter, member),                          \
                          .size = sizeof(type),                                                    \
                          __VA_ARGS__},
    TASK_FILTER_FIELDS(FILTER_ROW)
#undef FILTER_ROW
};

/* names[i], or NULL when i is outside the NULL-terminated table. */
static const char *name_at(const char *const *names, int i)
{
    for (int k = 0; i >= 0 && names[k]; k++)
        if (k == i)
            return names[k];
    return NULL;
}

const char *task_priority_name(enum task_priority p)
{
    return name_at(task_priority_names, (int)p);
}

const char *task_recurrence_name(enum task_recurrence r)
{
    return name_at(task_recurrence_names, (int)r);
}

/* "No known task field: send at least one of title, …": the writable fields, in the arena. */
static const char *no_field_msg(struct arena *a)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, 512);
    dyn_add(&d, "No known task field: send at least one of ");
    bool first = true;
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        if (task_fields[i].flags & FF_READONLY)
            continue;
        if (!first)
            dyn_add(&d, ", ");
        dyn_add(&d, task_fields[i].name);
        first = false;
    }
    return dyn_err(&d) ? "No known task field" : dyn_str(&d);
}

int task_input_parse(yyjson_val *obj, enum task_input_mode mode, const char *loc, struct arena *a,
                     struct task_input *in, struct verrors *errs)
{
    memset(in, 0, sizeof(*in));
    for (size_t i = 0; i < TASK_NFIELDS; i++)
        field_set_default(&task_fields[i], &in->v);
    if (!yyjson_is_obj(obj)) {
        verr_add(errs, loc, NULL, "Input should be a valid dictionary", "dict_type");
        return ERR_INVALID;
    }
    size_t before = errs->n;
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        const struct field_spec *f = &task_fields[i];
        if (f->flags & FF_READONLY)
            continue;
        yyjson_val *v = yyjson_obj_get(obj, f->name);
        if (!v) {
            if (mode == TASK_CREATE && (f->flags & FF_REQUIRED))
                verr_add(errs, loc, f->name, "Field required", "missing");
            continue;
        }
        const struct field_value fv = {NULL, v};
        int rc = field_read(f, &fv, loc, a, &in->v, errs);
        if (rc == ERR_NOMEM)
            return rc;
        if (rc == ERR_OK)
            in->present |= 1u << i;
    }
    if (mode == TASK_PATCH && errs->n == before && in->present == 0)
        verr_add(errs, loc, NULL, no_field_msg(a), "value_error");
    return errs->n == before ? ERR_OK : ERR_INVALID;
}

int task_input_check(const struct task_input *in, enum task_input_mode mode)
{
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        const struct field_spec *f = &task_fields[i];
        if (f->flags & FF_READONLY)
            continue;
        if (field_check(f, &in->v) != ERR_OK)
            return ERR_INVALID;
        if (mode == TASK_CREATE && (f->flags & FF_REQUIRED) && !(in->present & (1u << i)))
            return ERR_INVALID;
    }
    return mode == TASK_PATCH && !in->present ? ERR_INVALID : ERR_OK;
}

void task_filter_defaults(struct task_filter *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++)
        field_set_default(&task_filter_fields[i], f);
}

int task_filter_parse(field_getter get, void *ctx, const char *loc, struct arena *a,
                      struct task_filter *f, struct verrors *errs)
{
    task_filter_defaults(f);
    size_t before = errs->n;
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++) {
        const struct field_spec *fs = &task_filter_fields[i];
        struct field_value vals[FIELD_LIST_MAX];
        size_t max = (fs->flags & FF_REPEAT) ? fs->max_items : 1;
        size_t n = get(ctx, fs->name, vals, max);
        if (n > max) {
            const char *msg = arena_printf(a, "List should have at most %zu items", max);
            verr_add(errs, loc, fs->name, msg ? msg : "Too many values", "too_long");
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            if (!vals[k].text && (!vals[k].json || yyjson_is_null(vals[k].json)))
                continue; /* a tool's null: not given */
            int rc = field_read(fs, &vals[k], loc, a, f, errs);
            if (rc == ERR_NOMEM)
                return rc;
            if (rc != ERR_OK)
                break;
        }
    }
    return errs->n == before ? ERR_OK : ERR_INVALID;
}

int task_filter_check(const struct task_filter *f)
{
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++)
        if (field_check(&task_filter_fields[i], f) != ERR_OK)
            return ERR_INVALID;
    return ERR_OK;
}

bool task_filter_key(const struct task_filter *f, struct dynbuf *key)
{
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++)
        if ((task_filter_fields[i].flags & FF_CLOCK) && field_is_set(&task_filter_fields[i], f))
            return false;
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++)
        field_key(&task_filter_fields[i], f, key);
    return true;
}

yyjson_mut_val *task_to_json(yyjson_mut_doc *doc, const struct task *t)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    for (size_t i = 0; o && i < TASK_NFIELDS; i++)
        field_to_json(&task_fields[i], t, doc, o);
    return o;
}

/* Each field's key as JSON ("title":), written once from the table. */
#define TASK_KEY_MAX 160 /* JSON_STR_BOUND of a 24-character name, and the colon */
static struct {
    char text[TASK_KEY_MAX];
    size_t len;
} task_keys[TASK_NFIELDS];
static size_t task_keys_len; /* all of them: the fixed part of an object's size */
static bool task_keys_ok;
static pthread_once_t task_keys_once = PTHREAD_ONCE_INIT;

static void task_keys_build(void)
{
    task_keys_ok = true;
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        struct dynbuf d;
        dyn_init_fixed(&d, task_keys[i].text, sizeof(task_keys[i].text));
        json_put_str(&d, task_fields[i].name, strlen(task_fields[i].name));
        dyn_addc(&d, ':');
        task_keys_ok = task_keys_ok && !dyn_err(&d);
        task_keys[i].len = dyn_len(&d);
        task_keys_len += task_keys[i].len;
    }
}

void task_write_json(struct dynbuf *d, const struct task *t)
{
    pthread_once(&task_keys_once, task_keys_build);
    if (!task_keys_ok) { /* a name too long for TASK_KEY_MAX */
        dyn_fail(d, ERR_TOOBIG);
        return;
    }
    size_t bound = 2 + TASK_NFIELDS + task_keys_len; /* braces, commas, keys */
    for (size_t i = 0; i < TASK_NFIELDS; i++)
        bound += field_json_bound(&task_fields[i], t);
    char *start = dyn_room(d, bound), *p = start;
    if (!p)
        return;
    *p++ = '{';
    for (size_t i = 0; p && i < TASK_NFIELDS; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, task_keys[i].text, task_keys[i].len);
        p = field_write_json(&task_fields[i], t, p + task_keys[i].len);
    }
    if (!p) {
        dyn_fail(d, ERR_INVALID);
        return;
    }
    *p++ = '}';
    dyn_used(d, (size_t)(p - start));
}

yyjson_mut_val *task_json_schema(yyjson_mut_doc *doc, enum field_schema mode)
{
    return fields_json_schema(task_fields, TASK_NFIELDS, mode, doc);
}

yyjson_mut_val *task_filter_json_schema(yyjson_mut_doc *doc, enum field_schema mode)
{
    return fields_json_schema(task_filter_fields, TASK_FILTER_NFIELDS, mode, doc);
}
