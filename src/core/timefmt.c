/* RFC 3339 parsing and formatting (see timefmt.h). */
#include "core/timefmt.h"

#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/util.h"

/* Reads exactly n digits; returns -1 when any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

int time_parse(const char *s, enum date_only date_only, int64_t *out)
{
    if (!s)
        return ERR_INVALID;
    size_t len = strnlen(s, 64);
    if (len < 10 || len >= 64)
        return ERR_INVALID;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1 || s[4] != '-' || mo < 1 || mo > 12 || s[7] != '-' || d < 1 ||
        d > days_in_month(y, mo))
        return ERR_INVALID;
    int h = 0, mi = 0, sec = 0, offset = 0;
    if (len == 10) {
        if (date_only == DATE_ONLY_REJECT)
            return ERR_INVALID;
        if (date_only == DATE_END_OF_DAY) {
            h = 23;
            mi = 59;
            sec = 59;
        }
    } else {
        if (len < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
            return ERR_INVALID; /* len ≥ 20 covers every fixed position read below */
        h = digits(s + 11, 2);
        mi = digits(s + 14, 2);
        sec = digits(s + 17, 2);
        if (h < 0 || h > 23 || s[13] != ':' || mi < 0 || mi > 59 || s[16] != ':' || sec < 0 ||
            sec > 60)
            return ERR_INVALID;
        if (sec == 60)
            sec = 59; /* leap second: clamp */
        const char *p = s + 19;
        if (*p == '.') {
            p++;
            const char *f = p;
            while (*p >= '0' && *p <= '9' && p - f < 9)
                p++;
            if (p == f)
                return ERR_INVALID;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            if (strnlen(p, 7) != 6 || p[3] != ':') /* exactly "+HH:MM", nothing read past it */
                return ERR_INVALID;
            int oh = digits(p + 1, 2), om = digits(p + 4, 2);
            if (oh < 0 || oh > 23 || om < 0 || om > 59)
                return ERR_INVALID;
            offset = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return ERR_INVALID;
        }
        if (*p != '\0')
            return ERR_INVALID;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    int64_t t = (int64_t)timegm(&tm) - offset;
    if (t > TIME_MAX_UNIX)
        return ERR_INVALID;
    *out = t;
    return ERR_OK;
}

void time_format(int64_t t, char out[TIME_TEXT_MAX])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    if (strftime(out, TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0'; /* a year past 9999 does not fit: see TIME_MAX_UNIX */
}

int64_t time_add_months(int64_t t, int months)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int total = tm.tm_year * 12 + tm.tm_mon + months;
    int year = total / 12, mon = total % 12;
    int dim = days_in_month(year + 1900, mon + 1);
    tm.tm_year = year;
    tm.tm_mon = mon;
    if (tm.tm_mday > dim)
        tm.tm_mday = dim;
    return (int64_t)timegm(&tm);
}
