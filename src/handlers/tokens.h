/* Personal access token routes: /api/{user_id}/tokens[/{token_id}] (see domain/tokens.h). */
#ifndef TODO_HANDLERS_TOKENS_H
#define TODO_HANDLERS_TOKENS_H

#include "http/request.h"

void h_token_create(struct request *req); /* POST: 201 with the secret, shown once */
void h_token_list(struct request *req);   /* GET: never the secrets */
void h_token_delete(struct request *req); /* DELETE: revoked at once, 204 */

#endif
