/*
 * Fuzz target: the offline assistant's parser (assistant/offline_*.c). The input is
 *   byte 0      the mode: even, a chat turn (offline_turn: parse, then the plan's tool calls
 *               through the real tool table on the in-memory store as the fuzz user, then
 *               the reply); odd, a quick-add line (offline_parse_task, then add_task's
 *               arguments from it);
 *   bytes 1-2   the user's UTC offset in minutes (clamped to what the parser accepts);
 *   bytes 3-6   seconds after 2026-01-01 for "now" (up to 136 years: dates near 9999 too);
 *   the rest    the message.
 * The reply must be bounded, and every call's arguments must be an object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assistant/offline.h"
#include "core/err.h"
#include "domain/tools.h"
#include "fuzz.h"
#include "store/store.h"

struct runner_ctx {
    struct fuzz_app *f;
    struct arena *a;
    struct store_conn *db;
};

/* Runs a tool as the chat layer would: immutable arguments, the result copied back. */
static int run_tool(void *ctx, const char *name, yyjson_mut_doc *doc, yyjson_mut_val *args,
                    yyjson_val **result, bool *is_error)
{
    struct runner_ctx *rc = ctx;
    const struct tool *t = tools_find(name);
    if (!t || !yyjson_mut_is_obj(args)) {
        fprintf(stderr, "fuzz: the assistant called %s with %s arguments\n", name,
                yyjson_mut_is_obj(args) ? "object" : "non-object");
        abort();
    }
    if (!rc->db && store_acquire(rc->f->app.store, &rc->db) != ERR_OK)
        return ERR_UNAVAILABLE;
    yyjson_alc alc;
    arena_yyjson_alc(rc->a, &alc);
    yyjson_doc *in = yyjson_mut_val_imut_copy(args, &alc);
    if (!in)
        return ERR_NOMEM;
    struct tool_env env = {rc->db, rc->a, FUZZ_UID, NULL};
    struct tool_out out = {0};
    int err = tools_run(t, &env, yyjson_doc_get_root(in), doc, &out);
    if (err != ERR_OK)
        return err;
    *is_error = out.error != NULL;
    *result = NULL;
    if (out.result) {
        yyjson_doc *res = yyjson_mut_val_imut_copy(out.result, &alc);
        *result = res ? yyjson_doc_get_root(res) : NULL;
    }
    return ERR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_app *f = fuzz_app();
    fuzz_app_tidy(5000);
    if (size < 7)
        return 0;
    int offset = (int16_t)(data[1] | data[2] << 8) % (OFFLINE_OFFSET_MAX + 1);
    uint32_t after = (uint32_t)data[3] | (uint32_t)data[4] << 8 | (uint32_t)data[5] << 16 |
                     (uint32_t)data[6] << 24;
    struct offline_input in = {(const char *)data + 7, size - 7, 1767225600 + (int64_t)after,
                               offset};
    struct arena *a = arena_new();
    yyjson_alc alc;
    if (!a)
        return 0;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    if (!doc)
        abort();
    if (data[0] & 1) {
        struct offline_fields fields;
        int rc = offline_parse_task(a, &in, &fields);
        if (rc == ERR_OK) {
            yyjson_mut_val *args = offline_task_args(doc, &fields);
            if (!fields.title || !*fields.title || !yyjson_mut_is_obj(args))
                abort();
        } else if (rc != ERR_INVALID && rc != ERR_TOOBIG) {
            abort();
        }
    } else {
        struct runner_ctx ctx = {f, a, NULL};
        struct offline_runner r = {run_tool, &ctx};
        struct offline_turn turn;
        int rc = offline_turn(a, &in, &r, doc, &turn);
        if (ctx.db)
            store_release(ctx.db);
        if (rc != ERR_OK) {
            fprintf(stderr, "fuzz: offline_turn returned %d\n", rc);
            abort();
        }
        if (!turn.reply || strlen(turn.reply) > OFFLINE_REPLY_MAX ||
            turn.ncalls > OFFLINE_MAX_CALLS)
            abort();
    }
    arena_free(a);
    return 0;
}
