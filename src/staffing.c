/*
 * staffing.c - Erlang C and Erlang A staffing arithmetic for one skill.
 *
 * Erlang C goes through the Erlang B recurrence B(k) = A B(k-1) / (k + A
 * B(k-1)), which never overflows and loses no precision for thousands of
 * agents.  Erlang A (M/M/n+M, Palm's queue with exponential patience) is
 * computed from the birth-death chain's stationary distribution, in log
 * space, truncated where the tail is below 1e-16 of the mass; the service
 * level of Erlang A is the probability of being answered within the
 * target, obtained by uniformisation of the tagged customer's position
 * chain (exact up to the truncation, no closed-form special functions).
 * Needs only core.
 */
#include "core.h"

#include <math.h>

#define ERLANG_MAX_AGENTS 100000u
#define ERLANG_MAX_QUEUE 2000000u

static void result_out(kefu_erlang_result *out, const kefu_erlang_result *r)
{
    size_t n = out->size < sizeof *r ? out->size : sizeof *r;
    kefu_erlang_result tmp = *r;
    tmp.size = out->size;
    if (n >= sizeof(uint32_t))
        memcpy(out, &tmp, n);
}

static bool bad_rate(double x)
{
    return !(x > 0) || !isfinite(x);
}

KEFU_API int kefu_erlang_c(kefu_erlang_result *out, double lambda, double aht,
                           uint32_t n, double target)
{
    kefu_erlang_result r;
    double a, b = 1.0, c;
    if (!out || out->size < sizeof(uint32_t) || bad_rate(lambda) ||
        bad_rate(aht) || n == 0 || n > ERLANG_MAX_AGENTS ||
        !(target >= 0) || !isfinite(target))
        return KEFU_E_ARG;
    memset(&r, 0, sizeof r);
    a = lambda * aht;
    r.agents = n;
    r.load_erlangs = a;
    if (!isfinite(a))
        return KEFU_E_ARG;
    if (a >= (double)n) {
        r.occupancy = 1.0;
        r.p_wait = 1.0;
        r.asa_s = INFINITY;
        r.service_level = 0.0;
        r.mean_queue = INFINITY;
        result_out(out, &r);
        return KEFU_E_LIMIT;
    }
    for (uint32_t k = 1; k <= n; k++)
        b = a * b / ((double)k + a * b);
    c = (double)n * b / ((double)n - a * (1.0 - b));
    r.p_wait = c;
    r.occupancy = a / (double)n;
    /* mean wait of all arrivals; Erlang C has no abandonment, so this is
     * the speed of answer */
    r.asa_s = c * aht / ((double)n - a);
    r.service_level = 1.0 - c * exp(-((double)n - a) * target / aht);
    r.mean_queue = lambda * r.asa_s;
    result_out(out, &r);
    return KEFU_OK;
}

/* log of the unnormalised stationary weights of M/M/n+M:
 * w_k = A^k/k! for k <= n; w_{n+j} = w_n * prod_{i=1..j} lambda/(n mu + i theta).
 * Returns the number of weights kept (n + 1 + queue states) in *len. */
static int palm_weights(const kefu_mem *mem, double lambda, double mu,
                        double theta, uint32_t n, double **out, size_t *len)
{
    double a = lambda / mu, *w = NULL, lmax;
    size_t cap = 0, m = 0;
    double lw = 0.0;
    /* states 0..n */
    if (kefu_grow(mem, (void **)&w, &cap, (size_t)n + 64, sizeof *w))
        return KEFU_E_NOMEM;
    w[m++] = 0.0;
    for (uint32_t k = 1; k <= n; k++) {
        lw += log(a) - log((double)k);
        w[m++] = lw;
    }
    lmax = lw;
    for (size_t k = 0; k < m; k++)
        if (w[k] > lmax)
            lmax = w[k];
    for (uint32_t j = 1;; j++) {
        lw += log(lambda) - log((double)n * mu + (double)j * theta);
        if (kefu_grow(mem, (void **)&w, &cap, m + 1, sizeof *w)) {
            kefu_dealloc(mem, w);
            return KEFU_E_NOMEM;
        }
        w[m++] = lw;
        if (lw > lmax)
            lmax = lw;
        /* the terms decrease once n mu + j theta > lambda; stop when
         * negligible */
        if ((double)n * mu + (double)j * theta > lambda && lw < lmax - 40.0)
            break;
        if (j >= ERLANG_MAX_QUEUE) {
            kefu_dealloc(mem, w);
            return KEFU_E_LIMIT;
        }
    }
    for (size_t k = 0; k < m; k++)
        w[k] = exp(w[k] - lmax);
    *out = w;
    *len = m;
    return KEFU_OK;
}

/* P(answered within t) for a customer who finds j others waiting (position
 * p = j + 1), summed over the arrival distribution q[p-1] (p = 1..np).
 * The tagged customer's position falls at rate n mu + (p-1) theta and it
 * abandons at rate theta; uniformisation at rate n mu + np theta. */
static int palm_answered_within(const kefu_mem *mem, const double *q,
                                size_t np, double nmu, double theta,
                                double t, double *out)
{
    double big = nmu + (double)np * theta, lt = big * t;
    double *x, *y, served = 0.0, total = 0.0, logw;
    size_t kmax;
    if (np == 0 || t <= 0) {
        *out = 0.0;
        return KEFU_OK;
    }
    x = kefu_alloc_array(mem, np + 1, sizeof *x);
    y = kefu_alloc_array(mem, np + 1, sizeof *y);
    if (!x || !y) {
        kefu_dealloc(mem, x);
        kefu_dealloc(mem, y);
        return KEFU_E_NOMEM;
    }
    /* x[p] = mass at position p (1..np); x[0] = served */
    for (size_t p = 1; p <= np; p++)
        x[p] = q[p - 1];
    kmax = (size_t)(lt + 12.0 * sqrt(lt) + 40.0);
    logw = -lt; /* Poisson(0) weight */
    for (size_t k = 0; k <= kmax; k++) {
        double w = exp(logw);
        served += w * x[0];
        total += w;
        /* one uniformised jump */
        y[0] = x[0];
        for (size_t p = 1; p <= np; p++)
            y[p] = 0.0;
        for (size_t p = 1; p <= np; p++) {
            double adv = (nmu + (double)(p - 1) * theta) / big;
            double ab = theta / big;
            double stay = 1.0 - adv - ab;
            y[p - 1] += adv * x[p];
            y[p] += stay * x[p];
        }
        memcpy(x, y, (np + 1) * sizeof *x);
        logw += log(lt) - log((double)(k + 1));
    }
    kefu_dealloc(mem, x);
    kefu_dealloc(mem, y);
    /* total is the Poisson mass covered (~1); the missing tail only adds
     * customers who were served even later, so served is a lower bound
     * within 1e-12 */
    KEFU_UNUSED(total);
    *out = served;
    return KEFU_OK;
}

KEFU_API int kefu_erlang_a(kefu_erlang_result *out, double lambda, double aht,
                           double patience, uint32_t n, double target)
{
    kefu_mem mem;
    kefu_erlang_result r;
    double mu, theta, *w = NULL, z = 0.0, pw = 0.0, eq = 0.0;
    double served_wait = 0.0, p_served_q = 0.0, within = 0.0;
    size_t m = 0, np;
    int rc;
    if (!out || out->size < sizeof(uint32_t) || bad_rate(lambda) ||
        bad_rate(aht) || bad_rate(patience) || n == 0 ||
        n > ERLANG_MAX_AGENTS || !(target >= 0) || !isfinite(target))
        return KEFU_E_ARG;
    kefu_mem_init(&mem, NULL);
    mu = 1.0 / aht;
    theta = 1.0 / patience;
    if ((rc = palm_weights(&mem, lambda, mu, theta, n, &w, &m)))
        return rc;
    for (size_t k = 0; k < m; k++)
        z += w[k];
    for (size_t k = 0; k < m; k++)
        w[k] /= z;
    np = m - (size_t)n; /* arrival positions p = 1..np (j = 0..np-1 waiting) */
    /* position p = j + 1 is served with probability prod_{i<=p} (n mu +
     * (i-1) theta) / (n mu + i theta), after a mean sum_{i<=p} 1/(n mu + i
     * theta) given that it is served (sojourns are independent of where
     * the chain jumps): both are prefix products, kept as j grows */
    double sp = 1.0, sumr = 0.0, nm = (double)n * mu;
    for (size_t j = 0; j < np; j++) {
        double pr = w[n + j], i = (double)(j + 1);
        pw += pr;
        eq += (double)j * pr;
        sp *= (nm + (i - 1.0) * theta) / (nm + i * theta);
        sumr += 1.0 / (nm + i * theta);
        p_served_q += pr * sp;
        served_wait += pr * sp * sumr;
    }
    if (target > 0 &&
        (rc = palm_answered_within(&mem, w + n, np, (double)n * mu, theta,
                                   target, &within))) {
        kefu_dealloc(&mem, w);
        return rc;
    }
    memset(&r, 0, sizeof r);
    r.agents = n;
    r.load_erlangs = lambda * aht;
    r.p_wait = pw;
    r.mean_queue = eq;
    r.abandon_rate = theta * eq / lambda;
    {
        double answered = 1.0 - r.abandon_rate;
        r.asa_s = answered > 0 ? served_wait / answered : 0.0;
        r.occupancy = lambda * answered * aht / (double)n;
    }
    /* answered at once (no wait) plus answered after waiting <= target */
    r.service_level = (1.0 - pw) + within;
    kefu_dealloc(&mem, w);
    result_out(out, &r);
    return KEFU_OK;
}

KEFU_API int kefu_erlang_agents(uint32_t *agents, double lambda, double aht,
                                double patience, double target, double goal)
{
    uint32_t n;
    if (!agents || bad_rate(lambda) || bad_rate(aht) || !(patience >= 0) ||
        !isfinite(patience) || !(target >= 0) || !isfinite(target) ||
        !(goal >= 0 && goal < 1))
        return KEFU_E_ARG;
    n = 1;
    if (patience == 0) {
        double a = lambda * aht;
        if (a >= ERLANG_MAX_AGENTS)
            return KEFU_E_LIMIT;
        n = (uint32_t)floor(a) + 1;
    }
    for (; n <= ERLANG_MAX_AGENTS; n++) {
        kefu_erlang_result r;
        int rc;
        r.size = sizeof r;
        rc = patience == 0 ? kefu_erlang_c(&r, lambda, aht, n, target)
                           : kefu_erlang_a(&r, lambda, aht, patience, n, target);
        if (rc && rc != KEFU_E_LIMIT)
            return rc;
        if (rc == KEFU_OK && r.service_level >= goal) {
            *agents = n;
            return KEFU_OK;
        }
    }
    return KEFU_E_LIMIT;
}
