/*
 * Task attachments: the rows (a name, an allowed content type, a size and the SHA-256 that
 * names the file in store/blobs.h) and the rules an upload must keep. A file name is the
 * client's, cleaned: one line of 1..ATTACH_NAME_MAX characters with no path separator, no
 * control character and not "." or ".." (a name with a path trick is refused, never
 * rewritten); it never reaches the file system. The stored content type is only ever one of
 * the allow-list below, so a download cannot be served as HTML or script.
 *
 * Threads: no state. Memory: results in the caller's arena.
 */
#ifndef TODO_ATTACHMENTS_H
#define TODO_ATTACHMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "store/store.h"

#define ATTACH_NAME_MAX     255
#define ATTACH_PER_TASK_MAX 100

/* A stored attachment (arena-owned text). */
struct attachment {
    int64_t id;
    int64_t task_id;
    const char *name;
    const char *content_type;
    int64_t size;
    const char *sha256;
    const char *created_at;
};

/* The allowed content types (NULL-terminated), for documents. */
extern const char *const attach_types[];

/* The allow-list's spelling of ct (parameters dropped, case folded), or NULL when ct is not on
 * it. NULL/empty ct is application/octet-stream. */
const char *attach_type_allowed(const char *ct);

/* Checks and cleans a client's file name (surrounding white space trimmed). Returns the name
 * (arena) or NULL with *why (static, client-safe). */
const char *attach_name_clean(struct arena *a, const char *name, const char **why);

/* Bytes of all the user's attachments. */
int attachments_usage(struct store_conn *c, struct arena *a, const char *uid, int64_t *bytes);

/* Stores the row of an uploaded file for the user's task and publishes the file (blob_publish
 * of w, which this call frees in every case), in one transaction that locks the user's row
 * and checks the quota: ERR_TOOBIG when the user's attachments would pass quota bytes,
 * ERR_LIMIT when the task has ATTACH_PER_TASK_MAX, ERR_NOTFOUND when the task is not the
 * user's. The lock orders this against attachments_collect: a file is never published
 * unreferenced while a collection runs. *out is the new row. */
struct blob_writer;
int attachments_add(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                    const char *name, const char *content_type, int64_t size, const char *sha,
                    int64_t quota, struct blob_writer *w, struct attachment *out);

/* Removes the user's files under root that no attachment names (their tasks were deleted),
 * and stale temporaries, holding the user's row like attachments_add. */
int attachments_collect(struct store_conn *c, struct arena *a, const char *uid, const char *root);

/* The attachments of the user's task, oldest first (ERR_NOTFOUND: not the user's task). */
int attachments_list(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                     struct attachment **out, size_t *n);

/* One attachment of the user's task. */
int attachments_get(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                    int64_t id, struct attachment *out);

/* Deletes one; *still_used tells whether another of the user's rows names the same file. */
int attachments_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t task_id,
                       int64_t id, struct attachment *gone, bool *still_used);

/* True (in *used) when one of the user's rows names the file sha. */
int attachments_hash_used(struct store_conn *c, struct arena *a, const char *uid, const char *sha,
                          bool *used);

/* {id, task_id, name, content_type, size, sha256, created_at}. */
yyjson_mut_val *attachment_to_json(yyjson_mut_doc *doc, const struct attachment *t);

#endif
