/*
 * The bounded string builder (see dynbuf.h). The buffer doubles, from DYN_FIRST bytes, up to
 * the builder's cap; in an arena it grows in place while it is the arena's newest
 * allocation. Every failure is sticky and leaves the text as it was.
 */
#include "core/dynbuf.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define DYN_FIRST 64

static void dyn_init(struct dynbuf *d, enum dyn_kind kind, struct arena *a, size_t max)
{
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    d->a = a;
    d->max = max ? max : 1;
}

void dyn_init_arena(struct dynbuf *d, struct arena *a, size_t max)
{
    dyn_init(d, DYN_ARENA, a, max);
}

void dyn_init_heap(struct dynbuf *d, size_t max)
{
    dyn_init(d, DYN_HEAP, NULL, max);
}

void dyn_init_fixed(struct dynbuf *d, char *buf, size_t size)
{
    dyn_init(d, DYN_FIXED, NULL, size);
    d->s = buf;
    d->cap = d->max;
    if (buf && size)
        buf[0] = '\0';
    else
        d->err = ERR_TOOBIG;
}

/* Makes room for need more bytes of text and the NUL. Records and returns the failure. */
static int grow(struct dynbuf *d, size_t need)
{
    if (d->err)
        return d->err;
    if (need > d->max - 1 - d->len) {
        d->err = ERR_TOOBIG;
        return d->err;
    }
    size_t want = d->len + need + 1;
    if (want <= d->cap)
        return ERR_OK;
    if (d->kind == DYN_FIXED) { /* cap == max: unreachable, kept for clarity */
        d->err = ERR_TOOBIG;
        return d->err;
    }
    size_t cap = d->cap ? d->cap : DYN_FIRST;
    while (cap < want)
        cap *= 2; /* want ≤ max, so this ends before it could overflow */
    if (cap > d->max)
        cap = d->max;
    char *s = d->kind == DYN_HEAP ? realloc(d->s, cap) : arena_realloc(d->a, d->s, d->cap, cap);
    if (!s) {
        d->err = ERR_NOMEM;
        return d->err;
    }
    if (!d->s)
        s[0] = '\0';
    d->s = s;
    d->cap = cap;
    return ERR_OK;
}

int dyn_addn(struct dynbuf *d, const void *p, size_t n)
{
    int rc = grow(d, n);
    if (rc != ERR_OK)
        return rc;
    if (n)
        memcpy(d->s + d->len, p, n);
    d->len += n;
    d->s[d->len] = '\0';
    return ERR_OK;
}

char *dyn_room(struct dynbuf *d, size_t n)
{
    return grow(d, n) == ERR_OK ? d->s + d->len : NULL;
}

void dyn_used(struct dynbuf *d, size_t n)
{
    if (d->err || !d->s)
        return;
    d->len += n;
    d->s[d->len] = '\0';
}

int dyn_add(struct dynbuf *d, const char *s)
{
    return s ? dyn_addn(d, s, strlen(s)) : (d->err ? d->err : ERR_OK);
}

int dyn_addc(struct dynbuf *d, char c)
{
    return dyn_addn(d, &c, 1);
}

int dyn_add_int(struct dynbuf *d, int64_t v)
{
    char buf[INT64_TEXT_MAX];
    return dyn_addn(d, buf, int64_text(v, buf));
}

int dyn_vaddf(struct dynbuf *d, const char *fmt, va_list ap)
{
    if (d->err)
        return d->err;
    va_list again;
    va_copy(again, ap);
    size_t room = d->cap > d->len ? d->cap - d->len : 0;
    int n = vsnprintf(room ? d->s + d->len : NULL, room, fmt, ap);
    if (n < 0) {
        va_end(again);
        if (room)
            d->s[d->len] = '\0';
        d->err = ERR_INVALID;
        return d->err;
    }
    if ((size_t)n < room) { /* it fitted */
        va_end(again);
        d->len += (size_t)n;
        return ERR_OK;
    }
    if (room)
        d->s[d->len] = '\0'; /* undo the partial write */
    int rc = grow(d, (size_t)n);
    if (rc == ERR_OK) {
        vsnprintf(d->s + d->len, (size_t)n + 1, fmt, again);
        d->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int dyn_addf(struct dynbuf *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = dyn_vaddf(d, fmt, ap);
    va_end(ap);
    return rc;
}

const char *dyn_str(const struct dynbuf *d)
{
    return d->s ? d->s : "";
}

size_t dyn_len(const struct dynbuf *d)
{
    return d->len;
}

int dyn_err(const struct dynbuf *d)
{
    return d->err;
}

void dyn_fail(struct dynbuf *d, int err)
{
    if (!d->err)
        d->err = err ? err : ERR_INVALID;
}

void dyn_truncate(struct dynbuf *d, size_t len)
{
    if (len < d->len) {
        d->len = len;
        d->s[len] = '\0';
    }
}

void dyn_reset(struct dynbuf *d)
{
    d->len = 0;
    if (d->s)
        d->s[0] = '\0';
    if (d->kind != DYN_FIXED || d->s)
        d->err = ERR_OK;
}

char *dyn_take(struct dynbuf *d)
{
    if (d->err) {
        dyn_free(d);
        return NULL;
    }
    char *s = d->s;
    if (!s && d->kind != DYN_FIXED) { /* nothing added yet: an empty string of its own */
        if (grow(d, 0) != ERR_OK)
            return NULL;
        s = d->s;
    }
    if (d->kind == DYN_HEAP) {
        d->s = NULL;
        d->cap = 0;
        d->len = 0;
    }
    return s;
}

void dyn_free(struct dynbuf *d)
{
    if (d->kind == DYN_HEAP) {
        free(d->s);
        d->s = NULL;
        d->cap = 0;
    }
    d->len = 0;
    if (d->s)
        d->s[0] = '\0';
}
