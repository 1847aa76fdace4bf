/* test_text.c - the text stage: validation, normalisation, tokens, offsets. */
#include "testutil.h"

static kefu_text *mk(void)
{
    kefu_text *t = NULL;
    assert_int_equal(kefu_text_new(&t, NULL), KEFU_OK);
    return t;
}

static const char *norm(kefu_text *t, const char *s)
{
    size_t n;
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    return kefu_text_normalized(t, &n);
}

static kefu_token tok(kefu_text *t, size_t i)
{
    kefu_token k;
    memset(&k, 0, sizeof k);
    k.size = sizeof k;
    assert_int_equal(kefu_text_token(t, i, &k), KEFU_OK);
    return k;
}

static void test_nfkc_casefold_width(void **st)
{
    kefu_text *t = mk();
    (void)st;
    assert_string_equal(norm(t, "ＡＢＣ１２３"), "abc123");
    assert_string_equal(norm(t, "Straße"), "strasse");
    assert_string_equal(norm(t, "cafe\xcc\x81"), "caf\xc3\xa9"); /* e + U+0301 composes */
    assert_string_equal(norm(t, "ﬁne"), "fine");                 /* ligature */
    assert_string_equal(norm(t, "你好！？"), "你好!?");
    kefu_text_free(t);
}

static void test_whitespace_folding(void **st)
{
    kefu_text *t = mk();
    (void)st;
    assert_string_equal(norm(t, "  a \t\n b\xe3\x80\x80" "c  "), "a b c");
    assert_string_equal(norm(t, "   "), "");
    assert_int_equal(kefu_text_token_count(t), 0);
    kefu_text_free(t);
}

static void test_t2s(void **st)
{
    kefu_text *t = mk();
    (void)st;
    assert_string_equal(norm(t, "我的訂單在哪裡"), "我的订单在哪里");
    assert_int_equal(kefu_text_set(t, KEFU_TEXT_T2S, 0), KEFU_OK);
    assert_string_equal(norm(t, "訂單"), "訂單");
    kefu_text_free(t);
}

static void test_tokens_mixed(void **st)
{
    kefu_text *t = mk();
    kefu_token k;
    const char *s = "订单 Order#123 没到!!! 😡";
    (void)st;
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    assert_int_equal(kefu_text_token_count(t), 9);
    k = tok(t, 0);
    assert_int_equal(k.kind, KEFU_TOKEN_CJK);
    assert_int_equal(k.byte_start, 0);
    assert_int_equal(k.byte_end, 3);
    k = tok(t, 2);
    assert_int_equal(k.kind, KEFU_TOKEN_WORD);
    assert_int_equal(k.text_len, 5);
    assert_memory_equal(k.text, "order", 5);
    assert_int_equal(k.char_start, 3);
    assert_int_equal(k.char_end, 8);
    k = tok(t, 3);
    assert_int_equal(k.kind, KEFU_TOKEN_PUNCT);
    k = tok(t, 4);
    assert_int_equal(k.kind, KEFU_TOKEN_NUMBER);
    assert_memory_equal(s + k.byte_start, "123", 3);
    k = tok(t, 7);
    assert_int_equal(k.kind, KEFU_TOKEN_PUNCT);
    assert_int_equal(k.text_len, 3);
    k = tok(t, 8);
    assert_int_equal(k.kind, KEFU_TOKEN_EMOJI);
    assert_int_equal(k.byte_end, strlen(s));
    kefu_text_free(t);
}

static void test_offsets_fullwidth(void **st)
{
    /* full-width digits: normalised text is ASCII, spans are the original */
    kefu_text *t = mk();
    kefu_token k;
    const char *s = "号码１３８";
    (void)st;
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    assert_int_equal(kefu_text_token_count(t), 3);
    k = tok(t, 2);
    assert_int_equal(k.kind, KEFU_TOKEN_NUMBER);
    assert_memory_equal(k.text, "138", 3);
    assert_int_equal(k.byte_start, 6);
    assert_int_equal(k.byte_end, 15);
    assert_int_equal(k.char_start, 2);
    assert_int_equal(k.char_end, 5);
    kefu_text_free(t);
}

static void test_marks_after_cjk(void **st)
{
    /* a combining mark after an ideograph, CJK punctuation or a digit
     * belongs to that token: the spans do not overlap (they did: the mark
     * started the next word at the ideograph's byte) */
    kefu_text *t = mk();
    kefu_token k;
    const char *s = "中\xcc\x81x。\xcc\x81" "ab 1\xcc\x81y";
    uint32_t prev_end = 0;
    (void)st;
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    assert_int_equal(kefu_text_token_count(t), 6);
    for (size_t i = 0; i < 6; i++) {
        k = tok(t, i);
        assert_true(k.byte_start >= prev_end);
        assert_true(k.byte_end > k.byte_start);
        prev_end = k.byte_end;
    }
    k = tok(t, 0);
    assert_int_equal(k.kind, KEFU_TOKEN_CJK);
    assert_int_equal(k.byte_start, 0);
    assert_int_equal(k.byte_end, 5);
    assert_int_equal(k.char_end, 2);
    k = tok(t, 1);
    assert_int_equal(k.text_len, 1);
    assert_memory_equal(k.text, "x", 1);
    assert_int_equal(k.byte_start, 5);
    assert_int_equal(k.char_start, 2);
    k = tok(t, 3);
    assert_memory_equal(k.text, "ab", 2);
    assert_int_equal(k.byte_start, 11);
    k = tok(t, 4);
    assert_int_equal(k.kind, KEFU_TOKEN_NUMBER);
    assert_int_equal(k.byte_end, 17);
    k = tok(t, 5);
    assert_memory_equal(k.text, "y", 1);
    assert_int_equal(k.byte_start, 17);
    kefu_text_free(t);
}

static void test_expanding_character(void **st)
{
    /* U+3200 normalises to "(ᄀ)" and U+0345 (a combining mark) to a Greek
     * iota, a letter: what one original character becomes stays in one
     * token, so spans never overlap (documented at kefu_token) */
    kefu_text *t = mk();
    kefu_token k;
    const char *s = "a ㈀x 、\xcd\x85" "b";
    (void)st;
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    assert_int_equal(kefu_text_token_count(t), 5);
    k = tok(t, 1);
    assert_int_equal(k.text_len, strlen("(ᄀ)"));
    assert_memory_equal(k.text, "(ᄀ)", k.text_len);
    assert_int_equal(k.byte_start, 2);
    assert_int_equal(k.byte_end, 5);
    assert_int_equal(k.char_start, 2);
    assert_int_equal(k.char_end, 3);
    assert_int_equal(tok(t, 2).byte_start, 5);      /* x */
    k = tok(t, 3);                                   /* 、 and its iota */
    assert_int_equal(k.byte_start, 7);
    assert_int_equal(k.byte_end, 12);
    k = tok(t, 4);                                   /* b */
    assert_int_equal(k.byte_start, 12);
    assert_int_equal(k.byte_end, 13);
    kefu_text_free(t);
}

static void test_invalid_utf8(void **st)
{
    static const struct { const char *s; size_t len, bad; } cases[] = {
        {"ok\xc0\xaf", 4, 2},          /* overlong '/' */
        {"\xed\xa0\x80", 3, 0},        /* surrogate */
        {"ab\xe4\xbd", 4, 2},          /* truncated */
        {"\xf4\x90\x80\x80", 4, 0},    /* above U+10FFFF */
        {"x\x80", 2, 1},               /* stray continuation */
        {"\xff", 1, 0},
    };
    kefu_text *t = mk();
    (void)st;
    assert_string_equal(norm(t, "previous"), "previous");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 99, n = 99;
        assert_int_equal(kefu_text_run(t, cases[i].s, cases[i].len), KEFU_E_UTF8);
        assert_int_equal(kefu_diag_status(kefu_text_diag(t)), KEFU_E_UTF8);
        assert_int_equal(kefu_diag_offset(kefu_text_diag(t)), cases[i].bad);
        /* nothing else happened: no result left over */
        kefu_text_normalized(t, &n);
        assert_int_equal(n, 0);
        assert_int_equal(kefu_text_token_count(t), 0);
        assert_int_equal(kefu_utf8_check(cases[i].s, cases[i].len, &bad), KEFU_E_UTF8);
        assert_int_equal(bad, cases[i].bad);
    }
    kefu_text_free(t);
}

static void test_nul_and_empty(void **st)
{
    kefu_text *t = mk();
    size_t n;
    (void)st;
    assert_int_equal(kefu_text_run(t, "a\0b", 3), KEFU_OK);
    assert_string_equal(kefu_text_normalized(t, &n), "a b");
    assert_int_equal(kefu_text_run(t, "", 0), KEFU_OK);
    assert_int_equal(kefu_text_run(t, NULL, 0), KEFU_OK);
    assert_int_equal(kefu_text_run(t, NULL, 5), KEFU_E_ARG);
    kefu_text_free(t);
}

static void test_too_long(void **st)
{
    kefu_text *t = mk();
    size_t big = (size_t)1 << 20;
    char *s = malloc(big);
    int64_t v;
    (void)st;
    memset(s, 'a', big);
    assert_int_equal(kefu_text_run(t, s, big), KEFU_E_TOO_LONG);
    assert_int_equal(kefu_text_set(t, KEFU_TEXT_MAX_BYTES, (int64_t)big), KEFU_OK);
    assert_int_equal(kefu_text_get(t, KEFU_TEXT_MAX_BYTES, &v), KEFU_OK);
    assert_int_equal(v, (int64_t)big);
    assert_int_equal(kefu_text_run(t, s, big), KEFU_OK);
    assert_int_equal(kefu_text_token_count(t), 1);
    free(s);
    kefu_text_free(t);
}

static void test_options_and_null(void **st)
{
    kefu_text *t = mk();
    int64_t lo, hi;
    kefu_token k;
    (void)st;
    assert_int_equal(kefu_text_set(t, KEFU_TEXT_MAX_BYTES, 0), KEFU_E_ARG);
    assert_int_equal(kefu_text_set(t, (kefu_text_option)99, 1), KEFU_E_ARG);
    assert_int_equal(kefu_text_bounds(KEFU_TEXT_T2S, &lo, &hi), KEFU_OK);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1);
    assert_int_equal(kefu_text_new(NULL, NULL), KEFU_E_ARG);
    assert_int_equal(kefu_text_run(NULL, "a", 1), KEFU_E_ARG);
    k.size = 4; /* too small: refused */
    assert_int_equal(kefu_text_run(t, "a", 1), KEFU_OK);
    assert_int_equal(kefu_text_token(t, 0, &k), KEFU_E_ARG);
    kefu_text_free(NULL);
    kefu_text_free(t);
}

static void test_oom(void **st)
{
    /* every allocation failing point gives KEFU_E_NOMEM, never a crash */
    (void)st;
    for (long budget = 0; budget < 12; budget++) {
        tu_failing_alloc f = {budget, 0};
        kefu_allocator a = tu_failing_allocator(&f);
        kefu_text *t = NULL;
        int rc = kefu_text_new(&t, &a);
        if (rc == KEFU_OK) {
            rc = kefu_text_run(t, "hello 世界 again", 18);
            assert_true(rc == KEFU_OK || rc == KEFU_E_NOMEM);
            kefu_text_free(t);
        } else {
            assert_int_equal(rc, KEFU_E_NOMEM);
        }
    }
}

static void test_status_strings(void **st)
{
    (void)st;
    assert_string_equal(kefu_strerror(KEFU_E_UTF8), "invalid UTF-8");
    assert_string_equal(kefu_strerror(12345), "unknown status");
    assert_int_equal(KEFU_E_NOMEM, -1);
    assert_int_equal(KEFU_E_EMPTY, -17);
    assert_string_equal(kefu_version_string(), KEFU_VERSION_STRING);
    assert_int_equal(kefu_version_number(), KEFU_VERSION_NUMBER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nfkc_casefold_width),
        cmocka_unit_test(test_whitespace_folding),
        cmocka_unit_test(test_t2s),
        cmocka_unit_test(test_tokens_mixed),
        cmocka_unit_test(test_offsets_fullwidth),
        cmocka_unit_test(test_marks_after_cjk),
        cmocka_unit_test(test_expanding_character),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_and_empty),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_options_and_null),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_status_strings),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
