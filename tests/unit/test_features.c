/* test_features.c - hashed features and their vectors: word pairs, the two
 * blocks (words, sub-words), sublinear counts, unit length. */
#include "testutil.h"

#include <math.h>

#include "featurize.h"
#include "learner.h" /* kefu_rng_next */

static void extract(kefu_text *t, const kefu_featcfg *cfg, const char *s,
                    kefu_hashes *hs, const kefu_mem *mem)
{
    assert_int_equal(kefu_text_run(t, s, strlen(s)), KEFU_OK);
    assert_int_equal(kefu_features_extract(cfg, NULL, t, hs, mem), KEFU_OK);
}

static bool has(const kefu_hashes *hs, uint64_t h)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->h[i] == h)
            return true;
    return false;
}

/* Hashes in a but not in b. */
static size_t only_in(const kefu_hashes *a, const kefu_hashes *b, uint64_t *out,
                      size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!has(b, a->h[i]) && n < cap)
            out[n++] = a->h[i];
    return n;
}

static int push_hash(kefu_hashes *hs, uint64_t h, const kefu_mem *mem)
{
    size_t c1 = hs->cap, c2 = hs->cap;
    if (kefu_grow(mem, (void **)&hs->h, &c1, hs->n + 1, sizeof *hs->h) ||
        kefu_grow(mem, (void **)&hs->origin, &c2, hs->n + 1, sizeof *hs->origin))
        return KEFU_E_NOMEM;
    hs->cap = c1 < c2 ? c1 : c2;
    hs->origin[hs->n] = 1;
    hs->h[hs->n++] = h;
    return KEFU_OK;
}

/* A pair is the same feature whatever the order and distance of its words;
 * repeated words pair with nothing but other words. */
static void test_word_pairs(void **st)
{
    kefu_mem mem;
    kefu_text *t = NULL;
    kefu_featcfg cfg;
    kefu_hashes on = {0}, off = {0}, rev = {0};
    uint64_t p1[8], p2[8];
    (void)st;
    kefu_mem_init(&mem, NULL);
    assert_int_equal(kefu_text_new(&t, NULL), KEFU_OK);
    kefu_featcfg_default(&cfg);
    cfg.word_ngrams = 1;
    cfg.sub_min = cfg.sub_max = 0;
    extract(t, &cfg, "cancel card", &off, &mem);
    cfg.word_pairs = KEFU_PAIR_WORDS_DEFAULT;
    extract(t, &cfg, "cancel card", &on, &mem);
    assert_int_equal(on.n, off.n + 1);
    assert_int_equal(only_in(&on, &off, p1, 8), 1);
    extract(t, &cfg, "card, please cancel", &rev, &mem);
    /* new: ",", "please" and three pairs (punctuation does not pair) */
    assert_int_equal(only_in(&rev, &off, p2, 8), 5);
    assert_true(has(&rev, p1[0]));
    /* "a a" has no pair: a word does not pair with itself */
    extract(t, &cfg, "card card", &on, &mem);
    assert_int_equal(on.n, 2);
    /* only the first cfg.word_pairs words take part, at most
     * KEFU_PAIR_WORDS */
    {
        static const int limits[][2] = {{2, 2}, {5, 5}, {KEFU_PAIR_WORDS_DEFAULT,
            KEFU_PAIR_WORDS_DEFAULT}, {KEFU_PAIR_WORDS, KEFU_PAIR_WORDS},
            {255, KEFU_PAIR_WORDS}};
        char buf[400] = "";
        for (int i = 0; i < KEFU_PAIR_WORDS + 10; i++) {
            char w[8];
            snprintf(w, sizeof w, "w%c%c ", 'a' + i / 26, 'a' + i % 26);
            strcat(buf, w);
        }
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
            const size_t k = (size_t)limits[i][1];
            cfg.word_pairs = (uint8_t)limits[i][0];
            extract(t, &cfg, buf, &on, &mem);
            assert_int_equal(on.n, KEFU_PAIR_WORDS + 10 + k * (k - 1) / 2);
        }
    }
    kefu_hashes_release(&on, &mem);
    kefu_hashes_release(&off, &mem);
    kefu_hashes_release(&rev, &mem);
    kefu_text_free(t);
}

/* With a dictionary, only words it knows with idf >= pair_min_idf pair. */
static void test_pairs_need_rare_words(void **st)
{
    kefu_mem mem;
    kefu_text *t = NULL;
    kefu_featcfg cfg;
    kefu_hashes words = {0}, hs = {0};
    kefu_featdict d;
    float idf[3] = {3.0f, 1.1f, 3.0f}; /* cancel, the, card */
    (void)st;
    kefu_mem_init(&mem, NULL);
    assert_int_equal(kefu_text_new(&t, NULL), KEFU_OK);
    kefu_featcfg_default(&cfg);
    cfg.word_ngrams = 1;
    cfg.sub_min = cfg.sub_max = 0;
    extract(t, &cfg, "cancel the card", &words, &mem);
    assert_int_equal(words.n, 3);
    cfg.word_pairs = KEFU_PAIR_WORDS_DEFAULT;
    cfg.pair_min_idf = 2.0f;
    /* "card" unknown: only cancel is a rare known word, nothing to pair */
    assert_int_equal(kefu_featdict_build(&d, words.h, idf, 2, &mem), KEFU_OK);
    assert_int_equal(kefu_text_run(t, "cancel the card", 15), KEFU_OK);
    assert_int_equal(kefu_features_extract(&cfg, &d, t, &hs, &mem), KEFU_OK);
    assert_int_equal(hs.n, 3);
    kefu_featdict_release(&d, &mem);
    /* all three known, "the" too frequent: one pair, cancel & card */
    assert_int_equal(kefu_featdict_build(&d, words.h, idf, 3, &mem), KEFU_OK);
    assert_int_equal(kefu_features_extract(&cfg, &d, t, &hs, &mem), KEFU_OK);
    assert_int_equal(hs.n, 4);
    /* without a dictionary every word pairs */
    assert_int_equal(kefu_features_extract(&cfg, NULL, t, &hs, &mem), KEFU_OK);
    assert_int_equal(hs.n, 6);
    kefu_featdict_release(&d, &mem);
    kefu_hashes_release(&words, &mem);
    kefu_hashes_release(&hs, &mem);
    kefu_text_free(t);
}

/* Sub-word hashes are odd, all others even. */
static void test_blocks_by_parity(void **st)
{
    kefu_mem mem;
    kefu_text *t = NULL;
    kefu_featcfg cfg;
    kefu_hashes words = {0}, all = {0};
    (void)st;
    kefu_mem_init(&mem, NULL);
    assert_int_equal(kefu_text_new(&t, NULL), KEFU_OK);
    kefu_featcfg_default(&cfg);
    cfg.word_pairs = KEFU_PAIR_WORDS_DEFAULT;
    cfg.sub_min = cfg.sub_max = 0;
    extract(t, &cfg, "where is my parcel 我的订单 ?! 123", &words, &mem);
    for (size_t i = 0; i < words.n; i++)
        assert_false(kefu_feat_is_sub(words.h[i]));
    cfg.sub_min = 3;
    cfg.sub_max = 4;
    extract(t, &cfg, "where is my parcel 我的订单 ?! 123", &all, &mem);
    assert_true(all.n > words.n);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(kefu_feat_is_sub(all.h[i]), !has(&words, all.h[i]));
    kefu_hashes_release(&words, &mem);
    kefu_hashes_release(&all, &mem);
    kefu_text_free(t);
}

/* The vector: one entry per distinct feature, by index; (1 + ln count) *
 * idf; each block normalised, blocks weighted 1 : sub_weight; unit length. */
static void test_sparse_vector(void **st)
{
    kefu_mem mem;
    kefu_featdict d;
    kefu_featcfg cfg;
    kefu_hashes hs = {0};
    kefu_sparse sp = {0};
    /* even = word block, odd = sub-word block */
    uint64_t keys[4] = {10, 20, 31, 41};
    float idf[4] = {1.0f, 2.0f, 1.5f, 1.5f};
    uint64_t msg[7] = {10, 20, 20, 31, 99, 41, 20}; /* 99 is unknown */
    double w2 = 0, s2 = 0;
    (void)st;
    kefu_mem_init(&mem, NULL);
    kefu_featcfg_default(&cfg);
    cfg.sub_weight = 0.5f;
    assert_int_equal(kefu_featdict_build(&d, keys, idf, 4, &mem), KEFU_OK);
    assert_true(kefu_featdict_find(&d, 20)->idf == 2.0f);
    assert_int_equal(kefu_featdict_get(&d, 31), 2);
    assert_null(kefu_featdict_find(&d, 99));
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(push_hash(&hs, msg[i], &mem), KEFU_OK);
    assert_int_equal(kefu_sparse_from_hashes(&cfg, &d, &hs, &sp, &mem), KEFU_OK);
    assert_int_equal(sp.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sp.idx[i], i);
        if (i < 2)
            w2 += (double)sp.val[i] * sp.val[i];
        else
            s2 += (double)sp.val[i] * sp.val[i];
    }
    /* word block: feature 0 once (1 * 1), feature 1 three times
     * ((1 + ln 3) * 2); the sub-word block: two equal entries */
    assert_float_equal(sp.val[1] / sp.val[0], (1 + log(3.0)) * 2, 1e-4);
    assert_float_equal(sp.val[2], sp.val[3], 1e-6);
    assert_float_equal(w2 + s2, 1.0, 1e-5);
    assert_float_equal(s2 / w2, 0.25, 1e-5);
    /* entries in the order of first occurrence, each with where it came
     * from */
    assert_int_equal(sp.from[0], 0);
    assert_int_equal(sp.from[1], 1);
    assert_int_equal(sp.from[2], 3);
    assert_int_equal(sp.from[3], 5);
    /* counts: count * idf in one block, scaled by every occurrence's idf:
     * 10 once (1), 20 three times (2), 31 and 41 once (1.5) */
    cfg.sublinear = 0;
    assert_int_equal(kefu_sparse_from_hashes(&cfg, &d, &hs, &sp, &mem), KEFU_OK);
    assert_int_equal(sp.n, 4);
    assert_float_equal(sp.val[1] / sp.val[0], 6.0, 1e-5);
    assert_float_equal(sp.val[0], 1.0 / sqrt(1 + 3 * 4 + 2 * 2.25), 1e-6);
    cfg.sublinear = 1;
    /* one block alone has unit length whatever the weight */
    hs.n = 2; /* 10, 20 */
    assert_int_equal(kefu_sparse_from_hashes(&cfg, &d, &hs, &sp, &mem), KEFU_OK);
    assert_float_equal((double)sp.val[0] * sp.val[0] + (double)sp.val[1] * sp.val[1],
                       1.0, 1e-5);
    /* a long message: 300 features, four distinct, 75 of each */
    hs.n = 0;
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(push_hash(&hs, keys[(i * 7) % 4], &mem), KEFU_OK);
    cfg.sub_weight = 1.0f;
    assert_int_equal(kefu_sparse_from_hashes(&cfg, &d, &hs, &sp, &mem), KEFU_OK);
    assert_int_equal(sp.n, 4);
    assert_int_equal(sp.idx[0], 0);
    assert_int_equal(sp.idx[1], 3);
    assert_int_equal(sp.idx[2], 2);
    assert_int_equal(sp.idx[3], 1);
    assert_float_equal(sp.val[1], sp.val[2], 1e-6); /* same idf, same count */
    kefu_sparse_release(&sp, &mem);
    kefu_hashes_release(&hs, &mem);
    kefu_featdict_release(&d, &mem);
}

/* Many features, many repeats: the entries are the distinct known
 * features in the order of first occurrence, each with the index of its
 * first occurrence and its count (checked against a plain count). */
static void test_sparse_many_repeats(void **st)
{
    enum { NDICT = 5000, NMSG = 3000 };
    kefu_mem mem;
    kefu_featdict d;
    kefu_featcfg cfg;
    kefu_hashes hs = {0};
    kefu_sparse sp = {0};
    static uint64_t keys[NDICT];
    static float idf[NDICT];
    static uint32_t count[NDICT], first[NDICT];
    uint64_t rng = 7;
    size_t distinct = 0;
    (void)st;
    kefu_mem_init(&mem, NULL);
    kefu_featcfg_default(&cfg);
    cfg.sublinear = 0; /* val = count * idf / norm: counts read back */
    for (uint32_t i = 0; i < NDICT; i++) {
        keys[i] = (kefu_rng_next(&rng) | 1) & ~(uint64_t)1; /* word block */
        idf[i] = 1.0f;
    }
    assert_int_equal(kefu_featdict_build(&d, keys, idf, NDICT, &mem), KEFU_OK);
    for (uint32_t i = 0; i < NMSG; i++) {
        /* a third of the draws are unknown; known ones from the first
         * 1500 features, so most repeat */
        uint64_t r = kefu_rng_next(&rng);
        uint64_t h = r % 3 == 0 ? kefu_rng_next(&rng) & ~(uint64_t)1
                                : keys[(r >> 8) % 1500];
        uint32_t j = kefu_featdict_get(&d, h);
        assert_int_equal(push_hash(&hs, h, &mem), KEFU_OK);
        if (j == UINT32_MAX)
            continue;
        if (!count[j]++)
            first[j] = i;
    }
    assert_int_equal(kefu_sparse_from_hashes(&cfg, &d, &hs, &sp, &mem), KEFU_OK);
    for (uint32_t j = 0; j < NDICT; j++)
        distinct += count[j] != 0;
    assert_int_equal(sp.n, distinct);
    for (size_t e = 0; e < sp.n; e++) {
        const uint32_t j = sp.idx[e];
        assert_int_equal(sp.from[e], first[j]);
        if (e) {
            /* same ratio as the counts: one norm scales them all */
            assert_float_equal(sp.val[e] / sp.val[0],
                               (double)count[j] / count[sp.idx[0]], 1e-4);
            assert_true(sp.from[e] > sp.from[e - 1]);
        }
    }
    kefu_sparse_release(&sp, &mem);
    kefu_hashes_release(&hs, &mem);
    kefu_featdict_release(&d, &mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_pairs),
        cmocka_unit_test(test_sparse_many_repeats),
        cmocka_unit_test(test_pairs_need_rare_words),
        cmocka_unit_test(test_blocks_by_parity),
        cmocka_unit_test(test_sparse_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
