/* Bearer credentials (see bearer.h). */
#include "auth/bearer.h"

#include "core/err.h"
#include "domain/tokens.h"
#include "domain/users.h"

int bearer_authenticate(const struct jwt_verifier *v, bearer_db_fn db, void *db_ctx,
                        struct arena *a, const char *token, int64_t now, struct bearer_user *out,
                        const char **why)
{
    out->id = NULL;
    out->pat = false;
    struct store_conn *c = NULL;
    int rc;
    if (tokens_is_pat(token)) {
        out->pat = true;
        rc = db(db_ctx, &c);
        return rc == ERR_OK ? tokens_verify(c, a, token, now, &out->id, why) : rc;
    }
    struct jwt_claims claims;
    rc = jwt_verify(v, token, now, &claims, why);
    if (rc == ERR_OK)
        rc = db(db_ctx, &c);
    if (rc == ERR_OK) {
        rc = users_ensure(c, a, claims.sub, claims.email);
        if (rc == ERR_AUTH)
            *why = "This account was deleted";
    }
    /* A password reset bumps the user's generation: tokens from before it end here, on
     * every replica at once (one primary-key read per request). */
    int64_t gen = 0;
    if (rc == ERR_OK)
        rc = users_session_gen(c, a, claims.sub, &gen);
    if (rc == ERR_NOTFOUND || (rc == ERR_OK && gen != claims.gen)) {
        *why = "Session ended; sign in again";
        return ERR_AUTH;
    }
    if (rc != ERR_OK)
        return rc;
    out->id = arena_strdup(a, claims.sub);
    return out->id ? ERR_OK : ERR_NOMEM;
}
