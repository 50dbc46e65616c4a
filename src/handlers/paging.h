/*
 * Pages of a list over HTTP, the same on every paged route (tasks, conversations): ?limit= and
 * ?offset= read one way, and the page envelope — X-Total-Count, and an RFC 8288 Link header
 * to the next and previous pages that keeps the request's other query arguments.
 */
#ifndef TODO_HANDLERS_PAGING_H
#define TODO_HANDLERS_PAGING_H

#include <stdint.h>

#include "core/verror.h"
#include "http/request.h"

#define PAGE_OFFSET_MAX 1000000000LL /* the largest ?offset= a route accepts by default */

/* One page of a list: how many items at most, after how many. */
struct page {
    int64_t limit;
    int64_t offset;
};

/* Reads an integer query argument within [min, max] into *out (left alone when absent);
 * records a problem in errs when it is not one. */
void query_int_arg(struct request *req, const char *name, int64_t min, int64_t max, int64_t *out,
                   struct verrors *errs);

/* Reads ?limit= (1..limit_max, limit_default when absent) and ?offset= (0..PAGE_OFFSET_MAX, 0
 * when absent) into p; records problems in errs (the caller answers 422). */
void page_query(struct request *req, int64_t limit_default, int64_t limit_max, struct page *p,
                struct verrors *errs);

/* Sets the page envelope of a list of total items seen through p: X-Total-Count always, Link
 * with rel="next" and/or rel="prev" when there are such pages. A query too long for the
 * link's bound gets no Link header (a link that dropped a filter would name another list). */
void page_headers(struct request *req, const struct page *p, int64_t total);

#endif
