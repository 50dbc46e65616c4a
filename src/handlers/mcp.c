/*
 * Streamable HTTP for the MCP server (see mcp.h). Errors the transport itself refuses with
 * are HTTP statuses whose body is a JSON-RPC error response (id null when the message was
 * not read); errors of a request that reached the protocol (an unknown method or tool) are
 * JSON-RPC errors in a 200, as the official SDKs' servers answer them.
 */
#include "handlers/mcp.h"

#include <string.h>
#include <strings.h>

#include "app.h"
#include "auth/bearer.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "http/cors.h"
#include "mcp/mcp.h"
#include "mcp/session.h"

#define METADATA_PATH "/.well-known/oauth-protected-resource"
#define HOST_MAX      255

/* Answers status with a JSON-RPC error response (id may be NULL). */
static void rpc_refuse(struct request *req, int status, yyjson_val *id, int code,
                       const char *message)
{
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, mcp_error(doc, id, code, message));
    resp_json(req, status, doc);
}

/* True when host is a plain host[:port] (what may go into a URL we hand out). */
static bool host_ok(const char *host, size_t len)
{
    if (len == 0 || len > HOST_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

/* The scheme and authority clients reach this server at: the Host header, or what a trusted
 * proxy (FORWARDED_ALLOW_IPS) says it received (X-Forwarded-Host, X-Forwarded-Proto). */
static const char *public_base(struct request *req)
{
    const struct config *cfg = req->app->cfg;
    bool trusted = config_proxy_trusted(cfg, req_peer_ip(req));
    const char *host = trusted ? req_header(req, "X-Forwarded-Host") : NULL;
    if (!host)
        host = req_header(req, "Host");
    size_t len = host ? strcspn(host, ", ") : 0; /* the first of a proxy's list */
    const char *proto = trusted ? req_header(req, "X-Forwarded-Proto") : NULL;
    const char *scheme = proto && strncasecmp(proto, "https", 5) == 0 ? "https" : "http";
    struct dynbuf d;
    dyn_init_arena(&d, req->arena, HOST_MAX + 16);
    dyn_add(&d, scheme);
    dyn_add(&d, "://");
    if (host && host_ok(host, len)) {
        dyn_addn(&d, host, len);
    } else {
        dyn_add(&d, cfg->host);
        dyn_addc(&d, ':');
        dyn_add_int(&d, cfg->port);
    }
    return dyn_err(&d) == ERR_OK ? dyn_str(&d) : "http://localhost";
}

/* Checks Origin: a browser page from another origin is refused (DNS rebinding). */
static bool origin_ok(struct request *req)
{
    if (cors_origin_allowed(req))
        return true;
    rpc_refuse(req, 403, NULL, RPC_INVALID_REQUEST,
               "Forbidden: this Origin is not allowed (CORS_ORIGINS lists the allowed ones)");
    return false;
}

/* True when one media range of the Accept list admits application/json. */
static bool accepts_json(const char *accept)
{
    if (!accept)
        return true;
    const char *p = accept;
    for (int i = 0; *p && i < 64; i++) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",;");
        if ((n == 16 && strncasecmp(p, "application/json", 16) == 0) ||
            (n == 13 && strncasecmp(p, "application/*", 13) == 0) ||
            (n == 3 && strncmp(p, "*/*", 3) == 0))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* The request's connection for the tools and the session store (req_db answers 503). */
static int request_db(void *ctx, struct store_conn **out)
{
    *out = req_db(ctx);
    return *out ? ERR_OK : ERR_UNAVAILABLE;
}

/* Authenticates the bearer credential; answers 401 with the resource metadata's URL (RFC
 * 9728 §5.1), or 503, and returns false when it fails. */
static bool authenticated(struct request *req)
{
    const char *h = req_header(req, "Authorization");
    const char *token = NULL;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        token = h + 7;
        while (*token == ' ')
            token++;
    }
    const char *why = "Not authenticated";
    int rc = ERR_AUTH;
    struct bearer_user who = {0};
    if (token && *token) {
        struct jwt_verifier v = {.secret = req->app->cfg->jwt_secret, .jwks = req->app->jwks};
        rc = bearer_authenticate(&v, request_db, req, req->arena, token, now_unix(), &who, &why);
    }
    if (req->responded) /* no database: req_db answered 503 */
        return false;
    if (rc == ERR_OK) {
        req->user_id = who.id;
        req->auth_pat = who.pat;
        return true;
    }
    if (rc != ERR_AUTH) {
        rpc_refuse(req, err_http_status(rc), NULL, RPC_INTERNAL_ERROR,
                   rc == ERR_UNAVAILABLE ? "Service unavailable, try again shortly"
                                         : "Internal error");
        return false;
    }
    const char *metadata = arena_printf(req->arena, "%s" METADATA_PATH "/mcp", public_base(req));
    const char *challenge =
        arena_printf(req->arena, "Bearer resource_metadata=\"%s\"%s", metadata ? metadata : "",
                     token ? ", error=\"invalid_token\"" : "");
    resp_header(req, "WWW-Authenticate", challenge ? challenge : "Bearer");
    rpc_refuse(req, 401, NULL, RPC_INVALID_REQUEST, why);
    return false;
}

/* The checks every MCP request passes before its body is read. */
static bool admitted(struct request *req)
{
    if (!origin_ok(req))
        return false;
    if (!accepts_json(req_header(req, "Accept"))) {
        rpc_refuse(req, 406, NULL, RPC_INVALID_REQUEST,
                   "Not Acceptable: the client must accept application/json");
        return false;
    }
    return authenticated(req);
}

/* The session named by Mcp-Session-Id, for the authenticated user: sets *version. Answers
 * 400 (no header) or 404 (unknown, ended, another user's) and returns false otherwise. */
static bool session_of(struct request *req, const char **version)
{
    const char *id = req_header(req, "Mcp-Session-Id");
    if (!id || !*id) {
        rpc_refuse(req, 400, NULL, RPC_INVALID_REQUEST,
                   "Bad Request: Mcp-Session-Id header is required (send initialize first)");
        return false;
    }
    struct store_conn *db = req_db(req);
    if (!db)
        return false;
    int rc = mcp_session_find(db, req->arena, id, req->user_id, now_unix(), version);
    if (rc == ERR_NOTFOUND) {
        rpc_refuse(req, 404, NULL, MCP_SESSION_NOT_FOUND,
                   "Session not found: it ended or never existed; initialize a new one");
        return false;
    }
    if (rc != ERR_OK) {
        rpc_refuse(req, err_http_status(rc), NULL, RPC_INTERNAL_ERROR,
                   "Service unavailable, try again shortly");
        return false;
    }
    return true;
}

/* True when s is 1 to max visible ASCII characters. */
static bool visible_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || s[n] < 0x21 || s[n] > 0x7e)
            return false;
    return n > 0;
}

/* MCP-Protocol-Version: absent means the session's version; one we do not speak is 400,
 * whose error data names the versions we do and the one asked for ({supported, requested},
 * the shape the SDKs read to pick another version or fall back to initialize). */
static bool header_version(struct request *req, const char **version)
{
    const char *v = req_header(req, "MCP-Protocol-Version");
    if (!v)
        return true;
    const char *known = mcp_version_supported(v);
    if (!known) {
        const char *msg = arena_printf(req->arena,
                                       "Bad Request: unsupported MCP-Protocol-Version; this "
                                       "server speaks %s",
                                       mcp_versions_text());
        yyjson_mut_doc *doc = req_json_doc(req);
        yyjson_mut_val *e = mcp_error(doc, NULL, RPC_INVALID_REQUEST,
                                      msg ? msg : "Bad Request: unsupported MCP-Protocol-Version");
        yyjson_mut_val *data = yyjson_mut_obj(doc);
        yyjson_mut_obj_add_val(doc, data, "supported", mcp_versions_json(doc));
        if (visible_ascii(v, 64)) /* else it is not a version to name back */
            yyjson_mut_obj_add_strcpy(doc, data, "requested", v);
        yyjson_mut_obj_add_val(doc, yyjson_mut_obj_get(e, "error"), "data", data);
        yyjson_mut_doc_set_root(doc, e);
        resp_json(req, 400, doc);
        return false;
    }
    *version = known;
    return true;
}

/* Answers one request message with the protocol core; writes the response into doc. srv
 * must outlive ctx. */
static yyjson_mut_val *answer(struct request *req, const struct mcp_server *srv,
                              const struct mcp_msg *m, const char *version, yyjson_mut_doc *doc,
                              struct mcp_ctx *ctx)
{
    *ctx = (struct mcp_ctx){.srv = srv,
                            .a = req->arena,
                            .uid = req->user_id,
                            .db = request_db,
                            .db_ctx = req,
                            .version = version};
    return mcp_answer(ctx, m, doc);
}

/* initialize: the protocol's answer, and a new session when it succeeded. */
static void initialize(struct request *req, const struct mcp_msg *m)
{
    yyjson_mut_doc *doc = req_json_doc(req);
    struct mcp_server srv = mcp_server_of(req->app->cfg);
    struct mcp_ctx ctx;
    yyjson_mut_val *r = answer(req, &srv, m, NULL, doc, &ctx);
    if (!r) {
        rpc_refuse(req, 500, m->id, RPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    yyjson_mut_doc_set_root(doc, r);
    if (!ctx.negotiated) { /* refused (invalid params): no session */
        resp_json(req, 200, doc);
        return;
    }
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    char id[MCP_SESSION_ID_LEN + 1];
    const char *client =
        ctx.client && strlen(ctx.client) <= MCP_CLIENT_NAME_MAX ? ctx.client : NULL;
    int rc = mcp_session_create(db, req->arena, req->user_id, ctx.negotiated, client, id);
    if (rc != ERR_OK) {
        rpc_refuse(req, err_http_status(rc), m->id, RPC_INTERNAL_ERROR,
                   "Service unavailable, try again shortly");
        return;
    }
    resp_header(req, "Mcp-Session-Id", arena_strdup(req->arena, id));
    resp_json(req, 200, doc);
}

/* A JSON-RPC batch (protocol 2025-03-26 only): every request's response, in one array;
 * 202 when it held only notifications and responses. */
static void batch(struct request *req, yyjson_val *arr, const char *version)
{
    yyjson_mut_doc *doc = req_json_doc(req);
    struct mcp_server srv = mcp_server_of(req->app->cfg);
    struct mcp_ctx ctx = {.srv = &srv,
                          .a = req->arena,
                          .uid = req->user_id,
                          .db = request_db,
                          .db_ctx = req,
                          .version = version};
    yyjson_mut_val *out = NULL;
    const char *why = "Internal error";
    int rc = mcp_answer_batch(&ctx, arr, doc, &out, &why);
    if (req->responded) /* the database went away: already answered */
        return;
    if (rc != ERR_OK) {
        rpc_refuse(req, rc == ERR_INVALID ? 400 : 500, NULL,
                   rc == ERR_INVALID ? RPC_INVALID_REQUEST : RPC_INTERNAL_ERROR, why);
        return;
    }
    if (yyjson_mut_arr_size(out) == 0) {
        resp_empty(req, 202);
        return;
    }
    yyjson_mut_doc_set_root(doc, out);
    resp_json(req, 200, doc);
}

void h_mcp_post(struct request *req)
{
    if (!admitted(req))
        return;
    yyjson_doc *body = NULL;
    const char *why = "Parse error";
    int rc =
        req->body_len ? json_parse(req->arena, req->body, req->body_len, &body, &why) : ERR_INVALID;
    if (rc != ERR_OK) {
        rpc_refuse(req, 400, NULL, RPC_PARSE_ERROR,
                   req->body_len ? "Parse error: the body is not a JSON text within the limits"
                                 : "Parse error: the body is empty");
        return;
    }
    yyjson_val *root = yyjson_doc_get_root(body);
    struct mcp_msg m;
    int code = 0;
    if (yyjson_is_obj(root)) {
        if (mcp_read(root, &m, &code, &why) != ERR_OK) {
            yyjson_val *id = yyjson_obj_get(root, "id");
            rpc_refuse(req, 400, yyjson_is_str(id) || yyjson_is_int(id) ? id : NULL, code, why);
            return;
        }
        if (m.kind == MCP_REQUEST && strcmp(m.method, "initialize") == 0) {
            initialize(req, &m);
            return;
        }
    } else if (!yyjson_is_arr(root)) {
        rpc_refuse(req, 400, NULL, RPC_INVALID_REQUEST,
                   "Invalid Request: the body must be one JSON-RPC message (an object)");
        return;
    }
    const char *version = NULL, *session_version = NULL;
    if (!header_version(req, &version) || !session_of(req, &session_version))
        return;
    if (!version)
        version = session_version;
    if (yyjson_is_arr(root)) {
        if (strcmp(version, "2025-03-26") != 0) {
            rpc_refuse(req, 400, NULL, RPC_INVALID_REQUEST,
                       "Invalid Request: JSON-RPC batches are not part of MCP since 2025-06-18; "
                       "send one message per request");
            return;
        }
        batch(req, root, version);
        return;
    }
    if (m.kind != MCP_REQUEST) { /* a notification or a response: accepted */
        resp_empty(req, 202);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    struct mcp_server srv = mcp_server_of(req->app->cfg);
    struct mcp_ctx ctx;
    yyjson_mut_val *r = answer(req, &srv, &m, version, doc, &ctx);
    if (req->responded)
        return;
    if (!r) {
        rpc_refuse(req, 500, m.id, RPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    if (ctx.retry_after > 0) {
        resp_header(req, "Retry-After", arena_printf(req->arena, "%d", ctx.retry_after));
        yyjson_mut_doc_set_root(doc, r);
        resp_json(req, 429, doc);
        return;
    }
    if (ctx.tool && log_enabled(LOG_DEBUG))
        log_fields(LOG_DEBUG, "mcp tool call",
                   (struct log_field[]){LF_S("request_id", req->request_id), LF_S("tool", ctx.tool),
                                        LF_S("outcome", ctx.tool_error ? "tool_error" : "ok")},
                   3);
    yyjson_mut_doc_set_root(doc, r);
    resp_json(req, 200, doc);
}

void h_mcp_delete(struct request *req)
{
    const char *version = NULL;
    if (!admitted(req) || !header_version(req, &version))
        return;
    const char *id = req_header(req, "Mcp-Session-Id");
    if (!id || !*id) {
        rpc_refuse(req, 400, NULL, RPC_INVALID_REQUEST,
                   "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    int rc = mcp_session_end(db, req->arena, id, req->user_id);
    if (rc == ERR_NOTFOUND) {
        rpc_refuse(req, 404, NULL, MCP_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    if (rc != ERR_OK) {
        rpc_refuse(req, err_http_status(rc), NULL, RPC_INTERNAL_ERROR,
                   "Service unavailable, try again shortly");
        return;
    }
    resp_empty(req, 204);
}

void h_mcp_resource_metadata(struct request *req)
{
    const char *base = public_base(req);
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_str(doc, o, "resource", arena_printf(req->arena, "%s/mcp", base));
    yyjson_mut_obj_add_str(doc, o, "resource_name", req->app->cfg->mcp_server_name);
    yyjson_mut_val *methods = yyjson_mut_arr(doc);
    yyjson_mut_arr_add_str(doc, methods, "header");
    yyjson_mut_obj_add_val(doc, o, "bearer_methods_supported", methods);
    resp_header(req, "Cache-Control", "public, max-age=3600");
    resp_json(req, 200, doc);
}
