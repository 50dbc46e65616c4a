/*
 * One JSON Web Key (see jwk.h): a JWK object becomes an OpenSSL EVP_PKEY only after every
 * member it needs is present once, strictly base64url, of the exact size, and accepted by
 * OpenSSL's own public-key check; a JWS signature is then checked with that key, an ES256
 * signature after its conversion from raw r||s to DER.
 *
 * The alg -> key type map below is the only place an algorithm is chosen: the token's alg
 * selects a key type, only keys of that type are candidates, and the verify routine is
 * chosen by the key type, so an RS256 or HS256 token can never be checked against an EC
 * or OKP key, and "none" names no type at all.
 */
#include "auth/jwk.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "yyjson.h"

#include "auth/b64url.h"
#include "core/err.h"
#include "core/util.h"

/* Most entries of a key's key_ops array. */
#define JWK_MAX_OPS 16
/* Raw sizes of key parameters and signatures. */
#define ED25519_KEY_BYTES 32
#define ED25519_SIG_BYTES 64
#define P256_COORD_BYTES  32
#define ES256_SIG_BYTES   64
/* A modulus may carry one leading zero byte; the exponent is at most 32 bits. */
#define RSA_N_MAX_BYTES (JWKS_RSA_MAX_BITS / 8 + 1)
#define RSA_E_MAX_BYTES 4
/* DER of an ECDSA-Sig-Value for P-256: SEQUENCE header and two INTEGERs of up to 33 bytes. */
#define ES256_DER_MAX 72

/* The one token alg each key type verifies. A key's own "alg", if present, must be it. */
static const struct {
    enum jwk_type type;
    const char *alg;
} alg_table[] = {
    {JWK_ED25519, "EdDSA"},
    {JWK_P256, "ES256"},
    {JWK_RSA, "RS256"},
};

/* Maps a token alg to the key type it needs; exact, case-sensitive match only. */
enum jwk_type jwk_alg_type(const char *alg)
{
    for (size_t i = 0; i < ARRAY_LEN(alg_table); i++)
        if (strcmp(alg, alg_table[i].alg) == 0)
            return alg_table[i].type;
    return JWK_NONE;
}

static const char *type_alg(enum jwk_type type)
{
    for (size_t i = 0; i < ARRAY_LEN(alg_table); i++)
        if (alg_table[i].type == type)
            return alg_table[i].alg;
    return "";
}

/* ---- building keys -------------------------------------------------------------------- */

/* The members of a JWK this file reads. */
enum { M_KTY, M_CRV, M_X, M_Y, M_N, M_E, M_KID, M_USE, M_ALG, M_KEY_OPS, M_COUNT };
static const char *const member_names[M_COUNT] = {"kty", "crv", "x",   "y",   "n",
                                                  "e",   "kid", "use", "alg", "key_ops"};

/* Collects the members named in member_names from obj into m (NULL when absent). Returns
 * false when obj is not an object, has over JWK_MAX_MEMBERS members, or repeats one of
 * those names, since a repeated member makes the key ambiguous. Borrows obj. */
static bool collect_members(yyjson_val *obj, yyjson_val *m[M_COUNT])
{
    for (size_t i = 0; i < M_COUNT; i++)
        m[i] = NULL;
    if (!yyjson_is_obj(obj) || yyjson_obj_size(obj) > JWK_MAX_MEMBERS)
        return false;
    size_t idx, max;
    yyjson_val *key, *val;
    yyjson_obj_foreach(obj, idx, max, key, val)
    {
        for (size_t i = 0; i < M_COUNT; i++) {
            if (!yyjson_equals_str(key, member_names[i]))
                continue;
            if (m[i])
                return false;
            m[i] = val;
        }
    }
    return true;
}

/* Decodes the base64url string val into out (out_size bytes) and stores the length in
 * *len. Returns false when val is not a string or not strict base64url that fits. */
static bool decode_member(yyjson_val *val, unsigned char *out, size_t out_size, size_t *len)
{
    if (!yyjson_is_str(val))
        return false;
    return b64url_decode(yyjson_get_str(val), yyjson_get_len(val), out, out_size, len) == ERR_OK;
}

/* Like decode_member, but the decoded value must be exactly size bytes long. */
static bool decode_exact(yyjson_val *val, unsigned char *out, size_t size)
{
    size_t len = 0;
    return decode_member(val, out, size, &len) && len == size;
}

/* True when OpenSSL's own public-key check accepts pkey (point on the curve and in the
 * group for EC; odd modulus, sane exponent, no small factors for RSA). Borrows pkey. */
static bool public_ok(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* Builds a public key of the named OpenSSL type from params. Returns a new EVP_PKEY the
 * caller owns, or NULL. */
static EVP_PKEY *pkey_fromdata(const char *name, OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    if (pkey && !public_ok(pkey)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

/* An Ed25519 key from its "x" member. Returns a new EVP_PKEY the caller owns, or NULL. */
static EVP_PKEY *ed25519_key(yyjson_val *const m[M_COUNT])
{
    unsigned char x[ED25519_KEY_BYTES];
    if (!decode_exact(m[M_X], x, sizeof(x)))
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof(x));
}

/* A P-256 key from its "x" and "y" members (each exactly 32 bytes, as RFC 7518 §6.2.1.2
 * requires). Returns a new EVP_PKEY the caller owns, or NULL. */
static EVP_PKEY *p256_key(yyjson_val *const m[M_COUNT])
{
    unsigned char point[1 + 2 * P256_COORD_BYTES];
    point[0] = POINT_CONVERSION_UNCOMPRESSED;
    if (!decode_exact(m[M_X], point + 1, P256_COORD_BYTES) ||
        !decode_exact(m[M_Y], point + 1 + P256_COORD_BYTES, P256_COORD_BYTES))
        return NULL;
    char group[] = SN_X9_62_prime256v1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_construct_end(),
    };
    return pkey_fromdata("EC", params);
}

/* An RSA key from its "n" and "e" members: a modulus of JWKS_RSA_MIN_BITS to
 * JWKS_RSA_MAX_BITS and an exponent of at most RSA_E_MAX_BYTES bytes. Returns a new
 * EVP_PKEY the caller owns, or NULL. */
static EVP_PKEY *rsa_key(yyjson_val *const m[M_COUNT])
{
    unsigned char n[RSA_N_MAX_BYTES], e[RSA_E_MAX_BYTES];
    size_t n_len = 0, e_len = 0;
    if (!decode_member(m[M_N], n, sizeof(n), &n_len) ||
        !decode_member(m[M_E], e, sizeof(e), &e_len) || n_len == 0 || e_len == 0)
        return NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    if (bld && bn_n && bn_e && BN_num_bits(bn_n) >= JWKS_RSA_MIN_BITS &&
        BN_num_bits(bn_n) <= JWKS_RSA_MAX_BITS && BN_is_odd(bn_e) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        pkey = pkey_fromdata("RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* True when a key's optional "use" and "key_ops" allow verifying signatures. */
static bool usable_for_sig(yyjson_val *use, yyjson_val *ops)
{
    if (use && !yyjson_equals_str(use, "sig"))
        return false;
    if (!ops)
        return true;
    if (!yyjson_is_arr(ops) || yyjson_arr_size(ops) > JWK_MAX_OPS)
        return false;
    size_t idx, max;
    yyjson_val *op;
    yyjson_arr_foreach(ops, idx, max, op)
    {
        if (yyjson_equals_str(op, "verify"))
            return true;
    }
    return false;
}

/* The key type named by kty and crv, or JWK_NONE for types this file does not verify. */
static enum jwk_type key_type(yyjson_val *const m[M_COUNT])
{
    if (yyjson_equals_str(m[M_KTY], "OKP") && yyjson_equals_str(m[M_CRV], "Ed25519"))
        return JWK_ED25519;
    if (yyjson_equals_str(m[M_KTY], "EC") && yyjson_equals_str(m[M_CRV], "P-256"))
        return JWK_P256;
    if (yyjson_equals_str(m[M_KTY], "RSA") && !m[M_CRV])
        return JWK_RSA;
    return JWK_NONE;
}

/* Parses one JWK into *out. Returns ERR_OK, or ERR_INVALID for a key to skip (unsupported,
 * not for signatures, malformed). On success out->pkey is a new reference the caller owns
 * (release with EVP_PKEY_free); on failure out holds nothing. */
int jwk_parse(yyjson_val *obj, struct jwk *out)
{
    memset(out, 0, sizeof(*out));
    yyjson_val *m[M_COUNT];
    if (!collect_members(obj, m))
        return ERR_INVALID;
    out->type = key_type(m);
    if (out->type == JWK_NONE || !usable_for_sig(m[M_USE], m[M_KEY_OPS]))
        return ERR_INVALID;
    if (m[M_ALG] && !yyjson_equals_str(m[M_ALG], type_alg(out->type)))
        return ERR_INVALID;
    if (m[M_KID]) {
        if (!yyjson_is_str(m[M_KID]))
            return ERR_INVALID;
        const char *kid = yyjson_get_str(m[M_KID]);
        size_t len = yyjson_get_len(m[M_KID]);
        /* A kid with a NUL could never equal a token's C-string kid. */
        if (len > JWKS_KID_MAX || memchr(kid, '\0', len))
            return ERR_INVALID;
        memcpy(out->kid, kid, len);
        out->kid[len] = '\0';
        out->kid_len = len;
        out->has_kid = true;
    }
    switch (out->type) {
    case JWK_ED25519:
        out->pkey = ed25519_key(m);
        break;
    case JWK_P256:
        out->pkey = p256_key(m);
        break;
    case JWK_RSA:
        out->pkey = rsa_key(m);
        break;
    default:
        break;
    }
    ERR_clear_error();
    return out->pkey ? ERR_OK : ERR_INVALID;
}

/* ---- verifying ------------------------------------------------------------------------- */

/* The OpenSSL key type id that a key of the given type must have. */
static int pkey_id(enum jwk_type type)
{
    switch (type) {
    case JWK_ED25519:
        return EVP_PKEY_ED25519;
    case JWK_P256:
        return EVP_PKEY_EC;
    case JWK_RSA:
        return EVP_PKEY_RSA;
    default:
        return EVP_PKEY_NONE;
    }
}

/* Converts a raw ES256 signature (r||s, 32 bytes each) into a DER ECDSA-Sig-Value in der
 * (ES256_DER_MAX bytes). Returns ERR_OK or ERR_AUTH. Borrows every buffer. */
static int es256_der(const unsigned char *sig, unsigned char *der, size_t *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, P256_COORD_BYTES, NULL);
    BIGNUM *s = BN_bin2bn(sig + P256_COORD_BYTES, P256_COORD_BYTES, NULL);
    int rc = ERR_AUTH;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* now owned by es */
        int n = i2d_ECDSA_SIG(es, NULL);
        unsigned char *p = der;
        if (n > 0 && n <= ES256_DER_MAX && i2d_ECDSA_SIG(es, &p) == n) {
            *der_len = (size_t)n;
            rc = ERR_OK;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

/* Checks sig over input with pkey, whose type decides the scheme: Ed25519, ECDSA P-256
 * with SHA-256, or RSA PKCS#1 v1.5 with SHA-256. Returns ERR_OK or ERR_AUTH. Borrows all. */
int jwk_verify(EVP_PKEY *pkey, enum jwk_type type, const unsigned char *input, size_t input_len,
               const unsigned char *sig, size_t sig_len)
{
    unsigned char der[ES256_DER_MAX];
    const unsigned char *s = sig;
    size_t s_len = sig_len;
    const char *md = "SHA256";
    /* Lookup already matched the type; check the key itself too, cheaply. */
    if (EVP_PKEY_get_base_id(pkey) != pkey_id(type))
        return ERR_AUTH;
    switch (type) {
    case JWK_ED25519:
        if (sig_len != ED25519_SIG_BYTES)
            return ERR_AUTH;
        md = NULL; /* EdDSA hashes internally */
        break;
    case JWK_P256:
        if (sig_len != ES256_SIG_BYTES || es256_der(sig, der, &s_len) != ERR_OK)
            return ERR_AUTH;
        s = der;
        break;
    case JWK_RSA:
        if (EVP_PKEY_get_size(pkey) <= 0 || sig_len != (size_t)EVP_PKEY_get_size(pkey))
            return ERR_AUTH;
        break;
    default:
        return ERR_AUTH;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = ctx && EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL) == 1;
    if (ok && type == JWK_RSA)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    ok = ok && EVP_DigestVerify(ctx, s, s_len, input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? ERR_OK : ERR_AUTH;
}
