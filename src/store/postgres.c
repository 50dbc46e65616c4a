/*
 * PostgreSQL backend: a pool of libpq connections (DATABASE_POOL_SIZE kept open, up to
 * DATABASE_MAX_OVERFLOW more under load), parameterised statements prepared once per
 * connection (and DEALLOCATEd when evicted from the cache), transparent reconnection after
 * the server restarts, and no wait without a bound: connections are non-blocking, every
 * send and receive polls with a deadline, and the watch (pg_guard.h) wakes every wait and
 * fails new requests at once while the database does not answer. A connection that gave up
 * on the server is dropped (its statement cancelled asynchronously), never waited on again.
 *
 * Threads: request threads check connections out and run statements; the watch thread runs
 * its probe on a connection of its own (probe_conn), outside the pool; the listener thread
 * (pg_listen.h) keeps the users' task versions current from notifications, on a connection
 * of its own too.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/bgthread.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/backend.h"
#include "store/pg_addr.h"
#include "store/pg_guard.h"
#include "store/pg_listen.h"

#define PG_SCRIPT_TIMEOUT_MS  60000
#define PG_MIGRATION_LOCK_KEY "7418296312"
/* How long a pool waiter sleeps before checking again whether the database went down. */
#define PG_POOL_WAIT_SLICE_MS 100

struct pg_conn {
    struct store_conn base;
    PGconn *pg;
    struct pg_conn *next; /* idle list */
    bool broken;          /* unusable: closed at release (or reconnected when idle) */
    bool gave_up;         /* timed out or aborted in this checkout: fail fast, no reconnect */
    bool probe;           /* the watch's own connection: never consults the watch */
    int next_stmt;
    struct stmt_cache_entry cache[STMT_CACHE_SLOTS];
    uint64_t stmt_tick; /* the statement cache's clock */
};

struct pg_store {
    struct store base;
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pg_conn *idle;
    int n_idle;
    int total; /* open or opening */
    int keep;  /* pool size */
    int max;   /* pool size + overflow */
    struct pg_guard *guard;
    struct pg_conn *probe_conn; /* the watch thread's only */
    struct pg_listen *listen;   /* versions kept current by notifications */
};

static struct pg_store *store_of(const struct pg_conn *c)
{
    return (struct pg_store *)c->base.store;
}

static void clear_cache(struct pg_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
        free((char *)c->cache[i].sql);
        free(c->cache[i].handle);
    }
    memset(c->cache, 0, sizeof(c->cache));
}

/* Closes the libpq connection without waiting: in non-blocking mode PQfinish's goodbye
 * message is sent only if the socket takes it at once. */
static void close_pg(PGconn *pg)
{
    if (!pg)
        return;
    PQsetnonblocking(pg, 1);
    PQfinish(pg);
}

static void conn_free(struct pg_conn *c)
{
    if (!c)
        return;
    close_pg(c->pg);
    clear_cache(c);
    free(c);
}

/* Gives up on the server for this connection: its statement is cancelled asynchronously
 * and the connection is dropped at release. */
static int give_up(struct pg_conn *c, const char *why)
{
    if (!c->probe) {
        if (PQstatus(c->pg) == CONNECTION_OK) /* a statement may be running */
            pg_guard_cancel(c->pg);
        log_warn("postgres: %s; connection dropped", why);
    }
    c->broken = true;
    c->gave_up = true;
    return ERR_UNAVAILABLE;
}

/* Gives up on c because its background thread is stopping: quietly (the process is
 * shutting down), otherwise as give_up. */
static int give_up_stopping(struct pg_conn *c)
{
    if (!c->probe && PQstatus(c->pg) == CONNECTION_OK)
        pg_guard_cancel(c->pg);
    c->broken = true;
    c->gave_up = true;
    return ERR_UNAVAILABLE;
}

/* Waits until c's socket is ready for events. Gives up (ERR_UNAVAILABLE) at the deadline,
 * as soon as the watch declares the database down, or, on a background thread
 * (core/bgthread.h: the reminder scheduler, the events hub, the watch itself), within
 * BGTHREAD_STOP_POLL_MS of that thread being asked to stop; a wait running longer than
 * PG_KICK_AFTER_MS since start_ms asks the watch to check the database. */
static int wait_io(struct pg_conn *c, short events, int64_t start_ms, int64_t deadline_ms)
{
    struct pg_guard *g = c->probe ? NULL : store_of(c)->guard;
    bool kicked = false;
    bool bg = bgthread_on_thread();
    for (;;) {
        int64_t now = now_mono_ms();
        if (now >= deadline_ms)
            return give_up(c, "no answer before the deadline");
        if (g && pg_guard_down(g))
            return give_up(c, "the database does not answer");
        if (bg && bgthread_stop_requested())
            return give_up_stopping(c);
        int64_t slice = deadline_ms - now;
        if (bg && slice > BGTHREAD_STOP_POLL_MS)
            slice = BGTHREAD_STOP_POLL_MS;
        if (g && !kicked) {
            if (now - start_ms >= PG_KICK_AFTER_MS) {
                pg_guard_kick(g);
                kicked = true;
            } else if (start_ms + PG_KICK_AFTER_MS - now < slice) {
                slice = start_ms + PG_KICK_AFTER_MS - now;
            }
        }
        struct pollfd pfd[2] = {{.fd = PQsocket(c->pg), .events = events},
                                {.fd = g ? pg_guard_fd(g) : -1, .events = POLLIN}};
        if (pfd[0].fd < 0) {
            c->broken = true;
            return ERR_UNAVAILABLE;
        }
        int n = poll(pfd, 2, (int)(slice > 60000 ? 60000 : slice));
        if (n < 0 && errno != EINTR) {
            c->broken = true;
            return ERR_UNAVAILABLE;
        }
        if (n > 0 && pfd[0].revents)
            return ERR_OK;
    }
}

/* Sends what libpq has buffered (non-blocking mode), reading input meanwhile as libpq
 * requires. */
static int flush_out(struct pg_conn *c, int64_t start_ms, int64_t deadline_ms)
{
    for (;;) {
        int f = PQflush(c->pg);
        if (f == 0)
            return ERR_OK;
        if (f < 0) {
            c->broken = true;
            return ERR_UNAVAILABLE;
        }
        int rc = wait_io(c, POLLOUT | POLLIN, start_ms, deadline_ms);
        if (rc != ERR_OK)
            return rc;
        if (!PQconsumeInput(c->pg)) {
            c->broken = true;
            return ERR_UNAVAILABLE;
        }
    }
}

/* Whether a connect of c's gives up its host name lookup: as wait_io gives up its waits
 * (the thread is stopping, or the watch declared the database down). */
static bool lookup_stop(void *arg)
{
    struct pg_conn *c = arg;
    return bgthread_stop_requested() || (!c->probe && pg_guard_down(store_of(c)->guard));
}

/* Opens c's connection without waiting past the deadline: the host name is looked up first
 * (store/pg_addr.h: libpq's own lookup could not be interrupted), then libpq connects to
 * the numeric address without blocking. Keepalives and tcp_user_timeout let the kernel
 * notice a peer that vanished (dropped packets) even between statements; the URL's own
 * values, if any, win (they come later). */
static int pg_connect(struct pg_conn *c, int64_t deadline_ms)
{
    struct pg_store *s = store_of(c);
    if ((!c->probe && pg_guard_down(s->guard)) || bgthread_stop_requested())
        return ERR_UNAVAILABLE;
    struct pg_addr addr;
    char why[RESOLVE_HOST_MAX + 96];
    int rc = pg_addr_resolve(s->url, deadline_ms, lookup_stop, c, &addr, why, sizeof(why));
    if (rc != ERR_OK) {
        if (!c->probe && !lookup_stop(c)) {
            if (rc == ERR_TIMEOUT)
                log_warn("postgres: host name lookup timed out");
            else if (rc != ERR_NOMEM)
                log_warn("postgres: cannot connect: %s", why);
        }
        return rc == ERR_NOMEM ? ERR_NOMEM : ERR_UNAVAILABLE;
    }
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          NULL};
    const char *vals[] = {"3", "todo", "1", "10", "5", "3", "15000", s->url, NULL};
    close_pg(c->pg);
    c->pg = pg_addr_connect_start(keys, vals, &addr);
    c->broken = true; /* until connected */
    clear_cache(c);
    if (!c->pg)
        return ERR_NOMEM;
    int64_t start = now_mono_ms();
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(c->pg) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        rc = wait_io(c, st == PGRES_POLLING_WRITING ? POLLOUT : POLLIN, start, deadline_ms);
        if (rc != ERR_OK) {
            if (!c->probe && !bgthread_stop_requested())
                log_warn("postgres: connect timed out");
            return rc;
        }
        st = PQconnectPoll(c->pg);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        if (!c->probe) {
            /* libpq's message names host and reason, never the password. */
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c->pg));
            msg[strcspn(msg, "\n")] = '\0';
            log_warn("postgres: cannot connect: %s", msg);
        }
        return ERR_UNAVAILABLE;
    }
    if (PQsetnonblocking(c->pg, 1) != 0)
        return ERR_UNAVAILABLE;
    c->broken = false;
    c->gave_up = false;
    return ERR_OK;
}

/* Publishes the pool's gauges; called with s->mu held. */
static void pool_gauges(const struct pg_store *s)
{
    metric_set(METRIC_DB_POOL_OPEN, NULL, (double)s->total);
    metric_set(METRIC_DB_POOL_IN_USE, NULL, (double)(s->total - s->n_idle));
}

/* Records a checkout that had to wait, and for how long. */
static void pool_waited(int64_t since_ms)
{
    if (since_ms == 0)
        return;
    metric_add(METRIC_DB_POOL_WAITS, NULL, 1.0);
    metric_observe(METRIC_DB_POOL_WAIT_SECONDS, NULL, (double)(now_mono_ms() - since_ms) / 1e3);
}

static int pg_acquire_deadline(struct pg_store *s, int64_t deadline_ms, struct pg_conn **out)
{
    int64_t waited_since = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (pg_guard_down(s->guard) || bgthread_stop_requested()) {
            pthread_mutex_unlock(&s->mu);
            return ERR_UNAVAILABLE;
        }
        if (s->idle) {
            struct pg_conn *c = s->idle;
            s->idle = c->next;
            s->n_idle--;
            pool_gauges(s);
            pthread_mutex_unlock(&s->mu);
            pool_waited(waited_since);
            c->next = NULL;
            c->gave_up = false;
            *out = c;
            return ERR_OK;
        }
        if (s->total < s->max) {
            s->total++;
            pool_gauges(s);
            break;
        }
        int64_t left = deadline_ms - now_mono_ms();
        if (!waited_since)
            waited_since = now_mono_ms();
        if (left <= 0) {
            pthread_mutex_unlock(&s->mu);
            pool_waited(waited_since);
            metric_add(METRIC_DB_POOL_TIMEOUTS, NULL, 1.0);
            log_warn("postgres: pool exhausted (%d connections)", s->max);
            return ERR_UNAVAILABLE;
        }
        struct timespec ts;
        timespec_after_ms(&ts, left < PG_POOL_WAIT_SLICE_MS ? left : PG_POOL_WAIT_SLICE_MS);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    pool_waited(waited_since);
    struct pg_conn *c = calloc(1, sizeof(*c));
    int rc = ERR_NOMEM;
    if (c) {
        c->base.store = &s->base;
        rc = pg_connect(c, deadline_ms);
    }
    if (rc != ERR_OK) {
        conn_free(c);
        pthread_mutex_lock(&s->mu);
        s->total--;
        pool_gauges(s);
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    *out = c;
    return ERR_OK;
}

static int pg_acquire(struct store *base, struct store_conn **out)
{
    struct pg_conn *c;
    int rc =
        pg_acquire_deadline((struct pg_store *)base, now_mono_ms() + STORE_ACQUIRE_TIMEOUT_MS, &c);
    if (rc == ERR_OK)
        *out = &c->base;
    return rc;
}

static void pg_release(struct store_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    struct pg_store *s = store_of(c);
    if (!c->broken && PQstatus(c->pg) != CONNECTION_OK)
        c->broken = true;
    if (!c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        log_error("postgres: connection released inside a transaction; closing it");
        c->broken = true;
    }
    pthread_mutex_lock(&s->mu);
    if (c->broken || s->n_idle >= s->keep) {
        s->total--;
        pool_gauges(s);
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        conn_free(c);
        return;
    }
    c->next = s->idle;
    s->idle = c;
    s->n_idle++;
    pool_gauges(s);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Collects the result of the query just sent; the first result is kept, the rest drained. */
static int wait_result(struct pg_conn *c, int64_t start_ms, int64_t deadline_ms, PGresult **out)
{
    *out = NULL;
    int rc = flush_out(c, start_ms, deadline_ms);
    for (;;) {
        while (rc == ERR_OK && PQisBusy(c->pg)) {
            rc = wait_io(c, POLLIN, start_ms, deadline_ms);
            if (rc == ERR_OK && !PQconsumeInput(c->pg)) {
                c->broken = true;
                rc = ERR_UNAVAILABLE;
            }
        }
        if (rc != ERR_OK) {
            PQclear(*out);
            *out = NULL;
            return rc;
        }
        PGresult *r = PQgetResult(c->pg);
        if (!r)
            break;
        if (!*out)
            *out = r;
        else
            PQclear(r);
    }
    if (!*out) {
        c->broken = PQstatus(c->pg) != CONNECTION_OK;
        return ERR_UNAVAILABLE;
    }
    return ERR_OK;
}

static int map_result(struct pg_conn *c, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return ERR_OK;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "23505") == 0)
        return ERR_CONFLICT;
    if (state && (str_starts(state, "23") || str_starts(state, "22")))
        return ERR_INVALID;
    if (state &&
        (strcmp(state, "57014") == 0 || str_starts(state, "08") || str_starts(state, "57P"))) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    log_error("postgres: %s (SQLSTATE %s)", msg ? msg : "error", state ? state : "?");
    return ERR_DB;
}

/* Runs a statement without parameters with the simple protocol. */
static int simple_query(struct pg_conn *c, const char *sql, int64_t start_ms, int64_t deadline_ms)
{
    if (!PQsendQuery(c->pg, sql)) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    PGresult *r;
    int rc = wait_result(c, start_ms, deadline_ms, &r);
    if (rc == ERR_OK)
        rc = map_result(c, r);
    PQclear(r);
    return rc;
}

/* Finds the statement in the cache or prepares it on the server. The statement an entry held
 * before (its set's least recently used) is DEALLOCATEd first, so a connection holds at most
 * STMT_CACHE_SLOTS prepared statements however many shapes the list queries take. */
static int prepare(struct pg_conn *c, const char *sql, int64_t start_ms, int64_t deadline_ms,
                   struct stmt_cache_entry **out)
{
    uint64_t h = hash_str(sql);
    bool hit;
    struct stmt_cache_entry *e = stmt_cache_find(c->cache, h, sql, &c->stmt_tick, &hit);
    if (hit) {
        *out = e;
        return ERR_OK;
    }
    int rc;
    if (e->handle) {
        char dealloc[48];
        snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", (const char *)e->handle);
        rc = simple_query(c, dealloc, start_ms, deadline_ms);
        if (rc != ERR_OK)
            return rc;
        free((char *)e->sql);
        free(e->handle);
        memset(e, 0, sizeof(*e));
        e->used = c->stmt_tick; /* still the newest of its set */
    }
    char name[32];
    snprintf(name, sizeof(name), "s%d", c->next_stmt++);
    if (!PQsendPrepare(c->pg, name, sql, 0, NULL)) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    PGresult *r;
    rc = wait_result(c, start_ms, deadline_ms, &r);
    if (rc == ERR_OK)
        rc = map_result(c, r);
    PQclear(r);
    if (rc != ERR_OK)
        return rc;
    char *sql_copy = strdup(sql), *name_copy = strdup(name);
    if (!sql_copy || !name_copy) {
        free(sql_copy);
        free(name_copy);
        c->broken = true; /* prepared on the server but unknown here: start afresh */
        return ERR_NOMEM;
    }
    e->hash = h;
    e->sql = sql_copy;
    e->handle = name_copy;
    *out = e;
    return ERR_OK;
}

/* PostgreSQL's integer types (pg_type.h): their cells are read as numbers too. */
#define PG_INT8_OID 20
#define PG_INT2_OID 21
#define PG_INT4_OID 23

/* Copies the result into the arena: the cells' texts in one allocation per row, and integer
 * columns as numbers (db_int) read here once. */
static int copy_rows(PGresult *r, struct arena *a, struct db_rows *out)
{
    size_t nrows = (size_t)PQntuples(r), ncols = (size_t)PQnfields(r);
    if (nrows > STORE_MAX_ROWS)
        return ERR_TOOBIG;
    out->nrows = nrows;
    out->ncols = ncols;
    size_t cells = nrows * ncols;
    out->cells = arena_alloc(a, (cells + 1) * sizeof(char *));
    out->nums = arena_alloc(a, (cells + 1) * sizeof(int64_t));
    out->isnum = arena_alloc(a, cells + 1);
    if (!out->cells || !out->nums || !out->isnum)
        return ERR_NOMEM;
    bool intcol[64] = {false}; /* columns past 64 stay text */
    for (size_t j = 0; j < ncols && j < 64; j++) {
        Oid t = PQftype(r, (int)j);
        intcol[j] = t == PG_INT8_OID || t == PG_INT4_OID || t == PG_INT2_OID;
    }
    for (size_t i = 0; i < nrows; i++) {
        size_t bytes = 0;
        for (size_t j = 0; j < ncols; j++)
            bytes += (size_t)PQgetlength(r, (int)i, (int)j) + 1;
        char *p = arena_alloc(a, bytes);
        if (!p)
            return ERR_NOMEM;
        for (size_t j = 0; j < ncols; j++) {
            size_t k = i * ncols + j;
            out->isnum[k] = 0;
            if (PQgetisnull(r, (int)i, (int)j)) {
                out->cells[k] = NULL;
                continue;
            }
            size_t len = (size_t)PQgetlength(r, (int)i, (int)j);
            memcpy(p, PQgetvalue(r, (int)i, (int)j), len);
            p[len] = '\0';
            out->cells[k] = p;
            p += len + 1;
            if (j < 64 && intcol[j])
                out->isnum[k] = db_parse_int(out->cells[k], &out->nums[k]);
        }
    }
    return ERR_OK;
}

/* One attempt: prepare if needed, run, collect. */
static int exec_once(struct pg_conn *c, const char *sql, const struct db_param *p, size_t np,
                     struct arena *a, struct db_rows *out, int64_t deadline_ms)
{
    int64_t start = now_mono_ms();
    struct stmt_cache_entry *e = NULL;
    int rc = prepare(c, sql, start, deadline_ms, &e);
    if (rc != ERR_OK)
        return rc;
    const char *values[STORE_MAX_PARAMS];
    char ints[STORE_MAX_PARAMS][24];
    for (size_t i = 0; i < np; i++) {
        switch (p[i].type) {
        case DBP_TEXT:
            values[i] = p[i].s;
            break;
        case DBP_INT:
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)p[i].i);
            values[i] = ints[i];
            break;
        case DBP_BOOL:
            values[i] = p[i].i ? "true" : "false";
            break;
        default:
            values[i] = NULL;
            break;
        }
    }
    if (!PQsendQueryPrepared(c->pg, e->handle, (int)np, values, NULL, NULL, 0)) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    PGresult *r;
    rc = wait_result(c, start, deadline_ms, &r);
    if (rc == ERR_OK)
        rc = map_result(c, r);
    if (rc == ERR_OK && out) {
        rc = copy_rows(r, a, out);
        const char *n = PQcmdTuples(r);
        out->changes = n && *n ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(r);
    return rc;
}

static int exec_deadline(struct pg_conn *c, const char *sql, const struct db_param *p, size_t np,
                         struct arena *a, struct db_rows *out, int64_t deadline_ms)
{
    /* Once this checkout gave up on the server, it does not wait on it again. */
    if (c->gave_up)
        return ERR_UNAVAILABLE;
    bool idle = !c->pg || PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    if (!c->pg || c->broken || PQstatus(c->pg) != CONNECTION_OK) {
        if (!idle && !c->broken)
            return ERR_UNAVAILABLE;
        int rc = pg_connect(c, deadline_ms);
        if (rc != ERR_OK)
            return rc;
        idle = true;
    }
    int rc = exec_once(c, sql, p, np, a, out, deadline_ms);
    /* A pooled connection may have died with a server restart: outside a transaction,
     * retrying once on a new connection is safe (not after giving up: no second wait). */
    if (rc == ERR_UNAVAILABLE && c->broken && !c->gave_up && idle &&
        pg_connect(c, deadline_ms) == ERR_OK) {
        if (out)
            memset(out, 0, sizeof(*out));
        rc = exec_once(c, sql, p, np, a, out, deadline_ms);
    }
    return rc;
}

static int pg_exec(struct store_conn *base, const char *sql, const struct db_param *p, size_t np,
                   struct arena *a, struct db_rows *out)
{
    return exec_deadline((struct pg_conn *)base, sql, p, np, a, out,
                         now_mono_ms() + STORE_QUERY_TIMEOUT_MS);
}

/* A connection that broke (or gave up) is discarded at release and the server rolls its
 * transaction back; only a live one is asked to. */
static void pg_rollback(struct store_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    if (c->broken || !c->pg || PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    int64_t now = now_mono_ms();
    (void)simple_query(c, "ROLLBACK", now, now + STORE_QUERY_TIMEOUT_MS);
}

static int pg_script(struct store_conn *base, const char *sql)
{
    struct pg_conn *c = (struct pg_conn *)base;
    if (c->gave_up || c->broken)
        return ERR_UNAVAILABLE;
    int64_t now = now_mono_ms();
    return simple_query(c, sql, now, now + PG_SCRIPT_TIMEOUT_MS);
}

static int pg_ping(struct store *base, int timeout_ms)
{
    struct pg_store *s = (struct pg_store *)base;
    if (pg_guard_down(s->guard))
        return ERR_UNAVAILABLE;
    int64_t deadline = now_mono_ms() + timeout_ms;
    struct pg_conn *c;
    int rc = pg_acquire_deadline(s, deadline, &c);
    if (rc != ERR_OK)
        return rc;
    rc = exec_deadline(c, "SELECT 1", NULL, 0, NULL, NULL, deadline);
    pg_release(&c->base);
    return rc;
}

/* The watch's probe (watch thread only): SELECT 1 on its own connection, reconnecting when
 * needed. Any answer from the server, even an error, shows it is alive. */
static int pg_probe(void *ctx, int timeout_ms)
{
    struct pg_store *s = ctx;
    if (!s->probe_conn) {
        s->probe_conn = calloc(1, sizeof(*s->probe_conn));
        if (!s->probe_conn)
            return ERR_NOMEM;
        s->probe_conn->base.store = &s->base;
        s->probe_conn->probe = true;
    }
    struct pg_conn *c = s->probe_conn;
    c->gave_up = false;
    int rc = exec_deadline(c, "SELECT 1", NULL, 0, NULL, NULL, now_mono_ms() + timeout_ms);
    if (rc != ERR_UNAVAILABLE)
        rc = ERR_OK;
    if (rc != ERR_OK || c->broken) {
        conn_free(c);
        s->probe_conn = NULL;
    }
    return rc;
}

static int pg_lock(struct store_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    return exec_deadline(c, "SELECT pg_advisory_lock(" PG_MIGRATION_LOCK_KEY ")", NULL, 0, NULL,
                         NULL, now_mono_ms() + PG_SCRIPT_TIMEOUT_MS);
}

static void pg_unlock(struct store_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    (void)exec_deadline(c, "SELECT pg_advisory_unlock(" PG_MIGRATION_LOCK_KEY ")", NULL, 0, NULL,
                        NULL, now_mono_ms() + STORE_QUERY_TIMEOUT_MS);
}

static void pg_close(struct store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    pg_listen_stop(s->listen);
    pg_guard_stop(s->guard); /* joins the watch thread: probe_conn is ours again */
    conn_free(s->probe_conn);
    struct pg_conn *c = s->idle;
    while (c) {
        struct pg_conn *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->url);
    free(s);
}

/* Versions (store.h): from the listener's table; nothing is trusted while the watch says
 * the database does not answer. */
static bool pg_version_peek(struct store *base, const char *key, int64_t *out,
                            struct store_vticket *t)
{
    struct pg_store *s = (struct pg_store *)base;
    return !pg_guard_down(s->guard) && pg_listen_peek(s->listen, key, out, t);
}

static void pg_version_put(struct store *base, const char *key, int64_t v,
                           const struct store_vticket *t)
{
    pg_listen_put(((struct pg_store *)base)->listen, key, v, t);
}

static void pg_version_await(struct store *base, const char *key, int64_t v, int timeout_ms)
{
    struct pg_store *s = (struct pg_store *)base;
    if (!pg_guard_down(s->guard))
        pg_listen_await(s->listen, key, v, timeout_ms);
}

static const struct backend_ops pg_ops = {
    .acquire = pg_acquire,
    .release = pg_release,
    .exec = pg_exec,
    .rollback = pg_rollback,
    .script = pg_script,
    .ping = pg_ping,
    .migrate_lock = pg_lock,
    .migrate_unlock = pg_unlock,
    .close = pg_close,
    .version_peek = pg_version_peek,
    .version_put = pg_version_put,
    .version_await = pg_version_await,
};

int pg_store_open(const struct store_options *o, struct store **out)
{
    struct pg_store *s = calloc(1, sizeof(*s));
    if (!s)
        return ERR_NOMEM;
    s->base.ops = &pg_ops;
    s->base.kind = DB_POSTGRES;
    s->url = strdup(o->url->pg_url);
    if (!s->url) {
        free(s);
        return ERR_NOMEM;
    }
    s->keep = o->pool_size;
    s->max = o->pool_size + o->max_overflow;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rc = pg_guard_start(pg_probe, s, &s->guard);
    if (rc == ERR_OK) {
        rc = pg_listen_start(s->url, &s->listen);
        if (rc != ERR_OK)
            pg_guard_stop(s->guard);
    }
    if (rc != ERR_OK) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->url);
        free(s);
        return rc;
    }
    *out = &s->base;
    return ERR_OK;
}
