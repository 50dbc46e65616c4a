/*
 * Password hashing with Argon2id (libsodium). Its cost is PASSWORD_HASH_MEMORY_MIB of memory
 * per hash with the passes OWASP pairs with that much memory (its Password Storage Cheat
 * Sheet: 46 MiB × 1, 19 × 2, 12 × 3, 9 × 4, 7 × 5 give equal defence), so less memory buys
 * more passes, not a weaker hash. A hash carries its own parameters: one made with other
 * ones still verifies (with its own memory), and password_needs_rehash says to replace it.
 * At most PASSWORD_MAX_CONCURRENT hashes run at once (the dummy one for unknown accounts
 * included), so a burst of logins cannot exhaust memory: the process's peak is that many
 * times the hash's memory above its usual size. One: a hash takes ~15 ms of one core, so a
 * process verifies ~60 passwords a second, and a hash never lands on top of another (7 MiB
 * each on a process of 12-17 MB; docs/performance.md, RSS). A caller waits at most
 * PASSWORD_WAIT_S for the slot, then gets ERR_UNAVAILABLE (503 "Server busy").
 */
#ifndef TODO_PASSWORD_H
#define TODO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

#define PASSWORD_MIN_CHARS      8
#define PASSWORD_MAX_BYTES      128
#define PASSWORD_MAX_CONCURRENT 1
#define PASSWORD_WAIT_S         10
#define PASSWORD_HASH_MAX       crypto_pwhash_STRBYTES
#define PASSWORD_MEMORY_MIB_MIN 7 /* the smallest of OWASP's pairs */

/* Sets the memory (MiB, at least PASSWORD_MEMORY_MIB_MIN) of every hash made from now on,
 * and the passes that go with it. Call once at start, before any thread hashes; until then
 * the cost is PASSWORD_MEMORY_MIB_MIN. */
void password_set_memory(int mib);

/* Hashes pw into out. ERR_OK, or ERR_UNAVAILABLE when no slot freed up in time. */
int password_hash(const char *pw, char out[PASSWORD_HASH_MAX]);

/* ERR_OK when pw matches hash, ERR_AUTH when not. With hash NULL it still spends the time
 * of a verification (so unknown accounts answer as slowly as known ones) and fails. */
int password_verify(const char *hash, const char *pw);

/* True when hash was made with other parameters than password_hash uses now (or cannot be
 * read): after a successful verification, the caller may store a new hash of the password. */
bool password_needs_rehash(const char *hash);

#endif
