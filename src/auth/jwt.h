/*
 * JSON Web Tokens: HS256 issued and verified with JWT_SECRET (OpenSSL HMAC, constant-time
 * compare), and EdDSA / ES256 / RS256 verified against Better Auth's JWKS (jwks.h). The
 * algorithm allow-list is explicit: "none" and anything else is refused, and a key is
 * only ever used with its own algorithm.
 */
#ifndef TODO_JWT_H
#define TODO_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_LEN   8192
#define JWT_LEEWAY_S  60
#define JWT_SUB_MAX   128
#define JWT_EMAIL_MAX 254
#define JWT_ISSUER    "todo"

struct jwks;

struct jwt_claims {
    char sub[JWT_SUB_MAX + 1];
    char email[JWT_EMAIL_MAX + 1]; /* empty when the token has none */
    int64_t iat;
    int64_t exp;
    int64_t gen; /* the session generation ("gen", 0 when absent): see users.session_gen */
};

/* What verification may use: the shared secret, and Better Auth's key set (or NULL). */
struct jwt_verifier {
    const char *secret;
    struct jwks *jwks;
};

/* Issues an HS256 token for sub/email valid from now for ttl_s seconds into out
 * (out_size ≥ JWT_MAX_LEN). Returns ERR_OK or ERR_TOOBIG. */
int jwt_issue(const char *secret, const char *sub, const char *email, int64_t now, int64_t ttl_s,
              char *out, size_t out_size);

/* The same with the user's session generation as the "gen" claim (left out when 0): a
 * token whose generation is no longer the user's is refused (a password reset ends every
 * session). */
int jwt_issue_gen(const char *secret, const char *sub, const char *email, int64_t gen, int64_t now,
                  int64_t ttl_s, char *out, size_t out_size);

/* Verifies token at time now and fills *out. Returns ERR_OK or ERR_AUTH with *why set to a
 * static, client-safe reason ("Token expired", "Invalid token"), or ERR_UNAVAILABLE when the
 * JWKS could not be fetched. A token verified with the shared secret is remembered (a repeat
 * skips its MAC and parse; its times are checked again); thread-safe. */
int jwt_verify(const struct jwt_verifier *v, const char *token, int64_t now, struct jwt_claims *out,
               const char **why);

/* Forgets every token verified lately (tests; see jwt.c's cache). */
void jwt_cache_clear(void);

#endif
