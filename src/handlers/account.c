/*
 * The account as a whole (see account.h). Each handler authenticates first and acts on the
 * token's user only; the path's {user_id} is compared with it ("me" is an alias).
 */
#include "handlers/account.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "core/err.h"
#include "core/json.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/portable.h"
#include "domain/users.h"
#include "handlers/auth.h"

/* Attempts per user and minute at the password of a deletion. */
static bool within_limit(struct request *req)
{
    char key[RATELIMIT_KEY_MAX];
    snprintf(key, sizeof(key), "account-delete:%s", req->user_id);
    int wait = ratelimit_hit(key, req->app->cfg->rate_limit_per_minute, now_unix());
    if (wait == 0)
        return true;
    resp_header(req, "Retry-After", arena_printf(req->arena, "%d", wait));
    resp_err(req, ERR_LIMIT, NULL);
    return false;
}

void h_account_delete(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    if (req->auth_pat) {
        resp_err(req, ERR_FORBIDDEN,
                 "A personal access token cannot delete the account: sign in to delete it");
        return;
    }
    yyjson_doc *body;
    if (req_json(req, &body) != ERR_OK)
        return;
    yyjson_val *root = yyjson_doc_get_root(body);
    struct user u;
    int rc = users_by_id(req->db, req->arena, req->user_id, &u);
    if (rc != ERR_OK) {
        resp_err(req, rc == ERR_NOTFOUND ? ERR_AUTH : rc, NULL);
        return;
    }
    struct verrors errs = {0};
    const char *password = json_cstr(yyjson_obj_get(root, "password"));
    const char *confirm = json_cstr(yyjson_obj_get(root, "confirm"));
    if (!yyjson_is_obj(root))
        verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
    else if (u.hashed_password && !password)
        verr_add(&errs, "body", "password", "Field required: the account's password", "missing");
    else if (!u.hashed_password && !confirm)
        verr_add(&errs, "body", "confirm",
                 "Field required: this account has no password; give its user id to confirm",
                 "missing");
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    if (!within_limit(req))
        return;
    if (u.hashed_password) {
        rc = password_verify(u.hashed_password,
                             strlen(password) > PASSWORD_MAX_BYTES ? "" : password);
        if (rc == ERR_UNAVAILABLE) {
            resp_err(req, ERR_UNAVAILABLE, "Server busy, try again shortly");
            return;
        }
        if (rc != ERR_OK) {
            resp_err(req, ERR_FORBIDDEN, "The password is not the account's");
            return;
        }
    } else if (strcmp(confirm, u.id) != 0) {
        resp_err(req, ERR_FORBIDDEN, "confirm must be the account's user id");
        return;
    }
    rc = users_delete(req->db, req->arena, req->user_id, req->app->cfg->uploads_dir);
    if (rc != ERR_OK) {
        resp_err(req, rc == ERR_NOTFOUND ? ERR_AUTH : rc, NULL);
        return;
    }
    resp_empty(req, 204);
}

void h_export(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *root;
    int rc = doc ? portable_export(req->db, req->arena, req->user_id, doc, &root) : ERR_NOMEM;
    if (rc != ERR_OK) {
        resp_err(req, rc == ERR_NOTFOUND ? ERR_AUTH : rc, NULL);
        return;
    }
    yyjson_mut_doc_set_root(doc, root);
    char day[TIME_TEXT_MAX];
    time_format(now_unix(), day);
    day[10] = '\0';
    resp_header(req, "Content-Disposition",
                arena_printf(req->arena, "attachment; filename=\"todo-export-%s.json\"", day));
    resp_header(req, "Cache-Control", "no-store");
    resp_json(req, 200, doc);
}

/* The media type of the body without parameters, compared case-insensitively. */
static bool type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

void h_import(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    const char *ct = req_header(req, "Content-Type");
    struct verrors errs = {0};
    struct import_counts n;
    int rc;
    if (type_is(ct, "application/json")) {
        yyjson_doc *body;
        if (req_json(req, &body) != ERR_OK)
            return;
        rc = portable_import_json(req->db, req->arena, req->user_id, yyjson_doc_get_root(body), &n,
                                  &errs);
    } else if (type_is(ct, "text/csv")) {
        rc = portable_import_todoist(req->db, req->arena, req->user_id, req->body ? req->body : "",
                                     req->body_len, &n, &errs);
    } else {
        resp_error(req, 415,
                   "Content-Type must be application/json (a todo export) or text/csv (a "
                   "Todoist export)");
        return;
    }
    if (rc == ERR_INVALID && errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_val *c = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_uint(doc, c, "tasks", n.tasks);
    yyjson_mut_obj_add_uint(doc, c, "conversations", n.conversations);
    yyjson_mut_obj_add_uint(doc, c, "messages", n.messages);
    yyjson_mut_obj_add_val(doc, o, "imported", c);
    resp_json(req, 201, doc);
}
