/*
 * The assistant's conversations and messages (see conversations.h): listing, renaming and
 * deleting conversations, and the two writes of a chat turn.
 */
#include "domain/conversations.h"

#include <string.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/timefmt.h"
#include "core/util.h"

#define CONV_COLS "id, title, rfc3339(created_at), rfc3339(updated_at)"
#define MSG_COLS  "id, role, content, tool_calls, rfc3339(created_at)"
/* Bytes of a title made from a first message: CONV_TITLE_AUTO_MAX characters of up to four
 * bytes, the ellipsis and the NUL. */
#define AUTO_TITLE_BYTES (CONV_TITLE_AUTO_MAX * 4 + 8)

const struct text_rule conv_title_rule = {1, CONV_TITLE_MAX, false};

/* Bytes of the UTF-8 sequence that starts with lead (1 for a stray byte). */
static size_t utf8_len(unsigned char lead)
{
    return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

const char *conv_title_from(struct arena *a, const char *message)
{
    char buf[AUTO_TITLE_BYTES];
    size_t len = 0, chars = 0, last_space = 0;
    bool space = false, cut = false;
    const char *p = message;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    while (*p && *p != '\n' && *p != '\r') {
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ' || ch == '\t') {
            space = true;
            p++;
            continue;
        }
        size_t n = utf8_len(ch);
        if (strnlen(p, n) < n)
            break;
        if (chars + (space ? 1 : 0) + 1 > CONV_TITLE_AUTO_MAX) {
            cut = true;
            break;
        }
        if (space) {
            last_space = len;
            buf[len++] = ' ';
            chars++;
            space = false;
        }
        memcpy(buf + len, p, n);
        len += n;
        chars++;
        p += n;
    }
    if (cut && last_space > CONV_TITLE_AUTO_MAX / 2)
        len = last_space; /* end at a word */
    if (cut) {
        memcpy(buf + len, "\xE2\x80\xA6", 3); /* … */
        len += 3;
    }
    if (len == 0)
        return arena_strdup(a, "New conversation");
    return arena_strndup(a, buf, len);
}

static void row_to_conv(const struct db_rows *r, size_t i, struct conversation *cv)
{
    cv->id = 0;
    parse_int64(db_cell(r, i, 0), 0, INT64_MAX, &cv->id);
    cv->title = db_cell(r, i, 1);
    cv->created_at = db_cell(r, i, 2);
    cv->updated_at = db_cell(r, i, 3);
}

static void row_to_message(const struct db_rows *r, size_t i, struct conv_message *m)
{
    m->id = 0;
    parse_int64(db_cell(r, i, 0), 0, INT64_MAX, &m->id);
    m->role = db_cell(r, i, 1);
    m->content = db_cell(r, i, 2) ? db_cell(r, i, 2) : "";
    m->tool_calls = db_cell(r, i, 3);
    m->created_at = db_cell(r, i, 4);
}

int conv_list(struct store_conn *c, struct arena *a, const char *uid, int limit, int64_t offset,
              struct conversation **out, size_t *n, int64_t *total)
{
    static const struct sql page = {"SELECT " CONV_COLS " FROM conversations WHERE user_id = $1 "
                                    "ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3",
                                    NULL};
    static const struct sql count = {"SELECT count(*) FROM conversations WHERE user_id = $1", NULL};
    struct db_param p[] = {P_TEXT(uid), P_INT(limit), P_INT(offset)};
    struct db_rows rows, cnt;
    int rc = store_exec(c, &page, p, ARRAY_LEN(p), a, &rows);
    if (rc == ERR_OK)
        rc = store_exec(c, &count, p, 1, a, &cnt);
    if (rc != ERR_OK)
        return rc;
    if (cnt.nrows != 1 || parse_int64(db_cell(&cnt, 0, 0), 0, INT64_MAX, total) != ERR_OK)
        return ERR_DB;
    *out = arena_calloc(a, rows.nrows ? rows.nrows : 1, sizeof(**out));
    if (!*out)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows.nrows; i++)
        row_to_conv(&rows, i, &(*out)[i]);
    *n = rows.nrows;
    return ERR_OK;
}

/* Runs a statement that returns one conversation row (or none: ERR_NOTFOUND). */
static int one_conv(struct store_conn *c, struct arena *a, const struct sql *q,
                    const struct db_param *p, size_t np, struct conversation *out)
{
    struct db_rows rows;
    int rc = store_exec(c, q, p, np, a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1)
        return ERR_NOTFOUND;
    row_to_conv(&rows, 0, out);
    return ERR_OK;
}

int conv_get(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
             struct conversation *out)
{
    static const struct sql q = {
        "SELECT " CONV_COLS " FROM conversations WHERE id = $1 AND user_id = $2", NULL};
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    return one_conv(c, a, &q, p, ARRAY_LEN(p), out);
}

int conv_rename(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                const char *title, struct conversation *out)
{
    static const struct sql q = {"UPDATE conversations SET title = $3, updated_at = $4 "
                                 "WHERE id = $1 AND user_id = $2 RETURNING " CONV_COLS,
                                 NULL};
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    struct db_param p[] = {P_INT(id), P_TEXT(uid), P_TEXT(title), P_TEXT(now)};
    return one_conv(c, a, &q, p, ARRAY_LEN(p), out);
}

int conv_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t id)
{
    static const struct sql q = {"DELETE FROM conversations WHERE id = $1 AND user_id = $2", NULL};
    struct db_param p[] = {P_INT(id), P_TEXT(uid)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    return rows.changes == 1 ? ERR_OK : ERR_NOTFOUND;
}

/* Reads messages newest first (id below before, when before > 0) into *out, oldest first. */
static int read_messages(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                         int64_t before, size_t limit, struct conv_message **out, size_t *n)
{
    static const struct sql q = {"SELECT " MSG_COLS
                                 " FROM messages WHERE conversation_id = $1 AND user_id = $2 "
                                 "AND id < $3 ORDER BY id DESC LIMIT $4",
                                 NULL};
    struct db_param p[] = {P_INT(id), P_TEXT(uid), P_INT(before > 0 ? before : INT64_MAX),
                           P_INT(limit)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    *out = arena_calloc(a, rows.nrows ? rows.nrows : 1, sizeof(**out));
    if (!*out)
        return ERR_NOMEM;
    for (size_t i = 0; i < rows.nrows; i++)
        row_to_message(&rows, i, &(*out)[rows.nrows - 1 - i]);
    *n = rows.nrows;
    return ERR_OK;
}

int conv_messages(struct store_conn *c, struct arena *a, const char *uid, int64_t id, size_t limit,
                  struct conv_message **out, size_t *n)
{
    if (limit == 0 || limit > CONV_MESSAGES_MAX)
        limit = CONV_MESSAGES_MAX;
    return read_messages(c, a, uid, id, 0, limit, out, n);
}

int conv_history(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                 int64_t before, size_t max_messages, size_t max_chars, struct conv_message **out,
                 size_t *n)
{
    *n = 0;
    if (max_messages == 0) {
        *out = NULL;
        return ERR_OK;
    }
    struct conv_message *all;
    size_t count;
    int rc = read_messages(c, a, uid, conv_id, before, max_messages, &all, &count);
    if (rc != ERR_OK)
        return rc;
    /* Keep the newest messages whose text fits max_chars together. */
    size_t used = 0, keep = 0;
    for (size_t i = count; i-- > 0;) {
        size_t cost = strlen(all[i].content) + (all[i].tool_calls ? strlen(all[i].tool_calls) : 0);
        if (used + cost > max_chars)
            break;
        used += cost;
        keep++;
    }
    *out = all + (count - keep);
    *n = keep;
    return ERR_OK;
}

/* Inserts a message of role into conversation conv_id; *msg_id is its id. */
static int insert_message(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                          const char *role, const char *content, const char *tool_calls,
                          const char *now, int64_t *msg_id)
{
    static const struct sql q = {
        "INSERT INTO messages (conversation_id, user_id, role, content, tool_calls, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        NULL};
    struct db_param p[] = {P_INT(conv_id),  P_TEXT(uid),        P_TEXT(role),
                           P_TEXT(content), P_TEXT(tool_calls), P_TEXT(now)};
    struct db_rows rows;
    int rc = store_exec(c, &q, p, ARRAY_LEN(p), a, &rows);
    if (rc != ERR_OK)
        return rc;
    if (rows.nrows != 1 || parse_int64(db_cell(&rows, 0, 0), 1, INT64_MAX, msg_id) != ERR_OK)
        return ERR_DB;
    return ERR_OK;
}

/* Marks the user's conversation active now, locking its row; ERR_NOTFOUND when it is not
 * theirs (or gone). */
static int touch(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                 const char *now, struct conversation *out)
{
    static const struct sql q = {"UPDATE conversations SET updated_at = $3 "
                                 "WHERE id = $1 AND user_id = $2 RETURNING " CONV_COLS,
                                 NULL};
    struct db_param p[] = {P_INT(conv_id), P_TEXT(uid), P_TEXT(now)};
    return one_conv(c, a, &q, p, ARRAY_LEN(p), out);
}

int conv_begin_turn(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                    const char *message, struct conversation *conv, int64_t *msg_id)
{
    static const struct sql create = {
        "INSERT INTO conversations (user_id, title, created_at, updated_at) "
        "VALUES ($1, $2, $3, $3) RETURNING " CONV_COLS,
        NULL};
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    const char *title = conv_id ? NULL : conv_title_from(a, message);
    if (!conv_id && !title)
        return ERR_NOMEM;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    if (conv_id) {
        rc = touch(c, a, uid, conv_id, now, conv);
    } else {
        struct db_param p[] = {P_TEXT(uid), P_TEXT(title), P_TEXT(now)};
        rc = one_conv(c, a, &create, p, ARRAY_LEN(p), conv);
        if (rc == ERR_NOTFOUND)
            rc = ERR_DB;
    }
    if (rc == ERR_OK)
        rc = insert_message(c, a, uid, conv->id, "user", message, NULL, now, msg_id);
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK)
        store_rollback(c);
    return rc;
}

int conv_add_reply(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                   const char *content, const char *tool_calls, int64_t *msg_id)
{
    char now[TIME_TEXT_MAX];
    time_format(now_unix(), now);
    struct conversation cv;
    int rc = store_begin(c);
    if (rc != ERR_OK)
        return rc;
    rc = touch(c, a, uid, conv_id, now, &cv);
    if (rc == ERR_OK)
        rc = insert_message(c, a, uid, conv_id, "assistant", content ? content : "", tool_calls,
                            now, msg_id);
    if (rc == ERR_OK)
        rc = store_commit(c);
    if (rc != ERR_OK)
        store_rollback(c);
    return rc;
}

yyjson_mut_val *conv_to_json(yyjson_mut_doc *doc, const struct conversation *cv)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "id", cv->id);
    if (cv->title)
        yyjson_mut_obj_add_str(doc, o, "title", cv->title);
    else
        yyjson_mut_obj_add_null(doc, o, "title");
    yyjson_mut_obj_add_str(doc, o, "created_at", cv->created_at);
    yyjson_mut_obj_add_str(doc, o, "updated_at", cv->updated_at);
    return o;
}

yyjson_mut_val *conv_message_to_json(yyjson_mut_doc *doc, struct arena *a,
                                     const struct conv_message *m)
{
    yyjson_mut_val *o = yyjson_mut_obj(doc);
    yyjson_mut_obj_add_int(doc, o, "id", m->id);
    yyjson_mut_obj_add_str(doc, o, "role", m->role);
    yyjson_mut_obj_add_str(doc, o, "content", m->content);
    yyjson_mut_val *calls = NULL;
    if (m->tool_calls) {
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        yyjson_doc *d =
            yyjson_read_opts((char *)m->tool_calls, strlen(m->tool_calls), 0, &alc, NULL);
        yyjson_val *root = d ? yyjson_doc_get_root(d) : NULL;
        if (yyjson_is_arr(root))
            calls = yyjson_val_mut_copy(doc, root);
    }
    yyjson_mut_obj_add_val(doc, o, "tool_calls", calls ? calls : yyjson_mut_arr(doc));
    yyjson_mut_obj_add_str(doc, o, "created_at", m->created_at);
    return o;
}

int conv_import(struct store_conn *c, struct arena *a, const char *uid, const char *title,
                const char *created_at, const char *updated_at, const struct conv_message *msgs,
                size_t n)
{
    static const struct sql conv = {
        "INSERT INTO conversations (user_id, title, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        NULL};
    static const struct sql msg = {
        "INSERT INTO messages (conversation_id, user_id, role, content, tool_calls, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        NULL};
    struct db_param p[] = {P_TEXT(uid), P_TEXT(title), P_TEXT(created_at), P_TEXT(updated_at)};
    struct db_rows rows;
    int rc = store_exec(c, &conv, p, ARRAY_LEN(p), a, &rows);
    int64_t id = 0;
    if (rc == ERR_OK &&
        (rows.nrows != 1 || parse_int64(db_cell(&rows, 0, 0), 1, INT64_MAX, &id) != ERR_OK))
        rc = ERR_DB;
    for (size_t i = 0; rc == ERR_OK && i < n; i++) {
        struct db_param m[] = {P_INT(id),
                               P_TEXT(uid),
                               P_TEXT(msgs[i].role),
                               P_TEXT(msgs[i].content),
                               P_TEXT(msgs[i].tool_calls),
                               P_TEXT(msgs[i].created_at)};
        rc = store_exec(c, &msg, m, ARRAY_LEN(m), a, NULL);
    }
    return rc;
}
