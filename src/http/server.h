/*
 * The HTTP server: libmicrohttpd with an epoll thread pool, hard connection limits, and a
 * request lifecycle that owns one arena per request. Shutdown is two-phase: quiesce (stop
 * accepting, answer with Connection: close) and then stop once in-flight work has drained.
 */
#ifndef TODO_SERVER_H
#define TODO_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "app.h"

/* Connection limits handed to libmicrohttpd (see also HTTP_HEAD_TIMEOUT_S, headguard.h).
 * Connections per client address: MAX_CONNECTIONS_PER_IP (http/peerlimit.h). */
#define HTTP_CONN_TIMEOUT_S 30 /* idle time */
/* libmicrohttpd zero-fills this pool for every request: keep it to what headers need. */
#define HTTP_CONN_MEMORY_LIMIT (16 * 1024)
/* Total connections (HTTP_CONN_LIMIT; 0: automatic, http_conn_limit). At most
 * HTTP_CONN_LIMIT_MAX: 10,000 idle ones leave room for everyone else (an idle or slow one is
 * cut by HTTP_HEAD_TIMEOUT_S). An idle connection costs ~4.8 KiB, one holding a full request
 * head HTTP_CONN_COST (its pool, libmicrohttpd's connection, the head guard's entry; 16.4 KiB
 * measured): with a memory limit the automatic value keeps that many within
 * 1/HTTP_CONN_MEMORY_SHARE of it, and is never below HTTP_CONN_LIMIT_MIN. */
#define HTTP_CONN_LIMIT_MAX    16384
#define HTTP_CONN_LIMIT_MIN    256
#define HTTP_CONN_COST         (HTTP_CONN_MEMORY_LIMIT + 1024)
#define HTTP_CONN_MEMORY_SHARE 2
#define HTTP_LISTEN_BACKLOG    1024
/* Longest request URI and most query arguments accepted (414 beyond): what the memory pool
 * above can parse (see on_uri in server.c). */
#define HTTP_URI_MAX        8000
#define HTTP_QUERY_ARGS_MAX 64
/* Multipart framing around an upload's file (boundaries, part headers, other fields). */
#define UPLOAD_OVERHEAD_BYTES (64 * 1024)

struct http_server;

/* The memory limit of the process in bytes, or 0 when there is none: the smallest of its
 * cgroup's and their ancestors' (v2's memory.max, v1's memory/memory.limit_in_bytes) under
 * root, the cgroups named by the file self_cgroup. "/sys/fs/cgroup" and "/proc/self/cgroup"
 * but for tests. */
int64_t http_memory_limit(const char *root, const char *self_cgroup);

/* The connection limit for a configured HTTP_CONN_LIMIT (0: automatic) and a memory limit
 * (0: none): see HTTP_CONN_LIMIT_MAX. Pure. */
int http_conn_limit_for(int configured, int64_t memory_limit);

/* The connection limit of this process: http_conn_limit_for(cfg's, the cgroup's). */
int http_conn_limit(const struct config *cfg, int64_t *memory_limit);

/* Binds cfg->host:cfg->port and starts serving app->routes with cfg->workers threads.
 * The caller owns *out and releases it with http_server_stop. */
int http_server_start(struct app *app, struct http_server **out);

/* Stops accepting new connections; established ones are served with Connection: close. */
void http_server_quiesce(struct http_server *srv);

/* Ends the drain: from now on a request that arrives on a connection still open is refused
 * before it runs (the connection closes without an answer), so nothing executes that the
 * stop could cut off unanswered — a proxy that retries a request whose connection died
 * unanswered (libcurl does) cannot run it twice. The caller then waits for in-flight
 * requests again. */
void http_server_close(struct http_server *srv);

/* Requests that have started and not yet completed. */
int http_server_inflight(struct http_server *srv);

/* Closes every connection, joins the threads and frees srv. */
void http_server_stop(struct http_server *srv);

/* Serves one request made in memory, without a connection or libmicrohttpd: what a request
 * read from a socket goes through once its body is in (body limit, CORS, routing, 404/405,
 * the content type, the handler), the answer left in req (status, resp_*, resp_headers).
 * For in-process callers: the fuzz targets (fuzz/). The caller fills req's arena,
 * method_name, path, local (struct req_local: headers, query arguments, peer) and body,
 * then releases req->db (store_release) and frees the arena. Returns false when the handler
 * suspended the request (only the web role's proxy does: not for in-memory requests). */
struct request;
bool http_dispatch_local(struct app *app, struct request *req);

#endif
