/*
 * One JSON Web Key (RFC 7517) for the JWKS code in jwks.c, which alone includes this
 * header: parsing a JWK object into an OpenSSL public key, the alg -> key type map, and
 * checking a JWS signature with one key. Supported: OKP/Ed25519 (EdDSA), EC/P-256 (ES256)
 * and RSA (RS256); see jwks.h for the rules a key must meet.
 */
#ifndef TODO_JWK_H
#define TODO_JWK_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "yyjson.h"

#include "auth/jwks.h"

/* Most members the JWKS object or one JWK object may have (x5c and the like included). */
#define JWK_MAX_MEMBERS 64

enum jwk_type { JWK_NONE = 0, JWK_ED25519, JWK_P256, JWK_RSA };

/* One usable key. pkey is owned by the entry (one reference). */
struct jwk {
    enum jwk_type type;
    bool has_kid;
    size_t kid_len;
    char kid[JWKS_KID_MAX + 1];
    EVP_PKEY *pkey;
};

/* Maps a token alg to the key type it needs; exact, case-sensitive match only. JWK_NONE
 * for any other alg, "none" included. */
enum jwk_type jwk_alg_type(const char *alg);

/* Parses one JWK into *out. Returns ERR_OK, or ERR_INVALID for a key to skip (unsupported,
 * not for signatures, malformed). On success out->pkey is a new reference the caller owns
 * (release with EVP_PKEY_free); on failure out holds nothing. Borrows obj. */
int jwk_parse(yyjson_val *obj, struct jwk *out);

/* Checks sig over input with pkey, whose type decides the scheme: Ed25519, ECDSA P-256
 * with SHA-256 (sig is raw r||s), or RSA PKCS#1 v1.5 with SHA-256. Returns ERR_OK or
 * ERR_AUTH. Borrows all. */
int jwk_verify(EVP_PKEY *pkey, enum jwk_type type, const unsigned char *input, size_t input_len,
               const unsigned char *sig, size_t sig_len);

#endif
