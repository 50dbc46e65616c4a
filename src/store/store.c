/*
 * The store front: picks a backend from the database URL, forwards calls to it, and runs
 * the embedded migrations (migrations.c) under the backend's migration lock.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/backend.h"
#include "store/migrations.h"

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

int store_exec(struct store_conn *c, const struct sql *q, const struct db_param *p, size_t np,
               struct arena *a, struct db_rows *out)
{
    if (np > STORE_MAX_PARAMS)
        return ERR_INVALID;
    const char *text = c->store->kind == DB_POSTGRES && q->pg ? q->pg : q->sqlite;
    if (out)
        memset(out, 0, sizeof(*out));
    return c->store->ops->exec(c, text, p, np, a, out);
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
    for (size_t i = 0; rc == ERR_OK && i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        int current = 0;
        rc = store_begin(c);
        if (rc == ERR_OK)
            rc = applied_version(c, a, &current);
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
            log_info("applied migration %d (%s)", m->version, m->name);
        }
    }
    s->ops->migrate_unlock(c);
    arena_free(a);
    store_release(c);
    return rc;
}
