/*
 * RFC 3339 timestamps as the API speaks them: parsed strictly (a date alone is accepted
 * where the caller allows it) and always written back as UTC "YYYY-MM-DDTHH:MM:SSZ".
 */
#ifndef TODO_TIMEFMT_H
#define TODO_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIME_TEXT_MAX 21 /* "2026-01-02T03:04:05Z" + NUL */
/* The last second RFC 3339's four-digit years can write: 9999-12-31T23:59:59Z. */
#define TIME_MAX_UNIX 253402300799LL

enum date_only { DATE_ONLY_REJECT = 0, DATE_START_OF_DAY, DATE_END_OF_DAY };

/* Parses s as RFC 3339 date-time (fraction ignored, offset applied) or, when allowed, a
 * date alone, taken as the start or the end of that day in UTC. Writes Unix seconds.
 * Returns ERR_OK, or ERR_INVALID also for an instant past TIME_MAX_UNIX (a negative offset
 * can push 9999-12-31 into year 10000, which the output format cannot write). */
int time_parse(const char *s, enum date_only date_only, int64_t *out);

/* Formats Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into out (TIME_TEXT_MAX bytes). */
void time_format(int64_t t, char out[TIME_TEXT_MAX]);

/* Adds months to t, clamping the day to the end of the target month (Jan 31 + 1 month
 * is Feb 28 or 29). Time of day is kept. */
int64_t time_add_months(int64_t t, int months);

#endif
