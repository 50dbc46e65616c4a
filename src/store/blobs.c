/* Content-addressed files per user (see blobs.h). */
#include "store/blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"

#define PATH_MAX_LEN 4096
#define USER_DIR_HEX 32
#define TEMP_PREFIX  ".tmp-"

struct blob_writer {
    int fd;
    int64_t size;
    crypto_hash_sha256_state hash;
    char dir[PATH_MAX_LEN];
    char temp[PATH_MAX_LEN];
    char sha[BLOB_HASH_HEX];
};

/* root/<hash of uid>: any user id becomes a fixed, safe name. */
static int user_dir(const char *root, const char *uid, char out[PATH_MAX_LEN])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)uid, strlen(uid));
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    hex_encode(h, sizeof(h), hex);
    hex[USER_DIR_HEX] = '\0';
    struct dynbuf d;
    dyn_init_fixed(&d, out, PATH_MAX_LEN);
    dyn_addf(&d, "%s/%s", root, hex);
    return dyn_err(&d) == ERR_OK ? ERR_OK : ERR_TOOBIG;
}

static int blob_path(const char *root, const char *uid, const char *sha, char out[PATH_MAX_LEN])
{
    if (!blob_hash_valid(sha))
        return ERR_INVALID;
    char dir[PATH_MAX_LEN];
    int rc = user_dir(root, uid, dir);
    if (rc != ERR_OK)
        return rc;
    struct dynbuf d;
    dyn_init_fixed(&d, out, PATH_MAX_LEN);
    dyn_addf(&d, "%s/%s", dir, sha);
    return dyn_err(&d) == ERR_OK ? ERR_OK : ERR_TOOBIG;
}

/* mkdir -p, mode 0700 for what it creates. */
static int make_dir(const char *path)
{
    char p[PATH_MAX_LEN];
    struct dynbuf d;
    dyn_init_fixed(&d, p, sizeof(p));
    if (dyn_add(&d, path) != ERR_OK)
        return ERR_TOOBIG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return ERR_IO;
        *s = '/';
    }
    if (mkdir(p, 0700) == 0 || errno == EEXIST)
        return ERR_OK;
    return ERR_IO;
}

int blob_hash_valid(const char *sha)
{
    size_t n = 0;
    for (; sha && sha[n]; n++)
        if (!((sha[n] >= '0' && sha[n] <= '9') || (sha[n] >= 'a' && sha[n] <= 'f')) || n >= 64)
            return 0;
    return n == 64;
}

int blob_begin(const char *root, const char *uid, struct blob_writer **out)
{
    struct blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return ERR_NOMEM;
    w->fd = -1;
    int rc = user_dir(root, uid, w->dir);
    if (rc == ERR_OK && (make_dir(root) != ERR_OK || make_dir(w->dir) != ERR_OK)) {
        log_error("uploads: cannot create %s: %s", w->dir, strerror(errno));
        rc = ERR_IO;
    }
    if (rc == ERR_OK) {
        struct dynbuf d;
        dyn_init_fixed(&d, w->temp, sizeof(w->temp));
        dyn_addf(&d, "%s/" TEMP_PREFIX "XXXXXX", w->dir);
        w->fd = dyn_err(&d) == ERR_OK ? mkostemp(w->temp, O_CLOEXEC) : -1;
        if (w->fd < 0) {
            log_error("uploads: cannot create a file in %s: %s", w->dir, strerror(errno));
            rc = ERR_IO;
        }
    }
    if (rc != ERR_OK) {
        free(w);
        return rc;
    }
    crypto_hash_sha256_init(&w->hash);
    *out = w;
    return ERR_OK;
}

int blob_write(struct blob_writer *w, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("uploads: write failed: %s", strerror(errno));
            return ERR_IO;
        }
        p += n;
        left -= (size_t)n;
    }
    crypto_hash_sha256_update(&w->hash, data, len);
    w->size += (int64_t)len;
    return ERR_OK;
}

int64_t blob_size(const struct blob_writer *w)
{
    return w->size;
}

int blob_finish(struct blob_writer *w, char sha[BLOB_HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&w->hash, h);
    hex_encode(h, sizeof(h), sha);
    memcpy(w->sha, sha, BLOB_HASH_HEX);
    /* The content is on disk before its name appears. */
    if (fsync(w->fd) != 0) {
        log_error("uploads: cannot flush %s: %s", w->temp, strerror(errno));
        return ERR_IO;
    }
    return ERR_OK;
}

int blob_publish(struct blob_writer *w)
{
    char final[PATH_MAX_LEN];
    struct dynbuf d;
    dyn_init_fixed(&d, final, sizeof(final));
    dyn_addf(&d, "%s/%s", w->dir, w->sha);
    int rc = dyn_err(&d) == ERR_OK && blob_hash_valid(w->sha) ? ERR_OK : ERR_INVALID;
    if (close(w->fd) != 0 && rc == ERR_OK)
        rc = ERR_IO;
    w->fd = -1;
    if (rc == ERR_OK && rename(w->temp, final) != 0)
        rc = ERR_IO;
    if (rc == ERR_OK) {
        int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd); /* the rename itself survives a crash */
            close(dfd);
        }
    } else {
        log_error("uploads: cannot store %s: %s", final, strerror(errno));
        unlink(w->temp);
    }
    free(w);
    return rc;
}

void blob_abort(struct blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->temp);
    free(w);
}

int blob_open(const char *root, const char *uid, const char *sha, int *fd, int64_t *size)
{
    char path[PATH_MAX_LEN];
    int rc = blob_path(root, uid, sha, path);
    if (rc != ERR_OK)
        return rc == ERR_INVALID ? ERR_NOTFOUND : rc;
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0)
        return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return ERR_IO;
    }
    *fd = f;
    *size = (int64_t)st.st_size;
    return ERR_OK;
}

int blob_remove(const char *root, const char *uid, const char *sha)
{
    char path[PATH_MAX_LEN];
    int rc = blob_path(root, uid, sha, path);
    if (rc != ERR_OK)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return ERR_IO;
    return ERR_OK;
}

/* Removes the regular files of dir (only those: a blob directory holds nothing else) whose
 * names pass keep == NULL, or temporaries older than max_age when temps_only. */
static int clean_dir(const char *dir, int temps_only, time_t max_age)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? ERR_OK : ERR_IO;
    int rc = ERR_OK;
    time_t now = time(NULL);
    struct dirent *e;
    for (size_t seen = 0; (e = readdir(d)) != NULL && seen < 1000000; seen++) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int temp = strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0;
        if (temps_only && !temp)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
            continue;
        if (temps_only && now - st.st_mtime < max_age)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            rc = ERR_IO;
    }
    closedir(d);
    return rc;
}

int blob_remove_user(const char *root, const char *uid)
{
    char dir[PATH_MAX_LEN];
    int rc = user_dir(root, uid, dir);
    if (rc == ERR_OK)
        rc = clean_dir(dir, 0, 0);
    if (rc == ERR_OK && rmdir(dir) != 0 && errno != ENOENT)
        rc = ERR_IO;
    if (rc != ERR_OK)
        log_error("uploads: cannot remove all of %s: %s", dir, strerror(errno));
    return rc;
}

void blob_each(const char *root, const char *uid, size_t max,
               void (*fn)(void *ctx, const char *sha), void *ctx)
{
    char dir[PATH_MAX_LEN];
    if (user_dir(root, uid, dir) != ERR_OK)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    for (size_t n = 0; n < max && (e = readdir(d)) != NULL;)
        if (blob_hash_valid(e->d_name)) {
            fn(ctx, e->d_name);
            n++;
        }
    closedir(d);
}

void blob_sweep(const char *root, const char *uid)
{
    char dir[PATH_MAX_LEN];
    if (user_dir(root, uid, dir) == ERR_OK)
        clean_dir(dir, 1, BLOB_TEMP_MAX_AGE_S);
}
