/* test_learner.c - the SGD and SVM learners: separable data, determinism,
 * the SVM's optimality, calibration, quantisation. */
#include "testutil.h"

#include <math.h>

#include "learner.h"

static void make_toy(kefu_dataset *ds, const kefu_mem *mem, int n, uint64_t seed)
{
    /* three classes, each with its own two "words" plus shared noise */
    uint64_t rng = seed;
    for (int i = 0; i < n; i++) {
        uint32_t y = (uint32_t)(i % 3);
        uint32_t idx[3] = {y * 2, y * 2 + 1, 6 + (uint32_t)(kefu_rng_next(&rng) % 4)};
        float val[3] = {0.6f, 0.6f, 0.5f};
        assert_int_equal(kefu_dataset_add(ds, idx, val, 3, &y, 1, mem), KEFU_OK);
    }
}

/* Share of ds whose top-scoring class is one of its labels. */
static double train_accuracy(const kefu_linear *m, const kefu_dataset *ds)
{
    size_t ok = 0;
    float s[16];
    assert_true(m->ncls <= 16);
    for (size_t i = 0; i < ds->n; i++) {
        uint32_t top = 0;
        kefu_linear_scores(m, ds->idx + ds->off[i], ds->val + ds->off[i],
                           ds->off[i + 1] - ds->off[i], s);
        for (uint32_t c = 1; c < m->ncls; c++)
            if (s[c] > s[top])
                top = c;
        for (size_t j = ds->lab_off[i]; j < ds->lab_off[i + 1]; j++)
            ok += ds->lab[j] == top;
    }
    return ds->n ? (double)ok / (double)ds->n : 0;
}

static void test_separable(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear m;
    kefu_learn_opts o;
    (void)st;
    kefu_mem_init(&mem, NULL);
    make_toy(&ds, &mem, 60, 7);
    kefu_learn_opts_default(&o);
    o.epochs = 10;
    assert_int_equal(kefu_learn(&m, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    assert_true(train_accuracy(&m, &ds) == 1.0);
    assert_int_equal(kefu_linear_quantize(&m, &mem), KEFU_OK);
    assert_null(m.w);
    assert_true(train_accuracy(&m, &ds) == 1.0);
    kefu_linear_release(&m, &mem);
    kefu_dataset_release(&ds, &mem);
}

static void test_deterministic(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear a, b, c;
    kefu_learn_opts o;
    (void)st;
    kefu_mem_init(&mem, NULL);
    make_toy(&ds, &mem, 90, 3);
    kefu_learn_opts_default(&o);
    o.epochs = 3;
    o.seed = 42;
    assert_int_equal(kefu_learn(&a, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    assert_int_equal(kefu_learn(&b, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    assert_memory_equal(a.w, b.w, 30 * sizeof(float));
    o.seed = 43;
    assert_int_equal(kefu_learn(&c, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    assert_true(memcmp(a.w, c.w, 30 * sizeof(float)) != 0);
    kefu_linear_release(&a, &mem);
    kefu_linear_release(&b, &mem);
    kefu_linear_release(&c, &mem);
    kefu_dataset_release(&ds, &mem);
}

static void count_pass(const kefu_learn_progress *p, void *user)
{
    uint32_t *passes = user;
    assert_true(p->loss >= 0);
    *passes = p->epoch;
}

/* The Crammer-Singer SVM: every training example of separable data right
 * with a margin (score of its class at least 1 above the others, up to the
 * stopping tolerance), the same model for the same seed, stops early. */
static void test_svm(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear a, b;
    kefu_learn_opts o;
    uint32_t passes = 0;
    float s[3];
    (void)st;
    kefu_mem_init(&mem, NULL);
    make_toy(&ds, &mem, 90, 5);
    kefu_learn_opts_default(&o);
    o.solver = KEFU_SOLVER_SVM;
    o.c = 10;
    o.eps = 0.01f;
    o.epochs = 500;
    o.progress = count_pass;
    o.user = &passes;
    assert_int_equal(kefu_learn(&a, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    assert_true(passes > 1 && passes < 500);
    for (size_t i = 0; i < ds.n; i++) {
        uint32_t y = ds.lab[ds.lab_off[i]];
        kefu_linear_scores(&a, ds.idx + ds.off[i], ds.val + ds.off[i],
                           ds.off[i + 1] - ds.off[i], s);
        for (uint32_t c = 0; c < 3; c++)
            if (c != y)
                assert_true(s[y] - s[c] > 1.0f - 0.02f);
    }
    o.progress = NULL;
    assert_int_equal(kefu_learn(&b, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    assert_memory_equal(a.w, b.w, 30 * sizeof(float));
    assert_memory_equal(a.b, b.b, 3 * sizeof(float));
    kefu_linear_release(&a, &mem);
    kefu_linear_release(&b, &mem);
    kefu_dataset_release(&ds, &mem);
}

/* Shrinking (classes and examples leave the passes once they sit at their
 * bound) must not change the solution: on noisy data the weights match
 * those of passes over everything, both solved to a tight tolerance (the
 * primal solution is unique).  8 classes, and 40, whose sub-problems are
 * sorted by qsort until shrinking leaves 32 or fewer (insertion sort). */
static void svm_shrinking_with(uint32_t k, uint32_t per_class)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear a, b;
    kefu_learn_opts o;
    uint32_t pa = 0, pb = 0, nf = k + 40;
    uint64_t rng = 11;
    double wmax = 0, dmax = 0;
    kefu_mem_init(&mem, NULL);
    for (uint32_t i = 0; i < per_class * k; i++) {
        /* a word of the class, two of 40 shared ones, a tenth mislabelled */
        uint32_t y = i % k;
        uint32_t idx[3] = {y, k + (uint32_t)(kefu_rng_next(&rng) % 20),
                           k + 20 + (uint32_t)(kefu_rng_next(&rng) % 20)};
        float val[3] = {0.5f, 0.6f, 0.6f};
        if (kefu_rng_next(&rng) % 10 == 0)
            y = (y + 1) % k;
        assert_int_equal(kefu_dataset_add(&ds, idx, val, 3, &y, 1, &mem), KEFU_OK);
    }
    kefu_learn_opts_default(&o);
    o.solver = KEFU_SOLVER_SVM;
    o.eps = 1e-4f;
    o.epochs = 5000;
    o.progress = count_pass;
    o.user = &pa;
    assert_int_equal(kefu_learn(&a, nf, k, &ds, NULL, &o, &mem), KEFU_OK);
    o.no_shrink = 1;
    o.user = &pb;
    assert_int_equal(kefu_learn(&b, nf, k, &ds, NULL, &o, &mem), KEFU_OK);
    assert_true(pa < 5000 && pb < 5000); /* both converged */
    for (size_t i = 0; i < (size_t)nf * k; i++) {
        wmax = fmax(wmax, fabs(b.w[i]));
        dmax = fmax(dmax, fabs(a.w[i] - b.w[i]));
    }
    for (size_t c = 0; c < k; c++)
        dmax = fmax(dmax, fabs(a.b[c] - b.b[c]));
    print_message("%u classes, shrinking: %u passes, without: %u; largest weight "
                  "%.4f, largest difference %.6f\n", k, pa, pb, wmax, dmax);
    assert_true(wmax > 0.1);
    assert_true(dmax < 1e-3 * wmax);
    kefu_linear_release(&a, &mem);
    kefu_linear_release(&b, &mem);
    kefu_dataset_release(&ds, &mem);
}

static void test_svm_shrinking(void **st)
{
    (void)st;
    svm_shrinking_with(8, 50);
    svm_shrinking_with(40, 10);
}

/* A small cost leaves margin violations: the weights are smaller than
 * with a large one (the regulariser wins). */
static void test_svm_cost(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear lo, hi;
    kefu_learn_opts o;
    double nlo = 0, nhi = 0;
    (void)st;
    kefu_mem_init(&mem, NULL);
    make_toy(&ds, &mem, 60, 9);
    kefu_learn_opts_default(&o);
    o.solver = KEFU_SOLVER_SVM;
    o.epochs = 200;
    o.c = 0.001f;
    assert_int_equal(kefu_learn(&lo, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    o.c = 10;
    assert_int_equal(kefu_learn(&hi, 10, 3, &ds, NULL, &o, &mem), KEFU_OK);
    for (int i = 0; i < 30; i++) {
        nlo += (double)lo.w[i] * lo.w[i];
        nhi += (double)hi.w[i] * hi.w[i];
    }
    assert_true(nlo < nhi / 10);
    kefu_linear_release(&lo, &mem);
    kefu_linear_release(&hi, &mem);
    kefu_dataset_release(&ds, &mem);
}

static double nll(const kefu_linear *m, const kefu_dataset *ds)
{
    double sum = 0;
    float s[2];
    for (size_t i = 0; i < ds->n; i++) {
        kefu_linear_scores(m, ds->idx + ds->off[i], ds->val + ds->off[i],
                           ds->off[i + 1] - ds->off[i], s);
        kefu_linear_probs(m, s);
        sum -= log(s[ds->lab[ds->lab_off[i]]]);
    }
    return sum;
}

static void test_calibration_lowers_nll(void **st)
{
    /* noisy labels: an over-confident model gets a temperature above 1 */
    kefu_mem mem;
    kefu_dataset tr = {0}, va = {0};
    kefu_linear m;
    kefu_learn_opts o;
    double nll_before, nll_after;
    float raw[100 * 2];
    uint64_t rng = 5;
    (void)st;
    kefu_mem_init(&mem, NULL);
    for (int i = 0; i < 400; i++) {
        uint32_t y = (uint32_t)(i % 2);
        uint32_t noisy = (kefu_rng_next(&rng) % 4 == 0) ? 1 - y : y;
        uint32_t idx[2] = {y, 2 + (uint32_t)(kefu_rng_next(&rng) % 50)};
        float val[2] = {0.7f, 0.7f};
        assert_int_equal(kefu_dataset_add(i < 300 ? &tr : &va, idx, val, 2,
                                          &noisy, 1, &mem), KEFU_OK);
    }
    kefu_learn_opts_default(&o);
    o.epochs = 30;
    assert_int_equal(kefu_learn(&m, 52, 2, &tr, NULL, &o, &mem), KEFU_OK);
    nll_before = nll(&m, &va);
    assert_int_equal(va.n, 100);
    kefu_linear_score_rows(&m, &va, NULL, 0, raw);
    assert_int_equal(kefu_fit_temperature(raw, &va, 2, &mem, &m.temperature), KEFU_OK);
    nll_after = nll(&m, &va);
    assert_true(m.temperature > 1.0f);
    assert_true(nll_after < nll_before);
    kefu_linear_release(&m, &mem);
    kefu_dataset_release(&tr, &mem);
    kefu_dataset_release(&va, &mem);
}

/* The temperature that minimises the NLL of fixed raw scores: every row
 * scores [1, 0] and three in four are class 0, so softmax(s / T) must give
 * 0.75 to class 0: 1 / T = ln 3. */
static void test_fit_temperature(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    float raw[400 * 2], t = 5.0f;
    uint32_t idx = 0;
    float val = 1.0f;
    (void)st;
    kefu_mem_init(&mem, NULL);
    assert_int_equal(kefu_fit_temperature(raw, &ds, 2, &mem, &t), KEFU_OK);
    assert_true(t == 5.0f); /* no rows: unchanged */
    for (uint32_t i = 0; i < 400; i++) {
        uint32_t y = i % 4 == 3;
        raw[2 * i] = 1.0f;
        raw[2 * i + 1] = 0.0f;
        assert_int_equal(kefu_dataset_add(&ds, &idx, &val, 1, &y, 1, &mem), KEFU_OK);
    }
    assert_int_equal(kefu_fit_temperature(raw, &ds, 2, &mem, &t), KEFU_OK);
    assert_float_equal(t, 1.0 / log(3.0), 1e-4);
    kefu_dataset_release(&ds, &mem);
}

static void test_multilabel(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear m;
    kefu_learn_opts o;
    float s[3];
    (void)st;
    kefu_mem_init(&mem, NULL);
    for (int i = 0; i < 60; i++) {
        uint32_t labs[2] = {0, 2};
        uint32_t idx[1] = {(uint32_t)(i % 2)};
        float val[1] = {1.0f};
        /* feature 0 -> labels {0, 2}; feature 1 -> label {1} */
        assert_int_equal(kefu_dataset_add(&ds, idx, val, 1, i % 2 ? (uint32_t[]){1} : labs,
                                          i % 2 ? 1 : 2, &mem), KEFU_OK);
    }
    kefu_learn_opts_default(&o);
    o.multilabel = 1;
    o.epochs = 20;
    assert_int_equal(kefu_learn(&m, 2, 3, &ds, NULL, &o, &mem), KEFU_OK);
    kefu_linear_scores(&m, (uint32_t[]){0}, (float[]){1.0f}, 1, s);
    kefu_linear_probs(&m, s);
    assert_true(s[0] > 0.8f && s[2] > 0.8f && s[1] < 0.2f);
    kefu_linear_release(&m, &mem);
    kefu_dataset_release(&ds, &mem);
}

/* The AVX2 scoring loop gives the portable loop's scores bit for bit, for
 * class counts around the vector widths and any number of rows (the
 * four-row blocks, the rows after them, the partial last block of
 * classes); and both are the weights' sums. */
static void test_scores_simd_same_bits(void **st)
{
    static const uint32_t classes[] = {1, 7, 8, 31, 32, 33, 77, 151, 200};
    kefu_mem mem;
    uint64_t rng = 11;
    (void)st;
    kefu_mem_init(&mem, NULL);
    for (size_t ci = 0; ci < sizeof classes / sizeof classes[0]; ci++) {
        const uint32_t k = classes[ci], nfeat = 50;
        kefu_linear m;
        float *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
        memset(&m, 0, sizeof m);
        m.nfeat = nfeat;
        m.ncls = k;
        m.w = kefu_alloc_array(&mem, (size_t)nfeat * k, sizeof *m.w);
        m.b = kefu_alloc_array(&mem, k, sizeof *m.b);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(m.w);
        assert_non_null(m.b);
        for (size_t i = 0; i < (size_t)nfeat * k; i++)
            m.w[i] = (float)((double)(kefu_rng_next(&rng) % 2001) / 1000.0 - 1.0);
        for (uint32_t c = 0; c < k; c++)
            m.b[c] = (float)((double)(kefu_rng_next(&rng) % 201) / 100.0 - 1.0);
        assert_int_equal(kefu_linear_quantize(&m, &mem), KEFU_OK);
        for (size_t nnz = 0; nnz <= 11; nnz++) {
            uint32_t idx[11];
            float val[11];
            for (size_t i = 0; i < nnz; i++) {
                idx[i] = (uint32_t)(kefu_rng_next(&rng) % nfeat);
                val[i] = (float)((double)(kefu_rng_next(&rng) % 1000 + 1) / 1000.0);
            }
            kefu_linear_scores_ex(&m, idx, val, nnz, a, true);
            kefu_linear_scores_ex(&m, idx, val, nnz, b, false);
            assert_memory_equal(a, b, k * sizeof *a);
            for (uint32_t c = 0; c < k; c++) {
                double ref = m.b[c];
                for (size_t i = 0; i < nnz; i++)
                    ref += (double)val[i] * m.scale[idx[i]] *
                           m.q[(size_t)idx[i] * m.stride + c];
                assert_float_equal(a[c], ref, 1e-4);
            }
        }
        free(a);
        free(b);
        kefu_linear_release(&m, &mem);
    }
}

static void test_empty(void **st)
{
    kefu_mem mem;
    kefu_dataset ds = {0};
    kefu_linear m;
    kefu_learn_opts o;
    (void)st;
    kefu_mem_init(&mem, NULL);
    kefu_learn_opts_default(&o);
    assert_int_equal(kefu_learn(&m, 1, 2, &ds, NULL, &o, &mem), KEFU_E_EMPTY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separable),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_svm),
        cmocka_unit_test(test_svm_shrinking),
        cmocka_unit_test(test_svm_cost),
        cmocka_unit_test(test_calibration_lowers_nll),
        cmocka_unit_test(test_fit_temperature),
        cmocka_unit_test(test_multilabel),
        cmocka_unit_test(test_scores_simd_same_bits),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests_name("learner", tests, NULL, NULL);
}
