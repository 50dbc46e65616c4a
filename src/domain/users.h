/*
 * Accounts: creation, lookup, and the rows of users first seen through an external token.
 */
#ifndef TODO_USERS_H
#define TODO_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/text.h"
#include "store/store.h"

#define USER_EMAIL_MAX 254
#define USER_NAME_MAX  100
#define USER_ID_MAX    128
#define ID_HASH_HEX    65 /* hex SHA-256 and its NUL */

/* A display name: the text rule of core/text.h, one line of at most USER_NAME_MAX characters. */
extern const struct text_rule users_name_rule;

/* A user row (arena-owned text). */
struct user {
    const char *id;
    const char *email;
    const char *name;
    const char *hashed_password;
    const char *created_at;
    const char *timezone; /* an IANA zone name, or NULL for UTC */
    int64_t session_gen;  /* tokens we issue carry it; a password reset bumps it */
    bool email_reminders; /* reminders are also emailed */
};

/* A change to a user's profile: only the fields marked set change; NULL clears. */
struct user_patch {
    bool set_name, set_timezone, set_email_reminders;
    bool email_reminders;
    const char *name;
    const char *timezone; /* checked with core/tz.h's tz_check by the caller */
};

/* True when s looks like an e-mail address we accept (bounded, one @, dotted domain). */
bool users_email_valid(const char *s);

/* Creates a user with a new random UUID. ERR_CONFLICT when the email is taken. */
int users_create(struct store_conn *c, struct arena *a, const char *email, const char *hash,
                 const char *name, struct user *out);

/* Finds by email (case-insensitive) or id. ERR_NOTFOUND when absent. */
int users_by_email(struct store_conn *c, struct arena *a, const char *email, struct user *out);
int users_by_id(struct store_conn *c, struct arena *a, const char *id, struct user *out);

/* Makes sure a row exists for id (a user first seen through an external token). Cached:
 * the database is asked once per id per process. ERR_AUTH when the account was deleted. */
int users_ensure(struct store_conn *c, struct arena *a, const char *id, const char *email);

/* Deletes the account and everything it owns (the database's cascades), leaving only the
 * SHA-256 of its id in deleted_users so that users_ensure refuses the id from then on
 * (ERR_AUTH), then its attachment files under uploads (UPLOADS_DIR; NULL: none). ERR_NOTFOUND
 * when there is no such user. */
int users_delete(struct store_conn *c, struct arena *a, const char *id, const char *uploads);

/* Drops id from this process's cache of known users (after a deletion). */
void users_forget(const char *id);

/* Changes the user's profile; *out is the updated row. ERR_NOTFOUND when the user is gone. */
int users_update(struct store_conn *c, struct arena *a, const char *id, const struct user_patch *p,
                 struct user *out);

/* Replaces the user's password hash with new_hash if it is still old_hash (a new hash of
 * the same password, with the current parameters: sessions stay valid). ERR_OK also when
 * the hash changed meanwhile (a reset won the race), which leaves it as it is. */
int users_rehash(struct store_conn *c, const char *id, const char *old_hash, const char *new_hash);

/* The user's session generation (see struct user). ERR_NOTFOUND when the user is gone. */
int users_session_gen(struct store_conn *c, struct arena *a, const char *id, int64_t *out);

/* After a committed transaction that took the user's version from to to without touching
 * the session generation (a task write): the generation known at from is the one at to, so
 * the request after a write does not read it again. */
void users_session_gen_carry(const char *id, int64_t from, int64_t to);

/* After a committed transaction that read the user's session generation gen under the
 * version it took (a row it updated: no reset can come between): remembers the pair, unless
 * a later version is known already. */
void users_session_gen_known(const char *id, int64_t version, int64_t gen);

/* Appends the public view {id, email, name, created_at, timezone, email_reminders} to doc
 * (timezone "UTC" when none is set). */
yyjson_mut_val *user_to_json(yyjson_mut_doc *doc, const struct user *u);

#endif
