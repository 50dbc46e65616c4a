/* Accounts (see users.h). Emails are stored lower-cased; ids are random UUIDv4 text. */
#include "domain/users.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"
#include "domain/tasks.h"
#include "store/blobs.h"

/* Ids known to have a row; a lossy cache, so memory stays fixed. */
#define KNOWN_SLOTS 4096

static char known[KNOWN_SLOTS][USER_ID_MAX + 1];
static pthread_mutex_t known_mu = PTHREAD_MUTEX_INITIALIZER;

/* Session generations by user, each valid while the user's version (tasks_version) is the
 * one it was read under: a password reset bumps both in one transaction, so the version,
 * which PostgreSQL replicas know without a round trip (store_version_peek), says when to
 * read the generation again. Lossy and fixed in size, like known[]. */
struct gen_slot {
    char id[USER_ID_MAX + 1];
    int64_t version;
    int64_t gen;
};
static struct gen_slot gens[KNOWN_SLOTS];
static pthread_mutex_t gens_mu = PTHREAD_MUTEX_INITIALIZER;

#define USER_COLS                                                                                  \
    "id, email, name, hashed_password, rfc3339(created_at), timezone, session_gen, "               \
    "email_reminders"

const struct text_rule users_name_rule = {0, USER_NAME_MAX, false};

bool users_email_valid(const char *s)
{
    size_t len = strnlen(s, USER_EMAIL_MAX + 1);
    if (len < 3 || len > USER_EMAIL_MAX)
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || at - s > 64)
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == ';' ||
            ch == '"' || ch == '\\')
            return false;
    }
    return true;
}

static void row_to_user(const struct db_rows *r, struct user *u)
{
    u->id = db_cell(r, 0, 0);
    u->email = db_cell(r, 0, 1);
    u->name = db_cell(r, 0, 2);
    u->hashed_password = db_cell(r, 0, 3);
    u->created_at = db_cell(r, 0, 4);
    u->timezone = db_cell(r, 0, 5);
    const char *gen = db_cell(r, 0, 6), *rem = db_cell(r, 0, 7);
    u->session_gen = 0;
    if (gen)
        parse_int64(gen, 0, INT64_MAX, &u->session_gen);
    u->email_reminders = rem && (rem[0] == 't' || rem[0] == '1');
}

/* A random RFC 4122 version 4 UUID in lower case. */
static void uuid4(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    hex_encode(b, sizeof(b), hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static char *lower_dup(struct arena *a, const char *s)
{
    char *d = arena_strdup(a, s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

int users_create(struct store_conn *c, struct arena *a, const char *email, const char *hash,
                 const char *name, struct user *out)
{
    static const struct sql q = {
        "INSERT INTO users (id, email, hashed_password, name, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $5) RETURNING " USER_COLS,
        NULL};
    char id[37], now[TIME_TEXT_MAX];
    uuid4(id);
    time_format(now_unix(), now);
    struct db_param p[] = {P_TEXT(id), P_TEXT(lower_dup(a, email)), P_TEXT(hash), P_TEXT(name),
                           P_TEXT(now)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_DB;
    row_to_user(&rows, out);
    return ERR_OK;
}

/* Runs a one-row user query with a single text parameter. */
static int find_one(struct store_conn *c, struct arena *a, const struct sql *q, const char *v,
                    struct user *out)
{
    struct db_param p[] = {P_TEXT(v)};
    struct db_rows rows;
    int rc = store_exec(c, q, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    row_to_user(&rows, out);
    return ERR_OK;
}

int users_rehash(struct store_conn *c, const char *id, const char *old_hash, const char *new_hash)
{
    static const struct sql q = {
        "UPDATE users SET hashed_password = $3 WHERE id = $1 AND hashed_password = $2", NULL};
    struct db_param p[] = {P_TEXT(id), P_TEXT(old_hash), P_TEXT(new_hash)};
    return store_exec(c, &q, p, ARRAY_LEN(p), NULL, NULL);
}

int users_by_email(struct store_conn *c, struct arena *a, const char *email, struct user *out)
{
    static const struct sql q = {"SELECT " USER_COLS " FROM users WHERE lower(email) = lower($1)",
                                 NULL};
    return find_one(c, a, &q, email, out);
}

int users_by_id(struct store_conn *c, struct arena *a, const char *id, struct user *out)
{
    static const struct sql q = {"SELECT " USER_COLS " FROM users WHERE id = $1", NULL};
    return find_one(c, a, &q, id, out);
}

/* The lower-case hex SHA-256 of a user id (what deleted_users keeps). */
static void id_hash(const char *id, char out[ID_HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)id, strlen(id));
    hex_encode(h, sizeof(h), out);
}

static size_t known_slot(const char *id)
{
    return (size_t)(hash_str(id) % KNOWN_SLOTS);
}

int users_ensure(struct store_conn *c, struct arena *a, const char *id, const char *email)
{
    static const struct sql q = {
        "INSERT INTO users (id, email, created_at, updated_at) VALUES ($1, $2, $3, $3) "
        "ON CONFLICT DO NOTHING",
        NULL};
    static const struct sql gone = {"SELECT 1 FROM deleted_users WHERE id_hash = $1", NULL};
    size_t slot = known_slot(id);
    pthread_mutex_lock(&known_mu);
    bool hit = strcmp(known[slot], id) == 0;
    pthread_mutex_unlock(&known_mu);
    if (hit)
        return ERR_OK;
    /* A deleted account stays deleted: a token issued before cannot recreate it. */
    char hash[ID_HASH_HEX];
    id_hash(id, hash);
    struct db_param gp[] = {P_TEXT(hash)};
    struct db_rows grows;
    int grc = store_exec(c, &gone, gp, 1, a, &grows);
    if (grc != ERR_OK)
        return grc;
    if (grows.nrows)
        return ERR_AUTH;
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    /* The email is taken only when no account already uses it. */
    const char *mail = email && *email && users_email_valid(email) ? lower_dup(a, email) : NULL;
    struct user existing;
    if (mail && users_by_email(c, a, mail, &existing) == ERR_OK)
        mail = NULL;
    struct db_param p[] = {P_TEXT(id), P_TEXT(mail), P_TEXT(now)};
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, NULL);
    /* A database that cannot take writes (read-only, full) still serves a known user. */
    struct user u;
    if (rc == ERR_UNAVAILABLE && users_by_id(c, a, id, &u) == ERR_OK)
        rc = ERR_OK;
    if (rc == ERR_OK) {
        pthread_mutex_lock(&known_mu);
        snprintf(known[slot], sizeof(known[slot]), "%s", id);
        pthread_mutex_unlock(&known_mu);
    }
    return rc;
}

void users_forget(const char *id)
{
    size_t slot = known_slot(id);
    pthread_mutex_lock(&known_mu);
    if (strcmp(known[slot], id) == 0)
        known[slot][0] = '\0';
    pthread_mutex_unlock(&known_mu);
}

int users_delete(struct store_conn *c, struct arena *a, const char *id, const char *uploads)
{
    static const struct sql lock = {"SELECT id FROM users WHERE id = $1",
                                    "SELECT id FROM users WHERE id = $1 FOR UPDATE"};
    static const struct sql tomb = {
        "INSERT INTO deleted_users (id_hash, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        NULL};
    /* Rows that name the user without a foreign key to users. */
    static const struct sql tags = {"DELETE FROM task_tags WHERE user_id = $1", NULL};
    static const struct sql del = {"DELETE FROM users WHERE id = $1", NULL};
    char hash[ID_HASH_HEX], now[TIME_TEXT_MAX];
    id_hash(id, hash);
    time_format(now_unix(), now);
    struct db_param pid[] = {P_TEXT(id)};
    struct db_param pt[] = {P_TEXT(hash), P_TEXT(now)};
    struct db_rows rows;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    rc = store_exec(c, &lock, pid, 1, a, &rows);
    if (rc == ERR_OK && rows.nrows != 1)
        rc = ERR_NOTFOUND;
    if (rc == ERR_OK)
        rc = store_exec(c, &tomb, pt, 2, a, NULL);
    if (rc == ERR_OK)
        rc = store_exec(c, &tags, pid, 1, a, NULL);
    if (rc == ERR_OK)
        rc = store_exec(c, &del, pid, 1, a, NULL); /* everything else cascades */
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK) {
        store_rollback(c);
        return rc;
    }
    users_forget(id);
    /* The rows are gone; the files follow (a failure is logged, the account is gone). */
    if (uploads)
        blob_remove_user(uploads, id);
    return ERR_OK;
}

int users_update(struct store_conn *c, struct arena *a, const char *id, const struct user_patch *p,
                 struct user *out)
{
    /* One statement: a field not being changed is written back as it is. */
    static const struct sql q = {
        "UPDATE users SET name = CASE WHEN $2 = 1 THEN $3 ELSE name END, "
        "timezone = CASE WHEN $4 = 1 THEN $5 ELSE timezone END, updated_at = $6, "
        "email_reminders = CASE WHEN $7 = 1 THEN $8 ELSE email_reminders END "
        "WHERE id = $1 RETURNING " USER_COLS,
        "UPDATE users SET name = CASE WHEN $2::int = 1 THEN $3::text ELSE name END, "
        "timezone = CASE WHEN $4::int = 1 THEN $5::text ELSE timezone END, updated_at = $6, "
        "email_reminders = CASE WHEN $7::int = 1 THEN $8::boolean ELSE email_reminders END "
        "WHERE id = $1 RETURNING " USER_COLS};
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    struct db_param prm[] = {P_TEXT(id),
                             P_INT(p->set_name ? 1 : 0),
                             P_TEXT(p->name),
                             P_INT(p->set_timezone ? 1 : 0),
                             P_TEXT(p->timezone),
                             P_TEXT(now),
                             P_INT(p->set_email_reminders ? 1 : 0),
                             P_BOOL(p->email_reminders)};
    struct db_rows rows;
    int rc = store_exec(c, &q, prm, ARRAY_LEN(prm), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    row_to_user(&rows, out);
    return ERR_OK;
}

/* The version is read before the generation: a reset commits both, so a generation read
 * after a version is at least as new as that version, and a cached pair can only be stricter
 * than the database, never older. */
int users_session_gen(struct store_conn *c, struct arena *a, const char *id, int64_t *out)
{
    static const struct sql q = {"SELECT session_gen FROM users WHERE id = $1", NULL};
    int64_t version;
    int rc = tasks_version(c, a, id, &version);
    if (rc != ERR_OK)
        return rc;
    struct gen_slot *g = &gens[known_slot(id)];
    pthread_mutex_lock(&gens_mu);
    /* A pair at a later version than the one just read is newer, never older, than what
     * this request could know (a write of this process remembered it). */
    bool hit = g->version >= version && strcmp(g->id, id) == 0;
    if (hit)
        *out = g->gen;
    pthread_mutex_unlock(&gens_mu);
    if (hit)
        return ERR_OK;
    struct db_param p[] = {P_TEXT(id)};
    struct db_rows rows;
    rc = store_exec(c, &q, p, 1, a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    if (parse_int64(db_cell(&rows, 0, 0), 0, INT64_MAX, out) != ERR_OK)
        return ERR_DB;
    users_session_gen_known(id, version, *out);
    return ERR_OK;
}

void users_session_gen_carry(const char *id, int64_t from, int64_t to)
{
    struct gen_slot *g = &gens[known_slot(id)];
    pthread_mutex_lock(&gens_mu);
    if (g->version == from && strcmp(g->id, id) == 0)
        g->version = to;
    pthread_mutex_unlock(&gens_mu);
}

void users_session_gen_known(const char *id, int64_t version, int64_t gen)
{
    if (strlen(id) > USER_ID_MAX)
        return;
    struct gen_slot *g = &gens[known_slot(id)];
    pthread_mutex_lock(&gens_mu);
    if (strcmp(g->id, id) != 0 || g->version < version) {
        snprintf(g->id, sizeof(g->id), "%s", id);
        g->version = version;
        g->gen = gen;
    }
    pthread_mutex_unlock(&gens_mu);
}

yyjson_mut_val *user_to_json(yyjson_mut_doc *doc, const struct user *u)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_str(doc, o, "id", u->id);
    if (u->email)
        yyjson_mut_obj_add_str(doc, o, "email", u->email);
    else
        yyjson_mut_obj_add_null(doc, o, "email");
    if (u->name)
        yyjson_mut_obj_add_str(doc, o, "name", u->name);
    else
        yyjson_mut_obj_add_null(doc, o, "name");
    yyjson_mut_obj_add_str(doc, o, "created_at", u->created_at);
    yyjson_mut_obj_add_str(doc, o, "timezone", u->timezone ? u->timezone : "UTC");
    yyjson_mut_obj_add_bool(doc, o, "email_reminders", u->email_reminders);
    return o;
}
