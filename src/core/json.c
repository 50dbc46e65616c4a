/* Bounded JSON input, and strings written straight into a builder (see json.h). */
#include "core/json.h"

#include <stdint.h>
#include <string.h>

#include "core/err.h"
#include "core/text.h"

/* Checks depth, key count and duplicate keys; recursion is bounded by JSON_MAX_DEPTH. */
static bool sane(yyjson_val *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return false;
    if (yyjson_is_arr(v)) {
        size_t i, max;
        yyjson_val *item;
        yyjson_arr_foreach(v, i, max, item)
        {
            if (!sane(item, depth + 1))
                return false;
        }
    } else if (yyjson_is_obj(v)) {
        if (yyjson_obj_size(v) > JSON_MAX_KEYS)
            return false;
        size_t i, max;
        yyjson_val *key, *val;
        yyjson_obj_foreach(v, i, max, key, val)
        {
            size_t j, jmax;
            yyjson_val *k2, *v2;
            yyjson_obj_foreach(v, j, jmax, k2, v2)
            {
                if (j >= i)
                    break;
                if (yyjson_equals(key, k2))
                    return false;
            }
            if (!sane(val, depth + 1))
                return false;
        }
    }
    return true;
}

bool json_within_limits(yyjson_val *v)
{
    return sane(v, 0);
}

int json_parse(struct arena *a, const char *text, size_t len, yyjson_doc **out, const char **why)
{
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_read_err err;
    yyjson_doc *doc = yyjson_read_opts((char *)text, len, 0, &alc, &err);
    if (!doc) {
        bool full = err.code == YYJSON_READ_ERROR_MEMORY_ALLOCATION;
        *why = full ? "The JSON text is too large to parse" : "Malformed JSON in request body";
        return full ? ERR_NOMEM : ERR_INVALID;
    }
    if (!sane(yyjson_doc_get_root(doc), 0)) {
        *why = "JSON body nests too deeply, has too many keys in an object or repeats a key";
        return ERR_INVALID;
    }
    *out = doc;
    return ERR_OK;
}

/* 0: copied as is; 1: escaped; 2: a byte of a UTF-8 sequence (checked once per string). */
/* clang-format off */
static const unsigned char put_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
/* clang-format on */

/* SWAR tests on 8 bytes at once: a byte below 0x20, equal to c, or with its high bit set. */
#define ONES            0x0101010101010101ull
#define HIGHS           0x8080808080808080ull
#define HAS_BELOW(x, n) (((x)-ONES * (n)) & ~(x)&HIGHS)
#define HAS_BYTE(x, c)  HAS_BELOW((x) ^ (ONES * (c)), 1)

char *json_write_str(char *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *q = (const unsigned char *)s, *end = q + len;
    bool utf8 = false;
    *p++ = '"';
    while (q < end) {
        if (end - q >= 8) { /* the common case: eight plain ASCII bytes copied at once */
            uint64_t x;
            memcpy(&x, q, 8);
            if (!(HAS_BELOW(x, 0x20) | HAS_BYTE(x, '"') | HAS_BYTE(x, '\\') | (x & HIGHS))) {
                memcpy(p, q, 8);
                p += 8;
                q += 8;
                continue;
            }
        }
        unsigned char c = *q++;
        switch (put_class[c]) {
        case 0:
            *p++ = (char)c;
            continue;
        case 2:
            utf8 = true;
            *p++ = (char)c;
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *p++ = (char)c;
            break;
        case '\b':
            *p++ = 'b';
            break;
        case '\t':
            *p++ = 't';
            break;
        case '\n':
            *p++ = 'n';
            break;
        case '\f':
            *p++ = 'f';
            break;
        case '\r':
            *p++ = 'r';
            break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
            break;
        }
    }
    *p++ = '"';
    return utf8 && !text_utf8_valid(s, len) ? NULL : p;
}

void json_put_str(struct dynbuf *d, const char *s, size_t len)
{
    char *p = dyn_room(d, JSON_STR_BOUND(len));
    if (!p)
        return;
    char *end = json_write_str(p, s, len);
    if (end)
        dyn_used(d, (size_t)(end - p));
    else
        dyn_fail(d, ERR_INVALID);
}
