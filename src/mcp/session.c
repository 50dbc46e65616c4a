/* MCP sessions in the database (see session.h). */
#include "mcp/session.h"

#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

#define HASH_HEX (crypto_hash_sha256_BYTES * 2 + 1)

/* The stored key of a session id: its SHA-256 in hex. */
static void id_hash(const char *id, char out[HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)id, strlen(id));
    hex_encode(h, sizeof(h), out);
}

/* True when id has the shape of the ids this server hands out. */
static bool well_formed(const char *id)
{
    size_t n = 0;
    for (; id[n] && n <= MCP_SESSION_ID_LEN; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
            return false;
    return n == MCP_SESSION_ID_LEN;
}

int mcp_session_create(struct store_conn *c, struct arena *a, const char *uid, const char *version,
                       const char *client, char id[MCP_SESSION_ID_LEN + 1])
{
    static const struct sql ins = {
        "INSERT INTO mcp_sessions (id, user_id, protocol_version, client, created_at, "
        "last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)",
        NULL};
    /* Idle sessions of anyone, and this user's beyond the cap (least recently seen first). */
    static const struct sql idle = {"DELETE FROM mcp_sessions WHERE last_seen_at < $1", NULL};
    static const struct sql cap = {
        "DELETE FROM mcp_sessions WHERE user_id = $1 AND id NOT IN (SELECT id FROM "
        "mcp_sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, created_at DESC LIMIT $2)",
        NULL};
    unsigned char raw[MCP_SESSION_ID_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    hex_encode(raw, sizeof(raw), id);
    char hash[HASH_HEX];
    id_hash(id, hash);
    int64_t now = now_unix();
    char when[TIME_TEXT_MAX], cutoff[TIME_TEXT_MAX];
    time_format(now, when);
    time_format(now - (int64_t)MCP_SESSION_IDLE_DAYS * 86400, cutoff);
    struct db_param p[] = {P_TEXT(hash), P_TEXT(uid), P_TEXT(version), P_TEXT(client),
                           P_TEXT(when)};
    int rc = store_exec(c, &ins, p, ARRAY_LEN(p), a, NULL);
    if (rc != ERR_OK)
        return rc;
    /* Housekeeping: best effort, the session exists already. */
    struct db_param pi[] = {P_TEXT(cutoff)};
    (void)store_exec(c, &idle, pi, ARRAY_LEN(pi), NULL, NULL);
    struct db_param pc[] = {P_TEXT(uid), P_INT(MCP_SESSIONS_PER_USER)};
    (void)store_exec(c, &cap, pc, ARRAY_LEN(pc), NULL, NULL);
    return ERR_OK;
}

int mcp_session_find(struct store_conn *c, struct arena *a, const char *id, const char *uid,
                     int64_t now, const char **version)
{
    static const struct sql find = {"SELECT protocol_version, rfc3339(last_seen_at) FROM "
                                    "mcp_sessions WHERE id = $1 AND user_id = $2",
                                    NULL};
    static const struct sql touch = {"UPDATE mcp_sessions SET last_seen_at = $2 WHERE id = $1",
                                     NULL};
    if (!well_formed(id))
        return ERR_NOTFOUND;
    char hash[HASH_HEX];
    id_hash(id, hash);
    struct db_param p[] = {P_TEXT(hash), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &find, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    int64_t seen = 0;
    if (time_parse(db_cell(&rows, 0, 1), DATE_ONLY_REJECT, &seen) != ERR_OK)
        return ERR_DB;
    if (now - seen > (int64_t)MCP_SESSION_IDLE_DAYS * 86400)
        return ERR_NOTFOUND;
    *version = db_cell(&rows, 0, 0);
    if (now - seen >= MCP_SESSION_TOUCH_S) {
        char when[TIME_TEXT_MAX];
        time_format(now, when);
        struct db_param t[] = {P_TEXT(hash), P_TEXT(when)};
        (void)store_exec(c, &touch, t, ARRAY_LEN(t), NULL, NULL); /* best effort */
    }
    return ERR_OK;
}

int mcp_session_end(struct store_conn *c, struct arena *a, const char *id, const char *uid)
{
    static const struct sql del = {"DELETE FROM mcp_sessions WHERE id = $1 AND user_id = $2", NULL};
    if (!well_formed(id))
        return ERR_NOTFOUND;
    char hash[HASH_HEX];
    id_hash(id, hash);
    struct db_param p[] = {P_TEXT(hash), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &del, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    return rows.changes == 1 ? ERR_OK : ERR_NOTFOUND;
}
