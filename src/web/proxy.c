/*
 * The streaming reverse proxy (see proxy.h).
 *
 * Threads. An HTTP worker runs h_proxy: it creates the request's stream, queues the upstream
 * transfer with httpc and defers, leaving the worker free. The transfer's callbacks run on
 * the I/O loop: on_headers wakes the request, whose resume callback (proxy_resume, back on
 * the connection's worker) answers with the upstream's status and headers and the stream
 * as the body; on_data writes into the stream, and a full stream pauses the transfer until
 * the stream's writable hook resumes it; on_done ends the stream (or, before any headers,
 * records the 502/503/504 the request then answers). When the client goes away the
 * stream's closed hook cancels the transfer.
 *
 * Connections. Ordinary requests share a pool of PROXY_POOL_CONNS connections to the upstream
 * (the engine's httpc, io/httpc.h: transfers beyond it wait for a connection). Long-lived
 * event streams (a GET for text/event-stream, or of an .../events path) would hold a pool
 * connection each for as long as a browser tab stays open, and enough tabs would leave
 * none for anything else; so they run on an engine of their own — a second I/O loop and
 * httpc, started here, with their own connections — at most PROXY_MAX_STREAMS at once
 * (one more is answered 503 with Retry-After, which EventSource clients retry).
 *
 * Ownership. The proxy's per-request state lives in the stream's data area, so the stream's
 * references (core/shared.h) keep it: the request's and the body reader's (http/stream.h),
 * and the transfer's, taken before the transfer is queued and dropped by on_done. The
 * stream holds the httpc handle of its transfer and releases it when disposed of.
 *
 * Readiness. The web role is ready (/ready 200) only once each upstream it forwards to
 * (API_URL, and AGENT_URL when set) has answered a GET of its /ready with a status below 500
 * once since start (proxy_upstream_ready). Until then, every /ready starts a probe of the
 * upstreams not yet reached (one at a time each, on the engine's httpc) and answers 503, so
 * a pod whose path to the API's Service does not work yet (its endpoints not yet programmed
 * by kube-proxy, its name not yet resolvable) gets no traffic: otherwise `helm install
 * --wait` could report ready while the first sign-up still got 502. Once reached the gate
 * stays open: a later API outage answers 502 on /api but leaves the UI served.
 */
#include "web/proxy.h"
#include "web/proxy_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "app.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/server.h"
#include "http/stream.h"
#include "io/httpc.h"
#include "io/loop.h"

/* Longest API_URL accepted. */
#define PROXY_MAX_BASE_URL 2048

#define DETAIL_502     "Bad gateway: API unavailable"
#define DETAIL_503     "Service unavailable: the proxy is shutting down"
#define DETAIL_504     "Gateway timeout: the API did not answer in time"
#define DETAIL_BUSY    "Service unavailable: too many proxied requests"
#define DETAIL_STREAMS "Service unavailable: too many open event streams"

/* The proxy of the process: set by proxy_start, read by every request. */
static struct {
    pthread_mutex_t mu;  /* guards base, httpc and started */
    char *base;          /* API_URL without a trailing slash */
    char *agent;         /* AGENT_URL without a trailing slash, or NULL: the chat goes to base */
    struct httpc *httpc; /* the engine's: ordinary requests */
    struct loop *stream_loop; /* the event streams' own loop and engine (see above) */
    struct httpc *stream_httpc;
    bool started;
    atomic_bool running; /* h_proxy forwards */
    atomic_int live;     /* transfers queued and not yet ended */
    atomic_int streams;  /* of which event streams */
} px = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* One proxied request: the data area of its stream. */
struct pxreq {
    _Atomic(struct httpc_xfer *) xfer; /* set once the transfer is queued */
    char request_id[REQUEST_ID_MAX + 1];
    atomic_int fail_status; /* 502/503/504 when the transfer ended before any headers */
    atomic_bool client_gone;
    atomic_bool keep_transfer; /* the answer reads no body: let the transfer end by itself */
    bool event_stream;         /* counted in px.streams */
};

/* ---- readiness: the upstreams reached once (see the top of the file) -------------------- */

/* One upstream's probe. Static, never freed: a probe's on_done may run on the engine's loop
 * after proxy_stop, until that loop stops. */
struct upstream_probe {
    const char *name; /* for the log: "api" or "agent" (the URL may carry credentials) */
    char url[PROXY_MAX_BASE_URL + sizeof("/ready")];
    atomic_bool reached;   /* answered once: stays set until proxy_stop */
    atomic_bool in_flight; /* a probe is under way */
};

static struct upstream_probe probes[2]; /* API_URL, AGENT_URL */
static atomic_int n_probes;             /* set by proxy_start; 0 when not started */

/* on_done of a probe (the engine's loop). */
static void probe_done(void *ctx, const struct httpc_result *res)
{
    struct upstream_probe *p = ctx;
    if (res->status >= 200 && res->status < 500) {
        if (!atomic_exchange(&p->reached, true)) {
            struct log_field f[] = {LF_S("upstream", p->name), LF_I("status", res->status)};
            log_fields(LOG_INFO, "proxy: upstream reached; /ready passes from now on", f,
                       ARRAY_LEN(f));
        }
    } else if (res->err != ERR_CANCELED) {
        struct log_field f[] = {
            LF_S("upstream", p->name),
            LF_I("status", res->status),
            LF_S("error", res->err == ERR_OK ? "" : res->detail),
        };
        log_fields(LOG_INFO, "proxy: upstream not reached yet; /ready stays 503", f, ARRAY_LEN(f));
    }
    atomic_store(&p->in_flight, false);
}

/* Starts a probe of each upstream not yet reached and not being probed. Any thread. */
static void probe_kick(void)
{
    static const char *const headers[] = {HTTPC_USER_AGENT};
    pthread_mutex_lock(&px.mu);
    struct httpc *h = px.started ? px.httpc : NULL;
    pthread_mutex_unlock(&px.mu);
    int n = atomic_load(&n_probes);
    for (int i = 0; h && i < n; i++) {
        struct upstream_probe *p = &probes[i];
        if (atomic_load(&p->reached) || atomic_exchange(&p->in_flight, true))
            continue;
        struct httpc_request rq = {
            .method = "GET",
            .url = p->url,
            .headers = headers,
            .n_headers = ARRAY_LEN(headers),
            /* Fresh DNS: a name resolved at start to a Service's old address (re-created
             * under the same name, still in the cluster DNS's cache) is not retried for the
             * 60 s libcurl keeps it; the proxied requests then find the fresh answer. */
            .flags = HTTPC_ALLOW_HTTP | HTTPC_FRESH_DNS,
            .connect_timeout_ms = PROXY_PROBE_TIMEOUT_MS,
            .header_timeout_ms = PROXY_PROBE_TIMEOUT_MS,
            .total_timeout_ms = PROXY_PROBE_TIMEOUT_MS,
            .max_body = 4096,
            .on_done = probe_done,
            .ctx = p,
        };
        if (httpc_request(h, &rq, NULL) != ERR_OK)
            atomic_store(&p->in_flight, false);
    }
}

bool proxy_upstream_ready(void)
{
    int n = atomic_load(&n_probes);
    bool all = true;
    for (int i = 0; i < n; i++)
        all = all && atomic_load(&probes[i].reached);
    if (!all)
        probe_kick();
    return all;
}

/* Sets up the probes of base and agent (agent may be NULL), none reached yet. */
static void probes_init(const char *base, const char *agent)
{
    const char *urls[] = {base, agent};
    const char *names[] = {"api", "agent"};
    int n = 0;
    for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
        if (!urls[i])
            continue;
        struct upstream_probe *p = &probes[n++];
        /* Fits: base_of bounds the URL to PROXY_MAX_BASE_URL. */
        snprintf(p->url, sizeof(p->url), "%s/ready", urls[i]);
        p->name = names[i];
        atomic_store(&p->reached, false);
    }
    atomic_store(&n_probes, n);
}

/* ---- the stream's hooks (HTTP worker threads) ----------------------------------------- */

static void px_writable(struct stream *s)
{
    struct pxreq *p = stream_data(s);
    httpc_resume(atomic_load(&p->xfer));
}

static void px_closed(struct stream *s)
{
    struct pxreq *p = stream_data(s);
    atomic_store(&p->client_gone, true);
    if (!atomic_load(&p->keep_transfer))
        httpc_cancel(atomic_load(&p->xfer));
}

static void px_dispose(struct stream *s)
{
    struct pxreq *p = stream_data(s);
    httpc_xfer_release(atomic_load(&p->xfer));
}

static const struct stream_hooks px_hooks = {
    .writable = px_writable, .closed = px_closed, .dispose = px_dispose};

/* ---- the transfer's callbacks (the I/O loop) -------------------------------------------- */

static int px_on_headers(void *ctx, const struct httpc_response *r)
{
    (void)r;
    stream_wake(ctx);
    return HTTPC_CONTINUE;
}

static int px_on_data(void *ctx, const char *data, size_t n)
{
    switch (stream_write(ctx, data, n)) {
    case ERR_OK:
        return HTTPC_CONTINUE;
    case STREAM_FULL:
        return HTTPC_PAUSE; /* libcurl keeps the bytes; px_writable resumes */
    default:
        return HTTPC_ABORT; /* nobody reads */
    }
}

static void px_on_done(void *ctx, const struct httpc_result *res)
{
    struct stream *s = ctx;
    struct pxreq *p = stream_data(s);
    bool gone = atomic_load(&p->client_gone);
    if (!res->headers_seen) {
        int status = res->err == ERR_TIMEOUT ? 504 : res->err == ERR_CANCELED ? 503 : 502;
        atomic_store(&p->fail_status, status);
    }
    if (res->err != ERR_OK && !gone && res->err != ERR_CANCELED) {
        struct log_field f[] = {
            LF_S("request_id", p->request_id),
            LF_S("error", res->detail),
            LF_S("stage", res->headers_seen ? "body" : "headers"),
        };
        log_fields(LOG_WARNING, "proxy: upstream transfer failed", f, ARRAY_LEN(f));
    }
    stream_end(s, res->err == ERR_OK);
    if (p->event_stream)
        atomic_fetch_sub(&px.streams, 1);
    atomic_fetch_sub(&px.live, 1);
    stream_release(s); /* the transfer's reference */
}

/* ---- the answer (the connection's worker) ------------------------------------------------ */

/* The body reader of a HEAD answer: libmicrohttpd sends no body for HEAD, so it is never
 * meant to run; if it does, the connection is closed rather than sending bytes. */
static ssize_t head_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)cls;
    (void)pos;
    (void)out;
    (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The resume callback: answers with the upstream's status, headers and the streamed body,
 * or with 502/503/504 when there is no upstream response. */
static void proxy_resume(struct request *req)
{
    struct stream *s = req->defer_ctx;
    struct pxreq *p = stream_data(s);
    const struct httpc_response *up = httpc_xfer_response(atomic_load(&p->xfer));
    if (!up) {
        int fail = atomic_load(&p->fail_status);
        if (fail == 504)
            resp_error(req, 504, DETAIL_504);
        else if (fail == 502)
            resp_error(req, 502, DETAIL_502);
        else
            resp_error(req, 503, DETAIL_503); /* ended by shutdown */
        return;
    }
    bool head = req->method == HTTP_HEAD;
    bool no_body = head || up->status == 204 || up->status == 304;
    struct MHD_Response *r;
    uint64_t head_len = 0;
    if (no_body)
        atomic_store(&p->keep_transfer, true); /* nothing to read: it ends on its own */
    if (head && proxy_head_length(up, &head_len))
        r = MHD_create_response_from_callback(head_len, STREAM_READ_BLOCK, head_read, NULL, NULL);
    else if (no_body)
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        r = stream_response(s);
    if (!r) {
        resp_error(req, 500, "Internal server error");
        return;
    }
    proxy_copy_headers(req, up, r);
    resp_custom(req, up->status, r);
}

/* True for /api/{user_id}/chat. */
static bool chat_path(const char *path)
{
    static const char api[] = "/api/";
    if (strncmp(path, api, sizeof(api) - 1) != 0)
        return false;
    const char *seg = path + sizeof(api) - 1;
    const char *slash = strchr(seg, '/');
    return slash && slash != seg && strcmp(slash, "/chat") == 0;
}

/* True for the agent role's routes: /api/{user_id}/chat and /api/{user_id}/conversations,
 * with anything under the latter (seed 003's ai-agent serves them). */
static bool agent_path(const char *path)
{
    static const char api[] = "/api/";
    if (strncmp(path, api, sizeof(api) - 1) != 0)
        return false;
    const char *seg = path + sizeof(api) - 1;
    const char *slash = strchr(seg, '/');
    if (!slash || slash == seg)
        return false;
    if (chat_path(path))
        return true;
    static const char conv[] = "/conversations";
    return strncmp(slash, conv, sizeof(conv) - 1) == 0 &&
           (slash[sizeof(conv) - 1] == '\0' || slash[sizeof(conv) - 1] == '/');
}

/* True for a request that opens a long-lived event stream: a GET that accepts
 * text/event-stream (EventSource, an MCP client's GET stream) or of a path ending in
 * /events (the per-user event stream, whatever the client's Accept). */
static bool event_stream_request(struct request *req)
{
    if (req->method != HTTP_GET)
        return false;
    const char *accept = req_header(req, "Accept");
    if (accept && strcasestr(accept, "text/event-stream"))
        return true;
    size_t len = strlen(req->path);
    static const char tail[] = "/events";
    return len >= sizeof(tail) - 1 && strcmp(req->path + len - (sizeof(tail) - 1), tail) == 0;
}

/* Takes one of the n places of counter, or answers 503 (Retry-After: 1) with detail. */
static bool take_place(struct request *req, atomic_int *counter, int n, const char *detail)
{
    if (atomic_fetch_add(counter, 1) < n)
        return true;
    atomic_fetch_sub(counter, 1);
    resp_header(req, "Retry-After", "1");
    resp_error(req, 503, detail);
    return false;
}

void h_proxy(struct request *req)
{
    if (!atomic_load(&px.running)) {
        resp_error(req, 503, DETAIL_503);
        return;
    }
    if (!take_place(req, &px.live, PROXY_MAX_TRANSFERS, DETAIL_BUSY))
        return;
    bool event_stream = event_stream_request(req);
    if (event_stream && !take_place(req, &px.streams, PROXY_MAX_STREAMS, DETAIL_STREAMS)) {
        atomic_fetch_sub(&px.live, 1);
        return;
    }
    bool with_body = req->method == HTTP_POST || req->method == HTTP_PUT ||
                     req->method == HTTP_PATCH ||
                     (req->body_len > 0 && req->method != HTTP_GET && req->method != HTTP_HEAD);
    const char *url = NULL;
    const char *const *headers = NULL;
    size_t n_headers = 0;
    struct stream *s = NULL;
    int rc = proxy_build_url(req, px.agent && agent_path(req->path) ? px.agent : px.base, &url);
    if (rc == ERR_OK)
        rc = proxy_build_headers(req, with_body, &headers, &n_headers);
    if (rc == ERR_OK)
        rc = stream_new(req, PROXY_BUFFER_MAX, &px_hooks, sizeof(struct pxreq), &s);
    struct httpc_xfer *x = NULL;
    if (rc == ERR_OK) {
        struct pxreq *p = stream_data(s);
        snprintf(p->request_id, sizeof(p->request_id), "%s", req->request_id);
        p->event_stream = event_stream;
        struct httpc_request rq = {
            .method = req->method_name,
            .url = url,
            .headers = headers,
            .n_headers = n_headers,
            .body = with_body ? (req->body ? req->body : "") : NULL,
            .body_len = with_body ? req->body_len : 0,
            /* API_URL is the operator's own service (e.g. http://todo-backend:8000). */
            .flags = HTTPC_ALLOW_HTTP,
            .connect_timeout_ms = PROXY_CONNECT_TIMEOUT_S * 1000,
            .header_timeout_ms =
                (req->method == HTTP_POST && chat_path(req->path) ? PROXY_CHAT_HEADER_TIMEOUT_S
                                                                  : PROXY_HEADER_TIMEOUT_S) *
                1000,
            .idle_timeout_ms = PROXY_IDLE_TIMEOUT_S * 1000,
            .max_body = HTTPC_UNLIMITED,
            .on_headers = px_on_headers,
            .on_data = px_on_data,
            .on_done = px_on_done,
            .ctx = stream_ref(s), /* the transfer's reference, dropped by px_on_done */
        };
        rc = httpc_request(event_stream ? px.stream_httpc : px.httpc, &rq, &x);
        if (rc == ERR_OK) {
            atomic_store(&p->xfer, x);
        } else {
            stream_release(s); /* the transfer's, never taken */
            stream_end(s, false);
        }
    }
    if (rc != ERR_OK) {
        if (event_stream)
            atomic_fetch_sub(&px.streams, 1);
        atomic_fetch_sub(&px.live, 1);
        stream_release(s); /* the request's own reference keeps it until the end */
        if (rc == ERR_TOOBIG)
            resp_error(req, 414, "Request URL too long to forward");
        else if (rc == ERR_INVALID)
            resp_error(req, 431, "Too many request header fields to forward");
        else
            resp_error(req, 503,
                       rc == ERR_UNAVAILABLE ? DETAIL_503
                                             : "Service unavailable: cannot forward "
                                               "the request");
        return;
    }
    stream_defer(req, s, proxy_resume);
    stream_release(s); /* the handler's; the request and the transfer hold theirs */
}

/* A copy of url without its trailing slashes (malloc'd, the caller's), or NULL: over
 * PROXY_MAX_BASE_URL (*rc ERR_INVALID) or out of memory (*rc ERR_NOMEM). */
static char *base_of(const char *url, int *rc)
{
    size_t len = strnlen(url, PROXY_MAX_BASE_URL + 1);
    if (len > PROXY_MAX_BASE_URL) {
        *rc = ERR_INVALID;
        return NULL;
    }
    while (len > 0 && url[len - 1] == '/') /* bounded by len */
        len--;
    char *b = strndup(url, len);
    if (!b)
        *rc = ERR_NOMEM;
    return b;
}

/* Ends the event streams' engine (every transfer aborted, the loop joined) and frees it. */
static void stream_engine_stop(struct loop *loop, struct httpc *httpc)
{
    if (httpc)
        httpc_quiesce(httpc);
    if (loop)
        loop_stop(loop);
    httpc_free(httpc);
    loop_free(loop);
}

int proxy_start(const struct config *cfg, struct httpc *httpc)
{
    int rc = ERR_OK;
    char *base = base_of(cfg->api_url, &rc);
    char *agent = base && cfg->agent_url ? base_of(cfg->agent_url, &rc) : NULL;
    struct loop *sloop = NULL;
    struct httpc *shttpc = NULL;
    if (rc == ERR_OK)
        rc = loop_start(&sloop);
    if (rc == ERR_OK)
        rc = httpc_new(sloop, PROXY_MAX_STREAMS, &shttpc);
    if (rc != ERR_OK) {
        stream_engine_stop(sloop, shttpc);
        free(base);
        free(agent);
        return rc;
    }
    pthread_mutex_lock(&px.mu);
    if (px.started) {
        pthread_mutex_unlock(&px.mu);
        stream_engine_stop(sloop, shttpc);
        free(base);
        free(agent);
        return ERR_INVALID;
    }
    px.base = base;
    px.agent = agent;
    px.httpc = httpc;
    px.stream_loop = sloop;
    px.stream_httpc = shttpc;
    px.started = true;
    probes_init(base, agent);
    pthread_mutex_unlock(&px.mu);
    atomic_store(&px.running, true);
    log_info("proxy started"); /* API_URL itself may carry credentials: not logged */
    probe_kick();              /* often reached before the first readiness probe asks */
    return ERR_OK;
}

void proxy_end_streams(void)
{
    pthread_mutex_lock(&px.mu);
    struct httpc *h = px.stream_httpc;
    pthread_mutex_unlock(&px.mu);
    httpc_quiesce(h); /* aborts the transfers under way; NULL and a second call are no-ops */
}

void proxy_quiesce(void)
{
    atomic_store(&px.running, false);
    /* The event streams end now (their clients reconnect elsewhere): their transfers are
     * aborted, which ends the streams, and the loop joined. */
    pthread_mutex_lock(&px.mu);
    struct httpc *h = px.stream_httpc;
    struct loop *l = px.stream_loop;
    pthread_mutex_unlock(&px.mu);
    if (h)
        httpc_quiesce(h);
    if (l)
        loop_stop(l);
}

void proxy_stop(void)
{
    atomic_store(&px.running, false);
    pthread_mutex_lock(&px.mu);
    struct httpc *h = px.stream_httpc;
    struct loop *l = px.stream_loop;
    free(px.base);
    free(px.agent);
    px.base = NULL;
    px.agent = NULL;
    px.httpc = NULL;
    px.stream_httpc = NULL;
    px.stream_loop = NULL;
    px.started = false;
    pthread_mutex_unlock(&px.mu);
    atomic_store(&n_probes, 0);
    stream_engine_stop(l, h); /* again after proxy_quiesce: both calls are safe twice */
}
