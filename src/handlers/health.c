/*
 * Health endpoints (see health.h). Liveness never touches the database, so a database
 * outage takes pods out of rotation (readiness) without restarting them (liveness).
 */
#include "handlers/health.h"

#include <stdatomic.h>

#include "app.h"
#include "core/err.h"
#include "store/store.h"
#include "web/proxy.h"

#define STATIC_JSON(req, status, text)                                                             \
    resp_raw((req), (status), "application/json", (text), sizeof(text) - 1)

void h_health(struct request *req)
{
    resp_header(req, "Cache-Control", "no-store");
    STATIC_JSON(req, 200, "{\"status\":\"healthy\"}");
}

void h_ready(struct request *req)
{
    resp_header(req, "Cache-Control", "no-store");
    if (atomic_load(&req->app->draining)) {
        STATIC_JSON(req, 503, "{\"status\":\"not_ready\",\"reason\":\"shutting down\"}");
        return;
    }
    if (!proxy_upstream_ready()) { /* the web role: its API not reached yet */
        STATIC_JSON(req, 503, "{\"status\":\"not_ready\",\"reason\":\"API not reached yet\"}");
        return;
    }
    if (!req->app->store) { /* the web role has no database of its own */
        STATIC_JSON(req, 200, "{\"status\":\"ready\"}");
        return;
    }
    if (!atomic_load(&req->app->schema_ready) ||
        store_ping(req->app->store, READY_PING_TIMEOUT_MS) != ERR_OK) {
        STATIC_JSON(req, 503, "{\"status\":\"not_ready\",\"database\":\"disconnected\"}");
        return;
    }
    STATIC_JSON(req, 200, "{\"status\":\"ready\",\"database\":\"connected\"}");
}
