/*
 * The task list served from each user's task rows held in the process: every filter, order
 * and page of GET /api/{user}/tasks without an SQL statement while the user's tasks are
 * unchanged, and after a change one statement that reloads them.
 *
 * A user's rows are one row set: every task's filter and sort values and its API JSON
 * (task_write_json's bytes), labelled with the user's task version they are exactly (read in
 * the same statement as the rows). A listing names the version it just read (tasks_version);
 * the set serves it only when its label is that version or a later one (a write derived the
 * next set between the listing's read and its lookup), so it is never older than the database
 * (on PostgreSQL the version comes from the notifications, with their fallback to a read when
 * the channel is down, as for the response cache). A write through this process derives the
 * next version's set from the one before it (task_rows_written: the rows it wrote replace
 * theirs, no statement), since a version step is exactly one transaction's changes; a write
 * through another replica makes the next listing reload. Filters and orders are tasks.c's
 * (task_row_matches, task_row_cmp: each written next to its SQL), so a page from memory is byte for
 * byte the page from SQL (tests/unit/test_task_rows.c compares them on both backends).
 *
 * Bounds: a user with more tasks than the bound is held as a head: the first tasks (at most
 * TASK_ROWS_HEAD_MAX, and the bound) in the default order (newest first), with the user's task
 * count (users.task_count, read in the same statement). A head serves only that order's pages
 * without a filter that lie within it (the list an app opens on, and the one a write changes);
 * every other listing of that user goes to SQL. A write derives the next head as it derives a set:
 * the rows it wrote go in where they sort among the head's (a row that sorts behind the head stays
 * out), the total moves by what it created and deleted. The bound is task_rows_user_max()
 * (TASK_ROWS_USER_MAX) and at most 1/TASK_ROWS_BUDGET_SHARE of the budget at TASK_ROWS_TASK_BYTES a
 * task (1,024 tasks with the default 8 MiB), so one set and one load's memory scale with the
 * budget; the sets are charged to the budget the list caches share (core/cachemem.h,
 * LIST_CACHE_MIB; 0 turns this off).
 *
 * Memory while loading: the statement's rows and their tasks are in the request's arena
 * (about 0.7 KB a task on SQLite, less on PostgreSQL, freed with the request); each row's
 * scratch (its JSON, its tags parsed) is in an arena of its own renewed every 64 KiB, so it
 * does not grow with the user. A load raises the peak by about 1.3 KB a task in all, the
 * set it keeps included (tests/unit/test_task_rows.c holds it to less than 1 KB a task of
 * transient beyond the set).
 *
 * Threads: HTTP worker threads call tasks_list_json, and the writing thread calls
 * task_rows_written after its commit; a set is loaded by the thread that missed, outside the
 * cache's lock (no lock is held across the statement), and only one load runs at a time in
 * the process: a worker that misses while another loads lists in SQL at once (metric
 * result "busy") instead of waiting or loading the same rows again. A write's derivation
 * copies the set's row pointers and each order built (O(n) pointer copies, no row rebuilt
 * and no row walked for its size). Row sets and their rows are reference
 * counted (core/shared.h): the cache's slot holds one reference to a set, each listing or
 * derivation using it one more; each set holding a row one to the row (a derived set shares
 * the unchanged rows). A set is immutable once published but for its orders, each built on
 * first use (or carried over by a derivation) and published with a compare-and-swap.
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

/* The most tasks a user's row set holds; users with more are held as a head. */
#define TASK_ROWS_USER_MAX 5000
/* The most tasks a head holds: the first pages of the default order (five of 50, more than
 * one at the 200-task limit). A write's derivation copies the head (a reference a row), so
 * it is kept short. */
#define TASK_ROWS_HEAD_MAX 256
/* What a task costs held and loading, for the bound below: its row (about 0.6 KB measured,
 * with its places in the orders) and the statement's copy while loading (about 0.7 KB). A
 * set is bounded to 1/TASK_ROWS_BUDGET_SHARE of the budget at this rate too, so that one set,
 * and one load's memory, scale with LIST_CACHE_MIB: 1,024 tasks with the default 8 MiB (a
 * load then raises the peak by about 1.3 MB: make bench's peak stays under 20 MB). */
#define TASK_ROWS_TASK_BYTES   1024
#define TASK_ROWS_BUDGET_SHARE 8
/* Row sets held at most (one per slot, by the user id's hash). */
#define TASK_ROWS_SLOTS 256

/*
 * Appends one page of uid's tasks for f, as the JSON array the API returns, to out, and sets
 * *total to the number of tasks the filter matches. version is uid's task version read just
 * before (tasks_version), or -1 when unknown: then, and for a user over the bound, the page
 * comes from SQL (tasks_list), as does a page a user's head does not hold. *from_memory (may
 * be NULL) says which. ERR_OK, ERR_INVALID (a
 * filter out of its rules), ERR_NOMEM/ERR_TOOBIG (out's cap), or a store error.
 */
int tasks_list_json(struct store_conn *c, struct arena *a, const char *uid,
                    const struct task_filter *f, int64_t version, struct dynbuf *out,
                    int64_t *total, bool *from_memory);

/* Inside a write's transaction, once it has taken uid's tasks to version (bump_version):
 * until task_rows_written reports it, a listing that reads version waits (briefly) for the
 * rows this write will derive rather than loading them. A write that is its own transaction
 * (one statement) calls it before the statement with TASK_ROWS_VERSION_UNKNOWN, so that a
 * listing which learns the new version before the statement's answer waits too, and again
 * with its version once it knows it. */
#define TASK_ROWS_VERSION_UNKNOWN (-1)
void task_rows_writing(const char *uid, int64_t version);

/* After the write that took uid's tasks to version ended: committed (ok) with the tasks it
 * wrote (as read back in its transaction: at most two, a task and its next occurrence), of
 * which the last created are new tasks, and the id it deleted (0: none), or not (ok false: rolled
 * back, or it changed rows it cannot name). When this process holds uid's rows at version - 1, the
 * rows at version are derived from them (a write reported before its predecessor waits for it);
 * otherwise nothing happens (the next listing reloads). Every task_rows_writing must be followed by
 * this (version 0 when the write took none: it ends one announced with
 * TASK_ROWS_VERSION_UNKNOWN). Scratch in a. */
void task_rows_written(const char *uid, int64_t version, bool ok, const struct task *changed,
                       size_t n, size_t created, int64_t deleted, struct arena *a);

/* How many row sets were loaded (a statement each) and derived from a write (tests). */
void task_rows_counts(size_t *loads, size_t *derived);

/* Sets the per-user bound (tests; at most STORE_MAX_ROWS - 1). */
void task_rows_set_user_max(size_t n);
size_t task_rows_user_max(void);
/* Sets the most tasks a head holds (tests). */
void task_rows_set_head_max(size_t n);

/* Drops every row set (tests, shutdown). */
void task_rows_clear(void);

#endif
