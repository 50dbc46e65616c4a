/*
 * Fuzz target: the HTTP request path. The input is a request in a small text form —
 *
 *   METHOD /path?query
 *   Header-Name: value        (up to 32; "$TOKEN" / "$OTHER" as a value become a valid
 *   ...                        bearer token of the fuzz user / of another user)
 *                             (an empty line)
 *   body
 *
 * — decoded as libmicrohttpd would (%XX in the path and query, '+' in the query) and served
 * through http_dispatch_local: CORS, routing, 404/405/415, authentication and every handler
 * of role all on an in-memory SQLite store. fuzz_serve checks every answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "fuzz.h"

#define MAX_HEADERS 32
#define MAX_ARGS    64

/* Splits "k=v&k2=v2" into decoded pairs (in the arena). */
static size_t split_query(struct arena *a, char *q, struct req_kv *args, size_t max)
{
    size_t n = 0;
    while (q && *q && n < max) {
        char *amp = strchr(q, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(q, '=');
        if (eq)
            *eq = '\0';
        for (char *p = q; *p; p++)
            if (*p == '+')
                *p = ' ';
        MHD_http_unescape(q);
        char *v = NULL;
        if (eq) {
            v = eq + 1;
            for (char *p = v; *p; p++)
                if (*p == '+')
                    *p = ' ';
            MHD_http_unescape(v);
        }
        args[n++] = (struct req_kv){q, v};
        q = amp ? amp + 1 : NULL;
    }
    (void)a;
    return n;
}

/* A header value, with the placeholders for the users' tokens replaced. */
static const char *token_of(struct fuzz_app *f, const char *v)
{
    if (strcmp(v, "Bearer $TOKEN") == 0)
        return f->bearer;
    if (strcmp(v, "Bearer $OTHER") == 0)
        return f->other_bearer;
    if (strcmp(v, "$TOKEN") == 0)
        return f->token;
    return strcmp(v, "$OTHER") == 0 ? f->other_token : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_app *f = fuzz_app();
    fuzz_app_tidy(2000);
    struct arena *scratch = arena_new();
    if (!scratch)
        return 0;
    struct fuzz_in in = {data, size};
    char *line = fuzz_line(&in, scratch);
    char *sp = line ? strchr(line, ' ') : NULL;
    if (!sp) {
        arena_free(scratch);
        return 0;
    }
    *sp = '\0';
    char *method = line, *target = sp + 1;
    if (!*method || target[0] != '/') {
        arena_free(scratch);
        return 0;
    }
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    if (!strstr(target, "%00"))
        MHD_http_unescape(target);

    struct req_kv headers[MAX_HEADERS], args[MAX_ARGS];
    struct req_local local = {headers, 0, args, 0, "127.0.0.1"};
    while (in.n && local.n_headers < MAX_HEADERS) {
        char *h = fuzz_line(&in, scratch);
        if (!h || !*h)
            break;
        char *colon = strchr(h, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        headers[local.n_headers++] = (struct req_kv){h, token_of(f, v)};
    }
    local.n_args = split_query(scratch, q, args, MAX_ARGS);
    size_t body_len = 0;
    char *body = fuzz_rest(&in, scratch, &body_len);

    struct request *req = fuzz_request(method, target, &local, body_len ? body : NULL, body_len);
    fuzz_serve(req);
    arena_free(scratch);
    return 0;
}
