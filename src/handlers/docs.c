/*
 * Documentation endpoints (see docs.h). Each one serves an embedded asset through
 * static_serve, which picks the content coding (gzip or identity), adds the validators,
 * caching rules and the page's Content-Security-Policy; a missing asset would be a build
 * error, so it is logged.
 */
#include "handlers/docs.h"

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "web/static.h"

/* Serves the asset at path, or 404 when the build did not embed it. */
static void serve_path(struct request *req, const char *path)
{
    const struct asset *a = asset_find(path);
    if (!a) {
        log_error("embedded asset %s is missing from the build", path);
        resp_err(req, ERR_NOTFOUND, NULL);
        return;
    }
    static_serve(req, a);
}

void h_openapi(struct request *req)
{
    serve_path(req, DOCS_OPENAPI_PATH);
}

void h_docs(struct request *req)
{
    serve_path(req, DOCS_PAGE_PATH);
}

void h_docs_asset(struct request *req)
{
    const struct asset *a =
        str_starts(req->path, DOCS_ASSETS_PREFIX) ? asset_find(req->path) : NULL;
    if (!a) {
        resp_err(req, ERR_NOTFOUND, NULL);
        return;
    }
    static_serve(req, a);
}
