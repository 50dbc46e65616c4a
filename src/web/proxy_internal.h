/*
 * Private to the web proxy: what proxy.c (the handler, the transfer's callbacks, the
 * answer) uses from proxy_headers.c (the upstream URL, the forwarded request headers, and
 * the upstream's response headers copied onto the answer). proxy_headers.c uses nothing
 * of proxy.c.
 */
#ifndef TODO_PROXY_INTERNAL_H
#define TODO_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/request.h"
#include "io/httpc.h"

struct MHD_Response;

/* The upstream URL: base (API_URL without a trailing slash) + the path + the query string,
 * re-encoded (libmicrohttpd hands both over decoded), in the request's arena. ERR_TOOBIG
 * over PROXY_MAX_URL; ERR_NOMEM. */
int proxy_build_url(struct request *req, const char *base, const char **out);

/* The forwarded request header lines ("Name: value", in the arena): the client's
 * end-to-end fields (Authorization and Cookie unchanged, never logged) plus X-Request-ID
 * and X-Forwarded-For/-Proto/-Host, and lines that stop libcurl from adding its own.
 * ERR_INVALID when the client sent more than PROXY_MAX_REQ_HEADERS fields; ERR_NOMEM. */
int proxy_build_headers(struct request *req, bool with_body, const char *const **out, size_t *n);

/* Copies the upstream's end-to-end response headers onto r. */
void proxy_copy_headers(struct request *req, const struct httpc_response *up,
                        struct MHD_Response *r);

/* The upstream's Content-Length, for a HEAD answer; false when absent or malformed. */
bool proxy_head_length(const struct httpc_response *up, uint64_t *out);

#endif
