/* GET /metrics on the main port (see core/metrics.h for what is counted). */
#ifndef TODO_HANDLERS_METRICS_H
#define TODO_HANDLERS_METRICS_H

#include "http/request.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_TEXT_MAX     (4u * 1024 * 1024)

/* Answers the exposition text when the request bears METRICS_TOKEN (constant-time compare);
 * 404 when no token is configured (the endpoint is off on this port), 401 otherwise. */
void h_metrics(struct request *req);

#endif
