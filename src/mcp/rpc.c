/*
 * The MCP protocol core (see mcp.h): reading JSON-RPC messages and answering requests.
 */
#include "mcp/mcp.h"

#include <string.h>

#include "auth/ratelimit.h"
#include "core/metrics.h"
#include "core/config.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/json.h"
#include "core/util.h"
#include "domain/tools.h"

#define CURSOR_PREFIX "tools-"
#define CURSOR_MAX    32

static const char instructions[] =
    "These tools manage the signed-in user's tasks in todo. Use list_tasks (with status, "
    "search, tag, priority, due and overdue filters) to find tasks and their ids before "
    "changing them; add_task, update_task, complete_task and delete_task change one task by "
    "id; get_task shows one; list_tags and task_stats summarise. Times are RFC 3339 "
    "(2026-03-13T17:00:00+01:00) or a date alone (2026-03-13). The tools always act for the "
    "signed-in user: user_id arguments are ignored.";

struct mcp_server mcp_server_of(const struct config *cfg)
{
    return (struct mcp_server){.name = cfg->mcp_server_name,
                               .title = "todo",
                               .version = TODO_VERSION,
                               .instructions = instructions,
                               .page_size = (size_t)cfg->mcp_page_size,
                               .tool_limit = cfg->mcp_rate_limit,
                               .uploads = cfg->uploads_dir};
}

#define VERSION_NAME(v) v,
static const char *const versions[] = {MCP_VERSIONS(VERSION_NAME)};
#undef VERSION_NAME

const char *mcp_version_supported(const char *version)
{
    for (size_t i = 0; version && i < ARRAY_LEN(versions); i++)
        if (strcmp(version, versions[i]) == 0)
            return versions[i];
    return NULL;
}

const char *mcp_versions_text(void)
{
#define VERSION_TEXT(v) ", " v
    static const char all[] = MCP_VERSIONS(VERSION_TEXT);
#undef VERSION_TEXT
    return all + 2;
}

yyjson_mut_val *mcp_versions_json(yyjson_mut_doc *doc)
{
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    for (size_t i = 0; i < ARRAY_LEN(versions); i++)
        yyjson_mut_arr_add_str(doc, arr, versions[i]);
    return arr;
}

int mcp_read(yyjson_val *v, struct mcp_msg *m, int *code, const char **message)
{
    memset(m, 0, sizeof(*m));
    *code = RPC_INVALID_REQUEST;
    if (!yyjson_is_obj(v)) {
        *message = "Invalid Request: a JSON-RPC message is an object";
        return ERR_INVALID;
    }
    const char *version = json_cstr(yyjson_obj_get(v, "jsonrpc"));
    if (!version || strcmp(version, "2.0") != 0) {
        *message = "Invalid Request: \"jsonrpc\" must be \"2.0\"";
        return ERR_INVALID;
    }
    yyjson_val *id = yyjson_obj_get(v, "id");
    yyjson_val *method = yyjson_obj_get(v, "method");
    yyjson_val *params = yyjson_obj_get(v, "params");
    /* MCP: an id is a string or an integer, never null. */
    if (id && !(yyjson_is_str(id) || yyjson_is_int(id))) {
        *message = "Invalid Request: \"id\" must be a string or an integer";
        return ERR_INVALID;
    }
    if (method) {
        m->method = json_cstr(method);
        if (!m->method || !*m->method) {
            *message = "Invalid Request: \"method\" must be a non-empty string";
            return ERR_INVALID;
        }
        if (yyjson_obj_get(v, "result") || yyjson_obj_get(v, "error")) {
            *message = "Invalid Request: a request has no \"result\" or \"error\"";
            return ERR_INVALID;
        }
        if (params && !yyjson_is_obj(params)) {
            *code = RPC_INVALID_PARAMS;
            *message = "Invalid params: \"params\" must be an object";
            return ERR_INVALID;
        }
        m->kind = id ? MCP_REQUEST : MCP_NOTIFICATION;
        m->id = id;
        m->params = params;
        return ERR_OK;
    }
    bool result = yyjson_obj_get(v, "result") != NULL;
    bool error = yyjson_is_obj(yyjson_obj_get(v, "error"));
    if (id && result != error) {
        m->kind = MCP_RESPONSE;
        m->id = id;
        return ERR_OK;
    }
    *message = "Invalid Request: neither a request, a notification nor a response";
    return ERR_INVALID;
}

/* {"jsonrpc":"2.0","id":id} to complete with "result" or "error". */
static yyjson_mut_val *envelope(yyjson_mut_doc *doc, yyjson_val *id)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, o, "jsonrpc", "2.0");
    yyjson_mut_obj_add_val(doc, o, "id", id ? yyjson_val_mut_copy(doc, id) : yyjson_mut_null(doc));
    return o;
}

yyjson_mut_val *mcp_error(yyjson_mut_doc *doc, yyjson_val *id, int code, const char *message)
{
    yyjson_mut_val *o = envelope(doc, id);
    yyjson_mut_val *e = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, e, "code", code);
    yyjson_mut_obj_add_strcpy(doc, e, "message", message);
    yyjson_mut_obj_add_val(doc, o, "error", e);
    return o;
}

static yyjson_mut_val *result(yyjson_mut_doc *doc, yyjson_val *id, yyjson_mut_val *value)
{
    yyjson_mut_val *o = envelope(doc, id);
    yyjson_mut_obj_add_val(doc, o, "result", value);
    return o;
}

/* An error whose message is head, at most the first 64 bytes of what (never half a UTF-8
 * sequence: the answer must stay valid JSON), and tail (built in the arena; head alone when
 * it is full). */
static yyjson_mut_val *error_about(struct mcp_ctx *ctx, yyjson_mut_doc *doc, yyjson_val *id,
                                   int code, const char *head, const char *what, const char *tail)
{
    struct dynbuf d;
    dyn_init_arena(&d, ctx->a, 256);
    dyn_add(&d, head);
    dyn_addn(&d, what, text_utf8_prefix(what, 64));
    dyn_add(&d, tail);
    return mcp_error(doc, id, code, dyn_err(&d) == ERR_OK ? dyn_str(&d) : head);
}

/* initialize: agree on a version, say who we are and what we offer. */
static yyjson_mut_val *initialize(struct mcp_ctx *ctx, const struct mcp_msg *m, yyjson_mut_doc *doc)
{
    const char *asked = json_cstr(yyjson_obj_get(m->params, "protocolVersion"));
    if (!asked)
        return mcp_error(doc, m->id, RPC_INVALID_PARAMS,
                         "Invalid params: initialize needs \"protocolVersion\"");
    const char *agreed = mcp_version_supported(asked);
    ctx->negotiated = agreed ? agreed : versions[0];
    ctx->client = json_cstr(yyjson_obj_get(yyjson_obj_get(m->params, "clientInfo"), "name"));
    yyjson_mut_val *r = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, r, "protocolVersion", ctx->negotiated);
    yyjson_mut_val *caps = yyjson_mut_obj(doc);
    yyjson_mut_val *tools = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_bool(doc, tools, "listChanged", false);
    yyjson_mut_obj_add_val(doc, caps, "tools", tools);
    yyjson_mut_obj_add_val(doc, r, "capabilities", caps);
    yyjson_mut_val *info = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, info, "name", ctx->srv->name);
    yyjson_mut_obj_add_str(doc, info, "title", ctx->srv->title);
    yyjson_mut_obj_add_str(doc, info, "version", ctx->srv->version);
    yyjson_mut_obj_add_str(doc, info, "description",
                           "Your tasks in todo: add, list, update, complete and delete them.");
    yyjson_mut_obj_add_val(doc, r, "serverInfo", info);
    yyjson_mut_obj_add_str(doc, r, "instructions", ctx->srv->instructions);
    return result(doc, m->id, r);
}

/* The tool index a tools/list cursor names, or -1 when it is not one of ours. */
static long read_cursor(const char *c)
{
    int64_t n;
    if (!c || !str_starts(c, CURSOR_PREFIX) || strlen(c) > CURSOR_MAX ||
        parse_id(c + strlen(CURSOR_PREFIX), &n) != ERR_OK || (size_t)n >= tools_count)
        return -1;
    return (long)n;
}

static yyjson_mut_val *tools_list(struct mcp_ctx *ctx, const struct mcp_msg *m, yyjson_mut_doc *doc)
{
    size_t start = 0;
    yyjson_val *cursor = yyjson_obj_get(m->params, "cursor");
    if (cursor && !yyjson_is_null(cursor)) {
        long at = read_cursor(json_cstr(cursor));
        if (at < 0)
            return mcp_error(doc, m->id, RPC_INVALID_PARAMS, "Invalid params: unknown cursor");
        start = (size_t)at;
    }
    size_t page = ctx->srv->page_size ? ctx->srv->page_size : tools_count;
    size_t end = start + page < tools_count ? start + page : tools_count;
    yyjson_mut_val *r = yyjson_mut_obj(doc);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    for (size_t i = start; i < end; i++)
        yyjson_mut_arr_append(arr, tools_describe(&tools_table[i], doc));
    yyjson_mut_obj_add_val(doc, r, "tools", arr);
    if (end < tools_count) {
        char *next = arena_printf(ctx->a, CURSOR_PREFIX "%zu", end);
        if (next)
            yyjson_mut_obj_add_str(doc, r, "nextCursor", next);
    }
    return result(doc, m->id, r);
}

/* A tools/call result: the structured content and the same JSON as text, or a tool error. */
static yyjson_mut_val *call_result(struct mcp_ctx *ctx, yyjson_mut_doc *doc,
                                   const struct tool_out *out)
{
    yyjson_mut_val *r = yyjson_mut_obj(doc);
    yyjson_mut_val *content = yyjson_mut_arr(doc);
    yyjson_mut_val *text = yyjson_mut_arr_add_obj(doc, content);
    yyjson_mut_obj_add_str(doc, text, "type", "text");
    if (out->error) {
        yyjson_mut_obj_add_strcpy(doc, text, "text", out->error);
        yyjson_mut_obj_add_val(doc, r, "content", content);
        yyjson_mut_obj_add_bool(doc, r, "isError", true);
        return r;
    }
    yyjson_alc alc;
    arena_yyjson_alc(ctx->a, &alc);
    size_t len = 0;
    char *json = yyjson_mut_val_write_opts(out->result, 0, &alc, &len, NULL);
    if (!json)
        return NULL;
    yyjson_mut_obj_add_strn(doc, text, "text", json, len);
    yyjson_mut_obj_add_val(doc, r, "content", content);
    yyjson_mut_obj_add_val(doc, r, "structuredContent", out->result);
    yyjson_mut_obj_add_bool(doc, r, "isError", false);
    return r;
}

static yyjson_mut_val *tools_call(struct mcp_ctx *ctx, const struct mcp_msg *m, yyjson_mut_doc *doc)
{
    const char *name = json_cstr(yyjson_obj_get(m->params, "name"));
    if (!name)
        return mcp_error(doc, m->id, RPC_INVALID_PARAMS,
                         "Invalid params: tools/call needs the tool's \"name\"");
    const struct tool *t = tools_find(name);
    if (!t)
        return error_about(ctx, doc, m->id, RPC_INVALID_PARAMS, "Unknown tool: ", name,
                           " (tools/list names the tools)");
    yyjson_val *args = yyjson_obj_get(m->params, "arguments");
    if (args && !yyjson_is_null(args) && !yyjson_is_obj(args))
        return mcp_error(doc, m->id, RPC_INVALID_PARAMS,
                         "Invalid params: \"arguments\" must be an object");
    ctx->tool = t->name;
    if (ctx->srv->tool_limit > 0) {
        char key[RATELIMIT_KEY_MAX];
        struct dynbuf k;
        dyn_init_fixed(&k, key, sizeof(key));
        dyn_add(&k, "mcp-tools:");
        dyn_add(&k, ctx->uid);
        int wait = ratelimit_hit(key, ctx->srv->tool_limit, now_unix());
        if (wait > 0) {
            ctx->retry_after = wait;
            return mcp_error(doc, m->id, MCP_RATE_LIMITED,
                             "Too many tool calls: the limit is per minute; retry after the "
                             "seconds Retry-After says");
        }
    }
    struct store_conn *db = NULL;
    struct tool_out out = {0};
    int rc = ctx->db(ctx->db_ctx, &db);
    if (rc == ERR_OK) {
        struct tool_env env = {db, ctx->a, ctx->uid, ctx->srv->uploads};
        rc = tools_run(t, &env, yyjson_is_obj(args) ? args : NULL, doc, &out);
    }
    if (rc == ERR_NOMEM)
        return mcp_error(doc, m->id, RPC_INTERNAL_ERROR, "Internal error");
    if (rc != ERR_OK) /* the tool could not run: an API failure a model may retry */
        out = (struct tool_out){NULL, rc == ERR_UNAVAILABLE
                                          ? "The task database is unavailable; try again in a "
                                            "moment."
                                          : "The tool failed on the server; try again later."};
    ctx->tool_error = out.error != NULL;
    METRIC_INC(METRIC_MCP_CALLS, t->name, out.error ? "error" : "ok");
    yyjson_mut_val *r = call_result(ctx, doc, &out);
    return r ? result(doc, m->id, r) : mcp_error(doc, m->id, RPC_INTERNAL_ERROR, "Internal error");
}

int mcp_answer_batch(struct mcp_ctx *ctx, yyjson_val *batch, yyjson_mut_doc *doc,
                     yyjson_mut_val **out, const char **message)
{
    size_t n = yyjson_arr_size(batch);
    if (n == 0 || n > MCP_BATCH_MAX) {
        *message = n ? "Invalid Request: at most 32 messages in a batch"
                     : "Invalid Request: an empty batch";
        return ERR_INVALID;
    }
    *out = yyjson_mut_arr(doc);
    if (!*out)
        return ERR_NOMEM;
    size_t i, max;
    yyjson_val *item;
    yyjson_arr_foreach(batch, i, max, item)
    {
        struct mcp_msg m;
        int code;
        const char *why;
        yyjson_mut_val *r = NULL;
        if (mcp_read(item, &m, &code, &why) != ERR_OK) {
            yyjson_val *id = yyjson_obj_get(item, "id");
            r = mcp_error(doc, yyjson_is_str(id) || yyjson_is_int(id) ? id : NULL, code, why);
        } else if (m.kind != MCP_REQUEST) {
            continue;
        } else if (strcmp(m.method, "initialize") == 0) {
            r = mcp_error(doc, m.id, RPC_INVALID_REQUEST,
                          "Invalid Request: initialize cannot be part of a batch");
        } else {
            r = mcp_answer(ctx, &m, doc);
        }
        if (!r || !yyjson_mut_arr_append(*out, r))
            return ERR_NOMEM;
    }
    return ERR_OK;
}

yyjson_mut_val *mcp_answer(struct mcp_ctx *ctx, const struct mcp_msg *m, yyjson_mut_doc *doc)
{
    const char *method = m->method;
    if (strcmp(method, "initialize") == 0)
        return initialize(ctx, m, doc);
    if (strcmp(method, "ping") == 0)
        return result(doc, m->id, yyjson_mut_obj(doc));
    if (!ctx->version)
        return mcp_error(doc, m->id, RPC_INVALID_REQUEST,
                         "Invalid Request: the session is not initialized; send initialize "
                         "first");
    if (strcmp(method, "tools/list") == 0)
        return tools_list(ctx, m, doc);
    if (strcmp(method, "tools/call") == 0)
        return tools_call(ctx, m, doc);
    return error_about(ctx, doc, m->id, RPC_METHOD_NOT_FOUND, "Method not found: ", method, "");
}
