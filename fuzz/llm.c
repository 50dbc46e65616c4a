/*
 * Fuzz target: the OpenAI-compatible streaming response parser (assistant/llm.c) behind the
 * Server-Sent Events reader (core/sse.c), fed as httpc feeds them: bytes as they arrive,
 * then every complete event's data to llm_reader_chunk. The first byte picks the mode:
 *   even  the rest is a stream. It is read twice — whole, and cut into pieces at places
 *         the next bytes choose (inside a line, an escape or a UTF-8 sequence) — and the
 *         two answers must be the same, with the text deltas adding up to the answer's text;
 *   odd   the rest is a whole chat.completion body (llm_reader_completion) and an error body
 *         (llm_error_message).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assistant/llm.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/sse.h"

#define EVENT_MAX (64 * 1024)
#define INPUT_MAX (32 * 1024)

struct run {
    struct arena *a;
    struct llm_reader *r;
    char *deltas; /* the on_text deltas, joined */
    size_t deltas_len;
    int rc; /* the first failure, or ERR_OK */
};

static void on_text(void *ctx, const char *p, size_t n)
{
    struct run *run = ctx;
    if (run->deltas_len + n > LLM_TEXT_MAX + 1) {
        fprintf(stderr, "fuzz: text deltas past LLM_TEXT_MAX\n");
        abort();
    }
    memcpy(run->deltas + run->deltas_len, p, n);
    run->deltas_len += n;
}

/* Reads stream in pieces: cuts[i] is the size of piece i (0: the rest at once). */
static void read_stream(struct run *run, const char *stream, size_t len, const uint8_t *cuts,
                        size_t ncuts)
{
    run->a = arena_new();
    run->deltas = malloc(LLM_TEXT_MAX + 2);
    run->deltas_len = 0;
    run->rc = ERR_OK;
    run->r = run->a ? llm_reader_new(run->a, on_text, run) : NULL;
    struct sse_reader *sse = NULL;
    if (!run->r || !run->deltas || sse_reader_new(EVENT_MAX, &sse) != ERR_OK)
        abort();
    size_t off = 0, i = 0;
    while (off < len && run->rc == ERR_OK) {
        size_t n = i < ncuts && cuts[i] ? cuts[i] : len - off;
        i++;
        if (n > len - off)
            n = len - off;
        if (sse_reader_feed(sse, stream + off, n) != ERR_OK) {
            run->rc = ERR_TOOBIG;
            break;
        }
        off += n;
        for (;;) {
            struct sse_event ev;
            int got = sse_reader_next(sse, &ev);
            if (got == 0)
                break;
            if (got < 0) {
                run->rc = ERR_TOOBIG;
                break;
            }
            int rc = llm_reader_chunk(run->r, ev.data, ev.data_len);
            if (rc != ERR_OK) {
                run->rc = rc;
                break;
            }
        }
    }
    sse_reader_free(sse);
}

static void run_free(struct run *run)
{
    free(run->deltas);
    arena_free(run->a);
}

static bool same_text(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void check_same(struct run *x, struct run *y)
{
    const struct llm_answer *a = llm_reader_answer(x->r), *b = llm_reader_answer(y->r);
    bool same = x->rc == y->rc;
    if (same && x->rc == ERR_OK) {
        same = same_text(a->text, a->text_len, b->text, b->text_len) && a->ncalls == b->ncalls &&
               strcmp(a->finish_reason, b->finish_reason) == 0 && a->complete == b->complete &&
               ((!a->error && !b->error) || (a->error && b->error && !strcmp(a->error, b->error)));
        for (size_t i = 0; same && i < a->ncalls; i++)
            same = strcmp(a->calls[i].id, b->calls[i].id) == 0 &&
                   strcmp(a->calls[i].name, b->calls[i].name) == 0 &&
                   same_text(a->calls[i].arguments, a->calls[i].args_len, b->calls[i].arguments,
                             b->calls[i].args_len);
    }
    if (!same) {
        fprintf(stderr,
                "fuzz: the stream read whole and in pieces gave different answers "
                "(rc %d / %d)\n",
                x->rc, y->rc);
        abort();
    }
    for (struct run *r = x; r; r = r == x ? y : NULL) {
        const struct llm_answer *ans = llm_reader_answer(r->r);
        if (r->rc == ERR_OK && !same_text(r->deltas, r->deltas_len, ans->text, ans->text_len)) {
            fprintf(stderr, "fuzz: the text deltas do not add up to the answer's text\n");
            abort();
        }
        if (ans->ncalls > LLM_MAX_CALLS || ans->text_len > LLM_TEXT_MAX)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > INPUT_MAX)
        return 0;
    if (data[0] & 1) {
        struct arena *a = arena_new();
        struct llm_reader *r = a ? llm_reader_new(a, NULL, NULL) : NULL;
        if (!r)
            abort();
        llm_reader_completion(r, (const char *)data + 1, size - 1);
        const struct llm_answer *ans = llm_reader_answer(r);
        if (ans->ncalls > LLM_MAX_CALLS || ans->text_len > LLM_TEXT_MAX)
            abort();
        const char *msg = llm_error_message(a, (const char *)data + 1, size - 1, 200);
        if (msg && strlen(msg) > 200) /* cut to max bytes */
            abort();
        arena_free(a);
        return 0;
    }
    /* Byte 1 says how many cut sizes follow; the stream is the rest. */
    size_t ncuts = size > 1 ? data[1] % 16 : 0;
    if (size < 2 + ncuts)
        return 0;
    const uint8_t *cuts = data + 2;
    const char *stream = (const char *)data + 2 + ncuts;
    size_t len = size - 2 - ncuts;
    static uint8_t ones[INPUT_MAX]; /* no cut sizes given: one byte at a time */
    if (!ones[0])
        memset(ones, 1, sizeof(ones));
    struct run whole, pieces;
    read_stream(&whole, stream, len, NULL, 0);
    read_stream(&pieces, stream, len, ncuts ? cuts : ones, ncuts ? ncuts : len);
    check_same(&whole, &pieces);
    run_free(&whole);
    run_free(&pieces);
    return 0;
}
