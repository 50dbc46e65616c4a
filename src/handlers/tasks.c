/*
 * The hackathon's task routes under /api/{user_id}/… (see tasks.h for the rules). Every
 * handler authenticates first, then acts only on the token's user: the path's user_id is
 * checked against the token ("me" is an alias), never used to pick rows.
 */
#include "handlers/tasks.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "assistant/offline.h"
#include "core/err.h"
#include "core/dynbuf.h"
#include "core/metrics.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/task_rows.h"
#include "domain/tasks.h"
#include "handlers/auth.h"
#include "handlers/paging.h"
#include "http/respcache.h"

/* A listing's cache key: the user id and the filter (at most 20 tags of 50 characters). */
#define LIST_KEY_MAX 16384
/* The largest task list body (a page of TASK_LIST_MAX tasks is at most ~2 MiB). */
#define TASKS_BODY_MAX (8u * 1024 * 1024)
/* The quick-add text: a title, a description and the shorthands around them. */
#define PARSE_TEXT_MAX 2000

/* Answers a domain error: core/err.h's table, with the task's own words where it has them. */
static void reply_error(struct request *req, int rc)
{
    if (rc == ERR_RANGE) { /* the only computed value that can leave its range */
        struct verrors errs = {0};
        verr_add(&errs, "body", "remind_at",
                 "The next occurrence's reminder would fall after 9999-12-31T23:59:59Z",
                 "value_error");
        resp_invalid(req, &errs);
        return;
    }
    resp_err(req, rc,
             rc == ERR_NOTFOUND  ? "Task not found"
             : rc == ERR_INVALID ? "Invalid task data"
                                 : NULL);
}

/* Reads {task_id}; answers 422 and returns false unless it is a canonical positive integer
 * (one spelling per task: "+2", "02" and " 2" are refused, not read as 2). */
static bool task_id(struct request *req, int64_t *id)
{
    if (req->n_params >= 2 && parse_id(req->params[1], id) == ERR_OK)
        return true;
    struct verrors errs = {0};
    verr_add(&errs, "path", "task_id", "Input should be a valid integer", "int_parsing");
    resp_invalid(req, &errs);
    return false;
}

/* The n tasks as JSON written in one pass into one bounded builder in the arena (no yyjson
 * document): an array, or the one task alone when as_array is false. NULL when it does not fit. */
static const char *tasks_json(struct request *req, const struct task *tasks, size_t n,
                              bool as_array, size_t *len)
{
    struct dynbuf d;
    dyn_init_arena(&d, req->arena, TASKS_BODY_MAX);
    if (as_array)
        dyn_addc(&d, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            dyn_addc(&d, ',');
        task_write_json(&d, &tasks[i]);
    }
    if (as_array)
        dyn_addc(&d, ']');
    if (dyn_err(&d))
        return NULL;
    *len = dyn_len(&d);
    return dyn_str(&d);
}

static void reply_task(struct request *req, int status, const struct task *t)
{
    size_t len;
    const char *json = tasks_json(req, t, 1, false, &len);
    if (json)
        resp_json_text(req, status, json, len);
    else
        resp_err(req, ERR_NOMEM, NULL);
}

/* Parses the body for create or update; answers 400/422 on failure. */
static bool read_input(struct request *req, enum task_input_mode mode, struct task_input *in)
{
    yyjson_doc *doc;
    if (req_json(req, &doc) != ERR_OK)
        return false;
    struct verrors errs = {0};
    int rc = task_input_parse(yyjson_doc_get_root(doc), mode, "body", req->arena, in, &errs);
    if (rc == ERR_INVALID) {
        resp_invalid(req, &errs);
        return false;
    }
    if (rc != ERR_OK) {
        resp_err(req, ERR_NOMEM, NULL);
        return false;
    }
    return true;
}

void h_task_create(struct request *req)
{
    struct task_input in;
    if (!auth_require_path_user(req) || !read_input(req, TASK_CREATE, &in))
        return;
    struct task t;
    int rc = tasks_create(req->db, req->arena, req->user_id, &in, &t);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    resp_header(req, "Location",
                arena_printf(req->arena, "/api/%s/tasks/%lld", req->params[0], (long long)t.id));
    reply_task(req, 201, &t);
}

/* Reads {text, utc_offset_minutes?} of a parse request; records problems in errs. */
static void parse_request(yyjson_val *root, struct offline_input *in, struct verrors *errs)
{
    if (!yyjson_is_obj(root)) {
        verr_add(errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        return;
    }
    yyjson_val *text = yyjson_obj_get(root, "text");
    yyjson_val *offset = yyjson_obj_get(root, "utc_offset_minutes");
    if (!text) {
        verr_add(errs, "body", "text", "Field required", "missing");
    } else if (!yyjson_is_str(text)) {
        verr_add(errs, "body", "text", "Input should be a valid string", "string_type");
    } else {
        in->message = yyjson_get_str(text);
        in->len = yyjson_get_len(text);
        size_t chars = 0;
        for (size_t i = 0; i < in->len; i++)
            chars += ((unsigned char)in->message[i] & 0xC0) != 0x80;
        if (chars == 0)
            verr_add(errs, "body", "text", "String should have at least 1 character",
                     "string_too_short");
        else if (chars > PARSE_TEXT_MAX || in->len > OFFLINE_MESSAGE_MAX)
            verr_add(errs, "body", "text", "String should have at most 2000 characters",
                     "string_too_long");
    }
    if (offset && !yyjson_is_null(offset)) {
        if (yyjson_is_int(offset) && yyjson_get_sint(offset) >= -OFFLINE_OFFSET_MAX &&
            yyjson_get_sint(offset) <= OFFLINE_OFFSET_MAX)
            in->utc_offset_min = (int)yyjson_get_sint(offset);
        else
            verr_add(errs, "body", "utc_offset_minutes",
                     "Input should be an integer from -840 to 840", "int_type");
    }
}

/* POST /api/{user_id}/tasks/parse: the quick add's shorthand ("buy milk tomorrow 5pm #home
 * !high") read by the offline assistant's task parser into a TaskCreate-shaped object with
 * only what the text says. Nothing is created. 422 when no title is left or the result
 * would break a task rule (a title over 200 characters …). */
void h_task_parse(struct request *req)
{
    yyjson_doc *body;
    if (!auth_require_path_user(req) || req_json(req, &body) != ERR_OK)
        return;
    struct offline_input in = {NULL, 0, now_unix(), 0};
    struct verrors errs = {0};
    parse_request(yyjson_doc_get_root(body), &in, &errs);
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    struct offline_fields f;
    int rc = offline_parse_task(req->arena, &in, &f);
    if (rc == ERR_NOMEM) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    if (rc != ERR_OK) {
        verr_add(&errs, "body", "text",
                 "No task title found: the text has only dates, tags or other shorthand",
                 "value_error");
        resp_invalid(req, &errs);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *args = offline_task_args(doc, &f);
    /* The draft must pass the rules a create will apply. */
    yyjson_alc alc;
    arena_yyjson_alc(req->arena, &alc);
    yyjson_doc *draft = args ? yyjson_mut_val_imut_copy(args, &alc) : NULL;
    struct task_input check;
    struct verrors rules = {0};
    if (!draft) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    if (task_input_parse(yyjson_doc_get_root(draft), TASK_CREATE, "body", req->arena, &check,
                         &rules) != ERR_OK) {
        for (size_t i = 0; i < rules.n; i++)
            verr_add(&errs, "body", "text", rules.e[i].msg, rules.e[i].type);
        resp_invalid(req, &errs);
        return;
    }
    yyjson_mut_doc_set_root(doc, args);
    resp_json(req, 200, doc);
}

void h_task_get(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !task_id(req, &id))
        return;
    struct task t;
    int rc = tasks_get(req->db, req->arena, req->user_id, id, &t);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    reply_task(req, 200, &t);
}

/* PUT and PATCH: a partial update, as the hackathon's clients send it (their TaskUpdate has
 * every field optional): omitted fields keep their values, null clears a nullable one. */
void h_task_update(struct request *req)
{
    int64_t id;
    struct task_input in;
    if (!auth_require_path_user(req) || !task_id(req, &id) || !read_input(req, TASK_PATCH, &in))
        return;
    struct task t;
    int rc = tasks_update(req->db, req->arena, req->user_id, id, &in, &t);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    reply_task(req, 200, &t);
}

void h_task_delete(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !task_id(req, &id))
        return;
    int rc = tasks_delete(req->db, req->arena, req->user_id, id, req->app->cfg->uploads_dir);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    resp_empty(req, 204);
}

void h_task_restore(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !task_id(req, &id))
        return;
    struct task t;
    int rc = tasks_restore(req->db, req->arena, req->user_id, id, &t);
    if (rc == ERR_NOTFOUND) {
        const char *why =
            arena_printf(req->arena, "No task to restore: none was deleted in the last %d seconds",
                         TASK_RESTORE_SECONDS);
        resp_err(req, ERR_NOTFOUND, why ? why : "Task not found");
        return;
    }
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    reply_task(req, 200, &t);
}

void h_task_complete(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !task_id(req, &id))
        return;
    int set = -1; /* toggle unless the body says */
    if (req->body_len > 0) {
        yyjson_doc *doc;
        if (req_json(req, &doc) != ERR_OK)
            return;
        yyjson_val *root = yyjson_doc_get_root(doc);
        yyjson_val *v = yyjson_is_obj(root) ? yyjson_obj_get(root, "completed") : NULL;
        struct verrors errs = {0};
        if (!yyjson_is_obj(root))
            verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        else if (v && !yyjson_is_bool(v))
            verr_add(&errs, "body", "completed", "Input should be a valid boolean", "bool_type");
        if (errs.n) {
            resp_invalid(req, &errs);
            return;
        }
        if (v)
            set = yyjson_get_bool(v) ? 1 : 0;
    }
    struct task t, next;
    bool has_next = false;
    int rc = tasks_complete(req->db, req->arena, req->user_id, id, set, &t, &next, &has_next);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = task_to_json(doc, &t);
    yyjson_mut_doc_set_root(doc, o);
    if (has_next)
        yyjson_mut_obj_add_val(doc, o, "next_task", task_to_json(doc, &next));
    else
        yyjson_mut_obj_add_null(doc, o, "next_task");
    resp_json(req, 200, doc);
}

/* The query string as the domain's key/value getter: one text per occurrence of key. */
struct query_values {
    struct field_value *out;
    size_t max, n;
};

static void query_value(void *ctx, const char *value)
{
    struct query_values *q = ctx;
    if (q->n < q->max)
        q->out[q->n++] = (struct field_value){value, NULL};
}

static size_t query_get(void *ctx, const char *key, struct field_value *out, size_t max)
{
    struct request *req = ctx;
    if (max == 1) { /* a single-valued key: its first occurrence */
        const char *v = req_query(req, key);
        if (v)
            out[0] = (struct field_value){v, NULL};
        return v != NULL;
    }
    struct query_values q = {out, max, 0};
    return req_query_all(req, key, max, query_value, &q);
}

/* Reads the listing's query through the domain's filter parser; answers 422 (unknown values,
 * FastAPI's behaviour) or 500 and returns false on failure. */
static bool read_filter(struct request *req, struct task_filter *f)
{
    struct verrors errs = {0};
    int rc = task_filter_parse(query_get, req, "query", req->arena, f, &errs);
    if (rc == ERR_INVALID)
        resp_invalid(req, &errs);
    else if (rc != ERR_OK)
        resp_err(req, rc, NULL);
    return rc == ERR_OK;
}

/* The listing's page envelope (handlers/paging.h) for the filter's limit and offset. */
static void paging_headers(struct request *req, const struct task_filter *f, int64_t total)
{
    page_headers(req, &(struct page){.limit = f->limit, .offset = f->offset}, total);
}

/* The cache key of a listing: the user and every filter field (from the domain's table), or
 * NULL when the listing depends on the clock or the arena is full. */
static const char *list_key(struct request *req, const struct task_filter *f)
{
    struct dynbuf key;
    dyn_init_arena(&key, req->arena, LIST_KEY_MAX);
    dyn_add(&key, req->user_id);
    dyn_addc(&key, '\n');
    if (!task_filter_key(f, &key) || dyn_err(&key))
        return NULL;
    return dyn_str(&key);
}

/* A list ETag: the version and the key's hash as fixed-width hex, quoted (no printf: this
 * runs on every cached list request). */
#define LIST_ETAG_LEN (1 + 16 + 1 + 16 + 1)

static const char *list_etag(struct arena *a, const char *key, int64_t version)
{
    static const char hex[] = "0123456789abcdef";
    char *e = arena_alloc(a, LIST_ETAG_LEN + 1);
    if (!e)
        return NULL;
    uint64_t parts[2] = {(uint64_t)version, hash_str(key)};
    char *p = e;
    *p++ = '"';
    for (int i = 0; i < 2; i++) {
        for (int shift = 60; shift >= 0; shift -= 4)
            *p++ = hex[(parts[i] >> shift) & 0xf];
        *p++ = i == 0 ? '-' : '"';
    }
    *p = '\0';
    return e;
}

/* Labels a cacheable listing with an ETag made of the user's task version and the hash of
 * its key (which holds the user id and every filter), so a client polling the same URL
 * revalidates for the price of one version read. Answers 304 and returns true when the
 * client's copy is current. */
static bool list_validators(struct request *req, const char *key, int64_t version)
{
    const char *etag = list_etag(req->arena, key, version);
    if (!etag)
        return false;
    resp_header(req, "ETag", etag);
    resp_header(req, "Cache-Control", "private, no-cache");
    if (!req_etag_matches(req, etag))
        return false;
    resp_empty(req, 304);
    return true;
}

/* GET /api/{user_id}/tasks: a cached page (http/respcache.h) when the listing has a key and
 * the user's version is unchanged, else the page from the user's rows held in the process
 * (domain/task_rows.h: no statement while the version is unchanged, one after a change), or
 * from SQL for users over that cache's bound. */
void h_task_list(struct request *req)
{
    struct task_filter f;
    if (!auth_require_path_user(req) || !read_filter(req, &f))
        return;
    /* Read the version before the rows: a cached body or row set is then never older than
     * its label. A listing that depends on the clock ("overdue") has no key: its page is
     * never cached, but the rows it is made from are. */
    int64_t version = -1;
    const char *key = list_key(req, &f);
    if (tasks_version(req->db, req->arena, req->user_id, &version) != ERR_OK) {
        version = -1;
        key = NULL;
    }
    if (key && list_validators(req, key, version))
        return;
    const char *body;
    size_t len;
    int64_t total;
    if (key && respcache_get(key, version, req->arena, &body, &len, &total)) {
        METRIC_INC(METRIC_LIST_CACHE, "hit");
        paging_headers(req, &f, total);
        resp_json_text(req, 200, body, len);
        return;
    }
    if (key)
        METRIC_INC(METRIC_LIST_CACHE, "miss");
    struct dynbuf d;
    dyn_init_arena(&d, req->arena, TASKS_BODY_MAX);
    int rc = tasks_list_json(req->db, req->arena, req->user_id, &f, version, &d, &total, NULL);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    if (key)
        respcache_put(key, version, dyn_str(&d), dyn_len(&d), total);
    paging_headers(req, &f, total);
    resp_json_text(req, 200, dyn_str(&d), dyn_len(&d));
}

void h_task_tags(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    struct db_rows rows;
    int rc = tasks_tags(req->db, req->arena, req->user_id, &rows);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < rows.nrows; i++) {
        yyjson_mut_val *o = yyjson_mut_arr_add_obj(doc, arr);
        yyjson_mut_obj_add_str(doc, o, "name", db_cell(&rows, i, 0));
        int64_t count = 0;
        parse_int64(db_cell(&rows, i, 1), 0, INT64_MAX, &count);
        yyjson_mut_obj_add_int(doc, o, "count", count);
    }
    resp_json(req, 200, doc);
}

void h_task_stats(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    struct task_stats s;
    int rc = tasks_stats(req->db, req->arena, req->user_id, &s);
    if (rc != ERR_OK) {
        reply_error(req, rc);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_int(doc, o, "total", s.total);
    yyjson_mut_obj_add_int(doc, o, "completed", s.completed);
    yyjson_mut_obj_add_int(doc, o, "pending", s.pending);
    yyjson_mut_obj_add_int(doc, o, "overdue", s.overdue);
    yyjson_mut_obj_add_int(doc, o, "due_today", s.due_today);
    resp_json(req, 200, doc);
}
