/* The calendar feed (see calendar.h). */
#include "domain/calendar.h"

#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/json.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/tasks.h"

#define HASH_HEX     (crypto_hash_sha256_BYTES * 2 + 1)
#define SECRET_BYTES 32
#define LINE_OCTETS  75

static void token_hash(const char *token, char out[HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    hex_encode(h, sizeof(h), out);
}

int calendar_token_create(struct store_conn *c, struct arena *a, const char *uid,
                          char token[CAL_TOKEN_TEXT_MAX])
{
    static const struct sql q = {
        "INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, "
        "created_at = excluded.created_at",
        NULL};
    unsigned char raw[SECRET_BYTES];
    randombytes_buf(raw, sizeof(raw));
    size_t plen = strlen(CAL_TOKEN_PREFIX);
    memcpy(token, CAL_TOKEN_PREFIX, plen);
    sodium_bin2base64(token + plen, CAL_TOKEN_TEXT_MAX - plen, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    char hash[HASH_HEX], now[TIME_TEXT_MAX];
    token_hash(token, hash);
    time_format(now_unix(), now);
    struct db_param p[] = {P_TEXT(uid), P_TEXT(hash), P_TEXT(now)};
    return store_exec(c, &q, p, 3, a, NULL);
}

int calendar_token_revoke(struct store_conn *c, struct arena *a, const char *uid)
{
    static const struct sql q = {"DELETE FROM calendar_feeds WHERE user_id = $1", NULL};
    struct db_param p[] = {P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc == ERR_OK && rows.changes == 0)
        rc = ERR_NOTFOUND;
    return rc;
}

int calendar_token_user(struct store_conn *c, struct arena *a, const char *token, const char **uid)
{
    static const struct sql q = {"SELECT user_id FROM calendar_feeds WHERE token_hash = $1", NULL};
    if (!token || strncmp(token, CAL_TOKEN_PREFIX, strlen(CAL_TOKEN_PREFIX)) != 0 ||
        strlen(token) >= CAL_TOKEN_TEXT_MAX)
        return ERR_NOTFOUND;
    char hash[HASH_HEX];
    token_hash(token, hash);
    struct db_param p[] = {P_TEXT(hash)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc == ERR_OK)
        *uid = db_cell(&rows, 0, 0);
    return rc;
}

/* ---- RFC 5545 text -------------------------------------------------------------------------- */

/* A content line: name, ':', value, folded so that no line passes 75 octets (a fold never
 * splits a UTF-8 sequence), ended with CRLF. */
static void line(struct dynbuf *out, const char *name, const char *value)
{
    size_t col = 0;
    const char *parts[2] = {name, value};
    for (int k = 0; k < 2; k++) {
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p;) {
            size_t n = 1; /* the octets of this character */
            if (*p >= 0xF0)
                n = 4;
            else if (*p >= 0xE0)
                n = 3;
            else if (*p >= 0xC0)
                n = 2;
            for (size_t i = 1; i < n; i++)
                if (!p[i]) {
                    n = i;
                    break;
                }
            if (col + n > LINE_OCTETS) {
                dyn_add(out, "\r\n ");
                col = 1;
            }
            dyn_addn(out, p, n);
            col += n;
            p += n;
        }
        if (k == 0) {
            dyn_addc(out, ':');
            col++;
        }
    }
    dyn_add(out, "\r\n");
}

/* TEXT escaping (§3.3.11): backslash, semicolon, comma and newline. */
static const char *text(struct arena *a, const char *s)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, CAL_TEXT_MAX);
    for (; s && *s; s++) {
        if (*s == '\\' || *s == ';' || *s == ',')
            dyn_addc(&d, '\\');
        if (*s == '\n') {
            dyn_add(&d, "\\n");
            continue;
        }
        if (*s == '\r' || ((unsigned char)*s < 0x20 && *s != '\t'))
            continue;
        dyn_addc(&d, *s);
    }
    return dyn_err(&d) == ERR_OK ? dyn_str(&d) : "";
}

/* 20260102T030405Z */
static const char *utc(struct arena *a, int64_t t)
{
    char iso[TIME_TEXT_MAX];
    time_format(t, iso);
    return arena_printf(a, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", iso, iso + 5, iso + 8, iso + 11, iso + 14,
                        iso + 17);
}

static void event(struct dynbuf *out, struct arena *a, const struct task *t, int64_t now)
{
    static const char *const freq[] = {NULL, "DAILY", "WEEKLY", "MONTHLY", "YEARLY"};
    line(out, "BEGIN", "VEVENT");
    line(out, "UID", arena_printf(a, "task-%lld@todo", (long long)t->id));
    line(out, "DTSTAMP", utc(a, t->updated_at ? t->updated_at : now));
    line(out, "LAST-MODIFIED", utc(a, t->updated_at ? t->updated_at : now));
    line(out, "DTSTART", utc(a, t->due_at));
    line(out, "DURATION", "PT15M");
    line(out, "SUMMARY",
         text(a, t->completed ? arena_printf(a, "\xE2\x9C\x93 %s", t->title) : t->title));
    if (t->description && *t->description)
        line(out, "DESCRIPTION", text(a, t->description));
    line(out, "PRIORITY", t->priority == PRIO_HIGH ? "1" : t->priority == PRIO_LOW ? "9" : "5");
    line(out, "STATUS", "CONFIRMED");
    line(out, "TRANSP", "TRANSPARENT");
    if (t->tags.json) {
        yyjson_doc *doc = NULL;
        const char *why;
        if (json_parse(a, t->tags.json, strlen(t->tags.json), &doc, &why) == ERR_OK &&
            yyjson_arr_size(yyjson_doc_get_root(doc)) > 0) {
            struct dynbuf cats;
            dyn_init_arena(&cats, a, 64 * 1024);
            size_t i, max;
            yyjson_val *v;
            yyjson_arr_foreach(yyjson_doc_get_root(doc), i, max, v)
            {
                const char *s = json_cstr(v);
                if (!s)
                    continue;
                if (dyn_len(&cats))
                    dyn_addc(&cats, ',');
                dyn_add(&cats, text(a, s));
            }
            if (dyn_err(&cats) == ERR_OK && dyn_len(&cats))
                line(out, "CATEGORIES", dyn_str(&cats));
        }
    }
    if (t->recurrence > REC_NONE && t->recurrence <= REC_YEARLY && !t->completed)
        line(out, "RRULE",
             arena_printf(a, "FREQ=%s;INTERVAL=%d", freq[t->recurrence],
                          t->recurrence_interval > 0 ? t->recurrence_interval : 1));
    if (t->remind_at && !t->completed) {
        line(out, "BEGIN", "VALARM");
        line(out, "ACTION", "DISPLAY");
        line(out, "DESCRIPTION", text(a, t->title));
        line(out, "TRIGGER;VALUE=DATE-TIME", utc(a, t->remind_at));
        line(out, "END", "VALARM");
    }
    line(out, "END", "VEVENT");
}

int calendar_render(struct store_conn *c, struct arena *a, const char *uid, struct dynbuf *out)
{
    int64_t now = now_unix();
    line(out, "BEGIN", "VCALENDAR");
    line(out, "VERSION", "2.0");
    line(out, "PRODID", "-//todo//todo " TODO_VERSION "//EN");
    line(out, "CALSCALE", "GREGORIAN");
    line(out, "METHOD", "PUBLISH");
    line(out, "X-WR-CALNAME", "todo");
    line(out, "REFRESH-INTERVAL;VALUE=DURATION", "PT1H");
    line(out, "X-PUBLISHED-TTL", "PT1H");
    struct task_filter f;
    task_filter_defaults(&f);
    f.due_after = 1; /* every task that has a due date */
    f.sort = SORT_DUE;
    f.order = 0;
    f.limit = TASK_LIST_MAX;
    for (int shown = 0; shown < CAL_EVENTS_MAX; shown += TASK_LIST_MAX) {
        f.offset = shown;
        struct task *tasks;
        size_t n;
        int64_t total;
        int rc = tasks_list(c, a, uid, &f, &tasks, &n, &total);
        if (rc != ERR_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (tasks[i].due_at)
                event(out, a, &tasks[i], now);
        if (n < (size_t)TASK_LIST_MAX)
            break;
    }
    line(out, "END", "VCALENDAR");
    return dyn_err(out);
}
