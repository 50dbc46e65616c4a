/*
 * IANA time zones from TZif files (see tz.h): a reader for RFC 8536's format (versions 1 to
 * 4; the 64-bit data of version 2+ when present) and an evaluator for the footer's POSIX TZ
 * rule, with the RFC's extensions (hours from -167 to 167 in rule times).
 */
#include "core/tz.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/util.h"

#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"
#define TZ_RULE_MAX    64 /* bytes of a footer rule */
#define TZIF_HEADER    44
#define TZIF_MAX_TIMES 4096
#define TZIF_MAX_TYPES 256
#define SECS_PER_DAY   86400

/* One POSIX TZ rule: standard time, and optionally daylight time with its two changes. */
struct tz_rule_date {
    char kind; /* 'J' (1..365, no Feb 29), 'D' (0..365) or 'M' (month.week.day) */
    int day, week, month;
    int32_t time; /* seconds after local midnight, -167h..167h */
};

struct tz_rule {
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    bool has_dst;
    struct tz_rule_date start, end;
};

struct zone {
    char name[TZ_NAME_MAX + 1];
    int64_t *times; /* transitions, ascending */
    uint8_t *idx;   /* the type after each transition */
    int32_t *offs;  /* offset of each type */
    size_t ntimes, ntypes;
    struct tz_rule rule;
    bool has_rule;
    uint64_t used; /* for eviction: the last use's tick */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zone *cache[TZ_CACHE];
static uint64_t tick;

bool tz_name_ok(const char *name)
{
    size_t len = name ? strnlen(name, TZ_NAME_MAX + 1) : 0;
    if (len == 0 || len > TZ_NAME_MAX)
        return false;
    bool part_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '/') {
            if (part_start)
                return false; /* leading '/' or "//" */
            part_start = true;
            continue;
        }
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || (c == '.' && !part_start);
        if (!ok)
            return false;
        part_start = false;
    }
    return !part_start;
}

/* ---- the calendar ----------------------------------------------------------------------- */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (after H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The year of a day count from 1970-01-01. */
static int64_t year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return yoe + era * 400 + (m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

/* ---- POSIX TZ rules ----------------------------------------------------------------------- */

/* Reads a zone abbreviation: 3+ letters, or <...> of letters, digits, '+' and '-'. */
static const char *rule_name(const char *p)
{
    const char *s = p;
    if (*p == '<') {
        for (p++; *p && *p != '>'; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                return NULL;
        return *p == '>' && p - s >= 4 ? p + 1 : NULL;
    }
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* Reads [+-]hh[:mm[:ss]] with hh ≤ max_h into *secs. */
static const char *rule_time(const char *p, int max_h, int32_t *secs)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (*p < '0' || *p > '9')
            return NULL;
        int v = 0, nd = 0;
        for (; *p >= '0' && *p <= '9' && nd < 3; p++, nd++)
            v = v * 10 + (*p - '0');
        if ((i == 0 && v > max_h) || (i > 0 && (v > 59 || nd != 2)))
            return NULL;
        part[i] = v;
    }
    *secs = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

static const char *rule_number(const char *p, int min, int max, int *out)
{
    if (*p < '0' || *p > '9')
        return NULL;
    int v = 0;
    for (int nd = 0; *p >= '0' && *p <= '9'; p++, nd++) {
        if (nd >= 3)
            return NULL;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return NULL;
    *out = v;
    return p;
}

/* Reads a change date ("M3.5.0", "J60", "59") and its optional "/time". */
static const char *rule_date(const char *p, struct tz_rule_date *d)
{
    memset(d, 0, sizeof(*d));
    d->time = 2 * 3600;
    if (*p == 'M') {
        d->kind = 'M';
        p = rule_number(p + 1, 1, 12, &d->month);
        if (p && *p == '.')
            p = rule_number(p + 1, 1, 5, &d->week);
        else
            p = NULL;
        if (p && *p == '.')
            p = rule_number(p + 1, 0, 6, &d->day);
        else
            p = NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        p = rule_number(p + 1, 1, 365, &d->day);
    } else {
        d->kind = 'D';
        p = rule_number(p, 0, 365, &d->day);
    }
    if (p && *p == '/')
        p = rule_time(p + 1, 167, &d->time);
    return p;
}

static int parse_rule(const char *s, struct tz_rule *r)
{
    memset(r, 0, sizeof(*r));
    int32_t off;
    const char *p = rule_name(s);
    if (!p || !(p = rule_time(p, 24, &off)))
        return ERR_INVALID;
    r->std_off = -off; /* POSIX offsets are west of UTC */
    if (*p == '\0')
        return ERR_OK;
    if (!(p = rule_name(p)))
        return ERR_INVALID;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = rule_time(p, 24, &off)))
            return ERR_INVALID;
        r->dst_off = -off;
    }
    if (*p == '\0') {
        /* POSIX leaves the default rules to the implementation; tzcode uses the US ones. */
        p = ",M3.2.0,M11.1.0";
    }
    if (*p != ',' || !(p = rule_date(p + 1, &r->start)) || *p != ',' ||
        !(p = rule_date(p + 1, &r->end)) || *p != '\0')
        return ERR_INVALID;
    return ERR_OK;
}

/* The UTC instant of a change date in year y, local time given by offset off. */
static int64_t change_at(const struct tz_rule_date *d, int64_t y, int32_t off)
{
    int64_t days;
    if (d->kind == 'J') {
        days = days_from_civil(y, 1, 1) + d->day - 1 + (is_leap(y) && d->day >= 60);
    } else if (d->kind == 'D') {
        days = days_from_civil(y, 1, 1) + d->day;
    } else {
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int dim = mdays[d->month - 1] + (d->month == 2 && is_leap(y));
        int64_t first = days_from_civil(y, d->month, 1);
        int wd_first = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
        int day = 1 + (d->day - wd_first + 7) % 7 + (d->week - 1) * 7;
        while (day > dim)
            day -= 7;
        days = first + day - 1;
    }
    return days * SECS_PER_DAY + d->time - off;
}

static int32_t rule_eval(const struct tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = year_of_days(floor_div(t + r->std_off, SECS_PER_DAY));
    int64_t start = change_at(&r->start, y, r->std_off);
    int64_t end = change_at(&r->end, y, r->dst_off);
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

int tz_rule_offset(const char *rule, int64_t t, int *offset_s)
{
    struct tz_rule r;
    if (!rule || strnlen(rule, TZ_RULE_MAX + 1) > TZ_RULE_MAX || parse_rule(rule, &r) != ERR_OK)
        return ERR_INVALID;
    *offset_s = rule_eval(&r, t);
    return ERR_OK;
}

/* ---- TZif --------------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

static int read_header(const unsigned char *p, size_t n, int *version, struct tzif_counts *c)
{
    if (n < TZIF_HEADER || memcmp(p, "TZif", 4) != 0)
        return ERR_INVALID;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    if (*version < 1 || *version > 9 || c->time > TZIF_MAX_TIMES || c->type == 0 ||
        c->type > TZIF_MAX_TYPES || c->chars > 4096 || c->leap > 4096 ||
        (c->isut && c->isut != c->type) || (c->isstd && c->isstd != c->type))
        return ERR_INVALID;
    return ERR_OK;
}

static size_t block_len(const struct tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

/* Parses a TZif file's bytes into z. */
static int parse_tzif(const unsigned char *p, size_t n, struct zone *z)
{
    int version;
    struct tzif_counts c;
    if (read_header(p, n, &version, &c) != ERR_OK)
        return ERR_INVALID;
    size_t tsize = 4, at = TZIF_HEADER, len = block_len(&c, 4);
    if (len > n - at)
        return ERR_INVALID;
    if (version >= 2) { /* skip the 32-bit block: the 64-bit one follows */
        at += len;
        if (read_header(p + at, n - at, &version, &c) != ERR_OK)
            return ERR_INVALID;
        at += TZIF_HEADER;
        tsize = 8;
        len = block_len(&c, 8);
        if (len > n - at)
            return ERR_INVALID;
    }
    z->ntimes = c.time;
    z->ntypes = c.type;
    z->times = calloc(c.time ? c.time : 1, sizeof(*z->times));
    z->idx = calloc(c.time ? c.time : 1, 1);
    z->offs = calloc(c.type, sizeof(*z->offs));
    if (!z->times || !z->idx || !z->offs)
        return ERR_NOMEM;
    const unsigned char *q = p + at;
    for (size_t i = 0; i < c.time; i++, q += tsize) {
        z->times[i] = tsize == 8 ? be64(q) : (int32_t)be32(q);
        if (i && z->times[i] <= z->times[i - 1])
            return ERR_INVALID;
    }
    for (size_t i = 0; i < c.time; i++, q++) {
        if (*q >= c.type)
            return ERR_INVALID;
        z->idx[i] = *q;
    }
    for (size_t i = 0; i < c.type; i++, q += 6) {
        int32_t off = (int32_t)be32(q);
        if (off < -25 * 3600 || off > 26 * 3600 || q[5] >= c.chars)
            return ERR_INVALID;
        z->offs[i] = off;
    }
    at += len;
    if (version >= 2 && at < n && p[at] == '\n') { /* the footer: "\n<rule>\n" */
        const unsigned char *nl = memchr(p + at + 1, '\n', n - at - 1);
        size_t rlen = nl ? (size_t)(nl - (p + at + 1)) : 0;
        char rule[TZ_RULE_MAX + 1];
        if (nl && rlen > 0 && rlen <= TZ_RULE_MAX) {
            memcpy(rule, p + at + 1, rlen);
            rule[rlen] = '\0';
            if (parse_rule(rule, &z->rule) != ERR_OK)
                return ERR_INVALID;
            z->has_rule = true;
        }
    }
    return ERR_OK;
}

static void zone_free(struct zone *z)
{
    if (!z)
        return;
    free(z->times);
    free(z->idx);
    free(z->offs);
    free(z);
}

/* Reads and parses the zone's file; NULL when it cannot (missing, not TZif, too big). */
static struct zone *zone_load(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    int n = snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : TZ_DIR_DEFAULT, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size <= TZ_FILE_MAX &&
        (buf = malloc((size_t)st.st_size))) {
        while (len < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
            if (r <= 0)
                break;
            len += (size_t)r;
        }
    }
    close(fd);
    struct zone *z = buf && len == (size_t)st.st_size ? calloc(1, sizeof(*z)) : NULL;
    if (z && parse_tzif(buf, len, z) != ERR_OK) {
        zone_free(z);
        z = NULL;
    }
    free(buf);
    if (z)
        snprintf(z->name, sizeof(z->name), "%s", name);
    return z;
}

static int32_t zone_eval(const struct zone *z, int64_t t)
{
    if (z->ntimes == 0)
        return z->has_rule ? rule_eval(&z->rule, t) : z->offs[0];
    if (t < z->times[0])
        return z->offs[0];
    if (t >= z->times[z->ntimes - 1] && z->has_rule)
        return rule_eval(&z->rule, t);
    size_t lo = 0, hi = z->ntimes; /* the last transition ≤ t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->offs[z->idx[lo]];
}

static bool is_utc(const char *name)
{
    return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0;
}

int tz_offset(const char *name, int64_t t, int *offset_s)
{
    if (!tz_name_ok(name))
        return ERR_INVALID;
    if (is_utc(name)) {
        *offset_s = 0;
        return ERR_OK;
    }
    pthread_mutex_lock(&cache_mu);
    size_t slot = TZ_CACHE, oldest = 0;
    for (size_t i = 0; i < TZ_CACHE; i++) {
        if (cache[i] && strcmp(cache[i]->name, name) == 0) {
            slot = i;
            break;
        }
        if (!cache[i] || (cache[oldest] && cache[i]->used < cache[oldest]->used))
            oldest = i;
    }
    if (slot == TZ_CACHE) {
        struct zone *z = zone_load(name);
        if (!z) {
            pthread_mutex_unlock(&cache_mu);
            return ERR_NOTFOUND;
        }
        zone_free(cache[oldest]);
        cache[oldest] = z;
        slot = oldest;
    }
    cache[slot]->used = ++tick;
    *offset_s = zone_eval(cache[slot], t);
    pthread_mutex_unlock(&cache_mu);
    return ERR_OK;
}

int tz_check(const char *name)
{
    int off;
    return tz_offset(name, now_unix(), &off);
}

void tz_cache_clear(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < TZ_CACHE; i++) {
        zone_free(cache[i]);
        cache[i] = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
}
