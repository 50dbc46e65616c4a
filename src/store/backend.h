/*
 * What a storage backend provides to store.c. Private to src/store/.
 */
#ifndef TODO_STORE_BACKEND_H
#define TODO_STORE_BACKEND_H

#include "store/store.h"

struct backend_ops {
    int (*acquire)(struct store *s, struct store_conn **out);
    void (*release)(struct store_conn *c);
    int (*exec)(struct store_conn *c, const char *sql, const struct db_param *p, size_t np,
                struct arena *a, struct db_rows *out);
    /* Ends the transaction in progress, if any; nothing when the backend already ended it
     * (SQLite rolls back by itself on some errors) or the connection is being dropped. */
    void (*rollback)(struct store_conn *c);
    /* Runs a multi-statement script without parameters (migrations). */
    int (*script)(struct store_conn *c, const char *sql);
    int (*ping)(struct store *s, int timeout_ms);
    int (*migrate_lock)(struct store_conn *c);
    void (*migrate_unlock)(struct store_conn *c);
    void (*close)(struct store *s);
    /* Versions (store.h); NULL when the backend knows none. */
    bool (*version_peek)(struct store *s, const char *key, int64_t *out, struct store_vticket *t);
    void (*version_put)(struct store *s, const char *key, int64_t v, const struct store_vticket *t);
    void (*version_await)(struct store *s, const char *key, int64_t v, int timeout_ms);
};

/* Every backend's store starts with this header. */
struct store {
    const struct backend_ops *ops;
    enum db_kind kind;
};

/* Every backend's connection starts with this header. */
struct store_conn {
    struct store *store;
    store_explain_fn explain; /* tests only (store_explain) */
    void *explain_ctx;
};

int sqlite_store_open(const struct store_options *o, struct store **out);
int pg_store_open(const struct store_options *o, struct store **out);

/* A fixed-size statement cache keyed by SQL text, shared by both backends: sets of
 * STMT_CACHE_WAYS entries, the least recently used of a set evicted. (Direct-mapped, two
 * statements that shared a slot evicted each other on every use: on PostgreSQL a DEALLOCATE
 * and a PREPARE, two round trips each time; the session check's two reads did after each write.) */
#define STMT_CACHE_SLOTS 128
#define STMT_CACHE_WAYS  4

struct stmt_cache_entry {
    uint64_t hash;
    uint64_t used;   /* the connection's tick at its last use (least recently used goes first) */
    const char *sql; /* owned copy */
    void *handle;    /* sqlite3_stmt*, or a prepared-statement name for PostgreSQL */
    int nparams;
    int index[STORE_MAX_PARAMS]; /* SQLite: bind index of $i+1 */
};

/* The entry for sql (hash h) in cache: the one holding it (*hit true), else the one to fill — a
 * free entry of its set, or the set's least recently used (whose statement the caller
 * releases first). Marks it used at ++*tick. */
struct stmt_cache_entry *stmt_cache_find(struct stmt_cache_entry *cache, uint64_t h,
                                         const char *sql, uint64_t *tick, bool *hit);

#endif
