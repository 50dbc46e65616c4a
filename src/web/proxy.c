/*
 * The streaming reverse proxy (see proxy.h).
 *
 * Threads. An HTTP worker runs h_proxy: it builds a libcurl easy handle, suspends its
 * connection, queues the transfer and returns. The proxy's one I/O thread owns the multi
 * handle (and with it the keep-alive connection cache to the API) and every easy handle
 * once queued; it runs all libcurl callbacks. When the upstream's response headers are
 * complete (or the transfer failed) it resumes the connection; the worker then calls
 * proxy_resume, which answers with the upstream status and headers and a callback body.
 * The body reader (on the worker) drains a bounded per-transfer buffer that the write
 * callback (on the I/O thread) fills. An empty buffer suspends the connection from inside
 * the reader, which returns 0 (the pattern microhttpd.h prescribes for "no data yet");
 * the next bytes resume it. A full buffer pauses the transfer (CURL_WRITEFUNC_PAUSE);
 * the reader asks the I/O thread to unpause it once half of it is drained.
 *
 * Ownership. A transfer (struct xfer) is malloc'd, never arena memory: the request's
 * arena dies in the server's completion callback, possibly while curl still runs. It is
 * reference counted: one reference for the web side (the request until proxy_resume
 * answers, then the MHD response, whose free callback drops it when the connection is
 * done with it — also when the client went away), one for the I/O thread (dropped when
 * the curl transfer has ended and its easy handle is freed), and one for each pending
 * entry in the control queue. The last reference frees it. The easy handle, its header
 * list, URL and request body copy belong to the I/O thread and are freed when the
 * transfer ends.
 *
 * Locks: x->mu guards the fields marked so; px.mu guards the queues and the running flag.
 * Order: x->mu before px.mu. A worker suspends its own connection under x->mu (body_read)
 * or px.mu (h_proxy), which makes "suspended" and the suspension one step for the I/O
 * thread; the I/O thread resumes only after releasing x->mu (see claim_resume), so no
 * thread ever waits for one of libmicrohttpd's locks while another waits for ours.
 *
 * Files. This one holds the web side: the handler, the answer built on resumption, the
 * body reader, and start and shutdown. proxy_io.c holds the I/O thread and a transfer's
 * reference count, proxy_headers.c the URL and header mapping in both directions;
 * proxy_internal.h declares what they share.
 */
#include "web/proxy.h"
#include "web/proxy_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "app.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/server.h"

/* Bytes the body reader hands MHD per call at most. */
#define PROXY_READ_BLOCK (32 * 1024)
/* A paused transfer is resumed once no more than this much is left unread. */
#define PROXY_UNPAUSE_AT (PROXY_BUFFER_MAX / 2)
/* Idle keep-alive connections to the API kept in the multi handle's cache. */
#define PROXY_CONN_CACHE     64
#define PROXY_MAX_HOST_CONNS (HTTP_PER_IP_CONN_LIMIT * 3 / 4)
/* Longest API_URL accepted. */
#define PROXY_MAX_BASE_URL 2048
/* How long proxy_shutdown waits for resumed connections to finish, polling each tick. */
#define PROXY_SHUTDOWN_WAIT_MS 1000
#define PROXY_SHUTDOWN_TICK_MS 10

#define DETAIL_502 "Bad gateway: API unavailable"
#define DETAIL_503 "Service unavailable: the proxy is shutting down"
#define DETAIL_504 "Gateway timeout: the API did not answer in time"

/* --- the web side (HTTP worker threads) --------------------------------------------- */

/* The web side is done with x: nobody will read its body any more. With abort, a transfer
 * still running is cancelled (the client went away). Drops the web side's reference. */
static void web_release(struct xfer *x, bool abort)
{
    pthread_mutex_lock(&x->mu);
    x->web_gone = true;
    bool cancel = abort && !x->done;
    pthread_mutex_unlock(&x->mu);
    if (cancel)
        xfer_ctl_push(x);
    xfer_unref(x);
}

/* A new transfer for req with one reference (the web side's). ERR_TOOBIG: the URL is over
 * PROXY_MAX_URL; ERR_INVALID: over PROXY_MAX_REQ_HEADERS header fields; ERR_NOMEM. */
static int xfer_new(struct request *req, struct xfer **out)
{
    struct xfer *x = calloc(1, sizeof(*x));
    if (!x)
        return ERR_NOMEM;
    pthread_mutex_init(&x->mu, NULL);
    atomic_init(&x->refs, 1);
    atomic_fetch_add(&px.live, 1); /* undone by xfer_unref */
    x->conn = req->conn;
    x->head = req->method == HTTP_HEAD;
    x->phase = XFER_WAITING;
    snprintf(x->request_id, sizeof(x->request_id), "%s", req->request_id);
    bool with_body = req->method == HTTP_POST || req->method == HTTP_PUT ||
                     req->method == HTTP_PATCH ||
                     (req->body_len > 0 && req->method != HTTP_GET && req->method != HTTP_HEAD);
    int rc = proxy_build_url(req, px.base, &x->url);
    if (rc == ERR_OK)
        rc = proxy_build_headers(req, with_body, &x->req_headers);
    if (rc == ERR_OK && with_body && req->body_len > 0) {
        x->body = malloc(req->body_len);
        if (x->body) {
            memcpy(x->body, req->body, req->body_len);
            x->body_len = req->body_len;
        } else {
            rc = ERR_NOMEM;
        }
    }
    if (rc == ERR_OK)
        rc = xfer_setup_easy(x, req);
    if (rc != ERR_OK) {
        xfer_unref(x);
        return rc;
    }
    *out = x;
    return ERR_OK;
}

/* Answers a transfer that produced no response headers. */
static void answer_failure(struct request *req, int status)
{
    if (status == 504)
        resp_error(req, 504, DETAIL_504);
    else if (status == 503)
        resp_error(req, 503, DETAIL_503);
    else
        resp_error(req, 502, DETAIL_502);
}

/* MHD_ContentReaderCallback: hands over buffered body bytes. With none buffered and the
 * transfer still running it suspends the connection and returns 0; the next bytes (or the
 * end) resume it. Runs on the connection's worker thread. */
static ssize_t body_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct xfer *x = cls;
    ssize_t ret;
    pthread_mutex_lock(&x->mu);
    if (x->buf_len > 0) {
        size_t n = x->buf_len < max ? x->buf_len : max;
        memcpy(out, x->buf + x->buf_off, n);
        x->buf_off += n;
        x->buf_len -= n;
        if (x->buf_len == 0)
            x->buf_off = 0;
        ret = (ssize_t)n;
    } else if (x->done) {
        ret = x->ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        x->suspended = true;
        MHD_suspend_connection(x->conn);
        ret = 0;
    }
    bool wake = x->paused && !x->unpause_req && !x->done && x->buf_len <= PROXY_UNPAUSE_AT;
    if (wake)
        x->unpause_req = true;
    pthread_mutex_unlock(&x->mu);
    if (wake)
        xfer_ctl_push(x);
    return ret;
}

/* MHD_ContentReaderFreeCallback: the connection is done with the body — the stream ended,
 * or the client went away. Drops the web side's reference, cancelling a running transfer. */
static void body_free(void *cls)
{
    web_release(cls, true);
}

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

/* The resume callback (see resp_defer): answers with the upstream's status, headers and a
 * streaming body, or with 502/503/504 when there is no upstream response. */
static void proxy_resume(struct request *req)
{
    struct xfer *x = req->defer_ctx;
    pthread_mutex_lock(&x->mu);
    enum xfer_phase phase = x->phase;
    int fail = x->fail_status;
    pthread_mutex_unlock(&x->mu);
    if (phase != XFER_HEADERS) {
        answer_failure(req, fail);
        web_release(x, true);
        return;
    }
    bool no_body = x->head || x->status == 204 || x->status == 304;
    struct MHD_Response *r;
    uint64_t head_len = 0;
    if (x->head && xfer_head_length(x, &head_len))
        r = MHD_create_response_from_callback(head_len, PROXY_READ_BLOCK, head_read, NULL, NULL);
    else if (no_body)
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, PROXY_READ_BLOCK, body_read, x,
                                              body_free);
    if (!r) {
        resp_error(req, 500, "Internal server error");
        web_release(x, true);
        return;
    }
    proxy_copy_headers(req, x, r);
    resp_custom(req, x->status, r);
    if (no_body) /* no reader will run; the transfer ends on its own */
        web_release(x, false);
    /* Otherwise the response holds the web side's reference until body_free. */
}

void h_proxy(struct request *req)
{
    if (atomic_load(&px.live) >= PROXY_MAX_TRANSFERS) {
        resp_header(req, "Retry-After", "1");
        resp_error(req, 503, "Service unavailable: too many proxied requests");
        return;
    }
    pthread_mutex_lock(&px.mu);
    bool running = px.running;
    pthread_mutex_unlock(&px.mu);
    if (!running) {
        resp_error(req, 503, DETAIL_503);
        return;
    }
    struct xfer *x = NULL;
    int rc = xfer_new(req, &x);
    if (rc == ERR_TOOBIG) {
        resp_error(req, 414, "Request URL too long to forward");
        return;
    }
    if (rc == ERR_INVALID) {
        resp_error(req, 431, "Too many request header fields to forward");
        return;
    }
    if (rc != ERR_OK) {
        resp_error(req, 503, "Service unavailable: cannot forward the request");
        return;
    }
    pthread_mutex_lock(&px.mu);
    if (!px.running || atomic_load(&px.live) > PROXY_MAX_TRANSFERS) {
        bool over = px.running;
        pthread_mutex_unlock(&px.mu);
        xfer_unref(x);
        if (over)
            resp_header(req, "Retry-After", "1");
        resp_error(req, 503, over ? "Service unavailable: too many proxied requests" : DETAIL_503);
        return;
    }
    /* Suspend before the I/O thread can see x: it may resume at once. */
    xfer_ref(x); /* the I/O thread's reference */
    x->suspended = true;
    MHD_suspend_connection(req->conn);
    if (px.sub_tail)
        px.sub_tail->sub_next = x;
    else
        px.sub_head = x;
    px.sub_tail = x;
    curl_multi_wakeup(px.multi);
    pthread_mutex_unlock(&px.mu);
    resp_defer(req, proxy_resume, x);
}

int proxy_start(const struct config *cfg)
{
    pthread_mutex_lock(&px.mu);
    bool started = px.started;
    pthread_mutex_unlock(&px.mu);
    if (started)
        return ERR_INVALID;
    size_t len = strnlen(cfg->api_url, PROXY_MAX_BASE_URL + 1);
    if (len > PROXY_MAX_BASE_URL)
        return ERR_INVALID;
    while (len > 0 && cfg->api_url[len - 1] == '/') /* bounded by len */
        len--;
    char *base = strndup(cfg->api_url, len);
    CURLM *multi = curl_multi_init();
    if (!base || !multi) {
        free(base);
        if (multi)
            curl_multi_cleanup(multi);
        return ERR_NOMEM;
    }
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)PROXY_CONN_CACHE);
    /* The API closes connections from one address beyond HTTP_PER_IP_CONN_LIMIT, and all of
     * this process's come from one: stay below it; further transfers wait for a connection. */
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)PROXY_MAX_HOST_CONNS);
    pthread_mutex_lock(&px.mu);
    px.base = base;
    px.multi = multi;
    px.running = true;
    px.started = true;
    pthread_mutex_unlock(&px.mu);
    if (pthread_create(&px.thread, NULL, proxy_io_main, NULL) != 0) {
        pthread_mutex_lock(&px.mu);
        px.running = false;
        px.started = false;
        pthread_mutex_unlock(&px.mu);
        curl_multi_cleanup(multi);
        free(base);
        px.base = NULL;
        px.multi = NULL;
        return ERR_NOMEM;
    }
    log_info("proxy started"); /* API_URL itself may carry credentials: not logged */
    return ERR_OK;
}

void proxy_shutdown(void)
{
    pthread_mutex_lock(&px.mu);
    if (!px.started) {
        pthread_mutex_unlock(&px.mu);
        return;
    }
    px.running = false;
    curl_multi_wakeup(px.multi);
    pthread_mutex_unlock(&px.mu);
    pthread_join(px.thread, NULL);
    curl_multi_cleanup(px.multi);
    /* The resumed connections still have to answer (503, or the end of a stream) and drop
     * the web side's references; MHD_stop_daemon would close them unanswered and leak
     * their transfers. Give them a moment. */
    struct timespec tick = {0, PROXY_SHUTDOWN_TICK_MS * 1000000L};
    for (int i = 0; i < PROXY_SHUTDOWN_WAIT_MS / PROXY_SHUTDOWN_TICK_MS; i++) {
        if (atomic_load(&px.live) == 0)
            break;
        nanosleep(&tick, NULL);
    }
    if (atomic_load(&px.live) > 0)
        log_warn("proxy: %d responses still open at shutdown", atomic_load(&px.live));
    pthread_mutex_lock(&px.mu);
    px.multi = NULL;
    px.started = false;
    free(px.base);
    px.base = NULL;
    pthread_mutex_unlock(&px.mu);
}
