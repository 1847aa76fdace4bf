/*
 * bench_bindings.c - the C side of bench_bindings.sh: per-call cost of
 * kefu_classify (with the top list read back), kefu_emotion_score and
 * kefu_session_turn on the messages of a file (one per line), best of
 * PASSES passes.  Prints "op microseconds_per_call" lines.
 * usage: bench_bindings MODEL MESSAGES PASSES
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kefu.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    char **msg = NULL;
    size_t n = 0, cap = 0, len = 0;
    char *line = NULL;
    ssize_t got;
    FILE *f;
    int passes;
    double best[3] = { 1e30, 1e30, 1e30 };
    volatile float sink = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_bindings MODEL MESSAGES PASSES\n");
        return 2;
    }
    passes = atoi(argv[3]);
    if (kefu_model_load(&m, argv[1], NULL, NULL) || kefu_scratch_new(&s, m, NULL)) {
        fprintf(stderr, "bench_bindings: cannot load %s\n", argv[1]);
        return 1;
    }
    if (!(f = fopen(argv[2], "rb"))) {
        perror(argv[2]);
        return 1;
    }
    while ((got = getline(&line, &len, f)) > 0) {
        if (line[got - 1] == '\n')
            line[--got] = 0;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            msg = realloc(msg, cap * sizeof *msg);
        }
        msg[n++] = strdup(line);
    }
    fclose(f);
    free(line);
    for (int p = 0; p < passes; p++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++) {
            kefu_intent_result r;
            memset(&r, 0, sizeof r);
            r.size = sizeof r;
            kefu_classify(s, msg[i], strlen(msg[i]), &r);
            for (size_t k = 0; k < kefu_classify_top_count(s); k++) {
                const char *name;
                float c;
                kefu_classify_top(s, k, &name, &c);
                sink += c;
            }
        }
        double t1 = now();
        for (size_t i = 0; i < n; i++) {
            kefu_emotion e;
            memset(&e, 0, sizeof e);
            e.size = sizeof e;
            kefu_emotion_score(s, msg[i], strlen(msg[i]), &e);
            sink += e.negativity;
        }
        double t2 = now();
        kefu_session *se = NULL;
        kefu_session_new(&se, m, NULL);
        for (size_t i = 0; i < n; i++) {
            kefu_turn t;
            kefu_triage r;
            kefu_turn_init(&t);
            t.time_ms = (int64_t)i * 1000;
            memset(&r, 0, sizeof r);
            r.size = sizeof r;
            kefu_session_turn(se, msg[i], strlen(msg[i]), &t, &r);
            sink += r.confidence;
        }
        double t3 = now();
        kefu_session_free(se);
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
        if (t3 - t2 < best[2]) best[2] = t3 - t2;
    }
    printf("classify %.3f\nemotion %.3f\nturn %.3f\n", best[0] / n * 1e6,
           best[1] / n * 1e6, best[2] / n * 1e6);
    for (size_t i = 0; i < n; i++)
        free(msg[i]);
    free(msg);
    kefu_scratch_free(s);
    kefu_model_free(m);
    return sink < 0;
}
