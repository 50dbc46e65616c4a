/*
 * The store front: picks a backend from the database URL, forwards calls to it, and runs
 * the embedded migrations (migrations.c) under the backend's migration lock.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/backend.h"
#include "store/migrations.h"

struct stmt_cache_entry *stmt_cache_find(struct stmt_cache_entry *cache, uint64_t h,
                                         const char *sql, uint64_t *tick, bool *hit)
{
    _Static_assert(STMT_CACHE_SLOTS % STMT_CACHE_WAYS == 0, "whole sets");
    struct stmt_cache_entry *set =
        cache + (h % (STMT_CACHE_SLOTS / STMT_CACHE_WAYS)) * STMT_CACHE_WAYS;
    struct stmt_cache_entry *victim = set;
    *hit = false;
    for (size_t i = 0; i < STMT_CACHE_WAYS; i++) {
        struct stmt_cache_entry *e = &set[i];
        if (e->handle && e->hash == h && strcmp(e->sql, sql) == 0) {
            victim = e;
            *hit = true;
            break;
        }
        if (victim->handle && (!e->handle || e->used < victim->used))
            victim = e;
    }
    victim->used = ++*tick;
    return victim;
}

bool db_parse_int(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    bool neg = *s == '-';
    s += neg;
    uint64_t v = 0;
    size_t n = 0;
    for (; *s >= '0' && *s <= '9' && n < 19; s++, n++)
        v = v * 10 + (uint64_t)(*s - '0');
    if (*s || n == 0 || v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

int store_open(const struct store_options *o, struct store **out)
{
    return o->url->kind == DB_SQLITE ? sqlite_store_open(o, out) : pg_store_open(o, out);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

enum db_kind store_kind(const struct store *s)
{
    return s->kind;
}

enum db_kind store_conn_kind(const struct store_conn *c)
{
    return c->store->kind;
}

int store_acquire(struct store *s, struct store_conn **out)
{
    return s->ops->acquire(s, out);
}

void store_release(struct store_conn *c)
{
    if (c)
        c->store->ops->release(c);
}

int store_ping(struct store *s, int timeout_ms)
{
    return s->ops->ping(s, timeout_ms);
}

void store_explain(struct store_conn *c, store_explain_fn fn, void *ctx)
{
    c->explain = fn;
    c->explain_ctx = ctx;
}

/* Hands the plan of text to the connection's explain callback (store_explain). */
static void explain(struct store_conn *c, const char *text, const struct db_param *p, size_t np)
{
    static const char *const kinds[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"};
    bool dml = false;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
        dml = dml || strncmp(text, kinds[i], strlen(kinds[i])) == 0;
    struct arena *a = dml ? arena_new() : NULL;
    if (!a)
        return;
    bool pg = c->store->kind == DB_POSTGRES;
    char *sql = arena_printf(a, "%s%s", pg ? "EXPLAIN " : "EXPLAIN QUERY PLAN ", text);
    struct db_rows rows = {0};
    struct dynbuf plan;
    dyn_init_arena(&plan, a, 1 << 20);
    if (sql && c->store->ops->exec(c, sql, p, np, a, &rows) == ERR_OK) {
        /* PostgreSQL: one column of text; SQLite: id, parent, notused, detail. */
        size_t col = pg ? 0 : rows.ncols - 1;
        for (size_t i = 0; i < rows.nrows; i++) {
            dyn_add(&plan, db_cell(&rows, i, col) ? db_cell(&rows, i, col) : "");
            dyn_addc(&plan, '\n');
        }
        if (!dyn_err(&plan))
            c->explain(c->explain_ctx, text, dyn_str(&plan));
    }
    arena_free(a);
}

int store_exec(struct store_conn *c, const struct sql *q, const struct db_param *p, size_t np,
               struct arena *a, struct db_rows *out)
{
    if (np > STORE_MAX_PARAMS)
        return ERR_INVALID;
    const char *text = c->store->kind == DB_POSTGRES && q->pg ? q->pg : q->sqlite;
    if (c->explain)
        explain(c, text, p, np);
    if (out)
        memset(out, 0, sizeof(*out));
    return c->store->ops->exec(c, text, p, np, a, out);
}

bool store_version_peek(struct store_conn *c, const char *key, int64_t *out,
                        struct store_vticket *t)
{
    struct store *s = c->store;
    t->epoch = t->gen = 0;
    return s->ops->version_peek && s->ops->version_peek(s, key, out, t);
}

void store_version_put(struct store_conn *c, const char *key, int64_t v,
                       const struct store_vticket *t)
{
    struct store *s = c->store;
    if (s->ops->version_put)
        s->ops->version_put(s, key, v, t);
}

void store_version_await(struct store_conn *c, const char *key, int64_t v, int timeout_ms)
{
    struct store *s = c->store;
    if (s->ops->version_await)
        s->ops->version_await(s, key, v, timeout_ms);
}

int store_begin(struct store_conn *c)
{
    static const struct sql begin = {"BEGIN IMMEDIATE", "BEGIN"};
    return store_exec(c, &begin, NULL, 0, NULL, NULL);
}

int store_commit(struct store_conn *c)
{
    static const struct sql commit = {"COMMIT", NULL};
    return store_exec(c, &commit, NULL, 0, NULL, NULL);
}

void store_rollback(struct store_conn *c)
{
    c->store->ops->rollback(c);
}

int store_schema_version(void)
{
    return migrations[migrations_count - 1].version;
}

/* Reads the highest applied version; 0 for a fresh database. */
static int applied_version(struct store_conn *c, struct arena *a, int *out)
{
    static const struct sql q = {"SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL};
    struct db_rows rows;
    int rc = store_exec(c, &q, NULL, 0, a, &rows);
    if (rc != ERR_OK)
        return rc;
    *out = rows.nrows ? (int)strtol(db_cell(&rows, 0, 0), NULL, 10) : 0;
    return ERR_OK;
}

int store_migrate(struct store *s)
{
    static const struct sql create = {
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"};
    static const struct sql record = {
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", NULL};
    struct store_conn *c = NULL;
    int rc = store_acquire(s, &c);
    if (rc != ERR_OK)
        return rc;
    struct arena *a = arena_new();
    if (!a) {
        store_release(c);
        return ERR_NOMEM;
    }
    /* The lock serialises replicas that start at once (PostgreSQL); on SQLite each step
     * re-reads the version inside its BEGIN IMMEDIATE transaction, which serialises too. */
    rc = s->ops->migrate_lock(c);
    if (rc == ERR_OK)
        rc = store_exec(c, &create, NULL, 0, NULL, NULL);
    /* The usual start: the schema is current. One read says so, instead of a transaction
     * per migration (33 round trips, which a distant database makes most of a start). */
    int current = 0;
    bool pending = true;
    if (rc == ERR_OK && applied_version(c, a, &current) == ERR_OK)
        pending = current < store_schema_version();
    int applied = 0, first_version = -1;
    for (size_t i = 0; rc == ERR_OK && pending && i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        current = 0;
        rc = store_begin(c);
        if (rc == ERR_OK)
            rc = applied_version(c, a, &current);
        if (rc == ERR_OK && first_version < 0)
            first_version = current;
        if (rc == ERR_OK && m->version <= current) {
            rc = store_commit(c);
            continue;
        }
        if (rc == ERR_OK)
            rc = s->ops->script(c, s->kind == DB_POSTGRES ? m->pg : m->sqlite);
        struct db_param p[] = {P_INT(m->version), P_TEXT(m->name)};
        if (rc == ERR_OK)
            rc = store_exec(c, &record, p, 2, NULL, NULL);
        if (rc == ERR_OK)
            rc = store_commit(c);
        if (rc != ERR_OK) {
            store_rollback(c);
            log_error("migration %d (%s) failed", m->version, m->name);
        } else {
            applied++;
            log_info("applied migration %d (%s)", m->version, m->name);
        }
    }
    /* New indexes and columns on existing rows need statistics before the planner can use
     * them well; a fresh database is left unanalysed, as PostgreSQL's estimates for tables
     * never analysed favour the indexes while they fill (an ANALYZE of empty tables would
     * make every plan cached before autovacuum's first pass a sequential scan). */
    if (rc == ERR_OK && applied && first_version > 0 && s->kind == DB_POSTGRES) {
        rc = s->ops->script(c, "ANALYZE");
        if (rc == ERR_OK)
            log_info("analysed the database after %d migration%s", applied,
                     applied == 1 ? "" : "s");
    }
    s->ops->migrate_unlock(c);
    arena_free(a);
    store_release(c);
    return rc;
}
