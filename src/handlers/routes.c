/* Route tables per role (see routes.h). Order matters only between overlapping patterns.
 * The API's own routes are listed here; what depends on the API side's path prefixes (the
 * web role's proxy routes, the JSON 404 below each prefix) is built once from the prefix
 * table (http/prefix.h). */
#include "handlers/routes.h"

#include <pthread.h>
#include <stdbool.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "handlers/account.h"
#include "handlers/attachments.h"
#include "handlers/auth.h"
#include "handlers/calendar.h"
#include "handlers/chat.h"
#include "handlers/conversations.h"
#include "handlers/docs.h"
#include "handlers/health.h"
#include "handlers/mcp.h"
#include "handlers/metrics.h"
#include "handlers/notifications.h"
#include "handlers/tasks.h"
#include "handlers/tokens.h"
#include "http/prefix.h"
#include "web/proxy.h"
#include "web/static.h"

#define J ROUTE_JSON_BODY
/* "/api/{user_id}" answers DELETE (the account); every other method there is the JSON 404 any
 * unknown path below /api gets, not a 405. */
#define NOT_DELETE    (HTTP_ANY_METHOD & ~(unsigned)HTTP_DELETE)
#define PROXY_METHODS (HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE | HTTP_OPTIONS)

/* clang-format off */
#define HEALTH_ROUTES                                                                         \
    {HTTP_GET, "/health", h_health, 0},                                                       \
    {HTTP_GET, "/api/health", h_health, 0},                                                   \
    {HTTP_GET, "/ready", h_ready, 0},                                                         \
    {HTTP_GET, "/metrics", h_metrics, 0}

/* The MCP server: Streamable HTTP and its protected resource metadata (RFC 9728). */
#define MCP_ROUTES                                                                            \
    {HTTP_POST, "/mcp", h_mcp_post, J},                                                       \
    {HTTP_DELETE, "/mcp", h_mcp_delete, 0},                                                   \
    {HTTP_GET, "/.well-known/oauth-protected-resource", h_mcp_resource_metadata, 0},          \
    {HTTP_GET, "/.well-known/oauth-protected-resource/mcp", h_mcp_resource_metadata, 0}

/* The assistant: the API serves them, and so does the agent role alone. */
#define CHAT_ROUTES                                                                           \
    {HTTP_POST, "/api/{user_id}/chat", h_chat, J},                                            \
    {HTTP_GET, "/api/{user_id}/conversations", h_conv_list, 0},                               \
    {HTTP_GET, "/api/{user_id}/conversations/{conversation_id}", h_conv_get, 0},              \
    {HTTP_PATCH, "/api/{user_id}/conversations/{conversation_id}", h_conv_rename, J},         \
    {HTTP_DELETE, "/api/{user_id}/conversations/{conversation_id}", h_conv_delete, 0}

#define API_ROUTES                                                                            \
    {HTTP_POST, "/api/auth/signup", h_signup, J},                                             \
    {HTTP_POST, "/api/auth/login", h_login, J},                                               \
    {HTTP_POST, "/api/auth/forgot-password", h_forgot_password, J},                           \
    {HTTP_POST, "/api/auth/reset-password", h_reset_password, J},                             \
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
    {HTTP_GET, "/api/{user_id}/tasks/{task_id}/attachments", h_attachment_list, 0},          \
    {HTTP_POST, "/api/{user_id}/tasks/{task_id}/attachments", h_attachment_create,            \
     ROUTE_UPLOAD},                                                                           \
    {HTTP_GET, "/api/{user_id}/tasks/{task_id}/attachments/{attachment_id}", h_attachment_get, \
     0},                                                                                      \
    {HTTP_DELETE, "/api/{user_id}/tasks/{task_id}/attachments/{attachment_id}",               \
     h_attachment_delete, 0},                                                                 \
    {HTTP_GET, "/api/{user_id}/tags", h_task_tags, 0},                                        \
    {HTTP_GET, "/api/{user_id}/calendar.ics", h_calendar_feed, 0},                            \
    {HTTP_POST, "/api/{user_id}/calendar/token", h_calendar_token_create, J},                 \
    {HTTP_DELETE, "/api/{user_id}/calendar/token", h_calendar_token_delete, 0},               \
    {HTTP_GET, "/api/{user_id}/export", h_export, 0},                                         \
    {HTTP_POST, "/api/{user_id}/import", h_import, 0},                                        \
    {HTTP_GET, "/api/{user_id}/tokens", h_token_list, 0},                                     \
    {HTTP_POST, "/api/{user_id}/tokens", h_token_create, J},                                  \
    {HTTP_DELETE, "/api/{user_id}/tokens/{token_id}", h_token_delete, 0},                     \
    {HTTP_GET, "/api/{user_id}/notifications", h_notification_list, 0},                       \
    {HTTP_POST, "/api/{user_id}/notifications/read-all", h_notification_read_all, 0},         \
    {HTTP_PATCH, "/api/{user_id}/notifications/{notification_id}", h_notification_mark, J},   \
    {HTTP_GET, "/api/{user_id}/events", h_events, 0},                                         \
    /* Last: any other route of the path wins (405 with its methods), then any method but   \
     * DELETE is the 404 of an unknown path, then DELETE is the account. */                   \
    {NOT_DELETE, "/api/{user_id}", h_not_found, ROUTE_FALLBACK},                              \
    {HTTP_DELETE, "/api/{user_id}", h_account_delete, J},                                     \
    MCP_ROUTES,                                                                               \
    CHAT_ROUTES,                                                                              \
    {HTTP_GET, "/openapi.json", h_openapi, 0},                                                \
    {HTTP_GET, "/docs", h_docs, 0},                                                           \
    {HTTP_GET, "/docs/assets", h_docs_asset, ROUTE_PREFIX}

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

/* The agent role (seed 003's ai-agent): the chat and its conversations, and health. */
static const struct route agent_routes[] = {
    HEALTH_ROUTES,
    CHAT_ROUTES,
    {HTTP_ANY_METHOD, "/api", h_not_found, ROUTE_PREFIX | ROUTE_FALLBACK},
};

/* The fixed routes of the other roles; the prefix table (http/prefix.h) adds the rest. */
static const struct route all_fixed[] = {
    HEALTH_ROUTES,
    API_ROUTES,
};

/* The web role answers health locally, sends the API's prefixes to API_URL (so the browser
 * only ever talks to its own origin), and serves the embedded UI. */
static const struct route web_fixed[] = {
    HEALTH_ROUTES,
};

/* The MCP server alone (seed 003's mcp-server, on MCP_SERVER_PORT): /mcp, its metadata and
 * the probes; no UI. */
static const struct route mcp_fixed[] = {
    HEALTH_ROUTES,
    MCP_ROUTES,
};

/* Room for the prefix table's routes: two per prefix at most. */
#define PREFIX_TABLE_MAX 16
#define MAX_ROUTES       (ARRAY_LEN(all_fixed) + 2 * PREFIX_TABLE_MAX + 1)

/* A role's table: its fixed routes, then (web role) a proxy route per proxied prefix, then
 * a JSON 404 fallback per prefix, then the UI's catch-all. */
struct table {
    struct route routes[MAX_ROUTES];
    size_t n;
};

static struct table all_table, web_table, mcp_table;

static void add(struct table *t, struct route r)
{
    if (t->n < MAX_ROUTES)
        t->routes[t->n++] = r;
    else /* caught by tests/unit/test_router.c before it could ship */
        log_error("routes: table full; raise PREFIX_TABLE_MAX (dropped %s)", r.pattern);
}

static void build(struct table *t, const struct route *fixed, size_t n_fixed, bool proxy, bool ui)
{
    for (size_t i = 0; i < n_fixed; i++)
        add(t, fixed[i]);
    for (size_t i = 0; proxy && i < path_prefix_count; i++) {
        const struct path_prefix *p = &path_prefixes[i];
        if (p->flags & PREFIX_PROXIED)
            add(t, (struct route){PROXY_METHODS, p->path, h_proxy,
                                  (p->flags & PREFIX_TREE) ? ROUTE_PREFIX : 0});
    }
    for (size_t i = 0; i < path_prefix_count; i++)
        add(t, (struct route){HTTP_ANY_METHOD, path_prefixes[i].path, h_not_found,
                              ROUTE_PREFIX | ROUTE_FALLBACK});
    if (ui)
        add(t, (struct route)UI_CATCH_ALL);
}

static void build_tables(void)
{
    build(&all_table, all_fixed, ARRAY_LEN(all_fixed), false, true);
    build(&web_table, web_fixed, ARRAY_LEN(web_fixed), true, true);
    build(&mcp_table, mcp_fixed, ARRAY_LEN(mcp_fixed), false, false);
}

void routes_for_role(enum role role, const struct route **out, size_t *n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, build_tables);
    switch (role) {
    case ROLE_WEB:
        *out = web_table.routes;
        *n = web_table.n;
        break;
    case ROLE_API:
        *out = api_routes;
        *n = ARRAY_LEN(api_routes);
        break;
    case ROLE_MCP:
        *out = mcp_table.routes;
        *n = mcp_table.n;
        break;
    case ROLE_AGENT:
        *out = agent_routes;
        *n = ARRAY_LEN(agent_routes);
        break;
    default:
        *out = all_table.routes;
        *n = all_table.n;
        break;
    }
}
