/*
 * The offline assistant's view of a message (see offline_internal.h): the message checked
 * (UTF-8, size, offset) and split into words with their punctuation noted, the words matched
 * against phrases, counts and task references read, and the message cut into clauses, one
 * request each. Keywords are ASCII; any other text passes through untouched into titles.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "assistant/offline_internal.h"
#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

#define SECONDS_PER_MINUTE 60
/* The longest digit string read as a number (keeps every product far from overflow). */
#define NUMBER_DIGITS_MAX 9

/* Length of the valid UTF-8 sequence at s (≤ n bytes), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Separators between words: ASCII white space, control characters and U+00A0. */
static size_t space_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    if (c <= 0x20 || c == 0x7F)
        return 1;
    if (n >= 2 && c == 0xC2 && (unsigned char)s[1] == 0xA0)
        return 2;
    return 0;
}

/* Double quotes open and close quoted titles: " and the typographic “ ”. */
static size_t quote_len(const char *s, size_t n)
{
    if (s[0] == '"')
        return 1;
    if (n >= 3 && (unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80 &&
        ((unsigned char)s[2] == 0x9C || (unsigned char)s[2] == 0x9D))
        return 3;
    return 0;
}

/* Words whose "'s" is a contraction, not a possessive. */
static const char *const contractions[] = {"what's", "that's", "it's",  "let's",   "there's",
                                           "here's", "who's",  "how's", "where's", "he's",
                                           "she's",  "when's", NULL};

/* The matching form of a word: ASCII lower case, the typographic apostrophe as "'". */
static char *lower_word(struct arena *a, const char *s, size_t len)
{
    char *w = arena_alloc(a, len + 1);
    if (!w)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] == 0x99) {
            w[j++] = '\'';
            i += 2;
            continue;
        }
        w[j++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    w[j] = '\0';
    return w;
}

/* Adds a token; false when the token table is full. */
static bool push_token(struct ctx *c, const char *s, size_t len, unsigned flags)
{
    if (c->n >= OFFLINE_MAX_TOKENS) {
        c->truncated = true;
        return false;
    }
    struct tok *t = &c->t[c->n];
    t->s = s;
    t->len = len;
    t->flags = flags;
    char *w = lower_word(c->a, s, len);
    if (!w)
        return false;
    if (flags & T_QUOTED) {
        t->w = "";
        c->n++;
        return true;
    }
    size_t wl = strlen(w);
    bool contraction = false;
    for (size_t i = 0; contractions[i]; i++)
        contraction = contraction || strcmp(w, contractions[i]) == 0;
    if (!contraction && wl > 2 && w[wl - 2] == '\'' && w[wl - 1] == 's') {
        w[wl - 2] = '\0';
        t->flags |= T_POSS;
    }
    if (strcmp(w, "&") == 0 || strcmp(w, "+") == 0)
        w = "and";
    bool alnum = false;
    for (const char *p = w; *p; p++)
        alnum = alnum || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                (unsigned char)*p >= 0x80 || *p == '#' || *p == '!';
    if (!alnum)
        t->flags |= T_PUNCT;
    t->w = w;
    c->n++;
    return true;
}

/* Cuts trailing punctuation off a word [s, s+*len), returning the flags it implies. Leading
 * brackets are cut too. A word made only of '!' ("!!") keeps them. */
static unsigned trim_word(const char **s, size_t *len)
{
    unsigned flags = 0;
    while (*len && ((*s)[0] == '(' || (*s)[0] == '[')) {
        (*s)++;
        (*len)--;
    }
    bool bangs = *len > 0;
    for (size_t i = 0; i < *len; i++)
        bangs = bangs && (*s)[i] == '!';
    if (bangs)
        return 0;
    while (*len) {
        char ch = (*s)[*len - 1];
        if (ch == ',')
            flags |= T_COMMA;
        else if (ch == '.' || ch == '!' || ch == '?' || ch == ';')
            flags |= T_STOP;
        else if (ch == ':')
            flags |= T_COLON;
        else if (ch != ')' && ch != ']')
            break;
        (*len)--;
    }
    /* "5 p.m." ends a time, not a sentence. */
    if ((flags & T_STOP) && *len == 3 &&
        ((*s)[0] == 'a' || (*s)[0] == 'p' || (*s)[0] == 'A' || (*s)[0] == 'P') && (*s)[1] == '.' &&
        ((*s)[2] == 'm' || (*s)[2] == 'M'))
        flags &= ~(unsigned)T_STOP;
    return flags;
}

/* Splits the message into tokens (see struct tok). Line breaks end sentences. */
static int tokenize(struct ctx *c, const char *msg, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t sp = space_len(msg + i, n - i);
        if (sp) {
            if ((msg[i] == '\n' || msg[i] == '\r') && c->n)
                c->t[c->n - 1].flags |= T_STOP;
            i += sp;
            continue;
        }
        size_t q = quote_len(msg + i, n - i);
        if (q) {
            size_t j = i + q, close = 0;
            while (j < n && !(close = quote_len(msg + j, n - j)))
                j++;
            if (close) {
                const char *s = msg + i + q;
                size_t len = j - (i + q);
                i = j + close;
                unsigned after = 0;
                while (i < n && strchr(",.;:!?)", msg[i]) && msg[i]) {
                    after |= msg[i] == ','   ? T_COMMA
                             : msg[i] == ':' ? T_COLON
                             : msg[i] == ')' ? 0
                                             : T_STOP;
                    i++;
                }
                while (len && space_len(s, len)) { /* trim inside the quotes */
                    size_t k = space_len(s, len);
                    s += k;
                    len -= k;
                }
                while (len && (unsigned char)s[len - 1] <= 0x20)
                    len--;
                if (len && !push_token(c, s, len, T_QUOTED | after))
                    return c->truncated ? ERR_OK : ERR_NOMEM;
                continue;
            }
            i += q; /* an unmatched quote is just punctuation */
            continue;
        }
        size_t j = i;
        while (j < n && !space_len(msg + j, n - j) && !quote_len(msg + j, n - j))
            j += utf8_seq((const unsigned char *)msg + j, n - j);
        const char *s = msg + i;
        size_t len = j - i;
        unsigned flags = trim_word(&s, &len);
        i = j;
        if (!len) {
            if (c->n)
                c->t[c->n - 1].flags |= flags;
            continue;
        }
        if (!push_token(c, s, len, flags))
            return c->truncated ? ERR_OK : ERR_NOMEM;
    }
    return ERR_OK;
}

int lex_message(struct ctx *c, struct arena *a, const struct offline_input *in)
{
    memset(c, 0, sizeof(*c));
    c->a = a;
    if (!in || (!in->message && in->len))
        return ERR_INVALID;
    if (in->len > OFFLINE_MESSAGE_MAX)
        return ERR_TOOBIG;
    if (in->utc_offset_min < -OFFLINE_OFFSET_MAX || in->utc_offset_min > OFFLINE_OFFSET_MAX)
        return ERR_INVALID;
    if (in->len && !utf8_valid(in->message, in->len))
        return ERR_INVALID;
    /* The clock: years 1970–9999 are all the API can store. */
    if (in->now < 0 || in->now > TIME_MAX_UNIX)
        return ERR_INVALID;
    c->now = in->now;
    c->off_min = in->utc_offset_min;
    c->local = in->now + (int64_t)in->utc_offset_min * SECONDS_PER_MINUTE;
    time_t tt = (time_t)c->local;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return ERR_INVALID;
    c->y = tm.tm_year + 1900;
    c->m = tm.tm_mon + 1;
    c->d = tm.tm_mday;
    c->wd = tm.tm_wday;
    c->sec_of_day = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    c->t = arena_alloc(a, OFFLINE_MAX_TOKENS * sizeof(struct tok));
    if (!c->t)
        return ERR_NOMEM;
    return tokenize(c, in->message ? in->message : "", in->len);
}

/* --- matching --- */

static bool free_tok(const struct ctx *c, struct span s, size_t i)
{
    return i >= s.lo && i < s.hi && i < c->n && !(c->t[i].flags & (T_USED | T_QUOTED));
}

bool word_at(const struct ctx *c, struct span s, size_t i, const char *word)
{
    return free_tok(c, s, i) && strcmp(c->t[i].w, word) == 0;
}

bool word_in(const struct ctx *c, struct span s, size_t i, const char *const *words)
{
    if (!free_tok(c, s, i))
        return false;
    for (size_t k = 0; words[k]; k++)
        if (strcmp(c->t[i].w, words[k]) == 0)
            return true;
    return false;
}

/* True when w is one of the '|'-separated alternatives of [alt, alt+len). */
static bool alt_match(const char *w, const char *alt, size_t len)
{
    while (len) {
        const char *bar = memchr(alt, '|', len);
        size_t k = bar ? (size_t)(bar - alt) : len;
        if (strlen(w) == k && memcmp(w, alt, k) == 0)
            return true;
        if (!bar)
            break;
        len -= k + 1;
        alt = bar + 1;
    }
    return false;
}

size_t phrase_at(const struct ctx *c, struct span s, size_t i, const char *phrase)
{
    size_t n = 0;
    const char *p = phrase;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (!free_tok(c, s, i + n) || !alt_match(c->t[i + n].w, p, len))
            return 0;
        n++;
        p += len;
        while (*p == ' ')
            p++;
    }
    return n;
}

void use_tokens(struct ctx *c, size_t i, size_t n)
{
    for (size_t k = i; k < i + n && k < c->n; k++)
        c->t[k].flags |= T_USED;
}

static const char *const number_words[] = {
    "zero",    "one",       "two",      "three",    "four",   "five",     "six",      "seven",
    "eight",   "nine",      "ten",      "eleven",   "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen", "twenty", NULL};

/* Parses all of w as digits (at most NUMBER_DIGITS_MAX). */
static bool digits_only(const char *w, int64_t *out)
{
    size_t len = strlen(w);
    if (!len || len > NUMBER_DIGITS_MAX)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (w[i] < '0' || w[i] > '9')
            return false;
        v = v * 10 + (w[i] - '0');
    }
    *out = v;
    return true;
}

int count_at(const struct ctx *c, struct span s, size_t i, int64_t max, bool allow_other,
             int64_t *out)
{
    if (!free_tok(c, s, i))
        return ERR_INVALID;
    const char *w = c->t[i].w;
    int64_t v = -1;
    if (!digits_only(w, &v)) {
        if (strcmp(w, "a") == 0 || strcmp(w, "an") == 0 || strcmp(w, "single") == 0)
            v = 1;
        else if (allow_other && strcmp(w, "other") == 0)
            v = 2;
        else if (strcmp(w, "couple") == 0)
            v = 2;
        for (size_t k = 0; v < 0 && number_words[k]; k++)
            if (strcmp(w, number_words[k]) == 0)
                v = (int64_t)k;
    }
    if (v < 1 || v > max)
        return ERR_INVALID;
    *out = v;
    return ERR_OK;
}

/* Reads "3" or "#3" as a task id. */
static bool id_word(const char *w, int64_t *id)
{
    if (w[0] == '#')
        w++;
    return digits_only(w, id) && *id >= 1;
}

size_t task_ref_at(const struct ctx *c, struct span s, size_t i, int64_t *id)
{
    size_t k = phrase_at(c, s, i, "task|number|no|id|item|todo|#");
    if (k && free_tok(c, s, i + k) && id_word(c->t[i + k].w, id))
        return k + 1;
    if (free_tok(c, s, i) && id_word(c->t[i].w, id))
        return 1;
    return 0;
}

/* --- text --- */

const char *free_text(const struct ctx *c, struct span s, bool cut_poss)
{
    size_t total = 0;
    for (size_t i = s.lo; i < s.hi && i < c->n; i++)
        if (!(c->t[i].flags & T_USED))
            total += c->t[i].len + 4;
    if (!total)
        return NULL;
    char *out = arena_alloc(c->a, total + 1);
    if (!out)
        return NULL;
    size_t len = 0, words = 0;
    size_t last = s.lo;
    for (size_t i = s.lo; i < s.hi && i < c->n; i++)
        words += !(c->t[i].flags & T_USED);
    for (size_t i = s.lo; i < s.hi && i < c->n; i++) {
        const struct tok *t = &c->t[i];
        if (t->flags & T_USED)
            continue;
        if (len) {
            if (c->t[last].flags & T_COMMA)
                out[len++] = ',';
            out[len++] = ' ';
        }
        size_t n = t->len;
        if (cut_poss && (t->flags & T_POSS) && n >= 2)
            n -= (t->s[n - 1] == 's' || t->s[n - 1] == 'S') && t->s[n - 2] == '\'' ? 2 : 4;
        bool quote = (t->flags & T_QUOTED) && words > 1;
        if (quote)
            out[len++] = '"';
        memcpy(out + len, t->s, n);
        len += n;
        if (quote)
            out[len++] = '"';
        last = i;
    }
    out[len] = '\0';
    return out;
}

const char *raw_text(const struct ctx *c, size_t i, size_t hi)
{
    if (i >= hi || i >= c->n)
        return NULL;
    if (hi > c->n)
        hi = c->n;
    if (c->t[i].flags & T_QUOTED || hi - i == 1)
        return arena_strndup(c->a, c->t[i].s, c->t[i].len);
    const char *start = c->t[i].s;
    const char *end = c->t[hi - 1].s + c->t[hi - 1].len;
    /* Quoted tokens point inside the message too, so the range is always in one buffer. */
    if (end < start)
        return NULL;
    return arena_strndup(c->a, start, (size_t)(end - start));
}

/* --- verbs and clauses --- */

/* What a clause can start with. split: the verb also starts a new request after "and",
 * "then" or a comma ("add milk and complete 3"); weak verbs ("set", "make") do not. */
static const struct verb {
    const char *phrase;
    enum offline_intent_kind kind;
    bool split;
} verbs[] = {
    {"remind me to|about", INTENT_ADD, true},
    {"set a reminder to|for", INTENT_ADD, true},
    {"don't|dont forget to|about", INTENT_ADD, true},
    {"do not forget to|about", INTENT_ADD, true},
    {"i need|have|must|should to", INTENT_ADD, false},
    {"i've|ive got to", INTENT_ADD, false},
    {"i need|must|should", INTENT_ADD, false},
    {"need|have to", INTENT_ADD, false},
    {"remember to", INTENT_ADD, true},
    {"make a|an|new task|todo|to-do|note|reminder|item", INTENT_ADD, true},
    {"new task|todo|to-do|item", INTENT_ADD, true},
    {"jot|write|note down", INTENT_ADD, true},
    {"add|create|insert|schedule", INTENT_ADD, true},
    {"todo|to-do|task", INTENT_ADD, false}, /* "todo: buy milk"; "task 3" is a reference */
    {"get rid of", INTENT_DELETE, true},
    {"check|tick|cross off", INTENT_COMPLETE, true},
    {"i've|ive|i have done|finished|completed", INTENT_COMPLETE, true},
    {"i did|finished|completed", INTENT_COMPLETE, true},
    {"complete|finish|finished|completed|done|close", INTENT_COMPLETE, true},
    {"mark", INTENT_COMPLETE, true}, /* "mark 3 as high priority" becomes an update */
    {"delete|remove|erase|cancel|drop|trash|discard|scrap|forget", INTENT_DELETE, true},
    {"rename|retitle", INTENT_UPDATE, true},
    {"stop repeating|recurring|repeat", INTENT_UPDATE, false},
    {"reopen|uncomplete|unmark|undo|untick", INTENT_REFUSE, false},
    {"move|postpone|reschedule|push|delay|defer", INTENT_UPDATE, true},
    {"update|change|edit|modify|set|make|prioritize|prioritise|tag|untag", INTENT_UPDATE, false},
    {"how many", INTENT_STATS, false},
    {"stats|statistics|summary|summarize|summarise|overview|progress", INTENT_STATS, false},
    {"what can you do|help", INTENT_HELP, false},
    {"help|commands|usage|instructions", INTENT_HELP, false},
    {"how do|can|does i|you", INTENT_HELP, false},
    {"list|show|display|view|see|find|search|lookup|look", INTENT_LIST, true},
    {"give|get me", INTENT_LIST, false},
    {"do|does i|we have", INTENT_LIST, false},
    {"is|are there|anything", INTENT_LIST, false},
    {"what|what's|whats|which|anything|any", INTENT_LIST, false},
};

/* Greetings and thanks; a clause made only of these is a greeting. */
static const char *const greeting_words[] = {
    "hi",      "hello",   "hey",       "hiya", "yo",      "thanks",    "thank",   "you",
    "thx",     "ty",      "cheers",    "ok",   "okay",    "cool",      "great",   "good",
    "morning", "evening", "afternoon", "bye",  "goodbye", "nice",      "perfect", "awesome",
    "much",    "so",      "lot",       "a",    "there",   "assistant", "👋",       NULL};

size_t skip_politeness(const struct ctx *c, struct span s, size_t i)
{
    static const char *const phrases[] = {
        "please|pls|plz|kindly|just|quickly|now|so|also|and|then|ok|okay|hey|hi|oh|well",
        "can|could|would|will you|u",
        "i want|wanna to",
        "i wanna",
        "i'd|id like to",
        "i would like to",
        "let's|lets",
        "go ahead and",
        NULL};
    for (int guard = 0; guard < 8 && i < s.hi; guard++) {
        size_t k = 0;
        for (size_t p = 0; phrases[p] && !k; p++)
            k = phrase_at(c, s, i, phrases[p]);
        if (!k)
            break;
        i += k;
    }
    return i;
}

size_t verb_at(const struct ctx *c, struct span s, size_t i, enum offline_intent_kind *kind)
{
    for (size_t v = 0; v < ARRAY_LEN(verbs); v++) {
        size_t k = phrase_at(c, s, i, verbs[v].phrase);
        if (!k)
            continue;
        /* "task 3" refers to a task; "todo list" and "task list" ask for the list. */
        if (strcmp(verbs[v].phrase, "todo|to-do|task") == 0) {
            int64_t id;
            if (task_ref_at(c, s, i, &id) || phrase_at(c, s, i + 1, "list|lists|tasks"))
                continue;
        }
        *kind = verbs[v].kind;
        return k;
    }
    return 0;
}

/* True when a new request starts at i (after politeness): a verb that splits. */
static bool request_starts(const struct ctx *c, struct span s, size_t i)
{
    i = skip_politeness(c, s, i);
    for (size_t v = 0; v < ARRAY_LEN(verbs); v++)
        if (verbs[v].split && phrase_at(c, s, i, verbs[v].phrase))
            return true;
    return false;
}

bool is_greeting(const struct ctx *c, struct span s)
{
    if (s.lo >= s.hi)
        return false;
    for (size_t i = s.lo; i < s.hi; i++)
        if (!word_in(c, s, i, greeting_words))
            return false;
    return true;
}

size_t split_clauses(struct ctx *c, struct span *out, size_t max)
{
    size_t n = 0, lo = 0;
    struct span all = {0, c->n};
    for (size_t i = 0; i < c->n && n < max; i++) {
        bool cut_after = (c->t[i].flags & T_STOP) != 0;
        size_t next = i + 1;
        if (!cut_after && i + 1 < c->n) {
            /* ", add …", "and complete …", "then delete …", "and then …" */
            size_t j = i + 1;
            bool joint = (c->t[i].flags & T_COMMA) != 0;
            size_t k = phrase_at(c, all, j, "and|then|also|plus");
            if (k) {
                joint = true;
                j += k;
                j += phrase_at(c, all, j, "then|also");
            }
            /* A greeting ends at its comma: "hi, what's due today". */
            struct span head = {lo, i + 1};
            if (joint && (request_starts(c, all, j) ||
                          ((c->t[i].flags & T_COMMA) && is_greeting(c, head)))) {
                cut_after = true;
                next = j;
            }
        }
        if (!cut_after)
            continue;
        if (i + 1 > lo)
            out[n++] = (struct span){lo, i + 1};
        lo = next;
        i = next - 1;
    }
    if (lo < c->n && n < max)
        out[n++] = (struct span){lo, c->n};
    return n;
}
