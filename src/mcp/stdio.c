/*
 * MCP over stdio (see stdio.h): a bounded line reader, then per message an arena, the
 * credential checked, the protocol core's answer, and one line of JSON on stdout.
 */
#include "mcp/stdio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/bearer.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "mcp/mcp.h"

/* The protocol state of the one stdio session. */
struct session {
    const struct mcp_stdio *s;
    struct mcp_server srv;
    const char *version; /* negotiated (static), NULL until initialize */
};

/* One message's database connection: checked out on first use, returned after it. */
struct conn {
    struct store *store;
    struct store_conn *c;
};

static int conn_get(void *ctx, struct store_conn **out)
{
    struct conn *k = ctx;
    if (!k->c) {
        int rc = store_acquire(k->store, &k->c);
        if (rc != ERR_OK) {
            k->c = NULL;
            return rc;
        }
    }
    *out = k->c;
    return ERR_OK;
}

static void conn_put(struct conn *k)
{
    if (k->c)
        store_release(k->c);
    k->c = NULL;
}

/* Authenticates the session's credential for one message. */
static int authenticate(const struct mcp_stdio *s, struct conn *k, struct arena *a,
                        struct bearer_user *who, const char **why)
{
    struct jwt_verifier v = {.secret = s->cfg->jwt_secret, .jwks = NULL};
    *why = "Invalid token";
    return bearer_authenticate(&v, conn_get, k, a, s->token, now_unix(), who, why);
}

int mcp_stdio_check(const struct mcp_stdio *s, const char **why)
{
    struct arena *a = arena_new();
    if (!a)
        return ERR_NOMEM;
    struct conn k = {s->store, NULL};
    struct bearer_user who;
    int rc = authenticate(s, &k, a, &who, why);
    if (rc == ERR_OK)
        log_fields(
            LOG_INFO, "mcp stdio: serving",
            (struct log_field[]){LF_S("user_id", who.id),
                                 LF_S("credential", who.pat ? "personal access token" : "jwt")},
            2);
    conn_put(&k);
    arena_free(a);
    return rc;
}

/* Writes one message and a newline; ERR_IO when stdout is gone. */
static int emit(const struct mcp_stdio *s, struct arena *a, yyjson_mut_doc *doc,
                yyjson_mut_val *msg)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    size_t len = 0;
    char *json = yyjson_mut_val_write_opts(msg, 0, &alc, &len, NULL);
    (void)doc;
    if (!json)
        return ERR_NOMEM;
    if (fwrite(json, 1, len, s->out) != len || fputc('\n', s->out) == EOF || fflush(s->out) != 0)
        return ERR_IO;
    return ERR_OK;
}

/* Answers one line: nothing for notifications and responses. */
static int handle(struct session *ss, const char *line, size_t len)
{
    const struct mcp_stdio *s = ss->s;
    struct arena *a = arena_new();
    if (!a)
        return ERR_NOMEM;
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    struct conn k = {s->store, NULL};
    yyjson_mut_val *reply = NULL;
    yyjson_doc *in = NULL;
    const char *why = NULL;
    int rc = ERR_OK;
    if (!doc) {
        rc = ERR_NOMEM;
        goto done;
    }
    if (json_parse(a, line, len, &in, &why) != ERR_OK) {
        reply = mcp_error(doc, NULL, RPC_PARSE_ERROR,
                          "Parse error: the line is not a JSON text within the limits");
        goto done;
    }
    yyjson_val *root = yyjson_doc_get_root(in);
    struct mcp_msg m = {0};
    int code = 0;
    if (yyjson_is_arr(root)) {
        if (!ss->version || strcmp(ss->version, "2025-03-26") != 0) {
            reply = mcp_error(doc, NULL, RPC_INVALID_REQUEST,
                              "Invalid Request: JSON-RPC batches are not part of MCP since "
                              "2025-06-18; send one message per line");
            goto done;
        }
    } else if (mcp_read(root, &m, &code, &why) != ERR_OK) {
        yyjson_val *id = yyjson_obj_get(root, "id");
        reply = mcp_error(doc, yyjson_is_str(id) || yyjson_is_int(id) ? id : NULL, code, why);
        goto done;
    } else if (m.kind != MCP_REQUEST) {
        goto done; /* notifications and responses get no answer */
    }
    struct bearer_user who;
    int arc = authenticate(s, &k, a, &who, &why);
    if (arc != ERR_OK) {
        const char *msg = arc == ERR_AUTH ? arena_printf(a, "Unauthorized: %s", why)
                                          : "Service unavailable, try again shortly";
        reply = mcp_error(doc, yyjson_is_arr(root) ? NULL : m.id,
                          arc == ERR_AUTH ? RPC_INVALID_REQUEST : RPC_INTERNAL_ERROR,
                          msg ? msg : "Unauthorized");
        goto done;
    }
    struct mcp_ctx ctx = {.srv = &ss->srv,
                          .a = a,
                          .uid = who.id,
                          .db = conn_get,
                          .db_ctx = &k,
                          .version = ss->version};
    if (yyjson_is_arr(root)) {
        int brc = mcp_answer_batch(&ctx, root, doc, &reply, &why);
        if (brc == ERR_INVALID)
            reply = mcp_error(doc, NULL, RPC_INVALID_REQUEST, why);
        else if (brc != ERR_OK)
            rc = brc;
        else if (yyjson_mut_arr_size(reply) == 0)
            reply = NULL;
        goto done;
    }
    reply = mcp_answer(&ctx, &m, doc);
    if (!reply) {
        rc = ERR_NOMEM;
        goto done;
    }
    if (ctx.negotiated)
        ss->version = ctx.negotiated;
    if (ctx.tool && log_enabled(LOG_DEBUG))
        log_fields(LOG_DEBUG, "mcp tool call",
                   (struct log_field[]){LF_S("tool", ctx.tool),
                                        LF_S("outcome", ctx.tool_error ? "tool_error" : "ok")},
                   2);
done:
    conn_put(&k);
    if (rc == ERR_OK && reply)
        rc = emit(s, a, doc, reply);
    arena_free(a);
    return rc;
}

/* Answers a line that did not fit: an error, as for any message that cannot be read. */
static int too_long(struct session *ss)
{
    static const char msg[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                              "\"message\":\"Invalid Request: the message is too large\"}}\n";
    FILE *out = ss->s->out;
    return fwrite(msg, 1, sizeof(msg) - 1, out) == sizeof(msg) - 1 && fflush(out) == 0 ? ERR_OK
                                                                                       : ERR_IO;
}

/* Hands a complete line (without its newline) to handle; skips blank ones. */
static int line(struct session *ss, char *text, size_t len)
{
    if (len && text[len - 1] == '\r')
        len--;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (i == len)
        return ERR_OK;
    int rc = handle(ss, text, len);
    return rc == ERR_NOMEM ? ERR_OK : rc; /* one message too big to answer: go on */
}

int mcp_stdio_serve(const struct mcp_stdio *s)
{
    struct session ss = {.s = s, .srv = mcp_server_of(s->cfg), .version = NULL};
    ss.srv.tool_limit = 0; /* one local user, who started the process */
    size_t cap = s->max_line + 1;
    char *buf = malloc(cap);
    if (!buf)
        return ERR_NOMEM;
    size_t len = 0;
    bool skipping = false; /* inside a line longer than max_line */
    int rc = ERR_OK;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            size_t n = (size_t)(nl - buf);
            if (skipping) {
                skipping = false;
                rc = too_long(&ss);
            } else {
                rc = line(&ss, buf, n);
            }
            memmove(buf, nl + 1, len - n - 1);
            len -= n + 1;
            if (rc != ERR_OK)
                break;
            continue;
        }
        if (len == cap) { /* no newline in max_line bytes: drop them, answer at its end */
            skipping = true;
            len = 0;
        }
        ssize_t got = read(s->in, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0)
                log_warn("mcp stdio: reading stdin: %s", strerror(errno));
            else if (len && !skipping)
                rc = line(&ss, buf, len); /* a last message without its newline */
            break;
        }
        len += (size_t)got;
    }
    free(buf);
    return rc;
}
