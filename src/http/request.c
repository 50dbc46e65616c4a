/*
 * Request accessors and response builders for handlers (see request.h).
 */
#include "http/request.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>

#include "app.h"
#include "core/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/verror.h"
#include "store/store.h"

/* The first of kvs named name (ignoring case when icase), or NULL. */
static const char *local_lookup(const struct req_kv *kvs, size_t n, const char *name, bool icase)
{
    for (size_t i = 0; i < n; i++)
        if (kvs[i].key && (icase ? strcasecmp(kvs[i].key, name) : strcmp(kvs[i].key, name)) == 0)
            return kvs[i].value ? kvs[i].value : "";
    return NULL;
}

const char *req_header(struct request *req, const char *name)
{
    if (!req->conn)
        return req->local ? local_lookup(req->local->headers, req->local->n_headers, name, true)
                          : NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct request *req, const char *name)
{
    if (!req->conn)
        return req->local ? local_lookup(req->local->args, req->local->n_args, name, false) : NULL;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
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

bool req_etag_matches(struct request *req, const char *etag)
{
    const char *inm = req_header(req, "If-None-Match");
    return inm && etag && etag_listed(inm, etag);
}

/* Copies the entry of an X-Forwarded-For list that ends before `end` (trimmed). */
static const char *xff_entry(struct arena *a, const char *start, const char *end)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return arena_strndup(a, start, (size_t)(end - start));
}

const char *req_client_ip(struct request *req)
{
    const char *peer = req_peer_ip(req);
    const struct config *cfg = req->app->cfg;
    const char *xff = req_header(req, "X-Forwarded-For");
    if (!xff || !config_proxy_trusted(cfg, peer))
        return peer;
    /* Walk from the right: each trusted hop vouches for the one before it. */
    const char *end = xff + strlen(xff);
    for (int hop = 0; hop < XFF_MAX_HOPS && end > xff; hop++) {
        const char *comma = end;
        while (comma > xff && comma[-1] != ',')
            comma--;
        const char *entry = xff_entry(req->arena, comma, end);
        char canon[CONFIG_IP_TEXT_MAX];
        if (!entry || !*entry)
            return peer;
        if (!config_ip_canonical(entry, canon))
            return entry; /* not an address: still the client this hop reported */
        if (cfg->trust_any_proxy || !config_proxy_trusted(cfg, canon) || comma == xff)
            return arena_strdup(req->arena, canon);
        end = comma - 1;
    }
    return peer;
}

struct each_iter {
    bool (*fn)(void *ctx, const char *key, const char *value);
    void *ctx;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct each_iter *it = cls;
    if (!key)
        return MHD_YES;
    return it->fn(it->ctx, key, value ? value : "") ? MHD_YES : MHD_NO;
}

void req_query_each(struct request *req, bool (*fn)(void *ctx, const char *key, const char *value),
                    void *ctx)
{
    if (!req->conn) {
        for (size_t i = 0; req->local && i < req->local->n_args; i++) {
            const struct req_kv *kv = &req->local->args[i];
            if (kv->key && !fn(ctx, kv->key, kv->value ? kv->value : ""))
                return;
        }
        return;
    }
    struct each_iter it = {fn, ctx};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, each_arg, &it);
}

struct query_iter {
    const char *name;
    size_t max;
    size_t seen;
    void (*fn)(void *ctx, const char *value);
    void *ctx;
};

static bool query_each(void *cls, const char *key, const char *value)
{
    struct query_iter *it = cls;
    if (strcmp(key, it->name) == 0) {
        if (it->seen < it->max)
            it->fn(it->ctx, value);
        it->seen++;
    }
    return true;
}

size_t req_query_all(struct request *req, const char *name, size_t max,
                     void (*fn)(void *ctx, const char *value), void *ctx)
{
    struct query_iter it = {name, max, 0, fn, ctx};
    req_query_each(req, query_each, &it);
    return it.seen;
}

const char *req_peer_ip(struct request *req)
{
    if (!req->conn)
        return req->local && req->local->peer_ip ? req->local->peer_ip : "unknown";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char *buf = arena_alloc(req->arena, INET6_ADDRSTRLEN);
    if (!ci || !ci->client_addr || !buf)
        return "unknown";
    const struct sockaddr *sa = ci->client_addr;
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, addr, buf, INET6_ADDRSTRLEN))
        return "unknown";
    return buf;
}

int req_json(struct request *req, yyjson_doc **out)
{
    if (req->body_len == 0) {
        resp_err(req, ERR_INVALID, "Request body must be a JSON document");
        return ERR_INVALID;
    }
    const char *why = NULL;
    int rc = json_parse(req->arena, req->body, req->body_len, out, &why);
    if (rc == ERR_NOMEM) {
        resp_err(req, ERR_INVALID, "Request body is too large to parse");
        return ERR_INVALID;
    }
    if (rc != ERR_OK) {
        resp_err(req, ERR_INVALID, why);
        return ERR_INVALID;
    }
    return ERR_OK;
}

struct store_conn *req_db(struct request *req)
{
    if (req->db)
        return req->db;
    if (!req->app->store || store_acquire(req->app->store, &req->db) != ERR_OK) {
        req->db = NULL;
        resp_err(req, ERR_UNAVAILABLE, NULL);
        return NULL;
    }
    return req->db;
}

void resp_header(struct request *req, const char *name, const char *value)
{
    if (req->n_resp_headers >= REQ_MAX_RESP_HEADERS) {
        log_error("too many response headers; dropped %s", name);
        return;
    }
    req->resp_headers[req->n_resp_headers][0] = name;
    req->resp_headers[req->n_resp_headers][1] = value;
    req->n_resp_headers++;
}

void resp_raw(struct request *req, int status, const char *content_type, const char *body,
              size_t len)
{
    req->status = status;
    req->content_type = content_type;
    req->resp_body = body;
    req->resp_len = len;
    req->responded = true;
}

void resp_json_text(struct request *req, int status, const char *json, size_t len)
{
    resp_raw(req, status, "application/json", json, len);
}

void resp_json(struct request *req, int status, yyjson_mut_doc *doc)
{
    yyjson_alc alc;
    arena_yyjson_alc(req->arena, &alc);
    size_t len = 0;
    char *json = yyjson_mut_write_opts(doc, 0, &alc, &len, NULL);
    if (!json) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    resp_json_text(req, status, json, len);
}

void resp_error(struct request *req, int status, const char *detail)
{
    yyjson_mut_doc *doc = req_json_doc(req);
    if (doc) {
        yyjson_mut_val *root = yyjson_mut_obj(doc);
        yyjson_mut_doc_set_root(doc, root);
        yyjson_mut_obj_add_str(doc, root, "detail", detail);
        yyjson_alc alc;
        arena_yyjson_alc(req->arena, &alc);
        size_t len = 0;
        char *json = yyjson_mut_write_opts(doc, 0, &alc, &len, NULL);
        if (json) {
            resp_json_text(req, status, json, len);
            return;
        }
    }
    static const char fallback[] = "{\"detail\":\"Internal server error\"}";
    resp_raw(req, status, "application/json", fallback, sizeof(fallback) - 1);
}

void resp_err(struct request *req, int err, const char *detail)
{
    resp_error(req, err_http_status(err), detail ? detail : err_detail(err));
}

void resp_invalid(struct request *req, const struct verrors *errs)
{
    yyjson_mut_doc *doc = req_json_doc(req);
    if (!doc) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    yyjson_mut_doc_set_root(doc, verr_to_json(errs, doc));
    resp_json(req, 422, doc);
}

void resp_empty(struct request *req, int status)
{
    resp_raw(req, status, NULL, "", 0);
}

void resp_custom(struct request *req, int status, struct MHD_Response *resp)
{
    req->status = status;
    req->resp_custom = resp;
    req->responded = true;
}

void resp_defer(struct request *req, void (*resume)(struct request *req), void *ctx)
{
    /* A suspended request holds no database connection: another request may need it (the
     * pool is small, and on SQLite it is this thread's own connection). */
    if (req->db) {
        store_release(req->db);
        req->db = NULL;
    }
    req->resume = resume;
    req->defer_ctx = ctx;
}

yyjson_mut_doc *req_json_doc(struct request *req)
{
    yyjson_alc alc;
    arena_yyjson_alc(req->arena, &alc);
    return yyjson_mut_doc_new(&alc);
}
