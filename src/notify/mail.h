/*
 * Outgoing email, off the request path. Callers queue a message (mail_send returns at
 * once); one mailer thread delivers the queue in order: with EMAIL_PROVIDER=console it
 * writes each message to the log as one JSON line (event "email", with its link), with
 * EMAIL_PROVIDER=smtp it sends it through libcurl's SMTP client (SMTP_TLS starttls, tls or
 * none; SMTP_USERNAME/SMTP_PASSWORD when set). A failed send is tried again after
 * MAIL_RETRY_BASE_MS, then 4× and 16× that, and given up (logged) after MAIL_ATTEMPTS. The
 * queue holds EMAIL_QUEUE_SIZE messages at most: beyond it mail_send refuses (ERR_LIMIT)
 * and the caller logs the drop. SMTP is not HTTP: it does not go through io/httpc (whose
 * pinned options are https-only); the mailer's own easy handle blocks only its own thread.
 * Secrets (SMTP_PASSWORD) never reach a log line; a message's body is only logged in
 * console mode, where the log is the delivery.
 *
 * Threads: mail_send from any thread; the rest from the thread that owns the app.
 * Memory: mail_send copies what it is given; the mailer owns its queue.
 */
#ifndef TODO_MAIL_H
#define TODO_MAIL_H

#include <stdint.h>

#include "core/config.h"

#define MAIL_ATTEMPTS          4
#define MAIL_RETRY_BASE_MS     1000
#define MAIL_TEXT_MAX          (32 * 1024) /* subject + body + link */
#define MAIL_SEND_TIMEOUT_S    60
#define MAIL_CONNECT_TIMEOUT_S 10

struct mailer;

/* Counters since start (for metrics and tests). */
struct mail_stats {
    int64_t queued, sent, failed, dropped, retried;
};

/* Starts the mailer thread for cfg (which must outlive it). ERR_OK or ERR_NOMEM; the caller
 * owns *out: mailer_stop, then mailer_free. */
int mailer_start(const struct config *cfg, struct mailer **out);

/* Queues one plain-text message: kind names it in logs ("password_reset", "reminder"),
 * link (may be NULL) is appended to the body and logged in console mode. ERR_OK,
 * ERR_INVALID (an address or subject with a line break, or too long), ERR_LIMIT (the queue
 * is full), ERR_UNAVAILABLE (stopping), ERR_NOMEM. Any thread; never blocks on the network. */
int mail_send(struct mailer *m, const char *kind, const char *to, const char *subject,
              const char *body, const char *link);

/* The counters. */
struct mail_stats mail_stats(struct mailer *m);

/* Stops taking messages, gives the thread up to timeout_ms to deliver what is queued (an
 * SMTP transfer under way is aborted at the deadline), logs what is left undelivered and
 * joins the thread. */
void mailer_stop(struct mailer *m, int timeout_ms);

/* Frees a stopped mailer. NULL is allowed. */
void mailer_free(struct mailer *m);

#endif
