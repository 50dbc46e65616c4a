/*
 * Route tables: each route is a method set, a path pattern whose "{name}" segments capture
 * one path segment, a handler, and flags the server enforces before calling it.
 */
#ifndef TODO_ROUTER_H
#define TODO_ROUTER_H

#include <stddef.h>

#include "http/request.h"

#define ROUTER_MAX_SEGMENTS 16
/* Every method bit, for routes that answer whatever the method (HTTP_OTHER included). */
#define HTTP_ANY_METHOD ((unsigned)HTTP_OTHER * 2u - 1u)

typedef void (*handler_fn)(struct request *req);

enum route_flags {
    ROUTE_JSON_BODY = 1 << 0, /* a non-empty body must be application/json */
    ROUTE_PREFIX = 1 << 1,    /* pattern matches this path and everything below it */
    /* A catch-all listed after the real routes: taken only when no earlier route matched the
     * path with another method (that is a 405 with Allow, never the catch-all's answer). */
    ROUTE_FALLBACK = 1 << 2,
    /* A multipart POST's body is streamed to the handler as it arrives (a file upload),
     * bounded by UPLOAD_MAX_BYTES rather than MAX_BODY_BYTES: the handler is called for each
     * chunk with req->chunk set (it answers only to refuse: the rest of the body is then read
     * and dropped, and the answer sent), then once more, with req->chunk NULL, to answer. */
    ROUTE_UPLOAD = 1 << 3,
};

struct route {
    unsigned methods; /* HTTP_* bits */
    const char *pattern;
    handler_fn fn;
    unsigned flags;
};

enum router_result { ROUTER_FOUND, ROUTER_NO_PATH, ROUTER_NO_METHOD };

/* Matches method and path against the table. On ROUTER_FOUND sets req->route and the
 * captures (arena copies); on ROUTER_NO_METHOD *allowed holds the methods the path takes. */
enum router_result router_match(const struct route *routes, size_t n, struct request *req,
                                unsigned *allowed);

/* Writes the Allow header value for a method set ("GET, POST"). */
void router_allow_header(unsigned methods, char *out, size_t size);

/* Maps a method name to its HTTP_* bit. */
enum http_method router_method(const char *name);

#endif
