/*
 * JSON Web Key Sets for verifying asymmetric JWS signatures, as published by Better Auth's
 * jwt() plugin at {BETTER_AUTH_URL}/api/auth/jwks. Supported keys: OKP/Ed25519 (EdDSA),
 * EC/P-256 (ES256) and RSA of JWKS_RSA_MIN_BITS or more (RS256). A token's alg must name
 * the key's type exactly, so a key can never be used with another algorithm.
 *
 * A set is fetched once when it is created (through io/httpc.h), refetched (rate limited)
 * when a token names a kid it does not hold — that verify waits for the fetch — and
 * refreshed in the background when a verify finds it older than JWKS_MAX_AGE_S (so a key
 * removed from the JWKS stops verifying soon after that time). A failed fetch keeps the
 * keys already held.
 */
#ifndef TODO_JWKS_H
#define TODO_JWKS_H

#include <stddef.h>
#include <stdint.h>

/* Most keys one set holds; a document listing more is refused whole. */
#define JWKS_MAX_KEYS 16
/* Largest JWKS document accepted, fetched or loaded. */
#define JWKS_DOC_MAX (64 * 1024)
/* Longest kid accepted, in bytes. */
#define JWKS_KID_MAX 128
/* Smallest and largest RSA modulus accepted. */
#define JWKS_RSA_MIN_BITS 2048
#define JWKS_RSA_MAX_BITS 8192
/* Least time between two fetches when keys are held, and when none are. */
#define JWKS_REFETCH_MIN_INTERVAL_S   30
#define JWKS_REFETCH_EMPTY_INTERVAL_S 5
/* A set older than this is refetched by the next verify that finds no fetch under way. */
#define JWKS_MAX_AGE_S 600
/* Longest JWS signing input verify accepts. */
#define JWKS_INPUT_MAX (64 * 1024)
/* Fetch limits. */
#define JWKS_FETCH_TIMEOUT_S         5
#define JWKS_FETCH_CONNECT_TIMEOUT_S 3

/* A JSON Web Key Set fetched from a URL and cached. Thread-safe. */
struct jwks;
struct httpc;

/* Creates a set for url, fetched through httpc (which must outlive the set), and starts its
 * first fetch in the background: a start does not wait for the provider, and a verify that
 * comes before the keys waits for that fetch as for any other. url must be https, or http
 * only for loopback hosts (127.0.0.0/8, ::1, localhost), and carry no user name or password:
 * anything else is ERR_INVALID. A failed first fetch is logged and is not an error: the set
 * stays empty and verify fetches again later. Returns ERR_OK, ERR_INVALID or ERR_NOMEM. url
 * is copied; the caller frees *out with jwks_free. Not on the I/O loop's thread. */
int jwks_new(struct httpc *httpc, const char *url, struct jwks **out);

/* Waits until no fetch of k is under way (each ends within its deadlines): after jwks_new,
 * the first fetch has been applied or has failed. Not on the I/O loop's thread. */
void jwks_settle(struct jwks *k);

/* Creates an empty set with no URL, filled only by jwks_load_json and never fetched (for a
 * JWKS given in configuration, and for tests). Returns ERR_OK or ERR_NOMEM; the caller frees
 * *out with jwks_free. */
int jwks_new_static(struct jwks **out);

/* Releases the set and its keys, after a background refresh under way has ended. NULL is
 * allowed. No other thread may still be using k. */
void jwks_free(struct jwks *k);

/* Loads keys from a JWKS JSON document text (used by jwks_new's fetch and by tests).
 * Replaces the current set. Keys of other types, curves or uses ("use" other than "sig",
 * "key_ops" without "verify"), with a missing or malformed member, a kid longer than
 * JWKS_KID_MAX, an "alg" that does not fit the key type, or an RSA modulus out of range
 * are skipped, as RFC 7517 §5 asks. The document is refused whole, and the current set
 * kept, when it is over JWKS_DOC_MAX or lists over JWKS_MAX_KEYS keys (ERR_TOOBIG), or when
 * it is not a JSON object with a "keys" array, holds no usable key, or holds two usable
 * keys of one type with the same kid (ERR_INVALID). ERR_NOMEM on allocation failure.
 * json need not be NUL-terminated; the caller keeps ownership of it. */
int jwks_load_json(struct jwks *k, const char *json, size_t len);

/* Verifies a JWS signature: alg is exactly "EdDSA", "ES256" or "RS256"; kid may be NULL
 * (then the only key of a matching type is used, if exactly one). input is the JWS signing
 * input (header.payload base64url text), sig the decoded signature (64 bytes r||s for
 * ES256, 64 for EdDSA, the modulus size for RS256). When kid is unknown, refetches the set
 * at most once per JWKS_REFETCH_MIN_INTERVAL_S and retries. Returns ERR_OK, ERR_AUTH (bad
 * signature, unknown key, alg/key mismatch, bad arguments), or ERR_UNAVAILABLE (no cached
 * key fits the token and the last fetch of the JWKS failed). Borrows every argument. */
int jwks_verify(struct jwks *k, const char *alg, const char *kid, const unsigned char *input,
                size_t input_len, const unsigned char *sig, size_t sig_len);

/* Number of keys currently held (for health checks and tests). */
size_t jwks_count(struct jwks *k);

/* Overrides JWKS_REFETCH_MIN_INTERVAL_S (and the empty-set interval, when shorter) for
 * this set, in milliseconds; 0 allows a fetch on every miss. For tests. */
void jwks_set_refetch_interval_ms(struct jwks *k, int64_t ms);

/* Overrides JWKS_MAX_AGE_S for this set, in milliseconds. For tests. */
void jwks_set_max_age_ms(struct jwks *k, int64_t ms);

#endif
