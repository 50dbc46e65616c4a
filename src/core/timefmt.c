/* RFC 3339 parsing and formatting (see timefmt.h), with the calendar computed directly
 * (days from and to a civil date, proleptic Gregorian) instead of timegm/gmtime_r/strftime:
 * list responses format several times per task. */
#include "core/timefmt.h"

#include <string.h>

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

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* The civil date of day z since 1970-01-01 (civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* days_from_civil for the date each thread parsed last (lists read the same few days). */
static __thread int parse_ymd = -1;
static __thread int64_t parse_day;

static int64_t parse_days(int y, int m, int d)
{
    int ymd = (y * 100 + m) * 100 + d;
    if (ymd != parse_ymd) {
        parse_day = days_from_civil(y, m, d);
        parse_ymd = ymd;
    }
    return parse_day;
}

/* Splits t into whole days since the epoch and seconds into that day (floor division). */
static int64_t split_day(int64_t t, int64_t *sod)
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    *sod = rem;
    return days;
}

/* Two digits at s, or -1. */
static int two(const char *s)
{
    unsigned a = (unsigned)(s[0] - '0'), b = (unsigned)(s[1] - '0');
    return a < 10 && b < 10 ? (int)(a * 10 + b) : -1;
}

/* The form this file and the database write, "YYYY-MM-DDTHH:MM:SSZ", read without the
 * general parser's scans (a list reads several per task). False for anything else, which
 * the general parser then reads or refuses. */
static bool parse_canonical(const char *s, int64_t *out)
{
    int hi = two(s), lo = hi < 0 ? -1 : two(s + 2);
    int mo = lo < 0 ? -1 : two(s + 5), d = mo < 0 ? -1 : two(s + 8);
    int h = d < 0 ? -1 : two(s + 11), mi = h < 0 ? -1 : two(s + 14);
    int sec = mi < 0 ? -1 : two(s + 17);
    if (sec < 0 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != 'Z' || s[20] != '\0')
        return false;
    int y = hi * 100 + lo;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    *out = parse_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return true;
}

int time_parse(const char *s, enum date_only date_only, int64_t *out)
{
    if (!s)
        return ERR_INVALID;
    /* Short-circuits keep every read within the string: each check stops at its NUL. */
    if (s[0] && s[1] && s[2] && s[3] && s[4] == '-' && strnlen(s + 5, 16) == 15 &&
        parse_canonical(s, out))
        return ERR_OK;
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
    int64_t t = parse_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    if (t > TIME_MAX_UNIX)
        return ERR_INVALID;
    *out = t;
    return ERR_OK;
}

/* Writes v as exactly n digits, most significant first. */
static void put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* The last day each thread formatted, as "YYYY-MM-DD": a list writes the same few days over
 * and over (a task's created_at and updated_at, tasks added together). */
static __thread int64_t fmt_day = INT64_MIN;
static __thread char fmt_date[10];

void time_format(int64_t t, char out[TIME_TEXT_MAX])
{
    int64_t sod;
    int64_t day = split_day(t, &sod);
    if (day != fmt_day) {
        int64_t y;
        int m, d;
        civil_from_days(day, &y, &m, &d);
        if (y < 0 || y > 9999) {
            out[0] = '\0'; /* does not fit four digits: see TIME_MAX_UNIX */
            return;
        }
        put_digits(fmt_date, y, 4);
        fmt_date[4] = '-';
        put_digits(fmt_date + 5, m, 2);
        fmt_date[7] = '-';
        put_digits(fmt_date + 8, d, 2);
        fmt_day = day;
    }
    memcpy(out, fmt_date, 10);
    memcpy(out + 10, "T00:00:00Z", 11);
    put_digits(out + 11, sod / 3600, 2);
    put_digits(out + 14, sod / 60 % 60, 2);
    put_digits(out + 17, sod % 60, 2);
}

int64_t time_add_months(int64_t t, int months)
{
    int64_t sod, y;
    int m, d;
    civil_from_days(split_day(t, &sod), &y, &m, &d);
    int64_t total = y * 12 + (m - 1) + months;
    int64_t year = total >= 0 ? total / 12 : (total - 11) / 12;
    int mon = (int)(total - year * 12) + 1;
    int dim = days_in_month((int)year, mon);
    if (d > dim)
        d = dim;
    return days_from_civil(year, mon, d) * 86400 + sod;
}
