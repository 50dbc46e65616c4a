/*
 * Fixed-window rate limits (one minute) keyed by strings such as "login-ip:127.0.0.1".
 * A fixed-size table: memory never grows with the number of clients. A slot is reused only
 * when it is empty or its window has passed (the oldest such slot first), so flooding the
 * table with new keys can never forget a key that is being limited: when every candidate
 * slot is in use in the current window, the new key is refused instead.
 */
#ifndef TODO_RATELIMIT_H
#define TODO_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_SLOTS    8192
#define RATELIMIT_PROBE    8
#define RATELIMIT_KEY_MAX  288 /* "signup-email:" and a 254-byte email fit whole */
#define RATELIMIT_WINDOW_S 60

/* Counts one hit for key at time now. Returns 0 when within limit per window, else the
 * seconds until the window resets (for Retry-After); also when the table has no room for a
 * new key in this window. */
int ratelimit_hit(const char *key, int limit, int64_t now);

/* Forgets every entry (tests). */
void ratelimit_reset(void);

#endif
