/*
 * The web role's streaming reverse proxy: requests under /api, /mcp, /docs and
 * /openapi.json are forwarded to API_URL (the chat's routes to AGENT_URL when it is set:
 * seed 003's ai-agent) without ever blocking an HTTP worker thread. The
 * transfer runs on the I/O loop through httpc (io/httpc.h); the request waits suspended
 * (http/stream.h) until the upstream's response headers are complete, and the body then
 * streams through the stream's bounded buffer (Server-Sent Events pass event by event):
 * a full buffer pauses the upstream transfer, a drained one resumes it, a client that goes
 * away cancels it.
 */
#ifndef TODO_PROXY_H
#define TODO_PROXY_H

#include <stdbool.h>

#include "core/config.h"
#include "http/request.h"

struct httpc;

/* Concurrent proxied requests; one more is answered 503. */
#define PROXY_MAX_TRANSFERS 512
/* Concurrent proxied event streams (of PROXY_MAX_TRANSFERS), each on a connection of its
 * own beside the ordinary requests' pool (app.c's HTTPC_HOST_CONNS); one more is answered
 * 503 with Retry-After. */
#define PROXY_MAX_STREAMS 256
/* Upstream bytes buffered per request before the upstream is paused (backpressure). */
#define PROXY_BUFFER_MAX (256 * 1024)
/* Time allowed for the upstream's response headers (then 504). */
#define PROXY_HEADER_TIMEOUT_S 30
/* The same for a chat turn (POST /api/{user_id}/chat): a turn that is not streamed answers
 * only once the model has, after tool calls perhaps, each model call allowed up to
 * LLM_TIMEOUT_SECONDS (at most 600) by the API. Chat clients wait that long (the OpenAI SDKs'
 * default request timeout is 600 s); the API bounds the turn itself. */
#define PROXY_CHAT_HEADER_TIMEOUT_S 600
/* Time a streaming body may stay silent before the transfer is ended; no total limit. */
#define PROXY_IDLE_TIMEOUT_S 300
/* Time allowed to open a TCP connection to the upstream (then 504). */
#define PROXY_CONNECT_TIMEOUT_S 10

/* Time allowed for one readiness probe of an upstream (see proxy_upstream_ready). */
#define PROXY_PROBE_TIMEOUT_MS 2000

/* Makes h_proxy forward to cfg->api_url (and the chat to cfg->agent_url when set) through
 * httpc (which must outlive the proxy). ERR_OK, or ERR_INVALID (a URL over the length
 * limit, or already started), ERR_NOMEM.
 * Call once, before the HTTP server starts. */
int proxy_start(const struct config *cfg, struct httpc *httpc);

/* Ends the proxied event streams (their clients reconnect, to another replica) and answers
 * new ones 503; ordinary requests go on. Called before the HTTP server's drain, which would
 * otherwise wait for streams that never end by themselves. Safe to call more than once. */
void proxy_end_streams(void);

/* Later calls of h_proxy answer 503; transfers under way go on until httpc ends them. */
void proxy_quiesce(void);

/* Releases what proxy_start allocated (after the HTTP server stopped). */
void proxy_stop(void);

/* The web role's part of /ready: true once every upstream (API_URL, and AGENT_URL when set)
 * has answered a GET of its /ready with a status below 500 since proxy_start, and then for
 * good (a later outage of the API does not take the UI out of rotation); true when the
 * proxy is not started (the other roles). While false, each call starts a probe of the
 * upstreams not yet reached (at most one under way each), whose outcome a later call sees.
 * Any thread; never blocks. */
bool proxy_upstream_ready(void);

/* Handler: forwards the request (method, path + query string, body, headers) to API_URL, or
 * /api/{user_id}/chat and /api/{user_id}/conversations… to AGENT_URL when it is set. */
void h_proxy(struct request *req);

#endif
