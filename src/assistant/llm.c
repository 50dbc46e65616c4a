/*
 * The OpenAI Chat Completions wire format (see llm.h): request bodies, and the assembly of
 * streamed chunks or a whole completion into one answer.
 */
#include "assistant/llm.h"

#include <stdio.h>
#include <string.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/json.h"

/* A tool call being assembled. */
struct slot {
    long index; /* the provider's index, or -1 when it gave none */
    const char *id;
    struct dynbuf name, args;
};

struct llm_reader {
    struct arena *a;
    void (*on_text)(void *ctx, const char *p, size_t n);
    void *ctx;
    struct dynbuf text;
    struct slot slots[LLM_MAX_CALLS];
    size_t nslots;
    struct llm_answer ans;
    int err; /* sticky */
};

int llm_request_body(yyjson_mut_doc *doc, yyjson_mut_val *messages, const struct llm_params *p,
                     struct arena *a, size_t max, const char **out, size_t *len)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    if (!o)
        return ERR_NOMEM;
    yyjson_mut_obj_add_str(doc, o, "model", p->model ? p->model : "");
    yyjson_mut_obj_add_val(doc, o, "messages", messages);
    if (p->tools && yyjson_mut_arr_size(p->tools) > 0) {
        yyjson_mut_obj_add_val(doc, o, "tools", p->tools);
        if (p->tool_choice)
            yyjson_mut_obj_add_str(doc, o, "tool_choice", p->tool_choice);
    }
    yyjson_mut_obj_add_bool(doc, o, "stream", true);
    if (p->max_tokens > 0)
        yyjson_mut_obj_add_int(doc, o, "max_tokens", p->max_tokens);
    if (p->temperature >= 0)
        yyjson_mut_obj_add_real(doc, o, "temperature", p->temperature);
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    size_t n = 0;
    char *json = yyjson_mut_val_write_opts(o, 0, &alc, &n, NULL);
    /* messages and tools belong to the caller's conversation: detach them again, so the
     * object can be built afresh for the next request. */
    yyjson_mut_obj_remove_key(o, "messages");
    yyjson_mut_obj_remove_key(o, "tools");
    if (!json)
        return ERR_NOMEM;
    if (n > max)
        return ERR_TOOBIG;
    *out = json;
    *len = n;
    return ERR_OK;
}

yyjson_mut_val *llm_msg(yyjson_mut_doc *doc, yyjson_mut_val *messages, const char *role,
                        const char *content)
{
    yyjson_mut_val *m = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, m, "role", role);
    if (content)
        yyjson_mut_obj_add_strcpy(doc, m, "content", content);
    else
        yyjson_mut_obj_add_null(doc, m, "content");
    yyjson_mut_arr_append(messages, m);
    return m;
}

void llm_tool_msg(yyjson_mut_doc *doc, yyjson_mut_val *messages, const char *call_id,
                  const char *content)
{
    yyjson_mut_val *m = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, m, "role", "tool");
    yyjson_mut_obj_add_strcpy(doc, m, "tool_call_id", call_id);
    yyjson_mut_obj_add_strcpy(doc, m, "content", content);
    yyjson_mut_arr_append(messages, m);
}

void llm_msg_add_call(yyjson_mut_doc *doc, yyjson_mut_val *msg, const char *id, const char *name,
                      const char *arguments)
{
    yyjson_mut_val *calls = yyjson_mut_obj_get(msg, "tool_calls");
    if (!calls) {
        calls = yyjson_mut_arr(doc);
        yyjson_mut_obj_add_val(doc, msg, "tool_calls", calls);
    }
    yyjson_mut_val *c = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_strcpy(doc, c, "id", id);
    yyjson_mut_obj_add_str(doc, c, "type", "function");
    yyjson_mut_val *f = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_strcpy(doc, f, "name", name);
    yyjson_mut_obj_add_strcpy(doc, f, "arguments", arguments);
    yyjson_mut_obj_add_val(doc, c, "function", f);
    yyjson_mut_arr_append(calls, c);
}

/* ---- reading ------------------------------------------------------------------------------ */

struct llm_reader *llm_reader_new(struct arena *a,
                                  void (*on_text)(void *ctx, const char *p, size_t n), void *ctx)
{
    struct llm_reader *r = arena_calloc(a, 1, sizeof(*r));
    if (!r)
        return NULL;
    r->a = a;
    r->on_text = on_text;
    r->ctx = ctx;
    dyn_init_arena(&r->text, a, LLM_TEXT_MAX + 1);
    return r;
}

static int fail(struct llm_reader *r, int err)
{
    if (r->err == ERR_OK)
        r->err = err;
    return r->err;
}

/* Appends a text fragment and hands it on. */
static int add_text(struct llm_reader *r, yyjson_val *v)
{
    const char *s = yyjson_get_str(v);
    size_t n = yyjson_get_len(v);
    if (!s || n == 0)
        return ERR_OK;
    if (dyn_addn(&r->text, s, n) != ERR_OK)
        return fail(r, dyn_err(&r->text));
    if (r->on_text)
        r->on_text(r->ctx, s, n);
    return ERR_OK;
}

/* The slot of a fragment: by its index, else (no index given) a new one when its id is new,
 * else the last one. NULL past LLM_MAX_CALLS. */
static struct slot *slot_for(struct llm_reader *r, yyjson_val *frag)
{
    yyjson_val *iv = yyjson_obj_get(frag, "index");
    const char *id = json_cstr(yyjson_obj_get(frag, "id"));
    long index = yyjson_is_int(iv) && yyjson_get_sint(iv) >= 0 ? (long)yyjson_get_sint(iv) : -1;
    if (index >= 0) {
        for (size_t i = 0; i < r->nslots; i++)
            if (r->slots[i].index == index)
                return &r->slots[i];
    } else if (r->nslots > 0) {
        struct slot *last = &r->slots[r->nslots - 1];
        if (!id || !*id || !last->id || strcmp(last->id, id) == 0)
            return last;
    }
    if (r->nslots == LLM_MAX_CALLS)
        return NULL;
    struct slot *s = &r->slots[r->nslots++];
    s->index = index;
    dyn_init_arena(&s->name, r->a, LLM_NAME_MAX + 1);
    dyn_init_arena(&s->args, r->a, LLM_ARGS_MAX + 1);
    return s;
}

/* Arguments given as a JSON value rather than a string (some servers do): its text. */
static int add_args(struct llm_reader *r, struct slot *s, yyjson_val *v)
{
    if (!v || yyjson_is_null(v))
        return ERR_OK;
    if (yyjson_is_str(v)) {
        if (dyn_addn(&s->args, yyjson_get_str(v), yyjson_get_len(v)) != ERR_OK)
            return fail(r, dyn_err(&s->args));
        return ERR_OK;
    }
    yyjson_alc alc;
    arena_yyjson_alc(r->a, &alc);
    size_t n = 0;
    char *json = yyjson_val_write_opts(v, 0, &alc, &n, NULL);
    if (!json)
        return fail(r, ERR_NOMEM);
    if (dyn_addn(&s->args, json, n) != ERR_OK)
        return fail(r, dyn_err(&s->args));
    return ERR_OK;
}

/* One tool call or fragment of one: {index?, id?, function: {name?, arguments?}}. */
static int add_call(struct llm_reader *r, yyjson_val *frag)
{
    if (!yyjson_is_obj(frag))
        return fail(r, ERR_INVALID);
    struct slot *s = slot_for(r, frag);
    if (!s)
        return fail(r, ERR_TOOBIG);
    const char *id = json_cstr(yyjson_obj_get(frag, "id"));
    if (id && *id && !s->id) {
        if (strlen(id) > LLM_ID_MAX)
            return fail(r, ERR_TOOBIG);
        s->id = arena_strdup(r->a, id);
        if (!s->id)
            return fail(r, ERR_NOMEM);
    }
    yyjson_val *f = yyjson_obj_get(frag, "function");
    if (yyjson_is_obj(f)) {
        const char *name = json_cstr(yyjson_obj_get(f, "name"));
        if (name && dyn_add(&s->name, name) != ERR_OK)
            return fail(r, dyn_err(&s->name));
        return add_args(r, s, yyjson_obj_get(f, "arguments"));
    }
    return ERR_OK;
}

static void set_finish(struct llm_reader *r, yyjson_val *fr)
{
    const char *s = json_cstr(fr);
    if (s && *s) {
        snprintf(r->ans.finish_reason, sizeof(r->ans.finish_reason), "%s", s);
        r->ans.complete = true;
    }
}

/* The "error" member of a body, as text (for logs). */
static const char *error_text(struct llm_reader *r, yyjson_val *e)
{
    const char *msg = json_cstr(yyjson_is_obj(e) ? yyjson_obj_get(e, "message") : e);
    return arena_strdup(r->a, msg ? msg : "error");
}

/* Parses one chunk or body. Invalid UTF-8 is let through: a server may split a character
 * between two chunks, and the joined text is checked where it matters (arguments are parsed
 * as JSON again, strictly). */
static yyjson_doc *parse(struct llm_reader *r, const char *text, size_t len)
{
    yyjson_alc alc;
    arena_yyjson_alc(r->a, &alc);
    return yyjson_read_opts((char *)text, len, YYJSON_READ_ALLOW_INVALID_UNICODE, &alc, NULL);
}

/* Keeps the token counts of a "usage" object (a completion's, or a stream's last chunk). */
static void read_usage(struct llm_reader *r, yyjson_val *root)
{
    yyjson_val *u = yyjson_obj_get(root, "usage");
    if (!yyjson_is_obj(u))
        return;
    yyjson_val *p = yyjson_obj_get(u, "prompt_tokens");
    yyjson_val *c = yyjson_obj_get(u, "completion_tokens");
    if (yyjson_is_int(p) && yyjson_get_sint(p) >= 0)
        r->ans.prompt_tokens = yyjson_get_sint(p);
    if (yyjson_is_int(c) && yyjson_get_sint(c) >= 0)
        r->ans.completion_tokens = yyjson_get_sint(c);
}

int llm_reader_chunk(struct llm_reader *r, const char *data, size_t len)
{
    if (r->err != ERR_OK)
        return r->err;
    while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    while (len > 0 && (*data == ' ' || *data == '\n'))
        data++, len--;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        r->ans.complete = true;
        return ERR_OK;
    }
    yyjson_doc *d = parse(r, data, len);
    yyjson_val *root = d ? yyjson_doc_get_root(d) : NULL;
    if (!yyjson_is_obj(root))
        return fail(r, ERR_INVALID);
    yyjson_val *err = yyjson_obj_get(root, "error");
    if (err && !yyjson_is_null(err)) {
        r->ans.error = error_text(r, err);
        return fail(r, ERR_INVALID);
    }
    read_usage(r, root);
    yyjson_val *choices = yyjson_obj_get(root, "choices");
    if (!yyjson_is_arr(choices))
        return fail(r, ERR_INVALID);
    yyjson_val *c = yyjson_arr_get_first(choices); /* one choice is asked for: n = 1 */
    if (!c)
        return ERR_OK; /* a usage-only chunk */
    yyjson_val *delta = yyjson_obj_get(c, "delta");
    if (yyjson_is_obj(delta)) {
        if (add_text(r, yyjson_obj_get(delta, "content")) != ERR_OK)
            return r->err;
        yyjson_val *calls = yyjson_obj_get(delta, "tool_calls");
        size_t i, max;
        yyjson_val *frag;
        if (yyjson_is_arr(calls)) {
            yyjson_arr_foreach(calls, i, max, frag)
            {
                if (add_call(r, frag) != ERR_OK)
                    return r->err;
            }
        }
    }
    set_finish(r, yyjson_obj_get(c, "finish_reason"));
    return ERR_OK;
}

int llm_reader_completion(struct llm_reader *r, const char *body, size_t len)
{
    if (r->err != ERR_OK)
        return r->err;
    yyjson_doc *d = parse(r, body, len);
    yyjson_val *root = d ? yyjson_doc_get_root(d) : NULL;
    if (!yyjson_is_obj(root))
        return fail(r, ERR_INVALID);
    yyjson_val *err = yyjson_obj_get(root, "error");
    if (err && !yyjson_is_null(err)) {
        r->ans.error = error_text(r, err);
        return fail(r, ERR_INVALID);
    }
    read_usage(r, root);
    yyjson_val *c = yyjson_arr_get_first(yyjson_obj_get(root, "choices"));
    yyjson_val *msg = yyjson_obj_get(c, "message");
    if (!yyjson_is_obj(msg))
        return fail(r, ERR_INVALID);
    if (add_text(r, yyjson_obj_get(msg, "content")) != ERR_OK)
        return r->err;
    yyjson_val *calls = yyjson_obj_get(msg, "tool_calls");
    size_t i, max;
    yyjson_val *call;
    if (yyjson_is_arr(calls)) {
        yyjson_arr_foreach(calls, i, max, call)
        {
            /* Whole calls: each its own slot, whatever index they carry. */
            if (r->nslots == LLM_MAX_CALLS)
                return fail(r, ERR_TOOBIG);
            if (!yyjson_is_obj(call))
                return fail(r, ERR_INVALID);
            struct slot *s = &r->slots[r->nslots++];
            s->index = (long)i;
            dyn_init_arena(&s->name, r->a, LLM_NAME_MAX + 1);
            dyn_init_arena(&s->args, r->a, LLM_ARGS_MAX + 1);
            const char *id = json_cstr(yyjson_obj_get(call, "id"));
            if (id && *id && strlen(id) <= LLM_ID_MAX)
                s->id = arena_strdup(r->a, id);
            yyjson_val *f = yyjson_obj_get(call, "function");
            const char *name = json_cstr(yyjson_obj_get(f, "name"));
            if (name && dyn_add(&s->name, name) != ERR_OK)
                return fail(r, dyn_err(&s->name));
            if (add_args(r, s, yyjson_obj_get(f, "arguments")) != ERR_OK)
                return r->err;
        }
    }
    set_finish(r, yyjson_obj_get(c, "finish_reason"));
    r->ans.complete = true;
    return ERR_OK;
}

const struct llm_answer *llm_reader_answer(struct llm_reader *r)
{
    struct llm_answer *a = &r->ans;
    a->text = dyn_str(&r->text);
    a->text_len = dyn_len(&r->text);
    a->ncalls = 0;
    for (size_t i = 0; i < r->nslots; i++) {
        struct slot *s = &r->slots[i];
        struct llm_call *c = &a->calls[a->ncalls++];
        c->id = s->id ? s->id : arena_printf(r->a, "call_%zu", i + 1);
        if (!c->id)
            c->id = "call";
        c->name = dyn_str(&s->name);
        c->arguments = dyn_str(&s->args);
        c->args_len = dyn_len(&s->args);
    }
    return a;
}

const char *llm_error_message(struct arena *a, const char *body, size_t len, size_t max)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *d = body ? yyjson_read_opts((char *)body, len, 0, &alc, NULL) : NULL;
    yyjson_val *e = yyjson_obj_get(d ? yyjson_doc_get_root(d) : NULL, "error");
    const char *msg = json_cstr(yyjson_is_obj(e) ? yyjson_obj_get(e, "message") : e);
    if (!msg)
        return NULL;
    struct dynbuf out;
    dyn_init_arena(&out, a, max + 1);
    /* Mask long runs of key-like characters: a provider may echo part of a key back. */
    for (const char *p = msg; *p && dyn_err(&out) == ERR_OK;) {
        size_t run = 0;
        while (p[run] && ((p[run] >= 'a' && p[run] <= 'z') || (p[run] >= 'A' && p[run] <= 'Z') ||
                          (p[run] >= '0' && p[run] <= '9') || p[run] == '-' || p[run] == '_'))
            run++;
        if (run >= 20) {
            dyn_add(&out, "***");
            p += run;
        } else if (run > 0) {
            dyn_addn(&out, p, run);
            p += run;
        } else {
            dyn_addc(&out, *p == '\n' || *p == '\r' ? ' ' : *p);
            p++;
        }
    }
    const char *s = dyn_str(&out);
    return arena_strdup(a, s);
}
