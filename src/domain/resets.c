/* Password resets (see resets.h). */
#include "domain/resets.h"

#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/users.h"

#define HASH_HEX (crypto_hash_sha256_BYTES * 2 + 1)

/* The lower-case hex SHA-256 of the token text. */
static void reset_hash(const char *token, char out[HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    hex_encode(h, sizeof(h), out);
}

/* True when s is 43 base64url characters: anything else was never issued. */
static bool well_formed(const char *s)
{
    size_t n = 0;
    for (; s[n] && n < RESET_TOKEN_MAX; n++) {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return n == 43;
}

int resets_create(struct store_conn *c, struct arena *a, const char *email, int64_t now,
                  char token[RESET_TOKEN_MAX], const char **to)
{
    static const struct sql ins = {
        "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4)",
        NULL};
    /* Expired tokens go, and a user keeps RESETS_PER_USER live ones at most. */
    static const struct sql prune = {
        "DELETE FROM password_resets WHERE user_id = $1 AND (expires_at <= $2 OR token_hash "
        "NOT IN (SELECT token_hash FROM password_resets WHERE user_id = $1 "
        "ORDER BY created_at DESC, token_hash LIMIT $3))",
        NULL};
    struct user u;
    int rc = users_by_email(c, a, email, &u);
    if (rc != ERR_OK)
        return rc;
    if (!u.email)
        return ERR_NOTFOUND;
    unsigned char raw[RESET_SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, RESET_TOKEN_MAX, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    char hash[HASH_HEX], created[TIME_TEXT_MAX], expires[TIME_TEXT_MAX];
    reset_hash(token, hash);
    time_format(now, created);
    time_format(now + RESET_TTL_SECONDS, expires);
    struct db_param p[] = {P_TEXT(hash), P_TEXT(u.id), P_TEXT(created), P_TEXT(expires)};
    rc = store_exec(c, &ins, p, ARRAY_LEN(p), a, NULL);
    if (rc == ERR_OK) {
        struct db_param q[] = {P_TEXT(u.id), P_TEXT(created), P_INT(RESETS_PER_USER)};
        rc = store_exec(c, &prune, q, ARRAY_LEN(q), a, NULL);
    }
    if (rc != ERR_OK) {
        sodium_memzero(token, RESET_TOKEN_MAX);
        return rc;
    }
    *to = u.email;
    return ERR_OK;
}

/* How long a reset waits for every replica to learn of it (as task writes do). */
#define RESET_AWAIT_MS 250

int resets_use(struct store_conn *c, struct arena *a, const char *token, const char *hash,
               int64_t now, const char **uid)
{
    /* The condition makes the use single: a second use (even a concurrent one, which waits
     * for the first's row lock and then re-checks) finds used_at set. */
    static const struct sql take = {
        "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL "
        "AND expires_at > $2 RETURNING user_id",
        NULL};
    static const struct sql set_pw = {
        "UPDATE users SET hashed_password = $2, session_gen = session_gen + 1, "
        "tasks_version = tasks_version + 1, updated_at = $3 WHERE id = $1 RETURNING tasks_version",
        NULL};
    static const struct sql drop_pats = {"DELETE FROM access_tokens WHERE user_id = $1", NULL};
    static const struct sql drop_mcp = {"DELETE FROM mcp_sessions WHERE user_id = $1", NULL};
    static const struct sql drop_resets = {"DELETE FROM password_resets WHERE user_id = $1", NULL};
    if (!well_formed(token))
        return ERR_NOTFOUND;
    char th[HASH_HEX], when[TIME_TEXT_MAX];
    reset_hash(token, th);
    time_format(now, when);
    int64_t version = 0;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    struct db_param p[] = {P_TEXT(th), P_TEXT(when)};
    struct db_rows rows;
    rc = store_exec(c, &take, p, ARRAY_LEN(p), a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    const char *id = rc == ERR_OK ? db_cell(&rows, 0, 0) : NULL;
    if (rc == ERR_OK) {
        struct db_param q[] = {P_TEXT(id), P_TEXT(hash), P_TEXT(when)};
        struct db_rows v;
        rc = store_exec(c, &set_pw, q, ARRAY_LEN(q), a, &v);
        if (rc == ERR_OK &&
            (v.nrows != 1 || parse_int64(db_cell(&v, 0, 0), 0, INT64_MAX, &version) != ERR_OK))
            rc = ERR_DB;
    }
    struct db_param u[] = {P_TEXT(id)};
    if (rc == ERR_OK)
        rc = store_exec(c, &drop_pats, u, 1, a, NULL);
    if (rc == ERR_OK)
        rc = store_exec(c, &drop_mcp, u, 1, a, NULL);
    if (rc == ERR_OK)
        rc = store_exec(c, &drop_resets, u, 1, a, NULL);
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK) {
        store_rollback(c);
        return rc;
    }
    /* The version bump tells every replica to read the new generation (users_session_gen);
     * answer once their listeners have it, so no replica still accepts an old token. */
    store_version_await(c, id, version, RESET_AWAIT_MS);
    *uid = id;
    return ERR_OK;
}
