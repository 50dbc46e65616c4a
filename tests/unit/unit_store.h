/*
 * A throw-away, migrated SQLite store for unit tests of the domain layer: one held connection,
 * an arena for the test's memory, a mutable JSON document from it, and two users (alice, bob)
 * for isolation checks. cmocka setup/teardown functions; the state is a struct fixture.
 */
#ifndef TODO_TESTS_UNIT_STORE_H
#define TODO_TESTS_UNIT_STORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "core/err.h"
#include "core/util.h"
#include "domain/users.h"
#include "store/store.h"
#include "unit.h"

struct fixture {
    char dir[64];
    char db_path[128];
    struct db_url url;
    struct store *store;
    struct store_conn *c;
    struct arena *a;
    yyjson_mut_doc *doc; /* from a */
    struct user alice, bob;
};

/* cmocka setup: a fresh store under /tmp with alice and bob; -1 when anything fails. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || sodium_init() < 0)
        return -1;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/todo-unit-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db_path, sizeof(f->db_path), "%s/todo.db", f->dir);
    char url[160], why[256];
    snprintf(url, sizeof(url), "sqlite:///%s", f->db_path);
    if (db_url_parse(url, &f->url, why, sizeof(why)) != ERR_OK)
        return -1;
    struct store_options o = {.url = &f->url, .pool_size = 1, .max_overflow = 0};
    if (store_open(&o, &f->store) != ERR_OK || store_migrate(f->store) != ERR_OK ||
        store_acquire(f->store, &f->c) != ERR_OK)
        return -1;
    f->a = arena_new();
    if (!f->a)
        return -1;
    yyjson_alc alc;
    arena_yyjson_alc(f->a, &alc);
    f->doc = yyjson_mut_doc_new(&alc);
    if (!f->doc ||
        users_create(f->c, f->a, "alice@example.com", "hash-a", "Alice", &f->alice) != ERR_OK ||
        users_create(f->c, f->a, "bob@example.com", "hash-b", NULL, &f->bob) != ERR_OK)
        return -1;
    return 0;
}

/* cmocka teardown: closes the store and removes its files. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    store_release(f->c);
    store_close(f->store);
    db_url_free(&f->url);
    arena_free(f->a);
    static const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", f->db_path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

#endif
