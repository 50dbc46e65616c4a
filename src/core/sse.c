/*
 * Server-Sent Events framing and parsing (see sse.h). The reader follows the parsing rules
 * of the HTML standard's "event stream interpretation": fields are "name: value" lines (one
 * space after the colon dropped), "data" lines accumulate with "\n" between them, a blank
 * line dispatches the event unless no data line was seen, and "id" persists across events.
 */
#include "core/sse.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* ---- writing ------------------------------------------------------------------------- */

/* True when s (may be NULL) is a valid single-line name: no CR, LF, at most SSE_NAME_MAX. */
static bool name_ok(const char *s)
{
    if (!s)
        return true;
    size_t n = strnlen(s, SSE_NAME_MAX + 1);
    return n <= SSE_NAME_MAX && strcspn(s, "\r\n") == n;
}

/* Length of the line of data starting at p (up to CR, LF or end) and of its line break. */
static size_t data_line(const char *p, size_t left, size_t *brk)
{
    size_t n = 0;
    while (n < left && p[n] != '\n' && p[n] != '\r')
        n++;
    *brk = 0;
    if (n < left)
        *brk = p[n] == '\r' && n + 1 < left && p[n + 1] == '\n' ? 2 : 1;
    return n;
}

size_t sse_encoded_len(const char *event, const char *id, const char *data, size_t len)
{
    if (!name_ok(event) || !name_ok(id) || (len && memchr(data, '\0', len)))
        return 0;
    size_t total = 1; /* the blank line */
    if (event)
        total += sizeof("event: ") - 1 + strlen(event) + 1;
    if (id)
        total += sizeof("id: ") - 1 + strlen(id) + 1;
    size_t off = 0;
    for (;;) { /* one pass per line: ends with the data */
        size_t brk;
        size_t n = data_line(data + off, len - off, &brk);
        total += sizeof("data: ") - 1 + n + 1;
        off += n + brk;
        if (!brk)
            break;
    }
    return total;
}

static char *put(char *out, const char *s, size_t n)
{
    memcpy(out, s, n);
    return out + n;
}

size_t sse_encode(char *out, const char *event, const char *id, const char *data, size_t len)
{
    char *p = out;
    if (event) {
        p = put(p, "event: ", 7);
        p = put(p, event, strlen(event));
        *p++ = '\n';
    }
    if (id) {
        p = put(p, "id: ", 4);
        p = put(p, id, strlen(id));
        *p++ = '\n';
    }
    size_t off = 0;
    for (;;) {
        size_t brk;
        size_t n = data_line(data + off, len - off, &brk);
        p = put(p, "data: ", 6);
        p = put(p, data + off, n);
        *p++ = '\n';
        off += n + brk;
        if (!brk)
            break;
    }
    *p++ = '\n';
    return (size_t)(p - out);
}

size_t sse_comment_len(const char *text)
{
    size_t n = strlen(text);
    if (strcspn(text, "\r\n") != n)
        return 0;
    return n ? n + 4 : 3;
}

size_t sse_comment(char *out, const char *text)
{
    size_t n = strlen(text);
    char *p = out;
    *p++ = ':';
    if (n) {
        *p++ = ' ';
        p = put(p, text, n);
    }
    *p++ = '\n';
    *p++ = '\n';
    return (size_t)(p - out);
}

/* ---- reading ------------------------------------------------------------------------- */

struct sse_reader {
    size_t max;
    char *in; /* unread input is in[off, len) */
    size_t off, len, cap;
    bool skip_lf;    /* the last line ended with a CR at the end of the input */
    bool bom_done;   /* the start of the stream was checked for a byte order mark */
    bool broken;     /* a limit was passed */
    bool dispatched; /* the last call returned an event: reset the accumulators first */
    char *data;      /* the event's data lines, each followed by "\n" */
    size_t data_len;
    bool has_data;
    char event[SSE_NAME_MAX + 1];
    char id[SSE_NAME_MAX + 1];
    long retry_ms;
};

int sse_reader_new(size_t max, struct sse_reader **out)
{
    struct sse_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return ERR_NOMEM;
    r->max = max;
    r->cap = max + SSE_FEED_SLACK;
    r->in = malloc(r->cap);
    r->data = malloc(max + 1);
    if (!r->in || !r->data) {
        sse_reader_free(r);
        return ERR_NOMEM;
    }
    r->retry_ms = -1;
    *out = r;
    return ERR_OK;
}

void sse_reader_free(struct sse_reader *r)
{
    if (!r)
        return;
    free(r->in);
    free(r->data);
    free(r);
}

int sse_reader_feed(struct sse_reader *r, const char *p, size_t n)
{
    if (r->broken)
        return ERR_TOOBIG;
    if (r->skip_lf && n > 0) {
        r->skip_lf = false;
        if (p[0] == '\n') {
            p++;
            n--;
        }
    }
    if (r->off > 0) { /* compact */
        memmove(r->in, r->in + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (n > r->cap - r->len) {
        r->broken = true;
        return ERR_TOOBIG;
    }
    memcpy(r->in + r->len, p, n);
    r->len += n;
    return ERR_OK;
}

/* Applies one field line (not blank, not a comment). ERR_OK or ERR_TOOBIG. */
static int field(struct sse_reader *r, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    size_t nlen = colon ? (size_t)(colon - line) : n;
    const char *v = colon ? colon + 1 : line + n;
    size_t vlen = (size_t)(line + n - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        if (vlen + 1 > r->max - r->data_len)
            return ERR_TOOBIG;
        memcpy(r->data + r->data_len, v, vlen);
        r->data_len += vlen;
        r->data[r->data_len++] = '\n';
        r->has_data = true;
    } else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
        if (vlen > SSE_NAME_MAX)
            return ERR_TOOBIG;
        memcpy(r->event, v, vlen);
        r->event[vlen] = '\0';
    } else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
        if (memchr(v, '\0', vlen))
            return ERR_OK; /* ignored, as the standard says */
        if (vlen > SSE_NAME_MAX)
            return ERR_TOOBIG;
        memcpy(r->id, v, vlen);
        r->id[vlen] = '\0';
    } else if (nlen == 5 && memcmp(line, "retry", 5) == 0) {
        long ms = 0;
        size_t i = 0;
        for (; i < vlen && i < 9 && v[i] >= '0' && v[i] <= '9'; i++)
            ms = ms * 10 + (v[i] - '0');
        if (vlen > 0 && i == vlen)
            r->retry_ms = ms;
    }
    return ERR_OK;
}

int sse_reader_next(struct sse_reader *r, struct sse_event *ev)
{
    if (r->broken)
        return ERR_TOOBIG;
    if (r->dispatched) {
        r->dispatched = false;
        r->data_len = 0;
        r->has_data = false;
        r->event[0] = '\0';
        r->retry_ms = -1;
    }
    if (!r->bom_done) {
        static const char bom[] = "\xEF\xBB\xBF";
        size_t have = r->len - r->off;
        size_t cmp = have < 3 ? have : 3;
        if (memcmp(r->in + r->off, bom, cmp) == 0) {
            if (have < 3)
                return 0; /* maybe a BOM: wait for the rest */
            r->off += 3;
        }
        r->bom_done = true;
    }
    for (;;) { /* one line per pass; ends when the input runs out or an event is ready */
        const char *line = r->in + r->off;
        size_t left = r->len - r->off;
        size_t n = 0;
        while (n < left && line[n] != '\n' && line[n] != '\r')
            n++;
        if (n > r->max) {
            r->broken = true;
            return ERR_TOOBIG;
        }
        if (n == left)
            return 0; /* a partial line: wait for more */
        size_t brk = 1;
        if (line[n] == '\r') {
            if (n + 1 < left && line[n + 1] == '\n')
                brk = 2;
            else if (n + 1 == left)
                r->skip_lf = true; /* a LF may start the next chunk */
        }
        r->off += n + brk;
        if (n == 0) {
            if (!r->has_data) {
                r->event[0] = '\0';
                continue;
            }
            r->data[--r->data_len] = '\0'; /* the last "\n" goes */
            ev->event = r->event[0] ? r->event : "message";
            ev->data = r->data;
            ev->data_len = r->data_len;
            ev->id = r->id;
            ev->retry_ms = r->retry_ms;
            r->dispatched = true;
            return 1;
        }
        if (line[0] == ':')
            continue;
        if (field(r, line, n) != ERR_OK) {
            r->broken = true;
            return ERR_TOOBIG;
        }
    }
}
