/*
 * MCP sessions of the Streamable HTTP transport, kept in the database so that any replica
 * serves any request of a session (no sticky routing). A session id is 256 random bits in
 * hex, handed out at initialize in Mcp-Session-Id; the table keeps only its SHA-256, the user
 * it belongs to and the protocol version negotiated. A session is found only for its own
 * user: another user's id is as unknown as a made-up one. Sessions idle for
 * MCP_SESSION_IDLE_DAYS end by themselves; a user keeps at most MCP_SESSIONS_PER_USER (the
 * least recently used go first).
 *
 * Threads: no state; any thread may call. Memory: results come from the caller's arena.
 */
#ifndef TODO_MCP_SESSION_H
#define TODO_MCP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "store/store.h"

#define MCP_SESSION_ID_LEN    64 /* hex characters */
#define MCP_SESSION_IDLE_DAYS 30
#define MCP_SESSIONS_PER_USER 64
#define MCP_SESSION_TOUCH_S   60 /* last_seen_at is written at most once a minute */
#define MCP_CLIENT_NAME_MAX   100

/* Starts a session for uid at version (client: the clientInfo name, or NULL) and writes its
 * id into id. Also ends the user's sessions beyond MCP_SESSIONS_PER_USER and everyone's idle
 * ones. */
int mcp_session_create(struct store_conn *c, struct arena *a, const char *uid, const char *version,
                       const char *client, char id[MCP_SESSION_ID_LEN + 1]);

/* Finds uid's session id at time now: *version (arena) is its protocol version.
 * ERR_NOTFOUND when there is none (never issued, ended, idle too long, another user's). */
int mcp_session_find(struct store_conn *c, struct arena *a, const char *id, const char *uid,
                     int64_t now, const char **version);

/* Ends uid's session id. ERR_NOTFOUND when there is none. */
int mcp_session_end(struct store_conn *c, struct arena *a, const char *id, const char *uid);

#endif
