/*
 * The web role's streaming reverse proxy: requests under /api, /mcp, /docs and
 * /openapi.json are forwarded to API_URL without ever blocking an HTTP worker thread.
 * One I/O thread runs a libcurl multi loop for every upstream transfer; a worker only
 * queues the transfer and suspends its connection. The connection is resumed when the
 * upstream response headers are complete, and the body then streams through a bounded
 * buffer (Server-Sent Events pass event by event).
 *
 * The daemon must be started with MHD_ALLOW_SUSPEND_RESUME: libmicrohttpd aborts the
 * process when a connection is suspended without it.
 */
#ifndef TODO_PROXY_H
#define TODO_PROXY_H

#include "core/config.h"
#include "http/request.h"

/* Concurrent proxied requests; one more is answered 503. */
#define PROXY_MAX_TRANSFERS 512
/* Upstream bytes buffered per request before the upstream is paused (backpressure). */
#define PROXY_BUFFER_MAX (256 * 1024)
/* Time allowed for the upstream's response headers (then 504). */
#define PROXY_HEADER_TIMEOUT_S 30
/* Time a streaming body may stay silent before the transfer is ended; no total limit. */
#define PROXY_IDLE_TIMEOUT_S 300
/* Time allowed to open a TCP connection to the upstream (then 504). */
#define PROXY_CONNECT_TIMEOUT_S 10

/* Starts the proxy's I/O thread (a libcurl multi loop) for upstream base URL api_url.
 * Returns ERR_OK, ERR_INVALID (already started) or ERR_NOMEM. curl_global_init must
 * have run. Call it once, before the HTTP server starts. */
int proxy_start(const struct config *cfg);

/* Aborts every upstream transfer and resumes every suspended connection; call before
 * MHD_stop_daemon (suspended connections never time out and block a clean stop).
 * Requests still waiting for headers are answered 503; streams end with an error.
 * Later calls of h_proxy answer 503. Safe to call when proxy_start was not called. */
void proxy_shutdown(void);

/* Handler: forwards the request (method, path + query string, body, headers) to API_URL. */
void h_proxy(struct request *req);

#endif
