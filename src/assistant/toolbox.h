/*
 * The tools a chat turn can call, wherever they run: in this process through the tool table
 * (domain/tools.h: roles all and api), or on an MCP server through the MCP client
 * (assistant/mcp_client.h: role agent, forwarding the caller's bearer token). The agent sees
 * one interface either way: the model's function list, and a call that runs one tool as the
 * turn's user and gives back its result or its error.
 *
 * Calls may block (a database statement, an MCP round trip): they run on a work-queue thread
 * (io/workq.h) or, for the offline fast path in process, on the request's own worker with
 * its connection. Never on the I/O loop.
 *
 * Threads: a toolbox is read-only after start; any thread may call. Memory: from the
 * caller's arena and document.
 */
#ifndef TODO_TOOLBOX_H
#define TODO_TOOLBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "yyjson.h"

#include "core/arena.h"
#include "store/store.h"

struct mcpc;
struct mcpc_session;

/* Where the tools run. */
struct toolbox {
    struct mcpc *mcp;    /* NULL: in process, through the tool table */
    const char *uploads; /* in process: UPLOADS_DIR, for the tools (struct tool_env) */
};

/* Who runs the tools of one turn, and with what. */
struct tool_caller {
    struct arena *a;
    const char *uid;          /* the authenticated user: the tools act for them alone */
    const char *token;        /* their bearer token (forwarded to the MCP server) */
    struct store_conn *db;    /* in process: this step's connection */
    struct mcpc_session *mcp; /* MCP: the turn's session (toolbox_session makes it) */
};

/* True when calls need a database connection (in process). */
bool toolbox_local(const struct toolbox *tb);

/* Makes the turn's MCP session (nothing in process). ERR_OK or ERR_NOMEM. */
int toolbox_session(const struct toolbox *tb, struct tool_caller *who);

/* Appends the tools in the Chat Completions format, {type:"function", function:{name,
 * description, parameters}}, to arr. ERR_OK; MCP: ERR_UNAVAILABLE, ERR_AUTH, ERR_TIMEOUT
 * when the server cannot say. */
int toolbox_functions(const struct toolbox *tb, struct tool_caller *who, yyjson_mut_doc *doc,
                      yyjson_mut_val *arr);

/* Runs tool name with args (an object, or NULL) as who->uid. ERR_OK: *result is its result
 * in doc and *is_error tells whether it failed as a tool (unknown tool, bad arguments, no
 * such task: *result is then {"error": "<message a model can act on>"}). Other returns: the
 * tool could not run at all (ERR_UNAVAILABLE: the database or the MCP server; ERR_NOMEM). */
int toolbox_call(const struct toolbox *tb, struct tool_caller *who, const char *name,
                 yyjson_val *args, yyjson_mut_doc *doc, yyjson_mut_val **result, bool *is_error);

/* Ends the turn's MCP session, if one was opened. */
void toolbox_end(const struct toolbox *tb, struct tool_caller *who);

#endif
