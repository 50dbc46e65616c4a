/*
 * Export and import of a user's data (see portable.h). The import checks every item before
 * it writes anything, then writes them all in one transaction; a Todoist CSV is turned into
 * the same document first, so both paths share the checks.
 */
#include "domain/portable.h"

#include <string.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/conversations.h"
#include "domain/tasks.h"
#include "domain/users.h"

/* ---- export --------------------------------------------------------------------------------- */

static int export_tasks(struct store_conn *c, struct arena *a, const char *uid, yyjson_mut_doc *doc,
                        yyjson_mut_val *arr)
{
    struct task_filter f;
    task_filter_defaults(&f);
    f.limit = TASK_LIST_MAX;
    f.order = 0; /* ascending creation: the order they were made in */
    for (int page = 0; page * TASK_LIST_MAX < PORTABLE_TASKS_MAX * 10; page++) {
        f.offset = page * TASK_LIST_MAX;
        struct task *tasks;
        size_t n;
        int64_t total;
        int rc = tasks_list(c, a, uid, &f, &tasks, &n, &total);
        if (rc != ERR_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (!yyjson_mut_arr_append(arr, task_to_json(doc, &tasks[i])))
                return ERR_NOMEM;
        if (n < (size_t)TASK_LIST_MAX)
            return ERR_OK;
    }
    return ERR_TOOBIG;
}

static int export_conversations(struct store_conn *c, struct arena *a, const char *uid,
                                yyjson_mut_doc *doc, yyjson_mut_val *arr)
{
    for (int64_t off = 0; off < PORTABLE_CONVS_MAX * 10; off += CONV_LIST_MAX) {
        struct conversation *cv;
        size_t n;
        int64_t total;
        int rc = conv_list(c, a, uid, CONV_LIST_MAX, off, &cv, &n, &total);
        if (rc != ERR_OK)
            return rc;
        for (size_t i = 0; i < n; i++) {
            yyjson_mut_val *o = conv_to_json(doc, &cv[i]);
            yyjson_mut_val *msgs = yyjson_mut_arr(doc);
            if (!o || !msgs)
                return ERR_NOMEM;
            struct conv_message *m;
            size_t nm;
            rc = conv_messages(c, a, uid, cv[i].id, CONV_MESSAGES_MAX, &m, &nm);
            if (rc != ERR_OK)
                return rc;
            for (size_t j = 0; j < nm; j++)
                yyjson_mut_arr_append(msgs, conv_message_to_json(doc, a, &m[j]));
            yyjson_mut_obj_add_val(doc, o, "messages", msgs);
            yyjson_mut_arr_append(arr, o);
        }
        if (n < CONV_LIST_MAX)
            return ERR_OK;
    }
    return ERR_TOOBIG;
}

int portable_export(struct store_conn *c, struct arena *a, const char *uid, yyjson_mut_doc *doc,
                    yyjson_mut_val **out)
{
    struct user u;
    int rc = users_by_id(c, a, uid, &u);
    if (rc != ERR_OK)
        return rc;
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_val *tasks = yyjson_mut_arr(doc);
    yyjson_mut_val *tags = yyjson_mut_arr(doc);
    yyjson_mut_val *convs = yyjson_mut_arr(doc);
    if (!root || !tasks || !tags || !convs)
        return ERR_NOMEM;
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    yyjson_mut_obj_add_str(doc, root, "format", PORTABLE_FORMAT);
    yyjson_mut_obj_add_int(doc, root, "version", PORTABLE_VERSION);
    yyjson_mut_obj_add_strcpy(doc, root, "exported_at", now);
    yyjson_mut_obj_add_val(doc, root, "user", user_to_json(doc, &u));
    rc = export_tasks(c, a, uid, doc, tasks);
    struct db_rows rows;
    if (rc == ERR_OK)
        rc = tasks_tags(c, a, uid, &rows);
    for (size_t i = 0; rc == ERR_OK && i < rows.nrows; i++) {
        yyjson_mut_val *o = yyjson_mut_arr_add_obj(doc, tags);
        int64_t count = 0;
        parse_int64(db_cell(&rows, i, 1), 0, INT64_MAX, &count);
        yyjson_mut_obj_add_str(doc, o, "name", db_cell(&rows, i, 0));
        yyjson_mut_obj_add_int(doc, o, "count", count);
    }
    if (rc == ERR_OK)
        rc = export_conversations(c, a, uid, doc, convs);
    if (rc != ERR_OK)
        return rc;
    yyjson_mut_obj_add_val(doc, root, "tasks", tasks);
    yyjson_mut_obj_add_val(doc, root, "tags", tags);
    yyjson_mut_obj_add_val(doc, root, "conversations", convs);
    *out = root;
    return ERR_OK;
}

/* ---- import: checks ------------------------------------------------------------------------- */

/* A conversation read from the document, checked. */
struct conv_in {
    const char *title, *created_at, *updated_at;
    struct conv_message *msgs;
    size_t n;
};

/* "tasks[3]" and the like, for error locations. */
static const char *item_loc(struct arena *a, const char *list, size_t i)
{
    const char *s = arena_printf(a, "%s[%zu]", list, i);
    return s ? s : list;
}

/* A time given in the document: RFC 3339, written back in UTC; missing → now. */
static const char *read_time(struct arena *a, yyjson_val *v, const char *now, bool *bad)
{
    if (!v || yyjson_is_null(v))
        return now;
    const char *s = json_cstr(v);
    int64_t t;
    if (!s || time_parse(s, DATE_ONLY_REJECT, &t) != ERR_OK) {
        *bad = true;
        return NULL;
    }
    char *out = arena_alloc(a, TIME_TEXT_MAX);
    if (out)
        time_format(t, out);
    return out;
}

static void check_message(struct arena *a, yyjson_val *m, const char *loc, const char *conv_time,
                          struct conv_message *out, struct verrors *errs)
{
    memset(out, 0, sizeof(*out));
    const char *role = json_cstr(yyjson_obj_get(m, "role"));
    const char *content = json_cstr(yyjson_obj_get(m, "content"));
    yyjson_val *calls = yyjson_obj_get(m, "tool_calls");
    bool bad_time = false;
    out->role = role;
    out->content = content;
    out->created_at = read_time(a, yyjson_obj_get(m, "created_at"), conv_time, &bad_time);
    if (!yyjson_is_obj(m) || !role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
        verr_add(errs, loc, "role", "Input should be 'user' or 'assistant'", "enum");
    else if (!content || yyjson_get_len(yyjson_obj_get(m, "content")) > CONV_TOOL_CALLS_MAX)
        verr_add(errs, loc, "content", "Input should be a string", "string_type");
    else if (bad_time)
        verr_add(errs, loc, "created_at", "Input should be an RFC 3339 time", "datetime_parsing");
    else if (calls && !yyjson_is_null(calls) && !yyjson_is_arr(calls))
        verr_add(errs, loc, "tool_calls", "Input should be a list", "list_type");
    else if (calls && yyjson_is_arr(calls) && yyjson_arr_size(calls) > 0 &&
             strcmp(role, "assistant") == 0) {
        size_t len = 0;
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        out->tool_calls = yyjson_val_write_opts(calls, 0, &alc, &len, NULL);
        if (!out->tool_calls || len > CONV_TOOL_CALLS_MAX)
            verr_add(errs, loc, "tool_calls", "Tool calls too large", "value_error");
    }
}

static int check_conversation(struct arena *a, yyjson_val *o, const char *loc, const char *now,
                              struct conv_in *out, size_t *messages_left, struct verrors *errs)
{
    memset(out, 0, sizeof(*out));
    if (!yyjson_is_obj(o)) {
        verr_add(errs, loc, NULL, "Input should be a valid dictionary", "dict_type");
        return ERR_OK;
    }
    yyjson_val *title = yyjson_obj_get(o, "title");
    if (title && !yyjson_is_null(title)) {
        enum text_problem why;
        const char *s = json_cstr(title);
        int rc = s ? text_clean(a, s, yyjson_get_len(title), &conv_title_rule, &out->title, &why)
                   : ERR_INVALID;
        if (rc == ERR_NOMEM)
            return rc;
        if (rc != ERR_OK)
            verr_add(errs, loc, "title", "Input should be a one-line title of 1 to 200 characters",
                     "string_type");
    }
    bool bad = false;
    out->created_at = read_time(a, yyjson_obj_get(o, "created_at"), now, &bad);
    out->updated_at = read_time(a, yyjson_obj_get(o, "updated_at"), out->created_at, &bad);
    if (bad)
        verr_add(errs, loc, "created_at", "Input should be an RFC 3339 time", "datetime_parsing");
    yyjson_val *msgs = yyjson_obj_get(o, "messages");
    if (msgs && !yyjson_is_arr(msgs)) {
        verr_add(errs, loc, "messages", "Input should be a valid list", "list_type");
        return ERR_OK;
    }
    size_t n = yyjson_arr_size(msgs);
    if (n > *messages_left) {
        verr_add(errs, loc, "messages", "Too many messages in one import", "too_long");
        return ERR_OK;
    }
    *messages_left -= n;
    out->msgs = n ? arena_alloc(a, n * sizeof(*out->msgs)) : NULL;
    if (n && !out->msgs)
        return ERR_NOMEM;
    size_t i, max;
    yyjson_val *m;
    yyjson_arr_foreach(msgs, i, max, m)
    {
        const char *mloc = arena_printf(a, "%s.messages[%zu]", loc, i);
        check_message(a, m, mloc ? mloc : loc, out->created_at, &out->msgs[i], errs);
    }
    out->n = n;
    return ERR_OK;
}

/* ---- import: the transaction ------------------------------------------------------------------
 */

int portable_import_json(struct store_conn *c, struct arena *a, const char *uid, yyjson_val *root,
                         struct import_counts *counts, struct verrors *errs)
{
    memset(counts, 0, sizeof(*counts));
    if (!yyjson_is_obj(root)) {
        verr_add(errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        return ERR_INVALID;
    }
    const char *format = json_cstr(yyjson_obj_get(root, "format"));
    yyjson_val *version = yyjson_obj_get(root, "version");
    if (!format || strcmp(format, PORTABLE_FORMAT) != 0)
        verr_add(errs, "body", "format", "Input should be 'todo-export'", "literal_error");
    if (!yyjson_is_int(version) || yyjson_get_sint(version) != PORTABLE_VERSION)
        verr_add(errs, "body", "version", "Input should be 1 (the only version there is)",
                 "literal_error");
    yyjson_val *tasks = yyjson_obj_get(root, "tasks");
    yyjson_val *convs = yyjson_obj_get(root, "conversations");
    if (tasks && !yyjson_is_arr(tasks))
        verr_add(errs, "body", "tasks", "Input should be a valid list", "list_type");
    if (convs && !yyjson_is_arr(convs))
        verr_add(errs, "body", "conversations", "Input should be a valid list", "list_type");
    if (yyjson_arr_size(tasks) > PORTABLE_TASKS_MAX)
        verr_add(errs, "body", "tasks", "At most 10000 tasks in one import", "too_long");
    if (yyjson_arr_size(convs) > PORTABLE_CONVS_MAX)
        verr_add(errs, "body", "conversations", "At most 1000 conversations in one import",
                 "too_long");
    if (errs->n)
        return ERR_INVALID;
    size_t nt = yyjson_arr_size(tasks), nc = yyjson_arr_size(convs);
    struct task_input *tin = nt ? arena_alloc(a, nt * sizeof(*tin)) : NULL;
    struct conv_in *cin = nc ? arena_alloc(a, nc * sizeof(*cin)) : NULL;
    if ((nt && !tin) || (nc && !cin))
        return ERR_NOMEM;
    /* Check everything before writing anything. */
    size_t i, max;
    yyjson_val *v;
    yyjson_arr_foreach(tasks, i, max, v)
    {
        int rc = task_input_parse(v, TASK_CREATE, item_loc(a, "tasks", i), a, &tin[i], errs);
        if (rc == ERR_NOMEM)
            return rc;
        if (errs->n >= VERROR_MAX)
            break;
    }
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    size_t messages_left = PORTABLE_MESSAGES_MAX;
    yyjson_arr_foreach(convs, i, max, v)
    {
        int rc = check_conversation(a, v, item_loc(a, "conversations", i), now, &cin[i],
                                    &messages_left, errs);
        if (rc != ERR_OK)
            return rc;
        if (errs->n >= VERROR_MAX)
            break;
    }
    if (errs->n)
        return ERR_INVALID;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    for (i = 0; rc == ERR_OK && i < nt; i++) {
        int64_t id;
        rc = tasks_create_in(c, a, uid, &tin[i], &id);
    }
    for (i = 0; rc == ERR_OK && i < nc; i++) {
        rc = conv_import(c, a, uid, cin[i].title, cin[i].created_at, cin[i].updated_at, cin[i].msgs,
                         cin[i].n);
        counts->messages += cin[i].n;
    }
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK) {
        store_rollback(c);
        counts->messages = 0;
        return rc;
    }
    counts->tasks = nt;
    counts->conversations = nc;
    return ERR_OK;
}

/* ---- Todoist CSV ---------------------------------------------------------------------------- */

/* Reads one RFC 4180 record from *p (fields separated by commas, quoted fields may hold
 * commas, newlines and doubled quotes). Fields are arena copies; at most max fields, each
 * at most PORTABLE_CSV_FIELD_MAX bytes. Returns the number of fields, 0 at the end, -1 on
 * malformed input. */
static int csv_record(struct arena *a, const char **p, const char *end, const char **fields,
                      int max)
{
    const char *s = *p;
    if (s >= end)
        return 0;
    int n = 0;
    for (;;) {
        struct dynbuf f;
        dyn_init_arena(&f, a, PORTABLE_CSV_FIELD_MAX);
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end)
                    return -1; /* an unterminated quote */
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        dyn_addc(&f, '"');
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                dyn_addc(&f, *s++);
            }
            if (s < end && *s != ',' && *s != '\n' && *s != '\r')
                return -1;
        } else {
            while (s < end && *s != ',' && *s != '\n' && *s != '\r') {
                if (*s == '"')
                    return -1;
                dyn_addc(&f, *s++);
            }
        }
        if (dyn_err(&f) != ERR_OK || n >= max)
            return -1;
        fields[n++] = dyn_take(&f);
        if (!fields[n - 1])
            return -1;
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && *s == '\r')
            s++;
        if (s < end && *s == '\n')
            s++;
        *p = s;
        return n;
    }
}

#define CSV_COLS_MAX 32

/* Todoist's PRIORITY: 1 (p1, the highest) … 4 (p4, none). */
static const char *todoist_priority(const char *s)
{
    if (!s || !*s)
        return NULL;
    if (strcmp(s, "1") == 0 || strcmp(s, "2") == 0)
        return "high";
    if (strcmp(s, "3") == 0)
        return "medium";
    return "low";
}

/* Splits CONTENT into the title and "@label" tags. */
static void todoist_content(yyjson_mut_doc *doc, yyjson_mut_val *task, struct arena *a,
                            const char *content)
{
    struct dynbuf title;
    dyn_init_arena(&title, a, PORTABLE_CSV_FIELD_MAX);
    yyjson_mut_val *tags = yyjson_mut_arr(doc);
    const char *p = content;
    while (*p) {
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        size_t n = (size_t)(p - w);
        if (n > 1 && w[0] == '@' && yyjson_mut_arr_size(tags) < TASK_MAX_TAGS)
            yyjson_mut_arr_add_strncpy(doc, tags, w + 1, n - 1);
        else if (n) {
            if (dyn_len(&title))
                dyn_addc(&title, ' ');
            dyn_addn(&title, w, n);
        }
        while (*p == ' ')
            p++;
    }
    yyjson_mut_obj_add_strcpy(doc, task, "title", dyn_len(&title) ? dyn_str(&title) : content);
    if (yyjson_mut_arr_size(tags))
        yyjson_mut_obj_add_val(doc, task, "tags", tags);
}

/* DATE: an ISO date or time → due_at; "every day|week|month|year" → recurrence; other text
 * is appended to the description. */
static void todoist_date(yyjson_mut_doc *doc, yyjson_mut_val *task, struct arena *a,
                         const char *date, struct dynbuf *desc)
{
    static const struct {
        const char *text, *rec;
    } every[] = {{"every day", "daily"},   {"daily", "daily"},         {"every week", "weekly"},
                 {"weekly", "weekly"},     {"every month", "monthly"}, {"monthly", "monthly"},
                 {"every year", "yearly"}, {"yearly", "yearly"}};
    if (!date || !*date)
        return;
    int64_t t;
    if (time_parse(date, DATE_END_OF_DAY, &t) == ERR_OK) {
        char *txt = arena_alloc(a, TIME_TEXT_MAX);
        if (txt) {
            time_format(t, txt);
            yyjson_mut_obj_add_str(doc, task, "due_at", txt);
        }
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(every); i++)
        if (str_ieq(date, every[i].text)) {
            yyjson_mut_obj_add_str(doc, task, "recurrence", every[i].rec);
            return;
        }
    if (dyn_len(desc))
        dyn_add(desc, "\n");
    dyn_add(desc, "Todoist date: ");
    dyn_add(desc, date);
}

int portable_import_todoist(struct store_conn *c, struct arena *a, const char *uid, const char *csv,
                            size_t len, struct import_counts *counts, struct verrors *errs)
{
    memset(counts, 0, sizeof(*counts));
    const char *p = csv, *end = csv + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* a byte order mark */
        p += 3;
    const char *head[CSV_COLS_MAX];
    int nh = csv_record(a, &p, end, head, CSV_COLS_MAX);
    int col_type = -1, col_content = -1, col_desc = -1, col_prio = -1, col_date = -1;
    for (int i = 0; i < nh; i++) {
        if (str_ieq(head[i], "TYPE"))
            col_type = i;
        else if (str_ieq(head[i], "CONTENT"))
            col_content = i;
        else if (str_ieq(head[i], "DESCRIPTION"))
            col_desc = i;
        else if (str_ieq(head[i], "PRIORITY"))
            col_prio = i;
        else if (str_ieq(head[i], "DATE"))
            col_date = i;
    }
    if (nh <= 0 || col_type < 0 || col_content < 0) {
        verr_add(errs, "body", NULL,
                 "Not a Todoist CSV export: the first line must name the TYPE and CONTENT "
                 "columns",
                 "value_error");
        return ERR_INVALID;
    }
    yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
    if (!doc)
        return ERR_NOMEM;
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_val *tasks = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, root);
    yyjson_mut_obj_add_str(doc, root, "format", PORTABLE_FORMAT);
    yyjson_mut_obj_add_int(doc, root, "version", PORTABLE_VERSION);
    yyjson_mut_obj_add_val(doc, root, "tasks", tasks);
    int rc = ERR_OK;
    for (size_t line = 2; rc == ERR_OK; line++) {
        const char *f[CSV_COLS_MAX];
        int n = csv_record(a, &p, end, f, CSV_COLS_MAX);
        if (n == 0)
            break;
        if (n < 0) {
            verr_add(errs, "body", arena_printf(a, "line %zu", line),
                     "Malformed CSV (an unterminated quote, a stray quote, or too many columns)",
                     "value_error");
            rc = ERR_INVALID;
            break;
        }
        if (n == 1 && !*f[0])
            continue; /* a blank line (Todoist separates sections with them) */
        if (col_type >= n || !str_ieq(f[col_type], "task"))
            continue;
        if (yyjson_mut_arr_size(tasks) >= PORTABLE_TASKS_MAX) {
            verr_add(errs, "body", NULL, "At most 10000 tasks in one import", "too_long");
            rc = ERR_INVALID;
            break;
        }
        yyjson_mut_val *t = yyjson_mut_arr_add_obj(doc, tasks);
        struct dynbuf desc;
        dyn_init_arena(&desc, a, PORTABLE_CSV_FIELD_MAX * 2);
        if (col_desc >= 0 && col_desc < n)
            dyn_add(&desc, f[col_desc]);
        todoist_content(doc, t, a, col_content < n ? f[col_content] : "");
        const char *prio = col_prio >= 0 && col_prio < n ? todoist_priority(f[col_prio]) : NULL;
        if (prio)
            yyjson_mut_obj_add_str(doc, t, "priority", prio);
        if (col_date >= 0 && col_date < n)
            todoist_date(doc, t, a, f[col_date], &desc);
        if (dyn_len(&desc))
            yyjson_mut_obj_add_strcpy(doc, t, "description", dyn_str(&desc));
    }
    yyjson_doc *idoc = NULL;
    if (rc == ERR_OK) {
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        idoc = yyjson_mut_doc_imut_copy(doc, &alc);
        rc = idoc ? ERR_OK : ERR_NOMEM;
    }
    yyjson_mut_doc_free(doc);
    if (rc != ERR_OK)
        return rc;
    return portable_import_json(c, a, uid, yyjson_doc_get_root(idoc), counts, errs);
}
