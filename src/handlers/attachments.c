/*
 * Task attachments (see attachments.h). An upload is handled while its body arrives: the
 * first chunk authenticates, checks the task and the content type, and starts
 * libmicrohttpd's post processor; file data goes through blob_write into a temporary file,
 * bounded by UPLOAD_MAX_BYTES and the user's remaining quota; the final call checks that the
 * multipart body ended properly, then names the file by its hash and stores the row. Every
 * refusal, and a client that goes away mid-upload, removes the temporary file (an arena
 * cleanup), so nothing of a refused upload is stored.
 */
#include "handlers/attachments.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "app.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/attachments.h"
#include "handlers/auth.h"
#include "store/blobs.h"

#define POST_BUFFER 16384
#define FILE_FIELD  "file"

/* An upload in progress (in the request's arena). */
struct upload {
    struct request *req;
    struct MHD_PostProcessor *pp;
    struct blob_writer *w;
    int64_t task_id;
    int64_t max;        /* UPLOAD_MAX_BYTES */
    int64_t quota_left; /* the user's quota minus what is stored */
    const char *name, *type;
    int files;         /* file parts seen */
    int status;        /* a refusal, or 0 */
    const char *why;   /* its detail */
    const char *field; /* a 422's field, or NULL for another status */
    const char *outcome;
};

/* The arena cleanup: whatever happened, nothing half-written stays. */
static void upload_free(void *arg)
{
    struct upload *u = arg;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    u->pp = NULL;
    blob_abort(u->w);
    u->w = NULL;
}

static void refuse(struct upload *u, int status, const char *outcome, const char *why)
{
    if (u->status)
        return;
    u->status = status;
    u->outcome = outcome;
    u->why = why;
    blob_abort(u->w);
    u->w = NULL;
}

static bool path_id(struct request *req, size_t i, const char *name, int64_t *id)
{
    if (req->n_params > i && parse_id(req->params[i], id) == ERR_OK)
        return true;
    struct verrors errs = {0};
    verr_add(&errs, "path", name, "Input should be a valid integer", "int_parsing");
    resp_invalid(req, &errs);
    return false;
}

static bool is_multipart(const char *ct)
{
    return ct && strncasecmp(ct, "multipart/form-data", 19) == 0 &&
           (ct[19] == ';' || ct[19] == ' ' || ct[19] == '\0');
}

/* The post processor's callback: the "file" part's data into the blob; other fields are
 * ignored. */
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)transfer_encoding;
    struct upload *u = cls;
    if (u->status)
        return MHD_NO;
    if (!key || strcmp(key, FILE_FIELD) != 0 || !filename)
        return MHD_YES;
    struct request *req = u->req;
    if (off == 0 && !u->w) {
        if (++u->files > 1) {
            refuse(u, 422, "several_files", "One file per upload");
            u->field = FILE_FIELD;
            return MHD_NO;
        }
        const char *why = NULL;
        u->name = attach_name_clean(req->arena, filename, &why);
        if (!u->name) {
            refuse(u, 422, "bad_name", why);
            u->field = "filename";
            return MHD_NO;
        }
        u->type = attach_type_allowed(content_type);
        if (!u->type) {
            refuse(u, 415, "bad_type",
                   "This file type is not accepted (documents, images, text, archives and "
                   "media are; HTML, SVG and scripts are not)");
            return MHD_NO;
        }
        int rc = blob_begin(req->app->cfg->uploads_dir, req->user_id, &u->w);
        if (rc != ERR_OK) {
            refuse(u, 500, "io_error", "Internal server error");
            return MHD_NO;
        }
    }
    if (!u->w)
        return MHD_NO;
    if (blob_size(u->w) + (int64_t)size > u->max) {
        refuse(u, 413, "too_large",
               arena_printf(req->arena, "The file is larger than %lld bytes (UPLOAD_MAX_BYTES)",
                            (long long)u->max));
        return MHD_NO;
    }
    if (blob_size(u->w) + (int64_t)size > u->quota_left) {
        refuse(u, 413, "quota",
               "The file would exceed your storage quota; delete attachments "
               "first");
        return MHD_NO;
    }
    if (size && blob_write(u->w, data, size) != ERR_OK) {
        refuse(u, 500, "io_error", "Internal server error");
        return MHD_NO;
    }
    return MHD_YES;
}

/* The first chunk: who, which task, and whether the body is a form at all. Answers and
 * returns NULL on a refusal. */
static struct upload *upload_begin(struct request *req)
{
    int64_t task_id;
    if (!auth_require_path_user(req) || !path_id(req, 1, "task_id", &task_id))
        return NULL;
    const struct config *cfg = req->app->cfg;
    struct upload *u = arena_calloc(req->arena, 1, sizeof(*u));
    if (!u || arena_on_free(req->arena, upload_free, u) != ERR_OK) {
        resp_err(req, ERR_NOMEM, NULL);
        return NULL;
    }
    u->req = req;
    u->task_id = task_id;
    u->max = cfg->upload_max_bytes;
    struct attachment *none;
    size_t n;
    int64_t used = 0;
    int rc = attachments_list(req->db, req->arena, req->user_id, task_id, &none, &n);
    if (rc == ERR_OK)
        rc = attachments_usage(req->db, req->arena, req->user_id, &used);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Task not found" : NULL);
        return NULL;
    }
    u->quota_left = cfg->upload_quota_bytes - used;
    if (!is_multipart(req_header(req, "Content-Type"))) {
        resp_error(req, 415, "Content-Type must be multipart/form-data");
        return NULL;
    }
    /* Only a body streamed from a connection can be read (not one dispatched in memory). */
    u->pp = req->streamed_body && req->conn
                ? MHD_create_post_processor(req->conn, POST_BUFFER, on_part, u)
                : NULL;
    if (!u->pp) {
        resp_error(req, 400, "The multipart body has no usable boundary");
        return NULL;
    }
    /* Stale temporaries of earlier cut uploads go now. */
    blob_sweep(cfg->uploads_dir, req->user_id);
    req->body_ctx = u;
    return u;
}

static void answer_refusal(struct request *req, struct upload *u)
{
    METRIC_INC(METRIC_UPLOADS, u->outcome ? u->outcome : "refused");
    if (u->status == 422) {
        struct verrors errs = {0};
        verr_add(&errs, "body", u->field ? u->field : FILE_FIELD, u->why, "value_error");
        resp_invalid(req, &errs);
        return;
    }
    resp_error(req, u->status, u->why);
}

void h_attachment_create(struct request *req)
{
    struct upload *u = req->body_ctx;
    if (req->chunk) { /* a piece of the body */
        if (!u && !(u = upload_begin(req)))
            return;
        if (!u->status && MHD_post_process(u->pp, req->chunk, req->chunk_len) != MHD_YES &&
            !u->status)
            refuse(u, 400, "malformed", "The multipart body is malformed");
        if (u->status)
            answer_refusal(req, u);
        return;
    }
    if (!u && !(u = upload_begin(req))) /* no body at all */
        return;
    /* The body has ended: it must have ended as a form does. */
    enum MHD_Result complete = MHD_destroy_post_processor(u->pp);
    u->pp = NULL;
    if (!u->status && complete != MHD_YES)
        refuse(u, 400, "truncated", "The multipart body is truncated or malformed");
    if (!u->status && !u->w) {
        refuse(u, 422, "no_file", "Field required: a file in the form field \"file\"");
        u->field = FILE_FIELD;
    }
    if (u->status) {
        answer_refusal(req, u);
        return;
    }
    char sha[BLOB_HASH_HEX] = "";
    int64_t size = blob_size(u->w);
    int rc = blob_finish(u->w, sha);
    struct blob_writer *w = u->w;
    u->w = NULL;
    struct attachment t;
    if (rc == ERR_OK)
        rc = attachments_add(req->db, req->arena, req->user_id, u->task_id, u->name, u->type, size,
                             sha, req->app->cfg->upload_quota_bytes, w, &t);
    else
        blob_abort(w);
    if (rc != ERR_OK) {
        /* The file goes unless another attachment of the user has the same content. */
        bool used = true;
        if (blob_hash_valid(sha) &&
            attachments_hash_used(req->db, req->arena, req->user_id, sha, &used) == ERR_OK && !used)
            blob_remove(req->app->cfg->uploads_dir, req->user_id, sha);
        METRIC_INC(METRIC_UPLOADS, rc == ERR_TOOBIG ? "quota" : "failed");
        resp_err(req, rc,
                 rc == ERR_NOTFOUND ? "Task not found"
                 : rc == ERR_TOOBIG ? "The file would exceed your storage quota"
                 : rc == ERR_LIMIT  ? "A task has at most 100 attachments"
                                    : NULL);
        return;
    }
    METRIC_INC(METRIC_UPLOADS, "stored");
    metric_add(METRIC_UPLOAD_BYTES, NULL, (double)size);
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_doc_set_root(doc, attachment_to_json(doc, &t));
    resp_header(req, "Location",
                arena_printf(req->arena, "/api/%s/tasks/%lld/attachments/%lld", req->params[0],
                             (long long)t.task_id, (long long)t.id));
    resp_json(req, 201, doc);
}

void h_attachment_list(struct request *req)
{
    int64_t task_id;
    if (!auth_require_path_user(req) || !path_id(req, 1, "task_id", &task_id))
        return;
    struct attachment *list;
    size_t n;
    int rc = attachments_list(req->db, req->arena, req->user_id, task_id, &list, &n);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Task not found" : NULL);
        return;
    }
    yyjson_mut_doc *doc = req_json_doc(req);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (size_t i = 0; i < n; i++)
        yyjson_mut_arr_append(arr, attachment_to_json(doc, &list[i]));
    resp_json(req, 200, doc);
}

/* Content-Disposition for a name: an ASCII fallback (anything else, and quotes and
 * backslashes, become '_') and the exact name in RFC 5987's filename*. */
static const char *disposition(struct arena *a, const char *name)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, 4 * ATTACH_NAME_MAX + 128);
    dyn_add(&d, "attachment; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        dyn_addc(&d, (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') ? '_' : (char)*p);
    dyn_add(&d, "\"; filename*=UTF-8''");
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p);
        if (plain) {
            dyn_addc(&d, (char)*p);
        } else {
            dyn_addc(&d, '%');
            dyn_addc(&d, hex[*p >> 4]);
            dyn_addc(&d, hex[*p & 15]);
        }
    }
    return dyn_err(&d) == ERR_OK ? dyn_str(&d) : "attachment";
}

void h_attachment_get(struct request *req)
{
    int64_t task_id, id;
    if (!auth_require_path_user(req) || !path_id(req, 1, "task_id", &task_id) ||
        !path_id(req, 2, "attachment_id", &id))
        return;
    struct attachment t;
    int rc = attachments_get(req->db, req->arena, req->user_id, task_id, id, &t);
    int fd = -1;
    int64_t size = 0;
    if (rc == ERR_OK)
        rc = blob_open(req->app->cfg->uploads_dir, req->user_id, t.sha256, &fd, &size);
    if (rc != ERR_OK) {
        if (rc != ERR_NOTFOUND)
            log_error("attachments: cannot open %s of attachment %lld", t.sha256, (long long)id);
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Attachment not found" : NULL);
        return;
    }
    /* libmicrohttpd sends the file from its descriptor (sendfile) and closes it. */
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)size, fd);
    if (!r) {
        close(fd);
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    /* The stored type came from the allow-list; text is never sniffed or rendered here. */
    const char *type = attach_type_allowed(t.content_type);
    bool text = type && strncmp(type, "text/", 5) == 0;
    req->content_type = text ? arena_printf(req->arena, "%s; charset=utf-8", type)
                             : (type ? type : "application/octet-stream");
    resp_header(req, "Content-Disposition", disposition(req->arena, t.name));
    resp_header(req, "Content-Security-Policy", "default-src 'none'; sandbox");
    resp_header(req, "Cache-Control", "private, no-store");
    resp_header(req, "ETag", arena_printf(req->arena, "\"%s\"", t.sha256));
    resp_custom(req, 200, r);
}

void h_attachment_delete(struct request *req)
{
    int64_t task_id, id;
    if (!auth_require_path_user(req) || !path_id(req, 1, "task_id", &task_id) ||
        !path_id(req, 2, "attachment_id", &id))
        return;
    struct attachment gone;
    bool used = true;
    int rc = attachments_delete(req->db, req->arena, req->user_id, task_id, id, &gone, &used);
    if (rc != ERR_OK) {
        resp_err(req, rc, rc == ERR_NOTFOUND ? "Attachment not found" : NULL);
        return;
    }
    if (!used)
        blob_remove(req->app->cfg->uploads_dir, req->user_id, gone.sha256);
    resp_empty(req, 204);
}
