/*
 * intent_load.c - model load time for tests/bench/bench_intent.sh.
 *
 *   intent_load MODEL [N]
 *
 * Loads MODEL (a binary model written by `kefu train`) N times (default
 * 200) with kefu_model_load, freeing it each time, after one warm-up load
 * (so the file is in the page cache), and prints one line:
 *   loads N ms_per_load X ms_min Y
 * Built and linked against lib/libkefu.a by the bench script.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kefu.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    kefu_model *m = NULL;
    kefu_diag *d;
    int n = argc > 2 ? atoi(argv[2]) : 200;
    double total = 0, best = 1e30;

    if (argc < 2 || n <= 0) {
        fprintf(stderr, "usage: intent_load MODEL [N]\n");
        return 2;
    }
    d = kefu_diag_new(NULL);
    if (kefu_model_load(&m, argv[1], NULL, d)) {
        fprintf(stderr, "intent_load: cannot load %s: %s\n", argv[1],
                kefu_diag_message(d) ? kefu_diag_message(d) : "error");
        kefu_diag_free(d);
        return 1;
    }
    kefu_model_free(m);
    for (int i = 0; i < n; i++) {
        double t0 = now_ms(), t;
        if (kefu_model_load(&m, argv[1], NULL, d)) {
            fprintf(stderr, "intent_load: load %d failed\n", i);
            kefu_diag_free(d);
            return 1;
        }
        t = now_ms() - t0;
        kefu_model_free(m);
        total += t;
        if (t < best)
            best = t;
    }
    kefu_diag_free(d);
    printf("loads %d ms_per_load %.3f ms_min %.3f\n", n, total / n, best);
    return 0;
}
