/*
 * Header and URL mapping for the web proxy (see proxy.c). Towards the API: the upstream
 * URL is API_URL plus the request's path and query string, re-encoded, and the forwarded
 * headers are the client's end-to-end fields plus X-Request-ID and X-Forwarded-*. Back to
 * the client: the upstream's response header fields, collected by httpc within its limits,
 * are copied onto the answer without hop-by-hop fields, fields the Connection header names,
 * and fields the server sets itself. Hop-by-hop filtering (RFC 9110 7.6.1) applies in both
 * directions.
 */
#include "web/proxy_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

/* Limits on the forwarded request: header fields (more is a 431) and URL (more is a 414). */
#define PROXY_MAX_REQ_HEADERS 128
#define PROXY_MAX_URL         (16 * 1024)
/* Lines forwarded at most: the client's fields and the proxy's own. */
#define PROXY_MAX_LINES (PROXY_MAX_REQ_HEADERS + 8)
/* Tokens read from one Connection header. */
#define PROXY_MAX_CONN_TOKENS 32

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether the comma-separated token list names token (case-insensitive). */
static bool list_has(const char *list, const char *token)
{
    if (!list)
        return false;
    size_t tlen = strlen(token);
    const char *p = list;
    for (int i = 0; *p && i < PROXY_MAX_CONN_TOKENS; i++) {
        while (*p == ',' || is_space(*p)) /* bounded by the string */
            p++;
        const char *e = p;
        while (*e && *e != ',' && !is_space(*e))
            e++;
        if ((size_t)(e - p) == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p = e;
    }
    return false;
}

/* Hop-by-hop fields (RFC 9110 7.6.1) that a proxy never forwards, in either direction. */
static bool is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {"Connection", "Keep-Alive", "Transfer-Encoding", "TE",
                                      "Trailer",    "Upgrade",    "Content-Length"};
    for (size_t i = 0; i < ARRAY_LEN(hop); i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return strncasecmp(name, "Proxy-", 6) == 0;
}

/* --- towards the API -------------------------------------------------------------- */

/* Appends s percent-encoded; in a query component '&', '=', '+' and '/' are encoded too. */
static void url_encode(struct dynbuf *d, const char *s, bool query)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p && !dyn_err(d); p++) {
        unsigned char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~!$'()*,;:@", c) != NULL || (!query && strchr("/&=+", c) != NULL);
        if (keep) {
            dyn_addc(d, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            dyn_addn(d, esc, sizeof(esc));
        }
    }
}

struct query_build {
    struct dynbuf *d;
    bool first;
};

static enum MHD_Result query_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct query_build *q = cls;
    if (!key)
        return MHD_YES;
    dyn_addc(q->d, q->first ? '?' : '&');
    q->first = false;
    url_encode(q->d, key, true);
    if (value) {
        dyn_addc(q->d, '=');
        url_encode(q->d, value, true);
    }
    return dyn_err(q->d) == ERR_OK ? MHD_YES : MHD_NO;
}

int proxy_build_url(struct request *req, const char *base, const char **out)
{
    struct dynbuf d;
    dyn_init_arena(&d, req->arena, PROXY_MAX_URL);
    dyn_add(&d, base);
    url_encode(&d, req->path, false);
    struct query_build q = {&d, true};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_each, &q);
    int rc = dyn_err(&d);
    if (rc != ERR_OK)
        return rc;
    *out = dyn_str(&d);
    return ERR_OK;
}

struct header_build {
    struct request *req;
    const char *conn_tokens; /* the client's Connection header */
    const char **lines;
    size_t n;
    char *xff; /* the client's X-Forwarded-For values, joined (arena) */
    bool has_type, has_accept;
    int rc;
};

/* Adds one line; false (and rc set) when it is NULL (out of memory) or over the limit. */
static bool add_line(struct header_build *h, const char *line)
{
    if (!line) {
        h->rc = ERR_NOMEM;
        return false;
    }
    if (h->n >= PROXY_MAX_LINES) {
        h->rc = ERR_INVALID;
        return false;
    }
    h->lines[h->n++] = line;
    return true;
}

static enum MHD_Result header_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct header_build *h = cls;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, "X-Forwarded-For") == 0) {
        h->xff = h->xff ? arena_printf(h->req->arena, "%s, %s", h->xff, value)
                        : arena_strdup(h->req->arena, value);
        if (!h->xff)
            h->rc = ERR_NOMEM;
        return h->rc == ERR_OK ? MHD_YES : MHD_NO;
    }
    /* Set by the proxy itself, or meant for this hop only. */
    if (is_hop_by_hop(key) || strcasecmp(key, "Host") == 0 || strcasecmp(key, "Expect") == 0 ||
        strcasecmp(key, "X-Forwarded-Proto") == 0 || strcasecmp(key, "X-Forwarded-Host") == 0 ||
        strcasecmp(key, "X-Request-ID") == 0 || list_has(h->conn_tokens, key))
        return MHD_YES;
    if (strcasecmp(key, "Content-Type") == 0)
        h->has_type = true;
    if (strcasecmp(key, "Accept") == 0)
        h->has_accept = true;
    if (h->n >= PROXY_MAX_REQ_HEADERS) {
        h->rc = ERR_INVALID;
        return MHD_NO;
    }
    /* "Name;" is libcurl's spelling of a header with an empty value. */
    const char *line = *value ? arena_printf(h->req->arena, "%s: %s", key, value)
                              : arena_printf(h->req->arena, "%s;", key);
    return add_line(h, line) ? MHD_YES : MHD_NO;
}

int proxy_build_headers(struct request *req, bool with_body, const char *const **out, size_t *n)
{
    struct arena *a = req->arena;
    struct header_build h = {.req = req,
                             .conn_tokens = req_header(req, "Connection"),
                             .lines = arena_alloc(a, PROXY_MAX_LINES * sizeof(char *))};
    if (!h.lines)
        return ERR_NOMEM;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_each, &h);
    if (h.rc != ERR_OK)
        return h.rc;
    const char *ip = req_peer_ip(req);
    const char *host = req_header(req, "Host");
    bool ok = add_line(&h, arena_printf(a, "X-Request-ID: %s", req->request_id)) &&
              add_line(&h, h.xff ? arena_printf(a, "X-Forwarded-For: %s, %s", h.xff, ip)
                                 : arena_printf(a, "X-Forwarded-For: %s", ip)) &&
              add_line(&h, "X-Forwarded-Proto: http") &&
              (!host || !*host || add_line(&h, arena_printf(a, "X-Forwarded-Host: %s", host))) &&
              /* No "Expect: 100-continue" round trip; no headers libcurl would invent. */
              add_line(&h, "Expect:") && (h.has_accept || add_line(&h, "Accept:")) &&
              (h.has_type || !with_body || add_line(&h, "Content-Type:"));
    if (!ok)
        return h.rc;
    *out = h.lines;
    *n = h.n;
    return ERR_OK;
}

/* --- back to the client ----------------------------------------------------------- */

/* Whether the server adds this response header itself (see queue() in server.c), or the
 * request already carries it (CORS): the upstream's copy would be a duplicate. */
static bool server_sets(struct request *req, const char *name)
{
    if (strcasecmp(name, "X-Request-ID") == 0 || strcasecmp(name, "X-Content-Type-Options") == 0)
        return true;
    for (size_t i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(name, req->resp_headers[i][0]) == 0)
            return true;
    return false;
}

void proxy_copy_headers(struct request *req, const struct httpc_response *up,
                        struct MHD_Response *r)
{
    const char *conn_tokens = httpc_header(up, "Connection");
    size_t pos = 0;
    const char *name, *value;
    while (httpc_header_next(up, &pos, &name, &value)) { /* bounded by the header count */
        if (is_hop_by_hop(name) || list_has(conn_tokens, name) || server_sets(req, name))
            continue;
        if (MHD_add_response_header(r, name, value) != MHD_YES)
            log_debug("proxy: dropped upstream response header %s", name);
    }
}

bool proxy_head_length(const struct httpc_response *up, uint64_t *out)
{
    const char *v = httpc_header(up, "Content-Length");
    int64_t n = 0;
    if (!v || parse_int64(v, 0, INT64_MAX, &n) != ERR_OK)
        return false;
    *out = (uint64_t)n;
    return true;
}
