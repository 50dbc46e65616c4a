/*
 * The store interface: the one way domain modules reach the database. Two backends
 * implement it (sqlite.c, postgres.c). Domain code writes each statement once per
 * dialect (struct sql), binds typed parameters with $1..$N placeholders in both, and
 * gets rows back copied into the request's arena: text, and integers also as numbers. Connections
 * are checked out per request and cache their prepared statements, so the hot path never parses SQL
 * twice.
 */
#ifndef TODO_STORE_H
#define TODO_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/url.h"

/* Limits every query obeys. */
#define STORE_MAX_PARAMS         32
#define STORE_MAX_ROWS           10000
#define STORE_QUERY_TIMEOUT_MS   10000
#define STORE_ACQUIRE_TIMEOUT_MS 5000

/* A statement in both dialects; pg may be NULL when the text is the same. */
struct sql {
    const char *sqlite;
    const char *pg;
};

enum db_ptype { DBP_NULL = 0, DBP_TEXT, DBP_INT, DBP_BOOL };

/* One bound parameter. Text is borrowed for the duration of the call. */
struct db_param {
    enum db_ptype type;
    const char *s;
    int64_t i;
};

/* Text, or SQL NULL when v is NULL (v is evaluated once). */
static inline struct db_param p_text(const char *v)
{
    return (struct db_param){.type = v ? DBP_TEXT : DBP_NULL, .s = v};
}

#define P_TEXT(v) p_text(v)
#define P_INT(v)  ((struct db_param){.type = DBP_INT, .i = (int64_t)(v)})
#define P_BOOL(v) ((struct db_param){.type = DBP_BOOL, .i = (v) ? 1 : 0})
#define P_NULL    ((struct db_param){.type = DBP_NULL})

/* A result: nrows × ncols cells in row-major order, NULL for SQL NULL, in the arena. Every
 * cell has its text; a cell the backend holds as an integer (SQLite's INTEGER, PostgreSQL's
 * int2/int4/int8) is also read as a number (db_int), so nobody formats it and parses it back. */
struct db_rows {
    size_t nrows;
    size_t ncols;
    char **cells;
    int64_t *nums;        /* per cell: its value where isnum[cell] (both NULL when none) */
    unsigned char *isnum; /* per cell: 1 when the backend gave an integer */
    int64_t changes;      /* rows changed by an INSERT/UPDATE/DELETE */
};

/* Cell (row, col) of a result. */
static inline const char *db_cell(const struct db_rows *r, size_t row, size_t col)
{
    return r->cells[row * r->ncols + col];
}

/* Reads s as a decimal integer (an optional '-', then 1-19 digits, nothing else). */
bool db_parse_int(const char *s, int64_t *out);

/* Cell (row, col) as an integer: true with *out when it holds one — the backend's number when
 * it typed the cell as an integer, else its text read by db_parse_int; false for NULL or
 * text that is no integer. */
static inline bool db_int(const struct db_rows *r, size_t row, size_t col, int64_t *out)
{
    size_t k = row * r->ncols + col;
    if (r->isnum && r->isnum[k]) {
        *out = r->nums[k];
        return true;
    }
    return db_parse_int(r->cells[k], out);
}

/* Options that decide how a store opens. */
struct store_options {
    const struct db_url *url;
    int pool_size;    /* PostgreSQL: connections kept open */
    int max_overflow; /* PostgreSQL: extra connections allowed under load */
};

struct store;
struct store_conn;

/* Opens a store (no connection is made yet for PostgreSQL). The caller owns *out and
 * releases it with store_close. */
int store_open(const struct store_options *o, struct store **out);

/* Closes every connection and frees the store. No connection may be checked out. */
void store_close(struct store *s);

enum db_kind store_kind(const struct store *s);

/* The kind of the store a connection belongs to. */
enum db_kind store_conn_kind(const struct store_conn *c);

/* Applies the embedded migrations not yet applied; safe when replicas race. */
int store_migrate(struct store *s);

/* The latest migration version this binary knows. */
int store_schema_version(void);

/* Checks a connection out for this thread's current request. Release it with
 * store_release. ERR_UNAVAILABLE when the database cannot be reached in time. */
int store_acquire(struct store *s, struct store_conn **out);

/* Returns the connection; a broken one is closed and replaced on demand. */
void store_release(struct store_conn *c);

/* Runs SELECT 1 with a deadline; ERR_OK when the database answers. */
int store_ping(struct store *s, int timeout_ms);

/* Runs q with np parameters. When out is non-NULL, rows are copied into a. Errors:
 * ERR_CONFLICT (unique violation), ERR_INVALID (check/foreign key), ERR_UNAVAILABLE
 * (connection lost or timed out), ERR_DB (anything else; the detail is logged). */
int store_exec(struct store_conn *c, const struct sql *q, const struct db_param *p, size_t np,
               struct arena *a, struct db_rows *out);

/* --- Versions validated without a round trip -------------------------------------------
 * A version is a counter in the database that grows, in the same transaction, with every
 * change of what it labels (a user's tasks). On PostgreSQL the store keeps the versions it
 * has seen current from the notifications a trigger sends at each commit (store/pg_listen.h);
 * while the notification connection is down or has unread input, nothing is known and the
 * caller reads the database. SQLite knows nothing (its read is a local point read). */
struct store_vticket {
    uint64_t epoch;
    uint64_t gen;
};

/* True with *out when key's current version is known without asking the database.
 * Otherwise false, and t is what store_version_put needs after the caller's read. */
bool store_version_peek(struct store_conn *c, const char *key, int64_t *out,
                        struct store_vticket *t);

/* Remembers v, read from the database after store_version_peek gave t, unless a change of
 * key may have been announced meanwhile. */
void store_version_put(struct store_conn *c, const char *key, int64_t v,
                       const struct store_vticket *t);

/* After the commit that made key's version v: waits (at most timeout_ms) until every
 * replica's listener has acknowledged it, so that no replica can still hold the old version
 * when the client asks it next (store/pg_listen.h). Returns at once on SQLite. */
void store_version_await(struct store_conn *c, const char *key, int64_t v, int timeout_ms);

/* For tests: while fn is set, every SELECT, INSERT, UPDATE or DELETE run on c is first
 * EXPLAINed with the same parameters (EXPLAIN QUERY PLAN on SQLite; on PostgreSQL a
 * prepared statement, so the plan is the one the connection would cache) and fn receives the
 * statement and its plan, one line per node. NULL turns it off. */
typedef void (*store_explain_fn)(void *ctx, const char *sql, const char *plan);
void store_explain(struct store_conn *c, store_explain_fn fn, void *ctx);

/* Transactions. begin takes the write lock up front (BEGIN IMMEDIATE on SQLite). */
int store_begin(struct store_conn *c);
int store_commit(struct store_conn *c);
void store_rollback(struct store_conn *c);

#endif
