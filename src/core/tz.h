/*
 * Time zones by IANA name ("Europe/Paris"): the offset from UTC in effect at an instant, so
 * "tomorrow" means the user's tomorrow. The C library has no reentrant way to ask this of an
 * arbitrary zone (localtime_r reads the one global TZ), so the zone's TZif file (RFC 8536)
 * is read from TZDIR (default /usr/share/zoneinfo) and evaluated here: its transitions, and
 * after the last one its footer's POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"). Slim and fat
 * files both work. "UTC" needs no file.
 *
 * Threads: any thread may call; parsed zones are kept in a small cache behind one mutex (a
 * lookup is a binary search under it; a miss reads one file of at most TZ_FILE_MAX bytes).
 */
#ifndef TODO_TZ_H
#define TODO_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TZ_NAME_MAX 64          /* bytes of a zone name */
#define TZ_FILE_MAX (64 * 1024) /* bytes of a TZif file read */
#define TZ_CACHE    64          /* zones kept parsed */

/* True when name has the shape of an IANA zone name: 1..TZ_NAME_MAX characters of
 * [A-Za-z0-9_+-] in '/'-separated parts, none empty or starting with '.'. */
bool tz_name_ok(const char *name);

/* The offset from UTC (seconds east) of zone name at Unix time t. Returns ERR_OK,
 * ERR_INVALID (not a zone name's shape) or ERR_NOTFOUND (no such zone, or its file is not
 * valid TZif). */
int tz_offset(const char *name, int64_t t, int *offset_s);

/* Checks that name is a zone this process can use: ERR_OK, ERR_INVALID or ERR_NOTFOUND. */
int tz_check(const char *name);

/* Evaluates a POSIX TZ rule string (the TZif footer's form) at t: ERR_OK or ERR_INVALID.
 * Exposed for tests. */
int tz_rule_offset(const char *rule, int64_t t, int *offset_s);

/* Forgets the cached zones (tests that change TZDIR). */
void tz_cache_clear(void);

#endif
