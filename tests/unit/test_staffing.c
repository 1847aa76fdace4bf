/* test_staffing.c - Erlang C and Erlang A against published and exact values. */
#include <math.h>

#include "testutil.h"

static kefu_erlang_result res(void)
{
    kefu_erlang_result r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    return r;
}

/* The reference case: lambda 0.2/s, AHT 240 s, 55 agents. */
static void test_erlang_c_reference(void **state)
{
    kefu_erlang_result r = res();
    (void)state;
    assert_int_equal(kefu_erlang_c(&r, 0.2, 240, 55, 15), KEFU_OK);
    assert_true(fabs(r.p_wait - 0.2387) < 0.00005);
    assert_true(fabs(r.asa_s - 8.18) < 0.005);
    assert_true(fabs(r.service_level - 0.846) < 0.0005);
    assert_true(fabs(r.load_erlangs - 48.0) < 1e-9);
    assert_true(fabs(r.occupancy - 48.0 / 55.0) < 1e-12);
    assert_int_equal(r.agents, 55);
}

/* M/M/3 with A = 2: C = 4/9 exactly, Wq = C / (n mu - lambda). */
static void test_erlang_c_closed_form(void **state)
{
    kefu_erlang_result r = res();
    (void)state;
    assert_int_equal(kefu_erlang_c(&r, 2.0, 1.0, 3, 0.5), KEFU_OK);
    assert_true(fabs(r.p_wait - 4.0 / 9.0) < 1e-12);
    assert_true(fabs(r.asa_s - (4.0 / 9.0) / 1.0) < 1e-12);
    assert_true(fabs(r.service_level - (1 - 4.0 / 9.0 * exp(-0.5))) < 1e-12);
}

/* Direct textbook sum with lgamma, for cross-checking the recurrence. */
static double erlang_c_direct(double a, unsigned n)
{
    double sum = 0, top;
    for (unsigned k = 0; k < n; k++)
        sum += exp(k * log(a) - lgamma(k + 1.0));
    top = exp(n * log(a) - lgamma(n + 1.0)) * n / (n - a);
    return top / (sum + top);
}

static void test_erlang_c_matches_direct_sum(void **state)
{
    (void)state;
    static const struct { double a; unsigned n; } cases[] = {
        {1.5, 2}, {10, 11}, {10, 15}, {48, 55}, {95.5, 100}, {300, 320},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kefu_erlang_result r = res();
        assert_int_equal(kefu_erlang_c(&r, cases[i].a / 100.0, 100.0,
                                       cases[i].n, 20), KEFU_OK);
        assert_true(fabs(r.p_wait - erlang_c_direct(cases[i].a, cases[i].n)) <
                    1e-9);
    }
}

static void test_erlang_c_hundreds_of_agents(void **state)
{
    kefu_erlang_result r = res();
    (void)state;
    /* 5000 Erlangs: factorials would overflow a double long before */
    assert_int_equal(kefu_erlang_c(&r, 50.0, 100.0, 5100, 20), KEFU_OK);
    assert_true(isfinite(r.p_wait) && r.p_wait > 0 && r.p_wait < 1);
    assert_true(isfinite(r.asa_s) && r.asa_s >= 0);
    assert_true(r.service_level > 0 && r.service_level <= 1);
}

static void test_erlang_c_overloaded_and_bad_args(void **state)
{
    kefu_erlang_result r = res();
    (void)state;
    assert_int_equal(kefu_erlang_c(&r, 0.2, 240, 48, 15), KEFU_E_LIMIT);
    assert_true(r.p_wait == 1.0 && r.service_level == 0.0 && isinf(r.asa_s));
    assert_int_equal(kefu_erlang_c(&r, 0, 240, 55, 15), KEFU_E_ARG);
    assert_int_equal(kefu_erlang_c(&r, 0.2, -1, 55, 15), KEFU_E_ARG);
    assert_int_equal(kefu_erlang_c(&r, 0.2, 240, 0, 15), KEFU_E_ARG);
    assert_int_equal(kefu_erlang_c(&r, NAN, 240, 55, 15), KEFU_E_ARG);
    assert_int_equal(kefu_erlang_c(NULL, 0.2, 240, 55, 15), KEFU_E_ARG);
}

/* A caller built against an older, smaller record gets only what fits. */
static void test_result_size_respected(void **state)
{
    unsigned char raw[sizeof(kefu_erlang_result) + 8];
    kefu_erlang_result *r = (kefu_erlang_result *)raw;
    size_t small = offsetof(kefu_erlang_result, p_wait);
    (void)state;
    memset(raw, 0xAB, sizeof raw);
    r->size = (uint32_t)small;
    assert_int_equal(kefu_erlang_c(r, 0.2, 240, 55, 15), KEFU_OK);
    assert_int_equal(r->agents, 55);
    for (size_t i = small; i < sizeof raw; i++)
        assert_int_equal(raw[i], 0xAB);
}

static void test_agents_needed(void **state)
{
    uint32_t n = 0;
    kefu_erlang_result r = res();
    (void)state;
    /* 80% in 15 s at 48 Erlangs: 54 agents give 79.2%? check by definition */
    assert_int_equal(kefu_erlang_agents(&n, 0.2, 240, 0, 15, 0.80), KEFU_OK);
    assert_int_equal(kefu_erlang_c(&r, 0.2, 240, n, 15), KEFU_OK);
    assert_true(r.service_level >= 0.80);
    assert_true(kefu_erlang_c(&r, 0.2, 240, n - 1, 15) != KEFU_OK ||
                r.service_level < 0.80);
    /* the reference case reaches 84.6% with 55 */
    assert_true(n <= 55);
    assert_int_equal(kefu_erlang_agents(&n, 0.2, 240, 0, 15, 1.5), KEFU_E_ARG);
}

/* With patience equal to the handling time, M/M/n+M is M/M/infinity in
 * the number present: X ~ Poisson(A), P(wait) = P(X >= n), abandonment =
 * E[(X - n)+] / A. */
static void test_erlang_a_poisson_identity(void **state)
{
    (void)state;
    static const struct { double a; unsigned n; } cases[] = {
        {5, 4}, {48, 50}, {200, 190}, {400, 420},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kefu_erlang_result r = res();
        double a = cases[i].a, pw = 0, over = 0;
        unsigned n = cases[i].n;
        for (unsigned k = 0; k < 4000; k++) {
            double p = exp(k * log(a) - a - lgamma(k + 1.0));
            if (k >= n) {
                pw += p;
                over += (k - n) * p;
            }
        }
        assert_int_equal(kefu_erlang_a(&r, a / 60.0, 60.0, 60.0, n, 10),
                         KEFU_OK);
        assert_true(fabs(r.p_wait - pw) < 1e-9);
        assert_true(fabs(r.abandon_rate - over / a) < 1e-9);
    }
}

static void test_erlang_a_limits(void **state)
{
    kefu_erlang_result c = res(), a = res();
    (void)state;
    /* very patient customers: Erlang A tends to Erlang C */
    assert_int_equal(kefu_erlang_c(&c, 0.2, 240, 55, 15), KEFU_OK);
    assert_int_equal(kefu_erlang_a(&a, 0.2, 240, 1e7, 55, 15), KEFU_OK);
    assert_true(fabs(a.p_wait - c.p_wait) < 1e-3);
    assert_true(fabs(a.asa_s - c.asa_s) < 0.05);
    assert_true(fabs(a.service_level - c.service_level) < 1e-3);
    /* impatient customers wait less and some leave */
    assert_int_equal(kefu_erlang_a(&a, 0.2, 240, 60, 55, 15), KEFU_OK);
    assert_true(a.p_wait < c.p_wait && a.asa_s < c.asa_s);
    assert_true(a.abandon_rate > 0 && a.abandon_rate < 0.1);
    /* Erlang A is stable even when overloaded */
    assert_int_equal(kefu_erlang_a(&a, 0.2, 240, 120, 40, 15), KEFU_OK);
    assert_true(a.p_wait > 0.7 && a.abandon_rate > 0.1 &&
                a.abandon_rate < 1.0);
    assert_true(a.occupancy <= 1.0 + 1e-9);
    /* hundreds of agents */
    assert_int_equal(kefu_erlang_a(&a, 10.0, 60.0, 100.0, 620, 20), KEFU_OK);
    assert_true(isfinite(a.asa_s) && a.p_wait > 0 && a.p_wait < 1);
    assert_int_equal(kefu_erlang_a(&a, 0.2, 240, 0, 55, 15), KEFU_E_ARG);
}

/* Service level of Erlang A: P(answered within T) is between the share
 * that never waits and 1, grows with T, and tends to 1 - abandonment. */
static void test_erlang_a_service_level(void **state)
{
    kefu_erlang_result a0 = res(), a1 = res(), a2 = res();
    (void)state;
    assert_int_equal(kefu_erlang_a(&a0, 0.2, 240, 180, 52, 0), KEFU_OK);
    assert_int_equal(kefu_erlang_a(&a1, 0.2, 240, 180, 52, 20), KEFU_OK);
    assert_int_equal(kefu_erlang_a(&a2, 0.2, 240, 180, 52, 3000), KEFU_OK);
    assert_true(fabs(a0.service_level - (1 - a0.p_wait)) < 1e-12);
    assert_true(a1.service_level > a0.service_level);
    assert_true(a2.service_level > a1.service_level);
    assert_true(fabs(a2.service_level - (1 - a2.abandon_rate)) < 1e-6);
    {
        uint32_t n;
        assert_int_equal(kefu_erlang_agents(&n, 0.2, 240, 180, 20, 0.8),
                         KEFU_OK);
        assert_int_equal(kefu_erlang_a(&a1, 0.2, 240, 180, n, 20), KEFU_OK);
        assert_true(a1.service_level >= 0.8);
        assert_int_equal(kefu_erlang_a(&a1, 0.2, 240, 180, n - 1, 20), KEFU_OK);
        assert_true(a1.service_level < 0.8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erlang_c_reference),
        cmocka_unit_test(test_erlang_c_closed_form),
        cmocka_unit_test(test_erlang_c_matches_direct_sum),
        cmocka_unit_test(test_erlang_c_hundreds_of_agents),
        cmocka_unit_test(test_erlang_c_overloaded_and_bad_args),
        cmocka_unit_test(test_result_size_respected),
        cmocka_unit_test(test_agents_needed),
        cmocka_unit_test(test_erlang_a_poisson_identity),
        cmocka_unit_test(test_erlang_a_limits),
        cmocka_unit_test(test_erlang_a_service_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
