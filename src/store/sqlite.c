/*
 * SQLite backend. One connection per thread (opened on first use, WAL mode, so readers
 * never block the writer), prepared statements cached per connection, writes inside
 * BEGIN IMMEDIATE transactions, and a busy timeout instead of failing on a locked file.
 *
 * Writes are serialised inside the process by one write lock, taken before BEGIN IMMEDIATE
 * (or before a lone write statement) and released when the transaction ends: a writer waits
 * on a mutex and is woken the moment the previous writer commits, instead of sleeping in
 * SQLite's busy handler and retrying (the busy timeout remains for other processes that
 * share the file, such as `todo migrate`). Readers never take it (WAL).
 *
 * A thread's connection is checked out by at most one holder at a time: acquiring it while
 * it is out is refused (ERR_UNAVAILABLE, logged as the bug it is). A request gives its
 * connection back before it is suspended (resp_defer), so the next request served by the
 * same worker thread never finds it in the middle of another request's transaction, and
 * streaming steps take their connection on a work-queue thread for the step alone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "store/backend.h"

#define SQLITE_BUSY_TIMEOUT_MS 5000
/* How long a writer waits for the process's write lock before answering 503. */
#define SQLITE_WRITE_WAIT_MS 5000

struct sqlite_conn {
    struct store_conn base;
    sqlite3 *db;
    bool in_use;  /* checked out (only the owning thread acquires it) */
    bool writing; /* holds the store's write lock (until its transaction ends) */
    struct sqlite_conn *next_all;
    struct stmt_cache_entry cache[STMT_CACHE_SLOTS];
    uint64_t stmt_tick; /* the statement cache's clock */
};

struct sqlite_store {
    struct store base;
    char *path;
    int flags;
    uint64_t gen; /* tells this thread's cached connection from one of an older store */
    bool file;    /* path names a file (not an in-memory database) */
    pthread_mutex_t mu;
    pthread_mutex_t write_mu; /* one writer at a time (see the top of the file) */
    struct sqlite_conn *all;  /* every connection opened, closed by sqlite_close */
};

static atomic_uint_fast64_t next_gen = 1;
static __thread struct sqlite_conn *tl_conn;
static __thread uint64_t tl_gen;

/* rfc3339(x): timestamps are already stored as RFC 3339 text; see migrations.c. */
static void fn_rfc3339(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_value(ctx, argv[0]);
}

static int open_conn(struct sqlite_store *s, struct sqlite_conn **out)
{
    struct sqlite_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return ERR_NOMEM;
    c->base.store = &s->base;
    int rc = sqlite3_open_v2(s->path, &c->db, s->flags, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot open %s: %s", s->path, c->db ? sqlite3_errmsg(c->db) : "");
        sqlite3_close(c->db);
        free(c);
        return ERR_UNAVAILABLE;
    }
    sqlite3_busy_timeout(c->db, SQLITE_BUSY_TIMEOUT_MS);
    char *err = NULL;
    rc = sqlite3_exec(c->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                      "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                      /* 512 KiB of page cache per connection (SQLite's default: 2,000
                       * KiB), one connection per thread: the operating system caches the
                       * file for all of them, and a page read again is a copy from it.
                       * A 50-task page's working set fits (callgrind: the same counts);
                       * on a 100,000-task database the RSS of paging and searching grew
                       * by 1.7 MB instead of 4.8 MB, at the same request rate. */
                      "PRAGMA cache_size=-512;"
                      /* Deleted rows (a deleted account) are overwritten, not left in
                       * free pages of the file. */
                      "PRAGMA secure_delete=ON;",
                      NULL, NULL, &err);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(c->db, "rfc3339", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                     fn_rfc3339, NULL, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot configure %s: %s", s->path, err ? err : sqlite3_errmsg(c->db));
        sqlite3_free(err);
        sqlite3_close(c->db);
        free(c);
        return ERR_UNAVAILABLE;
    }
    pthread_mutex_lock(&s->mu);
    c->next_all = s->all;
    s->all = c;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return ERR_OK;
}

/* Takes the store's write lock for c, waiting at most SQLITE_WRITE_WAIT_MS. */
static int write_lock(struct sqlite_conn *c)
{
    struct sqlite_store *s = (struct sqlite_store *)c->base.store;
    struct timespec ts;
    timespec_after_ms(&ts, SQLITE_WRITE_WAIT_MS);
    int rc = pthread_mutex_timedlock(&s->write_mu, &ts);
    if (rc != 0) {
        log_warn("sqlite: no write turn within %d ms", SQLITE_WRITE_WAIT_MS);
        return ERR_UNAVAILABLE;
    }
    c->writing = true;
    return ERR_OK;
}

/* Gives the write lock back once c's transaction has ended (committed or rolled back, by
 * the caller or by SQLite itself after an error). */
static void write_unlock_if_done(struct sqlite_conn *c)
{
    if (c->writing && sqlite3_get_autocommit(c->db)) {
        c->writing = false;
        pthread_mutex_unlock(&((struct sqlite_store *)c->base.store)->write_mu);
    }
}

static int sqlite_acquire(struct store *base, struct store_conn **out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    if (!tl_conn || tl_gen != s->gen) {
        struct sqlite_conn *c;
        int rc = open_conn(s, &c);
        if (rc != ERR_OK)
            return rc;
        tl_conn = c;
        tl_gen = s->gen;
    }
    if (tl_conn->in_use) {
        log_error("sqlite: this thread's connection is already checked out (a holder kept it "
                  "across a suspension?); refused");
        return ERR_UNAVAILABLE;
    }
    tl_conn->in_use = true;
    *out = &tl_conn->base;
    return ERR_OK;
}

static void sqlite_release(struct store_conn *base)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    /* A handler that forgot its transaction must not leak it into the next request. */
    if (!sqlite3_get_autocommit(c->db)) {
        log_error("sqlite: connection released inside a transaction; rolling back");
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    write_unlock_if_done(c);
    c->in_use = false;
}

static int map_error(sqlite3 *db, int rc)
{
    int ext = sqlite3_extended_errcode(db);
    switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return ERR_CONFLICT;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return ERR_INVALID;
    default:
        break;
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        log_warn("sqlite: database busy");
        return ERR_UNAVAILABLE;
    }
    /* The storage cannot take writes (disk full, read-only file or file system, I/O error):
     * the database is unavailable for now, not the request wrong (503, not 500). */
    switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        log_error("sqlite: %s", sqlite3_errmsg(db));
        return ERR_UNAVAILABLE;
    default:
        break;
    }
    log_error("sqlite: %s", sqlite3_errmsg(db));
    return ERR_DB;
}

/* Finds or prepares the statement for sql in the connection's cache. */
static int get_stmt(struct sqlite_conn *c, const char *sql, struct stmt_cache_entry **out)
{
    uint64_t h = hash_str(sql);
    bool hit;
    struct stmt_cache_entry *e = stmt_cache_find(c->cache, h, sql, &c->stmt_tick, &hit);
    if (hit) {
        *out = e;
        return ERR_OK;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return map_error(c->db, rc);
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(st);
        return ERR_NOMEM;
    }
    if (e->handle) { /* evict the slot's previous statement */
        sqlite3_finalize(e->handle);
        free((char *)e->sql);
    }
    e->hash = h;
    e->sql = copy;
    e->handle = st;
    e->nparams = 0;
    for (int i = 0; i < STORE_MAX_PARAMS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", i + 1);
        e->index[i] = sqlite3_bind_parameter_index(st, name);
        if (e->index[i])
            e->nparams = i + 1;
    }
    *out = e;
    return ERR_OK;
}

static int bind_params(sqlite3_stmt *st, const struct stmt_cache_entry *e, const struct db_param *p,
                       size_t np)
{
    for (size_t i = 0; i < np; i++) {
        int idx = e->index[i];
        if (!idx)
            continue; /* parameter not used by this dialect's text */
        int rc;
        switch (p[i].type) {
        case DBP_TEXT:
            rc = sqlite3_bind_text(st, idx, p[i].s, -1, SQLITE_STATIC);
            break;
        case DBP_INT:
        case DBP_BOOL:
            rc = sqlite3_bind_int64(st, idx, p[i].i);
            break;
        default:
            rc = sqlite3_bind_null(st, idx);
            break;
        }
        if (rc != SQLITE_OK)
            return ERR_DB;
    }
    return ERR_OK;
}

/* Grows the result's cell arrays (text, number, is-a-number) to hold one more row. */
static int reserve_row(struct arena *a, struct db_rows *out, size_t *cap)
{
    size_t ncols = out->ncols, used = out->nrows * ncols;
    if (used + ncols <= *cap)
        return ERR_OK;
    size_t ncap = *cap ? *cap * 2 : ncols * 16;
    char **cells = arena_alloc(a, ncap * sizeof(char *));
    int64_t *nums = arena_alloc(a, ncap * sizeof(int64_t));
    unsigned char *isnum = arena_alloc(a, ncap);
    if (!cells || !nums || !isnum)
        return ERR_NOMEM;
    if (used) {
        memcpy(cells, out->cells, used * sizeof(char *));
        memcpy(nums, out->nums, used * sizeof(int64_t));
        memcpy(isnum, out->isnum, used);
    }
    out->cells = cells;
    out->nums = nums;
    out->isnum = isnum;
    *cap = ncap;
    return ERR_OK;
}

/* Copies the current row into the growing cell arrays: integers as numbers (and their text,
 * formatted here rather than by SQLite), every cell's text in one allocation per row. */
static int copy_row(sqlite3_stmt *st, struct arena *a, struct db_rows *out, size_t *cap)
{
    int rc = reserve_row(a, out, cap);
    if (rc != ERR_OK)
        return rc;
    size_t ncols = out->ncols, base = out->nrows * ncols, bytes = 0;
    char **row = out->cells + base;
    int64_t *nums = out->nums + base;
    unsigned char *isnum = out->isnum + base;
    for (size_t i = 0; i < ncols; i++) { /* what each cell needs; texts stay SQLite's for now */
        /* One call into the statement per cell: its value, then the value's own accessors.
         * The value is "unprotected" (no mutex); a connection is only ever used by the thread
         * that checked it out (SQLITE_OPEN_NOMUTEX), so nothing else can touch it meanwhile. */
        sqlite3_value *v = sqlite3_column_value(st, (int)i);
        int type = sqlite3_value_type(v);
        isnum[i] = type == SQLITE_INTEGER;
        row[i] = NULL;
        if (type == SQLITE_NULL)
            continue;
        if (isnum[i]) {
            nums[i] = sqlite3_value_int64(v);
            bytes += 21;
            continue;
        }
        const unsigned char *t = sqlite3_value_text(v);
        size_t len = (size_t)sqlite3_value_bytes(v);
        row[i] = t ? (char *)t : (char *)"";
        nums[i] = (int64_t)len;
        bytes += len + 1;
    }
    char *p = arena_alloc(a, bytes ? bytes : 1);
    if (!p)
        return ERR_NOMEM;
    for (size_t i = 0; i < ncols; i++) {
        if (isnum[i]) {
            row[i] = p;
            size_t n = int64_text(nums[i], p);
            p[n] = '\0';
            p += n + 1;
        } else if (row[i]) {
            size_t len = (size_t)nums[i];
            memcpy(p, row[i], len);
            p[len] = '\0';
            row[i] = p;
            nums[i] = 0;
            p += len + 1;
        }
    }
    out->nrows++;
    return ERR_OK;
}

static int sqlite_exec(struct store_conn *base, const char *sql, const struct db_param *p,
                       size_t np, struct arena *a, struct db_rows *out)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    struct stmt_cache_entry *e = NULL;
    int rc = get_stmt(c, sql, &e);
    if (rc != ERR_OK)
        return rc;
    sqlite3_stmt *st = e->handle;
    /* A transaction that will write (BEGIN IMMEDIATE) or a lone write takes the write lock;
     * statements inside a transaction that holds it do not. */
    if (!c->writing && (strncmp(sql, "BEGIN IMMEDIATE", 15) == 0 || !sqlite3_stmt_readonly(st))) {
        rc = write_lock(c);
        if (rc != ERR_OK)
            return rc;
    }
    rc = bind_params(st, e, p, np);
    size_t cap = 0;
    if (out)
        out->ncols = (size_t)sqlite3_column_count(st);
    while (rc == ERR_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = map_error(c->db, step);
            break;
        }
        if (!out)
            continue;
        if (out->nrows >= STORE_MAX_ROWS) {
            rc = ERR_TOOBIG;
            break;
        }
        rc = copy_row(st, a, out, &cap);
    }
    if (out)
        out->changes = sqlite3_changes64(c->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    write_unlock_if_done(c);
    return rc;
}

/* SQLite ends a transaction by itself after some errors (a full disk, an I/O error): a
 * ROLLBACK then would only log "cannot rollback - no transaction is active". */
static void sqlite_rollback(struct store_conn *base)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    write_unlock_if_done(c);
}

static int sqlite_script(struct store_conn *base, const char *sql)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    char *err = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        log_error("sqlite: %s", err ? err : sqlite3_errmsg(c->db));
        sqlite3_free(err);
        return ERR_DB;
    }
    return ERR_OK;
}

static int sqlite_ping(struct store *base, int timeout_ms)
{
    (void)timeout_ms; /* a local file answers at once or not at all */
    static const char *sql = "SELECT 1";
    struct store_conn *c;
    int rc = sqlite_acquire(base, &c);
    if (rc != ERR_OK)
        return rc;
    rc = sqlite_exec(c, sql, NULL, 0, NULL, NULL);
    sqlite_release(c);
    if (rc != ERR_OK)
        return rc;
    /* Ready means able to write too: a database opened read-only (file or file system not
     * writable) answers reads but would fail every write. */
    struct sqlite_store *s = (struct sqlite_store *)base;
    if (sqlite3_db_readonly(((struct sqlite_conn *)c)->db, "main") == 1 ||
        (s->file && access(s->path, W_OK) != 0 && (errno == EROFS || errno == EACCES)))
        return ERR_UNAVAILABLE;
    return ERR_OK;
}

static int sqlite_lock_noop(struct store_conn *c)
{
    (void)c;
    return ERR_OK;
}

static void sqlite_unlock_noop(struct store_conn *c)
{
    (void)c;
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct sqlite_conn *c = s->all;
    while (c) {
        struct sqlite_conn *next = c->next_all;
        for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
            if (c->cache[i].handle) {
                sqlite3_finalize(c->cache[i].handle);
                free((char *)c->cache[i].sql);
            }
        }
        sqlite3_close(c->db);
        free(c);
        c = next;
    }
    if (tl_gen == s->gen)
        tl_conn = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
    free(s->path);
    free(s);
}

static const struct backend_ops sqlite_ops = {
    .acquire = sqlite_acquire,
    .release = sqlite_release,
    .exec = sqlite_exec,
    .rollback = sqlite_rollback,
    .script = sqlite_script,
    .ping = sqlite_ping,
    .migrate_lock = sqlite_lock_noop,
    .migrate_unlock = sqlite_unlock_noop,
    .close = sqlite_close,
};

/* Creates the parent directory of a database file when it is missing (one level). */
static void ensure_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return;
    char dir[4096];
    size_t len = (size_t)(slash - path);
    if (len >= sizeof(dir))
        return;
    memcpy(dir, path, len);
    dir[len] = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        log_warn("sqlite: cannot create directory %s: %s", dir, strerror(errno));
}

/* Process-wide SQLite settings, applied once before the first connection: no memory
 * statistics (they take a global mutex on every allocation). */
static void sqlite_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

int sqlite_store_open(const struct store_options *o, struct store **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_init);
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return ERR_NOMEM;
    s->base.ops = &sqlite_ops;
    s->base.kind = DB_SQLITE;
    s->flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (strcmp(o->url->sqlite_path, ":memory:") == 0) {
        /* One shared in-memory database for all threads of this store. */
        char name[64];
        uint64_t g = atomic_fetch_add(&next_gen, 1);
        snprintf(name, sizeof(name), "file:todo-mem-%llu?mode=memory&cache=shared",
                 (unsigned long long)g);
        s->path = strdup(name);
        s->flags |= SQLITE_OPEN_URI;
    } else {
        s->path = strdup(o->url->sqlite_path);
        s->file = true;
        if (s->path)
            ensure_parent(s->path);
    }
    if (!s->path) {
        free(s);
        return ERR_NOMEM;
    }
    s->gen = atomic_fetch_add(&next_gen, 1);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    /* Open this thread's connection now so a bad path fails at start-up. */
    struct store_conn *c;
    int rc = sqlite_acquire(&s->base, &c);
    if (rc != ERR_OK) {
        sqlite_close(&s->base);
        return rc;
    }
    sqlite_release(c);
    *out = &s->base;
    return ERR_OK;
}
