/*
 * learner.h - a linear classifier over sparse features, trained as a
 * Crammer-Singer multi-class SVM (dual coordinate descent) or by
 * stochastic gradient descent on the softmax (one label per example) or
 * per-class logistic (multi-label) loss.  Serves intents and the trained
 * emotion mode.  Needs only core.  Deterministic for a given seed.
 */
#ifndef KEFU_LEARNER_H
#define KEFU_LEARNER_H

#include "core.h"

/* Examples as rows of a sparse matrix, with labels. */
typedef struct kefu_dataset {
    size_t n;
    size_t *off;        /* [n + 1]: row i is idx/val[off[i] .. off[i+1]) */
    uint32_t *idx;
    float *val;
    size_t *lab_off;    /* [n + 1]: labels of row i (>= 1; 1 in softmax mode) */
    uint32_t *lab;
    size_t cap_rows, cap_nnz, cap_lab;
} kefu_dataset;

int kefu_dataset_add(kefu_dataset *ds, const uint32_t *idx, const float *val,
                     size_t nnz, const uint32_t *labels, size_t nlabels,
                     const kefu_mem *mem);
void kefu_dataset_release(kefu_dataset *ds, const kefu_mem *mem);

typedef struct kefu_linear {
    uint32_t nfeat, ncls;
    float *w;           /* [nfeat * ncls], row per feature; NULL once quantised */
    int8_t *q;          /* quantised rows: w[f][c] ~ q[f * stride + c] * scale[f] */
    uint32_t stride;    /* row length of q: ncls rounded up to KEFU_LANES */
    uint8_t q_borrowed; /* q points into a loaded model file: not freed here */
    float *scale;       /* [nfeat] */
    float *b;           /* [ncls] */
    float temperature;  /* calibration: probabilities = softmax(s / T) */
    uint8_t multilabel; /* sigmoid per class instead of softmax */
} kefu_linear;

typedef struct kefu_learn_progress {
    uint32_t epoch, epochs;
    double loss;         /* mean training loss of the epoch */
    double val_accuracy; /* < 0 when no validation set */
} kefu_learn_progress;

/* Which objective kefu_learn fits. */
enum kefu_solver {
    KEFU_SOLVER_SOFTMAX = 0, /* SGD on the softmax / per-class logistic loss */
    KEFU_SOLVER_SVM = 1      /* Crammer-Singer multi-class SVM, dual CD */
};

typedef struct kefu_learn_opts {
    uint32_t epochs;    /* SGD epochs; for the SVM the cap on passes */
    float lr;
    float l2;
    uint8_t solver;     /* enum kefu_solver; multi-label data uses SOFTMAX */
    float c;            /* SVM: cost of a margin violation (LIBLINEAR's -c) */
    float eps;          /* SVM: stop when the largest KKT violation of a
                         * pass falls below this (LIBLINEAR's -e) */
    uint8_t no_shrink;  /* SVM: every class of every example in every pass
                         * (the reference the shrinking is tested against) */
    uint64_t seed;
    uint8_t multilabel;
    void (*progress)(const kefu_learn_progress *p, void *user);
    void *user;
} kefu_learn_opts;

void kefu_learn_opts_default(kefu_learn_opts *o);

int kefu_learn(kefu_linear *out, uint32_t nfeat, uint32_t ncls,
               const kefu_dataset *train, const kefu_dataset *val,
               const kefu_learn_opts *opts, const kefu_mem *mem);
void kefu_linear_release(kefu_linear *m, const kefu_mem *mem);

/* Rows of q are padded with zeros to a multiple of this many classes, so
 * the scoring loop runs whole vector blocks with no scalar tail. */
#define KEFU_LANES 32u
static inline uint32_t kefu_lanes(uint32_t ncls)
{
    return (ncls + KEFU_LANES - 1) / KEFU_LANES * KEFU_LANES;
}
/* Allocates zeroed quantised rows (q, scale) for m->nfeat x m->ncls. */
int kefu_linear_alloc_q(kefu_linear *m, const kefu_mem *mem);

/*
 * Replaces the float weights by 8-bit rows with one scale each (symmetric,
 * round to nearest): a quarter of the memory and of the bytes read per
 * message, with no measurable loss of accuracy (doc/intents.md).
 */
int kefu_linear_quantize(kefu_linear *m, const kefu_mem *mem);

/* Raw scores (before temperature) of a sparse row into scores[ncls].  On
 * x86-64 CPUs with AVX2 the quantised rows are read eight classes at a
 * time with the same arithmetic in the same order: the scores are the
 * same bits on every machine. */
void kefu_linear_scores(const kefu_linear *m, const uint32_t *idx,
                        const float *val, size_t nnz, float *scores);
/* The same, with simd false: the portable loop only (for tests). */
void kefu_linear_scores_ex(const kefu_linear *m, const uint32_t *idx,
                           const float *val, size_t nnz, float *scores,
                           bool simd);
/* k scores -> probabilities in place: softmax(s / t), or a sigmoid per
 * class for multi-label models; t <= 0 counts as 1. */
void kefu_probs(float *scores, uint32_t k, float t, bool multilabel);
/* kefu_probs with the model's classes, temperature and kind. */
void kefu_linear_probs(const kefu_linear *m, float *scores);

/*
 * Raw scores of the rows of ds into raw (row i at raw + i * ncls): every
 * row, or with `which` only the rows i with which[i] == k (the others are
 * left as they are).
 */
void kefu_linear_score_rows(const kefu_linear *m, const kefu_dataset *ds,
                            const uint8_t *which, uint8_t k, float *raw);

/*
 * Fits the temperature that minimises the negative log-likelihood of
 * softmax(raw / T) (golden-section search over log T): raw holds ds->n
 * rows of ncls scores (row i for example i, by whatever model scored it).
 * Sets *t; leaves it alone when ds is empty.
 */
int kefu_fit_temperature(const float *raw, const kefu_dataset *ds,
                         uint32_t ncls, const kefu_mem *mem, float *t);

/* Small deterministic PRNG (xorshift64*), for shuffles. */
static inline uint64_t kefu_rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
