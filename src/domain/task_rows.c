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

#include "core/cachemem.h"
#include "core/err.h"
#include "core/shared.h"
#include "core/text.h"
#include "core/util.h"

#define NSORTS (SORT_PRIORITY + 1)

/* A user's rows at one version (shared: the slot holding it has one reference, each listing
 * using it one). Immutable once published but for order[][], each set once (CAS). */
struct task_rows {
    char *uid;
    int64_t version;
    bool too_big; /* a marker: the user has more tasks than the bound; list in SQL */
    size_t n;
    struct task_row *rows;
    _Atomic(uint32_t *) order[NSORTS][2]; /* malloc'ed row indexes, by sort and direction */
    struct arena *mem;                    /* uid, rows and their texts */
    size_t charged;                       /* bytes counted in cachemem (under mu) */
};

static struct task_rows *slots[TASK_ROWS_SLOTS]; /* under mu */
static size_t hand;                              /* the next slot to evict (under mu) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic size_t user_max = TASK_ROWS_USER_MAX;

void task_rows_set_user_max(size_t n)
{
    atomic_store(&user_max, n < STORE_MAX_ROWS ? n : STORE_MAX_ROWS - 1);
}

size_t task_rows_user_max(void)
{
    return atomic_load(&user_max);
}

static void rows_dispose(void *obj)
{
    struct task_rows *s = obj;
    for (size_t k = 0; k < NSORTS; k++)
        for (size_t d = 0; d < 2; d++)
            free(atomic_load(&s->order[k][d]));
    arena_free(s->mem);
}

/* --- building a set --- */

/* The title with ASCII letters lowered, as SQLite's lower() and PostgreSQL's in "C". */
static const char *ascii_lower(struct arena *a, const char *s)
{
    char *out = arena_strdup(a, s ? s : "");
    for (char *p = out; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return out;
}

/* Folds each tag of the stored JSON array into r->tags (in mem; scratch in a). */
static int row_tags(struct task_row *r, const char *json, struct arena *mem, struct arena *a)
{
    r->tags = NULL;
    r->ntags = 0;
    if (!json)
        return ERR_OK;
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    yyjson_doc *doc = yyjson_read_opts((char *)json, strlen(json), 0, &alc, NULL);
    yyjson_val *arr = doc ? yyjson_doc_get_root(doc) : NULL;
    if (!yyjson_is_arr(arr))
        return ERR_DB;
    size_t n = yyjson_arr_size(arr);
    r->tags = arena_alloc(mem, (n ? n : 1) * sizeof(char *));
    if (!r->tags)
        return ERR_NOMEM;
    size_t i, max;
    yyjson_val *v;
    yyjson_arr_foreach(arr, i, max, v)
    {
        const char *folded = yyjson_is_str(v) ? text_fold(a, yyjson_get_str(v)) : NULL;
        if (!folded || !(r->tags[r->ntags++] = arena_strdup(mem, folded)))
            return ERR_NOMEM;
    }
    return ERR_OK;
}

/* A new set (one reference, the caller's) of uid's n tasks at version; scratch in a. */
static struct task_rows *rows_build(const char *uid, int64_t version, const struct task *t,
                                    const char **search, size_t n, struct arena *a)
{
    struct task_rows *s = shared_new(sizeof(*s), rows_dispose);
    if (!s)
        return NULL;
    s->version = version;
    s->n = n;
    if (!(s->mem = arena_new()) || !(s->uid = arena_strdup(s->mem, uid)) ||
        !(s->rows = arena_alloc(s->mem, (n ? n : 1) * sizeof(struct task_row)))) {
        shared_unref(s);
        return NULL;
    }
    struct dynbuf d;
    dyn_init_arena(&d, a, ARENA_MAX_BYTES);
    for (size_t i = 0; i < n; i++) {
        struct task_row *r = &s->rows[i];
        *r = (struct task_row){.id = t[i].id,
                               .created_at = t[i].created_at,
                               .updated_at = t[i].updated_at,
                               .due_at = t[i].due_at,
                               .priority = t[i].priority,
                               .completed = t[i].completed};
        dyn_reset(&d);
        task_write_json(&d, &t[i]);
        if (dyn_err(&d) || !(r->json = arena_strndup(s->mem, dyn_str(&d), dyn_len(&d))) ||
            !(r->search = arena_strdup(s->mem, search[i])) ||
            !(r->title_lower = ascii_lower(s->mem, t[i].title)) ||
            row_tags(r, t[i].tags.json, s->mem, a) != ERR_OK) {
            shared_unref(s);
            return NULL;
        }
        r->json_len = dyn_len(&d);
    }
    return s;
}

/* A marker set: uid has more tasks than the bound at version. */
static struct task_rows *marker_new(const char *uid, int64_t version)
{
    struct task_rows *s = shared_new(sizeof(*s), rows_dispose);
    if (!s)
        return NULL;
    s->version = version;
    s->too_big = true;
    if (!(s->mem = arena_new()) || !(s->uid = arena_strdup(s->mem, uid))) {
        shared_unref(s);
        return NULL;
    }
    return s;
}

struct order_ctx {
    const struct task_row *rows;
    enum task_sort sort;
    bool desc;
};

static int order_cmp(const void *x, const void *y, void *ctx)
{
    const struct order_ctx *o = ctx;
    return task_row_cmp(&o->rows[*(const uint32_t *)x], &o->rows[*(const uint32_t *)y], o->sort,
                        o->desc);
}

/* The set's rows in the listing's order (built on first use, then shared); NULL when out of
 * memory. */
static const uint32_t *rows_order(struct task_rows *s, enum task_sort sort, bool desc)
{
    uint32_t *o = atomic_load(&s->order[sort][desc]);
    if (o)
        return o;
    o = malloc((s->n ? s->n : 1) * sizeof(uint32_t));
    if (!o)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        o[i] = (uint32_t)i;
    struct order_ctx ctx = {s->rows, sort, desc};
    qsort_r(o, s->n, sizeof(uint32_t), order_cmp, &ctx);
    uint32_t *expected = NULL;
    if (!atomic_compare_exchange_strong(&s->order[sort][desc], &expected, o)) {
        free(o); /* another thread built the same order first */
        return expected;
    }
    return o;
}

/* --- the slots --- */

static size_t slot_of(const char *uid)
{
    return (size_t)(hash_str(uid) % TASK_ROWS_SLOTS);
}

/* uid's set at version with a reference for the caller, or NULL. */
static struct task_rows *cache_get(const char *uid, int64_t version)
{
    struct task_rows *hit = NULL;
    pthread_mutex_lock(&mu);
    struct task_rows *s = slots[slot_of(uid)];
    if (s && s->version == version && strcmp(s->uid, uid) == 0)
        hit = shared_ref(s);
    pthread_mutex_unlock(&mu);
    return hit;
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

/* The bytes a set counts against the budget: its memory and its orders once built. */
static size_t rows_bytes(const struct task_rows *s)
{
    return sizeof(*s) + arena_used(s->mem) + (size_t)NSORTS * 2 * s->n * sizeof(uint32_t);
}

/* Publishes s in its slot unless the slot holds the same user's set at a newer version;
 * evicts other sets while the budget is short. Takes its own reference. */
static void cache_put(struct task_rows *s)
{
    struct task_rows *victims[TASK_ROWS_SLOTS + 1];
    size_t nv = 0;
    size_t i = slot_of(s->uid);
    size_t need = rows_bytes(s);
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

void task_rows_clear(void)
{
    for (size_t i = 0; i < TASK_ROWS_SLOTS; i++) {
        pthread_mutex_lock(&mu);
        struct task_rows *s = slot_take(i);
        pthread_mutex_unlock(&mu);
        shared_unref(s);
    }
}

/* uid's rows at version, loaded in one statement when not held: a set with a reference for
 * the caller, or *out NULL when the user's tasks are over the bound. */
static int rows_for(struct store_conn *c, struct arena *a, const char *uid, int64_t version,
                    struct task_rows **out)
{
    *out = NULL;
    struct task_rows *s = cache_get(uid, version);
    if (!s) {
        struct task *tasks;
        const char **search;
        size_t n;
        int rc = tasks_read_all(c, a, uid, task_rows_user_max(), &tasks, &search, &n);
        if (rc == ERR_TOOBIG)
            s = marker_new(uid, version);
        else if (rc != ERR_OK)
            return rc;
        else
            s = rows_build(uid, version, tasks, search, n, a);
        if (!s)
            return ERR_NOMEM;
        cache_put(s);
    }
    if (s->too_big)
        shared_unref(s);
    else
        *out = s;
    return ERR_OK;
}

/* --- the page --- */

/* Appends the page of s that f asks for to out as a JSON array; *total is the matches. */
static int rows_page(struct task_rows *s, struct arena *a, const struct task_filter *f,
                     struct dynbuf *out, int64_t *total)
{
    struct task_match m;
    if (task_match_init(&m, a, f) != ERR_OK)
        return ERR_NOMEM;
    const uint32_t *order = rows_order(s, f->sort, task_filter_desc(f));
    if (!order)
        return ERR_NOMEM;
    const struct task_row *page[TASK_LIST_MAX];
    size_t np = 0, matched = 0, bytes = 2;
    size_t lo = (size_t)f->offset, hi = lo + (size_t)f->limit;
    for (size_t i = 0; i < s->n; i++) {
        const struct task_row *r = &s->rows[order[i]];
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
    *total = (int64_t)matched;
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
    if (version >= 0 && cachemem_limit() > 0) {
        struct task_rows *s;
        int rc = rows_for(c, a, uid, version, &s);
        if (rc != ERR_OK)
            return rc;
        if (s) {
            rc = rows_page(s, a, f, out, total);
            shared_unref(s);
            if (from_memory)
                *from_memory = rc == ERR_OK;
            return rc;
        }
    }
    return list_sql(c, a, uid, f, out, total);
}
