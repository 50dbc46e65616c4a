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
 */
#include "web/proxy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "app.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

/* Longest sleep of the I/O loop; timeouts are checked at least this often. */
#define PROXY_POLL_MS 1000
/* Bytes the body reader hands MHD per call at most. */
#define PROXY_READ_BLOCK (32 * 1024)
/* First allocation of a transfer's body buffer; it doubles up to PROXY_BUFFER_MAX. */
#define PROXY_BUFFER_FIRST (16 * 1024)
/* A paused transfer is resumed once no more than this much is left unread. */
#define PROXY_UNPAUSE_AT (PROXY_BUFFER_MAX / 2)
/* Limits on the upstream's response headers (more is a 502). */
#define PROXY_MAX_RESP_HEADERS      100
#define PROXY_MAX_RESP_HEADER_BYTES (64 * 1024)
#define PROXY_HEADER_BUF_FIRST      (4 * 1024)
/* Limits on the forwarded request: header fields (more is a 431) and URL (more is a 414). */
#define PROXY_MAX_REQ_HEADERS 128
#define PROXY_MAX_URL         (16 * 1024)
/* Idle keep-alive connections to the API kept in the multi handle's cache. */
#define PROXY_CONN_CACHE 64
/* Longest API_URL accepted, and tokens read from one Connection header. */
#define PROXY_MAX_BASE_URL    2048
#define PROXY_MAX_CONN_TOKENS 32
/* How long proxy_shutdown waits for resumed connections to finish, polling each tick. */
#define PROXY_SHUTDOWN_WAIT_MS 1000
#define PROXY_SHUTDOWN_TICK_MS 10
/* Bound for walks over the transfer lists: more entries than can ever exist (accepted
 * transfers never exceed PROXY_MAX_TRANSFERS). */
#define PROXY_LIST_BOUND (2 * PROXY_MAX_TRANSFERS)

#define DETAIL_502 "Bad gateway: API unavailable"
#define DETAIL_503 "Service unavailable: the proxy is shutting down"
#define DETAIL_504 "Gateway timeout: the API did not answer in time"

/* Where a transfer stands as the web side sees it. */
enum xfer_phase {
    XFER_WAITING, /* no response headers yet */
    XFER_HEADERS, /* headers complete: status, hdr_buf final; the body may follow */
    XFER_FAILED,  /* ended before the headers; fail_status says how to answer */
};

struct xfer {
    pthread_mutex_t mu;
    atomic_int refs;

    /* Set by h_proxy before the transfer is queued; read-only afterwards. */
    struct MHD_Connection *conn;
    char request_id[REQUEST_ID_MAX + 1];
    bool head;

    /* The I/O thread's own (after queueing; h_proxy fills them before). */
    CURL *easy;
    struct curl_slist *req_headers;
    char *url;
    char *body; /* copy of the request body: the arena may die before curl sends it */
    size_t body_len;
    int64_t start_ms;   /* when the transfer was added */
    int64_t last_rx_ms; /* last upstream bytes, for the idle timeout */
    bool headers_done;
    bool hdr_overflow;
    struct xfer *prev, *next; /* the active list */
    char errbuf[CURL_ERROR_SIZE];

    /* Written by the I/O thread before phase leaves XFER_WAITING (under mu), read by the
     * worker after it saw that phase: status and the headers as "name\0value\0" pairs. */
    int status;
    char *hdr_buf;
    size_t hdr_len, hdr_cap, n_hdrs;

    /* Guarded by px.mu. */
    struct xfer *sub_next; /* submit queue */
    struct xfer *ctl_next; /* control queue */
    bool in_ctl;

    /* Guarded by mu. phase, fail_status, done, ok and paused are written only by the I/O
     * thread, so it may read them without the lock. */
    enum xfer_phase phase;
    int fail_status; /* 502/503/504 set before or when the transfer fails */
    bool suspended;  /* the connection is suspended and waits for a resume from us */
    bool done;       /* the curl transfer has ended; ok says whether cleanly */
    bool ok;
    bool paused;      /* the write callback paused the transfer: the buffer was full */
    bool unpause_req; /* the reader asked the I/O thread to unpause */
    bool web_gone;    /* the web side dropped its reference: nobody reads the body */
    char *buf;        /* unread body bytes are buf[buf_off, buf_off + buf_len) */
    size_t buf_off, buf_len, buf_cap;
};

/* The one proxy of the process. */
static struct {
    pthread_mutex_t mu;
    bool started;
    bool running; /* h_proxy accepts work and the queues are served */
    pthread_t thread;
    CURLM *multi;
    char *base; /* API_URL without a trailing slash; malloc'd, freed by proxy_shutdown */
    struct xfer *sub_head, *sub_tail;
    struct xfer *ctl_head;
    atomic_int live; /* transfers allocated and not yet freed */
    /* The I/O thread's own. */
    struct xfer *active;
    size_t n_active;
} px = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* --- transfer lifetime ------------------------------------------------------------ */

static void xfer_ref(struct xfer *x)
{
    atomic_fetch_add(&x->refs, 1);
}

/* Drops one reference; the last one frees the transfer and everything it still owns. */
static void xfer_unref(struct xfer *x)
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
static void ctl_push(struct xfer *x)
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

/* The web side is done with x: nobody will read its body any more. With abort, a transfer
 * still running is cancelled (the client went away). Drops the web side's reference. */
static void web_release(struct xfer *x, bool abort)
{
    pthread_mutex_lock(&x->mu);
    x->web_gone = true;
    bool cancel = abort && !x->done;
    pthread_mutex_unlock(&x->mu);
    if (cancel)
        ctl_push(x);
    xfer_unref(x);
}

/* --- libcurl callbacks (I/O thread) -------------------------------------------------- */

/* Forgets the headers seen so far (a 1xx response, or a new status line). */
static void headers_reset(struct xfer *x)
{
    x->hdr_len = 0;
    x->n_hdrs = 0;
    x->hdr_overflow = false;
}

/* Appends "name\0value\0" to the header buffer within the limits; false when over. */
static bool headers_add(struct xfer *x, const char *name, size_t nlen, const char *value,
                        size_t vlen)
{
    size_t need = nlen + vlen + 2;
    if (x->n_hdrs >= PROXY_MAX_RESP_HEADERS || need > PROXY_MAX_RESP_HEADER_BYTES - x->hdr_len)
        return false;
    if (x->hdr_len + need > x->hdr_cap) {
        size_t cap = x->hdr_cap ? x->hdr_cap : PROXY_HEADER_BUF_FIRST;
        while (cap < x->hdr_len + need) /* ends: cap doubles up to the limit's size */
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
    x->n_hdrs++;
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

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
            headers_reset(x);
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
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        headers_reset(x);
        return n;
    }
    if (is_space(data[0])) /* obsolete line folding: dropped */
        return n;
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return n;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && is_space(*v)) /* bounded by the line */
        v++;
    while (end > v && is_space(end[-1]))
        end--;
    if (!headers_add(x, data, nlen, v, (size_t)(end - v)))
        x->hdr_overflow = true;
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

/* --- the I/O thread ------------------------------------------------------------------ */

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
static void *io_main(void *arg)
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

/* --- the web side (HTTP worker threads) --------------------------------------------- */

/* Whether the comma-separated token list names token (case-insensitive). */
static bool list_has(const char *list, const char *token)
{
    if (!list)
        return false;
    size_t tlen = strlen(token);
    const char *p = list;
    for (int i = 0; *p && i < PROXY_MAX_CONN_TOKENS; i++) {
        while (*p == ',' || is_space(*p)) /* bounded by the string */
            p++;
        const char *e = p;
        while (*e && *e != ',' && !is_space(*e))
            e++;
        if ((size_t)(e - p) == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p = e;
    }
    return false;
}

/* Hop-by-hop fields (RFC 9110 7.6.1) that a proxy never forwards, in either direction. */
static bool is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {"Connection", "Keep-Alive", "Transfer-Encoding", "TE",
                                      "Trailer",    "Upgrade",    "Content-Length"};
    for (size_t i = 0; i < ARRAY_LEN(hop); i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return strncasecmp(name, "Proxy-", 6) == 0;
}

/* Appends s percent-encoded to out[*len..cap); in a query component '&', '=', '+' and
 * '/' are encoded too. ERR_TOOBIG when it does not fit. */
static int url_append(char *out, size_t cap, size_t *len, const char *s, bool query)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = *len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) { /* bounded by s */
        unsigned char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~!$'()*,;:@", c) != NULL || (!query && strchr("/&=+", c) != NULL);
        if (keep) {
            if (n + 1 >= cap)
                return ERR_TOOBIG;
            out[n++] = (char)c;
        } else {
            if (n + 3 >= cap)
                return ERR_TOOBIG;
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    *len = n;
    return ERR_OK;
}

static int url_append_raw(char *out, size_t cap, size_t *len, const char *s)
{
    size_t sl = strlen(s);
    if (*len + sl >= cap)
        return ERR_TOOBIG;
    memcpy(out + *len, s, sl + 1);
    *len += sl;
    return ERR_OK;
}

struct query_build {
    char *out;
    size_t cap, len;
    int rc;
};

static enum MHD_Result query_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct query_build *q = cls;
    if (!key)
        return MHD_YES;
    int rc = url_append_raw(q->out, q->cap, &q->len, q->len ? "&" : "?");
    if (rc == ERR_OK)
        rc = url_append(q->out, q->cap, &q->len, key, true);
    if (rc == ERR_OK && value) {
        rc = url_append_raw(q->out, q->cap, &q->len, "=");
        if (rc == ERR_OK)
            rc = url_append(q->out, q->cap, &q->len, value, true);
    }
    q->rc = rc;
    return rc == ERR_OK ? MHD_YES : MHD_NO;
}

/* The upstream URL: API_URL + the path + the query string, re-encoded (libmicrohttpd
 * hands both over decoded). malloc'd; the caller owns it. */
static int build_url(struct request *req, char **out)
{
    char *path = arena_alloc(req->arena, PROXY_MAX_URL);
    char *query = arena_alloc(req->arena, PROXY_MAX_URL);
    if (!path || !query)
        return ERR_NOMEM;
    size_t len = 0;
    int rc = url_append_raw(path, PROXY_MAX_URL, &len, px.base);
    if (rc == ERR_OK)
        rc = url_append(path, PROXY_MAX_URL, &len, req->path, false);
    if (rc != ERR_OK)
        return rc;
    struct query_build q = {query, PROXY_MAX_URL - len, 0, ERR_OK};
    query[0] = '\0';
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_each, &q);
    if (q.rc != ERR_OK)
        return q.rc;
    if (url_append_raw(path, PROXY_MAX_URL, &len, query) != ERR_OK)
        return ERR_TOOBIG;
    *out = strdup(path);
    return *out ? ERR_OK : ERR_NOMEM;
}

struct header_build {
    struct request *req;
    const char *conn_tokens; /* the client's Connection header */
    struct curl_slist *list;
    size_t n;
    char *xff; /* the client's X-Forwarded-For values, joined (arena) */
    bool has_type, has_accept;
    int rc;
};

static enum MHD_Result header_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct header_build *h = cls;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, "X-Forwarded-For") == 0) {
        h->xff = h->xff ? arena_printf(h->req->arena, "%s, %s", h->xff, value)
                        : arena_strdup(h->req->arena, value);
        if (!h->xff)
            h->rc = ERR_NOMEM;
        return h->rc == ERR_OK ? MHD_YES : MHD_NO;
    }
    /* Set by the proxy itself, or meant for this hop only. */
    if (is_hop_by_hop(key) || strcasecmp(key, "Host") == 0 || strcasecmp(key, "Expect") == 0 ||
        strcasecmp(key, "X-Forwarded-Proto") == 0 || strcasecmp(key, "X-Forwarded-Host") == 0 ||
        strcasecmp(key, "X-Request-ID") == 0 || list_has(h->conn_tokens, key))
        return MHD_YES;
    if (strcasecmp(key, "Content-Type") == 0)
        h->has_type = true;
    if (strcasecmp(key, "Accept") == 0)
        h->has_accept = true;
    if (++h->n > PROXY_MAX_REQ_HEADERS) {
        h->rc = ERR_INVALID;
        return MHD_NO;
    }
    /* "Name;" is libcurl's spelling of a header with an empty value. */
    char *line = *value ? arena_printf(h->req->arena, "%s: %s", key, value)
                        : arena_printf(h->req->arena, "%s;", key);
    struct curl_slist *l = line ? curl_slist_append(h->list, line) : NULL;
    if (!l) {
        h->rc = ERR_NOMEM;
        return MHD_NO;
    }
    h->list = l;
    return MHD_YES;
}

/* Appends one line to the list; false when out of memory. */
static bool slist_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = line ? curl_slist_append(*list, line) : NULL;
    if (l)
        *list = l;
    return l != NULL;
}

/* The forwarded request headers: the client's end-to-end fields (Authorization and Cookie
 * unchanged, never logged) plus X-Request-ID and X-Forwarded-For/-Proto/-Host. ERR_INVALID
 * when the client sent more than PROXY_MAX_REQ_HEADERS fields. The caller owns *out. */
static int build_headers(struct request *req, bool with_body, struct curl_slist **out)
{
    struct header_build h = {.req = req, .conn_tokens = req_header(req, "Connection")};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_each, &h);
    struct curl_slist *list = h.list;
    if (h.rc != ERR_OK) {
        curl_slist_free_all(list);
        return h.rc;
    }
    struct arena *a = req->arena;
    const char *ip = req_client_ip(req);
    const char *host = req_header(req, "Host");
    bool ok =
        slist_add(&list, arena_printf(a, "X-Request-ID: %s", req->request_id)) &&
        slist_add(&list, h.xff ? arena_printf(a, "X-Forwarded-For: %s, %s", h.xff, ip)
                               : arena_printf(a, "X-Forwarded-For: %s", ip)) &&
        slist_add(&list, "X-Forwarded-Proto: http") &&
        (!host || !*host || slist_add(&list, arena_printf(a, "X-Forwarded-Host: %s", host))) &&
        /* No "Expect: 100-continue" round trip; no headers libcurl would invent. */
        slist_add(&list, "Expect:") && (h.has_accept || slist_add(&list, "Accept:")) &&
        (h.has_type || !with_body || slist_add(&list, "Content-Type:"));
    if (!ok) {
        curl_slist_free_all(list);
        return ERR_NOMEM;
    }
    *out = list;
    return ERR_OK;
}

/* Sets up the easy handle for x. ERR_NOMEM when libcurl refuses. */
static int setup_easy(struct xfer *x, struct request *req)
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
    int rc = build_url(req, &x->url);
    if (rc == ERR_OK)
        rc = build_headers(req, with_body, &x->req_headers);
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
        rc = setup_easy(x, req);
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
        ctl_push(x);
    return ret;
}

/* MHD_ContentReaderFreeCallback: the connection is done with the body — the stream ended,
 * or the client went away. Drops the web side's reference, cancelling a running transfer. */
static void body_free(void *cls)
{
    web_release(cls, true);
}

/* Whether the server adds this response header itself (see queue() in server.c), or the
 * request already carries it (CORS): the upstream's copy would be a duplicate. */
static bool server_sets(struct request *req, const char *name)
{
    if (strcasecmp(name, "X-Request-ID") == 0 || strcasecmp(name, "X-Content-Type-Options") == 0)
        return true;
    for (size_t i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(name, req->resp_headers[i][0]) == 0)
            return true;
    return false;
}

/* Copies the upstream's end-to-end response headers onto r. */
static void copy_headers(struct request *req, struct xfer *x, struct MHD_Response *r)
{
    const char *conn_tokens = NULL;
    const char *p = x->hdr_buf;
    for (size_t i = 0; i < x->n_hdrs; i++) {
        const char *name = p, *value = p + strlen(p) + 1;
        p = value + strlen(value) + 1;
        if (strcasecmp(name, "Connection") == 0)
            conn_tokens = value;
    }
    p = x->hdr_buf;
    for (size_t i = 0; i < x->n_hdrs; i++) {
        const char *name = p, *value = p + strlen(p) + 1;
        p = value + strlen(value) + 1;
        if (is_hop_by_hop(name) || list_has(conn_tokens, name) || server_sets(req, name))
            continue;
        if (MHD_add_response_header(r, name, value) != MHD_YES)
            log_debug("proxy: dropped upstream response header %s", name);
    }
}

/* The upstream's Content-Length, for a HEAD answer; false when absent or malformed. */
static bool head_length(const struct xfer *x, uint64_t *out)
{
    const char *p = x->hdr_buf;
    for (size_t i = 0; i < x->n_hdrs; i++) {
        const char *name = p, *value = p + strlen(p) + 1;
        p = value + strlen(value) + 1;
        int64_t n = 0;
        if (strcasecmp(name, "Content-Length") != 0)
            continue;
        if (parse_int64(value, 0, INT64_MAX, &n) != ERR_OK)
            return false;
        *out = (uint64_t)n;
        return true;
    }
    return false;
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
    if (x->head && head_length(x, &head_len))
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
    copy_headers(req, x, r);
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
    pthread_mutex_lock(&px.mu);
    px.base = base;
    px.multi = multi;
    px.running = true;
    px.started = true;
    pthread_mutex_unlock(&px.mu);
    if (pthread_create(&px.thread, NULL, io_main, NULL) != 0) {
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
