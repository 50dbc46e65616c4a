/*
 * One HTTP request as handlers see it: the parsed request, its arena, and the response
 * being built. Handlers read with req_* and answer with exactly one resp_* call; the
 * server queues the response, logs the request and frees the arena once, at the end.
 */
#ifndef TODO_REQUEST_H
#define TODO_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"

#define REQ_MAX_PATH_PARAMS  4
#define REQ_MAX_RESP_HEADERS 16
#define REQUEST_ID_MAX       64
/* How many X-Forwarded-For hops are examined at most. */
#define XFF_MAX_HOPS 32

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_PATCH = 1 << 4,
    HTTP_DELETE = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
    HTTP_OTHER = 1 << 7,
};

struct app;
struct route;
struct req_local;
struct store_conn;
struct MHD_Connection;
struct MHD_Response;

struct request {
    struct arena *arena;
    struct MHD_Connection *conn;   /* NULL for an in-memory request (local below) */
    const struct req_local *local; /* an in-memory request's head (http_dispatch_local) */
    struct app *app;
    enum http_method method;
    const char *method_name;
    const char *path; /* decoded path, without the query */
    int64_t start_us;
    char request_id[REQUEST_ID_MAX + 1];

    char *body; /* NUL-terminated, arena-owned */
    size_t body_len;
    size_t body_cap;
    bool body_too_large;
    bool streamed_body; /* the body goes to the handler in chunks (ROUTE_UPLOAD) */
    const char *chunk;  /* ... the chunk of this call, or NULL for the final call */
    size_t chunk_len;
    void *body_ctx; /* the handler's state across those calls, in the arena */

    const struct route *route;
    const char *params[REQ_MAX_PATH_PARAMS]; /* path captures, in pattern order */
    size_t n_params;

    const char *user_id;   /* set by authentication */
    bool auth_pat;         /* ... with a personal access token */
    struct store_conn *db; /* checked out on demand by req_db, released at the end or when
                            * the request is suspended (resp_defer) */

    /* The response. */
    int status;
    const char *content_type;
    const char *resp_body;
    size_t resp_len;
    struct MHD_Response *resp_custom;
    /* Deferred answer (see resp_defer): called on the access callback that follows
     * MHD_resume_connection, it must produce the response. */
    void (*resume)(struct request *req);
    void *defer_ctx;
    const char *resp_headers[REQ_MAX_RESP_HEADERS][2];
    size_t n_resp_headers;
    bool responded;
    bool queued; /* the response is handed to libmicrohttpd */
};

/* One header or query argument of an in-memory request. */
struct req_kv {
    const char *key, *value;
};

/* The head of a request made in memory rather than read from a connection (the fuzz
 * targets' entry, http/server.h's http_dispatch_local): headers (names compared ignoring
 * case, as libmicrohttpd does), decoded query arguments in order, and the peer address. */
struct req_local {
    const struct req_kv *headers;
    size_t n_headers;
    const struct req_kv *args;
    size_t n_args;
    const char *peer_ip;
};

/* A request header, or NULL. */
const char *req_header(struct request *req, const char *name);

/* True when the request's If-None-Match lists etag (a quoted entity tag) or is "*": the
 * client's copy is current and deserves a 304. */
bool req_etag_matches(struct request *req, const char *etag);

/* A query argument, or NULL. */
const char *req_query(struct request *req, const char *name);

/* Calls fn for each value of a repeatable query argument, at most max times; returns the
 * number seen (which may exceed max, so callers can reject too many). */
size_t req_query_all(struct request *req, const char *name, size_t max,
                     void (*fn)(void *ctx, const char *value), void *ctx);

/* Calls fn for each query argument in order (value "" when absent) until it returns false. */
void req_query_each(struct request *req, bool (*fn)(void *ctx, const char *key, const char *value),
                    void *ctx);

/* The address of the peer on the socket (what a proxy appends to X-Forwarded-For). */
const char *req_peer_ip(struct request *req);

/* The client's address (for rate limits): the peer, or, when the peer is a trusted proxy
 * (FORWARDED_ALLOW_IPS), the rightmost X-Forwarded-For entry that is not itself one. */
const char *req_client_ip(struct request *req);

/* Parses the body as JSON (size, depth and duplicate keys checked: core/json.h). On failure
 * answers 400 and returns ERR_INVALID; the document lives in the arena. */
int req_json(struct request *req, yyjson_doc **out);

/* The request's database connection, checked out on first use. On failure answers 503
 * and returns NULL. */
struct store_conn *req_db(struct request *req);

/* Adds a response header; name and value must live as long as the request. */
void resp_header(struct request *req, const char *name, const char *value);

/* Answers with doc serialised as JSON. */
void resp_json(struct request *req, int status, yyjson_mut_doc *doc);

/* Answers with a JSON text the caller already built (arena or static memory). */
void resp_json_text(struct request *req, int status, const char *json, size_t len);

/* Answers 422 with FastAPI's validation body built from errs. */
struct verrors;
void resp_invalid(struct request *req, const struct verrors *errs);

/* Answers {"detail": detail}. */
void resp_error(struct request *req, int status, const char *detail);

/* Answers an ERR_* code: the status of its row in core/err.h's table, and detail, or the
 * row's own client-safe detail when detail is NULL. */
void resp_err(struct request *req, int err, const char *detail);

/* Answers with no body (204, 304, …). */
void resp_empty(struct request *req, int status);

/* Answers with a body of any type. body must live as long as the request: static data or
 * the request's arena (it is sent without a copy). */
void resp_raw(struct request *req, int status, const char *content_type, const char *body,
              size_t len);

/* Answers with a response the caller created (streaming); the server takes ownership. */
void resp_custom(struct request *req, int status, struct MHD_Response *resp);

/* Defers the answer: the handler has suspended the connection (MHD_suspend_connection)
 * and some other thread will resume it; the server then calls resume(req), which must
 * answer with one resp_* call (or defer again). ctx is kept in req->defer_ctx for the
 * caller's use. Releases req's database connection: a suspended request holds none (a
 * later req_db checks one out again). http/stream.h wraps this for streaming handlers. */
void resp_defer(struct request *req, void (*resume)(struct request *req), void *ctx);

/* A new mutable JSON document allocated from the request's arena. */
yyjson_mut_doc *req_json_doc(struct request *req);

#endif
