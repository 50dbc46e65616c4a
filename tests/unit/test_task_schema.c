/*
 * Unit tests for the task schema (src/domain/task_schema.c, src/domain/fields.c): the two
 * tables and the struct members they describe; the filter parser on every key with good and
 * bad values and at its bounds, read from a query string's texts and from a tool's JSON
 * arguments alike, errors at the caller's location; the domain refusing out-of-range values
 * that did not come through a parser (no table is indexed out of bounds, nothing reaches the
 * store); the list cache key changing with every filter field; the derived JSON Schemas; and
 * docs/openapi.json agreeing with them (Task, TaskCreate, TaskUpdate and the list's query
 * parameters).
 */
#include "unit.h"

#include <stdio.h>

#include "core/err.h"
#include "core/json.h"
#include "core/util.h"
#include "domain/tasks.h"

#define OPENAPI_PATH "docs/openapi.json"

struct fx {
    struct arena *a;
    struct verrors errs;
    struct task_filter f;
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    x->a = arena_new();
    *state = x;
    return x->a ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    arena_free(x->a);
    free(x);
    return 0;
}

/* --- the tables --- */

static void test_task_table(void **state)
{
    (void)state;
    /* The API's keys, in the contract's order: the table is the wire format. */
    static const char *wire[] = {"id",         "user_id",      "title",      "description",
                                 "completed",  "completed_at", "priority",   "tags",
                                 "due_at",     "remind_at",    "recurrence", "recurrence_interval",
                                 "created_at", "updated_at"};
    assert_int_equal(TASK_NFIELDS, ARRAY_LEN(wire));
    for (size_t i = 0; i < TASK_NFIELDS; i++) {
        const struct field_spec *f = &task_fields[i];
        assert_string_equal(f->name, wire[i]);
        assert_true(f->offset + f->size <= sizeof(struct task));
        if (f->kind == FK_ENUM) {
            assert_non_null(f->names);
            size_t n = 0;
            while (f->names[n])
                n++;
            assert_true(f->def >= 0 && f->def < (int64_t)n);
        }
        if (f->kind == FK_INT)
            assert_true(f->min <= f->def && f->def <= f->max);
        if (f->kind == FK_TEXT || f->kind == FK_TAGS)
            assert_true(f->min >= 0 && f->min <= f->max);
        /* Only the server sets these. */
        bool ro = i == TASK_FIELD_ID || i == TASK_FIELD_USER_ID || i == TASK_FIELD_COMPLETED_AT ||
                  i == TASK_FIELD_CREATED_AT || i == TASK_FIELD_UPDATED_AT;
        assert_int_equal(!!(f->flags & FF_READONLY), ro);
        assert_non_null(f->doc);
    }
    assert_string_equal(field_column(&task_fields[TASK_FIELD_TAGS]), "tags_json");
    assert_string_equal(field_column(&task_fields[TASK_FIELD_TITLE]), "title");
    assert_int_equal(TF_TITLE, 1u << TASK_FIELD_TITLE);
}

static void test_filter_table(void **state)
{
    (void)state;
    static const char *keys[] = {"status",     "priority",  "tag",     "search",
                                 "due_before", "due_after", "overdue", "sort",
                                 "order",      "limit",     "offset"};
    assert_int_equal(TASK_FILTER_NFIELDS, ARRAY_LEN(keys));
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++) {
        assert_string_equal(task_filter_fields[i].name, keys[i]);
        assert_true(task_filter_fields[i].offset + task_filter_fields[i].size <=
                    sizeof(struct task_filter));
        assert_false(task_filter_fields[i].flags & FF_READONLY);
    }
    /* The filter and the task share their values' names: one definition of a priority. */
    assert_ptr_equal(task_filter_fields[TASK_FILTER_PRIORITY].names,
                     task_fields[TASK_FIELD_PRIORITY].names);
    struct task_filter f;
    memset(&f, 0x5a, sizeof(f));
    task_filter_defaults(&f);
    assert_int_equal(f.status, STATUS_ALL);
    assert_int_equal(f.priority, -1);
    assert_null(f.tags.list);
    assert_null(f.search);
    assert_int_equal(f.due_before, 0);
    assert_int_equal(f.overdue, -1);
    assert_int_equal(f.sort, SORT_CREATED);
    assert_int_equal(f.order, -1);
    assert_int_equal(f.limit, TASK_LIST_DEFAULT);
    assert_int_equal(f.offset, 0);
}

/* --- the filter parser --- */

/* A query string for the parser: "k=v&k=v" split into pairs (no decoding needed here). */
struct query {
    const char *k[64];
    const char *v[64];
    size_t n;
};

static size_t query_get(void *ctx, const char *key, struct field_value *out, size_t max)
{
    const struct query *q = ctx;
    size_t seen = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->k[i], key) != 0)
            continue;
        if (seen < max)
            out[seen] = (struct field_value){q->v[i], NULL};
        seen++;
        if (max == 1)
            break; /* a single-valued key: the first occurrence, as the HTTP layer does */
    }
    return seen;
}

static int parse_query(struct fx *x, const char *text)
{
    struct query q = {0};
    char *s = arena_strdup(x->a, text);
    for (char *save = NULL, *pair = s && *s ? s : NULL; pair && q.n < 64; pair = save) {
        char *amp = strchr(pair, '&');
        save = amp ? amp + 1 : NULL;
        if (amp)
            *amp = '\0';
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        q.k[q.n] = pair;
        q.v[q.n++] = eq ? eq + 1 : "";
    }
    memset(&x->errs, 0, sizeof(x->errs));
    return task_filter_parse(query_get, &q, "query", x->a, &x->f, &x->errs);
}

static int parse_args(struct fx *x, const char *json)
{
    memset(&x->errs, 0, sizeof(x->errs));
    yyjson_doc *d = unit_json(x->a, json);
    return task_filter_parse(field_get_json, yyjson_doc_get_root(d), "arguments", x->a, &x->f,
                             &x->errs);
}

static void dump(const struct fx *x)
{
    for (size_t i = 0; i < x->errs.n; i++)
        print_error("  error: (%s, %s) %s [%s]\n", x->errs.e[i].where,
                    x->errs.e[i].field ? x->errs.e[i].field : "-", x->errs.e[i].msg,
                    x->errs.e[i].type);
}

static void query_ok(struct fx *x, const char *q)
{
    if (parse_query(x, q) != ERR_OK) {
        dump(x);
        fail_msg("query refused: %s", q);
    }
}

static void args_ok(struct fx *x, const char *json)
{
    if (parse_args(x, json) != ERR_OK) {
        dump(x);
        fail_msg("arguments refused: %s", json);
    }
}

/* Exactly one error, at (where, key) with type. */
static void expect_one(struct fx *x, int rc, const char *where, const char *key, const char *type,
                       const char *input)
{
    bool ok = rc == ERR_INVALID && x->errs.n == 1 && strcmp(x->errs.e[0].where, where) == 0 &&
              x->errs.e[0].field && strcmp(x->errs.e[0].field, key) == 0 &&
              (!type || strcmp(x->errs.e[0].type, type) == 0) && x->errs.e[0].msg[0];
    if (!ok) {
        dump(x);
        fail_msg("%s: rc %d, want one error at (%s, %s) of type %s", input, rc, where, key,
                 type ? type : "any");
    }
}

static void query_bad(struct fx *x, const char *q, const char *key, const char *type)
{
    expect_one(x, parse_query(x, q), "query", key, type, q);
}

static void args_bad(struct fx *x, const char *json, const char *key, const char *type)
{
    expect_one(x, parse_args(x, json), "arguments", key, type, json);
}

static void test_filter_every_key(void **state)
{
    struct fx *x = *state;
    query_ok(x, "");
    assert_int_equal(x->f.limit, TASK_LIST_DEFAULT);
    query_ok(x, "status=pending&priority=low&tag=Work&tag=home&search=%20milk%20&"
                "due_before=2026-03-13&due_after=2026-03-01&overdue=false&sort=due_date&"
                "order=asc&limit=200&offset=1000000000");
    assert_int_equal(x->f.status, STATUS_PENDING);
    assert_int_equal(x->f.priority, PRIO_LOW);
    assert_int_equal(x->f.tags.list->n, 2);
    assert_string_equal(x->f.tags.list->v[0], "Work");
    assert_string_equal(x->f.tags.list->v[1], "home");
    assert_string_equal(x->f.search, "%20milk%20"); /* no decoding here: the HTTP layer's */
    assert_int_equal(x->f.due_before, 1773446399);  /* 2026-03-13T23:59:59Z: end of day */
    assert_int_equal(x->f.due_after, 1772323200);   /* 2026-03-01T00:00:00Z: start of day */
    assert_int_equal(x->f.overdue, 0);
    assert_int_equal(x->f.sort, SORT_DUE);
    assert_int_equal(x->f.order, ORDER_ASC);
    assert_int_equal(x->f.limit, TASK_LIST_MAX);
    assert_int_equal(x->f.offset, TASK_OFFSET_MAX);

    /* Every value of every enum, by its name. */
    for (int i = 0; task_status_names[i]; i++) {
        query_ok(x, arena_printf(x->a, "status=%s", task_status_names[i]));
        assert_int_equal(x->f.status, i);
    }
    for (int i = 0; task_sort_names[i]; i++) {
        query_ok(x, arena_printf(x->a, "sort=%s", task_sort_names[i]));
        assert_int_equal(x->f.sort, i);
    }
    for (int i = 0; task_priority_names[i]; i++) {
        query_ok(x, arena_printf(x->a, "priority=%s", task_priority_names[i]));
        assert_int_equal(x->f.priority, i);
    }
    query_ok(x, "order=desc&overdue=true&limit=1&offset=0");
    assert_int_equal(x->f.order, ORDER_DESC);
    assert_int_equal(x->f.overdue, 1);
    assert_int_equal(x->f.limit, 1);
    /* An empty search is no search; a date-time keeps its time and offset. */
    query_ok(x, "search=");
    assert_null(x->f.search);
    query_ok(x, "due_before=2026-03-13T17:00:00+01:00");
    assert_int_equal(x->f.due_before, 1773417600); /* 16:00Z */
    /* A single-valued key given twice: the first counts. */
    query_ok(x, "limit=5&limit=abc");
    assert_int_equal(x->f.limit, 5);
    /* Unknown keys are not the filter's business. */
    query_ok(x, "user_id=someone&foo=bar");
}

static void test_filter_bad_values(void **state)
{
    struct fx *x = *state;
    static const struct {
        const char *q, *key, *type;
    } bad[] = {
        {"status=foo", "status", "enum"},
        {"status=", "status", "enum"},
        {"status=PENDING", "status", "enum"}, /* query values are exact */
        {"priority=urgent", "priority", "enum"},
        {"priority=High", "priority", "enum"},
        {"sort=bar", "sort", "enum"},
        {"sort=due", "sort", "enum"},
        {"order=up", "order", "enum"},
        {"order=ascending", "order", "enum"},
        {"limit=0", "limit", "int_parsing"},
        {"limit=-1", "limit", "int_parsing"},
        {"limit=abc", "limit", "int_parsing"},
        {"limit=201", "limit", "int_parsing"},
        {"limit=1.5", "limit", "int_parsing"},
        {"limit=", "limit", "int_parsing"},
        {"limit=99999999999999999999", "limit", "int_parsing"},
        {"offset=-1", "offset", "int_parsing"},
        {"offset=x", "offset", "int_parsing"},
        {"offset=1000000001", "offset", "int_parsing"},
        {"overdue=maybe", "overdue", "bool_parsing"},
        {"overdue=yes", "overdue", "bool_parsing"},
        {"overdue=1", "overdue", "bool_parsing"},
        {"overdue=True", "overdue", "bool_parsing"},
        {"due_before=tomorrow", "due_before", "datetime_parsing"},
        {"due_after=2030-13-01", "due_after", "datetime_parsing"},
        {"due_before=2030-01-01T10:00:00", "due_before", "datetime_parsing"},
        {"due_before=10000-01-01", "due_before", "datetime_parsing"},
        {"due_after=1970-01-01T00:00:00Z", "due_after", "datetime_parsing"},
        {"tag=", "tag", "string_too_short"},
        {"tag=  ", "tag", "string_too_short"},     /* the tag rule trims */
        {"search=a\x7f", "search", "value_error"}, /* no control characters */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        query_bad(x, bad[i].q, bad[i].key, bad[i].type);
}

/* Bounds of the text keys, in characters (not bytes), and of the tag count. */
static void test_filter_bounds(void **state)
{
    struct fx *x = *state;
    struct dynbuf d;
    dyn_init_arena(&d, x->a, 1 << 16);
    dyn_add(&d, "tag=");
    for (int i = 0; i < TASK_TAG_MAX; i++)
        dyn_add(&d, "\xc3\xa9");
    query_ok(x, dyn_str(&d)); /* 50 two-byte characters */
    dyn_add(&d, "x");
    query_bad(x, dyn_str(&d), "tag", "string_too_long");
    query_bad(x, "tag=a\x01", "tag", "value_error");

    dyn_reset(&d);
    dyn_add(&d, "search=");
    for (int i = 0; i < TASK_SEARCH_MAX; i++)
        dyn_add(&d, "\xe2\x82\xac");
    query_ok(x, dyn_str(&d));
    dyn_add(&d, "s");
    query_bad(x, dyn_str(&d), "search", "string_too_long");

    dyn_reset(&d);
    for (int i = 0; i < TASK_MAX_TAGS; i++)
        dyn_addf(&d, "%stag=t%d", i ? "&" : "", i);
    query_ok(x, dyn_str(&d));
    assert_int_equal(x->f.tags.list->n, TASK_MAX_TAGS);
    dyn_add(&d, "&tag=one-too-many");
    query_bad(x, dyn_str(&d), "tag", "too_long");
}

/* The same keys as a tool's JSON arguments: typed values, null as "not given". */
static void test_filter_tool_arguments(void **state)
{
    struct fx *x = *state;
    args_ok(x, "{}");
    args_ok(x,
            "{\"status\":\"completed\",\"priority\":\"high\",\"tag\":\"work\",\"search\":\"milk\","
            "\"due_before\":\"2026-03-13T17:00:00+01:00\",\"due_after\":\"2026-03-01\","
            "\"overdue\":true,\"sort\":\"priority\",\"order\":\"desc\",\"limit\":10,"
            "\"offset\":20}");
    assert_int_equal(x->f.status, STATUS_COMPLETED);
    assert_int_equal(x->f.priority, PRIO_HIGH);
    assert_int_equal(x->f.tags.list->n, 1);
    assert_string_equal(x->f.tags.list->v[0], "work");
    assert_string_equal(x->f.search, "milk");
    assert_int_equal(x->f.due_before, 1773417600);
    assert_int_equal(x->f.overdue, 1);
    assert_int_equal(x->f.sort, SORT_PRIORITY);
    assert_int_equal(x->f.limit, 10);
    assert_int_equal(x->f.offset, 20);
    args_ok(x, "{\"tag\":[\"a\",\"b\"],\"status\":null,\"limit\":null,\"user_id\":\"x\"}");
    assert_int_equal(x->f.tags.list->n, 2);
    assert_int_equal(x->f.status, STATUS_ALL);
    assert_int_equal(x->f.limit, TASK_LIST_DEFAULT);

    static const struct {
        const char *json, *key, *type;
    } bad[] = {
        {"{\"status\":1}", "status", "enum"},
        {"{\"status\":\"all\\u0000\"}", "status", "enum"},
        {"{\"priority\":\"HIGH\"}", "priority", "enum"},
        {"{\"limit\":\"5\"}", "limit", "int_type"},
        {"{\"limit\":5.0}", "limit", "int_type"},
        {"{\"limit\":201}", "limit", "int_type"},
        {"{\"limit\":18446744073709551615}", "limit", "int_type"},
        {"{\"offset\":-1}", "offset", "int_type"},
        {"{\"overdue\":\"true\"}", "overdue", "bool_type"},
        {"{\"overdue\":1}", "overdue", "bool_type"},
        {"{\"tag\":1}", "tag", "list_type"},
        {"{\"tag\":[1]}", "tag", "string_type"},
        {"{\"tag\":[\"\"]}", "tag", "string_too_short"},
        {"{\"tag\":{\"a\":1}}", "tag", "list_type"},
        {"{\"search\":5}", "search", "string_type"},
        {"{\"due_before\":1773417600}", "due_before", "datetime_parsing"},
        {"{\"due_after\":\"soon\"}", "due_after", "datetime_parsing"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        args_bad(x, bad[i].json, bad[i].key, bad[i].type);
    struct dynbuf d;
    dyn_init_arena(&d, x->a, 4096);
    dyn_add(&d, "{\"tag\":[");
    for (int i = 0; i <= TASK_MAX_TAGS; i++)
        dyn_addf(&d, "%s\"t%d\"", i ? "," : "", i);
    dyn_add(&d, "]}");
    args_bad(x, dyn_str(&d), "tag", "too_long");
    /* Several bad keys: one error each, at the caller's location. */
    assert_int_equal(parse_args(x, "{\"status\":\"x\",\"sort\":\"y\",\"limit\":0}"), ERR_INVALID);
    assert_int_equal(x->errs.n, 3);
    for (size_t i = 0; i < x->errs.n; i++)
        assert_string_equal(x->errs.e[i].where, "arguments");
    /* Not an object: no keys, so the defaults. */
    args_ok(x, "[1,2]");
    assert_int_equal(x->f.limit, TASK_LIST_DEFAULT);
}

/* --- the domain refuses what did not come through its parsers --- */

static void test_domain_refuses_out_of_range(void **state)
{
    struct fx *x = *state;
    struct task_filter ok;
    task_filter_defaults(&ok);
    assert_int_equal(task_filter_check(&ok), ERR_OK);
    struct field_list many = {.n = TASK_MAX_TAGS + 1};
    struct field_list holes = {.n = 2, .v = {"a", NULL}};
    static const struct {
        int status, priority, sort, order, overdue, limit, offset;
    } bad[] = {
        {3, -1, 0, -1, -1, 50, 0},  {-1, -1, 0, -1, -1, 50, 0}, {0, 3, 0, -1, -1, 50, 0},
        {0, -2, 0, -1, -1, 50, 0},  {0, -1, 5, -1, -1, 50, 0},  {0, -1, -1, -1, -1, 50, 0},
        {0, -1, 99, -1, -1, 50, 0}, {0, -1, 0, 2, -1, 50, 0},   {0, -1, 0, -2, -1, 50, 0},
        {0, -1, 0, -1, 2, 50, 0},   {0, -1, 0, -1, -2, 50, 0},  {0, -1, 0, -1, -1, 0, 0},
        {0, -1, 0, -1, -1, 201, 0}, {0, -1, 0, -1, -1, 50, -1},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct task_filter f = ok;
        f.status = (enum task_status)bad[i].status;
        f.priority = bad[i].priority;
        f.sort = (enum task_sort)bad[i].sort;
        f.order = bad[i].order;
        f.overdue = bad[i].overdue;
        f.limit = bad[i].limit;
        f.offset = bad[i].offset;
        assert_int_equal(task_filter_check(&f), ERR_INVALID);
        /* tasks_list refuses it before it touches the store (there is none here). */
        struct task *out = NULL;
        size_t n = 0;
        int64_t total = 0;
        assert_int_equal(tasks_list(NULL, x->a, "u", &f, &out, &n, &total), ERR_INVALID);
    }
    struct task_filter f = ok;
    f.tags.list = &many;
    assert_int_equal(task_filter_check(&f), ERR_INVALID);
    f.tags.list = &holes;
    assert_int_equal(task_filter_check(&f), ERR_INVALID);
    f = ok;
    f.due_before = TIME_MAX_UNIX + 1;
    assert_int_equal(task_filter_check(&f), ERR_INVALID);

    /* Inputs: enums, the interval, times; a create without its title; an empty patch. */
    struct task_input in;
    struct verrors errs = {0};
    yyjson_doc *d = unit_json(x->a, "{\"title\":\"t\"}");
    assert_int_equal(
        task_input_parse(yyjson_doc_get_root(d), TASK_CREATE, "body", x->a, &in, &errs), ERR_OK);
    assert_int_equal(task_input_check(&in, TASK_CREATE), ERR_OK);
    struct task t;
    struct task_input b;
    b = in;
    b.v.priority = (enum task_priority)3;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.v.priority = (enum task_priority) - 1;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.v.recurrence = (enum task_recurrence)5;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.v.recurrence_interval = 0;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.v.recurrence_interval = TASK_INTERVAL_MAX + 1;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.v.due_at = -5;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.v.tags.list = &many;
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.present = 0; /* no title */
    assert_int_equal(tasks_create(NULL, x->a, "u", &b, &t), ERR_INVALID);
    b = in;
    b.present = 0;
    assert_int_equal(tasks_update(NULL, x->a, "u", 1, &b, &t), ERR_INVALID);
    b = in;
    b.present = TF_PRIORITY;
    b.v.priority = (enum task_priority)42;
    assert_int_equal(tasks_update(NULL, x->a, "u", 1, &b, &t), ERR_INVALID);
}

/* --- the cache key --- */

static const char *key_of(struct fx *x, const struct task_filter *f)
{
    struct dynbuf d;
    dyn_init_arena(&d, x->a, 1 << 16);
    if (!task_filter_key(f, &d))
        return NULL;
    assert_int_equal(dyn_err(&d), ERR_OK);
    return dyn_str(&d);
}

/* Every filter field is in the key: changing any one of them changes it. So a field added
 * to the table cannot be forgotten by the cache. */
static void test_filter_key(void **state)
{
    struct fx *x = *state;
    query_ok(x, "");
    const char *base = key_of(x, &x->f);
    assert_non_null(base);
    static const char *one_each[] = {
        "status=pending",       "priority=high", "tag=a",     "search=a", "due_before=2026-01-01",
        "due_after=2026-01-01", "sort=title",    "order=asc", "limit=49", "offset=1",
    };
    const char *seen[ARRAY_LEN(one_each)];
    for (size_t i = 0; i < ARRAY_LEN(one_each); i++) {
        query_ok(x, one_each[i]);
        seen[i] = key_of(x, &x->f);
        assert_non_null(seen[i]);
        if (strcmp(seen[i], base) == 0)
            fail_msg("%s leaves the key unchanged", one_each[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
    /* Every field of the table is covered above or is clock-dependent (never cached). */
    for (size_t i = 0; i < TASK_FILTER_NFIELDS; i++) {
        bool covered = task_filter_fields[i].flags & FF_CLOCK;
        for (size_t j = 0; j < ARRAY_LEN(one_each) && !covered; j++)
            covered = strncmp(one_each[j], task_filter_fields[i].name,
                              strlen(task_filter_fields[i].name)) == 0 &&
                      one_each[j][strlen(task_filter_fields[i].name)] == '=';
        if (!covered)
            fail_msg("filter key %s is not tested here", task_filter_fields[i].name);
    }
    /* Same filter, same key; texts cannot run into each other. */
    query_ok(x, "tag=a&tag=b");
    const char *ab = key_of(x, &x->f);
    query_ok(x, "tag=a&tag=b");
    assert_string_equal(key_of(x, &x->f), ab);
    query_ok(x, "tag=a|b");
    assert_string_not_equal(key_of(x, &x->f), ab);
    query_ok(x, "search=1:a");
    const char *s1 = key_of(x, &x->f);
    query_ok(x, "search=1");
    assert_string_not_equal(key_of(x, &x->f), s1);
    /* The clock decides what overdue selects: no key, so never cached. */
    query_ok(x, "overdue=true");
    assert_null(key_of(x, &x->f));
    query_ok(x, "overdue=false");
    assert_null(key_of(x, &x->f));
}

/* --- JSON Schema --- */

static yyjson_mut_doc *new_doc(struct fx *x)
{
    yyjson_alc alc;
    arena_yyjson_alc(x->a, &alc);
    yyjson_mut_doc *d = yyjson_mut_doc_new(&alc);
    assert_non_null(d);
    return d;
}

static const char *text_of(struct fx *x, yyjson_mut_val *v)
{
    yyjson_alc alc;
    arena_yyjson_alc(x->a, &alc);
    return yyjson_mut_val_write_opts(v, 0, &alc, NULL, NULL);
}

static void test_derived_schemas(void **state)
{
    struct fx *x = *state;
    yyjson_mut_doc *d = new_doc(x);
    yyjson_mut_val *out = task_json_schema(d, FS_OUTPUT);
    assert_string_equal(yyjson_mut_get_str(yyjson_mut_obj_get(out, "type")), "object");
    assert_int_equal(yyjson_mut_obj_size(yyjson_mut_obj_get(out, "properties")), TASK_NFIELDS);
    assert_int_equal(yyjson_mut_arr_size(yyjson_mut_obj_get(out, "required")), TASK_NFIELDS);
    assert_true(yyjson_mut_is_false(yyjson_mut_obj_get(out, "additionalProperties")));
    yyjson_mut_val *props = yyjson_mut_obj_get(out, "properties");
    assert_string_equal(text_of(x, yyjson_mut_obj_get(yyjson_mut_obj_get(props, "due_at"), "type")),
                        "[\"string\",\"null\"]");

    yyjson_mut_val *create = task_json_schema(d, FS_CREATE);
    assert_string_equal(text_of(x, yyjson_mut_obj_get(create, "required")), "[\"title\"]");
    props = yyjson_mut_obj_get(create, "properties");
    assert_null(yyjson_mut_obj_get(props, "id"));
    assert_null(yyjson_mut_obj_get(props, "user_id")); /* never from input */
    assert_int_equal(yyjson_mut_obj_size(props), 9);
    yyjson_mut_val *prio = yyjson_mut_obj_get(props, "priority");
    assert_string_equal(yyjson_mut_get_str(yyjson_mut_obj_get(prio, "default")), "medium");
    assert_string_equal(text_of(x, yyjson_mut_obj_get(prio, "enum")),
                        "[\"high\",\"medium\",\"low\"]");
    yyjson_mut_val *rec = yyjson_mut_obj_get(props, "recurrence");
    assert_string_equal(text_of(x, yyjson_mut_obj_get(rec, "enum")),
                        "[\"none\",\"daily\",\"weekly\",\"monthly\",\"yearly\",null]");
    yyjson_mut_val *interval = yyjson_mut_obj_get(props, "recurrence_interval");
    assert_int_equal(yyjson_mut_get_sint(yyjson_mut_obj_get(interval, "maximum")),
                     TASK_INTERVAL_MAX);

    yyjson_mut_val *patch = task_json_schema(d, FS_PATCH);
    assert_null(yyjson_mut_obj_get(patch, "required"));
    assert_int_equal(yyjson_mut_get_sint(yyjson_mut_obj_get(patch, "minProperties")), 1);
    assert_null(yyjson_mut_obj_get(
        yyjson_mut_obj_get(yyjson_mut_obj_get(patch, "properties"), "priority"), "default"));

    /* A tool's filter: a tag may be one string or a list of them. */
    yyjson_mut_val *args = task_filter_json_schema(d, FS_ARGS);
    props = yyjson_mut_obj_get(args, "properties");
    assert_int_equal(yyjson_mut_obj_size(props), TASK_FILTER_NFIELDS);
    assert_true(yyjson_mut_is_false(yyjson_mut_obj_get(args, "additionalProperties")));
    yyjson_mut_val *tag = yyjson_mut_obj_get(props, "tag");
    assert_int_equal(yyjson_mut_arr_size(yyjson_mut_obj_get(tag, "anyOf")), 2);
    yyjson_mut_val *limit = yyjson_mut_obj_get(props, "limit");
    assert_string_equal(text_of(x, limit),
                        "{\"type\":\"integer\",\"minimum\":1,\"maximum\":200,\"default\":50,"
                        "\"description\":\"The page size.\"}");
    /* Every property says what it is for (a model reads these). */
    yyjson_mut_obj_iter it;
    yyjson_mut_obj_iter_init(props, &it);
    yyjson_mut_val *k;
    while ((k = yyjson_mut_obj_iter_next(&it)))
        assert_non_null(yyjson_mut_obj_get(yyjson_mut_obj_iter_get_val(k), "description"));
}

/* --- docs/openapi.json agrees with the derived schemas --- */

/* Keys that describe but do not constrain. */
static bool annotation(const char *k)
{
    static const char *keys[] = {"description", "example", "examples", "title", "$comment"};
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

static yyjson_mut_val *norm(yyjson_mut_doc *out, yyjson_val *root, yyjson_val *v, int depth);

/* Merges the object src into dst: properties are united, required lists joined, the rest
 * set (src wins). */
static void merge_into(yyjson_mut_doc *out, yyjson_mut_val *dst, yyjson_mut_val *src)
{
    yyjson_mut_obj_iter it;
    yyjson_mut_obj_iter_init(src, &it);
    yyjson_mut_val *k;
    while ((k = yyjson_mut_obj_iter_next(&it))) {
        const char *name = yyjson_mut_get_str(k);
        yyjson_mut_val *v = yyjson_mut_obj_iter_get_val(k);
        yyjson_mut_val *have = yyjson_mut_obj_get(dst, name);
        if (have && strcmp(name, "properties") == 0) {
            merge_into(out, have, v);
        } else if (have && strcmp(name, "required") == 0) {
            size_t i, max;
            yyjson_mut_val *item;
            yyjson_mut_arr_foreach(v, i, max, item)
                yyjson_mut_arr_append(have, yyjson_mut_val_mut_copy(out, item));
        } else {
            yyjson_mut_obj_put(dst, yyjson_mut_strcpy(out, name), yyjson_mut_val_mut_copy(out, v));
        }
    }
}

/* The schema v with every local $ref inlined, allOf merged, annotations dropped and
 * unevaluatedProperties read as additionalProperties. */
static yyjson_mut_val *norm(yyjson_mut_doc *out, yyjson_val *root, yyjson_val *v, int depth)
{
    if (depth > 32)
        fail_msg("schema nesting too deep (a $ref cycle?)");
    if (yyjson_is_arr(v)) {
        yyjson_mut_val *a = yyjson_mut_arr(out);
        size_t i, max;
        yyjson_val *item;
        yyjson_arr_foreach(v, i, max, item)
            yyjson_mut_arr_append(a, norm(out, root, item, depth + 1));
        return a;
    }
    if (!yyjson_is_obj(v))
        return yyjson_val_mut_copy(out, v);
    yyjson_mut_val *o = yyjson_mut_obj(out);
    const char *ref = json_cstr(yyjson_obj_get(v, "$ref"));
    if (ref) {
        if (strncmp(ref, "#/", 2) != 0)
            fail_msg("non-local $ref %s", ref);
        yyjson_val *target = yyjson_ptr_get(root, ref + 1);
        if (!target)
            fail_msg("dangling $ref %s", ref);
        merge_into(out, o, norm(out, root, target, depth + 1));
    }
    yyjson_val *all = yyjson_obj_get(v, "allOf");
    size_t i, max;
    yyjson_val *item;
    yyjson_arr_foreach(all, i, max, item) merge_into(out, o, norm(out, root, item, depth + 1));
    yyjson_val *k, *val;
    yyjson_obj_foreach(v, i, max, k, val)
    {
        const char *name = yyjson_get_str(k);
        if (strcmp(name, "$ref") == 0 || strcmp(name, "allOf") == 0 || annotation(name))
            continue;
        if (strcmp(name, "unevaluatedProperties") == 0)
            name = "additionalProperties";
        yyjson_mut_val *n = yyjson_mut_obj(out);
        yyjson_mut_obj_add_val(out, n, name, norm(out, root, val, depth + 1));
        merge_into(out, o, n);
    }
    return o;
}

/* The derived schema without its annotations. */
static yyjson_mut_val *strip(yyjson_mut_doc *out, yyjson_mut_val *v)
{
    if (yyjson_mut_is_arr(v)) {
        yyjson_mut_val *a = yyjson_mut_arr(out);
        size_t i, max;
        yyjson_mut_val *item;
        yyjson_mut_arr_foreach(v, i, max, item) yyjson_mut_arr_append(a, strip(out, item));
        return a;
    }
    if (!yyjson_mut_is_obj(v))
        return yyjson_mut_val_mut_copy(out, v);
    yyjson_mut_val *o = yyjson_mut_obj(out);
    yyjson_mut_obj_iter it;
    yyjson_mut_obj_iter_init(v, &it);
    yyjson_mut_val *k;
    while ((k = yyjson_mut_obj_iter_next(&it)))
        if (!annotation(yyjson_mut_get_str(k)))
            yyjson_mut_obj_add_val(out, o, yyjson_mut_get_str(k),
                                   strip(out, yyjson_mut_obj_iter_get_val(k)));
    return o;
}

/* Compares two normalised schemas; on the first difference fails naming its path. */
static void agree(struct fx *x, const char *path, yyjson_mut_val *doc_v, yyjson_mut_val *derived)
{
    if (yyjson_mut_is_obj(doc_v) && yyjson_mut_is_obj(derived)) {
        yyjson_mut_obj_iter it;
        yyjson_mut_obj_iter_init(derived, &it);
        yyjson_mut_val *k;
        while ((k = yyjson_mut_obj_iter_next(&it))) {
            const char *name = yyjson_mut_get_str(k) ? yyjson_mut_get_str(k) : "?";
            const char *sub = arena_printf(x->a, "%s/%s", path, name);
            yyjson_mut_val *d = yyjson_mut_obj_get(doc_v, name);
            if (!d)
                fail_msg("%s: %s is missing, the table gives %s", OPENAPI_PATH, sub ? sub : name,
                         text_of(x, yyjson_mut_obj_iter_get_val(k)));
            agree(x, sub, d, yyjson_mut_obj_iter_get_val(k));
        }
        yyjson_mut_obj_iter_init(doc_v, &it);
        while ((k = yyjson_mut_obj_iter_next(&it)))
            if (!yyjson_mut_obj_get(derived, yyjson_mut_get_str(k)))
                fail_msg("%s: %s/%s is %s, the table gives nothing", OPENAPI_PATH, path,
                         yyjson_mut_get_str(k), text_of(x, yyjson_mut_obj_iter_get_val(k)));
        return;
    }
    if (!yyjson_mut_equals(doc_v, derived))
        fail_msg("%s: %s is %s, the table gives %s", OPENAPI_PATH, path, text_of(x, doc_v),
                 text_of(x, derived));
}

static yyjson_doc *openapi(struct fx *x)
{
    FILE *fp = fopen(OPENAPI_PATH, "rb");
    if (!fp)
        fail_msg("cannot open %s (run the unit tests from the repository's root)", OPENAPI_PATH);
    char *buf = arena_alloc(x->a, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return unit_json(x->a, buf);
}

static void test_openapi_agrees_with_the_table(void **state)
{
    struct fx *x = *state;
    yyjson_doc *api = openapi(x);
    yyjson_val *root = yyjson_doc_get_root(api);
    yyjson_mut_doc *d = new_doc(x);
    static const struct {
        const char *name;
        enum field_schema mode;
    } schemas[] = {
        {"Task", FS_OUTPUT},
        {"TaskCreate", FS_CREATE},
        {"TaskUpdate", FS_PATCH},
        {"TaskPatch", FS_PATCH}, /* when the document has one */
    };
    size_t compared = 0;
    for (size_t i = 0; i < ARRAY_LEN(schemas); i++) {
        yyjson_val *s =
            yyjson_ptr_get(root, arena_printf(x->a, "/components/schemas/%s", schemas[i].name));
        if (!s && strcmp(schemas[i].name, "TaskPatch") == 0)
            continue;
        if (!s)
            fail_msg("%s has no %s schema", OPENAPI_PATH, schemas[i].name);
        agree(x, schemas[i].name, norm(d, root, s, 0),
              strip(d, task_json_schema(d, schemas[i].mode)));
        compared++;
    }
    assert_true(compared >= 3);

    /* The list's query parameters are the filter's keys, with the filter's schemas. */
    yyjson_val *params = yyjson_ptr_get(root, "/paths/~1api~1{user_id}~1tasks/get/parameters");
    if (!yyjson_is_arr(params))
        fail_msg("%s: no parameters for GET /api/{user_id}/tasks", OPENAPI_PATH);
    yyjson_mut_val *query = yyjson_mut_obj(d);
    size_t i, max;
    yyjson_val *p;
    yyjson_arr_foreach(params, i, max, p)
    {
        yyjson_mut_val *np = norm(d, root, p, 0);
        const char *in = yyjson_mut_get_str(yyjson_mut_obj_get(np, "in"));
        if (in && strcmp(in, "query") == 0)
            yyjson_mut_obj_add_val(d, query, yyjson_mut_get_str(yyjson_mut_obj_get(np, "name")),
                                   yyjson_mut_obj_get(np, "schema"));
    }
    yyjson_mut_val *derived = strip(d, task_filter_json_schema(d, FS_QUERY));
    agree(x, "GET /api/{user_id}/tasks query", query, yyjson_mut_obj_get(derived, "properties"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_task_table),
        T(test_filter_table),
        T(test_filter_every_key),
        T(test_filter_bad_values),
        T(test_filter_bounds),
        T(test_filter_tool_arguments),
        T(test_domain_refuses_out_of_range),
        T(test_filter_key),
        T(test_derived_schemas),
        T(test_openapi_agrees_with_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
