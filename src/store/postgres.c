/*
 * PostgreSQL backend: a pool of libpq connections (DATABASE_POOL_SIZE kept open, up to
 * DATABASE_MAX_OVERFLOW more under load), parameterised statements prepared once per
 * connection, every wait bounded by a deadline through libpq's asynchronous API, and
 * transparent reconnection after the server restarts.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/backend.h"

#define PG_SCRIPT_TIMEOUT_MS  60000
#define PG_MIGRATION_LOCK_KEY "7418296312"

struct pg_conn {
    struct store_conn base;
    PGconn *pg;
    struct pg_conn *next; /* idle list */
    bool broken;
    int next_stmt;
    struct stmt_cache_entry cache[STMT_CACHE_SLOTS];
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
};

static void clear_cache(struct pg_conn *c)
{
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
        free((char *)c->cache[i].sql);
        free(c->cache[i].handle);
    }
    memset(c->cache, 0, sizeof(c->cache));
}

static void conn_free(struct pg_conn *c)
{
    if (!c)
        return;
    if (c->pg)
        PQfinish(c->pg);
    clear_cache(c);
    free(c);
}

/* Waits until the socket is readable/writable or the deadline passes. */
static int wait_socket(PGconn *pg, bool for_write, int64_t deadline_ms)
{
    int64_t left = deadline_ms - now_mono_ms();
    if (left <= 0)
        return ERR_UNAVAILABLE;
    struct pollfd pfd = {.fd = PQsocket(pg), .events = for_write ? POLLOUT : POLLIN};
    if (pfd.fd < 0)
        return ERR_UNAVAILABLE;
    int n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
    return n > 0 ? ERR_OK : ERR_UNAVAILABLE;
}

/* Opens a connection without blocking past the deadline. */
static int pg_connect(struct pg_store *s, int64_t deadline_ms, PGconn **out)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"3", "todo", s->url, NULL};
    PGconn *pg = PQconnectStartParams(keys, vals, 1);
    if (!pg)
        return ERR_NOMEM;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (wait_socket(pg, st == PGRES_POLLING_WRITING, deadline_ms) != ERR_OK) {
            PQfinish(pg);
            log_warn("postgres: connect timed out");
            return ERR_UNAVAILABLE;
        }
        st = PQconnectPoll(pg);
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        /* libpq's message names host and reason, never the password. */
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        log_warn("postgres: cannot connect: %s", msg);
        PQfinish(pg);
        return ERR_UNAVAILABLE;
    }
    PQsetnonblocking(pg, 0);
    *out = pg;
    return ERR_OK;
}

static int pg_acquire_deadline(struct pg_store *s, int64_t deadline_ms, struct pg_conn **out)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->idle) {
            struct pg_conn *c = s->idle;
            s->idle = c->next;
            s->n_idle--;
            pthread_mutex_unlock(&s->mu);
            c->next = NULL;
            *out = c;
            return ERR_OK;
        }
        if (s->total < s->max) {
            s->total++;
            break;
        }
        int64_t left = deadline_ms - now_mono_ms();
        if (left <= 0) {
            pthread_mutex_unlock(&s->mu);
            log_warn("postgres: pool exhausted (%d connections)", s->max);
            return ERR_UNAVAILABLE;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    struct pg_conn *c = calloc(1, sizeof(*c));
    int rc = c ? pg_connect(s, deadline_ms, &c->pg) : ERR_NOMEM;
    if (rc != ERR_OK) {
        free(c);
        pthread_mutex_lock(&s->mu);
        s->total--;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    c->base.store = &s->base;
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
    struct pg_store *s = (struct pg_store *)c->base.store;
    if (!c->broken && PQstatus(c->pg) != CONNECTION_OK)
        c->broken = true;
    if (!c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        log_error("postgres: connection released inside a transaction; closing it");
        c->broken = true;
    }
    pthread_mutex_lock(&s->mu);
    if (c->broken || s->n_idle >= s->keep) {
        s->total--;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        conn_free(c);
        return;
    }
    c->next = s->idle;
    s->idle = c;
    s->n_idle++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Collects the result of the query just sent; the first result is kept, the rest drained. */
static int wait_result(struct pg_conn *c, int64_t deadline_ms, PGresult **out)
{
    *out = NULL;
    for (;;) {
        while (PQisBusy(c->pg)) {
            if (wait_socket(c->pg, false, deadline_ms) != ERR_OK) {
                PGcancel *cancel = PQgetCancel(c->pg);
                char buf[256];
                if (cancel) {
                    PQcancel(cancel, buf, sizeof(buf));
                    PQfreeCancel(cancel);
                }
                c->broken = true;
                PQclear(*out);
                *out = NULL;
                log_warn("postgres: statement timed out");
                return ERR_UNAVAILABLE;
            }
            if (!PQconsumeInput(c->pg)) {
                c->broken = true;
                PQclear(*out);
                *out = NULL;
                return ERR_UNAVAILABLE;
            }
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

/* Finds the statement in the cache or prepares it on the server. */
static int prepare(struct pg_conn *c, const char *sql, int64_t deadline_ms,
                   struct stmt_cache_entry **out)
{
    uint64_t h = hash_str(sql);
    struct stmt_cache_entry *e = &c->cache[h % STMT_CACHE_SLOTS];
    if (e->handle && e->hash == h && strcmp(e->sql, sql) == 0) {
        *out = e;
        return ERR_OK;
    }
    char name[32];
    snprintf(name, sizeof(name), "s%d", c->next_stmt++);
    if (!PQsendPrepare(c->pg, name, sql, 0, NULL)) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    PGresult *r;
    int rc = wait_result(c, deadline_ms, &r);
    if (rc == ERR_OK)
        rc = map_result(c, r);
    PQclear(r);
    if (rc != ERR_OK)
        return rc;
    char *sql_copy = strdup(sql), *name_copy = strdup(name);
    if (!sql_copy || !name_copy) {
        free(sql_copy);
        free(name_copy);
        return ERR_NOMEM;
    }
    /* An evicted statement stays prepared on the server; names are never reused. */
    free((char *)e->sql);
    free(e->handle);
    e->hash = h;
    e->sql = sql_copy;
    e->handle = name_copy;
    *out = e;
    return ERR_OK;
}

static int copy_rows(PGresult *r, struct arena *a, struct db_rows *out)
{
    size_t nrows = (size_t)PQntuples(r), ncols = (size_t)PQnfields(r);
    if (nrows > STORE_MAX_ROWS)
        return ERR_TOOBIG;
    out->nrows = nrows;
    out->ncols = ncols;
    out->cells = arena_alloc(a, (nrows * ncols + 1) * sizeof(char *));
    if (!out->cells)
        return ERR_NOMEM;
    for (size_t i = 0; i < nrows; i++) {
        for (size_t j = 0; j < ncols; j++) {
            char **cell = &out->cells[i * ncols + j];
            if (PQgetisnull(r, (int)i, (int)j)) {
                *cell = NULL;
                continue;
            }
            *cell = arena_strndup(a, PQgetvalue(r, (int)i, (int)j),
                                  (size_t)PQgetlength(r, (int)i, (int)j));
            if (!*cell)
                return ERR_NOMEM;
        }
    }
    return ERR_OK;
}

/* One attempt: prepare if needed, run, collect. */
static int exec_once(struct pg_conn *c, const char *sql, const struct db_param *p, size_t np,
                     struct arena *a, struct db_rows *out, int64_t deadline_ms)
{
    struct stmt_cache_entry *e = NULL;
    int rc = prepare(c, sql, deadline_ms, &e);
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
    rc = wait_result(c, deadline_ms, &r);
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

/* Replaces a dead connection in place with a fresh one (statement cache emptied). */
static int reconnect(struct pg_conn *c, int64_t deadline_ms)
{
    PGconn *pg;
    int rc = pg_connect((struct pg_store *)c->base.store, deadline_ms, &pg);
    if (rc != ERR_OK)
        return rc;
    PQfinish(c->pg);
    c->pg = pg;
    c->broken = false;
    clear_cache(c);
    return ERR_OK;
}

static int exec_deadline(struct pg_conn *c, const char *sql, const struct db_param *p, size_t np,
                         struct arena *a, struct db_rows *out, int64_t deadline_ms)
{
    bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK) {
        if (!idle && !c->broken)
            return ERR_UNAVAILABLE;
        int rc = reconnect(c, deadline_ms);
        if (rc != ERR_OK)
            return rc;
        idle = true;
    }
    int rc = exec_once(c, sql, p, np, a, out, deadline_ms);
    /* A pooled connection may have died with a server restart: outside a transaction,
     * retrying once on a new connection is safe. */
    if (rc == ERR_UNAVAILABLE && c->broken && idle && reconnect(c, deadline_ms) == ERR_OK) {
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

static int pg_script(struct store_conn *base, const char *sql)
{
    struct pg_conn *c = (struct pg_conn *)base;
    if (!PQsendQuery(c->pg, sql)) {
        c->broken = true;
        return ERR_UNAVAILABLE;
    }
    PGresult *r;
    int rc = wait_result(c, now_mono_ms() + PG_SCRIPT_TIMEOUT_MS, &r);
    if (rc == ERR_OK)
        rc = map_result(c, r);
    PQclear(r);
    return rc;
}

static int pg_ping(struct store *base, int timeout_ms)
{
    int64_t deadline = now_mono_ms() + timeout_ms;
    struct pg_conn *c;
    int rc = pg_acquire_deadline((struct pg_store *)base, deadline, &c);
    if (rc != ERR_OK)
        return rc;
    rc = exec_deadline(c, "SELECT 1", NULL, 0, NULL, NULL, deadline);
    pg_release(&c->base);
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

static const struct backend_ops pg_ops = {
    .acquire = pg_acquire,
    .release = pg_release,
    .exec = pg_exec,
    .script = pg_script,
    .ping = pg_ping,
    .migrate_lock = pg_lock,
    .migrate_unlock = pg_unlock,
    .close = pg_close,
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
    *out = &s->base;
    return ERR_OK;
}
