/*
 * Internals of the offline assistant shared by its files (see offline.h for the contract):
 *   offline_lex.c    the message as words (tokens), clauses, word and number matching;
 *   offline_when.c   dates, times and recurrences in the user's time zone;
 *   offline_fields.c a task's fields (priority, tags, dates …) and title; the quick add;
 *   offline_parse.c  clauses → intents (the plan);
 *   offline_list.c   list questions → list_tasks arguments;
 *   offline_run.c    a plan → tool calls through the runner → the reply.
 * Nothing here keeps state between calls: a struct ctx lives for one parse.
 */
#ifndef TODO_OFFLINE_INTERNAL_H
#define TODO_OFFLINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assistant/offline.h"
#include "core/arena.h"

/* A word of the message. */
struct tok {
    const char *s; /* the original bytes, in the message (or the quoted text) */
    size_t len;
    const char *w; /* matching form: ASCII lower case, "'s" cut when T_POSS; arena-owned */
    unsigned flags;
};

enum tok_flag {
    T_USED = 1 << 0,   /* taken by a phrase (a date, a priority, the verb …) */
    T_QUOTED = 1 << 1, /* text between double quotes: a title or a fragment, never a keyword */
    T_COMMA = 1 << 2,  /* a comma follows */
    T_STOP = 1 << 3,   /* a sentence ends after it (. ? ! ; or a line break) */
    T_POSS = 1 << 4,   /* the original ends in 's (possessive), cut from w */
    T_PUNCT = 1 << 5,  /* no letter or digit: "-", "—" */
    T_COLON = 1 << 6,  /* a colon follows ("note: …") */
};

/* Tokens [lo, hi) of one clause. */
struct span {
    size_t lo, hi;
};

/* One parse: the message's tokens and the user's clock. */
struct ctx {
    struct arena *a;
    struct tok *t;
    size_t n;
    bool truncated;  /* more than OFFLINE_MAX_TOKENS words */
    int64_t now;     /* Unix seconds */
    int64_t local;   /* now as the user's wall clock, counted like Unix seconds */
    int off_min;     /* the user's UTC offset in minutes */
    int y, m, d, wd; /* today in the user's zone; wd 0 = Sunday */
    int sec_of_day;  /* the user's time of day, seconds */
};

/* --- offline_lex.c --- */

/* Checks the input and splits the message into tokens. Returns ERR_OK, ERR_INVALID (bad
 * UTF-8 or offset), ERR_TOOBIG or ERR_NOMEM. */
int lex_message(struct ctx *c, struct arena *a, const struct offline_input *in);

/* True when token i of s is free (not used, not quoted) and reads word. */
bool word_at(const struct ctx *c, struct span s, size_t i, const char *word);

/* True when token i is free and reads one of the NULL-terminated words. */
bool word_in(const struct ctx *c, struct span s, size_t i, const char *const *words);

/* Matches a phrase of space-separated words at i ("day after tomorrow"); returns its token
 * count, or 0. Words may be alternatives joined by '|' ("mark|tick"). */
size_t phrase_at(const struct ctx *c, struct span s, size_t i, const char *phrase);

/* Marks n tokens from i used. */
void use_tokens(struct ctx *c, size_t i, size_t n);

/* Reads a small count at i: digits (up to max) or a word ("three", "a", "an"; "other" is 2
 * when allow_other). Returns ERR_OK or ERR_INVALID. */
int count_at(const struct ctx *c, struct span s, size_t i, int64_t max, bool allow_other,
             int64_t *out);

/* Reads a task id at i: "3", "#3", "task 3", "task #3", "number 3", "no. 3", "id 3"; returns
 * the tokens read (0 when none). */
size_t task_ref_at(const struct ctx *c, struct span s, size_t i, int64_t *id);

/* The text of the tokens of s that are not used, joined by single spaces (commas kept);
 * NULL when none. Quoted text keeps its quotes unless it is alone. Possessive 's is kept
 * unless cut_poss. */
const char *free_text(const struct ctx *c, struct span s, bool cut_poss);

/* The original text of tokens [i, hi), as typed (spaces between tokens as in the message). */
const char *raw_text(const struct ctx *c, size_t i, size_t hi);

/* Splits the message into clauses at sentence ends and at "and"/"then"/commas that are
 * followed by a new request. Returns the number of spans written (≤ max). */
size_t split_clauses(struct ctx *c, struct span *out, size_t max);

/* The intent a clause starts with at i, after politeness ("please", "can you"): sets *kind
 * and returns the verb's token count (0: no verb; *kind untouched). */
size_t verb_at(const struct ctx *c, struct span s, size_t i, enum offline_intent_kind *kind);

/* True when every word of s is a greeting or thanks ("hi", "thank you"). */
bool is_greeting(const struct ctx *c, struct span s);

/* Skips "please", "can you", "i'd like to" … at i; returns the new index. */
size_t skip_politeness(const struct ctx *c, struct span s, size_t i);

/* --- offline_fields.c --- */

/* Empty fields (interval 1). */
void fields_init(struct offline_fields *f);

/* True when token i exists and is not used. */
bool is_free(const struct ctx *c, size_t i);

/* The first and last free token of s; false when there is none. */
bool free_bounds(const struct ctx *c, struct span s, size_t *first, size_t *last);

/* Marks leading phrases of lead and trailing phrases of trail used, repeatedly. */
void trim_fillers(struct ctx *c, struct span s, const char *const *lead, const char *const *trail);

/* Trims a title's fillers ("a task to", "to my list", "please"). */
void trim_title(struct ctx *c, struct span s);

/* s with its first letter upper-cased, unless it reads like "iPhone". */
const char *capitalise(struct arena *a, const char *s);

/* A priority phrase at i ("high priority", "urgent", "!high"): its tokens, *prio set. */
size_t priority_at(const struct ctx *c, struct span s, size_t i, const char **prio);
bool priority_scan(struct ctx *c, struct span s, const char **prio);

/* A "#tag" word at i (not "#3", which is a task). */
bool hash_tag(const struct ctx *c, struct span s, size_t i);

/* Adds a tag to f unless it is a duplicate (any case) or too long. */
void add_tag(struct ctx *c, struct offline_fields *f, const char *s, size_t len);

/* "#home", "tagged home": tags into f. True when any was found. */
bool tags_scan(struct ctx *c, struct span s, struct offline_fields *f);

/* "remind me at 4pm", "remind me 30 minutes before" (*before, seconds). */
void remind_scan(struct ctx *c, struct span s, struct offline_fields *f, int64_t *before);

/* Every field of s but the title ("remind me to …": remind_all, the reminder is the due). */
void scan_task_fields(struct ctx *c, struct span s, struct offline_fields *f, bool remind_all);

/* The words left in s as a title (fillers trimmed, capitalised), or NULL. */
const char *title_of(struct ctx *c, struct span s);

/* "milk and eggs" → item spans (0 when s is not such a list). */
size_t split_items(const struct ctx *c, struct span s, struct span *items, size_t max);

/* --- offline_parse.c, offline_list.c --- */

/* Appends an intent to the plan (NULL when it is full). */
struct offline_intent *push_intent(struct offline_plan *p, enum offline_intent_kind kind);

/* A list question → a list_tasks intent. search_verb: "find"/"search" (leftover words are the
 * search text). */
void parse_list(struct ctx *c, struct span s, bool search_verb, struct offline_plan *p);

/* Which count a stats question asks about ("overdue" …), or NULL. */
const char *stats_focus(const struct ctx *c, struct span s);

/* True when s asks for the tags, for counts, or mentions the task list. */
bool asks_tags(const struct ctx *c, struct span s);
bool asks_stats(const struct ctx *c, struct span s);
bool list_cue(const struct ctx *c, struct span s);

/* --- offline_when.c --- */

/* A moment the text named, on the user's wall clock. */
struct when {
    bool has_date;
    int y, m, d;
    bool has_time;
    int hh, mi;
    bool soft_time;    /* from "tonight", "morning": the day's end instead when already past */
    bool instant;      /* "in 2 hours": local is exact */
    int64_t local;     /* wall-clock seconds when instant */
    int weekday;       /* -1, or the weekday named (for "every monday") */
    bool weekday_next; /* "next friday": strictly after today */
};

void when_clear(struct when *w);

/* Finds the date and time phrases of s ("tomorrow at 5pm", "on 12 march", "in 3 days",
 * "next friday", "tonight"), marks them used and fills w. True when any was found. */
bool when_scan(struct ctx *c, struct span s, struct when *w);

/* Finds a recurrence ("every day", "weekly", "every 2 weeks", "every monday"), marks it
 * used, sets f's recurrence and interval (and w's weekday or time of day). True when found. */
bool recur_scan(struct ctx *c, struct span s, struct offline_fields *f, struct when *w);

/* True when a date, time or recurrence phrase starts at i (nothing is marked). */
bool value_phrase_at(const struct ctx *c, struct span s, size_t i);

/* Resolves w to an RFC 3339 time with the user's offset: a date alone is its 23:59:59, a
 * time alone is the next such time, a weekday is its next date. False when w names nothing
 * or falls outside years 1–9999. */
bool when_format(const struct ctx *c, const struct when *w, char out[OFFLINE_TIME_MAX]);

/* Writes the user's wall-clock second `local` as RFC 3339 with the user's offset. */
void local_format(const struct ctx *c, int64_t local, char out[OFFLINE_TIME_MAX]);

/* Wall-clock seconds of a local date at a time of day. */
int64_t local_at(int y, int m, int d, int sec_of_day);

/* The local date `days` after today. */
void local_date_add(const struct ctx *c, int days, int *y, int *m, int *d);

/* Describes Unix time t for a reply, relative to the user's today: "today at 17:00",
 * "tomorrow", "on Friday", "on Fri 20 Mar 2027". Arena-owned. */
const char *when_describe(struct arena *a, int64_t now, int off_min, int64_t t);

#endif
