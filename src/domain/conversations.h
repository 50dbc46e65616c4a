/*
 * The assistant's conversations: a user's chats, each a list of messages — the user's
 * messages and the assistant's replies, a reply carrying the tool calls it made (name,
 * arguments, result) as one JSON array. Every function acts for one user (uid) and treats a
 * conversation of anyone else exactly like one that does not exist (ERR_NOTFOUND).
 *
 * A chat turn writes twice: conv_begin_turn stores the user's message before the model is
 * asked (so it is never lost, whatever the model does), and conv_add_reply stores the reply
 * and its tool calls at the end. Between the two no database connection is held. The
 * history a turn sends to a model is read with conv_history, bounded by messages and by
 * characters, so a long conversation costs a bounded prompt. Any replica can serve any turn:
 * nothing of a conversation lives outside the database.
 *
 * Concurrency (PostgreSQL): writes to a conversation first update its row (locking it) and
 * are conditioned on its owner, so a conversation deleted meanwhile gets no orphan message.
 *
 * Threads: no state; any thread may call. Memory: results come from the caller's arena.
 */
#ifndef TODO_CONVERSATIONS_H
#define TODO_CONVERSATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yyjson.h"

#include "core/arena.h"
#include "core/text.h"
#include "store/store.h"

#define CONV_TITLE_MAX       200 /* characters of a title */
#define CONV_TITLE_AUTO_MAX  60  /* characters of a title made from a first message */
#define CONV_LIST_DEFAULT    50  /* conversations per page */
#define CONV_LIST_MAX        200
#define CONV_MESSAGES_MAX    1000         /* messages GET …/conversations/{id} returns at most */
#define CHAT_MESSAGE_MAX     4000         /* characters of a user message */
#define CONV_TOOL_CALLS_MAX  (512 * 1024) /* bytes of one reply's tool calls as stored */
#define CONV_TOOL_RESULT_MAX (32 * 1024)  /* bytes of one tool result as stored */

/* A title: one line of 1..CONV_TITLE_MAX characters. */
extern const struct text_rule conv_title_rule;

/* A conversation (arena-owned text; times RFC 3339 UTC). */
struct conversation {
    int64_t id;
    const char *title; /* NULL when none */
    const char *created_at;
    const char *updated_at;
};

/* One message. */
struct conv_message {
    int64_t id;
    const char *role;       /* "user" or "assistant" */
    const char *content;    /* the text ("" for a reply that only called tools) */
    const char *tool_calls; /* a reply's tool calls as stored (a JSON array), or NULL */
    const char *created_at;
};

/* The title a new conversation gets from its first message: the first line, white space
 * collapsed, cut at a word boundary to CONV_TITLE_AUTO_MAX characters with "…". NULL when
 * out of memory; never empty for a message with a visible character. */
const char *conv_title_from(struct arena *a, const char *message);

/* The user's conversations, most recently active first: limit (1..CONV_LIST_MAX) from
 * offset; *total is the number across all pages. */
int conv_list(struct store_conn *c, struct arena *a, const char *uid, int limit, int64_t offset,
              struct conversation **out, size_t *n, int64_t *total);

/* One conversation of the user. ERR_NOTFOUND when it is not the user's (or absent). */
int conv_get(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
             struct conversation *out);

/* Renames it (title already checked against conv_title_rule); *out is the new row. */
int conv_rename(struct store_conn *c, struct arena *a, const char *uid, int64_t id,
                const char *title, struct conversation *out);

/* Deletes it and its messages. */
int conv_delete(struct store_conn *c, struct arena *a, const char *uid, int64_t id);

/* Its last `limit` messages (at most CONV_MESSAGES_MAX), oldest first. The caller has
 * checked that the conversation is the user's. */
int conv_messages(struct store_conn *c, struct arena *a, const char *uid, int64_t id, size_t limit,
                  struct conv_message **out, size_t *n);

/* Starts a turn in one transaction: the conversation conv_id of the user (ERR_NOTFOUND when
 * not theirs), or a new one titled from the message when conv_id is 0; then stores the
 * user's message. *conv is the conversation, *msg_id the message's id. */
int conv_begin_turn(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                    const char *message, struct conversation *conv, int64_t *msg_id);

/* The history a turn shows its model: the messages before message `before`, newest first
 * until max_messages or max_chars (content and tool calls counted) would be passed, handed
 * out oldest first. A message alone over max_chars is left out with everything older. */
int conv_history(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                 int64_t before, size_t max_messages, size_t max_chars, struct conv_message **out,
                 size_t *n);

/* Stores a reply: content (may be "") and tool_calls (a JSON array's text, or NULL for
 * none). ERR_NOTFOUND when the conversation was deleted meanwhile (nothing is stored). */
int conv_add_reply(struct store_conn *c, struct arena *a, const char *uid, int64_t conv_id,
                   const char *content, const char *tool_calls, int64_t *msg_id);

/* Stores a conversation and its messages as given (an import), inside the caller's
 * transaction. The caller has checked every value (roles, lengths, RFC 3339 times, tool calls
 * as a JSON array's text or NULL). */
int conv_import(struct store_conn *c, struct arena *a, const char *uid, const char *title,
                const char *created_at, const char *updated_at, const struct conv_message *msgs,
                size_t n);

/* {id, title, created_at, updated_at}. */
yyjson_mut_val *conv_to_json(yyjson_mut_doc *doc, const struct conversation *cv);

/* {id, role, content, tool_calls: [...], created_at}; tool_calls is [] for a user message.
 * A stored tool call is {id, tool, arguments, result, is_error}. */
yyjson_mut_val *conv_message_to_json(yyjson_mut_doc *doc, struct arena *a,
                                     const struct conv_message *m);

#endif
