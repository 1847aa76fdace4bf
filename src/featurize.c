/*
 * featurize.c - hashed n-gram features and the feature dictionary.
 * Hashes are stored in binary models: the namespaces and the way n-grams
 * are hashed must not change without a model format version bump.
 */
#include "featurize.h"

#include <math.h>

enum { NS_WORD = 1, NS_WORD2, NS_CJK1, NS_CJK2, NS_CJK3, NS_SUB, NS_PUNCT,
       NS_NUM, NS_EMOJI };

#define SEED(ns) (0x6b6566750000ULL + (uint64_t)(ns))

void kefu_featcfg_default(kefu_featcfg *cfg)
{
    cfg->word_ngrams = 2;
    cfg->cjk_max = 3;
    cfg->sub_min = 3;
    cfg->sub_max = 4;
}

static inline int push(kefu_hashes *out, uint64_t h, size_t tok, uint32_t ntok,
                       const kefu_mem *mem)
{
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

static inline uint64_t mix2(uint64_t a, uint64_t b, uint64_t seed)
{
    uint64_t x[2] = {a, b};
    return kefu_hash64(x, sizeof x, seed);
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
            int rc = push(out,
                          kefu_hash64(buf + starts[i], starts[i + g] - starts[i],
                                      SEED(NS_SUB)),
                          tok, 1, mem);
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

int kefu_features_extract(const kefu_featcfg *cfg, const kefu_text *t,
                          kefu_hashes *out, const kefu_mem *mem)
{
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

int kefu_featdict_build(kefu_featdict *d, const uint64_t *hashes, uint32_t n,
                        const kefu_mem *mem)
{
    uint32_t size = 16;
    memset(d, 0, sizeof *d);
    while (size < n * 2u && size < (1u << 31))
        size *= 2;
    d->keys = kefu_alloc_array(mem, size, sizeof *d->keys);
    d->index = kefu_alloc_array(mem, size, sizeof *d->index);
    d->idf = kefu_alloc_array(mem, n ? n : 1, sizeof *d->idf);
    if (!d->keys || !d->index || !d->idf) {
        kefu_featdict_release(d, mem);
        return KEFU_E_NOMEM;
    }
    d->mask = size - 1;
    for (uint32_t j = 0; j < n; j++) {
        uint64_t h = hashes[j] ? hashes[j] : 1;
        uint32_t i = (uint32_t)(h ^ (h >> 32)) & d->mask;
        while (d->keys[i] && d->keys[i] != h)
            i = (i + 1) & d->mask;
        d->keys[i] = h;
        d->index[i] = j;
        d->idf[j] = 1.0f;
    }
    d->n = n;
    return KEFU_OK;
}

void kefu_featdict_release(kefu_featdict *d, const kefu_mem *mem)
{
    kefu_dealloc(mem, d->keys);
    kefu_dealloc(mem, d->index);
    kefu_dealloc(mem, d->idf);
    memset(d, 0, sizeof *d);
}

int kefu_sparse_from_hashes(const kefu_featdict *d, const kefu_hashes *hs,
                            kefu_sparse *out, const kefu_mem *mem)
{
    double norm = 0;
    out->n = 0;
    if (hs->n > out->cap) {
        size_t c1 = out->cap, c2 = out->cap;
        if (kefu_grow(mem, (void **)&out->idx, &c1, hs->n, sizeof *out->idx) ||
            kefu_grow(mem, (void **)&out->val, &c2, hs->n, sizeof *out->val))
            return KEFU_E_NOMEM;
        out->cap = c1 < c2 ? c1 : c2;
    }
    for (size_t i = 0; i < hs->n; i++) {
        uint32_t j = kefu_featdict_get(d, hs->h[i]);
        if (j == UINT32_MAX)
            continue;
        out->idx[out->n] = j;
        out->val[out->n] = d->idf[j];
        norm += (double)d->idf[j] * d->idf[j];
        out->n++;
    }
    if (norm > 0) {
        float inv = (float)(1.0 / sqrt(norm));
        for (size_t i = 0; i < out->n; i++)
            out->val[i] *= inv;
    }
    return KEFU_OK;
}

void kefu_sparse_release(kefu_sparse *s, const kefu_mem *mem)
{
    kefu_dealloc(mem, s->idx);
    kefu_dealloc(mem, s->val);
    memset(s, 0, sizeof *s);
}
