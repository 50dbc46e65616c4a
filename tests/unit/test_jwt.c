/*
 * Unit tests for HS256 tokens (src/auth/jwt.c): issue → verify round trips, and every way a
 * token must be refused: wrong secret, "none" and other algorithms without a JWKS, tampered
 * parts, broken base64url, wrong part counts, expiry and not-before with the leeway,
 * malformed claims and over-long input. Tokens with chosen headers and claims are signed
 * here with OpenSSL's HMAC (the server's is libsodium's: the two must agree); no JWKS is
 * involved.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/b64url.h"
#include "auth/jwt.h"
#include "core/err.h"
#include "core/util.h"

#define SECRET    "unit-test-secret-0123456789abcdef0123456789"
#define NOW       1767323045 /* 2026-01-02T03:04:05Z */
#define TOKEN_SZ  (JWT_MAX_LEN + 64)
#define HS256_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static const struct jwt_verifier verifier = {.secret = SECRET, .jwks = NULL};

static void b64(const void *in, size_t n, char *out, size_t size)
{
    assert_int_equal(b64url_encode(in, n, out, size), ERR_OK);
}

/* Writes header.payload.signature with an HMAC over the first two parts (md NULL: no
 * signature part content, i.e. "h.p."). */
static char *sign_with(char *out, size_t size, const EVP_MD *md, const char *secret,
                       const char *header, const char *payload)
{
    b64(header, strlen(header), out, size);
    size_t used = strlen(out);
    out[used++] = '.';
    b64(payload, strlen(payload), out + used, size - used);
    used += strlen(out + used);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (md)
        assert_non_null(
            HMAC(md, secret, (int)strlen(secret), (const unsigned char *)out, used, mac, &mac_len));
    out[used++] = '.';
    b64(mac, mac_len, out + used, size - used);
    return out;
}

static char *sign(char *out, const char *header, const char *payload)
{
    return sign_with(out, TOKEN_SZ, EVP_sha256(), SECRET, header, payload);
}

/* A payload with the given exp and extra members (JSON text without braces, may be ""). */
static const char *claims(char *buf, size_t size, const char *extra)
{
    snprintf(buf, size, "{\"sub\":\"user-1\",\"iat\":%d,\"exp\":%d%s%s}", NOW - 10, NOW + 3600,
             extra[0] ? "," : "", extra);
    return buf;
}

static int verify(const char *token, struct jwt_claims *out, const char **why)
{
    return jwt_verify(&verifier, token, NOW, out, why);
}

static void expect_refused(const char *token, const char *reason)
{
    struct jwt_claims c;
    const char *why = NULL;
    int rc = verify(token, &c, &why);
    if (rc != ERR_AUTH)
        fail_msg("accepted (rc %d): %.200s", rc, token ? token : "(null)");
    assert_non_null(why);
    if (strcmp(why, reason) != 0)
        fail_msg("reason \"%s\", want \"%s\" for %.200s", why, reason, token);
}

static void expect_accepted(const char *token, struct jwt_claims *c)
{
    const char *why = NULL;
    int rc = verify(token, c, &why);
    if (rc != ERR_OK)
        fail_msg("refused (rc %d, %s): %.200s", rc, why ? why : "-", token);
}

static void test_round_trip(void **state)
{
    (void)state;
    char token[TOKEN_SZ];
    assert_int_equal(jwt_issue(SECRET, "user-1", "a@example.com", NOW, 3600, token, sizeof(token)),
                     ERR_OK);
    /* Three base64url parts. */
    const char *d1 = strchr(token, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    assert_null(strchr(d2 + 1, '.'));
    assert_null(strpbrk(token, "+/= "));

    struct jwt_claims c;
    const char *why = NULL;
    assert_int_equal(jwt_verify(&verifier, token, NOW + 10, &c, &why), ERR_OK);
    assert_string_equal(c.sub, "user-1");
    assert_string_equal(c.email, "a@example.com");
    assert_int_equal(c.iat, NOW);
    assert_int_equal(c.exp, NOW + 3600);

    /* Without an email the claim is absent and comes back empty. */
    assert_int_equal(jwt_issue(SECRET, "user-2", NULL, NOW, 60, token, sizeof(token)), ERR_OK);
    assert_int_equal(jwt_verify(&verifier, token, NOW, &c, &why), ERR_OK);
    assert_string_equal(c.sub, "user-2");
    assert_string_equal(c.email, "");

    /* The issued header is exactly HS256/JWT. */
    char header[64];
    b64(HS256_HDR, strlen(HS256_HDR), header, sizeof(header));
    assert_int_equal(strncmp(token, header, strlen(header)), 0);
    assert_int_equal(token[strlen(header)], '.');
}

static void test_wrong_secret(void **state)
{
    (void)state;
    char token[TOKEN_SZ];
    assert_int_equal(jwt_issue(SECRET "x", "user-1", NULL, NOW, 3600, token, sizeof(token)),
                     ERR_OK);
    expect_refused(token, "Invalid token");
    const struct jwt_verifier no_secret = {.secret = NULL, .jwks = NULL};
    struct jwt_claims c;
    const char *why = NULL;
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW, 3600, token, sizeof(token)), ERR_OK);
    assert_int_equal(jwt_verify(&no_secret, token, NOW, &c, &why), ERR_AUTH);
}

/* The signature is HMAC-SHA256 as OpenSSL computes it (the token's MAC here is OpenSSL's, the
 * verifier's libsodium's), for secrets shorter and longer than SHA-256's 64-byte block (a
 * longer key is hashed first, RFC 2104); a token made by jwt_issue verifies under OpenSSL's. */
static void test_hmac_matches_openssl(void **state)
{
    (void)state;
    static const char *const secrets[] = {
        "k", SECRET,
        "a-secret-longer-than-the-64-byte-block-of-sha-256-0123456789abcdef0123456789abcdef"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        const struct jwt_verifier v = {.secret = secrets[i], .jwks = NULL};
        char token[TOKEN_SZ], p[256], again[TOKEN_SZ];
        claims(p, sizeof(p), "");
        sign_with(token, sizeof(token), EVP_sha256(), secrets[i], HS256_HDR, p);
        struct jwt_claims c;
        const char *why = NULL;
        assert_int_equal(jwt_verify(&v, token, NOW, &c, &why), ERR_OK);
        assert_int_equal(jwt_issue(secrets[i], "user-1", NULL, NOW, 3600, token, sizeof(token)),
                         ERR_OK);
        /* Re-sign jwt_issue's header and payload with OpenSSL: the same token. */
        char *dot = strchr(token, '.');
        char *dot2 = strchr(dot + 1, '.');
        unsigned char hdr[256], pay[512];
        size_t hn = 0, pn = 0;
        assert_int_equal(b64url_decode(token, (size_t)(dot - token), hdr, sizeof(hdr) - 1, &hn),
                         ERR_OK);
        assert_int_equal(
            b64url_decode(dot + 1, (size_t)(dot2 - dot - 1), pay, sizeof(pay) - 1, &pn), ERR_OK);
        hdr[hn] = pay[pn] = '\0';
        sign_with(again, sizeof(again), EVP_sha256(), secrets[i], (char *)hdr, (char *)pay);
        assert_string_equal(token, again);
    }
}

static void test_alg_none_and_others(void **state)
{
    (void)state;
    char token[TOKEN_SZ], p[256];
    claims(p, sizeof(p), "");
    /* "none" with an empty signature, and with a valid HS256 MAC. */
    sign_with(token, sizeof(token), NULL, SECRET, "{\"alg\":\"none\",\"typ\":\"JWT\"}", p);
    expect_refused(token, "Invalid token");
    sign(token, "{\"alg\":\"none\",\"typ\":\"JWT\"}", p);
    expect_refused(token, "Invalid token");
    sign(token, "{\"alg\":\"None\"}", p);
    expect_refused(token, "Invalid token");
    /* Other HMACs, with their own correct MACs. */
    sign_with(token, sizeof(token), EVP_sha512(), SECRET, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p);
    expect_refused(token, "Invalid token");
    sign_with(token, sizeof(token), EVP_sha384(), SECRET, "{\"alg\":\"HS384\"}", p);
    expect_refused(token, "Invalid token");
    /* An HS256 MAC under another name or a differently cased name. */
    sign(token, "{\"alg\":\"hs256\"}", p);
    expect_refused(token, "Invalid token");
    sign(token, "{\"alg\":\"HS512\"}", p);
    expect_refused(token, "Invalid token");
    /* Asymmetric algorithms need the JWKS, which this verifier lacks. */
    sign(token, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
    expect_refused(token, "Invalid token");
    sign(token, "{\"alg\":\"EdDSA\"}", p);
    expect_refused(token, "Invalid token");
    sign(token, "{\"alg\":\"ES256\"}", p);
    expect_refused(token, "Invalid token");
    /* No alg, a non-string alg. */
    sign(token, "{\"typ\":\"JWT\"}", p);
    expect_refused(token, "Invalid token");
    sign(token, "{\"alg\":256}", p);
    expect_refused(token, "Invalid token");
}

static void test_header_rules(void **state)
{
    (void)state;
    char token[TOKEN_SZ], p[256];
    claims(p, sizeof(p), "");
    struct jwt_claims c;
    expect_accepted(sign(token, "{\"alg\":\"HS256\"}", p), &c);
    expect_accepted(sign(token, "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", p), &c);
    expect_refused(sign(token, "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", p), "Invalid token");
    /* Regression: C string compares stopped at an escaped NUL, so these verified. */
    expect_refused(sign(token, "{\"alg\":\"HS256\\u0000x\"}", p), "Invalid token");
    expect_refused(sign(token, "{\"alg\":\"HS256\\u0000\"}", p), "Invalid token");
    expect_refused(sign(token, "{\"alg\":\"HS256\",\"typ\":\"JWT\\u0000junk\"}", p),
                   "Invalid token");
    expect_refused(sign(token, "{\"alg\":\"HS256\",\"typ\":1}", p), "Invalid token");
    expect_refused(sign(token, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", p), "Invalid token");
    expect_refused(sign(token, "[\"HS256\"]", p), "Invalid token");
    expect_refused(sign(token, "not json", p), "Invalid token");
}

static void test_tampered_payload(void **state)
{
    (void)state;
    char token[TOKEN_SZ], forged[TOKEN_SZ];
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW, 3600, token, sizeof(token)), ERR_OK);
    /* Keep header and signature, swap the payload for another user's. */
    char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    char p[256], pb[512];
    snprintf(p, sizeof(p), "{\"sub\":\"admin\",\"iat\":%d,\"exp\":%d,\"iss\":\"todo\"}", NOW,
             NOW + 3600);
    b64(p, strlen(p), pb, sizeof(pb));
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(d1 - token), token, pb, d2);
    expect_refused(forged, "Invalid token");

    /* Flip one character of the payload and of the signature. */
    snprintf(forged, sizeof(forged), "%s", token);
    forged[(d1 - token) + 3] = forged[(d1 - token) + 3] == 'A' ? 'B' : 'A';
    expect_refused(forged, "Invalid token");
    snprintf(forged, sizeof(forged), "%s", token);
    size_t n = strlen(forged);
    forged[n - 5] = forged[n - 5] == 'A' ? 'B' : 'A';
    expect_refused(forged, "Invalid token");
    /* Header edited to say something else, signature unchanged. */
    static const char kid_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}";
    char hb[128];
    b64(kid_header, strlen(kid_header), hb, sizeof(hb));
    snprintf(forged, sizeof(forged), "%s%s", hb, d1);
    expect_refused(forged, "Invalid token");
}

static void test_truncated_signature(void **state)
{
    (void)state;
    char token[TOKEN_SZ];
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW, 3600, token, sizeof(token)), ERR_OK);
    size_t n = strlen(token);
    for (size_t cut = 1; cut <= 8; cut++) {
        char t[TOKEN_SZ];
        snprintf(t, sizeof(t), "%.*s", (int)(n - cut), token);
        expect_refused(t, "Invalid token");
    }
    /* Signature removed entirely ("h.p."). */
    char *d2 = strrchr(token, '.');
    d2[1] = '\0';
    expect_refused(token, "Invalid token");
}

static void test_bad_base64url(void **state)
{
    (void)state;
    char token[TOKEN_SZ];
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW, 3600, token, sizeof(token)), ERR_OK);
    static const char bad_chars[] = {'+', '/', '=', ' ', '*', '\n'};
    size_t n = strlen(token);
    const char *d1 = strchr(token, '.');
    size_t spots[] = {2, (size_t)(d1 - token) + 2, n - 2};
    for (size_t i = 0; i < ARRAY_LEN(bad_chars); i++) {
        for (size_t j = 0; j < ARRAY_LEN(spots); j++) {
            char t[TOKEN_SZ];
            snprintf(t, sizeof(t), "%s", token);
            t[spots[j]] = bad_chars[i];
            expect_refused(t, "Invalid token");
        }
    }
    /* Padding appended to the signature. */
    char t[TOKEN_SZ + 8];
    snprintf(t, sizeof(t), "%s=", token);
    expect_refused(t, "Invalid token");
}

static void test_part_count(void **state)
{
    (void)state;
    char token[TOKEN_SZ], t[TOKEN_SZ + 8];
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW, 3600, token, sizeof(token)), ERR_OK);
    snprintf(t, sizeof(t), "%s.", token);
    expect_refused(t, "Invalid token");
    snprintf(t, sizeof(t), "%s.e30", token);
    expect_refused(t, "Invalid token");
    snprintf(t, sizeof(t), ".%s", token);
    expect_refused(t, "Invalid token");
    *strrchr(token, '.') = '\0'; /* header.payload */
    expect_refused(token, "Invalid token");
    expect_refused("..", "Invalid token");
    expect_refused("...", "Invalid token");
    expect_refused("abc", "Invalid token");
    expect_refused("", "Invalid token");
    expect_refused(NULL, "Invalid token");
    /* An empty header or payload part. */
    char p[256];
    claims(p, sizeof(p), "");
    sign(token, HS256_HDR, p);
    char *d1 = strchr(token, '.');
    snprintf(t, sizeof(t), "%s", d1);
    expect_refused(t, "Invalid token");
}

static void test_expiry_and_leeway(void **state)
{
    (void)state;
    char token[TOKEN_SZ], p[256];
    struct jwt_claims c;
    /* Issued an hour ago for 30 minutes: expired well beyond the leeway. */
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW - 3600, 1800, token, sizeof(token)),
                     ERR_OK);
    expect_refused(token, "Token expired");

    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d}", NOW - JWT_LEEWAY_S - 1);
    expect_refused(sign(token, HS256_HDR, p), "Token expired");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d}", NOW - JWT_LEEWAY_S);
    expect_accepted(sign(token, HS256_HDR, p), &c);
    assert_int_equal(c.exp, NOW - JWT_LEEWAY_S);
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d}", NOW - 30);
    expect_accepted(sign(token, HS256_HDR, p), &c);
    /* exp as a JSON real is read as seconds. */
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d.5}", NOW + 100);
    expect_accepted(sign(token, HS256_HDR, p), &c);
    assert_int_equal(c.exp, NOW + 100);
    /* A bad signature is reported as invalid, not as expired. */
    assert_int_equal(jwt_issue("other-secret-0123456789abcdef0123456789", "user-1", NULL,
                               NOW - 3600, 1, token, sizeof(token)),
                     ERR_OK);
    expect_refused(token, "Invalid token");
}

static void test_not_before(void **state)
{
    (void)state;
    char token[TOKEN_SZ], p[256], extra[64];
    struct jwt_claims c;
    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW + JWT_LEEWAY_S + 1);
    expect_refused(sign(token, HS256_HDR, claims(p, sizeof(p), extra)), "Invalid token");
    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW + 3000);
    expect_refused(sign(token, HS256_HDR, claims(p, sizeof(p), extra)), "Invalid token");
    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW + JWT_LEEWAY_S);
    expect_accepted(sign(token, HS256_HDR, claims(p, sizeof(p), extra)), &c);
    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW - 100);
    expect_accepted(sign(token, HS256_HDR, claims(p, sizeof(p), extra)), &c);
    expect_refused(sign(token, HS256_HDR, claims(p, sizeof(p), "\"nbf\":\"soon\"")),
                   "Invalid token");
}

static void test_claim_rules(void **state)
{
    (void)state;
    char token[TOKEN_SZ], p[512];
    struct jwt_claims c;
    /* exp is required and numeric. */
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"iat\":%d}", NOW);
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":\"%d\"}", NOW + 100);
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":null}");
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":1e300}");
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    /* sub must be a non-empty string without NULs, at most JWT_SUB_MAX bytes. */
    static const char *subs[] = {"123",  "null",         "\"\"", "[\"u\"]", "{\"id\":\"u\"}",
                                 "true", "\"a\\u0000b\""};
    for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
        snprintf(p, sizeof(p), "{\"sub\":%s,\"exp\":%d}", subs[i], NOW + 100);
        expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    }
    snprintf(p, sizeof(p), "{\"exp\":%d}", NOW + 100);
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    char sub[JWT_SUB_MAX + 2];
    memset(sub, 's', sizeof(sub) - 1);
    sub[JWT_SUB_MAX] = '\0';
    snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"exp\":%d}", sub, NOW + 100);
    expect_accepted(sign(token, HS256_HDR, p), &c);
    assert_int_equal(strlen(c.sub), JWT_SUB_MAX);
    sub[JWT_SUB_MAX] = 's';
    sub[JWT_SUB_MAX + 1] = '\0';
    snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"exp\":%d}", sub, NOW + 100);
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    /* iat, when present, must be numeric. */
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d,\"iat\":\"x\"}", NOW + 100);
    expect_refused(sign(token, HS256_HDR, p), "Invalid token");
    /* Payload must be a JSON object. */
    expect_refused(sign(token, HS256_HDR, "[1,2]"), "Invalid token");
    expect_refused(sign(token, HS256_HDR, "{\"sub\":\"u\","), "Invalid token");
    /* An over-long or non-string email is ignored, not fatal. */
    char email[JWT_EMAIL_MAX + 16];
    memset(email, 'e', sizeof(email) - 1);
    email[sizeof(email) - 1] = '\0';
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d,\"email\":\"%s\"}", NOW + 100, email);
    expect_accepted(sign(token, HS256_HDR, p), &c);
    assert_string_equal(c.email, "");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%d,\"email\":5}", NOW + 100);
    expect_accepted(sign(token, HS256_HDR, p), &c);
    assert_string_equal(c.email, "");
}

static void test_far_future_expiry(void **state)
{
    (void)state;
    /* Regression (fixed): jwt_verify (src/auth/jwt.c) tests `now > exp + JWT_LEEWAY_S`; with a
     * correctly signed token whose exp is 9223372036854775807 (INT64_MAX) the addition overflows
     * (signed overflow, undefined behaviour: UBSan aborts the ASan build with "signed integer
     * overflow"; the release build wraps and answers "Token expired"). Write it as
     * `exp < now - JWT_LEEWAY_S` or clamp exp. */

    char token[TOKEN_SZ];
    struct jwt_claims c;
    expect_accepted(sign(token, HS256_HDR, "{\"sub\":\"u\",\"exp\":9223372036854775807}"), &c);
    assert_int_equal(c.exp, INT64_MAX);
}

static void test_overlong_token(void **state)
{
    (void)state;
    /* A correctly signed token just over JWT_MAX_LEN, padded through an ignored claim. */
    char *token = malloc(TOKEN_SZ * 2);
    char *p = malloc(TOKEN_SZ);
    assert_non_null(token);
    assert_non_null(p);
    int used = snprintf(p, TOKEN_SZ, "{\"sub\":\"u\",\"exp\":%d,\"pad\":\"", NOW + 100);
    size_t pad = 3 * JWT_MAX_LEN / 4;
    memset(p + used, 'x', pad);
    strcpy(p + used + pad, "\"}");
    sign_with(token, TOKEN_SZ * 2, EVP_sha256(), SECRET, HS256_HDR, p);
    assert_true(strlen(token) > JWT_MAX_LEN);
    expect_refused(token, "Invalid token");
    /* A long run of junk is refused without reading it all. */
    memset(token, 'a', TOKEN_SZ * 2 - 1);
    token[TOKEN_SZ * 2 - 1] = '\0';
    expect_refused(token, "Invalid token");
    free(token);
    free(p);
}

/* A token verified once is remembered (jwt.c's cache), and a repeat must still be checked in
 * full where it matters: its expiry and not-before at the new time, the secret (another
 * secret refuses it), and its bytes (a token one byte off is verified afresh). */
static void test_remembered_tokens_are_still_checked(void **state)
{
    (void)state;
    jwt_cache_clear();
    char token[TOKEN_SZ], p[256], extra[64];
    struct jwt_claims c;
    const char *why;
    assert_int_equal(jwt_issue(SECRET, "user-1", "a@example.com", NOW, 600, token, sizeof(token)),
                     ERR_OK);
    expect_accepted(token, &c);
    expect_accepted(token, &c); /* remembered */
    assert_string_equal(c.sub, "user-1");
    assert_string_equal(c.email, "a@example.com");
    assert_int_equal(c.exp, NOW + 600);
    why = NULL;
    assert_int_equal(jwt_verify(&verifier, token, NOW + 600 + JWT_LEEWAY_S + 1, &c, &why),
                     ERR_AUTH);
    assert_string_equal(why, "Token expired");
    const struct jwt_verifier other = {.secret = SECRET "x", .jwks = NULL};
    why = NULL;
    assert_int_equal(jwt_verify(&other, token, NOW, &c, &why), ERR_AUTH);
    assert_string_equal(why, "Invalid token");
    const struct jwt_verifier no_secret = {.secret = NULL, .jwks = NULL};
    assert_int_equal(jwt_verify(&no_secret, token, NOW, &c, &why), ERR_AUTH);
    size_t len = strlen(token);
    token[len - 1] = token[len - 1] == 'A' ? 'B' : 'A'; /* the signature's last character */
    expect_refused(token, "Invalid token");
    /* Not before: remembered at a time it is valid, refused at an earlier one. */
    snprintf(extra, sizeof(extra), "\"nbf\":%d", NOW);
    sign(token, HS256_HDR, claims(p, sizeof(p), extra));
    expect_accepted(token, &c);
    why = NULL;
    assert_int_equal(jwt_verify(&verifier, token, NOW - JWT_LEEWAY_S - 1, &c, &why), ERR_AUTH);
    assert_string_equal(why, "Invalid token");
    jwt_cache_clear();
}

static void test_issue_bounds(void **state)
{
    (void)state;
    char small[32];
    assert_int_equal(jwt_issue(SECRET, "user-1", NULL, NOW, 60, small, sizeof(small)), ERR_TOOBIG);
    char *sub = malloc(JWT_MAX_LEN);
    assert_non_null(sub);
    memset(sub, 'u', JWT_MAX_LEN - 1);
    sub[JWT_MAX_LEN - 1] = '\0';
    char token[TOKEN_SZ];
    assert_int_not_equal(jwt_issue(SECRET, sub, NULL, NOW, 60, token, sizeof(token)), ERR_OK);
    free(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_hmac_matches_openssl),
        cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_truncated_signature),
        cmocka_unit_test(test_bad_base64url),
        cmocka_unit_test(test_part_count),
        cmocka_unit_test(test_expiry_and_leeway),
        cmocka_unit_test(test_not_before),
        cmocka_unit_test(test_claim_rules),
        cmocka_unit_test(test_far_future_expiry),
        cmocka_unit_test(test_overlong_token),
        cmocka_unit_test(test_issue_bounds),
        cmocka_unit_test(test_remembered_tokens_are_still_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
