/*
 * The mailer (see mail.h): a bounded FIFO of messages and one thread that delivers them,
 * to the log (console) or over SMTP with libcurl, retrying failures with backoff.
 */
#include "notify/mail.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/bgthread.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/libcurl.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

#define MAIL_STOP_POLL_MS 20
#define MAIL_ADDR_MAX     254
#define MAIL_SUBJECT_MAX  200

/* One queued message; the strings live in the same allocation, after it. */
struct msg {
    struct msg *next;
    char *kind, *to, *subject, *body, *link;
    int attempts;
    int64_t due_ms; /* not before (monotonic) */
};

struct mailer {
    const struct config *cfg;
    struct bgthread thread;
    pthread_mutex_t mu; /* the queue, the counters, closing */
    struct msg *head, *tail;
    int queued_now;
    bool closing;
    bool sending;
    atomic_bool abort; /* the stop deadline passed: cut the transfer under way */
    struct mail_stats stats;
};

/* True when s has no control character (no header or command injection) and is under max. */
static bool one_line(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
            return false;
    return n > 0;
}

static char *copy_into(char **p, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(*p, s, n);
    char *out = *p;
    *p += n;
    return out;
}

int mail_send(struct mailer *m, const char *kind, const char *to, const char *subject,
              const char *body, const char *link)
{
    if (!m)
        return ERR_UNAVAILABLE;
    if (!link)
        link = "";
    if (!one_line(to, MAIL_ADDR_MAX) || !strchr(to, '@') || strpbrk(to, "<>") ||
        !one_line(subject, MAIL_SUBJECT_MAX) || !one_line(kind, 64) ||
        (*link && !one_line(link, MAIL_TEXT_MAX)))
        return ERR_INVALID;
    size_t total = strlen(kind) + strlen(to) + strlen(subject) + strlen(body) + strlen(link) + 5;
    if (total > MAIL_TEXT_MAX)
        return ERR_INVALID;
    struct msg *g = malloc(sizeof(*g) + total);
    if (!g)
        return ERR_NOMEM;
    char *p = (char *)(g + 1);
    g->next = NULL;
    g->kind = copy_into(&p, kind);
    g->to = copy_into(&p, to);
    g->subject = copy_into(&p, subject);
    g->body = copy_into(&p, body);
    g->link = copy_into(&p, link);
    g->attempts = 0;
    g->due_ms = 0;
    pthread_mutex_lock(&m->mu);
    int rc = ERR_OK;
    if (m->closing)
        rc = ERR_UNAVAILABLE;
    else if (m->queued_now >= m->cfg->email_queue_size)
        rc = ERR_LIMIT;
    if (rc == ERR_OK) {
        if (m->tail)
            m->tail->next = g;
        else
            m->head = g;
        m->tail = g;
        m->queued_now++;
        m->stats.queued++;
        METRIC_INC(METRIC_EMAILS_QUEUED, kind);
    } else {
        m->stats.dropped++;
    }
    pthread_mutex_unlock(&m->mu);
    if (rc != ERR_OK) {
        free(g);
        log_fields(
            LOG_WARNING, "email dropped",
            (struct log_field[]){LF_S("kind", kind),
                                 LF_S("reason", rc == ERR_LIMIT ? "queue full" : "stopping")},
            2);
        return rc;
    }
    bgthread_kick(&m->thread);
    return ERR_OK;
}

struct mail_stats mail_stats(struct mailer *m)
{
    pthread_mutex_lock(&m->mu);
    struct mail_stats s = m->stats;
    pthread_mutex_unlock(&m->mu);
    return s;
}

/* ---- delivery ------------------------------------------------------------------------------ */

/* The console provider: one JSON log line a local user can read (and click) the link in. */
static int deliver_console(const struct msg *g)
{
    log_fields(LOG_INFO, "email",
               (struct log_field[]){LF_S("kind", g->kind), LF_S("to", g->to),
                                    LF_S("subject", g->subject), LF_S("link", g->link),
                                    LF_S("text", g->body)},
               5);
    return ERR_OK;
}

/* The RFC 5322 message (CRLF line ends; libcurl dot-stuffs the body). Heap text or NULL. */
static char *message_text(const struct config *cfg, const struct msg *g)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char id[33];
    random_hex(id, sizeof(id) - 1);
    const char *at = strchr(cfg->from_email, '@');
    struct dynbuf d;
    dyn_init_heap(&d, MAIL_TEXT_MAX * 2);
    dyn_addf(&d, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s%s>\r\n", date,
             cfg->from_email, g->to, g->subject, id, at ? at : "@localhost");
    dyn_add(&d, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n");
    for (const char *p = g->body; *p; p++) { /* bare LF → CRLF */
        if (*p == '\n' && (p == g->body || p[-1] != '\r'))
            dyn_addc(&d, '\r');
        dyn_addc(&d, *p);
    }
    if (*g->link)
        dyn_addf(&d, "\r\n\r\n%s", g->link);
    dyn_add(&d, "\r\n");
    return dyn_take(&d);
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t room = size * n, k = u->left < room ? u->left : room;
    memcpy(buf, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

static int progress_cb(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    struct mailer *m = ud;
    return atomic_load(&m->abort) ? 1 : 0;
}

/* One SMTP transaction. ERR_OK, or ERR_UNAVAILABLE with a reason (never a secret) in why. */
static int deliver_smtp(struct mailer *m, const struct msg *g, const char **why)
{
    const struct config *cfg = m->cfg;
    char *text = message_text(cfg, g);
    if (!text) {
        *why = "message too large";
        return ERR_NOMEM;
    }
    char url[512], from[MAIL_ADDR_MAX + 3], to[MAIL_ADDR_MAX + 3];
    struct dynbuf u;
    dyn_init_fixed(&u, url, sizeof(url));
    bool v6 = strchr(cfg->smtp_host, ':') != NULL;
    dyn_addf(&u, "%s://%s%s%s:%d", cfg->smtp_tls == SMTP_TLS_TLS ? "smtps" : "smtp", v6 ? "[" : "",
             cfg->smtp_host, v6 ? "]" : "", cfg->smtp_port);
    snprintf(from, sizeof(from), "<%s>", cfg->from_email);
    snprintf(to, sizeof(to), "<%s>", g->to);
    CURL *e = libcurl_ready() ? curl_easy_init() : NULL;
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    int rc = ERR_OK;
    if (!e || !rcpt || dyn_err(&u) != ERR_OK) {
        *why = "out of memory";
        rc = ERR_NOMEM;
        goto out;
    }
    struct upload up = {text, strlen(text)};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)MAIL_CONNECT_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)MAIL_SEND_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_USE_SSL,
                     cfg->smtp_tls == SMTP_TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    if (cfg->smtp_username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->smtp_username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->smtp_password ? cfg->smtp_password : "");
    }
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, &up);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, m);
    CURLcode cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        *why = curl_easy_strerror(cc); /* static text; never the credentials */
        rc = ERR_UNAVAILABLE;
    }
out:
    curl_slist_free_all(rcpt);
    if (e)
        curl_easy_cleanup(e);
    free(text);
    return rc;
}

/* Takes the first message that is due (FIFO among the due); *wait_ms is how long until the
 * next one otherwise (-1: none queued). Caller holds mu. */
static struct msg *take_due(struct mailer *m, int64_t now, int64_t *wait_ms)
{
    struct msg *prev = NULL;
    *wait_ms = -1;
    for (struct msg *g = m->head; g; prev = g, g = g->next) {
        if (g->due_ms <= now || m->closing) {
            if (prev)
                prev->next = g->next;
            else
                m->head = g->next;
            if (m->tail == g)
                m->tail = prev;
            m->queued_now--;
            g->next = NULL;
            return g;
        }
        int64_t w = g->due_ms - now;
        if (*wait_ms < 0 || w < *wait_ms)
            *wait_ms = w;
    }
    return NULL;
}

static void requeue(struct mailer *m, struct msg *g)
{
    if (m->tail)
        m->tail->next = g;
    else
        m->head = g;
    m->tail = g;
    m->queued_now++;
}

static void *mailer_main(void *arg)
{
    struct mailer *m = arg;
    for (;;) {
        int64_t wait = -1;
        pthread_mutex_lock(&m->mu);
        struct msg *g = atomic_load(&m->abort) ? NULL : take_due(m, now_mono_ms(), &wait);
        m->sending = g != NULL;
        pthread_mutex_unlock(&m->mu);
        if (!g) {
            if (!bgthread_sleep(&m->thread, wait))
                break;
            continue;
        }
        const char *why = NULL;
        int rc =
            m->cfg->email_provider == EMAIL_SMTP ? deliver_smtp(m, g, &why) : deliver_console(g);
        g->attempts++;
        pthread_mutex_lock(&m->mu);
        m->sending = false;
        bool retry = rc == ERR_UNAVAILABLE && g->attempts < MAIL_ATTEMPTS && !m->closing;
        if (rc == ERR_OK)
            m->stats.sent++;
        else if (retry)
            m->stats.retried++;
        else
            m->stats.failed++;
        if (rc == ERR_OK)
            METRIC_INC(METRIC_EMAILS_SENT, g->kind);
        else if (!retry)
            METRIC_INC(METRIC_EMAILS_FAILED, g->kind);
        if (retry) {
            int64_t delay = MAIL_RETRY_BASE_MS;
            for (int i = 1; i < g->attempts; i++)
                delay *= 4;
            g->due_ms = now_mono_ms() + delay;
            requeue(m, g);
        }
        pthread_mutex_unlock(&m->mu);
        if (rc != ERR_OK)
            log_fields(retry ? LOG_WARNING : LOG_ERROR,
                       retry ? "email not sent; will retry" : "email not sent; giving up",
                       (struct log_field[]){LF_S("kind", g->kind), LF_I("attempt", g->attempts),
                                            LF_S("error", why ? why : err_str(rc))},
                       3);
        else if (m->cfg->email_provider == EMAIL_SMTP)
            log_fields(LOG_INFO, "email sent",
                       (struct log_field[]){LF_S("kind", g->kind), LF_I("attempt", g->attempts)},
                       2);
        if (!retry)
            free(g);
    }
    return NULL;
}

int mailer_start(const struct config *cfg, struct mailer **out)
{
    struct mailer *m = calloc(1, sizeof(*m));
    if (!m)
        return ERR_NOMEM;
    m->cfg = cfg;
    pthread_mutex_init(&m->mu, NULL);
    if (bgthread_start(&m->thread, mailer_main, m) != ERR_OK) {
        pthread_mutex_destroy(&m->mu);
        free(m);
        return ERR_NOMEM;
    }
    *out = m;
    return ERR_OK;
}

void mailer_stop(struct mailer *m, int timeout_ms)
{
    if (!m)
        return;
    int64_t deadline = now_mono_ms() + timeout_ms;
    pthread_mutex_lock(&m->mu);
    m->closing = true; /* retries waiting are tried once more now, not later */
    pthread_mutex_unlock(&m->mu);
    bgthread_kick(&m->thread);
    struct timespec poll = {0, MAIL_STOP_POLL_MS * 1000000L};
    for (;;) {
        pthread_mutex_lock(&m->mu);
        bool idle = !m->head && !m->sending;
        pthread_mutex_unlock(&m->mu);
        if (idle || now_mono_ms() >= deadline)
            break;
        nanosleep(&poll, NULL);
    }
    atomic_store(&m->abort, true);
    bgthread_stop(&m->thread);
    int lost = 0;
    for (struct msg *g = m->head, *next; g; g = next) {
        next = g->next;
        free(g);
        lost++;
    }
    m->head = m->tail = NULL;
    if (lost)
        log_fields(LOG_WARNING, "emails not delivered at shutdown",
                   (struct log_field[]){LF_I("count", lost)}, 1);
}

void mailer_free(struct mailer *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}
