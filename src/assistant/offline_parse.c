/*
 * The offline assistant's understanding (see offline.h): each clause of the message becomes
 * an intent with its tool arguments — the task fields of an add or an update, the target of
 * a complete/delete/update, the filter of a list. The quick-add parser is the add intent's
 * field reader on its own.
 */
#include <string.h>

#include "assistant/offline_internal.h"
#include "core/err.h"
#include "core/util.h"

#define CLAUSES_MAX (OFFLINE_MAX_INTENTS * 2)

/* --- the plan --- */

struct offline_intent *push_intent(struct offline_plan *p, enum offline_intent_kind kind)
{
    if (p->n >= OFFLINE_MAX_INTENTS)
        return NULL;
    struct offline_intent *it = &p->intents[p->n++];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    fields_init(&it->fields);
    it->filter.overdue = -1;
    return it;
}

/* --- targets --- */

/* Ids at s: "3", "task 3", "#3", "3 and 4", "tasks 3, 4 and 5". Marks them used; returns how
 * many s names (0 when s holds anything else; more than OFFLINE_MAX_IDS are not kept). */
static size_t ids_scan(struct ctx *c, struct span s, struct offline_target *t)
{
    size_t first, last;
    if (!free_bounds(c, s, &first, &last))
        return 0;
    size_t n = 0;
    for (size_t i = first; i <= last;) {
        if (!is_free(c, i)) {
            i++;
            continue;
        }
        int64_t id;
        size_t k = task_ref_at(c, s, i, &id);
        if (k) {
            if (n < OFFLINE_MAX_IDS)
                t->ids[n] = id;
            n++;
            i += k;
            continue;
        }
        if (phrase_at(c, s, i, "and|tasks|the|number|numbers|ids|#|or")) {
            i++;
            continue;
        }
        return 0;
    }
    t->nids = n <= OFFLINE_MAX_IDS ? n : 0;
    if (n)
        use_tokens(c, first, last - first + 1);
    return n;
}

static const char *const target_lead[] = {"the|my|a|an|that|this", "task|item|todo|to-do|one",
                                          "with|about|off|of|on", NULL};
static const char *const target_trail[] = {
    "from|off my|the list|todo|to-do|tasks|todos",
    "from|off the|my to do list",
    "off|please|pls|now|already|today|for me",
    "as done|complete|completed|finished",
    "done|complete|completed|finished|task|item|todo|one|thing",
    NULL};

enum target_result { TARGET_NONE = 0, TARGET_OK, TARGET_TOO_MANY };

/* The target of s: ids, or the words left as a title fragment (a quoted one wins). */
static enum target_result target_scan(struct ctx *c, struct span s, struct offline_target *t)
{
    for (size_t i = s.lo; i < s.hi; i++)
        if ((c->t[i].flags & T_QUOTED) && is_free(c, i)) {
            t->fragment = arena_strndup(c->a, c->t[i].s, c->t[i].len);
            use_tokens(c, i, 1);
            return t->fragment ? TARGET_OK : TARGET_NONE;
        }
    trim_fillers(c, s, target_lead, target_trail);
    size_t ids = ids_scan(c, s, t);
    if (ids)
        return ids <= OFFLINE_MAX_IDS ? TARGET_OK : TARGET_TOO_MANY;
    t->fragment = free_text(c, s, true);
    if (t->fragment)
        use_tokens(c, s.lo, s.hi - s.lo);
    return t->fragment ? TARGET_OK : TARGET_NONE;
}

static const char too_many[] = "I can act on at most 5 tasks in one request.";

/* "all", "everything", "all my tasks", "every task": a bulk request. */
static bool bulk_at(const struct ctx *c, struct span s, size_t i)
{
    i += phrase_at(c, s, i, "the|my");
    return phrase_at(c, s, i, "all|everything|every|each") > 0;
}

/* --- intents --- */

static void refuse(struct offline_plan *p, const char *note)
{
    struct offline_intent *it = push_intent(p, INTENT_REFUSE);
    if (it)
        it->note = note;
}

static void help_for(struct ctx *c, struct span s, struct offline_plan *p)
{
    struct offline_intent *it = push_intent(p, INTENT_HELP);
    if (it)
        it->note = raw_text(c, s.lo, s.hi);
}

/* "add #home to task 3", "add high priority to 3": an update of tags and fields. */
static bool add_to_task(struct ctx *c, struct span s, struct offline_plan *p)
{
    for (size_t i = s.lo; i + 1 < s.hi; i++) {
        if (!word_at(c, s, i, "to"))
            continue;
        int64_t id;
        size_t k = task_ref_at(c, s, i + 1, &id);
        if (!k || i + 1 + k != s.hi)
            continue;
        struct offline_fields f;
        fields_init(&f);
        struct span what = {s.lo, i};
        tags_scan(c, what, &f);
        const char *prio;
        if (priority_scan(c, what, &prio)) {
            f.priority = prio;
            f.set |= OF_PRIORITY;
        }
        if (!f.set)
            return false;
        struct offline_intent *it = push_intent(p, INTENT_UPDATE);
        if (!it)
            return true;
        it->fields = f;
        it->fields.tags_mode = TAGS_ADD;
        it->target.ids[0] = id;
        it->target.nids = 1;
        use_tokens(c, s.lo, s.hi - s.lo);
        return true;
    }
    return false;
}

static void parse_add(struct ctx *c, struct span s, bool remind_all, struct offline_plan *p)
{
    if (add_to_task(c, s, p))
        return;
    struct offline_fields f;
    fields_init(&f);
    scan_task_fields(c, s, &f, remind_all);
    trim_title(c, s);
    struct span items[OFFLINE_MAX_INTENTS];
    size_t first, last;
    size_t n = free_bounds(c, s, &first, &last) ? split_items(c, (struct span){first, last + 1},
                                                              items, OFFLINE_MAX_INTENTS - p->n)
                                                : 0;
    for (size_t k = 0; k < n; k++) {
        struct offline_intent *it = push_intent(p, INTENT_ADD);
        if (!it)
            return;
        it->fields = f;
        it->fields.title = capitalise(c->a, free_text(c, items[k], false));
        it->fields.set |= OF_TITLE;
    }
    if (n)
        return;
    f.title = title_of(c, s);
    if (!f.title) {
        refuse(p, "What should the new task be called? For example: \"add buy milk tomorrow\".");
        return;
    }
    f.set |= OF_TITLE;
    struct offline_intent *it = push_intent(p, INTENT_ADD);
    if (it)
        it->fields = f;
}

/* Reads an update's changes from v: a named field ("title", "priority", "due date" …) or
 * whatever the words say (a date, a priority, a recurrence, tags). verb_title: a plain
 * value is the new title ("rename", "change milk to oat milk"). */
static void update_changes(struct ctx *c, struct span v, const char *field,
                           struct offline_fields *f, bool verb_title)
{
    struct when w;
    when_clear(&w);
    const char *prio;
    if (field && strcmp(field, "title") == 0) {
        f->title = title_of(c, v);
        f->set |= f->title ? OF_TITLE : 0;
        return;
    }
    if (field && strcmp(field, "description") == 0) {
        size_t first, last;
        if (free_bounds(c, v, &first, &last) && (f->description = raw_text(c, first, last + 1)))
            f->set |= OF_DESCRIPTION;
        return;
    }
    bool none = false;
    for (size_t i = v.lo; i < v.hi; i++)
        none = none || word_in(c, v, i,
                               (const char *const[]){"none", "nothing", "no", "nil", "never",
                                                     "remove", "clear", NULL});
    if (field && strcmp(field, "due") == 0 && none) {
        f->clear |= OF_DUE;
        return;
    }
    if (field && strcmp(field, "remind") == 0) {
        if (none)
            f->clear |= OF_REMIND;
        else if (when_scan(c, v, &w) && when_format(c, &w, f->remind_at))
            f->set |= OF_REMIND;
        return;
    }
    if (field && strcmp(field, "tags") == 0) {
        f->tags_mode = TAGS_REPLACE;
        f->set |= OF_TAGS;
        for (size_t i = v.lo; i < v.hi; i++)
            if (is_free(c, i) && !(c->t[i].flags & T_PUNCT) && !word_at(c, v, i, "and"))
                add_tag(c, f, c->t[i].s, c->t[i].len);
        return;
    }
    if (field && strcmp(field, "priority") == 0) {
        for (size_t i = v.lo; i < v.hi && !(f->set & OF_PRIORITY); i++) {
            static const char *const names[] = {"high", "medium", "low", NULL};
            for (size_t k = 0; names[k]; k++)
                if (word_at(c, v, i, names[k]) || (k == 1 && word_at(c, v, i, "normal"))) {
                    f->priority = names[k];
                    f->set |= OF_PRIORITY;
                }
        }
    }
    if (field && strcmp(field, "recurrence") == 0 && none) {
        f->recurrence = "none";
        f->set |= OF_RECURRENCE;
        return;
    }
    recur_scan(c, v, f, &w);
    int64_t before = 0;
    remind_scan(c, v, f, &before);
    if (when_scan(c, v, &w) && when_format(c, &w, f->due_at))
        f->set |= OF_DUE;
    if (!(f->set & OF_PRIORITY) && priority_scan(c, v, &prio)) {
        f->priority = prio;
        f->set |= OF_PRIORITY;
    }
    if (tags_scan(c, v, f))
        f->tags_mode = TAGS_ADD;
    if (!f->set && !f->clear && verb_title) {
        f->title = title_of(c, v);
        f->set |= f->title ? OF_TITLE : 0;
    }
}

/* A field name at i ("the due date", "priority", "title"); returns its tokens. */
static size_t field_at(const struct ctx *c, struct span s, size_t i, const char **field)
{
    static const struct {
        const char *phrase, *field;
    } names[] = {
        {"due date|time", "due"},
        {"deadline|due|date|time", "due"},
        {"title|name", "title"},
        {"description|desc|notes|note|details", "description"},
        {"priority|prio|importance", "priority"},
        {"reminder|reminders|alert", "remind"},
        {"recurrence|repeat|repetition|schedule", "recurrence"},
        {"tags|tag|labels|label", "tags"},
    };
    size_t k = phrase_at(c, s, i, "the|its|their");
    for (size_t n = 0; n < ARRAY_LEN(names); n++) {
        size_t m = phrase_at(c, s, i + k, names[n].phrase);
        if (m) {
            *field = names[n].field;
            return k + m;
        }
    }
    return 0;
}

/* "rename 3 to X", "move milk to friday", "set the priority of 3 to high", "make 3 urgent",
 * "change milk's due date to monday", "tag 3 with home", "remove the due date from 3". */
static void parse_update(struct ctx *c, struct span s, const char *verb, struct offline_plan *p)
{
    struct offline_intent *it = push_intent(p, INTENT_UPDATE);
    if (!it)
        return;
    struct offline_fields *f = &it->fields;
    const char *field = NULL;
    size_t i = s.lo;
    if (verb && strcmp(verb, "stop") == 0) { /* "stop repeating 5" (the verb took "repeating") */
        if (target_scan(c, s, &it->target) != TARGET_OK) {
            p->n--;
            help_for(c, s, p);
            return;
        }
        f->recurrence = "none";
        f->set |= OF_RECURRENCE;
        return;
    }
    /* Field first: "the due date of task 3 …", "the due date from milk". */
    size_t k = field_at(c, s, i, &field);
    if (k && phrase_at(c, s, i + k, "of|for|on|from|in")) {
        use_tokens(c, i, k + 1);
        i += k + 1;
    } else {
        field = NULL;
    }
    /* The target runs to "to", "as", "with", a field name, a possessive or a value. */
    size_t end = i;
    int64_t id;
    size_t ref = task_ref_at(c, s, i, &id);
    if (ref) {
        end = i + ref;
        while (end < s.hi && phrase_at(c, s, end, "and|,"))
            end++;
    } else {
        while (end < s.hi && !phrase_at(c, s, end, "to|as|into|with|by|until|till|from|for") &&
               !(field == NULL && field_at(c, s, end, &(const char *){NULL})) &&
               !(end > i && value_phrase_at(c, s, end)) &&
               !priority_at(c, s, end, &(const char *){NULL}) && !hash_tag(c, s, end)) {
            end++;
            if (c->t[end - 1].flags & (T_POSS | T_COLON))
                break;
        }
    }
    enum target_result tr = target_scan(c, (struct span){i, end}, &it->target);
    if (tr != TARGET_OK) {
        p->n--;
        refuse(p, tr == TARGET_TOO_MANY ? too_many
                                        : "Which task should I change? Give its number or part "
                                          "of its title, for example: \"move 3 to friday\".");
        return;
    }
    /* Field after the target: "task 3's priority to high", "milk due date to monday". */
    if (!field && (k = field_at(c, s, end, &field))) {
        use_tokens(c, end, k);
        end += k;
    }
    size_t to = phrase_at(c, s, end, "to|as|into|=|with|by|until|till|for");
    use_tokens(c, end, to);
    struct span v = {end + to, s.hi};
    bool move = verb && (strcmp(verb, "move") == 0 || strcmp(verb, "postpone") == 0 ||
                         strcmp(verb, "reschedule") == 0 || strcmp(verb, "push") == 0 ||
                         strcmp(verb, "delay") == 0 || strcmp(verb, "defer") == 0);
    if (verb && (strcmp(verb, "rename") == 0 || strcmp(verb, "retitle") == 0))
        field = "title";
    if (verb && (strcmp(verb, "prioritize") == 0 || strcmp(verb, "prioritise") == 0)) {
        f->priority = "high";
        f->set |= OF_PRIORITY;
    }
    if (verb && strcmp(verb, "untag") == 0) {
        f->tags_mode = TAGS_REMOVE;
        for (size_t j = v.lo; j < v.hi; j++)
            if (is_free(c, j) && !(c->t[j].flags & T_PUNCT) && !word_at(c, v, j, "and"))
                add_tag(c, f, c->t[j].s, c->t[j].len);
    } else if (verb && strcmp(verb, "tag") == 0) {
        f->tags_mode = TAGS_ADD;
        for (size_t j = v.lo; j < v.hi; j++)
            if (is_free(c, j) && !(c->t[j].flags & T_PUNCT) && !word_at(c, v, j, "and"))
                add_tag(c, f, c->t[j].s, c->t[j].len);
    } else if (verb && strcmp(verb, "remove") == 0) {
        if (field && strcmp(field, "due") == 0)
            f->clear |= OF_DUE;
        else if (field && strcmp(field, "remind") == 0)
            f->clear |= OF_REMIND;
        else if (field && strcmp(field, "description") == 0)
            f->clear |= OF_DESCRIPTION;
        else if (field && strcmp(field, "recurrence") == 0) {
            f->recurrence = "none";
            f->set |= OF_RECURRENCE;
        }
    } else {
        update_changes(c, v, move ? "move" : field, f,
                       !move && verb && strcmp(verb, "make") != 0 && strcmp(verb, "mark") != 0);
    }
    if (!f->set && !f->clear) {
        p->n--;
        refuse(p, "What should I change? For example: \"rename 3 to Call mom\", \"move 3 to "
                  "next friday\", \"make 3 high priority\" or \"tag 3 with home\".");
    }
}

/* "remove the due date from 3", "remove tag home from milk", "remove #home from 3". */
static bool delete_is_update(struct ctx *c, struct span s, struct offline_plan *p)
{
    const char *field = NULL;
    size_t k = field_at(c, s, s.lo, &field);
    if (k && field && strcmp(field, "title") != 0 && strcmp(field, "priority") != 0 &&
        strcmp(field, "tags") != 0 && phrase_at(c, s, s.lo + k, "from|of|on|for|in")) {
        parse_update(c, s, "remove", p);
        return true;
    }
    size_t t = phrase_at(c, s, s.lo, "the|tag|label");
    if (t && phrase_at(c, s, s.lo, "the"))
        t += phrase_at(c, s, s.lo + t, "tag|label");
    bool hashed = hash_tag(c, s, s.lo + t);
    if (!(hashed || (t && !phrase_at(c, s, s.lo, "the"))))
        return false;
    for (size_t i = s.lo + t + 1; i + 1 < s.hi; i++) {
        if (!phrase_at(c, s, i, "from|off"))
            continue;
        struct offline_intent *it = push_intent(p, INTENT_UPDATE);
        if (!it)
            return true;
        it->fields.tags_mode = TAGS_REMOVE;
        for (size_t j = s.lo + t; j < i; j++)
            if (is_free(c, j) && !word_at(c, s, j, "and"))
                add_tag(c, &it->fields, c->t[j].s, c->t[j].len);
        use_tokens(c, s.lo, i + 1 - s.lo);
        if (!it->fields.ntags ||
            target_scan(c, (struct span){i + 1, s.hi}, &it->target) != TARGET_OK) {
            p->n--;
            return false;
        }
        return true;
    }
    return false;
}

/* Complete or delete by ids or a title fragment; "mark … as high priority" is an update. */
static void parse_target_intent(struct ctx *c, struct span s, enum offline_intent_kind kind,
                                bool mark, struct offline_plan *p)
{
    static const char *const reopen[] = {
        "not done", "not complete", "not completed", "undone",       "incomplete", "uncompleted",
        "pending",  "open",         "unfinished",    "not finished", NULL};
    if (mark) {
        for (size_t i = s.lo; i < s.hi; i++)
            for (size_t k = 0; reopen[k]; k++)
                if (phrase_at(c, s, i, reopen[k]) &&
                    (i == s.lo || !phrase_at(c, s, i - 1, "task|#"))) {
                    refuse(p, "I can't reopen tasks yet; open the task in the app and untick "
                              "it.");
                    return;
                }
        bool done = false;
        for (size_t i = s.lo; i < s.hi; i++)
            done = done || phrase_at(c, s, i, "done|complete|completed|finished|finish");
        if (!done) {
            parse_update(c, s, "mark", p);
            return;
        }
    }
    if (kind == INTENT_DELETE && delete_is_update(c, s, p))
        return;
    if (bulk_at(c, s, s.lo)) {
        refuse(p, kind == INTENT_DELETE
                      ? "To be safe I don't delete everything at once: name the tasks by number "
                        "or title, up to 5 at a time."
                      : "Name the tasks to complete by number or title, up to 5 at a time.");
        return;
    }
    struct offline_intent *it = push_intent(p, kind);
    if (!it)
        return;
    enum target_result tr = target_scan(c, s, &it->target);
    if (tr != TARGET_OK) {
        it->kind = INTENT_REFUSE;
        it->note = tr == TARGET_TOO_MANY ? too_many
                   : kind == INTENT_DELETE
                       ? "Which task should I delete? Give its number or part of its title."
                       : "Which task should I complete? Give its number or part of its title.";
    }
}

/* "task 3", "details of task 3", "show me task 3": a get of one task when s is only that
 * (after any of the lead words). */
static bool get_at(const struct ctx *c, struct span s, const char *lead, struct offline_plan *p)
{
    size_t j = s.lo + phrase_at(c, s, s.lo, lead);
    j += phrase_at(c, s, j, "the|of|for|details");
    int64_t id;
    size_t r = task_ref_at(c, s, j, &id);
    if (!r || j + r != s.hi)
        return false;
    struct offline_intent *it = push_intent(p, INTENT_GET);
    if (it) {
        it->target.ids[0] = id;
        it->target.nids = 1;
    }
    return true;
}

/* One clause → intents. */
static void parse_clause(struct ctx *c, struct span s, struct offline_plan *p)
{
    size_t i = skip_politeness(c, s, s.lo);
    if (i >= s.hi || is_greeting(c, s)) {
        struct offline_intent *it =
            is_greeting(c, s) || i > s.lo ? push_intent(p, INTENT_GREETING) : NULL;
        for (size_t j = s.lo; it && j < s.hi; j++)
            if (phrase_at(c, s, j, "thanks|thank|thx|ty|cheers"))
                it->note = "thanks";
        return;
    }
    enum offline_intent_kind kind = INTENT_HELP;
    size_t k = verb_at(c, s, i, &kind);
    const char *verb = k ? c->t[i].w : NULL;
    bool remind_all = k && (phrase_at(c, s, i, "remind|set") > 0);
    use_tokens(c, i, k);
    struct span rest = {i + k, s.hi};
    if (!k) {
        if (get_at(c, rest, "open|details|info|about|of|for|on", p))
            return;
        if (asks_tags(c, rest)) {
            push_intent(p, INTENT_TAGS);
            return;
        }
        if (asks_stats(c, rest)) {
            push_intent(p, INTENT_STATS);
            return;
        }
        if (list_cue(c, rest)) {
            parse_list(c, rest, false, p);
            return;
        }
        help_for(c, s, p);
        return;
    }
    switch (kind) {
    case INTENT_ADD:
        parse_add(c, rest, remind_all, p);
        break;
    case INTENT_COMPLETE:
        parse_target_intent(c, rest, INTENT_COMPLETE, verb && strcmp(verb, "mark") == 0, p);
        break;
    case INTENT_DELETE:
        parse_target_intent(c, rest, INTENT_DELETE, false, p);
        break;
    case INTENT_UPDATE:
        parse_update(c, rest, verb, p);
        break;
    case INTENT_STATS: {
        struct offline_intent *it = push_intent(p, INTENT_STATS);
        if (it)
            it->focus = stats_focus(c, rest);
        break;
    }
    case INTENT_LIST: {
        if (get_at(c, rest, "me|is|are|the|details|info|of|for", p))
            break;
        if (asks_tags(c, rest)) {
            push_intent(p, INTENT_TAGS);
        } else if (asks_stats(c, rest)) {
            push_intent(p, INTENT_STATS);
        } else if (phrase_at(c, rest, rest.lo, "can you do") ||
                   phrase_at(c, rest, rest.lo, "can i say|do")) {
            push_intent(p, INTENT_HELP);
        } else {
            bool search = strcmp(verb, "find") == 0 || strcmp(verb, "search") == 0 ||
                          strcmp(verb, "look") == 0 || strcmp(verb, "lookup") == 0;
            parse_list(c, rest, search, p);
        }
        break;
    }
    case INTENT_REFUSE:
        refuse(p, "I can't reopen tasks yet; open the task in the app and untick it.");
        break;
    default:
        push_intent(p, kind);
        break;
    }
}

int offline_parse(struct arena *a, const struct offline_input *in, struct offline_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    struct ctx c;
    int rc = lex_message(&c, a, in);
    if (rc != ERR_OK)
        return rc;
    plan->understood = true;
    if (c.truncated) {
        refuse(plan, "That message is too long for me: send one or two requests at a time.");
        return ERR_OK;
    }
    struct span clauses[CLAUSES_MAX];
    size_t n = split_clauses(&c, clauses, CLAUSES_MAX);
    for (size_t k = 0; k < n && plan->n < OFFLINE_MAX_INTENTS; k++)
        parse_clause(&c, clauses[k], plan);
    bool any = false;
    for (size_t k = 0; k < plan->n; k++)
        any = any || !(plan->intents[k].kind == INTENT_HELP && plan->intents[k].note);
    if (!any) {
        /* Nothing understood: one help answer. */
        memset(plan, 0, sizeof(*plan));
        push_intent(plan, INTENT_HELP);
        plan->understood = false;
    }
    return ERR_OK;
}
