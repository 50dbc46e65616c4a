/*
 * Strict base64url (RFC 4648 §5) as used by JOSE: the URL-safe alphabet, no padding, no
 * whitespace, and only the canonical encoding of each byte string (unused trailing bits
 * must be zero). Both directions write into caller buffers and never allocate.
 */
#ifndef TODO_B64URL_H
#define TODO_B64URL_H

#include <stddef.h>

/* Bytes that n base64url characters decode to at most (exact for valid input). */
#define B64URL_DECODED_MAX(n) (((n) / 4) * 3 + ((n) % 4 ? (n) % 4 - 1 : 0))

/* Characters (without the NUL) that encoding n bytes produces. */
#define B64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Decodes the in_len characters at in (no NUL needed) into out, which has room for
 * out_size bytes, and stores the decoded length in *out_len. Returns ERR_OK, ERR_INVALID
 * (a character outside the alphabet, padding, a length of 4k+1 or non-zero trailing bits)
 * or ERR_TOOBIG (out_size too small; nothing useful is written). in may be NULL only when
 * in_len is 0. Nothing is allocated; the caller owns every buffer. */
int b64url_decode(const char *in, size_t in_len, unsigned char *out, size_t out_size,
                  size_t *out_len);

/* Encodes in_len bytes at in as unpadded base64url plus a NUL into out (out_size bytes,
 * at least B64URL_ENCODED_LEN(in_len) + 1). Returns ERR_OK, ERR_TOOBIG (out too small) or
 * ERR_INVALID (in is NULL with in_len > 0); on failure out holds an empty string when
 * out_size > 0. The caller owns every buffer. */
int b64url_encode(const unsigned char *in, size_t in_len, char *out, size_t out_size);

#endif
