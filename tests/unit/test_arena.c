/*
 * Unit tests for the per-request arena (src/core/arena.c): 16-byte alignment, growth past
 * the first block with earlier data intact, the ARENA_MAX_BYTES cap, the string helpers
 * and arena_printf, the per-thread cache, and the yyjson allocator (in-place realloc of the
 * newest allocation, copying otherwise).
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/arena.h"

#define MIB (1024u * 1024u)

static bool aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

static void test_alignment(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    assert_int_equal(arena_used(a), 0);
    static const size_t sizes[] = {1, 3, 16, 17, 33, 0, 100, 7, 4095, 1};
    size_t expect = 0;
    unsigned char *prev = NULL;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = arena_alloc(a, sizes[i]);
        assert_non_null(p);
        assert_true(aligned16(p));
        size_t rounded = sizes[i] ? (sizes[i] + 15) & ~(size_t)15 : 16;
        expect += rounded;
        assert_int_equal(arena_used(a), expect);
        /* Allocations do not overlap: each starts after the previous one. */
        if (prev)
            assert_true(p >= prev + 1);
        memset(p, 0xab, sizes[i]);
        prev = p;
    }
    /* Strings and zeroed memory are aligned too. */
    assert_true(aligned16(arena_strdup(a, "x")));
    assert_true(aligned16(arena_calloc(a, 3, 5)));
    arena_free(a);
}

static void test_growth_keeps_data(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    enum { N = 64, CHUNK = 3000 };
    unsigned char *chunks[N];
    for (int i = 0; i < N; i++) {
        chunks[i] = arena_alloc(a, CHUNK);
        assert_non_null(chunks[i]);
        assert_true(aligned16(chunks[i]));
        memset(chunks[i], i, CHUNK);
    }
    /* 64 × 3008 bytes is far beyond the first 16 KiB block. */
    assert_true(arena_used(a) > ARENA_FIRST_BLOCK * 4);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < CHUNK; j += 499)
            assert_int_equal(chunks[i][j], i);
    /* One allocation bigger than any block so far. */
    unsigned char *big = arena_alloc(a, 1 * MIB + 1);
    assert_non_null(big);
    memset(big, 0x5a, 1 * MIB + 1);
    assert_int_equal(chunks[0][0], 0);
    assert_int_equal(chunks[N - 1][CHUNK - 1], N - 1);
    arena_free(a);
}

static void test_cap(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    assert_null(arena_alloc(a, (size_t)ARENA_MAX_BYTES + 1));
    assert_null(arena_alloc(a, SIZE_MAX));
    assert_null(arena_calloc(a, SIZE_MAX / 2, 4)); /* n × size overflows */
    size_t before = arena_used(a);
    /* 40 MiB fits; a second 40 MiB would pass the 96 MiB cap. */
    void *p = arena_alloc(a, 40 * MIB);
    assert_non_null(p);
    assert_null(arena_alloc(a, 40 * MIB));
    assert_int_equal(arena_used(a), before + 40 * MIB);
    /* A refusal leaves the arena usable. */
    char *s = arena_strdup(a, "still works");
    assert_non_null(s);
    assert_string_equal(s, "still works");
    arena_free(a);

    /* Many small allocations stop at the cap instead of growing without bound. */
    a = arena_new();
    assert_non_null(a);
    size_t got = 0;
    while (arena_alloc(a, 4 * MIB))
        got += 4 * MIB;
    assert_true(got > 0);
    assert_true(got <= ARENA_MAX_BYTES);
    assert_true(arena_used(a) <= ARENA_MAX_BYTES);
    arena_free(a);
}

static void test_strings(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    assert_null(arena_strdup(a, NULL));
    char *s = arena_strdup(a, "hello");
    assert_string_equal(s, "hello");
    char *n = arena_strndup(a, "hello world", 5);
    assert_string_equal(n, "hello");
    assert_string_equal(arena_strndup(a, "", 0), "");
    /* strndup copies exactly len bytes, NULs included. */
    char *z = arena_strndup(a, "a\0b", 3);
    assert_memory_equal(z, "a\0b", 4);
    unsigned char *c = arena_calloc(a, 100, 3);
    assert_non_null(c);
    for (int i = 0; i < 300; i++)
        assert_int_equal(c[i], 0);
    arena_free(a);
}

static void test_printf(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    char *s = arena_printf(a, "%s-%d-%05.1f", "abc", 42, 3.25);
    assert_string_equal(s, "abc-42-003.2");
    assert_string_equal(arena_printf(a, "%s", ""), "");
    /* Longer than the first block. */
    char *wide = arena_printf(a, "%*s|", 100000, "x");
    assert_non_null(wide);
    assert_int_equal(strlen(wide), 100001);
    assert_int_equal(wide[99999], 'x');
    assert_int_equal(wide[100000], '|');
    /* Past the cap: NULL, not a truncated string. */
    assert_null(arena_printf(a, "%*s", (int)ARENA_MAX_BYTES + 16, "y"));
    assert_string_equal(s, "abc-42-003.2");
    arena_free(a);
}

static void test_free_and_reuse(void **state)
{
    (void)state;
    arena_free(NULL);
    struct arena *arenas[12];
    for (int i = 0; i < 12; i++) {
        arenas[i] = arena_new();
        assert_non_null(arenas[i]);
        assert_int_equal(arena_used(arenas[i]), 0);
        /* Each grows past its first block before going back to the cache. */
        assert_non_null(arena_alloc(arenas[i], 3 * ARENA_FIRST_BLOCK));
    }
    for (int i = 0; i < 12; i++)
        arena_free(arenas[i]);
    /* Recycled arenas start empty and work as new. */
    for (int i = 0; i < 12; i++) {
        arenas[i] = arena_new();
        assert_non_null(arenas[i]);
        assert_int_equal(arena_used(arenas[i]), 0);
        char *p = arena_alloc(arenas[i], ARENA_FIRST_BLOCK);
        assert_non_null(p);
        memset(p, 1, ARENA_FIRST_BLOCK);
    }
    for (int i = 0; i < 12; i++)
        arena_free(arenas[i]);
}

static void test_yyjson_realloc_in_place(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    assert_ptr_equal(alc.ctx, a);

    char *p = alc.malloc(alc.ctx, 32);
    assert_non_null(p);
    memcpy(p, "0123456789abcdef0123456789abcde", 32);
    size_t used = arena_used(a);
    /* The newest allocation grows where it is. */
    char *q = alc.realloc(alc.ctx, p, 32, 200);
    assert_ptr_equal(q, p);
    assert_int_equal(arena_used(a), used - 32 + 208);
    assert_memory_equal(q, "0123456789abcdef0123456789abcde", 32);
    /* And shrinks where it is, giving the room back. */
    q = alc.realloc(alc.ctx, q, 200, 48);
    assert_ptr_equal(q, p);
    assert_int_equal(arena_used(a), used - 32 + 48);
    /* The next allocation follows the shrunk one. */
    char *r = alc.malloc(alc.ctx, 16);
    assert_ptr_equal(r, p + 48);

    /* An older allocation moves, with its content. */
    char *moved = alc.realloc(alc.ctx, p, 48, 64);
    assert_non_null(moved);
    assert_ptr_not_equal(moved, p);
    assert_memory_equal(moved, "0123456789abcdef0123456789abcde", 32);
    /* The newest allocation moves when its block is full, content kept. */
    char *grown = alc.realloc(alc.ctx, moved, 64, 4 * ARENA_FIRST_BLOCK);
    assert_non_null(grown);
    assert_ptr_not_equal(grown, moved);
    assert_memory_equal(grown, "0123456789abcdef0123456789abcde", 32);
    alc.free(alc.ctx, grown); /* a no-op */
    assert_non_null(alc.realloc(alc.ctx, NULL, 0, 10));
    arena_free(a);
}

static void test_yyjson_documents(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    yyjson_alc alc;
    arena_yyjson_alc(a, &alc);
    /* Build and write a document far larger than the first block. */
    yyjson_mut_doc *doc = yyjson_mut_doc_new(&alc);
    assert_non_null(doc);
    yyjson_mut_val *arr = yyjson_mut_arr(doc);
    yyjson_mut_doc_set_root(doc, arr);
    for (int i = 0; i < 5000; i++) {
        yyjson_mut_val *o = yyjson_mut_arr_add_obj(doc, arr);
        assert_non_null(o);
        assert_true(yyjson_mut_obj_add_int(doc, o, "i", i));
        assert_true(yyjson_mut_obj_add_strcpy(doc, o, "s", "some text to copy"));
    }
    size_t len = 0;
    char *text = yyjson_mut_write_opts(doc, 0, &alc, &len, NULL);
    assert_non_null(text);
    assert_true(len > ARENA_FIRST_BLOCK);
    assert_int_equal(strlen(text), len);
    /* Read it back through the same allocator. */
    yyjson_doc *back = yyjson_read_opts(text, len, 0, &alc, NULL);
    assert_non_null(back);
    yyjson_val *root = yyjson_doc_get_root(back);
    assert_int_equal(yyjson_arr_size(root), 5000);
    yyjson_val *last = yyjson_arr_get(root, 4999);
    assert_int_equal(yyjson_get_int(yyjson_obj_get(last, "i")), 4999);
    assert_string_equal(yyjson_get_str(yyjson_obj_get(last, "s")), "some text to copy");
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_growth_keeps_data),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_free_and_reuse),
        cmocka_unit_test(test_yyjson_realloc_in_place),
        cmocka_unit_test(test_yyjson_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
