/*
 * Unit tests for the bounded string builder (src/core/dynbuf.c) in its three backings (arena,
 * heap, a caller's array): pieces append in order; the cap counts the NUL and holds to the
 * byte; a piece that does not fit is left out whole and every later append is refused; the
 * text keeps what came before; printf pieces that outgrow the buffer are written again in
 * full; decimal integers at their extremes; growth in place in an arena; out of memory
 * (the arena's cap) fails cleanly; reset, truncate, take and free.
 */
#include "unit.h"

#include <limits.h>
#include <stdio.h>

#include "core/dynbuf.h"
#include "core/err.h"

static void test_pieces_in_order(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct dynbuf d;
    dyn_init_arena(&d, a, 1024);
    assert_string_equal(dyn_str(&d), "");
    assert_int_equal(dyn_len(&d), 0);
    assert_int_equal(dyn_add(&d, "SELECT"), ERR_OK);
    assert_int_equal(dyn_addc(&d, ' '), ERR_OK);
    assert_int_equal(dyn_addn(&d, "id, title", 2), ERR_OK);
    assert_int_equal(dyn_add(&d, NULL), ERR_OK);
    assert_int_equal(dyn_addf(&d, " $%d/%s", 12, "x"), ERR_OK);
    assert_int_equal(dyn_add_int(&d, -7), ERR_OK);
    assert_string_equal(dyn_str(&d), "SELECT id $12/x-7");
    assert_int_equal(dyn_len(&d), strlen("SELECT id $12/x-7"));
    assert_int_equal(dyn_err(&d), ERR_OK);
    assert_string_equal(dyn_take(&d), "SELECT id $12/x-7");
    arena_free(a);
}

/* The cap is the buffer's size, NUL included, for every backing and kind of piece. */
static void test_cap_to_the_byte(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    for (int kind = 0; kind < 3; kind++) {
        char fixed[8];
        struct dynbuf d;
        if (kind == 0)
            dyn_init_arena(&d, a, 8);
        else if (kind == 1)
            dyn_init_heap(&d, 8);
        else
            dyn_init_fixed(&d, fixed, sizeof(fixed));
        assert_int_equal(dyn_add(&d, "abcdef"), ERR_OK);
        assert_int_equal(dyn_addc(&d, 'g'), ERR_OK); /* 7 characters + NUL: full */
        assert_string_equal(dyn_str(&d), "abcdefg");
        assert_int_equal(dyn_addc(&d, 'h'), ERR_TOOBIG);
        assert_string_equal(dyn_str(&d), "abcdefg");
        /* Sticky: even an empty piece now reports the failure. */
        assert_int_equal(dyn_add(&d, ""), ERR_TOOBIG);
        assert_int_equal(dyn_err(&d), ERR_TOOBIG);
        assert_null(dyn_take(&d)); /* frees a heap buffer */
        dyn_free(&d);
    }
    arena_free(a);
}

/* A piece that does not fit is left out whole, and so is everything after it. */
static void test_failure_is_clean_and_sticky(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct dynbuf d;
    dyn_init_arena(&d, a, 16);
    assert_int_equal(dyn_add(&d, "0123456789"), ERR_OK);
    assert_int_equal(dyn_add(&d, "abcdef"), ERR_TOOBIG); /* 16 + NUL > 16 */
    assert_string_equal(dyn_str(&d), "0123456789");
    assert_int_equal(dyn_add(&d, "x"), ERR_TOOBIG); /* would fit, but the builder failed */
    assert_int_equal(dyn_addf(&d, "%d", 1), ERR_TOOBIG);
    assert_int_equal(dyn_add_int(&d, 1), ERR_TOOBIG);
    assert_string_equal(dyn_str(&d), "0123456789");
    assert_int_equal(dyn_len(&d), 10);
    assert_null(dyn_take(&d));
    /* A formatted piece over the cap leaves no partial text behind either. */
    dyn_init_arena(&d, a, 16);
    assert_int_equal(dyn_add(&d, "abc"), ERR_OK);
    assert_int_equal(dyn_addf(&d, "%s", "a string far longer than sixteen bytes"), ERR_TOOBIG);
    assert_string_equal(dyn_str(&d), "abc");
    /* A caller can fail the builder itself; the first error stays. */
    dyn_init_arena(&d, a, 16);
    dyn_add(&d, "ok");
    dyn_fail(&d, ERR_NOMEM);
    dyn_fail(&d, ERR_TOOBIG);
    assert_int_equal(dyn_err(&d), ERR_NOMEM);
    assert_int_equal(dyn_add(&d, "x"), ERR_NOMEM);
    assert_string_equal(dyn_str(&d), "ok");
    /* reset clears the error and the text and keeps the buffer. */
    dyn_reset(&d);
    assert_int_equal(dyn_err(&d), ERR_OK);
    assert_string_equal(dyn_str(&d), "");
    assert_int_equal(dyn_add(&d, "fifteen chars.."), ERR_OK);
    assert_string_equal(dyn_str(&d), "fifteen chars..");
    arena_free(a);
}

/* printf pieces longer than the room left are formatted again in full after growing. */
static void test_printf_growth(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct dynbuf d;
    dyn_init_arena(&d, a, 100000);
    char want[20000];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(dyn_addf(&d, "%d,", i), ERR_OK);
        int w = snprintf(want + n, sizeof(want) - n, "%d,", i);
        assert_true(w > 0);
        n += (size_t)w;
    }
    assert_int_equal(dyn_len(&d), n);
    assert_string_equal(dyn_str(&d), want);
    /* One piece bigger than the buffer's current size. */
    dyn_reset(&d);
    assert_int_equal(dyn_add(&d, "<"), ERR_OK);
    assert_int_equal(dyn_addf(&d, "%5000s>", "x"), ERR_OK);
    assert_int_equal(dyn_len(&d), 5002);
    assert_int_equal(dyn_str(&d)[0], '<');
    assert_int_equal(dyn_str(&d)[4999], ' ');
    assert_int_equal(dyn_str(&d)[5000], 'x');
    assert_int_equal(dyn_str(&d)[5001], '>');
    /* Exactly the cap: fits; one more byte: refused. */
    struct dynbuf e;
    dyn_init_arena(&e, a, 11);
    assert_int_equal(dyn_addf(&e, "%010d", 42), ERR_OK);
    assert_string_equal(dyn_str(&e), "0000000042");
    dyn_init_arena(&e, a, 11);
    assert_int_equal(dyn_addf(&e, "%011d", 42), ERR_TOOBIG);
    assert_string_equal(dyn_str(&e), "");
    arena_free(a);
}

static void test_integers(void **state)
{
    (void)state;
    char buf[256];
    struct dynbuf d;
    dyn_init_fixed(&d, buf, sizeof(buf));
    static const int64_t values[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char want[32];
        snprintf(want, sizeof(want), "%lld", (long long)values[i]);
        dyn_reset(&d);
        assert_int_equal(dyn_add_int(&d, values[i]), ERR_OK);
        assert_string_equal(dyn_str(&d), want);
    }
    /* An integer is one piece: all of it or nothing. */
    char small[4];
    dyn_init_fixed(&d, small, sizeof(small));
    assert_int_equal(dyn_add_int(&d, 12), ERR_OK);
    assert_int_equal(dyn_add_int(&d, 34), ERR_TOOBIG);
    assert_string_equal(small, "12");
}

/* The builder is usually the arena's newest allocation: it then grows in place, so a long
 * text costs about its own size, not the sum of every doubling. Interleaved allocations
 * force copies and must not lose text. */
static void test_arena_growth(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct dynbuf d;
    dyn_init_arena(&d, a, 8000);
    for (int i = 0; i < 700; i++)
        assert_int_equal(dyn_add(&d, "0123456789"), ERR_OK);
    assert_int_equal(dyn_len(&d), 7000);
    assert_true(arena_used(a) <= 8192);
    assert_int_equal(dyn_add(&d, "0123456789"), ERR_OK); /* 7010 < 8000 */
    arena_free(a);

    a = arena_new();
    dyn_init_arena(&d, a, 1 << 20);
    char want[4096];
    for (int i = 0; i < 300; i++) {
        assert_non_null(arena_alloc(a, 24)); /* someone else allocates in between */
        assert_int_equal(dyn_add(&d, "abcdefghij"), ERR_OK);
        memcpy(want + 10 * i, "abcdefghij", 10);
    }
    want[3000] = '\0';
    assert_string_equal(dyn_str(&d), want);
    arena_free(a);
}

/* The arena's own cap (ARENA_MAX_BYTES) is out of memory: ERR_NOMEM, the text intact. */
static void test_out_of_memory(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    struct dynbuf d;
    dyn_init_arena(&d, a, (size_t)ARENA_MAX_BYTES * 2);
    assert_int_equal(dyn_add(&d, "kept"), ERR_OK);
    assert_int_equal(dyn_addf(&d, "%*s", (int)(ARENA_MAX_BYTES + 16), ""), ERR_NOMEM);
    assert_int_equal(dyn_err(&d), ERR_NOMEM);
    assert_string_equal(dyn_str(&d), "kept");
    assert_int_equal(dyn_add(&d, "x"), ERR_NOMEM);
    assert_null(dyn_take(&d));
    arena_free(a);
}

/* Heap builders hand their text over (the caller frees it) or free it; ASan checks leaks. */
static void test_heap_take_and_free(void **state)
{
    (void)state;
    struct dynbuf d;
    dyn_init_heap(&d, 4096);
    char *empty = dyn_take(&d);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    free(empty);
    for (int i = 0; i < 100; i++)
        assert_int_equal(dyn_addf(&d, "%02d", i), ERR_OK);
    char *s = dyn_take(&d);
    assert_non_null(s);
    assert_int_equal(strlen(s), 200);
    assert_memory_equal(s, "0001020304", 10);
    free(s);
    /* The builder is empty again and can be reused. */
    assert_int_equal(dyn_len(&d), 0);
    assert_int_equal(dyn_add(&d, "again"), ERR_OK);
    dyn_free(&d);
    dyn_free(&d); /* twice is harmless */
}

static void test_truncate_and_fixed_edges(void **state)
{
    (void)state;
    char buf[32];
    struct dynbuf d;
    dyn_init_fixed(&d, buf, sizeof(buf));
    assert_int_equal(dyn_add(&d, "key=a&key=b&"), ERR_OK);
    dyn_truncate(&d, dyn_len(&d) - 1);
    assert_string_equal(dyn_str(&d), "key=a&key=b");
    dyn_truncate(&d, 100); /* longer than the text: nothing changes */
    assert_string_equal(buf, "key=a&key=b");
    assert_ptr_equal(dyn_take(&d), buf);
    /* A one-byte array holds the empty string and nothing else. */
    char one[1] = {'x'};
    dyn_init_fixed(&d, one, 1);
    assert_int_equal(one[0], '\0');
    assert_int_equal(dyn_add(&d, ""), ERR_OK);
    assert_int_equal(dyn_addc(&d, 'a'), ERR_TOOBIG);
    /* No array at all: failed from the start, never written. */
    dyn_init_fixed(&d, NULL, 0);
    assert_int_equal(dyn_err(&d), ERR_TOOBIG);
    assert_string_equal(dyn_str(&d), "");
    assert_null(dyn_take(&d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_in_order),
        cmocka_unit_test(test_cap_to_the_byte),
        cmocka_unit_test(test_failure_is_clean_and_sticky),
        cmocka_unit_test(test_printf_growth),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_arena_growth),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_heap_take_and_free),
        cmocka_unit_test(test_truncate_and_fixed_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
