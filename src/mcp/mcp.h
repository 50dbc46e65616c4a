/*
 * The MCP server's protocol core, shared by its two transports (Streamable HTTP in
 * handlers/mcp.c, stdio in mcp/stdio.c): JSON-RPC 2.0 messages, version negotiation,
 * initialize, ping, tools/list with cursor pagination and tools/call over the tool table
 * (domain/tools.h). It knows nothing of HTTP or file descriptors: a transport authenticates
 * the caller, reads one message, asks mcp_read for its kind and mcp_answer for the response
 * of a request, and sends that back its own way.
 *
 * Protocol versions: MCP_VERSIONS, newest first. initialize answers the client's version
 * when it is one of them, else the newest; the server has tools and nothing else (no
 * resources, prompts, logging or server-to-client requests), so it never sends a message
 * that is not a response.
 *
 * Threads: no state outside the arguments (the table and the server's settings are
 * read-only). Memory: everything comes from ctx->a and the caller's documents.
 */
#ifndef TODO_MCP_H
#define TODO_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include "yyjson.h"

#include "auth/bearer.h"
#include "core/arena.h"

/* Supported protocol versions, newest first; the first is offered by default. */
#define MCP_VERSIONS(X) X("2025-11-25") X("2025-06-18") X("2025-03-26")
/* The version a request without MCP-Protocol-Version (and with no other clue) speaks. */
#define MCP_VERSION_DEFAULT "2025-03-26"
/* The version that introduced JSON-RPC batches' removal: batches are read only before it. */
#define MCP_BATCH_MAX 32 /* messages in one batch (2025-03-26) */

/* JSON-RPC 2.0 and MCP error codes. */
enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL_ERROR = -32603,
    MCP_SESSION_NOT_FOUND = -32001, /* what the official SDKs answer for an unknown session */
    MCP_RATE_LIMITED = -32029,      /* too many tool calls: wait Retry-After seconds */
};

/* The server's identity and settings, read-only after start. */
struct mcp_server {
    const char *name;         /* serverInfo.name: MCP_SERVER_NAME */
    const char *title;        /* serverInfo.title */
    const char *version;      /* serverInfo.version */
    const char *instructions; /* initialize's instructions for the model */
    size_t page_size;         /* tools per tools/list page */
    int tool_limit;           /* tools/call per user and minute; 0: no limit */
    const char *uploads;      /* UPLOADS_DIR: the tools collect a deleted task's files */
};

/* The server's identity from the configuration (MCP_SERVER_NAME, MCP_TOOLS_PAGE_SIZE). */
struct config;
struct mcp_server mcp_server_of(const struct config *cfg);

/* One message's context: who sends it and through what. */
struct mcp_ctx {
    const struct mcp_server *srv;
    struct arena *a;
    const char *uid; /* the authenticated user */
    bearer_db_fn db; /* the database connection, checked out on first use */
    void *db_ctx;
    const char *version; /* the session's protocol version (NULL before initialize) */
    /* Set by an initialize request: the version agreed and the client's name (NULL when
     * it gave none). */
    const char *negotiated;
    const char *client;
    /* Set by tools/call: the tool run and whether it failed as a tool (for logs); and,
     * when the user's tool calls were over srv->tool_limit, the seconds until they may call
     * again (the request then got error MCP_RATE_LIMITED). */
    const char *tool;
    bool tool_error;
    int retry_after;
};

enum mcp_kind { MCP_REQUEST, MCP_NOTIFICATION, MCP_RESPONSE };

/* One JSON-RPC message, pointing into its document. */
struct mcp_msg {
    enum mcp_kind kind;
    yyjson_val *id;     /* requests and responses: a string or an integer */
    const char *method; /* requests and notifications */
    yyjson_val *params; /* an object, or NULL */
};

/* The canonical (static) spelling of version when this server speaks it, else NULL. */
const char *mcp_version_supported(const char *version);

/* "2025-11-25, 2025-06-18, 2025-03-26". */
const char *mcp_versions_text(void);

/* ["2025-11-25", "2025-06-18", "2025-03-26"] in doc. */
yyjson_mut_val *mcp_versions_json(yyjson_mut_doc *doc);

/* Reads v as one JSON-RPC 2.0 message. ERR_OK, or ERR_INVALID with *code (-32600, or
 * -32602 for params that are not an object) and *message (static) set. */
int mcp_read(yyjson_val *v, struct mcp_msg *m, int *code, const char **message);

/* The response to request m, in doc: {"jsonrpc":"2.0","id":…,"result":…} or an error.
 * NULL only when doc is out of memory. */
yyjson_mut_val *mcp_answer(struct mcp_ctx *ctx, const struct mcp_msg *m, yyjson_mut_doc *doc);

/* Answers a JSON-RPC batch (protocol 2025-03-26 only; the transport checks the version):
 * *out is the array of the responses to its requests and of the errors of its invalid
 * members, empty when it held only notifications and responses. initialize cannot be part
 * of a batch. ERR_OK, ERR_INVALID for a batch refused whole (*message: empty, or over
 * MCP_BATCH_MAX), ERR_NOMEM. */
int mcp_answer_batch(struct mcp_ctx *ctx, yyjson_val *batch, yyjson_mut_doc *doc,
                     yyjson_mut_val **out, const char **message);

/* A JSON-RPC error response in doc; id NULL writes "id": null. */
yyjson_mut_val *mcp_error(yyjson_mut_doc *doc, yyjson_val *id, int code, const char *message);

#endif
