/*
 * The model's side of a chat turn (assistant/agent.h): sends the conversation to the
 * OpenAI-compatible provider over httpc (io/httpc.h), reads the answer as it streams
 * (assistant/llm.h), forwards its text as delta events, retries a 429, a 5xx or a failed
 * connection with exponential backoff (honouring Retry-After) while LLM_TIMEOUT_SECONDS
 * allows, and then hands the turn on: to a work-queue step for the answer's tool calls, or
 * to the step that stores the reply. Loop thread only.
 */
#ifndef TODO_AGENT_MODEL_H
#define TODO_AGENT_MODEL_H

struct agent_turn;

/* Makes the turn's next model call (a new round when t->attempt is 0: the last round's tool
 * results are added first). The turn continues from the answer's callbacks. */
void agent_model_call(struct agent_turn *t);

#endif
