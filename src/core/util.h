/*
 * Small helpers shared by every module: bounded number parsing, time stamps, strings.
 */
#ifndef TODO_UTIL_H
#define TODO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Parses all of s as a base-10 integer within [min, max]. Returns ERR_OK or ERR_INVALID. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parses s as a canonical positive id: decimal digits only, no sign, space or leading zero
 * ("7", not "+7", "07" or " 7"), at most INT64_MAX. Returns ERR_OK or ERR_INVALID. */
/* Longest decimal text of an int64_t: "-9223372036854775808". */
#define INT64_TEXT_MAX 20

/* Writes v's decimal text at out (room for INT64_TEXT_MAX bytes; no NUL) and returns its
 * length. INT64_MIN included. */
size_t int64_text(int64_t v, char *out);

int parse_id(const char *s, int64_t *out);

/* Parses true/false/1/0/yes/no/on/off (case-insensitive). Returns ERR_OK or ERR_INVALID. */
int parse_bool(const char *s, bool *out);

/* Milliseconds on a monotonic clock. */
int64_t now_mono_ms(void);

/* Microseconds on a monotonic clock. */
int64_t now_mono_us(void);

/* Sets *ts to ms milliseconds from now on CLOCK_REALTIME (for pthread_cond_timedwait). */
struct timespec;
void timespec_after_ms(struct timespec *ts, int64_t ms);

/* Seconds since the Unix epoch. */
int64_t now_unix(void);

/* Writes the current UTC time as RFC 3339 with milliseconds ("2026-01-02T03:04:05.678Z")
 * into buf (at least 25 bytes). */
void now_rfc3339_ms(char *buf, size_t size);

/* Case-insensitive ASCII equality. */
bool str_ieq(const char *a, const char *b);

/* True when s starts with prefix. */
bool str_starts(const char *s, const char *prefix);

/* FNV-1a hash of a NUL-terminated string (hash tables, caches; not cryptographic). */
uint64_t hash_str(const char *s);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Writes len random lower-case hex characters and a NUL into out (len+1 bytes). */
void random_hex(char *out, size_t len);

#endif
