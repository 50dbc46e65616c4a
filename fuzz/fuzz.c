/*
 * The fuzz targets' shared app (see fuzz.h): configuration from a fixed table, an
 * in-memory SQLite store with every migration, the routes of role all, two users' tokens,
 * and the checks every in-memory answer must pass.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "assistant/agent.h"
#include "auth/jwt.h"
#include "core/config.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "handlers/routes.h"
#include "http/server.h"
#include "store/store.h"

static const char *const env[][2] = {
    {"DATABASE_URL", "sqlite:///:memory:"},
    {"JWT_SECRET", "fuzz-secret-0123456789abcdef0123456789abcdef"},
    {"WORKERS", "1"},
    {"LOG_LEVEL", "ERROR"},
    {"MCP_RATE_LIMIT_PER_MINUTE", "1000000"},
    {"LLM_PROVIDER", "offline"}, /* chat turns run in place: nothing is suspended */
};

/* Set by fuzz_app: a port for fuzz_server and a private uploads directory. */
static char port_text[16] = "0";
static char uploads_dir[64] = "";

static const char *env_get(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "PORT") == 0)
        return port_text;
    if (strcmp(name, "UPLOADS_DIR") == 0)
        return uploads_dir;
    if (strcmp(name, "HOST") == 0)
        return "127.0.0.1";
    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    return NULL;
}

static struct config cfg;
static struct agent agent;
static void seed_tasks(void);
static struct fuzz_app fa;
static bool started;

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, err_str(rc));
    exit(1);
}

static void remove_uploads(void)
{
    char cmd[128];
    if (uploads_dir[0] && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", uploads_dir) < (int)sizeof(cmd))
        (void)system(cmd);
}

/* A free loopback port, as text. */
static void pick_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        snprintf(port_text, sizeof(port_text), "%d", ntohs(a.sin_port));
    if (fd >= 0)
        close(fd);
}

struct fuzz_app *fuzz_app(void)
{
    if (started)
        return &fa;
    snprintf(uploads_dir, sizeof(uploads_dir), "/tmp/todo-fuzz-XXXXXX");
    if (!mkdtemp(uploads_dir))
        die("mkdtemp", ERR_IO);
    atexit(remove_uploads);
    pick_port();
    struct config_errors errs = {0};
    int rc = config_load(&cfg, env_get, NULL, &errs);
    if (rc != ERR_OK) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "fuzz: %s\n", errs.lines[i]);
        die("configuration", rc);
    }
    log_set_level(LOG_ERROR);
    fa.app.cfg = &cfg;
    struct store_options o = {.url = &cfg.db, .pool_size = 1, .max_overflow = 0};
    if ((rc = store_open(&o, &fa.app.store)) != ERR_OK)
        die("store_open", rc);
    if ((rc = store_migrate(fa.app.store)) != ERR_OK)
        die("store_migrate", rc);
    atomic_store(&fa.app.schema_ready, true);
    routes_for_role(ROLE_ALL, &fa.app.routes, &fa.app.n_routes);
    /* The assistant as app.c sets it up, offline with its tools in process. */
    char why[CONFIG_ERROR_LINE];
    struct dynbuf w;
    dyn_init_fixed(&w, why, sizeof(why));
    if ((rc = agent_init(&agent, &cfg, &w)) != ERR_OK) {
        fprintf(stderr, "fuzz: %s\n", dyn_str(&w));
        die("agent_init", rc);
    }
    agent.store = fa.app.store;
    fa.app.agent = &agent;
    int64_t now = now_unix();
    /* Valid for a year: a long fuzzing run never sees them expire. */
    if ((rc = jwt_issue(cfg.jwt_secret, FUZZ_UID, "fuzz@example.com", now, 365 * 86400, fa.token,
                        sizeof(fa.token))) != ERR_OK ||
        (rc = jwt_issue(cfg.jwt_secret, FUZZ_OTHER_UID, "other@example.com", now, 365 * 86400,
                        fa.other_token, sizeof(fa.other_token))) != ERR_OK)
        die("jwt_issue", rc);
    snprintf(fa.bearer, sizeof(fa.bearer), "Bearer %s", fa.token);
    snprintf(fa.other_bearer, sizeof(fa.other_bearer), "Bearer %s", fa.other_token);
    started = true;
    seed_tasks();
    return &fa;
}

/* Tasks 1-3 of FUZZ_UID (one done, one recurring) and 4 of FUZZ_OTHER_UID, made through
 * the API: inputs that name a task by id find one. */
static void seed_tasks(void)
{
    static const char *const bodies[] = {
        "{\"title\":\"One\",\"tags\":[\"a\",\"b\"],\"due_at\":\"2030-01-01\"}",
        "{\"title\":\"Two\",\"recurrence\":\"daily\",\"due_at\":\"2020-01-01T10:00:00Z\"}",
        "{\"title\":\"Three\",\"completed\":true,\"priority\":\"low\"}",
    };
    for (size_t i = 0; i < 4; i++) {
        struct req_kv h[] = {{"Authorization", i < 3 ? fa.bearer : fa.other_bearer},
                             {"Content-Type", "application/json"}};
        struct req_local local = {h, 2, NULL, 0, "127.0.0.1"};
        const char *b = bodies[i % 3];
        fuzz_serve(fuzz_request("POST", "/api/me/tasks", &local, b, strlen(b)));
    }
}

void fuzz_app_tidy(unsigned every)
{
    static unsigned calls;
    if (++calls % every)
        return;
    static const struct sql wipe[] = {
        {"DELETE FROM tasks", NULL},
        {"DELETE FROM deleted_tasks", NULL},
        {"DELETE FROM conversations", NULL},
        {"DELETE FROM access_tokens", NULL},
        {"DELETE FROM mcp_sessions", NULL},
        {"DELETE FROM sqlite_sequence", NULL}, /* ids start at 1 again */
    };
    struct store_conn *c = NULL;
    if (store_acquire(fa.app.store, &c) != ERR_OK)
        return;
    for (size_t i = 0; i < sizeof(wipe) / sizeof(wipe[0]); i++)
        store_exec(c, &wipe[i], NULL, 0, NULL, NULL);
    store_release(c);
    seed_tasks();
}

struct request *fuzz_request(const char *method, const char *path, const struct req_local *local,
                             const char *body, size_t body_len)
{
    struct arena *a = arena_new();
    struct request *req = a ? arena_calloc(a, 1, sizeof(*req)) : NULL;
    if (!req) {
        fprintf(stderr, "fuzz: out of memory\n");
        abort();
    }
    req->arena = a;
    req->method_name = arena_strdup(a, method);
    req->path = arena_strdup(a, path);
    req->local = local;
    snprintf(req->request_id, sizeof(req->request_id), "fuzz");
    if (body) {
        req->body = arena_strndup(a, body, body_len);
        req->body_len = body_len;
        req->body_cap = body_len + 1;
    }
    if (!req->method_name || !req->path || (body && !req->body)) {
        fprintf(stderr, "fuzz: out of memory\n");
        abort();
    }
    return req;
}

/* True when the answer is JSON as is (not compressed). */
static bool is_plain_json(const struct request *req)
{
    const char *ct = req->content_type;
    for (size_t i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(req->resp_headers[i][0], "Content-Encoding") == 0)
            return false;
    return ct && strncasecmp(ct, "application/json", strlen("application/json")) == 0;
}

void fuzz_serve(struct request *req)
{
    struct fuzz_app *f = fuzz_app();
    if (!http_dispatch_local(&f->app, req)) {
        fprintf(stderr, "fuzz: %s %s was suspended\n", req->method_name, req->path);
        abort();
    }
    if (!req->responded || req->status < 100 || req->status > 599) {
        fprintf(stderr, "fuzz: %s %s: no answer or status %d\n", req->method_name, req->path,
                req->status);
        abort();
    }
    /* A server error is a bug the fuzzer found (the in-memory store never fails). */
    if (req->status >= 500 && req->status != 503) {
        fprintf(stderr, "fuzz: %s %s answered %d: %.*s\n", req->method_name, req->path, req->status,
                (int)req->resp_len, req->resp_body ? req->resp_body : "");
        abort();
    }
    if (req->resp_len && is_plain_json(req)) {
        yyjson_read_err err;
        yyjson_doc *doc = yyjson_read_opts((char *)req->resp_body, req->resp_len, 0, NULL, &err);
        if (!doc) {
            fprintf(stderr, "fuzz: %s %s answered JSON that does not parse (%s at %zu)\n",
                    req->method_name, req->path, err.msg, err.pos);
            abort();
        }
        yyjson_doc_free(doc);
    }
    /* FUZZ_TRACE=1: each answer on stderr (to check what seeds reach). */
    static int trace = -1;
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "fuzz: %s %s -> %d %.*s\n", req->method_name, req->path, req->status,
                (int)(req->resp_len < 160 ? req->resp_len : 160),
                req->resp_body ? req->resp_body : "");
    if (req->db)
        store_release(req->db);
    arena_free(req->arena);
}

uint8_t fuzz_byte(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

char *fuzz_line(struct fuzz_in *in, struct arena *a)
{
    const uint8_t *nl = memchr(in->p, '\n', in->n);
    size_t len = nl ? (size_t)(nl - in->p) : in->n;
    char *s = arena_strndup(a, (const char *)in->p, len);
    in->p += len + (nl ? 1 : 0);
    in->n -= len + (nl ? 1 : 0);
    return s;
}

char *fuzz_rest(struct fuzz_in *in, struct arena *a, size_t *len)
{
    char *s = arena_strndup(a, (const char *)in->p, in->n);
    *len = in->n;
    in->p += in->n;
    in->n = 0;
    return s;
}

int fuzz_server(void)
{
    static struct http_server *srv;
    struct fuzz_app *f = fuzz_app();
    if (!srv && http_server_start(&f->app, &srv) != ERR_OK)
        die("http_server_start", ERR_IO);
    return (int)strtol(port_text, NULL, 10);
}
