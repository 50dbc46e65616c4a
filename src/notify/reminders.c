/* The reminder scheduler (see reminders.h). */
#include "notify/reminders.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/bgthread.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "domain/notifications.h"
#include "notify/events.h"
#include "notify/mail.h"

/* Batches claimed per round at most, so a round (and shutdown) stays short. */
#define SCHEDULER_MAX_BATCHES 50

struct scheduler {
    const struct config *cfg;
    struct store *store;
    struct mailer *mailer;
    struct events *events;
    const atomic_bool *ready;
    struct bgthread thread;
    pthread_mutex_t mu; /* stats */
    struct scheduler_stats stats;
};

/* Queues the reminder email of one notification. */
static void mail_reminder(struct scheduler *s, struct arena *a, const struct claimed *x)
{
    char base[CONFIG_ORIGIN_MAX * 2];
    config_public_url(s->cfg, base, sizeof(base));
    const char *subject = arena_printf(a, "Reminder: %.150s", x->n.title);
    const char *body = arena_printf(a, "Your task \"%s\" asked to be remembered at %s.", x->n.title,
                                    x->n.remind_at ? x->n.remind_at : "now");
    const char *link = arena_printf(a, "%s/?task=%lld", base, (long long)x->n.task_id);
    if (subject && body &&
        mail_send(s->mailer, "reminder", x->email, subject, body, link) == ERR_OK) {
        METRIC_INC(METRIC_REMINDERS_SENT, "email");
        pthread_mutex_lock(&s->mu);
        s->stats.emailed++;
        pthread_mutex_unlock(&s->mu);
    }
}

/* Claims until nothing is due (or SCHEDULER_MAX_BATCHES batches). */
static void round_once(struct scheduler *s)
{
    for (int b = 0; b < SCHEDULER_MAX_BATCHES; b++) {
        if (bgthread_stop_requested()) /* no claim once shutdown has begun */
            return;
        struct arena *a = arena_new();
        struct store_conn *c = NULL;
        if (!a || store_acquire(s->store, &c) != ERR_OK) {
            arena_free(a);
            return;
        }
        struct claimed *got = NULL;
        size_t n = 0;
        int rc = notifications_claim(c, a, now_unix(), NOTIFY_CLAIM_BATCH, &got, &n);
        store_release(c);
        pthread_mutex_lock(&s->mu);
        s->stats.rounds++;
        if (rc == ERR_OK)
            s->stats.claimed += (int64_t)n;
        else
            s->stats.errors++;
        pthread_mutex_unlock(&s->mu);
        if (rc != ERR_OK) {
            if (!bgthread_stop_requested()) /* a claim cut short by shutdown is expected */
                log_fields(LOG_WARNING, "reminders: claim failed",
                           (struct log_field[]){LF_S("error", err_str(rc))}, 1);
            arena_free(a);
            return;
        }
        for (size_t i = 0; i < n; i++)
            if (got[i].email && s->mailer)
                mail_reminder(s, a, &got[i]);
        if (n) {
            metric_add(METRIC_REMINDERS_SENT, (const char *const[]){"in_app", NULL}, (double)n);
            events_kick(s->events);
            log_fields(LOG_INFO, "reminders delivered", (struct log_field[]){LF_I("count", n)}, 1);
        }
        arena_free(a);
        if (n < NOTIFY_CLAIM_BATCH)
            return;
    }
}

static void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    while (bgthread_sleep(&s->thread, s->cfg->reminder_poll_ms))
        if (atomic_load(s->ready)) /* not before the migrations have run */
            round_once(s);
    return NULL;
}

int scheduler_start(const struct config *cfg, struct store *store, const atomic_bool *ready,
                    struct mailer *mailer, struct events *events, struct scheduler **out)
{
    struct scheduler *s = calloc(1, sizeof(*s));
    if (!s)
        return ERR_NOMEM;
    s->cfg = cfg;
    s->store = store;
    s->mailer = mailer;
    s->events = events;
    s->ready = ready;
    pthread_mutex_init(&s->mu, NULL);
    if (bgthread_start(&s->thread, scheduler_main, s) != ERR_OK) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return ERR_NOMEM;
    }
    *out = s;
    return ERR_OK;
}

struct scheduler_stats scheduler_stats(struct scheduler *s)
{
    pthread_mutex_lock(&s->mu);
    struct scheduler_stats st = s->stats;
    pthread_mutex_unlock(&s->mu);
    return st;
}

void scheduler_stop(struct scheduler *s)
{
    if (s)
        bgthread_stop(&s->thread);
}

void scheduler_free(struct scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}
