/* POST /api/{user_id}/chat {conversation_id?, message}: one turn of the assistant, as JSON
 * or (Accept: text/event-stream) as Server-Sent Events. See handlers/chat.c and
 * docs/assistant.md. */
#ifndef TODO_HANDLERS_CHAT_H
#define TODO_HANDLERS_CHAT_H

#include "http/request.h"

void h_chat(struct request *req);

#endif
