/*
 * The modules of a serving process and their order (see app.h). Each row names a module,
 * the roles that run it and its hooks; the hooks below are thin adapters from the app to
 * each module's own API. Start runs top to bottom; shutdown quiesces bottom to top, then
 * stops bottom to top, which gives the order the server relies on:
 *
 *   stop claiming reminders → end the event streams (the api's own, the web role's
 *   proxied ones) → stop accepting → drain in-flight requests, then refuse those still
 *   arriving on kept-alive connections → refuse new proxied requests → finish queued work → send
 * queued email (5 s) → abort outbound transfers (which ends their streams) and end the I/O loop →
 * end any stream still open → close the daemon → free the engine → close the store.
 */
#include "app.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "assistant/agent.h"
#include "assistant/mcp_client.h"
#include "auth/jwks.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "handlers/routes.h"
#include "http/metricsd.h"
#include "http/server.h"
#include "http/stream.h"
#include "io/httpc.h"
#include "io/loop.h"
#include "io/workq.h"
#include "notify/events.h"
#include "notify/mail.h"
#include "notify/reminders.h"
#include "store/migrator.h"
#include "web/proxy.h"

#define DRAIN_POLL_MS 50

#define ROLES_ALL                                                                                  \
    (1u << ROLE_ALL | 1u << ROLE_WEB | 1u << ROLE_API | 1u << ROLE_MCP | 1u << ROLE_AGENT)
#define ROLES_DB   (1u << ROLE_ALL | 1u << ROLE_API | 1u << ROLE_MCP | 1u << ROLE_AGENT)
#define ROLES_WEB  (1u << ROLE_WEB)
#define ROLES_CHAT (1u << ROLE_ALL | 1u << ROLE_API | 1u << ROLE_AGENT)
#define ROLES_API  (1u << ROLE_ALL | 1u << ROLE_API)

/* ---- store: open, migrate (or keep migrating in the background), close ---------------- */

static int store_start(struct app *app)
{
    const struct config *cfg = app->cfg;
    struct store_options o = {
        .url = &cfg->db, .pool_size = cfg->pool_size, .max_overflow = cfg->max_overflow};
    int rc = store_open(&o, &app->store);
    if (rc != ERR_OK) {
        log_error("cannot open the database: %s", err_str(rc));
        return rc;
    }
    if (!cfg->migrate_on_start) {
        atomic_store(&app->schema_ready, true);
        return ERR_OK;
    }
    rc = store_migrate(app->store);
    if (rc == ERR_UNAVAILABLE) {
        /* Serve anyway (liveness 200, readiness 503) and keep trying: a cold database
         * (e.g. a serverless one) must not crash-loop the pod. */
        log_warn("database unreachable at start; retrying migrations in the background, "
                 "/ready is 503 until they succeed");
        rc = migrator_start(app->store, &app->schema_ready, &app->migrator);
    } else {
        atomic_store(&app->schema_ready, rc == ERR_OK);
    }
    if (rc != ERR_OK) {
        store_close(app->store);
        app->store = NULL;
    }
    return rc;
}

static void store_stop(struct app *app)
{
    migrator_stop(app->migrator);
    app->migrator = NULL;
    store_close(app->store);
    app->store = NULL;
}

/* ---- the engine: the I/O loop and httpc on it ----------------------------------------- */

/* Connections httpc opens to one host at most; further transfers wait for one. All of this
 * process's come from one address, and an API (the web role's API_URL, an agent's
 * MCP_SERVER_URL) that does not list it in FORWARDED_ALLOW_IPS closes connections from one
 * address beyond MAX_CONNECTIONS_PER_IP (default 64): stay below that default. The web
 * role's event streams have connections of their own (web/proxy.c). */
#define HTTPC_HOST_CONNS 48

static int engine_start(struct app *app)
{
    int rc = loop_start(&app->loop);
    if (rc == ERR_OK)
        rc = httpc_new(app->loop, HTTPC_HOST_CONNS, &app->httpc);
    if (rc != ERR_OK) {
        log_error("cannot start the I/O loop");
        loop_stop(app->loop);
        loop_free(app->loop);
        app->loop = NULL;
    }
    return rc;
}

/* Aborts every outbound transfer (their callbacks end what waits on them), then ends the
 * loop: after this no callback of the engine runs. */
static void engine_quiesce(struct app *app)
{
    if (app->httpc)
        httpc_quiesce(app->httpc);
    loop_stop(app->loop);
}

static void engine_stop(struct app *app)
{
    httpc_free(app->httpc);
    app->httpc = NULL;
    loop_free(app->loop);
    app->loop = NULL;
}

/* ---- Better Auth's JWKS ----------------------------------------------------------------- */

static int jwks_start(struct app *app)
{
    if (!app->cfg->jwks_url)
        return ERR_OK;
    int rc = jwks_new(app->httpc, app->cfg->jwks_url, &app->jwks);
    if (rc == ERR_INVALID)
        fprintf(stderr, "config error: BETTER_AUTH_JWKS_URL: must be https (http only for "
                        "loopback)\n");
    return rc;
}

static void jwks_stop(struct app *app)
{
    jwks_free(app->jwks);
    app->jwks = NULL;
}

/* ---- the work queue --------------------------------------------------------------------- */

static int workq_mod_start(struct app *app)
{
    return workq_start(app->loop, app->cfg->work_threads, &app->workq);
}

static void workq_mod_quiesce(struct app *app)
{
    workq_quiesce(app->workq);
}

static void workq_mod_stop(struct app *app)
{
    workq_free(app->workq);
    app->workq = NULL;
}

/* ---- the assistant ------------------------------------------------------------------------ */

/* The agent: the provider resolved from the configuration, and where the tools run — in
 * process, or (agent role) on the MCP server at MCP_SERVER_URL. */
static int chat_start(struct app *app)
{
    static struct agent agent;
    char why[CONFIG_ERROR_LINE];
    struct dynbuf w;
    dyn_init_fixed(&w, why, sizeof(why));
    int rc = agent_init(&agent, app->cfg, &w);
    if (rc != ERR_OK) {
        fprintf(stderr, "config error: %s\n", dyn_str(&w));
        return ERR_INVALID;
    }
    agent.store = app->store;
    agent.httpc = app->httpc;
    agent.workq = app->workq;
    agent.loop = app->loop;
    agent.tools.mcp = NULL;
    agent.tools.uploads = app->cfg->uploads_dir;
    if (app->cfg->role == ROLE_AGENT) {
        rc = mcpc_new(app->httpc, app->cfg->mcp_server_url, &agent.tools.mcp);
        if (rc == ERR_INVALID)
            fprintf(stderr, "config error: MCP_SERVER_URL: must be an http(s) URL\n");
        if (rc != ERR_OK)
            return rc;
    }
    log_fields(LOG_INFO, "assistant",
               (struct log_field[]){LF_S("provider", agent.model.name),
                                    LF_S("model", agent.model.model ? agent.model.model : ""),
                                    LF_S("tools", agent.tools.mcp ? "mcp" : "in process")},
               3);
    if (agent.model.missing)
        log_warn("assistant: %s is not set: chats answer 503 until it is", agent.model.missing);
    app->agent = &agent;
    return ERR_OK;
}

static void chat_stop(struct app *app)
{
    if (app->agent)
        mcpc_free(app->agent->tools.mcp);
    app->agent = NULL;
}

/* ---- email ------------------------------------------------------------------------------- */

/* How long shutdown gives the mailer to send what is queued. */
#define MAIL_DRAIN_MS 5000

static int mail_mod_start(struct app *app)
{
    return mailer_start(app->cfg, &app->mailer);
}

/* After the work queue and the scheduler have finished (they queue mail): send what is
 * left, within MAIL_DRAIN_MS. */
static void mail_mod_quiesce(struct app *app)
{
    mailer_stop(app->mailer, MAIL_DRAIN_MS);
}

static void mail_mod_stop(struct app *app)
{
    mailer_free(app->mailer);
    app->mailer = NULL;
}

/* ---- the web role's proxy --------------------------------------------------------------- */

static int proxy_mod_start(struct app *app)
{
    int rc = proxy_start(app->cfg, app->httpc);
    if (rc != ERR_OK)
        log_error("cannot start the API proxy");
    return rc;
}

static void proxy_mod_quiesce(struct app *app)
{
    (void)app;
    proxy_quiesce(); /* new requests 503; httpc ends the transfers under way */
}

static int proxy_streams_start(struct app *app)
{
    (void)app;
    return ERR_OK; /* the streams' engine is the proxy module's */
}

/* Before the HTTP server's drain (after it in the table): the proxied event streams never
 * end by themselves, so they are ended first, as the api role's own streams are. */
static void proxy_streams_quiesce(struct app *app)
{
    (void)app;
    proxy_end_streams();
}

static void proxy_mod_stop(struct app *app)
{
    (void)app;
    proxy_stop();
}

/* ---- streamed responses ------------------------------------------------------------------ */

static int streams_start(struct app *app)
{
    (void)app;
    return ERR_OK;
}

/* After the engine: its transfers have ended their streams; any other stream still open is
 * ended here, and the connections get a moment to finish, so none is left suspended when
 * the daemon stops. */
static void streams_quiesce(struct app *app)
{
    (void)app;
    stream_shutdown();
}

/* ---- the HTTP server ---------------------------------------------------------------------- */

/* Raises the soft limit on open files so that limit connections, the database pool and the
 * files served fit (a default soft limit of 1024 would make accept fail with EMFILE long
 * before the connection limit). */
static void raise_fd_limit(int limit)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)limit + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("open-file limit is %llu: fewer than %d connections can be served",
                 (unsigned long long)rl.rlim_cur, limit);
}

/* The connection limit (HTTP_CONN_LIMIT, or from the memory limit), once, with a warning
 * when an explicit one lets request heads alone pass half the memory limit. */
static void set_conn_limit(struct app *app)
{
    int64_t mem = 0;
    app->conn_limit = http_conn_limit(app->cfg, &mem);
    int64_t heads = (int64_t)app->conn_limit * HTTP_CONN_COST;
    if (app->cfg->http_conn_limit > 0 && mem > 0 && heads > mem / HTTP_CONN_MEMORY_SHARE)
        log_warn("HTTP_CONN_LIMIT=%d: as many full request heads would take %lld MiB, over "
                 "half the memory limit (%lld MiB); 0 chooses a limit that fits",
                 app->conn_limit, (long long)(heads >> 20), (long long)(mem >> 20));
}

static int http_start(struct app *app)
{
    routes_for_role(app->cfg->role, &app->routes, &app->n_routes);
    set_conn_limit(app);
    raise_fd_limit(app->conn_limit);
    return http_server_start(app, &app->server);
}

/* Waits for in-flight requests to finish, up to SHUTDOWN_TIMEOUT_SECONDS. A second signal
 * during the drain ends the process at once. */
static void drain(struct app *app)
{
    int64_t deadline = now_mono_ms() + (int64_t)app->cfg->shutdown_timeout_s * 1000;
    struct timespec poll_ts = {0, DRAIN_POLL_MS * 1000000L};
    while (http_server_inflight(app->server) > 0) {
        if (now_mono_ms() >= deadline) {
            log_warn("shutdown timeout: %d requests still in flight",
                     http_server_inflight(app->server));
            return;
        }
        if (!app->signals) {
            nanosleep(&poll_ts, NULL);
            continue;
        }
        int sig = sigtimedwait(app->signals, NULL, &poll_ts);
        if (sig > 0 && sig != SIGHUP) {
            log_warn("second signal (%d): exiting now", sig);
            _exit(130);
        }
    }
}

/* Readiness turns 503, the listener closes, in-flight requests finish; then requests on
 * the keep-alive connections still open are refused unexecuted (the later modules' quiesce,
 * e.g. the mail drain, can take seconds before the daemon stops and cuts those connections),
 * and any that began meanwhile are waited for. */
static void http_quiesce(struct app *app)
{
    atomic_store(&app->draining, true);
    http_server_quiesce(app->server);
    drain(app);
    http_server_close(app->server);
    drain(app);
}

static void http_stop(struct app *app)
{
    http_server_stop(app->server);
    app->server = NULL;
}

/* ---- the metrics listener (METRICS_PORT) --------------------------------------------------- */

static int metrics_start(struct app *app)
{
    if (app->cfg->metrics_port == 0)
        return ERR_OK;
    return metricsd_start(app->cfg->host, app->cfg->metrics_port, &app->metricsd);
}

static void metrics_stop(struct app *app)
{
    metricsd_stop(app->metricsd);
    app->metricsd = NULL;
}

/* ---- per-user event streams ------------------------------------------------------------------ */

static int events_mod_start(struct app *app)
{
    return events_start(app->cfg, app->store, app->loop, &app->events);
}

/* Before the HTTP server's drain (after it in the table): the streams never end by
 * themselves, so they are ended first (clients reconnect to another replica) and the drain
 * does not wait out SHUTDOWN_TIMEOUT_SECONDS for them. */
static void events_mod_quiesce(struct app *app)
{
    events_quiesce(app->events);
}

static void events_mod_stop(struct app *app)
{
    events_free(app->events);
    app->events = NULL;
}

/* ---- the reminder scheduler ----------------------------------------------------------------- */

static int scheduler_mod_start(struct app *app)
{
    return scheduler_start(app->cfg, app->store, &app->schema_ready, app->mailer, app->events,
                           &app->scheduler);
}

/* First of all: no claim starts once shutdown has begun (the mailer, which it feeds, stops
 * after it). */
static void scheduler_mod_quiesce(struct app *app)
{
    scheduler_stop(app->scheduler);
}

static void scheduler_mod_stop(struct app *app)
{
    scheduler_free(app->scheduler);
    app->scheduler = NULL;
}

/* ---- the table ------------------------------------------------------------------------------ */

static const struct module modules[] = {
    {"store", ROLES_DB, store_start, NULL, store_stop},
    {"streams", ROLES_ALL, streams_start, streams_quiesce, NULL},
    {"engine", ROLES_ALL, engine_start, engine_quiesce, engine_stop},
    {"jwks", ROLES_DB, jwks_start, NULL, jwks_stop},
    {"mail", ROLES_DB, mail_mod_start, mail_mod_quiesce, mail_mod_stop},
    {"workq", ROLES_DB, workq_mod_start, workq_mod_quiesce, workq_mod_stop},
    {"chat", ROLES_CHAT, chat_start, NULL, chat_stop},
    {"proxy", ROLES_WEB, proxy_mod_start, proxy_mod_quiesce, proxy_mod_stop},
    {"metrics", ROLES_ALL, metrics_start, NULL, metrics_stop},
    {"http", ROLES_ALL, http_start, http_quiesce, http_stop},
    {"proxy streams", ROLES_WEB, proxy_streams_start, proxy_streams_quiesce, NULL},
    {"events", ROLES_API, events_mod_start, events_mod_quiesce, events_mod_stop},
    {"scheduler", ROLES_API, scheduler_mod_start, scheduler_mod_quiesce, scheduler_mod_stop},
};

static bool runs(const struct module *m, const struct app *app)
{
    return (m->roles & (1u << app->cfg->role)) != 0;
}

int app_start(struct app *app)
{
    app->n_started = 0;
    for (size_t i = 0; i < ARRAY_LEN(modules); i++) {
        const struct module *m = &modules[i];
        if (runs(m, app)) {
            int rc = m->start(app);
            if (rc != ERR_OK) {
                log_fields(LOG_ERROR, "start failed",
                           (struct log_field[]){LF_S("module", m->name), LF_I("error", rc)}, 2);
                app_stop(app);
                return rc;
            }
        }
        app->n_started = i + 1;
    }
    return ERR_OK;
}

void app_stop(struct app *app)
{
    for (size_t i = app->n_started; i-- > 0;)
        if (runs(&modules[i], app) && modules[i].quiesce)
            modules[i].quiesce(app);
    for (size_t i = app->n_started; i-- > 0;)
        if (runs(&modules[i], app) && modules[i].stop)
            modules[i].stop(app);
    app->n_started = 0;
}
