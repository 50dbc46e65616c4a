/*
 * Path matching for the route tables (see router.h). Matching walks the path and the
 * pattern segment by segment, without copying either, and tolerates one trailing slash so
 * that clients are never redirected (a redirect breaks CORS preflight).
 */
#include "http/router.h"

#include <string.h>

#include "core/dynbuf.h"
#include "core/util.h"

enum http_method router_method(const char *m)
{
    static const struct {
        const char *name;
        enum http_method bit;
    } map[] = {{"GET", HTTP_GET},        {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
               {"PUT", HTTP_PUT},        {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
               {"OPTIONS", HTTP_OPTIONS}};
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (strcmp(m, map[i].name) == 0)
            return map[i].bit;
    return HTTP_OTHER;
}

void router_allow_header(unsigned methods, char *out, size_t size)
{
    static const char *names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    struct dynbuf d;
    dyn_init_fixed(&d, out, size); /* a name that does not fit ends the list */
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (!(methods & (1u << i)))
            continue;
        if (dyn_len(&d))
            dyn_add(&d, ", ");
        dyn_add(&d, names[i]);
    }
}

/* Compares one segment [s, s+len) of the path with the pattern segment [p, p+plen). */
static bool segment_matches(const char *p, size_t plen, const char *s, size_t len, bool *capture)
{
    *capture = plen >= 2 && p[0] == '{' && p[plen - 1] == '}';
    if (*capture)
        return len > 0;
    return plen == len && memcmp(p, s, len) == 0;
}

/* Matches path against pattern; fills caps with (start, len) pairs of captures. */
static bool match(const char *pattern, bool prefix, const char *path, size_t path_len,
                  const char *caps[][2], size_t *ncaps)
{
    const char *p = pattern, *s = path, *end = path + path_len;
    *ncaps = 0;
    for (int seg = 0; seg <= ROUTER_MAX_SEGMENTS; seg++) { /* +1 pass sees the end */
        if (*p == '\0')
            return s == end || (prefix && *s == '/');
        if (*p != '/' || s >= end || *s != '/')
            return false;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        const char *se = memchr(s, '/', (size_t)(end - s));
        size_t slen = se ? (size_t)(se - s) : (size_t)(end - s);
        bool capture;
        if (!segment_matches(p, plen, s, slen, &capture))
            return false;
        if (capture) {
            if (*ncaps >= REQ_MAX_PATH_PARAMS)
                return false;
            caps[*ncaps][0] = s;
            caps[*ncaps][1] = s + slen;
            (*ncaps)++;
        }
        p += plen;
        s += slen;
    }
    return false;
}

enum router_result router_match(const struct route *routes, size_t n, struct request *req,
                                unsigned *allowed)
{
    const char *path = req->path;
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--; /* "/api/x/tasks/" is "/api/x/tasks" */
    *allowed = 0;
    const char *caps[REQ_MAX_PATH_PARAMS][2];
    size_t ncaps;
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &routes[i];
        if ((r->flags & ROUTE_FALLBACK) && *allowed)
            continue; /* an earlier route serves this path with other methods: 405 */
        if (!match(r->pattern, r->flags & ROUTE_PREFIX, path, len, caps, &ncaps))
            continue;
        unsigned methods = r->methods;
        if (methods & HTTP_GET)
            methods |= HTTP_HEAD;
        if (!(methods & req->method)) {
            *allowed |= methods;
            continue;
        }
        req->route = r;
        req->n_params = ncaps;
        for (size_t k = 0; k < ncaps; k++)
            req->params[k] =
                arena_strndup(req->arena, caps[k][0], (size_t)(caps[k][1] - caps[k][0]));
        return ROUTER_FOUND;
    }
    return *allowed ? ROUTER_NO_METHOD : ROUTER_NO_PATH;
}
