/*
 * Outbound HTTP on the I/O loop (see httpc.h).
 *
 * Threads. httpc_request builds a transfer (its easy handle, header list, URL and body
 * copies) on the caller's thread and posts it to the loop; from then on the loop thread owns
 * the easy handle and runs every libcurl callback and every caller callback. Other threads
 * reach a transfer only through httpc_cancel and httpc_resume, which set a flag under the
 * transfer's lock and post its control call.
 *
 * Backpressure. on_data returning HTTPC_PAUSE makes the write callback return
 * CURL_WRITEFUNC_PAUSE: libcurl keeps those bytes and delivers them again once resumed. In
 * event mode the bytes are always taken into the SSE reader; a paused consumer gets no more
 * events, and the next chunk libcurl offers is refused with CURL_WRITEFUNC_PAUSE, so at most
 * one partial event and one chunk are held. A transfer that finishes while its consumer is
 * paused with events unread reports on_done only after they are taken.
 *
 * Deadlines. Connect and total deadlines are libcurl's; the header deadline (start to the
 * response's header section) and the idle deadline (silence of the body, not counted while
 * paused) are checked by a tick every HTTPC_TICK_MS while transfers run.
 */
#include "io/httpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/libcurl.h"
#include "core/log.h"
#include "core/shared.h"
#include "core/url.h"
#include "core/util.h"

/* First allocation of the header and collected-body buffers; they double up to their caps. */
#define HTTPC_HEADER_BUF_FIRST (4 * 1024)
#define HTTPC_BODY_BUF_FIRST   (16 * 1024)
/* Idle connections kept for reuse. */
#define HTTPC_CONN_CACHE 64
/* Bound on walks over the transfer list. */
#define HTTPC_LIST_BOUND (2 * HTTPC_MAX_TRANSFERS)

struct httpc {
    struct loop *loop;
    pthread_mutex_t mu; /* guards closed and the quiesce handshake */
    pthread_cond_t cv;
    bool closed;       /* refusing requests */
    bool quiesce_done; /* the loop has aborted every transfer */
    atomic_int live;   /* transfers accepted and not yet ended */
    struct loop_call quiesce_call;
    struct loop_call stop_hook;
    /* The loop thread's own. */
    struct httpc_xfer *active; /* added to the multi handle */
    struct loop_timer tick;
    long max_host_conns;
    bool configured; /* multi options set (on the loop thread, at the first transfer) */
};

/* One transfer: a shared object (see httpc.h for its references). */
struct httpc_xfer {
    struct loop_easy le; /* CURLINFO_PRIVATE points here */
    struct httpc *h;
    struct httpc_request rq; /* the callbacks and limits; its pointers are not used */
    CURL *easy;
    struct curl_slist *hdr_list;
    char *url;
    char *body;
    char errbuf[CURL_ERROR_SIZE];
    struct loop_call submit;
    struct loop_call ctl;

    pthread_mutex_t mu; /* guards the four fields below */
    bool ctl_queued;
    bool cancel_req;
    bool resume_req;
    bool ended; /* on_done ran: control calls do nothing */

    /* The loop thread's own. */
    struct httpc_xfer *prev, *next;
    bool added, done, done_pending;
    CURLcode pending_rc;
    int fail_err; /* set by a callback that failed the transfer on purpose */
    int64_t start_ms, last_rx_ms;
    bool consumer_paused, curl_paused;
    bool sse, collect;
    struct sse_reader *reader;
    size_t body_seen;
    char *coll;
    size_t coll_len, coll_cap;
    bool hdr_overflow;

    /* The response head: written by the loop before head_ready, then read-only. */
    atomic_bool head_ready;
    struct httpc_response resp;
    char *hdr_buf;
    size_t hdr_len, hdr_cap;
};

static void arm_tick(struct httpc *h);

/* ---- response headers ----------------------------------------------------------------- */

static void headers_reset(struct httpc_xfer *x)
{
    x->hdr_len = 0;
    x->resp.n_headers = 0;
    x->hdr_overflow = false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Appends "name\0value\0" within the limits; false when over or out of memory. */
static bool headers_add(struct httpc_xfer *x, const char *name, size_t nlen, const char *value,
                        size_t vlen)
{
    size_t need = nlen + vlen + 2;
    if (x->resp.n_headers >= HTTPC_MAX_RESP_HEADERS || need > HTTPC_MAX_HEADER_BYTES - x->hdr_len)
        return false;
    if (x->hdr_len + need > x->hdr_cap) {
        size_t cap = x->hdr_cap ? x->hdr_cap : HTTPC_HEADER_BUF_FIRST;
        while (cap < x->hdr_len + need) /* ends: doubles up to the limit's size */
            cap *= 2;
        char *nb = realloc(x->hdr_buf, cap);
        if (!nb)
            return false;
        x->hdr_buf = nb;
        x->hdr_cap = cap;
    }
    char *p = x->hdr_buf + x->hdr_len;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    x->hdr_len += need;
    x->resp.n_headers++;
    return true;
}

/* One header line without its line break: a status line resets, a folded line is dropped,
 * a field is trimmed and kept. */
static void header_line(struct httpc_xfer *x, const char *data, size_t len)
{
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        headers_reset(x);
        return;
    }
    if (is_space(data[0]))
        return;
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && is_space(*v)) /* bounded by the line */
        v++;
    while (end > v && is_space(end[-1]))
        end--;
    if (!headers_add(x, data, nlen, v, (size_t)(end - v)))
        x->hdr_overflow = true;
}

bool httpc_header_next(const struct httpc_response *r, size_t *pos, const char **name,
                       const char **value)
{
    if (!r || *pos >= r->hdrs_len)
        return false;
    *name = r->hdrs + *pos;
    size_t nlen = strlen(*name);
    *value = *name + nlen + 1;
    *pos += nlen + 1 + strlen(*value) + 1;
    return true;
}

const char *httpc_header(const struct httpc_response *r, const char *name)
{
    if (!r)
        return NULL;
    const char *p = r->hdrs;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *n = p, *v = p + strlen(p) + 1;
        if (strcasecmp(n, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

/* ---- ending a transfer (loop thread) --------------------------------------------------- */

static void active_remove(struct httpc_xfer *x)
{
    struct httpc *h = x->h;
    if (x->prev)
        x->prev->next = x->next;
    else if (h->active == x)
        h->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

static int err_of(struct httpc_xfer *x, CURLcode rc)
{
    if (x->fail_err)
        return x->fail_err;
    switch (rc) {
    case CURLE_OK:
        return ERR_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return ERR_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return ERR_TOOBIG;
    case CURLE_OUT_OF_MEMORY:
        return ERR_NOMEM;
    case CURLE_ABORTED_BY_CALLBACK:
        return ERR_CANCELED;
    default:
        return ERR_UNAVAILABLE;
    }
}

/* Ends x: takes it out of libcurl, reports on_done, frees what only the transfer used and
 * drops the loop's reference. err is the outcome (rc only feeds the detail). */
static void finish(struct httpc_xfer *x, int err, CURLcode rc)
{
    if (x->done)
        return;
    x->done = true;
    struct httpc *h = x->h;
    long status = 0;
    if (x->easy)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (x->added) {
        curl_multi_remove_handle(loop_multi(h->loop), x->easy);
        active_remove(x);
    }
    const char *detail = "";
    if (err != ERR_OK)
        detail = x->errbuf[0] ? x->errbuf : rc != CURLE_OK ? curl_easy_strerror(rc) : err_str(err);
    struct httpc_result res = {
        .err = err,
        .status = atomic_load(&x->head_ready) ? x->resp.status : (int)status,
        .headers_seen = atomic_load(&x->head_ready),
        .body = x->collect && err == ERR_OK ? (x->coll ? x->coll : "") : NULL,
        .body_len = x->collect && err == ERR_OK ? x->coll_len : 0,
        .detail = detail,
    };
    pthread_mutex_lock(&x->mu);
    x->ended = true;
    pthread_mutex_unlock(&x->mu);
    if (x->rq.on_done)
        x->rq.on_done(x->rq.ctx, &res);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->hdr_list);
    x->hdr_list = NULL;
    free(x->url);
    x->url = NULL;
    free(x->body);
    x->body = NULL;
    free(x->coll);
    x->coll = NULL;
    sse_reader_free(x->reader);
    x->reader = NULL;
    atomic_fetch_sub(&h->live, 1);
    shared_unref(x);
}

/* Hands buffered events to a consumer that is not paused. Returns ERR_OK, ERR_CANCELED
 * (the consumer aborted) or ERR_TOOBIG (an event over the limit). */
static int deliver_events(struct httpc_xfer *x)
{
    for (size_t i = 0; i < HTTPC_MAX_EVENT && !x->consumer_paused; i++) {
        struct sse_event ev;
        int n = sse_reader_next(x->reader, &ev);
        if (n == 0)
            return ERR_OK;
        if (n < 0)
            return ERR_TOOBIG;
        int rc = x->rq.on_event(x->rq.ctx, &ev);
        if (rc == HTTPC_ABORT)
            return ERR_CANCELED;
        if (rc == HTTPC_PAUSE)
            x->consumer_paused = true;
    }
    return ERR_OK;
}

/* The loop's end-of-transfer callback (struct loop_easy). */
static void on_curl_done(struct loop_easy *le, CURLcode rc)
{
    struct httpc_xfer *x = (struct httpc_xfer *)le;
    if (x->sse && x->consumer_paused && rc == CURLE_OK && !x->fail_err) {
        x->done_pending = true; /* events still unread: on_done after they are taken */
        x->pending_rc = rc;
        return;
    }
    if (x->sse && rc == CURLE_OK && !x->fail_err) {
        int err = deliver_events(x);
        if (err == ERR_OK && x->consumer_paused) {
            x->done_pending = true;
            x->pending_rc = rc;
            return;
        }
        x->fail_err = err;
    }
    finish(x, err_of(x, rc), rc);
}

/* ---- libcurl callbacks (loop thread) ---------------------------------------------------- */

/* True when the response's Content-Type is text/event-stream. */
static bool is_event_stream(const struct httpc_response *r)
{
    const char *ct = httpc_header(r, "Content-Type");
    return ct && strncasecmp(ct, "text/event-stream", 17) == 0 &&
           (ct[17] == '\0' || ct[17] == ';' || is_space(ct[17]));
}

/* CURLOPT_HEADERFUNCTION: collects the final response's fields; the empty line that ends
 * them publishes the head and calls on_headers. Trailers are ignored. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *cls)
{
    struct httpc_xfer *x = cls;
    size_t n = size * nmemb;
    if (atomic_load(&x->head_ready))
        return n;
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) /* ≤ 2 passes */
        len--;
    if (len > 0) {
        header_line(x, data, len);
        return n;
    }
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200) { /* an interim response: the real one follows */
        headers_reset(x);
        return n;
    }
    if (x->hdr_overflow) {
        x->fail_err = ERR_TOOBIG;
        snprintf(x->errbuf, sizeof(x->errbuf), "response header section over the limits");
        return 0;
    }
    x->resp.status = (int)code;
    x->resp.hdrs = x->hdr_buf ? x->hdr_buf : "";
    x->resp.hdrs_len = x->hdr_len;
    x->last_rx_ms = now_mono_ms();
    if (x->rq.on_event && is_event_stream(&x->resp)) {
        if (sse_reader_new(x->rq.max_event, &x->reader) != ERR_OK) {
            x->fail_err = ERR_NOMEM;
            return 0;
        }
        x->sse = true;
    }
    x->collect = !x->sse && !x->rq.on_data;
    atomic_store(&x->head_ready, true);
    if (x->rq.on_headers && x->rq.on_headers(x->rq.ctx, &x->resp) == HTTPC_ABORT) {
        x->fail_err = ERR_CANCELED;
        return 0;
    }
    return n;
}

/* Appends to the collected body; false when out of memory. */
static bool collect(struct httpc_xfer *x, const char *p, size_t n)
{
    if (x->coll_len + n + 1 > x->coll_cap) {
        size_t cap = x->coll_cap ? x->coll_cap : HTTPC_BODY_BUF_FIRST;
        while (cap < x->coll_len + n + 1) /* ends: doubles past a bounded size */
            cap *= 2;
        char *nb = realloc(x->coll, cap);
        if (!nb)
            return false;
        x->coll = nb;
        x->coll_cap = cap;
    }
    memcpy(x->coll + x->coll_len, p, n);
    x->coll_len += n;
    x->coll[x->coll_len] = '\0';
    return true;
}

/* CURLOPT_WRITEFUNCTION: the body, to on_data, to the SSE reader and on_event, or into the
 * collected buffer, within the cap. Returning less than n fails the transfer. */
static size_t on_write(char *p, size_t size, size_t nmemb, void *cls)
{
    struct httpc_xfer *x = cls;
    size_t n = size * nmemb;
    if (x->consumer_paused) {
        x->curl_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (n > x->rq.max_body - x->body_seen) {
        x->fail_err = ERR_TOOBIG;
        snprintf(x->errbuf, sizeof(x->errbuf), "response body over %zu bytes", x->rq.max_body);
        return 0;
    }
    x->last_rx_ms = now_mono_ms();
    if (x->sse) {
        if (sse_reader_feed(x->reader, p, n) != ERR_OK) {
            x->fail_err = ERR_TOOBIG;
            snprintf(x->errbuf, sizeof(x->errbuf), "event over %zu bytes", x->rq.max_event);
            return 0;
        }
        x->body_seen += n;
        int err = deliver_events(x);
        if (err != ERR_OK) {
            x->fail_err = err;
            return 0;
        }
        return n;
    }
    if (x->rq.on_data) {
        int rc = x->rq.on_data(x->rq.ctx, p, n);
        if (rc == HTTPC_PAUSE) {
            x->consumer_paused = true;
            x->curl_paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (rc == HTTPC_ABORT) {
            x->fail_err = ERR_CANCELED;
            return 0;
        }
        x->body_seen += n;
        return n;
    }
    if (!collect(x, p, n)) {
        x->fail_err = ERR_NOMEM;
        return 0;
    }
    x->body_seen += n;
    return n;
}

/* ---- the loop side ------------------------------------------------------------------- */

/* Sets the multi handle's options once, on the loop thread. */
static void configure_multi(struct httpc *h)
{
    if (h->configured)
        return;
    CURLM *m = loop_multi(h->loop);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)HTTPC_CONN_CACHE);
    if (h->max_host_conns > 0)
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, h->max_host_conns);
    h->configured = true;
}

/* The submit call: adds the transfer to libcurl, unless it was canceled or the engine
 * closed meanwhile. */
static void submit_call(struct loop_call *c)
{
    struct httpc_xfer *x = (struct httpc_xfer *)((char *)c - offsetof(struct httpc_xfer, submit));
    struct httpc *h = x->h;
    pthread_mutex_lock(&h->mu);
    bool closed = h->closed;
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_lock(&x->mu);
    bool canceled = x->cancel_req;
    pthread_mutex_unlock(&x->mu);
    if (closed || canceled) {
        finish(x, ERR_CANCELED, CURLE_OK);
        return;
    }
    configure_multi(h);
    x->start_ms = x->last_rx_ms = now_mono_ms();
    if (curl_multi_add_handle(loop_multi(h->loop), x->easy) != CURLM_OK) {
        finish(x, ERR_NOMEM, CURLE_OK);
        return;
    }
    x->added = true;
    x->next = h->active;
    if (h->active)
        h->active->prev = x;
    h->active = x;
    arm_tick(h);
}

/* Continues a paused consumer: buffered events first, then libcurl's held bytes. */
static void resume_xfer(struct httpc_xfer *x)
{
    if (x->done || !x->consumer_paused)
        return;
    x->consumer_paused = false;
    x->last_rx_ms = now_mono_ms();
    if (x->sse) {
        int err = deliver_events(x);
        if (err != ERR_OK) {
            x->fail_err = err;
            finish(x, err, CURLE_OK);
            return;
        }
        if (x->consumer_paused)
            return;
    }
    if (x->done_pending) {
        finish(x, err_of(x, x->pending_rc), x->pending_rc);
        return;
    }
    if (x->curl_paused) {
        x->curl_paused = false;
        /* May call on_write at once, which may pause again. */
        curl_easy_pause(x->easy, CURLPAUSE_CONT);
    }
}

/* The control call: a cancel or resume asked from any thread. */
static void ctl_call(struct loop_call *c)
{
    struct httpc_xfer *x = (struct httpc_xfer *)((char *)c - offsetof(struct httpc_xfer, ctl));
    pthread_mutex_lock(&x->mu);
    x->ctl_queued = false;
    bool cancel = x->cancel_req, resume = x->resume_req;
    x->resume_req = false;
    pthread_mutex_unlock(&x->mu);
    if (cancel && x->added)
        finish(x, ERR_CANCELED, CURLE_OK);
    else if (resume && x->added)
        resume_xfer(x);
    shared_unref(x); /* the control call's reference */
}

/* Checks the header and idle deadlines. */
static void tick_fn(struct loop_timer *t, bool canceled)
{
    struct httpc *h = (struct httpc *)((char *)t - offsetof(struct httpc, tick));
    if (canceled)
        return;
    int64_t now = now_mono_ms();
    struct httpc_xfer *x = h->active;
    for (size_t i = 0; x && i < HTTPC_LIST_BOUND; i++) {
        struct httpc_xfer *next = x->next;
        if (!atomic_load(&x->head_ready) && now - x->start_ms > x->rq.header_timeout_ms) {
            snprintf(x->errbuf, sizeof(x->errbuf), "no response headers within %d ms",
                     x->rq.header_timeout_ms);
            finish(x, ERR_TIMEOUT, CURLE_OK);
        } else if (atomic_load(&x->head_ready) && !x->consumer_paused &&
                   now - x->last_rx_ms > x->rq.idle_timeout_ms) {
            snprintf(x->errbuf, sizeof(x->errbuf), "no data for %d ms", x->rq.idle_timeout_ms);
            finish(x, ERR_TIMEOUT, CURLE_OK);
        }
        x = next;
    }
    arm_tick(h);
}

static void arm_tick(struct httpc *h)
{
    if (h->active && !h->tick.slot)
        loop_timer_start(h->loop, &h->tick, HTTPC_TICK_MS);
}

/* Aborts every transfer (quiesce, and the loop's stop hook). */
static void abort_all(struct httpc *h)
{
    for (size_t i = 0; h->active && i < HTTPC_LIST_BOUND; i++)
        finish(h->active, ERR_CANCELED, CURLE_OK);
    loop_timer_stop(h->loop, &h->tick);
}

static void quiesce_call(struct loop_call *c)
{
    struct httpc *h = (struct httpc *)((char *)c - offsetof(struct httpc, quiesce_call));
    abort_all(h);
    pthread_mutex_lock(&h->mu);
    h->quiesce_done = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void stop_hook(struct loop_call *c)
{
    struct httpc *h = (struct httpc *)((char *)c - offsetof(struct httpc, stop_hook));
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    pthread_mutex_unlock(&h->mu);
    abort_all(h);
}

/* ---- the caller side ------------------------------------------------------------------- */

static void xfer_dispose(void *obj)
{
    struct httpc_xfer *x = obj;
    /* Normally freed by finish; these remain when the transfer was never submitted. */
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdr_list);
    free(x->url);
    free(x->body);
    free(x->coll);
    sse_reader_free(x->reader);
    free(x->hdr_buf);
    pthread_mutex_destroy(&x->mu);
}

/* Sets the method and body options. false when libcurl refuses one. */
static bool set_method(CURL *e, const char *method, const char *body, size_t len)
{
    if (strcmp(method, "GET") == 0 && !body)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    if (strcmp(method, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
    bool ok = true;
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        ok = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "") == CURLE_OK;
    }
    return ok && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
}

/* True when method is a plain token (RFC 9110) of sane length. */
static bool method_ok(const char *m)
{
    size_t n = 0;
    for (; m[n] && n < 32; n++) {
        char c = m[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return n > 0 && n < 32;
}

/* Builds the easy handle and copies for rq. ERR_OK, ERR_INVALID or ERR_NOMEM. */
static int setup(struct httpc_xfer *x, const struct httpc_request *rq, bool plain_ok, bool loopback)
{
    const char *method = rq->method ? rq->method : rq->body ? "POST" : "GET";
    if (!method_ok(method))
        return ERR_INVALID;
    if (!libcurl_ready())
        return ERR_NOMEM;
    x->url = strdup(rq->url);
    if (!x->url)
        return ERR_NOMEM;
    if (rq->body) {
        x->body = malloc(rq->body_len ? rq->body_len : 1);
        if (!x->body)
            return ERR_NOMEM;
        memcpy(x->body, rq->body, rq->body_len);
    }
    for (size_t i = 0; i < rq->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(x->hdr_list, rq->headers[i]);
        if (!l)
            return ERR_NOMEM;
        x->hdr_list = l;
    }
    CURL *e = x->easy = curl_easy_init();
    if (!e)
        return ERR_NOMEM;
    bool ok =
        curl_easy_setopt(e, CURLOPT_URL, x->url) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, plain_ok ? "http,https" : "https") == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)rq->connect_timeout_ms) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)rq->total_timeout_ms) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdr_list) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HEADERDATA, x) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)&x->le) == CURLE_OK &&
        set_method(e, method, x->body, rq->body_len);
    /* A proxy could not reach this host's loopback anyway. */
    if (ok && loopback)
        ok = curl_easy_setopt(e, CURLOPT_NOPROXY, "*") == CURLE_OK;
    if (ok && (rq->flags & HTTPC_FRESH_DNS))
        ok = curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L) == CURLE_OK;
    if (ok && rq->max_body != HTTPC_UNLIMITED)
        ok = curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_body) == CURLE_OK;
    return ok ? ERR_OK : ERR_NOMEM;
}

/* The last scheme and authority this thread checked ("http://api:8000"), with what libcurl's
 * URL parser said of them: a proxy sends every request to one origin, and parsing each URL
 * again would cost more than the rest of the submission. */
#define ORIGIN_CACHE_MAX 256
static __thread struct {
    char origin[ORIGIN_CACHE_MAX];
    size_t len;
    bool https, loopback;
} origin_cache;

/* Length of url's scheme and authority: up to the first '/', '?' or '#' after "://", as
 * RFC 3986 and libcurl end the authority; 0 when there is no "://". */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    return (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
}

/* url_outbound, answered from this thread's cache when url has the origin checked last. */
static int check_url(const char *url, bool *https, bool *loopback)
{
    size_t n = origin_len(url);
    if (n > 0 && n == origin_cache.len && memcmp(url, origin_cache.origin, n) == 0) {
        *https = origin_cache.https;
        *loopback = origin_cache.loopback;
        return ERR_OK;
    }
    int rc = url_outbound(url, https, loopback);
    if (rc == ERR_OK && n > 0 && n < ORIGIN_CACHE_MAX) {
        memcpy(origin_cache.origin, url, n);
        origin_cache.len = n;
        origin_cache.https = *https;
        origin_cache.loopback = *loopback;
    }
    return rc;
}

int httpc_request(struct httpc *h, const struct httpc_request *rq, struct httpc_xfer **out)
{
    if (out)
        *out = NULL;
    if (!rq->url || rq->n_headers > HTTPC_MAX_REQ_HEADERS)
        return ERR_INVALID;
    if (strnlen(rq->url, HTTPC_MAX_URL + 1) > HTTPC_MAX_URL)
        return ERR_TOOBIG;
    bool https = false, loopback = false;
    if (check_url(rq->url, &https, &loopback) != ERR_OK)
        return ERR_INVALID;
    bool plain_ok = loopback || (rq->flags & HTTPC_ALLOW_HTTP);
    if (!https && !plain_ok)
        return ERR_INVALID;
    pthread_mutex_lock(&h->mu);
    bool closed = h->closed;
    pthread_mutex_unlock(&h->mu);
    if (closed)
        return ERR_UNAVAILABLE;
    if (atomic_fetch_add(&h->live, 1) >= HTTPC_MAX_TRANSFERS) {
        atomic_fetch_sub(&h->live, 1);
        return ERR_LIMIT;
    }
    struct httpc_xfer *x = shared_new(sizeof(*x), xfer_dispose);
    if (!x) {
        atomic_fetch_sub(&h->live, 1);
        return ERR_NOMEM;
    }
    pthread_mutex_init(&x->mu, NULL);
    x->h = h;
    x->rq = *rq;
    x->rq.url = NULL;
    x->rq.headers = NULL;
    x->rq.body = NULL;
    if (!x->rq.connect_timeout_ms)
        x->rq.connect_timeout_ms = HTTPC_CONNECT_TIMEOUT_MS;
    if (!x->rq.header_timeout_ms)
        x->rq.header_timeout_ms = HTTPC_HEADER_TIMEOUT_MS;
    if (!x->rq.idle_timeout_ms)
        x->rq.idle_timeout_ms = HTTPC_IDLE_TIMEOUT_MS;
    if (!x->rq.max_body)
        x->rq.max_body = HTTPC_MAX_BODY;
    if (!x->rq.max_event)
        x->rq.max_event = HTTPC_MAX_EVENT;
    x->le.done = on_curl_done;
    x->submit.fn = submit_call;
    x->ctl.fn = ctl_call;
    int rc = setup(x, rq, plain_ok, loopback);
    if (rc == ERR_OK && out)
        *out = shared_ref(x);
    if (rc == ERR_OK && loop_post(h->loop, &x->submit) != ERR_OK)
        rc = ERR_UNAVAILABLE;
    if (rc != ERR_OK) {
        if (out && *out) {
            shared_unref(*out);
            *out = NULL;
        }
        atomic_fetch_sub(&h->live, 1);
        shared_unref(x);
        return rc;
    }
    /* The loop's reference is the one shared_new returned; finish drops it. */
    return ERR_OK;
}

/* Queues x's control call unless it is queued already or x has ended. Caller holds x->mu. */
static void ctl_push_locked(struct httpc_xfer *x)
{
    if (x->ended || x->ctl_queued)
        return;
    x->ctl_queued = true;
    shared_ref(x);
    if (loop_post(x->h->loop, &x->ctl) != ERR_OK) {
        x->ctl_queued = false;
        shared_unref(x); /* not the last: the caller holds one */
    }
}

void httpc_cancel(struct httpc_xfer *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->cancel_req = true;
    ctl_push_locked(x);
    pthread_mutex_unlock(&x->mu);
}

void httpc_resume(struct httpc_xfer *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->resume_req = true;
    ctl_push_locked(x);
    pthread_mutex_unlock(&x->mu);
}

const struct httpc_response *httpc_xfer_response(struct httpc_xfer *x)
{
    return x && atomic_load(&x->head_ready) ? &x->resp : NULL;
}

void httpc_xfer_release(struct httpc_xfer *x)
{
    shared_unref(x);
}

int httpc_active(struct httpc *h)
{
    return atomic_load(&h->live);
}

int httpc_new(struct loop *loop, long max_host_conns, struct httpc **out)
{
    struct httpc *h = calloc(1, sizeof(*h));
    if (!h)
        return ERR_NOMEM;
    h->loop = loop;
    h->max_host_conns = max_host_conns;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    atomic_init(&h->live, 0);
    h->tick.fn = tick_fn;
    h->quiesce_call.fn = quiesce_call;
    h->stop_hook.fn = stop_hook;
    loop_at_stop(loop, &h->stop_hook);
    *out = h;
    return ERR_OK;
}

void httpc_quiesce(struct httpc *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    bool first = !h->closed;
    h->closed = true;
    pthread_mutex_unlock(&h->mu);
    if (!first || loop_post(h->loop, &h->quiesce_call) != ERR_OK)
        return;
    pthread_mutex_lock(&h->mu);
    while (!h->quiesce_done) /* the loop runs the call before it can stop */
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

void httpc_free(struct httpc *h)
{
    if (!h)
        return;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* ---- blocking fetch ------------------------------------------------------------------- */

struct fetch_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err, status;
    char *body;
    size_t body_len;
};

static void fetch_done(void *ctx, const struct httpc_result *res)
{
    struct fetch_wait *w = ctx;
    char *copy = NULL;
    if (res->body) {
        copy = malloc(res->body_len + 1);
        if (copy) {
            memcpy(copy, res->body, res->body_len);
            copy[res->body_len] = '\0';
        }
    }
    pthread_mutex_lock(&w->mu);
    w->err = res->err == ERR_OK && res->body && !copy ? ERR_NOMEM : res->err;
    w->status = res->status;
    w->body = copy;
    w->body_len = copy ? res->body_len : 0;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int httpc_fetch(struct httpc *h, const struct httpc_request *rq, int *status, char **body,
                size_t *body_len)
{
    if (loop_on_thread(h->loop))
        return ERR_INVALID; /* it would wait for itself */
    struct fetch_wait w = {.err = ERR_OK};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    struct httpc_request r = *rq;
    r.on_headers = NULL;
    r.on_data = NULL;
    r.on_event = NULL;
    r.on_done = fetch_done;
    r.ctx = &w;
    int rc = httpc_request(h, &r, NULL);
    if (rc == ERR_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) /* on_done runs exactly once: every deadline of the request bounds it */
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.err;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (status)
        *status = w.status;
    if (body) {
        *body = w.body;
        if (body_len)
            *body_len = w.body_len;
    } else {
        free(w.body);
    }
    return rc;
}
