/* Route tables per role (see routes.h). Order matters only between overlapping patterns. */
#include "handlers/routes.h"

#include "core/err.h"
#include "core/util.h"
#include "handlers/auth.h"
#include "handlers/conversations.h"
#include "handlers/docs.h"
#include "handlers/health.h"
#include "handlers/tasks.h"
#include "handlers/tokens.h"
#include "web/proxy.h"
#include "web/static.h"

#define J             ROUTE_JSON_BODY
#define PROXY_METHODS (HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE | HTTP_OPTIONS)

/* clang-format off */
#define HEALTH_ROUTES                                                                         \
    {HTTP_GET, "/health", h_health, 0},                                                       \
    {HTTP_GET, "/api/health", h_health, 0},                                                   \
    {HTTP_GET, "/ready", h_ready, 0}

#define API_ROUTES                                                                            \
    {HTTP_POST, "/api/auth/signup", h_signup, J},                                             \
    {HTTP_POST, "/api/auth/login", h_login, J},                                               \
    {HTTP_GET, "/api/auth/me", h_me, 0},                                                      \
    {HTTP_PATCH, "/api/auth/me", h_me_update, J},                                             \
    /* "stats" and "parse" before "{task_id}" so they are not read as ids. */                 \
    {HTTP_GET, "/api/{user_id}/tasks/stats", h_task_stats, 0},                                \
    {HTTP_POST, "/api/{user_id}/tasks/parse", h_task_parse, J},                               \
    {HTTP_GET, "/api/{user_id}/tasks", h_task_list, 0},                                       \
    {HTTP_POST, "/api/{user_id}/tasks", h_task_create, J},                                    \
    {HTTP_GET, "/api/{user_id}/tasks/{task_id}", h_task_get, 0},                              \
    {HTTP_PUT, "/api/{user_id}/tasks/{task_id}", h_task_update, J},                           \
    {HTTP_PATCH, "/api/{user_id}/tasks/{task_id}", h_task_update, J},                         \
    {HTTP_DELETE, "/api/{user_id}/tasks/{task_id}", h_task_delete, 0},                        \
    {HTTP_PATCH, "/api/{user_id}/tasks/{task_id}/complete", h_task_complete, J},              \
    {HTTP_POST, "/api/{user_id}/tasks/{task_id}/restore", h_task_restore, J},                 \
    {HTTP_GET, "/api/{user_id}/tags", h_task_tags, 0},                                        \
    {HTTP_GET, "/api/{user_id}/tokens", h_token_list, 0},                                     \
    {HTTP_POST, "/api/{user_id}/tokens", h_token_create, J},                                  \
    {HTTP_DELETE, "/api/{user_id}/tokens/{token_id}", h_token_delete, 0},                     \
    {HTTP_GET, "/api/{user_id}/conversations", h_conv_list, 0},                               \
    {HTTP_GET, "/api/{user_id}/conversations/{conversation_id}", h_conv_get, 0},              \
    {HTTP_PATCH, "/api/{user_id}/conversations/{conversation_id}", h_conv_rename, J},         \
    {HTTP_DELETE, "/api/{user_id}/conversations/{conversation_id}", h_conv_delete, 0},        \
    {HTTP_GET, "/openapi.json", h_openapi, 0},                                                \
    {HTTP_GET, "/docs", h_docs, 0},                                                           \
    {HTTP_GET, "/docs/assets", h_docs_asset, ROUTE_PREFIX}

/* The prefixes that belong to the API, MCP, the API's documents and the probes: an unknown
 * path below them is a JSON 404 whatever the method, never the UI (listed after the real
 * routes, before the UI's catch-all). */
#define RESERVED_NOT_FOUND                                                                    \
    {HTTP_ANY_METHOD, "/api", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK},                    \
    {HTTP_ANY_METHOD, "/mcp", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK},                    \
    {HTTP_ANY_METHOD, "/docs", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK},                   \
    {HTTP_ANY_METHOD, "/openapi.json", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK},           \
    {HTTP_ANY_METHOD, "/health", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK},                 \
    {HTTP_ANY_METHOD, "/ready", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK}

/* The embedded UI: GET and HEAD of every other path (its index.html for page routes). */
#define UI_CATCH_ALL {HTTP_GET, "", h_static, ROUTE_PREFIX | ROUTE_FALLBACK}
/* clang-format on */

static void h_not_found(struct request *req)
{
    resp_err(req, ERR_NOTFOUND, NULL);
}

/* The API alone (the backend component). */
static const struct route api_routes[] = {
    HEALTH_ROUTES,
    API_ROUTES,
};

/* Everything in one process (make run): the API and the embedded web UI at /. */
static const struct route all_routes[] = {
    HEALTH_ROUTES,
    API_ROUTES,
    RESERVED_NOT_FOUND,
    UI_CATCH_ALL,
};

/* The web role answers health locally, sends everything of the API's to API_URL (so the
 * browser only ever talks to its own origin), and serves the embedded UI. */
static const struct route web_routes[] = {
    HEALTH_ROUTES,
    {PROXY_METHODS, "/api", h_proxy, ROUTE_PREFIX},
    {PROXY_METHODS, "/mcp", h_proxy, ROUTE_PREFIX},
    {PROXY_METHODS, "/docs", h_proxy, ROUTE_PREFIX},
    {PROXY_METHODS, "/openapi.json", h_proxy, 0},
    RESERVED_NOT_FOUND,
    UI_CATCH_ALL,
};

void routes_for_role(enum role role, const struct route **out, size_t *n)
{
    switch (role) {
    case ROLE_WEB:
        *out = web_routes;
        *n = ARRAY_LEN(web_routes);
        break;
    case ROLE_API:
        *out = api_routes;
        *n = ARRAY_LEN(api_routes);
        break;
    default:
        *out = all_routes;
        *n = ARRAY_LEN(all_routes);
        break;
    }
}
