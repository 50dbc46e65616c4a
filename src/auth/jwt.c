/*
 * JWT issue and verify (see jwt.h). Parsing is strict: three non-empty base64url parts,
 * JSON header and payload objects, exact "alg" match, numeric exp required.
 */
#include "auth/jwt.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/b64url.h"
#include "auth/jwks.h"
#include "core/err.h"
#include "core/json.h"
#include "core/util.h"
#include "yyjson.h"

#define JWT_HEADER_MAX  1024
#define JWT_PAYLOAD_MAX 4096
#define JWT_SIG_MAX     1024 /* RSA-8192 is 1024 bytes */
#define HS256_LEN       crypto_auth_hmacsha256_BYTES

/* Tokens lately verified with the shared secret (HS256): a client sends the same token with
 * every request, and a hit skips its decoding, MAC and parse. A slot holds one token whole,
 * with the secret it was verified with (both compared in full: nothing is trusted on a hash)
 * and its claims; the time claims are checked again on every hit. A key set's verifications
 * are not kept (its keys can be withdrawn). Fixed memory: JWT_CACHE_SLOTS slots, one
 * direct-mapped place per token, behind JWT_CACHE_STRIPES locks. */
#define JWT_CACHE_SLOTS      256
#define JWT_CACHE_STRIPES    16
#define JWT_CACHE_TOKEN_MAX  640 /* longer tokens are verified every time */
#define JWT_CACHE_SECRET_MAX 256

struct jwt_cached {
    size_t len; /* 0: empty */
    char token[JWT_CACHE_TOKEN_MAX];
    char secret[JWT_CACHE_SECRET_MAX + 1];
    struct jwt_claims claims;
    int64_t nbf;
    bool has_nbf;
};

static struct jwt_cached jwt_cache[JWT_CACHE_SLOTS];
static pthread_mutex_t jwt_cache_mu[JWT_CACHE_STRIPES] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER};

/* The slot of token (len bytes, NUL-terminated) when it can be cached with secret, else -1. */
static long jwt_cache_slot(const char *secret, const char *token, size_t len)
{
    if (!secret || strlen(secret) > JWT_CACHE_SECRET_MAX || len > JWT_CACHE_TOKEN_MAX)
        return -1;
    return (long)(hash_str(token) % JWT_CACHE_SLOTS); /* placement only, never trust */
}

/* True with *out (and the time claims) when token was verified with secret lately. */
static bool jwt_cache_get(long slot, const char *secret, const char *token, size_t len,
                          struct jwt_claims *out, int64_t *nbf, bool *has_nbf)
{
    struct jwt_cached *e = &jwt_cache[slot];
    pthread_mutex_t *mu = &jwt_cache_mu[slot % JWT_CACHE_STRIPES];
    pthread_mutex_lock(mu);
    bool hit = e->len == len && memcmp(e->token, token, len) == 0 && strcmp(e->secret, secret) == 0;
    if (hit) {
        *out = e->claims;
        *nbf = e->nbf;
        *has_nbf = e->has_nbf;
    }
    pthread_mutex_unlock(mu);
    return hit;
}

static void jwt_cache_put(long slot, const char *secret, const char *token, size_t len,
                          const struct jwt_claims *claims, int64_t nbf, bool has_nbf)
{
    struct jwt_cached *e = &jwt_cache[slot];
    pthread_mutex_t *mu = &jwt_cache_mu[slot % JWT_CACHE_STRIPES];
    pthread_mutex_lock(mu);
    e->len = len;
    memcpy(e->token, token, len);
    memcpy(e->secret, secret, strlen(secret) + 1);
    e->claims = *claims;
    e->nbf = nbf;
    e->has_nbf = has_nbf;
    pthread_mutex_unlock(mu);
}

/* The time rules of a verified token's claims at now (jwt_verify). */
static int check_times(int64_t exp, int64_t nbf, bool has_nbf, int64_t now, const char **why)
{
    if (has_nbf && nbf - JWT_LEEWAY_S > now && nbf > INT64_MIN + JWT_LEEWAY_S)
        return ERR_AUTH;
    if (exp < now - JWT_LEEWAY_S) { /* written so a huge exp cannot overflow */
        *why = "Token expired";
        return ERR_AUTH;
    }
    return ERR_OK;
}

void jwt_cache_clear(void)
{
    for (size_t i = 0; i < JWT_CACHE_SLOTS; i++) {
        pthread_mutex_lock(&jwt_cache_mu[i % JWT_CACHE_STRIPES]);
        sodium_memzero(&jwt_cache[i], sizeof(jwt_cache[i]));
        pthread_mutex_unlock(&jwt_cache_mu[i % JWT_CACHE_STRIPES]);
    }
}

/* Decodes one base64url part into buf; returns the decoded length or -1. */
static long decode_part(const char *p, size_t len, unsigned char *buf, size_t size)
{
    size_t n = 0;
    if (len == 0 || b64url_decode(p, len, buf, size, &n) != ERR_OK)
        return -1;
    return (long)n;
}

/* HMAC-SHA256 of input under secret (RFC 2104, any key length). libsodium's, not
 * OpenSSL's: a process that verifies only its own tokens then never initialises OpenSSL
 * (about 2 MB of its pages; docs/performance.md, RSS), and the digest is a plain function
 * call where OpenSSL 3 fetched the algorithm from its provider on every HMAC(). */
static void hs256(const char *secret, const char *input, size_t len, unsigned char out[HS256_LEN])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

int jwt_issue(const char *secret, const char *sub, const char *email, int64_t now, int64_t ttl_s,
              char *out, size_t out_size)
{
    return jwt_issue_gen(secret, sub, email, 0, now, ttl_s, out, out_size);
}

int jwt_issue_gen(const char *secret, const char *sub, const char *email, int64_t gen, int64_t now,
                  int64_t ttl_s, char *out, size_t out_size)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char pool_buf[4096];
    yyjson_alc alc;
    yyjson_alc_pool_init(&alc, pool_buf, sizeof(pool_buf));
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    if (!doc)
        return ERR_NOMEM;
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_str(doc, o, "sub", sub);
    if (email && *email)
        yyjson_mut_obj_add_str(doc, o, "email", email);
    yyjson_mut_obj_add_int(doc, o, "iat", now);
    yyjson_mut_obj_add_int(doc, o, "exp", now + ttl_s);
    yyjson_mut_obj_add_str(doc, o, "iss", JWT_ISSUER);
    if (gen > 0)
        yyjson_mut_obj_add_int(doc, o, "gen", gen);
    char payload[JWT_PAYLOAD_MAX];
    size_t plen = 0;
    char wbuf[JWT_PAYLOAD_MAX * 2];
    yyjson_alc walc;
    yyjson_alc_pool_init(&walc, wbuf, sizeof(wbuf));
    char *json = yyjson_mut_write_opts(doc, 0, &walc, &plen, NULL);
    if (!json || plen >= sizeof(payload))
        return ERR_TOOBIG;
    memcpy(payload, json, plen);

    size_t used = 0;
    if (b64url_encode((const unsigned char *)header, sizeof(header) - 1, out, out_size) != ERR_OK)
        return ERR_TOOBIG;
    used = strlen(out);
    if (used + 1 >= out_size)
        return ERR_TOOBIG;
    out[used++] = '.';
    if (b64url_encode((const unsigned char *)payload, plen, out + used, out_size - used) != ERR_OK)
        return ERR_TOOBIG;
    used += strlen(out + used);
    unsigned char mac[HS256_LEN];
    hs256(secret, out, used, mac);
    if (used + 1 >= out_size)
        return ERR_TOOBIG;
    out[used++] = '.';
    return b64url_encode(mac, sizeof(mac), out + used, out_size - used);
}

/* Checks the signature of header.payload per the header's alg. */
static int check_signature(const struct jwt_verifier *v, yyjson_val *header, const char *token,
                           size_t signed_len, const unsigned char *sig, size_t sig_len)
{
    /* json_cstr: "HS256\u0000x" must not compare equal to "HS256". */
    const char *alg = json_cstr(yyjson_obj_get(header, "alg"));
    if (!alg)
        return ERR_AUTH;
    if (strcmp(alg, "HS256") == 0) {
        if (!v->secret || sig_len != HS256_LEN)
            return ERR_AUTH;
        unsigned char mac[HS256_LEN];
        hs256(v->secret, token, signed_len, mac);
        return sodium_memcmp(mac, sig, HS256_LEN) == 0 ? ERR_OK : ERR_AUTH;
    }
    if (strcmp(alg, "EdDSA") == 0 || strcmp(alg, "ES256") == 0 || strcmp(alg, "RS256") == 0) {
        if (!v->jwks)
            return ERR_AUTH;
        yyjson_val *kid = yyjson_obj_get(header, "kid");
        if (kid && !json_cstr(kid))
            return ERR_AUTH; /* not a string, or cut short by an embedded NUL */
        return jwks_verify(v->jwks, alg, kid ? json_cstr(kid) : NULL, (const unsigned char *)token,
                           signed_len, sig, sig_len);
    }
    return ERR_AUTH; /* "none" and every other algorithm */
}

/* Reads an integer claim (JSON number, integral). */
static int claim_int(yyjson_val *o, const char *key, bool required, int64_t *out)
{
    yyjson_val *v = yyjson_obj_get(o, key);
    if (!v)
        return required ? ERR_AUTH : ERR_NOTFOUND;
    if (yyjson_is_int(v)) {
        *out = yyjson_get_sint(v);
        return ERR_OK;
    }
    if (yyjson_is_real(v)) {
        double d = yyjson_get_real(v);
        if (d > -9.0e15 && d < 9.0e15) {
            *out = (int64_t)d;
            return ERR_OK;
        }
    }
    return ERR_AUTH;
}

int jwt_verify(const struct jwt_verifier *v, const char *token, int64_t now, struct jwt_claims *out,
               const char **why)
{
    *why = "Invalid token";
    size_t len = token ? strnlen(token, JWT_MAX_LEN + 1) : 0;
    if (len == 0 || len > JWT_MAX_LEN)
        return ERR_AUTH;
    long slot = jwt_cache_slot(v->secret, token, len);
    int64_t nbf = 0;
    bool has_nbf = false;
    if (slot >= 0 && jwt_cache_get(slot, v->secret, token, len, out, &nbf, &has_nbf))
        return check_times(out->exp, nbf, has_nbf, now, why);
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return ERR_AUTH;
    unsigned char hbuf[JWT_HEADER_MAX], pbuf[JWT_PAYLOAD_MAX], sig[JWT_SIG_MAX];
    long hlen = decode_part(token, (size_t)(dot1 - token), hbuf, sizeof(hbuf));
    long plen = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), pbuf, sizeof(pbuf));
    long slen = decode_part(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig));
    if (hlen < 0 || plen < 0 || slen < 0)
        return ERR_AUTH;

    char pool_buf[16384];
    yyjson_alc alc;
    yyjson_alc_pool_init(&alc, pool_buf, sizeof(pool_buf));
    yyjson_doc *hdoc = yyjson_read_opts((char *)hbuf, (size_t)hlen, 0, &alc, NULL);
    yyjson_val *header = yyjson_doc_get_root(hdoc);
    if (!yyjson_is_obj(header))
        return ERR_AUTH;
    yyjson_val *typ = yyjson_obj_get(header, "typ");
    if (yyjson_obj_get(header, "crit") ||
        (typ && !(json_cstr(typ) && strcasecmp(json_cstr(typ), "JWT") == 0)))
        return ERR_AUTH;
    int rc = check_signature(v, header, token, (size_t)(dot2 - token), sig, (size_t)slen);
    if (rc != ERR_OK)
        return rc == ERR_UNAVAILABLE ? rc : ERR_AUTH;
    const char *alg = json_cstr(yyjson_obj_get(header, "alg"));
    bool by_secret = alg && strcmp(alg, "HS256") == 0; /* only these are kept (jwt_cache) */

    yyjson_doc *pdoc = yyjson_read_opts((char *)pbuf, (size_t)plen, 0, &alc, NULL);
    yyjson_val *claims = yyjson_doc_get_root(pdoc);
    if (!yyjson_is_obj(claims))
        return ERR_AUTH;
    yyjson_val *sub = yyjson_obj_get(claims, "sub");
    if (!json_cstr(sub) || yyjson_get_len(sub) == 0 || yyjson_get_len(sub) > JWT_SUB_MAX)
        return ERR_AUTH;
    int64_t exp = 0, iat = 0;
    if (claim_int(claims, "exp", true, &exp) != ERR_OK)
        return ERR_AUTH;
    rc = claim_int(claims, "nbf", false, &nbf);
    if (rc == ERR_AUTH)
        return ERR_AUTH;
    has_nbf = rc == ERR_OK;
    if (claim_int(claims, "iat", false, &iat) == ERR_AUTH)
        return ERR_AUTH;
    int64_t gen = 0;
    if (claim_int(claims, "gen", false, &gen) == ERR_AUTH || gen < 0)
        return ERR_AUTH;
    rc = check_times(exp, nbf, has_nbf, now, why);
    if (rc != ERR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    memcpy(out->sub, yyjson_get_str(sub), yyjson_get_len(sub));
    yyjson_val *email = yyjson_obj_get(claims, "email");
    if (json_cstr(email) && yyjson_get_len(email) <= JWT_EMAIL_MAX)
        memcpy(out->email, yyjson_get_str(email), yyjson_get_len(email));
    out->exp = exp;
    out->iat = iat;
    out->gen = gen;
    if (slot >= 0 && by_secret)
        jwt_cache_put(slot, v->secret, token, len, out, nbf, has_nbf);
    return ERR_OK;
}
