/*
 * Dates, times and recurrences for the offline assistant (see offline_internal.h). All
 * arithmetic is on the user's wall clock: Unix now plus the user's offset, read with gmtime_r
 * and built with timegm, so no process time zone is involved and month ends, leap years and
 * weekday wrap-around come from the C library. A fixed offset has no DST: the caller
 * resolves the user's zone to an offset for the turn.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "assistant/offline_internal.h"
#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

#define MINUTE     60
#define HOUR       3600
#define DAY        86400
#define END_OF_DAY (DAY - 1)
/* Parts of the day as times: "morning" 09:00, "afternoon" 15:00, "evening" 19:00, "tonight"
 * and "night" 20:00. */
#define MORNING_H   9
#define AFTERNOON_H 15
#define EVENING_H   19
#define NIGHT_H     20
/* How far ahead "in N units" may reach. */
#define IN_MAX_MINUTES 100000
#define IN_MAX_HOURS   10000
#define IN_MAX_DAYS    3650
#define IN_MAX_WEEKS   520
#define IN_MAX_MONTHS  120
#define IN_MAX_YEARS   10
#define EVERY_MAX      1000 /* the API's largest recurrence_interval */
#define YEAR_MIN       1970
#define YEAR_MAX       9999

static const char *const weekday_names[7][3] = {
    {"sunday", "sun", NULL},      {"monday", "mon", NULL},      {"tuesday", "tue", "tues"},
    {"wednesday", "wed", "weds"}, {"thursday", "thu", "thurs"}, {"friday", "fri", NULL},
    {"saturday", "sat", NULL},
};
static const char *const month_names[12][2] = {
    {"january", "jan"},   {"february", "feb"}, {"march", "mar"},    {"april", "apr"},
    {"may", "may"},       {"june", "jun"},     {"july", "jul"},     {"august", "aug"},
    {"september", "sep"}, {"october", "oct"},  {"november", "nov"}, {"december", "dec"},
};
static const char *const short_weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_weekdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};
static const char *const short_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void when_clear(struct when *w)
{
    memset(w, 0, sizeof(*w));
    w->weekday = -1;
}

int64_t local_at(int y, int m, int d, int sec_of_day)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    return (int64_t)timegm(&tm) + sec_of_day;
}

/* The calendar date of wall-clock second t. */
static void date_of(int64_t t, int *y, int *m, int *d, int *wd)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        memset(&tm, 0, sizeof(tm));
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
    if (wd)
        *wd = tm.tm_wday;
}

void local_date_add(const struct ctx *c, int days, int *y, int *m, int *d)
{
    date_of(local_at(c->y, c->m, c->d, 0) + (int64_t)days * DAY, y, m, d, NULL);
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* The date months after y-m-d, the day clamped to the month's end (Jan 31 + 1 = Feb 28). */
static void add_months(int *y, int *m, int *d, int months)
{
    int total = *y * 12 + (*m - 1) + months;
    *y = total / 12;
    *m = total % 12 + 1;
    int dim = days_in_month(*y, *m);
    if (*d > dim)
        *d = dim;
}

void local_format(const struct ctx *c, int64_t local, char out[OFFLINE_TIME_MAX])
{
    time_t tt = (time_t)local;
    struct tm tm;
    out[0] = '\0';
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > YEAR_MAX || tm.tm_year + 1900 < 1)
        return;
    int off = c->off_min < 0 ? -c->off_min : c->off_min;
    char zone[8] = "Z";
    if (c->off_min)
        snprintf(zone, sizeof(zone), "%c%02d:%02d", c->off_min < 0 ? '-' : '+', off / 60 % 100,
                 off % 60);
    char buf[64]; /* wide enough for any int, so the length check below is the only limit */
    int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
    if (n > 0 && n < OFFLINE_TIME_MAX)
        memcpy(out, buf, (size_t)n + 1);
}

bool when_format(const struct ctx *c, const struct when *w, char out[OFFLINE_TIME_MAX])
{
    out[0] = '\0';
    if (w->instant) {
        local_format(c, w->local, out);
        return out[0] != '\0';
    }
    int y = c->y, m = c->m, d = c->d;
    int tod = w->has_time ? w->hh * HOUR + w->mi * MINUTE : END_OF_DAY;
    if (w->has_date) {
        y = w->y;
        m = w->m;
        d = w->d;
    } else if (w->weekday >= 0) {
        int ahead = (w->weekday - c->wd + 7) % 7;
        if (ahead == 0 && (w->weekday_next || (w->has_time && tod <= c->sec_of_day)))
            ahead = 7;
        local_date_add(c, ahead, &y, &m, &d);
    } else if (w->has_time) {
        if (tod <= c->sec_of_day) /* "at 5pm" after 5pm: tomorrow's */
            local_date_add(c, 1, &y, &m, &d);
    } else {
        return false;
    }
    bool today = y == c->y && m == c->m && d == c->d;
    if (w->soft_time && today && tod <= c->sec_of_day)
        tod = END_OF_DAY;
    if (y < YEAR_MIN || y > YEAR_MAX)
        return false;
    local_format(c, local_at(y, m, d, tod), out);
    return out[0] != '\0';
}

/* --- recognisers: each reads at i and returns the tokens taken (0: nothing) --- */

/* A weekday name at i; abbreviations only when allowed (after "on", "next" …). */
static int weekday_at(const struct ctx *c, struct span s, size_t i, bool abbrev, bool plural)
{
    if (i < s.lo || i >= s.hi || i >= c->n || (c->t[i].flags & (T_USED | T_QUOTED)))
        return -1;
    const char *w = c->t[i].w;
    size_t len = strlen(w);
    for (int d = 0; d < 7; d++) {
        for (int k = 0; k < 3 && weekday_names[d][k]; k++) {
            if (k > 0 && !abbrev)
                break;
            const char *name = weekday_names[d][k];
            size_t nl = strlen(name);
            if (len == nl && memcmp(w, name, nl) == 0)
                return d;
            if (plural && len == nl + 1 && memcmp(w, name, nl) == 0 && w[nl] == 's')
                return d;
        }
    }
    return -1;
}

static int month_at(const struct ctx *c, struct span s, size_t i)
{
    if (i < s.lo || i >= s.hi || i >= c->n || (c->t[i].flags & (T_USED | T_QUOTED)))
        return 0;
    const char *w = c->t[i].w;
    for (int m = 0; m < 12; m++)
        if (strcmp(w, month_names[m][0]) == 0 || strcmp(w, month_names[m][1]) == 0 ||
            (m == 8 && strcmp(w, "sept") == 0))
            return m + 1;
    return 0;
}

/* A day of the month: "12", "12th", "1st", "2nd", "3rd". */
static int mday_at(const struct ctx *c, struct span s, size_t i)
{
    if (i < s.lo || i >= s.hi || i >= c->n || (c->t[i].flags & (T_USED | T_QUOTED)))
        return 0;
    const char *w = c->t[i].w;
    int v = 0;
    size_t k = 0;
    while (w[k] >= '0' && w[k] <= '9' && k < 2)
        v = v * 10 + (w[k++] - '0');
    if (k == 0 || v < 1 || v > 31)
        return 0;
    const char *rest = w + k;
    if (*rest && strcmp(rest, "st") != 0 && strcmp(rest, "nd") != 0 && strcmp(rest, "rd") != 0 &&
        strcmp(rest, "th") != 0)
        return 0;
    return v;
}

static int year_at(const struct ctx *c, struct span s, size_t i)
{
    if (i < s.lo || i >= s.hi || i >= c->n || (c->t[i].flags & (T_USED | T_QUOTED)))
        return 0;
    const char *w = c->t[i].w;
    if (strlen(w) != 4)
        return 0;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        if (w[k] < '0' || w[k] > '9')
            return 0;
        v = v * 10 + (w[k] - '0');
    }
    return v >= YEAR_MIN && v <= YEAR_MAX ? v : 0;
}

/* Sets w's date; false when the date does not exist. */
static bool set_date(struct when *w, int y, int m, int d)
{
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) || y < YEAR_MIN || y > YEAR_MAX)
        return false;
    w->has_date = true;
    w->y = y;
    w->m = m;
    w->d = d;
    return true;
}

/* A day and month without a year is the next such date (this year's, or next year's once
 * passed). */
static bool set_day_month(const struct ctx *c, struct when *w, int m, int d, int year)
{
    if (year)
        return set_date(w, year, m, d);
    int y = c->y;
    if (m < c->m || (m == c->m && d < c->d))
        y++;
    if (m == 2 && d == 29) /* the next 29 February */
        while (days_in_month(y, 2) != 29 && y < c->y + 8)
            y++;
    return set_date(w, y, m, d);
}

/* "12 march [2027]", "12th of march", "march 12[th] [2027]", "2026-03-12". */
static size_t date_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    int d, m, y;
    size_t k = 0;
    if ((d = mday_at(c, s, i))) {
        k = 1 + phrase_at(c, s, i + 1, "of");
        if ((m = month_at(c, s, i + k))) {
            k++;
            y = year_at(c, s, i + k);
            return set_day_month(c, w, m, d, y) ? k + (y ? 1 : 0) : 0;
        }
        return 0;
    }
    if ((m = month_at(c, s, i)) && (d = mday_at(c, s, i + 1))) {
        k = 2;
        y = year_at(c, s, i + k);
        return set_day_month(c, w, m, d, y) ? k + (y ? 1 : 0) : 0;
    }
    /* "the 12th": this month's, or next month's once passed. */
    if (word_at(c, s, i, "the") && (d = mday_at(c, s, i + 1)) && strlen(c->t[i + 1].w) > 2 &&
        c->t[i + 1].w[strlen(c->t[i + 1].w) - 1] > '9') {
        y = c->y;
        m = c->m;
        if (d < c->d) {
            int dd = 1;
            add_months(&y, &m, &dd, 1);
        }
        return set_date(w, y, m, d) ? 2 : 0;
    }
    if (i < s.hi && i < c->n && !(c->t[i].flags & (T_USED | T_QUOTED))) {
        const char *t = c->t[i].w;
        int64_t when;
        if (strlen(t) == 10 && t[4] == '-' && t[7] == '-' &&
            time_parse(t, DATE_START_OF_DAY, &when) == ERR_OK) {
            int yy, mm, dd;
            date_of(when, &yy, &mm, &dd, NULL);
            return set_date(w, yy, mm, dd) ? 1 : 0;
        }
    }
    return 0;
}

/* Parses a clock word: "5", "5pm", "5:30", "5:30pm", "17:30", "5.30pm". *explicit is true
 * when the word alone says it is a time (a meridiem or minutes). */
static bool clock_word(const char *w, int *hh, int *mi, int *meridiem, bool *explicit)
{
    int h = 0, m = 0, k = 0;
    while (w[k] >= '0' && w[k] <= '9' && k < 2)
        h = h * 10 + (w[k++] - '0');
    if (k == 0)
        return false;
    *explicit = false;
    *meridiem = 0;
    const char *p = w + k;
    if ((*p == ':' || *p == '.') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9') {
        m = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
        *explicit = true;
    }
    if (strcmp(p, "am") == 0 || strcmp(p, "a.m") == 0 || strcmp(p, "a") == 0)
        *meridiem = 1;
    else if (strcmp(p, "pm") == 0 || strcmp(p, "p.m") == 0 || strcmp(p, "p") == 0)
        *meridiem = 2;
    else if (*p)
        return false;
    if (*meridiem)
        *explicit = true;
    if (m > 59 || h > 23 || (*meridiem && (h < 1 || h > 12)))
        return false;
    *hh = h;
    *mi = m;
    return true;
}

/* Sets w's time from a clock reading; without am/pm, 1 to 7 o'clock is the afternoon. */
static void set_clock(struct when *w, int h, int m, int meridiem, bool bare)
{
    if (meridiem == 1 && h == 12)
        h = 0;
    else if (meridiem == 2 && h < 12)
        h += 12;
    else if (!meridiem && bare && h >= 1 && h <= 7)
        h += 12;
    w->has_time = true;
    w->hh = h;
    w->mi = m;
    w->soft_time = false;
}

static void set_soft(struct when *w, int h)
{
    if (w->has_time)
        return;
    w->has_time = true;
    w->hh = h;
    w->mi = 0;
    w->soft_time = true;
}

/* "at 5", "at 5pm", "5 pm", "5:30", "17:30", "noon", "midnight", "in the morning". */
static size_t time_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    size_t k = phrase_at(c, s, i, "at|by|before|around|@");
    size_t n;
    if ((n = phrase_at(c, s, i + k, "noon|midday"))) {
        set_clock(w, 12, 0, 0, false);
        return k + n;
    }
    if ((n = phrase_at(c, s, i + k, "midnight"))) {
        set_clock(w, 23, 59, 0, false);
        return k + n;
    }
    if ((n = phrase_at(c, s, i, "in the morning")) || (n = phrase_at(c, s, i, "this morning"))) {
        set_soft(w, MORNING_H);
        return n;
    }
    if ((n = phrase_at(c, s, i, "in the|this afternoon"))) {
        set_soft(w, AFTERNOON_H);
        return n;
    }
    if ((n = phrase_at(c, s, i, "in the|this evening"))) {
        set_soft(w, EVENING_H);
        return n;
    }
    if ((n = phrase_at(c, s, i, "at night"))) {
        set_soft(w, NIGHT_H);
        return n;
    }
    size_t j = i + k;
    if (j >= s.hi || j >= c->n || (c->t[j].flags & (T_USED | T_QUOTED)))
        return 0;
    int h, m, mer;
    bool explicit;
    if (!clock_word(c->t[j].w, &h, &m, &mer, &explicit))
        return 0;
    size_t extra = 0;
    if (!mer && (extra = phrase_at(c, s, j + 1, "am|a.m|pm|p.m"))) {
        mer = c->t[j + 1].w[0] == 'a' ? 1 : 2;
        if (h < 1 || h > 12)
            return 0;
        explicit = true;
    } else if ((extra = phrase_at(c, s, j + 1, "o'clock|oclock"))) {
        explicit = true;
    }
    if (!explicit && !k)
        return 0; /* "buy 5 apples" */
    set_clock(w, h, m, mer, mer == 0);
    /* "at 5 in the morning": the part of day decides */
    size_t pod;
    if ((pod = phrase_at(c, s, j + 1 + extra, "in the morning")) && w->hh >= 12 && !mer) {
        w->hh -= 12;
        extra += pod;
    } else if ((pod = phrase_at(c, s, j + 1 + extra, "in the afternoon|evening|at night")) &&
               w->hh < 12 && !mer) {
        w->hh += 12;
        extra += pod;
    }
    return k + 1 + extra;
}

/* "morning", "afternoon", "evening", "night" right after a day ("tomorrow morning"). */
static size_t part_of_day_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    static const struct {
        const char *word;
        int hour;
    } parts[] = {{"morning", MORNING_H},
                 {"afternoon", AFTERNOON_H},
                 {"evening", EVENING_H},
                 {"night", NIGHT_H}};
    for (size_t k = 0; k < ARRAY_LEN(parts); k++) {
        if (phrase_at(c, s, i, parts[k].word)) {
            set_soft(w, parts[k].hour);
            return 1;
        }
    }
    return 0;
}

/* "today", "tonight", "tomorrow [morning]", "day after tomorrow", "this evening". */
static size_t day_word_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    size_t n;
    int y, m, d;
    if ((n = phrase_at(c, s, i, "the day after tomorrow")) ||
        (n = phrase_at(c, s, i, "day after tomorrow"))) {
        local_date_add(c, 2, &y, &m, &d);
        set_date(w, y, m, d);
        return n;
    }
    if ((n = phrase_at(c, s, i, "tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow"))) {
        local_date_add(c, 1, &y, &m, &d);
        set_date(w, y, m, d);
        return n + part_of_day_at(c, s, i + n, w);
    }
    if ((n = phrase_at(c, s, i, "today|tdy|tonight|tonite"))) {
        set_date(w, c->y, c->m, c->d);
        if (strncmp(c->t[i].w, "toni", 4) == 0)
            set_soft(w, NIGHT_H);
        return n;
    }
    if ((n = phrase_at(c, s, i, "eod")) || (n = phrase_at(c, s, i, "end of the day")) ||
        (n = phrase_at(c, s, i, "end of day|today"))) {
        set_date(w, c->y, c->m, c->d);
        return n;
    }
    return 0;
}

/* "[this|next|coming|on] friday"; abbreviations only after one of those words. */
static size_t weekday_phrase_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    size_t k = phrase_at(c, s, i, "this|next|coming|on|the|upcoming");
    bool next = k && strcmp(c->t[i].w, "next") == 0;
    int wd = weekday_at(c, s, i + k, k > 0, false);
    if (wd < 0)
        return 0;
    w->weekday = wd;
    w->weekday_next = next;
    return k + 1 + part_of_day_at(c, s, i + k + 1, w);
}

/* "in 3 days", "in a week", "in 2 hours", "in 30 minutes", "3 days from now". */
static size_t in_units_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    static const struct unit {
        const char *names;
        int64_t max;
        int kind; /* 0 minutes, 1 hours, 2 days, 3 weeks, 4 months, 5 years */
    } units[] = {
        {"minute|minutes|min|mins", IN_MAX_MINUTES, 0},
        {"hour|hours|hr|hrs", IN_MAX_HOURS, 1},
        {"day|days", IN_MAX_DAYS, 2},
        {"week|weeks|wk|wks", IN_MAX_WEEKS, 3},
        {"month|months", IN_MAX_MONTHS, 4},
        {"year|years|yr|yrs", IN_MAX_YEARS, 5},
    };
    size_t k = phrase_at(c, s, i, "in|within");
    int64_t count;
    if (count_at(c, s, i + k, IN_MAX_MINUTES, false, &count) != ERR_OK)
        return 0;
    for (size_t u = 0; u < ARRAY_LEN(units); u++) {
        if (!phrase_at(c, s, i + k + 1, units[u].names))
            continue;
        size_t later = phrase_at(c, s, i + k + 2, "from now|today");
        if (!later)
            later = phrase_at(c, s, i + k + 2, "later");
        if (count > units[u].max || (!k && !later))
            return 0;
        size_t n = k + 2 + later;
        int y = c->y, m = c->m, d = c->d;
        switch (units[u].kind) {
        case 0:
        case 1:
            w->instant = true;
            w->local = c->local + count * (units[u].kind ? HOUR : MINUTE);
            w->local -= w->local % MINUTE;
            return n;
        case 2:
        case 3:
            local_date_add(c, (int)(count * (units[u].kind == 3 ? 7 : 1)), &y, &m, &d);
            break;
        default:
            add_months(&y, &m, &d, (int)(count * (units[u].kind == 5 ? 12 : 1)));
            break;
        }
        return set_date(w, y, m, d) ? n : 0;
    }
    return 0;
}

/* "next week", "next month", "next year", "this weekend", "end of the month". */
static size_t period_at(const struct ctx *c, struct span s, size_t i, struct when *w)
{
    size_t n;
    int y = c->y, m = c->m, d = c->d;
    if ((n = phrase_at(c, s, i, "next week"))) {
        local_date_add(c, 7, &y, &m, &d);
    } else if ((n = phrase_at(c, s, i, "next month"))) {
        add_months(&y, &m, &d, 1);
    } else if ((n = phrase_at(c, s, i, "next year"))) {
        add_months(&y, &m, &d, 12);
    } else if ((n = phrase_at(c, s, i, "this|the|on|at weekend")) ||
               (n = phrase_at(c, s, i, "weekend"))) {
        local_date_add(c, (6 - c->wd + 7) % 7, &y, &m, &d); /* Saturday (today if it is) */
    } else if ((n = phrase_at(c, s, i, "end of the|this month")) ||
               (n = phrase_at(c, s, i, "end of month"))) {
        d = days_in_month(y, m);
    } else if ((n = phrase_at(c, s, i, "end of the|this week")) ||
               (n = phrase_at(c, s, i, "end of week"))) {
        local_date_add(c, (5 - c->wd + 7) % 7, &y, &m, &d); /* Friday */
    } else {
        return 0;
    }
    return set_date(w, y, m, d) ? n : 0;
}

/* Words that may introduce a date or time and belong to it: "due on friday", "by 5pm". */
static size_t date_prefix(const struct ctx *c, struct span s, size_t i)
{
    size_t k = phrase_at(c, s, i, "due|deadline|until|till|til");
    k += phrase_at(c, s, i + k, "on|by|before|for|is|at");
    return k;
}

bool when_scan(struct ctx *c, struct span s, struct when *w)
{
    bool found = false;
    for (size_t i = s.lo; i < s.hi; i++) {
        if (c->t[i].flags & (T_USED | T_QUOTED))
            continue;
        size_t p = date_prefix(c, s, i);
        for (size_t start = i; start <= i + p; start += p ? p : 1) {
            struct when got;
            when_clear(&got);
            size_t n = 0;
            bool date_free = !w->has_date && w->weekday < 0 && !w->instant;
            if (date_free &&
                ((n = day_word_at(c, s, start, &got)) || (n = in_units_at(c, s, start, &got)) ||
                 (n = period_at(c, s, start, &got)) || (n = date_at(c, s, start, &got)) ||
                 (n = weekday_phrase_at(c, s, start, &got)))) {
                w->has_date = got.has_date;
                w->y = got.y;
                w->m = got.m;
                w->d = got.d;
                w->weekday = got.weekday;
                w->weekday_next = got.weekday_next;
                w->instant = got.instant;
                w->local = got.local;
                if (got.has_time && !w->has_time) {
                    w->has_time = true;
                    w->hh = got.hh;
                    w->mi = got.mi;
                    w->soft_time = got.soft_time;
                }
            } else if ((!w->has_time || w->soft_time) && !w->instant &&
                       (n = time_at(c, s, start, &got)) && got.has_time) {
                w->has_time = true;
                w->hh = got.hh;
                w->mi = got.mi;
                w->soft_time = got.soft_time;
            }
            if (n) {
                use_tokens(c, i, start - i + n);
                found = true;
                i = start + n - 1;
                break;
            }
            if (!p)
                break;
        }
    }
    return found;
}

/* --- recurrence --- */

/* Reads a recurrence at i into f (and w's weekday or part of day); returns its tokens. */
static size_t recur_match(const struct ctx *c, struct span s, size_t i, struct offline_fields *f,
                          struct when *w)
{
    static const struct rule {
        const char *phrase;
        const char *recurrence;
        int interval;
        int soft_hour; /* 0: none */
    } rules[] = {
        {"every|each single day", "daily", 1, 0},
        {"every|each day", "daily", 1, 0},
        {"daily|everyday|nightly", "daily", 1, 0},
        {"every|each morning", "daily", 1, MORNING_H},
        {"every|each afternoon", "daily", 1, AFTERNOON_H},
        {"every|each evening", "daily", 1, EVENING_H},
        {"every|each night", "daily", 1, NIGHT_H},
        {"every|each week", "weekly", 1, 0},
        {"weekly", "weekly", 1, 0},
        {"biweekly|fortnightly", "weekly", 2, 0},
        {"every|each fortnight", "weekly", 2, 0},
        {"every|each month", "monthly", 1, 0},
        {"monthly", "monthly", 1, 0},
        {"every|each year", "yearly", 1, 0},
        {"yearly|annually|annual", "yearly", 1, 0},
    };
    static const char *const unit_names[][2] = {{"day|days", "daily"},
                                                {"week|weeks", "weekly"},
                                                {"month|months", "monthly"},
                                                {"year|years", "yearly"}};
    size_t pre = phrase_at(c, s, i, "repeat|repeats|repeating|recurring|recur|recurs");
    if (pre)
        pre += phrase_at(c, s, i + pre, "it");
    size_t j = i + pre, n = 0;
    for (size_t r = 0; r < ARRAY_LEN(rules) && !n; r++) {
        if ((n = phrase_at(c, s, j, rules[r].phrase))) {
            f->recurrence = rules[r].recurrence;
            f->interval = rules[r].interval;
            if (rules[r].soft_hour)
                set_soft(w, rules[r].soft_hour);
        }
    }
    int64_t count;
    if (!n && phrase_at(c, s, j, "every|each") &&
        count_at(c, s, j + 1, EVERY_MAX, true, &count) == ERR_OK) {
        for (size_t u = 0; u < ARRAY_LEN(unit_names) && !n; u++) {
            if (phrase_at(c, s, j + 2, unit_names[u][0])) {
                n = 3;
                f->recurrence = unit_names[u][1];
                f->interval = (int)count;
            }
        }
    }
    /* "every monday", "each fri", "on mondays" */
    int wd;
    bool on = word_at(c, s, j, "on");
    if (!n && phrase_at(c, s, j, "every|each|on") &&
        (wd = weekday_at(c, s, j + 1, true, on)) >= 0 &&
        (!on || c->t[j + 1].w[strlen(c->t[j + 1].w) - 1] == 's')) {
        n = 2;
        f->recurrence = "weekly";
        f->interval = 1;
        w->weekday = wd;
        w->weekday_next = false;
    }
    if (n)
        return pre + n;
    /* "stop repeating", "not recurring", "no repeat", "don't repeat" */
    if ((n = phrase_at(c, s, i,
                       "stop|no|not|don't|dont|never repeating|recurring|repeat|"
                       "recurrence|repeats"))) {
        f->recurrence = "none";
        f->interval = 1;
        return n;
    }
    return 0;
}

bool recur_scan(struct ctx *c, struct span s, struct offline_fields *f, struct when *w)
{
    for (size_t i = s.lo; i < s.hi; i++) {
        size_t n = recur_match(c, s, i, f, w);
        if (!n)
            continue;
        use_tokens(c, i, n);
        f->set |= OF_RECURRENCE;
        if (f->interval != 1)
            f->set |= OF_INTERVAL;
        return true;
    }
    return false;
}

bool value_phrase_at(const struct ctx *c, struct span s, size_t i)
{
    struct when w;
    when_clear(&w);
    struct offline_fields f;
    memset(&f, 0, sizeof(f));
    size_t p = date_prefix(c, s, i);
    for (size_t k = 0; k <= p; k += p ? p : 1) {
        size_t at = i + k;
        if (day_word_at(c, s, at, &w) || in_units_at(c, s, at, &w) || period_at(c, s, at, &w) ||
            date_at(c, s, at, &w) || weekday_phrase_at(c, s, at, &w) || time_at(c, s, at, &w))
            return true;
        if (!p)
            break;
    }
    return recur_match(c, s, i, &f, &w) > 0;
}

/* --- replies --- */

const char *when_describe(struct arena *a, int64_t now, int off_min, int64_t t)
{
    int64_t local = t + (int64_t)off_min * MINUTE, today_local = now + (int64_t)off_min * MINUTE;
    int y, m, d, wd, ty, tm_, td;
    date_of(local, &y, &m, &d, &wd);
    date_of(today_local, &ty, &tm_, &td, NULL);
    int64_t days = (local_at(y, m, d, 0) - local_at(ty, tm_, td, 0)) / DAY;
    int64_t tod = ((local % DAY) + DAY) % DAY;
    char clock[16] = "";
    if (tod != END_OF_DAY)
        snprintf(clock, sizeof(clock), " at %02d:%02d", (int)(tod / HOUR),
                 (int)(tod % HOUR / MINUTE));
    if (days == 0)
        return arena_printf(a, "today%s", clock);
    if (days == 1)
        return arena_printf(a, "tomorrow%s", clock);
    if (days == -1)
        return arena_printf(a, "yesterday%s", clock);
    if (days > 1 && days < 7)
        return arena_printf(a, "on %s%s", long_weekdays[wd], clock);
    if (y == ty)
        return arena_printf(a, "on %s %d %s%s", short_weekdays[wd], d, short_months[m - 1], clock);
    return arena_printf(a, "on %s %d %s %d%s", short_weekdays[wd], d, short_months[m - 1], y,
                        clock);
}
