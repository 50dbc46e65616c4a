/*
 * Internals of a chat turn shared by the agent's files (see agent.h for the contract):
 *   agent.c        a turn's life: making it, its events, its work-queue steps (the tools, the
 *                  offline assistant, storing the reply), finishing, starting, canceling;
 *   agent_model.c  the model calls over httpc (agent_model.h);
 *   agent_prompt.c the system prompt and the replayed history (agent_prompt.h).
 *
 * Who touches a turn when: its fields and arena are used by one thread at a time — the
 * worker that made it, then the loop (httpc callbacks, posted calls, timers) and the pool
 * threads of its work-queue steps, each step handing over to the next through the loop's or
 * the queue's locks. Only `canceled` (atomic) and `xfer` (under mu) are shared: a cancel or
 * resume comes from an HTTP worker at any time.
 */
#ifndef TODO_AGENT_TURN_H
#define TODO_AGENT_TURN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assistant/agent.h"
#include "assistant/llm.h"
#include "core/dynbuf.h"
#include "io/loop.h"
#include "io/workq.h"

/* The work-queue step a turn is in or about to run (one at a time). */
enum step { STEP_NONE, STEP_PREPARE, STEP_TOOLS, STEP_STORE, STEP_OFFLINE };

/* One tool call of the turn, for the answer, the events and the stored reply. */
struct call_rec {
    const char *id;
    const char *tool;
    yyjson_mut_val *args; /* the parsed arguments, or the raw text when they were not JSON */
    yyjson_mut_val *result;
    bool is_error;
};

/* A chat turn (agent.h): reference counted (core/shared.h); it owns its arena, which holds
 * everything below that is not inline. */
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

/* agent.c, for the model's side: */

/* Text of the reply: kept for the answer and sent on as a delta event. ERR_OK or
 * AGENT_SINK_FULL (pause the transfer until agent_turn_resume). */
int turn_add_text(struct agent_turn *t, const char *p, size_t n);

/* The tool_call event of c. */
void turn_emit_call(struct agent_turn *t, const struct call_rec *c);

/* Records the turn's failure (the first one wins); detail is client-safe, or NULL. */
void turn_fail(struct agent_turn *t, int err, const char *detail);

/* Runs this round's tool calls (calls[round_first_call..ncalls)) on the work queue; the next
 * model call follows. */
void turn_run_tools(struct agent_turn *t);

/* Stores what the turn did (a work-queue step), then finishes it. */
void turn_store_and_finish(struct agent_turn *t);

#endif
