/*
 * The offline assistant's list questions (see offline_internal.h): "what's due today",
 * "what's overdue", "show completed work tasks", "top 3 by priority" become list_tasks
 * arguments — status, priority, tag, search, a due range in the user's days, sort and limit;
 * and the small tests that tell a list question from a tags or stats one.
 */
#include <string.h>

#include "assistant/offline_internal.h"
#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

#define LIST_LIMIT_MAX 200 /* the API's largest page */

/* Sets a day range [start, end] of the user's days from today+from to today+to. */
static void day_range(const struct ctx *c, struct offline_filter *f, int from, int to)
{
    int y, m, d;
    local_date_add(c, from, &y, &m, &d);
    local_format(c, local_at(y, m, d, 0), f->due_after);
    local_date_add(c, to, &y, &m, &d);
    local_format(c, local_at(y, m, d, 86399), f->due_before);
}

/* The due part of a list: "due today", "this week", "overdue", "due before friday". */
static void list_due(struct ctx *c, struct span s, struct offline_filter *f)
{
    size_t n;
    for (size_t i = s.lo; i < s.hi; i++) {
        size_t k = phrase_at(c, s, i, "due|for|on|by");
        int week_left = (7 - c->wd) % 7; /* days to Sunday */
        int to_monday = (8 - c->wd) % 7 ? (8 - c->wd) % 7 : 7;
        if ((n = phrase_at(c, s, i + k, "today|tonight|tdy"))) {
            day_range(c, f, 0, 0);
            f->due_label = "due today";
        } else if ((n = phrase_at(c, s, i + k, "tomorrow|tmrw|tmr"))) {
            day_range(c, f, 1, 1);
            f->due_label = "due tomorrow";
        } else if ((n = phrase_at(c, s, i + k, "this week")) ||
                   (n = phrase_at(c, s, i + k, "the week"))) {
            day_range(c, f, 0, week_left);
            f->due_label = "due this week";
        } else if ((n = phrase_at(c, s, i + k, "next week"))) {
            day_range(c, f, to_monday, to_monday + 6);
            f->due_label = "due next week";
        } else if ((n = phrase_at(c, s, i + k, "soon|upcoming")) ||
                   (n = phrase_at(c, s, i + k, "coming up")) ||
                   (n = phrase_at(c, s, i + k, "in the next 7 days"))) {
            day_range(c, f, 0, 6);
            f->due_label = "due in the next 7 days";
        } else if ((n = phrase_at(c, s, i, "overdue|late|missed")) ||
                   (n = phrase_at(c, s, i, "past due"))) {
            f->overdue = 1;
            k = 0;
        } else {
            continue;
        }
        use_tokens(c, i, k + n);
    }
    for (size_t i = s.lo; i < s.hi && !f->due_label; i++) {
        size_t k = phrase_at(c, s, i, "due|deadline");
        size_t b = phrase_at(c, s, i + k, "before|by|until|till");
        size_t a = b ? 0 : phrase_at(c, s, i + k, "after|from");
        if (!k && !b && !a)
            continue;
        struct when w;
        when_clear(&w);
        struct span sub = {i + k + a + b, s.hi};
        char when[OFFLINE_TIME_MAX];
        if (!when_scan(c, sub, &w) || !when_format(c, &w, when))
            continue;
        use_tokens(c, i, k + a + b);
        if (a) {
            /* "due after friday": from the start of that day */
            memcpy(f->due_after, when, sizeof(when));
            if (!w.has_time && !w.instant)
                memcpy(f->due_after + 11, "00:00:00", 8);
            f->due_label = "due after that";
        } else if (b) {
            memcpy(f->due_before, when, sizeof(when));
            f->due_label = "due by then";
        } else {
            int64_t t;
            if (time_parse(when, DATE_ONLY_REJECT, &t) == ERR_OK) {
                memcpy(f->due_before, when, sizeof(when));
                memcpy(f->due_after, when, sizeof(when));
                memcpy(f->due_after + 11, "00:00:00", 8);
                memcpy(f->due_before + 11, "23:59:59", 8);
            }
            f->due_label = "due then";
        }
    }
}

void parse_list(struct ctx *c, struct span s, bool search_verb, struct offline_plan *p)
{
    struct offline_intent *it = push_intent(p, INTENT_LIST);
    if (!it)
        return;
    struct offline_filter *f = &it->filter;
    size_t n;
    list_due(c, s, f);
    for (size_t i = s.lo; i < s.hi; i++) {
        const char *prio;
        int64_t count;
        if ((n = phrase_at(c, s, i, "not done|finished|completed|complete"))) {
            f->status = "pending";
        } else if ((n = phrase_at(c, s, i, "completed|complete|done|finished|closed|ticked"))) {
            f->status = "completed";
        } else if ((n = phrase_at(c, s, i,
                                  "pending|open|incomplete|unfinished|remaining|"
                                  "outstanding|active|undone|uncompleted|left|todo")) ||
                   (n = phrase_at(c, s, i, "to do"))) {
            f->status = "pending";
        } else if ((n = phrase_at(c, s, i, "all|every|everything"))) {
            f->status = "all";
        } else if ((n = priority_at(c, s, i, &prio))) {
            f->priority = prio;
        } else if ((n = phrase_at(c, s, i, "by|sorted|ordered|sort due date|deadline|date|due")) ||
                   (n = phrase_at(c, s, i, "by|sorted|ordered|sort due")) ||
                   (n = phrase_at(c, s, i, "soonest|earliest first"))) {
            f->sort = "due_date";
        } else if ((n = phrase_at(c, s, i, "by|sorted|ordered|sort priority|importance")) ||
                   (n = phrase_at(c, s, i, "most important|urgent first"))) {
            f->sort = "priority";
        } else if ((n = phrase_at(c, s, i, "alphabetically|a-z")) ||
                   (n = phrase_at(c, s, i, "by|sorted|ordered title|name"))) {
            f->sort = "title";
        } else if ((n = phrase_at(c, s, i, "newest|latest|recent|recently added|created")) ||
                   (n = phrase_at(c, s, i, "most recent|newest|latest first"))) {
            f->sort = "created";
            f->order = "desc";
        } else if ((n = phrase_at(c, s, i, "oldest first")) || (n = phrase_at(c, s, i, "oldest"))) {
            f->sort = "created";
            f->order = "asc";
        } else if ((n = phrase_at(c, s, i, "recently|last updated|changed|modified"))) {
            f->sort = "updated";
            f->order = "desc";
        } else if (phrase_at(c, s, i, "top|first|next|last") &&
                   count_at(c, s, i + 1, LIST_LIMIT_MAX, false, &count) == ERR_OK) {
            f->limit = (int)count;
            n = 2;
        } else if (count_at(c, s, i, LIST_LIMIT_MAX, false, &count) == ERR_OK &&
                   !word_in(c, s, i, (const char *const[]){"a", "an", NULL}) &&
                   phrase_at(c, s, i + 1, "tasks|items|todos|things")) {
            f->limit = (int)count;
            n = 1;
        } else {
            continue;
        }
        use_tokens(c, i, n);
    }
    struct offline_fields tags;
    fields_init(&tags);
    tags_scan(c, s, &tags);
    if (tags.ntags)
        f->tag = tags.tags[0];
    /* "about milk", "containing milk", a quoted phrase, or what a "find" leaves. */
    for (size_t i = s.lo; i < s.hi && !f->search; i++) {
        if (c->t[i].flags & T_QUOTED && is_free(c, i)) {
            f->search = arena_strndup(c->a, c->t[i].s, c->t[i].len);
            use_tokens(c, i, 1);
        } else if ((n = phrase_at(c, s, i,
                                  "about|containing|mentioning|matching|like|called|"
                                  "named|titled|with"))) {
            size_t j = i + n;
            size_t end = j;
            while (end < s.hi && is_free(c, end) &&
                   !phrase_at(c, s, end, "tasks|task|todos|items|in|please"))
                end++;
            if (end > j) {
                f->search = free_text(c, (struct span){j, end}, false);
                use_tokens(c, i, end - i);
            }
        }
    }
    static const char *const noise[] = {"tasks|task|todos|todo|to-dos|items|item|things|stuff|"
                                        "jobs|chores|list|lists|agenda|plate",
                                        NULL};
    /* "work tasks": one unknown word before "tasks" is a tag */
    for (size_t i = s.lo; i + 1 < s.hi && !f->tag && !search_verb; i++) {
        if (is_free(c, i) && !(c->t[i].flags & (T_QUOTED | T_PUNCT)) &&
            phrase_at(c, s, i + 1, noise[0]) &&
            !word_in(c, s, i,
                     (const char *const[]){
                         "my",      "the",      "all",   "any",    "of",    "what",    "which",
                         "show",    "list",     "are",   "is",     "do",    "have",    "i",
                         "me",      "your",     "our",   "some",   "these", "those",   "new",
                         "many",    "much",     "give",  "see",    "view",  "display", "get",
                         "current", "existing", "whats", "what's", "and",   "or",      "in",
                         "on",      "for",      "to",    "with",   "many",  "find",    "search",
                         "look",    "lookup",   "there", "a",      NULL}))
            f->tag = free_text(c, (struct span){i, i + 1}, true);
    }
    if (search_verb && !f->search) {
        trim_fillers(c, s, (const char *const[]){"for|me|my|the|a|an|all|any", NULL}, noise);
        f->search = free_text(c, s, false);
    }
    if ((f->due_label || f->overdue == 1) && !f->status)
        f->status = "pending";
    if ((f->due_label || f->overdue == 1) && !f->sort)
        f->sort = "due_date";
    if (f->overdue == 1)
        f->status = NULL; /* overdue is pending by definition */
}

/* Which count a stats question asks about. */
const char *stats_focus(const struct ctx *c, struct span s)
{
    for (size_t i = s.lo; i < s.hi; i++) {
        if (phrase_at(c, s, i, "overdue|late"))
            return "overdue";
        if (phrase_at(c, s, i, "completed|done|finished|complete"))
            return "completed";
        if (phrase_at(c, s, i, "pending|open|left|remaining|outstanding|incomplete"))
            return "pending";
        if (phrase_at(c, s, i, "today|due today"))
            return "due_today";
    }
    return NULL;
}

/* True when s mentions tags as the thing asked for ("my tags", "what tags"). */
bool asks_tags(const struct ctx *c, struct span s)
{
    bool tags = false, tasks = false;
    for (size_t i = s.lo; i < s.hi; i++) {
        tags = tags || phrase_at(c, s, i, "tags|labels|categories");
        tasks = tasks || phrase_at(c, s, i, "tasks|todos|items|tagged|with");
    }
    return tags && !tasks;
}

bool asks_stats(const struct ctx *c, struct span s)
{
    for (size_t i = s.lo; i < s.hi; i++)
        if (phrase_at(c, s, i, "stats|statistics|summary|overview|progress|count|counts"))
            return true;
    return false;
}

/* Words that make a clause without a verb a question about the list. */
bool list_cue(const struct ctx *c, struct span s)
{
    for (size_t i = s.lo; i < s.hi; i++)
        if (phrase_at(c, s, i, "tasks|todos|to-dos|overdue|due|agenda|todo|pending|completed"))
            return true;
    return false;
}
