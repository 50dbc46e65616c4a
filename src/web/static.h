/*
 * Static assets embedded in the binary at build time: the web UI (web/), the /docs page
 * with its vendored swagger-ui-dist files, and the OpenAPI document. scripts/embed-assets
 * generates the table (mk/assets.mk); this module finds entries and answers requests with
 * validators (ETag), caching rules and security headers. Compressible assets are stored
 * gzipped and sent that way to clients that accept it (inflated for the others).
 */
#ifndef TODO_STATIC_H
#define TODO_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "http/request.h"

/* Longest request path asset lookups consider; longer paths are simply not found. */
#define ASSET_PATH_MAX 512

struct asset {
    const char *path;         /* URL path, e.g. "/index.html", "/docs/assets/x.js" */
    const char *content_type; /* with charset for text */
    const char *bytes;        /* as stored: a gzip member when encoding is set */
    size_t len;               /* length of bytes as stored */
    size_t identity_len;      /* length of the content itself (len when encoding is NULL) */
    const char *encoding;     /* "gzip" when stored compressed, else NULL */
    const char *etag;         /* identity variant: quoted strong validator, "\"3f9a…\"" */
    const char *etag_gzip;    /* gzip variant, "\"3f9a…-gz\"", or NULL */
    const char *hash; /* the content's digits unquoted: the "?v=" of content-addressed URLs */
    bool immutable;   /* vendored or hashed file: cacheable forever */
};

/* The generated table, sorted by path in byte order (see scripts/embed-assets). */
extern const struct asset asset_table[];
extern const size_t asset_count;

/* The asset served at exactly path, or NULL (binary search). */
const struct asset *asset_find(const char *path);

/* Answers GET/HEAD with asset a. A compressed asset is sent as stored (no copy) with
 * Content-Encoding: gzip when the request's Accept-Encoding takes gzip, and otherwise
 * inflated into the request's arena; either way with Vary: Accept-Encoding and the ETag of
 * the variant chosen. 304 when If-None-Match lists that ETag, otherwise 200 with the bytes,
 * Content-Type, ETag, Cache-Control and, for HTML, a strict Content-Security-Policy. */
void static_serve(struct request *req, const struct asset *a);

/* The web UI: GET/HEAD of any path below "/". Serves the embedded file at the path ("/" is
 * index.html). A browser navigation (Accept: text/html) to an unknown path without a file
 * extension gets index.html, for client-side routing (the route table keeps the API's
 * prefixes away from this handler: handlers/routes.c); anything else unknown
 * (API clients, probes, missing files) gets a JSON 404. */
void h_static(struct request *req);

#endif
