/*
 * The calendar feed: a user's tasks with due dates as an iCalendar document (RFC 5545) that
 * Google, Apple and Thunderbird calendars subscribe to by URL. Calendar clients send no
 * credentials, so the URL carries a feed token ("todo_cal_" and 256 random bits): one per
 * user, stored as its SHA-256 only, shown once when made, replaced by making a new one and
 * revoked by deleting it (the old URL then answers 404).
 *
 * Threads: no state. Memory: the caller's arena.
 */
#ifndef TODO_CALENDAR_H
#define TODO_CALENDAR_H

#include <stddef.h>

#include "core/arena.h"
#include "core/dynbuf.h"
#include "store/store.h"

#define CAL_TOKEN_PREFIX   "todo_cal_"
#define CAL_TOKEN_TEXT_MAX 64
#define CAL_EVENTS_MAX     5000 /* tasks one feed shows at most */
#define CAL_TEXT_MAX       (8u * 1024 * 1024)

/* Makes (or replaces) the user's feed token; its text goes to token (shown once). */
int calendar_token_create(struct store_conn *c, struct arena *a, const char *uid,
                          char token[CAL_TOKEN_TEXT_MAX]);

/* Revokes it. ERR_NOTFOUND when the user has none. */
int calendar_token_revoke(struct store_conn *c, struct arena *a, const char *uid);

/* The user a feed token belongs to (*uid in the arena), or ERR_NOTFOUND. */
int calendar_token_user(struct store_conn *c, struct arena *a, const char *token, const char **uid);

/* Writes the user's feed: a VEVENT per task with a due date (DTSTART the due time, RRULE for
 * a recurrence, a VALARM at the reminder, completed tasks marked), lines folded at 75 octets
 * and ended with CRLF. */
int calendar_render(struct store_conn *c, struct arena *a, const char *uid, struct dynbuf *out);

#endif
