/*
 * The task list served from each user's task rows held in the process: every filter, order
 * and page of GET /api/{user}/tasks without an SQL statement while the user's tasks are
 * unchanged, and after a change one statement that reloads them.
 *
 * A user's rows are one row set: every task's filter and sort values and its API JSON
 * (task_write_json's bytes), labelled with the user's task version (tasks_version) read
 * before the rows. A listing names the version it just read; the set serves it only when the
 * labels are equal, so it is never older than the database (on PostgreSQL the version comes
 * from the notifications, with their fallback to a read when the channel is down, as for the
 * response cache). Filters and orders are tasks.c's (task_row_matches, task_row_cmp: each
 * written next to its SQL), so a page from memory is byte for byte the page from SQL
 * (tests/unit/test_task_rows.c compares them on both backends).
 *
 * Bounds: a user with more than task_rows_user_max() tasks (TASK_ROWS_USER_MAX) is listed in
 * SQL (a marker remembers it per version), and the sets are charged to the budget the list
 * caches share (core/cachemem.h, LIST_CACHE_MIB; 0 turns this off).
 *
 * Threads: HTTP worker threads call tasks_list_json; a set is loaded by the thread that
 * missed, outside the cache's lock (no lock is held across the statement). Row sets are
 * reference counted (core/shared.h): the cache's slot holds one reference, each listing
 * that uses the set one more while it copies its page; a set is immutable once published,
 * but for its orders, each built on first use and published with a compare-and-swap.
 */
#ifndef TODO_TASK_ROWS_H
#define TODO_TASK_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/dynbuf.h"
#include "domain/tasks.h"
#include "store/store.h"

/* The most tasks a user's row set holds; users with more are listed in SQL. */
#define TASK_ROWS_USER_MAX 2000
/* Row sets held at most (one per slot, by the user id's hash). */
#define TASK_ROWS_SLOTS 256

/*
 * Appends one page of uid's tasks for f, as the JSON array the API returns, to out, and sets
 * *total to the number of tasks the filter matches. version is uid's task version read just
 * before (tasks_version), or -1 when unknown: then, and for a user over the bound, the page
 * comes from SQL (tasks_list). *from_memory (may be NULL) says which. ERR_OK, ERR_INVALID (a
 * filter out of its rules), ERR_NOMEM/ERR_TOOBIG (out's cap), or a store error.
 */
int tasks_list_json(struct store_conn *c, struct arena *a, const char *uid,
                    const struct task_filter *f, int64_t version, struct dynbuf *out,
                    int64_t *total, bool *from_memory);

/* Sets the per-user bound (tests; at most STORE_MAX_ROWS - 1). */
void task_rows_set_user_max(size_t n);
size_t task_rows_user_max(void);

/* Drops every row set (tests, shutdown). */
void task_rows_clear(void);

#endif
