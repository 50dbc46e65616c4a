/*
 * Account handlers (see auth.h). Login failures get one generic message whatever went
 * wrong, cost the same time for unknown accounts (a dummy Argon2id verification), and
 * are rate-limited per client address and per email.
 */
#include "handlers/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "app.h"
#include "auth/bearer.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/text.h"
#include "core/tz.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/resets.h"
#include "domain/users.h"
#include "io/workq.h"
#include "notify/mail.h"
#include "store/store.h"

#define LOGIN_FAILED "Invalid email or password"

/* Counts a hit against key; answers 429 with Retry-After and returns false when over. */
static bool within_limit(struct request *req, const char *kind, const char *who)
{
    char key[RATELIMIT_KEY_MAX];
    snprintf(key, sizeof(key), "%s:%s", kind, who);
    int wait = ratelimit_hit(key, req->app->cfg->rate_limit_per_minute, now_unix());
    if (wait == 0)
        return true;
    resp_header(req, "Retry-After", arena_printf(req->arena, "%d", wait));
    resp_err(req, ERR_LIMIT, NULL);
    return false;
}

/* Reads a string member as a C string (json_cstr: a NUL inside is refused); records
 * "missing"/"string_type" errors. */
static const char *member_str(yyjson_val *obj, const char *key, bool required, struct verrors *errs)
{
    yyjson_val *v = yyjson_obj_get(obj, key);
    if (!v || yyjson_is_null(v)) {
        if (required)
            verr_add(errs, "body", key, "Field required", "missing");
        return NULL;
    }
    const char *s = json_cstr(v);
    if (!s)
        verr_add(errs, "body", key, "Input should be a valid string", "string_type");
    return s;
}

/* Reads the optional display name under the users' name rule (the text rule every
 * user-supplied name follows). Returns the trimmed name, or NULL when absent, empty or
 * refused (then recorded in errs). */
static const char *member_name(struct request *req, yyjson_val *obj, struct verrors *errs)
{
    yyjson_val *v = yyjson_obj_get(obj, "name");
    if (!v || yyjson_is_null(v))
        return NULL;
    if (!yyjson_is_str(v)) {
        verr_add(errs, "body", "name", "Input should be a valid string", "string_type");
        return NULL;
    }
    const char *name = NULL;
    enum text_problem why;
    int rc =
        text_clean(req->arena, yyjson_get_str(v), yyjson_get_len(v), &users_name_rule, &name, &why);
    if (rc == ERR_INVALID)
        verr_add(errs, "body", "name", text_problem_msg(req->arena, why, &users_name_rule),
                 text_problem_type(why));
    return rc == ERR_OK && *name ? name : NULL;
}

/* Reads the optional time zone: an IANA name this server knows ("Europe/Paris"), or null
 * for the default (UTC). Returns true when the body has the member; *tz is then the name,
 * or NULL for null (or a refused value, recorded in errs). */
static bool member_timezone(yyjson_val *obj, const char **tz, struct verrors *errs)
{
    *tz = NULL;
    yyjson_val *v = yyjson_obj_get(obj, "timezone");
    if (!v)
        return false;
    if (yyjson_is_null(v))
        return true;
    const char *s = json_cstr(v);
    int rc = s ? tz_check(s) : ERR_INVALID;
    if (rc == ERR_OK)
        *tz = s;
    else
        verr_add(errs, "body", "timezone",
                 "Input should be an IANA time zone name such as \"Europe/Paris\" or \"UTC\"",
                 "value_error");
    return true;
}

/* Counts the request against the client address's limit, then reads the body as a JSON
 * object. Returns the object, or NULL after answering 429, 400 or 422. */
static yyjson_val *limited_body(struct request *req, const char *limit_kind)
{
    if (!within_limit(req, limit_kind, req_client_ip(req)))
        return NULL;
    yyjson_doc *doc;
    if (req_json(req, &doc) != ERR_OK)
        return NULL;
    yyjson_val *body = yyjson_doc_get_root(doc);
    if (!yyjson_is_obj(body)) {
        struct verrors errs = {0};
        verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        resp_invalid(req, &errs);
        return NULL;
    }
    return body;
}

/* Answers {user, token} for u with the given status. */
static void reply_session(struct request *req, int status, const struct user *u)
{
    const struct config *cfg = req->app->cfg;
    char *token = arena_alloc(req->arena, JWT_MAX_LEN);
    if (!token ||
        jwt_issue_gen(cfg->jwt_secret, u->id, u->email, u->session_gen, now_unix(),
                      (int64_t)cfg->jwt_expiration_days * 86400, token, JWT_MAX_LEN) != ERR_OK) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, root);
    yyjson_mut_obj_add_val(doc, root, "user", user_to_json(doc, u));
    yyjson_mut_obj_add_str(doc, root, "token", token);
    yyjson_mut_obj_add_str(doc, root, "token_type", "bearer");
    resp_json(req, status, doc);
}

void h_signup(struct request *req)
{
    struct verrors errs = {0};
    yyjson_val *body = limited_body(req, "signup-ip");
    if (!body)
        return;
    const char *email = member_str(body, "email", true, &errs);
    const char *password = member_str(body, "password", true, &errs);
    const char *name = member_name(req, body, &errs);
    struct user_patch tz = {0};
    tz.set_timezone = member_timezone(body, &tz.timezone, &errs) && tz.timezone;
    if (email && !users_email_valid(email))
        verr_add(&errs, "body", "email", "Value is not a valid email address", "value_error");
    if (password &&
        (strlen(password) < PASSWORD_MIN_CHARS || strlen(password) > PASSWORD_MAX_BYTES))
        verr_add(&errs, "body", "password", "Password must be 8 to 128 characters",
                 "string_too_short");
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    /* Per email as well as per address (README): many addresses cannot probe one email. */
    const char *email_key = text_fold(req->arena, email);
    if (!email_key || !within_limit(req, "signup-email", email_key))
        return;
    char hash[PASSWORD_HASH_MAX];
    if (password_hash(password, hash) != ERR_OK) {
        resp_err(req, ERR_UNAVAILABLE, "Server busy, try again shortly");
        return;
    }
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    struct user u;
    int rc = users_create(db, req->arena, email, hash, name, &u);
    if (rc == ERR_OK && tz.set_timezone)
        rc = users_update(db, req->arena, u.id, &tz, &u);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_CONFLICT ? "Email already registered" : NULL);
        return;
    }
    reply_session(req, 201, &u);
}

void h_login(struct request *req)
{
    struct verrors errs = {0};
    yyjson_val *body = limited_body(req, "login-ip");
    if (!body)
        return;
    const char *email = member_str(body, "email", true, &errs);
    const char *password = member_str(body, "password", true, &errs);
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    const char *email_key = text_fold(req->arena, email);
    if (!email_key || !within_limit(req, "login-email", email_key))
        return;
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    struct user u;
    int rc = users_by_email(db, req->arena, email, &u);
    if (rc != ERR_OK && rc != ERR_NOTFOUND) {
        resp_err(req, rc, NULL);
        return;
    }
    const char *hash = rc == ERR_OK ? u.hashed_password : NULL;
    if (strlen(password) > PASSWORD_MAX_BYTES)
        password = ""; /* never hash unbounded input; still spend the time */
    rc = password_verify(hash, password);
    if (rc == ERR_UNAVAILABLE) {
        resp_err(req, ERR_UNAVAILABLE, "Server busy, try again shortly");
        return;
    }
    if (rc != ERR_OK) {
        resp_header(req, "WWW-Authenticate", "Bearer");
        resp_err(req, ERR_AUTH, LOGIN_FAILED);
        return;
    }
    /* A hash made with other parameters (PASSWORD_HASH_MEMORY_MIB changed) is replaced
     * while the password is at hand; the login succeeds whether or not that works. */
    char fresh[PASSWORD_HASH_MAX];
    if (password_needs_rehash(hash) && password_hash(password, fresh) == ERR_OK &&
        users_rehash(db, u.id, hash, fresh) != ERR_OK)
        log_warn("login: could not store the password's new hash");
    reply_session(req, 200, &u);
}

/* ---- password reset ------------------------------------------------------------------------ */

#define RESET_ACCEPTED "If an account uses this address, a reset link is on its way"
#define RESET_REFUSED  "Invalid or expired reset token"

/* A forgot-password request, done on the work queue: the handler answers 202 before
 * anything depends on whether the account exists (no enumeration, same timing). */
struct forgot_job {
    struct work work;
    struct app *app;
    char email[USER_EMAIL_MAX + 1];
};

/* Pool thread: makes the token and queues the message, or does nothing for an unknown
 * address. */
static void forgot_work(struct work *w)
{
    struct forgot_job *j = (struct forgot_job *)w;
    struct arena *a = arena_new();
    struct store_conn *c = NULL;
    if (!a || store_acquire(j->app->store, &c) != ERR_OK) {
        log_warn("password reset: no database connection; request dropped");
        arena_free(a);
        return;
    }
    char token[RESET_TOKEN_MAX];
    const char *to = NULL;
    int rc = resets_create(c, a, j->email, now_unix(), token, &to);
    store_release(c);
    if (rc == ERR_OK) {
        char base[CONFIG_ORIGIN_MAX * 2];
        config_public_url(j->app->cfg, base, sizeof(base));
        const char *link = arena_printf(a, "%s/reset-password?token=%s", base, token);
        const char *body =
            "Someone asked to reset the password of your todo account.\n"
            "Open the link below within 30 minutes to choose a new one; it works once.\n"
            "If it was not you, ignore this message: your password stays as it is.";
        if (link)
            mail_send(j->app->mailer, "password_reset", to, "Reset your todo password", body, link);
    } else if (rc != ERR_NOTFOUND) {
        log_fields(LOG_WARNING, "password reset: could not make a token",
                   (struct log_field[]){LF_S("error", err_str(rc))}, 1);
    }
    sodium_memzero(token, sizeof(token));
    arena_free(a);
}

static void forgot_after(struct work *w, int status)
{
    (void)status;
    free(w);
}

void h_forgot_password(struct request *req)
{
    struct verrors errs = {0};
    yyjson_val *body = limited_body(req, "forgot-ip");
    if (!body)
        return;
    const char *email = member_str(body, "email", true, &errs);
    if (email && !users_email_valid(email))
        verr_add(&errs, "body", "email", "Value is not a valid email address", "value_error");
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    const char *email_key = text_fold(req->arena, email);
    if (!email_key || !within_limit(req, "forgot-email", email_key))
        return;
    struct forgot_job *j = calloc(1, sizeof(*j));
    if (!j) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    j->app = req->app;
    snprintf(j->email, sizeof(j->email), "%s", email);
    if (!req->app->workq ||
        workq_submit(req->app->workq, &j->work, forgot_work, forgot_after) != ERR_OK) {
        free(j);
        resp_err(req, ERR_UNAVAILABLE, "Server busy, try again shortly");
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, root);
    yyjson_mut_obj_add_str(doc, root, "detail", RESET_ACCEPTED);
    resp_json(req, 202, doc);
}

void h_reset_password(struct request *req)
{
    struct verrors errs = {0};
    yyjson_val *body = limited_body(req, "reset-ip");
    if (!body)
        return;
    const char *token = member_str(body, "token", true, &errs);
    const char *password = member_str(body, "password", true, &errs);
    if (password &&
        (strlen(password) < PASSWORD_MIN_CHARS || strlen(password) > PASSWORD_MAX_BYTES))
        verr_add(&errs, "body", "password", "Password must be 8 to 128 characters",
                 "string_too_short");
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    char hash[PASSWORD_HASH_MAX];
    if (password_hash(password, hash) != ERR_OK) {
        resp_err(req, ERR_UNAVAILABLE, "Server busy, try again shortly");
        return;
    }
    struct store_conn *db = req_db(req);
    if (!db)
        return;
    const char *uid = NULL;
    int rc = resets_use(db, req->arena, token, hash, now_unix(), &uid);
    if (rc == ERR_NOTFOUND) {
        resp_err(req, ERR_INVALID, RESET_REFUSED);
        return;
    }
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    log_fields(LOG_INFO, "password reset", (struct log_field[]){LF_S("user_id", uid)}, 1);
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *root = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, root);
    yyjson_mut_obj_add_str(doc, root, "detail", "Password changed; sign in with the new one");
    resp_json(req, 200, doc);
}

/* Answers 401 with the reason. */
static void unauthorized(struct request *req, const char *why, bool bad_token)
{
    resp_header(req, "WWW-Authenticate", bad_token ? "Bearer error=\"invalid_token\"" : "Bearer");
    resp_err(req, ERR_AUTH, why);
}

/* The request's database connection for bearer_authenticate (req_db answers 503 itself
 * when there is none). */
static int request_db(void *ctx, struct store_conn **out)
{
    *out = req_db(ctx);
    return *out ? ERR_OK : ERR_UNAVAILABLE;
}

bool auth_require(struct request *req)
{
    const char *h = req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        unauthorized(req, "Not authenticated", false);
        return false;
    }
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    struct jwt_verifier v = {.secret = req->app->cfg->jwt_secret, .jwks = req->app->jwks};
    struct bearer_user who;
    const char *why = "Invalid token";
    int rc = bearer_authenticate(&v, request_db, req, req->arena, token, now_unix(), &who, &why);
    if (req->responded) /* no database connection: req_db answered 503 */
        return false;
    if (rc == ERR_AUTH) {
        unauthorized(req, why, true);
        return false;
    }
    if (rc == ERR_UNAVAILABLE && !who.pat && !req->db) {
        resp_err(req, rc, "Authentication keys unavailable, try again shortly");
        return false;
    }
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return false;
    }
    req->user_id = who.id;
    req->auth_pat = who.pat;
    return true;
}

bool auth_require_path_user(struct request *req)
{
    if (!auth_require(req))
        return false;
    const char *path_user = req->n_params ? req->params[0] : NULL;
    if (!path_user || (strcmp(path_user, "me") != 0 && strcmp(path_user, req->user_id) != 0)) {
        resp_err(req, ERR_FORBIDDEN, "Not allowed to access another user's tasks");
        return false;
    }
    return true;
}

void h_me(struct request *req)
{
    if (!auth_require(req))
        return;
    struct user u;
    int rc = users_by_id(req->db, req->arena, req->user_id, &u);
    if (rc != ERR_OK) { /* a user whose row is gone is no longer signed in */
        resp_err(req, rc == ERR_NOTFOUND ? ERR_AUTH : rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, user_to_json(doc, &u));
    resp_json(req, 200, doc);
}

void h_me_update(struct request *req)
{
    if (!auth_require(req))
        return;
    yyjson_doc *doc_in;
    if (req_json(req, &doc_in) != ERR_OK)
        return;
    yyjson_val *body = yyjson_doc_get_root(doc_in);
    struct verrors errs = {0};
    struct user_patch p = {0};
    if (!yyjson_is_obj(body)) {
        verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
    } else {
        yyjson_val *name = yyjson_obj_get(body, "name");
        if (name) {
            p.set_name = true;
            p.name = member_name(req, body, &errs);
        }
        p.set_timezone = member_timezone(body, &p.timezone, &errs);
        yyjson_val *rem = yyjson_obj_get(body, "email_reminders");
        if (rem) {
            p.set_email_reminders = true;
            if (yyjson_is_bool(rem))
                p.email_reminders = yyjson_get_bool(rem);
            else
                verr_add(&errs, "body", "email_reminders", "Input should be a valid boolean",
                         "bool_type");
        }
        if (!errs.n && !p.set_name && !p.set_timezone && !p.set_email_reminders)
            verr_add(&errs, "body", NULL, "Give at least one of: name, timezone, email_reminders",
                     "missing");
    }
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    struct user u;
    int rc = users_update(req->db, req->arena, req->user_id, &p, &u);
    if (rc != ERR_OK) { /* a user whose row is gone is no longer signed in */
        resp_err(req, rc == ERR_NOTFOUND ? ERR_AUTH : rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, user_to_json(doc, &u));
    resp_json(req, 200, doc);
}
