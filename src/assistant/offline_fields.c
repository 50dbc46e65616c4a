/*
 * The task fields of the offline assistant's add and update intents and of the quick add
 * (see offline_internal.h): priority, tags, description, reminder, due date and
 * recurrence read out of a clause, and the title made of the words that are left.
 */
#include <string.h>

#include "assistant/offline_internal.h"
#include "core/err.h"
#include "core/text.h"
#include "core/timefmt.h"
#include "core/util.h"

#define TAG_CHARS_MAX   50 /* the API's tag length */
#define SPLIT_WORDS_MAX 2  /* "add milk and eggs": each item at most this many words */

/* --- small helpers --- */

void fields_init(struct offline_fields *f)
{
    memset(f, 0, sizeof(*f));
    f->interval = 1;
}

bool is_free(const struct ctx *c, size_t i)
{
    return i < c->n && !(c->t[i].flags & T_USED);
}

/* The first and last free token of s; false when there is none. */
bool free_bounds(const struct ctx *c, struct span s, size_t *first, size_t *last)
{
    bool any = false;
    *first = *last = s.lo;
    for (size_t i = s.lo; i < s.hi; i++) {
        if (!is_free(c, i))
            continue;
        if (!any)
            *first = i;
        *last = i;
        any = true;
    }
    return any;
}

/* Marks leading and trailing filler phrases of s used, repeatedly. */
void trim_fillers(struct ctx *c, struct span s, const char *const *lead, const char *const *trail)
{
    for (int guard = 0; guard < 16; guard++) {
        size_t first, last;
        if (!free_bounds(c, s, &first, &last))
            return;
        bool cut = false;
        for (size_t k = 0; lead && lead[k] && !cut; k++) {
            size_t n = phrase_at(c, s, first, lead[k]);
            if (n && first + n <= last + 1) {
                use_tokens(c, first, n);
                cut = true;
            }
        }
        for (size_t k = 0; trail && trail[k] && !cut; k++) {
            /* a trailing phrase of n words ends at last */
            for (size_t n = 1; n <= 5 && n <= last + 1 - s.lo && !cut; n++) {
                if (phrase_at(c, s, last + 1 - n, trail[k]) == n) {
                    use_tokens(c, last + 1 - n, n);
                    cut = true;
                }
            }
        }
        for (size_t i = first; i <= last && !cut; i++) /* stray punctuation at the edges */
            if ((i == first || i == last) && (c->t[i].flags & T_PUNCT) && is_free(c, i)) {
                use_tokens(c, i, 1);
                cut = true;
            }
        if (!cut)
            return;
    }
}

/* Upper-cases an ASCII first letter, unless the word is like "iPhone". */
const char *capitalise(struct arena *a, const char *s)
{
    if (!s || s[0] < 'a' || s[0] > 'z' || (s[1] >= 'A' && s[1] <= 'Z'))
        return s;
    char *out = arena_strdup(a, s);
    if (out)
        out[0] = (char)(out[0] - 32);
    return out;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* --- task fields: priority, tags, description, reminder --- */

/* "high priority", "urgent", "!high", "p1" …: returns the tokens and sets *prio. */
size_t priority_at(const struct ctx *c, struct span s, size_t i, const char **prio)
{
    static const struct {
        const char *phrase;
        const char *value;
    } rules[] = {
        {"with|as|at|a|on high|top|highest|hi priority|prio|pri", "high"},
        {"high|top|highest|hi priority|prio|pri", "high"},
        {"high-priority|hi-pri|urgent|urgently|asap|important|critical|!high|!h|!hi|!urgent|!!|"
         "!!!|!1|p1",
         "high"},
        {"priority|prio high|top|urgent|1", "high"},
        {"with|as|at|a|on medium|normal|mid|med priority|prio|pri", "medium"},
        {"medium|normal|mid|med priority|prio|pri", "medium"},
        {"medium-priority|!medium|!med|!m|!normal|!2|p2", "medium"},
        {"priority|prio medium|normal|2", "medium"},
        {"with|as|at|a|on low|lowest priority|prio|pri", "low"},
        {"low|lowest priority|prio|pri", "low"},
        {"not urgent|important", "low"},
        {"low-priority|!low|!l|!lo|!3|p3", "low"},
        {"priority|prio low|3", "low"},
    };
    for (size_t r = 0; r < ARRAY_LEN(rules); r++) {
        size_t n = phrase_at(c, s, i, rules[r].phrase);
        if (n) {
            *prio = rules[r].value;
            return n;
        }
    }
    return 0;
}

bool priority_scan(struct ctx *c, struct span s, const char **prio)
{
    for (size_t i = s.lo; i < s.hi; i++) {
        size_t n = priority_at(c, s, i, prio);
        if (n) {
            use_tokens(c, i, n);
            return true;
        }
    }
    return false;
}

/* A "#tag" word: '#' then something that is not a number (that is a task reference). */
bool hash_tag(const struct ctx *c, struct span s, size_t i)
{
    if (i < s.lo || i >= s.hi || !is_free(c, i) || (c->t[i].flags & T_QUOTED))
        return false;
    const char *w = c->t[i].s;
    return c->t[i].len >= 2 && w[0] == '#' && !(w[1] >= '0' && w[1] <= '9') && w[1] != '#';
}

/* Adds a tag (without '#'), skipping duplicates (case-insensitive) and bad lengths. */
void add_tag(struct ctx *c, struct offline_fields *f, const char *s, size_t len)
{
    if (len && s[0] == '#') {
        s++;
        len--;
    }
    const char *tag = arena_strndup(c->a, s, len);
    if (!tag || !*tag || utf8_chars(tag) > TAG_CHARS_MAX || f->ntags >= OFFLINE_MAX_TAGS)
        return;
    for (size_t k = 0; k < f->ntags; k++)
        if (text_equal_fold(c->a, f->tags[k], tag))
            return;
    f->tags[f->ntags++] = tag;
    f->set |= OF_TAGS;
}

/* "#home", "tagged home", "with tag home", "label it home". */
bool tags_scan(struct ctx *c, struct span s, struct offline_fields *f)
{
    bool found = false;
    for (size_t i = s.lo; i < s.hi; i++) {
        if (hash_tag(c, s, i)) {
            add_tag(c, f, c->t[i].s, c->t[i].len);
            use_tokens(c, i, 1);
            found = true;
            continue;
        }
        size_t n = phrase_at(c, s, i, "tagged|labelled|labeled|tag|tags|label with|as");
        if (!n)
            n = phrase_at(c, s, i, "with the|a tag|label");
        if (!n)
            n = phrase_at(c, s, i, "with tag|tags|label|labels");
        if (!n)
            n = phrase_at(c, s, i, "tagged|labelled|labeled");
        if (n && i + n < s.hi && is_free(c, i + n) && !(c->t[i + n].flags & T_PUNCT)) {
            add_tag(c, f, c->t[i + n].s, c->t[i + n].len);
            use_tokens(c, i, n + 1);
            found = true;
        }
    }
    return found;
}

/* "note: …", "description: …", "with the description …": the rest is the description. */
static bool description_scan(struct ctx *c, struct span s, struct offline_fields *f)
{
    for (size_t i = s.lo; i < s.hi; i++) {
        size_t n = phrase_at(c, s, i, "with|and the|a description|note|notes|details");
        if (!n)
            n = phrase_at(c, s, i, "with|and description|notes|details");
        if (!n && (c->t[i].flags & T_COLON))
            n = phrase_at(c, s, i, "description|desc|note|notes|details|info");
        if (!n || i + n >= s.hi)
            continue;
        const char *d = raw_text(c, i + n, s.hi);
        if (!d)
            return false;
        f->description = d;
        f->set |= OF_DESCRIPTION;
        use_tokens(c, i, s.hi - i);
        return true;
    }
    return false;
}

/* The tokens of s up to and including the first one a comma follows. */
static struct span until_comma(const struct ctx *c, struct span s, size_t from)
{
    struct span out = {from, s.hi};
    for (size_t i = from; i < s.hi; i++)
        if (c->t[i].flags & T_COMMA) {
            out.hi = i + 1;
            break;
        }
    return out;
}

/* "remind me at 4pm", "with a reminder tomorrow at 9", "remind me 30 minutes before". */
void remind_scan(struct ctx *c, struct span s, struct offline_fields *f, int64_t *before)
{
    for (size_t i = s.lo; i < s.hi; i++) {
        size_t n = phrase_at(c, s, i, "remind|alert|ping|notify me");
        if (!n)
            n = phrase_at(c, s, i, "with|and|set a reminder");
        if (!n)
            n = phrase_at(c, s, i, "reminder|remind");
        if (!n)
            continue;
        /* "… 30 minutes before" */
        int64_t count;
        size_t j = i + n;
        if (count_at(c, s, j, 10000, false, &count) == ERR_OK) {
            static const struct {
                const char *unit;
                int64_t seconds;
            } units[] = {
                {"minute|minutes|min|mins", 60}, {"hour|hours|hr|hrs", 3600}, {"day|days", 86400}};
            for (size_t u = 0; u < ARRAY_LEN(units); u++) {
                if (phrase_at(c, s, j + 1, units[u].unit) &&
                    phrase_at(c, s, j + 2, "before|earlier|ahead")) {
                    *before = count * units[u].seconds;
                    use_tokens(c, i, n + 3);
                    return;
                }
            }
        }
        struct when w;
        when_clear(&w);
        struct span sub = until_comma(c, s, j);
        if (when_scan(c, sub, &w) && when_format(c, &w, f->remind_at)) {
            f->set |= OF_REMIND;
            use_tokens(c, i, n);
            return;
        }
    }
}

/* Reads every task field of s except the title: description, recurrence, reminder, due
 * date, priority, tags (quoted text is left for the title). remind_all: the reminder is the
 * due time ("remind me to …"). */
void scan_task_fields(struct ctx *c, struct span s, struct offline_fields *f, bool remind_all)
{
    description_scan(c, s, f);
    struct when w;
    when_clear(&w);
    recur_scan(c, s, f, &w);
    int64_t before = 0;
    remind_scan(c, s, f, &before);
    when_scan(c, s, &w);
    if (when_format(c, &w, f->due_at))
        f->set |= OF_DUE;
    if ((f->set & OF_DUE) && (remind_all || before) && !(f->set & OF_REMIND)) {
        int64_t due;
        if (time_parse(f->due_at, DATE_ONLY_REJECT, &due) == ERR_OK) {
            local_format(c, due + (int64_t)c->off_min * 60 - before, f->remind_at);
            if (f->remind_at[0])
                f->set |= OF_REMIND;
        }
    }
    const char *prio;
    if (priority_scan(c, s, &prio)) {
        f->priority = prio;
        f->set |= OF_PRIORITY;
    }
    tags_scan(c, s, f);
}

static const char *const title_lead[] = {"a|an new task|todo|to-do|reminder|item|note|entry",
                                         "a|an task|todo|to-do|reminder|item|note|entry",
                                         "new task|todo|to-do|item|entry",
                                         "task|todo|to-do|reminder|item|entry",
                                         "to do",
                                         "called|named|titled|saying|about|that|for|to|-|:",
                                         "that says",
                                         NULL};
static const char *const title_trail[] = {
    "to|on|in|onto|into my|the todo|to-do|task|tasks|todos|list|lists",
    "to|on|in|onto|into my|the to do list",
    "to|on|in|onto|into my|the todo|to-do|task list",
    "to the list",
    "for me",
    "please|pls|plz|thanks|thx|now",
    "thank you",
    "task|todo|item",
    "and|to|on|at|by|for|due|with|in|-|the|a|an|of",
    NULL};

/* The title left in s once fields are taken: fillers trimmed, first letter capitalised.
 * NULL when nothing is left. */
void trim_title(struct ctx *c, struct span s)
{
    trim_fillers(c, s, title_lead, title_trail);
}

const char *title_of(struct ctx *c, struct span s)
{
    trim_title(c, s);
    return capitalise(c->a, free_text(c, s, false));
}

/* "milk and eggs", "milk, eggs and bread", "buy milk and call mom": items of equal length
 * (at most SPLIT_WORDS_MAX words) become separate tasks. Writes up to max item spans;
 * returns how many (0: not a list). */
size_t split_items(const struct ctx *c, struct span s, struct span *items, size_t max)
{
    size_t n = 0, words = 0, want = 0, lo = s.lo;
    bool sep_seen = false;
    for (size_t i = s.lo; i <= s.hi; i++) {
        bool end = i == s.hi;
        bool and =
            !end && is_free(c, i) && !(c->t[i].flags & T_QUOTED) && strcmp(c->t[i].w, "and") == 0;
        if (!end && !and) {
            if (!is_free(c, i))
                return 0; /* a date in the middle: not a plain list */
            words++;
            if (!(c->t[i].flags & T_COMMA))
                continue;
        }
        if (!end && !and) /* a comma after this word ends the item */
            i++;
        if (words == 0 || words > SPLIT_WORDS_MAX || (want && words != want) || n >= max)
            return 0;
        want = words;
        items[n++] = (struct span){lo, i};
        sep_seen = sep_seen || !end;
        words = 0;
        if (end || i >= s.hi)
            break;
        lo = and? i + 1 : i;
        if (!and)
            i--;
    }
    return sep_seen && n >= 2 ? n : 0;
}

int offline_parse_task(struct arena *a, const struct offline_input *in, struct offline_fields *out)
{
    fields_init(out);
    struct ctx c;
    int rc = lex_message(&c, a, in);
    if (rc != ERR_OK)
        return rc;
    if (c.truncated)
        return ERR_TOOBIG;
    struct span s = {0, c.n};
    size_t k = phrase_at(&c, s, 0, "remind me to|about");
    use_tokens(&c, 0, k);
    scan_task_fields(&c, s, out, k > 0);
    out->title = title_of(&c, s);
    if (!out->title)
        return ERR_INVALID;
    out->set |= OF_TITLE;
    return ERR_OK;
}
