/* Fixed-window rate limiter (see ratelimit.h). */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"

struct rl_entry {
    uint64_t hash;
    int64_t window;
    int count;
    char key[RATELIMIT_KEY_MAX];
};

static struct rl_entry table[RATELIMIT_SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

int ratelimit_hit(const char *key, int limit, int64_t now)
{
    char k[RATELIMIT_KEY_MAX];
    snprintf(k, sizeof(k), "%s", key);
    uint64_t h = hash_str(k);
    if (h == 0)
        h = 1; /* 0 marks an empty slot */
    int64_t window = now - now % RATELIMIT_WINDOW_S;
    int wait_window = (int)(window + RATELIMIT_WINDOW_S - now);
    if (wait_window < 1)
        wait_window = 1;
    pthread_mutex_lock(&mu);
    struct rl_entry *victim = NULL;
    struct rl_entry *e = NULL;
    for (size_t i = 0; i < RATELIMIT_PROBE; i++) {
        struct rl_entry *cand = &table[(h + i) % RATELIMIT_SLOTS];
        if (cand->hash == h && strcmp(cand->key, k) == 0) {
            e = cand;
            break;
        }
        /* Only empty slots (window 0) and slots of past windows may be reused, oldest
         * first: an entry of the current window may be limiting someone right now. */
        if (cand->window < window && (!victim || cand->window < victim->window))
            victim = cand;
    }
    if (!e && !victim) {
        pthread_mutex_unlock(&mu);
        return wait_window; /* full for this window: refuse rather than forget */
    }
    if (!e) {
        e = victim;
        e->hash = h;
        e->window = window;
        e->count = 0;
        memcpy(e->key, k, sizeof(k));
    }
    if (e->window != window) {
        e->window = window;
        e->count = 0;
    }
    int wait = 0;
    if (e->count >= limit)
        wait = wait_window;
    else
        e->count++;
    pthread_mutex_unlock(&mu);
    return wait;
}

void ratelimit_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(table, 0, sizeof(table));
    pthread_mutex_unlock(&mu);
}
