/*
 * Unit tests for Server-Sent Events framing and parsing (src/core/sse.c): multi-line data
 * in every line-break style, names that cannot be framed, comments, and a reader fed in
 * chunks of every size (CR LF split across chunks, a byte order mark, comments, unknown
 * fields, ids that persist, the limits).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/sse.h"
#include "core/util.h"

/* Frames an event into a fresh heap string. */
static char *frame(const char *event, const char *id, const char *data)
{
    size_t n = sse_encoded_len(event, id, data, strlen(data));
    assert_true(n > 0);
    char *out = malloc(n + 1);
    assert_non_null(out);
    assert_int_equal(sse_encode(out, event, id, data, strlen(data)), n);
    out[n] = '\0';
    return out;
}

static void test_framing(void **state)
{
    (void)state;
    char *s = frame(NULL, NULL, "hello");
    assert_string_equal(s, "data: hello\n\n");
    free(s);
    s = frame("delta", "7", "{\"text\":\"a\"}");
    assert_string_equal(s, "event: delta\nid: 7\ndata: {\"text\":\"a\"}\n\n");
    free(s);
    s = frame("m", NULL, "one\ntwo\r\nthree\rfour");
    assert_string_equal(s, "event: m\ndata: one\ndata: two\ndata: three\ndata: four\n\n");
    free(s);
    s = frame(NULL, NULL, "");
    assert_string_equal(s, "data: \n\n");
    free(s);
    s = frame(NULL, NULL, "ends\n");
    assert_string_equal(s, "data: ends\ndata: \n\n");
    free(s);
    /* Names that would break the framing are refused. */
    assert_int_equal(sse_encoded_len("a\nb", NULL, "x", 1), 0);
    assert_int_equal(sse_encoded_len(NULL, "1\r", "x", 1), 0);
    char big[SSE_NAME_MAX + 2];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sse_encoded_len(big, NULL, "x", 1), 0);
    assert_int_equal(sse_encoded_len(NULL, NULL, "a\0b", 3), 0);
    char c[32];
    assert_int_equal(sse_comment_len("ping"), 8);
    assert_int_equal(sse_comment(c, "ping"), 8);
    assert_memory_equal(c, ": ping\n\n", 8);
    assert_int_equal(sse_comment(c, ""), 3);
    assert_memory_equal(c, ":\n\n", 3);
    assert_int_equal(sse_comment_len("a\nb"), 0);
}

/* Collected events of a reader run, as "event|id|data" lines. */
struct run {
    char out[4096];
    size_t len;
    int rc;
};

static void drain(struct sse_reader *r, struct run *run)
{
    struct sse_event ev;
    int rc;
    while ((rc = sse_reader_next(r, &ev)) == 1) {
        assert_int_equal(strlen(ev.data), ev.data_len);
        int n = snprintf(run->out + run->len, sizeof(run->out) - run->len, "%s|%s|%s\n", ev.event,
                         ev.id, ev.data);
        assert_true(n > 0 && (size_t)n < sizeof(run->out) - run->len);
        run->len += (size_t)n;
    }
    if (rc < 0)
        run->rc = rc;
}

/* Feeds text in chunks of `step` bytes, draining after each. */
static void read_in_steps(const char *text, size_t step, size_t max, struct run *run)
{
    struct sse_reader *r = NULL;
    assert_int_equal(sse_reader_new(max, &r), ERR_OK);
    memset(run, 0, sizeof(*run));
    size_t len = strlen(text);
    for (size_t off = 0; off < len && run->rc == 0; off += step) {
        size_t n = len - off < step ? len - off : step;
        int rc = sse_reader_feed(r, text + off, n);
        if (rc != ERR_OK) {
            run->rc = rc;
            break;
        }
        drain(r, run);
    }
    sse_reader_free(r);
}

static void test_reader_chunks(void **state)
{
    (void)state;
    static const char stream[] = "\xEF\xBB\xBF"
                                 ": a comment\r\n"
                                 "data: first\r\n\r\n"
                                 "event: delta\rid: 1\rdata: two\rdata:lines\r\r"
                                 "unknown: x\n"
                                 "data\n\n"
                                 "retry: 2500\n"
                                 "event: done\n"
                                 "data: {\"ok\":true}\n\n"
                                 "event: ignored-no-data\n\n"
                                 "data: after\n\n"
                                 "data: partial-never-ended\n";
    static const char want[] = "message||first\n"
                               "delta|1|two\nlines\n"
                               "message|1|\n"
                               "done|1|{\"ok\":true}\n"
                               "message|1|after\n";
    for (size_t step = 1; step <= sizeof(stream); step++) {
        struct run run;
        read_in_steps(stream, step, 1024, &run);
        assert_int_equal(run.rc, 0);
        if (strcmp(run.out, want) != 0)
            fail_msg("step %zu: got\n%s", step, run.out);
    }
}

static void test_reader_roundtrip(void **state)
{
    (void)state;
    static const char *const datas[] = {"plain", "two\nlines", "crlf\r\nbreaks", "", "a\n\nb"};
    static const char *const want[] = {"plain", "two\nlines", "crlf\nbreaks", "", "a\n\nb"};
    for (size_t i = 0; i < ARRAY_LEN(datas); i++) {
        char *f = frame("e", NULL, datas[i]);
        struct sse_reader *r = NULL;
        assert_int_equal(sse_reader_new(256, &r), ERR_OK);
        assert_int_equal(sse_reader_feed(r, f, strlen(f)), ERR_OK);
        struct sse_event ev;
        assert_int_equal(sse_reader_next(r, &ev), 1);
        assert_string_equal(ev.event, "e");
        assert_string_equal(ev.data, want[i]);
        assert_int_equal(sse_reader_next(r, &ev), 0);
        sse_reader_free(r);
        free(f);
    }
}

static void test_reader_limits(void **state)
{
    (void)state;
    /* A line longer than the limit. */
    char line[200];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    char text[400];
    snprintf(text, sizeof(text), "data: %s\n\n", line);
    struct run run;
    read_in_steps(text, 7, 64, &run);
    assert_int_equal(run.rc, ERR_TOOBIG);
    /* Data over the limit from many short lines. */
    char many[2048] = "";
    size_t off = 0;
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "data: 0123456789\n");
    snprintf(many + off, sizeof(many) - off, "\n");
    read_in_steps(many, 100, 128, &run);
    assert_int_equal(run.rc, ERR_TOOBIG);
    /* The same with a roomy limit works. */
    read_in_steps(many, 100, 4096, &run);
    assert_int_equal(run.rc, 0);
    /* Unread input over the limit plus the slack is refused at feed. */
    struct sse_reader *r = NULL;
    assert_int_equal(sse_reader_new(16, &r), ERR_OK);
    static char blob[SSE_FEED_SLACK + 64];
    memset(blob, 'a', sizeof(blob));
    assert_int_equal(sse_reader_feed(r, blob, sizeof(blob)), ERR_TOOBIG);
    struct sse_event ev;
    assert_int_equal(sse_reader_next(r, &ev), ERR_TOOBIG);
    sse_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_reader_chunks),
        cmocka_unit_test(test_reader_roundtrip),
        cmocka_unit_test(test_reader_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
