/*
 * Header and URL mapping for the web proxy (see proxy.c). Towards the API: the upstream
 * URL is API_URL plus the request's path and query string, re-encoded, and the forwarded
 * headers are the client's end-to-end fields plus X-Request-ID and X-Forwarded-*. Back to
 * the client: the upstream's response header fields, collected by the I/O thread into the
 * transfer's "name\0value\0" buffer within fixed limits, are copied onto the answer
 * without hop-by-hop fields, fields the Connection header names, and fields the server
 * sets itself. Hop-by-hop filtering (RFC 9110 7.6.1) applies in both directions.
 */
#include "web/proxy_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

/* Limits on the upstream's response headers (more is a 502). */
#define PROXY_MAX_RESP_HEADERS      100
#define PROXY_MAX_RESP_HEADER_BYTES (64 * 1024)
#define PROXY_HEADER_BUF_FIRST      (4 * 1024)
/* Limits on the forwarded request: header fields (more is a 431) and URL (more is a 414). */
#define PROXY_MAX_REQ_HEADERS 128
#define PROXY_MAX_URL         (16 * 1024)
/* Tokens read from one Connection header. */
#define PROXY_MAX_CONN_TOKENS 32

/* --- response headers (collected on the I/O thread) ------------------------------- */

/* Forgets the headers seen so far (a 1xx response, or a new status line). */
void xfer_headers_reset(struct xfer *x)
{
    x->hdr_len = 0;
    x->n_hdrs = 0;
    x->hdr_overflow = false;
}

/* Appends "name\0value\0" to the header buffer within the limits; false when over. */
static bool headers_add(struct xfer *x, const char *name, size_t nlen, const char *value,
                        size_t vlen)
{
    size_t need = nlen + vlen + 2;
    if (x->n_hdrs >= PROXY_MAX_RESP_HEADERS || need > PROXY_MAX_RESP_HEADER_BYTES - x->hdr_len)
        return false;
    if (x->hdr_len + need > x->hdr_cap) {
        size_t cap = x->hdr_cap ? x->hdr_cap : PROXY_HEADER_BUF_FIRST;
        while (cap < x->hdr_len + need) /* ends: cap doubles up to the limit's size */
            cap *= 2;
        char *nb = realloc(x->hdr_buf, cap);
        if (!nb)
            return false;
        x->hdr_buf = nb;
        x->hdr_cap = cap;
    }
    char *p = x->hdr_buf + x->hdr_len;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    x->hdr_len += need;
    x->n_hdrs++;
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* One response header line (see proxy_internal.h): status lines reset, folded lines are
 * dropped, fields are trimmed and appended. */
void xfer_header_line(struct xfer *x, const char *data, size_t len)
{
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        xfer_headers_reset(x);
        return;
    }
    if (is_space(data[0])) /* obsolete line folding: dropped */
        return;
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + len;
    while (v < end && is_space(*v)) /* bounded by the line */
        v++;
    while (end > v && is_space(end[-1]))
        end--;
    if (!headers_add(x, data, nlen, v, (size_t)(end - v)))
        x->hdr_overflow = true;
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

/* Appends s percent-encoded to out[*len..cap); in a query component '&', '=', '+' and
 * '/' are encoded too. ERR_TOOBIG when it does not fit. */
static int url_append(char *out, size_t cap, size_t *len, const char *s, bool query)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = *len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) { /* bounded by s */
        unsigned char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~!$'()*,;:@", c) != NULL || (!query && strchr("/&=+", c) != NULL);
        if (keep) {
            if (n + 1 >= cap)
                return ERR_TOOBIG;
            out[n++] = (char)c;
        } else {
            if (n + 3 >= cap)
                return ERR_TOOBIG;
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    *len = n;
    return ERR_OK;
}

static int url_append_raw(char *out, size_t cap, size_t *len, const char *s)
{
    size_t sl = strlen(s);
    if (*len + sl >= cap)
        return ERR_TOOBIG;
    memcpy(out + *len, s, sl + 1);
    *len += sl;
    return ERR_OK;
}

struct query_build {
    char *out;
    size_t cap, len;
    int rc;
};

static enum MHD_Result query_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct query_build *q = cls;
    if (!key)
        return MHD_YES;
    int rc = url_append_raw(q->out, q->cap, &q->len, q->len ? "&" : "?");
    if (rc == ERR_OK)
        rc = url_append(q->out, q->cap, &q->len, key, true);
    if (rc == ERR_OK && value) {
        rc = url_append_raw(q->out, q->cap, &q->len, "=");
        if (rc == ERR_OK)
            rc = url_append(q->out, q->cap, &q->len, value, true);
    }
    q->rc = rc;
    return rc == ERR_OK ? MHD_YES : MHD_NO;
}

/* The upstream URL: API_URL + the path + the query string, re-encoded (libmicrohttpd
 * hands both over decoded). malloc'd; the caller owns it. */
int proxy_build_url(struct request *req, const char *base, char **out)
{
    char *path = arena_alloc(req->arena, PROXY_MAX_URL);
    char *query = arena_alloc(req->arena, PROXY_MAX_URL);
    if (!path || !query)
        return ERR_NOMEM;
    size_t len = 0;
    int rc = url_append_raw(path, PROXY_MAX_URL, &len, base);
    if (rc == ERR_OK)
        rc = url_append(path, PROXY_MAX_URL, &len, req->path, false);
    if (rc != ERR_OK)
        return rc;
    struct query_build q = {query, PROXY_MAX_URL - len, 0, ERR_OK};
    query[0] = '\0';
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_each, &q);
    if (q.rc != ERR_OK)
        return q.rc;
    if (url_append_raw(path, PROXY_MAX_URL, &len, query) != ERR_OK)
        return ERR_TOOBIG;
    *out = strdup(path);
    return *out ? ERR_OK : ERR_NOMEM;
}

struct header_build {
    struct request *req;
    const char *conn_tokens; /* the client's Connection header */
    struct curl_slist *list;
    size_t n;
    char *xff; /* the client's X-Forwarded-For values, joined (arena) */
    bool has_type, has_accept;
    int rc;
};

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
    if (++h->n > PROXY_MAX_REQ_HEADERS) {
        h->rc = ERR_INVALID;
        return MHD_NO;
    }
    /* "Name;" is libcurl's spelling of a header with an empty value. */
    char *line = *value ? arena_printf(h->req->arena, "%s: %s", key, value)
                        : arena_printf(h->req->arena, "%s;", key);
    struct curl_slist *l = line ? curl_slist_append(h->list, line) : NULL;
    if (!l) {
        h->rc = ERR_NOMEM;
        return MHD_NO;
    }
    h->list = l;
    return MHD_YES;
}

/* Appends one line to the list; false when out of memory. */
static bool slist_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = line ? curl_slist_append(*list, line) : NULL;
    if (l)
        *list = l;
    return l != NULL;
}

/* The forwarded request headers: the client's end-to-end fields (Authorization and Cookie
 * unchanged, never logged) plus X-Request-ID and X-Forwarded-For/-Proto/-Host. ERR_INVALID
 * when the client sent more than PROXY_MAX_REQ_HEADERS fields. The caller owns *out. */
int proxy_build_headers(struct request *req, bool with_body, struct curl_slist **out)
{
    struct header_build h = {.req = req, .conn_tokens = req_header(req, "Connection")};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, header_each, &h);
    struct curl_slist *list = h.list;
    if (h.rc != ERR_OK) {
        curl_slist_free_all(list);
        return h.rc;
    }
    struct arena *a = req->arena;
    const char *ip = req_peer_ip(req);
    const char *host = req_header(req, "Host");
    bool ok =
        slist_add(&list, arena_printf(a, "X-Request-ID: %s", req->request_id)) &&
        slist_add(&list, h.xff ? arena_printf(a, "X-Forwarded-For: %s, %s", h.xff, ip)
                               : arena_printf(a, "X-Forwarded-For: %s", ip)) &&
        slist_add(&list, "X-Forwarded-Proto: http") &&
        (!host || !*host || slist_add(&list, arena_printf(a, "X-Forwarded-Host: %s", host))) &&
        /* No "Expect: 100-continue" round trip; no headers libcurl would invent. */
        slist_add(&list, "Expect:") && (h.has_accept || slist_add(&list, "Accept:")) &&
        (h.has_type || !with_body || slist_add(&list, "Content-Type:"));
    if (!ok) {
        curl_slist_free_all(list);
        return ERR_NOMEM;
    }
    *out = list;
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

/* Copies the upstream's end-to-end response headers onto r. */
void proxy_copy_headers(struct request *req, struct xfer *x, struct MHD_Response *r)
{
    const char *conn_tokens = NULL;
    const char *p = x->hdr_buf;
    for (size_t i = 0; i < x->n_hdrs; i++) {
        const char *name = p, *value = p + strlen(p) + 1;
        p = value + strlen(value) + 1;
        if (strcasecmp(name, "Connection") == 0)
            conn_tokens = value;
    }
    p = x->hdr_buf;
    for (size_t i = 0; i < x->n_hdrs; i++) {
        const char *name = p, *value = p + strlen(p) + 1;
        p = value + strlen(value) + 1;
        if (is_hop_by_hop(name) || list_has(conn_tokens, name) || server_sets(req, name))
            continue;
        if (MHD_add_response_header(r, name, value) != MHD_YES)
            log_debug("proxy: dropped upstream response header %s", name);
    }
}

/* The upstream's Content-Length, for a HEAD answer; false when absent or malformed. */
bool xfer_head_length(const struct xfer *x, uint64_t *out)
{
    const char *p = x->hdr_buf;
    for (size_t i = 0; i < x->n_hdrs; i++) {
        const char *name = p, *value = p + strlen(p) + 1;
        p = value + strlen(value) + 1;
        int64_t n = 0;
        if (strcasecmp(name, "Content-Length") != 0)
            continue;
        if (parse_int64(value, 0, INT64_MAX, &n) != ERR_OK)
            return false;
        *out = (uint64_t)n;
        return true;
    }
    return false;
}
