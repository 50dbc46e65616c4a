/*
 * The task list from rows held in memory (domain/task_rows.c) against the SQL path
 * (tasks_list), on SQLite and PostgreSQL: many random listings — every filter (status,
 * priority, tags, search with wildcards and non-ASCII letters, due bounds, overdue at the
 * request's time), every sort and order, pages and offsets past the end — must give the same
 * bytes and the same total. Then writes (the rows must be reloaded, never stale), another
 * user's isolation, and the per-user bound (a user over it is listed in SQL).
 */
#include "unit.h"
#include "unit_pg.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cachemem.h"
#include "core/err.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "core/util.h"
#include "core/verror.h"
#include "domain/task_rows.h"
#include "domain/tasks.h"
#include "domain/users.h"
#include "store/store.h"

static struct unit_pg pg;

struct fixture {
    struct db_url url;
    struct store *store;
    struct store_conn *c;
    struct arena *a;
    char dir[64];
    struct user u, other;
    char uid[64], other_id[64];
    int64_t now;
    int64_t dues[16];
};

static const char *const titles[] = {
    "apple",     "Apple", "apricot", "Éclair", "éclair", "zebra",       "Zebra",    "_under",
    "100% done", "a_b",   "émoji 🎉", "ÄRGER",  "ärger",  "back\\slash", "mid Word", "Z",
};
static const char *const descriptions[] = {
    NULL, "", "buy MILK", "Prix: 5 €", "ÉCOLE du soir", "50% off", "line one\nline two", "x_y",
};
static const char *const tag_pool[] = {"home", "Work", "ÄRGER", "x_y", "100%", "émoji"};
static const char *const searches[] = {
    "a", "APP", "écl", "ÉCL", "%",    "_",    "a_b", "50%", "\\", "milk",
    "é", "🎉",   "zz",  "",    "e\nl", "r\nl", "ärg", "ÄRG", " ",  "one\nline",
};

static int rnd(int n)
{
    return rand() % n;
}

static int open_store(struct fixture *f, const char *url)
{
    char why[256];
    if (db_url_parse(url, &f->url, why, sizeof(why)) != ERR_OK)
        return -1;
    struct store_options o = {.url = &f->url, .pool_size = 1, .max_overflow = 0};
    if (store_open(&o, &f->store) != ERR_OK || store_migrate(f->store) != ERR_OK ||
        store_acquire(f->store, &f->c) != ERR_OK)
        return -1;
    f->a = arena_new();
    static int opened;
    opened++;
    char email[64];
    snprintf(email, sizeof(email), "rows%d-%d@example.com", (int)getpid(), opened);
    if (!f->a || users_create(f->c, f->a, email, "h", NULL, &f->u) != ERR_OK)
        return -1;
    snprintf(email, sizeof(email), "other%d-%d@example.com", (int)getpid(), opened);
    if (users_create(f->c, f->a, email, "h", NULL, &f->other) != ERR_OK)
        return -1;
    /* the ids outlive the arena, which the tests renew */
    snprintf(f->uid, sizeof(f->uid), "%s", f->u.id);
    snprintf(f->other_id, sizeof(f->other_id), "%s", f->other.id);
    f->u.id = f->uid;
    f->other.id = f->other_id;
    task_rows_clear();
    task_rows_set_user_max(TASK_ROWS_USER_MAX);
    cachemem_set_limit(8u << 20);
    return 0;
}

static int cluster_up(void **state)
{
    (void)state;
    return unit_pg_start(&pg);
}

static int cluster_down(void **state)
{
    (void)state;
    return unit_pg_stop(&pg);
}

static int setup_sqlite(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/todo-unit-rows-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char url[128];
    snprintf(url, sizeof(url), "sqlite:///%s/todo.db", f->dir);
    return open_store(f, url);
}

static int setup_pg(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    return open_store(f, pg.url);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    task_rows_clear();
    if (f->c)
        store_release(f->c);
    store_close(f->store);
    db_url_free(&f->url);
    arena_free(f->a);
    if (f->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        if (system(cmd) != 0)
            print_error("could not remove %s\n", f->dir);
    }
    free(f);
    return 0;
}

/* Appends a JSON string of s to d. */
static void add_json_str(struct dynbuf *d, const char *s)
{
    dyn_addc(d, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            dyn_addc(d, '\\');
        if (*s == '\n') {
            dyn_add(d, "\\n");
            continue;
        }
        dyn_addc(d, *s);
    }
    dyn_addc(d, '"');
}

/* Creates a random task for uid; returns its id. */
static int64_t create_random(struct fixture *f, const char *uid)
{
    static const char *const prios[] = {"high", "medium", "low"};
    struct dynbuf d;
    dyn_init_arena(&d, f->a, 4096);
    dyn_add(&d, "{\"title\":");
    add_json_str(&d, titles[rnd(ARRAY_LEN(titles))]);
    const char *desc = descriptions[rnd(ARRAY_LEN(descriptions))];
    if (desc) {
        dyn_add(&d, ",\"description\":");
        add_json_str(&d, desc);
    }
    dyn_addf(&d, ",\"priority\":\"%s\"", prios[rnd(3)]);
    if (rnd(4)) {
        char when[TIME_TEXT_MAX];
        time_format(f->dues[rnd(ARRAY_LEN(f->dues))], when);
        dyn_addf(&d, ",\"due_at\":\"%s\"", when);
    }
    int ntags = rnd(4);
    dyn_add(&d, ",\"tags\":[");
    for (int i = 0, used = 0; i < ntags; i++) {
        int k = rnd(ARRAY_LEN(tag_pool));
        if (used & (1 << k))
            continue;
        dyn_add(&d, used ? "," : "");
        used |= 1 << k;
        add_json_str(&d, tag_pool[k]);
    }
    dyn_add(&d, "]}");
    assert_int_equal(dyn_err(&d), ERR_OK);
    struct verrors errs = {0};
    struct task_input in;
    yyjson_doc *doc = unit_json(f->a, dyn_str(&d));
    assert_non_null(doc);
    assert_int_equal(
        task_input_parse(yyjson_doc_get_root(doc), TASK_CREATE, "body", f->a, &in, &errs), ERR_OK);
    struct task t;
    assert_int_equal(tasks_create(f->c, f->a, uid, &in, &t), ERR_OK);
    if (rnd(3) == 0) {
        struct task next;
        bool has_next;
        assert_int_equal(tasks_complete(f->c, f->a, uid, t.id, 1, &t, &next, &has_next), ERR_OK);
    }
    return t.id;
}

/* Parses json as a TASK_PATCH input into *in. */
static void patch_input(struct fixture *f, const char *json, struct task_input *in)
{
    struct verrors errs = {0};
    yyjson_doc *doc = unit_json(f->a, json);
    assert_int_equal(
        task_input_parse(yyjson_doc_get_root(doc), TASK_PATCH, "body", f->a, in, &errs), ERR_OK);
}

/* The id of f's user's task at offset in the default order (SQL). */
static int64_t task_at(struct fixture *f, int64_t offset)
{
    struct task_filter flt;
    task_filter_defaults(&flt);
    flt.limit = 1;
    flt.offset = offset;
    struct task *page;
    size_t n;
    int64_t total;
    assert_int_equal(tasks_list(f->c, f->a, f->u.id, &flt, &page, &n, &total), ERR_OK);
    assert_int_equal(n, 1);
    return page[0].id;
}

/* Spreads the creation and update times (a create stamps the current second on all). */
static void spread_times(struct fixture *f, const char *uid)
{
    const char *sql_pg = "UPDATE tasks SET created_at = to_timestamp($2 + (id * 7919) % 20 * 60), "
                         "updated_at = to_timestamp($2 + (id * 104729) % 13 * 60) "
                         "WHERE user_id = $1";
    if (store_kind(f->store) == DB_POSTGRES) {
        struct sql q = {sql_pg, NULL};
        struct db_param p[] = {P_TEXT(uid), P_INT(f->now - 86400)};
        assert_int_equal(store_exec(f->c, &q, p, 2, NULL, NULL), ERR_OK);
        return;
    }
    struct sql q = {"UPDATE tasks SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', $2 + (id * 7919) "
                    "% 20 * 60, 'unixepoch'), updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', $2 + "
                    "(id * 104729) % 13 * 60, 'unixepoch') WHERE user_id = $1",
                    NULL};
    struct db_param p[] = {P_TEXT(uid), P_INT(f->now - 86400)};
    assert_int_equal(store_exec(f->c, &q, p, 2, NULL, NULL), ERR_OK);
}

/* A random (valid) filter in a. */
static void random_filter(struct fixture *f, struct task_filter *flt)
{
    task_filter_defaults(flt);
    flt->status = (enum task_status)rnd(3);
    flt->priority = rnd(4) - 1;
    int ntags = rnd(5) < 3 ? 0 : 1 + rnd(2);
    if (ntags) {
        struct field_list *l = arena_calloc(f->a, 1, sizeof(*l));
        assert_non_null(l);
        for (int i = 0; i < ntags; i++) {
            const char *t = tag_pool[rnd(ARRAY_LEN(tag_pool))];
            /* the filter's case need not be the task's */
            l->v[l->n++] = rnd(2) ? t : (strcmp(t, "Work") == 0 ? "WORK" : "ÄRger");
        }
        flt->tags.list = l;
    }
    if (rnd(3) == 0)
        flt->search = searches[rnd(ARRAY_LEN(searches))];
    int64_t bounds[] = {0,
                        0,
                        0,
                        f->dues[rnd(ARRAY_LEN(f->dues))],
                        f->dues[rnd(ARRAY_LEN(f->dues))] + 1800,
                        f->now,
                        TIME_MAX_UNIX};
    flt->due_before = bounds[rnd(ARRAY_LEN(bounds))];
    flt->due_after = bounds[rnd(ARRAY_LEN(bounds))];
    flt->overdue = rnd(3) - 1;
    flt->sort = (enum task_sort)rnd(SORT_PRIORITY + 1);
    flt->order = rnd(3) - 1;
    static const int limits[] = {1, 2, 3, 5, 10, 50, 200};
    flt->limit = limits[rnd(ARRAY_LEN(limits))];
    static const int offsets[] = {0, 0, 0, 1, 2, 7, 30, 59, 60, 61, 1000};
    flt->offset = offsets[rnd(ARRAY_LEN(offsets))];
}

/* Describes flt for a failure message. */
static const char *describe(struct fixture *f, const struct task_filter *flt)
{
    struct dynbuf k;
    dyn_init_arena(&k, f->a, 4096);
    task_filter_key(flt, &k);
    dyn_addf(&k, " overdue=%d", flt->overdue);
    return dyn_str(&k);
}

/* Lists flt for uid both ways and compares; returns whether the rows served it. */
static bool compare_once(struct fixture *f, const char *uid, const struct task_filter *flt)
{
    int64_t version;
    assert_int_equal(tasks_version(f->c, f->a, uid, &version), ERR_OK);
    struct dynbuf sql, mem;
    dyn_init_arena(&sql, f->a, 8u << 20);
    dyn_init_arena(&mem, f->a, 8u << 20);
    int64_t sql_total = -1, mem_total = -2;
    bool from_memory = true;
    assert_int_equal(tasks_list_json(f->c, f->a, uid, flt, -1, &sql, &sql_total, &from_memory),
                     ERR_OK);
    assert_false(from_memory);
    assert_int_equal(tasks_list_json(f->c, f->a, uid, flt, version, &mem, &mem_total, &from_memory),
                     ERR_OK);
    if (mem_total != sql_total || strcmp(dyn_str(&sql), dyn_str(&mem)) != 0) {
        size_t at = 0; /* show where they part */
        while (dyn_str(&sql)[at] && dyn_str(&sql)[at] == dyn_str(&mem)[at])
            at++;
        at = at > 200 ? at - 200 : 0;
        fail_msg("%s: total %lld vs %lld\nSQL:    …%.600s\nmemory: …%.600s", describe(f, flt),
                 (long long)sql_total, (long long)mem_total, dyn_str(&sql) + at,
                 dyn_str(&mem) + at);
    }
    return from_memory;
}

static void seed(struct fixture *f, int n)
{
    f->now = now_unix();
    for (size_t i = 0; i < ARRAY_LEN(f->dues); i++) /* whole hours away from now: overdue is */
        f->dues[i] = f->now + (int64_t)(rnd(97) - 48) * 3600 + (i % 2 ? 3600 : -3600); /* stable */
    for (int i = 0; i < n; i++)
        create_random(f, f->u.id);
    for (int i = 0; i < 5; i++)
        create_random(f, f->other.id);
    spread_times(f, f->u.id);
}

/* Random listings both ways; then writes, after each of which the rows must follow. */
static void test_rows_give_the_sql_bytes(void **state)
{
    struct fixture *f = *state;
    srand(15);
    assert_true(task_filter_ops_complete());
    seed(f, 60);
    int served = 0;
    for (int i = 0; i < 1500; i++) {
        struct task_filter flt;
        random_filter(f, &flt);
        served += compare_once(f, f->u.id, &flt);
        if (i % 100 == 99) {
            arena_free(f->a); /* keep the scratch small */
            f->a = arena_new();
            assert_non_null(f->a);
        }
    }
    assert_int_equal(served, 1500);
    /* Writes: each bumps the version, and the rows of the new version are derived from the
     * old (no reload: the loads stay as they are), agreeing with SQL after every write. */
    size_t loads0, derived0, loads1, derived1;
    task_rows_counts(&loads0, &derived0);
    for (int i = 0; i < 40; i++) {
        int64_t id = create_random(f, f->u.id);
        if (i % 3 == 1) {
            struct task_input in;
            patch_input(f, "{\"title\":\"Renamed\",\"priority\":\"high\"}", &in);
            struct task t;
            assert_int_equal(tasks_update(f->c, f->a, f->u.id, id, &in, &t), ERR_OK);
        } else if (i % 3 == 2) {
            assert_int_equal(tasks_delete(f->c, f->a, f->u.id, id - 1, NULL), ERR_OK);
        }
        for (int k = 0; k < 10; k++) {
            struct task_filter flt;
            random_filter(f, &flt);
            assert_true(compare_once(f, f->u.id, &flt));
        }
        struct task_filter all;
        task_filter_defaults(&all);
        all.limit = TASK_LIST_MAX;
        assert_true(compare_once(f, f->u.id, &all));
    }
    task_rows_counts(&loads1, &derived1);
    assert_int_equal(loads1, loads0);
    assert_true(derived1 - derived0 >= 40 + 26);
    /* A write this process did not see (another replica's): the version moves on, the rows
     * are reloaded. */
    struct sql bump = {"UPDATE tasks SET title = 'Elsewhere' WHERE user_id = $1 AND id = "
                       "(SELECT max(id) FROM tasks WHERE user_id = $1)",
                       NULL};
    struct sql bump_v = {
        "UPDATE users SET tasks_version = tasks_version + 1 WHERE id = $1 RETURNING tasks_version",
        NULL};
    struct db_param up[] = {P_TEXT(f->u.id)};
    struct db_rows vrows;
    int64_t bumped;
    assert_int_equal(store_exec(f->c, &bump, up, 1, NULL, NULL), ERR_OK);
    assert_int_equal(store_exec(f->c, &bump_v, up, 1, f->a, &vrows), ERR_OK);
    assert_true(db_int(&vrows, 0, 0, &bumped));
    /* As a write through another replica does before it answers (tasks.c, announced): on
     * PostgreSQL the notification must have reached this process's listener. */
    store_version_await(f->c, f->u.id, bumped, 2000);
    /* The await is bounded (a loaded machine can take longer): the check below needs this
     * process to know the new version, so wait for that itself, bounded too. */
    int64_t seen = -1;
    for (int tries = 0; tries < 600; tries++) {
        assert_int_equal(tasks_version(f->c, f->a, f->u.id, &seen), ERR_OK);
        if (seen == bumped)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(seen, bumped);
    {
        struct task_filter all;
        task_filter_defaults(&all);
        all.sort = SORT_TITLE;
        all.limit = TASK_LIST_MAX;
        assert_true(compare_once(f, f->u.id, &all));
        task_rows_counts(&loads1, &derived1);
        assert_int_equal(loads1, loads0 + 1);
    }
    /* The other user sees only their own five. */
    struct task_filter all;
    task_filter_defaults(&all);
    int64_t version, total;
    assert_int_equal(tasks_version(f->c, f->a, f->other.id, &version), ERR_OK);
    struct dynbuf d;
    dyn_init_arena(&d, f->a, 1u << 20);
    bool from_memory;
    assert_int_equal(
        tasks_list_json(f->c, f->a, f->other.id, &all, version, &d, &total, &from_memory), ERR_OK);
    assert_true(from_memory);
    assert_int_equal(total, 5);
    assert_true(compare_once(f, f->other.id, &all));
}

/* A listing that read its version just before a write of this process derived the next set
 * is served from that newer set (never older than the database), not by loading the rows. */
static void test_listing_behind_a_write_takes_the_newer_rows(void **state)
{
    struct fixture *f = *state;
    srand(20);
    seed(f, 10);
    struct task_filter all;
    task_filter_defaults(&all);
    assert_true(compare_once(f, f->u.id, &all)); /* loads the rows */
    int64_t before, after;
    assert_int_equal(tasks_version(f->c, f->a, f->u.id, &before), ERR_OK);
    create_random(f, f->u.id); /* derives the next set */
    assert_int_equal(tasks_version(f->c, f->a, f->u.id, &after), ERR_OK);
    assert_true(after > before);
    size_t loads0, loads1, derived;
    task_rows_counts(&loads0, &derived);
    struct dynbuf late, now;
    dyn_init_arena(&late, f->a, 1u << 20);
    dyn_init_arena(&now, f->a, 1u << 20);
    int64_t late_total, now_total;
    bool from_memory = false;
    assert_int_equal(
        tasks_list_json(f->c, f->a, f->u.id, &all, before, &late, &late_total, &from_memory),
        ERR_OK);
    assert_true(from_memory);
    assert_int_equal(tasks_list_json(f->c, f->a, f->u.id, &all, -1, &now, &now_total, &from_memory),
                     ERR_OK);
    assert_string_equal(dyn_str(&late), dyn_str(&now)); /* the newer rows, as SQL has them */
    assert_int_equal(late_total, now_total);
    task_rows_counts(&loads1, &derived);
    assert_int_equal(loads1, loads0);
}

/* A user over the bound (beyond a head's pages), or a budget of 0, is listed in SQL with the
 * same bytes. */
static void test_bound_and_budget_fall_back_to_sql(void **state)
{
    struct fixture *f = *state;
    srand(16);
    seed(f, 30);
    task_rows_set_user_max(20);
    for (int i = 0; i < 50; i++) {
        struct task_filter flt;
        random_filter(f, &flt);
        assert_false(compare_once(f, f->u.id, &flt));
    }
    task_rows_set_user_max(30); /* exactly at the bound: held (a new bound, new markers) */
    task_rows_clear();
    struct task_filter all;
    task_filter_defaults(&all);
    assert_true(compare_once(f, f->u.id, &all));
    create_random(f, f->u.id); /* 31: over it again after the write */
    assert_false(compare_once(f, f->u.id, &all));
    task_rows_set_user_max(TASK_ROWS_USER_MAX);
    task_rows_clear();
    assert_int_equal(cachemem_used(), 0);
    assert_true(compare_once(f, f->u.id, &all));
    /* The memory charged: about 1 KB a task, as docs/operations.md says (31 tasks, one
     * order built). */
    size_t used = cachemem_used();
    assert_true(used > 31 * 300 && used < 31 * 1500);
    cachemem_set_limit(0);
    assert_false(compare_once(f, f->u.id, &all));
    cachemem_set_limit(8u << 20);
    task_rows_clear();
    assert_int_equal(cachemem_used(), 0);
}

/* A /proc/self/status field in KiB (VmRSS, VmHWM), or -1. */
static long status_kb(const char *field)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t len = strlen(field);
    while (fp && fgets(line, sizeof(line), fp))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kb = strtol(line + len + 1, NULL, 10);
    if (fp)
        fclose(fp);
    return kb;
}

/* The tasks of the load memory test, and what a load may raise the peak by beyond the set
 * it keeps: its transient, per task (the statement's rows and tasks in the request's arena;
 * the rows' scratch is bounded apart). Before the bound, a load's transient was about 2 KB a
 * task on top of the set it keeps (2.8 KB a task in all). ASan's red zones and quarantine
 * multiply every allocation, so its build is held to a looser bound. */
#define LOAD_TASKS 2000
#if defined(__SANITIZE_ADDRESS__)
#define LOAD_TRANSIENT_PER_TASK 4096
#else
#define LOAD_TRANSIENT_PER_TASK 1024
#endif

/* One load of a big user raises the process's peak RSS (VmHWM, reset through
 * /proc/self/clear_refs) by the set it keeps plus a transient bounded per task: not by the
 * user's tasks copied several times over. */
static void test_load_memory_is_bounded(void **state)
{
    struct fixture *f = *state;
    srand(18);
    /* a budget whose share holds LOAD_TASKS (the default 8 MiB bounds a set to 1,024) */
    cachemem_set_limit((size_t)LOAD_TASKS * TASK_ROWS_TASK_BYTES * TASK_ROWS_BUDGET_SHARE * 2);
    f->now = now_unix();
    for (size_t i = 0; i < ARRAY_LEN(f->dues); i++)
        f->dues[i] = f->now + (int64_t)(rnd(97) - 48) * 3600;
    for (int i = 0; i < LOAD_TASKS; i++) {
        create_random(f, f->u.id);
        if (i % 256 == 255) { /* the creates' scratch does not pile up */
            arena_free(f->a);
            f->a = arena_new();
            assert_non_null(f->a);
        }
    }
    struct task_filter all;
    task_filter_defaults(&all);
    /* A first load and listing both ways: the allocator's and the SQL path's first use. */
    assert_true(compare_once(f, f->u.id, &all));
    task_rows_clear();
    arena_free(f->a);
    f->a = arena_new();
    assert_non_null(f->a);
    int64_t version;
    assert_int_equal(tasks_version(f->c, f->a, f->u.id, &version), ERR_OK);
    struct dynbuf out;
    dyn_init_arena(&out, f->a, 1u << 20);
    assert_non_null(dyn_room(&out, 64u << 10)); /* the page's bytes, before the reset */

    malloc_trim(0); /* what the first listings freed goes back: the load must map its own */
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    assert_non_null(fp);
    assert_true(fputs("5", fp) >= 0); /* VmHWM := VmRSS */
    fclose(fp);
    long before = status_kb("VmRSS");
    int64_t total = 0;
    bool from_memory = false;
    size_t loads0, loads1, derived;
    task_rows_counts(&loads0, &derived);
    assert_int_equal(
        tasks_list_json(f->c, f->a, f->u.id, &all, version, &out, &total, &from_memory), ERR_OK);
    long grown_kb = status_kb("VmHWM") - before;
    task_rows_counts(&loads1, &derived);
    assert_true(from_memory);
    assert_int_equal(loads1, loads0 + 1);
    assert_int_equal(total, LOAD_TASKS);
    size_t held = cachemem_used();
    printf("a load of %d tasks raised the peak by %ld KiB; the set it keeps: %zu KiB\n", LOAD_TASKS,
           grown_kb, held / 1024);
    assert_true(before > 0 && grown_kb >= 0);
    assert_true((size_t)grown_kb * 1024 < held + (size_t)LOAD_TASKS * LOAD_TRANSIENT_PER_TASK);
    task_rows_clear();
    cachemem_set_limit(8u << 20);
    /* The default budget's share: this user is now over the bound, held as a head of 1,024
     * (its first page from memory, a filtered listing in SQL). */
    assert_true(compare_once(f, f->u.id, &all));
    all.priority = PRIO_HIGH;
    assert_false(compare_once(f, f->u.id, &all));
}

/* Whether the rows should serve flt for a user held as a head of n tasks. */
static bool head_serves(const struct task_filter *flt, size_t n)
{
    struct task_filter plain;
    task_filter_defaults(&plain);
    plain.sort = flt->sort;
    plain.order = flt->order;
    plain.limit = flt->limit;
    plain.offset = flt->offset;
    return memcmp(&plain, flt, sizeof(plain)) == 0 && flt->sort == SORT_CREATED &&
           task_filter_desc(flt) && (size_t)(flt->offset + flt->limit) <= n;
}

/* A user over the bound: the head serves the default order's pages within it with SQL's
 * bytes and total, every other listing goes to SQL, and writes of every kind (creates, edits
 * and deletes inside and behind the head, completions that create the next occurrence, a
 * restore) derive the next head without a reload. Deleting down to the bound makes the head
 * a full set again. */
static void test_head_gives_the_sql_bytes(void **state)
{
    struct fixture *f = *state;
    srand(19);
    seed(f, 60);
    task_rows_set_user_max(40);
    task_rows_set_head_max(30);
    task_rows_clear();
    size_t head = 30;
    for (int i = 0; i < 400; i++) {
        struct task_filter flt;
        random_filter(f, &flt);
        if (i % 2 == 0) { /* half of them plain pages, so the head is exercised */
            int64_t limit = flt.limit, offset = flt.offset % 30;
            task_filter_defaults(&flt);
            flt.limit = limit;
            flt.offset = offset;
        }
        assert_int_equal(compare_once(f, f->u.id, &flt), head_serves(&flt, head));
    }
    size_t loads0, derived0, loads1, derived1;
    task_rows_counts(&loads0, &derived0);
    struct task *page;
    size_t n;
    int64_t total;
    for (int i = 0; i < 60; i++) {
        int64_t id = create_random(f, f->u.id); /* at the top (this second) */
        struct task_input in;
        patch_input(f, "{\"title\":\"Edited\",\"priority\":\"low\"}", &in);
        struct task t;
        int64_t behind; /* a task far behind the head, in the default order */
        switch (i % 6) {
        case 0: /* an edit inside the head */
            assert_int_equal(tasks_update(f->c, f->a, f->u.id, id, &in, &t), ERR_OK);
            break;
        case 1: /* an edit behind it */
            assert_int_equal(tasks_update(f->c, f->a, f->u.id, task_at(f, 50), &in, &t), ERR_OK);
            break;
        case 2: /* two deletes inside: the head shrinks below the bound, so the writes behind
                 * it that follow must stay out of it */
            assert_int_equal(tasks_delete(f->c, f->a, f->u.id, id, NULL), ERR_OK);
            assert_int_equal(tasks_delete(f->c, f->a, f->u.id, task_at(f, 1), NULL), ERR_OK);
            break;
        case 3: /* a delete behind, then its restore (its old creation time: behind again) */
            behind = task_at(f, 50);
            assert_int_equal(tasks_delete(f->c, f->a, f->u.id, behind, NULL), ERR_OK);
            assert_int_equal(tasks_restore(f->c, f->a, f->u.id, behind, &t), ERR_OK);
            break;
        case 4: /* a delete inside, then its restore: back inside */
            assert_int_equal(tasks_delete(f->c, f->a, f->u.id, id, NULL), ERR_OK);
            assert_int_equal(tasks_restore(f->c, f->a, f->u.id, id, &t), ERR_OK);
            break;
        default: /* the create alone (create_random completes some: the next occurrence) */
            break;
        }
        for (int k = 0; k < 12; k++) {
            struct task_filter flt;
            task_filter_defaults(&flt);
            static const int limits[] = {1, 5, 10, 23, 24, 25, 50};
            flt.limit = limits[rnd(ARRAY_LEN(limits))];
            flt.offset = rnd(4) ? 0 : rnd(30);
            bool mem = compare_once(f, f->u.id, &flt);
            if (!head_serves(&flt, 18))
                continue; /* the head may have shrunk by the deletes: at least 20 are left */
            assert_true(mem);
        }
        for (int limit = 18; limit <= 31; limit++) { /* a page that ends at the head's last */
            struct task_filter flt;
            task_filter_defaults(&flt);
            flt.limit = limit;
            compare_once(f, f->u.id, &flt);
        }
        if (i % 10 == 9) {
            arena_free(f->a);
            f->a = arena_new();
            assert_non_null(f->a);
        }
    }
    task_rows_counts(&loads1, &derived1);
    assert_int_equal(loads1, loads0);
    assert_true(derived1 - derived0 >= 60);
    /* Down to the bound by deletes behind the head: one load, and a full set again, serving
     * every filter. */
    struct task_filter all;
    task_filter_defaults(&all);
    all.limit = TASK_LIST_MAX;
    assert_int_equal(tasks_list(f->c, f->a, f->u.id, &all, &page, &n, &total), ERR_OK);
    while (total > 40) {
        assert_int_equal(tasks_delete(f->c, f->a, f->u.id, page[total - 1].id, NULL), ERR_OK);
        total--;
    }
    assert_true(compare_once(f, f->u.id, &all));
    for (int i = 0; i < 100; i++) {
        struct task_filter flt;
        random_filter(f, &flt);
        assert_true(compare_once(f, f->u.id, &flt));
    }
    task_rows_counts(&loads1, &derived1);
    assert_int_equal(loads1, loads0 + 1);
    task_rows_set_user_max(TASK_ROWS_USER_MAX);
    task_rows_set_head_max(TASK_ROWS_HEAD_MAX);
}

int main(void)
{
    /* glibc's thresholds as the server fixes them (main.c): large blocks are mapped and
     * unmapped, so the peak shows what a load maps. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_give_the_sql_bytes, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_head_gives_the_sql_bytes, setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_listing_behind_a_write_takes_the_newer_rows,
                                        setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(test_bound_and_budget_fall_back_to_sql, setup_sqlite,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_memory_is_bounded, setup_sqlite, teardown),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_give_the_sql_bytes, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_head_gives_the_sql_bytes, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_listing_behind_a_write_takes_the_newer_rows, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bound_and_budget_fall_back_to_sql, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_load_memory_is_bounded, setup_pg, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("postgres", pg_tests, cluster_up, cluster_down);
    return failed;
}
