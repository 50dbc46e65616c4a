/*
 * The MCP client over Streamable HTTP (see mcp_client.h): one blocking exchange per JSON-RPC
 * message, each an httpc transfer the calling thread waits for.
 */
#include "assistant/mcp_client.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sse.h"
#include "core/url.h"
#include "io/httpc.h"

#define SESSION_ID_MAX  256
#define VERSION_MAX     32
#define HEADER_MAX      (SESSION_ID_MAX + 64)
#define AUTH_HEADER_MAX 4200

struct mcpc {
    struct httpc *h;
    char *url;
    pthread_mutex_t mu;
    char *functions; /* the tool list in the Chat Completions format (JSON text), or NULL */
};

struct mcpc_session {
    char id[SESSION_ID_MAX + 1]; /* "" when the server gave none */
    char version[VERSION_MAX];
    bool open;
    int64_t next_id;
};

/* One HTTP exchange, waited for by the calling thread; the loop thread fills it. */
struct exchange {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct arena *a;
    int64_t want_id; /* the JSON-RPC id whose response ends an event stream; 0: none */
    int err;
    int status;
    char session[SESSION_ID_MAX + 1];
    const char *body; /* the response (a JSON-RPC message), arena-owned, or NULL */
    size_t len;
};

int mcpc_new(struct httpc *h, const char *url, struct mcpc **out)
{
    bool https = false, loopback = false;
    if (!url || url_outbound(url, &https, &loopback) != ERR_OK)
        return ERR_INVALID;
    struct mcpc *c = calloc(1, sizeof(*c));
    if (!c || !(c->url = strdup(url))) {
        free(c);
        return ERR_NOMEM;
    }
    c->h = h;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return ERR_OK;
}

void mcpc_free(struct mcpc *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->functions);
    free(c->url);
    free(c);
}

struct mcpc_session *mcpc_session_new(struct arena *a)
{
    struct mcpc_session *s = arena_calloc(a, 1, sizeof(*s));
    if (s)
        s->next_id = 1;
    return s;
}

/* ---- one exchange ---------------------------------------------------------------------- */

static int ex_headers(void *ctx, const struct httpc_response *r)
{
    struct exchange *x = ctx;
    x->status = r->status;
    const char *sid = httpc_header(r, "Mcp-Session-Id");
    if (sid && strlen(sid) <= SESSION_ID_MAX) {
        bool ok = true;
        for (const char *p = sid; *p; p++)
            ok = ok && *p > ' ' && *p <= '~'; /* visible ASCII only, as the spec says */
        if (ok)
            memcpy(x->session, sid, strlen(sid) + 1);
    }
    return HTTPC_CONTINUE;
}

/* An event of a text/event-stream answer: the response with our id ends the exchange (the
 * server may keep the stream open for more). */
static int ex_event(void *ctx, const struct sse_event *ev)
{
    struct exchange *x = ctx;
    yyjson_doc *d = yyjson_read(ev->data, ev->data_len, 0);
    yyjson_val *id = yyjson_obj_get(yyjson_doc_get_root(d), "id");
    bool ours = yyjson_is_int(id) && yyjson_get_sint(id) == x->want_id &&
                !yyjson_obj_get(yyjson_doc_get_root(d), "method");
    yyjson_doc_free(d);
    if (!ours)
        return HTTPC_CONTINUE;
    x->body = arena_strndup(x->a, ev->data, ev->data_len);
    x->len = ev->data_len;
    return HTTPC_ABORT;
}

static void ex_done(void *ctx, const struct httpc_result *res)
{
    struct exchange *x = ctx;
    pthread_mutex_lock(&x->mu);
    if (x->body) {
        x->err = ERR_OK; /* the stream was ended by us, after our response */
    } else {
        x->err = res->err;
        if (res->err == ERR_OK && res->body && res->body_len > 0) {
            x->body = arena_strndup(x->a, res->body, res->body_len);
            x->len = res->body_len;
            if (!x->body)
                x->err = ERR_NOMEM;
        }
        if (res->err == ERR_OK)
            x->status = res->status;
    }
    x->done = true;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

/* Sends one message (body; NULL for a DELETE) and waits for the answer. */
static int exchange(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token,
                    const char *method, const char *body, size_t len, int64_t want_id,
                    struct exchange *x)
{
    char auth[AUTH_HEADER_MAX], sid[HEADER_MAX], ver[HEADER_MAX];
    struct dynbuf d;
    dyn_init_fixed(&d, auth, sizeof(auth));
    dyn_addf(&d, "Authorization: Bearer %s", token ? token : "");
    if (dyn_err(&d) != ERR_OK)
        return ERR_INVALID;
    const char *headers[6] = {"Content-Type: application/json",
                              "Accept: application/json, text/event-stream", auth,
                              HTTPC_USER_AGENT};
    size_t n = 4;
    if (s->id[0]) {
        dyn_init_fixed(&d, sid, sizeof(sid));
        dyn_addf(&d, "Mcp-Session-Id: %s", s->id);
        headers[n++] = sid;
    }
    if (s->version[0]) {
        dyn_init_fixed(&d, ver, sizeof(ver));
        dyn_addf(&d, "MCP-Protocol-Version: %s", s->version);
        headers[n++] = ver;
    }
    memset(x, 0, sizeof(*x));
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->a = a;
    x->want_id = want_id;
    struct httpc_request rq = {.method = method,
                               .url = c->url,
                               .headers = headers,
                               .n_headers = n,
                               .body = body,
                               .body_len = len,
                               .flags = HTTPC_ALLOW_HTTP,
                               .total_timeout_ms = MCP_CLIENT_TIMEOUT_MS,
                               .header_timeout_ms = MCP_CLIENT_TIMEOUT_MS,
                               .max_body = MCP_CLIENT_MAX_BODY,
                               .max_event = MCP_CLIENT_MAX_BODY,
                               .on_headers = ex_headers,
                               .on_event = ex_event,
                               .on_done = ex_done,
                               .ctx = x};
    int rc = httpc_request(c->h, &rq, NULL);
    if (rc == ERR_OK) {
        pthread_mutex_lock(&x->mu);
        while (!x->done)
            pthread_cond_wait(&x->cv, &x->mu);
        pthread_mutex_unlock(&x->mu);
        rc = x->err;
    }
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    if (rc == ERR_CANCELED || rc == ERR_TOOBIG || rc == ERR_NOMEM)
        return rc == ERR_CANCELED ? ERR_UNAVAILABLE : rc;
    if (rc != ERR_OK)
        return rc; /* ERR_TIMEOUT, ERR_UNAVAILABLE */
    if (x->status == 401 || x->status == 403)
        return ERR_AUTH;
    if (x->status == 404 && s->id[0])
        return ERR_NOTFOUND; /* the session ended on the server */
    if (x->status >= 500)
        return ERR_UNAVAILABLE;
    if (x->status < 200 || x->status >= 300)
        return ERR_INVALID;
    return ERR_OK;
}

/* Serialises {"jsonrpc":"2.0", ["id":id,] "method":m, "params":p} into the arena. */
static const char *message(struct arena *a, int64_t id, const char *m, yyjson_mut_val *params,
                           size_t *len)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, o, "jsonrpc", "2.0");
    if (id > 0)
        yyjson_mut_obj_add_int(doc, o, "id", id);
    yyjson_mut_obj_add_str(doc, o, "method", m);
    if (params)
        yyjson_mut_obj_add_val(doc, o, "params", params);
    return yyjson_mut_val_write_opts(o, 0, &alc, len, NULL);
}

/* A request's result (in the arena), or its JSON-RPC error in *rpc_error (arena text). */
static int request(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token,
                   const char *m, yyjson_mut_val *params, yyjson_val **result,
                   const char **rpc_error)
{
    int64_t id = s->next_id++;
    size_t len = 0;
    const char *body = message(a, id, m, params, &len);
    if (!body)
        return ERR_NOMEM;
    struct exchange x;
    int rc = exchange(c, s, a, token, "POST", body, len, id, &x);
    if (rc != ERR_OK)
        return rc;
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *d = x.body ? yyjson_read_opts((char *)x.body, x.len, 0, &alc, NULL) : NULL;
    yyjson_val *root = d ? yyjson_doc_get_root(d) : NULL;
    if (x.session[0] && !s->id[0])
        memcpy(s->id, x.session, sizeof(s->id));
    if (!yyjson_is_obj(root))
        return ERR_INVALID;
    yyjson_val *err = yyjson_obj_get(root, "error");
    if (err) {
        const char *msg = json_cstr(yyjson_obj_get(err, "message"));
        *rpc_error = arena_strdup(a, msg ? msg : "The tool server refused the request");
        *result = NULL;
        return ERR_OK;
    }
    *rpc_error = NULL;
    *result = yyjson_obj_get(root, "result");
    return *result ? ERR_OK : ERR_INVALID;
}

/* initialize, then notifications/initialized. */
static int open_session(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    yyjson_mut_val *p = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, p, "protocolVersion", MCP_CLIENT_VERSION);
    yyjson_mut_obj_add_val(doc, p, "capabilities", yyjson_mut_obj(doc));
    yyjson_mut_val *info = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, info, "name", "todo-agent");
    yyjson_mut_obj_add_str(doc, info, "version", TODO_VERSION);
    yyjson_mut_obj_add_val(doc, p, "clientInfo", info);
    s->id[0] = '\0';
    s->version[0] = '\0';
    yyjson_val *res;
    const char *rpc_error = NULL;
    int rc = request(c, s, a, token, "initialize", p, &res, &rpc_error);
    if (rc == ERR_OK && rpc_error) {
        log_warn("MCP server refused initialize: %s", rpc_error);
        return ERR_UNAVAILABLE;
    }
    if (rc != ERR_OK)
        return rc;
    const char *v = json_cstr(yyjson_obj_get(res, "protocolVersion"));
    if (!v || strlen(v) >= VERSION_MAX)
        return ERR_INVALID;
    memcpy(s->version, v, strlen(v) + 1);
    size_t len = 0;
    const char *note = message(a, 0, "notifications/initialized", NULL, &len);
    if (!note)
        return ERR_NOMEM;
    struct exchange x;
    rc = exchange(c, s, a, token, "POST", note, len, 0, &x);
    if (rc == ERR_OK)
        s->open = true;
    return rc;
}

/* A request in the session, opening it first; a session the server forgot is opened again,
 * once. */
static int call_in_session(struct mcpc *c, struct mcpc_session *s, struct arena *a,
                           const char *token, const char *m, yyjson_mut_val *params,
                           yyjson_val **result, const char **rpc_error)
{
    int rc = ERR_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->open)
            rc = open_session(c, s, a, token);
        if (rc == ERR_OK)
            rc = request(c, s, a, token, m, params, result, rpc_error);
        if (rc != ERR_NOTFOUND)
            break;
        s->open = false;
    }
    if (rc == ERR_NOTFOUND)
        rc = ERR_UNAVAILABLE;
    return rc;
}

/* ---- tools ------------------------------------------------------------------------------- */

/* Fetches tools/list (every page) and converts it to the Chat Completions format. */
static int fetch_functions(struct mcpc *c, struct mcpc_session *s, struct arena *a,
                           const char *token, yyjson_mut_doc *doc, yyjson_mut_val *arr)
{
    const char *cursor = NULL;
    size_t count = 0;
    for (int page = 0; page < MCP_CLIENT_MAX_PAGES; page++) {
        yyjson_mut_val *p = NULL;
        if (cursor) {
            p = yyjson_mut_obj(doc);
            yyjson_mut_obj_add_strcpy(doc, p, "cursor", cursor);
        }
        yyjson_val *res;
        const char *rpc_error = NULL;
        int rc = call_in_session(c, s, a, token, "tools/list", p, &res, &rpc_error);
        if (rc != ERR_OK)
            return rc;
        if (rpc_error)
            return ERR_UNAVAILABLE;
        size_t i, max;
        yyjson_val *t;
        yyjson_arr_foreach(yyjson_obj_get(res, "tools"), i, max, t)
        {
            const char *name = json_cstr(yyjson_obj_get(t, "name"));
            yyjson_val *schema = yyjson_obj_get(t, "inputSchema");
            if (!name || !yyjson_is_obj(schema) || count >= MCP_CLIENT_MAX_TOOLS)
                continue;
            const char *desc = json_cstr(yyjson_obj_get(t, "description"));
            yyjson_mut_val *fn = yyjson_mut_obj(doc);
            yyjson_mut_obj_add_strcpy(doc, fn, "name", name);
            yyjson_mut_obj_add_strcpy(doc, fn, "description", desc ? desc : name);
            yyjson_mut_obj_add_val(doc, fn, "parameters", yyjson_val_mut_copy(doc, schema));
            yyjson_mut_val *o = yyjson_mut_obj(doc);
            yyjson_mut_obj_add_str(doc, o, "type", "function");
            yyjson_mut_obj_add_val(doc, o, "function", fn);
            yyjson_mut_arr_append(arr, o);
            count++;
        }
        cursor = json_cstr(yyjson_obj_get(res, "nextCursor"));
        if (!cursor || !*cursor)
            return ERR_OK;
    }
    return ERR_OK;
}

int mcpc_functions(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token,
                   yyjson_mut_doc *doc, yyjson_mut_val *arr)
{
    pthread_mutex_lock(&c->mu);
    char *cached = c->functions ? strdup(c->functions) : NULL;
    pthread_mutex_unlock(&c->mu);
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    if (cached) {
        yyjson_doc *d = yyjson_read_opts(cached, strlen(cached), 0, &alc, NULL);
        free(cached);
        size_t i, max;
        yyjson_val *f;
        yyjson_arr_foreach(d ? yyjson_doc_get_root(d) : NULL, i, max, f)
        {
            yyjson_mut_arr_append(arr, yyjson_val_mut_copy(doc, f));
        }
        return ERR_OK;
    }
    yyjson_mut_val *fresh = yyjson_mut_arr(doc);
    int rc = fetch_functions(c, s, a, token, doc, fresh);
    if (rc != ERR_OK)
        return rc;
    char *text = yyjson_mut_val_write(fresh, 0, NULL);
    if (text) {
        pthread_mutex_lock(&c->mu);
        if (!c->functions) {
            c->functions = text;
            text = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        free(text);
    }
    /* Move the fresh list's items into arr. */
    yyjson_mut_val *item;
    while ((item = yyjson_mut_arr_remove_first(fresh)))
        yyjson_mut_arr_append(arr, item);
    return ERR_OK;
}

/* Forgets the cached tool list (a call named a tool the server no longer has). */
static void forget_functions(struct mcpc *c)
{
    pthread_mutex_lock(&c->mu);
    free(c->functions);
    c->functions = NULL;
    pthread_mutex_unlock(&c->mu);
}

static yyjson_mut_val *error_result(yyjson_mut_doc *doc, const char *msg)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_strcpy(doc, o, "error", msg);
    return o;
}

int mcpc_call(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token,
              const char *name, yyjson_val *args, yyjson_mut_doc *doc, yyjson_mut_val **result,
              bool *is_error)
{
    yyjson_mut_val *p = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_strcpy(doc, p, "name", name);
    yyjson_mut_obj_add_val(doc, p, "arguments",
                           args ? yyjson_val_mut_copy(doc, args) : yyjson_mut_obj(doc));
    yyjson_val *res;
    const char *rpc_error = NULL;
    int rc = call_in_session(c, s, a, token, "tools/call", p, &res, &rpc_error);
    if (rc != ERR_OK)
        return rc;
    if (rpc_error) { /* an unknown tool, or arguments the server refused */
        forget_functions(c);
        *is_error = true;
        *result = error_result(doc, rpc_error);
        return ERR_OK;
    }
    *is_error = yyjson_get_bool(yyjson_obj_get(res, "isError"));
    yyjson_val *structured = yyjson_obj_get(res, "structuredContent");
    const char *text =
        json_cstr(yyjson_obj_get(yyjson_arr_get_first(yyjson_obj_get(res, "content")), "text"));
    if (*is_error) {
        *result = error_result(doc, text ? text : "The tool failed");
        return ERR_OK;
    }
    if (structured) {
        *result = yyjson_val_mut_copy(doc, structured);
        return ERR_OK;
    }
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *d = text ? yyjson_read_opts((char *)text, strlen(text), 0, &alc, NULL) : NULL;
    *result = d ? yyjson_val_mut_copy(doc, yyjson_doc_get_root(d))
                : yyjson_mut_strcpy(doc, text ? text : "");
    return ERR_OK;
}

void mcpc_session_end(struct mcpc *c, struct mcpc_session *s, struct arena *a, const char *token)
{
    if (!s->open || !s->id[0])
        return;
    struct exchange x;
    (void)exchange(c, s, a, token, "DELETE", NULL, 0, 0, &x);
    s->open = false;
}
