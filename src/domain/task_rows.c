/*
 * Each user's task rows held in the process, and the task list served from them (see
 * task_rows.h): loading a set, its lazily built orders, the slots with their budget, and the
 * page.
 */
#include "domain/task_rows.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cachemem.h"
#include "core/err.h"
#include "core/metrics.h"
#include "core/shared.h"
#include "core/text.h"
#include "core/util.h"

#define NSORTS (SORT_PRIORITY + 1)

/* A user's rows at one version (shared: the slot holding it has one reference, each listing
 * or derivation using it one). Each row is a block of its own (shared: every set holding it
 * has a reference), so a set derived after a write shares the unchanged rows. Immutable once
 * published but for order[][], each set once (CAS). */
struct task_rows {
    char uid[64];
    int64_t version;
    /* A head: the rows are the user's first n tasks in the default order (newest first),
     * rows[] in that order, of total; it serves only that order's pages within them. */
    bool head;
    int64_t total; /* the user's tasks: n unless a head */
    size_t n;
    struct task_row **rows;                       /* malloc'ed */
    _Atomic(struct task_row **) order[NSORTS][2]; /* malloc'ed, by sort and direction */
    size_t bytes;                                 /* what the set holds */
    size_t charged;                               /* bytes counted in cachemem (under mu) */
};

static struct task_rows *slots[TASK_ROWS_SLOTS]; /* under mu */
static size_t hand;                              /* the next slot to evict (under mu) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic size_t user_max = TASK_ROWS_USER_MAX;
static _Atomic size_t loads, derived;

void task_rows_set_user_max(size_t n)
{
    atomic_store(&user_max, n < STORE_MAX_ROWS ? n : STORE_MAX_ROWS - 1);
}

size_t task_rows_user_max(void)
{
    return atomic_load(&user_max);
}

void task_rows_counts(size_t *n_loads, size_t *n_derived)
{
    *n_loads = atomic_load(&loads);
    *n_derived = atomic_load(&derived);
}

/* The most tasks a set holds: the per-user bound, and no more than fits in the budget's
 * TASK_ROWS_BUDGET_SHARE at TASK_ROWS_TASK_BYTES a task (task_rows.h). */
static size_t rows_bound(void)
{
    size_t by_budget = cachemem_limit() / TASK_ROWS_BUDGET_SHARE / TASK_ROWS_TASK_BYTES;
    size_t max = task_rows_user_max();
    return max < by_budget ? max : by_budget;
}

static void rows_dispose(void *obj)
{
    struct task_rows *s = obj;
    for (size_t k = 0; k < NSORTS; k++)
        for (size_t d = 0; d < 2; d++)
            free(atomic_load(&s->order[k][d]));
    for (size_t i = 0; s->rows && i < s->n; i++)
        shared_unref(s->rows[i]);
    free(s->rows);
}

/* An empty set for uid at version (one reference, the caller's) with room for cap rows. */
static struct task_rows *rows_new(const char *uid, int64_t version, size_t cap)
{
    if (strlen(uid) >= sizeof(((struct task_rows *)0)->uid))
        return NULL;
    struct task_rows *s = shared_new(sizeof(*s), rows_dispose);
    if (!s)
        return NULL;
    memcpy(s->uid, uid, strlen(uid) + 1);
    s->version = version;
    if (!(s->rows = malloc((cap ? cap : 1) * sizeof(*s->rows)))) {
        shared_unref(s);
        return NULL;
    }
    return s;
}

/* The bytes a set counts against the budget: its rows and its orders once built. */
static size_t rows_bytes(const struct task_rows *s)
{
    size_t b = sizeof(*s) + (1 + NSORTS * 2) * s->n * sizeof(struct task_row *);
    for (size_t i = 0; i < s->n; i++)
        b += s->rows[i]->mem;
    return b;
}

/* --- one row --- */

/* Copies s into the block at *p and returns the copy. */
static const char *put_text(char **p, const char *s, size_t len)
{
    char *out = *p;
    memcpy(out, s, len);
    out[len] = '\0';
    *p += len + 1;
    return out;
}

/* A row block for t, whose search_text is search (one reference, the caller's); scratch in a.
 * NULL when out of memory or when a cell breaks the model. */
static struct task_row *row_new(const struct task *t, const char *search, struct arena *a)
{
    struct dynbuf d;
    dyn_init_arena(&d, a, ARENA_MAX_BYTES);
    task_write_json(&d, t);
    if (dyn_err(&d))
        return NULL;
    const char *tags[TASK_MAX_TAGS];
    size_t ntags = 0, tag_bytes = 0;
    if (t->tags.json) {
        yyjson_alc alc;
        arena_yyjson_alc(a, &alc);
        yyjson_doc *doc =
            yyjson_read_opts((char *)t->tags.json, strlen(t->tags.json), 0, &alc, NULL);
        yyjson_val *arr = doc ? yyjson_doc_get_root(doc) : NULL;
        if (!yyjson_is_arr(arr) || yyjson_arr_size(arr) > TASK_MAX_TAGS)
            return NULL;
        size_t i, max;
        yyjson_val *v;
        yyjson_arr_foreach(arr, i, max, v)
        {
            const char *folded = yyjson_is_str(v) ? text_fold(a, yyjson_get_str(v)) : NULL;
            if (!folded)
                return NULL;
            tags[ntags++] = folded;
            tag_bytes += strlen(folded) + 1;
        }
    }
    const char *title = t->title ? t->title : "";
    size_t json_len = dyn_len(&d), search_len = strlen(search), title_len = strlen(title);
    size_t mem = sizeof(struct task_row) + ntags * sizeof(char *) + json_len + 1 + search_len + 1 +
                 title_len + 1 + tag_bytes;
    struct task_row *r = shared_new(mem, NULL);
    if (!r)
        return NULL;
    const char **tag_ptrs = (const char **)(r + 1);
    char *p = (char *)(tag_ptrs + ntags);
    *r = (struct task_row){.id = t->id,
                           .created_at = t->created_at,
                           .updated_at = t->updated_at,
                           .due_at = t->due_at,
                           .priority = t->priority,
                           .completed = t->completed,
                           .tags = tag_ptrs,
                           .ntags = ntags,
                           .json_len = json_len,
                           .mem = mem};
    r->json = put_text(&p, dyn_str(&d), json_len);
    r->search = put_text(&p, search, search_len);
    char *lower = p;
    r->title_lower = put_text(&p, title, title_len);
    for (; *lower; lower++) /* ASCII letters only, as SQLite's lower() and PostgreSQL's in "C" */
        if (*lower >= 'A' && *lower <= 'Z')
            *lower = (char)(*lower + 32);
    for (size_t i = 0; i < ntags; i++)
        tag_ptrs[i] = put_text(&p, tags[i], strlen(tags[i]));
    return r;
}

/* --- orders --- */

struct order_ctx {
    enum task_sort sort;
    bool desc;
};

static int order_cmp(const void *x, const void *y, void *ctx)
{
    const struct order_ctx *o = ctx;
    return task_row_cmp(*(struct task_row *const *)x, *(struct task_row *const *)y, o->sort,
                        o->desc);
}

/* Publishes o as s's order unless another thread did first; returns the one published. */
static struct task_row **order_publish(struct task_rows *s, enum task_sort sort, bool desc,
                                       struct task_row **o)
{
    struct task_row **expected = NULL;
    if (!atomic_compare_exchange_strong(&s->order[sort][desc], &expected, o)) {
        free(o);
        return expected;
    }
    return o;
}

/* The set's rows in the listing's order (built on first use, then shared); NULL when out of
 * memory. */
static struct task_row *const *rows_order(struct task_rows *s, enum task_sort sort, bool desc)
{
    struct task_row **o = atomic_load(&s->order[sort][desc]);
    if (o)
        return o;
    o = malloc((s->n ? s->n : 1) * sizeof(*o));
    if (!o)
        return NULL;
    memcpy(o, s->rows, s->n * sizeof(*o));
    struct order_ctx ctx = {sort, desc};
    qsort_r(o, s->n, sizeof(*o), order_cmp, &ctx);
    return order_publish(s, sort, desc, o);
}

/* --- deriving the rows after a write --- */

/* One committed write, ready to apply: the rows it wrote, built, and the ids it replaced or
 * removed. A write whose predecessor has not been applied yet waits in its slot (pending):
 * writes commit in version order, but their threads report them in any order. */
struct rows_write {
    char uid[64];
    int64_t version; /* 0: an empty entry */
    struct task_row *fresh[2];
    size_t nf;
    int64_t ids[3]; /* written or deleted */
    size_t nids;
    int64_t created, deleted; /* tasks the write added and removed (a head's total) */
};

#define PENDING_MAX 8
static struct rows_write pending[TASK_ROWS_SLOTS][PENDING_MAX]; /* under mu */

static void write_clear(struct rows_write *w)
{
    for (size_t i = 0; i < w->nf; i++)
        shared_unref(w->fresh[i]);
    memset(w, 0, sizeof(*w));
}

static bool write_touches(const struct rows_write *w, int64_t id)
{
    for (size_t i = 0; i < w->nids; i++)
        if (w->ids[i] == id)
            return true;
    return false;
}

/* Where r goes among rows[0..n), sorted by sort/desc: the first place whose row does not sort
 * before it. */
static size_t sorted_place(struct task_row *const *rows, size_t n, const struct task_row *r,
                           enum task_sort sort, bool desc)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (task_row_cmp(rows[mid], r, sort, desc) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* old's rows with w applied (one reference, the caller's), labelled w's version; NULL when it
 * cannot be made (out of memory, or the user would pass the bound). */
static struct task_rows *rows_derive(struct task_rows *old, const struct rows_write *w)
{
    if (old->n + w->nf > rows_bound())
        return NULL;
    struct task_rows *s = rows_new(old->uid, w->version, old->n + w->nf);
    if (!s)
        return NULL;
    size_t row_mem =
        old->bytes - sizeof(*old) - (1 + NSORTS * 2) * old->n * sizeof(struct task_row *);
    for (size_t i = 0; i < old->n; i++) {
        if (!write_touches(w, old->rows[i]->id))
            s->rows[s->n++] = shared_ref(old->rows[i]);
        else
            row_mem -= old->rows[i]->mem;
    }
    for (size_t i = 0; i < w->nf; i++) {
        s->rows[s->n++] = shared_ref(w->fresh[i]);
        row_mem += w->fresh[i]->mem;
    }
    s->total = (int64_t)s->n;
    /* The orders already built: the old order without the written rows, the new rows
     * inserted where they sort. */
    for (size_t k = 0; k < NSORTS; k++)
        for (size_t d = 0; d < 2; d++) {
            struct task_row **oo = atomic_load(&old->order[k][d]);
            struct task_row **no = oo ? malloc((s->n ? s->n : 1) * sizeof(*no)) : NULL;
            if (!no)
                continue;
            size_t m = 0;
            for (size_t i = 0; i < old->n; i++)
                if (!write_touches(w, oo[i]->id))
                    no[m++] = oo[i];
            for (size_t f = 0; f < w->nf; f++) {
                size_t lo = sorted_place(no, m, w->fresh[f], (enum task_sort)k, d);
                memmove(&no[lo + 1], &no[lo], (m - lo) * sizeof(*no));
                no[lo] = w->fresh[f];
                m++;
            }
            atomic_store(&s->order[k][d], no);
        }
    /* rows_bytes(s) without walking the rows again */
    s->bytes = sizeof(*s) + (1 + NSORTS * 2) * s->n * sizeof(struct task_row *) + row_mem;
    return s;
}

/* The most rows a head keeps (task_rows.h). */
static _Atomic size_t head_max = TASK_ROWS_HEAD_MAX;

void task_rows_set_head_max(size_t n)
{
    atomic_store(&head_max, n);
}

static size_t head_bound(void)
{
    size_t b = rows_bound(), h = atomic_load(&head_max);
    return b < h ? b : h;
}

/* Makes s a head of total tasks: its rows sorted into the default order (unless sorted
 * already), cut to head_bound(), and published as that order (a copy). */
static int head_order(struct task_rows *s, bool sorted, int64_t total)
{
    struct order_ctx ctx = {SORT_CREATED, true};
    if (!sorted)
        qsort_r(s->rows, s->n, sizeof(*s->rows), order_cmp, &ctx);
    for (size_t b = head_bound(); s->n > b;)
        shared_unref(s->rows[--s->n]);
    s->head = true;
    s->total = total;
    struct task_row **o = malloc((s->n ? s->n : 1) * sizeof(*o));
    if (!o)
        return ERR_NOMEM;
    memcpy(o, s->rows, s->n * sizeof(*o));
    atomic_store(&s->order[SORT_CREATED][1], o);
    return ERR_OK;
}

/* old with w applied as a head (one reference, the caller's): old's first rows in the default
 * order without the ones w wrote or removed, and w's rows where they sort among them. A row
 * that sorts after the last one kept stays out unless old held every task: a head is exactly
 * the user's first n tasks, and the tasks behind it are not known here. At most head_bound()
 * are kept; the total moves by what w created and removed. A head that ends up with every
 * task (within the bound) is a full set again; one that is back within the bound without
 * them all is not made (NULL): the next listing loads them all. NULL when out of memory or when the
 * counts disagree (the next listing reloads). */
static struct task_rows *head_derive(struct task_rows *old, const struct rows_write *w)
{
    struct task_row *const *oo = old->head ? old->rows : rows_order(old, SORT_CREATED, true);
    int64_t total = old->total + w->created - w->deleted;
    struct task_rows *s = oo ? rows_new(old->uid, w->version, old->n + w->nf) : NULL;
    if (!s)
        return NULL;
    for (size_t i = 0; i < old->n; i++)
        if (!write_touches(w, oo[i]->id))
            s->rows[s->n++] = shared_ref(oo[i]);
    for (size_t f = 0; f < w->nf; f++) {
        size_t lo = sorted_place(s->rows, s->n, w->fresh[f], SORT_CREATED, true);
        if (old->head && lo == s->n)
            continue; /* behind the head: not known where */
        memmove(&s->rows[lo + 1], &s->rows[lo], (s->n - lo) * sizeof(*s->rows));
        s->rows[lo] = shared_ref(w->fresh[f]);
        s->n++;
    }
    /* Every task, within the bound: a full set (its rows happen to be sorted). */
    bool full = total == (int64_t)s->n && s->n <= rows_bound();
    s->total = total;
    /* Back within the bound but not all held: the next listing loads them all. */
    bool reload = !full && total <= (int64_t)rows_bound();
    if (total < (int64_t)s->n || reload || (!full && head_order(s, true, total) != ERR_OK)) {
        shared_unref(s);
        return NULL;
    }
    s->bytes = rows_bytes(s);
    return s;
}

/* --- the slots --- */

static size_t slot_of(const char *uid)
{
    return (size_t)(hash_str(uid) % TASK_ROWS_SLOTS);
}

/* Writes between their version bump and their report (task_rows_writing .. written), so
 * that a listing which already reads the new version waits for the derived rows instead of
 * loading them (under mu; a full table only costs those listings a load). */
#define INFLIGHT_MAX 4
static struct {
    char uid[64];
    int64_t version;
} inflight[TASK_ROWS_SLOTS][INFLIGHT_MAX];
static pthread_cond_t derived_cv = PTHREAD_COND_INITIALIZER;
/* The longest a listing waits for a write's rows (then it loads them itself). */
#define INFLIGHT_WAIT_MS 50

/* Whether a write of uid that made version, or one whose version is not known yet, is in
 * flight (under mu). */
static bool is_inflight(size_t i, const char *uid, int64_t version)
{
    for (size_t k = 0; k < INFLIGHT_MAX; k++)
        if ((inflight[i][k].version == version ||
             inflight[i][k].version == TASK_ROWS_VERSION_UNKNOWN) &&
            strcmp(inflight[i][k].uid, uid) == 0)
            return true;
    return false;
}

/* uid's set at version (or a later one) with a reference for the caller, or NULL; *was_head
 * says whether the slot holds a head of uid. While this process's write that made version is
 * being reported, waits (at most INFLIGHT_WAIT_MS) for its rows. */
static struct task_rows *cache_get(const char *uid, int64_t version, bool *was_head)
{
    struct task_rows *hit = NULL;
    size_t i = slot_of(uid);
    struct timespec deadline = {0};
    pthread_mutex_lock(&mu);
    for (;;) {
        struct task_rows *s = slots[i];
        *was_head = s && s->head && strcmp(s->uid, uid) == 0;
        if (s && strcmp(s->uid, uid) == 0 && s->version >= version) {
            hit = shared_ref(s);
            break;
        }
        if (!is_inflight(i, uid, version))
            break;
        if (!deadline.tv_sec) {
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_nsec += INFLIGHT_WAIT_MS * 1000000L;
            deadline.tv_sec += deadline.tv_nsec / 1000000000L;
            deadline.tv_nsec %= 1000000000L;
        }
        if (pthread_cond_timedwait(&derived_cv, &mu, &deadline) != 0)
            break; /* timed out: load */
    }
    pthread_mutex_unlock(&mu);
    return hit;
}

void task_rows_writing(const char *uid, int64_t version)
{
    if (cachemem_limit() == 0 || strlen(uid) >= sizeof(inflight[0][0].uid))
        return;
    size_t i = slot_of(uid);
    pthread_mutex_lock(&mu);
    size_t k = INFLIGHT_MAX;
    if (version != TASK_ROWS_VERSION_UNKNOWN) /* the version of a write announced before */
        for (k = 0; k < INFLIGHT_MAX; k++)
            if (inflight[i][k].version == TASK_ROWS_VERSION_UNKNOWN &&
                strcmp(inflight[i][k].uid, uid) == 0)
                break;
    for (size_t e = 0; k == INFLIGHT_MAX && e < INFLIGHT_MAX; e++)
        if (!inflight[i][e].version) {
            memcpy(inflight[i][e].uid, uid, strlen(uid) + 1);
            k = e;
        }
    if (k < INFLIGHT_MAX)
        inflight[i][k].version = version;
    pthread_mutex_unlock(&mu);
}

/* Ends uid's in-flight write of version and wakes the listings waiting for it (under mu). */
static void inflight_end(size_t i, const char *uid, int64_t version)
{
    for (size_t k = 0; k < INFLIGHT_MAX; k++)
        if (inflight[i][k].version == version && strcmp(inflight[i][k].uid, uid) == 0) {
            inflight[i][k].version = 0;
            pthread_cond_broadcast(&derived_cv);
            return;
        }
}

/* Drops a write parked in slot i's pending list, ending its time in flight (under mu). */
static void pending_drop(size_t i, struct rows_write *w)
{
    inflight_end(i, w->uid, w->version);
    write_clear(w);
}

/* Empties slot i (under mu); returns the set it held, whose reference the caller drops
 * after unlocking. */
static struct task_rows *slot_take(size_t i)
{
    struct task_rows *s = slots[i];
    if (s) {
        cachemem_give(s->charged);
        s->charged = 0;
        slots[i] = NULL;
    }
    return s;
}

/* Publishes s in its slot unless the slot holds the same user's set at a newer version;
 * evicts other sets while the budget is short. Takes its own reference. */
static void cache_put(struct task_rows *s)
{
    struct task_rows *victims[TASK_ROWS_SLOTS + 1];
    size_t nv = 0;
    size_t i = slot_of(s->uid);
    size_t need = s->bytes;
    pthread_mutex_lock(&mu);
    struct task_rows *old = slots[i];
    if (old && strcmp(old->uid, s->uid) == 0 && old->version >= s->version) {
        pthread_mutex_unlock(&mu);
        return;
    }
    if (old)
        victims[nv++] = slot_take(i);
    bool fits = cachemem_take(need);
    for (size_t k = 0; !fits && k < TASK_ROWS_SLOTS; k++) {
        size_t j = hand++ % TASK_ROWS_SLOTS;
        if (slots[j]) {
            victims[nv++] = slot_take(j);
            fits = cachemem_take(need);
        }
    }
    if (fits) {
        s->charged = need;
        slots[i] = shared_ref(s);
    }
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < nv; k++)
        shared_unref(victims[k]);
}

static void write_clear(struct rows_write *w);

void task_rows_clear(void)
{
    for (size_t i = 0; i < TASK_ROWS_SLOTS; i++) {
        pthread_mutex_lock(&mu);
        struct task_rows *s = slot_take(i);
        for (size_t k = 0; k < PENDING_MAX; k++)
            if (pending[i][k].version)
                pending_drop(i, &pending[i][k]);
        pthread_mutex_unlock(&mu);
        shared_unref(s);
    }
}

/* Loads running now (under mu). One at a time in the process: a load's transient memory
 * (the statement's rows copied into the request's arena, then the row blocks) is the largest
 * a request makes, and several workers missing at once (often on the same user) would each
 * make it; a miss while a load runs is served from SQL instead of waiting (no worker blocks
 * behind another's statement). */
static size_t loading;

/* Builds the rows of tasks[0..n) into s (scratch in a bounded arena of its own, renewed
 * every ROW_SCRATCH_MAX bytes, so the scratch does not grow with the user's tasks). */
#define ROW_SCRATCH_MAX (64 * 1024)
static int rows_build(struct task_rows *s, const struct task *tasks, const char **search, size_t n)
{
    struct arena *scratch = arena_new();
    for (; scratch && s->n < n; s->n++) {
        if (arena_used(scratch) > ROW_SCRATCH_MAX) {
            arena_free(scratch);
            if (!(scratch = arena_new()))
                break;
        }
        if (!(s->rows[s->n] = row_new(&tasks[s->n], search[s->n], scratch)))
            break;
    }
    if (scratch)
        arena_free(scratch);
    return s->n == n ? ERR_OK : ERR_NOMEM;
}

/* Loads uid's rows in one statement and publishes them: a set with a reference for the
 * caller (a head when over the bound; was_head: read only a head's rows first). Runs as the
 * process's only load (see loading). */
static int rows_load(struct store_conn *c, struct arena *a, const char *uid, bool was_head,
                     struct task_rows **out)
{
    struct task *tasks;
    const char **search;
    size_t n;
    int64_t exact; /* the version the rows are: at least the caller's */
    struct task_rows *s = NULL;
    *out = NULL;
    atomic_fetch_add(&loads, 1);
    METRIC_INC(METRIC_TASK_ROWS, "load");
    int64_t count;
    size_t bound = rows_bound();
    /* A user last seen over the bound is read as a head (unless the count shows they fit). */
    size_t want = was_head ? head_bound() : bound;
    int rc = tasks_read_all(c, a, uid, want, &tasks, &search, &n, &exact, &count);
    if (rc == ERR_OK && n == want && want < bound && count > (int64_t)n && count <= (int64_t)bound)
        rc = tasks_read_all(c, a, uid, want = bound, &tasks, &search, &n, &exact, &count);
    if (rc != ERR_OK)
        return rc;
    if (!(s = rows_new(uid, exact, n)))
        return ERR_NOMEM;
    /* Fewer rows than asked for are all the user's tasks, whatever the count says. */
    bool head = n == want && count > (int64_t)n;
    s->total = (int64_t)n;
    if (rows_build(s, tasks, search, n) != ERR_OK ||
        (head && head_order(s, false, count) != ERR_OK)) {
        shared_unref(s);
        return ERR_NOMEM;
    }
    s->bytes = rows_bytes(s);
    cache_put(s);
    *out = s;
    return ERR_OK;
}

/* uid's rows at version (or a later one), loaded in one statement when not held: a set with a
 * reference for the caller (a head when the user's tasks are over the bound), or *out NULL when
 * another load is running (*busy; the caller lists in SQL). */
static int rows_for(struct store_conn *c, struct arena *a, const char *uid, int64_t version,
                    struct task_rows **out, bool *busy)
{
    *out = NULL;
    *busy = false;
    if (rows_bound() == 0)
        return ERR_OK;
    bool was_head;
    struct task_rows *s = cache_get(uid, version, &was_head);
    if (!s) {
        pthread_mutex_lock(&mu);
        bool mine = loading == 0;
        if (mine)
            loading++;
        pthread_mutex_unlock(&mu);
        if (!mine) {
            *busy = true;
            return ERR_OK;
        }
        int rc = rows_load(c, a, uid, was_head, &s);
        pthread_mutex_lock(&mu);
        loading--;
        pthread_mutex_unlock(&mu);
        if (rc != ERR_OK)
            return rc;
    }
    *out = s;
    return ERR_OK;
}

/* Applies w to slot i's set and then any pending writes that follow it (under mu): the set
 * derived last replaces the slot's; the replaced sets go to victims. Keeps w pending when its
 * predecessor is missing (then true: it is still in flight); drops it when the set is newer
 * already or cannot take it. */
static bool slot_apply(size_t i, struct rows_write *w, struct task_rows **victims, size_t *nv)
{
    struct task_rows *cur = slots[i];
    if (!cur || strcmp(cur->uid, w->uid) != 0 || cur->version >= w->version) {
        write_clear(w);
        return false;
    }
    struct rows_write *p = pending[i];
    for (size_t k = 0; k < PENDING_MAX; k++) /* stale entries: older, or another user's */
        if (p[k].version && (p[k].version <= cur->version || strcmp(p[k].uid, w->uid) != 0))
            pending_drop(i, &p[k]);
    if (w->version > cur->version + 1) {
        size_t k = 0;
        while (k < PENDING_MAX && p[k].version)
            k++;
        bool parked = k < PENDING_MAX;
        if (parked)
            p[k] = *w; /* the entry takes w's references */
        else
            write_clear(w);
        memset(w, 0, sizeof(*w));
        return parked;
    }
    struct rows_write *next = w;
    while (next) {
        /* A head stays one; a set that would pass the bound becomes one. */
        struct task_rows *s = cur->head || cur->n + next->nf > rows_bound()
                                  ? head_derive(cur, next)
                                  : rows_derive(cur, next);
        if (next == w)
            write_clear(next);
        else
            pending_drop(i, next);
        if (!s)
            break;
        atomic_fetch_add(&derived, 1);
        METRIC_INC(METRIC_TASK_ROWS, "derived");
        size_t need = s->bytes;
        victims[(*nv)++] = slot_take(i);
        if (!cachemem_take(need)) { /* over the budget: the next listing loads */
            victims[(*nv)++] = s;
            break;
        }
        s->charged = need;
        slots[i] = s; /* the slot takes the caller's reference */
        cur = s;
        next = NULL;
        for (size_t k = 0; k < PENDING_MAX && !next; k++)
            if (p[k].version == cur->version + 1 && strcmp(p[k].uid, cur->uid) == 0)
                next = &p[k];
    }
    return false;
}

void task_rows_written(const char *uid, int64_t version, bool ok, const struct task *changed,
                       size_t n, size_t created, int64_t deleted, struct arena *a)
{
    struct rows_write w = {
        .version = version, .created = (int64_t)created, .deleted = deleted ? 1 : 0};
    if (strlen(uid) >= sizeof(w.uid))
        return;         /* never in flight */
    if (version <= 0) { /* no version taken: at most a write announced without one */
        pthread_mutex_lock(&mu);
        inflight_end(slot_of(uid), uid, TASK_ROWS_VERSION_UNKNOWN);
        pthread_mutex_unlock(&mu);
        return;
    }
    memcpy(w.uid, uid, strlen(uid) + 1);
    ok = ok && n <= ARRAY_LEN(w.fresh) && cachemem_limit() > 0;
    if (ok && deleted)
        w.ids[w.nids++] = deleted;
    for (; ok && w.nf < n; w.nf++) {
        const char *search = task_search_text(a, &changed[w.nf]);
        if (!search || !(w.fresh[w.nf] = row_new(&changed[w.nf], search, a))) {
            write_clear(&w);
            ok = false;
            break;
        }
        w.ids[w.nids++] = changed[w.nf].id;
    }
    struct task_rows *victims[2 * PENDING_MAX + 4]; /* two per set derived */
    size_t nv = 0;
    size_t i = slot_of(uid);
    pthread_mutex_lock(&mu);
    /* A write parked until its predecessor is reported stays in flight until it is applied
     * (or dropped): a listing of its version waits for its rows rather than loading them. */
    if (!ok || !slot_apply(i, &w, victims, &nv))
        inflight_end(i, uid, version);
    pthread_mutex_unlock(&mu);
    for (size_t k = 0; k < nv; k++)
        shared_unref(victims[k]);
}

/* --- the page --- */

/* Appends the page of s that f asks for to out as a JSON array; *total is the matches.
 * *served false (and nothing appended) when s is a head that does not hold the page: only
 * the default order without a filter, within the head. */
static int rows_page(struct task_rows *s, struct arena *a, const struct task_filter *f,
                     struct dynbuf *out, int64_t *total, bool *served)
{
    struct task_match m;
    if (task_match_init(&m, a, f) != ERR_OK)
        return ERR_NOMEM;
    *served = !s->head || (m.nfns == 0 && f->sort == SORT_CREATED && task_filter_desc(f) &&
                           (size_t)f->offset + (size_t)f->limit <= s->n);
    if (!*served)
        return ERR_OK;
    struct task_row *const *order = rows_order(s, f->sort, task_filter_desc(f));
    if (!order)
        return ERR_NOMEM;
    const struct task_row *page[TASK_LIST_MAX];
    size_t np = 0, matched = 0, bytes = 2;
    size_t lo = (size_t)f->offset, hi = lo + (size_t)f->limit;
    for (size_t i = 0; i < s->n; i++) {
        const struct task_row *r = order[i];
        if (!task_row_matches(r, &m))
            continue;
        if (matched >= lo && matched < hi) {
            page[np++] = r;
            bytes += r->json_len + 1;
        }
        matched++;
        if (matched >= hi && m.nfns == 0) { /* every row matches: the total is n */
            matched = s->n;
            break;
        }
    }
    char *p = dyn_room(out, bytes);
    if (!p)
        return dyn_err(out);
    char *start = p;
    *p++ = '[';
    for (size_t i = 0; i < np; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, page[i]->json, page[i]->json_len);
        p += page[i]->json_len;
    }
    *p++ = ']';
    dyn_used(out, (size_t)(p - start));
    *total = s->head ? s->total : (int64_t)matched;
    return ERR_OK;
}

/* The page from SQL: tasks_list, each task written as the API's JSON. */
static int list_sql(struct store_conn *c, struct arena *a, const char *uid,
                    const struct task_filter *f, struct dynbuf *out, int64_t *total)
{
    struct task *tasks;
    size_t n;
    int rc = tasks_list(c, a, uid, f, &tasks, &n, total);
    if (rc != ERR_OK)
        return rc;
    dyn_addc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            dyn_addc(out, ',');
        task_write_json(out, &tasks[i]);
    }
    dyn_addc(out, ']');
    return dyn_err(out);
}

int tasks_list_json(struct store_conn *c, struct arena *a, const char *uid,
                    const struct task_filter *f, int64_t version, struct dynbuf *out,
                    int64_t *total, bool *from_memory)
{
    if (from_memory)
        *from_memory = false;
    if (task_filter_check(f) != ERR_OK)
        return ERR_INVALID;
    bool busy = false;
    if (version >= 0 && cachemem_limit() > 0) {
        struct task_rows *s;
        int rc = rows_for(c, a, uid, version, &s, &busy);
        if (rc != ERR_OK)
            return rc;
        if (s) {
            bool served;
            rc = rows_page(s, a, f, out, total, &served);
            shared_unref(s);
            if (rc != ERR_OK || served) {
                METRIC_INC(METRIC_TASK_ROWS, "hit");
                if (from_memory)
                    *from_memory = rc == ERR_OK;
                return rc;
            }
        }
    }
    METRIC_INC(METRIC_TASK_ROWS, busy ? "busy" : "sql");
    return list_sql(c, a, uid, f, out, total);
}
