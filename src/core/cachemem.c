/* The list caches' shared memory budget (see cachemem.h): two atomics. */
#include "core/cachemem.h"

#include <stdatomic.h>

static _Atomic size_t limit = 8u << 20;
static _Atomic size_t used;

void cachemem_set_limit(size_t bytes)
{
    atomic_store(&limit, bytes);
}

bool cachemem_take(size_t n)
{
    size_t cur = atomic_load(&used);
    do {
        if (n > atomic_load(&limit) || cur > atomic_load(&limit) - n)
            return false;
    } while (!atomic_compare_exchange_weak(&used, &cur, cur + n));
    return true;
}

void cachemem_give(size_t n)
{
    atomic_fetch_sub(&used, n);
}

size_t cachemem_used(void)
{
    return atomic_load(&used);
}

size_t cachemem_limit(void)
{
    return atomic_load(&limit);
}
