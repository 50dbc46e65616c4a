/*
 * The calendar feed over HTTP (see calendar.h). Making and revoking the token authenticates
 * like every route; the feed itself is found by its token alone, and only when the path's
 * {user_id} is the token's user, so a token works for one URL only.
 */
#include "handlers/calendar.h"

#include <string.h>

#include <sodium.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "domain/calendar.h"
#include "handlers/auth.h"

void h_calendar_token_create(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    char token[CAL_TOKEN_TEXT_MAX];
    int rc = calendar_token_create(req->db, req->arena, req->user_id, token);
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_strcpy(doc, o, "token", token);
    yyjson_mut_obj_add_strcpy(
        doc, o, "path",
        arena_printf(req->arena, "/api/%s/calendar.ics?token=%s", req->user_id, token));
    sodium_memzero(token, sizeof(token));
    resp_header(req, "Cache-Control", "no-store");
    resp_json(req, 201, doc);
}

void h_calendar_token_delete(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    int rc = calendar_token_revoke(req->db, req->arena, req->user_id);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "No calendar feed to revoke" : NULL);
        return;
    }
    resp_empty(req, 204);
}

void h_calendar_feed(struct request *req)
{
    const char *token = req_query(req, "token");
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    const char *uid = NULL;
    int rc = calendar_token_user(db, req->arena, token, &uid);
    /* An unknown, revoked or another user's token: the same 404, revealing nothing. */
    if (rc == ERR_NOTFOUND || (rc == ERR_OK && strcmp(uid, req->params[0]) != 0)) {
        resp_err(req, ERR_NOTFOUND, "Calendar feed not found");
        return;
    }
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    struct dynbuf out;
    dyn_init_arena(&out, req->arena, CAL_TEXT_MAX);
    rc = calendar_render(db, req->arena, uid, &out);
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    resp_header(req, "Cache-Control", "private, max-age=300");
    resp_header(req, "Content-Disposition", "inline; filename=\"todo.ics\"");
    resp_raw(req, 200, "text/calendar; charset=utf-8", dyn_str(&out), dyn_len(&out));
}
