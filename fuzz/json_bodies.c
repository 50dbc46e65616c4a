/*
 * Fuzz target: the JSON body of every endpoint that takes one. The routes are read from the
 * route table of role all (those flagged ROUTE_JSON_BODY), so a new endpoint is fuzzed
 * without a change here. The input is
 *   byte 0    which of those routes (modulo their number);
 *   byte 1    the id put in the path's captures ({task_id} …: 0-7; tasks 1-4 exist);
 *   the rest  the body, sent as application/json with the fuzz user's token (and, for /mcp,
 *             the headers an MCP client sends).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/dynbuf.h"
#include "fuzz.h"
#include "http/router.h"

#define MAX_ROUTES 64

static const struct route *json_routes[MAX_ROUTES];
static size_t n_json;

/* Lists the routes that read a JSON body, and the first method of each. */
static void find_routes(struct fuzz_app *f)
{
    for (size_t i = 0; i < f->app.n_routes && n_json < MAX_ROUTES; i++)
        if (f->app.routes[i].flags & ROUTE_JSON_BODY)
            json_routes[n_json++] = &f->app.routes[i];
}

static const char *method_name(unsigned methods)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{HTTP_POST, "POST"},      {HTTP_PUT, "PUT"}, {HTTP_PATCH, "PATCH"},
                 {HTTP_DELETE, "DELETE"},  {HTTP_GET, "GET"}, {HTTP_HEAD, "HEAD"},
                 {HTTP_OPTIONS, "OPTIONS"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (methods & names[i].bit)
            return names[i].name;
    return "POST";
}

/* The route's pattern with "me" for {user_id} and id for every other capture. */
static void fill_path(const char *pattern, unsigned id, char *out, size_t size)
{
    struct dynbuf d;
    dyn_init_fixed(&d, out, size);
    for (const char *p = pattern; *p;) {
        if (*p != '{') {
            dyn_addc(&d, *p++);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end)
            break;
        if (strncmp(p, "{user_id}", 9) == 0)
            dyn_add(&d, "me");
        else
            dyn_add_int(&d, id);
        p = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_app *f = fuzz_app();
    fuzz_app_tidy(2000);
    if (!n_json)
        find_routes(f);
    if (size < 2 || !n_json)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head = nl ? (size_t)(nl - data) : 0;
    const struct route *r = json_routes[data[0] % n_json];
    for (size_t i = 0; nl && i < n_json; i++) {
        const char *m = method_name(json_routes[i]->methods);
        size_t ml = strlen(m), pl = strlen(json_routes[i]->pattern);
        if (head == ml + 1 + pl && memcmp(data, m, ml) == 0 && data[ml] == ' ' &&
            memcmp(data + ml + 1, json_routes[i]->pattern, pl) == 0)
            r = json_routes[i];
    }
    size_t off = nl ? head + 1 : 0;
    if (size - off < 1)
        return 0;
    char path[256];
    fill_path(r->pattern, data[off] % 8, path, sizeof(path));
    off++;
    struct req_kv h[] = {
        {"Authorization", f->bearer},
        {"Content-Type", "application/json"},
        {"Accept", "application/json, text/event-stream"},
        {"MCP-Protocol-Version", "2025-06-18"},
    };
    struct req_local local = {h, sizeof(h) / sizeof(h[0]), NULL, 0, "127.0.0.1"};
    fuzz_serve(
        fuzz_request(method_name(r->methods), path, &local, (const char *)data + off, size - off));
    return 0;
}
