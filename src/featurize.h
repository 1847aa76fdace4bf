/*
 * featurize.h - hashed n-gram features of tokenised text, and the feature
 * dictionary that maps them to the dense indices a trained model knows.
 * Needs only core and text.
 *
 * Features (each in its own hash namespace):
 *   word unigrams and bigrams over word/number/emoji tokens (numbers as a
 *   shape class "#<digits>"), CJK character 1..cjk_max grams over runs of
 *   CJK tokens, sub-word character n-grams sub_min..sub_max of Latin words
 *   with boundary marks ("<word>"), punctuation runs as "!", "!!", "!!!+".
 */
#ifndef KEFU_FEATURIZE_H
#define KEFU_FEATURIZE_H

#include "core.h"
#include "text.h"

typedef struct kefu_featcfg {
    uint8_t word_ngrams;   /* 1 or 2 */
    uint8_t cjk_max;       /* 1..3 */
    uint8_t sub_min;       /* 0 = no sub-word n-grams */
    uint8_t sub_max;
    uint8_t word_pairs;    /* unordered pairs of the first word_pairs words
                            * of a message (0: none; at most
                            * KEFU_PAIR_WORDS) */
    float pair_min_idf;    /* words that pair: known to the dictionary, with
                            * at least this idf (frequent words do not) */
    float sub_weight;      /* weight of the sub-word block against the
                            * word block (each is L2-normalised) */
    uint8_t sublinear;     /* 1: (1 + ln count) * idf in two blocks (above);
                            * 0: count * idf in one block, scaled by the
                            * idf of every occurrence */
} kefu_featcfg;

/* Sub-word features have odd hashes, all others even: the two blocks of
 * a feature vector are told apart by the hash alone. */
static inline bool kefu_feat_is_sub(uint64_t h)
{
    return (h & 1) != 0;
}

/* The most words of a message that can take part in pairs (the first
 * ones), and how many do unless a model says otherwise. */
#define KEFU_PAIR_WORDS 24
#define KEFU_PAIR_WORDS_DEFAULT 12

void kefu_featcfg_default(kefu_featcfg *cfg);

/*
 * A growable list of feature hashes (duplicates kept: they are counts) and,
 * for each, the tokens it came from: (first token << 8) | token count.
 */
typedef struct kefu_hashes {
    uint64_t *h;
    uint32_t *origin;
    size_t n, cap;
} kefu_hashes;

struct kefu_featdict;

/* Appends the features of the tokens in `t` to `out` (after clearing it).
 * With word pairs on, only words that `d` knows with an idf of at least
 * cfg->pair_min_idf pair (d NULL: every word).
 * Allocates only when `out` must grow. */
int kefu_features_extract(const kefu_featcfg *cfg, const struct kefu_featdict *d,
                          const kefu_text *t, kefu_hashes *out,
                          const kefu_mem *mem);
void kefu_hashes_release(kefu_hashes *hs, const kefu_mem *mem);

/*
 * The dictionary: an open-addressing table from feature hash to a dense
 * index and the feature's idf weight, in one 16-byte slot (one cache line
 * per lookup); idf also by index.  Built at training or load time, then
 * read-only.
 */
typedef struct kefu_featslot {
    uint64_t key;       /* 0 = empty (hash 0 is remapped to 1) */
    uint32_t index;
    float idf;
} kefu_featslot;

typedef struct kefu_featdict {
    kefu_featslot *slot;
    uint32_t mask;      /* table size - 1 (power of two) */
    uint32_t n;         /* number of features */
    float *idf;         /* [n] */
} kefu_featdict;

/* The slot of `h`, or NULL if the dictionary does not know it. */
static inline const kefu_featslot *kefu_featdict_find(const kefu_featdict *d,
                                                      uint64_t h)
{
    uint32_t i;
    if (!d->n)
        return NULL;
    h = h ? h : 1;
    i = (uint32_t)(h ^ (h >> 32)) & d->mask;
    for (;;) {
        const kefu_featslot *s = &d->slot[i];
        if (s->key == h)
            return s;
        if (!s->key)
            return NULL;
        i = (i + 1) & d->mask;
    }
}

/* Dense index of `h`, or UINT32_MAX if the dictionary does not know it. */
static inline uint32_t kefu_featdict_get(const kefu_featdict *d, uint64_t h)
{
    const kefu_featslot *s = kefu_featdict_find(d, h);
    return s ? s->index : UINT32_MAX;
}

/* Builds a table for n features with the given hashes (distinct) and idf
 * weights (NULL: all 1). */
int kefu_featdict_build(kefu_featdict *d, const uint64_t *hashes,
                        const float *idf, uint32_t n, const kefu_mem *mem);
void kefu_featdict_release(kefu_featdict *d, const kefu_mem *mem);

/*
 * A sparse vector over the dictionary, one entry per distinct feature in
 * the order of first occurrence: idf-weighted
 * sublinear term frequencies, (1 + ln count) * idf, in two
 * blocks (words and their n-grams and pairs, CJK n-grams, punctuation;
 * sub-words), each L2-normalised, then weighted 1 : cfg->sub_weight so
 * the whole vector has unit length.  Features the dictionary does not
 * know are dropped; from[i] is the index in hs of entry i.
 */
typedef struct kefu_sparse {
    uint32_t *idx;
    float *val;
    uint32_t *from;
    uint64_t *slot;     /* working space: index + 1 and entry */
    size_t n, cap, slot_cap;
} kefu_sparse;

int kefu_sparse_from_hashes(const kefu_featcfg *cfg, const kefu_featdict *d,
                            const kefu_hashes *hs, kefu_sparse *out,
                            const kefu_mem *mem);
/* Room for n entries in every array of sp. */
int kefu_sparse_reserve(kefu_sparse *sp, size_t n, const kefu_mem *mem);
void kefu_sparse_release(kefu_sparse *s, const kefu_mem *mem);

#endif
