/*
 * POST /api/{user_id}/chat: one turn of the assistant (assistant/agent.h), answered as JSON
 * {conversation_id, response, tool_calls} or, with Accept: text/event-stream, as
 * Server-Sent Events: start, then tool_call / tool_result / delta as they happen, then done
 * (the JSON answer) or error.
 *
 * The handler checks the request (authentication, the message, the per-user rate limit,
 * the provider), stores the user's message (before any model is asked), reads the history
 * and the user's time zone, and then:
 *   - with the offline assistant and the tools in process, runs the whole turn here: it is
 *     a few milliseconds of parsing and statements, like any other request;
 *   - otherwise suspends the request (http/stream.h: it gives back its database connection)
 *     and lets the agent run; the events go to the stream as they come, and a JSON answer
 *     is made when the turn wakes the request.
 * A client that goes away cancels its turn (the stream's closed hook); what the turn did is
 * still stored.
 */
#include "handlers/chat.h"

#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "assistant/agent.h"
#include "auth/ratelimit.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sse.h"
#include "core/text.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/conversations.h"
#include "domain/users.h"
#include "handlers/auth.h"
#include "http/stream.h"

/* The stream of a suspended chat: its buffer, and how often a quiet one is pinged. */
#define CHAT_STREAM_CAP    (256 * 1024)
#define CHAT_HEARTBEAT_MS  10000
#define CHAT_SSE_BODY_MAX  (1024 * 1024) /* the events of a turn answered at once */
#define CHAT_MESSAGE_BYTES (CHAT_MESSAGE_MAX * 4)

static const struct text_rule message_rule = {1, CHAT_MESSAGE_MAX, true};

/* ---- the request ------------------------------------------------------------------------- */

struct chat_in {
    const char *message;
    int64_t conv_id; /* 0: a new conversation */
};

/* Reads {message, conversation_id?}; answers 400/422 and returns false on a bad body. */
static bool read_body(struct request *req, struct chat_in *in)
{
    yyjson_doc *doc;
    if (req_json(req, &doc) != ERR_OK)
        return false;
    yyjson_val *root = yyjson_doc_get_root(doc);
    struct verrors errs = {0};
    memset(in, 0, sizeof(*in));
    if (!yyjson_is_obj(root)) {
        verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        resp_invalid(req, &errs);
        return false;
    }
    yyjson_val *m = yyjson_obj_get(root, "message");
    if (!m || yyjson_is_null(m)) {
        verr_add(&errs, "body", "message", "Field required", "missing");
    } else if (!yyjson_is_str(m)) {
        verr_add(&errs, "body", "message", "Input should be a valid string", "string_type");
    } else if (yyjson_get_len(m) > CHAT_MESSAGE_BYTES) {
        verr_add(&errs, "body", "message", "String should have at most 4000 characters",
                 "string_too_long");
    } else {
        enum text_problem why;
        int rc = text_clean(req->arena, yyjson_get_str(m), yyjson_get_len(m), &message_rule,
                            &in->message, &why);
        if (rc == ERR_NOMEM) {
            resp_err(req, rc, NULL);
            return false;
        }
        if (rc != ERR_OK)
            verr_add(&errs, "body", "message", text_problem_msg(req->arena, why, &message_rule),
                     text_problem_type(why));
    }
    yyjson_val *c = yyjson_obj_get(root, "conversation_id");
    if (c && !yyjson_is_null(c)) {
        /* An integer, as the seeds' clients send it; a string of digits is accepted too. */
        int64_t id = 0;
        bool ok = false;
        if (yyjson_is_uint(c)) {
            ok = yyjson_get_uint(c) >= 1 && yyjson_get_uint(c) <= (uint64_t)INT64_MAX;
            id = (int64_t)yyjson_get_uint(c);
        } else if (yyjson_is_str(c)) {
            ok = json_cstr(c) && parse_id(json_cstr(c), &id) == ERR_OK;
        }
        if (ok)
            in->conv_id = id;
        else
            verr_add(&errs, "body", "conversation_id",
                     "Input should be a conversation id (a positive integer)", "int_parsing");
    }
    if (errs.n) {
        resp_invalid(req, &errs);
        return false;
    }
    return true;
}

/* Counts the turn against the user's CHAT_RATE_LIMIT_PER_MINUTE; 429 with Retry-After when
 * over. */
static bool within_limit(struct request *req)
{
    char key[RATELIMIT_KEY_MAX];
    struct dynbuf k;
    dyn_init_fixed(&k, key, sizeof(key));
    dyn_addf(&k, "chat:%s", req->user_id);
    int wait = ratelimit_hit(key, req->app->cfg->chat_rate_limit, now_unix());
    if (wait == 0)
        return true;
    resp_header(req, "Retry-After", arena_printf(req->arena, "%d", wait));
    resp_err(req, ERR_LIMIT, "Too many messages: wait a moment before sending another");
    return false;
}

/* The bearer token of the request, for an MCP server that must see the same caller. */
static const char *bearer_token(struct request *req)
{
    const char *h = req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static bool wants_events(struct request *req)
{
    const char *accept = req_header(req, "Accept");
    return accept && strcasestr(accept, "text/event-stream") != NULL;
}

/* An error after the user's message was stored: the detail, and the conversation to
 * continue in. */
static void reply_turn_error(struct request *req, int status, const char *detail, int64_t conv_id)
{
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_strcpy(doc, o, "detail", detail);
    yyjson_mut_obj_add_int(doc, o, "conversation_id", conv_id);
    resp_json(req, status, doc);
}

/* ---- answering at once (offline, tools in process) ------------------------------------------ */

/* The events of a turn, collected into one text/event-stream body. */
static int buffer_event(void *ctx, const char *name, const char *json, size_t len)
{
    struct dynbuf *b = ctx;
    size_t n = sse_encoded_len(name, NULL, json, len);
    char *frame = n ? arena_alloc(b->a, n) : NULL;
    if (frame)
        dyn_addn(b, frame, sse_encode(frame, name, NULL, json, len));
    return ERR_OK;
}

static int no_event(void *ctx, const char *name, const char *json, size_t len)
{
    (void)ctx, (void)name, (void)json, (void)len;
    return ERR_OK;
}

static void no_done(void *ctx, struct agent_turn *t)
{
    (void)ctx, (void)t;
}

static void start_event(struct dynbuf *b, struct arena *a, int64_t conv_id)
{
    char *json = arena_printf(a, "{\"conversation_id\":%lld}", (long long)conv_id);
    if (json)
        buffer_event(b, "start", json, strlen(json));
}

/* Answers the turn's outcome as JSON: its result, or its error. */
static void answer_turn(struct request *req, struct agent_turn *t, int64_t conv_id)
{
    const char *detail;
    int err = agent_turn_error(t, &detail);
    if (err != ERR_OK) {
        reply_turn_error(req, agent_error_status(err), detail, conv_id);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, agent_turn_result(t, doc));
    resp_json(req, 200, doc);
}

static void run_here(struct request *req, const struct agent *ag, const struct agent_turn_in *in,
                     bool sse)
{
    struct dynbuf body;
    dyn_init_arena(&body, req->arena, CHAT_SSE_BODY_MAX);
    struct agent_sink sink = {sse ? buffer_event : no_event, no_done, &body};
    struct agent_turn *t;
    int rc = agent_turn_new(ag, in, &sink, &t);
    if (rc != ERR_OK) {
        reply_turn_error(req, rc == ERR_LIMIT ? 503 : 500,
                         rc == ERR_LIMIT ? "The assistant is busy, try again shortly"
                                         : "Internal server error",
                         in->conv_id);
        return;
    }
    if (sse)
        start_event(&body, req->arena, in->conv_id);
    agent_turn_run_offline(t, req->db);
    if (sse) {
        resp_header(req, "Cache-Control", "no-cache");
        resp_raw(req, 200, "text/event-stream", dyn_str(&body), dyn_len(&body));
    } else {
        answer_turn(req, t, in->conv_id);
    }
    agent_turn_release(t);
}

/* ---- answering from a suspended request --------------------------------------------------- */

/* The stream's data: the turn it carries, and how the client asked. */
struct chat_stream {
    struct agent_turn *turn; /* a reference, dropped when the stream goes */
    bool sse;
    int64_t conv_id;
    atomic_bool done; /* the turn is over: its results may be read */
};

static void stream_writable(struct stream *s)
{
    struct chat_stream *cs = stream_data(s);
    if (cs->turn)
        agent_turn_resume(cs->turn);
}

static void stream_closed_hook(struct stream *s)
{
    struct chat_stream *cs = stream_data(s);
    if (cs->turn)
        agent_turn_cancel(cs->turn);
}

static void stream_dispose(struct stream *s)
{
    struct chat_stream *cs = stream_data(s);
    agent_turn_release(cs->turn);
    cs->turn = NULL;
}

static const struct stream_hooks chat_hooks = {stream_writable, stream_closed_hook, stream_dispose};

static int stream_sink_event(void *ctx, const char *name, const char *json, size_t len)
{
    int rc = stream_event(ctx, name, json, len);
    if (rc == STREAM_FULL)
        return AGENT_SINK_FULL;
    return rc == ERR_OK ? ERR_OK : ERR_CANCELED;
}

/* The turn is over: end the event stream, or wake the request for its JSON answer. Drops
 * the turn's reference to the stream. */
static void stream_sink_done(void *ctx, struct agent_turn *t)
{
    struct stream *s = ctx;
    struct chat_stream *cs = stream_data(s);
    (void)t;
    atomic_store(&cs->done, true);
    if (cs->sse)
        stream_end(s, true);
    else
        stream_wake(s);
    stream_release(s);
}

static void resume_events(struct request *req)
{
    struct stream *s = req->defer_ctx;
    resp_header(req, "Cache-Control", "no-cache");
    resp_header(req, "X-Accel-Buffering", "no");
    resp_stream(req, 200, "text/event-stream", s);
}

static void resume_json(struct request *req)
{
    struct stream *s = req->defer_ctx;
    struct chat_stream *cs = stream_data(s);
    if (!atomic_load(&cs->done)) { /* woken by the shutdown, not by the turn */
        agent_turn_cancel(cs->turn);
        reply_turn_error(req, 503, "The server is shutting down, try again shortly", cs->conv_id);
        return;
    }
    answer_turn(req, cs->turn, cs->conv_id);
}

static void run_suspended(struct request *req, const struct agent *ag,
                          const struct agent_turn_in *in, bool sse)
{
    struct stream *s;
    if (stream_new(req, CHAT_STREAM_CAP, &chat_hooks, sizeof(struct chat_stream), &s) != ERR_OK) {
        reply_turn_error(req, 500, "Internal server error", in->conv_id);
        return;
    }
    struct chat_stream *cs = stream_data(s);
    cs->sse = sse;
    cs->conv_id = in->conv_id;
    /* The turn holds a reference to the stream until it is done (stream_sink_done). */
    struct agent_sink sink = {sse ? stream_sink_event : no_event, stream_sink_done, stream_ref(s)};
    struct agent_turn *t;
    int rc = agent_turn_new(ag, in, &sink, &t);
    if (rc != ERR_OK) {
        stream_release(s);
        stream_release(s);
        reply_turn_error(req, rc == ERR_LIMIT ? 503 : 500,
                         rc == ERR_LIMIT ? "The assistant is busy, try again shortly"
                                         : "Internal server error",
                         in->conv_id);
        return;
    }
    cs->turn = t; /* the handler's reference passes to the stream */
    if (sse) {
        char *json = arena_printf(req->arena, "{\"conversation_id\":%lld}", (long long)in->conv_id);
        if (json)
            stream_event(s, "start", json, strlen(json));
        stream_heartbeat(s, req->app->loop, CHAT_HEARTBEAT_MS);
        stream_defer(req, s, resume_events);
        stream_wake(s); /* the head goes out now; the events follow */
    } else {
        stream_defer(req, s, resume_json);
    }
    agent_turn_start(t);
    stream_release(s);
}

/* ---- the handler ---------------------------------------------------------------------------- */

void h_chat(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    struct chat_in in;
    if (!read_body(req, &in) || !within_limit(req))
        return;
    const struct agent *ag = req->app->agent;
    if (ag->model.missing) {
        resp_err(req, ERR_UNAVAILABLE,
                 arena_printf(req->arena,
                              "The assistant has no model provider configured: set %s "
                              "(LLM_PROVIDER=%s), or LLM_PROVIDER=offline",
                              ag->model.missing, ag->model.name));
        return;
    }
    struct conversation cv;
    int64_t msg_id = 0;
    int rc =
        conv_begin_turn(req->db, req->arena, req->user_id, in.conv_id, in.message, &cv, &msg_id);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Conversation not found" : NULL);
        return;
    }
    struct conv_message *history = NULL;
    size_t nhistory = 0;
    struct user u = {0};
    if (!agent_offline(ag))
        rc = conv_history(req->db, req->arena, req->user_id, cv.id, msg_id,
                          (size_t)req->app->cfg->chat_history_messages,
                          (size_t)req->app->cfg->chat_history_chars, &history, &nhistory);
    if (rc == ERR_OK)
        rc = users_by_id(req->db, req->arena, req->user_id, &u);
    if (rc != ERR_OK) {
        reply_turn_error(req, err_http_status(rc), err_detail(rc), cv.id);
        return;
    }
    struct agent_turn_in tin = {.uid = req->user_id,
                                .token = bearer_token(req),
                                .conv_id = cv.id,
                                .user_msg_id = msg_id,
                                .message = in.message,
                                .timezone = u.timezone,
                                .now = now_unix(),
                                .history = history,
                                .nhistory = nhistory};
    bool sse = wants_events(req);
    if (agent_offline(ag) && toolbox_local(&ag->tools))
        run_here(req, ag, &tin, sse);
    else
        run_suspended(req, ag, &tin, sse);
}
