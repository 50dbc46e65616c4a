/*
 * Fuzz target: MCP JSON-RPC dispatch (mcp/rpc.c), as the transports drive it. The first
 * byte picks the session's protocol version (none yet, or one of MCP_VERSIONS: batches are
 * read only on 2025-03-26); the rest is one message or a batch, parsed with the server's
 * limits and answered for the fuzz user over the tool table on the in-memory store
 * (initialize, ping, tools/list, tools/call of every tool). Every answer must serialise to
 * JSON that parses again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "fuzz.h"
#include "mcp/mcp.h"
#include "store/store.h"

struct conn {
    struct store *store;
    struct store_conn *c;
};

static int conn_get(void *ctx, struct store_conn **out)
{
    struct conn *k = ctx;
    if (!k->c) {
        int rc = store_acquire(k->store, &k->c);
        if (rc != ERR_OK)
            return rc;
    }
    *out = k->c;
    return ERR_OK;
}

static const char *const versions[] = {NULL, "2025-03-26", "2025-06-18", "2025-11-25"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_app *f = fuzz_app();
    fuzz_app_tidy(5000);
    if (size < 1)
        return 0;
    static struct mcp_server srv;
    static bool srv_set;
    if (!srv_set) {
        srv = mcp_server_of(f->app.cfg);
        srv.tool_limit = 0;
        srv_set = true;
    }
    struct arena *a = arena_new();
    if (!a)
        return 0;
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_doc *in = NULL;
    const char *why = NULL;
    struct conn k = {f->app.store, NULL};
    yyjson_mut_val *reply = NULL;
    if (!doc || json_parse(a, (const char *)data + 1, size - 1, &in, &why) != ERR_OK)
        goto done;
    yyjson_val *root = yyjson_doc_get_root(in);
    struct mcp_ctx ctx = {.srv = &srv,
                          .a = a,
                          .uid = FUZZ_UID,
                          .db = conn_get,
                          .db_ctx = &k,
                          .version = versions[data[0] % 4]};
    if (yyjson_is_arr(root)) {
        int rc = mcp_answer_batch(&ctx, root, doc, &reply, &why);
        if (rc == ERR_INVALID)
            reply = mcp_error(doc, NULL, RPC_INVALID_REQUEST, why);
        else if (rc != ERR_OK)
            abort(); /* the arena holds 96 MiB: no input here runs it out */
    } else {
        struct mcp_msg m = {0};
        int code = 0;
        if (mcp_read(root, &m, &code, &why) != ERR_OK) {
            if (!why || (code != RPC_INVALID_REQUEST && code != RPC_INVALID_PARAMS))
                abort();
            reply = mcp_error(doc, NULL, code, why);
        } else if (m.kind == MCP_REQUEST) {
            reply = mcp_answer(&ctx, &m, doc);
            if (!reply)
                abort();
        }
    }
    if (reply) {
        yyjson_mut_doc_set_root(doc, reply);
        size_t len = 0;
        yyjson_write_err err;
        char *out = yyjson_mut_write_opts(doc, 0, &alc, &len, &err);
        yyjson_doc *back = out ? yyjson_read(out, len, 0) : NULL;
        if (!back) {
            fprintf(stderr, "fuzz: the answer does not serialise to JSON (%s)\n",
                    out ? "unreadable" : err.msg);
            abort();
        }
        yyjson_doc_free(back);
    }
done:
    if (k.c)
        store_release(k.c);
    arena_free(a);
    return 0;
}
