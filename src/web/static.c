/*
 * Serving the embedded assets (see static.h). The bytes live in the binary's read-only
 * data, so responses point at them without copying. Caching follows one rule: a URL
 * whose bytes can change (index.html, the docs page, openapi.json) is revalidated on
 * every use (no-cache + ETag, answered 304 when unchanged); a URL whose bytes cannot
 * (vendored or hashed files, or any asset requested with "?v=" equal to its hash) is
 * cached for a year as immutable.
 */
#include "web/static.h"

#include <string.h>

#include "app.h"
#include "core/util.h"
#include "http/router.h"

#define CACHE_REVALIDATE "no-cache"
#define CACHE_IMMUTABLE  "public, max-age=31536000, immutable"
/* HTML may load scripts, styles, images and fonts from its own origin only (swagger-ui's
 * icons are data: URIs), call only its own origin, and never be framed. */
#define HTML_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'self'; frame-ancestors 'none'"
#define INDEX_PATH "/index.html"
#define ALLOW_MAX  64

/* Path prefixes that belong to the API and its documents: an unknown path below them is
 * a real 404, never the UI's index.html. */
static const char *const reserved_prefixes[] = {"/api",          "/mcp",    "/docs",
                                                "/openapi.json", "/health", "/ready"};

const struct asset *asset_find(const char *path)
{
    size_t lo = 0, hi = asset_count;
    if (strlen(path) > ASSET_PATH_MAX)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, asset_table[mid].path);
        if (c == 0)
            return &asset_table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Skips spaces, tabs and commas: the separators of an If-None-Match list. */
static const char *skip_separators(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    return s;
}

/* True when the If-None-Match header value lists etag or is "*". Comparison is weak, as
 * RFC 9110 prescribes for If-None-Match: a W/ prefix is ignored. */
static bool etag_listed(const char *header, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *s = skip_separators(header);
    while (*s) {
        if (*s == '*')
            return true;
        if (s[0] == 'W' && s[1] == '/')
            s += 2;
        if (*s != '"')
            return false; /* malformed: treat as no match */
        const char *end = strchr(s + 1, '"');
        if (!end)
            return false;
        size_t len = (size_t)(end - s) + 1;
        if (len == etag_len && memcmp(s, etag, len) == 0)
            return true;
        s = skip_separators(end + 1);
    }
    return false;
}

/* True when this request's URL names exactly these bytes: the asset is marked immutable,
 * or the query carries v=<its hash> (the form {{asset:…}} references expand to). */
static bool content_addressed(struct request *req, const struct asset *a)
{
    if (a->immutable)
        return true;
    const char *v = req_query(req, "v");
    return v && strcmp(v, a->hash) == 0;
}

void static_serve(struct request *req, const struct asset *a)
{
    resp_header(req, "ETag", a->etag);
    resp_header(req, "Cache-Control",
                content_addressed(req, a) ? CACHE_IMMUTABLE : CACHE_REVALIDATE);
    const char *inm = req_header(req, "If-None-Match");
    if (inm && etag_listed(inm, a->etag)) {
        resp_empty(req, 304);
        return;
    }
    if (str_starts(a->content_type, "text/html")) {
        resp_header(req, "Content-Security-Policy", HTML_CSP);
        resp_header(req, "Referrer-Policy", "same-origin");
    }
    resp_raw(req, 200, a->content_type, a->bytes, a->len);
}

/* True when path is prefix itself or lies below it ("/api" covers "/api/x", not "/apix"). */
static bool under_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* True when the client takes HTML: browsers navigating to a page send "Accept: text/html…",
 * while API clients, fetch() and probes send JSON or star-slash-star types. */
static bool accepts_html(struct request *req)
{
    const char *accept = req_header(req, "Accept");
    return accept && strstr(accept, "text/html") != NULL;
}

/* True when the last segment of path has a dot, i.e. the client asked for a file. */
static bool has_extension(const char *path)
{
    const char *last = strrchr(path, '/');
    return strchr(last ? last : path, '.') != NULL;
}

/* The catch-all route is listed last and takes only GET, so it also catches a GET of an API
 * path that earlier routes serve with other methods (GET /api/x/tasks/1/complete). Such a
 * request deserves the router's 405 with Allow, not a file lookup: ask the routes before
 * this one. Returns true when it answered. */
static bool answer_other_methods(struct request *req)
{
    const struct app *app = req->app;
    if (!app || !req->route || req->route < app->routes ||
        req->route >= app->routes + app->n_routes)
        return false;
    size_t before = (size_t)(req->route - app->routes);
    const struct route *self = req->route;
    unsigned allowed = 0;
    enum router_result r = router_match(app->routes, before, req, &allowed);
    req->route = self; /* router_match sets it only on a match, which cannot happen here */
    if (r != ROUTER_NO_METHOD)
        return false;
    char *allow = arena_alloc(req->arena, ALLOW_MAX);
    if (allow) {
        router_allow_header(allowed, allow, ALLOW_MAX);
        resp_header(req, "Allow", allow);
    }
    resp_error(req, 405, "Method Not Allowed");
    return true;
}

void h_static(struct request *req)
{
    const char *path = req->path;
    if (answer_other_methods(req))
        return;
    const struct asset *a = strcmp(path, "/") == 0 ? asset_find(INDEX_PATH) : asset_find(path);
    if (a) {
        static_serve(req, a);
        return;
    }
    bool reserved = false;
    for (size_t i = 0; i < ARRAY_LEN(reserved_prefixes); i++)
        reserved = reserved || under_prefix(path, reserved_prefixes[i]);
    bool spa_route = !reserved && !has_extension(path) && accepts_html(req);
    const struct asset *index = spa_route ? asset_find(INDEX_PATH) : NULL;
    if (!index) {
        resp_error(req, 404, "Not Found");
        return;
    }
    static_serve(req, index);
}
