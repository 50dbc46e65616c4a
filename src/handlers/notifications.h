/*
 * Notifications and the per-user event stream over HTTP:
 *   GET   /api/{user_id}/notifications?unread=&before=&limit=   newest first
 *   PATCH /api/{user_id}/notifications/{notification_id} {read}  mark read or unread
 *   POST  /api/{user_id}/notifications/read-all                 mark every one read
 *   GET   /api/{user_id}/events     Server-Sent Events: reminders and task changes
 *                                   (notify/events.h), a suspended request
 * Every handler authenticates first and acts only on the token's user.
 */
#ifndef TODO_HANDLERS_NOTIFICATIONS_H
#define TODO_HANDLERS_NOTIFICATIONS_H

#include "http/request.h"

void h_notification_list(struct request *req);
void h_notification_mark(struct request *req);
void h_notification_read_all(struct request *req);
void h_events(struct request *req);

#endif
