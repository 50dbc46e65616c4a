/*
 * Private to the web proxy: the transfer, the proxy's shared state, and what its three
 * files call across. proxy.c describes the threads, who owns a transfer and the lock order.
 *
 *   proxy.c          the handler, the answer to the client, and start and shutdown
 *   proxy_io.c       the I/O thread: libcurl callbacks, the body buffer, the queues and
 *                    timeouts, and a transfer's reference count
 *   proxy_headers.c  the upstream URL and request headers, and the upstream's response
 *                    header fields (collected, filtered, copied to the client's answer)
 *
 * Calls run one way: proxy.c uses the other two, proxy_io.c uses proxy_headers.c, and
 * proxy_headers.c uses neither.
 */
#ifndef TODO_PROXY_INTERNAL_H
#define TODO_PROXY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "http/request.h"
#include "web/proxy.h"

/* Where a transfer stands as the web side sees it. */
enum xfer_phase {
    XFER_WAITING, /* no response headers yet */
    XFER_HEADERS, /* headers complete: status, hdr_buf final; the body may follow */
    XFER_FAILED,  /* ended before the headers; fail_status says how to answer */
};

/* One proxied request: malloc'd and reference counted (see proxy.c for who holds the
 * references and the lock order). */
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

/* The one proxy of the process; defined in proxy_io.c. */
struct proxy_state {
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
};

extern struct proxy_state px;

/* --- proxy_io.c ------------------------------------------------------------------------ */

/* Takes one more reference to x. */
void xfer_ref(struct xfer *x);

/* Drops one reference; the last one frees the transfer and everything it still owns. */
void xfer_unref(struct xfer *x);

/* Queues x for the I/O thread's attention (abort or unpause) and wakes it. The queue
 * holds a reference. Does nothing once the proxy stops: shutdown aborts everything. */
void xfer_ctl_push(struct xfer *x);

/* Sets up the easy handle for x (owned by x, then by the I/O thread): URL, headers, body,
 * method, limits and the callbacks. ERR_NOMEM when libcurl refuses. */
int xfer_setup_easy(struct xfer *x, struct request *req);

/* The I/O thread's body (pthread start routine): runs until proxy_shutdown clears
 * px.running, then ends every transfer. */
void *proxy_io_main(void *arg);

/* --- proxy_headers.c ------------------------------------------------------------------- */

/* Forgets the response headers seen so far (a 1xx response, or a new status line). */
void xfer_headers_reset(struct xfer *x);

/* Takes one response header line of len bytes (its CR LF already cut, len > 0): a status
 * line resets the fields, a field is appended to x's header buffer, and one over the
 * limits marks the response as overflowing. Runs on the I/O thread. */
void xfer_header_line(struct xfer *x, const char *data, size_t len);

/* The upstream's Content-Length, for a HEAD answer; false when absent or malformed. */
bool xfer_head_length(const struct xfer *x, uint64_t *out);

/* Copies the upstream's end-to-end response headers of x onto r. */
void proxy_copy_headers(struct request *req, struct xfer *x, struct MHD_Response *r);

/* The upstream URL: base (API_URL without a trailing slash) + the path + the query
 * string, re-encoded (libmicrohttpd hands both over decoded). ERR_TOOBIG when it is over
 * PROXY_MAX_URL; ERR_NOMEM. *out is malloc'd; the caller owns it. */
int proxy_build_url(struct request *req, const char *base, char **out);

/* The forwarded request headers: the client's end-to-end fields (Authorization and Cookie
 * unchanged, never logged) plus X-Request-ID and X-Forwarded-For/-Proto/-Host. ERR_INVALID
 * when the client sent more than PROXY_MAX_REQ_HEADERS fields; ERR_NOMEM. The caller owns
 * *out (curl_slist_free_all). */
int proxy_build_headers(struct request *req, bool with_body, struct curl_slist **out);

#endif
