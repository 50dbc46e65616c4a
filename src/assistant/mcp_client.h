/*
 * An MCP client over Streamable HTTP (spec 2025-06-18), for the agent role: the chat's tools
 * run on the MCP server at MCP_SERVER_URL, as the user whose bearer token the chat request
 * carried (forwarded on every request, never stored). A chat turn opens one session
 * (initialize, then notifications/initialized; the server's Mcp-Session-Id and the agreed
 * MCP-Protocol-Version go on every later request), makes its calls and ends it (DELETE).
 * Responses are read as JSON or as Server-Sent Events, whichever the server chooses.
 *
 * The tool list (tools/list, every page) is the same for every user: it is fetched once,
 * with the first turn's credentials, and kept; a tools/call that names a tool the server no
 * longer has refreshes it.
 *
 * Calls block the calling thread until the answer (each request through httpc, which runs
 * on the I/O loop): call them from work-queue threads only, never from the loop or an HTTP
 * worker. Every request has a deadline (MCP_CLIENT_TIMEOUT_MS) and a response cap.
 *
 * Threads: a client is shared by all turns (its tool list behind a mutex); a session belongs
 * to one turn and is used by one thread at a time. Memory: sessions and results come from
 * the caller's arena; the client owns its tool list.
 */
#ifndef TODO_MCP_CLIENT_H
#define TODO_MCP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "yyjson.h"

#include "core/arena.h"

#define MCP_CLIENT_TIMEOUT_MS 15000
#define MCP_CLIENT_MAX_BODY   (4 * 1024 * 1024)
#define MCP_CLIENT_MAX_TOOLS  64
#define MCP_CLIENT_MAX_PAGES  16
#define MCP_CLIENT_VERSION    "2025-06-18" /* the protocol version offered */

struct httpc;
struct mcpc;
struct mcpc_session;

/* A client for the server at url (http(s); plain http to any host: an operator-configured
 * internal service). ERR_OK, ERR_INVALID (not a usable URL) or ERR_NOMEM; the caller owns
 * *out (mcpc_free). */
int mcpc_new(struct httpc *h, const char *url, struct mcpc **out);
void mcpc_free(struct mcpc *c);

/* A session not yet opened (the first call opens it). NULL when out of memory. */
struct mcpc_session *mcpc_session_new(struct arena *a);

/* Appends the server's tools in the Chat Completions format to arr (see toolbox.h). */
int mcpc_functions(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token,
                   yyjson_mut_doc *doc, yyjson_mut_val *arr);

/* tools/call: as toolbox_call. A tool error (isError) is *is_error with {"error": text}. */
int mcpc_call(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token,
              const char *name, yyjson_val *args, yyjson_mut_doc *doc, yyjson_mut_val **result,
              bool *is_error);

/* Ends the session on the server (best effort). */
void mcpc_session_end(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token);

#endif
