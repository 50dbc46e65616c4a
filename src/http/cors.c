/* CORS (see cors.h). */
#include "http/cors.h"

#include <strings.h>

#include "app.h"
#include "http/prefix.h"

#define CORS_MAX_AGE "600"
#define CORS_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_HEADERS                                                                               \
    "Authorization, Content-Type, Accept, X-Request-ID, Mcp-Session-Id, "                          \
    "MCP-Protocol-Version, Last-Event-ID"
#define CORS_EXPOSE                                                                                \
    "X-Total-Count, Link, Location, X-Request-ID, Mcp-Session-Id, Retry-After, WWW-Authenticate"

/* Returns the configured origin equal to the request's Origin, or NULL. */
static const char *allowed_origin(struct request *req)
{
    const char *origin = req_header(req, "Origin");
    if (!origin || !path_prefix_of(req->path))
        return NULL; /* the UI's own paths are same-origin: no CORS */
    const struct config *cfg = req->app->cfg;
    for (size_t i = 0; i < cfg->n_cors_origins; i++)
        if (strcasecmp(origin, cfg->cors_origins[i]) == 0)
            return cfg->cors_origins[i];
    return NULL;
}

bool cors_origin_allowed(struct request *req)
{
    return !req_header(req, "Origin") || allowed_origin(req) != NULL;
}

void cors_apply(struct request *req)
{
    const char *origin = allowed_origin(req);
    if (!origin)
        return;
    resp_header(req, "Access-Control-Allow-Origin", origin);
    resp_header(req, "Access-Control-Allow-Credentials", "true");
    resp_header(req, "Access-Control-Expose-Headers", CORS_EXPOSE);
    resp_header(req, "Vary", "Origin");
}

bool cors_preflight(struct request *req)
{
    if (req->method != HTTP_OPTIONS || !req_header(req, "Access-Control-Request-Method") ||
        !path_prefix_of(req->path))
        return false;
    if (!allowed_origin(req)) {
        resp_error(req, 403, "Origin not allowed");
        return true;
    }
    resp_header(req, "Access-Control-Allow-Methods", CORS_METHODS);
    resp_header(req, "Access-Control-Allow-Headers", CORS_HEADERS);
    resp_header(req, "Access-Control-Max-Age", CORS_MAX_AGE);
    resp_empty(req, 204);
    return true;
}
