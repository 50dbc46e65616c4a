/*
 * libmicrohttpd glue (see server.h). The access handler follows libmicrohttpd's three
 * phases: the first call only sets up the request (queueing then would force
 * "Connection: close" and cost keep-alive), upload calls fill the bounded body buffer,
 * and the final call routes, runs the handler and queues its response. The completion
 * callback logs the request and frees its arena exactly once.
 */
#include "http/server.h"

#include <errno.h>
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

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/cors.h"
#include "http/request.h"
#include "http/router.h"
#include "store/store.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    atomic_int inflight;
};

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
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Routes the complete request and queues the handler's response. */
static enum MHD_Result dispatch(struct http_server *srv, struct request *req)
{
    struct app *app = srv->app;
    cors_apply(req);
    if (req->body_too_large) {
        resp_error(req, 413, "Request body too large");
        return queue(srv, req);
    }
    if (cors_preflight(req))
        return queue(srv, req);
    unsigned allowed = 0;
    switch (router_match(app->routes, app->n_routes, req, &allowed)) {
    case ROUTER_NO_PATH:
        resp_error(req, 404, "Not Found");
        return queue(srv, req);
    case ROUTER_NO_METHOD: {
        char *allow = arena_alloc(req->arena, 64);
        if (allow) {
            router_allow_header(allowed, allow, 64);
            resp_header(req, "Allow", allow);
        }
        resp_error(req, 405, "Method Not Allowed");
        return queue(srv, req);
    }
    case ROUTER_FOUND:
        break;
    }
    if ((req->route->flags & ROUTE_JSON_BODY) && req->body_len > 0 &&
        !is_json_type(req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        resp_error(req, 415, "Content-Type must be application/json");
        return queue(srv, req);
    }
    req->route->fn(req);
    if (!req->responded && req->resume)
        return MHD_YES; /* suspended; answered when resumed */
    if (!req->responded) {
        log_error("handler for %s gave no response", req->route->pattern);
        resp_error(req, 500, "Internal server error");
    }
    return queue(srv, req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct request *req = *req_cls;
    if (!req) {
        req = request_begin(srv, conn, url, method);
        if (!req)
            return MHD_NO;
        *req_cls = req;
        const char *cl = req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n = 0;
        /* A malformed Content-Length is libmicrohttpd's to refuse (400); answering here
         * too would put two responses on the wire. */
        if (cl && parse_int64(cl, 0, INT64_MAX, &n) == ERR_OK &&
            n > srv->app->cfg->max_body_bytes) {
            /* Refuse before reading the body; libmicrohttpd then closes the connection. */
            req->body_too_large = true;
            cors_apply(req);
            resp_error(req, 413, "Request body too large");
            return queue(srv, req);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        body_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->responded)
        return MHD_YES; /* the early 413 is already queued */
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *srv = cls;
    struct request *req = *req_cls;
    if (!req)
        return;
    int status = req->responded ? req->status : 499;
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

static void mhd_log(void *cls, const char *fmt, va_list ap)
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

int http_server_start(struct app *app, struct http_server **out)
{
    const struct config *cfg = app->cfg;
    struct http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return ERR_NOMEM;
    srv->app = app;
    int family = AF_INET;
    int fd = listen_socket(cfg->host, cfg->port, &family);
    if (fd < 0) {
        free(srv);
        return ERR_IO;
    }
    /* Suspend/resume (streaming handlers) implies MHD_USE_ITC, which quiesce needs. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->workers, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)HTTP_PER_IP_CONN_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONN_MEMORY_LIMIT, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        /* Not closed here: some of libmicrohttpd's failure paths close it already, and the
         * process exits after this failure anyway. */
        log_error("cannot start the HTTP server on %s:%d", cfg->host, cfg->port);
        free(srv);
        return ERR_IO;
    }
    *out = srv;
    return ERR_OK;
}

void http_server_quiesce(struct http_server *srv)
{
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
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
    free(srv);
}
