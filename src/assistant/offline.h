/*
 * The offline assistant: a deterministic understanding of English task requests, for the chat
 * when no model is configured (LLM_PROVIDER=offline) and for the web UI's quick add. It turns
 * a message into the tool calls a model would make — the same tool names and argument names as
 * the MCP tool table — runs them through a runner the caller supplies, and answers in plain
 * sentences built from the tools' results.
 *
 * Two steps, so each can be used and tested alone:
 *   offline_parse  message → plan: a few intents (add, list, complete, …). Pure: no I/O.
 *   offline_run    plan + runner → the tool calls made, their results and the reply text.
 * offline_parse_task is the add intent's understanding of one task ("buy milk tomorrow 5pm
 * #home !high") for the quick add endpoint, and offline_task_args writes its fields as the
 * TaskCreate-shaped arguments of add_task.
 *
 * Tools and their arguments (never a user_id: the runner acts as the authenticated user):
 *   add_task      {title, description?, priority?, tags?, due_at?, remind_at?, recurrence?,
 *                  recurrence_interval?}
 *   list_tasks    {status?, priority?, tag?, search?, due_before?, due_after?, overdue?,
 *                  sort?, order?, limit?, offset?}      (the REST list query's names)
 *   get_task      {task_id}           complete_task {task_id}          delete_task {task_id}
 *   update_task   {task_id, title?, description?, priority?, tags?, due_at?, remind_at?,
 *                  recurrence?, recurrence_interval?}
 *   list_tags     {}                  task_stats    {}
 * Times in arguments are RFC 3339 with the user's offset ("2026-03-13T17:00:00+01:00"; "Z"
 * for offset 0); a day without a time of day is that day's 23:59:59.
 *
 * Results the replies read (extra fields are ignored, missing ones are left out of the reply):
 *   a task          {id | task_id, title, completed?, priority?, due_at?, tags?, recurrence?,
 *                    description?, next_task?}; {task: {...}} is also accepted
 *   list_tasks      an array of tasks, or {tasks: [...], total?}
 *   list_tags       an array of {name, count}, or {tags: [...]}
 *   task_stats      {total, completed, pending, overdue, due_today}
 *   a tool error    is_error set; the result is a string or an object with "error",
 *                   "detail" or "message"
 *
 * Understood: add (today, tonight, tomorrow, weekdays with this/next, "in 3 days", "on 12
 * march", "at 5pm", "high/low priority", "urgent", "!high", "#tag", "every day/week/month",
 * "every monday", "remind me to …"), list with filters (due today/tomorrow/this week, overdue,
 * completed/pending, priority, tag, search, sort, top N), show one task, complete and delete
 * by id or by a title fragment (resolved with a list_tasks search; several matches → the
 * reply asks which one), rename and update (title, priority, due date, description,
 * recurrence, tags), tags, stats, help. Several requests in one message ("add milk and eggs",
 * "complete 3 and delete 4"). Anything else gets an answer listing what it can do.
 * "next friday" is the first Friday after today (a week ahead when today is a Friday); a plain
 * "friday" or "this friday" may be today.
 *
 * Bounds: OFFLINE_MESSAGE_MAX bytes of input, OFFLINE_MAX_TOKENS words, OFFLINE_MAX_INTENTS
 * intents, OFFLINE_MAX_CALLS tool calls and OFFLINE_REPLY_MAX bytes of reply per turn.
 * Threads: no state outside the arguments; any number of threads may call at once.
 * Memory: everything comes from the caller's arena (tool arguments from the caller's yyjson
 * document, which should itself use the arena); nothing needs freeing.
 */
#ifndef TODO_OFFLINE_H
#define TODO_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"

#define OFFLINE_MESSAGE_MAX 16384 /* bytes: 4000 characters of any script fit */
#define OFFLINE_MAX_TOKENS  600
#define OFFLINE_MAX_INTENTS 8
#define OFFLINE_MAX_IDS     5 /* "complete 3, 4 and 5" */
#define OFFLINE_MAX_TAGS    20
#define OFFLINE_MAX_CALLS   16
#define OFFLINE_REPLY_MAX   4096
#define OFFLINE_OFFSET_MAX  (14 * 60) /* minutes east of UTC: UTC-14:00 … UTC+14:00 */
#define OFFLINE_TIME_MAX    32        /* "2026-03-13T17:00:00+05:45" + NUL */
#define OFFLINE_LIST_SHOWN  10        /* tasks a reply lists before "…and N more" */

/* What the caller knows about the turn. */
struct offline_input {
    const char *message; /* UTF-8, need not be NUL-terminated */
    size_t len;          /* bytes, at most OFFLINE_MESSAGE_MAX */
    int64_t now;         /* Unix seconds */
    int utc_offset_min; /* the user's offset from UTC in minutes, |offset| ≤ OFFLINE_OFFSET_MAX */
};

/* The tools, in the order of the MCP tool table. */
enum offline_tool {
    TOOL_ADD_TASK,
    TOOL_LIST_TASKS,
    TOOL_GET_TASK,
    TOOL_COMPLETE_TASK,
    TOOL_DELETE_TASK,
    TOOL_UPDATE_TASK,
    TOOL_LIST_TAGS,
    TOOL_TASK_STATS,
};

/* The tool's name ("add_task"). */
const char *offline_tool_name(enum offline_tool t);

/* Fields of a task the text gave (add, update, quick add). */
enum offline_field {
    OF_TITLE = 1 << 0,
    OF_DESCRIPTION = 1 << 1,
    OF_PRIORITY = 1 << 2,
    OF_TAGS = 1 << 3,
    OF_DUE = 1 << 4,
    OF_REMIND = 1 << 5,
    OF_RECURRENCE = 1 << 6,
    OF_INTERVAL = 1 << 7,
};

/* How an update treats tags: replace the list, or add/remove some (read the task first). */
enum offline_tags_mode { TAGS_REPLACE = 0, TAGS_ADD, TAGS_REMOVE };

struct offline_fields {
    unsigned set;   /* OF_* present with a value */
    unsigned clear; /* OF_* to clear (update: "remove the due date of 3") */
    const char *title;
    const char *description;
    const char *priority;   /* "high" | "medium" | "low" */
    const char *recurrence; /* "none" | "daily" | "weekly" | "monthly" | "yearly" */
    int interval;           /* ≥ 1 */
    const char *tags[OFFLINE_MAX_TAGS];
    size_t ntags;
    enum offline_tags_mode tags_mode;
    char due_at[OFFLINE_TIME_MAX]; /* RFC 3339 with the user's offset */
    char remind_at[OFFLINE_TIME_MAX];
};

/* The task an intent acts on: ids, or a title fragment to resolve with list_tasks. */
struct offline_target {
    int64_t ids[OFFLINE_MAX_IDS];
    size_t nids;
    const char *fragment; /* NULL when ids are given */
};

/* list_tasks arguments; NULL / 0 / -1 for "not given". */
struct offline_filter {
    const char *status, *priority, *tag, *search, *sort, *order;
    char due_before[OFFLINE_TIME_MAX], due_after[OFFLINE_TIME_MAX];
    int overdue; /* -1 not given, 0 false, 1 true */
    int limit;
    const char *due_label; /* how the reply names a due range ("due today"), or NULL */
};

enum offline_intent_kind {
    INTENT_ADD,
    INTENT_LIST,
    INTENT_GET,
    INTENT_COMPLETE,
    INTENT_DELETE,
    INTENT_UPDATE,
    INTENT_TAGS,
    INTENT_STATS,
    INTENT_HELP,     /* asked for help, or not understood */
    INTENT_GREETING, /* hello / thanks */
    INTENT_REFUSE,   /* understood but not offered (bulk delete …): note says why */
};

struct offline_intent {
    enum offline_intent_kind kind;
    struct offline_fields fields; /* add, update */
    struct offline_target target; /* get, complete, delete, update */
    struct offline_filter filter; /* list */
    const char *focus;            /* stats: the count asked about ("overdue"), or NULL */
    const char *note;             /* refuse: the reason, a sentence */
};

struct offline_plan {
    struct offline_intent intents[OFFLINE_MAX_INTENTS];
    size_t n;
    bool understood; /* false: the plan is one INTENT_HELP for a message not understood */
};

/* Runs one tool as the authenticated user. args is an object in doc (read it during the
 * call; do not keep it). On ERR_OK the tool ran: *result is its JSON result (valid until the
 * caller's arena is freed; NULL allowed) and *is_error tells whether it failed as a tool
 * (not found, invalid arguments), as MCP's isError does. Any other return (ERR_UNAVAILABLE …)
 * means the tool could not run at all: the turn stops and offline_run returns that code.
 * A streaming caller emits its tool_call / tool_result events from here. */
struct offline_runner {
    int (*call)(void *ctx, const char *tool, yyjson_mut_doc *doc, yyjson_mut_val *args,
                yyjson_val **result, bool *is_error);
    void *ctx;
};

/* One tool call of a turn, in order. */
struct offline_call {
    const char *tool;
    yyjson_mut_val *args; /* in the caller's doc */
    yyjson_val *result;   /* as the runner returned it */
    bool is_error;
};

struct offline_turn {
    struct offline_call calls[OFFLINE_MAX_CALLS];
    size_t ncalls;
    const char *reply; /* plain sentences, arena-owned, at most OFFLINE_REPLY_MAX bytes */
};

/* Understands a message. Returns ERR_OK (plan filled; plan->understood false when the
 * plan is the help answer), ERR_INVALID (not UTF-8, or the offset is out of range),
 * ERR_TOOBIG (over OFFLINE_MESSAGE_MAX) or ERR_NOMEM. */
int offline_parse(struct arena *a, const struct offline_input *in, struct offline_plan *plan);

/* Runs a plan: makes its tool calls through r in order (at most OFFLINE_MAX_CALLS), then
 * writes the reply. Returns ERR_OK, ERR_NOMEM, or the runner's error (turn then holds the
 * calls made so far and no reply). */
int offline_run(struct arena *a, const struct offline_input *in, const struct offline_plan *plan,
                const struct offline_runner *r, yyjson_mut_doc *doc, struct offline_turn *turn);

/* offline_parse then offline_run: one chat turn. A message offline_parse refuses gets a
 * reply saying so (ERR_OK, no calls); only ERR_NOMEM and runner errors are returned. */
int offline_turn(struct arena *a, const struct offline_input *in, const struct offline_runner *r,
                 yyjson_mut_doc *doc, struct offline_turn *turn);

/* Understands one task written the quick-add way ("buy milk tomorrow 5pm #home !high"): no
 * command word, everything that is not a date, time, priority, tag, recurrence, reminder or
 * description is the title. Returns ERR_OK, ERR_INVALID (no title left, not UTF-8, offset
 * out of range), ERR_TOOBIG or ERR_NOMEM. */
int offline_parse_task(struct arena *a, const struct offline_input *in, struct offline_fields *out);

/* The fields as add_task's arguments (TaskCreate-shaped): only what the text gave. */
yyjson_mut_val *offline_task_args(yyjson_mut_doc *doc, const struct offline_fields *f);

#endif
