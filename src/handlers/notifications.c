/* Notifications and the event stream over HTTP (see notifications.h). */
#include "handlers/notifications.h"

#include <string.h>

#include "app.h"
#include "core/err.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/notifications.h"
#include "domain/tasks.h"
#include "handlers/auth.h"
#include "http/stream.h"
#include "notify/events.h"

/* Reads the list's query: unread (true/false), before (an id), limit (1..NOTIFY_LIST_MAX).
 * Answers 422 and returns false on a bad one. */
static bool list_query(struct request *req, bool *unread, int64_t *before, int *limit)
{
    struct verrors errs = {0};
    const char *u = req_query(req, "unread"), *b = req_query(req, "before"),
               *l = req_query(req, "limit");
    *unread = false;
    *before = 0;
    *limit = NOTIFY_LIST_DEFAULT;
    if (u && parse_bool(u, unread) != ERR_OK)
        verr_add(&errs, "query", "unread", "Input should be a valid boolean", "bool_parsing");
    if (b && parse_id(b, before) != ERR_OK)
        verr_add(&errs, "query", "before", "Input should be a valid integer", "int_parsing");
    int64_t n = 0;
    if (l && parse_int64(l, 1, NOTIFY_LIST_MAX, &n) != ERR_OK)
        verr_add(&errs, "query", "limit", "Input should be an integer from 1 to 200",
                 "int_parsing");
    else if (l)
        *limit = (int)n;
    if (errs.n) {
        resp_invalid(req, &errs);
        return false;
    }
    return true;
}

void h_notification_list(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    bool unread;
    int64_t before;
    int limit;
    if (!list_query(req, &unread, &before, &limit))
        return;
    struct notification *notes = NULL;
    size_t n = 0;
    int rc =
        notifications_list(req->db, req->arena, req->user_id, unread, before, limit, &notes, &n);
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < n; i++)
        yyjson_mut_arr_append(arr, notification_to_json(doc, &notes[i]));
    resp_json(req, 200, doc);
}

void h_notification_mark(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    struct verrors errs = {0};
    int64_t id = 0;
    if (req->n_params < 2 || parse_id(req->params[1], &id) != ERR_OK)
        verr_add(&errs, "path", "notification_id", "Input should be a valid integer",
                 "int_parsing");
    yyjson_doc *body = NULL;
    if (req_json(req, &body) != ERR_OK)
        return;
    yyjson_val *root = yyjson_doc_get_root(body);
    yyjson_val *read = yyjson_is_obj(root) ? yyjson_obj_get(root, "read") : NULL;
    if (!yyjson_is_obj(root))
        verr_add(&errs, "body", NULL, "Input should be a valid dictionary", "dict_type");
    else if (!read)
        verr_add(&errs, "body", "read", "Field required", "missing");
    else if (!yyjson_is_bool(read))
        verr_add(&errs, "body", "read", "Input should be a valid boolean", "bool_type");
    if (errs.n) {
        resp_invalid(req, &errs);
        return;
    }
    struct notification n;
    int rc = notifications_mark(req->db, req->arena, req->user_id, id, yyjson_get_bool(read),
                                now_unix(), &n);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Notification not found" : NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, notification_to_json(doc, &n));
    resp_json(req, 200, doc);
}

void h_notification_read_all(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    int64_t count = 0;
    int rc = notifications_mark_all(req->db, req->arena, req->user_id, now_unix(), &count);
    if (rc != ERR_OK) {
        resp_err(req, rc, NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_doc_set_root(doc, o);
    yyjson_mut_obj_add_int(doc, o, "updated", count);
    resp_json(req, 200, doc);
}

/* Resumed at once: the stream is the body. */
static void events_resume(struct request *req)
{
    struct stream *s = req->defer_ctx;
    resp_header(req, "Cache-Control", "no-store");
    resp_header(req, "X-Accel-Buffering", "no"); /* nginx ingresses: do not buffer */
    resp_stream(req, 200, "text/event-stream", s);
}

void h_events(struct request *req)
{
    if (!auth_require_path_user(req))
        return;
    if (!req->app->events) {
        resp_err(req, ERR_UNAVAILABLE, "Event streams are not served by this process");
        return;
    }
    int64_t version = 0;
    int rc = tasks_version(req->db, req->arena, req->user_id, &version);
    struct stream *s = NULL;
    if (rc == ERR_OK)
        rc = events_subscribe(req->app->events, req, req->user_id, version, &s);
    if (rc != ERR_OK) {
        resp_err(req, rc,
                 rc == ERR_LIMIT         ? "Too many event streams open for this user"
                 : rc == ERR_UNAVAILABLE ? "Too many event streams, try again shortly"
                                         : NULL);
        return;
    }
    /* Suspended: the request gives back its database connection and its worker. */
    stream_defer(req, s, events_resume);
    stream_wake(s);
    stream_release(s); /* the handler's; the request and the hub hold theirs */
}
