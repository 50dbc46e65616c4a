/* Shared helpers (see util.h). */
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/err.h"

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return ERR_INVALID;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end != '\0' || end == s)
        return ERR_INVALID;
    if (v < min || v > max)
        return ERR_INVALID;
    *out = v;
    return ERR_OK;
}

int parse_id(const char *s, int64_t *out)
{
    if (!s || s[0] < '1' || s[0] > '9')
        return ERR_INVALID;
    size_t n = strspn(s, "0123456789");
    if (s[n] != '\0' || n > 19)
        return ERR_INVALID;
    return parse_int64(s, 1, INT64_MAX, out);
}

int parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"true", "1", "yes", "on"};
    static const char *no[] = {"false", "0", "no", "off"};
    if (!s)
        return ERR_INVALID;
    for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return ERR_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return ERR_OK;
        }
    }
    return ERR_INVALID;
}

int64_t now_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t now_mono_ms(void)
{
    return now_mono_us() / 1000;
}

void timespec_after_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int64_t now_unix(void)
{
    return (int64_t)time(NULL);
}

void now_rfc3339_ms(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n > 0 && n < size)
        snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

bool str_ieq(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

bool str_starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void random_hex(char *out, size_t len)
{
    unsigned char raw[64];
    size_t nbytes = (len + 1) / 2;
    if (nbytes > sizeof(raw))
        nbytes = sizeof(raw);
    randombytes_buf(raw, nbytes);
    char hex[2 * sizeof(raw) + 1];
    hex_encode(raw, nbytes, hex);
    size_t n = len < 2 * nbytes ? len : 2 * nbytes;
    memcpy(out, hex, n);
    out[n] = '\0';
}

size_t int64_text(int64_t v, char *out)
{
    char buf[INT64_TEXT_MAX], *q = buf + sizeof(buf);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    size_t n = (size_t)(buf + sizeof(buf) - q);
    memcpy(out, q, n);
    return n;
}
