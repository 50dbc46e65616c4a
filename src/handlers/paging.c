/* Pages of a list over HTTP (see paging.h). */
#include "handlers/paging.h"

#include <string.h>

#include <curl/curl.h>

#include "core/dynbuf.h"
#include "core/err.h"
#include "core/util.h"

#define LINK_MAX 2048 /* the request's other query arguments, escaped, in one link */

void query_int_arg(struct request *req, const char *name, int64_t min, int64_t max, int64_t *out,
                   struct verrors *errs)
{
    const char *v = req_query(req, name);
    if (v && parse_int64(v, min, max, out) != ERR_OK)
        verr_add(errs, "query", name, "Input should be an integer in range", "int_parsing");
}

void page_query(struct request *req, int64_t limit_default, int64_t limit_max, struct page *p,
                struct verrors *errs)
{
    p->limit = limit_default;
    p->offset = 0;
    query_int_arg(req, "limit", 1, limit_max, &p->limit, errs);
    query_int_arg(req, "offset", 0, PAGE_OFFSET_MAX, &p->offset, errs);
}

/* Appends "name=value&" (escaped) for every query argument but limit and offset. */
static bool link_arg(void *cls, const char *key, const char *value)
{
    struct dynbuf *d = cls;
    if (strcmp(key, "limit") == 0 || strcmp(key, "offset") == 0)
        return true;
    char *k = curl_easy_escape(NULL, key, 0);
    char *v = curl_easy_escape(NULL, value, 0);
    if (k && v) {
        dyn_add(d, k);
        dyn_addc(d, '=');
        dyn_add(d, v);
        dyn_addc(d, '&');
    } else {
        dyn_fail(d, ERR_NOMEM);
    }
    curl_free(k);
    curl_free(v);
    return !dyn_err(d);
}

/* Appends one RFC 8288 link to the list's page at offset. */
static void page_link(struct dynbuf *d, struct request *req, const char *query, int64_t limit,
                      int64_t offset, const char *rel)
{
    if (dyn_len(d))
        dyn_add(d, ", ");
    dyn_addc(d, '<');
    dyn_add(d, req->path);
    dyn_addc(d, '?');
    dyn_add(d, query);
    dyn_add(d, "limit=");
    dyn_add_int(d, limit);
    dyn_add(d, "&offset=");
    dyn_add_int(d, offset);
    dyn_add(d, ">; rel=\"");
    dyn_add(d, rel);
    dyn_addc(d, '"');
}

void page_headers(struct request *req, const struct page *p, int64_t total)
{
    struct dynbuf count;
    dyn_init_arena(&count, req->arena, 24);
    dyn_add_int(&count, total);
    if (!dyn_err(&count))
        resp_header(req, "X-Total-Count", dyn_str(&count));
    bool next = p->offset + p->limit<total, prev = p->offset> 0;
    if (!next && !prev)
        return;
    struct dynbuf query, link;
    dyn_init_arena(&query, req->arena, LINK_MAX);
    req_query_each(req, link_arg, &query);
    dyn_init_arena(&link, req->arena, 2 * LINK_MAX + 256);
    if (next)
        page_link(&link, req, dyn_str(&query), p->limit, p->offset + p->limit, "next");
    if (prev)
        page_link(&link, req, dyn_str(&query), p->limit,
                  p->offset > p->limit ? p->offset - p->limit : 0, "prev");
    if (!dyn_err(&query) && !dyn_err(&link))
        resp_header(req, "Link", dyn_str(&link));
}
