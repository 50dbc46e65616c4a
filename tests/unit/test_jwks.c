/*
 * Unit tests for JWKS verification (src/auth/jwks.c). Keys are generated here with OpenSSL
 * (Ed25519, P-256, RSA-2048), published as JWKS JSON built from their raw public
 * parameters, and used to sign test inputs. Covers good signatures, tampering, key and
 * algorithm confusion, malformed and oversized sets, the RFC 8037 / RFC 7515 vectors, and
 * fetching (through httpc) from a small loopback HTTP server run by the test in a thread,
 * including the background refresh of a stale set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "auth/b64url.h"
#include "auth/jwks.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "io/httpc.h"
#include "io/loop.h"

/* Room for one JWK, a whole test document, and a signature. */
#define JWK_TEXT_MAX 2048
#define DOC_MAX      (JWKS_DOC_MAX + 1024)
#define SIG_MAX      1024
/* Loopback server limits: requests served, life time, poll step, request size. */
#define SERVER_MAX_REQUESTS 16
#define SERVER_LIFETIME_MS  20000
#define SERVER_POLL_MS      50
#define SERVER_REQ_MAX      8192
#define SERVER_BODIES_MAX   4
#define SERVER_HEAD_MAX     256
/* Concurrency test: threads, verifies per thread, reloads. */
#define RACE_THREADS  4
#define RACE_VERIFIES 200
#define RACE_RELOADS  50

static const char *const INPUT = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSJ9.eyJzdWIiOiJ1c2VyLTEifQ";
static const char *const FIXTURE = "tests/unit/fixtures/jwks/rfc_vectors.json";

/* The engine fetches go through (started in setup). */
static struct loop *loop;
static struct httpc *httpc;

/* Test keys (private, so the test can sign) and their public parameters as base64url. */
static EVP_PKEY *ed1, *ed2, *ec1, *rsa1, *rsa_small;
static char ed1_x[64], ed2_x[64], ec1_x[64], ec1_y[64], rsa1_n[1024], rsa1_e[16];
static char rsa_small_n[512];

/* ---- helpers ----------------------------------------------------------------------------- */

static void b64(const unsigned char *bin, size_t n, char *out, size_t size)
{
    assert_int_equal(b64url_encode(bin, n, out, size), ERR_OK);
}

/* Writes a BIGNUM parameter of pk as base64url, padded to pad bytes when pad > 0. */
static void bn_param_b64(EVP_PKEY *pk, const char *name, int pad, char *out, size_t size)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    assert_int_equal(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
    int n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    assert_true(n > 0);
    b64(buf, (size_t)n, out, size);
    BN_free(bn);
}

static void ed_x(EVP_PKEY *pk, char *out, size_t size)
{
    unsigned char raw[32];
    size_t len = sizeof(raw);
    assert_int_equal(EVP_PKEY_get_raw_public_key(pk, raw, &len), 1);
    b64(raw, len, out, size);
}

/* Signs input with pk as JOSE wants it: Ed25519, ES256 as raw r||s, or RS256. */
static size_t sign(EVP_PKEY *pk, const char *input, unsigned char *sig)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int id = EVP_PKEY_get_base_id(pk);
    const char *md = id == EVP_PKEY_ED25519 ? NULL : "SHA256";
    unsigned char der[SIG_MAX];
    size_t len = sizeof(der);
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pk, NULL), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &len, (const unsigned char *)input, strlen(input)),
                     1);
    EVP_MD_CTX_free(ctx);
    if (id != EVP_PKEY_EC) {
        memcpy(sig, der, len);
        return len;
    }
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(es);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32), 32);
    ECDSA_SIG_free(es);
    return 64;
}

static int verify_with(struct jwks *k, const char *alg, const char *kid, const char *input,
                       const unsigned char *sig, size_t sig_len)
{
    return jwks_verify(k, alg, kid, (const unsigned char *)input, strlen(input), sig, sig_len);
}

/* Signs INPUT with pk and verifies it as (alg, kid) against k. */
static int sign_verify(struct jwks *k, EVP_PKEY *pk, const char *alg, const char *kid)
{
    unsigned char sig[SIG_MAX];
    size_t len = sign(pk, INPUT, sig);
    return verify_with(k, alg, kid, INPUT, sig, len);
}

/* JWK texts of the test keys; extra is appended inside the object (e.g. ",\"use\":\"sig\""). */
static void ed_jwk(const char *x, const char *kid, const char *extra, char *out, size_t size)
{
    snprintf(out, size, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"%s\"%s}", x,
             kid, extra);
}

static void ec_jwk(const char *kid, const char *extra, char *out, size_t size)
{
    snprintf(out, size,
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\"%s}", ec1_x,
             ec1_y, kid, extra);
}

static void rsa_jwk(const char *n, const char *kid, const char *extra, char *out, size_t size)
{
    snprintf(out, size, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\",\"kid\":\"%s\"%s}", n, rsa1_e,
             kid, extra);
}

/* Wraps up to three JWK texts (NULL to stop) into a JWKS document. */
static void jwks_doc(char *out, size_t size, const char *a, const char *b, const char *c)
{
    snprintf(out, size, "{\"keys\":[%s%s%s%s%s]}", a ? a : "", b ? "," : "", b ? b : "",
             c ? "," : "", c ? c : "");
}

/* The standard set: ed1, ec1 and rsa1 with alg and use, as Better Auth publishes them. */
static void standard_doc(char *out, size_t size)
{
    char a[JWK_TEXT_MAX], b[JWK_TEXT_MAX], c[JWK_TEXT_MAX];
    ed_jwk(ed1_x, "ed1", ",\"alg\":\"EdDSA\",\"use\":\"sig\"", a, sizeof(a));
    ec_jwk("ec1", ",\"alg\":\"ES256\"", b, sizeof(b));
    rsa_jwk(rsa1_n, "rsa1", ",\"alg\":\"RS256\",\"key_ops\":[\"verify\"]", c, sizeof(c));
    jwks_doc(out, size, a, b, c);
}

static int load(struct jwks *k, const char *doc)
{
    return jwks_load_json(k, doc, strlen(doc));
}

/* A static set loaded with the standard document. */
static struct jwks *standard_set(void)
{
    static char doc[DOC_MAX];
    struct jwks *k = NULL;
    assert_int_equal(jwks_new_static(&k), ERR_OK);
    standard_doc(doc, sizeof(doc));
    assert_int_equal(load(k, doc), ERR_OK);
    assert_int_equal(jwks_count(k), 3);
    return k;
}

/* ---- signatures -------------------------------------------------------------------------- */

static void test_valid_signatures(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_OK);
    assert_int_equal(sign_verify(k, ec1, "ES256", "ec1"), ERR_OK);
    assert_int_equal(sign_verify(k, rsa1, "RS256", "rsa1"), ERR_OK);
    /* No kid: the only key of the alg's type. */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", NULL), ERR_OK);
    assert_int_equal(sign_verify(k, ec1, "ES256", NULL), ERR_OK);
    assert_int_equal(sign_verify(k, rsa1, "RS256", NULL), ERR_OK);
    jwks_free(k);
}

static void test_flipped_bits(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    struct {
        EVP_PKEY *pk;
        const char *alg, *kid;
    } cases[] = {{ed1, "EdDSA", "ed1"}, {ec1, "ES256", "ec1"}, {rsa1, "RS256", "rsa1"}};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        unsigned char sig[SIG_MAX];
        size_t len = sign(cases[i].pk, INPUT, sig);
        assert_int_equal(verify_with(k, cases[i].alg, cases[i].kid, INPUT, sig, len), ERR_OK);
        sig[len / 2] ^= 0x01;
        assert_int_equal(verify_with(k, cases[i].alg, cases[i].kid, INPUT, sig, len), ERR_AUTH);
        sig[len / 2] ^= 0x01;
        sig[len - 1] ^= 0x80;
        assert_int_equal(verify_with(k, cases[i].alg, cases[i].kid, INPUT, sig, len), ERR_AUTH);
        sig[len - 1] ^= 0x80;
        char input[128];
        snprintf(input, sizeof(input), "%s", INPUT);
        input[5] ^= 0x01;
        assert_int_equal(verify_with(k, cases[i].alg, cases[i].kid, input, sig, len), ERR_AUTH);
    }
    jwks_free(k);
}

static void test_wrong_kid(void **state)
{
    (void)state;
    char a[JWK_TEXT_MAX], b[JWK_TEXT_MAX], doc[DOC_MAX];
    ed_jwk(ed1_x, "ed1", "", a, sizeof(a));
    ed_jwk(ed2_x, "ed2", "", b, sizeof(b));
    jwks_doc(doc, sizeof(doc), a, b, NULL);
    struct jwks *k = NULL;
    assert_int_equal(jwks_new_static(&k), ERR_OK);
    assert_int_equal(load(k, doc), ERR_OK);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_OK);
    assert_int_equal(sign_verify(k, ed2, "EdDSA", "ed2"), ERR_OK);
    /* Signed by one key, naming the other. */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed2"), ERR_AUTH);
    /* Unknown kid; kids compare exactly. */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "nope"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ED1"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1 "), ERR_AUTH);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", ""), ERR_AUTH);
    /* No kid with two keys of the type is ambiguous. */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", NULL), ERR_AUTH);
    jwks_free(k);
}

static void test_alg_confusion(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    /* An EdDSA signature claimed as ES256, against the Ed25519 key and against any EC key. */
    assert_int_equal(sign_verify(k, ed1, "ES256", "ed1"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ed1, "ES256", NULL), ERR_AUTH);
    /* RS256 tokens against EC and OKP keys. */
    assert_int_equal(sign_verify(k, rsa1, "RS256", "ec1"), ERR_AUTH);
    assert_int_equal(sign_verify(k, rsa1, "RS256", "ed1"), ERR_AUTH);
    /* ES256 against the RSA key, EdDSA against the EC key. */
    assert_int_equal(sign_verify(k, ec1, "ES256", "rsa1"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ec1, "EdDSA", "ec1"), ERR_AUTH);
    /* A key whose own alg disagrees with its type is not loaded at all. */
    char a[JWK_TEXT_MAX], b[JWK_TEXT_MAX], doc[DOC_MAX];
    ed_jwk(ed1_x, "ed1", ",\"alg\":\"ES256\"", a, sizeof(a));
    ec_jwk("ec1", "", b, sizeof(b));
    jwks_doc(doc, sizeof(doc), a, b, NULL);
    assert_int_equal(load(k, doc), ERR_OK);
    assert_int_equal(jwks_count(k), 1);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ed1, "ES256", "ed1"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ec1, "ES256", "ec1"), ERR_OK);
    jwks_free(k);
}

static void test_unknown_alg(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    static const char *algs[] = {"none",  "None",  "HS256",  "HS384",   "HS512", "eddsa",
                                 "EDDSA", "es256", "ES256 ", "",        "RS384", "RS512",
                                 "PS256", "ES384", "ES512",  "Ed25519", "ES256K"};
    unsigned char sig[SIG_MAX];
    size_t len = sign(ed1, INPUT, sig);
    for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
        assert_int_equal(verify_with(k, algs[i], "ed1", INPUT, sig, len), ERR_AUTH);
        assert_int_equal(verify_with(k, algs[i], NULL, INPUT, sig, len), ERR_AUTH);
        assert_int_equal(verify_with(k, algs[i], "rsa1", INPUT, sig, len), ERR_AUTH);
    }
    /* "none" with an empty signature. */
    assert_int_equal(verify_with(k, "none", NULL, INPUT, sig, 0), ERR_AUTH);
    jwks_free(k);
}

static void test_signature_lengths(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    unsigned char sig[SIG_MAX];
    /* ES256: raw r||s is exactly 64 bytes; DER or cut signatures are refused. */
    size_t len = sign(ec1, INPUT, sig);
    assert_int_equal(len, 64);
    assert_int_equal(verify_with(k, "ES256", "ec1", INPUT, sig, 63), ERR_AUTH);
    assert_int_equal(verify_with(k, "ES256", "ec1", INPUT, sig, 65), ERR_AUTH);
    assert_int_equal(verify_with(k, "ES256", "ec1", INPUT, sig, 0), ERR_AUTH);
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char der[SIG_MAX];
        size_t der_len = sizeof(der);
        assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, ec1, NULL), 1);
        assert_int_equal(
            EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)INPUT, strlen(INPUT)), 1);
        EVP_MD_CTX_free(ctx);
        assert_int_equal(verify_with(k, "ES256", "ec1", INPUT, der, der_len), ERR_AUTH);
    }
    /* r = 0 or s = 0. */
    unsigned char zero[64];
    memcpy(zero, sig, 64);
    memset(zero, 0, 32);
    assert_int_equal(verify_with(k, "ES256", "ec1", INPUT, zero, 64), ERR_AUTH);
    memcpy(zero, sig, 64);
    memset(zero + 32, 0, 32);
    assert_int_equal(verify_with(k, "ES256", "ec1", INPUT, zero, 64), ERR_AUTH);
    /* EdDSA: exactly 64. */
    len = sign(ed1, INPUT, sig);
    assert_int_equal(verify_with(k, "EdDSA", "ed1", INPUT, sig, len - 1), ERR_AUTH);
    sig[len] = 0;
    assert_int_equal(verify_with(k, "EdDSA", "ed1", INPUT, sig, len + 1), ERR_AUTH);
    /* RS256: exactly the modulus size. */
    len = sign(rsa1, INPUT, sig);
    assert_int_equal(len, 256);
    assert_int_equal(verify_with(k, "RS256", "rsa1", INPUT, sig, len - 1), ERR_AUTH);
    sig[len] = 0;
    assert_int_equal(verify_with(k, "RS256", "rsa1", INPUT, sig, len + 1), ERR_AUTH);
    unsigned char shifted[SIG_MAX];
    shifted[0] = 0;
    memcpy(shifted + 1, sig, len);
    assert_int_equal(verify_with(k, "RS256", "rsa1", INPUT, shifted, len + 1), ERR_AUTH);
    jwks_free(k);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    unsigned char sig[SIG_MAX];
    size_t len = sign(ed1, INPUT, sig);
    const unsigned char *in = (const unsigned char *)INPUT;
    assert_int_equal(jwks_verify(NULL, "EdDSA", "ed1", in, strlen(INPUT), sig, len), ERR_AUTH);
    assert_int_equal(jwks_verify(k, NULL, "ed1", in, strlen(INPUT), sig, len), ERR_AUTH);
    assert_int_equal(jwks_verify(k, "EdDSA", "ed1", NULL, strlen(INPUT), sig, len), ERR_AUTH);
    assert_int_equal(jwks_verify(k, "EdDSA", "ed1", in, 0, sig, len), ERR_AUTH);
    assert_int_equal(jwks_verify(k, "EdDSA", "ed1", in, strlen(INPUT), NULL, len), ERR_AUTH);
    assert_int_equal(jwks_verify(k, "EdDSA", "ed1", in, JWKS_INPUT_MAX + 1, sig, len), ERR_AUTH);
    assert_int_equal(jwks_load_json(NULL, "{}", 2), ERR_INVALID);
    assert_int_equal(jwks_load_json(k, NULL, 2), ERR_INVALID);
    assert_int_equal(jwks_count(k), 3);
    jwks_free(NULL);
    jwks_free(k);
}

static void test_kid_limits(void **state)
{
    (void)state;
    char kid[JWKS_KID_MAX + 2];
    memset(kid, 'k', sizeof(kid));
    kid[JWKS_KID_MAX] = '\0';
    char a[JWK_TEXT_MAX], doc[DOC_MAX];
    ed_jwk(ed1_x, kid, "", a, sizeof(a));
    jwks_doc(doc, sizeof(doc), a, NULL, NULL);
    struct jwks *k = NULL;
    assert_int_equal(jwks_new_static(&k), ERR_OK);
    assert_int_equal(load(k, doc), ERR_OK);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", kid), ERR_OK);
    /* A token kid one longer is refused before any lookup. */
    kid[JWKS_KID_MAX] = 'k';
    kid[JWKS_KID_MAX + 1] = '\0';
    assert_int_equal(sign_verify(k, ed1, "EdDSA", kid), ERR_AUTH);
    /* A JWK kid one longer is skipped, leaving no usable key. */
    ed_jwk(ed1_x, kid, "", a, sizeof(a));
    jwks_doc(doc, sizeof(doc), a, NULL, NULL);
    assert_int_equal(load(k, doc), ERR_INVALID);
    jwks_free(k);
}

/* ---- malformed sets ---------------------------------------------------------------------- */

/* Loads doc into a set holding the standard keys and checks the code, that the set is left
 * unchanged, and that it still verifies. */
static void expect_refused(struct jwks *k, const char *doc, size_t len, int want)
{
    assert_int_equal(jwks_load_json(k, doc, len), want);
    assert_int_equal(jwks_count(k), 3);
    assert_int_equal(sign_verify(k, ec1, "ES256", "ec1"), ERR_OK);
}

static void test_malformed_documents(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    static const char *docs[] = {
        "",
        "not json",
        "null",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":\"x\"}",
        "{\"keys\":[]}",
        "{\"keys\":[1,\"x\",null,[],{}]}",
        "{\"keys\":[{\"kty\":\"OKP\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":7}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\",\"y\":\"\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
        "{\"keys\":[]} trailing",
        "{\"keys\":[],}",
        "{\"keys\":[/* c */]}",
    };
    for (size_t i = 0; i < ARRAY_LEN(docs); i++)
        expect_refused(k, docs[i], strlen(docs[i]), ERR_INVALID);
    /* Not NUL-terminated: only len bytes are read. */
    char doc[DOC_MAX];
    standard_doc(doc, sizeof(doc));
    expect_refused(k, doc, strlen(doc) - 1, ERR_INVALID);
    jwks_free(k);
}

/* Each of these JWK texts must be skipped; a document holding only it is refused. */
static void test_malformed_keys(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    char x_padded[80], x_std[80], x_short[80], x_long[80], y_off[80], n_small[1024];
    unsigned char raw[40];
    memset(raw, 0x11, sizeof(raw));
    snprintf(x_padded, sizeof(x_padded), "%s=", ed1_x);
    snprintf(x_std, sizeof(x_std), "%s", ed1_x);
    x_std[3] = '+';
    x_std[7] = '/';
    b64(raw, 31, x_short, sizeof(x_short));
    b64(raw, 33, x_long, sizeof(x_long));
    /* A y that no longer matches x: the point leaves the curve. */
    snprintf(y_off, sizeof(y_off), "%s", ec1_y);
    y_off[10] = y_off[10] == 'A' ? 'B' : 'A';
    snprintf(n_small, sizeof(n_small), "%s", rsa_small_n);

    char jwk[JWK_TEXT_MAX], doc[DOC_MAX];
    static char texts[32][JWK_TEXT_MAX];
    size_t n = 0;
    ed_jwk(x_padded, "a", "", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(x_std, "a", "", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(x_short, "a", "", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(x_long, "a", "", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"use\":\"enc\"", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"use\":7", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"key_ops\":[\"encrypt\",\"sign\"]", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"key_ops\":\"verify\"", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"alg\":\"RS256\"", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"alg\":\"none\"", texts[n], JWK_TEXT_MAX);
    n++;
    ed_jwk(ed1_x, "a", ",\"kty\":\"OKP\"", texts[n], JWK_TEXT_MAX); /* repeated member */
    n++;
    ed_jwk(ed1_x, "a", ",\"x\":\"AAAA\"", texts[n], JWK_TEXT_MAX); /* repeated member */
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"%s\"}", ed1_x);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"%s\"}", ed1_x);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":5}",
             ed1_x);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX,
             "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\",\"kid\":\"a\\u0000b\"}", ed1_x);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\"}", ec1_x);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
             ec1_x, y_off);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}",
             ec1_x, ec1_y);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
             ec1_x, x_short);
    n++;
    rsa_jwk(n_small, "a", "", texts[n], JWK_TEXT_MAX);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"RSA\",\"n\":\"%s\"}", rsa1_n);
    n++;
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAA\"}", rsa1_n);
    n++; /* even exponent */
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQABAQAB\"}", rsa1_n);
    n++; /* exponent over 32 bits */
    snprintf(texts[n], JWK_TEXT_MAX, "{\"kty\":\"RSA\",\"n\":\"%s=\",\"e\":\"AQAB\"}", rsa1_n);
    n++;
    assert_true(n <= ARRAY_LEN(texts));
    for (size_t i = 0; i < n; i++) {
        jwks_doc(doc, sizeof(doc), texts[i], NULL, NULL);
        expect_refused(k, doc, strlen(doc), ERR_INVALID);
    }
    /* Next to a good key, a bad one is skipped and the good one loads. */
    ed_jwk(ed2_x, "good", "", jwk, sizeof(jwk));
    jwks_doc(doc, sizeof(doc), texts[0], jwk, texts[n - 1]);
    assert_int_equal(load(k, doc), ERR_OK);
    assert_int_equal(jwks_count(k), 1);
    assert_int_equal(sign_verify(k, ed2, "EdDSA", "good"), ERR_OK);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "a"), ERR_AUTH);
    jwks_free(k);
}

static void test_limits(void **state)
{
    (void)state;
    struct jwks *k = standard_set();
    static char doc[DOC_MAX + JWKS_DOC_MAX];
    char jwk[JWK_TEXT_MAX];
    /* JWKS_MAX_KEYS keys load; one more refuses the whole document. */
    size_t off = (size_t)snprintf(doc, sizeof(doc), "{\"keys\":[");
    for (int i = 0; i < JWKS_MAX_KEYS + 1; i++) {
        char kid[16];
        snprintf(kid, sizeof(kid), "k%d", i);
        ed_jwk(i % 2 ? ed1_x : ed2_x, kid, "", jwk, sizeof(jwk));
        if (i == JWKS_MAX_KEYS) {
            struct jwks *full = NULL;
            assert_int_equal(jwks_new_static(&full), ERR_OK);
            snprintf(doc + off, sizeof(doc) - off, "]}");
            assert_int_equal(load(full, doc), ERR_OK);
            assert_int_equal(jwks_count(full), JWKS_MAX_KEYS);
            assert_int_equal(sign_verify(full, ed1, "EdDSA", "k15"), ERR_OK);
            jwks_free(full);
        }
        off += (size_t)snprintf(doc + off, sizeof(doc) - off, "%s%s", i ? "," : "", jwk);
    }
    snprintf(doc + off, sizeof(doc) - off, "]}");
    expect_refused(k, doc, strlen(doc), ERR_TOOBIG);
    /* A document over JWKS_DOC_MAX, however valid. */
    standard_doc(doc, sizeof(doc));
    size_t len = strlen(doc);
    memmove(doc + JWKS_DOC_MAX + 1 - len, doc, len);
    memset(doc, ' ', JWKS_DOC_MAX + 1 - len);
    doc[JWKS_DOC_MAX + 1] = '\0';
    expect_refused(k, doc, JWKS_DOC_MAX + 1, ERR_TOOBIG);
    /* At exactly the limit it loads. */
    assert_int_equal(jwks_load_json(k, doc + 1, JWKS_DOC_MAX), ERR_OK);
    /* A set of twice the same kid for one key type is ambiguous. */
    char a[JWK_TEXT_MAX], b[JWK_TEXT_MAX];
    ed_jwk(ed1_x, "same", "", a, sizeof(a));
    ed_jwk(ed2_x, "same", "", b, sizeof(b));
    jwks_doc(doc, sizeof(doc), a, b, NULL);
    expect_refused(k, doc, strlen(doc), ERR_INVALID);
    /* The same kid on keys of different types is allowed; alg picks the key. */
    ec_jwk("same", "", b, sizeof(b));
    jwks_doc(doc, sizeof(doc), a, b, NULL);
    assert_int_equal(load(k, doc), ERR_OK);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "same"), ERR_OK);
    assert_int_equal(sign_verify(k, ec1, "ES256", "same"), ERR_OK);
    assert_int_equal(sign_verify(k, rsa1, "RS256", "same"), ERR_AUTH);
    jwks_free(k);
}

/* ---- known-answer vectors ---------------------------------------------------------------- */

static void test_rfc_vectors(void **state)
{
    (void)state;
    static char doc[JWKS_DOC_MAX];
    FILE *f = fopen(FIXTURE, "rb");
    assert_non_null(f); /* run from the repository root, as make unit does */
    size_t len = fread(doc, 1, sizeof(doc), f);
    fclose(f);
    struct jwks *k = NULL;
    assert_int_equal(jwks_new_static(&k), ERR_OK);
    assert_int_equal(jwks_load_json(k, doc, len), ERR_OK);
    assert_int_equal(jwks_count(k), 2);
    struct {
        const char *alg, *kid, *input, *sig;
    } v[] = {
        /* RFC 8037 appendix A.4 */
        {"EdDSA", "rfc8037-a", "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
         "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"},
        /* RFC 7515 appendix A.3 */
        {"ES256", "rfc7515-a3",
         "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtc"
         "GxlLmNvbS9pc19yb290Ijp0cnVlfQ",
         "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"},
    };
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        unsigned char sig[SIG_MAX];
        size_t sig_len = 0;
        assert_int_equal(b64url_decode(v[i].sig, strlen(v[i].sig), sig, sizeof(sig), &sig_len),
                         ERR_OK);
        assert_int_equal(verify_with(k, v[i].alg, v[i].kid, v[i].input, sig, sig_len), ERR_OK);
        assert_int_equal(verify_with(k, v[i].alg, NULL, v[i].input, sig, sig_len), ERR_OK);
        sig[0] ^= 1;
        assert_int_equal(verify_with(k, v[i].alg, v[i].kid, v[i].input, sig, sig_len), ERR_AUTH);
    }
    jwks_free(k);
}

/* ---- concurrency ------------------------------------------------------------------------- */

struct race {
    struct jwks *k;
    unsigned char sig[SIG_MAX];
    size_t sig_len;
    atomic_int failures;
};

static void *race_verifier(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < RACE_VERIFIES; i++)
        if (verify_with(r->k, "ES256", "ec1", INPUT, r->sig, r->sig_len) != ERR_OK)
            atomic_fetch_add(&r->failures, 1);
    return NULL;
}

static void test_reload_while_verifying(void **state)
{
    (void)state;
    static struct race r;
    static char doc_a[DOC_MAX], doc_b[DOC_MAX];
    r.k = standard_set();
    r.sig_len = sign(ec1, INPUT, r.sig);
    atomic_init(&r.failures, 0);
    standard_doc(doc_a, sizeof(doc_a));
    char jwk[JWK_TEXT_MAX];
    ec_jwk("ec1", "", jwk, sizeof(jwk));
    jwks_doc(doc_b, sizeof(doc_b), jwk, NULL, NULL);
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_verifier, &r), 0);
    for (int i = 0; i < RACE_RELOADS; i++)
        assert_int_equal(load(r.k, i % 2 ? doc_a : doc_b), ERR_OK);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&r.failures), 0);
    jwks_free(r.k);
}

/* ---- fetching ---------------------------------------------------------------------------- */

/* A loopback HTTP server that answers each request with the next of its bodies (the last
 * one repeats) and counts requests. */
struct server {
    int fd;
    int port;
    int status;
    bool no_length; /* end the body by closing, with no Content-Length */
    const char *bodies[SERVER_BODIES_MAX];
    size_t nbodies;
    atomic_int requests;
    atomic_bool stop;
    pthread_t thread;
};

/* Reads one request head (bounded by SERVER_REQ_MAX and the socket timeout). */
static void read_request(int c)
{
    char buf[SERVER_REQ_MAX + 1];
    size_t len = 0;
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (len < SERVER_REQ_MAX) {
        ssize_t n = recv(c, buf + len, SERVER_REQ_MAX - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return;
    }
}

/* Sends all of data, giving up on any error (MSG_NOSIGNAL: the client may hang up). */
static void send_all(int c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

static void *server_main(void *arg)
{
    struct server *s = arg;
    int64_t deadline = now_mono_ms() + SERVER_LIFETIME_MS;
    int served = 0;
    while (served < SERVER_MAX_REQUESTS && !atomic_load(&s->stop) && now_mono_ms() < deadline) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, SERVER_POLL_MS) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        read_request(c);
        int i = atomic_fetch_add(&s->requests, 1);
        const char *body = s->bodies[(size_t)i < s->nbodies ? (size_t)i : s->nbodies - 1];
        char head[SERVER_HEAD_MAX], length[64] = "";
        if (!s->no_length)
            snprintf(length, sizeof(length), "Content-Length: %zu\r\n", strlen(body));
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                         "Location: http://127.0.0.2/x\r\nConnection: close\r\n\r\n",
                         s->status, length);
        send_all(c, head, (size_t)n);
        send_all(c, body, strlen(body));
        close(c);
        served++;
    }
    return NULL;
}

static void server_start(struct server *s, int status, bool no_length, const char *b0,
                         const char *b1)
{
    s->status = status;
    s->no_length = no_length;
    s->bodies[0] = b0;
    s->bodies[1] = b1;
    s->nbodies = b1 ? 2 : 1;
    atomic_init(&s->requests, 0);
    atomic_init(&s->stop, false);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    socklen_t alen = sizeof(a);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static void server_url(const struct server *s, char *out, size_t size)
{
    snprintf(out, size, "http://127.0.0.1:%d/api/auth/jwks", s->port);
}

static void test_fetch_and_refetch(void **state)
{
    (void)state;
    static struct server s;
    static char v1[DOC_MAX], v2[DOC_MAX];
    char a[JWK_TEXT_MAX], b[JWK_TEXT_MAX], url[128];
    ed_jwk(ed1_x, "ed1", ",\"alg\":\"EdDSA\"", a, sizeof(a));
    ed_jwk(ed2_x, "ed2", ",\"alg\":\"EdDSA\"", b, sizeof(b));
    jwks_doc(v1, sizeof(v1), a, NULL, NULL);
    jwks_doc(v2, sizeof(v2), a, b, NULL);
    server_start(&s, 200, true, v1, v2);
    server_url(&s, url, sizeof(url));

    struct jwks *k = NULL;
    assert_int_equal(jwks_new(httpc, url, &k), ERR_OK);
    jwks_settle(k);
    assert_int_equal(atomic_load(&s.requests), 1);
    assert_int_equal(jwks_count(k), 1);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_OK);
    /* ed2 is not held yet, and the last fetch was just now: no refetch. */
    assert_int_equal(sign_verify(k, ed2, "EdDSA", "ed2"), ERR_AUTH);
    assert_int_equal(atomic_load(&s.requests), 1);
    /* With the interval lifted, the unknown kid refetches once and then verifies. */
    jwks_set_refetch_interval_ms(k, 0);
    assert_int_equal(sign_verify(k, ed2, "EdDSA", "ed2"), ERR_OK);
    assert_int_equal(atomic_load(&s.requests), 2);
    assert_int_equal(jwks_count(k), 2);
    /* Known kids never fetch. */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_OK);
    assert_int_equal(sign_verify(k, ed2, "EdDSA", "ed2"), ERR_OK);
    assert_int_equal(atomic_load(&s.requests), 2);
    /* An unknown kid costs one fetch per attempt, and only one. */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "zzz"), ERR_AUTH);
    assert_int_equal(atomic_load(&s.requests), 3);
    /* Bad alg, over-long kid, and a kid of the wrong type never fetch. */
    assert_int_equal(sign_verify(k, ed1, "HS256", "zzz"), ERR_AUTH);
    assert_int_equal(sign_verify(k, ed1, "ES256", "ed1"), ERR_AUTH);
    assert_int_equal(atomic_load(&s.requests), 3);
    /* Back to the default interval: unknown kids no longer reach the server. */
    jwks_set_refetch_interval_ms(k, (int64_t)JWKS_REFETCH_MIN_INTERVAL_S * 1000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sign_verify(k, ed1, "EdDSA", "yyy"), ERR_AUTH);
    assert_int_equal(atomic_load(&s.requests), 3);
    jwks_free(k);
    server_stop(&s);
}

/* A set older than its maximum age is refreshed in the background: the verify that notices
 * does not wait, and the new keys arrive without another verify asking. */
static void test_stale_set_refreshes_in_the_background(void **state)
{
    (void)state;
    static struct server s;
    static char v1[DOC_MAX], v2[DOC_MAX];
    char a[JWK_TEXT_MAX], b[JWK_TEXT_MAX], url[128];
    ed_jwk(ed1_x, "ed1", "", a, sizeof(a));
    ed_jwk(ed2_x, "ed2", "", b, sizeof(b));
    jwks_doc(v1, sizeof(v1), a, NULL, NULL);
    jwks_doc(v2, sizeof(v2), a, b, NULL);
    server_start(&s, 200, false, v1, v2);
    server_url(&s, url, sizeof(url));
    struct jwks *k = NULL;
    assert_int_equal(jwks_new(httpc, url, &k), ERR_OK);
    jwks_settle(k);
    assert_int_equal(jwks_count(k), 1);
    jwks_set_refetch_interval_ms(k, 0);
    jwks_set_max_age_ms(k, 0);
    usleep(5000); /* older than 0 ms for sure */
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_OK);
    for (int i = 0; i < 500 && jwks_count(k) < 2; i++)
        usleep(10000);
    assert_int_equal(jwks_count(k), 2);
    assert_true(atomic_load(&s.requests) >= 2);
    /* The key that arrived verifies with no further fetch needed. */
    jwks_set_max_age_ms(k, (int64_t)JWKS_MAX_AGE_S * 1000);
    int before = atomic_load(&s.requests);
    assert_int_equal(sign_verify(k, ed2, "EdDSA", "ed2"), ERR_OK);
    assert_int_equal(atomic_load(&s.requests), before);
    jwks_free(k);
    server_stop(&s);
}

/* A server answering status with body (with or without a Content-Length): the set stays
 * empty and verify is unavailable. */
static void expect_fetch_refused(int status, const char *body, bool no_length)
{
    static struct server s;
    char url[128];
    server_start(&s, status, no_length, body, NULL);
    server_url(&s, url, sizeof(url));
    struct jwks *k = NULL;
    assert_int_equal(jwks_new(httpc, url, &k), ERR_OK);
    jwks_settle(k);
    assert_int_equal(atomic_load(&s.requests), 1);
    assert_int_equal(jwks_count(k), 0);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_UNAVAILABLE);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", NULL), ERR_UNAVAILABLE);
    assert_int_equal(atomic_load(&s.requests), 1);
    jwks_free(k);
    server_stop(&s);
}

static void test_fetch_failures(void **state)
{
    (void)state;
    static char good[DOC_MAX], big[JWKS_DOC_MAX + 4096];
    char a[JWK_TEXT_MAX];
    ed_jwk(ed1_x, "ed1", "", a, sizeof(a));
    jwks_doc(good, sizeof(good), a, NULL, NULL);
    expect_fetch_refused(500, good, false);
    expect_fetch_refused(404, good, false);
    /* Redirects are not followed. */
    expect_fetch_refused(302, good, false);
    expect_fetch_refused(200, "{\"keys\":[]}", false);
    expect_fetch_refused(200, "<html>", true);
    /* Over JWKS_DOC_MAX: valid JSON with a large padding member. */
    size_t off = (size_t)snprintf(big, sizeof(big), "{\"pad\":\"");
    memset(big + off, 'p', JWKS_DOC_MAX);
    snprintf(big + off + JWKS_DOC_MAX, sizeof(big) - off - JWKS_DOC_MAX, "\",\"keys\":[%s]}", a);
    expect_fetch_refused(200, big, false);
    expect_fetch_refused(200, big, true);

    /* Nothing listening: the set starts empty and verify says unavailable. */
    struct jwks *k = NULL;
    assert_int_equal(jwks_new(httpc, "http://127.0.0.1:1/api/auth/jwks", &k), ERR_OK);
    jwks_settle(k);
    assert_int_equal(jwks_count(k), 0);
    assert_int_equal(sign_verify(k, ed1, "EdDSA", "ed1"), ERR_UNAVAILABLE);
    jwks_free(k);
}

static void test_url_rules(void **state)
{
    (void)state;
    static const char *refused[] = {
        "http://example.com/api/auth/jwks",
        "http://10.0.0.1/api/auth/jwks",
        "http://128.0.0.1/api/auth/jwks",
        "http://127.0.0.1.example.com/api/auth/jwks",
        "http://localhost.example.com/api/auth/jwks",
        "http://[::2]/api/auth/jwks",
        "http://[::ffff:127.0.0.1]/api/auth/jwks",
        "https://user:pw@auth.example.com/api/auth/jwks",
        "https://user@auth.example.com/api/auth/jwks",
        "ftp://127.0.0.1/jwks",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "127.0.0.1/api/auth/jwks",
        "auth.example.com/api/auth/jwks",
        "https://",
        "",
    };
    for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
        struct jwks *k = (struct jwks *)&k;
        assert_int_equal(jwks_new(httpc, refused[i], &k), ERR_INVALID);
        assert_null(k);
    }
    struct jwks *k = NULL;
    assert_int_equal(jwks_new(httpc, NULL, &k), ERR_INVALID);
    /* Loopback http is allowed (port 1: nothing listens, so creation just logs). */
    static const char *allowed[] = {
        "http://127.0.0.1:1/api/auth/jwks", "http://127.9.9.9:1/api/auth/jwks",
        "http://localhost:1/api/auth/jwks", "HTTP://LOCALHOST:1/api/auth/jwks",
        "http://[::1]:1/api/auth/jwks",
    };
    for (size_t i = 0; i < ARRAY_LEN(allowed); i++) {
        assert_int_equal(jwks_new(httpc, allowed[i], &k), ERR_OK);
        assert_non_null(k);
        jwks_free(k);
    }
}

/* ---- main -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || loop_start(&loop) != ERR_OK ||
        httpc_new(loop, 0, &httpc) != ERR_OK)
        return -1;
    log_set_level(LOG_ERROR); /* the expected fetch failures log at WARNING */
    ed1 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    if (!ed1 || !ed2 || !ec1 || !rsa1 || !rsa_small)
        return -1;
    ed_x(ed1, ed1_x, sizeof(ed1_x));
    ed_x(ed2, ed2_x, sizeof(ed2_x));
    bn_param_b64(ec1, OSSL_PKEY_PARAM_EC_PUB_X, 32, ec1_x, sizeof(ec1_x));
    bn_param_b64(ec1, OSSL_PKEY_PARAM_EC_PUB_Y, 32, ec1_y, sizeof(ec1_y));
    bn_param_b64(rsa1, OSSL_PKEY_PARAM_RSA_N, 0, rsa1_n, sizeof(rsa1_n));
    bn_param_b64(rsa1, OSSL_PKEY_PARAM_RSA_E, 0, rsa1_e, sizeof(rsa1_e));
    bn_param_b64(rsa_small, OSSL_PKEY_PARAM_RSA_N, 0, rsa_small_n, sizeof(rsa_small_n));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(ed1);
    EVP_PKEY_free(ed2);
    EVP_PKEY_free(ec1);
    EVP_PKEY_free(rsa1);
    EVP_PKEY_free(rsa_small);
    httpc_quiesce(httpc);
    loop_stop(loop);
    httpc_free(httpc);
    loop_free(loop);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_signatures),
        cmocka_unit_test(test_flipped_bits),
        cmocka_unit_test(test_wrong_kid),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_unknown_alg),
        cmocka_unit_test(test_signature_lengths),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_kid_limits),
        cmocka_unit_test(test_malformed_documents),
        cmocka_unit_test(test_malformed_keys),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_rfc_vectors),
        cmocka_unit_test(test_reload_while_verifying),
        cmocka_unit_test(test_fetch_and_refetch),
        cmocka_unit_test(test_stale_set_refreshes_in_the_background),
        cmocka_unit_test(test_fetch_failures),
        cmocka_unit_test(test_url_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
