/*
 * Personal access tokens over HTTP (see tokens.h). Like the task routes, every handler
 * authenticates first and acts only on the token's user; the path's {user_id} is compared
 * with it ("me" is an alias). A personal access token may list and revoke tokens but not
 * create them: a leaked token must not be able to mint itself a successor.
 */
#include "handlers/tokens.h"

#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/tokens.h"
#include "handlers/auth.h"

/* Reads {token_id}; answers 422 and returns false unless it is a canonical positive id. */
static bool token_id(struct request *req, int64_t *id)
{
    if (req->n_params >= 2 && parse_id(req->params[1], id) == ERR_OK)
        return true;
    struct verrors errs = {0};
    verr_add(&errs, "path", "token_id", "Input should be a valid integer", "int_parsing");
    resp_invalid(req, &errs);
    return false;
}

void h_token_create(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    if (req->auth_pat) {
        resp_err(req, ERR_FORBIDDEN,
                 "A personal access token cannot create tokens: sign in to create one");
        return;
    }
    yyjson_doc *body;
    if (req_json(req, &body) != ERR_OK)
        return;
    struct token_input in;
    struct verrors errs = {0};
    if (tokens_input_parse(yyjson_doc_get_root(body), req->arena, &in, &errs) != ERR_OK) {
        resp_invalid(req, &errs);
        return;
    }
    struct token t;
    char secret[TOKEN_TEXT_MAX];
    int rc = tokens_create(req->db, req->arena, req->user_id, &in, &t, secret);
    if (rc != ERR_OK) {
        resp_err(req, rc,
                 rc == ERR_CONFLICT ? "Too many tokens: a user has at most 50; revoke one first"
                                    : NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = token_to_json(doc, &t);
    yyjson_mut_doc_set_root(doc, o);
    /* The one time the secret is shown: copied into the response, wiped from the stack. */
    yyjson_mut_obj_add_strcpy(doc, o, "token", secret);
    sodium_memzero(secret, sizeof(secret));
    resp_header(req, "Location",
                arena_printf(req->arena, "/api/%s/tokens/%s", req->params[0], t.id));
    resp_header(req, "Cache-Control", "no-store");
    resp_json(req, 201, doc);
}

void h_token_list(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    struct token *tokens;
    size_t n;
    int rc = tokens_list(req->db, req->arena, req->user_id, &tokens, &n);
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < n; i++)
        yyjson_mut_arr_append(arr, token_to_json(doc, &tokens[i]));
    resp_header(req, "Cache-Control", "no-store");
    resp_json(req, 200, doc);
}

void h_token_delete(struct request *req)
{
    int64_t id;
    if (!auth_require_path_user(req) || !token_id(req, &id))
        return;
    int rc = tokens_revoke(req->db, req->arena, req->user_id, id);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Token not found" : NULL);
        return;
    }
    resp_empty(req, 204);
}
