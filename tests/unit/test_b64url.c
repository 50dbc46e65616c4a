/*
 * Unit tests for strict base64url (src/auth/b64url.c): the RFC 4648 vectors, the URL-safe
 * alphabet, and every way a non-canonical or foreign encoding must be refused, plus the
 * buffer bounds in both directions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/b64url.h"
#include "core/err.h"
#include "core/util.h"

/* Longest round-trip input tried. */
#define ROUND_TRIP_MAX 96

/* RFC 4648 §10 vectors, unpadded. */
static const struct {
    const char *bin;
    const char *text;
} vectors[] = {
    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

/* Decodes the NUL-terminated text into a 64-byte buffer; returns the error code. */
static int decode_str(const char *text, unsigned char *out, size_t *len)
{
    return b64url_decode(text, strlen(text), out, 64, len);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
        char text[32];
        assert_int_equal(b64url_encode((const unsigned char *)vectors[i].bin,
                                       strlen(vectors[i].bin), text, sizeof(text)),
                         ERR_OK);
        assert_string_equal(text, vectors[i].text);
        unsigned char bin[64];
        size_t len = 99;
        assert_int_equal(decode_str(vectors[i].text, bin, &len), ERR_OK);
        assert_int_equal(len, strlen(vectors[i].bin));
        assert_memory_equal(bin, vectors[i].bin, len);
    }
}

static void test_urlsafe_alphabet(void **state)
{
    (void)state;
    const unsigned char bin[] = {0xfb, 0xff, 0xbf};
    char text[8];
    assert_int_equal(b64url_encode(bin, sizeof(bin), text, sizeof(text)), ERR_OK);
    assert_string_equal(text, "-_-_");
    unsigned char out[64];
    size_t len = 0;
    assert_int_equal(decode_str("-_-_", out, &len), ERR_OK);
    assert_int_equal(len, sizeof(bin));
    assert_memory_equal(out, bin, sizeof(bin));
}

static void test_rejects_foreign_text(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg==",     /* padding */
        "Zm8=",     /* padding */
        "Zm9v+A",   /* standard alphabet */
        "Zm9v/A",   /* standard alphabet */
        " Zg",      /* whitespace */
        "Zg\n",     /* whitespace */
        "Zm9v\tYg", /* whitespace inside */
        "Zm.v",     /* punctuation */
        "Z",        /* 4k+1 characters */
        "Zm9vY",    /* 4k+1 characters */
        "Zh",       /* non-zero trailing bits ("f" is "Zg") */
        "Zm9",      /* non-zero trailing bits ("fo" is "Zm8") */
        "Zm9vYh",   /* non-zero trailing bits */
        "\xc3\xa9", /* UTF-8 */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        unsigned char out[64];
        size_t len = 99;
        assert_int_equal(decode_str(bad[i], out, &len), ERR_INVALID);
        assert_int_equal(len, 0);
    }
}

static void test_rejects_embedded_nul(void **state)
{
    (void)state;
    const char text[] = {'Z', 'm', '\0', 'v'};
    unsigned char out[8];
    size_t len = 0;
    assert_int_equal(b64url_decode(text, sizeof(text), out, sizeof(out), &len), ERR_INVALID);
}

static void test_decode_bounds(void **state)
{
    (void)state;
    unsigned char out[6];
    size_t len = 0;
    /* "foobar" needs 6 bytes: 5 is too small, 6 fits exactly. */
    assert_int_equal(b64url_decode("Zm9vYmFy", 8, out, 5, &len), ERR_TOOBIG);
    assert_int_equal(len, 0);
    assert_int_equal(b64url_decode("Zm9vYmFy", 8, out, 6, &len), ERR_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "foobar", 6);
    /* Only in_len characters are read, whatever follows. */
    assert_int_equal(b64url_decode("Zm9vYmFy!!!", 4, out, sizeof(out), &len), ERR_OK);
    assert_int_equal(len, 3);
    assert_int_equal(b64url_decode(NULL, 0, out, sizeof(out), &len), ERR_OK);
    assert_int_equal(len, 0);
    assert_int_equal(b64url_decode(NULL, 4, out, sizeof(out), &len), ERR_INVALID);
}

static void test_encode_bounds(void **state)
{
    (void)state;
    char text[9];
    /* "foobar" encodes to 8 characters and needs 9 bytes with the NUL. */
    memset(text, 'x', sizeof(text));
    assert_int_equal(b64url_encode((const unsigned char *)"foobar", 6, text, 8), ERR_TOOBIG);
    assert_string_equal(text, "");
    assert_int_equal(b64url_encode((const unsigned char *)"foobar", 6, text, 9), ERR_OK);
    assert_string_equal(text, "Zm9vYmFy");
    assert_int_equal(b64url_encode((const unsigned char *)"f", 1, text, 0), ERR_TOOBIG);
    assert_int_equal(b64url_encode(NULL, 3, text, sizeof(text)), ERR_INVALID);
    assert_int_equal(B64URL_ENCODED_LEN(0), 0);
    assert_int_equal(B64URL_ENCODED_LEN(1), 2);
    assert_int_equal(B64URL_ENCODED_LEN(32), 43);
    assert_int_equal(B64URL_DECODED_MAX(43), 32);
    assert_int_equal(B64URL_DECODED_MAX(86), 64);
}

static void test_round_trip(void **state)
{
    (void)state;
    unsigned char bin[ROUND_TRIP_MAX], back[ROUND_TRIP_MAX];
    char text[B64URL_ENCODED_LEN(ROUND_TRIP_MAX) + 1];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)(i * 37u + 11u);
    for (size_t n = 0; n <= ROUND_TRIP_MAX; n++) {
        assert_int_equal(b64url_encode(bin, n, text, sizeof(text)), ERR_OK);
        assert_int_equal(strlen(text), B64URL_ENCODED_LEN(n));
        size_t len = 0;
        assert_int_equal(b64url_decode(text, strlen(text), back, sizeof(back), &len), ERR_OK);
        assert_int_equal(len, n);
        assert_memory_equal(back, bin, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),      cmocka_unit_test(test_urlsafe_alphabet),
        cmocka_unit_test(test_rejects_foreign_text), cmocka_unit_test(test_rejects_embedded_nul),
        cmocka_unit_test(test_decode_bounds),        cmocka_unit_test(test_encode_bounds),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
