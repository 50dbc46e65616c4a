/* Reference-counted objects (see shared.h). A header before the object holds the count and
 * the dispose function, as h2o_mem_alloc_shared does. */
#include "core/shared.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"

struct shared_hdr {
    atomic_size_t refs;
    shared_dispose_fn dispose;
};

/* The header's size rounded up so the object after it is aligned for any type. */
#define HDR_SIZE                                                                                   \
    ((sizeof(struct shared_hdr) + alignof(max_align_t) - 1) / alignof(max_align_t) *               \
     alignof(max_align_t))

static struct shared_hdr *hdr_of(const void *obj)
{
    return (struct shared_hdr *)(void *)((unsigned char *)(uintptr_t)obj - HDR_SIZE);
}

void *shared_new(size_t size, shared_dispose_fn dispose)
{
    if (size > SIZE_MAX - HDR_SIZE)
        return NULL;
    unsigned char *p = calloc(1, HDR_SIZE + size);
    if (!p)
        return NULL;
    struct shared_hdr *h = (struct shared_hdr *)(void *)p;
    atomic_init(&h->refs, 1);
    h->dispose = dispose;
    return p + HDR_SIZE;
}

void *shared_ref(void *obj)
{
    atomic_fetch_add_explicit(&hdr_of(obj)->refs, 1, memory_order_relaxed);
    return obj;
}

void *shared_tryref(void *obj)
{
    atomic_size_t *refs = &hdr_of(obj)->refs;
    size_t n = atomic_load_explicit(refs, memory_order_relaxed);
    while (n > 0) /* retries only while other threads change the count */
        if (atomic_compare_exchange_weak_explicit(refs, &n, n + 1, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return obj;
    return NULL;
}

void shared_unref(void *obj)
{
    if (!obj)
        return;
    struct shared_hdr *h = hdr_of(obj);
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (h->dispose)
        h->dispose(obj);
    free(h);
}

static void unref_cb(void *obj)
{
    shared_unref(obj);
}

int shared_link(struct arena *a, void *obj)
{
    shared_ref(obj);
    if (arena_on_free(a, unref_cb, obj) != ERR_OK) {
        shared_unref(obj);
        return ERR_NOMEM;
    }
    return ERR_OK;
}

size_t shared_refs(const void *obj)
{
    return atomic_load(&hdr_of(obj)->refs);
}
