/*
 * Strict base64url (see b64url.h) on top of libsodium's constant-time codec. With the
 * URLSAFE_NO_PADDING variant, no ignore set and no end pointer, sodium_base642bin already
 * rejects characters outside the alphabet, "=" padding, a dangling sextet and non-zero
 * trailing bits; this file adds the size checks libsodium would otherwise answer with an
 * abort (encoding) or an ambiguous error (decoding).
 */
#include "auth/b64url.h"

#include <stdint.h>

#include <sodium.h>

#include "core/err.h"

#define B64URL_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

int b64url_decode(const char *in, size_t in_len, unsigned char *out, size_t out_size,
                  size_t *out_len)
{
    *out_len = 0;
    if (in_len == 0)
        return ERR_OK;
    if (!in)
        return ERR_INVALID;
    /* A lone trailing character carries 6 bits, less than a byte: never canonical. */
    if (in_len % 4 == 1)
        return ERR_INVALID;
    size_t need = B64URL_DECODED_MAX(in_len);
    if (need > out_size || !out)
        return ERR_TOOBIG;
    size_t n = 0;
    if (sodium_base642bin(out, out_size, in, in_len, NULL, &n, NULL, B64URL_VARIANT) != 0)
        return ERR_INVALID;
    if (n != need)
        return ERR_INVALID;
    *out_len = n;
    return ERR_OK;
}

int b64url_encode(const unsigned char *in, size_t in_len, char *out, size_t out_size)
{
    if (out_size > 0)
        out[0] = '\0';
    /* sodium_bin2base64 aborts the process on a short buffer, so check first. */
    if (in_len > (SIZE_MAX - 4) / 4 * 3 || !out || out_size < B64URL_ENCODED_LEN(in_len) + 1)
        return ERR_TOOBIG;
    if (in_len == 0)
        return ERR_OK;
    if (!in)
        return ERR_INVALID;
    sodium_bin2base64(out, out_size, in, in_len, B64URL_VARIANT);
    return ERR_OK;
}
