/*
 * The one error idiom of todo: functions that can fail return an int, ERR_OK (0) on
 * success or a negative ERR_* code. Callers propagate the code upward; only the HTTP
 * layer turns a code into a status, and only the log sees a backend's own message.
 *
 * ERR_CODES is the one table of codes: each row names a code, its value, the HTTP status a
 * handler answers it with, a short description for logs, and the client-safe detail of the
 * answer's body when the handler has nothing more precise to say. A new code is one row
 * here. (The MCP server answers a tool that could not run as a tool error, not a JSON-RPC
 * error: mcp/rpc.c.)
 */
#ifndef TODO_ERR_H
#define TODO_ERR_H

/* X(name, value, http status, log text, client detail) */
#define ERR_CODES(X)                                                                               \
    /* success */                                                                                  \
    X(ERR_OK, 0, 200, "ok", "OK")                                                                  \
    /* allocation failed or a size limit was reached */                                            \
    X(ERR_NOMEM, -1, 500, "out of memory", "Internal server error")                                \
    /* input broke a rule */                                                                       \
    X(ERR_INVALID, -2, 400, "invalid input", "Invalid input")                                      \
    /* no such row, route or object */                                                             \
    X(ERR_NOTFOUND, -3, 404, "not found", "Not Found")                                             \
    /* uniqueness or state conflict */                                                             \
    X(ERR_CONFLICT, -4, 409, "conflict", "Conflicting change, try again")                          \
    /* the database failed a statement */                                                          \
    X(ERR_DB, -5, 500, "database error", "Internal server error")                                  \
    /* a dependency is down or timed out (the database, unless the caller says otherwise) */       \
    X(ERR_UNAVAILABLE, -6, 503, "service unavailable", "Database unavailable, try again shortly")  \
    /* input over a named limit */                                                                 \
    X(ERR_TOOBIG, -7, 413, "too large", "Request too large")                                       \
    /* file system or socket failure */                                                            \
    X(ERR_IO, -8, 500, "i/o error", "Internal server error")                                       \
    /* missing or bad credentials */                                                               \
    X(ERR_AUTH, -9, 401, "not authenticated", "Not authenticated")                                 \
    /* authenticated, but not allowed */                                                           \
    X(ERR_FORBIDDEN, -10, 403, "forbidden", "Forbidden")                                           \
    /* rate limited */                                                                             \
    X(ERR_LIMIT, -11, 429, "too many requests", "Too many attempts, try again later")              \
    /* a computed value would leave its range (a time past year 9999) */                           \
    X(ERR_RANGE, -12, 422, "out of range", "A computed value would leave its range")               \
    /* a peer did not answer within its deadline */                                                \
    X(ERR_TIMEOUT, -13, 504, "timed out", "Upstream timed out")                                    \
    /* the operation was canceled (client gone, shutdown) */                                       \
    X(ERR_CANCELED, -14, 503, "canceled", "Request canceled")

enum {
#define ERR_ENUM(name, value, status, text, detail) name = value,
    ERR_CODES(ERR_ENUM)
#undef ERR_ENUM
};

/* A short, static description of an ERR_* code for logs ("internal error" when unknown). */
const char *err_str(int err);

/* The HTTP status a handler answers err with (500 when unknown). */
int err_http_status(int err);

/* The client-safe detail of err's answer ("Internal server error" when unknown). Static. */
const char *err_detail(int err);

#endif
