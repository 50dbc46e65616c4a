/*
 * CORS per CORS_ORIGINS (and FRONTEND_URL): exact origin matches only, never "*" with
 * credentials, and preflight answered before routing and authentication — on the API
 * side's paths (http/prefix.h); the UI's own paths are same-origin and get none.
 */
#ifndef TODO_CORS_H
#define TODO_CORS_H

#include <stdbool.h>

#include "http/request.h"

/* True when the request has no Origin, or one of the allowed origins (CORS_ORIGINS and
 * FRONTEND_URL's): what the MCP endpoint checks against DNS rebinding. */
bool cors_origin_allowed(struct request *req);

/* Adds the CORS response headers when the request's Origin is allowed. */
void cors_apply(struct request *req);

/* Answers a preflight (OPTIONS with Access-Control-Request-Method); true if it did. */
bool cors_preflight(struct request *req);

#endif
