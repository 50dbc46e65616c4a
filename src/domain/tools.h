/*
 * The task tools: one table, read by the MCP server (tools/list, tools/call) and by the
 * assistant (its model's function list, and the offline assistant's runner). Each row is a
 * tool: its name (the names of src/assistant/offline.h and the hackathon's MCP server), a
 * title, a description written for a model, its input and output JSON Schemas (derived from
 * the task schema), its behaviour hints, and the function that runs it as the authenticated
 * user.
 *
 * Every tool acts for env->uid and nobody else. A `user_id` argument is accepted, because
 * the hackathon's tools had one, but it never selects whose data is touched: a value other
 * than the caller's is ignored (and logged at DEBUG).
 *
 * Results: on ERR_OK the tool ran; out->error is then NULL and out->result holds the
 * structured result (an object matching the output schema), or out->error is a message a
 * model can act on (a task that does not exist, an argument that breaks a rule) and the
 * result is NULL. Any other return is a failure to run at all (ERR_UNAVAILABLE: the
 * database; ERR_NOMEM).
 *
 * Threads: the table is constant; tools may run on any thread. Memory: everything comes from
 * env->a and the caller's yyjson document.
 */
#ifndef TODO_TOOLS_H
#define TODO_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "yyjson.h"

#include "core/arena.h"
#include "store/store.h"

/* Who runs a tool, and with what. */
struct tool_env {
    struct store_conn *db;
    struct arena *a;
    const char *uid;     /* the authenticated user */
    const char *uploads; /* UPLOADS_DIR, where a deleted task's files are collected */
};

/* A tool's outcome (see above). */
struct tool_out {
    yyjson_mut_val *result;
    const char *error; /* NULL, or the tool error's message (arena or static) */
};

/* MCP's tool annotations: hints a client may show or act on. */
struct tool_hints {
    bool read_only;   /* changes nothing */
    bool destructive; /* may destroy or overwrite data (only meaningful when !read_only) */
    bool idempotent;  /* calling again with the same arguments changes nothing more */
};

struct tool {
    const char *name;
    const char *title;
    const char *description;
    /* The JSON Schemas of the arguments object and of the structured result. */
    yyjson_mut_val *(*input_schema)(yyjson_mut_doc *doc);
    yyjson_mut_val *(*output_schema)(yyjson_mut_doc *doc);
    struct tool_hints hints;
    int (*run)(const struct tool_env *env, yyjson_val *args, yyjson_mut_doc *doc,
               struct tool_out *out);
};

extern const struct tool tools_table[];
extern const size_t tools_count;

/* The tool named name, or NULL. */
const struct tool *tools_find(const char *name);

/* Runs tool t with args (an object, or NULL for none): unknown arguments and arguments that
 * break the tool's rules are tool errors naming what it accepts. Returns as the table's
 * functions do (see above). */
int tools_run(const struct tool *t, const struct tool_env *env, yyjson_val *args,
              yyjson_mut_doc *doc, struct tool_out *out);

/* The tool's MCP description: {name, title, description, inputSchema, outputSchema,
 * annotations}. */
yyjson_mut_val *tools_describe(const struct tool *t, yyjson_mut_doc *doc);

#endif
