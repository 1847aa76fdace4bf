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

/* One expected token: normalised text, kind (-1: any), byte and code
 * point span in the original. */
typedef struct want_tok {
    const char *text;
    int kind;
    uint32_t b0, b1, c0, c1;
} want_tok;

/* s tokenises into exactly want[0..n). */
static void expect_tokens(const char *s, const want_tok *want, size_t n)
{
    kefu_text *t = mk();
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    assert_int_equal(kefu_text_token_count(t), n);
    for (size_t i = 0; i < n; i++) {
        kefu_token k = tok(t, i);
        if (k.text_len != strlen(want[i].text) ||
            memcmp(k.text, want[i].text, k.text_len) ||
            (want[i].kind >= 0 && k.kind != (uint32_t)want[i].kind) ||
            k.byte_start != want[i].b0 || k.byte_end != want[i].b1 ||
            k.char_start != want[i].c0 || k.char_end != want[i].c1)
            fail_msg("token %zu of \"%s\": '%.*s' kind %u bytes %u-%u chars "
                     "%u-%u, expected '%s' bytes %u-%u chars %u-%u",
                     i, s, (int)k.text_len, k.text, k.kind, k.byte_start,
                     k.byte_end, k.char_start, k.char_end, want[i].text,
                     want[i].b0, want[i].b1, want[i].c0, want[i].c1);
    }
    kefu_text_free(t);
}

static void test_marks_after_cjk(void **st)
{
    /* a combining mark after an ideograph, CJK punctuation or a digit
     * belongs to that token: the spans do not overlap (they did: the mark
     * started the next word at the ideograph's byte) */
    static const want_tok want[] = {
        {"中\xcc\x81", KEFU_TOKEN_CJK, 0, 5, 0, 2},
        {"x", KEFU_TOKEN_WORD, 5, 6, 2, 3},
        {"。\xcc\x81", -1, 6, 11, 3, 5},
        {"ab", KEFU_TOKEN_WORD, 11, 13, 5, 7},
        {"1\xcc\x81", KEFU_TOKEN_NUMBER, 14, 17, 8, 10},
        {"y", KEFU_TOKEN_WORD, 17, 18, 10, 11},
    };
    (void)st;
    expect_tokens("中\xcc\x81x。\xcc\x81" "ab 1\xcc\x81y", want, 6);
}

static void test_expanding_character(void **st)
{
    /* U+3200 normalises to "(ᄀ)" and U+0345 (a combining mark) to a Greek
     * iota, a letter: what one original character becomes stays in one
     * token, so spans never overlap (documented at kefu_token) */
    static const want_tok want[] = {
        {"a", KEFU_TOKEN_WORD, 0, 1, 0, 1},
        {"(ᄀ)", -1, 2, 5, 2, 3},
        {"x", KEFU_TOKEN_WORD, 5, 6, 3, 4},
        {"、ι", -1, 7, 12, 5, 7},
        {"b", KEFU_TOKEN_WORD, 12, 13, 7, 8},
    };
    /* U+FDFA normalises to four words with spaces between them: still
     * one token, spaces included, with the character's span; the word
     * before it joins it, the one after does not (found by fuzz_text) */
    static const want_tok want2[] = {
        {"aصلى الله عليه وسلم", KEFU_TOKEN_WORD, 0, 4, 0, 2},
        {"b", KEFU_TOKEN_WORD, 4, 5, 2, 3},
        {"c", KEFU_TOKEN_WORD, 6, 7, 4, 5},
    };
    static const want_tok want3[] = {
        {"صلى الله عليه وسلم", KEFU_TOKEN_WORD, 1, 4, 1, 2},
    };
    (void)st;
    expect_tokens("a ㈀x 、\xcd\x85" "b", want, 5);
    expect_tokens("a\xef\xb7\xba" "b c", want2, 3);
    expect_tokens(" \xef\xb7\xba ", want3, 1);
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
