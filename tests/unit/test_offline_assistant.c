/*
 * Unit tests for the offline assistant (src/assistant/offline*.c): a table of utterances with
 * the exact tool calls and arguments expected, at fixed clocks and several UTC offsets
 * (month and year ends, a leap day, "next friday" on a Friday, offsets that put the user on
 * another day than UTC); the quick-add parser; replies built from the results; bounds
 * (size, words, calls, offsets, UTF-8); a runner failure; a seeded random run of garbage,
 * keyword salad and Unicode that must never crash or emit a user_id; and two threads
 * running the table at once with the same results. Every tool call's arguments, in the table,
 * the quick add and the random run, go through the domain's parsers (domain/tasks.h) as the
 * MCP tool table will parse them: one definition of each field's rules.
 *
 * A fake runner answers like the tool table will: list_tasks searches a fixed set of tasks
 * by title (case-insensitive) and status, the others answer {task_id, status, title} or a
 * tool error for an unknown id.
 */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#include "assistant/offline.h"
#include "core/err.h"
#include "domain/tasks.h"

/* Clocks (Unix seconds, UTC). */
#define NOW       1773223200LL /* Wed 2026-03-11 10:00 */
#define FRI       1773396000LL /* Fri 2026-03-13 10:00 */
#define SUN       1773576000LL /* Sun 2026-03-15 12:00 */
#define LATE      1773264600LL /* Wed 2026-03-11 21:30 */
#define MONTH_END 1774994400LL /* Tue 2026-03-31 22:00 */
#define LEAP      1835352000LL /* Mon 2028-02-28 12:00 */
#define YEAR_END  1798747200LL /* Thu 2026-12-31 20:00 */
#define JAN31     1769850000LL /* Sat 2026-01-31 09:00 */

#define FAKE_JSON_MAX 4096
#define MAX_EXPECTED  8

/* --- the fake runner --- */

static const struct fake_task {
    int id;
    const char *title;
    bool done;
    const char *priority;
    const char *due; /* NULL: none */
    const char *tags;
} fake_tasks[] = {
    {1, "Buy milk", false, "high", "2026-03-11T17:00:00Z", "[\"shopping\"]"},
    {2, "Buy oat milk", false, "medium", NULL, "[]"},
    {3, "Call mom", false, "medium", NULL, "[\"family\"]"},
    {4, "Pay rent", true, "medium", "2026-03-01T23:59:59Z", "[]"},
    {5, "Water the plants", false, "low", NULL, "[\"home\"]"},
    {6, "Dentist appointment", false, "medium", "2026-03-13T15:00:00Z", "[]"},
    {7, "Buy eggs", false, "medium", NULL, "[]"},
};

struct fake {
    struct arena *a;
    int fail_at; /* fail the call with this index (0-based) with ERR_UNAVAILABLE; -1 never */
    int calls;
};

static bool contains_fold(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

/* Appends one task's JSON to buf. */
static size_t task_json(char *buf, size_t cap, const struct fake_task *t)
{
    int n = snprintf(buf, cap,
                     "{\"id\":%d,\"title\":\"%s\",\"completed\":%s,\"priority\":\"%s\","
                     "\"due_at\":%s%s%s,\"tags\":%s,\"recurrence\":\"none\","
                     "\"recurrence_interval\":1}",
                     t->id, t->title, t->done ? "true" : "false", t->priority, t->due ? "\"" : "",
                     t->due ? t->due : "null", t->due ? "\"" : "", t->tags);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static const struct fake_task *fake_find(int64_t id)
{
    for (size_t i = 0; i < sizeof(fake_tasks) / sizeof(fake_tasks[0]); i++)
        if (fake_tasks[i].id == id)
            return &fake_tasks[i];
    return NULL;
}

static int fake_call(void *ctx, const char *tool, yyjson_mut_doc *doc, yyjson_mut_val *args,
                     yyjson_val **result, bool *is_error)
{
    (void)doc;
    struct fake *f = ctx;
    if (f->calls++ == f->fail_at)
        return ERR_UNAVAILABLE;
    char *buf = arena_alloc(f->a, FAKE_JSON_MAX);
    if (!buf)
        return ERR_NOMEM;
    *is_error = false;
    if (strcmp(tool, "list_tasks") == 0) {
        yyjson_mut_val *search = yyjson_mut_obj_get(args, "search");
        const char *status = yyjson_mut_get_str(yyjson_mut_obj_get(args, "status"));
        size_t len = 0;
        buf[len++] = '[';
        for (size_t i = 0; i < sizeof(fake_tasks) / sizeof(fake_tasks[0]); i++) {
            const struct fake_task *t = &fake_tasks[i];
            if ((search && !contains_fold(t->title, yyjson_mut_get_str(search))) ||
                (status && strcmp(status, "pending") == 0 && t->done) ||
                (status && strcmp(status, "completed") == 0 && !t->done))
                continue;
            if (len > 1)
                buf[len++] = ',';
            len += task_json(buf + len, FAKE_JSON_MAX - len - 2, t);
        }
        buf[len++] = ']';
        buf[len] = '\0';
    } else if (strcmp(tool, "add_task") == 0) {
        const char *title = yyjson_mut_get_str(yyjson_mut_obj_get(args, "title"));
        snprintf(buf, FAKE_JSON_MAX, "{\"task_id\":101,\"status\":\"created\",\"title\":\"%s\"}",
                 title && !strchr(title, '"') && !strchr(title, '\\') ? title : "x");
    } else if (strcmp(tool, "list_tags") == 0) {
        snprintf(buf, FAKE_JSON_MAX,
                 "[{\"name\":\"shopping\",\"count\":1},{\"name\":\"home\",\"count\":2}]");
    } else if (strcmp(tool, "task_stats") == 0) {
        snprintf(buf, FAKE_JSON_MAX,
                 "{\"total\":7,\"completed\":1,\"pending\":6,\"overdue\":1,\"due_today\":1}");
    } else {
        const struct fake_task *t =
            fake_find(yyjson_mut_get_sint(yyjson_mut_obj_get(args, "task_id")));
        if (!t) {
            *is_error = true;
            snprintf(buf, FAKE_JSON_MAX, "{\"error\":\"Task not found\"}");
        } else if (strcmp(tool, "get_task") == 0) {
            task_json(buf, FAKE_JSON_MAX, t);
        } else {
            const char *status = strcmp(tool, "complete_task") == 0 ? "completed"
                                 : strcmp(tool, "delete_task") == 0 ? "deleted"
                                                                    : "updated";
            snprintf(buf, FAKE_JSON_MAX, "{\"task_id\":%d,\"status\":\"%s\",\"title\":\"%s\"}",
                     t->id, status, t->title);
        }
    }
    yyjson_alc alc;
    arena_yyjson_alc(f->a, &alc);
    yyjson_doc *d = yyjson_read_opts(buf, strlen(buf), 0, &alc, NULL);
    *result = d ? yyjson_doc_get_root(d) : NULL;
    return ERR_OK;
}

/* True when key is the name of one of the n fields (writable ones only, for inputs). */
static bool known_key(const struct field_spec *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!(fields[i].flags & FF_READONLY) && strcmp(fields[i].name, key) == 0)
            return true;
    return false;
}

/* Parses a tool call's arguments with the domain's parsers, as the MCP tool table will, and
 * checks that every key is one the tool knows (a misspelt key would be silently ignored).
 * Returns NULL when they pass, else the first problem. */
static const char *domain_refusal(struct arena *a, const char *tool, yyjson_mut_val *args)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *d = yyjson_mut_val_imut_copy(args, &alc);
    yyjson_val *root = yyjson_doc_get_root(d);
    if (!yyjson_is_obj(root))
        return "the arguments are not an object";
    bool list = strcmp(tool, "list_tasks") == 0, add = strcmp(tool, "add_task") == 0,
         update = strcmp(tool, "update_task") == 0;
    bool by_id = update || strcmp(tool, "get_task") == 0 || strcmp(tool, "complete_task") == 0 ||
                 strcmp(tool, "delete_task") == 0;
    size_t i, max;
    yyjson_val *k, *v;
    yyjson_obj_foreach(root, i, max, k, v)
    {
        const char *key = yyjson_get_str(k);
        bool ok = (list && known_key(task_filter_fields, TASK_FILTER_NFIELDS, key)) ||
                  ((add || update) && known_key(task_fields, TASK_NFIELDS, key)) ||
                  (by_id && strcmp(key, "task_id") == 0);
        if (!ok)
            return arena_printf(a, "%s has an argument the tool does not know: %s", tool, key);
    }
    if (by_id) {
        yyjson_val *id = yyjson_obj_get(root, "task_id");
        if (!yyjson_is_int(id) || yyjson_get_sint(id) < 1)
            return arena_printf(a, "%s without a positive integer task_id", tool);
    }
    struct verrors errs = {0};
    int rc = ERR_OK;
    if (list) {
        struct task_filter f;
        rc = task_filter_parse(field_get_json, root, "arguments", a, &f, &errs);
    } else if (add || update) {
        struct task_input in;
        rc = task_input_parse(root, add ? TASK_CREATE : TASK_PATCH, "arguments", a, &in, &errs);
    }
    if (rc == ERR_OK)
        return NULL;
    return arena_printf(a, "%s arguments refused by the domain: (%s, %s) %s [%s]", tool,
                        errs.n ? errs.e[0].where : "-",
                        errs.n && errs.e[0].field ? errs.e[0].field : "-",
                        errs.n ? errs.e[0].msg : "-", errs.n ? errs.e[0].type : "-");
}

/* One turn with the fake runner; the turn lives in a. */
static int turn_in(struct arena *a, const char *text, size_t len, int64_t now, int offset,
                   int fail_at, struct offline_turn *turn)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    struct fake *f = arena_calloc(a, 1, sizeof(*f));
    f->a = a;
    f->fail_at = fail_at;
    struct offline_input in = {text, len, now, offset};
    struct offline_runner r = {fake_call, f};
    return offline_turn(a, &in, &r, doc, turn);
}

/* --- the utterance table --- */

struct utterance {
    const char *text;
    int offset;                          /* minutes east of UTC */
    int64_t now;                         /* 0: NOW */
    const char *calls[MAX_EXPECTED + 1]; /* "tool {json}", in order */
    const char *reply;                   /* a part of the reply, or NULL */
};

/* clang-format off */
static const struct utterance table[] = {
    /* add: titles, dates, times, priorities, tags, recurrence */
    {"add buy milk", 0, 0, {"add_task {\"title\":\"Buy milk\"}"}, "Added \"Buy milk\" (#101)."},
    {"add buy milk tomorrow at 5pm, high priority", 0, 0,
     {"add_task {\"title\":\"Buy milk\",\"priority\":\"high\",\"due_at\":\"2026-03-12T17:00:00Z\"}"},
     "due tomorrow at 17:00, high priority"},
    {"add call mom today", 0, 0, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-03-11T23:59:59Z\"}"}, "due today."},
    {"add call mom tonight", 0, 0, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-03-11T20:00:00Z\"}"}, NULL},
    {"add call mom tonight", 0, LATE, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-03-11T23:59:59Z\"}"}, NULL},
    {"add pay rent next friday", 0, 0, {"add_task {\"title\":\"Pay rent\",\"due_at\":\"2026-03-13T23:59:59Z\"}"}, "due on Friday"},
    {"add pay rent next friday", 0, FRI, {"add_task {\"title\":\"Pay rent\",\"due_at\":\"2026-03-20T23:59:59Z\"}"}, NULL},
    {"add pay rent on friday", 0, FRI, {"add_task {\"title\":\"Pay rent\",\"due_at\":\"2026-03-13T23:59:59Z\"}"}, NULL},
    {"add report in 3 days", 0, 0, {"add_task {\"title\":\"Report\",\"due_at\":\"2026-03-14T23:59:59Z\"}"}, NULL},
    {"add taxes on 12 march", 0, 0, {"add_task {\"title\":\"Taxes\",\"due_at\":\"2026-03-12T23:59:59Z\"}"}, NULL},
    {"add taxes on 10 march", 0, 0, {"add_task {\"title\":\"Taxes\",\"due_at\":\"2027-03-10T23:59:59Z\"}"}, "2027"},
    {"add dentist at 5pm", 0, 0, {"add_task {\"title\":\"Dentist\",\"due_at\":\"2026-03-11T17:00:00Z\"}"}, NULL},
    {"add dentist at 5pm", 0, LATE, {"add_task {\"title\":\"Dentist\",\"due_at\":\"2026-03-12T17:00:00Z\"}"}, NULL},
    {"add fix the sink, urgent", 0, 0, {"add_task {\"title\":\"Fix the sink\",\"priority\":\"high\"}"}, NULL},
    {"add read a book low priority", 0, 0, {"add_task {\"title\":\"Read a book\",\"priority\":\"low\"}"}, NULL},
    {"add water the plants #home #garden", 0, 0,
     {"add_task {\"title\":\"Water the plants\",\"tags\":[\"home\",\"garden\"]}"}, "tagged #home #garden"},
    {"add stretch every day", 0, 0, {"add_task {\"title\":\"Stretch\",\"recurrence\":\"daily\"}"}, "repeats daily"},
    {"add review the budget every week", 0, 0, {"add_task {\"title\":\"Review the budget\",\"recurrence\":\"weekly\"}"}, NULL},
    {"add pay rent every month on the 1st", 0, 0,
     {"add_task {\"title\":\"Pay rent\",\"due_at\":\"2026-04-01T23:59:59Z\",\"recurrence\":\"monthly\"}"}, NULL},
    {"add gym every monday", 0, 0,
     {"add_task {\"title\":\"Gym\",\"due_at\":\"2026-03-16T23:59:59Z\",\"recurrence\":\"weekly\"}"}, NULL},
    {"add gym every monday at 7am", 60, 0,
     {"add_task {\"title\":\"Gym\",\"due_at\":\"2026-03-16T07:00:00+01:00\",\"recurrence\":\"weekly\"}"}, NULL},
    {"add standup every 2 weeks", 0, 0,
     {"add_task {\"title\":\"Standup\",\"recurrence\":\"weekly\",\"recurrence_interval\":2}"}, "every 2 weeks"},
    {"add water the ferns every other day", 0, 0,
     {"add_task {\"title\":\"Water the ferns\",\"recurrence\":\"daily\",\"recurrence_interval\":2}"}, NULL},
    {"add milk and eggs", 0, 0, {"add_task {\"title\":\"Milk\"}", "add_task {\"title\":\"Eggs\"}"}, "Added \"Eggs\""},
    {"add milk, eggs and bread tomorrow", 0, 0,
     {"add_task {\"title\":\"Milk\",\"due_at\":\"2026-03-12T23:59:59Z\"}",
      "add_task {\"title\":\"Eggs\",\"due_at\":\"2026-03-12T23:59:59Z\"}",
      "add_task {\"title\":\"Bread\",\"due_at\":\"2026-03-12T23:59:59Z\"}"}, NULL},
    {"add call mom and dad", 0, 0, {"add_task {\"title\":\"Call mom and dad\"}"}, NULL},
    {"remind me to call the bank at 4pm", 0, 0,
     {"add_task {\"title\":\"Call the bank\",\"due_at\":\"2026-03-11T16:00:00Z\",\"remind_at\":\"2026-03-11T16:00:00Z\"}"}, NULL},
    {"add dentist friday at 3pm, remind me 30 minutes before", 0, 0,
     {"add_task {\"title\":\"Dentist\",\"due_at\":\"2026-03-13T15:00:00Z\",\"remind_at\":\"2026-03-13T14:30:00Z\"}"}, NULL},
    {"add buy milk tomorrow 5pm #home !high", 0, 0,
     {"add_task {\"title\":\"Buy milk\",\"priority\":\"high\",\"tags\":[\"home\"],\"due_at\":\"2026-03-12T17:00:00Z\"}"}, NULL},
    {"add \"Watch tomorrow never dies\"", 0, 0, {"add_task {\"title\":\"Watch tomorrow never dies\"}"}, NULL},
    {"add submit the report with description: the Q1 numbers, by friday", 0, 0,
     {"add_task {\"title\":\"Submit the report\",\"description\":\"the Q1 numbers, by friday\"}"}, NULL},
    {"please add a task to renew my passport", 0, 0, {"add_task {\"title\":\"Renew my passport\"}"}, NULL},
    {"i need to buy stamps", 0, 0, {"add_task {\"title\":\"Buy stamps\"}"}, NULL},
    {"add invoice due 2026-04-30", 0, 0, {"add_task {\"title\":\"Invoice\",\"due_at\":\"2026-04-30T23:59:59Z\"}"}, NULL},
    {"add lunch with Sam at noon", 0, 0, {"add_task {\"title\":\"Lunch with Sam\",\"due_at\":\"2026-03-11T12:00:00Z\"}"}, NULL},
    {"add call the plumber at 5", 0, 0, {"add_task {\"title\":\"Call the plumber\",\"due_at\":\"2026-03-11T17:00:00Z\"}"}, NULL},
    {"add plan the trip on march 12th 2027", 0, 0, {"add_task {\"title\":\"Plan the trip\",\"due_at\":\"2027-03-12T23:59:59Z\"}"}, NULL},
    {"add yoga this weekend", 0, 0, {"add_task {\"title\":\"Yoga\",\"due_at\":\"2026-03-14T23:59:59Z\"}"}, NULL},
    {"add call grandma the day after tomorrow", 0, 0, {"add_task {\"title\":\"Call grandma\",\"due_at\":\"2026-03-13T23:59:59Z\"}"}, NULL},
    /* the user's offset decides what "today" and "tomorrow" are */
    {"add call mom tomorrow", 840, 0, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-03-13T23:59:59+14:00\"}"}, NULL},
    {"add call mom tomorrow", -720, 0, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-03-11T23:59:59-12:00\"}"}, NULL},
    {"add call in 2 hours", 330, 0, {"add_task {\"title\":\"Call\",\"due_at\":\"2026-03-11T17:30:00+05:30\"}"}, NULL},
    {"add meeting at 17:30", 345, 0, {"add_task {\"title\":\"Meeting\",\"due_at\":\"2026-03-11T17:30:00+05:45\"}"}, NULL},
    {"add meeting next friday at 9am", -600, FRI,
     {"add_task {\"title\":\"Meeting\",\"due_at\":\"2026-03-20T09:00:00-10:00\"}"}, NULL},
    /* month ends, a leap day, the year's end */
    {"add call mom tomorrow", 0, MONTH_END, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-04-01T23:59:59Z\"}"}, NULL},
    {"add call mom tomorrow", 120, MONTH_END, {"add_task {\"title\":\"Call mom\",\"due_at\":\"2026-04-02T23:59:59+02:00\"}"}, NULL},
    {"add renew the visa tomorrow", 0, LEAP, {"add_task {\"title\":\"Renew the visa\",\"due_at\":\"2028-02-29T23:59:59Z\"}"}, NULL},
    {"add renew the visa in 2 days", 0, LEAP, {"add_task {\"title\":\"Renew the visa\",\"due_at\":\"2028-03-01T23:59:59Z\"}"}, NULL},
    {"add party tomorrow", 0, YEAR_END, {"add_task {\"title\":\"Party\",\"due_at\":\"2027-01-01T23:59:59Z\"}"}, NULL},
    {"add party tomorrow", -300, YEAR_END, {"add_task {\"title\":\"Party\",\"due_at\":\"2027-01-01T23:59:59-05:00\"}"}, NULL},
    {"add sales on 5 january", 0, YEAR_END, {"add_task {\"title\":\"Sales\",\"due_at\":\"2027-01-05T23:59:59Z\"}"}, NULL},
    {"add pay rent next month", 0, JAN31, {"add_task {\"title\":\"Pay rent\",\"due_at\":\"2026-02-28T23:59:59Z\"}"}, NULL},
    /* list with filters */
    {"what's due today", 0, 0,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-11T00:00:00Z\",\"due_before\":\"2026-03-11T23:59:59Z\",\"sort\":\"due_date\"}"},
     "due today:"},
    {"What's due today?", 60, 0,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-11T00:00:00+01:00\",\"due_before\":\"2026-03-11T23:59:59+01:00\",\"sort\":\"due_date\"}"}, NULL},
    {"what's due today", 840, 0,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-12T00:00:00+14:00\",\"due_before\":\"2026-03-12T23:59:59+14:00\",\"sort\":\"due_date\"}"}, NULL},
    {"what's due tomorrow?", -300, 0,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-12T00:00:00-05:00\",\"due_before\":\"2026-03-12T23:59:59-05:00\",\"sort\":\"due_date\"}"}, NULL},
    {"what do I have this week", 60, 0,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-11T00:00:00+01:00\",\"due_before\":\"2026-03-15T23:59:59+01:00\",\"sort\":\"due_date\"}"}, NULL},
    {"what's due this week", 0, SUN,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-15T00:00:00Z\",\"due_before\":\"2026-03-15T23:59:59Z\",\"sort\":\"due_date\"}"}, NULL},
    {"what's due next week", 0, 0,
     {"list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-16T00:00:00Z\",\"due_before\":\"2026-03-22T23:59:59Z\",\"sort\":\"due_date\"}"}, NULL},
    {"what's due before friday", 0, 0,
     {"list_tasks {\"status\":\"pending\",\"due_before\":\"2026-03-13T23:59:59Z\",\"sort\":\"due_date\"}"}, NULL},
    {"what's overdue?", 0, 0, {"list_tasks {\"overdue\":true,\"sort\":\"due_date\"}"}, "overdue task"},
    {"show completed work tasks", 0, 0, {"list_tasks {\"status\":\"completed\",\"tag\":\"work\"}"}, "completed task tagged #work"},
    {"high priority tasks", 0, 0, {"list_tasks {\"priority\":\"high\"}"}, NULL},
    {"any urgent tasks?", 0, 0, {"list_tasks {\"priority\":\"high\"}"}, NULL},
    {"show low priority #home tasks", 0, 0, {"list_tasks {\"priority\":\"low\",\"tag\":\"home\"}"}, NULL},
    {"show my tasks", 0, 0, {"list_tasks {}"}, "You have 7 tasks:"},
    {"list pending tasks", 0, 0, {"list_tasks {\"status\":\"pending\"}"}, NULL},
    {"show tasks tagged home", 0, 0, {"list_tasks {\"tag\":\"home\"}"}, NULL},
    {"find milk", 0, 0, {"list_tasks {\"search\":\"milk\"}"}, "2 tasks matching \"milk\""},
    {"show tasks about the dentist", 0, 0, {"list_tasks {\"search\":\"the dentist\"}"}, NULL},
    {"top 3 tasks by priority", 0, 0, {"list_tasks {\"sort\":\"priority\",\"limit\":3}"}, NULL},
    /* one task */
    {"show task 3", 0, 0, {"get_task {\"task_id\":3}"}, "#3 \"Call mom\": not done yet"},
    {"task 5", 0, 0, {"get_task {\"task_id\":5}"}, NULL},
    {"what is task 6", 0, 0, {"get_task {\"task_id\":6}"}, "due on Friday at 15:00"},
    /* complete, by id or by a title fragment */
    {"complete 3", 0, 0, {"complete_task {\"task_id\":3}"}, "Marked \"Call mom\" (#3) as done."},
    {"complete task #4", 0, 0, {"complete_task {\"task_id\":4}"}, NULL},
    {"mark 3 as done", 0, 0, {"complete_task {\"task_id\":3}"}, NULL},
    {"complete buy milk", 0, 0,
     {"list_tasks {\"search\":\"buy milk\",\"status\":\"pending\",\"limit\":10}", "complete_task {\"task_id\":1}"}, NULL},
    {"complete milk", 0, 0, {"list_tasks {\"search\":\"milk\",\"status\":\"pending\",\"limit\":10}"},
     "Several tasks match \"milk\":\n• #1 Buy milk"},
    {"done with call mom", 0, 0,
     {"list_tasks {\"search\":\"call mom\",\"status\":\"pending\",\"limit\":10}", "complete_task {\"task_id\":3}"}, NULL},
    {"tick off the eggs", 0, 0,
     {"list_tasks {\"search\":\"eggs\",\"status\":\"pending\",\"limit\":10}", "complete_task {\"task_id\":7}"}, NULL},
    {"complete 3 and 4", 0, 0, {"complete_task {\"task_id\":3}", "complete_task {\"task_id\":4}"}, NULL},
    {"complete the laundry", 0, 0, {"list_tasks {\"search\":\"laundry\",\"status\":\"pending\",\"limit\":10}"},
     "couldn't find an open task matching \"laundry\""},
    {"complete task 99", 0, 0, {"complete_task {\"task_id\":99}"}, "couldn't complete task #99: Task not found"},
    /* delete */
    {"delete task 7", 0, 0, {"delete_task {\"task_id\":7}"}, "Deleted \"Buy eggs\" (#7)."},
    {"delete the dentist task", 0, 0, {"list_tasks {\"search\":\"dentist\",\"limit\":10}", "delete_task {\"task_id\":6}"}, NULL},
    {"remove the eggs", 0, 0, {"list_tasks {\"search\":\"eggs\",\"limit\":10}", "delete_task {\"task_id\":7}"}, NULL},
    {"delete oat milk", 0, 0, {"list_tasks {\"search\":\"oat milk\",\"limit\":10}", "delete_task {\"task_id\":2}"}, NULL},
    {"delete all tasks", 0, 0, {NULL}, "don't delete everything at once"},
    {"complete 1, 2, 3, 4, 5 and 6", 0, 0, {NULL}, "at most 5 tasks"},
    /* rename and update */
    {"rename 3 to Call dad", 0, 0, {"update_task {\"task_id\":3,\"title\":\"Call dad\"}"}, "renamed to \"Call dad\""},
    {"rename buy eggs to buy free-range eggs", 0, 0,
     {"list_tasks {\"search\":\"buy eggs\",\"limit\":10}", "update_task {\"task_id\":7,\"title\":\"Buy free-range eggs\"}"}, NULL},
    {"move 3 to next friday", 0, 0, {"update_task {\"task_id\":3,\"due_at\":\"2026-03-13T23:59:59Z\"}"}, NULL},
    {"postpone task 6 to monday at 9am", 0, 0, {"update_task {\"task_id\":6,\"due_at\":\"2026-03-16T09:00:00Z\"}"}, NULL},
    {"make task 3 high priority", 0, 0, {"update_task {\"task_id\":3,\"priority\":\"high\"}"}, NULL},
    {"set the priority of task 5 to low", 0, 0, {"update_task {\"task_id\":5,\"priority\":\"low\"}"}, NULL},
    {"change the due date of 3 to tomorrow at 9am", 0, 0, {"update_task {\"task_id\":3,\"due_at\":\"2026-03-12T09:00:00Z\"}"}, NULL},
    {"tag 3 with home", 0, 0, {"get_task {\"task_id\":3}", "update_task {\"task_id\":3,\"tags\":[\"family\",\"home\"]}"}, NULL},
    {"add #urgent to task 3", 0, 0, {"get_task {\"task_id\":3}", "update_task {\"task_id\":3,\"tags\":[\"family\",\"urgent\"]}"}, NULL},
    {"remove tag shopping from 1", 0, 0, {"get_task {\"task_id\":1}", "update_task {\"task_id\":1,\"tags\":[]}"}, NULL},
    {"remove the due date from task 6", 0, 0, {"update_task {\"task_id\":6,\"due_at\":null}"}, "no due date"},
    {"make 5 repeat every week", 0, 0, {"update_task {\"task_id\":5,\"recurrence\":\"weekly\"}"}, NULL},
    {"stop repeating 5", 0, 0, {"update_task {\"task_id\":5,\"recurrence\":\"none\"}"}, NULL},
    {"set the description of 3 to ask about the trip", 0, 0, {"update_task {\"task_id\":3,\"description\":\"ask about the trip\"}"}, NULL},
    /* tags, stats, help, greetings */
    {"list my tags", 0, 0, {"list_tags {}"}, "#shopping (1), #home (2)"},
    {"stats", 0, 0, {"task_stats {}"}, "7 tasks: 6 open and 1 completed"},
    {"how many tasks are overdue?", 0, 0, {"task_stats {}"}, "1 task is overdue."},
    {"help", 0, 0, {NULL}, "add buy milk tomorrow at 5pm"},
    {"blah blah", 0, 0, {NULL}, "didn't understand"},
    {"hello", 0, 0, {NULL}, "Hi!"},
    {"thanks!", 0, 0, {NULL}, "welcome"},
    {"reopen task 3", 0, 0, {NULL}, "can't reopen"},
    /* several requests in one message */
    {"add milk and complete 3", 0, 0, {"add_task {\"title\":\"Milk\"}", "complete_task {\"task_id\":3}"}, NULL},
    {"add dentist friday at 3pm. what's due today?", 0, 0,
     {"add_task {\"title\":\"Dentist\",\"due_at\":\"2026-03-13T15:00:00Z\"}",
      "list_tasks {\"status\":\"pending\",\"due_after\":\"2026-03-11T00:00:00Z\",\"due_before\":\"2026-03-11T23:59:59Z\",\"sort\":\"due_date\"}"}, NULL},
    {"hi, what's overdue?", 0, 0, {"list_tasks {\"overdue\":true,\"sort\":\"due_date\"}"}, "Hi! You have"},
    {"complete 3 then delete 7", 0, 0, {"complete_task {\"task_id\":3}", "delete_task {\"task_id\":7}"}, NULL},
};
/* clang-format on */

/* Checks one utterance; returns a description of the first difference, or NULL. */
static const char *check_utterance(struct arena *a, const struct utterance *u)
{
    struct offline_turn turn;
    int rc = turn_in(a, u->text, strlen(u->text), u->now ? u->now : NOW, u->offset, -1, &turn);
    if (rc != ERR_OK)
        return arena_printf(a, "offline_turn = %d", rc);
    size_t want = 0;
    while (want < MAX_EXPECTED && u->calls[want])
        want++;
    const char *got = "";
    for (size_t i = 0; i < turn.ncalls; i++) {
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        const char *json = yyjson_mut_val_write_opts(turn.calls[i].args, 0, &alc, NULL, NULL);
        got = i ? arena_printf(a, "%s | %s %s", got, turn.calls[i].tool, json)
                : arena_printf(a, "%s %s", turn.calls[i].tool, json);
    }
    if (turn.ncalls != want)
        return arena_printf(a, "%zu calls, want %zu: %s", turn.ncalls, want, got);
    for (size_t i = 0; i < want; i++) {
        const char *space = strchr(u->calls[i], ' ');
        size_t tl = space ? (size_t)(space - u->calls[i]) : strlen(u->calls[i]);
        if (strlen(turn.calls[i].tool) != tl || strncmp(turn.calls[i].tool, u->calls[i], tl) != 0)
            return arena_printf(a, "call %zu is %s: %s", i, turn.calls[i].tool, got);
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
        yyjson_mut_val *expect =
            yyjson_val_mut_copy(doc, yyjson_doc_get_root(unit_json(a, space ? space + 1 : "{}")));
        if (!yyjson_mut_equals(expect, turn.calls[i].args))
            return arena_printf(a, "call %zu arguments differ: %s", i, got);
        if (yyjson_mut_obj_get(turn.calls[i].args, "user_id"))
            return "a call carries a user_id";
    }
    for (size_t i = 0; i < turn.ncalls; i++) {
        const char *why = domain_refusal(a, turn.calls[i].tool, turn.calls[i].args);
        if (why)
            return why;
    }
    if (!turn.reply || !*turn.reply)
        return "no reply";
    if (u->reply && !unit_contains(turn.reply, u->reply))
        return arena_printf(a, "reply lacks \"%s\": %s", u->reply, turn.reply);
    return NULL;
}

static void test_utterance_table(void **state)
{
    (void)state;
    assert_true(sizeof(table) / sizeof(table[0]) >= 80);
    int failures = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct arena *a = arena_new();
        const char *diff = check_utterance(a, &table[i]);
        if (diff) {
            print_error("#%zu \"%s\" (offset %d): %s\n", i, table[i].text, table[i].offset, diff);
            failures++;
        }
        arena_free(a);
    }
    if (failures)
        fail_msg("%d of %zu utterances differ", failures, sizeof(table) / sizeof(table[0]));
}

/* --- quick add --- */

static void test_quick_add(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int offset;
        const char *args; /* NULL: ERR_INVALID (no title) */
    } cases[] = {
        {"Buy milk tomorrow 5pm #home !high", 60,
         "{\"title\":\"Buy milk\",\"priority\":\"high\",\"tags\":[\"home\"],\"due_at\":\"2026-03-"
         "12T17:00:00+01:00\"}"},
        {"tomorrow 5pm #home !high", 0, NULL},
        {"  !low  ", 0, NULL},
        {"Call mom every sunday at 6pm", 0,
         "{\"title\":\"Call mom\",\"due_at\":\"2026-03-15T18:00:00Z\",\"recurrence\":\"weekly\"}"},
        {"Taxes due 15 april #admin note: bring the receipts", -300,
         "{\"title\":\"Taxes\",\"description\":\"bring the receipts\",\"tags\":[\"admin\"],"
         "\"due_at\":\"2026-04-15T23:59:59-05:00\"}"},
        {"remind me to stretch in 30 minutes", 0,
         "{\"title\":\"Stretch\",\"due_at\":\"2026-03-11T10:30:00Z\",\"remind_at\":\"2026-03-11T10:"
         "30:00Z\"}"},
        {"Read \"War and Peace\" !low", 0,
         "{\"title\":\"Read \\\"War and Peace\\\"\",\"priority\":\"low\"}"},
        {"Meeting with Anna and Bob friday 10am", 0,
         "{\"title\":\"Meeting with Anna and Bob\",\"due_at\":\"2026-03-13T10:00:00Z\"}"},
        {"milk and eggs", 0, "{\"title\":\"Milk and eggs\"}"},
        {"iPhone repair p2", 0, "{\"title\":\"iPhone repair\",\"priority\":\"medium\"}"},
        {"日本語の本を買う 明日 #本", 0, "{\"title\":\"日本語の本を買う 明日\",\"tags\":[\"本\"]}"},
        {"Ärger klären #Büro #büro", 0, "{\"title\":\"Ärger klären\",\"tags\":[\"Büro\"]}"},
        {"Pay rent monthly", 0, "{\"title\":\"Pay rent\",\"recurrence\":\"monthly\"}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arena *a = arena_new();
        struct offline_input in = {cases[i].text, strlen(cases[i].text), NOW, cases[i].offset};
        struct offline_fields f;
        int rc = offline_parse_task(a, &in, &f);
        if (!cases[i].args) {
            if (rc != ERR_INVALID)
                fail_msg("\"%s\": rc %d, want ERR_INVALID", cases[i].text, rc);
            arena_free(a);
            continue;
        }
        if (rc != ERR_OK)
            fail_msg("\"%s\": rc %d", cases[i].text, rc);
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
        yyjson_mut_val *got = offline_task_args(doc, &f);
        yyjson_mut_val *want =
            yyjson_val_mut_copy(doc, yyjson_doc_get_root(unit_json(a, cases[i].args)));
        if (!yyjson_mut_equals(got, want))
            fail_msg("\"%s\": %s, want %s", cases[i].text,
                     yyjson_mut_val_write_opts(got, 0, &alc, NULL, NULL), cases[i].args);
        const char *why = domain_refusal(a, "add_task", got);
        if (why)
            fail_msg("\"%s\": %s", cases[i].text, why);
        arena_free(a);
    }
}

/* --- bounds and robustness --- */

/* True when s is valid UTF-8. */
static bool valid_utf8(const char *s)
{
    yyjson_doc *d = NULL;
    size_t len = strlen(s);
    char *quoted = malloc(len + 3);
    if (!quoted)
        return false;
    quoted[0] = '"';
    memcpy(quoted + 1, s, len);
    quoted[len + 1] = '"';
    quoted[len + 2] = '\0';
    /* yyjson refuses invalid UTF-8 in strings; control characters are fine for this check */
    for (size_t i = 1; i <= len; i++)
        if ((unsigned char)quoted[i] < 0x20 || quoted[i] == '"' || quoted[i] == '\\')
            quoted[i] = ' ';
    d = yyjson_read(quoted, len + 2, 0);
    free(quoted);
    bool ok = d != NULL;
    yyjson_doc_free(d);
    return ok;
}

static void test_bounds(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct offline_plan plan;
    struct offline_turn turn;
    /* over the size limit: refused by the parser, answered by the turn */
    size_t big = OFFLINE_MESSAGE_MAX + 1;
    char *msg = arena_alloc(a, big);
    memset(msg, 'a', big);
    struct offline_input in = {msg, big, NOW, 0};
    assert_int_equal(offline_parse(a, &in, &plan), ERR_TOOBIG);
    assert_int_equal(turn_in(a, msg, big, NOW, 0, -1, &turn), ERR_OK);
    assert_int_equal(turn.ncalls, 0);
    assert_true(unit_contains(turn.reply, "too long"));
    /* exactly at the limit, one huge word: a help answer */
    assert_int_equal(turn_in(a, msg, OFFLINE_MESSAGE_MAX, NOW, 0, -1, &turn), ERR_OK);
    assert_int_equal(turn.ncalls, 0);
    /* more words than OFFLINE_MAX_TOKENS */
    for (size_t i = 0; i < OFFLINE_MESSAGE_MAX; i += 2) {
        msg[i] = 'a';
        msg[i + 1] = ' ';
    }
    assert_int_equal(turn_in(a, msg, OFFLINE_MESSAGE_MAX, NOW, 0, -1, &turn), ERR_OK);
    assert_int_equal(turn.ncalls, 0);
    assert_true(unit_contains(turn.reply, "too long"));
    /* offsets beyond ±14:00, invalid UTF-8, a clock before 1970 */
    in = (struct offline_input){"add milk", 8, NOW, OFFLINE_OFFSET_MAX + 1};
    assert_int_equal(offline_parse(a, &in, &plan), ERR_INVALID);
    in.utc_offset_min = -OFFLINE_OFFSET_MAX - 1;
    assert_int_equal(offline_parse(a, &in, &plan), ERR_INVALID);
    in.utc_offset_min = OFFLINE_OFFSET_MAX;
    assert_int_equal(offline_parse(a, &in, &plan), ERR_OK);
    static const char *const bad_utf8[] = {"add \xff milk", "add \xc0\xaf", "\xed\xa0\x80",
                                           "add \xe2\x82", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        in = (struct offline_input){bad_utf8[i], strlen(bad_utf8[i]), NOW, 0};
        assert_int_equal(offline_parse(a, &in, &plan), ERR_INVALID);
        assert_int_equal(turn_in(a, bad_utf8[i], strlen(bad_utf8[i]), NOW, 0, -1, &turn), ERR_OK);
        assert_true(unit_contains(turn.reply, "couldn't read"));
    }
    in = (struct offline_input){"add milk", 8, -1, 0};
    assert_int_equal(offline_parse(a, &in, &plan), ERR_INVALID);
    /* an empty message, a NUL inside, control characters: no crash, a reply */
    static const char nul[] = "add milk\0 tomorrow";
    assert_int_equal(turn_in(a, "", 0, NOW, 0, -1, &turn), ERR_OK);
    assert_true(turn.reply && *turn.reply);
    assert_int_equal(turn_in(a, nul, sizeof(nul) - 1, NOW, 0, -1, &turn), ERR_OK);
    assert_int_equal(turn.ncalls, 1);
    static const char ctl[] = "add\tmilk\x01\x7f";
    assert_int_equal(turn_in(a, ctl, sizeof(ctl) - 1, NOW, 0, -1, &turn), ERR_OK);
    assert_int_equal(turn.ncalls, 1);
    arena_free(a);
}

static void test_runner_failure_stops_the_turn(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct offline_turn turn;
    const char *text = "complete buy milk and delete 7";
    assert_int_equal(turn_in(a, text, strlen(text), NOW, 0, 1, &turn), ERR_UNAVAILABLE);
    assert_int_equal(turn.ncalls, 2);
    assert_string_equal(turn.calls[0].tool, "list_tasks");
    assert_non_null(turn.calls[0].result);
    assert_string_equal(turn.calls[1].tool, "complete_task");
    assert_null(turn.calls[1].result);
    arena_free(a);
}

static void test_call_cap(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct offline_turn turn;
    const char *text =
        "complete 1, 2, 3, 4 and 5. delete 1, 2, 3, 4 and 5. complete 1, 2, 3, 4 and "
        "5. delete 1, 2, 3, 4 and 5";
    assert_int_equal(turn_in(a, text, strlen(text), NOW, 0, -1, &turn), ERR_OK);
    assert_int_equal(turn.ncalls, OFFLINE_MAX_CALLS);
    assert_true(unit_contains(turn.reply, "I stopped after 16 actions"));
    arena_free(a);
}

static void test_tool_names(void **state)
{
    (void)state;
    static const char *const names[] = {"add_task",    "list_tasks",  "get_task",  "complete_task",
                                        "delete_task", "update_task", "list_tags", "task_stats"};
    for (int t = TOOL_ADD_TASK; t <= TOOL_TASK_STATS; t++)
        assert_string_equal(offline_tool_name((enum offline_tool)t), names[t]);
    assert_string_equal(offline_tool_name((enum offline_tool)99), "");
}

/* A small deterministic generator (the test must replay exactly). */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_random_messages_never_crash(void **state)
{
    (void)state;
    static const char *const words[] = {
        "add",         "complete", "delete",  "mark",     "as",          "done",      "to",
        "task",        "#3",       "3",       "tomorrow", "next",        "friday",    "at",
        "5pm",         "every",    "monday",  "day",      "in",          "days",      "weeks",
        "high",        "priority", "!high",   "#home",    "and",         ",",         ".",
        "\"",          "“",        "”",       "remind",   "me",          "the",       "of",
        "due",         "by",       "before",  "after",    "show",        "list",      "what's",
        "overdue",     "today",    "tonight", "on",       "12",          "march",     "2027",
        "12th",        "rename",   "move",    "set",      "make",        "tag",       "untag",
        "remove",      "from",     "with",    "note:",    "stop",        "repeating", "p.m.",
        "17:30",       "noon",     "'s",      "milk",     "Ärger",       "日本",      "🙂",
        "’s",          "-",        "&",       "all",      "top",         "5",         "find",
        "for",         "how",      "many",    "hi",       "thanks",      "help",      "?",
        "!!",          "a",        "other",   "0",        "99999999999", "-5",        "2026-02-30",
        "2028-02-29",  "feb",      "29th",    "sun",      "weekend",     "end",       "month",
        "minutes",     "hours",    "earlier", "\n",       "\t",          "every",     "2",
        "description:"};
    const size_t nwords = sizeof(words) / sizeof(words[0]);
    uint32_t seed = 20260311;
    char msg[512];
    for (int iter = 0; iter < 10000; iter++) {
        size_t len = 0;
        uint32_t mode = next_rand(&seed) % 4, n = next_rand(&seed) % 24;
        for (uint32_t k = 0; k < n; k++) {
            if (mode == 0) {
                msg[len++] = (char)(next_rand(&seed) & 0xff);
                continue;
            }
            const char *w = words[next_rand(&seed) % nwords];
            size_t wl = strlen(w);
            if (len + wl + 1 >= sizeof(msg))
                break;
            memcpy(msg + len, w, wl);
            len += wl;
            if (next_rand(&seed) % 5)
                msg[len++] = ' ';
        }
        int offset = (int)(next_rand(&seed) % (2 * OFFLINE_OFFSET_MAX + 1)) - OFFLINE_OFFSET_MAX;
        int64_t now = NOW + (int64_t)(next_rand(&seed) % 4000) * 86400 + next_rand(&seed) % 86400;
        struct arena *a = arena_new();
        struct offline_turn turn;
        int rc = turn_in(a, msg, len, now, offset, -1, &turn);
        if (rc != ERR_OK || !turn.reply || !valid_utf8(turn.reply))
            fail_msg("iteration %d: rc %d, reply %s", iter, rc, turn.reply ? "invalid" : "NULL");
        if (turn.ncalls > OFFLINE_MAX_CALLS)
            fail_msg("iteration %d: %zu calls", iter, turn.ncalls);
        for (size_t i = 0; i < turn.ncalls; i++) {
            yyjson_alc alc;
            arena_yyjson_alc(a, &alc);
            if (!yyjson_mut_val_write_opts(turn.calls[i].args, 0, &alc, NULL, NULL))
                fail_msg("iteration %d: arguments of %s are not writable JSON", iter,
                         turn.calls[i].tool);
            if (yyjson_mut_obj_get(turn.calls[i].args, "user_id"))
                fail_msg("iteration %d: a user_id argument", iter);
            const char *why = domain_refusal(a, turn.calls[i].tool, turn.calls[i].args);
            if (why)
                fail_msg("iteration %d (\"%.*s\"): %s", iter, (int)len, msg, why);
        }
        struct offline_fields f;
        struct offline_input in = {msg, len, now, offset};
        rc = offline_parse_task(a, &in, &f);
        if (rc != ERR_OK && rc != ERR_INVALID)
            fail_msg("iteration %d: offline_parse_task = %d", iter, rc);
        arena_free(a);
    }
}

/* Two threads run the whole table at once: no shared state, so both must pass. */
static void *table_thread(void *arg)
{
    int *failures = arg;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct arena *a = arena_new();
        if (check_utterance(a, &table[i]))
            (*failures)++;
        arena_free(a);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[2];
    int failures[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, table_thread, &failures[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(failures[0], 0);
    assert_int_equal(failures[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utterance_table),
        cmocka_unit_test(test_quick_add),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_runner_failure_stops_the_turn),
        cmocka_unit_test(test_call_cap),
        cmocka_unit_test(test_tool_names),
        cmocka_unit_test(test_random_messages_never_crash),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
