/*
 * Fixed-window rate limits (one minute) keyed by strings such as "login-ip:127.0.0.1".
 * A fixed-size table: memory never grows with the number of clients; when a bucket is
 * full the stalest entry is recycled.
 */
#ifndef TODO_RATELIMIT_H
#define TODO_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_SLOTS    8192
#define RATELIMIT_PROBE    8
#define RATELIMIT_KEY_MAX  160
#define RATELIMIT_WINDOW_S 60

/* Counts one hit for key at time now. Returns 0 when within limit per window, else the
 * seconds until the window resets (for Retry-After). */
int ratelimit_hit(const char *key, int limit, int64_t now);

/* Forgets every entry (tests). */
void ratelimit_reset(void);

#endif
