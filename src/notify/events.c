/*
 * The event hub (see events.h): the list of open streams, the hub thread that reads task
 * versions and recent notifications for their users and writes the events, and the set of
 * notification ids already sent.
 */
#include "notify/events.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/bgthread.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sse.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/notifications.h"
#include "domain/tasks.h"
#include "domain/users.h"
#include "http/stream.h"

/* After a kick, one more look this soon: the change that kicked may not have committed. */
#define EVENTS_RECHECK_MS 150

/* A subscriber: the data area of its stream. */
struct sub {
    struct events *ev;
    struct stream *s;
    struct sub *prev, *next;
    bool linked;     /* in the hub's list, holding the hub's reference to s */
    int64_t version; /* the task version last announced (hub thread only once linked) */
    char uid[USER_ID_MAX + 1];
};

/* A notification id sent, and when (monotonic ms). */
struct sent {
    int64_t id;
    int64_t at_ms;
};

struct events {
    const struct config *cfg;
    struct store *store;
    struct loop *loop;
    pthread_mutex_t mu; /* subs, n, stopping */
    struct sub *subs;
    int n;
    bool stopping;
    struct bgthread thread;
    /* Hub thread only. */
    struct sent *sent; /* sorted by id */
    size_t n_sent;
};

static struct events *the_hub; /* for the task-change hook (one app per process) */

/* ---- the streams' hooks ---------------------------------------------------------------- */

static void unlink_sub(struct sub *u)
{
    struct events *ev = u->ev;
    pthread_mutex_lock(&ev->mu);
    bool was = u->linked;
    if (was) {
        if (u->prev)
            u->prev->next = u->next;
        else
            ev->subs = u->next;
        if (u->next)
            u->next->prev = u->prev;
        u->linked = false;
        ev->n--;
    }
    pthread_mutex_unlock(&ev->mu);
    if (was)
        stream_release(u->s); /* the hub's reference */
}

static void sub_closed(struct stream *s)
{
    unlink_sub(stream_data(s));
}

static const struct stream_hooks sub_hooks = {.closed = sub_closed};

/* ---- writing ------------------------------------------------------------------------------ */

/* Writes one framed event (with an id when id is not NULL). A stream that cannot take it
 * (full: its reader does not keep up) is ended; its client reconnects and re-reads. */
static void send_event(struct stream *s, struct arena *a, const char *event, const char *id,
                       const char *data, size_t len)
{
    size_t n = sse_encoded_len(event, id, data, len);
    char *buf = n ? arena_alloc(a, n) : NULL;
    if (!buf)
        return;
    sse_encode(buf, event, id, data, len);
    int rc = stream_write(s, buf, n);
    if (rc == STREAM_FULL)
        stream_end(s, false);
}

/* ---- the sent set --------------------------------------------------------------------------- */

static size_t sent_find(const struct events *ev, int64_t id, bool *found)
{
    size_t lo = 0, hi = ev->n_sent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ev->sent[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < ev->n_sent && ev->sent[lo].id == id;
    return lo;
}

/* Records id as sent; false when it was already. */
static bool sent_add(struct events *ev, int64_t id, int64_t now_ms)
{
    bool found;
    size_t at = sent_find(ev, id, &found);
    if (found)
        return false;
    if (ev->n_sent == EVENTS_SENT_MAX) { /* forget the smallest id: the oldest, most likely */
        memmove(ev->sent, ev->sent + 1, (ev->n_sent - 1) * sizeof(*ev->sent));
        ev->n_sent--;
        if (at > 0)
            at--;
    }
    memmove(ev->sent + at + 1, ev->sent + at, (ev->n_sent - at) * sizeof(*ev->sent));
    ev->sent[at] = (struct sent){id, now_ms};
    ev->n_sent++;
    return true;
}

/* Forgets ids sent more than twice the window ago (they can no longer be read back). */
static void sent_prune(struct events *ev, int64_t now_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < ev->n_sent; i++)
        if (now_ms - ev->sent[i].at_ms < 2 * EVENTS_WINDOW_S * 1000)
            ev->sent[k++] = ev->sent[i];
    ev->n_sent = k;
}

/* ---- a round of the hub ----------------------------------------------------------------- */

/* Streams of the round: references taken under the lock, dropped at the end. */
struct snap {
    struct stream **s;
    struct sub **u;
    size_t n;
};

static int take_snapshot(struct events *ev, struct arena *a, struct snap *sn)
{
    pthread_mutex_lock(&ev->mu);
    size_t n = (size_t)ev->n;
    sn->n = 0;
    sn->s = arena_calloc(a, n ? n : 1, sizeof(*sn->s));
    sn->u = arena_calloc(a, n ? n : 1, sizeof(*sn->u));
    if (!sn->s || !sn->u) {
        pthread_mutex_unlock(&ev->mu);
        return ERR_NOMEM;
    }
    for (struct sub *u = ev->subs; u && sn->n < n; u = u->next) {
        sn->s[sn->n] = stream_ref(u->s);
        sn->u[sn->n++] = u;
    }
    pthread_mutex_unlock(&ev->mu);
    return ERR_OK;
}

static void drop_snapshot(struct snap *sn)
{
    for (size_t i = 0; i < sn->n; i++)
        stream_release(sn->s[i]);
    sn->n = 0;
}

/* The snapshot's distinct user ids as a JSON array (arena text), or NULL. */
static const char *uids_json(struct arena *a, const struct snap *sn)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_val *arr = doc ? yyjson_mut_arr(doc) : NULL;
    if (!arr)
        return NULL;
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < sn->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) /* n is bounded by EVENTS_MAX_STREAMS */
            dup = strcmp(sn->u[j]->uid, sn->u[i]->uid) == 0;
        if (!dup)
            yyjson_mut_arr_add_str(doc, arr, sn->u[i]->uid);
    }
    return yyjson_mut_write_opts(doc, 0, &alc, NULL, NULL);
}

static void announce_versions(struct arena *a, const struct snap *sn, const char **uids,
                              const int64_t *versions, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const char *data = arena_printf(a, "{\"version\":%lld}", (long long)versions[k]);
        for (size_t i = 0; data && i < sn->n; i++) {
            struct sub *u = sn->u[i];
            if (strcmp(u->uid, uids[k]) != 0 || versions[k] <= u->version)
                continue;
            u->version = versions[k];
            send_event(sn->s[i], a, "tasks", NULL, data, strlen(data));
        }
    }
}

static void announce_notes(struct events *ev, struct arena *a, const struct snap *sn,
                           const struct notification *notes, size_t n)
{
    int64_t now_ms = now_mono_ms();
    for (size_t k = 0; k < n; k++) {
        if (!sent_add(ev, notes[k].id, now_ms))
            continue;
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
        if (!doc)
            continue;
        yyjson_mut_doc_set_root(doc, notification_to_json(doc, &notes[k]));
        size_t len = 0;
        const char *data = yyjson_mut_write_opts(doc, 0, &alc, &len, NULL);
        const char *id = arena_printf(a, "%lld", (long long)notes[k].id);
        for (size_t i = 0; data && id && i < sn->n; i++)
            if (strcmp(sn->u[i]->uid, notes[k].user_id) == 0)
                send_event(sn->s[i], a, "reminder", id, data, len);
    }
}

static void hub_round(struct events *ev)
{
    struct arena *a = arena_new();
    if (!a)
        return;
    struct snap sn = {0};
    if (take_snapshot(ev, a, &sn) != ERR_OK || sn.n == 0)
        goto out;
    const char *json = uids_json(a, &sn);
    struct store_conn *c = NULL;
    /* Not once shutdown has begun (its waits would give up at once anyway). */
    if (!json || bgthread_stop_requested() || store_acquire(ev->store, &c) != ERR_OK)
        goto out;
    const char **uids = NULL;
    int64_t *versions = NULL;
    size_t nv = 0;
    if (notifications_versions(c, a, json, &uids, &versions, &nv) == ERR_OK)
        announce_versions(a, &sn, uids, versions, nv);
    char since[TIME_TEXT_MAX];
    time_format(now_unix() - EVENTS_WINDOW_S, since);
    struct notification *notes = NULL;
    size_t nn = 0;
    int rc = notifications_recent(c, a, json, since, &notes, &nn);
    store_release(c);
    if (rc == ERR_OK)
        announce_notes(ev, a, &sn, notes, nn);
out:
    drop_snapshot(&sn);
    sent_prune(ev, now_mono_ms());
    arena_free(a);
}

static void *hub_main(void *arg)
{
    struct events *ev = arg;
    int64_t wait = ev->cfg->events_poll_ms;
    for (;;) {
        int64_t t0 = now_mono_ms();
        if (!bgthread_sleep(&ev->thread, wait))
            break;
        bool kicked = now_mono_ms() - t0 < wait;
        hub_round(ev);
        wait = kicked ? EVENTS_RECHECK_MS : ev->cfg->events_poll_ms;
    }
    return NULL;
}

/* The task-change hook (domain/tasks.h): a write here is announced at once. */
static void on_tasks_changed(const char *uid)
{
    (void)uid;
    events_kick(the_hub);
}

/* ---- the API -------------------------------------------------------------------------------- */

int events_start(const struct config *cfg, struct store *store, struct loop *loop,
                 struct events **out)
{
    struct events *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return ERR_NOMEM;
    ev->cfg = cfg;
    ev->store = store;
    ev->loop = loop;
    ev->sent = calloc(EVENTS_SENT_MAX, sizeof(*ev->sent));
    pthread_mutex_init(&ev->mu, NULL);
    if (!ev->sent || bgthread_start(&ev->thread, hub_main, ev) != ERR_OK) {
        pthread_mutex_destroy(&ev->mu);
        free(ev->sent);
        free(ev);
        return ERR_NOMEM;
    }
    the_hub = ev;
    tasks_on_change(on_tasks_changed);
    *out = ev;
    return ERR_OK;
}

void events_kick(struct events *ev)
{
    if (ev)
        bgthread_kick(&ev->thread);
}

int events_subscribe(struct events *ev, struct request *req, const char *uid, int64_t version,
                     struct stream **out)
{
    if (strlen(uid) > USER_ID_MAX)
        return ERR_INVALID;
    struct stream *s = NULL;
    int rc = stream_new(req, EVENTS_BUFFER_BYTES, &sub_hooks, sizeof(struct sub), &s);
    if (rc != ERR_OK)
        return rc;
    struct sub *u = stream_data(s);
    u->ev = ev;
    u->s = s;
    u->version = version;
    snprintf(u->uid, sizeof(u->uid), "%s", uid);
    char open[96];
    int n = snprintf(open, sizeof(open), "retry: %d\n\n", EVENTS_RETRY_MS);
    const char *ready = arena_printf(req->arena, "{\"version\":%lld}", (long long)version);
    if (!ready) {
        stream_release(s);
        return ERR_NOMEM;
    }
    stream_write(s, open, (size_t)n);
    stream_event(s, "ready", ready, strlen(ready));
    pthread_mutex_lock(&ev->mu);
    int mine = 0;
    struct sub *oldest = NULL; /* the list is newest first */
    for (struct sub *x = ev->subs; x; x = x->next)
        if (strcmp(x->uid, uid) == 0) {
            mine++;
            oldest = x;
        }
    /* A user at the limit loses their oldest stream, most likely a tab reloaded or closed
     * whose connection is not noticed gone before the next heartbeat: the newest wins. */
    struct stream *evict = mine >= EVENTS_MAX_PER_USER ? stream_ref(oldest->s) : NULL;
    if (ev->stopping || ev->n >= EVENTS_MAX_STREAMS + (evict ? 1 : 0))
        rc = ERR_UNAVAILABLE;
    if (rc == ERR_OK) {
        u->next = ev->subs;
        if (ev->subs)
            ev->subs->prev = u;
        ev->subs = u;
        u->linked = true;
        ev->n++;
        stream_ref(s); /* the hub's */
    }
    pthread_mutex_unlock(&ev->mu);
    if (evict) {
        if (rc == ERR_OK) {
            unlink_sub(stream_data(evict));
            stream_end(evict, true);
        }
        stream_release(evict);
    }
    if (rc == ERR_OK)
        rc = stream_heartbeat(s, ev->loop, EVENTS_HEARTBEAT_MS);
    if (rc != ERR_OK) {
        unlink_sub(u);
        stream_end(s, false);
        stream_release(s);
        return rc;
    }
    *out = s;
    return ERR_OK;
}

int events_live(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    int n = ev->n;
    pthread_mutex_unlock(&ev->mu);
    return n;
}

void events_quiesce(struct events *ev)
{
    if (!ev)
        return;
    tasks_on_change(NULL);
    bgthread_stop(&ev->thread);
    /* End every stream: take references under the lock, end them outside it (ending one
     * may run its closed hook, which takes the lock). */
    for (;;) {
        struct stream *batch[64];
        size_t k = 0;
        pthread_mutex_lock(&ev->mu);
        ev->stopping = true;
        for (struct sub *u = ev->subs; u && k < ARRAY_LEN(batch); u = u->next)
            batch[k++] = stream_ref(u->s);
        pthread_mutex_unlock(&ev->mu);
        for (size_t i = 0; i < k; i++) {
            unlink_sub(stream_data(batch[i]));
            stream_end(batch[i], true);
            stream_release(batch[i]);
        }
        if (k < ARRAY_LEN(batch))
            break;
    }
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    if (the_hub == ev)
        the_hub = NULL;
    pthread_mutex_destroy(&ev->mu);
    free(ev->sent);
    free(ev);
}
