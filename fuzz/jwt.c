/*
 * Fuzz target: JWT and JWKS parsing. The first byte picks what the rest is:
 *   0  a bearer token, verified as the server does (HS256 with the secret, or EdDSA/ES256
 *      against a JWKS holding RFC 8037's and RFC 7515's public keys);
 *   1  "header JSON\npayload JSON", signed here with the HS256 secret and then verified: the
 *      claims' rules behind a good signature;
 *   2  a JWKS document, loaded into a fresh set, whose keys then verify a fixed signing
 *      input (a bad signature must be refused, never crash).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/b64url.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/err.h"
#include "fuzz.h"

#define SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"
#define NOW    1700000000

static const char JWKS_DOC[] =
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
    "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"kid\":\"rfc8037-a\",\"alg\":\"EdDSA\","
    "\"use\":\"sig\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
    "\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":"
    "\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"kid\":\"rfc7515-a3\",\"alg\":\"ES256\"}]}";

static struct jwks *keys;

static void verify(const char *token)
{
    struct jwt_verifier v = {SECRET, keys};
    struct jwt_claims c;
    const char *why = NULL;
    int rc = jwt_verify(&v, token, NOW, &c, &why);
    if (rc == ERR_OK) {
        /* An accepted token names its user: a bounded, terminated subject. */
        if (!c.sub[0] || strlen(c.sub) > JWT_SUB_MAX || strlen(c.email) > JWT_EMAIL_MAX)
            abort();
    } else if (rc != ERR_AUTH || !why) {
        fprintf(stderr, "fuzz: jwt_verify returned %d\n", rc);
        abort();
    }
}

/* Signs header.payload (both base64url-encoded here) with the HS256 secret and verifies. */
static void sign_and_verify(const char *header, size_t hlen, const char *payload, size_t plen)
{
    static char token[3 * JWT_MAX_LEN];
    size_t n = 0;
    if (b64url_encode((const unsigned char *)header, hlen, token, JWT_MAX_LEN) != ERR_OK)
        return;
    n = strlen(token);
    token[n++] = '.';
    if (b64url_encode((const unsigned char *)payload, plen, token + n, JWT_MAX_LEN) != ERR_OK)
        return;
    n += strlen(token + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)token, n, mac,
              &mac_len))
        return;
    token[n++] = '.';
    if (b64url_encode(mac, mac_len, token + n, sizeof(token) - n) != ERR_OK)
        return;
    verify(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys && (jwks_new_static(&keys) != ERR_OK ||
                  jwks_load_json(keys, JWKS_DOC, strlen(JWKS_DOC)) != ERR_OK))
        abort();
    if (size < 1 || size > 2 * JWT_MAX_LEN)
        return 0;
    int mode = data[0] % 3;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t len = size - 1;
    if (mode == 0) {
        verify(text);
    } else if (mode == 1) {
        char *nl = memchr(text, '\n', len);
        if (nl)
            sign_and_verify(text, (size_t)(nl - text), nl + 1, len - (size_t)(nl - text) - 1);
    } else {
        struct jwks *k = NULL;
        if (jwks_new_static(&k) != ERR_OK)
            abort();
        int rc = jwks_load_json(k, text, len);
        if (rc != ERR_OK && rc != ERR_INVALID && rc != ERR_TOOBIG)
            abort();
        if (rc == ERR_OK && (jwks_count(k) == 0 || jwks_count(k) > JWKS_MAX_KEYS))
            abort();
        static const unsigned char input[] = "eyJhbGciOiJFUzI1NiJ9.e30";
        unsigned char sig[512] = {1};
        static const char *const algs[] = {"EdDSA", "ES256", "RS256"};
        static const size_t sig_lens[] = {64, 64, 256};
        for (size_t i = 0; i < 3; i++)
            if (jwks_verify(k, algs[i], NULL, input, sizeof(input) - 1, sig, sig_lens[i]) == ERR_OK)
                abort(); /* a signature of ones never verifies */
        jwks_free(k);
    }
    free(text);
    return 0;
}
