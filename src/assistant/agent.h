/*
 * The agent: one chat turn, from the user's message to the stored reply, over the OpenAI
 * Chat Completions wire format (assistant/llm.h) with the tools of assistant/toolbox.h, or
 * with the offline assistant (assistant/offline.h) as the "model".
 *
 * A turn with a model never blocks an HTTP worker: the request that started it is suspended
 * and holds no database connection while the turn runs.
 *   - model calls go through httpc (io/httpc.h); their callbacks run on the I/O loop, which
 *     assembles the streamed answer and forwards text deltas as they come;
 *   - the tool calls of an answer run as one work-queue step (io/workq.h) that takes a
 *     database connection (in process) or talks to the MCP server, and gives it back;
 *   - the next round is the next model call, with the tools' results; at most
 *     AGENT_MAX_ROUNDS rounds of tool calls, then the model must answer in words;
 *   - the reply and its tool calls are stored by a last work-queue step, then the sink hears
 *     that the turn is done.
 * A model call that answers 429 or 5xx, or cannot connect, is tried again with exponential
 * backoff (honouring Retry-After) while its deadline allows; the deadline is
 * LLM_TIMEOUT_SECONDS for the answer to begin and for any silence within it. Failures:
 * ERR_TIMEOUT (504), ERR_UNAVAILABLE (503: unreachable, overloaded, rate limited),
 * ERR_INVALID (502: an answer that is not a chat completion, cut off, refused). The user's
 * message was stored before the turn began; what the turn did before a failure or a
 * cancellation (tool calls, text) is stored as its reply, so the conversation stays whole.
 *
 * The offline assistant runs in one step: synchronously on the caller's thread with the
 * caller's database connection (agent_turn_run_offline: roles all and api, where the tools
 * are in process and fast), or as a work-queue step (agent role: the tools are on the MCP
 * server).
 *
 * Events reach the sink in this order: tool_call and tool_result (per call), delta (text),
 * then exactly one of done or error; start is the handler's. An event the sink cannot take
 * now (AGENT_SINK_FULL) pauses the model's transfer until agent_turn_resume.
 *
 * Threads: agent_turn_new/start on an HTTP worker; the turn then runs on the I/O loop and
 * work-queue threads, one step at a time; agent_turn_cancel and agent_turn_resume from any
 * thread. Memory: a turn is reference counted (core/shared.h) and owns its arena; its
 * results are read after done.
 */
#ifndef TODO_AGENT_H
#define TODO_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/provider.h"
#include "assistant/toolbox.h"
#include "core/config.h"
#include "domain/conversations.h"
#include "store/store.h"

#define AGENT_MAX_ROUNDS       8                 /* rounds of tool calls in one turn */
#define AGENT_MAX_CALLS        32                /* tool calls in one turn */
#define AGENT_MAX_ATTEMPTS     4                 /* tries of one model call */
#define AGENT_BACKOFF_MS       500               /* the first retry's wait; doubles */
#define AGENT_ANSWER_MAX_MS    300000            /* one model answer, streamed, at most */
#define AGENT_REQUEST_MAX      (4 * 1024 * 1024) /* bytes of a request to the model */
#define AGENT_RESPONSE_MAX     (2 * 1024 * 1024) /* bytes of a model's answer */
#define AGENT_TOOL_RESULT_MAX  16384             /* bytes of a tool result shown to the model */
#define AGENT_HISTORY_TOOL_MAX 2000              /* bytes of a past tool result in the history */
#define AGENT_LIVE_MAX         512               /* turns running at once in a process */

/* What agent_sink.event returns when it took the event but wants no more for now. */
#define AGENT_SINK_FULL 1

struct httpc;
struct workq;
struct loop;
struct agent_turn;

/* The process's agent, read-only after agent_init. */
struct agent {
    const struct config *cfg;
    struct chat_model model;
    struct toolbox tools;
    struct store *store;
    struct httpc *httpc;
    struct workq *workq;
    struct loop *loop;
};

/* Where a turn's events go. */
struct agent_sink {
    /* One event (name, its JSON). ERR_OK; AGENT_SINK_FULL; ERR_CANCELED: nobody listens any
     * more (the turn stops as if canceled). Any thread, one at a time. */
    int (*event)(void *ctx, const char *name, const char *json, size_t len);
    /* The turn is over (after its done or error event); called once, then never again. */
    void (*done)(void *ctx, struct agent_turn *t);
    void *ctx;
};

/* What a turn starts from (copied into the turn). */
struct agent_turn_in {
    const char *uid;
    const char *token; /* the caller's bearer token (forwarded to an MCP server) */
    int64_t conv_id;
    int64_t user_msg_id;
    const char *message;
    const char *timezone;               /* the user's IANA zone, or NULL for UTC */
    int64_t now;                        /* Unix seconds */
    const struct conv_message *history; /* before the message, oldest first */
    size_t nhistory;
};

/* Resolves the provider and fills ag. ERR_OK or ERR_INVALID with why (a configuration line). */
int agent_init(struct agent *ag, const struct config *cfg, struct dynbuf *why);

/* True when the model is the offline assistant. */
bool agent_offline(const struct agent *ag);

/* A new turn, with one reference for the caller. ERR_OK, ERR_LIMIT (AGENT_LIVE_MAX turns
 * run) or ERR_NOMEM. */
int agent_turn_new(const struct agent *ag, const struct agent_turn_in *in,
                   const struct agent_sink *sink, struct agent_turn **out);

/* Runs the turn asynchronously (see above); the sink's done follows, exactly once. */
void agent_turn_start(struct agent_turn *t);

/* Runs an offline turn here and now with db (tools in process): its events, the stored reply
 * and the sink's done all happen before this returns. */
void agent_turn_run_offline(struct agent_turn *t, struct store_conn *db);

/* Stops a running turn (the client went away): the model call ends, running tools finish,
 * what was done is stored, no more events are sent. Any thread. */
void agent_turn_cancel(struct agent_turn *t);

/* The sink can take events again. Any thread. */
void agent_turn_resume(struct agent_turn *t);

void agent_turn_ref(struct agent_turn *t);
void agent_turn_release(struct agent_turn *t);

/* After done: ERR_OK, or the failure (ERR_TIMEOUT, ERR_UNAVAILABLE, ERR_INVALID,
 * ERR_CANCELED, ERR_NOMEM) and its client-safe detail. */
int agent_turn_error(const struct agent_turn *t, const char **detail);

/* After done: the chat's answer {conversation_id, response, tool_calls: [{tool, arguments,
 * result}]} built in doc. */
yyjson_mut_val *agent_turn_result(const struct agent_turn *t, yyjson_mut_doc *doc);

/* The HTTP status of a turn's failure (502, 503, 504). */
int agent_error_status(int err);

#endif
