/*
 * httpc: every outbound HTTP request of the process, on the I/O loop (io/loop.h). One
 * libcurl multi handle, so one connection cache, one set of pinned options and one place
 * that enforces the rules: connect, header, idle and total deadlines; a cap on the response
 * body; https only (plain http for loopback hosts, or where the caller says the target is an
 * operator-configured internal service); no redirects; no signals.
 *
 * The API is callback-based and non-blocking. httpc_request queues a transfer from any
 * thread; its callbacks run on the loop thread:
 *   on_headers  once, when the final response's header section is complete;
 *   on_data     body bytes as they arrive (return HTTPC_PAUSE to refuse them for now: the
 *               same bytes come again after httpc_resume — backpressure);
 *   on_event    instead of on_data when the response is text/event-stream: one parsed
 *               Server-Sent Event at a time (HTTPC_PAUSE: the event is taken, no more come
 *               until httpc_resume);
 *   on_done     exactly once, last: the outcome, and the body when neither on_data nor
 *               on_event took it (collected up to the cap).
 * The LLM client posts JSON and reads streamed chat-completion chunks through on_event;
 * the web proxy streams bytes through on_data; JWKS refreshes take the collected body.
 *
 * A transfer is reference counted (core/shared.h): the loop holds one reference until
 * on_done has run, and httpc_request hands the caller another through *out (when out is
 * not NULL), valid for httpc_cancel/httpc_resume until httpc_xfer_release, also after
 * on_done. on_done may run before httpc_request returns: set ctx up first.
 */
#ifndef TODO_HTTPC_H
#define TODO_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/sse.h"
#include "io/loop.h"

/* Defaults for a request that leaves a limit at 0. */
#define HTTPC_CONNECT_TIMEOUT_MS 10000
#define HTTPC_HEADER_TIMEOUT_MS  30000
#define HTTPC_IDLE_TIMEOUT_MS    300000
#define HTTPC_MAX_BODY           (8 * 1024 * 1024)
#define HTTPC_MAX_EVENT          (1024 * 1024)
/* Limits of every transfer. */
#define HTTPC_MAX_TRANSFERS    2048
#define HTTPC_MAX_RESP_HEADERS 100
#define HTTPC_MAX_HEADER_BYTES (64 * 1024)
#define HTTPC_MAX_REQ_HEADERS  160
#define HTTPC_MAX_URL          (16 * 1024)
/* max_body meaning "no cap" (a proxy streaming a long-lived response). */
#define HTTPC_UNLIMITED ((size_t)-1)
/* The User-Agent line callers send (none is added for them: a proxy forwards its client's). */
#define HTTPC_USER_AGENT "User-Agent: todo/" TODO_VERSION
/* How often the header and idle deadlines are checked. */
#define HTTPC_TICK_MS 250

/* What a callback returns. */
enum { HTTPC_CONTINUE = 0, HTTPC_PAUSE = 1, HTTPC_ABORT = 2 };

/* Request flags. */
enum {
    /* Plain http to any host: for targets the operator configures as internal services
     * (API_URL of the web role). Without it, plain http is refused unless the host is
     * loopback. */
    HTTPC_ALLOW_HTTP = 1u << 0,
    /* Resolve the host name again instead of using the engine's cached answer (libcurl keeps
     * one 60 s), and leave the fresh answer in the cache for the transfers after it: for a
     * probe that must notice at once when a name now points elsewhere (a Service re-created
     * under the same name, web/proxy.c). */
    HTTPC_FRESH_DNS = 1u << 1,
};

struct httpc;
struct httpc_xfer;

/* The final response's head: read-only once on_headers has run; readable from any thread
 * that holds a reference to the transfer and learned (through a lock or a posted call)
 * that on_headers ran. */
struct httpc_response {
    int status;
    size_t n_headers;
    const char *hdrs; /* n_headers "name\0value\0" pairs, in order */
    size_t hdrs_len;  /* bytes of hdrs */
};

/* The outcome handed to on_done. body is valid only during on_done. */
struct httpc_result {
    int err;           /* ERR_OK; ERR_TIMEOUT (a deadline); ERR_TOOBIG (body, headers or an event
                        * over its cap); ERR_CANCELED (httpc_cancel, HTTPC_ABORT or shutdown);
                        * ERR_UNAVAILABLE (connection refused, reset, TLS, DNS, …); ERR_NOMEM */
    int status;        /* the final response's status, 0 when none arrived */
    bool headers_seen; /* on_headers ran */
    const char *body;  /* collected body (NUL-terminated), or NULL */
    size_t body_len;
    const char *detail; /* why it failed, for logs (never holds the URL); "" on success */
};

struct httpc_request {
    const char *method;         /* "GET" when NULL and no body, "POST" when NULL with a body */
    const char *url;            /* copied */
    const char *const *headers; /* n_headers "Name: value" lines (copied); "Name:" removes a
                                 * header libcurl would add, "Name;" sends it empty */
    size_t n_headers;
    const void *body; /* copied */
    size_t body_len;
    unsigned flags;
    int connect_timeout_ms; /* 0: HTTPC_CONNECT_TIMEOUT_MS */
    int header_timeout_ms;  /* from the start to the response's header section; 0: default */
    int idle_timeout_ms;    /* longest silence of the body, pauses not counted; 0: default */
    int total_timeout_ms;   /* the whole transfer, pauses counted; 0: no limit */
    size_t max_body;        /* response body bytes; 0: HTTPC_MAX_BODY; or HTTPC_UNLIMITED */
    size_t max_event;       /* one Server-Sent Event's line or data; 0: HTTPC_MAX_EVENT */
    int (*on_headers)(void *ctx, const struct httpc_response *r); /* CONTINUE or ABORT */
    int (*on_data)(void *ctx, const char *p, size_t n);
    int (*on_event)(void *ctx, const struct sse_event *ev);
    void (*on_done)(void *ctx, const struct httpc_result *res);
    void *ctx;
};

/* Creates the engine on loop (which must outlive it). max_host_conns bounds the open
 * connections to one host (0: no bound; further transfers wait for one). ERR_OK or
 * ERR_NOMEM; the caller owns *out: httpc_quiesce, loop_stop, then httpc_free. */
int httpc_new(struct loop *loop, long max_host_conns, struct httpc **out);

/* Refuses new requests and aborts every transfer (on_done with ERR_CANCELED) on the loop
 * thread; returns once that has happened. Any thread but the loop's. */
void httpc_quiesce(struct httpc *h);

/* Frees the engine once the loop has stopped. NULL is allowed. */
void httpc_free(struct httpc *h);

/* Queues a transfer. ERR_OK (on_done will run exactly once); ERR_INVALID (bad URL or method,
 * plain http to a non-loopback host without HTTPC_ALLOW_HTTP, too many headers);
 * ERR_TOOBIG (URL over HTTPC_MAX_URL); ERR_LIMIT (HTTPC_MAX_TRANSFERS running);
 * ERR_UNAVAILABLE (shutting down); ERR_NOMEM. Only on ERR_OK do callbacks run. Any thread. */
int httpc_request(struct httpc *h, const struct httpc_request *rq, struct httpc_xfer **out);

/* Ends the transfer early: on_done follows with ERR_CANCELED unless it already ran. Any
 * thread; after on_done it does nothing. */
void httpc_cancel(struct httpc_xfer *x);

/* Continues a transfer paused by HTTPC_PAUSE. Any thread; does nothing when not paused. */
void httpc_resume(struct httpc_xfer *x);

/* The response's head once on_headers has run (see struct httpc_response), else NULL. */
const struct httpc_response *httpc_xfer_response(struct httpc_xfer *x);

/* Drops the caller's reference from httpc_request. NULL is allowed. */
void httpc_xfer_release(struct httpc_xfer *x);

/* The value of the response header name (case-insensitive; the first one), or NULL. */
const char *httpc_header(const struct httpc_response *r, const char *name);

/* Walks the headers in order: start with *pos = 0 (it then holds a byte offset); false
 * after the last. */
bool httpc_header_next(const struct httpc_response *r, size_t *pos, const char **name,
                       const char **value);

/* Transfers running or queued (for tests and shutdown logs). */
int httpc_active(struct httpc *h);

/* A blocking request for threads that may wait (start-up, a CLI command, a key refetch that
 * a verify must wait for): runs rq (its callbacks are ignored) and waits for the outcome.
 * Returns the transfer's err, or httpc_request's; *status gets the response status and
 * *body (when not NULL) the collected body, NUL-terminated and malloc'd, which the caller
 * frees. Never call it on the loop thread. */
int httpc_fetch(struct httpc *h, const struct httpc_request *rq, int *status, char **body,
                size_t *body_len);

#endif
