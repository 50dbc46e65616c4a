/*
 * Password resets: a reset token is 256 random bits in base64url, mailed to the account's
 * address and stored only as its SHA-256, valid RESET_TTL_SECONDS and usable once. Using it
 * sets the new password and ends the account's sessions everywhere: the user's session
 * generation is bumped (tokens we issued before carry the old one), and personal access
 * tokens, MCP sessions and the other reset tokens are deleted, in one transaction.
 *
 * Threads: no state; any thread. Memory: results in the caller's arena.
 */
#ifndef TODO_RESETS_H
#define TODO_RESETS_H

#include <stdint.h>

#include "core/arena.h"
#include "store/store.h"

#define RESET_TTL_SECONDS  (30 * 60)
#define RESET_SECRET_BYTES 32
#define RESET_TOKEN_MAX    64 /* base64url of 32 bytes (43) and the NUL, with room */
#define RESETS_PER_USER    5  /* live tokens per user at most; older ones are dropped */

/* Makes a reset token for the account with this email (case-insensitive) at time now:
 * writes the token (to mail, never stored) into token and the account's address into
 * *email (arena). ERR_NOTFOUND when no account has the email (the caller says nothing
 * different to the client), or a store error. */
int resets_create(struct store_conn *c, struct arena *a, const char *email, int64_t now,
                  char token[RESET_TOKEN_MAX], const char **to);

/* Uses token at time now: sets the password hash and ends every session of its user
 * (*uid, arena). ERR_NOTFOUND when the token is unknown, used or expired (one answer for
 * all three), or a store error; nothing changes then. */
int resets_use(struct store_conn *c, struct arena *a, const char *token, const char *hash,
               int64_t now, const char **uid);

#endif
