/* The assistant's conversations: GET /api/{user_id}/conversations (newest first, paged),
 * GET, PATCH {title} and DELETE /api/{user_id}/conversations/{conversation_id}. */
#ifndef TODO_HANDLERS_CONVERSATIONS_H
#define TODO_HANDLERS_CONVERSATIONS_H

#include "http/request.h"

void h_conv_list(struct request *req);
void h_conv_get(struct request *req);
void h_conv_rename(struct request *req);
void h_conv_delete(struct request *req);

#endif
