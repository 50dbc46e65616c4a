/*
 * The OpenAI Chat Completions wire format, which every provider of the assistant speaks
 * (OpenAI, Groq, Gemini's OpenAI-compatible endpoint, OpenRouter, Ollama, vLLM, llama.cpp,
 * LM Studio, …). No I/O here: the agent (assistant/agent.h) sends what this builds through
 * httpc and feeds back what arrives.
 *
 * Requests: llm_request_body writes {model, messages, tools, tool_choice, stream: true,
 * max_tokens, temperature}. Messages are kept by the caller as a yyjson array in the wire's
 * own shape (system, user, assistant with tool_calls, tool with tool_call_id), appended with
 * the helpers below.
 *
 * Responses: an llm_reader assembles one model answer, streamed (one Server-Sent Event's
 * data at a time: chat.completion.chunk objects, then "[DONE]") or not (one
 * chat.completion object). Text deltas are handed to a callback as they come, so they can be
 * streamed on; tool calls are joined from their fragments by index (ids and names may come
 * once, arguments in pieces split anywhere, even inside a UTF-8 sequence or an escape);
 * arguments are kept as the text the model wrote — they may not be valid JSON, which the
 * agent answers to the model as a tool error. Bounded: LLM_MAX_CALLS calls, LLM_TEXT_MAX
 * bytes of text and LLM_ARGS_MAX bytes of each call's arguments.
 *
 * Threads: a reader is used by one thread at a time. Memory: from the caller's arena.
 */
#ifndef TODO_LLM_H
#define TODO_LLM_H

#include <stdbool.h>
#include <stddef.h>

#include "yyjson.h"

#include "core/arena.h"

#define LLM_MAX_CALLS  16           /* tool calls in one answer */
#define LLM_TEXT_MAX   (256 * 1024) /* bytes of an answer's text */
#define LLM_ARGS_MAX   (64 * 1024)  /* bytes of one call's arguments */
#define LLM_NAME_MAX   64           /* bytes of a tool's name */
#define LLM_ID_MAX     128          /* bytes of a tool call's id */
#define LLM_FINISH_MAX 32

/* What a request carries besides its messages. */
struct llm_params {
    const char *model;
    int max_tokens;          /* 0: not sent */
    double temperature;      /* < 0: not sent */
    yyjson_mut_val *tools;   /* an array of {type:"function", function:{…}}, or NULL */
    const char *tool_choice; /* "auto", "none", "required", or NULL (not sent) */
};

/* Writes the request's JSON text into a (*out, *len). ERR_OK, ERR_TOOBIG (over max bytes)
 * or ERR_NOMEM. messages (and params->tools) live in doc and are not changed. */
int llm_request_body(yyjson_mut_doc *doc, yyjson_mut_val *messages, const struct llm_params *p,
                     struct arena *a, size_t max, const char **out, size_t *len);

/* Appends {role, content} (content may be NULL: JSON null, as an assistant message that only
 * calls tools has). */
yyjson_mut_val *llm_msg(yyjson_mut_doc *doc, yyjson_mut_val *messages, const char *role,
                        const char *content);

/* Appends {role:"tool", tool_call_id, content}. */
void llm_tool_msg(yyjson_mut_doc *doc, yyjson_mut_val *messages, const char *call_id,
                  const char *content);

/* Adds one {id, type:"function", function:{name, arguments}} to an assistant message made by
 * llm_msg (its tool_calls array is created on first use). */
void llm_msg_add_call(yyjson_mut_doc *doc, yyjson_mut_val *msg, const char *id, const char *name,
                      const char *arguments);

/* One tool call as the model made it. */
struct llm_call {
    const char *id;        /* the model's id, or "call_<n>" when it gave none */
    const char *name;      /* "" when it gave none */
    const char *arguments; /* the text the model wrote ("" when none) */
    size_t args_len;
};

/* One assembled answer. */
struct llm_answer {
    const char *text; /* "" when none */
    size_t text_len;
    struct llm_call calls[LLM_MAX_CALLS];
    size_t ncalls;
    char finish_reason[LLM_FINISH_MAX]; /* "stop", "tool_calls", "length", … or "" */
    bool complete;                      /* "[DONE]", a finish_reason, or a whole completion */
    const char *error;                  /* an error object's message in the stream, or NULL */
    int64_t prompt_tokens;              /* "usage", when the provider reported it; else 0 */
    int64_t completion_tokens;
};

struct llm_reader;

/* A reader whose text deltas go to on_text(ctx, text, len) as they arrive (may be NULL). */
struct llm_reader *llm_reader_new(struct arena *a,
                                  void (*on_text)(void *ctx, const char *p, size_t n), void *ctx);

/* Feeds one streamed event's data: a chunk object, or "[DONE]". ERR_OK; ERR_INVALID when the
 * data is not a chunk (the answer is then bad); ERR_TOOBIG past a bound; ERR_NOMEM. */
int llm_reader_chunk(struct llm_reader *r, const char *data, size_t len);

/* Reads a whole, unstreamed chat.completion object. Same returns. */
int llm_reader_completion(struct llm_reader *r, const char *body, size_t len);

/* The answer so far (complete once the stream ended properly). */
const struct llm_answer *llm_reader_answer(struct llm_reader *r);

/* The message of an OpenAI-style error body ({"error": {"message": …}} or {"error": "…"}),
 * cut to max bytes and with anything that looks like a key ("sk-…") masked; NULL when the
 * body is not one. For logs only. */
const char *llm_error_message(struct arena *a, const char *body, size_t len, size_t max);

#endif
