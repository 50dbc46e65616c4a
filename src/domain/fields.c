/*
 * Typed field tables (see fields.h): one switch per operation over the field kinds. Members
 * are reached through the row's offset and size (bool, int or int64_t for numbers, a
 * pointer for texts, struct field_tags for lists), copied with memcpy so any member type
 * of the right size works.
 */
#include "domain/fields.h"

#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/json.h"
#include "core/text.h"
#include "core/util.h"

#define TIME_MSG                                                                                   \
    "Input should be an RFC 3339 date-time (2026-01-31T17:00:00Z) or a date (2026-01-31)"
#define TIME_ONLY_MSG "Input should be an RFC 3339 date-time (2026-01-31T17:00:00Z)"

/* --- members --- */

static void *member(const struct field_spec *f, const void *base)
{
    return (char *)base + f->offset;
}

static int64_t get_num(const struct field_spec *f, const void *base)
{
    const void *p = member(f, base);
    if (f->size == sizeof(bool)) {
        bool b;
        memcpy(&b, p, sizeof(b));
        return b;
    }
    if (f->size == sizeof(int)) {
        int v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    int64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void set_num(const struct field_spec *f, void *base, int64_t v)
{
    void *p = member(f, base);
    if (f->size == sizeof(bool)) {
        bool b = v != 0;
        memcpy(p, &b, sizeof(b));
    } else if (f->size == sizeof(int)) {
        int i = (int)v;
        memcpy(p, &i, sizeof(i));
    } else {
        memcpy(p, &v, sizeof(v));
    }
}

static const char *get_str(const struct field_spec *f, const void *base)
{
    const char *s;
    memcpy(&s, member(f, base), sizeof(s));
    return s;
}

static void set_str(const struct field_spec *f, void *base, const char *s)
{
    memcpy(member(f, base), &s, sizeof(s));
}

static struct field_tags *tags_at(const struct field_spec *f, const void *base)
{
    return member(f, base);
}

static size_t name_count(const struct field_spec *f)
{
    size_t n = 0;
    while (f->names && f->names[n])
        n++;
    return n;
}

/* The index of s among f's names, or -1. */
static int name_index(const struct field_spec *f, const char *s, bool icase)
{
    for (size_t i = 0; s && f->names && f->names[i]; i++)
        if (icase ? strcasecmp(s, f->names[i]) == 0 : strcmp(s, f->names[i]) == 0)
            return (int)i;
    return -1;
}

void field_set_default(const struct field_spec *f, void *base)
{
    switch (f->kind) {
    case FK_UUID:
    case FK_TEXT:
        set_str(f, base, NULL);
        break;
    case FK_TAGS:
        memset(member(f, base), 0, sizeof(struct field_tags));
        break;
    case FK_ID:
    case FK_TIME:
        set_num(f, base, 0);
        break;
    default:
        set_num(f, base, f->def);
        break;
    }
}

/* --- reading input --- */

/* "Input should be 'a', 'b' or 'c'" for an enum, in the arena. */
static const char *enum_msg(const struct field_spec *f, struct arena *a)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, 512);
    dyn_add(&d, "Input should be ");
    size_t n = name_count(f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            dyn_add(&d, i + 1 == n ? " or " : ", ");
        dyn_addc(&d, '\'');
        dyn_add(&d, f->names[i]);
        dyn_addc(&d, '\'');
    }
    return dyn_err(&d) ? "Input should be one of the documented values" : dyn_str(&d);
}

static int refuse(struct verrors *errs, const char *loc, const struct field_spec *f,
                  const char *msg, const char *type)
{
    verr_add(errs, loc, f->name, msg, type);
    return ERR_INVALID;
}

/* Reads one text under f's text rule into *out (NULL for an empty nullable text). */
static int read_text(const struct field_spec *f, const char *s, size_t len, const char *loc,
                     struct arena *a, const char **out, struct verrors *errs)
{
    const struct text_rule rule = {(size_t)f->min, (size_t)f->max, f->flags & FF_MULTILINE};
    enum text_problem why;
    const char *t = NULL;
    int rc = text_clean(a, s, len, &rule, &t, &why);
    if (rc == ERR_INVALID)
        return refuse(errs, loc, f, text_problem_msg(a, why, &rule), text_problem_type(why));
    if (rc != ERR_OK)
        return rc;
    *out = (f->flags & FF_NULLABLE) && !*t ? NULL : t;
    return ERR_OK;
}

/* The list a tags member collects into, made on first use. */
static struct field_list *list_of(struct field_tags *t, struct arena *a)
{
    if (!t->list)
        t->list = arena_calloc(a, 1, sizeof(*t->list));
    t->json = NULL; /* the list is now what the member holds */
    return t->list;
}

/* Appends one item (a JSON string or a text) to the list of f. */
static int read_item(const struct field_spec *f, const char *s, size_t len, const char *loc,
                     struct arena *a, struct field_list *l, struct verrors *errs)
{
    const char *item = NULL;
    if (!s)
        return refuse(errs, loc, f, "Input should be a valid string", "string_type");
    struct field_spec item_rule = *f;
    item_rule.flags &= ~(unsigned)(FF_NULLABLE | FF_MULTILINE);
    int rc = read_text(&item_rule, s, len, loc, a, &item, errs);
    if (rc != ERR_OK)
        return rc;
    if (l->n >= f->max_items || l->n >= FIELD_LIST_MAX) {
        const char *msg = arena_printf(a, "List should have at most %zu items", f->max_items);
        return refuse(errs, loc, f, msg ? msg : "Too many items", "too_long");
    }
    for (size_t j = 0; (f->flags & FF_UNIQUE) && j < l->n; j++)
        if (text_equal_fold(a, l->v[j], item))
            return refuse(errs, loc, f, "Tags must be unique (case-insensitive)", "value_error");
    l->v[l->n++] = item;
    return ERR_OK;
}

static int read_tags(const struct field_spec *f, const struct field_value *v, const char *loc,
                     struct arena *a, void *base, struct verrors *errs)
{
    struct field_list *l = list_of(tags_at(f, base), a);
    if (!l)
        return ERR_NOMEM;
    if (v->text)
        return read_item(f, v->text, strlen(v->text), loc, a, l, errs);
    if ((f->flags & FF_REPEAT) && yyjson_is_str(v->json))
        return read_item(f, yyjson_get_str(v->json), yyjson_get_len(v->json), loc, a, l, errs);
    if (!yyjson_is_arr(v->json))
        return refuse(errs, loc, f, "Input should be a valid list", "list_type");
    if (l->n + yyjson_arr_size(v->json) > f->max_items) {
        const char *msg = arena_printf(a, "List should have at most %zu items", f->max_items);
        return refuse(errs, loc, f, msg ? msg : "Too many items", "too_long");
    }
    size_t i, max;
    yyjson_val *item;
    yyjson_arr_foreach(v->json, i, max, item)
    {
        int rc = read_item(f, yyjson_get_str(item), yyjson_get_len(item), loc, a, l, errs);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

static int read_int(const struct field_spec *f, const struct field_value *v, const char *loc,
                    struct arena *a, void *base, struct verrors *errs)
{
    int64_t n = 0;
    bool ok;
    if (v->text) {
        ok = parse_int64(v->text, f->min, f->max, &n) == ERR_OK;
    } else if (yyjson_is_uint(v->json)) {
        uint64_t u = yyjson_get_uint(v->json);
        ok = u <= (uint64_t)INT64_MAX && (int64_t)u >= f->min && (int64_t)u <= f->max;
        n = (int64_t)u;
    } else {
        n = yyjson_get_sint(v->json);
        ok = yyjson_is_sint(v->json) && n >= f->min && n <= f->max;
    }
    if (!ok) {
        const char *msg = arena_printf(a, "Input should be an integer from %lld to %lld",
                                       (long long)f->min, (long long)f->max);
        return refuse(errs, loc, f, msg ? msg : "Input should be an integer in range",
                      v->text ? "int_parsing" : "int_type");
    }
    set_num(f, base, n);
    return ERR_OK;
}

int field_read(const struct field_spec *f, const struct field_value *v, const char *loc,
               struct arena *a, void *base, struct verrors *errs)
{
    if (!v->text && (!v->json || yyjson_is_null(v->json))) {
        if (f->flags & (FF_NULLABLE | FF_NULL_DEFAULT)) {
            if (f->kind == FK_TAGS)
                return list_of(tags_at(f, base), a) ? ERR_OK : ERR_NOMEM;
            if (f->flags & FF_NULLABLE && (f->kind == FK_TEXT || f->kind == FK_TIME))
                field_set_default(f, base); /* none */
            else
                set_num(f, base, f->def);
            return ERR_OK;
        }
    }
    const char *s = v->text ? v->text : json_cstr(v->json);
    switch (f->kind) {
    case FK_TEXT:
        if (v->text)
            return read_text(f, v->text, strlen(v->text), loc, a, member(f, base), errs);
        if (!yyjson_is_str(v->json))
            return refuse(errs, loc, f, "Input should be a valid string", "string_type");
        return read_text(f, yyjson_get_str(v->json), yyjson_get_len(v->json), loc, a,
                         member(f, base), errs);
    case FK_BOOL:
        if (v->text) {
            bool yes = strcmp(v->text, "true") == 0;
            if (!yes && strcmp(v->text, "false") != 0)
                return refuse(errs, loc, f, "Input should be a valid boolean", "bool_parsing");
            set_num(f, base, yes);
        } else if (yyjson_is_bool(v->json)) {
            set_num(f, base, yyjson_get_bool(v->json));
        } else {
            return refuse(errs, loc, f, "Input should be a valid boolean", "bool_type");
        }
        return ERR_OK;
    case FK_TIME: {
        int64_t t = 0;
        if (!s || time_parse(s, f->date_only, &t) != ERR_OK || t <= 0)
            return refuse(errs, loc, f, f->date_only == DATE_ONLY_REJECT ? TIME_ONLY_MSG : TIME_MSG,
                          "datetime_parsing");
        set_num(f, base, t);
        return ERR_OK;
    }
    case FK_ENUM: {
        int i = name_index(f, s, f->flags & FF_ICASE);
        if (i < 0)
            return refuse(errs, loc, f, enum_msg(f, a), "enum");
        set_num(f, base, i);
        return ERR_OK;
    }
    case FK_INT:
        return read_int(f, v, loc, a, base, errs);
    case FK_TAGS:
        return read_tags(f, v, loc, a, base, errs);
    case FK_ID:
    case FK_UUID:
        break;
    }
    return refuse(errs, loc, f, "The field is read-only", "value_error");
}

size_t field_get_json(void *ctx, const char *key, struct field_value *out, size_t max)
{
    yyjson_val *v = yyjson_is_obj(ctx) ? yyjson_obj_get(ctx, key) : NULL;
    if (!v)
        return 0;
    if (max)
        *out = (struct field_value){NULL, v};
    return 1;
}

/* --- checking records that did not come through field_read --- */

int field_check(const struct field_spec *f, const void *base)
{
    int64_t v;
    switch (f->kind) {
    case FK_ID:
        return get_num(f, base) >= 0 ? ERR_OK : ERR_INVALID;
    case FK_UUID:
    case FK_TEXT:
        return ERR_OK; /* any text (NULL is none); whether it must be there is the caller's */
    case FK_BOOL:
        v = get_num(f, base);
        return (v == 0 || v == 1 || (v == -1 && (f->flags & FF_OPTIONAL))) ? ERR_OK : ERR_INVALID;
    case FK_TIME:
        v = get_num(f, base);
        return v >= 0 && v <= TIME_MAX_UNIX ? ERR_OK : ERR_INVALID;
    case FK_ENUM:
        v = get_num(f, base);
        return (v >= 0 && v < (int64_t)name_count(f)) || (v == -1 && (f->flags & FF_OPTIONAL))
                   ? ERR_OK
                   : ERR_INVALID;
    case FK_INT:
        v = get_num(f, base);
        return v >= f->min && v <= f->max ? ERR_OK : ERR_INVALID;
    case FK_TAGS: {
        const struct field_list *l = tags_at(f, base)->list;
        if (!l)
            return ERR_OK;
        if (l->n > f->max_items || l->n > FIELD_LIST_MAX)
            return ERR_INVALID;
        for (size_t i = 0; i < l->n; i++)
            if (!l->v[i])
                return ERR_INVALID;
        return ERR_OK;
    }
    }
    return ERR_INVALID;
}

/* --- output --- */

/* A list as a JSON array text in the arena. */
static const char *list_json(const struct field_list *l, struct arena *a)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_val *arr = doc ? yyjson_mut_arr(doc) : NULL;
    if (!arr)
        return NULL;
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; l && i < l->n; i++)
        yyjson_mut_arr_add_str(doc, arr, l->v[i]);
    return yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
}

void field_to_json(const struct field_spec *f, const void *base, yyjson_mut_doc *doc,
                   yyjson_mut_val *obj)
{
    const char *k = f->name;
    switch (f->kind) {
    case FK_ID:
    case FK_INT:
        yyjson_mut_obj_add_int(doc, obj, k, get_num(f, base));
        return;
    case FK_UUID:
    case FK_TEXT: {
        const char *s = get_str(f, base);
        if (s)
            yyjson_mut_obj_add_str(doc, obj, k, s);
        else
            yyjson_mut_obj_add_null(doc, obj, k);
        return;
    }
    case FK_BOOL: {
        int64_t v = get_num(f, base);
        if (v < 0)
            yyjson_mut_obj_add_null(doc, obj, k);
        else
            yyjson_mut_obj_add_bool(doc, obj, k, v != 0);
        return;
    }
    case FK_TIME: {
        int64_t t = get_num(f, base);
        char text[TIME_TEXT_MAX];
        if (t > 0)
            time_format(t, text);
        if (t > 0 && text[0])
            yyjson_mut_obj_add_strncpy(doc, obj, k, text, TIME_TEXT_MAX - 1);
        else
            yyjson_mut_obj_add_null(doc, obj, k);
        return;
    }
    case FK_ENUM: {
        int64_t i = get_num(f, base);
        if (i >= 0 && i < (int64_t)name_count(f))
            yyjson_mut_obj_add_str(doc, obj, k, f->names[i]);
        else
            yyjson_mut_obj_add_null(doc, obj, k);
        return;
    }
    case FK_TAGS: {
        const struct field_tags *t = tags_at(f, base);
        if (t->json && *t->json) {
            yyjson_mut_obj_add_val(doc, obj, k, yyjson_mut_rawn(doc, t->json, strlen(t->json)));
            return;
        }
        yyjson_mut_val *arr = yyjson_mut_obj_add_arr(doc, obj, k);
        for (size_t i = 0; arr && t->list && i < t->list->n; i++)
            yyjson_mut_arr_add_str(doc, arr, t->list->v[i]);
        return;
    }
    }
}

/* The longest enum name of f. */
static size_t longest_name(const struct field_spec *f)
{
    size_t m = 0;
    for (size_t i = 0; f->names && f->names[i]; i++) {
        size_t n = strlen(f->names[i]);
        m = n > m ? n : m;
    }
    return m;
}

size_t field_json_bound(const struct field_spec *f, const void *base)
{
    size_t value = 5; /* null, true, false */
    switch (f->kind) {
    case FK_ID:
    case FK_INT:
        value = 20; /* INT64_MIN */
        break;
    case FK_UUID:
    case FK_TEXT: {
        const char *s = get_str(f, base);
        value = s ? JSON_STR_BOUND(strlen(s)) : 4;
        break;
    }
    case FK_BOOL:
        break;
    case FK_TIME:
        value = TIME_TEXT_MAX + 1;
        break;
    case FK_ENUM:
        value = JSON_STR_BOUND(longest_name(f)) + 4;
        break;
    case FK_TAGS: {
        const struct field_tags *t = tags_at(f, base);
        if (t->json && *t->json) {
            value = strlen(t->json);
        } else {
            value = 2;
            for (size_t i = 0; t->list && i < t->list->n; i++)
                value += JSON_STR_BOUND(strlen(t->list->v[i])) + 1;
        }
        break;
    }
    }
    return value;
}

/* Writes the n bytes of s at p; returns the end. */
static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

char *field_write_json(const struct field_spec *f, const void *base, char *p)
{
    switch (f->kind) {
    case FK_ID:
    case FK_INT: {
        char buf[INT64_TEXT_MAX];
        return put(p, buf, int64_text(get_num(f, base), buf));
    }
    case FK_UUID:
    case FK_TEXT: {
        const char *s = get_str(f, base);
        return s ? json_write_str(p, s, strlen(s)) : put(p, "null", 4);
    }
    case FK_BOOL: {
        int64_t v = get_num(f, base);
        return v < 0 ? put(p, "null", 4) : v ? put(p, "true", 4) : put(p, "false", 5);
    }
    case FK_TIME: {
        int64_t t = get_num(f, base);
        char text[TIME_TEXT_MAX];
        if (t > 0)
            time_format(t, text);
        if (!(t > 0 && text[0]))
            return put(p, "null", 4);
        *p++ = '"';
        p = put(p, text, TIME_TEXT_MAX - 1); /* as yyjson_mut_obj_add_strncpy did */
        *p++ = '"';
        return p;
    }
    case FK_ENUM: {
        int64_t i = get_num(f, base);
        if (i >= 0 && i < (int64_t)name_count(f))
            return json_write_str(p, f->names[i], strlen(f->names[i]));
        return put(p, "null", 4);
    }
    case FK_TAGS: {
        const struct field_tags *t = tags_at(f, base);
        if (t->json && *t->json) /* the stored JSON, as is (yyjson's raw value) */
            return put(p, t->json, strlen(t->json));
        *p++ = '[';
        for (size_t i = 0; p && t->list && i < t->list->n; i++) {
            if (i)
                *p++ = ',';
            p = json_write_str(p, t->list->v[i], strlen(t->list->v[i]));
        }
        if (p)
            *p++ = ']';
        return p;
    }
    }
    return p;
}

/* --- the database --- */

int field_from_row(const struct field_spec *f, const struct db_rows *r, size_t row, size_t col,
                   void *base)
{
    const char *cell = db_cell(r, row, col);
    int64_t v = 0;
    switch (f->kind) {
    case FK_ID:
    case FK_INT:
        if (!db_int(r, row, col, &v))
            return ERR_DB;
        set_num(f, base, v);
        return ERR_OK;
    case FK_UUID:
    case FK_TEXT:
        set_str(f, base, cell);
        return ERR_OK;
    case FK_BOOL: /* SQLite's 0/1 integer, PostgreSQL's "t"/"f" */
        if (db_int(r, row, col, &v))
            set_num(f, base, v != 0);
        else
            set_num(f, base, cell && (cell[0] == 't' || cell[0] == '1'));
        return ERR_OK;
    case FK_TIME: /* Unix seconds when the statement read them so, else RFC 3339 text */
        if (cell && !db_int(r, row, col, &v) && time_parse(cell, DATE_ONLY_REJECT, &v) != ERR_OK)
            return ERR_DB;
        set_num(f, base, v);
        return ERR_OK;
    case FK_ENUM: {
        int i = name_index(f, cell, false);
        if (i < 0)
            return ERR_DB;
        set_num(f, base, i);
        return ERR_OK;
    }
    case FK_TAGS:
        *tags_at(f, base) = (struct field_tags){cell, NULL};
        return ERR_OK;
    }
    return ERR_DB;
}

struct db_param field_param(const struct field_spec *f, const void *base, struct arena *a)
{
    switch (f->kind) {
    case FK_ID:
    case FK_INT:
        return P_INT(get_num(f, base));
    case FK_BOOL:
        return P_BOOL(get_num(f, base) > 0);
    case FK_UUID:
    case FK_TEXT:
        return P_TEXT(get_str(f, base));
    case FK_TIME: {
        int64_t t = get_num(f, base);
        if (t <= 0 || t > TIME_MAX_UNIX)
            return P_NULL;
        char text[TIME_TEXT_MAX];
        time_format(t, text);
        return P_TEXT(arena_strdup(a, text));
    }
    case FK_ENUM: {
        int64_t i = get_num(f, base);
        return i >= 0 && i < (int64_t)name_count(f) ? P_TEXT(f->names[i]) : P_NULL;
    }
    case FK_TAGS: {
        const struct field_tags *t = tags_at(f, base);
        return P_TEXT(t->list ? list_json(t->list, a) : t->json ? t->json : "[]");
    }
    }
    return P_NULL;
}

/* --- cache keys --- */

static void key_text(struct dynbuf *key, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    dyn_add_int(key, s ? (int64_t)n : -1);
    dyn_addc(key, ':');
    dyn_addn(key, s ? s : "", n);
}

void field_key(const struct field_spec *f, const void *base, struct dynbuf *key)
{
    switch (f->kind) {
    case FK_UUID:
    case FK_TEXT:
        key_text(key, get_str(f, base));
        break;
    case FK_TAGS: {
        const struct field_tags *t = tags_at(f, base);
        if (t->list) {
            dyn_add_int(key, (int64_t)t->list->n);
            for (size_t i = 0; i < t->list->n; i++) {
                dyn_addc(key, ',');
                key_text(key, t->list->v[i]);
            }
        } else {
            key_text(key, t->json);
        }
        break;
    }
    default:
        dyn_add_int(key, get_num(f, base));
        break;
    }
    dyn_addc(key, '|');
}

bool field_is_set(const struct field_spec *f, const void *base)
{
    switch (f->kind) {
    case FK_UUID:
    case FK_TEXT:
        return get_str(f, base) != NULL;
    case FK_TAGS: {
        const struct field_tags *t = tags_at(f, base);
        return (t->list && t->list->n) || t->json;
    }
    case FK_ID:
    case FK_TIME:
        return get_num(f, base) != 0;
    default:
        return get_num(f, base) != f->def;
    }
}

/* --- JSON Schema --- */

static bool input_mode(enum field_schema mode)
{
    return mode == FS_CREATE || mode == FS_PATCH;
}

/* "type": t, or [t, "null"]. */
static void add_type(yyjson_mut_doc *doc, yyjson_mut_val *o, const char *t, bool nullable)
{
    if (!nullable) {
        yyjson_mut_obj_add_str(doc, o, "type", t);
        return;
    }
    yyjson_mut_val *arr = yyjson_mut_obj_add_arr(doc, o, "type");
    yyjson_mut_arr_add_str(doc, arr, t);
    yyjson_mut_arr_add_str(doc, arr, "null");
}

static yyjson_mut_val *typed(yyjson_mut_doc *doc, const char *t, const char *format)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, o, "type", t);
    if (format)
        yyjson_mut_obj_add_str(doc, o, "format", format);
    return o;
}

/* The schema of one text under f's rule (a title, a tag). */
static void text_rule_schema(const struct field_spec *f, yyjson_mut_doc *doc, yyjson_mut_val *o)
{
    if (f->min > 0)
        yyjson_mut_obj_add_int(doc, o, "minLength", f->min);
    yyjson_mut_obj_add_int(doc, o, "maxLength", f->max);
    if (f->min > 0)
        yyjson_mut_obj_add_str(doc, o, "pattern", "\\S"); /* trimmed: not only white space */
}

yyjson_mut_val *field_json_schema(const struct field_spec *f, enum field_schema mode,
                                  yyjson_mut_doc *doc)
{
    bool in = input_mode(mode);
    bool nullable = in ? (f->flags & (FF_NULLABLE | FF_NULL_DEFAULT)) != 0
                       : mode == FS_OUTPUT && (f->flags & FF_NULLABLE);
    bool with_default = mode != FS_OUTPUT && mode != FS_PATCH;
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    switch (f->kind) {
    case FK_ID:
        yyjson_mut_obj_add_str(doc, o, "type", "integer");
        yyjson_mut_obj_add_str(doc, o, "format", "int64");
        yyjson_mut_obj_add_int(doc, o, "minimum", f->min);
        break;
    case FK_UUID:
        yyjson_mut_obj_add_str(doc, o, "type", "string");
        yyjson_mut_obj_add_str(doc, o, "format", "uuid");
        break;
    case FK_TEXT:
        add_type(doc, o, "string", nullable);
        text_rule_schema(f, doc, o);
        break;
    case FK_BOOL:
        yyjson_mut_obj_add_str(doc, o, "type", "boolean");
        if (with_default && !(f->flags & FF_OPTIONAL))
            yyjson_mut_obj_add_bool(doc, o, "default", f->def != 0);
        break;
    case FK_TIME:
        if (mode == FS_OUTPUT || f->date_only == DATE_ONLY_REJECT) {
            add_type(doc, o, "string", nullable);
            yyjson_mut_obj_add_str(doc, o, "format", "date-time");
        } else {
            yyjson_mut_val *any = yyjson_mut_obj_add_arr(doc, o, "anyOf");
            yyjson_mut_arr_append(any, typed(doc, "string", "date-time"));
            yyjson_mut_arr_append(any, typed(doc, "string", "date"));
            if (nullable)
                yyjson_mut_arr_append(any, typed(doc, "null", NULL));
        }
        break;
    case FK_ENUM: {
        add_type(doc, o, "string", nullable);
        yyjson_mut_val *e = yyjson_mut_obj_add_arr(doc, o, "enum");
        for (size_t i = 0; f->names[i]; i++)
            yyjson_mut_arr_add_str(doc, e, f->names[i]);
        if (nullable)
            yyjson_mut_arr_add_null(doc, e);
        if (with_default && f->def >= 0)
            yyjson_mut_obj_add_str(doc, o, "default", f->names[f->def]);
        break;
    }
    case FK_INT:
        yyjson_mut_obj_add_str(doc, o, "type", "integer");
        yyjson_mut_obj_add_int(doc, o, "minimum", f->min);
        yyjson_mut_obj_add_int(doc, o, "maximum", f->max);
        if (with_default)
            yyjson_mut_obj_add_int(doc, o, "default", f->def);
        break;
    case FK_TAGS: {
        yyjson_mut_val *item = typed(doc, "string", NULL);
        text_rule_schema(f, doc, item);
        yyjson_mut_val *arr = o;
        if (mode == FS_ARGS && (f->flags & FF_REPEAT)) { /* one value or a list of them */
            yyjson_mut_val *any = yyjson_mut_obj_add_arr(doc, o, "anyOf");
            yyjson_mut_arr_append(any, item);
            arr = yyjson_mut_obj(doc);
            yyjson_mut_arr_append(any, arr);
            item = yyjson_mut_val_mut_copy(doc, item);
        }
        add_type(doc, arr, "array", nullable);
        yyjson_mut_obj_add_int(doc, arr, "maxItems", (int64_t)f->max_items);
        yyjson_mut_obj_add_val(doc, arr, "items", item);
        if (mode == FS_CREATE)
            yyjson_mut_obj_add_val(doc, o, "default", yyjson_mut_arr(doc));
        break;
    }
    }
    if (f->doc)
        yyjson_mut_obj_add_str(doc, o, "description", f->doc);
    return o;
}

yyjson_mut_val *fields_json_schema(const struct field_spec *fields, size_t n,
                                   enum field_schema mode, yyjson_mut_doc *doc)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, o, "type", "object");
    yyjson_mut_val *props = yyjson_mut_obj(doc);
    yyjson_mut_val *required = yyjson_mut_arr(doc);
    for (size_t i = 0; i < n; i++) {
        const struct field_spec *f = &fields[i];
        if (mode != FS_OUTPUT && (f->flags & FF_READONLY))
            continue;
        yyjson_mut_obj_add_val(doc, props, f->name, field_json_schema(f, mode, doc));
        if (mode == FS_OUTPUT || (mode == FS_CREATE && (f->flags & FF_REQUIRED)))
            yyjson_mut_arr_add_str(doc, required, f->name);
    }
    if (yyjson_mut_arr_size(required))
        yyjson_mut_obj_add_val(doc, o, "required", required);
    yyjson_mut_obj_add_val(doc, o, "properties", props);
    if (mode == FS_PATCH)
        yyjson_mut_obj_add_int(doc, o, "minProperties", 1);
    if (mode == FS_OUTPUT || mode == FS_ARGS || mode == FS_QUERY)
        yyjson_mut_obj_add_bool(doc, o, "additionalProperties", false);
    return o;
}
