/*
 * Streams on suspended connections (see stream.h).
 *
 * Suspension. A connection waits for a stream in one of two ways: in the deferred answer
 * (head_wait, set by stream_defer) or in the body reader with nothing buffered (body_wait,
 * set by the reader, the pattern microhttpd.h prescribes for "no data yet"). Both are set
 * under s->mu in the same step as MHD_suspend_connection, and whoever resumes claims the
 * flag under s->mu and calls MHD_resume_connection after releasing it, so libmicrohttpd's
 * locks are never taken under ours by a producer, and a connection is resumed once per
 * suspension, while it is certainly alive (a suspended connection is never freed).
 * A wake that comes before the handler deferred is remembered (wake_pending) and the
 * handler then does not suspend at all.
 *
 * Memory. The buffer grows from STREAM_BUF_FIRST by doubling up to its bound and compacts
 * when the unread part reaches the end; a stream is a shared object whose data area
 * follows it.
 */
#include "http/stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/shared.h"
#include "core/sse.h"
#include "core/util.h"

/* First allocation of a stream's buffer. */
#define STREAM_BUF_FIRST (16 * 1024)
/* Poll step of stream_shutdown's wait. */
#define STREAM_SHUTDOWN_TICK_MS 10

struct stream {
    pthread_mutex_t mu; /* guards everything below but the fields marked otherwise */
    struct MHD_Connection *conn;
    const struct stream_hooks *hooks; /* read-only */
    size_t cap;                       /* read-only */
    char *buf;                        /* unread bytes: buf[off, off + len) */
    size_t off, len, bufcap;
    bool head_wait, body_wait, wake_pending;
    bool ended, ok;
    bool closed;        /* the web side let go: nobody reads */
    bool reader;        /* stream_response attached a reader */
    bool want_writable; /* a write found the buffer full */
    int64_t last_write_ms;
    /* Heartbeat: set once by stream_heartbeat, then the loop thread's own. */
    struct loop *loop;
    struct loop_timer hb;
    struct loop_call hb_start;
    int hb_ms;
    /* The registry of live streams (guarded by reg.mu). */
    struct stream *prev, *next;
    _Alignas(max_align_t) unsigned char data[];
};

static struct {
    pthread_mutex_t mu;
    struct stream *head; /* every stream not yet disposed of */
    size_t n;
    atomic_int live;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- life cycle --------------------------------------------------------------------- */

static void stream_dispose(void *obj)
{
    struct stream *s = obj;
    if (s->hooks && s->hooks->dispose)
        s->hooks->dispose(s);
    pthread_mutex_lock(&reg.mu);
    if (s->prev)
        s->prev->next = s->next;
    else if (reg.head == s)
        reg.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    reg.n--;
    pthread_mutex_unlock(&reg.mu);
    atomic_fetch_sub(&reg.live, 1);
    free(s->buf);
    pthread_mutex_destroy(&s->mu);
}

/* The web side let go: tells the producer once. */
static void web_close(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool first = !s->closed;
    s->closed = true;
    s->want_writable = false;
    pthread_mutex_unlock(&s->mu);
    if (first && s->hooks && s->hooks->closed)
        s->hooks->closed(s);
}

/* The request's arena is being freed: the request's reference goes; with no reader, nobody
 * will ever read. */
static void request_gone(void *arg)
{
    struct stream *s = arg;
    pthread_mutex_lock(&s->mu);
    bool reader = s->reader;
    pthread_mutex_unlock(&s->mu);
    if (!reader)
        web_close(s);
    shared_unref(s);
}

int stream_new(struct request *req, size_t cap, const struct stream_hooks *hooks, size_t data_size,
               struct stream **out)
{
    struct stream *s = shared_new(sizeof(*s) + data_size, stream_dispose);
    if (!s)
        return ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->conn = req->conn;
    s->hooks = hooks;
    s->cap = cap;
    s->last_write_ms = now_mono_ms();
    pthread_mutex_lock(&reg.mu);
    s->next = reg.head;
    if (reg.head)
        reg.head->prev = s;
    reg.head = s;
    reg.n++;
    pthread_mutex_unlock(&reg.mu);
    atomic_fetch_add(&reg.live, 1);
    shared_ref(s); /* the request's */
    if (arena_on_free(req->arena, request_gone, s) != ERR_OK) {
        shared_unref(s);
        shared_unref(s);
        return ERR_NOMEM;
    }
    *out = s;
    return ERR_OK;
}

void *stream_data(struct stream *s)
{
    return s->data;
}

struct stream *stream_ref(struct stream *s)
{
    return shared_ref(s);
}

void stream_release(struct stream *s)
{
    shared_unref(s);
}

/* ---- the web side (the connection's worker thread) ------------------------------------- */

void stream_defer(struct request *req, struct stream *s, void (*resume)(struct request *req))
{
    pthread_mutex_lock(&s->mu);
    if (!s->wake_pending && !s->ended) {
        s->head_wait = true;
        MHD_suspend_connection(s->conn);
    }
    s->wake_pending = false;
    pthread_mutex_unlock(&s->mu);
    resp_defer(req, resume, s);
}

/* MHD_ContentReaderCallback: hands over buffered bytes; with none and the stream still
 * open, suspends the connection and returns 0 (the next write resumes it). */
static ssize_t body_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    ssize_t ret;
    pthread_mutex_lock(&s->mu);
    if (s->len > 0) {
        size_t n = s->len < max ? s->len : max;
        memcpy(out, s->buf + s->off, n);
        s->off += n;
        s->len -= n;
        if (s->len == 0)
            s->off = 0;
        ret = (ssize_t)n;
    } else if (s->ended) {
        ret = s->ok ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        s->body_wait = true;
        MHD_suspend_connection(s->conn);
        ret = 0;
    }
    bool writable = s->want_writable && !s->ended && s->len <= s->cap / 2;
    if (writable)
        s->want_writable = false;
    pthread_mutex_unlock(&s->mu);
    if (writable && s->hooks && s->hooks->writable)
        s->hooks->writable(s);
    return ret;
}

/* MHD_ContentReaderFreeCallback: libmicrohttpd is done with the response — the body ended
 * or the client went away. */
static void body_free(void *cls)
{
    struct stream *s = cls;
    web_close(s);
    shared_unref(s);
}

struct MHD_Response *stream_response(struct stream *s)
{
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_READ_BLOCK,
                                                               body_read, s, body_free);
    if (!r)
        return NULL;
    shared_ref(s); /* the response's, dropped by body_free */
    pthread_mutex_lock(&s->mu);
    s->reader = true;
    pthread_mutex_unlock(&s->mu);
    return r;
}

void resp_stream(struct request *req, int status, const char *content_type, struct stream *s)
{
    struct MHD_Response *r = stream_response(s);
    if (!r) {
        resp_error(req, 500, "Internal server error");
        return;
    }
    resp_custom(req, status, r);
    req->content_type = content_type;
}

/* ---- the producer side (any thread) ----------------------------------------------------- */

/* Claims a body suspension to resume. Caller holds s->mu. */
static bool claim_body(struct stream *s)
{
    bool claim = s->body_wait;
    s->body_wait = false;
    return claim;
}

void stream_wake(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool claim = s->head_wait;
    if (claim)
        s->head_wait = false;
    else
        s->wake_pending = true;
    pthread_mutex_unlock(&s->mu);
    if (claim)
        MHD_resume_connection(s->conn);
}

/* Makes room for n more bytes (compacting, then growing up to max(cap, n)). Caller holds
 * s->mu. */
static bool reserve(struct stream *s, size_t n)
{
    if (s->off > 0 && s->off + s->len + n > s->bufcap) {
        memmove(s->buf, s->buf + s->off, s->len);
        s->off = 0;
    }
    if (s->len + n <= s->bufcap)
        return true;
    size_t cap = s->bufcap ? s->bufcap : STREAM_BUF_FIRST;
    while (cap < s->len + n) /* ends: doubles past a size bounded by STREAM_WRITE_MAX */
        cap *= 2;
    char *nb = realloc(s->buf, cap);
    if (!nb)
        return false;
    s->buf = nb;
    s->bufcap = cap;
    return true;
}

/* The common write: checks the state and the bound, reserves room for n bytes and returns
 * where to put them, with s->mu held (NULL and *rc set, lock released, on refusal). With
 * whole, an item is taken even past the bound (events); otherwise only into room. */
static char *begin_write(struct stream *s, size_t n, bool whole, int *rc)
{
    if (n > STREAM_WRITE_MAX) {
        *rc = ERR_TOOBIG;
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    if (s->closed)
        *rc = ERR_CANCELED;
    else if (s->ended)
        *rc = ERR_INVALID;
    else if (!whole && s->len > 0 && s->len + n > s->cap)
        *rc = STREAM_FULL;
    else if (whole && s->len > 0 && s->len + n > 2 * s->cap + STREAM_WRITE_MAX)
        *rc = ERR_TOOBIG; /* a producer that ignores STREAM_FULL */
    else if (!reserve(s, n))
        *rc = ERR_NOMEM;
    else
        return s->buf + s->off + s->len;
    if (*rc == STREAM_FULL)
        s->want_writable = true;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Commits n bytes written after begin_write, releases s->mu and resumes a waiting reader.
 * Returns ERR_OK, or STREAM_FULL when the buffer is now at its bound. */
static int end_write(struct stream *s, size_t n)
{
    s->len += n;
    s->last_write_ms = now_mono_ms();
    int rc = ERR_OK;
    if (s->len >= s->cap) {
        s->want_writable = true;
        rc = STREAM_FULL;
    }
    bool claim = claim_body(s);
    pthread_mutex_unlock(&s->mu);
    if (claim)
        MHD_resume_connection(s->conn);
    return rc;
}

int stream_write(struct stream *s, const void *p, size_t n)
{
    int rc = ERR_OK;
    char *dst = begin_write(s, n, false, &rc);
    if (!dst)
        return rc;
    memcpy(dst, p, n);
    end_write(s, n);
    return ERR_OK; /* taken whole: the next write learns whether there is room */
}

int stream_event(struct stream *s, const char *event, const char *data, size_t len)
{
    size_t n = sse_encoded_len(event, NULL, data, len);
    if (n == 0)
        return ERR_INVALID;
    int rc = ERR_OK;
    char *dst = begin_write(s, n, true, &rc);
    if (!dst)
        return rc;
    sse_encode(dst, event, NULL, data, len);
    return end_write(s, n);
}

int stream_comment(struct stream *s, const char *text)
{
    size_t n = sse_comment_len(text);
    if (n == 0)
        return ERR_INVALID;
    int rc = ERR_OK;
    char *dst = begin_write(s, n, true, &rc);
    if (!dst)
        return rc;
    sse_comment(dst, text);
    return end_write(s, n);
}

void stream_end(struct stream *s, bool ok)
{
    pthread_mutex_lock(&s->mu);
    if (s->ended) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->ended = true;
    s->ok = ok;
    s->want_writable = false;
    bool body = claim_body(s);
    bool head = s->head_wait;
    s->head_wait = false;
    if (!head)
        s->wake_pending = true;
    pthread_mutex_unlock(&s->mu);
    if (body || head)
        MHD_resume_connection(s->conn);
}

bool stream_closed(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool closed = s->closed;
    pthread_mutex_unlock(&s->mu);
    return closed;
}

/* ---- heartbeats (the loop thread) --------------------------------------------------------- */

static void hb_fire(struct loop_timer *t, bool canceled)
{
    struct stream *s = (struct stream *)((char *)t - offsetof(struct stream, hb));
    pthread_mutex_lock(&s->mu);
    bool over = s->ended || s->closed;
    bool quiet = now_mono_ms() - s->last_write_ms >= s->hb_ms;
    pthread_mutex_unlock(&s->mu);
    if (canceled || over) {
        shared_unref(s); /* the heartbeat's */
        return;
    }
    if (quiet)
        stream_comment(s, "keep-alive"); /* a full buffer needs no heartbeat */
    if (loop_timer_start(s->loop, &s->hb, s->hb_ms) != ERR_OK)
        shared_unref(s);
}

static void hb_start(struct loop_call *c)
{
    struct stream *s = (struct stream *)((char *)c - offsetof(struct stream, hb_start));
    if (loop_timer_start(s->loop, &s->hb, s->hb_ms) != ERR_OK)
        shared_unref(s);
}

int stream_heartbeat(struct stream *s, struct loop *loop, int interval_ms)
{
    pthread_mutex_lock(&s->mu);
    bool armed = s->loop != NULL;
    if (!armed) {
        s->loop = loop;
        s->hb_ms = interval_ms > 0 ? interval_ms : 1;
        s->hb.fn = hb_fire;
        s->hb_start.fn = hb_start;
    }
    pthread_mutex_unlock(&s->mu);
    if (armed)
        return ERR_OK;
    shared_ref(s); /* the heartbeat's */
    if (loop_post(loop, &s->hb_start) != ERR_OK) {
        shared_unref(s);
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

/* ---- the registry --------------------------------------------------------------------- */

int stream_live(void)
{
    return atomic_load(&reg.live);
}

void stream_shutdown(void)
{
    /* References to every live stream are taken under the registry's lock (which dispose
     * takes before freeing, so the entries are valid memory) and the streams ended outside
     * it: ending resumes connections, and libmicrohttpd's locks are never taken under ours. */
    pthread_mutex_lock(&reg.mu);
    size_t n = 0;
    struct stream **all = reg.n ? calloc(reg.n, sizeof(*all)) : NULL;
    struct stream *s = reg.head;
    for (size_t i = 0; all && s && i < reg.n; i++, s = s->next)
        if (shared_tryref(s))
            all[n++] = s;
    pthread_mutex_unlock(&reg.mu);
    if (!all && atomic_load(&reg.live) > 0)
        log_error("out of memory ending the streamed responses at shutdown");
    for (size_t i = 0; i < n; i++) {
        stream_end(all[i], false);
        shared_unref(all[i]);
    }
    free(all);
    struct timespec tick = {0, STREAM_SHUTDOWN_TICK_MS * 1000000L};
    for (int i = 0; i < STREAM_SHUTDOWN_WAIT_MS / STREAM_SHUTDOWN_TICK_MS; i++) {
        if (atomic_load(&reg.live) == 0)
            return;
        nanosleep(&tick, NULL);
    }
    log_warn("%d streamed responses still open at shutdown", atomic_load(&reg.live));
}
