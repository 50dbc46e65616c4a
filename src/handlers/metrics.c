/*
 * GET /metrics on the main port, behind METRICS_TOKEN. The same text is served without a
 * token by the metrics listener (http/metricsd.h) when METRICS_PORT is set: a port that
 * only the cluster reaches, for Prometheus's scrape annotations.
 */
#include "handlers/metrics.h"

#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "app.h"
#include "core/dynbuf.h"
#include "core/err.h"
#include "core/metrics.h"

/* True when the Authorization header is "Bearer <want>" (compared in constant time over the
 * token's length). */
static bool bearer_is(struct request *req, const char *want)
{
    const char *h = req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *got = h + 7;
    size_t n = strlen(want);
    if (strlen(got) != n)
        return false;
    return sodium_memcmp(got, want, n) == 0;
}

void h_metrics(struct request *req)
{
    const char *token = req->app->cfg->metrics_token;
    if (!token) {
        resp_err(req, ERR_NOTFOUND, NULL);
        return;
    }
    resp_header(req, "Cache-Control", "no-store");
    if (!bearer_is(req, token)) {
        resp_header(req, "WWW-Authenticate", "Bearer");
        resp_error(req, 401, "Metrics need the METRICS_TOKEN bearer token");
        return;
    }
    struct dynbuf out;
    dyn_init_arena(&out, req->arena, METRICS_TEXT_MAX);
    if (metrics_render(&out) != ERR_OK) {
        resp_err(req, ERR_NOMEM, NULL);
        return;
    }
    resp_raw(req, 200, METRICS_CONTENT_TYPE, dyn_str(&out), dyn_len(&out));
}
