/*
 * Unit tests for path routing (src/http/router.c) against the real route tables of each role
 * (src/handlers/routes.c, through routes_for_role): exact matches to the right handler,
 * captures copied into the request's arena, the tolerated trailing slash, 405 with the allowed
 * method set, HEAD on GET routes, table order ("stats" before "{task_id}"), prefix routes and
 * the Allow header text; small synthetic tables pin the matcher's own limits (capture count,
 * depth). Requests are built by hand; no server runs and no handler is called.
 */
#include "unit.h"

#include <stdio.h>

#include "core/config.h"
#include "core/util.h"
#include "handlers/auth.h"
#include "handlers/docs.h"
#include "handlers/health.h"
#include "handlers/routes.h"
#include "handlers/tasks.h"
#include "http/prefix.h"
#include "http/request.h"
#include "http/router.h"
#include "web/proxy.h"
#include "web/static.h"

static void h_other(struct request *req)
{
    (void)req;
}

static void h_list(struct request *req)
{
    (void)req;
}

struct fixture {
    struct arena *arena;
    struct request req;
    unsigned allowed;
    const struct route *table; /* the role under test */
    size_t n;
};

static int setup_role(void **state, enum role role)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->arena = arena_new();
    if (!f->arena) {
        free(f);
        return -1;
    }
    routes_for_role(role, &f->table, &f->n);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_role(state, ROLE_API);
}

static int setup_all(void **state)
{
    return setup_role(state, ROLE_ALL);
}

static int setup_web(void **state)
{
    return setup_role(state, ROLE_WEB);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    arena_free(f->arena);
    free(f);
    return 0;
}

/* Matches method and path with a fresh request against table t. */
static enum router_result route_in(struct fixture *f, const struct route *t, size_t n,
                                   enum http_method method, const char *path)
{
    memset(&f->req, 0, sizeof(f->req));
    f->req.arena = f->arena;
    f->req.method = method;
    f->req.path = path;
    f->allowed = 0xdead;
    return router_match(t, n, &f->req, &f->allowed);
}

/* Matches against the role's real table. */
static enum router_result route(struct fixture *f, enum http_method method, const char *path)
{
    return route_in(f, f->table, f->n, method, path);
}

/* Expects method and path to reach handler fn through the role's table. */
#define expect_found(f, method, path, fn) expect_handler((f), (method), (path), (fn), #fn)

static void expect_handler(struct fixture *f, enum http_method method, const char *path,
                           handler_fn fn, const char *fn_name)
{
    enum router_result r = route(f, method, path);
    if (r != ROUTER_FOUND)
        fail_msg("%s: result %d, want found (%s)", path, r, fn_name);
    if (f->req.route->fn != fn)
        fail_msg("%s: matched \"%s\", not the route of %s", path, f->req.route->pattern, fn_name);
}

/* The handlers that act on a user's account or tasks. */
static bool is_api_handler(handler_fn fn)
{
    static const handler_fn api[] = {h_signup,      h_login,         h_me,          h_task_list,
                                     h_task_create, h_task_get,      h_task_update, h_task_update,
                                     h_task_delete, h_task_complete, h_task_tags,   h_task_stats};
    for (size_t i = 0; i < ARRAY_LEN(api); i++)
        if (api[i] == fn)
            return true;
    return false;
}

static void test_exact_matches(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_GET, "/health", h_health);
    assert_int_equal(f->req.n_params, 0);
    expect_found(f, HTTP_GET, "/api/health", h_health);
    expect_found(f, HTTP_GET, "/ready", h_ready);
    expect_found(f, HTTP_POST, "/api/auth/signup", h_signup);
    assert_int_equal(f->req.route->flags, ROUTE_JSON_BODY);
    expect_found(f, HTTP_POST, "/api/auth/login", h_login);
    assert_int_equal(f->req.route->flags, ROUTE_JSON_BODY);
    expect_found(f, HTTP_GET, "/api/auth/me", h_me);
    expect_found(f, HTTP_GET, "/api/u1/tasks", h_task_list);
    expect_found(f, HTTP_POST, "/api/u1/tasks", h_task_create);
    assert_true(f->req.route->flags & ROUTE_JSON_BODY);
    expect_found(f, HTTP_GET, "/api/u1/tasks/7", h_task_get);
    expect_found(f, HTTP_PUT, "/api/u1/tasks/7", h_task_update);
    assert_true(f->req.route->flags & ROUTE_JSON_BODY);
    expect_found(f, HTTP_PATCH, "/api/u1/tasks/7", h_task_update);
    assert_true(f->req.route->flags & ROUTE_JSON_BODY);
    expect_found(f, HTTP_DELETE, "/api/u1/tasks/7", h_task_delete);
    expect_found(f, HTTP_PATCH, "/api/u1/tasks/7/complete", h_task_complete);
    expect_found(f, HTTP_GET, "/api/u1/tags", h_task_tags);
    expect_found(f, HTTP_GET, "/openapi.json", h_openapi);
    expect_found(f, HTTP_GET, "/docs", h_docs);

    static const char *missing[] = {"/healthz", "/health/x", "/Health", "", "/mcpx", "/index.html"};
    for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
        enum router_result r = route(f, HTTP_GET, missing[i]);
        if (r != ROUTER_NO_PATH)
            fail_msg("\"%s\": result %d, want no path", missing[i], r);
        assert_int_equal(f->allowed, 0);
        assert_null(f->req.route);
    }
    /* Near misses of the API's paths never reach an account or task handler. */
    static const char *near[] = {"/api/auth",
                                 "/api/auth/login/x",
                                 "/api",
                                 "/api/u1",
                                 "/api/u1/taskz",
                                 "/api//tasks",
                                 "/api/u1/tasks/7/completed",
                                 "/api/u1/tasks/7/x/y"};
    for (size_t i = 0; i < ARRAY_LEN(near); i++) {
        enum router_result r = route(f, HTTP_GET, near[i]);
        if (r == ROUTER_FOUND && is_api_handler(f->req.route->fn))
            fail_msg("\"%s\" reached the route \"%s\"", near[i], f->req.route->pattern);
    }
}

static void test_captures(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_GET, "/api/user-1/tasks/42", h_task_get);
    assert_int_equal(f->req.n_params, 2);
    assert_string_equal(f->req.params[0], "user-1");
    assert_string_equal(f->req.params[1], "42");
    /* The captures are arena copies, not pointers into the path. */
    char path[] = "/api/abc/tasks/7/complete";
    expect_found(f, HTTP_PATCH, path, h_task_complete);
    assert_int_equal(f->req.n_params, 2);
    memset(path, 'x', sizeof(path) - 1);
    assert_string_equal(f->req.params[0], "abc");
    assert_string_equal(f->req.params[1], "7");
    /* A capture takes one whole segment, whatever it holds. */
    expect_found(f, HTTP_GET, "/api/a.b@c%20d/tasks", h_task_list);
    assert_int_equal(f->req.n_params, 1);
    assert_string_equal(f->req.params[0], "a.b@c%20d");
}

static void test_trailing_slash(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_GET, "/api/u1/tasks/", h_task_list);
    assert_int_equal(f->req.n_params, 1);
    assert_string_equal(f->req.params[0], "u1");
    expect_found(f, HTTP_GET, "/health/", h_health);
    expect_found(f, HTTP_DELETE, "/api/u1/tasks/9/", h_task_delete);
    assert_string_equal(f->req.params[1], "9");
    /* Only one slash is forgiven. */
    assert_int_equal(route(f, HTTP_GET, "/health//"), ROUTER_NO_PATH);
    enum router_result r = route(f, HTTP_GET, "/api/u1/tasks//");
    assert_false(r == ROUTER_FOUND && f->req.route->fn == h_task_list);
}

static void test_method_not_allowed(void **state)
{
    struct fixture *f = *state;
    char allow[64];

    assert_int_equal(route(f, HTTP_DELETE, "/api/u1/tasks"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_GET | HTTP_HEAD | HTTP_POST);
    assert_null(f->req.route);
    router_allow_header(f->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST");

    assert_int_equal(route(f, HTTP_GET, "/api/auth/login"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_POST);
    router_allow_header(f->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "POST");

    assert_int_equal(route(f, HTTP_POST, "/api/u1/tasks/5"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_GET | HTTP_HEAD | HTTP_PUT | HTTP_PATCH | HTTP_DELETE);
    router_allow_header(f->allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, PUT, PATCH, DELETE");

    assert_int_equal(route(f, HTTP_OTHER, "/health"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_GET | HTTP_HEAD);
    assert_int_equal(route(f, HTTP_OPTIONS, "/api/u1/tasks/5/complete"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_PATCH);
}

static void test_head_on_get_routes(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_HEAD, "/health", h_health);
    expect_found(f, HTTP_HEAD, "/api/u1/tasks", h_task_list);
    expect_found(f, HTTP_HEAD, "/api/u1/tasks/3", h_task_get);
    assert_string_equal(f->req.params[1], "3");
    /* Not on routes without GET. */
    assert_int_equal(route(f, HTTP_HEAD, "/api/auth/login"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_POST);
}

/* Role "all": the API and, under every other path, the embedded UI. */
static void test_role_all(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_GET, "/health", h_health);
    expect_found(f, HTTP_GET, "/api/u1/tasks", h_task_list);
    expect_found(f, HTTP_POST, "/api/auth/login", h_login);
    expect_found(f, HTTP_GET, "/docs", h_docs);
    expect_found(f, HTTP_GET, "/", h_static);
    expect_found(f, HTTP_GET, "/index.html", h_static);
    expect_found(f, HTTP_GET, "/assets/app.js", h_static);
    /* The UI catch-all never shadows an API route declared before it. */
    expect_found(f, HTTP_GET, "/api/u1/tasks/stats", h_task_stats);
    expect_found(f, HTTP_PATCH, "/api/u1/tasks/2/complete", h_task_complete);
}

/* Role "web": health locally, the API's paths to the proxy, the UI for the rest. */
static void test_role_web(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_GET, "/health", h_health);
    expect_found(f, HTTP_GET, "/ready", h_ready);
    expect_found(f, HTTP_GET, "/api/u1/tasks", h_proxy);
    expect_found(f, HTTP_DELETE, "/api/u1/tasks/3", h_proxy);
    expect_found(f, HTTP_POST, "/api/auth/signup", h_proxy);
    expect_found(f, HTTP_POST, "/mcp", h_proxy);
    expect_found(f, HTTP_GET, "/docs", h_proxy);
    expect_found(f, HTTP_GET, "/openapi.json", h_proxy);
    expect_found(f, HTTP_GET, "/", h_static);
    expect_found(f, HTTP_GET, "/some/page", h_static);
    /* No API handler runs in the web process. */
    for (size_t i = 0; i < f->n; i++)
        assert_false(is_api_handler(f->table[i].fn));
}

/* Every role's table is well formed: patterns start with "/" (or are the empty UI
 * prefix), no pattern is listed twice for the same method (fallbacks aside), captures fit. */
static void test_tables_are_well_formed(void **state)
{
    (void)state;
    static const enum role roles[] = {ROLE_ALL, ROLE_API, ROLE_WEB};
    for (size_t r = 0; r < ARRAY_LEN(roles); r++) {
        const struct route *t;
        size_t n;
        routes_for_role(roles[r], &t, &n);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            assert_non_null(t[i].fn);
            assert_true(t[i].methods != 0);
            assert_true(t[i].pattern[0] == '/' ||
                        (t[i].pattern[0] == '\0' && (t[i].flags & ROUTE_PREFIX)));
            size_t captures = 0;
            for (const char *c = t[i].pattern; *c; c++)
                captures += *c == '{';
            assert_true(captures <= REQ_MAX_PATH_PARAMS);
            for (size_t j = 0; j < i; j++)
                if (!((t[i].flags | t[j].flags) & ROUTE_FALLBACK) &&
                    strcmp(t[i].pattern, t[j].pattern) == 0 && (t[i].methods & t[j].methods))
                    fail_msg("role %d: \"%s\" listed twice for one method", (int)roles[r],
                             t[i].pattern);
        }
    }
}

/* The prefix table (http/prefix.h) drives the roles with the UI: in the web role each
 * proxied prefix reaches the proxy (below it too, for a tree), and in both an unknown path
 * below any prefix is the JSON 404 fallback, whatever the method — never the UI. */
static void test_prefix_table_drives_the_roles(void **state)
{
    (void)state;
    static const enum role roles[] = {ROLE_ALL, ROLE_WEB};
    static const enum http_method methods[] = {HTTP_GET, HTTP_POST, HTTP_DELETE, HTTP_OTHER};
    struct fixture *f = NULL;
    for (size_t r = 0; r < ARRAY_LEN(roles); r++) {
        assert_int_equal(setup_role((void **)&f, roles[r]), 0);
        for (size_t i = 0; i < path_prefix_count; i++) {
            const struct path_prefix *p = &path_prefixes[i];
            char below[128];
            snprintf(below, sizeof(below), "%s/no/such/thing", p->path);
            bool proxied = roles[r] == ROLE_WEB && (p->flags & PREFIX_PROXIED);
            if (proxied)
                expect_found(f, HTTP_GET, p->path, h_proxy);
            for (size_t m = 0; m < ARRAY_LEN(methods); m++) {
                enum router_result res = route(f, methods[m], below);
                if (proxied && (p->flags & PREFIX_TREE)) {
                    /* The proxy serves the path: a method it does not forward is a 405. */
                    if (methods[m] == HTTP_OTHER) {
                        assert_int_equal(res, ROUTER_NO_METHOD);
                        continue;
                    }
                    assert_int_equal(res, ROUTER_FOUND);
                    assert_ptr_equal(f->req.route->fn, h_proxy);
                    continue;
                }
                assert_int_equal(res, ROUTER_FOUND);
                assert_true(f->req.route->flags & ROUTE_FALLBACK);
                assert_ptr_not_equal(f->req.route->fn, h_static);
            }
        }
        /* A neighbour of a prefix is the UI's. */
        expect_found(f, HTTP_GET, "/apix", h_static);
        expect_found(f, HTTP_GET, "/healthz", h_static);
        arena_free(f->arena);
        free(f);
    }
    assert_non_null(path_prefix_of("/api"));
    assert_non_null(path_prefix_of("/api/"));
    assert_non_null(path_prefix_of("/mcp/x"));
    assert_non_null(path_prefix_of("/openapi.json"));
    assert_null(path_prefix_of("/apix"));
    assert_null(path_prefix_of("/"));
    assert_null(path_prefix_of("/assets/app.js"));
}

static void test_stats_before_task_id(void **state)
{
    struct fixture *f = *state;
    expect_found(f, HTTP_GET, "/api/u1/tasks/stats", h_task_stats);
    assert_int_equal(f->req.n_params, 1);
    assert_string_equal(f->req.params[0], "u1");
    /* Other methods on ".../stats" fall through to the {task_id} routes. */
    expect_found(f, HTTP_DELETE, "/api/u1/tasks/stats", h_task_delete);
    assert_string_equal(f->req.params[1], "stats");
    /* Order is the table's: with {task_id} first it would win. */
    static const struct route reversed[] = {
        {HTTP_GET, "/api/{user_id}/tasks/{task_id}", h_other, 0},
        {HTTP_GET, "/api/{user_id}/tasks/stats", h_list, 0},
    };
    assert_int_equal(route_in(f, reversed, ARRAY_LEN(reversed), HTTP_GET, "/api/u1/tasks/stats"),
                     ROUTER_FOUND);
    assert_ptr_equal(f->req.route, &reversed[0]);
}

static void test_capture_limit(void **state)
{
    struct fixture *f = *state;
    static const struct route t[] = {
        {HTTP_GET, "/f/{a}/{b}/{c}/{d}/{e}", h_other, 0},
        {HTTP_GET, "/four/{a}/{b}/{c}/{d}", h_other, 0},
    };
    assert_int_equal(REQ_MAX_PATH_PARAMS, 4);
    assert_int_equal(route_in(f, t, ARRAY_LEN(t), HTTP_GET, "/f/1/2/3/4/5"), ROUTER_NO_PATH);
    assert_int_equal(f->req.n_params, 0);
    assert_int_equal(route_in(f, t, ARRAY_LEN(t), HTTP_GET, "/four/1/2/3/4"), ROUTER_FOUND);
    assert_ptr_equal(f->req.route, &t[1]);
    assert_int_equal(f->req.n_params, 4);
    assert_string_equal(f->req.params[0], "1");
    assert_string_equal(f->req.params[3], "4");
}

static void test_failed_route_leaves_no_captures(void **state)
{
    struct fixture *f = *state;
    static const struct route t[] = {
        {HTTP_GET, "/x/{a}/y", h_other, 0},
        {HTTP_GET, "/x/{b}/z/{c}", h_list, 0},
    };
    assert_int_equal(route_in(f, t, ARRAY_LEN(t), HTTP_GET, "/x/one/z/two"), ROUTER_FOUND);
    assert_ptr_equal(f->req.route, &t[1]);
    assert_int_equal(f->req.n_params, 2);
    assert_string_equal(f->req.params[0], "one");
    assert_string_equal(f->req.params[1], "two");
}

static void test_prefix_routes(void **state)
{
    struct fixture *f = *state;
    static const char *under[] = {
        "/docs/assets",
        "/docs/assets/",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/a/b/c/d/e/f/g/h",
    };
    for (size_t i = 0; i < ARRAY_LEN(under); i++)
        expect_found(f, HTTP_GET, under[i], h_docs_asset);
    static const char *outside[] = {"/docs/assetsx", "/docs/asset", "/docs/assetz/app.js",
                                    "/x/docs/assets"};
    for (size_t i = 0; i < ARRAY_LEN(outside); i++) {
        enum router_result r = route(f, HTTP_GET, outside[i]);
        if (r == ROUTER_FOUND && f->req.route->fn == h_docs_asset)
            fail_msg("prefix route matched %s", outside[i]);
    }
    assert_int_equal(route(f, HTTP_POST, "/docs/assets/app.js"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_GET | HTTP_HEAD);
}

/* The shape of the "all" role's tail: real routes, JSON 404s under the API's prefixes, then
 * the UI's GET catch-all (src/handlers/routes.c). */
static void test_fallback_routes(void **state)
{
    struct fixture *f = *state;
    static const struct route t[] = {
        {HTTP_GET, "/api/{user_id}/tasks", h_list, 0},
        {HTTP_PATCH, "/api/{user_id}/tasks/{task_id}/complete", h_list, 0},
        {HTTP_ANY_METHOD, "/api", h_other, ROUTE_PREFIX | ROUTE_FALLBACK},
        {HTTP_GET, "", h_other, ROUTE_PREFIX | ROUTE_FALLBACK},
    };
    const size_t n = ARRAY_LEN(t);
    /* Unknown paths under /api: the 404 route, whatever the method. */
    static const enum http_method any[] = {HTTP_GET,   HTTP_HEAD,   HTTP_POST,    HTTP_PUT,
                                           HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS, HTTP_OTHER};
    for (size_t i = 0; i < ARRAY_LEN(any); i++) {
        assert_int_equal(route_in(f, t, n, any[i], "/api/u1/chat"), ROUTER_FOUND);
        assert_ptr_equal(f->req.route, &t[2]);
        assert_int_equal(route_in(f, t, n, any[i], "/api"), ROUTER_FOUND);
        assert_ptr_equal(f->req.route, &t[2]);
    }
    /* A path a real route serves with another method stays a 405 listing only its methods. */
    assert_int_equal(route_in(f, t, n, HTTP_GET, "/api/u1/tasks/1/complete"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_PATCH);
    assert_int_equal(route_in(f, t, n, HTTP_POST, "/api/u1/tasks/1/complete"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_PATCH);
    assert_int_equal(route_in(f, t, n, HTTP_DELETE, "/api/u1/tasks"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_GET | HTTP_HEAD);
    /* Outside the prefix: the catch-all for GET/HEAD, 405 for the rest. */
    assert_int_equal(route_in(f, t, n, HTTP_GET, "/settings"), ROUTER_FOUND);
    assert_ptr_equal(f->req.route, &t[3]);
    assert_int_equal(route_in(f, t, n, HTTP_HEAD, "/apix"), ROUTER_FOUND);
    assert_ptr_equal(f->req.route, &t[3]);
    assert_int_equal(route_in(f, t, n, HTTP_POST, "/settings"), ROUTER_NO_METHOD);
    assert_int_equal(f->allowed, HTTP_GET | HTTP_HEAD);
}

static void test_deep_patterns(void **state)
{
    struct fixture *f = *state;
    /* ROUTER_MAX_SEGMENTS - 1 segments always match. */
    static const struct route t[] = {
        {HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15", h_other, 0},
    };
    assert_int_equal(route_in(f, t, 1, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15"),
                     ROUTER_FOUND);
    /* A path deeper than any pattern is simply not found. */
    assert_int_equal(
        route_in(f, t, 1, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20"),
        ROUTER_NO_PATH);
}

static void test_max_segments_pattern(void **state)
{
    struct fixture *f = *state;
    /* Regression (fixed): match() in src/http/router.c loops `for (seg = 0; seg <
     * ROUTER_MAX_SEGMENTS; seg++)` and needs one more iteration to see the end of the pattern, so a
     * pattern of exactly ROUTER_MAX_SEGMENTS (16) segments never matches, even its own path
     * (ROUTER_NO_PATH instead of ROUTER_FOUND). No route in the tables is that deep today. */

    static const struct route t[] = {
        {HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", h_other, 0},
    };
    assert_int_equal(ROUTER_MAX_SEGMENTS, 16);
    assert_int_equal(route_in(f, t, 1, HTTP_GET, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16"),
                     ROUTER_FOUND);
}

static void test_allow_header_and_methods(void **state)
{
    (void)state;
    char allow[64];
    router_allow_header(HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE |
                            HTTP_OPTIONS,
                        allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    router_allow_header(0, allow, sizeof(allow));
    assert_string_equal(allow, "");
    router_allow_header(HTTP_DELETE, allow, sizeof(allow));
    assert_string_equal(allow, "DELETE");

    assert_int_equal(router_method("GET"), HTTP_GET);
    assert_int_equal(router_method("HEAD"), HTTP_HEAD);
    assert_int_equal(router_method("POST"), HTTP_POST);
    assert_int_equal(router_method("PUT"), HTTP_PUT);
    assert_int_equal(router_method("PATCH"), HTTP_PATCH);
    assert_int_equal(router_method("DELETE"), HTTP_DELETE);
    assert_int_equal(router_method("OPTIONS"), HTTP_OPTIONS);
    assert_int_equal(router_method("get"), HTTP_OTHER);
    assert_int_equal(router_method("BREW"), HTTP_OTHER);
    assert_int_equal(router_method(""), HTTP_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_on_get_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_before_task_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capture_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_route_leaves_no_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_segments_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_all, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_role_web, setup_web, teardown),
        cmocka_unit_test(test_tables_are_well_formed),
        cmocka_unit_test(test_prefix_table_drives_the_roles),
        cmocka_unit_test(test_allow_header_and_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
