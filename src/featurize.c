/*
 * featurize.c - hashed n-gram features and the feature dictionary.
 * Hashes are stored in binary models: the namespaces and the way n-grams
 * are hashed must not change without a model format version bump.
 */
#include "featurize.h"

#include <math.h>
#include <stdlib.h>

enum { NS_WORD = 1, NS_WORD2, NS_CJK1, NS_CJK2, NS_CJK3, NS_SUB, NS_PUNCT,
       NS_NUM, NS_EMOJI, NS_PAIR };

#define SEED(ns) (0x6b6566750000ULL + (uint64_t)(ns))

void kefu_featcfg_default(kefu_featcfg *cfg)
{
    cfg->word_ngrams = 2;
    cfg->cjk_max = 3;
    cfg->sub_min = 3;
    cfg->sub_max = 4;
    cfg->word_pairs = 0;
    cfg->pair_min_idf = 0;
    cfg->sub_weight = 1.0f;
    cfg->sublinear = 1;
}

/* Appends a feature; sub-word features get odd hashes, all others even
 * (kefu_feat_is_sub). */
static inline int push_block(kefu_hashes *out, uint64_t h, size_t tok,
                             uint32_t ntok, bool sub, const kefu_mem *mem)
{
    h = sub ? h | 1 : h & ~(uint64_t)1;
    if (out->n == out->cap) {
        size_t c1 = out->cap, c2 = out->cap;
        if (kefu_grow(mem, (void **)&out->h, &c1, out->n + 1, sizeof *out->h) ||
            kefu_grow(mem, (void **)&out->origin, &c2, out->n + 1,
                      sizeof *out->origin))
            return KEFU_E_NOMEM;
        out->cap = c1 < c2 ? c1 : c2;
    }
    out->origin[out->n] = (uint32_t)tok << 8 | ntok;
    out->h[out->n++] = h;
    return KEFU_OK;
}

static inline int push(kefu_hashes *out, uint64_t h, size_t tok, uint32_t ntok,
                       const kefu_mem *mem)
{
    return push_block(out, h, tok, ntok, false, mem);
}

static inline uint64_t mix2(uint64_t a, uint64_t b, uint64_t seed)
{
    return kefu_hash64_pair(a, b, seed);
}

/* Hash of a word-level token: its text, or its shape for numbers. */
static uint64_t token_hash(const kefu_text *t, const kefu_tok *k)
{
    const char *s = t->norm.data + k->norm_off;
    if (k->kind == KEFU_TOKEN_NUMBER) {
        uint32_t digits = 0;
        for (uint32_t i = 0; i < k->norm_len; i++)
            digits += s[i] >= '0' && s[i] <= '9';
        return kefu_hash64(&digits, sizeof digits, SEED(NS_NUM));
    }
    return kefu_hash64(s, k->norm_len,
                       SEED(k->kind == KEFU_TOKEN_EMOJI ? NS_EMOJI : NS_WORD));
}

/* Sub-word character n-grams of "<word>", by code point. */
static int subwords(const kefu_featcfg *cfg, const char *s, uint32_t len,
                    uint32_t ncp, size_t tok, kefu_hashes *out,
                    const kefu_mem *mem)
{
    uint32_t starts[66];
    char buf[300];
    uint32_t n = 0, blen;
    if (ncp + 2 > 64 || len + 2 > sizeof buf)
        return KEFU_OK; /* very long "words" are noise; skip */
    buf[0] = '<';
    memcpy(buf + 1, s, len);
    buf[len + 1] = '>';
    blen = len + 2;
    for (uint32_t i = 0; i < blen; i++)
        if (((unsigned char)buf[i] & 0xC0) != 0x80)
            starts[n++] = i;
    starts[n] = blen;
    for (uint32_t g = cfg->sub_min; g <= cfg->sub_max; g++) {
        if (g >= n) /* the whole "<word>" is already the word feature */
            break;
        for (uint32_t i = 0; i + g <= n; i++) {
            int rc = push_block(out,
                                kefu_hash64(buf + starts[i],
                                            starts[i + g] - starts[i], SEED(NS_SUB)),
                                tok, 1, true, mem);
            if (rc)
                return rc;
        }
    }
    return KEFU_OK;
}

static bool wordlike(uint32_t kind)
{
    return kind == KEFU_TOKEN_WORD || kind == KEFU_TOKEN_NUMBER ||
           kind == KEFU_TOKEN_EMOJI;
}

/*
 * Unordered pairs of distinct words anywhere in the message: a bag of
 * word co-occurrences (the degree-2 part of a polynomial kernel), which
 * tells "cancel ... card" from "cancel ... order" whatever stands between.
 */
static int word_pairs(const uint64_t *w, const uint32_t *tok, uint32_t n,
                      kefu_hashes *out, const kefu_mem *mem)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++) {
            int rc;
            if (w[i] == w[j])
                continue;
            rc = push(out,
                      w[i] < w[j] ? mix2(w[i], w[j], SEED(NS_PAIR))
                                  : mix2(w[j], w[i], SEED(NS_PAIR)),
                      tok[i],
                      tok[j] - tok[i] < 255 ? tok[j] - tok[i] + 1 : 255, mem);
            if (rc)
                return rc;
        }
    return KEFU_OK;
}

/* Whether a word takes part in pairs (see kefu_features_extract). */
static bool pairs_with(const kefu_featcfg *cfg, const kefu_featdict *d,
                       uint64_t w)
{
    const kefu_featslot *s;
    if (!d)
        return true;
    s = kefu_featdict_find(d, w & ~(uint64_t)1);
    return s && s->idf >= cfg->pair_min_idf;
}

int kefu_features_extract(const kefu_featcfg *cfg, const kefu_featdict *d,
                          const kefu_text *t, kefu_hashes *out,
                          const kefu_mem *mem)
{
    uint64_t pw[KEFU_PAIR_WORDS];
    uint32_t ptok[KEFU_PAIR_WORDS], npw = 0;
    uint64_t prev_word = 0;
    size_t prev_tok = 0;
    bool have_prev = false;
    uint64_t c1 = 0, c2 = 0; /* previous two CJK characters */
    int run = 0;             /* length of the current CJK run */
    int rc = KEFU_OK;

    out->n = 0;
    for (size_t i = 0; i < t->ntoks && !rc; i++) {
        const kefu_tok *k = &t->toks[i];
        const char *s = t->norm.data + k->norm_off;
        if (k->kind == KEFU_TOKEN_CJK) {
            uint64_t c = kefu_hash64(s, k->norm_len, SEED(NS_CJK1));
            rc = push(out, c, i, 1, mem);
            if (!rc && run >= 1 && cfg->cjk_max >= 2)
                rc = push(out, mix2(c1, c, SEED(NS_CJK2)), i - 1, 2, mem);
            if (!rc && run >= 2 && cfg->cjk_max >= 3)
                rc = push(out, mix2(mix2(c2, c1, 0), c, SEED(NS_CJK3)), i - 2, 3, mem);
            c2 = c1;
            c1 = c;
            run++;
            /* a CJK run separates words, but "我要iphone" style mixes keep
             * the previous word link for the bigram */
            have_prev = false;
            continue;
        }
        run = 0;
        if (wordlike(k->kind)) {
            uint64_t w = token_hash(t, k);
            rc = push(out, w, i, 1, mem);
            if (npw < cfg->word_pairs && npw < KEFU_PAIR_WORDS &&
                k->kind == KEFU_TOKEN_WORD && i <= UINT32_MAX >> 8 &&
                pairs_with(cfg, d, w)) {
                pw[npw] = w;
                ptok[npw++] = (uint32_t)i;
            }
            if (!rc && have_prev && cfg->word_ngrams >= 2)
                rc = push(out, mix2(prev_word, w, SEED(NS_WORD2)), prev_tok,
                          (uint32_t)(i - prev_tok + 1), mem);
            if (!rc && k->kind == KEFU_TOKEN_WORD && cfg->sub_min)
                rc = subwords(cfg, s, k->norm_len, k->ncp, i, out, mem);
            prev_word = w;
            prev_tok = i;
            have_prev = true;
        } else if (k->kind == KEFU_TOKEN_PUNCT) {
            uint32_t key[2];
            uint32_t cp_len = 1;
            while (cp_len < k->norm_len &&
                   ((unsigned char)s[cp_len] & 0xC0) == 0x80)
                cp_len++;
            key[0] = 0;
            memcpy(key, s, cp_len < 4 ? cp_len : 4);
            key[1] = k->ncp >= 3 ? 3 : k->ncp;
            rc = push(out, kefu_hash64(key, sizeof key, SEED(NS_PUNCT)), i, 1, mem);
            /* punctuation does not break word bigrams except sentence ends */
            if (s[0] == '.' || s[0] == '?' || s[0] == '!')
                have_prev = false;
        }
    }
    if (!rc && npw > 1)
        rc = word_pairs(pw, ptok, npw, out, mem);
    return rc;
}

void kefu_hashes_release(kefu_hashes *hs, const kefu_mem *mem)
{
    kefu_dealloc(mem, hs->h);
    kefu_dealloc(mem, hs->origin);
    hs->h = NULL;
    hs->origin = NULL;
    hs->n = hs->cap = 0;
}

/* ---- dictionary ---- */

int kefu_featdict_build(kefu_featdict *d, const uint64_t *hashes,
                        const float *idf, uint32_t n, const kefu_mem *mem)
{
    uint32_t size = 16;
    memset(d, 0, sizeof *d);
    while (size < n * 2u && size < (1u << 31))
        size *= 2;
    d->slot = kefu_alloc_array(mem, size, sizeof *d->slot);
    d->idf = kefu_alloc_array(mem, n ? n : 1, sizeof *d->idf);
    if (!d->slot || !d->idf) {
        kefu_featdict_release(d, mem);
        return KEFU_E_NOMEM;
    }
    d->mask = size - 1;
    for (uint32_t j = 0; j < n; j++) {
        uint64_t h = hashes[j] ? hashes[j] : 1;
        uint32_t i = (uint32_t)(h ^ (h >> 32)) & d->mask;
        while (d->slot[i].key && d->slot[i].key != h)
            i = (i + 1) & d->mask;
        d->idf[j] = idf ? idf[j] : 1.0f;
        d->slot[i].key = h;
        d->slot[i].index = j;
        d->slot[i].idf = d->idf[j];
    }
    d->n = n;
    return KEFU_OK;
}

void kefu_featdict_release(kefu_featdict *d, const kefu_mem *mem)
{
    kefu_dealloc(mem, d->slot);
    kefu_dealloc(mem, d->idf);
    memset(d, 0, sizeof *d);
}

int kefu_sparse_reserve(kefu_sparse *sp, size_t n, const kefu_mem *mem)
{
    size_t c[3] = {sp->cap, sp->cap, sp->cap};
    if (n <= sp->cap)
        return KEFU_OK;
    if (kefu_grow(mem, (void **)&sp->idx, &c[0], n, sizeof *sp->idx) ||
        kefu_grow(mem, (void **)&sp->val, &c[1], n, sizeof *sp->val) ||
        kefu_grow(mem, (void **)&sp->from, &c[2], n, sizeof *sp->from))
        return KEFU_E_NOMEM;
    sp->cap = c[0];
    for (int i = 1; i < 3; i++)
        if (c[i] < sp->cap)
            sp->cap = c[i];
    return KEFU_OK;
}

int kefu_sparse_from_hashes(const kefu_featcfg *cfg, const kefu_featdict *d,
                            const kefu_hashes *hs, kefu_sparse *out,
                            const kefu_mem *mem)
{
    double norm[2] = {0, 0};
    float scale[2];
    bool repeats = false;
    out->n = 0;
    if (kefu_sparse_reserve(out, hs->n, mem))
        return KEFU_E_NOMEM;
    /* a repeated feature becomes one entry with its count: a small
     * open-addressing table, cleared per message, whose slots hold a
     * dictionary index + 1 (high half) and its entry (low half), so a
     * probe compares in place; at most a quarter full, so few probe
     * twice (entries keep the order of first occurrence) */
    {
        size_t size = 64, mask;
        while (size < hs->n * 4)
            size *= 2;
        if (size > out->slot_cap) {
            size_t c = out->slot_cap;
            if (kefu_grow(mem, (void **)&out->slot, &c, size, sizeof *out->slot))
                return KEFU_E_NOMEM;
            out->slot_cap = c;
        }
        memset(out->slot, 0, size * sizeof *out->slot);
        mask = size - 1;
        for (size_t i = 0; i < hs->n; i++) {
            const kefu_featslot *fs;
#if defined(__GNUC__)
            /* the table is large and probed at random: ask for the slot
             * of a feature a few places ahead */
            if (i + 8 < hs->n && d->n) {
                uint64_t a = hs->h[i + 8] ? hs->h[i + 8] : 1;
                __builtin_prefetch(&d->slot[(uint32_t)(a ^ (a >> 32)) & d->mask]);
            }
#endif
            fs = kefu_featdict_find(d, hs->h[i]);
            uint32_t j;
            size_t h;
            if (!fs)
                continue;
            j = fs->index;
            h = (j * 0x9E3779B1u) & mask;
            while (out->slot[h] && out->slot[h] >> 32 != (uint64_t)j + 1)
                h = (h + 1) & mask;
            if (out->slot[h]) {
                /* a repeat: val holds count * idf until the end */
                out->val[(uint32_t)out->slot[h]] += fs->idf;
                repeats = true;
                continue;
            }
            out->slot[h] = ((uint64_t)j + 1) << 32 | out->n;
            out->idx[out->n] = j;
            out->val[out->n] = fs->idf;
            out->from[out->n++] = (uint32_t)i;
        }
    }
    if (!cfg->sublinear) {
        /* counts: count * idf, the vector scaled by the idf of every
         * occurrence (sqrt of sum count * idf^2), one block */
        double occ = 0;
        float inv;
        for (size_t i = 0; i < out->n; i++)
            occ += (double)out->val[i] *
                   (repeats ? d->idf[out->idx[i]] : out->val[i]);
        inv = occ > 0 ? (float)(1.0 / sqrt(occ)) : 0.0f;
        for (size_t i = 0; i < out->n; i++)
            out->val[i] *= inv;
        return KEFU_OK;
    }
    /* sublinear term frequency: (1 + ln count) * idf */
    for (size_t i = 0; i < out->n; i++) {
        float v = out->val[i];
        if (repeats) {
            float idf = d->idf[out->idx[i]];
            float count = idf > 0 ? v / idf : 1.0f;
            v = count > 1.5f ? (1.0f + logf(count)) * idf : idf;
            out->val[i] = v;
        }
        norm[kefu_feat_is_sub(hs->h[out->from[i]])] += (double)v * v;
    }
    {
        /* block weights 1 : r, scaled so that the vector has unit length */
        double r = norm[0] > 0 && norm[1] > 0 ? cfg->sub_weight : 1.0;
        double wn = norm[0] > 0 ? 1.0 / sqrt(1.0 + (norm[1] > 0 ? r * r : 0.0)) : 0.0;
        double sn = norm[1] > 0 ? (norm[0] > 0 ? r * wn : 1.0) : 0.0;
        scale[0] = norm[0] > 0 ? (float)(wn / sqrt(norm[0])) : 0.0f;
        scale[1] = norm[1] > 0 ? (float)(sn / sqrt(norm[1])) : 0.0f;
    }
    for (size_t i = 0; i < out->n; i++)
        out->val[i] *= scale[kefu_feat_is_sub(hs->h[out->from[i]])];
    return KEFU_OK;
}

void kefu_sparse_release(kefu_sparse *s, const kefu_mem *mem)
{
    kefu_dealloc(mem, s->idx);
    kefu_dealloc(mem, s->val);
    kefu_dealloc(mem, s->from);
    kefu_dealloc(mem, s->slot);
    memset(s, 0, sizeof *s);
}
