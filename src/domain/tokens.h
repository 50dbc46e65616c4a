/*
 * Personal access tokens: long-lived credentials for MCP clients and scripts, which a 7-day
 * sign-in token does not suit. A token is "todo_pat_" followed by 256 random bits in
 * base64url; it is shown once, when created, and stored only as its SHA-256, so the database
 * never holds a usable secret. Every use is checked against the database (no cache), so a
 * revocation holds at once on every replica. A token acts as its user everywhere a sign-in
 * token does (REST API and MCP), except that it cannot mint further tokens.
 *
 * Threads: no state; any thread may call. Memory: results come from the caller's arena.
 */
#ifndef TODO_TOKENS_H
#define TODO_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/verror.h"
#include "store/store.h"

#define TOKEN_PREFIX        "todo_pat_"
#define TOKEN_SECRET_BYTES  32 /* 256 bits */
#define TOKEN_SECRET_CHARS  43 /* base64url without padding of 32 bytes */
#define TOKEN_TEXT_MAX      (sizeof(TOKEN_PREFIX) + TOKEN_SECRET_CHARS) /* with the NUL */
#define TOKEN_NAME_MAX      100
#define TOKEN_DAYS_MAX      3650
#define TOKEN_DAYS_DEFAULT  90
#define TOKENS_PER_USER_MAX 50
#define TOKEN_TOUCH_SECONDS 60 /* last_used_at is written at most once a minute per token */
#define TOKEN_HINT_CHARS    4  /* the secret's last characters shown in lists */

/* A stored token (arena-owned text; the times RFC 3339, NULL when never/none). */
struct token {
    const char *id;
    const char *name;
    const char *hint; /* "todo_pat_…" and the secret's last TOKEN_HINT_CHARS characters */
    const char *created_at;
    const char *expires_at;
    const char *last_used_at;
};

/* A validated create request. */
struct token_input {
    const char *name; /* trimmed, 1..TOKEN_NAME_MAX characters */
    int days;         /* lifetime in days; 0: never expires */
};

/* True when s has the shape of a personal access token (the prefix): such a bearer token is
 * looked up here, never parsed as a JWT. */
bool tokens_is_pat(const char *s);

/* Reads {name, expires_in_days?} (loc "body"): name follows the one text rule; an absent
 * expires_in_days gives TOKEN_DAYS_DEFAULT, null never expires, else 1..TOKEN_DAYS_MAX.
 * Returns ERR_OK or ERR_INVALID (problems in errs). */
int tokens_input_parse(yyjson_val *obj, struct arena *a, struct token_input *in,
                       struct verrors *errs);

/* Creates a token for uid and writes its secret (shown once) into secret. ERR_CONFLICT when
 * the user already has TOKENS_PER_USER_MAX tokens. */
int tokens_create(struct store_conn *c, struct arena *a, const char *uid,
                  const struct token_input *in, struct token *out, char secret[TOKEN_TEXT_MAX]);

/* The user's tokens, oldest first (never the secrets). */
int tokens_list(struct store_conn *c, struct arena *a, const char *uid, struct token **out,
                size_t *n);

/* Deletes the user's token id: from the next request on it authenticates nothing.
 * ERR_NOTFOUND when the user has no such token (another user's included). */
int tokens_revoke(struct store_conn *c, struct arena *a, const char *uid, int64_t id);

/* Authenticates a bearer secret at time now: *uid (arena) is its user. ERR_AUTH with *why
 * set (static, client-safe) when the token is unknown, revoked or expired; a store error
 * when the database cannot answer. Records last_used_at (at most once a minute). */
int tokens_verify(struct store_conn *c, struct arena *a, const char *secret, int64_t now,
                  const char **uid, const char **why);

/* The public view {id, name, hint, created_at, expires_at, last_used_at}. */
yyjson_mut_val *token_to_json(yyjson_mut_doc *doc, const struct token *t);

#endif
