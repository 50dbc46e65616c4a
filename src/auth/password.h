/*
 * Password hashing with Argon2id (libsodium, interactive limits: 64 MiB per hash). At most
 * PASSWORD_MAX_CONCURRENT hashes run at once, so a burst of logins cannot exhaust memory.
 */
#ifndef TODO_PASSWORD_H
#define TODO_PASSWORD_H

#include <stddef.h>

#include <sodium.h>

#define PASSWORD_MIN_CHARS      8
#define PASSWORD_MAX_BYTES      128
#define PASSWORD_MAX_CONCURRENT 2
#define PASSWORD_WAIT_S         10
#define PASSWORD_HASH_MAX       crypto_pwhash_STRBYTES

/* Hashes pw into out. ERR_OK, or ERR_UNAVAILABLE when no slot freed up in time. */
int password_hash(const char *pw, char out[PASSWORD_HASH_MAX]);

/* ERR_OK when pw matches hash, ERR_AUTH when not. With hash NULL it still spends the time
 * of a verification (so unknown accounts answer as slowly as known ones) and fails. */
int password_verify(const char *hash, const char *pw);

#endif
