/*
 * The model's side of a chat turn (see agent_model.h): one Chat Completions request over
 * httpc per round, its answer streamed (Server-Sent Events) or whole, retried with backoff
 * while the deadline allows, and what the answer leads to — the next round's tool calls, or
 * the end of the turn. Every function here runs on the I/O loop (httpc callbacks, timers).
 */
#include "assistant/agent_model.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "assistant/agent_turn.h"
#include "assistant/llm.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "io/httpc.h"
#include "io/loop.h"

#define HEADER_MAX      1200
#define DETAIL_PROVIDER "The model provider"

/* The reader's text (loop): on to the sink as deltas; a full sink pauses the transfer. */
static void on_text(void *ctx, const char *p, size_t n)
{
    struct agent_turn *t = ctx;
    if (turn_add_text(t, p, n) == AGENT_SINK_FULL)
        t->pause = true;
}

/* The answer's head: its status, whether it streams, and Retry-After. */
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

/* One Server-Sent Event of a streamed answer, fed to the reader. */
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

/* The transfer ended (loop): the call's metrics, then what its answer leads to. */
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

/* The backoff timer: the model is tried again, unless the turn was canceled or the loop
 * is stopping. */
static void retry_fired(struct loop_timer *tm, bool canceled)
{
    struct agent_turn *t = (struct agent_turn *)((char *)tm - offsetof(struct agent_turn, timer));
    if (canceled || atomic_load(&t->canceled)) {
        turn_fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        turn_store_and_finish(t);
        return;
    }
    agent_model_call(t);
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
    t->timer.fn = retry_fired;
    return loop_timer_start(t->ag->loop, &t->timer, wait) == ERR_OK;
}

/* A client-safe detail for a provider's 4xx answer. */
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
        turn_fail(t, ERR_INVALID,
                  ans->error                    ? DETAIL_PROVIDER " reported an error"
                  : t->reader_err == ERR_TOOBIG ? DETAIL_PROVIDER "'s answer is too large"
                                                : DETAIL_PROVIDER
                      " sent an answer that could not be read");
        t->answer = ans;
        turn_store_and_finish(t);
        return;
    }
    if (atomic_load(&t->canceled) || res->err == ERR_CANCELED) {
        if (!atomic_load(&t->canceled))
            turn_fail(t, ERR_UNAVAILABLE, "The server is shutting down");
        t->answer = llm_reader_answer(t->reader);
        turn_store_and_finish(t);
        return;
    }
    bool transient = res->err == ERR_UNAVAILABLE ||
                     (res->err == ERR_OK && (t->status == 429 || t->status >= 500));
    if (transient && retry_later(t))
        return;
    if (res->err == ERR_TIMEOUT) {
        log_warn("chat: %s did not answer within LLM_TIMEOUT_SECONDS (%s)", m->name,
                 res->detail ? res->detail : "");
        turn_fail(t, ERR_TIMEOUT, DETAIL_PROVIDER " did not answer in time");
    } else if (res->err == ERR_UNAVAILABLE) {
        log_warn("chat: %s is unreachable: %s", m->name, res->detail ? res->detail : "");
        turn_fail(t, ERR_UNAVAILABLE, DETAIL_PROVIDER " is unavailable, try again shortly");
    } else if (res->err == ERR_TOOBIG) {
        turn_fail(t, ERR_INVALID, DETAIL_PROVIDER "'s answer is too large");
    } else if (res->err != ERR_OK) {
        turn_fail(t, res->err == ERR_NOMEM ? ERR_NOMEM : ERR_INVALID,
                  DETAIL_PROVIDER " sent an answer that could not be read");
    } else if (t->status != 200) {
        const char *why = llm_error_message(t->a, res->body, res->body_len, 300);
        log_warn("chat: %s answered %d: %s", m->name, t->status, why ? why : "(no message)");
        if (t->status == 429 || t->status >= 500)
            turn_fail(t, ERR_UNAVAILABLE,
                      t->status == 429 ? DETAIL_PROVIDER " is rate limiting requests, try again "
                                                         "shortly"
                                       : DETAIL_PROVIDER " is unavailable, try again shortly");
        else
            turn_fail(t, ERR_INVALID, status_detail(t));
    } else if (!t->streamed && llm_reader_completion(t->reader, res->body ? res->body : "",
                                                     res->body_len) != ERR_OK) {
        turn_fail(t, ERR_INVALID, DETAIL_PROVIDER " sent an answer that could not be read");
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
        turn_fail(t, ERR_INVALID, DETAIL_PROVIDER " reported an error");
    } else if (t->err == ERR_OK && !ans->complete) {
        turn_fail(t, ERR_INVALID, DETAIL_PROVIDER "'s answer was cut off");
    }
    if (t->err == ERR_OK && ans->ncalls > 0 && t->rounds >= AGENT_MAX_ROUNDS) {
        /* Told to answer in words and called tools anyway: the turn ends here. */
        if (ans->text_len == 0) {
            const char *stop = "I stopped there: that took too many steps. Tell me what to do "
                               "next.";
            turn_add_text(t, stop, strlen(stop));
        }
        turn_store_and_finish(t);
        return;
    }
    if (t->err != ERR_OK || ans->ncalls == 0) {
        turn_store_and_finish(t);
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
        turn_emit_call(t, c);
    }
    turn_run_tools(t);
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

/* Builds the request (the conversation, the tools, tool_choice "none" on the last round) and
 * starts it; a request that cannot start ends the turn. */
void agent_model_call(struct agent_turn *t)
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
        turn_fail(t, rc == ERR_TOOBIG ? ERR_INVALID : ERR_NOMEM,
                  rc == ERR_TOOBIG ? "The conversation is too long for one request" : NULL);
        turn_store_and_finish(t);
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
        turn_fail(t,
                  rc == ERR_LIMIT     ? ERR_UNAVAILABLE
                  : rc == ERR_INVALID ? ERR_UNAVAILABLE
                                      : rc,
                  rc == ERR_INVALID ? DETAIL_PROVIDER "'s URL cannot be used"
                                    : DETAIL_PROVIDER " cannot be reached now, try again shortly");
        turn_store_and_finish(t);
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
