/* The account as a whole: its deletion, and its data exported and imported (domain/portable.h). */
#ifndef TODO_HANDLERS_ACCOUNT_H
#define TODO_HANDLERS_ACCOUNT_H

#include "http/request.h"

/* DELETE /api/{user_id} {password} (or {confirm: <user id>} for an account without a
 * password): the account, its tasks, tags, conversations, tokens, sessions, attachments and
 * feeds are gone; 204. Not with a personal access token (403); a wrong password is 403. */
void h_account_delete(struct request *req);

/* GET /api/{user_id}/export: the versioned JSON document, as a download. */
void h_export(struct request *req);

/* POST /api/{user_id}/import: the export format (application/json) or a Todoist CSV export
 * (text/csv), all or nothing; 201 {imported: {tasks, conversations, messages}}. */
void h_import(struct request *req);

#endif
