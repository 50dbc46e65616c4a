/*
 * The metrics table and its series (see metrics.h). A series is a slot of one open-addressed
 * table, claimed with a compare-and-swap and published once its key is written, so counting
 * never takes a lock; values are doubles kept as atomic 64-bit patterns (a CAS loop adds).
 */
#include "core/metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "core/util.h"

/* Request latencies: 1 ms to 10 s. */
static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};
/* Slower things (an LLM answer, a pool wait): 10 ms to 2 min. */
static const double slow_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

#define B(x) x, ARRAY_LEN(x)

/* clang-format off */
const struct metric_def metric_defs[METRIC__COUNT] = {
    {METRIC_HTTP_REQUESTS, "todo_http_requests_total", METRIC_COUNTER,
     "HTTP requests answered, by route template, method and status",
     {"route", "method", "status"}, NULL, 0},
    {METRIC_HTTP_DURATION, "todo_http_request_duration_seconds", METRIC_HISTOGRAM,
     "Time from a request's head to its answer, by route template",
     {"route"}, B(latency_buckets)},
    {METRIC_DB_POOL_IN_USE, "todo_db_pool_connections_in_use", METRIC_GAUGE,
     "PostgreSQL connections checked out by requests", {NULL}, NULL, 0},
    {METRIC_DB_POOL_OPEN, "todo_db_pool_connections_open", METRIC_GAUGE,
     "PostgreSQL connections open (idle and in use)", {NULL}, NULL, 0},
    {METRIC_DB_POOL_WAITS, "todo_db_pool_waits_total", METRIC_COUNTER,
     "Connection checkouts that waited because the pool was exhausted", {NULL}, NULL, 0},
    {METRIC_DB_POOL_WAIT_SECONDS, "todo_db_pool_wait_seconds", METRIC_HISTOGRAM,
     "How long checkouts that waited for a connection waited", {NULL}, B(slow_buckets)},
    {METRIC_DB_POOL_TIMEOUTS, "todo_db_pool_timeouts_total", METRIC_COUNTER,
     "Connection checkouts that gave up (the request got 503)", {NULL}, NULL, 0},
    {METRIC_LIST_CACHE, "todo_list_cache_total", METRIC_COUNTER,
     "Task list responses served from the validated cache (hit) or built (miss)",
     {"result"}, NULL, 0},
    {METRIC_TASK_ROWS, "todo_task_rows_total", METRIC_COUNTER,
     "Task list pages built from the user's rows held in memory (hit) or in SQL (sql: a user "
     "over the bound, or no version; busy: another load was running); row sets loaded in one "
     "statement (load) or derived from a write (derived)",
     {"result"}, NULL, 0},
    {METRIC_LLM_CALLS, "todo_llm_calls_total", METRIC_COUNTER,
     "Calls to an LLM provider, by provider and outcome (its HTTP status, or no_answer)", {"provider", "outcome"}, NULL, 0},
    {METRIC_LLM_TOKENS, "todo_llm_tokens_total", METRIC_COUNTER,
     "Tokens an LLM provider reported, by provider and kind (prompt, completion)",
     {"provider", "kind"}, NULL, 0},
    {METRIC_LLM_DURATION, "todo_llm_call_duration_seconds", METRIC_HISTOGRAM,
     "Duration of LLM calls, by provider", {"provider"}, B(slow_buckets)},
    {METRIC_MCP_CALLS, "todo_mcp_tool_calls_total", METRIC_COUNTER,
     "MCP tools/call requests, by tool and outcome (ok, error)", {"tool", "outcome"}, NULL, 0},
    {METRIC_REMINDERS_SENT, "todo_reminders_sent_total", METRIC_COUNTER,
     "Reminders delivered, by channel", {"channel"}, NULL, 0},
    {METRIC_EMAILS_QUEUED, "todo_emails_queued_total", METRIC_COUNTER,
     "Emails put on the outgoing queue, by kind", {"kind"}, NULL, 0},
    {METRIC_EMAILS_FAILED, "todo_emails_failed_total", METRIC_COUNTER,
     "Emails given up on after their retries, by kind", {"kind"}, NULL, 0},
    {METRIC_EMAILS_SENT, "todo_emails_sent_total", METRIC_COUNTER,
     "Emails handed to the provider, by kind", {"kind"}, NULL, 0},
    {METRIC_UPLOADS, "todo_uploads_total", METRIC_COUNTER,
     "Attachment uploads, by outcome (stored, or why refused)", {"outcome"}, NULL, 0},
    {METRIC_UPLOAD_BYTES, "todo_upload_bytes_total", METRIC_COUNTER,
     "Bytes of attachments stored", {NULL}, NULL, 0},
};
/* clang-format on */

enum { SLOT_EMPTY = 0, SLOT_WRITING, SLOT_READY };

struct series {
    atomic_uint state;
    unsigned metric;
    uint64_t hash;
    char labels[METRICS_LABELS_MAX]; /* values joined by '\x1f' */
    atomic_uint_least64_t value;     /* double bits: the counter, gauge, or histogram sum */
    atomic_uint_least64_t count;     /* histograms: observations */
    atomic_uint_least64_t buckets[METRICS_MAX_BUCKETS];
};

static struct series table[METRICS_MAX_SERIES];
/* Label sets that found no room: counted together, per metric. */
static struct series overflow[METRIC__COUNT];

#define SEP '\x1f'

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    return b;
}

static double double_of(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static void atomic_add_double(atomic_uint_least64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, bits_of(double_of(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Joins the label values into key (bounded: a value that does not fit is cut). */
static size_t join_labels(enum metric m, const char *const *labels, char key[METRICS_LABELS_MAX])
{
    size_t n = 0;
    for (size_t i = 0; i < METRICS_MAX_LABELS && metric_defs[m].labels[i]; i++) {
        const char *v = labels && labels[i] ? labels[i] : "";
        if (i && n < METRICS_LABELS_MAX - 1)
            key[n++] = SEP;
        for (; *v && n < METRICS_LABELS_MAX - 1; v++)
            key[n++] = *v == SEP ? ' ' : *v;
    }
    key[n] = '\0';
    return n;
}

/* FNV-1a over the metric id and the key. */
static uint64_t hash_key(enum metric m, const char *key, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)m;
    h *= 1099511628211ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The series of m with these label values: found, or claimed and published. */
static struct series *series_for(enum metric m, const char *const *labels)
{
    if ((unsigned)m >= METRIC__COUNT)
        return NULL;
    char key[METRICS_LABELS_MAX];
    size_t n = join_labels(m, labels, key);
    uint64_t h = hash_key(m, key, n);
    size_t start = (size_t)(h % METRICS_MAX_SERIES);
    for (size_t probe = 0; probe < METRICS_MAX_SERIES; probe++) {
        struct series *s = &table[(start + probe) % METRICS_MAX_SERIES];
        unsigned st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == SLOT_EMPTY) {
            unsigned expect = SLOT_EMPTY;
            if (atomic_compare_exchange_strong_explicit(
                    &s->state, &expect, SLOT_WRITING, memory_order_acq_rel, memory_order_acquire)) {
                s->metric = (unsigned)m;
                s->hash = h;
                memcpy(s->labels, key, n + 1);
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
                return s;
            }
            st = expect;
        }
        /* Another thread is writing this slot's key: wait for it (a few stores). */
        for (unsigned spin = 0; st == SLOT_WRITING && spin < 1000000; spin++)
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == SLOT_READY && s->hash == h && s->metric == (unsigned)m &&
            strcmp(s->labels, key) == 0)
            return s;
    }
    return &overflow[m];
}

void metric_add(enum metric m, const char *const *labels, double v)
{
    struct series *s = series_for(m, labels);
    if (s)
        atomic_add_double(&s->value, v);
}

void metric_set(enum metric m, const char *const *labels, double v)
{
    struct series *s = series_for(m, labels);
    if (s)
        atomic_store_explicit(&s->value, bits_of(v), memory_order_relaxed);
}

void metric_observe(enum metric m, const char *const *labels, double v)
{
    struct series *s = series_for(m, labels);
    if (!s)
        return;
    const struct metric_def *d = &metric_defs[m];
    for (size_t i = 0; i < d->n_buckets && i < METRICS_MAX_BUCKETS; i++)
        if (v <= d->buckets[i]) {
            atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_add_double(&s->value, v);
}

/* Appends a label value escaped as the exposition format asks (\\, \", \n). */
static void add_escaped(struct dynbuf *out, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\')
            dyn_add(out, "\\\\");
        else if (v[i] == '"')
            dyn_add(out, "\\\"");
        else if (v[i] == '\n')
            dyn_add(out, "\\n");
        else
            dyn_addc(out, v[i]);
    }
}

/* Appends {a="x",b="y"[,le="…"]} (nothing when there are no labels at all). */
static void add_labels(struct dynbuf *out, const struct metric_def *d, const char *key, bool over,
                       const char *le)
{
    if (!d->labels[0] && !le)
        return;
    dyn_addc(out, '{');
    const char *p = key;
    size_t i = 0;
    for (; i < METRICS_MAX_LABELS && d->labels[i]; i++) {
        const char *end = strchr(p, SEP);
        size_t n = end ? (size_t)(end - p) : strlen(p);
        dyn_addf(out, "%s%s=\"", i ? "," : "", d->labels[i]);
        if (over)
            dyn_add(out, "_other");
        else
            add_escaped(out, p, n);
        dyn_addc(out, '"');
        p = end ? end + 1 : p + n;
    }
    if (le)
        dyn_addf(out, "%sle=\"%s\"", i ? "," : "", le);
    dyn_addc(out, '}');
}

static void add_number(struct dynbuf *out, double v)
{
    if (v == (double)(int64_t)v && v < 9e15 && v > -9e15)
        dyn_add_int(out, (int64_t)v);
    else
        dyn_addf(out, "%.9g", v);
}

static void render_series(struct dynbuf *out, const struct metric_def *d, const struct series *s,
                          bool over)
{
    double value = double_of(atomic_load_explicit(&s->value, memory_order_relaxed));
    if (d->type != METRIC_HISTOGRAM) {
        dyn_add(out, d->name);
        add_labels(out, d, s->labels, over, NULL);
        dyn_addc(out, ' ');
        add_number(out, value);
        dyn_addc(out, '\n');
        return;
    }
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i < d->n_buckets && i < METRICS_MAX_BUCKETS; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        struct dynbuf l;
        dyn_init_fixed(&l, le, sizeof(le));
        dyn_addf(&l, "%g", d->buckets[i]);
        dyn_addf(out, "%s_bucket", d->name);
        add_labels(out, d, s->labels, over, le);
        dyn_addc(out, ' ');
        dyn_add_int(out, (int64_t)cum);
        dyn_addc(out, '\n');
    }
    uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
    dyn_addf(out, "%s_bucket", d->name);
    add_labels(out, d, s->labels, over, "+Inf");
    dyn_addc(out, ' ');
    dyn_add_int(out, (int64_t)count);
    dyn_addf(out, "\n%s_sum", d->name);
    add_labels(out, d, s->labels, over, NULL);
    dyn_addc(out, ' ');
    add_number(out, value);
    dyn_addf(out, "\n%s_count", d->name);
    add_labels(out, d, s->labels, over, NULL);
    dyn_addc(out, ' ');
    dyn_add_int(out, (int64_t)count);
    dyn_addc(out, '\n');
}

int metrics_render(struct dynbuf *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    for (size_t m = 0; m < METRIC__COUNT; m++) {
        const struct metric_def *d = &metric_defs[m];
        dyn_addf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, types[d->type]);
        bool any = false;
        for (size_t i = 0; i < METRICS_MAX_SERIES; i++) {
            const struct series *s = &table[i];
            if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_READY ||
                s->metric != m)
                continue;
            render_series(out, d, s, false);
            any = true;
        }
        if (atomic_load_explicit(&overflow[m].count, memory_order_relaxed) ||
            atomic_load_explicit(&overflow[m].value, memory_order_relaxed))
            render_series(out, d, &overflow[m], true);
        /* A metric with no labels shows its zero from the start (rate() needs a first point). */
        else if (!any && !d->labels[0]) {
            static const struct series zero;
            render_series(out, d, &zero, false);
        }
    }
    return dyn_err(out);
}

void metrics_reset(void)
{
    memset(table, 0, sizeof(table));
    memset(overflow, 0, sizeof(overflow));
}
