/*
 * http_dispatch_local, the HTTP layer's in-memory entry (the fuzz targets' way in): the
 * same routing, refusals and handlers as a request read from a socket, with headers, query
 * arguments and the peer given in memory (struct req_local), on an in-memory SQLite store.
 */
#include "unit.h"

#include <stdio.h>
#include <strings.h>

#include "app.h"
#include "auth/jwt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "handlers/routes.h"
#include "http/request.h"
#include "http/server.h"
#include "store/store.h"

#define UID "5f0c2a4e-1f2d-4c3b-9a8e-00000000000a"

static struct config cfg;
static struct app app;
static char bearer[1100];

static int setup(void **state)
{
    (void)state;
    struct unit_env env[] = {
        {"DATABASE_URL", "sqlite:///:memory:"},
        {"JWT_SECRET", "0123456789abcdef0123456789abcdef-local"},
        {"LOG_LEVEL", "ERROR"},
        {NULL, NULL},
    };
    struct config_errors errs;
    assert_int_equal(config_load(&cfg, unit_env_get, env, &errs), ERR_OK);
    app.cfg = &cfg;
    struct store_options o = {.url = &cfg.db, .pool_size = 1, .max_overflow = 0};
    assert_int_equal(store_open(&o, &app.store), ERR_OK);
    assert_int_equal(store_migrate(app.store), ERR_OK);
    atomic_store(&app.schema_ready, true);
    routes_for_role(ROLE_ALL, &app.routes, &app.n_routes);
    char token[1024];
    assert_int_equal(
        jwt_issue(cfg.jwt_secret, UID, "l@example.com", now_unix(), 3600, token, sizeof(token)),
        ERR_OK);
    snprintf(bearer, sizeof(bearer), "Bearer %s", token);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(app.store);
    config_free(&cfg);
    return 0;
}

/* Serves one request; the caller reads req and then calls done(). */
static struct request *serve(const char *method, const char *path, const struct req_local *local,
                             const char *body)
{
    struct arena *a = arena_new();
    assert_non_null(a);
    struct request *req = arena_calloc(a, 1, sizeof(*req));
    assert_non_null(req);
    req->arena = a;
    req->method_name = method;
    req->path = path;
    req->local = local;
    if (body) {
        req->body = arena_strdup(a, body);
        req->body_len = strlen(body);
    }
    assert_true(http_dispatch_local(&app, req));
    assert_true(req->responded);
    return req;
}

static void done(struct request *req)
{
    if (req->db)
        store_release(req->db);
    arena_free(req->arena);
}

static const char *resp_header_value(const struct request *req, const char *name)
{
    for (size_t i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(req->resp_headers[i][0], name) == 0)
            return req->resp_headers[i][1];
    return NULL;
}

static void test_routing_and_refusals(void **state)
{
    (void)state;
    struct req_local none = {0};
    struct request *req = serve("GET", "/health", &none, NULL);
    assert_int_equal(req->status, 200);
    done(req);
    req = serve("GET", "/api/me/nothing/here", &none, NULL);
    assert_int_equal(req->status, 404);
    done(req);
    req = serve("DELETE", "/health", &none, NULL);
    assert_int_equal(req->status, 405);
    assert_non_null(resp_header_value(req, "Allow"));
    done(req);
    /* No credentials: 401; a body that is not JSON: 415, before the handler. */
    req = serve("GET", "/api/me/tasks", &none, NULL);
    assert_int_equal(req->status, 401);
    done(req);
    struct req_kv text[] = {{"content-type", "text/plain"}, {"authorization", bearer}};
    struct req_local plain = {text, 2, NULL, 0, "127.0.0.1"};
    req = serve("POST", "/api/me/tasks", &plain, "title=x");
    assert_int_equal(req->status, 415);
    done(req);
}

static void test_headers_query_and_handlers(void **state)
{
    (void)state;
    /* Header names are matched ignoring case, as libmicrohttpd does. */
    struct req_kv h[] = {{"AUTHORIZATION", bearer}, {"Content-Type", "application/json"}};
    struct req_local local = {h, 2, NULL, 0, "127.0.0.1"};
    for (int i = 0; i < 3; i++) {
        struct request *req = serve("POST", "/api/me/tasks", &local, "{\"title\":\"t\"}");
        assert_int_equal(req->status, 201);
        done(req);
    }
    /* Query arguments reach the filter parser and the Link header, in order. */
    struct req_kv args[] = {{"limit", "1"}, {"offset", "1"}, {"status", "pending"}};
    struct req_local q = {h, 1, args, 3, "127.0.0.1"};
    struct request *req = serve("GET", "/api/me/tasks", &q, NULL);
    assert_int_equal(req->status, 200);
    assert_string_equal(resp_header_value(req, "X-Total-Count"), "3");
    const char *link = resp_header_value(req, "Link");
    assert_non_null(link);
    assert_non_null(strstr(link, "</api/me/tasks?status=pending&limit=1&offset=2>; rel=\"next\""));
    assert_non_null(strstr(link, "</api/me/tasks?status=pending&limit=1&offset=0>; rel=\"prev\""));
    assert_string_equal(req_query(req, "status"), "pending");
    assert_null(req_query(req, "STATUS")); /* arguments are case-sensitive */
    assert_string_equal(req_peer_ip(req), "127.0.0.1");
    done(req);
    struct req_kv bad[] = {{"sort", "sideways"}};
    struct req_local b = {h, 1, bad, 1, NULL};
    req = serve("GET", "/api/me/tasks", &b, NULL);
    assert_int_equal(req->status, 422);
    assert_string_equal(req_peer_ip(req), "unknown");
    done(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_and_refusals),
        cmocka_unit_test(test_headers_query_and_handlers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
