/*
 * test_text_paths.c - the text stage's fast path against the plain utf8proc
 * path (kefu_text.reference): normalised text, code points, tokens and
 * offsets must be identical, for every code point in several contexts, for
 * every line of the shared datasets (read from ../shared/datasets at test
 * time; skipped when absent) and for generated mixed strings.
 */
#include "testutil.h"

#include <dirent.h>

#include "text.h"
#include "t2s_table.h"

typedef struct pair {
    kefu_text *fast, *ref;
} pair;

static pair mk_pair(int t2s, int casefold)
{
    pair p = {NULL, NULL};
    assert_int_equal(kefu_text_new(&p.fast, NULL), KEFU_OK);
    assert_int_equal(kefu_text_new(&p.ref, NULL), KEFU_OK);
    p.ref->reference = 1;
    assert_int_equal(kefu_text_set(p.fast, KEFU_TEXT_T2S, t2s), KEFU_OK);
    assert_int_equal(kefu_text_set(p.ref, KEFU_TEXT_T2S, t2s), KEFU_OK);
    assert_int_equal(kefu_text_set(p.fast, KEFU_TEXT_CASEFOLD, casefold), KEFU_OK);
    assert_int_equal(kefu_text_set(p.ref, KEFU_TEXT_CASEFOLD, casefold), KEFU_OK);
    return p;
}

static void free_pair(pair p)
{
    kefu_text_free(p.fast);
    kefu_text_free(p.ref);
}

static void dump(const char *what, const char *s, size_t len)
{
    fprintf(stderr, "paths differ (%s) on %zu bytes:", what, len);
    for (size_t i = 0; i < len && i < 200; i++)
        fprintf(stderr, " %02x", (unsigned char)s[i]);
    fprintf(stderr, "\n");
}

/* Runs both paths on s and fails with the input in hex if anything differs. */
static void same(pair p, const char *s, size_t len)
{
    kefu_text *a = p.fast, *b = p.ref;
    int ra = kefu_text_run(a, s, len), rb = kefu_text_run(b, s, len);
    const char *why = NULL;
    if (ra != rb)
        why = "status";
    else if (ra != KEFU_OK)
        why = kefu_diag_offset(kefu_text_diag(a)) ==
                      kefu_diag_offset(kefu_text_diag(b))
                  ? NULL
                  : "error offset";
    else if (a->norm.len != b->norm.len ||
             memcmp(a->norm.data, b->norm.data, a->norm.len + 1))
        why = "normalised text";
    else if (a->ncps != b->ncps ||
             (a->ncps && memcmp(a->cps, b->cps, a->ncps * sizeof *a->cps)))
        why = "code points";
    else if (a->ntoks != b->ntoks ||
             (a->ntoks && memcmp(a->toks, b->toks, a->ntoks * sizeof *a->toks)))
        why = "tokens";
    if (why) {
        dump(why, s, len);
        fail_msg("fast and reference paths differ: %s", why);
    }
}

static size_t put(char *o, uint32_t c)
{
    return kefu_utf8_encode(c, o);
}

static bool scalar(uint32_t c)
{
    return c < 0xD800 || (c > 0xDFFF && c <= 0x10FFFF);
}

/* Every code point, 64 at a time: side by side, before a combining mark
 * (and a second mark that reorders), between ASCII and an ideograph,
 * after a space and before a half-width voiced mark. */
static void test_every_code_point(void **st)
{
    pair p[2];
    char buf[64 * 16 + 16];
    (void)st;
    p[0] = mk_pair(1, 1);
    p[1] = mk_pair(0, 0);
    for (uint32_t base = 0; base <= 0x10FFFF; base += 64) {
        for (int form = 0; form < 4; form++) {
            size_t n = 0;
            for (uint32_t c = base; c < base + 64; c++) {
                if (!scalar(c))
                    continue;
                switch (form) {
                case 0:
                    n += put(buf + n, c);
                    break;
                case 1:
                    n += put(buf + n, c);
                    n += put(buf + n, (c & 1) ? 0x0301 : 0x0323);
                    n += put(buf + n, (c & 2) ? 0x0323 : 0x3099);
                    break;
                case 2:
                    buf[n++] = (c & 1) ? 'A' : ' ';
                    n += put(buf + n, c);
                    n += put(buf + n, (c & 2) ? 0x4E2D : 0x8A02);
                    break;
                default:
                    buf[n++] = ' ';
                    n += put(buf + n, c);
                    n += put(buf + n, (c & 1) ? 0xFF9E : 0x20D0);
                    break;
                }
            }
            same(p[0], buf, n);
            if (form == 0 || form == 1)
                same(p[1], buf, n);
        }
    }
    free_pair(p[0]);
    free_pair(p[1]);
}

/* The bit index agrees with a binary search of the table everywhere. */
static void test_t2s_index(void **st)
{
    size_t n = sizeof kefu_t2s_table / sizeof kefu_t2s_table[0];
    (void)st;
    for (uint32_t c = 0; c <= 0x10FFFF; c++) {
        size_t lo = 0, hi = n;
        uint32_t want = c;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (kefu_t2s_table[mid][0] < c)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && kefu_t2s_table[lo][0] == c)
            want = kefu_t2s_table[lo][1];
        if (kefu_t2s(c) != want)
            fail_msg("kefu_t2s(U+%04X) = U+%04X, table says U+%04X", c,
                     kefu_t2s(c), want);
    }
}

/* Every line of every ../shared/datasets/NAME/FILE.tsv, label included,
 * with the default options and with T2S and case folding off. */
static void test_datasets(void **st)
{
    const char *root = KEFU_SOURCE_DIR "/../shared/datasets";
    DIR *d = opendir(root);
    struct dirent *e;
    size_t files = 0, lines = 0;
    pair p[2];
    (void)st;
    if (!d) {
        print_message("no %s: dataset comparison skipped\n", root);
        skip();
    }
    p[0] = mk_pair(1, 1);
    p[1] = mk_pair(0, 0);
    while ((e = readdir(d)) != NULL) {
        char dir[1024];
        DIR *sub;
        struct dirent *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        if (!(sub = opendir(dir)))
            continue;
        while ((f = readdir(sub)) != NULL) {
            char path[2048];
            size_t len = 0, nl = strlen(f->d_name);
            char *text, *line;
            if (nl < 5 || strcmp(f->d_name + nl - 4, ".tsv"))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
            text = tu_read_file(path, &len);
            assert_non_null(text);
            files++;
            for (line = text; line < text + len;) {
                char *end = memchr(line, '\n', (size_t)(text + len - line));
                size_t ll = end ? (size_t)(end - line) : (size_t)(text + len - line);
                same(p[0], line, ll);
                same(p[1], line, ll);
                lines++;
                line += ll + 1;
            }
            free(text);
        }
        closedir(sub);
    }
    closedir(d);
    print_message("compared %zu lines of %zu dataset files\n", lines, files);
    free_pair(p[0]);
    free_pair(p[1]);
}

/* Pieces that normalisation treats differently, mixed at random. */
static const uint32_t pool[] = {
    'a', 'Z', 'q', 'K', '0', '7', ' ', ' ', '\t', '\n', '\r', 0, 0x7F, '.', ',',
    '!', '?', '\'', '#', '$', '_', '-',
    0x4E2D, 0x6587, 0x8A02, 0x55AE, 0x9F8D, 0x9FA5, 0x9FFF, 0x4E00, 0x3400,
    0x346E, 0x4DB5, 0x4DC0, 0x3007,                      /* ideographs */
    0x20000, 0x2A6D6, 0x2F800, 0x2F81A, 0xF900, 0xF9D8, 0xFA0E, 0xFA30,
    0xFF01, 0xFF0C, 0xFF1F, 0xFF21, 0xFF3A, 0xFF41, 0xFF5E, 0xFF5F, 0xFF10,
    0xFF00, 0xFF60, 0xFF61, 0xFFE5,                       /* full/half width */
    0x0300, 0x0301, 0x0308, 0x0323, 0x0327, 0x0345, 0x05B0, 0x093C, 0x20D0,
    0x3099, 0x309A, 0xFF9E, 0xFF9F, 0x302A, 0x1DC0, 0xFE20, /* marks */
    0xAC00, 0xD7A3, 0xB098, 0x1100, 0x1161, 0x11A8, 0x3131, 0xFFA1, /* Hangul */
    0x1F600, 0x1F621, 0x1F44D, 0x1F3FB, 0x1F3FF, 0x200D, 0xFE0F, 0x2764,
    0x1F1E8, 0x1F1F3, 0x2639,                              /* emoji */
    0xFB00, 0xFB01, 0xFB03, 0xFDFA, 0x338F, 0x2460, 0x216B, 0x00BD, 0x2026,
    0x3300, 0x32A4, 0x1E9B, 0x00C5, 0x212B, 0x212A, 0x0130, 0x00DF, 0x03A3,
    0x03C2, 0x0390, 0x1F88,                                /* compatibility */
    0x00A0, 0x3000, 0x2028, 0x2029, 0x1680, 0x2003, 0x0085, 0x00AD, 0x200B,
    0xFEFF, 0x180E, 0xE000, 0xFFFD, 0x10FFFF, 0x0E3F,      /* spaces, oddities */
    0x3001, 0x3002, 0x300C, 0x300D, 0x201C, 0x201D, 0x2019, 0xFF08, 0xFF09,
    0x30AB, 0xFF76, 0x3042, 0x0627, 0x0644, 0x0915, 0x0E01, 0x0410, 0x0391,
};

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void test_generated(void **st)
{
    pair p[4];
    char buf[2048];
    (void)st;
    for (int o = 0; o < 4; o++)
        p[o] = mk_pair(o & 1, (o >> 1) & 1);
    for (int round = 0; round < 40000; round++) {
        size_t n = 0, pieces = 1 + next_rand() % 60;
        for (size_t k = 0; k < pieces; k++) {
            uint32_t r = next_rand();
            if (r % 97 == 0) {          /* a long run of marks (past SEG_MAX) */
                for (int m = 0; m < 70; m++)
                    n += put(buf + n, m & 1 ? 0x0301 : 0x0316);
            } else if (r % 89 == 0) {   /* an invalid byte */
                buf[n++] = (char)(0x80 | (r >> 8 & 0x7F));
            } else if (r % 7 == 0) {    /* any code point */
                uint32_t c = (r >> 3) % 0x110000;
                n += put(buf + n, scalar(c) ? c : 'x');
            } else {
                n += put(buf + n, pool[(r >> 3) % (sizeof pool / sizeof pool[0])]);
            }
        }
        same(p[round & 3], buf, n);
    }
    for (int o = 0; o < 4; o++)
        free_pair(p[o]);
}

/* Limits and errors come out the same way on both paths. */
static void test_errors(void **st)
{
    pair p = mk_pair(1, 1);
    (void)st;
    same(p, "ab\xe4\xbd", 4);
    same(p, "\xe4\xb8\xad\xcc", 4);
    same(p, "", 0);
    same(p, "   ", 3);
    assert_int_equal(kefu_text_set(p.fast, KEFU_TEXT_MAX_BYTES, 3), KEFU_OK);
    assert_int_equal(kefu_text_set(p.ref, KEFU_TEXT_MAX_BYTES, 3), KEFU_OK);
    same(p, "abcd", 4);
    assert_int_equal(kefu_text_run(p.fast, "abcd", 4), KEFU_E_TOO_LONG);
    free_pair(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t2s_index),
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_datasets),
    };
    return cmocka_run_group_tests_name("text_paths", tests, NULL, NULL);
}
