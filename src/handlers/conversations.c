/*
 * The assistant's conversations over HTTP (see domain/conversations.h). Like every user
 * route, each handler authenticates first and acts only on the token's user; another
 * user's conversation is answered exactly like one that does not exist (404).
 */
#include "handlers/conversations.h"

#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/conversations.h"
#include "handlers/auth.h"
#include "handlers/paging.h"

/* Reads {conversation_id}; answers 422 and returns false unless it is a canonical id. */
static bool conversation_id(struct request *req, int64_t *id)
{
    if (req->n_params >= 2 && parse_id(req->params[1], id) == ERR_OK)
        return true;
    struct verrors errs = {0};
    verr_add(&errs, "path", "conversation_id", "Input should be a valid integer", "int_parsing");
    resp_invalid(req, &errs);
    return false;
}

static void reply_not_found(struct request *req, int rc)
{
    resp_err(req, rc, rc == ERR_NOTFOUND ? "Conversation not found" : NULL);
}

void h_conv_list(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    struct verrors errs = {0};
    struct page pg;
    page_query(req, CONV_LIST_DEFAULT, CONV_LIST_MAX, &pg, &errs);
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    struct conversation *list;
    size_t n;
    int64_t total = 0;
    int rc =
        conv_list(req->db, req->arena, req->user_id, (int)pg.limit, pg.offset, &list, &n, &total);
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < n; i++)
        yyjson_mut_arr_append(arr, conv_to_json(doc, &list[i]));
    page_headers(req, &pg, total);
    resp_header(req, "Cache-Control", "no-store");
    resp_json(req, 200, doc);
}

void h_conv_get(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !conversation_id(req, &id))
        return;
    struct verrors errs = {0};
    int64_t limit = CONV_MESSAGES_MAX;
    query_int_arg(req, "limit", 1, CONV_MESSAGES_MAX, &limit, &errs);
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    struct conversation cv;
    struct conv_message *msgs = NULL;
    size_t n = 0;
    int rc = conv_get(req->db, req->arena, req->user_id, id, &cv);
    if (rc == ERR_OK)
        rc = conv_messages(req->db, req->arena, req->user_id, id, (size_t)limit, &msgs, &n);
    if (rc != ERR_OK) {
        reply_not_found(req, rc);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = conv_to_json(doc, &cv);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    for (size_t i = 0; i < n; i++)
        yyjson_mut_arr_append(arr, conv_message_to_json(doc, req->arena, &msgs[i]));
    yyjson_mut_obj_add_val(doc, o, "messages", arr);
    resp_header(req, "Cache-Control", "no-store");
    resp_json(req, 200, doc);
}

void h_conv_rename(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !conversation_id(req, &id))
        return;
    yyjson_doc *body;
    if (req_json(req, &body) != ERR_OK)
        return;
    yyjson_val *root = yyjson_doc_get_root(body);
    struct verrors errs = {0};
    const char *title = NULL;
    yyjson_val *v = yyjson_is_obj(root) ? yyjson_obj_get(root, "title") : NULL;
    if (!yyjson_is_obj(root)) {
        verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
    } else if (!v || yyjson_is_null(v)) {
        verr_add(&errs, "body", "title", "Field required", "missing");
    } else if (!yyjson_is_str(v)) {
        verr_add(&errs, "body", "title", "Input should be a valid string", "string_type");
    } else {
        enum text_problem why;
        int rc = text_clean(req->arena, yyjson_get_str(v), yyjson_get_len(v), &conv_title_rule,
                            &title, &why);
        if (rc == ERR_NOMEM) {
            resp_err(req, rc, NULL);
            return;
        }
        if (rc != ERR_OK)
            verr_add(&errs, "body", "title", text_problem_msg(req->arena, why, &conv_title_rule),
                     text_problem_type(why));
    }
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    struct conversation cv;
    int rc = conv_rename(req->db, req->arena, req->user_id, id, title, &cv);
    if (rc != ERR_OK) {
        reply_not_found(req, rc);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, conv_to_json(doc, &cv));
    resp_json(req, 200, doc);
}

void h_conv_delete(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !conversation_id(req, &id))
        return;
    int rc = conv_delete(req->db, req->arena, req->user_id, id);
    if (rc != ERR_OK) {
        reply_not_found(req, rc);
        return;
    }
    resp_empty(req, 204);
}
