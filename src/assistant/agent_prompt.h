/*
 * What the model reads before the user's message: the system prompt (who the assistant is,
 * the user's date and time zone, how to use the tools, AGENT_INSTRUCTIONS) and the stored
 * history replayed as Chat Completions messages (assistant/llm.h). Used by the agent
 * (assistant/agent.h) when a turn is made; any thread.
 */
#ifndef TODO_AGENT_PROMPT_H
#define TODO_AGENT_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/config.h"
#include "domain/conversations.h"

/* The system prompt for a user at time now in zone tz (NULL or unknown: UTC), in the arena;
 * NULL when it does not fit. */
const char *agent_system_prompt(const struct config *cfg, struct arena *a, const char *tz,
                                int64_t now);

/* Appends the stored history h[0..n) (oldest first) to messages as wire messages: a reply's
 * tool calls become an assistant message with tool_calls and one tool message per call
 * (results cut to AGENT_HISTORY_TOOL_MAX), then its text. Call ids get the message's id as a
 * prefix, so they are unique in the conversation. Built in doc, text from a. */
void agent_history(yyjson_mut_doc *doc, yyjson_mut_val *messages, struct arena *a,
                   const struct conv_message *h, size_t n);

#endif
