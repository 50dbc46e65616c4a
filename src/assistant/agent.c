/*
 * One chat turn's life (see agent.h, and agent_turn.h for who touches a turn when): making
 * it, its events, the work-queue steps — the tools of a round, the offline assistant, the
 * stored reply — and its end. The model's calls are agent_model.c's; the prompt and the
 * replayed history agent_prompt.c's.
 */
#include "assistant/agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "assistant/agent_model.h"
#include "assistant/agent_prompt.h"
#include "assistant/agent_turn.h"
#include "assistant/llm.h"
#include "assistant/offline.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/shared.h"
#include "core/tz.h"
#include "core/util.h"
#include "io/httpc.h"
#include "io/loop.h"
#include "io/workq.h"

#define TOOL_CALLS_TEXT CONV_TOOL_CALLS_MAX

static atomic_int live_turns;

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
        agent_history(t->doc, t->messages, a, in->history, in->nhistory);
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
int turn_add_text(struct agent_turn *t, const char *p, size_t n)
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

void turn_emit_call(struct agent_turn *t, const struct call_rec *c)
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

void turn_fail(struct agent_turn *t, int err, const char *detail)
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
        turn_fail(t, ERR_UNAVAILABLE, "The database is unavailable, try again shortly");
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
                turn_fail(t, rc == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE,
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
    turn_emit_call(t, c);
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
        turn_add_text(t, turn->reply, strlen(turn->reply));
    } else if (rc == ERR_TIMEOUT) {
        turn_fail(t, ERR_TIMEOUT, "The tools did not answer in time");
    } else if (rc == ERR_NOMEM) {
        turn_fail(t, ERR_NOMEM, NULL);
    } else {
        turn_fail(t, ERR_UNAVAILABLE,
                  rc == ERR_LIMIT ? "Too many tool calls in one message"
                                  : "The tools are unavailable right now");
    }
}

static void step_work(struct work *w)
{
    struct agent_turn *t = (struct agent_turn *)((char *)w - offsetof(struct agent_turn, work));
    switch (t->step) {
    case STEP_PREPARE: { /* the MCP server's tool list, which the model needs first */
        t->functions = yyjson_mut_arr(t->doc);
        int rc = toolbox_functions(&t->ag->tools, &t->who, t->doc, t->functions);
        if (rc != ERR_OK) {
            log_warn("chat: the MCP server's tool list is unavailable: %s", err_str(rc));
            turn_fail(t, rc == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE,
                      "The tools are unavailable, try again shortly");
        }
        break;
    }
    case STEP_TOOLS:
        run_tools(t);
        break;
    case STEP_OFFLINE:
        if (toolbox_local(&t->ag->tools) && store_acquire(t->ag->store, &t->who.db) != ERR_OK) {
            turn_fail(t, ERR_UNAVAILABLE, "The database is unavailable, try again shortly");
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

/* After a step, on the loop. A step that never ran (shutdown) ends the turn. */
static void step_after(struct work *w, int status)
{
    struct agent_turn *t = (struct agent_turn *)((char *)w - offsetof(struct agent_turn, work));
    enum step s = t->step;
    t->step = STEP_NONE;
    if (status != ERR_OK) {
        turn_fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        finish(t);
        return;
    }
    if (s == STEP_TOOLS || s == STEP_PREPARE) {
        if (t->err != ERR_OK || atomic_load(&t->canceled)) {
            turn_store_and_finish(t);
            return;
        }
        t->attempt = 0; /* the next round */
        agent_model_call(t);
        return;
    }
    finish(t);
}

static void submit(struct agent_turn *t, enum step s)
{
    t->step = s;
    if (workq_submit(t->ag->workq, &t->work, step_work, step_after) != ERR_OK) {
        t->step = STEP_NONE;
        turn_fail(t, ERR_UNAVAILABLE, "The server is busy or shutting down, try again shortly");
        finish(t);
    }
}

void turn_run_tools(struct agent_turn *t)
{
    submit(t, STEP_TOOLS);
}

void turn_store_and_finish(struct agent_turn *t)
{
    submit(t, STEP_STORE);
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
    agent_model_call(t);
}

void agent_turn_start(struct agent_turn *t)
{
    shared_ref(t); /* the running turn's reference, dropped by finish */
    t->post.fn = begin;
    if (loop_post(t->ag->loop, &t->post) != ERR_OK) {
        turn_fail(t, ERR_UNAVAILABLE, "The server is shutting down");
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
