/*
 * Task attachments over HTTP: upload (multipart/form-data, the browser's standard form upload,
 * read by libmicrohttpd's post processor as it arrives and written straight to a temporary
 * file), list, download and delete, under /api/{user_id}/tasks/{task_id}/attachments.
 */
#ifndef TODO_HANDLERS_ATTACHMENTS_H
#define TODO_HANDLERS_ATTACHMENTS_H

#include "http/request.h"

/* POST …/attachments (ROUTE_UPLOAD): one file in the form field "file". 201 with the row;
 * 413 over UPLOAD_MAX_BYTES or the quota, 415 for a type off the allow-list or a body that
 * is not multipart/form-data, 422 for a bad or missing file name, 400 for a truncated or
 * malformed multipart body; nothing is stored on any refusal. */
void h_attachment_create(struct request *req);

/* GET …/attachments: the task's attachments. */
void h_attachment_list(struct request *req);

/* GET …/attachments/{attachment_id}: the file, as a download. */
void h_attachment_get(struct request *req);

/* DELETE …/attachments/{attachment_id}. */
void h_attachment_delete(struct request *req);

#endif
