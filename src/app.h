/*
 * The composition root shared by every handler: configuration, the store, and the
 * process-wide state that handlers read (draining during shutdown). Built by main.c.
 */
#ifndef TODO_APP_H
#define TODO_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "store/store.h"

struct route;
struct jwks;

struct app {
    const struct config *cfg;
    struct store *store;      /* NULL in the web role, which has no database */
    atomic_bool draining;     /* set on SIGTERM: readiness fails, connections close */
    struct jwks *jwks;        /* Better Auth's keys, or NULL when not configured */
    atomic_bool schema_ready; /* migrations applied (or not asked for): readiness may pass */
    const struct route *routes;
    size_t n_routes;
};

#endif
