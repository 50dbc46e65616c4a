/*
 * The web proxy's I/O thread (see proxy.c for the whole design). It owns the libcurl multi
 * handle, with its keep-alive connection cache to the API, and every easy handle once
 * queued, and runs all libcurl callbacks: response headers are collected until the empty
 * line that ends them, body bytes go to the transfer's bounded buffer for the web side's
 * reader, and a full buffer pauses the transfer until the reader drains half of it. Each
 * pass of the loop takes the submit and control queues, drives the transfers, ends the
 * finished ones and checks the header and idle timeouts.
 *
 * A transfer's reference count lives here too: the I/O thread drops its own reference when
 * a transfer ends, and the queues hold one per pending entry. Resumptions of suspended
 * connections happen only after x->mu is released (see claim_resume).
 */
#include "web/proxy_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

/* Longest sleep of the I/O loop; timeouts are checked at least this often. */
#define PROXY_POLL_MS 1000
/* First allocation of a transfer's body buffer; it doubles up to PROXY_BUFFER_MAX. */
#define PROXY_BUFFER_FIRST (16 * 1024)
/* Bound for walks over the transfer lists: more entries than can ever exist (accepted
 * transfers never exceed PROXY_MAX_TRANSFERS). */
#define PROXY_LIST_BOUND (2 * PROXY_MAX_TRANSFERS)

struct proxy_state px = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* --- transfer lifetime ------------------------------------------------------------ */

void xfer_ref(struct xfer *x)
{
    atomic_fetch_add(&x->refs, 1);
}

/* Drops one reference; the last one frees the transfer and everything it still owns. */
void xfer_unref(struct xfer *x)
{
    if (atomic_fetch_sub(&x->refs, 1) != 1)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->req_headers);
    free(x->url);
    free(x->body);
    free(x->hdr_buf);
    free(x->buf);
    pthread_mutex_destroy(&x->mu);
    free(x);
    atomic_fetch_sub(&px.live, 1);
}

/* Claims the resumption of a connection this transfer suspended: true when the caller
 * must call MHD_resume_connection(x->conn) once it has released x->mu. Resuming outside
 * the lock keeps libmicrohttpd's internal locks from ever being taken under x->mu by the
 * I/O thread; the connection stays suspended, hence alive, until that call. Caller holds
 * x->mu. */
static bool claim_resume(struct xfer *x)
{
    if (!x->suspended)
        return false;
    x->suspended = false;
    return true;
}

/* Queues x for the I/O thread's attention (abort or unpause) and wakes it. The queue
 * holds a reference. Does nothing once the proxy stops: shutdown aborts everything. */
void xfer_ctl_push(struct xfer *x)
{
    pthread_mutex_lock(&px.mu);
    if (px.running && !x->in_ctl) {
        x->in_ctl = true;
        xfer_ref(x);
        x->ctl_next = px.ctl_head;
        px.ctl_head = x;
        curl_multi_wakeup(px.multi);
    }
    pthread_mutex_unlock(&px.mu);
}

/* --- libcurl callbacks (I/O thread) ----------------------------------------------- */

/* CURLOPT_HEADERFUNCTION: collects the final response's header fields; the empty line
 * that ends them makes the response ready for the web side. Trailers are ignored. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *cls)
{
    struct xfer *x = cls;
    size_t n = size * nmemb;
    if (x->headers_done)
        return n;
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) /* ≤ 2 passes */
        len--;
    if (len == 0) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200) { /* an interim response: the real one follows */
            xfer_headers_reset(x);
            return n;
        }
        if (x->hdr_overflow) {
            x->fail_status = 502;
            log_warn("proxy: upstream response headers over the limit (request %s)", x->request_id);
            return 0; /* fails the transfer */
        }
        int64_t now = now_mono_ms();
        pthread_mutex_lock(&x->mu);
        x->status = (int)code;
        x->headers_done = true;
        x->last_rx_ms = now;
        x->phase = XFER_HEADERS;
        bool resume = claim_resume(x);
        pthread_mutex_unlock(&x->mu);
        if (resume)
            MHD_resume_connection(x->conn);
        return n;
    }
    xfer_header_line(x, data, len);
    return n;
}

/* Makes room for n more bytes at the end of the body buffer (compacting, then growing up
 * to the limit). Caller holds x->mu. */
static bool buf_reserve(struct xfer *x, size_t n)
{
    if (x->buf_off > 0 && x->buf_off + x->buf_len + n > x->buf_cap) {
        memmove(x->buf, x->buf + x->buf_off, x->buf_len);
        x->buf_off = 0;
    }
    if (x->buf_len + n <= x->buf_cap)
        return true;
    size_t cap = x->buf_cap ? x->buf_cap : PROXY_BUFFER_FIRST;
    while (cap < x->buf_len + n) /* ends: doubles until it covers a bounded size */
        cap *= 2;
    char *nb = realloc(x->buf, cap);
    if (!nb)
        return false;
    x->buf = nb;
    x->buf_cap = cap;
    return true;
}

/* CURLOPT_WRITEFUNCTION: buffers body bytes for the reader and wakes it. A full buffer
 * pauses the transfer (curl delivers the same bytes again after the unpause). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *cls)
{
    struct xfer *x = cls;
    size_t n = size * nmemb;
    pthread_mutex_lock(&x->mu);
    if (x->web_gone) {
        pthread_mutex_unlock(&x->mu);
        return 0; /* nobody reads: end the transfer */
    }
    if (x->buf_len > 0 && x->buf_len + n > PROXY_BUFFER_MAX) {
        x->paused = true;
        x->unpause_req = false;
        pthread_mutex_unlock(&x->mu);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!buf_reserve(x, n)) {
        pthread_mutex_unlock(&x->mu);
        log_error("proxy: out of memory buffering a response (request %s)", x->request_id);
        return 0;
    }
    memcpy(x->buf + x->buf_off + x->buf_len, data, n);
    x->buf_len += n;
    x->last_rx_ms = now_mono_ms();
    bool resume = claim_resume(x);
    pthread_mutex_unlock(&x->mu);
    if (resume)
        MHD_resume_connection(x->conn);
    return n;
}

/* --- the I/O thread --------------------------------------------------------------- */

static int fail_status_for(CURLcode rc)
{
    return rc == CURLE_OPERATION_TIMEDOUT ? 504 : 502;
}

static void active_remove(struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else if (px.active == x)
        px.active = x->next;
    else
        return; /* never added */
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    px.n_active--;
}

/* Ends a transfer: frees its curl resources, tells the web side (resuming a waiting
 * connection) and drops the I/O thread's reference. */
static void finish(struct xfer *x, CURLcode rc)
{
    curl_multi_remove_handle(px.multi, x->easy); /* harmless for a handle never added */
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->req_headers);
    x->req_headers = NULL;
    free(x->url);
    x->url = NULL;
    free(x->body);
    x->body = NULL;
    active_remove(x);

    pthread_mutex_lock(&x->mu);
    bool gone = x->web_gone;
    bool before_headers = x->phase == XFER_WAITING;
    x->done = true;
    x->ok = rc == CURLE_OK;
    if (before_headers) {
        if (!x->fail_status)
            x->fail_status = fail_status_for(rc);
        x->phase = XFER_FAILED;
    }
    int status = x->fail_status;
    bool resume = claim_resume(x);
    pthread_mutex_unlock(&x->mu);
    if (resume)
        MHD_resume_connection(x->conn);

    if (rc != CURLE_OK && !gone && status != 503) {
        struct log_field f[] = {
            LF_S("request_id", x->request_id),
            LF_S("error", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc)),
            LF_I("curl_code", rc),
            LF_S("stage", before_headers ? "headers" : "body"),
        };
        log_fields(LOG_WARNING, "proxy: upstream transfer failed", f, ARRAY_LEN(f));
    }
    xfer_unref(x);
}

/* Adds newly queued transfers to the multi handle. */
static void add_queued(struct xfer *list)
{
    int64_t now = now_mono_ms();
    for (size_t i = 0; list && i < PROXY_LIST_BOUND; i++) {
        struct xfer *x = list;
        list = x->sub_next;
        x->sub_next = NULL;
        x->start_ms = now;
        x->last_rx_ms = now;
        x->next = px.active;
        x->prev = NULL;
        if (px.active)
            px.active->prev = x;
        px.active = x;
        px.n_active++;
        if (curl_multi_add_handle(px.multi, x->easy) != CURLM_OK)
            finish(x, CURLE_FAILED_INIT);
    }
}

/* Serves control requests: aborts transfers nobody reads and unpauses drained ones. */
static void handle_ctl(struct xfer *list)
{
    for (size_t i = 0; list && i < PROXY_LIST_BOUND; i++) {
        struct xfer *x = list;
        list = x->ctl_next;
        x->ctl_next = NULL;
        pthread_mutex_lock(&x->mu);
        bool done = x->done, gone = x->web_gone;
        bool unpause = !done && !gone && x->paused && x->unpause_req;
        if (unpause) {
            x->paused = false;
            x->unpause_req = false;
        }
        pthread_mutex_unlock(&x->mu);
        if (!done && gone) {
            finish(x, CURLE_ABORTED_BY_CALLBACK);
        } else if (unpause) {
            x->last_rx_ms = now_mono_ms();
            /* May call on_body at once; it takes x->mu itself. */
            curl_easy_pause(x->easy, CURLPAUSE_CONT);
        }
        xfer_unref(x); /* the queue's reference */
    }
}

/* Ends the transfers that finished in the multi handle. */
static void collect_finished(void)
{
    for (size_t i = 0; i < PROXY_LIST_BOUND; i++) {
        int left = 0;
        CURLMsg *m = curl_multi_info_read(px.multi, &left);
        if (!m)
            return;
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        if (x)
            finish(x, rc);
    }
}

/* The header timeout and the idle timeout (not while paused: then the client is slow,
 * and libmicrohttpd's own connection timeout applies). */
static void check_timeouts(int64_t now)
{
    struct xfer *x = px.active;
    for (size_t i = 0; x && i < PROXY_LIST_BOUND; i++) {
        struct xfer *next = x->next;
        if (x->phase == XFER_WAITING && now - x->start_ms > PROXY_HEADER_TIMEOUT_S * 1000LL) {
            x->fail_status = 504;
            snprintf(x->errbuf, sizeof(x->errbuf), "no response headers within %d s",
                     PROXY_HEADER_TIMEOUT_S);
            finish(x, CURLE_OPERATION_TIMEDOUT);
        } else if (x->phase == XFER_HEADERS && !x->paused &&
                   now - x->last_rx_ms > PROXY_IDLE_TIMEOUT_S * 1000LL) {
            snprintf(x->errbuf, sizeof(x->errbuf), "no data for %d s", PROXY_IDLE_TIMEOUT_S);
            finish(x, CURLE_OPERATION_TIMEDOUT);
        }
        x = next;
    }
}

/* Ends everything at shutdown: queued and active transfers fail with 503 before their
 * headers (their connections are resumed), streams end with an error. sub and ctl are the
 * queues as taken last; nothing can join them once px.running is false. */
static void abort_all(struct xfer *sub, struct xfer *ctl)
{
    for (size_t i = 0; ctl && i < PROXY_LIST_BOUND; i++) {
        struct xfer *x = ctl;
        ctl = x->ctl_next;
        x->ctl_next = NULL;
        xfer_unref(x);
    }
    for (size_t i = 0; sub && i < PROXY_LIST_BOUND; i++) {
        struct xfer *x = sub;
        sub = x->sub_next;
        x->sub_next = NULL;
        x->fail_status = 503;
        finish(x, CURLE_ABORTED_BY_CALLBACK);
    }
    for (size_t i = 0; px.active && i < PROXY_LIST_BOUND; i++) {
        struct xfer *x = px.active;
        if (x->phase == XFER_WAITING)
            x->fail_status = 503;
        finish(x, CURLE_ABORTED_BY_CALLBACK);
    }
}

/* The I/O thread: runs until proxy_shutdown clears px.running; each pass is bounded and
 * sleeps in curl_multi_poll until a socket is ready, a wakeup comes or PROXY_POLL_MS. */
void *proxy_io_main(void *arg)
{
    (void)arg;
    int64_t last_scan = now_mono_ms();
    for (;;) {
        pthread_mutex_lock(&px.mu);
        bool running = px.running;
        struct xfer *sub = px.sub_head, *ctl = px.ctl_head;
        px.sub_head = px.sub_tail = NULL;
        px.ctl_head = NULL;
        struct xfer *c = ctl;
        for (size_t i = 0; c && i < PROXY_LIST_BOUND; i++, c = c->ctl_next)
            c->in_ctl = false;
        pthread_mutex_unlock(&px.mu);
        if (!running) {
            abort_all(sub, ctl);
            return NULL;
        }
        add_queued(sub);
        handle_ctl(ctl);
        int still = 0;
        curl_multi_perform(px.multi, &still);
        collect_finished();
        int64_t now = now_mono_ms();
        if (now - last_scan >= PROXY_POLL_MS) {
            check_timeouts(now);
            last_scan = now;
        }
        curl_multi_poll(px.multi, NULL, 0, PROXY_POLL_MS, NULL);
    }
}

/* --- setting up a transfer -------------------------------------------------------- */

/* Sets up the easy handle for x. ERR_NOMEM when libcurl refuses. */
int xfer_setup_easy(struct xfer *x, struct request *req)
{
    CURL *e = curl_easy_init();
    if (!e)
        return ERR_NOMEM;
    x->easy = e;
    bool ok = curl_easy_setopt(e, CURLOPT_URL, x->url) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)PROXY_CONNECT_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L); /* bytes pass through as sent */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    switch (req->method) {
    case HTTP_GET:
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        break;
    case HTTP_HEAD:
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        break;
    case HTTP_POST:
    case HTTP_PUT:
    case HTTP_PATCH:
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
        ok = ok && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method_name) == CURLE_OK;
        break;
    default: /* DELETE, OPTIONS, …: a body only when the client sent one */
        if (x->body_len > 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        }
        ok = ok && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method_name) == CURLE_OK;
        break;
    }
    return ok ? ERR_OK : ERR_NOMEM;
}
