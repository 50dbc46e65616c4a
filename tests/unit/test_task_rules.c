/*
 * Unit tests for the task rules and JSON (src/domain/task_schema.c): every field of a
 * create / replace / patch body is checked against its limit (titles and descriptions
 * counted in code points), each error carries loc ("body", field) and its FastAPI type,
 * date-only times become the end (due) or start (remind) of the day, and task_to_json
 * gives the API's object with the right JSON types, byte for byte, never indexing a name
 * table with an out-of-range value.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/tasks.h"

struct fixture {
    struct arena *arena;
    struct task_input in;
    struct verrors errs;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->arena = arena_new();
    if (!f->arena) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    arena_free(f->arena);
    free(f);
    return 0;
}

static int parse(struct fixture *f, const char *json, enum task_input_mode mode)
{
    memset(&f->errs, 0, sizeof(f->errs));
    yyjson_doc *doc = unit_json(f->arena, json);
    return task_input_parse(yyjson_doc_get_root(doc), mode, "body", f->arena, &f->in, &f->errs);
}

/* How many tags the parsed input holds. */
static size_t ntags(const struct fixture *f)
{
    return f->in.v.tags.list ? f->in.v.tags.list->n : 0;
}

static void dump(const struct fixture *f)
{
    for (size_t i = 0; i < f->errs.n; i++)
        print_error("  error %zu: loc (%s, %s) %s [%s]\n", i, f->errs.e[i].where,
                    f->errs.e[i].field ? f->errs.e[i].field : "-", f->errs.e[i].msg,
                    f->errs.e[i].type);
}

static void expect_ok(struct fixture *f, const char *json, enum task_input_mode mode)
{
    int rc = parse(f, json, mode);
    if (rc != ERR_OK || f->errs.n != 0) {
        dump(f);
        fail_msg("refused (rc %d): %.120s", rc, json);
    }
}

/* Expects exactly one error, at ("body", field) (field NULL: the whole body), of type. */
static void expect_error(struct fixture *f, const char *json, enum task_input_mode mode,
                         const char *field, const char *type)
{
    int rc = parse(f, json, mode);
    bool ok = rc == ERR_INVALID && f->errs.n == 1 && f->errs.e[0].where &&
              strcmp(f->errs.e[0].where, "body") == 0 &&
              (field ? f->errs.e[0].field && strcmp(f->errs.e[0].field, field) == 0
                     : f->errs.e[0].field == NULL) &&
              strcmp(f->errs.e[0].type, type) == 0 && f->errs.e[0].msg && f->errs.e[0].msg[0];
    if (!ok) {
        dump(f);
        fail_msg("%.120s: rc %d, want one error at (body, %s) of type %s", json, rc,
                 field ? field : "-", type);
    }
}

/* A JSON object {"<key>": "<unit × n>"} built in the arena. */
static const char *repeat_field(struct fixture *f, const char *key, const char *unit, size_t n)
{
    struct dynbuf d;
    dyn_init_arena(&d, f->arena, 1 << 20);
    dyn_addf(&d, "{\"%s\":\"", key);
    for (size_t i = 0; i < n; i++)
        dyn_add(&d, unit);
    dyn_add(&d, "\"}");
    assert_int_equal(dyn_err(&d), ERR_OK);
    return dyn_str(&d);
}

static void test_minimal_create(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, "{\"title\":\"  Buy milk \\t\"}", TASK_CREATE);
    assert_string_equal(f->in.v.title, "Buy milk");
    assert_int_equal(f->in.present, TF_TITLE);
    assert_int_equal(f->in.v.priority, PRIO_MEDIUM);
    assert_int_equal(f->in.v.recurrence, REC_NONE);
    assert_int_equal(f->in.v.recurrence_interval, 1);
    assert_int_equal(ntags(f), 0);
    assert_int_equal(f->in.v.due_at, 0);
    assert_int_equal(f->in.v.remind_at, 0);
    assert_null(f->in.v.description);
    assert_false(f->in.v.completed);
}

static void test_full_create(void **state)
{
    struct fixture *f = *state;
    expect_ok(f,
              "{\"title\":\"Pay rent\",\"description\":\"line 1\\nline 2\",\"completed\":true,"
              "\"priority\":\"HIGH\",\"tags\":[\" home \",\"Bills\"],\"due_at\":"
              "\"2026-01-31T17:00:00+01:00\",\"remind_at\":\"2026-01-30T09:00:00Z\","
              "\"recurrence\":\"Monthly\",\"recurrence_interval\":2}",
              TASK_CREATE);
    assert_int_equal(f->in.present, TF_TITLE | TF_DESCRIPTION | TF_COMPLETED | TF_PRIORITY |
                                        TF_TAGS | TF_DUE_AT | TF_REMIND_AT | TF_RECURRENCE |
                                        TF_RECURRENCE_INTERVAL);
    assert_string_equal(f->in.v.title, "Pay rent");
    assert_string_equal(f->in.v.description, "line 1\nline 2");
    assert_true(f->in.v.completed);
    assert_int_equal(f->in.v.priority, PRIO_HIGH);
    assert_int_equal(ntags(f), 2);
    assert_string_equal(f->in.v.tags.list->v[0], "home");
    assert_string_equal(f->in.v.tags.list->v[1], "Bills");
    assert_int_equal(f->in.v.due_at, 1769875200); /* 2026-01-31T16:00:00Z */
    assert_int_equal(f->in.v.remind_at, 1769763600);
    assert_int_equal(f->in.v.recurrence, REC_MONTHLY);
    assert_int_equal(f->in.v.recurrence_interval, 2);
}

static void test_title_rules(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "{}", TASK_CREATE, "title", "missing");
    expect_error(f, "{\"description\":\"x\"}", TASK_CREATE, "title", "missing");
    expect_error(f, "{\"title\":\"\"}", TASK_CREATE, "title", "string_too_short");
    expect_error(f, "{\"title\":\"   \"}", TASK_CREATE, "title", "string_too_short");
    expect_error(f, "{\"title\":null}", TASK_CREATE, "title", "string_type");
    expect_error(f, "{\"title\":null}", TASK_PATCH, "title", "string_type");
    expect_error(f, "{\"title\":42}", TASK_CREATE, "title", "string_type");
    expect_error(f, "{\"title\":[\"a\"]}", TASK_CREATE, "title", "string_type");
    expect_error(f, "{\"title\":\"a\\u0001b\"}", TASK_CREATE, "title", "value_error");
    expect_error(f, "{\"title\":\"a\\u0000b\"}", TASK_CREATE, "title", "value_error");
    expect_error(f, "{\"title\":\"a\\nb\"}", TASK_CREATE, "title", "value_error");
    expect_error(f, "{\"title\":\"a\\u007fb\"}", TASK_CREATE, "title", "value_error");
    /* C1 controls (U+0080..U+009F) are control characters too; U+00A0 is not. */
    expect_error(f, "{\"title\":\"a\\u0085b\"}", TASK_CREATE, "title", "value_error");
    expect_error(f, "{\"title\":\"a\\u009fb\"}", TASK_CREATE, "title", "value_error");
    expect_ok(f, "{\"title\":\"a\\u00a0b\"}", TASK_CREATE);
    /* Tabs are allowed inside. */
    expect_ok(f, "{\"title\":\"a\\tb\"}", TASK_CREATE);
    assert_string_equal(f->in.v.title, "a\tb");
}

static void test_title_length_in_code_points(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, repeat_field(f, "title", "a", TASK_TITLE_MAX), TASK_CREATE);
    assert_int_equal(strlen(f->in.v.title), TASK_TITLE_MAX);
    expect_error(f, repeat_field(f, "title", "a", TASK_TITLE_MAX + 1), TASK_CREATE, "title",
                 "string_too_long");
    /* 200 two-byte, three-byte and four-byte characters are 200 characters. */
    expect_ok(f, repeat_field(f, "title", "\xc3\xa9", TASK_TITLE_MAX), TASK_CREATE);
    assert_int_equal(strlen(f->in.v.title), 2 * TASK_TITLE_MAX);
    expect_ok(f, repeat_field(f, "title", "\xe2\x82\xac", TASK_TITLE_MAX), TASK_CREATE);
    expect_ok(f, repeat_field(f, "title", "\xf0\x9f\x98\x80", TASK_TITLE_MAX), TASK_CREATE);
    assert_int_equal(strlen(f->in.v.title), 4 * TASK_TITLE_MAX);
    expect_error(f, repeat_field(f, "title", "\xc3\xa9", TASK_TITLE_MAX + 1), TASK_CREATE, "title",
                 "string_too_long");
    expect_error(f, repeat_field(f, "title", "\xf0\x9f\x98\x80", TASK_TITLE_MAX + 1), TASK_CREATE,
                 "title", "string_too_long");
    /* One multi-byte character is one character, not too short or long. */
    expect_ok(f, "{\"title\":\"\xe2\x9c\x93\"}", TASK_CREATE);
    /* Surrounding white space does not count. */
    char *inner = arena_alloc(f->arena, TASK_TITLE_MAX + 1);
    assert_non_null(inner);
    memset(inner, 'b', TASK_TITLE_MAX);
    inner[TASK_TITLE_MAX] = '\0';
    expect_ok(f, arena_printf(f->arena, "{\"title\":\"   %s \\t \"}", inner), TASK_CREATE);
    assert_int_equal(strlen(f->in.v.title), TASK_TITLE_MAX);
}

static void test_description_rules(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, "{\"title\":\"t\",\"description\":null}", TASK_CREATE);
    assert_true(f->in.present & TF_DESCRIPTION);
    assert_null(f->in.v.description);
    expect_ok(f, "{\"title\":\"t\",\"description\":\"  \"}", TASK_CREATE);
    assert_true(f->in.present & TF_DESCRIPTION);
    assert_null(f->in.v.description);
    expect_ok(f, "{\"description\":\"multi\\r\\nline\\ttext\"}", TASK_PATCH);
    assert_string_equal(f->in.v.description, "multi\r\nline\ttext");
    assert_int_equal(f->in.present, TF_DESCRIPTION);

    expect_ok(f, repeat_field(f, "description", "d", TASK_DESCRIPTION_MAX), TASK_PATCH);
    assert_int_equal(strlen(f->in.v.description), TASK_DESCRIPTION_MAX);
    expect_ok(f, repeat_field(f, "description", "\xe2\x82\xac", TASK_DESCRIPTION_MAX), TASK_PATCH);
    expect_error(f, repeat_field(f, "description", "d", TASK_DESCRIPTION_MAX + 1), TASK_PATCH,
                 "description", "string_too_long");
    expect_error(f, repeat_field(f, "description", "\xc3\xa9", TASK_DESCRIPTION_MAX + 1),
                 TASK_PATCH, "description", "string_too_long");
    expect_error(f, "{\"title\":\"t\",\"description\":5}", TASK_CREATE, "description",
                 "string_type");
    expect_error(f, "{\"title\":\"t\",\"description\":\"bell\\u0007\"}", TASK_CREATE, "description",
                 "value_error");
}

/* {"title":"t","tags":[n distinct tags]} */
static const char *n_tags(struct fixture *f, size_t n)
{
    struct dynbuf d;
    dyn_init_arena(&d, f->arena, 4096);
    dyn_add(&d, "{\"title\":\"t\",\"tags\":[");
    for (size_t i = 0; i < n; i++)
        dyn_addf(&d, "%s\"tag%zu\"", i ? "," : "", i);
    dyn_add(&d, "]}");
    assert_int_equal(dyn_err(&d), ERR_OK);
    return dyn_str(&d);
}

static void test_tag_rules(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, n_tags(f, TASK_MAX_TAGS), TASK_CREATE);
    assert_int_equal(ntags(f), TASK_MAX_TAGS);
    assert_string_equal(f->in.v.tags.list->v[19], "tag19");
    expect_error(f, n_tags(f, TASK_MAX_TAGS + 1), TASK_CREATE, "tags", "too_long");

    expect_ok(f, "{\"tags\":[]}", TASK_PATCH);
    assert_int_equal(f->in.present, TF_TAGS);
    assert_int_equal(ntags(f), 0);
    expect_ok(f, "{\"tags\":null}", TASK_PATCH);
    assert_int_equal(f->in.present, TF_TAGS);
    assert_int_equal(ntags(f), 0);

    char *tag50 = arena_printf(f->arena, "{\"tags\":[\"%s\"]}",
                               "12345678901234567890123456789012345678901234567890");
    expect_ok(f, tag50, TASK_PATCH);
    assert_int_equal(strlen(f->in.v.tags.list->v[0]), TASK_TAG_MAX);
    char *tag51 = arena_printf(f->arena, "{\"tags\":[\"%s\"]}",
                               "123456789012345678901234567890123456789012345678901");
    expect_error(f, tag51, TASK_PATCH, "tags", "string_too_long");
    expect_error(f, "{\"tags\":[\"ok\",\"\"]}", TASK_PATCH, "tags", "string_too_short");
    expect_error(f, "{\"tags\":[\"  \"]}", TASK_PATCH, "tags", "string_too_short");
    expect_error(f, "{\"tags\":[1]}", TASK_PATCH, "tags", "string_type");
    expect_error(f, "{\"tags\":[null]}", TASK_PATCH, "tags", "string_type");
    expect_error(f, "{\"tags\":\"work\"}", TASK_PATCH, "tags", "list_type");
    expect_error(f, "{\"tags\":{\"a\":1}}", TASK_PATCH, "tags", "list_type");
    expect_error(f, "{\"tags\":[\"x\\ny\"]}", TASK_PATCH, "tags", "value_error");
    /* Duplicates are found case-insensitively and after trimming. */
    expect_error(f, "{\"tags\":[\"Work\",\"home\",\"work\"]}", TASK_PATCH, "tags", "value_error");
    expect_error(f, "{\"tags\":[\"a\",\" a \"]}", TASK_PATCH, "tags", "value_error");
    expect_ok(f, "{\"tags\":[\"work\",\"workshop\"]}", TASK_PATCH);
    assert_int_equal(ntags(f), 2);
}

static void test_enums(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        enum task_priority p;
    } prios[] = {{"high", PRIO_HIGH}, {"Medium", PRIO_MEDIUM}, {"LOW", PRIO_LOW}};
    for (size_t i = 0; i < ARRAY_LEN(prios); i++) {
        char *json = arena_printf(f->arena, "{\"priority\":\"%s\"}", prios[i].text);
        expect_ok(f, json, TASK_PATCH);
        assert_int_equal(f->in.v.priority, prios[i].p);
        assert_int_equal(f->in.present, TF_PRIORITY);
    }
    expect_error(f, "{\"priority\":\"urgent\"}", TASK_PATCH, "priority", "enum");
    expect_error(f, "{\"priority\":1}", TASK_PATCH, "priority", "enum");
    expect_error(f, "{\"priority\":null}", TASK_PATCH, "priority", "enum");
    expect_error(f, "{\"priority\":\"\"}", TASK_PATCH, "priority", "enum");
    /* Regression: a NUL cut the C string short, so "high\u0000x" read as "high". */
    expect_error(f, "{\"priority\":\"high\\u0000x\"}", TASK_PATCH, "priority", "enum");
    expect_error(f, "{\"recurrence\":\"daily\\u0000\"}", TASK_PATCH, "recurrence", "enum");

    static const struct {
        const char *text;
        enum task_recurrence r;
    } recs[] = {{"none", REC_NONE},
                {"daily", REC_DAILY},
                {"Weekly", REC_WEEKLY},
                {"monthly", REC_MONTHLY},
                {"YEARLY", REC_YEARLY}};
    for (size_t i = 0; i < ARRAY_LEN(recs); i++) {
        char *json = arena_printf(f->arena, "{\"recurrence\":\"%s\"}", recs[i].text);
        expect_ok(f, json, TASK_PATCH);
        assert_int_equal(f->in.v.recurrence, recs[i].r);
    }
    expect_ok(f, "{\"recurrence\":null}", TASK_PATCH);
    assert_int_equal(f->in.v.recurrence, REC_NONE);
    assert_int_equal(f->in.present, TF_RECURRENCE);
    expect_error(f, "{\"recurrence\":\"hourly\"}", TASK_PATCH, "recurrence", "enum");
    expect_error(f, "{\"recurrence\":7}", TASK_PATCH, "recurrence", "enum");

    /* Names of values outside the enums are refused, not read out of the table. */
    assert_string_equal(task_priority_name(PRIO_LOW), "low");
    assert_string_equal(task_recurrence_name(REC_YEARLY), "yearly");
    assert_null(task_priority_name((enum task_priority)3));
    assert_null(task_priority_name((enum task_priority) - 1));
    assert_null(task_recurrence_name((enum task_recurrence)5));
}

static void test_interval_rules(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, "{\"recurrence_interval\":1}", TASK_PATCH);
    assert_int_equal(f->in.v.recurrence_interval, 1);
    expect_ok(f, "{\"recurrence_interval\":1000}", TASK_PATCH);
    assert_int_equal(f->in.v.recurrence_interval, 1000);
    assert_int_equal(f->in.present, TF_RECURRENCE_INTERVAL);
    static const char *bad[] = {
        "{\"recurrence_interval\":0}",
        "{\"recurrence_interval\":1001}",
        "{\"recurrence_interval\":-1}",
        "{\"recurrence_interval\":1.5}",
        "{\"recurrence_interval\":2.0}",
        "{\"recurrence_interval\":\"2\"}",
        "{\"recurrence_interval\":true}",
        "{\"recurrence_interval\":null}",
        "{\"recurrence_interval\":18446744073709551615}",
        "{\"recurrence_interval\":4294967297}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_error(f, bad[i], TASK_PATCH, "recurrence_interval", "int_type");
}

static void test_completed_rules(void **state)
{
    struct fixture *f = *state;
    expect_ok(f, "{\"completed\":false}", TASK_PATCH);
    assert_int_equal(f->in.present, TF_COMPLETED);
    assert_false(f->in.v.completed);
    expect_ok(f, "{\"completed\":true}", TASK_PATCH);
    assert_true(f->in.v.completed);
    expect_error(f, "{\"completed\":\"true\"}", TASK_PATCH, "completed", "bool_type");
    expect_error(f, "{\"completed\":1}", TASK_PATCH, "completed", "bool_type");
    expect_error(f, "{\"completed\":null}", TASK_PATCH, "completed", "bool_type");
}

static void test_times(void **state)
{
    struct fixture *f = *state;
    /* A date alone: due at the end of the day, reminded at its start. */
    expect_ok(f, "{\"due_at\":\"2026-01-31\",\"remind_at\":\"2026-01-31\"}", TASK_PATCH);
    assert_int_equal(f->in.v.due_at, 1769903999);    /* 2026-01-31T23:59:59Z */
    assert_int_equal(f->in.v.remind_at, 1769817600); /* 2026-01-31T00:00:00Z */
    assert_int_equal(f->in.present, TF_DUE_AT | TF_REMIND_AT);
    expect_ok(f, "{\"due_at\":\"2026-01-02T03:04:05.250Z\"}", TASK_PATCH);
    assert_int_equal(f->in.v.due_at, 1767323045);
    /* null clears: present with 0. */
    expect_ok(f, "{\"due_at\":null,\"remind_at\":null}", TASK_PATCH);
    assert_int_equal(f->in.present, TF_DUE_AT | TF_REMIND_AT);
    assert_int_equal(f->in.v.due_at, 0);
    assert_int_equal(f->in.v.remind_at, 0);

    static const char *bad[] = {
        "\"tomorrow\"", "\"2026-02-30\"", "\"2026-01-31T17:00:00\"", "1769903999", "\"\"",
        "\"1970-01-01T00:00:00Z\"", "\"2026-01-31T17:00:00Zjunk\"", "true",
        /* Regression: stored with the junk after a NUL dropped. */
        "\"2026-01-31T17:00:00Z\\u0000junk\"", "\"2026-01-31\\u0000\"",
        /* Regression: past year 9999 once a negative offset applies, stored as "". */
        "\"9999-12-31T23:00:00-05:00\"", "\"10000-01-01T00:00:00Z\""};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char *json = arena_printf(f->arena, "{\"due_at\":%s}", bad[i]);
        expect_error(f, json, TASK_PATCH, "due_at", "datetime_parsing");
        json = arena_printf(f->arena, "{\"remind_at\":%s}", bad[i]);
        expect_error(f, json, TASK_PATCH, "remind_at", "datetime_parsing");
    }
}

static void test_patch_needs_a_field(void **state)
{
    struct fixture *f = *state;
    expect_error(f, "{}", TASK_PATCH, NULL, "value_error");
    expect_error(f, "{\"unknown\":1,\"user_id\":\"someone-else\"}", TASK_PATCH, NULL,
                 "value_error");
    /* A patch whose only field is invalid reports that field, not "no fields". */
    expect_error(f, "{\"priority\":\"x\"}", TASK_PATCH, "priority", "enum");
    /* Unknown keys are ignored next to known ones. */
    expect_ok(f, "{\"title\":\"t\",\"id\":99,\"user_id\":\"x\"}", TASK_CREATE);
    assert_int_equal(f->in.present, TF_TITLE);
}

static void test_non_object_body(void **state)
{
    struct fixture *f = *state;
    static const char *bodies[] = {"[]", "[{\"title\":\"t\"}]", "\"title\"", "null", "1", "true"};
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
        expect_error(f, bodies[i], TASK_CREATE, NULL, "dict_type");
        expect_error(f, bodies[i], TASK_PATCH, NULL, "dict_type");
    }
    memset(&f->errs, 0, sizeof(f->errs));
    assert_int_equal(task_input_parse(NULL, TASK_CREATE, "body", f->arena, &f->in, &f->errs),
                     ERR_INVALID);
    assert_int_equal(f->errs.n, 1);
}

static void test_every_error_has_loc(void **state)
{
    struct fixture *f = *state;
    int rc = parse(f,
                   "{\"title\":\"\",\"description\":5,\"completed\":\"yes\",\"priority\":\"x\","
                   "\"tags\":\"y\",\"due_at\":\"bad\",\"remind_at\":7,\"recurrence\":\"z\","
                   "\"recurrence_interval\":0}",
                   TASK_CREATE);
    assert_int_equal(rc, ERR_INVALID);
    static const char *fields[] = {"title",     "description", "completed",
                                   "priority",  "tags",        "due_at",
                                   "remind_at", "recurrence",  "recurrence_interval"};
    if (f->errs.n != ARRAY_LEN(fields))
        dump(f);
    assert_int_equal(f->errs.n, ARRAY_LEN(fields));
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        assert_string_equal(f->errs.e[i].where, "body");
        assert_non_null(f->errs.e[i].field);
        assert_string_equal(f->errs.e[i].field, fields[i]);
        assert_non_null(f->errs.e[i].msg);
        assert_non_null(f->errs.e[i].type);
    }

    /* The FastAPI shape: {"detail":[{"loc":["body","title"],"msg":…,"type":…}, …]}. */
    yyjson_alc alc;
    arena_yyjson_alc(f->arena, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    assert_non_null(doc);
    yyjson_mut_doc_set_root(doc, verr_to_json(&f->errs, doc));
    char *text = yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
    assert_non_null(text);
    assert_true(unit_contains(text, "{\"detail\":[{\"loc\":[\"body\",\"title\"],\"msg\":"));
    assert_true(unit_contains(text, "\"loc\":[\"body\",\"recurrence_interval\"]"));
}

/* Serialises t and parses the result back. */
static yyjson_val *to_json(struct fixture *f, const struct task *t)
{
    yyjson_alc alc;
    arena_yyjson_alc(f->arena, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    assert_non_null(doc);
    yyjson_mut_doc_set_root(doc, task_to_json(doc, t));
    char *text = yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
    assert_non_null(text);
    return yyjson_doc_get_root(unit_json(f->arena, text));
}

static void test_task_to_json_shape(void **state)
{
    struct fixture *f = *state;
    const struct task t = {
        .id = 42,
        .user_id = "6f1c0d4e-1111-4222-8333-944445555666",
        .title = "Pay \"rent\"",
        .description = NULL,
        .completed = true,
        .completed_at = 1767323045, /* 2026-01-02T03:04:05Z */
        .priority = PRIO_HIGH,
        .tags = {"[\"home\",\"bills\"]", NULL},
        .due_at = 1769903999, /* 2026-01-31T23:59:59Z */
        .remind_at = 0,
        .recurrence = REC_MONTHLY,
        .recurrence_interval = 3,
        .created_at = 1767225600, /* 2026-01-01T00:00:00Z */
        .updated_at = 1767323045,
    };
    yyjson_val *o = to_json(f, &t);
    assert_true(yyjson_is_obj(o));
    assert_int_equal(yyjson_obj_size(o), 14);
    assert_true(yyjson_is_int(yyjson_obj_get(o, "id")));
    assert_int_equal(yyjson_get_sint(yyjson_obj_get(o, "id")), 42);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "user_id")), t.user_id);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "title")), "Pay \"rent\"");
    assert_true(yyjson_is_null(yyjson_obj_get(o, "description")));
    assert_true(yyjson_is_true(yyjson_obj_get(o, "completed")));
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "completed_at")), "2026-01-02T03:04:05Z");
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "priority")), "high");
    yyjson_val *tags = yyjson_obj_get(o, "tags");
    assert_true(yyjson_is_arr(tags));
    assert_int_equal(yyjson_arr_size(tags), 2);
    assert_string_equal(yyjson_get_str(yyjson_arr_get(tags, 0)), "home");
    assert_string_equal(yyjson_get_str(yyjson_arr_get(tags, 1)), "bills");
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "due_at")), "2026-01-31T23:59:59Z");
    assert_true(yyjson_is_null(yyjson_obj_get(o, "remind_at")));
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "recurrence")), "monthly");
    assert_true(yyjson_is_int(yyjson_obj_get(o, "recurrence_interval")));
    assert_int_equal(yyjson_get_sint(yyjson_obj_get(o, "recurrence_interval")), 3);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "created_at")), "2026-01-01T00:00:00Z");
    assert_string_equal(yyjson_get_str(yyjson_obj_get(o, "updated_at")), "2026-01-02T03:04:05Z");
}

/* The wire format, byte for byte: key order, spacing, escapes. */
static void test_task_to_json_bytes(void **state)
{
    struct fixture *f = *state;
    const struct task t = {
        .id = 7,
        .user_id = "u",
        .title = "t\xc3\xa9 \"q\"",
        .description = "d",
        .priority = PRIO_MEDIUM,
        .tags = {NULL, NULL},
        .recurrence = REC_NONE,
        .recurrence_interval = 1,
        .created_at = 1767225600,
        .updated_at = 1767225600,
    };
    yyjson_alc alc;
    arena_yyjson_alc(f->arena, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_doc_set_root(doc, task_to_json(doc, &t));
    assert_string_equal(
        yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL),
        "{\"id\":7,\"user_id\":\"u\",\"title\":\"t\xc3\xa9 \\\"q\\\"\",\"description\":\"d\","
        "\"completed\":false,\"completed_at\":null,\"priority\":\"medium\",\"tags\":[],"
        "\"due_at\":null,\"remind_at\":null,\"recurrence\":\"none\",\"recurrence_interval\":1,"
        "\"created_at\":\"2026-01-01T00:00:00Z\",\"updated_at\":\"2026-01-01T00:00:00Z\"}");
}

static void test_task_to_json_fallbacks(void **state)
{
    struct fixture *f = *state;
    /* Out-of-range values never index a table: they are written as null. */
    const struct task t = {
        .id = 7,
        .user_id = "u",
        .title = "t",
        .priority = (enum task_priority)7,
        .recurrence = (enum task_recurrence) - 1,
        .recurrence_interval = 1,
        .created_at = 1767225600,
        .updated_at = 1767225600,
    };
    yyjson_val *o = to_json(f, &t);
    assert_true(yyjson_is_null(yyjson_obj_get(o, "priority")));
    assert_true(yyjson_is_null(yyjson_obj_get(o, "recurrence")));
    assert_true(yyjson_is_null(yyjson_obj_get(o, "description")));
    assert_true(yyjson_is_arr(yyjson_obj_get(o, "tags")));
}

/* yyjson's bytes for t, or NULL when its writer refuses t. */
static const char *yyjson_bytes(struct fixture *f, const struct task *t)
{
    yyjson_alc alc;
    arena_yyjson_alc(f->arena, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    assert_non_null(doc);
    yyjson_mut_doc_set_root(doc, task_to_json(doc, t));
    return yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
}

/* task_write_json (the list's one-pass writer) gives the very bytes of task_to_json through
 * yyjson's writer, for every kind of field and every character class a text can hold. */
static void test_task_write_json_matches_yyjson(void **state)
{
    struct fixture *f = *state;
    char controls[40];
    size_t n = 0;
    for (int c = 1; c < 0x20; c++)
        controls[n++] = (char)c;
    controls[n++] = '\x7f';
    controls[n++] = '/';
    controls[n++] = '\\';
    controls[n++] = '"';
    controls[n] = '\0';
    struct field_list list = {{"home", "caf\xc3\xa9 \"x\"", "\xf0\x9f\x98\x80\n"}, 3};
    const struct task tasks[] = {
        {.id = 7, .user_id = "u", .title = "t", .recurrence_interval = 1, .created_at = 1},
        {.id = INT64_MAX,
         .user_id = "6f1c0d4e-1111-4222-8333-944445555666",
         .title = controls,
         .description = "line 1\r\nline 2\ttab \xe2\x80\xa8 \xe6\x97\xa5\xe6\x9c\xac",
         .completed = true,
         .completed_at = 1767323045,
         .priority = PRIO_LOW,
         .tags = {"[\"a\",\"b\"]", NULL},
         .due_at = 253402300799, /* 9999-12-31T23:59:59Z */
         .remind_at = -5,
         .recurrence = REC_YEARLY,
         .recurrence_interval = 1000,
         .created_at = 1767225600,
         .updated_at = 1767323045},
        {.id = 1,
         .user_id = "u",
         .title = "",
         .description = "",
         .priority = (enum task_priority)7,
         .tags = {NULL, &list},
         .recurrence = (enum task_recurrence) - 1,
         .recurrence_interval = -3,
         .created_at = 1767225600,
         .updated_at = 1767225600},
    };
    for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++) {
        struct dynbuf d;
        dyn_init_arena(&d, f->arena, 1 << 16);
        task_write_json(&d, &tasks[i]);
        assert_int_equal(dyn_err(&d), ERR_OK);
        const char *want = yyjson_bytes(f, &tasks[i]);
        assert_non_null(want);
        assert_string_equal(dyn_str(&d), want);
    }
    /* Text that is not UTF-8: yyjson's writer refuses it, and so does the builder. */
    struct task bad = tasks[0];
    bad.title = "bad \xc3(";
    assert_null(yyjson_bytes(f, &bad));
    struct dynbuf d;
    dyn_init_arena(&d, f->arena, 1 << 16);
    task_write_json(&d, &bad);
    assert_int_not_equal(dyn_err(&d), ERR_OK);
    /* A builder too small fails cleanly. */
    dyn_init_arena(&d, f->arena, 16);
    task_write_json(&d, &tasks[1]);
    assert_int_equal(dyn_err(&d), ERR_TOOBIG);
}

static void test_filter_defaults(void **state)
{
    (void)state;
    struct task_filter flt;
    memset(&flt, 0x5a, sizeof(flt));
    task_filter_defaults(&flt);
    assert_int_equal(flt.status, STATUS_ALL);
    assert_int_equal(flt.priority, -1);
    assert_null(flt.tags.list);
    assert_null(flt.tags.json);
    assert_null(flt.search);
    assert_int_equal(flt.due_before, 0);
    assert_int_equal(flt.due_after, 0);
    assert_int_equal(flt.overdue, -1);
    assert_int_equal(flt.sort, SORT_CREATED);
    assert_int_equal(flt.order, -1);
    assert_int_equal(flt.limit, TASK_LIST_DEFAULT);
    assert_int_equal(flt.offset, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_minimal_create),
        T(test_full_create),
        T(test_title_rules),
        T(test_title_length_in_code_points),
        T(test_description_rules),
        T(test_tag_rules),
        T(test_enums),
        T(test_interval_rules),
        T(test_completed_rules),
        T(test_times),
        T(test_patch_needs_a_field),
        T(test_non_object_body),
        T(test_every_error_has_loc),
        T(test_task_to_json_shape),
        T(test_task_to_json_bytes),
        T(test_task_to_json_fallbacks),
        T(test_task_write_json_matches_yyjson),
        cmocka_unit_test(test_filter_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
