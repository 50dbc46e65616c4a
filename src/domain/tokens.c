/*
 * Personal access tokens (see tokens.h): creation with the secret shown once, listing,
 * revocation, and the lookup that authenticates a bearer secret by its SHA-256.
 */
#include "domain/tokens.h"

#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"

#define TOKEN_COLS "id, name, hint, rfc3339(created_at), rfc3339(expires_at), rfc3339(last_used_at)"
#define HASH_HEX   (crypto_hash_sha256_BYTES * 2 + 1)

static const struct text_rule name_rule = {1, TOKEN_NAME_MAX, false};

bool tokens_is_pat(const char *s)
{
    return s && str_starts(s, TOKEN_PREFIX);
}

/* True when s is the prefix and exactly TOKEN_SECRET_CHARS base64url characters. */
static bool well_formed(const char *s)
{
    if (!tokens_is_pat(s))
        return false;
    const char *p = s + strlen(TOKEN_PREFIX);
    size_t n = 0;
    for (; p[n] && n <= TOKEN_SECRET_CHARS; n++) {
        char ch = p[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok)
            return false;
    }
    return n == TOKEN_SECRET_CHARS;
}

/* The lower-case hex SHA-256 of the whole token text. */
static void token_hash(const char *secret, char out[HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
    hex_encode(h, sizeof(h), out);
}

int tokens_input_parse(yyjson_val *obj, struct arena *a, struct token_input *in,
                       struct verrors *errs)
{
    memset(in, 0, sizeof(*in));
    in->days = TOKEN_DAYS_DEFAULT;
    if (!yyjson_is_obj(obj)) {
        verr_add(errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
        return ERR_INVALID;
    }
    size_t before = errs->n;
    yyjson_val *v = yyjson_obj_get(obj, "name");
    if (!v || yyjson_is_null(v)) {
        verr_add(errs, "body", "name", "Field required", "missing");
    } else if (!yyjson_is_str(v)) {
        verr_add(errs, "body", "name", "Input should be a valid string", "string_type");
    } else {
        enum text_problem why;
        int rc = text_clean(a, yyjson_get_str(v), yyjson_get_len(v), &name_rule, &in->name, &why);
        if (rc == ERR_NOMEM)
            return rc;
        if (rc != ERR_OK)
            verr_add(errs, "body", "name", text_problem_msg(a, why, &name_rule),
                     text_problem_type(why));
    }
    v = yyjson_obj_get(obj, "expires_in_days");
    if (v && yyjson_is_null(v)) {
        in->days = 0;
    } else if (v) {
        if (yyjson_is_int(v) && yyjson_get_sint(v) >= 1 && yyjson_get_sint(v) <= TOKEN_DAYS_MAX)
            in->days = (int)yyjson_get_sint(v);
        else
            verr_add(errs, "body", "expires_in_days",
                     "Input should be an integer from 1 to 3650, or null for a token that "
                     "never expires",
                     "int_type");
    }
    return errs->n == before ? ERR_OK : ERR_INVALID;
}

static void row_to_token(const struct db_rows *r, size_t i, struct token *t)
{
    t->id = db_cell(r, i, 0);
    t->name = db_cell(r, i, 1);
    t->hint = db_cell(r, i, 2);
    t->created_at = db_cell(r, i, 3);
    t->expires_at = db_cell(r, i, 4);
    t->last_used_at = db_cell(r, i, 5);
}

/* Counts the user's tokens with the user's row locked (PostgreSQL), so that concurrent
 * creations cannot pass the cap together; SQLite's write transaction holds the database. */
static int count_locked(struct store_conn *c, struct arena *a, const char *uid, int64_t *n)
{
    static const struct sql lock = {"SELECT id FROM users WHERE id = $1",
                                    "SELECT id FROM users WHERE id = $1 FOR UPDATE"};
    static const struct sql count = {"SELECT count(*) FROM access_tokens WHERE user_id = $1", NULL};
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &lock, p, 1, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc == ERR_OK)
        rc = store_exec(c, &count, p, 1, a, &rows);
    if (rc == ERR_OK)
        rc = rows.nrows == 1 ? parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, n) : ERR_DB;
    return rc;
}

int tokens_create(struct store_conn *c, struct arena *a, const char *uid,
                  const struct token_input *in, struct token *out, char secret[TOKEN_TEXT_MAX])
{
    static const struct sql ins = {
        "INSERT INTO access_tokens (user_id, name, token_hash, hint, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING " TOKEN_COLS,
        NULL};
    unsigned char raw[TOKEN_SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    size_t plen = strlen(TOKEN_PREFIX);
    memcpy(secret, TOKEN_PREFIX, plen);
    sodium_bin2base64(secret + plen, TOKEN_TEXT_MAX - plen, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    char hash[HASH_HEX];
    token_hash(secret, hash);
    const char *hint = arena_printf(a, "%s\xE2\x80\xA6%s", TOKEN_PREFIX,
                                    secret + plen + TOKEN_SECRET_CHARS - TOKEN_HINT_CHARS);
    int64_t now = now_unix();
    char created[TIME_TEXT_MAX], expires[TIME_TEXT_MAX];
    time_format(now, created);
    if (in->days > 0)
        time_format(now + (int64_t)in->days * 86400, expires);
    if (!hint)
        return ERR_NOMEM;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    int64_t count = 0;
    rc = count_locked(c, a, uid, &count);
    if (rc == ERR_OK && count >= TOKENS_PER_USER_MAX)
        rc = ERR_CONFLICT;
    struct db_rows rows;
    if (rc == ERR_OK) {
        struct db_param p[] = {P_TEXT(uid),     P_TEXT(in->name),
                               P_TEXT(hash),    P_TEXT(hint),
                               P_TEXT(created), P_TEXT(in->days > 0 ? expires : NULL)};
        rc = store_exec(c, &ins, p, ARRAY_LEN(p), a, &rows);
        if (rc == ERR_OK && rows.nrows != 1)
            rc = ERR_DB;
    }
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK) {
        store_rollback(c);
        sodium_memzero(secret, TOKEN_TEXT_MAX);
        return rc;
    }
    row_to_token(&rows, 0, out);
    return ERR_OK;
}

int tokens_list(struct store_conn *c, struct arena *a, const char *uid, struct token **out,
                size_t *n)
{
    static const struct sql q = {
        "SELECT " TOKEN_COLS " FROM access_tokens WHERE user_id = $1 ORDER BY id", NULL};
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    *out = arena_calloc(a, rows.nrows ? rows.nrows : 1, sizeof(**out));
    if (!*out)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows.nrows; i++)
        row_to_token(&rows, i, &(*out)[i]);
    *n = rows.nrows;
    return ERR_OK;
}

int tokens_revoke(struct store_conn *c, struct arena *a, const char *uid, int64_t id)
{
    static const struct sql q = {"DELETE FROM access_tokens WHERE id = $1 AND user_id = $2", NULL};
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    return rows.changes == 1 ? ERR_OK : ERR_NOTFOUND;
}

int tokens_verify(struct store_conn *c, struct arena *a, const char *secret, int64_t now,
                  const char **uid, const char **why)
{
    static const struct sql find = {"SELECT id, user_id, rfc3339(expires_at), "
                                    "rfc3339(last_used_at) FROM access_tokens WHERE "
                                    "token_hash = $1",
                                    NULL};
    static const struct sql touch = {"UPDATE access_tokens SET last_used_at = $2 WHERE id = $1",
                                     NULL};
    *why = "Invalid token";
    if (!well_formed(secret))
        return ERR_AUTH;
    char hash[HASH_HEX];
    token_hash(secret, hash);
    struct db_param p[] = {P_TEXT(hash)};
    struct db_rows rows;
    int rc = store_exec(c, &find, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_AUTH; /* never issued, or revoked */
    int64_t expires = 0, used = 0;
    const char *exp_text = db_cell(&rows, 0, 2), *used_text = db_cell(&rows, 0, 3);
    if (exp_text &&
        (time_parse(exp_text, DATE_ONLY_REJECT, &expires) != ERR_OK || now >= expires)) {
        *why = "Token expired";
        return ERR_AUTH;
    }
    int64_t id = 0;
    if (parse_int64(db_cell(&rows, 0, 0), 1, INT64_MAX, &id) != ERR_OK)
        return ERR_DB;
    *uid = db_cell(&rows, 0, 1);
    if (!used_text || time_parse(used_text, DATE_ONLY_REJECT, &used) != ERR_OK ||
        now - used >= TOKEN_TOUCH_SECONDS) {
        char when[TIME_TEXT_MAX];
        time_format(now, when);
        struct db_param t[] = {P_INT(id), P_TEXT(when)};
        /* Best effort: a database that cannot take writes still authenticates. */
        (void)store_exec(c, &touch, t, ARRAY_LEN(t), NULL, NULL);
    }
    return ERR_OK;
}

/* Adds a string or null. */
static void add_str_or_null(yyjson_mut_doc *doc, yyjson_mut_val *o, const char *key, const char *v)
{
    if (v)
        yyjson_mut_obj_add_str(doc, o, key, v);
    else
        yyjson_mut_obj_add_null(doc, o, key);
}

yyjson_mut_val *token_to_json(yyjson_mut_doc *doc, const struct token *t)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    int64_t id = 0;
    parse_int64(t->id, 0, INT64_MAX, &id);
    yyjson_mut_obj_add_int(doc, o, "id", id);
    yyjson_mut_obj_add_str(doc, o, "name", t->name);
    yyjson_mut_obj_add_str(doc, o, "hint", t->hint);
    yyjson_mut_obj_add_str(doc, o, "created_at", t->created_at);
    add_str_or_null(doc, o, "expires_at", t->expires_at);
    add_str_or_null(doc, o, "last_used_at", t->last_used_at);
    return o;
}
