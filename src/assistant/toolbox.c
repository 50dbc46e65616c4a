/*
 * The tools of a chat turn (see toolbox.h): the tool table in process, or an MCP server.
 */
#include "assistant/toolbox.h"

#include "assistant/mcp_client.h"
#include "core/err.h"
#include "domain/tools.h"

bool toolbox_local(const struct toolbox *tb)
{
    return tb->mcp == NULL;
}

int toolbox_session(const struct toolbox *tb, struct tool_caller *who)
{
    if (!tb->mcp || who->mcp)
        return ERR_OK;
    who->mcp = mcpc_session_new(who->a);
    return who->mcp ? ERR_OK : ERR_NOMEM;
}

/* {"error": msg}. */
static yyjson_mut_val *error_result(yyjson_mut_doc *doc, const char *msg)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_strcpy(doc, o, "error", msg);
    return o;
}

int toolbox_functions(const struct toolbox *tb, struct tool_caller *who, yyjson_mut_doc *doc,
                      yyjson_mut_val *arr)
{
    if (tb->mcp)
        return mcpc_functions(tb->mcp, who->mcp, who->a, who->token, doc, arr);
    for (size_t i = 0; i < tools_count; i++) {
        const struct tool *t = &tools_table[i];
        yyjson_mut_val *fn = yyjson_mut_obj(doc);
        yyjson_mut_obj_add_str(doc, fn, "name", t->name);
        yyjson_mut_obj_add_str(doc, fn, "description", t->description);
        yyjson_mut_obj_add_val(doc, fn, "parameters", t->input_schema(doc));
        yyjson_mut_val *o = yyjson_mut_obj(doc);
        yyjson_mut_obj_add_str(doc, o, "type", "function");
        yyjson_mut_obj_add_val(doc, o, "function", fn);
        if (!yyjson_mut_arr_append(arr, o))
            return ERR_NOMEM;
    }
    return ERR_OK;
}

int toolbox_call(const struct toolbox *tb, struct tool_caller *who, const char *name,
                 yyjson_val *args, yyjson_mut_doc *doc, yyjson_mut_val **result, bool *is_error)
{
    if (tb->mcp)
        return mcpc_call(tb->mcp, who->mcp, who->a, who->token, name, args, doc, result, is_error);
    const struct tool *t = tools_find(name);
    if (!t) {
        *is_error = true;
        *result = error_result(doc, "Unknown tool: use one of the tools you were given");
        return ERR_OK;
    }
    struct tool_env env = {.db = who->db, .a = who->a, .uid = who->uid, .uploads = tb->uploads};
    struct tool_out out = {0};
    int rc = tools_run(t, &env, args, doc, &out);
    if (rc != ERR_OK)
        return rc;
    *is_error = out.error != NULL;
    *result = out.error ? error_result(doc, out.error) : out.result;
    if (!*result)
        *result = yyjson_mut_null(doc);
    return ERR_OK;
}

void toolbox_end(const struct toolbox *tb, struct tool_caller *who)
{
    if (tb->mcp && who->mcp)
        mcpc_session_end(tb->mcp, who->mcp, who->a, who->token);
}
