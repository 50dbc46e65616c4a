/*
 * Unit tests for IANA time zones (src/core/tz.c): zone names, POSIX TZ rules (northern and
 * southern daylight time, Jn and n dates, negative and >24 h times, quoted names), and every
 * zone of the system's zoneinfo compared with the C library's localtime_r at instants from
 * 1970 to 2100 (the tests are single-threaded, so setting TZ is safe here) — in fat and slim
 * files alike.
 */
#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "core/err.h"
#include "core/tz.h"
#include "core/util.h"

#define ZONEINFO "/usr/share/zoneinfo"

static void names(void **state)
{
    (void)state;
    assert_true(tz_name_ok("Europe/Paris"));
    assert_true(tz_name_ok("America/Argentina/Buenos_Aires"));
    assert_true(tz_name_ok("Etc/GMT+5"));
    assert_true(tz_name_ok("UTC"));
    assert_false(tz_name_ok(""));
    assert_false(tz_name_ok(NULL));
    assert_false(tz_name_ok("/etc/passwd"));
    assert_false(tz_name_ok("../etc/passwd"));
    assert_false(tz_name_ok("Europe/../../etc/passwd"));
    assert_false(tz_name_ok("Europe//Paris"));
    assert_false(tz_name_ok("Europe/Paris/"));
    assert_false(tz_name_ok("Europe/.hidden"));
    assert_false(tz_name_ok("Europe/Paris\n"));
    assert_false(tz_name_ok("Europe Paris"));
    char longname[TZ_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(tz_name_ok(longname));
    int off = 1;
    assert_int_equal(tz_offset("../x", 0, &off), ERR_INVALID);
    assert_int_equal(tz_offset("No/Such_Zone", 0, &off), ERR_NOTFOUND);
    assert_int_equal(tz_offset("UTC", 0, &off), ERR_OK);
    assert_int_equal(off, 0);
}

/* 2026-03-29T00:59:59Z is still winter time in Paris; a second later it is summer time. */
static void rules(void **state)
{
    (void)state;
    int off = 0;
    assert_int_equal(tz_rule_offset("CET-1CEST,M3.5.0,M10.5.0/3", 1774745999, &off), ERR_OK);
    assert_int_equal(off, 3600);
    assert_int_equal(tz_rule_offset("CET-1CEST,M3.5.0,M10.5.0/3", 1774746000, &off), ERR_OK);
    assert_int_equal(off, 7200);
    /* New York: 2026-03-08T07:00:00Z begins daylight time. */
    assert_int_equal(tz_rule_offset("EST5EDT,M3.2.0,M11.1.0", 1772953199, &off), ERR_OK);
    assert_int_equal(off, -5 * 3600);
    assert_int_equal(tz_rule_offset("EST5EDT,M3.2.0,M11.1.0", 1772953200, &off), ERR_OK);
    assert_int_equal(off, -4 * 3600);
    /* Sydney (southern): daylight time in January, standard time in July. */
    assert_int_equal(tz_rule_offset("AEST-10AEDT,M10.1.0,M4.1.0/3", 1767225600, &off), ERR_OK);
    assert_int_equal(off, 11 * 3600);
    assert_int_equal(tz_rule_offset("AEST-10AEDT,M10.1.0,M4.1.0/3", 1782864000, &off), ERR_OK);
    assert_int_equal(off, 10 * 3600);
    /* Quoted names, minutes, no daylight time. */
    assert_int_equal(tz_rule_offset("<+0545>-5:45", 0, &off), ERR_OK);
    assert_int_equal(off, 5 * 3600 + 45 * 60);
    assert_int_equal(tz_rule_offset("<-03>3", 0, &off), ERR_OK);
    assert_int_equal(off, -3 * 3600);
    /* Daylight time all year (RFC 8536's example). */
    assert_int_equal(tz_rule_offset("EST5EDT,0/0,J365/25", 1782864000, &off), ERR_OK);
    assert_int_equal(off, -4 * 3600);
    /* Negative and >24 h rule times (America/Godthab, Asia/Jerusalem style). */
    assert_int_equal(tz_rule_offset("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 1782864000, &off), ERR_OK);
    assert_int_equal(off, -1 * 3600);
    assert_int_equal(tz_rule_offset("IST-2IDT,M3.4.4/26,M10.5.0", 1782864000, &off), ERR_OK);
    assert_int_equal(off, 3 * 3600);
    /* Refused. */
    assert_int_equal(tz_rule_offset("", 0, &off), ERR_INVALID);
    assert_int_equal(tz_rule_offset("AB-1", 0, &off), ERR_INVALID);
    assert_int_equal(tz_rule_offset("CET-1CEST,M13.5.0,M10.5.0", 0, &off), ERR_INVALID);
    assert_int_equal(tz_rule_offset("CET-1CEST,M3.5.0", 0, &off), ERR_INVALID);
    assert_int_equal(tz_rule_offset("CET-99", 0, &off), ERR_INVALID);
}

/* The C library's offset of zone at t (TZ set for this process). */
static long libc_offset(const char *zone, time_t t)
{
    setenv("TZ", zone, 1);
    tzset();
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

struct walk {
    char dir[512];
    size_t zones, checks;
    const char *tzdir; /* where tz.c reads (TZDIR) */
};

static void check_zone(struct walk *w, const char *name)
{
    static const int64_t base[] = {0,          86400 * 200, 631152000, 946684800,
                                   1262304000, 1577836800,  1767225600};
    char libc_name[600];
    snprintf(libc_name, sizeof(libc_name), ":%s/%s", w->tzdir, name);
    int64_t ts[64];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(base); i++)
        ts[n++] = base[i];
    /* Every month-ish of 2026 and 2027, and a few far years (footer rules). */
    for (int64_t t = 1767225600; t < 1830297600 && n < 60; t += 86400 * 29 + 3607)
        ts[n++] = t;
    ts[n++] = 2145916800; /* 2038 */
    ts[n++] = 4102444800; /* 2100 */
    for (size_t i = 0; i < n; i++) {
        int off = 0;
        if (tz_offset(name, ts[i], &off) != ERR_OK)
            fail_msg("tz_offset(%s) failed", name);
        long want = libc_offset(libc_name, (time_t)ts[i]);
        if (off != want)
            fail_msg("%s at %lld: %d, libc says %ld", name, (long long)ts[i], off, want);
        w->checks++;
    }
    w->zones++;
}

static void walk_dir(struct walk *w, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s%s%s", w->tzdir, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "right") == 0 ||
            strcmp(e->d_name, "posix") == 0 || strchr(e->d_name, '.'))
            continue;
        char sub[512];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        char full[1100];
        snprintf(full, sizeof(full), "%s/%s", w->tzdir, sub);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_dir(w, sub);
        } else if (S_ISREG(st.st_mode) && tz_name_ok(sub)) {
            FILE *f = fopen(full, "rb");
            char magic[4] = {0};
            bool tzif = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
            if (f)
                fclose(f);
            if (tzif)
                check_zone(w, sub);
        }
    }
    closedir(d);
}

static void every_zone_matches_libc(void **state)
{
    (void)state;
    struct walk w = {.tzdir = ZONEINFO};
    unsetenv("TZDIR");
    tz_cache_clear();
    walk_dir(&w, "");
    assert_true(w.zones > 300);
    print_message("%zu zones, %zu instants agree with libc\n", w.zones, w.checks);
}

/* The same with slim files (what the image ships): transitions stop early, the footer rule
 * carries the rest. */
static void slim_zones_match_libc(void **state)
{
    (void)state;
    char dir[] = "/tmp/todo-unit-tz-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "zic -b slim -d %s " ZONEINFO "/tzdata.zi 2>/dev/null", dir);
    if (system(cmd) != 0)
        fail_msg("zic -b slim failed: the slim check needs zic and tzdata.zi");
    setenv("TZDIR", dir, 1);
    tz_cache_clear();
    struct walk w = {.tzdir = dir};
    walk_dir(&w, "");
    assert_true(w.zones > 300);
    unsetenv("TZDIR");
    tz_cache_clear();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void bad_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/todo-unit-tzbad-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/Bad", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("TZif2 but not really", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/Empty", dir);
    f = fopen(path, "wb");
    fclose(f);
    setenv("TZDIR", dir, 1);
    tz_cache_clear();
    int off;
    assert_int_equal(tz_offset("Bad", 0, &off), ERR_NOTFOUND);
    assert_int_equal(tz_offset("Empty", 0, &off), ERR_NOTFOUND);
    assert_int_equal(tz_check("Missing"), ERR_NOTFOUND);
    unsetenv("TZDIR");
    tz_cache_clear();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(rules),
        cmocka_unit_test(every_zone_matches_libc),
        cmocka_unit_test(slim_zones_match_libc),
        cmocka_unit_test(bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
