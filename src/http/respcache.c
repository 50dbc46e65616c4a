/* Validated response cache (see respcache.h). One mutex; each critical section is a hash
 * probe and one memcpy of the body. Bodies are charged to the list caches' shared budget
 * (core/cachemem.h). */
#include "http/respcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cachemem.h"
#include "core/util.h"

struct entry {
    uint64_t hash;
    char *key;
    int64_t version;
    int64_t total;
    char *body;
    size_t len;
};

static struct entry slots[RESPCACHE_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void entry_clear(struct entry *e)
{
    if (e->body)
        cachemem_give(e->len);
    free(e->key);
    free(e->body);
    memset(e, 0, sizeof(*e));
}

bool respcache_get(const char *key, int64_t version, struct arena *a, const char **body,
                   size_t *len, int64_t *total)
{
    uint64_t h = hash_str(key);
    bool hit = false;
    pthread_mutex_lock(&mu);
    struct entry *e = &slots[h % RESPCACHE_SLOTS];
    if (e->body && e->hash == h && e->version == version && strcmp(e->key, key) == 0) {
        char *copy = arena_alloc(a, e->len + 1);
        if (copy) {
            memcpy(copy, e->body, e->len);
            copy[e->len] = '\0';
            *body = copy;
            *len = e->len;
            *total = e->total;
            hit = true;
        }
    }
    pthread_mutex_unlock(&mu);
    return hit;
}

void respcache_put(const char *key, int64_t version, const char *body, size_t len, int64_t total)
{
    if (len > RESPCACHE_BODY_MAX || strlen(key) >= RESPCACHE_KEY_MAX)
        return;
    uint64_t h = hash_str(key);
    char *k = strdup(key);
    char *b = malloc(len ? len : 1);
    if (!k || !b) {
        free(k);
        free(b);
        return;
    }
    memcpy(b, body, len);
    pthread_mutex_lock(&mu);
    struct entry *e = &slots[h % RESPCACHE_SLOTS];
    entry_clear(e);
    if (!cachemem_take(len)) {
        pthread_mutex_unlock(&mu);
        free(k);
        free(b);
        return;
    }
    *e = (struct entry){h, k, version, total, b, len};
    pthread_mutex_unlock(&mu);
}

void respcache_clear(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < RESPCACHE_SLOTS; i++)
        entry_clear(&slots[i]);
    pthread_mutex_unlock(&mu);
}
