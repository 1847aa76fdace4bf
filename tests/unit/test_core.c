/* test_core.c - core: checksums and hashes stored in files (their values
 * must never change), buffers, allocation failure. */
#include "testutil.h"

#include "core.h"

static void test_crc32(void **st)
{
    unsigned char b[1000];
    uint32_t whole, parts;
    (void)st;
    /* the standard check value of CRC-32/ISO-HDLC */
    assert_int_equal(kefu_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(kefu_crc32(0, "", 0), 0);
    for (int i = 0; i < 1000; i++)
        b[i] = (unsigned char)(i * 7);
    assert_int_equal(kefu_crc32(0, b, 1000), 0x114AD5FFu); /* = zlib.crc32 */
    /* incremental over odd splits gives the same value */
    whole = kefu_crc32(0, b, 1000);
    parts = kefu_crc32(kefu_crc32(kefu_crc32(0, b, 3), b + 3, 500), b + 503, 497);
    assert_int_equal(whole, parts);
}

static void test_hash64_is_stable(void **st)
{
    (void)st;
    /* feature ids in binary models depend on these values */
    assert_true(kefu_hash64("hello", 5, 1) == 0x4cc271528e49086dULL);
    assert_true(kefu_hash64("", 0, 0) == 0x9ca066f1a4ab2eeaULL);
    assert_true(kefu_hash64("hello", 5, 2) != kefu_hash64("hello", 5, 1));
    {
        /* the pair form is the byte form of the two words, little-endian */
        uint64_t a = 0x0123456789abcdefULL, b = 0xfedcba9876543210ULL;
        unsigned char bytes[16];
        for (int i = 0; i < 8; i++) {
            bytes[i] = (unsigned char)(a >> (8 * i));
            bytes[8 + i] = (unsigned char)(b >> (8 * i));
        }
        assert_true(kefu_hash64_pair(a, b, 7) == kefu_hash64(bytes, 16, 7));
        assert_true(kefu_hash64_pair(b, a, 7) != kefu_hash64_pair(a, b, 7));
    }
}

static void test_buffers(void **st)
{
    kefu_mem mem;
    kefu_buf b = {0};
    int *arr = NULL;
    size_t cap = 0;
    (void)st;
    kefu_mem_init(&mem, NULL);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(kefu_buf_putc(&mem, &b, (char)('a' + i % 26)), KEFU_OK);
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.data[1000], '\0');
    kefu_buf_release(&mem, &b);
    assert_int_equal(kefu_grow(&mem, (void **)&arr, &cap, 100, sizeof *arr), KEFU_OK);
    assert_true(cap >= 100);
    assert_int_equal(kefu_grow(&mem, (void **)&arr, &cap, SIZE_MAX / 2, sizeof *arr), KEFU_E_NOMEM);
    assert_true(cap >= 100); /* unchanged */
    kefu_dealloc(&mem, arr);
    assert_null(kefu_alloc_array(&mem, SIZE_MAX / 2, 4));
}

static void test_failing_allocator(void **st)
{
    tu_failing_alloc f = {0, 0};
    kefu_allocator a = tu_failing_allocator(&f);
    kefu_mem mem;
    (void)st;
    kefu_mem_init(&mem, &a);
    assert_null(kefu_alloc(&mem, 10));
    assert_null(kefu_strdup(&mem, "x"));
    assert_null(kefu_diag_new(&a));
}

/*
 * The init functions of the public structs write only the caller's size:
 * a program built against an older, smaller struct is never written past
 * its end by a newer library.  Guard bytes after the given size must
 * stay as they were.
 */
static void test_init_writes_only_callers_size(void **st)
{
    _Alignas(max_align_t) unsigned char
        buf[sizeof(kefu_turn) + sizeof(kefu_train_options) + 64];
    kefu_turn *t = (kefu_turn *)(void *)buf;
    kefu_train_options *o = (kefu_train_options *)(void *)buf;
    kefu_turn whole;
    uint32_t part = (uint32_t)offsetof(kefu_turn, external_emotion);
    (void)st;
    /* the macros pass the caller's sizeof and set the defaults */
    kefu_turn_init(&whole);
    assert_int_equal(whole.size, sizeof whole);
    assert_int_equal(whole.external_emotion, -1);
    assert_int_equal(whole.wait_ms, -1);
    assert_null(whole.channel);
    /* an older, shorter kefu_turn: the bytes past it are not touched */
    memset(buf, 0xAA, sizeof buf);
    kefu_turn_init_size(t, part);
    assert_int_equal(t->size, part);
    assert_int_equal(t->time_ms, 0);
    for (size_t i = part; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    /* the whole struct, in a larger buffer */
    memset(buf, 0xAA, sizeof buf);
    kefu_turn_init_size(t, sizeof(kefu_turn));
    assert_int_equal(t->wait_ms, -1);
    for (size_t i = sizeof(kefu_turn); i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    /* training options: the same */
    memset(buf, 0xAA, sizeof buf);
    kefu_train_options_init_size(o, (uint32_t)offsetof(kefu_train_options, epochs));
    assert_int_equal(o->task, KEFU_TASK_INTENT);
    for (size_t i = offsetof(kefu_train_options, epochs); i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    memset(buf, 0xAA, sizeof buf);
    kefu_train_options_init(o);
    assert_int_equal(o->size, sizeof *o);
    assert_int_equal(o->epochs, 0);
    assert_null(o->progress);
    for (size_t i = sizeof *o; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    /* the functions under the macros' names (programs built against
     * 0.1.0 call them): the 0.1.0 structs, today the whole of them */
    memset(buf, 0xAA, sizeof buf);
    (kefu_turn_init)(t);
    assert_int_equal(t->size, sizeof(kefu_turn));
    assert_int_equal(t->external_emotion, -1);
    (kefu_train_options_init)(o);
    assert_int_equal(o->size, sizeof(kefu_train_options));
    assert_null(o->user);
    for (size_t i = sizeof(kefu_turn) > sizeof *o ? sizeof(kefu_turn) : sizeof *o;
         i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    /* too small to hold even `size`, or NULL: nothing is written */
    memset(buf, 0xAA, sizeof buf);
    kefu_turn_init_size(t, 3);
    kefu_train_options_init_size(o, 0);
    kefu_turn_init_size(NULL, sizeof(kefu_turn));
    kefu_train_options_init_size(NULL, sizeof(kefu_train_options));
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_hash64_is_stable),
        cmocka_unit_test(test_buffers),
        cmocka_unit_test(test_failing_allocator),
        cmocka_unit_test(test_init_writes_only_callers_size),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
