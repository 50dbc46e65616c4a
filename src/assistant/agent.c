/*
 * One chat turn's engine (see agent.h): the model's rounds over httpc, the tools' steps on
 * the work queue, the offline assistant, the stored reply and the events on the way.
 *
 * Who touches a turn when: its fields and arena are used by one thread at a time — the
 * worker that made it, then the loop (httpc callbacks, posted calls, timers) and the pool
 * threads of its work-queue steps, each step handing over to the next through the loop's or
 * the queue's locks. Only `canceled` (atomic) and `xfer` (under mu) are shared: a cancel or
 * resume comes from an HTTP worker at any time.
 */
#include "assistant/agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "assistant/llm.h"
#include "assistant/offline.h"
#include "core/metrics.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/shared.h"
#include "core/timefmt.h"
#include "core/tz.h"
#include "core/util.h"
#include "io/httpc.h"
#include "io/loop.h"
#include "io/workq.h"

#define HEADER_MAX      1200
#define PROMPT_MAX      (16 * 1024)
#define TOOL_CALLS_TEXT CONV_TOOL_CALLS_MAX
#define DETAIL_PROVIDER "The model provider"

static atomic_int live_turns;

static void retry_fired(struct loop_timer *tm, bool canceled);

enum step { STEP_NONE, STEP_PREPARE, STEP_TOOLS, STEP_STORE, STEP_OFFLINE };

/* One tool call of the turn, for the answer, the events and the stored reply. */
struct call_rec {
    const char *id;
    const char *tool;
    yyjson_mut_val *args; /* the parsed arguments, or the raw text when they were not JSON */
    yyjson_mut_val *result;
    bool is_error;
};

struct agent_turn {
    const struct agent *ag;
    struct arena *a;
    yyjson_mut_doc *doc;
    struct agent_sink sink;
    /* The input. */
    const char *uid, *token, *message, *tz;
    int64_t conv_id, user_msg_id, now;
    /* The conversation as the model sees it, and the tools it may call. */
    yyjson_mut_val *messages;
    yyjson_mut_val *functions;
    struct tool_caller who;
    /* What the turn did. */
    struct dynbuf reply;
    struct call_rec calls[AGENT_MAX_CALLS];
    size_t ncalls;
    int rounds;
    /* The model call in flight. */
    struct llm_reader *reader;
    const struct llm_answer *answer;
    size_t round_first_call; /* calls[] index where this round's calls begin */
    int attempt;
    int64_t deadline_ms;   /* for the answer to begin */
    int64_t call_start_us; /* when the model call in flight began (metrics) */
    int status;            /* the model's HTTP status */
    bool streamed;         /* the answer is an event stream */
    bool round_text;       /* this round has emitted text */
    bool pause;            /* the sink is full: pause the transfer */
    bool unreadable;       /* the answer broke the wire format (transfer aborted) */
    int reader_err;
    int retry_after_ms;
    struct loop_call post;
    struct loop_timer timer;
    struct work work;
    enum step step;
    pthread_mutex_t mu;
    struct httpc_xfer *xfer; /* under mu */
    bool in_flight;          /* under mu */
    atomic_bool canceled;
    atomic_bool quiet; /* the sink said nobody listens: no more events */
    /* The outcome. */
    int err;
    const char *detail;
    bool finished;
};

/* ---- setup ---------------------------------------------------------------------------------- */

int agent_init(struct agent *ag, const struct config *cfg, struct dynbuf *why)
{
    ag->cfg = cfg;
    return provider_resolve(cfg, &ag->model, why);
}

bool agent_offline(const struct agent *ag)
{
    return ag->model.id == PROVIDER_OFFLINE;
}

int agent_error_status(int err)
{
    switch (err) {
    case ERR_TIMEOUT:
        return 504;
    case ERR_INVALID:
    case ERR_TOOBIG:
        return 502;
    case ERR_NOMEM:
        return 500;
    default:
        return 503;
    }
}

static void turn_dispose(void *obj)
{
    struct agent_turn *t = obj;
    pthread_mutex_destroy(&t->mu);
    arena_free(t->a);
    atomic_fetch_sub(&live_turns, 1);
}

void agent_turn_ref(struct agent_turn *t)
{
    shared_ref(t);
}

void agent_turn_release(struct agent_turn *t)
{
    shared_unref(t);
}

/* ---- the prompt ------------------------------------------------------------------------------ */

const char *agent_system_prompt(const struct config *cfg, struct arena *a, const char *tz,
                                int64_t now)
{
    static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};
    int off = 0;
    if (!tz || tz_offset(tz, now, &off) != ERR_OK)
        tz = "UTC";
    char local[TIME_TEXT_MAX];
    time_format(now + off, local);
    int64_t day = (now + off) / 86400 - ((now + off) % 86400 < 0);
    int wd = (int)(((day % 7) + 11) % 7);
    int aoff = off < 0 ? -off : off;
    char sign = off < 0 ? '-' : '+';
    struct dynbuf b;
    dyn_init_arena(&b, a, PROMPT_MAX);
    dyn_addf(&b,
             "You are %s, the assistant of a task manager. You manage the user's tasks only "
             "through the tools you are given: add, list, show, complete, delete and update "
             "tasks, and read tags and counts.\n"
             "Today is %s, %.10s, and the time is %.5s in the user's time zone, %s "
             "(UTC%c%02d:%02d). Read relative dates (today, tonight, tomorrow, next Friday, in "
             "3 days) in that time zone, and write times in tool arguments in RFC 3339 with "
             "that offset, for example %.10sT17:00:00%c%02d:%02d; a day without a time of day "
             "means 23:59:59 that day.\n"
             "The tools always act for the signed-in user: never ask for, invent or pass a user "
             "id. When the user names a task by its title, find it with list_tasks first; when "
             "several tasks match, ask which one. Do several things in one turn when asked to.\n"
             "Answer briefly, in plain sentences, and say what you changed.",
             cfg->agent_name && *cfg->agent_name ? cfg->agent_name : "TodoAssistant", days[wd],
             local, local + 11, tz, sign, aoff / 3600, aoff % 3600 / 60, local, sign, aoff / 3600,
             aoff % 3600 / 60);
    if (cfg->agent_instructions && *cfg->agent_instructions)
        dyn_addf(&b, "\n\n%s", cfg->agent_instructions);
    return dyn_err(&b) == ERR_OK ? dyn_str(&b) : NULL;
}

/* Replays the stored history as wire messages: a reply's tool calls become an assistant
 * message with tool_calls and one tool message per call (results cut to a bound), then its
 * text. Ids get the message's id as a prefix, so they are unique in the conversation. */
static void add_history(struct agent_turn *t, const struct conv_message *h, size_t n)
{
    yyjson_alc alc;
    arena_yyjson_alc(t->a, &alc);
    for (size_t i = 0; i < n; i++) {
        const struct conv_message *m = &h[i];
        if (strcmp(m->role, "user") == 0) {
            llm_msg(t->doc, t->messages, "user", m->content);
            continue;
        }
        yyjson_doc *d = m->tool_calls ? yyjson_read_opts((char *)m->tool_calls,
                                                         strlen(m->tool_calls), 0, &alc, NULL)
                                      : NULL;
        yyjson_val *calls = d ? yyjson_doc_get_root(d) : NULL;
        if (yyjson_arr_size(calls) > 0) {
            yyjson_mut_val *am = llm_msg(t->doc, t->messages, "assistant", NULL);
            size_t j, max;
            yyjson_val *c;
            yyjson_arr_foreach(calls, j, max, c)
            {
                const char *id = yyjson_get_str(yyjson_obj_get(c, "id"));
                const char *tool = yyjson_get_str(yyjson_obj_get(c, "tool"));
                yyjson_val *args = yyjson_obj_get(c, "arguments");
                const char *call_id =
                    arena_printf(t->a, "m%lld_%s", (long long)m->id, id ? id : "call");
                const char *args_text = yyjson_is_str(args)
                                            ? yyjson_get_str(args)
                                            : yyjson_val_write_opts(args, 0, &alc, NULL, NULL);
                llm_msg_add_call(t->doc, am, call_id ? call_id : "call", tool ? tool : "",
                                 args_text ? args_text : "{}");
            }
            yyjson_arr_foreach(calls, j, max, c)
            {
                const char *id = yyjson_get_str(yyjson_obj_get(c, "id"));
                const char *call_id =
                    arena_printf(t->a, "m%lld_%s", (long long)m->id, id ? id : "call");
                size_t len = 0;
                char *res = yyjson_val_write_opts(yyjson_obj_get(c, "result"), 0, &alc, &len, NULL);
                if (res && len > AGENT_HISTORY_TOOL_MAX) /* valid JSON is not needed here */
                    memcpy(res + AGENT_HISTORY_TOOL_MAX - 4, "...", 4);
                llm_tool_msg(t->doc, t->messages, call_id ? call_id : "call", res ? res : "null");
            }
        }
        if (m->content && *m->content)
            llm_msg(t->doc, t->messages, "assistant", m->content);
    }
}

int agent_turn_new(const struct agent *ag, const struct agent_turn_in *in,
                   const struct agent_sink *sink, struct agent_turn **out)
{
    if (atomic_fetch_add(&live_turns, 1) >= AGENT_LIVE_MAX) {
        atomic_fetch_sub(&live_turns, 1);
        return ERR_LIMIT;
    }
    struct agent_turn *t = shared_new(sizeof(*t), turn_dispose);
    struct arena *a = t ? arena_new() : NULL;
    if (!a) {
        if (t) {
            t->a = NULL;
            pthread_mutex_init(&t->mu, NULL);
            shared_unref(t);
        } else {
            atomic_fetch_sub(&live_turns, 1);
        }
        return ERR_NOMEM;
    }
    t->a = a;
    pthread_mutex_init(&t->mu, NULL);
    t->ag = ag;
    t->sink = *sink;
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    t->doc = yyjson_mut_doc_new(&alc);
    t->uid = arena_strdup(a, in->uid);
    t->token = arena_strdup(a, in->token);
    t->message = arena_strdup(a, in->message);
    t->tz = in->timezone ? arena_strdup(a, in->timezone) : NULL;
    t->conv_id = in->conv_id;
    t->user_msg_id = in->user_msg_id;
    t->now = in->now;
    dyn_init_arena(&t->reply, a, LLM_TEXT_MAX * 2);
    t->who = (struct tool_caller){.a = a, .uid = t->uid, .token = t->token};
    t->timer.fn = retry_fired;
    if (!t->doc || !t->uid || !t->message || (in->token && !t->token) || (in->timezone && !t->tz) ||
        toolbox_session(&ag->tools, &t->who) != ERR_OK) {
        shared_unref(t);
        return ERR_NOMEM;
    }
    if (!agent_offline(ag)) {
        t->messages = yyjson_mut_arr(t->doc);
        const char *prompt = agent_system_prompt(ag->cfg, a, t->tz, t->now);
        if (!t->messages || !prompt) {
            shared_unref(t);
            return ERR_NOMEM;
        }
        llm_msg(t->doc, t->messages, "system", prompt);
        add_history(t, in->history, in->nhistory);
        llm_msg(t->doc, t->messages, "user", t->message);
    }
    *out = t;
    return ERR_OK;
}

/* ---- events ---------------------------------------------------------------------------------- */

/* Sends one event built in doc; returns the sink's answer (ERR_OK when nobody listens). */
static int emit(struct agent_turn *t, const char *name, yyjson_mut_val *data)
{
    if (atomic_load(&t->quiet) || atomic_load(&t->canceled))
        return ERR_OK;
    yyjson_alc alc;
    arena_yyjson_alc(t->a, &alc);
    size_t len = 0;
    const char *json = yyjson_mut_val_write_opts(data, 0, &alc, &len, NULL);
    if (!json)
        return ERR_OK;
    int rc = t->sink.event(t->sink.ctx, name, json, len);
    if (rc == ERR_CANCELED) {
        atomic_store(&t->quiet, true);
        agent_turn_cancel(t);
        return ERR_OK;
    }
    return rc == AGENT_SINK_FULL ? AGENT_SINK_FULL : ERR_OK;
}

/* Text of the reply: kept for the answer and sent on as a delta. Between the texts of two
 * rounds a paragraph break is added, so the reply reads as it streamed. */
static int add_text(struct agent_turn *t, const char *p, size_t n)
{
    if (n == 0)
        return ERR_OK;
    int rc = ERR_OK;
    if (!t->round_text && dyn_len(&t->reply) > 0) {
        const char *s = dyn_str(&t->reply);
        char last = s[dyn_len(&t->reply) - 1];
        if (last != '\n' && last != ' ') {
            dyn_add(&t->reply, "\n\n");
            yyjson_mut_val *o = yyjson_mut_obj(t->doc);
            yyjson_mut_obj_add_str(t->doc, o, "text", "\n\n");
            emit(t, "delta", o);
        }
    }
    t->round_text = true;
    dyn_addn(&t->reply, p, n);
    yyjson_mut_val *o = yyjson_mut_obj(t->doc);
    yyjson_mut_obj_add_strncpy(t->doc, o, "text", p, n);
    rc = emit(t, "delta", o);
    return rc;
}

static void emit_call(struct agent_turn *t, const struct call_rec *c)
{
    yyjson_mut_val *o = yyjson_mut_obj(t->doc);
    yyjson_mut_obj_add_str(t->doc, o, "id", c->id);
    yyjson_mut_obj_add_str(t->doc, o, "tool", c->tool);
    yyjson_mut_obj_add_val(t->doc, o, "arguments", yyjson_mut_val_mut_copy(t->doc, c->args));
    emit(t, "tool_call", o);
}

static void emit_result(struct agent_turn *t, const struct call_rec *c)
{
    yyjson_mut_val *o = yyjson_mut_obj(t->doc);
    yyjson_mut_obj_add_str(t->doc, o, "id", c->id);
    yyjson_mut_obj_add_val(t->doc, o, "result",
                           c->result ? yyjson_mut_val_mut_copy(t->doc, c->result)
                                     : yyjson_mut_null(t->doc));
    yyjson_mut_obj_add_bool(t->doc, o, "is_error", c->is_error);
    emit(t, "tool_result", o);
}

/* ---- results ----------------------------------------------------------------------------------
 */

int agent_turn_error(const struct agent_turn *t, const char **detail)
{
    *detail = t->detail ? t->detail : err_detail(t->err);
    return t->err;
}

yyjson_mut_val *agent_turn_result(const struct agent_turn *t, yyjson_mut_doc *doc)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "conversation_id", t->conv_id);
    yyjson_mut_obj_add_strcpy(doc, o, "response", dyn_str(&t->reply));
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    for (size_t i = 0; i < t->ncalls; i++) {
        const struct call_rec *c = &t->calls[i];
        yyjson_mut_val *e = yyjson_mut_obj(doc);
        yyjson_mut_obj_add_strcpy(doc, e, "tool", c->tool);
        yyjson_mut_obj_add_val(doc, e, "arguments", yyjson_mut_val_mut_copy(doc, c->args));
        yyjson_mut_obj_add_val(doc, e, "result",
                               c->result ? yyjson_mut_val_mut_copy(doc, c->result)
                                         : yyjson_mut_null(doc));
        yyjson_mut_arr_append(arr, e);
    }
    yyjson_mut_obj_add_val(doc, o, "tool_calls", arr);
    return o;
}

/* The stored form of the turn's tool calls: [{id, tool, arguments, result, is_error}], with
 * results over CONV_TOOL_RESULT_MAX replaced by a note. NULL when there are none. */
static const char *calls_json(struct agent_turn *t)
{
    if (t->ncalls == 0)
        return NULL;
    yyjson_alc alc;
    arena_yyjson_alc(t->a, &alc);
    yyjson_mut_val *arr = yyjson_mut_arr(t->doc);
    for (size_t i = 0; i < t->ncalls; i++) {
        const struct call_rec *c = &t->calls[i];
        yyjson_mut_val *e = yyjson_mut_obj(t->doc);
        yyjson_mut_obj_add_str(t->doc, e, "id", c->id);
        yyjson_mut_obj_add_str(t->doc, e, "tool", c->tool);
        yyjson_mut_obj_add_val(t->doc, e, "arguments", yyjson_mut_val_mut_copy(t->doc, c->args));
        size_t len = 0;
        char *res = c->result ? yyjson_mut_val_write_opts(c->result, 0, &alc, &len, NULL) : NULL;
        yyjson_mut_val *r = yyjson_mut_null(t->doc);
        if (res && len <= CONV_TOOL_RESULT_MAX) {
            r = yyjson_mut_val_mut_copy(t->doc, c->result);
        } else if (res) {
            r = yyjson_mut_obj(t->doc);
            yyjson_mut_obj_add_bool(t->doc, r, "truncated", true);
            yyjson_mut_obj_add_uint(t->doc, r, "bytes", len);
        }
        yyjson_mut_obj_add_val(t->doc, e, "result", r);
        yyjson_mut_obj_add_bool(t->doc, e, "is_error", c->is_error);
        yyjson_mut_arr_append(arr, e);
    }
    size_t len = 0;
    char *json = yyjson_mut_val_write_opts(arr, 0, &alc, &len, NULL);
    return json && len <= TOOL_CALLS_TEXT ? json : "[]";
}

/* Stores what the turn did as its reply (nothing when it did nothing). Runs where a
 * database connection may be taken: db, or one from the store. */
static void store_reply(struct agent_turn *t, struct store_conn *db)
{
    if (t->ncalls == 0 && dyn_len(&t->reply) == 0)
        return;
    struct store_conn *own = NULL;
    if (!db && store_acquire(t->ag->store, &own) != ERR_OK) {
        log_warn("chat: the reply of conversation %lld could not be stored: no database",
                 (long long)t->conv_id);
        return;
    }
    int64_t id = 0;
    int rc = conv_add_reply(db ? db : own, t->a, t->uid, t->conv_id, dyn_str(&t->reply),
                            calls_json(t), &id);
    if (own)
        store_release(own);
    if (rc != ERR_OK && rc != ERR_NOTFOUND) /* NOTFOUND: deleted meanwhile */
        log_warn("chat: the reply of conversation %lld could not be stored: %s",
                 (long long)t->conv_id, err_str(rc));
}

/* The end: the done or error event, then the sink's done. Once. */
static void finish(struct agent_turn *t)
{
    if (t->finished)
        return;
    t->finished = true;
    if (t->err == ERR_OK && atomic_load(&t->canceled)) {
        t->err = ERR_CANCELED;
        t->detail = "The request was canceled";
    }
    if (t->err == ERR_OK) {
        emit(t, "done", agent_turn_result(t, t->doc));
    } else if (t->err != ERR_CANCELED) {
        yyjson_mut_val *o = yyjson_mut_obj(t->doc);
        const char *detail;
        agent_turn_error(t, &detail);
        yyjson_mut_obj_add_str(t->doc, o, "detail", detail);
        yyjson_mut_obj_add_int(t->doc, o, "status", agent_error_status(t->err));
        yyjson_mut_obj_add_int(t->doc, o, "conversation_id", t->conv_id);
        emit(t, "error", o);
    }
    t->sink.done(t->sink.ctx, t);
    shared_unref(t); /* the reference of the running turn */
}

static void fail(struct agent_turn *t, int err, const char *detail)
{
    if (t->err == ERR_OK) {
        t->err = err;
        t->detail = detail;
    }
}

/* ---- work-queue steps --------------------------------------------------------------------- */

/* Parses a call's arguments; invalid JSON or a non-object is a tool error for the model. */
static yyjson_val *parse_args(struct agent_turn *t, const struct llm_call *c, const char **why)
{
    *why = NULL;
    if (c->args_len == 0)
        return NULL; /* no arguments */
    yyjson_alc alc;
    arena_yyjson_alc(t->a, &alc);
    yyjson_read_err err;
    yyjson_doc *d = yyjson_read_opts((char *)c->arguments, c->args_len, 0, &alc, &err);
    yyjson_val *root = d ? yyjson_doc_get_root(d) : NULL;
    if (!root) {
        *why = arena_printf(t->a,
                            "The arguments are not valid JSON (%s at byte %zu). Call the tool "
                            "again with a JSON object that matches its parameters.",
                            err.msg ? err.msg : "error", err.pos);
        return NULL;
    }
    if (!yyjson_is_obj(root)) {
        *why = "The arguments must be a JSON object that matches the tool's parameters.";
        return NULL;
    }
    return root;
}

/* Makes a call a tool error with message msg. */
static void call_error(struct agent_turn *t, struct call_rec *c, const char *msg)
{
    c->is_error = true;
    c->result = yyjson_mut_obj(t->doc);
    yyjson_mut_obj_add_str(t->doc, c->result, "error", msg);
}

/* Runs the calls of this round (pool thread), with a connection of its own when the tools
 * are in process. A call that cannot run at all (the database or the MCP server is gone)
 * fails the turn; the calls after it are not made. */
static void run_tools(struct agent_turn *t)
{
    struct store_conn *db = NULL;
    int stop = ERR_OK;
    if (toolbox_local(&t->ag->tools) && store_acquire(t->ag->store, &db) != ERR_OK) {
        stop = ERR_UNAVAILABLE;
        fail(t, ERR_UNAVAILABLE, "The database is unavailable, try again shortly");
    }
    t->who.db = db;
    for (size_t i = t->round_first_call; i < t->ncalls; i++) {
        struct call_rec *c = &t->calls[i];
        const struct llm_call *lc = &t->answer->calls[i - t->round_first_call];
        if (stop == ERR_OK && atomic_load(&t->canceled))
            stop = ERR_CANCELED;
        if (stop != ERR_OK) {
            call_error(t, c,
                       stop == ERR_CANCELED ? "Not run: the request was canceled"
                                            : "Not run: the tools are unavailable");
            continue;
        }
        const char *why;
        yyjson_val *args = parse_args(t, lc, &why);
        if (why) {
            call_error(t, c, why);
        } else {
            int rc = toolbox_call(&t->ag->tools, &t->who, c->tool, args, t->doc, &c->result,
                                  &c->is_error);
            if (rc != ERR_OK) {
                stop = rc;
                fail(t, rc == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE,
                     rc == ERR_TIMEOUT ? "The tools did not answer in time"
                                       : "The tools are unavailable, try again shortly");
                call_error(t, c, "The tool could not run");
            }
        }
        emit_result(t, c);
    }
    t->who.db = NULL;
    if (db)
        store_release(db);
}

/* The offline assistant's runner: a tool call of its plan, through the toolbox. */
static int offline_call(void *ctx, const char *tool, yyjson_mut_doc *doc, yyjson_mut_val *args,
                        yyjson_val **result, bool *is_error)
{
    struct agent_turn *t = ctx;
    if (t->ncalls == AGENT_MAX_CALLS)
        return ERR_LIMIT;
    struct call_rec *c = &t->calls[t->ncalls++];
    c->id = arena_printf(t->a, "call_%zu", t->ncalls);
    c->tool = tool;
    c->args = args ? yyjson_mut_val_mut_copy(t->doc, args) : yyjson_mut_obj(t->doc);
    emit_call(t, c);
    yyjson_alc alc;
    arena_yyjson_alc(t->a, &alc);
    yyjson_doc *in = args ? yyjson_mut_val_imut_copy(args, &alc) : NULL;
    int rc = toolbox_call(&t->ag->tools, &t->who, tool, in ? yyjson_doc_get_root(in) : NULL, t->doc,
                          &c->result, &c->is_error);
    if (rc != ERR_OK) {
        t->ncalls--;
        return rc;
    }
    emit_result(t, c);
    /* The offline assistant reads the result as immutable JSON. */
    yyjson_doc *out = yyjson_mut_val_imut_copy(c->result, &alc);
    *result = out ? yyjson_doc_get_root(out) : NULL;
    (void)doc;
    return ERR_OK;
}

/* Runs the offline assistant on this thread with the toolbox (db set by the caller). */
static void run_offline(struct agent_turn *t)
{
    int off = 0;
    if (t->tz && tz_offset(t->tz, t->now, &off) != ERR_OK)
        off = 0;
    struct offline_input in = {.message = t->message,
                               .len = strlen(t->message),
                               .now = t->now,
                               .utc_offset_min = off / 60};
    struct offline_runner r = {.call = offline_call, .ctx = t};
    struct offline_turn *turn = arena_calloc(t->a, 1, sizeof(*turn));
    int rc = turn ? offline_turn(t->a, &in, &r, t->doc, turn) : ERR_NOMEM;
    if (rc == ERR_OK) {
        add_text(t, turn->reply, strlen(turn->reply));
    } else if (rc == ERR_TIMEOUT) {
        fail(t, ERR_TIMEOUT, "The tools did not answer in time");
    } else if (rc == ERR_NOMEM) {
        fail(t, ERR_NOMEM, NULL);
    } else {
        fail(t, ERR_UNAVAILABLE,
             rc == ERR_LIMIT ? "Too many tool calls in one message"
                             : "The tools are unavailable right now");
    }
}

static void model_call(struct agent_turn *t);

static void step_work(struct work *w)
{
    struct agent_turn *t = (struct agent_turn *)((char *)w - offsetof(struct agent_turn, work));
    switch (t->step) {
    case STEP_PREPARE: { /* the MCP server's tool list, which the model needs first */
        t->functions = yyjson_mut_arr(t->doc);
        int rc = toolbox_functions(&t->ag->tools, &t->who, t->doc, t->functions);
        if (rc != ERR_OK) {
            log_warn("chat: the MCP server's tool list is unavailable: %s", err_str(rc));
            fail(t, rc == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE,
                 "The tools are unavailable, try again shortly");
        }
        break;
    }
    case STEP_TOOLS:
        run_tools(t);
        break;
    case STEP_OFFLINE:
        if (toolbox_local(&t->ag->tools) && store_acquire(t->ag->store, &t->who.db) != ERR_OK) {
            fail(t, ERR_UNAVAILABLE, "The database is unavailable, try again shortly");
            break;
        }
        run_offline(t);
        if (t->who.db)
            store_release(t->who.db);
        t->who.db = NULL;
        store_reply(t, NULL);
        toolbox_end(&t->ag->tools, &t->who);
        break;
    case STEP_STORE:
        store_reply(t, NULL);
        toolbox_end(&t->ag->tools, &t->who);
        break;
    default:
        break;
    }
}

static void store_and_finish(struct agent_turn *t);

/* After a step, on the loop. A step that never ran (shutdown) ends the turn. */
static void step_after(struct work *w, int status)
{
    struct agent_turn *t = (struct agent_turn *)((char *)w - offsetof(struct agent_turn, work));
    enum step s = t->step;
    t->step = STEP_NONE;
    if (status != ERR_OK) {
        fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        finish(t);
        return;
    }
    if (s == STEP_TOOLS || s == STEP_PREPARE) {
        if (t->err != ERR_OK || atomic_load(&t->canceled)) {
            store_and_finish(t);
            return;
        }
        t->attempt = 0; /* the next round */
        model_call(t);
        return;
    }
    finish(t);
}

static void submit(struct agent_turn *t, enum step s)
{
    t->step = s;
    if (workq_submit(t->ag->workq, &t->work, step_work, step_after) != ERR_OK) {
        t->step = STEP_NONE;
        fail(t, ERR_UNAVAILABLE, "The server is busy or shutting down, try again shortly");
        finish(t);
    }
}

static void store_and_finish(struct agent_turn *t)
{
    submit(t, STEP_STORE);
}

/* ---- the model --------------------------------------------------------------------------------
 */

static void on_text(void *ctx, const char *p, size_t n)
{
    struct agent_turn *t = ctx;
    if (add_text(t, p, n) == AGENT_SINK_FULL)
        t->pause = true;
}

static int on_headers(void *ctx, const struct httpc_response *r)
{
    struct agent_turn *t = ctx;
    t->status = r->status;
    const char *ct = httpc_header(r, "Content-Type");
    t->streamed = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    t->retry_after_ms = 0;
    const char *ra = httpc_header(r, "Retry-After");
    int64_t secs;
    if (ra && parse_int64(ra, 0, 3600, &secs) == ERR_OK)
        t->retry_after_ms = (int)secs * 1000;
    return HTTPC_CONTINUE;
}

static int on_event(void *ctx, const struct sse_event *ev)
{
    struct agent_turn *t = ctx;
    if (t->status != 200)
        return HTTPC_CONTINUE;
    if (strcmp(ev->event, "message") != 0 && strcmp(ev->event, "error") != 0)
        return HTTPC_CONTINUE; /* ping and other event kinds some servers send */
    t->pause = false;
    int rc = llm_reader_chunk(t->reader, ev->data, ev->data_len);
    if (rc != ERR_OK) {
        t->unreadable = true;
        t->reader_err = rc;
        return HTTPC_ABORT;
    }
    if (atomic_load(&t->canceled))
        return HTTPC_ABORT;
    return t->pause ? HTTPC_PAUSE : HTTPC_CONTINUE;
}

/* The turn's state after the model's answer: retry, fail, run tools or finish. */
static void answered(struct agent_turn *t, const struct httpc_result *res);

static void on_done(void *ctx, const struct httpc_result *res)
{
    struct agent_turn *t = ctx;
    pthread_mutex_lock(&t->mu);
    struct httpc_xfer *x = t->xfer;
    t->xfer = NULL;
    t->in_flight = false;
    pthread_mutex_unlock(&t->mu);
    httpc_xfer_release(x);
    const char *provider = t->ag->model.name;
    char status[8];
    struct dynbuf d;
    dyn_init_fixed(&d, status, sizeof(status));
    dyn_add_int(&d, t->status);
    METRIC_INC(METRIC_LLM_CALLS, provider, t->status ? status : "no_answer");
    metric_observe(METRIC_LLM_DURATION, (const char *const[]){provider},
                   (double)(now_mono_us() - t->call_start_us) / 1e6);
    answered(t, res);
}

static void retry_fired(struct loop_timer *tm, bool canceled)
{
    struct agent_turn *t = (struct agent_turn *)((char *)tm - offsetof(struct agent_turn, timer));
    if (canceled || atomic_load(&t->canceled)) {
        fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        store_and_finish(t);
        return;
    }
    model_call(t);
}

/* Waits before trying the model again, when the deadline leaves room; else false. */
static bool retry_later(struct agent_turn *t)
{
    if (t->attempt >= AGENT_MAX_ATTEMPTS || t->round_text || atomic_load(&t->canceled))
        return false;
    int64_t wait = (int64_t)AGENT_BACKOFF_MS << (t->attempt - 1);
    if (t->retry_after_ms > wait)
        wait = t->retry_after_ms;
    wait += (int64_t)randombytes_uniform(100); /* jitter */
    if (now_mono_ms() + wait >= t->deadline_ms - 100)
        return false;
    return loop_timer_start(t->ag->loop, &t->timer, wait) == ERR_OK;
}

static const char *status_detail(struct agent_turn *t)
{
    switch (t->status) {
    case 400:
    case 422:
        return DETAIL_PROVIDER " refused the request (check LLM_MODEL and that the model "
                               "supports tools)";
    case 401:
    case 403:
        return DETAIL_PROVIDER " refused the API key";
    case 404:
        return DETAIL_PROVIDER " does not know this model or endpoint (check the base URL "
                               "and the model)";
    default:
        return arena_printf(t->a, DETAIL_PROVIDER " answered with status %d", t->status);
    }
}

static void answered(struct agent_turn *t, const struct httpc_result *res)
{
    const struct chat_model *m = &t->ag->model;
    if (t->unreadable) {
        const struct llm_answer *ans = llm_reader_answer(t->reader);
        if (ans->error)
            log_warn("chat: %s reported an error in its answer: %s", m->name, ans->error);
        fail(t, ERR_INVALID,
             ans->error                    ? DETAIL_PROVIDER " reported an error"
             : t->reader_err == ERR_TOOBIG ? DETAIL_PROVIDER "'s answer is too large"
                                           : DETAIL_PROVIDER
                 " sent an answer that could not be read");
        t->answer = ans;
        store_and_finish(t);
        return;
    }
    if (atomic_load(&t->canceled) || res->err == ERR_CANCELED) {
        if (!atomic_load(&t->canceled))
            fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        t->answer = llm_reader_answer(t->reader);
        store_and_finish(t);
        return;
    }
    bool transient = res->err == ERR_UNAVAILABLE ||
                     (res->err == ERR_OK && (t->status == 429 || t->status >= 500));
    if (transient && retry_later(t))
        return;
    if (res->err == ERR_TIMEOUT) {
        log_warn("chat: %s did not answer within LLM_TIMEOUT_SECONDS (%s)", m->name,
                 res->detail ? res->detail : "");
        fail(t, ERR_TIMEOUT, DETAIL_PROVIDER " did not answer in time");
    } else if (res->err == ERR_UNAVAILABLE) {
        log_warn("chat: %s is unreachable: %s", m->name, res->detail ? res->detail : "");
        fail(t, ERR_UNAVAILABLE, DETAIL_PROVIDER " is unavailable, try again shortly");
    } else if (res->err == ERR_TOOBIG) {
        fail(t, ERR_INVALID, DETAIL_PROVIDER "'s answer is too large");
    } else if (res->err != ERR_OK) {
        fail(t, res->err == ERR_NOMEM ? ERR_NOMEM : ERR_INVALID,
             DETAIL_PROVIDER " sent an answer that could not be read");
    } else if (t->status != 200) {
        const char *why = llm_error_message(t->a, res->body, res->body_len, 300);
        log_warn("chat: %s answered %d: %s", m->name, t->status, why ? why : "(no message)");
        if (t->status == 429 || t->status >= 500)
            fail(t, ERR_UNAVAILABLE,
                 t->status == 429 ? DETAIL_PROVIDER " is rate limiting requests, try again "
                                                    "shortly"
                                  : DETAIL_PROVIDER " is unavailable, try again shortly");
        else
            fail(t, ERR_INVALID, status_detail(t));
    } else if (!t->streamed && llm_reader_completion(t->reader, res->body ? res->body : "",
                                                     res->body_len) != ERR_OK) {
        fail(t, ERR_INVALID, DETAIL_PROVIDER " sent an answer that could not be read");
    }
    const struct llm_answer *ans = llm_reader_answer(t->reader);
    t->answer = ans;
    if (ans->prompt_tokens > 0)
        metric_add(METRIC_LLM_TOKENS, (const char *const[]){m->name, "prompt"},
                   (double)ans->prompt_tokens);
    if (ans->completion_tokens > 0)
        metric_add(METRIC_LLM_TOKENS, (const char *const[]){m->name, "completion"},
                   (double)ans->completion_tokens);
    if (t->err == ERR_OK && ans->error) {
        log_warn("chat: %s reported an error in its answer: %s", m->name, ans->error);
        fail(t, ERR_INVALID, DETAIL_PROVIDER " reported an error");
    } else if (t->err == ERR_OK && !ans->complete) {
        fail(t, ERR_INVALID, DETAIL_PROVIDER "'s answer was cut off");
    }
    if (t->err == ERR_OK && ans->ncalls > 0 && t->rounds >= AGENT_MAX_ROUNDS) {
        /* Told to answer in words and called tools anyway: the turn ends here. */
        if (ans->text_len == 0) {
            const char *stop = "I stopped there: that took too many steps. Tell me what to do "
                               "next.";
            add_text(t, stop, strlen(stop));
        }
        store_and_finish(t);
        return;
    }
    if (t->err != ERR_OK || ans->ncalls == 0) {
        store_and_finish(t);
        return;
    }
    t->rounds++;
    /* Tool calls: record them (the ones past the turn's limit become errors), tell the
     * sink, add the assistant's message, and run them on the work queue. */
    yyjson_mut_val *am =
        llm_msg(t->doc, t->messages, "assistant", ans->text_len ? ans->text : NULL);
    t->round_first_call = t->ncalls;
    for (size_t i = 0; i < ans->ncalls && t->ncalls < AGENT_MAX_CALLS; i++) {
        const struct llm_call *lc = &ans->calls[i];
        struct call_rec *c = &t->calls[t->ncalls++];
        c->id = lc->id;
        c->tool = lc->name;
        yyjson_alc alc;
        arena_yyjson_alc(t->a, &alc);
        yyjson_doc *d = lc->args_len
                            ? yyjson_read_opts((char *)lc->arguments, lc->args_len, 0, &alc, NULL)
                            : NULL;
        c->args = d              ? yyjson_val_mut_copy(t->doc, yyjson_doc_get_root(d))
                  : lc->args_len ? yyjson_mut_strncpy(t->doc, lc->arguments, lc->args_len)
                                 : yyjson_mut_obj(t->doc);
        llm_msg_add_call(t->doc, am, lc->id, lc->name, lc->args_len ? lc->arguments : "{}");
        emit_call(t, c);
    }
    submit(t, STEP_TOOLS);
}

/* After the tools: their results as tool messages; called on the loop before the next
 * model call. */
static void add_tool_results(struct agent_turn *t)
{
    yyjson_alc alc;
    arena_yyjson_alc(t->a, &alc);
    for (size_t i = t->round_first_call; i < t->ncalls; i++) {
        const struct call_rec *c = &t->calls[i];
        size_t len = 0;
        char *res = c->result ? yyjson_mut_val_write_opts(c->result, 0, &alc, &len, NULL) : NULL;
        if (res && len > AGENT_TOOL_RESULT_MAX)
            res = arena_printf(t->a,
                               "{\"error\":\"The result is too large to show (%zu bytes); ask "
                               "for fewer items\"}",
                               len);
        llm_tool_msg(t->doc, t->messages, c->id, res ? res : "null");
    }
    t->round_first_call = t->ncalls;
}

/* Sends the conversation to the model (loop thread). */
static void model_call(struct agent_turn *t)
{
    const struct chat_model *m = &t->ag->model;
    const struct config *cfg = t->ag->cfg;
    if (t->attempt == 0) { /* a new round */
        if (t->round_first_call < t->ncalls)
            add_tool_results(t);
        t->deadline_ms = now_mono_ms() + (int64_t)cfg->llm_timeout_s * 1000;
        t->round_text = false;
    }
    t->attempt++;
    t->status = 0;
    t->call_start_us = now_mono_us();
    t->streamed = false;
    t->reader = llm_reader_new(t->a, on_text, t);
    bool last = t->rounds >= AGENT_MAX_ROUNDS || t->ncalls >= AGENT_MAX_CALLS;
    if (last)
        t->rounds = AGENT_MAX_ROUNDS;
    if (!t->functions) { /* in process: the tool table (MCP: STEP_PREPARE made them) */
        t->functions = yyjson_mut_arr(t->doc);
        if (t->functions)
            toolbox_functions(&t->ag->tools, &t->who, t->doc, t->functions);
    }
    struct llm_params p = {.model = m->model,
                           .max_tokens = cfg->max_tokens,
                           .temperature = cfg->temperature,
                           .tools = t->functions,
                           .tool_choice = last ? "none" : "auto"};
    const char *body = NULL;
    size_t len = 0;
    int rc = t->reader
                 ? llm_request_body(t->doc, t->messages, &p, t->a, AGENT_REQUEST_MAX, &body, &len)
                 : ERR_NOMEM;
    char url[CHAT_BASE_URL_MAX + 32], auth[HEADER_MAX];
    struct dynbuf d;
    dyn_init_fixed(&d, url, sizeof(url));
    dyn_addf(&d, "%s/chat/completions", m->base_url);
    const char *headers[8] = {"Content-Type: application/json",
                              "Accept: text/event-stream, application/json", HTTPC_USER_AGENT};
    size_t nh = 3;
    if (m->api_key) {
        dyn_init_fixed(&d, auth, sizeof(auth));
        dyn_addf(&d, "Authorization: Bearer %s", m->api_key);
        headers[nh++] = auth;
    }
    if (m->openrouter) { /* OpenRouter's attribution headers */
        headers[nh++] = "X-Title: todo";
        headers[nh++] = "HTTP-Referer: https://github.com/todo-app/todo";
    }
    if (rc != ERR_OK) {
        fail(t, rc == ERR_TOOBIG ? ERR_INVALID : ERR_NOMEM,
             rc == ERR_TOOBIG ? "The conversation is too long for one request" : NULL);
        store_and_finish(t);
        return;
    }
    int64_t left = t->deadline_ms - now_mono_ms();
    if (left < 1)
        left = 1;
    struct httpc_request rq = {.method = "POST",
                               .url = url,
                               .headers = headers,
                               .n_headers = nh,
                               .body = body,
                               .body_len = len,
                               .flags = m->allow_http ? HTTPC_ALLOW_HTTP : 0,
                               .connect_timeout_ms = (int)left,
                               .header_timeout_ms = (int)left,
                               .idle_timeout_ms = cfg->llm_timeout_s * 1000,
                               .total_timeout_ms = AGENT_ANSWER_MAX_MS,
                               .max_body = AGENT_RESPONSE_MAX,
                               .max_event = LLM_ARGS_MAX * 2,
                               .on_headers = on_headers,
                               .on_event = on_event,
                               .on_done = on_done,
                               .ctx = t};
    pthread_mutex_lock(&t->mu);
    t->in_flight = true;
    pthread_mutex_unlock(&t->mu);
    struct httpc_xfer *x = NULL;
    rc = httpc_request(t->ag->httpc, &rq, &x);
    if (rc != ERR_OK) {
        pthread_mutex_lock(&t->mu);
        t->in_flight = false;
        pthread_mutex_unlock(&t->mu);
        log_warn("chat: cannot start the request to %s: %s", m->name, err_str(rc));
        fail(t,
             rc == ERR_LIMIT     ? ERR_UNAVAILABLE
             : rc == ERR_INVALID ? ERR_UNAVAILABLE
                                 : rc,
             rc == ERR_INVALID ? DETAIL_PROVIDER "'s URL cannot be used"
                               : DETAIL_PROVIDER " cannot be reached now, try again shortly");
        store_and_finish(t);
        return;
    }
    pthread_mutex_lock(&t->mu);
    bool still = t->in_flight;
    if (still)
        t->xfer = x;
    bool cancel = still && atomic_load(&t->canceled);
    pthread_mutex_unlock(&t->mu);
    if (!still)
        httpc_xfer_release(x);
    else if (cancel)
        httpc_cancel(x);
}

/* ---- starting, canceling ------------------------------------------------------------------ */

/* The first step, on the loop: the model's first call, or the offline assistant's step. */
static void begin(struct loop_call *c)
{
    struct agent_turn *t = (struct agent_turn *)((char *)c - offsetof(struct agent_turn, post));
    if (agent_offline(t->ag)) {
        submit(t, STEP_OFFLINE);
        return;
    }
    if (!toolbox_local(&t->ag->tools)) {
        submit(t, STEP_PREPARE); /* the MCP server's tool list first (it blocks) */
        return;
    }
    model_call(t);
}

void agent_turn_start(struct agent_turn *t)
{
    shared_ref(t); /* the running turn's reference, dropped by finish */
    t->post.fn = begin;
    if (loop_post(t->ag->loop, &t->post) != ERR_OK) {
        fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        finish(t);
    }
}

void agent_turn_run_offline(struct agent_turn *t, struct store_conn *db)
{
    shared_ref(t);
    t->who.db = db;
    run_offline(t);
    store_reply(t, db);
    t->who.db = NULL;
    finish(t);
}

void agent_turn_cancel(struct agent_turn *t)
{
    atomic_store(&t->canceled, true);
    pthread_mutex_lock(&t->mu);
    if (t->xfer)
        httpc_cancel(t->xfer);
    pthread_mutex_unlock(&t->mu);
}

void agent_turn_resume(struct agent_turn *t)
{
    pthread_mutex_lock(&t->mu);
    if (t->xfer)
        httpc_resume(t->xfer);
    pthread_mutex_unlock(&t->mu);
}
