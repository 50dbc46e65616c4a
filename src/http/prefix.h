/*
 * The path prefixes that belong to the API side of the product — the REST API, MCP, the
 * API's documents and the probes — as one table. Everything else is the web UI's. Read by:
 *   handlers/routes.c  the web role forwards the PREFIX_PROXIED ones to API_URL, and every
 *                      role with the UI lists each prefix as a JSON 404 fallback before the
 *                      UI's catch-all (so an unknown /api path is never the UI, whatever
 *                      the method, while a path a real route serves keeps its 405);
 *   web/static.c       never answers below a prefix with the UI's index page;
 *   http/cors.c        CORS applies to these paths only (the UI is same-origin).
 * A prefix covers the path itself and every path below it ("/api" and "/api/…", never
 * "/apix").
 */
#ifndef TODO_PREFIX_H
#define TODO_PREFIX_H

#include <stdbool.h>
#include <stddef.h>

enum prefix_flags {
    PREFIX_PROXIED = 1u << 0, /* the web role forwards it to API_URL */
    PREFIX_TREE = 1u << 1,    /* forwarded with everything below it (else the path alone) */
};

struct path_prefix {
    const char *path;
    unsigned flags;
};

extern const struct path_prefix path_prefixes[];
extern const size_t path_prefix_count;

/* The entry whose prefix covers path, or NULL for the UI's paths. */
const struct path_prefix *path_prefix_of(const char *path);

#endif
