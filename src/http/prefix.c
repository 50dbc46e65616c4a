/* The API side's path prefixes (see prefix.h). */
#include "http/prefix.h"

#include <string.h>

#include "core/util.h"

/* clang-format off */
const struct path_prefix path_prefixes[] = {
    {"/api",          PREFIX_PROXIED | PREFIX_TREE},
    {"/mcp",          PREFIX_PROXIED | PREFIX_TREE},
    {"/docs",         PREFIX_PROXIED | PREFIX_TREE},
    {"/openapi.json", PREFIX_PROXIED},
    {"/health",       0},
    {"/ready",        0},
    {"/.well-known/oauth-protected-resource", PREFIX_PROXIED | PREFIX_TREE},
};
/* clang-format on */

const size_t path_prefix_count = ARRAY_LEN(path_prefixes);

const struct path_prefix *path_prefix_of(const char *path)
{
    for (size_t i = 0; i < path_prefix_count; i++) {
        size_t n = strlen(path_prefixes[i].path);
        if (strncmp(path, path_prefixes[i].path, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return &path_prefixes[i];
    }
    return NULL;
}
