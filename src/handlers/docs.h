/*
 * The API's own documentation: the OpenAPI 3.1 document (docs/openapi.json, embedded at
 * build time) and the /docs page that renders it with the vendored swagger-ui-dist. They
 * belong to the API role (the web role proxies these paths to API_URL), so they have
 * handlers of their own instead of riding on the web UI's catch-all h_static.
 */
#ifndef TODO_DOCS_H
#define TODO_DOCS_H

#include "http/request.h"

/* URL paths of the embedded documents (see mk/assets.mk). */
#define DOCS_OPENAPI_PATH  "/openapi.json"
#define DOCS_PAGE_PATH     "/docs"
#define DOCS_ASSETS_PREFIX "/docs/assets/"

/* GET /openapi.json: the OpenAPI document, revalidated by ETag. */
void h_openapi(struct request *req);

/* GET /docs: the HTML page that loads swagger-ui and points it at /openapi.json. */
void h_docs(struct request *req);

/* GET /docs/assets/... (a ROUTE_PREFIX route): swagger-ui-dist's files and the page's
 * own script; 404 for anything else. */
void h_docs_asset(struct request *req);

#endif
