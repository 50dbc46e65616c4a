/*
 * Bearer credentials, whatever their kind: a personal access token (domain/tokens.h, looked
 * up in the database on every use) or a JWT (jwt.h: ours, or Better Auth's). The one
 * function every transport authenticates with — the HTTP guard (handlers/auth.c) and the MCP
 * stdio server — so both accept exactly the same credentials.
 */
#ifndef TODO_BEARER_H
#define TODO_BEARER_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/jwt.h"
#include "core/arena.h"
#include "store/store.h"

/* Who a credential names. */
struct bearer_user {
    const char *id; /* arena-owned */
    bool pat;       /* a personal access token (cannot mint tokens) */
};

/* Gives the caller's database connection, checked out on first use: ERR_OK or a store
 * error. A JWT that fails its signature never needs one. */
typedef int (*bearer_db_fn)(void *ctx, struct store_conn **out);

/* Authenticates token at time now. A JWT's user gets a row if it has none (users_ensure).
 * Returns ERR_OK, ERR_AUTH with *why (static, client-safe: "Invalid token", "Token
 * expired"), ERR_UNAVAILABLE (the database or Better Auth's keys cannot be reached) or
 * another store error. */
int bearer_authenticate(const struct jwt_verifier *v, bearer_db_fn db, void *db_ctx,
                        struct arena *a, const char *token, int64_t now, struct bearer_user *out,
                        const char **why);

#endif
