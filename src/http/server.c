/*
 * libmicrohttpd glue (see server.h). The access handler follows libmicrohttpd's three
 * phases: the first call only sets up the request (queueing then would force
 * "Connection: close" and cost keep-alive), upload calls fill the bounded body buffer,
 * and the final call routes, runs the handler and queues its response. The completion
 * callback logs the request and frees its arena exactly once.
 */
#include "http/server.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "http/cors.h"
#include "http/headguard.h"
#include "http/peerlimit.h"
#include "http/request.h"
#include "http/router.h"
#include "store/store.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    atomic_int inflight;
    atomic_bool closed; /* the drain is over: new requests are refused unexecuted */
    struct headguard *guard;
    struct peerlimit *peers; /* MAX_CONNECTIONS_PER_IP, or NULL: not counted */
    unsigned share;          /* the connection limit / the workers: one worker's share */
};

/* What the server keeps per connection (libmicrohttpd's socket context; malloc'd by
 * on_connection at the start, freed at the close). */
struct conn_ctx {
    struct headguard_slot *slot; /* the head deadline's, or NULL */
    bool counted;                /* by peerlimit_opened: to be uncounted at the close */
};

/* The head guard's slot of a connection (see on_connection). */
static struct headguard_slot *guard_slot(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const struct conn_ctx *c = ci ? ci->socket_context : NULL;
    return c ? c->slot : NULL;
}

static const struct sockaddr *client_addr(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

/* The accept policy: an address already holding MAX_CONNECTIONS_PER_IP connections is
 * refused before libmicrohttpd sets a connection up (peerlimit.h). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct http_server *srv = cls;
    return peerlimit_admit(srv->peers, addr) ? MHD_YES : MHD_NO;
}

/* Tracks each connection's request-head deadline (headguard.h) and its address's count
 * (peerlimit.h); a connection over its address's limit, or one that cannot be tracked, is
 * shut down at once (libmicrohttpd then closes it as a peer that left). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    struct conn_ctx *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = ci ? ci->connect_fd : -1;
        c = calloc(1, sizeof(*c));
        bool ok = c != NULL;
        if (c) {
            c->counted = true;
            ok = peerlimit_opened(srv->peers, client_addr(conn));
            c->slot = fd >= 0 ? headguard_opened(srv->guard, fd) : NULL;
        }
        *socket_context = c;
        if (!ok && fd >= 0)
            shutdown(fd, SHUT_RDWR);
    } else if (c) {
        headguard_closed(srv->guard, c->slot);
        if (c->counted)
            peerlimit_closed(srv->peers, client_addr(conn));
        free(c);
        *socket_context = NULL;
    }
}

/* The access handler's *req_cls for a request whose URI on_uri refused. */
static char uri_refused;

/* Sees each request's URI before libmicrohttpd parses its query. libmicrohttpd 0.9.75
 * stores every query argument in the connection's fixed memory pool; when they do not fit
 * it queues a 431 and then overwrites its own state, so the client gets no answer until the
 * connection times out, and the pool it reset is used again. A URI longer than HTTP_URI_MAX
 * or with more than HTTP_QUERY_ARGS_MAX arguments is therefore refused here: its query is cut
 * (the text is the connection's own writable, NUL-terminated read buffer; the library
 * parses the arguments from it right after this call), so nothing overflows, and the access
 * handler answers 414 in JSON. Returns the *req_cls the access handler first sees. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    size_t len = strlen(uri);
    char *query = strchr(uri, '?');
    size_t args = 0;
    if (query && query[1])
        for (const char *p = query; *p && args <= HTTP_QUERY_ARGS_MAX; p++)
            args += *p == '&' || *p == '?';
    if (len <= HTTP_URI_MAX && args <= HTTP_QUERY_ARGS_MAX)
        return NULL;
    if (query)
        query[1] = '\0';
    return &uri_refused;
}

struct framing {
    const char *length; /* the first Content-Length */
    bool lengths_differ;
    unsigned encodings; /* Transfer-Encoding headers */
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->length && strcmp(f->length, value) != 0)
            f->lengths_differ = true;
        f->length = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->encodings++;
    }
    return MHD_YES;
}

/* Checks how the request says its body ends (RFC 9112 §6.1, §6.3): both Content-Length and
 * Transfer-Encoding, or two different lengths, let a proxy and this server disagree about
 * where the next request starts. Returns the status to refuse with (the connection is then
 * closed), or 0. Only requests that carry one of the headers pay for the scan. */
static int framing_refusal(struct request *req, const char **why)
{
    const char *te = req_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (!te && !req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH))
        return 0;
    struct framing f = {0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, framing_header, &f);
    if (f.length && f.encodings) {
        *why = "Request has both Content-Length and Transfer-Encoding";
        return 400;
    }
    if (f.lengths_differ) {
        *why = "Request has conflicting Content-Length headers";
        return 400;
    }
    if (f.encodings > 1 || (te && strcasecmp(te, "chunked") != 0)) {
        *why = "Transfer-Encoding other than chunked is not supported";
        return 501;
    }
    return 0;
}

/* Accepts a client's X-Request-ID only when it is short and plain. */
static bool request_id_ok(const char *id)
{
    size_t len = 0;
    for (const char *p = id; *p; p++, len++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok || len >= REQUEST_ID_MAX)
            return false;
    }
    return len > 0;
}

static struct request *request_begin(struct http_server *srv, struct MHD_Connection *conn,
                                     const char *url, const char *method)
{
    struct arena *a = arena_new();
    if (!a)
        return NULL;
    struct request *req = arena_calloc(a, 1, sizeof(*req));
    if (!req) {
        arena_free(a);
        return NULL;
    }
    req->arena = a;
    req->conn = conn;
    req->app = srv->app;
    req->start_us = now_mono_us();
    req->method = router_method(method);
    req->method_name = arena_strdup(a, method);
    req->path = arena_strdup(a, url);
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
    if (id && request_id_ok(id))
        snprintf(req->request_id, sizeof(req->request_id), "%s", id);
    else
        random_hex(req->request_id, 32);
    if (!req->method_name || !req->path) {
        arena_free(a);
        return NULL;
    }
    atomic_fetch_add(&srv->inflight, 1);
    /* Counted first, then checked: http_server_close sets closed and then waits for the
     * count, so a request either is waited for or is refused here (seq_cst atomics). */
    if (atomic_load(&srv->closed)) {
        atomic_fetch_sub(&srv->inflight, 1);
        arena_free(a);
        return NULL;
    }
    return req;
}

/* Appends upload data, keeping at most MAX_BODY_BYTES; the excess is read and dropped. */
static void body_append(struct request *req, const char *data, size_t size)
{
    size_t max = (size_t)req->app->cfg->max_body_bytes;
    if (req->body_too_large)
        return;
    if (size > max - req->body_len) {
        req->body_too_large = true;
        return;
    }
    if (req->body_len + size + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 1024;
        while (cap < req->body_len + size + 1)
            cap *= 2;
        char *nb = arena_alloc(req->arena, cap);
        if (!nb) {
            req->body_too_large = true;
            return;
        }
        if (req->body_len)
            memcpy(nb, req->body, req->body_len);
        req->body = nb;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, size);
    req->body_len += size;
    req->body[req->body_len] = '\0';
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result queue(struct http_server *srv, struct request *req)
{
    struct MHD_Response *r = req->resp_custom;
    /* Bodies are static or live in the request's arena, which is freed only by
     * on_completed, after libmicrohttpd has finished with the response: no copy needed. */
    if (!r)
        r = MHD_create_response_from_buffer(req->resp_len, (void *)req->resp_body,
                                            MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (req->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    MHD_add_response_header(r, "X-Request-ID", req->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < req->n_resp_headers; i++)
        MHD_add_response_header(r, req->resp_headers[i][0], req->resp_headers[i][1]);
    if (atomic_load(&srv->app->draining))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    /* The answer is made: its database connection goes back now, not once the response has
     * been sent (on_completed). Until then this worker thread serves other connections, and
     * on SQLite the connection is the thread's own: the next request would be refused. */
    if (req->db) {
        store_release(req->db);
        req->db = NULL;
    }
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    req->queued = true;
    return ret;
}

/* Routes the complete request and runs its handler, leaving the answer in req (every path
 * answers but a handler that suspended the request). Returns false when suspended. */
static bool route_request(struct app *app, struct request *req)
{
    cors_apply(req);
    if (req->body_too_large) {
        resp_error(req, 413, "Request body too large");
        return true;
    }
    if (req->responded) /* a streamed body's handler answered already (ROUTE_UPLOAD) */
        return true;
    if (cors_preflight(req))
        return true;
    unsigned allowed = 0;
    switch (router_match(app->routes, app->n_routes, req, &allowed)) {
    case ROUTER_NO_PATH:
        resp_error(req, 404, "Not Found");
        return true;
    case ROUTER_NO_METHOD: {
        char *allow = arena_alloc(req->arena, 64);
        if (allow) {
            router_allow_header(allowed, allow, 64);
            resp_header(req, "Allow", allow);
        }
        resp_error(req, 405, "Method Not Allowed");
        return true;
    }
    case ROUTER_FOUND:
        break;
    }
    if ((req->route->flags & ROUTE_JSON_BODY) && req->body_len > 0 &&
        !is_json_type(req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        resp_error(req, 415, "Content-Type must be application/json");
        return true;
    }
    /* A streamed body's pieces gave the connection back (on_access): take one again. */
    if (req->streamed_body && !req_db(req))
        return true; /* answered 503 */
    req->route->fn(req);
    if (!req->responded && req->resume)
        return false; /* suspended; answered when resumed */
    if (!req->responded) {
        log_error("handler for %s gave no response", req->route->pattern);
        resp_error(req, 500, "Internal server error");
    }
    return true;
}

/* Routes the complete request and queues the handler's response. */
static enum MHD_Result dispatch(struct http_server *srv, struct request *req)
{
    if (!route_request(srv->app, req))
        return MHD_YES;
    return queue(srv, req);
}

bool http_dispatch_local(struct app *app, struct request *req)
{
    req->app = app;
    req->conn = NULL;
    req->method = router_method(req->method_name);
    if (req->body_len > (size_t)app->cfg->max_body_bytes)
        req->body_too_large = true;
    return route_request(app, req);
}

/* At the request head: when a multipart POST goes to a ROUTE_UPLOAD route, its body will be
 * streamed to the route's body hook (req->streamed_body); other requests are routed once,
 * after their body, as usual. */
static bool upload_route(struct http_server *srv, struct request *req)
{
    const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (req->method != HTTP_POST || !ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return false;
    unsigned allowed = 0;
    if (router_match(srv->app->routes, srv->app->n_routes, req, &allowed) == ROUTER_FOUND &&
        (req->route->flags & ROUTE_UPLOAD)) {
        req->streamed_body = true;
        return true;
    }
    req->route = NULL;
    req->n_params = 0;
    return false;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct request *req = *req_cls == &uri_refused ? NULL : *req_cls;
    if (!req) {
        bool uri_too_long = *req_cls == &uri_refused;
        req = request_begin(srv, conn, url, method);
        if (!req)
            return MHD_NO;
        *req_cls = req;
        headguard_head_done(guard_slot(conn));
        /* Answered before any body is read: libmicrohttpd then closes the connection. */
        const char *why = "URI too long";
        int refuse = uri_too_long ? 414 : framing_refusal(req, &why);
        if (refuse) {
            req->body_too_large = true; /* any body is dropped unread */
            cors_apply(req);
            resp_error(req, refuse, why);
            return queue(srv, req);
        }
        const char *cl = req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n = 0;
        int64_t max = srv->app->cfg->max_body_bytes;
        if (upload_route(srv, req))
            max = srv->app->cfg->upload_max_bytes + UPLOAD_OVERHEAD_BYTES;
        /* A malformed Content-Length is libmicrohttpd's to refuse (400); answering here
         * too would put two responses on the wire. */
        if (cl && parse_int64(cl, 0, INT64_MAX, &n) == ERR_OK && n > max) {
            /* Refuse before reading the body; libmicrohttpd then closes the connection. */
            req->body_too_large = true;
            cors_apply(req);
            resp_error(req, 413, "Request body too large");
            return queue(srv, req);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!req->streamed_body)
            body_append(req, upload_data, *upload_data_size);
        else if (!req->responded) { /* after an answer, the rest is read and dropped */
            req->chunk = upload_data;
            req->chunk_len = *upload_data_size;
            req->route->fn(req);
            req->chunk = NULL;
            req->chunk_len = 0;
            /* Until the next piece this worker serves other connections: the request holds
             * no database connection meanwhile (on SQLite it is the thread's own). */
            if (req->db) {
                store_release(req->db);
                req->db = NULL;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->queued)
        return MHD_YES; /* the early 413 (or 400, 414, 501) is already queued */
    if (req->resume) {  /* resumed after a deferred answer */
        void (*resume)(struct request *) = req->resume;
        req->resume = NULL;
        resume(req);
        if (!req->responded && req->resume)
            return MHD_YES; /* deferred again */
        if (!req->responded)
            resp_error(req, 502, "Bad gateway");
        return queue(srv, req);
    }
    return dispatch(srv, req);
}

/* Counts a finished request under its route's template (never the raw path: ids would make
 * a series per task), its method and status, and its latency. */
static void count_request(struct request *req, int status)
{
    const char *route = !req->route              ? "unmatched"
                        : req->route->pattern[0] ? req->route->pattern
                                                 : "/*";
    char code[8];
    struct dynbuf d;
    dyn_init_fixed(&d, code, sizeof(code));
    dyn_add_int(&d, status);
    const char *method = req->method == HTTP_OTHER ? "OTHER" : req->method_name;
    metric_add(METRIC_HTTP_REQUESTS, (const char *const[]){route, method, code}, 1.0);
    metric_observe(METRIC_HTTP_DURATION, (const char *const[]){route},
                   (double)(now_mono_us() - req->start_us) / 1e6);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request *req = *req_cls;
    headguard_request_done(guard_slot(conn));
    if (!req || *req_cls == &uri_refused) {
        *req_cls = NULL;
        return;
    }
    int status = req->responded ? req->status : 499;
    count_request(req, status);
    enum log_level level = status >= 500 ? LOG_WARNING : LOG_INFO;
    if (log_enabled(level)) {
        struct log_field f[] = {
            LF_S("request_id", req->request_id),
            LF_S("method", req->method_name),
            LF_S("path", req->path),
            LF_I("status", status),
            LF_D("duration_ms", (double)(now_mono_us() - req->start_us) / 1000.0),
            LF_S("outcome", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted"),
        };
        log_fields(level, "request", f, ARRAY_LEN(f));
    }
    if (req->db)
        store_release(req->db);
    arena_free(req->arena);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

/* Decodes %XX escapes with libmicrohttpd's own decoder, except when the text holds %00:
 * a NUL would silently cut the path ("/health%00x" would reach "/health"), so such text is
 * left encoded and matches no route. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    if (strstr(uri, "%00"))
        return strlen(uri);
    return MHD_http_unescape(uri);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_fields(LOG_WARNING, msg, (struct log_field[]){LF_S("component", "libmicrohttpd")}, 1);
}

/* Opens the listening socket for host:port. Made here rather than by libmicrohttpd so that a
 * port in use is refused plainly: SO_REUSEADDR only (a restart may bind over connections in
 * TIME_WAIT), never SO_REUSEPORT, which would let a second server share the port and take
 * half of the traffic. Returns the socket or -1 after logging why. */
static int listen_socket(const char *host, int port, int *family)
{
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port_text, &hints, &ai);
    if (gai != 0 || !ai) {
        log_error("cannot resolve HOST %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1, err = 0;
    /* An IPv6 address serves IPv6 only, as libmicrohttpd's own socket did. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, HTTP_LISTEN_BACKLOG) != 0)
        err = errno;
    *family = ai->ai_family;
    freeaddrinfo(ai);
    if (err == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    if (err == EADDRINUSE)
        log_error("cannot listen on %s:%d: address in use (another process is listening there)",
                  host, port);
    else
        log_error("cannot listen on %s:%d: %s", host, port, strerror(err));
    return -1;
}

/* A cgroup limit file's value (bytes; "max" or v1's near-2^63 "unlimited": 0). */
static int64_t read_limit(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char buf[32];
    bool got = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    int64_t v = 0;
    if (!got)
        return 0;
    buf[strcspn(buf, "\n")] = '\0';
    if (parse_int64(buf, 0, INT64_MAX, &v) != ERR_OK || v >= ((int64_t)1 << 62))
        return 0;
    return v;
}

/* The smallest limit in file name of dir and of each of its parents up to top (a prefix of
 * dir), 0 when none has one: a cgroup is held to its ancestors' limits too. */
static int64_t limit_up(char *dir, size_t top, const char *name)
{
    int64_t min = 0;
    for (int depth = 0; depth < 64; depth++) {
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path)) {
            int64_t v = read_limit(path);
            if (v > 0 && (min == 0 || v < min))
                min = v;
        }
        char *slash = strrchr(dir, '/');
        if (strlen(dir) <= top || !slash || (size_t)(slash - dir) < top)
            break;
        *slash = '\0';
    }
    return min;
}

int64_t http_memory_limit(const char *root, const char *self_cgroup)
{
    /* The process's cgroups: "0::/path" (v2), "N:...memory...:/path" (v1). In a container
     * with a cgroup namespace the path is "/" and the files are root's own. */
    char v2[PATH_MAX / 2] = "", v1[PATH_MAX / 2] = "";
    bool in_v2 = false, in_v1 = false;
    FILE *f = fopen(self_cgroup, "re");
    char line[PATH_MAX / 2 + 64];
    for (int n = 0; f && n < 64 && fgets(line, sizeof(line), f); n++) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strlen(c2 + 1) >= sizeof(v2))
            continue;
        *c2 = '\0';
        if (strcmp(line, "0:") == 0) {
            memcpy(v2, c2 + 1, strlen(c2 + 1) + 1);
            in_v2 = true;
        } else if (strstr(c1 + 1, "memory")) {
            memcpy(v1, c2 + 1, strlen(c2 + 1) + 1);
            in_v1 = true;
        }
    }
    if (f)
        fclose(f);
    char dir[PATH_MAX];
    int64_t min = 0, v;
    size_t top = strlen(root);
    if ((size_t)snprintf(dir, sizeof(dir), "%s%s", root, in_v2 ? v2 : "") < sizeof(dir) &&
        (v = limit_up(dir, top, "memory.max")) > 0)
        min = v;
    if ((size_t)snprintf(dir, sizeof(dir), "%s/memory%s", root, in_v1 ? v1 : "") < sizeof(dir) &&
        (v = limit_up(dir, top + strlen("/memory"), "memory.limit_in_bytes")) > 0 &&
        (min == 0 || v < min))
        min = v;
    return min;
}

int http_conn_limit_for(int configured, int64_t memory_limit)
{
    if (configured > 0)
        return configured;
    int64_t n = HTTP_CONN_LIMIT_MAX;
    if (memory_limit > 0) {
        int64_t fit = memory_limit / HTTP_CONN_MEMORY_SHARE / HTTP_CONN_COST;
        if (fit < n)
            n = fit;
    }
    return n < HTTP_CONN_LIMIT_MIN ? HTTP_CONN_LIMIT_MIN : (int)n;
}

int http_conn_limit(const struct config *cfg, int64_t *memory_limit)
{
    int64_t mem = http_memory_limit("/sys/fs/cgroup", "/proc/self/cgroup");
    if (memory_limit)
        *memory_limit = mem;
    return http_conn_limit_for(cfg->http_conn_limit, mem);
}

int http_server_start(struct app *app, struct http_server **out)
{
    const struct config *cfg = app->cfg;
    struct http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return ERR_NOMEM;
    srv->app = app;
    int limit = app->conn_limit > 0 ? app->conn_limit : http_conn_limit(cfg, NULL);
    if (peerlimit_new(cfg, limit, &srv->peers) != ERR_OK) {
        free(srv);
        return ERR_NOMEM;
    }
    if (headguard_start(limit, &srv->guard) != ERR_OK) {
        peerlimit_free(srv->peers);
        free(srv);
        return ERR_NOMEM;
    }
    srv->share = (unsigned)limit / (unsigned)(cfg->workers > 0 ? cfg->workers : 1);
    int family = AF_INET;
    int fd = listen_socket(cfg->host, cfg->port, &family);
    if (fd < 0) {
        headguard_stop(srv->guard);
        peerlimit_free(srv->peers);
        free(srv);
        return ERR_IO;
    }
    /* Suspend/resume (streaming handlers) implies MHD_USE_ITC, which quiesce needs. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, srv->peers ? on_accept : NULL, srv, on_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->workers, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY_LIMIT,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        srv, MHD_OPTION_END);
    if (!srv->daemon) {
        /* Not closed here: some of libmicrohttpd's failure paths close it already, and the
         * process exits after this failure anyway. */
        log_error("cannot start the HTTP server on %s:%d", cfg->host, cfg->port);
        headguard_stop(srv->guard);
        peerlimit_free(srv->peers);
        free(srv);
        return ERR_IO;
    }
    *out = srv;
    return ERR_OK;
}

/* Stops taking new connections (the listen socket is closed) unless a worker could be at its
 * share of the connection limit. libmicrohttpd 0.9.75 with epoll and a thread pool removes
 * the listen socket from each worker's epoll set on this thread, while a worker that reaches
 * its share (or leaves it) changes the same set on its own: when both remove it, the second
 * call fails and the library aborts the process (seen in CI: "Failed to remove listen FD
 * from epoll set", SIGABRT at a SIGTERM right after 340 connections closed). A worker holds
 * at most its share, so with fewer than half a share open in all no worker is near it; above
 * that the listen socket stays open through the drain and the stop closes it. */
void http_server_quiesce(struct http_server *srv)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    unsigned open = di ? di->num_connections : UINT_MAX;
    if (open >= srv->share / 2) {
        log_warn("draining with the listen socket open: %u connections, %u a worker at most", open,
                 srv->share);
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void http_server_close(struct http_server *srv)
{
    atomic_store(&srv->closed, true);
}

int http_server_inflight(struct http_server *srv)
{
    return atomic_load(&srv->inflight);
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    headguard_stop(srv->guard); /* after the daemon: no connection is left to notify */
    peerlimit_free(srv->peers);
    free(srv);
}
