/* The request-head deadline (see headguard.h). */
#include "http/headguard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/bgthread.h"
#include "core/err.h"
#include "core/util.h"

/* How often the reaper looks for connections past their deadline. */
#define REAP_INTERVAL_MS 250

struct headguard_slot {
    int fd;                    /* -1 when free */
    atomic_int_fast64_t until; /* monotonic ms; 0 while a request is being served */
    struct headguard_slot *next_free;
};

/* Slots are handed out from the free list, else the next never-used one: the table's pages
 * are touched only as far as connections have reached (the limit is 16,384; a process
 * usually sees tens), and the reaper walks only those. */
struct headguard {
    struct bgthread bg;
    pthread_mutex_t mu; /* the slot table */
    unsigned n;
    unsigned used; /* slots[0..used) have been handed out at least once */
    struct headguard_slot *free_list;
    struct headguard_slot slots[]; /* n of them */
};

static void *reaper(void *arg)
{
    struct headguard *g = arg;
    while (bgthread_sleep(&g->bg, REAP_INTERVAL_MS)) {
        int64_t now = now_mono_ms();
        pthread_mutex_lock(&g->mu);
        for (unsigned i = 0; i < g->used; i++) {
            struct headguard_slot *s = &g->slots[i];
            int64_t until = atomic_load(&s->until);
            if (s->fd < 0 || until == 0 || now < until)
                continue;
            /* Only if no request started meanwhile (its head_done clears the deadline). */
            if (atomic_compare_exchange_strong(&s->until, &until, 0))
                shutdown(s->fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&g->mu);
    }
    return NULL;
}

int headguard_start(unsigned max_conns, struct headguard **out)
{
    struct headguard *g = calloc(1, sizeof(*g) + max_conns * sizeof(struct headguard_slot));
    if (!g)
        return ERR_NOMEM;
    g->n = max_conns;
    pthread_mutex_init(&g->mu, NULL);
    if (bgthread_start(&g->bg, reaper, g) != ERR_OK) {
        pthread_mutex_destroy(&g->mu);
        free(g);
        return ERR_NOMEM;
    }
    *out = g;
    return ERR_OK;
}

void headguard_stop(struct headguard *g)
{
    if (!g)
        return;
    bgthread_stop(&g->bg);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

struct headguard_slot *headguard_opened(struct headguard *g, int fd)
{
    pthread_mutex_lock(&g->mu);
    struct headguard_slot *s = g->free_list;
    if (s)
        g->free_list = s->next_free;
    else if (g->used < g->n)
        s = &g->slots[g->used++];
    if (s) {
        s->fd = fd;
        atomic_store(&s->until, now_mono_ms() + HTTP_HEAD_TIMEOUT_S * 1000);
    }
    pthread_mutex_unlock(&g->mu);
    return s;
}

void headguard_closed(struct headguard *g, struct headguard_slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g->mu);
    s->fd = -1;
    atomic_store(&s->until, 0);
    s->next_free = g->free_list;
    g->free_list = s;
    pthread_mutex_unlock(&g->mu);
}

void headguard_head_done(struct headguard_slot *s)
{
    if (s)
        atomic_store(&s->until, 0);
}

void headguard_request_done(struct headguard_slot *s)
{
    if (s)
        atomic_store(&s->until, now_mono_ms() + HTTP_HEAD_TIMEOUT_S * 1000);
}
