/*
 * Bump allocator for per-request memory (see arena.h). Blocks double in size; the first
 * block of a freed arena is kept in a small per-thread cache so that a steady stream of
 * requests allocates nothing from malloc.
 */
#include "core/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define ARENA_ALIGN       16
#define ARENA_CACHE_SLOTS 8

struct block {
    struct block *next;
    size_t cap;  /* usable bytes in data */
    size_t used; /* bytes handed out from data */
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

/* A function to run when the arena is freed (arena_on_free); lives in the arena. */
struct cleanup {
    struct cleanup *next;
    void (*fn)(void *arg);
    void *arg;
};

struct arena {
    struct block *head;       /* current block; older ones follow */
    struct cleanup *cleanups; /* newest first */
    size_t total;             /* bytes of all blocks, for the cap */
    size_t handed;            /* bytes handed out */
    void *last;               /* most recent allocation, for in-place realloc */
    size_t last_size;
};

static __thread struct arena *cache[ARENA_CACHE_SLOTS];
static __thread int cache_len;
/* A thread-specific key whose destructor frees the thread's cache when the thread exits. */
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void cache_release(void *unused)
{
    (void)unused;
    while (cache_len > 0) {
        struct arena *a = cache[--cache_len];
        free(a->head);
        free(a);
    }
}

static void cache_key_init(void)
{
    pthread_key_create(&cache_key, cache_release);
}

static struct block *block_new(size_t cap)
{
    struct block *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

struct arena *arena_new(void)
{
    if (cache_len > 0)
        return cache[--cache_len];
    struct arena *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->head = block_new(ARENA_FIRST_BLOCK);
    if (!a->head) {
        free(a);
        return NULL;
    }
    a->total = ARENA_FIRST_BLOCK;
    return a;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    /* Cleanups may allocate nothing from a; each runs once, newest first. */
    struct cleanup *c = a->cleanups;
    a->cleanups = NULL;
    while (c) {
        struct cleanup *next = c->next;
        c->fn(c->arg);
        c = next;
    }
    /* Keep only the oldest (first) block; it is the last in the list. */
    struct block *b = a->head;
    while (b->next) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->total = b->cap;
    a->handed = 0;
    a->last = NULL;
    a->last_size = 0;
    if (cache_len < ARENA_CACHE_SLOTS) {
        pthread_once(&cache_key_once, cache_key_init);
        pthread_setspecific(cache_key, cache); /* any non-NULL value arms the destructor */
        cache[cache_len++] = a;
        return;
    }
    free(b);
    free(a);
}

static size_t align_up(size_t n)
{
    return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

void *arena_alloc(struct arena *a, size_t size)
{
    if (size > ARENA_MAX_BYTES)
        return NULL;
    size_t need = align_up(size ? size : 1);
    struct block *b = a->head;
    if (b->cap - b->used < need) {
        size_t cap = b->cap * 2;
        while (cap < need)
            cap *= 2;
        if (a->total + cap > ARENA_MAX_BYTES) {
            cap = need; /* last try: exactly what is asked */
            if (a->total + cap > ARENA_MAX_BYTES)
                return NULL;
        }
        struct block *nb = block_new(cap);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = nb;
        a->total += cap;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->handed += need;
    a->last = p;
    a->last_size = need;
    return p;
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int arena_on_free(struct arena *a, void (*fn)(void *arg), void *arg)
{
    struct cleanup *c = arena_alloc(a, sizeof(*c));
    if (!c)
        return ERR_NOMEM;
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
    return ERR_OK;
}

size_t arena_used(const struct arena *a)
{
    return a->handed;
}

static void *alc_malloc(void *ctx, size_t size)
{
    return arena_alloc(ctx, size);
}

void *arena_realloc(struct arena *a, void *ptr, size_t old_size, size_t size)
{
    if (size > ARENA_MAX_BYTES)
        return NULL;
    if (ptr && ptr == a->last) {
        struct block *b = a->head;
        size_t need = align_up(size);
        size_t start = (size_t)((unsigned char *)ptr - b->data);
        if (start + need <= b->cap) {
            b->used = start + need;
            a->handed += need - a->last_size;
            a->last_size = need;
            return ptr;
        }
    }
    void *p = arena_alloc(a, size);
    if (p && ptr)
        memcpy(p, ptr, old_size < size ? old_size : size);
    return p;
}

static void *alc_realloc(void *ctx, void *ptr, size_t old_size, size_t size)
{
    return arena_realloc(ctx, ptr, old_size, size);
}

static void alc_free(void *ctx, void *ptr)
{
    (void)ctx;
    (void)ptr; /* freed with the arena */
}

void arena_yyjson_alc(struct arena *a, yyjson_alc *out)
{
    out->malloc = alc_malloc;
    out->realloc = alc_realloc;
    out->free = alc_free;
    out->ctx = a;
}
