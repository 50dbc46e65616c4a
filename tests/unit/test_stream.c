/*
 * Unit tests for streamed responses on suspended connections (src/http/stream.c), through
 * the real HTTP server (src/http/server.c) on 127.0.0.1 with a route table of test handlers:
 * Server-Sent Event framing (multi-line data) and heartbeat comments as a client receives
 * them; backpressure (a slow reader makes writes report STREAM_FULL, and the writable hook
 * fires once the buffer is drained to half; the bytes arrive intact); a client that goes
 * away (the closed hook fires and writes fail); a deferred answer woken from another thread.
 *
 * And the rule that a suspended request holds no database connection: with a pool of one
 * connection on PostgreSQL (a throw-away cluster from scripts/pg-test-server) and one
 * worker thread on SQLite (whose connections are per thread), a request that used the
 * database and then waits suspended does not keep another request from the database.
 */
#include "unit.h"
#include "unit_pg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "app.h"
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "http/request.h"
#include "http/router.h"
#include "http/server.h"
#include "http/stream.h"
#include "io/loop.h"
#include "store/store.h"

#define WAIT_MS    10000
#define BIG_BYTES  (3 * 1024 * 1024)
#define BIG_PIECE  (16 * 1024)
#define STREAM_CAP (64 * 1024)
/* How long /db may take while /hold waits: far below the pool's 5 s acquire timeout. */
#define DB_MAX_MS    2500
#define HEARTBEAT_MS 150
#define CLIENT_BUF   (8 * 1024 * 1024)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- what the handlers hand to the test --------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct stream *s; /* the stream of the last streaming request (a reference) */
    atomic_int writable, closed;
    struct loop *loop;
    bool small_sndbuf; /* h_events shrinks its socket's send buffer (no kernel autotuning) */
} shared = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void on_writable(struct stream *s)
{
    (void)s;
    pthread_mutex_lock(&shared.mu);
    atomic_fetch_add(&shared.writable, 1);
    pthread_cond_broadcast(&shared.cv);
    pthread_mutex_unlock(&shared.mu);
}

static void on_closed(struct stream *s)
{
    (void)s;
    pthread_mutex_lock(&shared.mu);
    atomic_fetch_add(&shared.closed, 1);
    pthread_cond_broadcast(&shared.cv);
    pthread_mutex_unlock(&shared.mu);
}

static const struct stream_hooks hooks = {.writable = on_writable, .closed = on_closed};

static void publish(struct stream *s)
{
    pthread_mutex_lock(&shared.mu);
    shared.s = s;
    pthread_cond_broadcast(&shared.cv);
    pthread_mutex_unlock(&shared.mu);
}

/* Waits for a handler to publish its stream and takes it. */
static struct stream *take_stream(void)
{
    int64_t deadline = now_mono_ms() + WAIT_MS;
    pthread_mutex_lock(&shared.mu);
    while (!shared.s && now_mono_ms() < deadline) {
        struct timespec ts;
        timespec_after_ms(&ts, 20);
        pthread_cond_timedwait(&shared.cv, &shared.mu, &ts);
    }
    struct stream *s = shared.s;
    shared.s = NULL;
    pthread_mutex_unlock(&shared.mu);
    assert_non_null(s);
    return s;
}

/* Waits until *counter reaches n (or fails). */
static void wait_count(atomic_int *counter, int n)
{
    for (int i = 0; i < WAIT_MS / 5 && atomic_load(counter) < n; i++)
        sleep_ms(5);
    assert_true(atomic_load(counter) >= n);
}

/* ---- handlers ----------------------------------------------------------------------- */

/* An event stream answered at once; the test writes its events. */
static void h_events(struct request *req)
{
    struct stream *s = NULL;
    if (stream_new(req, STREAM_CAP, &hooks, 0, &s) != ERR_OK) {
        resp_error(req, 500, "no stream");
        return;
    }
    if (shared.loop)
        stream_heartbeat(s, shared.loop, HEARTBEAT_MS);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sndbuf = 16 * 1024;
    if (shared.small_sndbuf && ci)
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    resp_header(req, "Cache-Control", "no-cache");
    resp_stream(req, 200, "text/event-stream", s);
    publish(s); /* the producer's reference goes to the test */
}

static void hold_resume(struct request *req)
{
    /* The connection comes back: the database is there again for this request. */
    static const struct sql q = {"SELECT 2", NULL};
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    struct db_rows rows;
    if (store_exec(db, &q, NULL, 0, req->arena, &rows) != ERR_OK) {
        resp_error(req, 500, "db");
        return;
    }
    resp_raw(req, 200, "text/plain", "held", 4);
}

/* Uses the database, then waits suspended until the test wakes it. */
static void h_hold(struct request *req)
{
    static const struct sql q = {"SELECT 1", NULL};
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    struct db_rows rows;
    struct stream *s = NULL;
    if (store_exec(db, &q, NULL, 0, req->arena, &rows) != ERR_OK ||
        stream_new(req, STREAM_CAP, &hooks, 0, &s) != ERR_OK) {
        resp_error(req, 500, "setup");
        return;
    }
    stream_defer(req, s, hold_resume);
    publish(s);
}

/* Answers from the database. */
static void h_db(struct request *req)
{
    static const struct sql q = {"SELECT 'ok'", NULL};
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    struct db_rows rows;
    if (store_exec(db, &q, NULL, 0, req->arena, &rows) != ERR_OK || rows.nrows != 1) {
        resp_error(req, 500, "db");
        return;
    }
    resp_raw(req, 200, "text/plain", "ok", 2);
}

static const struct route routes[] = {
    {HTTP_GET, "/events", h_events, 0},
    {HTTP_GET, "/hold", h_hold, 0},
    {HTTP_GET, "/db", h_db, 0},
};

/* ---- the server --------------------------------------------------------------------- */

struct server {
    struct config cfg;
    struct app app;
    struct http_server *srv;
    char port[16];
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Starts the server on database_url (NULL: none) with one worker thread. */
static void server_start(struct server *sv, const char *database_url)
{
    memset(sv, 0, sizeof(*sv));
    snprintf(sv->port, sizeof(sv->port), "%d", free_port());
    struct unit_env env[] = {
        {"HOST", "127.0.0.1"},
        {"PORT", sv->port},
        {"WORKERS", "1"},
        {"DATABASE_URL", database_url ? database_url : "sqlite:///:memory:"},
        {"DATABASE_POOL_SIZE", "1"},
        {"DATABASE_MAX_OVERFLOW", "0"},
        {"JWT_SECRET", "0123456789abcdef0123456789abcdef-stream"},
        {NULL, NULL},
    };
    struct config_errors errs;
    assert_int_equal(config_load(&sv->cfg, unit_env_get, env, &errs), ERR_OK);
    sv->app.cfg = &sv->cfg;
    sv->app.routes = routes;
    sv->app.n_routes = ARRAY_LEN(routes);
    if (database_url) {
        struct store_options o = {.url = &sv->cfg.db, .pool_size = 1, .max_overflow = 0};
        assert_int_equal(store_open(&o, &sv->app.store), ERR_OK);
    }
    assert_int_equal(http_server_start(&sv->app, &sv->srv), ERR_OK);
}

static void server_stop(struct server *sv)
{
    stream_shutdown();
    http_server_stop(sv->srv);
    store_close(sv->app.store);
    config_free(&sv->cfg);
}

/* ---- clients ------------------------------------------------------------------------ */

struct fetch {
    char url[128];
    long status;
    char *body;
    size_t len;
    int64_t ms; /* how long the request took */
    CURLcode rc;
    pthread_t thread;
};

static size_t fetch_write(char *p, size_t size, size_t n, void *cls)
{
    struct fetch *f = cls;
    size_t len = size * n;
    if (len > CLIENT_BUF - f->len)
        return 0;
    memcpy(f->body + f->len, p, len);
    f->len += len;
    return len;
}

static void *fetch_main(void *arg)
{
    struct fetch *f = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    int64_t t0 = now_mono_ms();
    f->rc = curl_easy_perform(c);
    f->ms = now_mono_ms() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
    curl_easy_cleanup(c);
    f->body[f->len] = '\0';
    return NULL;
}

static void fetch_start(struct fetch *f, const struct server *sv, const char *path)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%s%s", sv->port, path);
    f->body = malloc(CLIENT_BUF + 1);
    assert_non_null(f->body);
    assert_int_equal(pthread_create(&f->thread, NULL, fetch_main, f), 0);
}

static void fetch_join(struct fetch *f)
{
    pthread_join(f->thread, NULL);
}

/* A raw client: connects and sends a GET; returns the socket. */
static int raw_get(const struct server *sv, const char *path, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(sv->port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_event_framing_and_heartbeats(void **state)
{
    (void)state;
    struct server sv;
    assert_int_equal(loop_start(&shared.loop), ERR_OK);
    server_start(&sv, NULL);
    struct fetch f;
    fetch_start(&f, &sv, "/events");
    struct stream *s = take_stream();
    assert_int_equal(stream_event(s, "delta", "{\"text\":\"a\"}", 12), ERR_OK);
    assert_int_equal(stream_event(s, "note", "line one\nline two\r\nline three", 29), ERR_OK);
    sleep_ms(3 * HEARTBEAT_MS); /* quiet: heartbeats go out */
    assert_int_equal(stream_event(s, "bad\nname", "x", 1), ERR_INVALID);
    assert_int_equal(stream_event(s, "done", "{}", 2), ERR_OK);
    stream_end(s, true);
    /* refused: the stream has ended (ERR_INVALID) or, when the client already read it all
     * and went (a loaded machine lets it), is closed (ERR_CANCELED) */
    int late = stream_event(s, "late", "x", 1);
    assert_true(late == ERR_INVALID || late == ERR_CANCELED);
    stream_release(s);
    fetch_join(&f);
    assert_int_equal(f.rc, CURLE_OK);
    assert_int_equal(f.status, 200);
    static const char first[] = "event: delta\ndata: {\"text\":\"a\"}\n\n"
                                "event: note\ndata: line one\ndata: line two\ndata: line three\n\n";
    assert_memory_equal(f.body, first, sizeof(first) - 1);
    assert_true(unit_contains(f.body, ": keep-alive\n\n"));
    static const char last[] = "event: done\ndata: {}\n\n";
    assert_true(f.len > sizeof(last));
    assert_memory_equal(f.body + f.len - (sizeof(last) - 1), last, sizeof(last) - 1);
    free(f.body);
    server_stop(&sv);
    loop_stop(shared.loop);
    loop_free(shared.loop);
    shared.loop = NULL;
    assert_int_equal(stream_live(), 0);
}

/* The expected byte at offset i of the big body. */
static char big_byte(size_t i)
{
    return (char)('A' + (i * 31 + i / 7) % 26);
}

struct slow_reader {
    int fd;
    size_t got;
    bool intact;
    pthread_t thread;
};

/* Reads the response slowly: small reads with pauses, checking every body byte. */
static void *slow_read(void *arg)
{
    struct slow_reader *r = arg;
    static char buf[4096];
    size_t head = 0, body = 0;
    char tail[4] = {0};
    bool in_body = false;
    r->intact = true;
    sleep_ms(300); /* not reading yet: the socket's buffers fill, then the stream's */
    for (int i = 0; i < 100000 && body < BIG_BYTES; i++) {
        ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n; k++) {
            if (!in_body) {
                memmove(tail, tail + 1, 3);
                tail[3] = buf[k];
                head++;
                in_body = memcmp(tail, "\r\n\r\n", 4) == 0;
                continue;
            }
            /* Chunked framing lines are skipped: only the pattern letters count. */
            char c = buf[k];
            if (c < 'A' || c > 'Z')
                continue;
            if (c != big_byte(body))
                r->intact = false;
            body++;
        }
        if (i % 8 == 0)
            sleep_ms(2);
    }
    r->got = body;
    return NULL;
}

static void test_backpressure_and_writable(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, NULL);
    atomic_store(&shared.writable, 0);
    shared.small_sndbuf = true;
    struct slow_reader r = {.fd = raw_get(&sv, "/events", 16 * 1024)};
    struct stream *s = take_stream();
    assert_int_equal(pthread_create(&r.thread, NULL, slow_read, &r), 0);
    static char piece[BIG_PIECE];
    int fulls = 0;
    for (size_t off = 0; off < BIG_BYTES;) {
        size_t n = BIG_BYTES - off < BIG_PIECE ? BIG_BYTES - off : BIG_PIECE;
        for (size_t i = 0; i < n; i++)
            piece[i] = big_byte(off + i);
        int before = atomic_load(&shared.writable);
        int rc = stream_write(s, piece, n);
        if (rc == STREAM_FULL) {
            fulls++;
            wait_count(&shared.writable, before + 1); /* the reader drained it to half */
            continue;
        }
        assert_int_equal(rc, ERR_OK);
        off += n;
    }
    stream_end(s, true);
    stream_release(s);
    pthread_join(r.thread, NULL);
    close(r.fd);
    shared.small_sndbuf = false;
    assert_true(fulls > 0);
    assert_true(atomic_load(&shared.writable) >= fulls);
    assert_int_equal(r.got, BIG_BYTES);
    assert_true(r.intact);
    server_stop(&sv);
}

static void test_client_gone(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, NULL);
    atomic_store(&shared.closed, 0);
    int fd = raw_get(&sv, "/events", 0);
    struct stream *s = take_stream();
    assert_int_equal(stream_event(s, "hello", "1", 1), ERR_OK);
    char buf[512];
    assert_true(recv(fd, buf, sizeof(buf), 0) > 0);
    close(fd);
    /* Writes find out: the server's send fails, the response is dropped, the hook fires. */
    int rc = ERR_OK;
    for (int i = 0; i < 400 && rc != ERR_CANCELED; i++) {
        static const char tick[] = "data that the client never reads";
        rc = stream_event(s, "tick", tick, sizeof(tick) - 1);
        sleep_ms(10);
    }
    assert_int_equal(rc, ERR_CANCELED);
    assert_int_equal(atomic_load(&shared.closed), 1);
    assert_true(stream_closed(s));
    stream_release(s);
    server_stop(&sv);
}

/* A request used the database and then waits suspended; another one must get the one
 * connection at once, and the woken request gets it back. */
static void expect_no_connection_held(const char *database_url)
{
    struct server sv;
    server_start(&sv, database_url);
    struct fetch hold, db;
    fetch_start(&hold, &sv, "/hold");
    struct stream *s = take_stream();
    fetch_start(&db, &sv, "/db");
    fetch_join(&db);
    if (db.status != 200 || db.ms > DB_MAX_MS)
        fail_msg("%s: /db answered %ld after %lld ms while /hold waited", database_url, db.status,
                 (long long)db.ms);
    assert_string_equal(db.body, "ok");
    sleep_ms(100);
    stream_wake(s);
    stream_release(s);
    fetch_join(&hold);
    assert_int_equal(hold.status, 200);
    assert_string_equal(hold.body, "held");
    free(hold.body);
    free(db.body);
    server_stop(&sv);
}

static void test_suspended_request_holds_no_sqlite_connection(void **state)
{
    (void)state;
    char dir[] = "/tmp/todo-unit-stream-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof(url), "sqlite:///%s/t.db", dir);
    expect_no_connection_held(url);
    char path[128];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/t.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/t.db-shm", dir);
    unlink(path);
    rmdir(dir);
}

/* ---- PostgreSQL ------------------------------------------------------------------------ */

static void test_suspended_request_holds_no_pg_connection(void **state)
{
    (void)state;
    struct unit_pg pg;
    assert_int_equal(unit_pg_start(&pg), 0);
    expect_no_connection_held(pg.url);
    assert_int_equal(unit_pg_stop(&pg), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_framing_and_heartbeats),
        cmocka_unit_test(test_backpressure_and_writable),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_suspended_request_holds_no_sqlite_connection),
        cmocka_unit_test(test_suspended_request_holds_no_pg_connection),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
