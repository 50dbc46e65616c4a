/*
 * Accounts over HTTP (sign-up, login, me) and the guard every protected route calls.
 */
#ifndef TODO_HANDLERS_AUTH_H
#define TODO_HANDLERS_AUTH_H

#include <stdbool.h>

#include "http/request.h"

/* POST /api/auth/signup, POST /api/auth/login, GET /api/auth/me. */
void h_signup(struct request *req);
void h_login(struct request *req);
void h_me(struct request *req);
/* PATCH /api/auth/me {name?, timezone?, email_reminders?}: the user's display name, time
 * zone and whether reminders are also emailed. */
void h_me_update(struct request *req);

/* POST /api/auth/forgot-password {email}: always 202 (the work is done on the work queue,
 * so neither the answer nor its timing says whether the account exists). POST
 * /api/auth/reset-password {token, password}: 200, or 400 for an unknown, used or expired
 * token. Both rate limited like login. */
void h_forgot_password(struct request *req);
void h_reset_password(struct request *req);

/* Authenticates the Bearer token and sets req->user_id (making sure the user has a row).
 * On failure answers 401 (with WWW-Authenticate) or 503 and returns false. */
bool auth_require(struct request *req);

/* Authenticates, then checks that the path's {user_id} (req->params[0]) is "me" or the
 * token's user: 403 otherwise. Returns false when it answered. */
bool auth_require_path_user(struct request *req);

#endif
