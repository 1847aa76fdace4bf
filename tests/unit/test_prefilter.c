/*
 * test_prefilter.c - the literal prefilter: the literals found in
 * patterns, the patterns it must refuse, and, for thousands of generated
 * patterns and texts, that matching with the filter (skip when it finds
 * nothing, start PCRE2 at what it finds) gives exactly PCRE2's answer, and
 * that the SIMD and byte-table scans agree.
 */
#include "testutil.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "learner.h"   /* kefu_rng_next */
#include "prefilter.h"

static kefu_mem mem;

static int setup(void **state)
{
    (void)state;
    kefu_mem_init(&mem, NULL);
    return 0;
}

static kefu_prefilter *build_opts(const char *pat, uint32_t opts)
{
    kefu_prefilter *f = NULL;
    assert_int_equal(kefu_prefilter_build(&f, &mem, pat, strlen(pat), opts),
                     KEFU_OK);
    return f;
}

static kefu_prefilter *build(const char *pat)
{
    return build_opts(pat, 0);
}

/* The filter's literals joined by '|' in its order (sorted by bucket). */
static void literals(const kefu_prefilter *f, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < kefu_prefilter_count(f); i++) {
        size_t len;
        const char *l = kefu_prefilter_literal(f, i, &len);
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", i ? "|" : "",
                              (int)len, l);
    }
}

/* Every literal of `want` (joined by '|') is in f, and nothing else. */
static void expect_set_opts(const char *pat, uint32_t opts, const char *want)
{
    kefu_prefilter *f = build_opts(pat, opts);
    char got[1024], w[256];
    size_t nwant = 1;
    char *tok, *save = NULL;
    if (!f)
        fail_msg("no filter for %s", pat);
    literals(f, got, sizeof got);
    for (const char *p = want; *p; p++)
        nwant += *p == '|';
    if (kefu_prefilter_count(f) != nwant)
        fail_msg("%s: literals %s, want %s", pat, got, want);
    snprintf(w, sizeof w, "%s", want);
    for (tok = strtok_r(w, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
        int found = 0;
        for (uint32_t i = 0; i < kefu_prefilter_count(f); i++) {
            size_t len;
            const char *l = kefu_prefilter_literal(f, i, &len);
            found |= len == strlen(tok) && memcmp(l, tok, len) == 0;
        }
        if (!found)
            fail_msg("%s: literals %s, want %s (missing %s)", pat, got, want,
                     tok);
    }
    kefu_prefilter_free(&mem, f);
}

static void expect_set(const char *pat, const char *want)
{
    expect_set_opts(pat, 0, want);
}

static void test_literal_sets(void **state)
{
    (void)state;
    /* the default rule pack's patterns */
    expect_set("盗刷|被盗|诈骗|被骗|冒用|unauthori[sz]ed|fraud|scam",
               "盗刷|被盗|诈骗|被骗|冒用|unauthor|fraud|scam");
    expect_set("投诉|赔偿|举报|曝光|消协|12315|\\b(complain(t|ts|ed|ing)?|"
               "compensat(e|ion)|report you|refund (me )?now|sue you|"
               "lawyer)\\b",
               "投诉|赔偿|举报|曝光|消协|12315|complain|compensa|report y|"
               "refund |sue you|lawyer");
    expect_set("ab[xy]c", "abxc|abyc");
    expect_set("ab(?:cd|e)f", "abcdf|abef");
    expect_set("(?<name>xy|zw)+q", "xy|zw");
    expect_set("^\\bhello\\b", "hello");
    expect_set("ab(?=c)d", "abd");           /* lookaround: zero-width */
    expect_set("(?<![a-z0-9])(?:sf|jdv)[0-9]{8}", "sf|jdv");
    expect_set("(?=ab)ab", "ab");
    expect_set("ab.c|de\\d", "ab|de");
    expect_set("a\\.b", "a.b");
    expect_set("ab{1}c", "abc");
    expect_set("ab{2}c", "ab");            /* one copy, then it stops */
    expect_set("(ab|abc|abd)x", "abx|abcx|abdx");
    expect_set("x(ab|a)", "xa");           /* "xa" finds "xab" too */
    expect_set("(?#note)订单", "订单");
    expect_set("ab(?#c)(?#d)+c|xy", "ab|xy");   /* the comment hides b+ */
    expect_set("xy(abc)(?#c)?", "xy");
    /* case-less patterns on case-folded subjects */
    expect_set_opts("(?i)\\b(Account|LOGIN)\\b.{0,20}locked",
                    KEFU_PREFILTER_FOLDED, "account|login");
    expect_set_opts("Refund[Ss]|退款", KEFU_PREFILTER_FOLDED |
                    KEFU_PREFILTER_CASELESS, "refunds|退款");
    expect_set_opts("(?i)where('s| is) my", KEFU_PREFILTER_FOLDED,
                    "where's |where is");
}

static void test_refused(void **state)
{
    static const char *pats[] = {
        "(?i)refund",     /* options */
        "a(?i)bc",
        "(?i:ab)cd",
        "\\d{11}",        /* no literal */
        ".*投诉",
        "a|bc",           /* a one-byte literal */
        "ab|",            /* the empty match */
        "(ab)?cd",        /* optional first item */
        "\\Gab",          /* \G asserts the start offset */
        "ab\\1",          /* back-reference after: fine, but \1 fails */
        "(?=ab)|c",       /* a lookahead alone matches the empty string */
        "\\x{6295}诉",    /* hex escape */
        "\\Qab\\E",
        "(*UTF)ab",
        "(?(1)ab|cd)",
        "(?R)",
        "a{x",            /* '{' that is not a quantifier */
        "",
        ")",
    };
    for (size_t i = 0; i < sizeof pats / sizeof *pats; i++) {
        kefu_prefilter *f = build(pats[i]);
        if (f) {
            char got[512];
            literals(f, got, sizeof got);
            fail_msg("%s: a filter (%s) where none was expected", pats[i],
                     got);
        }
    }
    /* case-less with characters whose case is not worked out */
    assert_null(build_opts("(?i)café", KEFU_PREFILTER_FOLDED));
    assert_null(build_opts("(?i)ｒｅｆｕｎｄ", KEFU_PREFILTER_FOLDED));
    assert_null(build_opts("(?i)refund", 0));   /* subjects not folded */
    /* case-less and extended mode are not analysed without FOLDED */
    {
        kefu_prefilter *f = NULL;
        assert_int_equal(kefu_prefilter_build(&f, &mem, "abc", 3,
                                              KEFU_PREFILTER_CASELESS),
                         KEFU_OK);
        assert_null(f);
        assert_int_equal(kefu_prefilter_build(&f, &mem, "abc", 3,
                                              KEFU_PREFILTER_EXTENDED),
                         KEFU_OK);
        assert_null(f);
    }
}

/* Both scans find a literal at every offset, across the 16-byte chunks,
 * and nothing in text without it. */
static void test_every_offset(void **state)
{
    kefu_prefilter *f = build("投诉|lawyer|12315");
    char text[128];
    (void)state;
    assert_non_null(f);
    for (size_t at = 0; at < 60; at++) {
        static const char *lits[] = {"投诉", "lawyer", "12315"};
        for (size_t k = 0; k < 3; k++) {
            size_t n;
            memset(text, 'q', at);
            n = at + (size_t)snprintf(text + at, sizeof text - at, "%s", lits[k]);
            for (size_t tail = 0; tail < 20; tail++) {
                size_t len = n + tail;
                memset(text + n, 'z', tail);
                assert_int_equal(kefu_prefilter_first(f, text, len), at);
                assert_int_equal(kefu_prefilter_first_portable(f, text, len), at);
                /* cut one byte short: no literal */
                assert_int_equal(kefu_prefilter_first(f, text, n - 1),
                                 KEFU_PREFILTER_NONE);
                assert_int_equal(kefu_prefilter_first_portable(f, text, n - 1),
                                 KEFU_PREFILTER_NONE);
            }
        }
    }
    /* the same fingerprint but not the literal ("投诈" shares 投's bytes) */
    assert_int_equal(kefu_prefilter_first(f, "投诈 lawyeR 1231",
                                          strlen("投诈 lawyeR 1231")),
                     KEFU_PREFILTER_NONE);
    assert_int_equal(kefu_prefilter_first(f, "", 0), KEFU_PREFILTER_NONE);
    /* a huge text: found at its very end by both scans */
    {
        const size_t big = (size_t)1 << 20;
        char *h = malloc(big + 8);
        assert_non_null(h);
        memset(h, 'q', big);
        memcpy(h + big, "lawyer", 6);
        assert_int_equal(kefu_prefilter_first(f, h, big + 6), big);
        assert_int_equal(kefu_prefilter_first_portable(f, h, big + 6), big);
        assert_int_equal(kefu_prefilter_first(f, h, big + 5), KEFU_PREFILTER_NONE);
        free(h);
    }
    kefu_prefilter_free(&mem, f);
}

/* Patterns PCRE2 would refuse (the analysis is only given compiled ones,
 * but must not read past them): invalid or cut UTF-8, NULL with no bytes. */
/* Where a search may start: the next literal at or after `start`; start
 * itself without a filter; none when no literal follows. */
static void test_start(void **state)
{
    kefu_prefilter *f = build("(refund|退款)");
    const char *s = "refund, no: 退款 now";
    const size_t len = strlen(s);
    (void)state;
    assert_int_equal(kefu_prefilter_start(NULL, s, len, 5), 5);
    assert_int_equal(kefu_prefilter_start(f, s, len, 0), 0);
    assert_int_equal(kefu_prefilter_start(f, s, len, 1), 12);
    assert_int_equal(kefu_prefilter_start(f, s, len, 12), 12);
    assert_true(kefu_prefilter_start(f, s, len, 13) == KEFU_PREFILTER_NONE);
    assert_true(kefu_prefilter_start(f, s, len, len) == KEFU_PREFILTER_NONE);
    assert_true(kefu_prefilter_start(f, "", 0, 0) == KEFU_PREFILTER_NONE);
    kefu_prefilter_free(&mem, f);
}

static void test_bad_patterns(void **state)
{
    static const char *const bad[] = {"\xff\xfe" "ab", "ab\xe6\x8a", "\xe6",
                                      "(ab", "[ab", "ab\\", "(?<nm", "a{2"};
    kefu_prefilter *f = NULL;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f = NULL;
        assert_int_equal(kefu_prefilter_build(&f, &mem, bad[i], strlen(bad[i]), 0),
                         KEFU_OK);
        kefu_prefilter_free(&mem, f);
    }
    assert_int_equal(kefu_prefilter_build(&f, &mem, NULL, 0, 0), KEFU_OK);
    assert_null(f);
}

/* ---- generated patterns against PCRE2 --------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
    return (unsigned)(kefu_rng_next(&rng) % n);
}

static void cat(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s", s);
}

static void gen_alt(char *out, size_t cap, int depth);

static void gen_seq(char *out, size_t cap, int depth)
{
    static const char *atoms[] = {
        "a", "b", "c", "ab", "ba", "投", "诉", "投诉", "x", "\\b", ".", "[ab]",
        "[^a]", "\\d", "\\.", "^", "$", "\\B", "(?=a)", "(?!b)", "(?<=a)",
        "[a投]", "\\G", "\\s", " ", "1", "12", "abc", "投诉", "xab", "诉a", "c投",
        "ab", "bc", "\\c(", "\\c)", "[\\c]]",
        "[[:x:x]", "[x|y]", "[[:alpha:]b]", "(?i)", "(?x)# (|\n", "(?i:a)", "(?#c)",
    };
    static const char *quants[] = {"", "", "", "", "", "?", "*", "+", "{2}",
                                   "{1}", "{0,2}", "+?", "{1,3}", "??"};
    unsigned n = 1 + rnd(4);
    for (unsigned i = 0; i < n; i++) {
        if (depth < 3 && rnd(6) == 0) {
            static const char *opens[] = {"(", "(?:", "(?>", "(?<g>"};
            char sub[256] = "";
            const char *o = opens[rnd(4)];
            gen_alt(sub, sizeof sub, depth + 1);
            cat(out, cap, o);
            cat(out, cap, sub);
            cat(out, cap, ")");
        } else {
            cat(out, cap, atoms[rnd(sizeof atoms / sizeof *atoms)]);
        }
        cat(out, cap, quants[rnd(sizeof quants / sizeof *quants)]);
    }
}

static void gen_alt(char *out, size_t cap, int depth)
{
    unsigned n = 1 + rnd(3);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            cat(out, cap, "|");
        gen_seq(out, cap, depth);
    }
}

static size_t gen_text(char *out, size_t cap)
{
    static const char *pieces[] = {"a", "b", "c", "x", "投", "诉", " ", ".",
                                   "1", "2", "ab", "投诉", "诈", "ba"};
    unsigned n = rnd(45);
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        cat(out, cap, pieces[rnd(sizeof pieces / sizeof *pieces)]);
    return strlen(out);
}

static void test_against_pcre2(void **state)
{
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    unsigned filters = 0, skipped = 0, started_later = 0;
    (void)state;
    assert_non_null(md);
    assert_non_null(mc);
    /* generated quantifiers can nest: keep each match short (a match that
     * hits the limit counts as an answer and must be the same both ways) */
    pcre2_set_match_limit(mc, 20000);
    for (int i = 0; i < 30000; i++) {
        char pat[1024] = "", text[512];
        int err;
        PCRE2_SIZE eoff;
        pcre2_code *code;
        kefu_prefilter *f;
        /* every third pattern case-less, its letters in mixed case, on the
         * generated texts (lower case and CJK: case-folded subjects) */
        int caseless = i % 3 == 2;
        if (caseless)
            cat(pat, sizeof pat, "(?i)");
        gen_alt(pat, sizeof pat, 0);
        if (caseless)
            for (char *q = pat + 4; *q; q++)
                if (*q >= 'a' && *q <= 'z' && rnd(2) && q[-1] != '\\' &&
                    q[-1] != '?' && q[-1] != '<')
                    *q = (char)(*q - 32);
        code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | (i & 1 ? PCRE2_UCP : 0), &err, &eoff,
                             NULL);
        if (!code)
            continue;
        f = build_opts(pat, caseless ? KEFU_PREFILTER_FOLDED : 0);
        if (!f) {
            pcre2_code_free(code);
            continue;
        }
        filters++;
        for (int t = 0; t < 40; t++) {
            size_t len = gen_text(text, sizeof text);
            size_t first = kefu_prefilter_first(f, text, len);
            int plain, filtered = PCRE2_ERROR_NOMATCH;
            PCRE2_SIZE plain_at = 0;
            if (first != kefu_prefilter_first_portable(f, text, len))
                fail_msg("%s on \"%s\": the scans disagree", pat, text);
            plain = pcre2_match(code, (PCRE2_SPTR)text, len, 0, 0, md, mc);
            if (plain >= 0)
                plain_at = pcre2_get_ovector_pointer(md)[0];
            if (first == KEFU_PREFILTER_NONE) {
                skipped++;
            } else {
                started_later += first > 0;
                filtered = pcre2_match(code, (PCRE2_SPTR)text, len, first, 0,
                                       md, mc);
            }
            if ((plain >= 0) != (filtered >= 0) ||
                (plain >= 0 && pcre2_get_ovector_pointer(md)[0] != plain_at))
                fail_msg("%s on \"%s\": PCRE2 %d at %zu, with the filter "
                         "(first %zu) %d",
                         pat, text, plain, (size_t)plain_at, first, filtered);
        }
        kefu_prefilter_free(&mem, f);
        pcre2_code_free(code);
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    print_message("%u filters, %u texts skipped, %u started later\n", filters,
                  skipped, started_later);
    /* the generator must exercise the filter, not only its refusals */
    assert_true(filters > 1500);
    assert_true(skipped > 20000);
    assert_true(started_later > 20000);
}

/* One scan of a set answers, for each of its filters, what the filter
 * alone answers. */
static void test_set_scan(void **state)
{
    unsigned sets = 0, found = 0;
    (void)state;
    for (int batch = 0; batch < 1500; batch++) {
        kefu_prefilter *fs[12];
        kefu_prefilter_set *set = NULL;
        size_t first[12];
        char text[512];
        uint32_t n = 1 + rnd(12);
        for (uint32_t i = 0; i < n; i++) {
            char pat[1024] = "";
            gen_alt(pat, sizeof pat, 0);
            fs[i] = build_opts(pat, 0);
        }
        assert_int_equal(kefu_prefilter_set_build(&set, &mem,
                                                  (const kefu_prefilter *const *)fs, n),
                         KEFU_OK);
        for (uint32_t i = 0; i < n && !set; i++)
            assert_null(fs[i]);      /* no set only when nothing filters */
        if (set) {
            sets++;
            for (int t = 0; t < 40; t++) {
                size_t len = gen_text(text, sizeof text);
                kefu_prefilter_set_scan(set, text, len, first);
                for (uint32_t i = 0; i < n; i++) {
                    size_t want = fs[i] ? kefu_prefilter_first(fs[i], text, len) : 0;
                    if (first[i] != want)
                        fail_msg("set entry %u on \"%s\": %zu, alone %zu", i, text,
                                 first[i], want);
                    found += fs[i] && want != KEFU_PREFILTER_NONE;
                }
            }
        }
        kefu_prefilter_set_free(&mem, set);
        for (uint32_t i = 0; i < n; i++)
            kefu_prefilter_free(&mem, fs[i]);
    }
    print_message("%u sets, %u literals found\n", sets, found);
    assert_true(sets > 200);
    assert_true(found > 5000);
}

/*
 * Builds the filter of every pattern in the file `rel` (below the source
 * tree) that follows `open` up to the quote `close`, unquoted as its format
 * says (YAML single quotes: '' is one quote; the rule language's double
 * quotes: a backslash escapes), with the case-folded option.  Adds to
 * *total and, for each one that gets a filter, to *filtered; fails on one
 * without a filter that is not anchored with ^.
 */
static void check_patterns(const char *rel, const char *open, char close,
                           unsigned *total, unsigned *filtered)
{
    char path[512], pat[1024];
    size_t len;
    char *src, *p;
    snprintf(path, sizeof path, "%s/%s", KEFU_SOURCE_DIR, rel);
    src = tu_read_file(path, &len);
    assert_non_null(src);
    for (p = strstr(src, open); p; p = strstr(p, open)) {
        size_t n = 0;
        kefu_prefilter *f;
        p += strlen(open);
        while (*p && !(p[0] == close && !(close == '\'' && p[1] == '\''))) {
            if ((close == '\'' && p[0] == '\'' && p[1] == '\'') ||
                (close == '"' && p[0] == '\\' && p[1]))
                p++;
            assert_true(n + 1 < sizeof pat);
            pat[n++] = *p++;
        }
        pat[n] = '\0';
        f = build_opts(pat, KEFU_PREFILTER_FOLDED);
        (*total)++;
        *filtered += f != NULL;
        if (!f && pat[0] != '^')
            fail_msg("%s: no filter for %s", rel, pat);
        kefu_prefilter_free(&mem, f);
    }
    free(src);
}

/* The default model's intent patterns (the examples/model YAML files, as `regex:
 * '...'`): every one that is not anchored with ^ gets a filter on the
 * case-folded text, as doc/intents.md says (53 of 57). */
static void test_default_model_patterns(void **state)
{
    static const char *files[] = {"intents-account", "intents-orders",
                                  "intents-payments", "intents-service",
                                  "intents-telecom"};
    unsigned total = 0, filtered = 0;
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "examples/model/%s.yaml", files[i]);
        check_patterns(rel, "regex: '", '\'', &total, &filtered);
    }
    assert_int_equal(total, 57);
    assert_int_equal(filtered, 53);
}

/* The default rule pack's `text matches` patterns: every one gets a
 * filter, so a message without any of their literals never runs PCRE2
 * for them (a branch that starts with an optional group, such as
 * "(the )?caller", would leave a pattern without one). */
static void test_default_rule_patterns(void **state)
{
    unsigned total = 0, filtered = 0;
    (void)state;
    check_patterns("examples/default-rules.yaml", "matches \"", '"', &total,
                   &filtered);
    assert_int_equal(total, 3);
    assert_int_equal(filtered, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_sets),
        cmocka_unit_test(test_default_rule_patterns),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_every_offset),
        cmocka_unit_test(test_start),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_against_pcre2),
        cmocka_unit_test(test_set_scan),
        cmocka_unit_test(test_default_model_patterns),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
