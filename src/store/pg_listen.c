/* The notification listener, its table of versions and the listeners' acknowledgements
 * (see pg_listen.h). */
#include "store/pg_listen.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/pg_addr.h"

#define LOCK_STRIPES 64
/* Acknowledgements waiting to be sent; beyond this they are dropped (the writers waiting for
 * them then mark this listener lagging, which costs them a wait, never a stale read). */
#define ACK_PENDING_MAX 65536
/* One NOTIFY payload (PostgreSQL's limit is 8000 bytes). */
#define ACK_PAYLOAD_MAX 7000

struct vslot {
    char key[PG_LISTEN_KEY_MAX + 1]; /* "" when empty */
    int64_t version;
    uint64_t epoch; /* the listening epoch it was written in */
    uint64_t gen;   /* grows with every notification that lands in this slot */
};

/* One acknowledged version: of the key whose hash_str is hash. */
struct ack {
    uint64_t hash;
    int64_t version;
};

/* What one listener (this process's or another replica's) acknowledged. */
struct peer {
    int pid;          /* its backend's process id; 0: a free entry */
    bool lagging;     /* missed a write's wait: not waited for until it acknowledges again */
    bool seen;        /* in the last heartbeat's list of listeners */
    int64_t since_ms; /* when this process first saw it */
    struct ack acks[PG_LISTEN_ACK_SLOTS];
};

struct pg_listen {
    char *url;
    pthread_t thread;
    int stop_fd; /* eventfd: readable when the thread must stop */
    /* The thread's end (see pg_listen_stop): end_mu guards ended and orphaned. */
    pthread_mutex_t end_mu;
    pthread_cond_t end_cv;
    bool ended;    /* the thread has finished its work */
    bool orphaned; /* pg_listen_stop gave up waiting: the thread frees l itself */
    /* Odd while not listening; each change of state increments it. Written by the thread. */
    atomic_uint_fast64_t epoch;
    atomic_bool trusted; /* listening for PG_LISTEN_TRUST_AFTER_MS in this epoch */
    atomic_int sock;     /* the listening socket while epoch is even, else -1 */
    atomic_bool busy;    /* the thread is reading or applying input */
    pthread_mutex_t mu[LOCK_STRIPES];
    pthread_cond_t cv; /* with mu[0] (which guards peers): input was applied */
    struct peer peers[PG_LISTEN_PEERS];
    /* With mu[0], written by the thread: the listening connection's backend pid in this
     * epoch (0 while down), whose peer entry apply() fills directly. */
    int self_pid;
    bool peers_known; /* with mu[0]: a heartbeat has answered (peers lists the listeners) */
    struct vslot slots[PG_LISTEN_SLOTS];
    /* The thread's only: whether another listener is known (see alone). */
    bool foreign_beat;  /* the last heartbeat listed a listener other than this one */
    int64_t foreign_ms; /* when a hello or acknowledgement of another listener last came */
    /* The thread's only: acknowledgements not yet sent (" hash:version" each). */
    char pending[ACK_PENDING_MAX];
    size_t npending;
    char query[ACK_PENDING_MAX + 4096]; /* the thread's: the statement send_query builds */
};

static size_t slot_of(const char *key)
{
    return (size_t)(hash_str(key) % PG_LISTEN_SLOTS);
}

static pthread_mutex_t *lock_of(struct pg_listen *l, size_t slot)
{
    return &l->mu[slot % LOCK_STRIPES];
}

/* True when the listening socket has nothing unread and the thread is not applying input,
 * so every notification that reached this process is in the table. */
static bool caught_up(struct pg_listen *l, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (fd < 0 || poll(&p, 1, 0) != 0)
        return false; /* input waiting, an error, or a closed socket */
    return !atomic_load(&l->busy);
}

bool pg_listen_peek(struct pg_listen *l, const char *key, int64_t *out, struct store_vticket *t)
{
    size_t len = strlen(key);
    uint64_t ep = atomic_load(&l->epoch);
    size_t i = slot_of(key);
    struct vslot *s = &l->slots[i];
    bool hit = false;
    t->epoch = ep;
    pthread_mutex_lock(lock_of(l, i));
    t->gen = s->gen;
    pthread_mutex_unlock(lock_of(l, i));
    if (ep % 2 == 1 || len > PG_LISTEN_KEY_MAX || !atomic_load(&l->trusted) ||
        !caught_up(l, atomic_load(&l->sock)))
        return false;
    pthread_mutex_lock(lock_of(l, i));
    if (s->epoch == ep && memcmp(s->key, key, len + 1) == 0) {
        *out = s->version;
        hit = true;
    }
    pthread_mutex_unlock(lock_of(l, i));
    /* The connection may have gone down (and its socket number been reused) meanwhile. */
    return hit && atomic_load(&l->epoch) == ep;
}

void pg_listen_put(struct pg_listen *l, const char *key, int64_t v, const struct store_vticket *t)
{
    size_t len = strlen(key);
    if (t->epoch % 2 == 1 || len > PG_LISTEN_KEY_MAX)
        return;
    size_t i = slot_of(key);
    struct vslot *s = &l->slots[i];
    pthread_mutex_lock(lock_of(l, i));
    /* A notification for this slot since the ticket may announce a newer version than the
     * one read: then nothing is remembered. */
    if (s->gen == t->gen && atomic_load(&l->epoch) == t->epoch) {
        memcpy(s->key, key, len + 1);
        s->version = v;
        s->epoch = t->epoch;
    }
    pthread_mutex_unlock(lock_of(l, i));
}

/* True when peer p acknowledged version v (or a later one) of the key hashed h. */
static bool acked(const struct peer *p, uint64_t h, int64_t v)
{
    const struct ack *a = &p->acks[h % PG_LISTEN_ACK_SLOTS];
    return a->hash == h && a->version >= v;
}

/* Records that peer p acknowledged version v of the key hashed h (mu[0] held). */
static void record_ack(struct peer *p, uint64_t h, int64_t v)
{
    struct ack *a = &p->acks[h % PG_LISTEN_ACK_SLOTS];
    if (a->hash != h || a->version < v) {
        a->hash = h;
        a->version = v;
    }
}

/* The peer entry of the listener whose backend is pid; NULL if none (mu[0] held). */
static struct peer *find_peer(struct pg_listen *l, long pid)
{
    for (size_t i = 0; pid > 0 && i < PG_LISTEN_PEERS; i++)
        if (l->peers[i].pid == pid)
            return &l->peers[i];
    return NULL;
}

/* A new peer entry for pid (mu[0] held); NULL when every entry is taken. */
static struct peer *add_peer(struct pg_listen *l, long pid)
{
    for (size_t i = 0; i < PG_LISTEN_PEERS; i++) {
        struct peer *p = &l->peers[i];
        if (!p->pid) {
            memset(p, 0, sizeof(*p));
            p->pid = (int)pid;
            p->since_ms = now_mono_ms();
            return p;
        }
    }
    return NULL;
}

void pg_listen_await(struct pg_listen *l, const char *key, int64_t v, int timeout_ms)
{
    uint64_t h = hash_str(key);
    struct timespec ts;
    timespec_after_ms(&ts, timeout_ms);
    pthread_mutex_lock(&l->mu[0]);
    uint64_t start = atomic_load(&l->epoch);
    for (;;) {
        /* While this process does not listen it cannot see acknowledgements: it waits for
         * its listener to be back (the other replicas may be listening all along), and, at
         * the start, for the first heartbeat to tell which listeners there are. */
        bool all = atomic_load(&l->epoch) % 2 == 0 && l->peers_known;
        for (size_t i = 0; i < PG_LISTEN_PEERS && all; i++) {
            const struct peer *p = &l->peers[i];
            all = !p->pid || p->lagging || acked(p, h, v);
        }
        if (all)
            break;
        if (pthread_cond_timedwait(&l->cv, &l->mu[0], &ts) != ETIMEDOUT)
            continue;
        /* Only a listener that stayed up all along can tell a silent peer; a peer that may
         * have started listening after the commit (it trusts nothing yet) is not one. */
        int64_t now = now_mono_ms();
        for (size_t i = 0; atomic_load(&l->epoch) == start && start % 2 == 0 && i < PG_LISTEN_PEERS;
             i++) {
            struct peer *p = &l->peers[i];
            if (p->pid && !p->lagging && !acked(p, h, v) &&
                now - p->since_ms > PG_LISTEN_TRUST_AFTER_MS) {
                p->lagging = true;
                log_warn("postgres: the change listener of backend %d did not acknowledge a "
                         "change within %d ms; writes stop waiting for it until it does",
                         p->pid, timeout_ms);
            }
        }
        log_debug("postgres: a change was not acknowledged by every replica within %d ms",
                  timeout_ms);
        break;
    }
    pthread_mutex_unlock(&l->mu[0]);
}

/* Applies one notification "<key> <version>": the slot takes the key and its version (a
 * notification always carries the latest committed version of its key), this listener's own
 * peer entry records it as acknowledged, and the acknowledgement for the other listeners is
 * queued. */
static void apply(struct pg_listen *l, const char *payload, uint64_t ep)
{
    const char *sp = strchr(payload, ' ');
    int64_t v;
    if (!sp || (size_t)(sp - payload) > PG_LISTEN_KEY_MAX ||
        parse_int64(sp + 1, 0, INT64_MAX, &v) != ERR_OK)
        return;
    char key[PG_LISTEN_KEY_MAX + 1];
    size_t len = (size_t)(sp - payload);
    memcpy(key, payload, len);
    key[len] = '\0';
    size_t i = slot_of(key);
    struct vslot *s = &l->slots[i];
    pthread_mutex_lock(lock_of(l, i));
    s->gen++;
    if (s->epoch != ep || strcmp(s->key, key) != 0 || s->version < v) {
        memcpy(s->key, key, len + 1);
        s->version = v;
        s->epoch = ep;
    }
    pthread_mutex_unlock(lock_of(l, i));
    uint64_t h = hash_str(key);
    pthread_mutex_lock(&l->mu[0]);
    struct peer *self = find_peer(l, l->self_pid);
    if (self) {
        record_ack(self, h, v);
        self->lagging = false;
    }
    pthread_mutex_unlock(&l->mu[0]);
    char ack[48];
    int n = snprintf(ack, sizeof(ack), " %016" PRIx64 ":%" PRId64, h, v);
    if (n > 0 && (size_t)n < sizeof(ack) && l->npending + (size_t)n <= sizeof(l->pending)) {
        memcpy(l->pending + l->npending, ack, (size_t)n);
        l->npending += (size_t)n;
    }
}

/* Records an acknowledgement "<pid> <hash>:<version>..." from a listener, or its hello
 * ("<pid>": no entries), and that another listener exists (mu[0] held). This listener's own
 * are ignored: apply() recorded them already. */
static void apply_ack(struct pg_listen *l, const char *payload)
{
    char *end;
    long pid = strtol(payload, &end, 10);
    if (end == payload || pid <= 0 || pid == l->self_pid)
        return;
    l->foreign_ms = now_mono_ms();
    struct peer *p = find_peer(l, pid);
    if (!p)
        return; /* not (yet) a listener this process waits for */
    const char *c = end;
    for (int n = 0; n < 1000 && *c == ' '; n++) {
        char *colon;
        uint64_t h = strtoull(c + 1, &colon, 16);
        if (*colon != ':')
            return;
        char *next;
        long long v = strtoll(colon + 1, &next, 10);
        if (next == colon + 1)
            return;
        record_ack(p, h, v);
        p->lagging = false; /* it acknowledges again */
        c = next;
    }
}

/* Replaces the set of listeners with the heartbeat's answer (one pid per row), keeping what
 * the ones still present acknowledged, and this listener's own entry in any case (mu[0]
 * held). */
static void set_peers(struct pg_listen *l, PGresult *r)
{
    for (size_t i = 0; i < PG_LISTEN_PEERS; i++)
        l->peers[i].seen = l->peers[i].pid && l->peers[i].pid == l->self_pid;
    l->foreign_beat = false;
    l->peers_known = true;
    int rows = PQntuples(r);
    for (int row = 0; row < rows; row++) {
        long pid = strtol(PQgetvalue(r, row, 0), NULL, 10);
        if (pid <= 0)
            continue;
        if (pid != l->self_pid)
            l->foreign_beat = true;
        struct peer *p = find_peer(l, pid);
        if (!p)
            p = add_peer(l, pid);
        if (p)
            p->seen = true;
    }
    for (size_t i = 0; i < PG_LISTEN_PEERS; i++)
        if (l->peers[i].pid && !l->peers[i].seen)
            l->peers[i].pid = 0;
}

/* Makes pid (0: none) this listener's own backend: the entry of the previous one goes, and
 * pid gets an entry at once, so that writes wait for this listener from its first epoch on
 * and apply() has where to record what it applied. */
static void set_self(struct pg_listen *l, int pid)
{
    pthread_mutex_lock(&l->mu[0]);
    struct peer *old = find_peer(l, l->self_pid);
    if (old)
        old->pid = 0;
    l->self_pid = pid;
    if (pid && !find_peer(l, pid))
        (void)add_peer(l, pid);
    pthread_mutex_unlock(&l->mu[0]);
}

/* Whether this listener knows of no other: its last heartbeat listed none, and no hello or
 * acknowledgement of another came within 2 heartbeat timeouts (a heartbeat answered after
 * that was sent after that listener connected, so it lists it). */
static bool alone(const struct pg_listen *l, int64_t now)
{
    return !l->foreign_beat &&
           (!l->foreign_ms || now - l->foreign_ms > 2 * PG_LISTEN_HEARTBEAT_TIMEOUT_MS);
}

/* Wakes the writers waiting in pg_listen_await. */
static void announce(struct pg_listen *l)
{
    pthread_mutex_lock(&l->mu[0]);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu[0]);
}

/* Waits until fd is ready for events or the thread must stop (false), at most ms. */
static bool wait_fd(struct pg_listen *l, int fd, short events, int ms, bool *ready)
{
    struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = l->stop_fd, .events = POLLIN}};
    int n = poll(p, 2, ms);
    if (n < 0 && errno != EINTR)
        return false;
    if (n > 0 && p[1].revents)
        return false;
    *ready = n > 0 && p[0].revents;
    return true;
}

/* Whether the thread was asked to stop (its stop_fd is readable); for the host name
 * lookup's polls. */
static bool stop_asked(void *arg)
{
    struct pg_listen *l = arg;
    struct pollfd p = {.fd = l->stop_fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* libpq's notices (a server's goodbye on an idle connection) are expected here. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgres: notification connection: %s", message);
}

/* Connects and LISTENs; NULL when that fails or the thread must stop. */
static PGconn *listen_conn(struct pg_listen *l, bool *stop)
{
    const char *keys[] = {
        "connect_timeout",     "application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",     NULL};
    const char *vals[] = {"3", PG_LISTEN_APP_NAME, "1", "10", "5", "3", l->url, NULL};
    int64_t deadline = now_mono_ms() + 5000;
    struct pg_addr addr;
    char why[RESOLVE_HOST_MAX + 96];
    int rc = pg_addr_resolve(l->url, deadline, stop_asked, l, &addr, why, sizeof(why));
    if (rc != ERR_OK) {
        *stop = stop_asked(l);
        if (!*stop)
            log_debug("postgres: notification connection: %s",
                      rc == ERR_TIMEOUT ? "host name lookup timed out" : why);
        return NULL;
    }
    PGconn *pg = pg_addr_connect_start(keys, vals, &addr);
    if (!pg)
        return NULL;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int64_t left = deadline - now_mono_ms();
        bool ready = false;
        if (left <= 0)
            break;
        if (!wait_fd(l, PQsocket(pg), st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN, (int)left,
                     &ready)) {
            *stop = true;
            break;
        }
        if (ready)
            st = PQconnectPoll(pg);
    }
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    /* LISTEN, the hello (an acknowledgement with no entries: committed with the LISTENs,
     * before any write of this process waits, so every other listener learns of this one
     * before it sees such a write's version), and whether the trigger that announces changes
     * exists yet (a database not yet migrated announces nothing: then the table must not be
     * trusted). */
    if (*stop || PQstatus(pg) != CONNECTION_OK || PQsetnonblocking(pg, 1) != 0 ||
        !PQsendQuery(pg,
                     "LISTEN " PG_LISTEN_CHANNEL "; LISTEN " PG_LISTEN_ACK_CHANNEL
                     "; SELECT pg_notify('" PG_LISTEN_ACK_CHANNEL "', pg_backend_pid()::text)"
                     "; SELECT count(*) FROM pg_trigger WHERE tgname = '" PG_LISTEN_TRIGGER "'")) {
        PQfinish(pg);
        return NULL;
    }
    /* The answers: only then are later commits sure to be announced to us. */
    bool ok = false, failed = false;
    int selects = 0;
    while (!*stop) {
        int f = PQflush(pg);
        if (f < 0)
            break;
        if (!PQisBusy(pg)) {
            PGresult *r = PQgetResult(pg);
            if (!r)
                break;
            ExecStatusType rs = PQresultStatus(r);
            if (rs == PGRES_TUPLES_OK) {
                if (++selects == 2) /* the trigger's count (the first: the hello) */
                    ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
            } else if (rs != PGRES_COMMAND_OK)
                failed = true;
            PQclear(r);
            continue;
        }
        int64_t left = deadline - now_mono_ms();
        bool ready = false;
        if (left <= 0)
            break;
        if (!wait_fd(l, PQsocket(pg), f ? POLLIN | POLLOUT : POLLIN, (int)left, &ready))
            *stop = true;
        else if (ready && !PQconsumeInput(pg))
            break;
    }
    if (!ok || failed || *stop || PQisBusy(pg)) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* Reads what arrived: applies every notification and acknowledgement, takes the answer of
 * the query in flight (clearing *sent_ms once it is complete). false when the connection
 * broke. libpq parses notifications while it looks for a result as well, so results and
 * notifications are taken in turns until neither is left: nothing complete may stay in
 * libpq's buffer once the socket reads empty. */
static bool drain(struct pg_listen *l, PGconn *pg, uint64_t ep, int64_t *sent_ms)
{
    atomic_store(&l->busy, true);
    bool ok = PQconsumeInput(pg) == 1;
    for (bool more = true; more;) {
        while (ok && *sent_ms && !PQisBusy(pg)) {
            PGresult *r = PQgetResult(pg);
            if (!r) {
                *sent_ms = 0;
                break;
            }
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                pthread_mutex_lock(&l->mu[0]);
                set_peers(l, r);
                pthread_mutex_unlock(&l->mu[0]);
            }
            PQclear(r);
        }
        more = false;
        PGnotify *n;
        while ((n = PQnotifies(pg)) != NULL) {
            if (strcmp(n->relname, PG_LISTEN_CHANNEL) == 0) {
                apply(l, n->extra, ep);
            } else {
                pthread_mutex_lock(&l->mu[0]);
                apply_ack(l, n->extra);
                pthread_mutex_unlock(&l->mu[0]);
            }
            PQfreemem(n);
            more = true;
        }
    }
    atomic_store(&l->busy, false);
    announce(l);
    return ok && PQstatus(pg) == CONNECTION_OK;
}

/* Sends the pending acknowledgements (as NOTIFYs of at most ACK_PAYLOAD_MAX bytes) and, when
 * beat, the heartbeat that lists the listeners, in one simple query. */
static bool send_query(struct pg_listen *l, PGconn *pg, bool beat)
{
    struct dynbuf d;
    dyn_init_fixed(&d, l->query, sizeof(l->query));
    int pid = PQbackendPID(pg);
    size_t at = 0;
    while (at < l->npending) {
        size_t end = at + ACK_PAYLOAD_MAX < l->npending ? at + ACK_PAYLOAD_MAX : l->npending;
        while (end < l->npending && l->pending[end] != ' ')
            end--; /* whole entries only */
        dyn_addf(&d, "NOTIFY " PG_LISTEN_ACK_CHANNEL ", '%d", pid);
        dyn_addn(&d, l->pending + at, end - at);
        dyn_add(&d, "';");
        at = end;
    }
    l->npending = 0;
    if (beat)
        dyn_add(&d, "SELECT pid FROM pg_stat_activity WHERE application_name = '" PG_LISTEN_APP_NAME
                    "' AND datname = current_database()");
    return !dyn_err(&d) && PQsendQuery(pg, dyn_str(&d)) == 1;
}

/* Sets the listening state: the epoch moves to even (listening on sock) or odd (-1). */
static void set_listening(struct pg_listen *l, int sock)
{
    atomic_store(&l->trusted, false);
    atomic_store(&l->sock, sock);
    atomic_fetch_add(&l->epoch, 1);
    announce(l);
}

/* Serves one connection until it breaks or the thread must stop (*stop). */
static void serve(struct pg_listen *l, PGconn *pg, bool *stop)
{
    /* The own entry and the socket must be set before the epoch turns even (see
     * pg_listen_await and pg_listen_peek). */
    set_self(l, PQbackendPID(pg));
    l->foreign_beat = false; /* until the first heartbeat answers (nothing is sent before) */
    set_listening(l, PQsocket(pg));
    uint64_t ep = atomic_load(&l->epoch);
    int64_t since = now_mono_ms();
    int64_t sent = 0, next_beat = since;
    l->npending = 0;
    for (;;) {
        int64_t now = now_mono_ms();
        if (sent && now - sent > PG_LISTEN_HEARTBEAT_TIMEOUT_MS) {
            log_warn("postgres: the notification connection does not answer; dropped");
            break;
        }
        if (!atomic_load(&l->trusted) && now - since >= PG_LISTEN_TRUST_AFTER_MS)
            atomic_store(&l->trusted, true);
        /* Acknowledgements nobody else would read are dropped, not sent later. Decided only
         * with no query in flight: the last heartbeat's answer has been read. */
        if (!sent && l->npending && alone(l, now))
            l->npending = 0;
        if (!sent && (l->npending || now >= next_beat)) {
            bool beat = now >= next_beat;
            if (!send_query(l, pg, beat))
                break;
            sent = now;
            if (beat)
                next_beat = now + PG_LISTEN_HEARTBEAT_MS;
        }
        int f = PQflush(pg);
        if (f < 0)
            break;
        int64_t wait = sent ? 100 : next_beat - now;
        if (!atomic_load(&l->trusted) && since + PG_LISTEN_TRUST_AFTER_MS - now < wait)
            wait = since + PG_LISTEN_TRUST_AFTER_MS - now;
        bool ready = false;
        if (!wait_fd(l, PQsocket(pg), f ? POLLIN | POLLOUT : POLLIN, (int)(wait < 1 ? 1 : wait),
                     &ready)) {
            *stop = true;
            break;
        }
        if (ready && !drain(l, pg, ep, &sent))
            break;
    }
    /* Not listening any more: the table is ignored before the socket closes, and writes
     * stop waiting for this backend (the next epoch's has its own entry). */
    set_listening(l, -1);
    set_self(l, 0);
}

/* Frees l and everything it holds (the thread has finished with it). */
static void listen_free(struct pg_listen *l)
{
    if (l->stop_fd >= 0)
        close(l->stop_fd);
    for (size_t i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_destroy(&l->mu[i]);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->end_mu);
    pthread_cond_destroy(&l->end_cv);
    free(l->url);
    free(l);
}

/* The thread's last step: tells pg_listen_stop it has ended, or, when that stopped
 * waiting (orphaned), frees l itself. */
static void listen_end(struct pg_listen *l)
{
    pthread_mutex_lock(&l->end_mu);
    l->ended = true;
    bool orphan = l->orphaned;
    pthread_cond_signal(&l->end_cv);
    pthread_mutex_unlock(&l->end_mu);
    if (orphan)
        listen_free(l);
}

static void *listen_thread(void *arg)
{
    struct pg_listen *l = arg;
    bool stop = false;
    bool warned = false;
    int64_t failing_since = 0; /* a database being migrated at start fails for a moment */
    while (!stop) {
        PGconn *pg = listen_conn(l, &stop);
        if (!pg) {
            int64_t now = now_mono_ms();
            if (!failing_since)
                failing_since = now;
            if (!stop && !warned && now - failing_since >= PG_LISTEN_QUIET_MS) {
                log_warn("postgres: the change notifications cannot be received; every list "
                         "reads its version from the database until they can");
                warned = true;
            }
            bool ready;
            if (!stop && !wait_fd(l, -1, 0, PG_LISTEN_RETRY_MS, &ready))
                stop = true;
            continue;
        }
        if (warned)
            log_info("postgres: receiving change notifications again");
        warned = false;
        failing_since = 0;
        serve(l, pg, &stop);
        if (!stop) {
            log_warn("postgres: the notification connection was lost; lists read their "
                     "version from the database until it is back");
            warned = true;
        }
        PQsetnonblocking(pg, 1);
        PQfinish(pg);
    }
    listen_end(l);
    return NULL;
}

int pg_listen_start(const char *url, struct pg_listen **out)
{
    struct pg_listen *l = calloc(1, sizeof(*l));
    if (!l)
        return ERR_NOMEM;
    l->url = strdup(url);
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    atomic_init(&l->epoch, 1);
    atomic_init(&l->trusted, false);
    atomic_init(&l->sock, -1);
    atomic_init(&l->busy, false);
    for (size_t i = 0; i < LOCK_STRIPES; i++)
        pthread_mutex_init(&l->mu[i], NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_mutex_init(&l->end_mu, NULL);
    pthread_cond_init(&l->end_cv, NULL);
    if (!l->url || l->stop_fd < 0 || pthread_create(&l->thread, NULL, listen_thread, l) != 0) {
        listen_free(l);
        return ERR_NOMEM;
    }
    *out = l;
    return ERR_OK;
}

void pg_listen_stop(struct pg_listen *l)
{
    if (!l)
        return;
    uint64_t one = 1;
    (void)!write(l->stop_fd, &one, sizeof(one));
    /* Every wait of the thread watches stop_fd, the host name lookup included
     * (store/pg_addr.h), so it ends within a poll. Should anything in libpq still block (a
     * URL whose host libpq looks up itself, pg_addr.h), wait PG_LISTEN_STOP_WAIT_MS, then
     * leave the thread to end (and free l) by itself rather than hold the process's exit. */
    struct timespec until;
    timespec_after_ms(&until, PG_LISTEN_STOP_WAIT_MS);
    pthread_mutex_lock(&l->end_mu);
    while (!l->ended && pthread_cond_timedwait(&l->end_cv, &l->end_mu, &until) == 0)
        ;
    bool ended = l->ended;
    l->orphaned = !ended;
    pthread_mutex_unlock(&l->end_mu);
    if (!ended) {
        log_warn("postgres: the notification thread is still connecting; not waiting for it");
        pthread_detach(l->thread);
        return;
    }
    pthread_join(l->thread, NULL);
    listen_free(l);
}
