/*
 * The composition root shared by every handler: configuration, the store, the engine
 * (I/O loop, httpc, work queue) and the process-wide state that handlers read (draining
 * during shutdown). main.c loads the configuration and calls app_start and app_stop; app.c
 * holds the table of modules that start and stop in a defined order.
 */
#ifndef TODO_APP_H
#define TODO_APP_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "store/store.h"

struct route;
struct jwks;
struct loop;
struct httpc;
struct workq;
struct agent;
struct mailer;
struct scheduler;
struct events;
struct migrator;
struct http_server;
struct metricsd;

struct app {
    const struct config *cfg;
    struct store *store;      /* NULL in the web role, which has no database */
    atomic_bool draining;     /* set on SIGTERM: readiness fails, connections close */
    struct jwks *jwks;        /* Better Auth's keys, or NULL when not configured */
    atomic_bool schema_ready; /* migrations applied (or not asked for): readiness may pass */
    const struct route *routes;
    size_t n_routes;
    struct loop *loop;           /* the I/O loop (io/loop.h): every role */
    struct httpc *httpc;         /* outbound HTTP on the loop: every role */
    struct workq *workq;         /* blocking steps of streaming requests: roles with a database */
    struct agent *agent;         /* the assistant (assistant/agent.h): roles that serve chat */
    struct mailer *mailer;       /* outgoing email (notify/mail.h): roles with a database */
    struct scheduler *scheduler; /* due reminders (notify/reminders.h): roles all and api */
    struct events *events;       /* per-user event streams (notify/events.h): roles all and api */
    const sigset_t *signals;     /* a second one during the drain exits at once */
    int conn_limit;              /* connections at once (http_conn_limit), set by the start */
    /* app.c's own. */
    struct migrator *migrator;
    struct http_server *server;
    struct metricsd *metricsd; /* METRICS_PORT's listener, or NULL */
    size_t n_started;
};

/* A module's life cycle hooks, listed in app.c's table in start order. start returns ERR_OK
 * or an error (ERR_INVALID: bad configuration, exit 2); quiesce (optional) stops taking
 * work and ends what waits, while the modules after it in the table are already quiesced
 * and those before it still run; stop (optional) releases everything. */
struct module {
    const char *name;
    unsigned roles; /* 1u << enum role, for each role that runs it */
    int (*start)(struct app *app);
    void (*quiesce)(struct app *app);
    void (*stop)(struct app *app);
};

/* Starts the modules of app->cfg->role in table order. On failure the ones started are
 * stopped again and the error is returned (logged, or printed for a configuration error). */
int app_start(struct app *app);

/* Shuts down: every module's quiesce in reverse table order — the HTTP server's first:
 * stop accepting, drain in-flight requests (SHUTDOWN_TIMEOUT_SECONDS) — then every stop in
 * reverse order: the HTTP server, the engine (httpc aborts, the loop ends), the store. */
void app_stop(struct app *app);

#endif
