/*
 * The MCP server over stdio (`todo mcp --stdio`), for clients that start it as a subprocess
 * (Claude Desktop, Claude Code, Cursor, VS Code): newline-delimited JSON-RPC on stdin and
 * stdout, acting as the user of one bearer credential (TODO_TOKEN: a personal access token
 * or a JWT) against the configured database. stdout carries nothing but JSON-RPC messages;
 * logs go to stderr. The credential is checked again for every message, so a revoked or
 * expired token stops working mid-session (its requests get errors).
 *
 * Threads: the calling thread only. Bounds: a message (one line) is at most max_line bytes;
 * a longer one is answered with an error and skipped.
 */
#ifndef TODO_MCP_STDIO_H
#define TODO_MCP_STDIO_H

#include <stddef.h>
#include <stdio.h>

#include "core/config.h"
#include "store/store.h"

struct mcp_stdio {
    const struct config *cfg;
    struct store *store;
    const char *token; /* the bearer credential */
    int in;            /* file descriptor to read messages from */
    FILE *out;         /* where responses go */
    size_t max_line;   /* bytes per message */
};

/* Checks the credential once, before serving: ERR_OK, ERR_AUTH (*why: static, says why),
 * or a store error. */
int mcp_stdio_check(const struct mcp_stdio *s, const char **why);

/* Serves until the input ends (ERR_OK) or the output fails (ERR_IO). */
int mcp_stdio_serve(const struct mcp_stdio *s);

#endif
