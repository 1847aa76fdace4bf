/*
 * learner.c - linear classifiers over sparse features: a Crammer-Singer
 * multi-class SVM by dual coordinate descent (intents), and SGD on the
 * softmax or per-class logistic loss (trained emotion labels, multi-label
 * data).  Either way the weights are a plain matrix that a model file
 * stores as is, and one temperature calibrates the scores.  Why these:
 * doc/intents.md, "The learner, and why".
 */
/* The scoring and update loops run over every class for every feature;
 * GCC's -O2 cost model leaves them scalar, so ask for vectorisation here
 * (clang vectorises them at -O2 already). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "vect-cost-model=dynamic")
#endif

#include "learner.h"

#include <math.h>
#include <stdlib.h>

void kefu_learn_opts_default(kefu_learn_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 25;
    o->lr = 0.5f;
    o->l2 = 0.0f;
    o->seed = 1;
    o->solver = KEFU_SOLVER_SOFTMAX;
    o->c = 1.0f;
    o->eps = 0.1f;
}

int kefu_dataset_add(kefu_dataset *ds, const uint32_t *idx, const float *val,
                     size_t nnz, const uint32_t *labels, size_t nlabels,
                     const kefu_mem *mem)
{
    size_t nz = ds->n ? ds->off[ds->n] : 0;
    size_t nl = ds->n ? ds->lab_off[ds->n] : 0;
    size_t c1 = ds->cap_rows, c2 = ds->cap_rows;
    if (kefu_grow(mem, (void **)&ds->off, &c1, ds->n + 2, sizeof *ds->off) ||
        kefu_grow(mem, (void **)&ds->lab_off, &c2, ds->n + 2,
                  sizeof *ds->lab_off))
        return KEFU_E_NOMEM;
    ds->cap_rows = c1 < c2 ? c1 : c2;
    c1 = c2 = ds->cap_nnz;
    if (kefu_grow(mem, (void **)&ds->idx, &c1, nz + nnz + 1, sizeof *ds->idx) ||
        kefu_grow(mem, (void **)&ds->val, &c2, nz + nnz + 1, sizeof *ds->val))
        return KEFU_E_NOMEM;
    ds->cap_nnz = c1 < c2 ? c1 : c2;
    if (kefu_grow(mem, (void **)&ds->lab, &ds->cap_lab, nl + nlabels + 1,
                  sizeof *ds->lab))
        return KEFU_E_NOMEM;
    if (ds->n == 0) {
        ds->off[0] = 0;
        ds->lab_off[0] = 0;
    }
    if (nnz) {
        memcpy(ds->idx + nz, idx, nnz * sizeof *idx);
        memcpy(ds->val + nz, val, nnz * sizeof *val);
    }
    memcpy(ds->lab + nl, labels, nlabels * sizeof *labels);
    ds->n++;
    ds->off[ds->n] = nz + nnz;
    ds->lab_off[ds->n] = nl + nlabels;
    return KEFU_OK;
}

void kefu_dataset_release(kefu_dataset *ds, const kefu_mem *mem)
{
    kefu_dealloc(mem, ds->off);
    kefu_dealloc(mem, ds->idx);
    kefu_dealloc(mem, ds->val);
    kefu_dealloc(mem, ds->lab_off);
    kefu_dealloc(mem, ds->lab);
    memset(ds, 0, sizeof *ds);
}

void kefu_linear_release(kefu_linear *m, const kefu_mem *mem)
{
    kefu_dealloc(mem, m->w);
    if (!m->q_borrowed)
        kefu_dealloc(mem, m->q);
    kefu_dealloc(mem, m->scale);
    kefu_dealloc(mem, m->b);
    m->w = m->b = m->scale = NULL;
    m->q = NULL;
}

int kefu_linear_alloc_q(kefu_linear *m, const kefu_mem *mem)
{
    size_t rows = m->nfeat ? m->nfeat : 1;
    m->stride = kefu_lanes(m->ncls);
    /* not zeroed as a whole: callers fill every row; the padding after
     * each row's ncls weights is zeroed here */
    m->q = rows > SIZE_MAX / m->stride ? NULL : kefu_alloc(mem, rows * m->stride);
    if (m->q && m->stride > m->ncls)
        for (size_t f = 0; f < rows; f++)
            memset(m->q + f * m->stride + m->ncls, 0, m->stride - m->ncls);
    m->scale = kefu_alloc_array(mem, m->nfeat ? m->nfeat : 1, sizeof *m->scale);
    if (!m->q || !m->scale) {
        kefu_dealloc(mem, m->q);
        kefu_dealloc(mem, m->scale);
        m->q = NULL;
        m->scale = NULL;
        return KEFU_E_NOMEM;
    }
    return KEFU_OK;
}

int kefu_linear_quantize(kefu_linear *m, const kefu_mem *mem)
{
    const uint32_t k = m->ncls;
    if (!m->w)
        return KEFU_OK;
    if (kefu_linear_alloc_q(m, mem))
        return KEFU_E_NOMEM;
    for (uint32_t f = 0; f < m->nfeat; f++) {
        const float *w = m->w + (size_t)f * k;
        int8_t *q = m->q + (size_t)f * m->stride;
        float mx = 0;
        for (uint32_t c = 0; c < k; c++)
            if (fabsf(w[c]) > mx)
                mx = fabsf(w[c]);
        m->scale[f] = mx > 0 ? mx / 127.0f : 0.0f;
        for (uint32_t c = 0; c < k; c++)
            q[c] = (int8_t)(mx > 0 ? lrintf(w[c] / m->scale[f]) : 0);
    }
    kefu_dealloc(mem, m->w);
    m->w = NULL;
    return KEFU_OK;
}

/* Rows are scattered over the matrix: while four rows are scored, fetch
 * the next four's (rows i + 4 .. i + 7). */
static inline void prefetch_rows(const kefu_linear *m, const uint32_t *idx,
                                 size_t i, size_t nnz)
{
#if defined(__GNUC__)
    for (size_t p = i + 4; p < i + 8 && p < nnz; p++)
        for (uint32_t b = 0; b < m->stride; b += 64)
            __builtin_prefetch(m->q + (size_t)idx[p] * m->stride + b);
#else
    (void)m, (void)idx, (void)i, (void)nnz;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KEFU_SCORES_AVX2 1

/* Eight weights of a quantised row as floats: one sign extension from
 * memory and one conversion (GCC's own vectorisation of the loop below
 * widened in two steps and spent most of its time there). */
__attribute__((target("avx2"))) static inline __m256 row8(const int8_t *q)
{
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)q)));
}

/* v0 q0 + v1 q1 + v2 q2 + v3 q3 over eight classes, added as the C loop
 * adds them: (v0 q0 + v1 q1) + (v2 q2 + v3 q3), no fused multiply-add,
 * so the scores are bit for bit those of the portable loop. */
__attribute__((target("avx2"))) static inline __m256
rows4(const __m256 *v, const int8_t *q0, const int8_t *q1, const int8_t *q2,
      const int8_t *q3)
{
    return _mm256_add_ps(
        _mm256_add_ps(_mm256_mul_ps(v[0], row8(q0)), _mm256_mul_ps(v[1], row8(q1))),
        _mm256_add_ps(_mm256_mul_ps(v[2], row8(q2)), _mm256_mul_ps(v[3], row8(q3))));
}

/* The quantised part of kefu_linear_scores with AVX2, the same arithmetic
 * in the same order. */
__attribute__((target("avx2"))) static void
scores_q_avx2(const kefu_linear *m, const uint32_t *idx, const float *val,
              size_t nnz, float *s)
{
    const uint32_t k = m->ncls;
    const uint32_t full = k / KEFU_LANES * KEFU_LANES;
    __m256 tail[KEFU_LANES / 8];
    float tb[KEFU_LANES];
    size_t i = 0;
    for (uint32_t b = 0; b < KEFU_LANES / 8; b++)
        tail[b] = _mm256_setzero_ps();
    for (; i + 3 < nnz; i += 4) {
        const int8_t *q[4];
        __m256 v[4];
        prefetch_rows(m, idx, i, nnz);
        for (int r = 0; r < 4; r++) {
            q[r] = m->q + (size_t)idx[i + r] * m->stride;
            v[r] = _mm256_set1_ps(val[i + r] * m->scale[idx[i + r]]);
        }
        for (uint32_t c = 0; c < full; c += 8)
            _mm256_storeu_ps(s + c, _mm256_add_ps(_mm256_loadu_ps(s + c),
                                                  rows4(v, q[0] + c, q[1] + c,
                                                        q[2] + c, q[3] + c)));
        if (full < k)
            for (uint32_t b = 0; b < KEFU_LANES / 8; b++) {
                const uint32_t c = full + 8 * b;
                tail[b] = _mm256_add_ps(tail[b], rows4(v, q[0] + c, q[1] + c,
                                                       q[2] + c, q[3] + c));
            }
    }
    for (; i < nnz; i++) {
        const int8_t *q = m->q + (size_t)idx[i] * m->stride;
        const __m256 v = _mm256_set1_ps(val[i] * m->scale[idx[i]]);
        for (uint32_t c = 0; c < full; c += 8)
            _mm256_storeu_ps(s + c, _mm256_add_ps(_mm256_loadu_ps(s + c),
                                                  _mm256_mul_ps(v, row8(q + c))));
        if (full < k)
            for (uint32_t b = 0; b < KEFU_LANES / 8; b++)
                tail[b] = _mm256_add_ps(tail[b],
                                        _mm256_mul_ps(v, row8(q + full + 8 * b)));
    }
    for (uint32_t b = 0; b < KEFU_LANES / 8; b++)
        _mm256_storeu_ps(tb + 8 * b, tail[b]);
    for (uint32_t j = 0; full + j < k; j++)
        s[full + j] += tb[j];
}
#else
#define KEFU_SCORES_AVX2 0
#endif

void kefu_linear_scores(const kefu_linear *m, const uint32_t *idx,
                        const float *val, size_t nnz, float *restrict s)
{
    kefu_linear_scores_ex(m, idx, val, nnz, s, true);
}

void kefu_linear_scores_ex(const kefu_linear *m, const uint32_t *idx,
                           const float *val, size_t nnz, float *restrict s,
                           bool simd)
{
    const uint32_t k = m->ncls;
    memcpy(s, m->b, k * sizeof *s);
#if KEFU_SCORES_AVX2
    if (m->q && simd && __builtin_cpu_supports("avx2")) {
        scores_q_avx2(m, idx, val, nnz, s);
        return;
    }
#else
    (void)simd;
#endif
    if (m->q) {
        /* whole blocks of KEFU_LANES classes; the last, partial block is
         * accumulated in `tail` (rows are zero-padded to the stride) */
        const uint32_t full = k / KEFU_LANES * KEFU_LANES;
        float tail[KEFU_LANES] = {0};
        size_t i = 0;
        /* four rows at a time: the sums are read and written a quarter as
         * often */
        for (; i + 3 < nnz; i += 4) {
            prefetch_rows(m, idx, i, nnz);
            const int8_t *restrict q0 = m->q + (size_t)idx[i] * m->stride;
            const int8_t *restrict q1 = m->q + (size_t)idx[i + 1] * m->stride;
            const int8_t *restrict q2 = m->q + (size_t)idx[i + 2] * m->stride;
            const int8_t *restrict q3 = m->q + (size_t)idx[i + 3] * m->stride;
            const float v0 = val[i] * m->scale[idx[i]];
            const float v1 = val[i + 1] * m->scale[idx[i + 1]];
            const float v2 = val[i + 2] * m->scale[idx[i + 2]];
            const float v3 = val[i + 3] * m->scale[idx[i + 3]];
            for (uint32_t c = 0; c < full; c += KEFU_LANES)
                for (uint32_t j = 0; j < KEFU_LANES; j++)
                    s[c + j] += (v0 * (float)q0[c + j] + v1 * (float)q1[c + j]) +
                                (v2 * (float)q2[c + j] + v3 * (float)q3[c + j]);
            if (full < k) {
                /* through pointers: GCC 12 left the loop over
                 * q0[full + j] scalar (a third of classification time
                 * with 151 classes) */
                const int8_t *restrict t0 = q0 + full, *restrict t1 = q1 + full;
                const int8_t *restrict t2 = q2 + full, *restrict t3 = q3 + full;
                for (uint32_t j = 0; j < KEFU_LANES; j++)
                    tail[j] += (v0 * (float)t0[j] + v1 * (float)t1[j]) +
                               (v2 * (float)t2[j] + v3 * (float)t3[j]);
            }
        }
        for (; i < nnz; i++) {
            const int8_t *restrict q = m->q + (size_t)idx[i] * m->stride;
            const float v = val[i] * m->scale[idx[i]];
            for (uint32_t c = 0; c < full; c += KEFU_LANES)
                for (uint32_t j = 0; j < KEFU_LANES; j++)
                    s[c + j] += v * (float)q[c + j];
            if (full < k) {
                const int8_t *restrict t = q + full;
                for (uint32_t j = 0; j < KEFU_LANES; j++)
                    tail[j] += v * (float)t[j];
            }
        }
        for (uint32_t j = 0; full + j < k; j++)
            s[full + j] += tail[j];
        return;
    }
    for (size_t i = 0; i < nnz; i++) {
        const float *restrict w = m->w + (size_t)idx[i] * k;
        const float v = val[i];
        for (uint32_t c = 0; c < k; c++)
            s[c] += v * w[c];
    }
}

static void softmax(float *s, uint32_t k, float inv_t)
{
    float mx = -INFINITY, sum = 0;
    for (uint32_t c = 0; c < k; c++)
        if (s[c] > mx)
            mx = s[c];
    for (uint32_t c = 0; c < k; c++) {
        s[c] = expf((s[c] - mx) * inv_t);
        sum += s[c];
    }
    for (uint32_t c = 0; c < k; c++)
        s[c] /= sum;
}

void kefu_probs(float *s, uint32_t k, float t, bool multilabel)
{
    float inv_t = 1.0f / (t > 0 ? t : 1.0f);
    if (multilabel) {
        for (uint32_t c = 0; c < k; c++)
            s[c] = 1.0f / (1.0f + expf(-s[c] * inv_t));
    } else {
        softmax(s, k, inv_t);
    }
}

void kefu_linear_probs(const kefu_linear *m, float *s)
{
    kefu_probs(s, m->ncls, m->temperature, m->multilabel);
}

static uint32_t argmax(const float *s, uint32_t k)
{
    uint32_t best = 0;
    for (uint32_t c = 1; c < k; c++)
        if (s[c] > s[best])
            best = c;
    return best;
}

static bool has_label(const kefu_dataset *ds, size_t i, uint32_t c)
{
    for (size_t j = ds->lab_off[i]; j < ds->lab_off[i + 1]; j++)
        if (ds->lab[j] == c)
            return true;
    return false;
}

/* Accuracy: top class is one of the example's labels. */
static double accuracy(const kefu_linear *m, const kefu_dataset *ds, float *s)
{
    size_t ok = 0;
    if (!ds || !ds->n)
        return -1;
    for (size_t i = 0; i < ds->n; i++) {
        kefu_linear_scores(m, ds->idx + ds->off[i], ds->val + ds->off[i],
                           ds->off[i + 1] - ds->off[i], s);
        ok += has_label(ds, i, argmax(s, m->ncls));
    }
    return (double)ok / (double)ds->n;
}

static int cmp_desc(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a < b) - (a > b);
}

/*
 * One example's sub-problem of the Crammer-Singer dual (Keerthi et al.,
 * "A sequential dual method for large scale multi-class linear SVMs",
 * KDD 2008; the closed form LIBLINEAR's Solver_MCSVM_CS uses): minimise
 * over the k active alpha_i with sum(alpha_i) = 0, alpha_i[y] <= c,
 * alpha_i[m] <= 0.  y >= k when the true class is not active.
 * bv[m] = G[m] - a * alpha_i[m]; d is k doubles of scratch.
 */
static void cs_subproblem(double a, uint32_t y, double c, uint32_t k,
                          const double *bv, double *d, double *alpha_new)
{
    double beta;
    uint32_t r;
    memcpy(d, bv, k * sizeof *d);
    if (y < k)
        d[y] += a * c;
    if (k <= 32) {
        /* after shrinking most sub-problems are a few classes: insertion
         * sort beats qsort's calls through a pointer there */
        for (uint32_t i = 1; i < k; i++) {
            double v = d[i];
            uint32_t j = i;
            for (; j > 0 && d[j - 1] < v; j--)
                d[j] = d[j - 1];
            d[j] = v;
        }
    } else {
        qsort(d, k, sizeof *d, cmp_desc);
    }
    beta = d[0] - a * c;
    for (r = 1; r < k && beta < r * d[r]; r++)
        beta += d[r];
    beta /= r;
    for (r = 0; r < k; r++) {
        double v = (beta - bv[r]) / a;
        alpha_new[r] = r == y ? fmin(c, v) : fmin(0.0, v);
    }
}

/* The per-example state of the SVM solver's shrinking: which classes of
 * an example are still active (the first act[i] of cls[i * k ..]), where
 * its true class sits in that order, and the dual variables. */
typedef struct svm_state {
    double *alpha;  /* [n * k], indexed by class */
    double *qd;     /* [n] squared norm of each example, bias included */
    uint32_t *cls;  /* [n * k] a permutation of the classes per example */
    uint32_t *act;  /* [n] active classes of each example */
    uint32_t *ypos; /* [n] position of the true class in cls */
} svm_state;

/* A class can leave an example's active set when its dual variable is at
 * its bound and its gradient is below every one that may still move. */
static bool cs_shrinkable(const svm_state *st, size_t i, uint32_t k, uint32_t j,
                          double c, const double *g, double ming)
{
    uint32_t cl = st->cls[i * k + j];
    double bound = j == st->ypos[i] ? c : 0.0;
    return st->alpha[i * k + cl] == bound && g[j] < ming;
}

/* Moves the shrinkable classes of example i past its active ones (g moves
 * with them); returns how many stay active. */
static uint32_t cs_shrink(svm_state *st, size_t i, uint32_t k, double c,
                          double *g, double ming)
{
    uint32_t *ci = st->cls + i * k, na = st->act[i];
    for (uint32_t j = 0; j < na; j++) {
        if (!cs_shrinkable(st, i, k, j, c, g, ming))
            continue;
        for (na--; na > j; na--) {
            if (!cs_shrinkable(st, i, k, na, c, g, ming)) {
                uint32_t tc = ci[j];
                double tg = g[j];
                ci[j] = ci[na], ci[na] = tc;
                g[j] = g[na], g[na] = tg;
                if (st->ypos[i] == na)
                    st->ypos[i] = j;
                else if (st->ypos[i] == j)
                    st->ypos[i] = na;
                break;
            }
        }
    }
    return st->act[i] = na;
}

/*
 * Crammer-Singer multi-class linear SVM by dual coordinate descent, one
 * example at a time in a seeded random order; the bias is a feature of
 * constant value 1 (regularised, as LIBLINEAR's -B 1).  With LIBLINEAR's
 * shrinking: a class whose dual variable sits at its bound with a
 * gradient below the others' leaves that example's sub-problem, and an
 * example left with one class leaves the pass, so later passes score and
 * solve only what can still move.  A pass whose largest violation of the
 * optimality conditions is below a tolerance (first max(10 eps, 1), then
 * halved down to eps) puts everything back; training stops when a pass
 * over everything stays below opts->eps, or after opts->epochs passes.
 * m->w and m->b are zero on entry.
 */
static int learn_svm(kefu_linear *m, const kefu_dataset *train,
                     const kefu_dataset *val, const kefu_learn_opts *opts,
                     size_t *order, float *s, const kefu_mem *mem)
{
    const uint32_t k = m->ncls;
    const double c = opts->c > 0 ? opts->c : 1.0;
    const double eps = opts->eps;
    uint64_t rng = opts->seed ? opts->seed : 0x9E3779B97F4A7C15ULL;
    double eps_shrink = fmax(10.0 * eps, 1.0);
    bool from_all = true;
    size_t active = train->n;
    svm_state st;
    st.alpha = kefu_alloc_array(mem, train->n, (size_t)k * sizeof *st.alpha);
    st.qd = kefu_alloc_array(mem, train->n, sizeof *st.qd);
    st.cls = kefu_alloc_array(mem, train->n, (size_t)k * sizeof *st.cls);
    st.act = kefu_alloc_array(mem, train->n, sizeof *st.act);
    st.ypos = kefu_alloc_array(mem, train->n, sizeof *st.ypos);
    double *work = kefu_alloc_array(mem, (size_t)k * 4, sizeof *work);
    uint32_t *dind = kefu_alloc_array(mem, k, sizeof *dind);
    int rc = KEFU_OK;
    if (!st.alpha || !st.qd || !st.cls || !st.act || !st.ypos || !work || !dind) {
        rc = KEFU_E_NOMEM;
        goto out;
    }
    double *g = work, *bv = work + k, *d = work + 2 * k, *anew = work + 3 * k;
    for (size_t i = 0; i < train->n; i++) {
        double q = 1.0; /* the bias feature */
        for (size_t j = train->off[i]; j < train->off[i + 1]; j++)
            q += (double)train->val[j] * train->val[j];
        st.qd[i] = q;
        for (uint32_t j = 0; j < k; j++)
            st.cls[i * k + j] = j;
        st.act[i] = k;
        st.ypos[i] = train->lab[train->lab_off[i]];
    }
    for (uint32_t ep = 0; ep < opts->epochs; ep++) {
        double worst = 0, loss = 0;
        for (size_t i = active; i > 1; i--) {
            size_t j = (size_t)(kefu_rng_next(&rng) % i);
            size_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t e = 0; e < active;) {
            size_t i = order[e];
            const uint32_t *idx = train->idx + train->off[i];
            const float *x = train->val + train->off[i];
            size_t nnz = train->off[i + 1] - train->off[i];
            const uint32_t y = train->lab[train->lab_off[i]];
            const uint32_t *ci = st.cls + i * k;
            uint32_t na = st.act[i], nd = 0;
            double *al = st.alpha + i * k, a = st.qd[i];
            double ming = INFINITY, maxg = -INFINITY;
            float sy = m->b[y];
            /* scores of the active classes (and of the true class, for
             * the loss, if it is not one of them) */
            for (uint32_t j = 0; j < na; j++)
                s[j] = m->b[ci[j]];
            for (size_t f = 0; f < nnz; f++) {
                const float *restrict w = m->w + (size_t)idx[f] * k;
                for (uint32_t j = 0; j < na; j++)
                    s[j] += x[f] * w[ci[j]];
                sy += x[f] * w[y];
            }
            for (uint32_t j = 0; j < na; j++) {
                g[j] = (double)s[j] + (ci[j] != y);
                if (al[ci[j]] < 0 && g[j] < ming)
                    ming = g[j];
                if (g[j] > maxg)
                    maxg = g[j];
            }
            if (st.ypos[i] < na && al[y] < c && g[st.ypos[i]] < ming)
                ming = g[st.ypos[i]];
            loss += fmax(maxg - (double)sy, 0.0);
            if (!opts->no_shrink && cs_shrink(&st, i, k, c, g, ming) <= 1) {
                /* nothing left to move: out of the pass until reset */
                active--;
                size_t t = order[e];
                order[e] = order[active];
                order[active] = t;
                continue;
            }
            e++;
            na = st.act[i];
            if (maxg - ming <= 1e-12)
                continue;
            if (maxg - ming > worst)
                worst = maxg - ming;
            for (uint32_t j = 0; j < na; j++)
                bv[j] = g[j] - a * al[ci[j]];
            cs_subproblem(a, st.ypos[i], c, na, bv, d, anew);
            for (uint32_t j = 0; j < na; j++) {
                double dl = anew[j] - al[ci[j]];
                al[ci[j]] = anew[j];
                if (fabs(dl) >= 1e-12) {
                    dind[nd] = ci[j];
                    s[nd++] = (float)dl; /* s is free again: the deltas */
                    m->b[ci[j]] += (float)dl;
                }
            }
            for (size_t f = 0; f < nnz; f++) {
                float *restrict w = m->w + (size_t)idx[f] * k;
                for (uint32_t j = 0; j < nd; j++)
                    w[dind[j]] += s[j] * x[f];
            }
        }
        if (opts->progress) {
            kefu_learn_progress p;
            p.epoch = ep + 1;
            p.epochs = opts->epochs;
            p.loss = loss / (double)train->n;
            p.val_accuracy = val ? accuracy(m, val, s) : -1;
            opts->progress(&p, opts->user);
        }
        if (worst < eps_shrink) {
            if (worst < eps && from_all)
                break;
            /* everything back in, with a tighter tolerance for shrinking */
            active = train->n;
            for (size_t i = 0; i < train->n; i++)
                st.act[i] = k;
            eps_shrink = fmax(eps_shrink / 2, eps);
            from_all = true;
        } else {
            from_all = false;
        }
    }
out:
    kefu_dealloc(mem, st.alpha);
    kefu_dealloc(mem, st.qd);
    kefu_dealloc(mem, st.cls);
    kefu_dealloc(mem, st.act);
    kefu_dealloc(mem, st.ypos);
    kefu_dealloc(mem, work);
    kefu_dealloc(mem, dind);
    return rc;
}

int kefu_learn(kefu_linear *out, uint32_t nfeat, uint32_t ncls,
               const kefu_dataset *train, const kefu_dataset *val,
               const kefu_learn_opts *opts, const kefu_mem *mem)
{
    kefu_linear m;
    size_t *order = NULL;
    float *s = NULL;
    uint64_t rng = opts->seed ? opts->seed : 0x9E3779B97F4A7C15ULL;
    double total_steps, step = 0;

    memset(out, 0, sizeof *out);
    if (!train || !train->n || !ncls)
        return KEFU_E_EMPTY;
    memset(&m, 0, sizeof m);
    m.nfeat = nfeat;
    m.ncls = ncls;
    m.temperature = 1.0f;
    m.multilabel = opts->multilabel;
    m.w = kefu_alloc_array(mem, (size_t)nfeat ? nfeat : 1, (size_t)ncls * sizeof *m.w);
    m.b = kefu_alloc_array(mem, ncls, sizeof *m.b);
    order = kefu_alloc_array(mem, train->n, sizeof *order);
    s = kefu_alloc_array(mem, ncls, sizeof *s);
    if (!m.w || !m.b || !order || !s) {
        kefu_linear_release(&m, mem);
        kefu_dealloc(mem, order);
        kefu_dealloc(mem, s);
        return KEFU_E_NOMEM;
    }
    for (size_t i = 0; i < train->n; i++)
        order[i] = i;
    if (opts->solver == KEFU_SOLVER_SVM && !m.multilabel) {
        int rc = learn_svm(&m, train, val, opts, order, s, mem);
        kefu_dealloc(mem, order);
        kefu_dealloc(mem, s);
        if (rc)
            kefu_linear_release(&m, mem);
        else
            *out = m;
        return rc;
    }
    total_steps = (double)opts->epochs * (double)train->n;

    for (uint32_t ep = 0; ep < opts->epochs; ep++) {
        double loss = 0;
        /* Fisher-Yates with the seeded generator: same seed, same model */
        for (size_t i = train->n; i > 1; i--) {
            size_t j = (size_t)(kefu_rng_next(&rng) % i);
            size_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t e = 0; e < train->n; e++) {
            size_t i = order[e];
            const uint32_t *idx = train->idx + train->off[i];
            const float *x = train->val + train->off[i];
            size_t nnz = train->off[i + 1] - train->off[i];
            float lr = opts->lr * (float)(1.0 - step / total_steps);
            step++;
            kefu_linear_scores(&m, idx, x, nnz, s);
            if (m.multilabel) {
                for (uint32_t c = 0; c < ncls; c++) {
                    float p = 1.0f / (1.0f + expf(-s[c]));
                    float y = has_label(train, i, c) ? 1.0f : 0.0f;
                    loss -= y ? log(p + 1e-12) : log(1 - p + 1e-12);
                    s[c] = p - y;
                }
            } else {
                uint32_t y = train->lab[train->lab_off[i]];
                softmax(s, ncls, 1.0f);
                loss -= log(s[y] + 1e-12);
                s[y] -= 1.0f;
            }
            /* s now holds the gradient of the loss w.r.t. the scores */
            for (uint32_t c = 0; c < ncls; c++)
                m.b[c] -= lr * s[c];
            for (size_t f = 0; f < nnz; f++) {
                float *restrict w = m.w + (size_t)idx[f] * ncls;
                float g = lr * x[f];
                float decay = 1.0f - lr * opts->l2;
                if (opts->l2 > 0)
                    for (uint32_t c = 0; c < ncls; c++)
                        w[c] = w[c] * decay - g * s[c];
                else
                    for (uint32_t c = 0; c < ncls; c++)
                        w[c] -= g * s[c];
            }
        }
        if (opts->progress) {
            kefu_learn_progress p;
            p.epoch = ep + 1;
            p.epochs = opts->epochs;
            p.loss = loss / (double)train->n;
            p.val_accuracy = val ? accuracy(&m, val, s) : -1;
            opts->progress(&p, opts->user);
        }
    }
    kefu_dealloc(mem, order);
    kefu_dealloc(mem, s);
    *out = m;
    return KEFU_OK;
}

static double nll_at(const float *raw, const kefu_dataset *ds, uint32_t ncls,
                     float t, float *s)
{
    double nll = 0;
    for (size_t i = 0; i < ds->n; i++) {
        uint32_t y = ds->lab[ds->lab_off[i]];
        memcpy(s, raw + i * ncls, ncls * sizeof *s);
        softmax(s, ncls, 1.0f / t);
        nll -= log(s[y] + 1e-12);
    }
    return nll;
}

int kefu_fit_temperature(const float *raw, const kefu_dataset *ds,
                         uint32_t ncls, const kefu_mem *mem, float *t)
{
    double a = log(0.05), b = log(20.0);
    const double g = 0.6180339887498949;
    float *s;
    if (!ds->n)
        return KEFU_OK;
    if (!(s = kefu_alloc_array(mem, ncls, sizeof *s)))
        return KEFU_E_NOMEM;
    for (int it = 0; it < 40; it++) {
        double c = b - g * (b - a), d = a + g * (b - a);
        if (nll_at(raw, ds, ncls, (float)exp(c), s) <
            nll_at(raw, ds, ncls, (float)exp(d), s))
            b = d;
        else
            a = c;
    }
    *t = (float)exp((a + b) / 2);
    kefu_dealloc(mem, s);
    return KEFU_OK;
}

void kefu_linear_score_rows(const kefu_linear *m, const kefu_dataset *ds,
                            const uint8_t *which, uint8_t k, float *raw)
{
    for (size_t i = 0; i < ds->n; i++)
        if (!which || which[i] == k)
            kefu_linear_scores(m, ds->idx + ds->off[i], ds->val + ds->off[i],
                               ds->off[i + 1] - ds->off[i], raw + i * m->ncls);
}

