/* Route tables per role (see routes.h). Order matters only between overlapping patterns. */
#include "handlers/routes.h"

#include "core/util.h"
#include "handlers/health.h"

#define HEALTH_ROUTES                                                                              \
    {HTTP_GET, "/health", h_health, 0}, {HTTP_GET, "/api/health", h_health, 0},                    \
    {                                                                                              \
        HTTP_GET, "/ready", h_ready, 0                                                             \
    }

static const struct route api_routes[] = {
    HEALTH_ROUTES,
};

static const struct route web_routes[] = {
    HEALTH_ROUTES,
};

void routes_for_role(enum role role, const struct route **out, size_t *n)
{
    if (role == ROLE_WEB) {
        *out = web_routes;
        *n = ARRAY_LEN(web_routes);
        return;
    }
    *out = api_routes;
    *n = ARRAY_LEN(api_routes);
}
