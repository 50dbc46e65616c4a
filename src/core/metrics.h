/*
 * Process metrics in Prometheus's text format: one declared table (metrics.c) names every
 * metric once — its name, type, help, label names and, for histograms, bucket bounds — and
 * any layer counts into it by enum id. A metric's series (one per set of label values) live in
 * one fixed table shared by every thread: counting is a hash, a probe and an atomic add (no
 * lock), and a series is created once, the first time its label values are seen.
 *
 * New metric: one enum value here and one row in metrics.c's table (a unit test checks that
 * every id has its row). Label values are copied (escaped at render time); at most
 * METRICS_MAX_SERIES series exist in all, after which new label sets are counted under one
 * overflow series per metric (so a flood of odd values cannot grow memory).
 *
 * Threads: every function may be called from any thread at any time, before or after
 * metrics_render. Memory: nothing to free; metrics_render writes into the caller's builder.
 */
#ifndef TODO_METRICS_H
#define TODO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dynbuf.h"

#define METRICS_MAX_SERIES  2048
#define METRICS_MAX_LABELS  4
#define METRICS_LABELS_MAX  256 /* bytes of a series' joined label values */
#define METRICS_MAX_BUCKETS 16

/* Every metric of the process. The table in metrics.c says what each is. */
enum metric {
    METRIC_HTTP_REQUESTS,        /* counter {route, method, status} */
    METRIC_HTTP_DURATION,        /* histogram seconds {route} */
    METRIC_DB_POOL_IN_USE,       /* gauge: PostgreSQL connections checked out */
    METRIC_DB_POOL_OPEN,         /* gauge: PostgreSQL connections open */
    METRIC_DB_POOL_WAITS,        /* counter: checkouts that had to wait for a connection */
    METRIC_DB_POOL_WAIT_SECONDS, /* histogram: how long those waited */
    METRIC_DB_POOL_TIMEOUTS,     /* counter: checkouts that gave up (503) */
    METRIC_LIST_CACHE,           /* counter {result: hit|miss} */
    METRIC_TASK_ROWS,            /* counter {result: hit|load|derived|sql|busy} */
    METRIC_LLM_CALLS,            /* counter {provider, outcome} */
    METRIC_LLM_TOKENS,           /* counter {provider, kind: prompt|completion} */
    METRIC_LLM_DURATION,         /* histogram seconds {provider} */
    METRIC_MCP_CALLS,            /* counter {tool, outcome: ok|error} */
    METRIC_REMINDERS_SENT,       /* counter {channel} */
    METRIC_EMAILS_QUEUED,        /* counter {kind} */
    METRIC_EMAILS_FAILED,        /* counter {kind} */
    METRIC_EMAILS_SENT,          /* counter {kind} */
    METRIC_UPLOADS,              /* counter {outcome} */
    METRIC_UPLOAD_BYTES,         /* counter: bytes stored */
    METRIC__COUNT
};

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* One row of the table. */
struct metric_def {
    enum metric id;
    const char *name; /* Prometheus name, e.g. todo_http_requests_total */
    enum metric_type type;
    const char *help;
    const char *labels[METRICS_MAX_LABELS]; /* label names, NULL-terminated (or all NULL) */
    const double *buckets;                  /* histograms: upper bounds, ascending */
    size_t n_buckets;
};

extern const struct metric_def metric_defs[METRIC__COUNT];

/* Adds v (≥ 0 for counters) to the series of m with the given label values (as many as m's
 * label names; NULL when it has none; a NULL value counts as ""). */
void metric_add(enum metric m, const char *const *labels, double v);

/* Sets a gauge's series to v. */
void metric_set(enum metric m, const char *const *labels, double v);

/* Records one observation v in a histogram's series. */
void metric_observe(enum metric m, const char *const *labels, double v);

/* Convenience: metric_add(m, {labels…}, 1). */
#define METRIC_INC(m, ...) metric_add((m), (const char *const[]){__VA_ARGS__, NULL}, 1.0)

/* Appends every metric in the text exposition format (version 0.0.4) to out. Returns
 * dyn_err(out). */
int metrics_render(struct dynbuf *out);

/* Forgets every series (tests). Not safe while other threads count. */
void metrics_reset(void);

#endif
