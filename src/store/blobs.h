/*
 * Content-addressed files (attachments) under UPLOADS_DIR, one directory per user:
 *
 *   UPLOADS_DIR/<hex SHA-256 of the user id, 32 characters>/<hex SHA-256 of the content>
 *
 * A file is written to a temporary name in the user's directory (".tmp-XXXXXX", mode 0600),
 * hashed as it is written, flushed, and only then renamed to its content's name, so a crash
 * mid-upload leaves no partial file under a name anything refers to (stale temporaries are
 * removed by blobs_sweep). No name a client chose ever reaches the file system. The same
 * content uploaded twice by one user is one file; a user's directory goes with the account.
 *
 * Threads: any thread; the writer belongs to one request. Memory: the writer is the caller's
 * until blob_commit or blob_abort frees it.
 */
#ifndef TODO_BLOBS_H
#define TODO_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_HASH_HEX 65 /* hex SHA-256 and its NUL */
/* Temporary files older than this are debris of a crash or a cut upload. */
#define BLOB_TEMP_MAX_AGE_S 3600

struct blob_writer;

/* Opens a temporary file for a new blob of uid. ERR_IO when the directory cannot be made. */
int blob_begin(const char *root, const char *uid, struct blob_writer **out);

/* Appends data (hashing it). ERR_IO on a write failure. */
int blob_write(struct blob_writer *w, const void *data, size_t len);

/* Bytes written so far. */
int64_t blob_size(const struct blob_writer *w);

/* Flushes the file to disk and writes its content's hash (hex) to sha; the file keeps its
 * temporary name until blob_publish. */
int blob_finish(struct blob_writer *w, char sha[BLOB_HASH_HEX]);

/* Renames a finished file to its hash (replacing a file of the same content) and frees w. */
int blob_publish(struct blob_writer *w);

/* Removes the temporary file and frees w (NULL is a no-op). */
void blob_abort(struct blob_writer *w);

/* True when sha is 64 lower-case hex characters (a name blob_commit makes). */
int blob_hash_valid(const char *sha);

/* Opens uid's blob sha for reading: *fd (the caller closes it) and its *size. ERR_NOTFOUND. */
int blob_open(const char *root, const char *uid, const char *sha, int *fd, int64_t *size);

/* Removes uid's blob sha (ERR_OK when it was already gone). */
int blob_remove(const char *root, const char *uid, const char *sha);

/* Removes every file of uid and the directory itself. */
int blob_remove_user(const char *root, const char *uid);

/* Calls fn with the hash of each of uid's files (at most max). */
void blob_each(const char *root, const char *uid, size_t max,
               void (*fn)(void *ctx, const char *sha), void *ctx);

/* Removes uid's temporaries older than BLOB_TEMP_MAX_AGE_S. */
void blob_sweep(const char *root, const char *uid);

#endif
