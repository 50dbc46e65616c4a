/* The calendar feed over HTTP (see domain/calendar.h). */
#ifndef TODO_HANDLERS_CALENDAR_H
#define TODO_HANDLERS_CALENDAR_H

#include "http/request.h"

/* POST /api/{user_id}/calendar/token: a new feed token (replacing any), shown once, with the
 * feed's URL. */
void h_calendar_token_create(struct request *req);

/* DELETE /api/{user_id}/calendar/token: the feed stops answering. */
void h_calendar_token_delete(struct request *req);

/* GET /api/{user_id}/calendar.ics?token=…: the feed (no bearer token: calendar clients send
 * none; the feed token must be this user's, else 404). */
void h_calendar_feed(struct request *req);

#endif
