/* Liveness and readiness endpoints. */
#ifndef TODO_HEALTH_H
#define TODO_HEALTH_H

#include "http/request.h"

/* How long /ready waits for the database before answering 503. */
#define READY_PING_TIMEOUT_MS 1500

/* GET /health, /api/health: 200 while the process serves. */
void h_health(struct request *req);

/* GET /ready: 200 when the database answers, 503 when it does not or while draining. */
void h_ready(struct request *req);

#endif
