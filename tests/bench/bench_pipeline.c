/*
 * bench_pipeline.c - per-message cost of each stage and of the whole
 * session turn, with the default model, on real customer-style text.
 * usage: bench_pipeline MODEL TEXTS [ROUNDS]
 * Prints one Markdown table row per stage.
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
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    char **lines = NULL;
    size_t n = 0, cap = 0;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    char buf[65536];
    FILE *f;
    double t0, best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
    const char *names[5] = {"text stage (normalise + tokens)", "intent (kefu_classify)",
                            "entities (kefu_entities_extract)", "emotion (kefu_emotion_score)",
                            "whole turn (kefu_session_turn: all of the above + counters + rules)"};
    if (argc < 3 || kefu_model_load(&m, argv[1], NULL, d)) {
        fprintf(stderr, "usage: bench_pipeline MODEL TEXTS [ROUNDS] (%s)\n",
                kefu_diag_message(d));
        return 2;
    }
    f = fopen(argv[2], "r");
    while (f && fgets(buf, sizeof buf, f)) {
        size_t l = strcspn(buf, "\r\n");
        buf[l] = 0;
        if (n == cap)
            lines = realloc(lines, (cap = cap ? cap * 2 : 1024) * sizeof *lines);
        lines[n++] = strdup(buf);
    }
    if (f)
        fclose(f);
    kefu_scratch_new(&s, m, NULL);
    for (int r = 0; r < rounds; r++) {
        kefu_intent_result ir;
        kefu_emotion em;
        kefu_text *t = NULL;
        kefu_session *ses = NULL;
        kefu_turn turn;
        kefu_triage tr;
        double e;
        kefu_text_new(&t, NULL);
        t0 = now();
        for (size_t i = 0; i < n; i++)
            kefu_text_run(t, lines[i], strlen(lines[i]));
        e = now() - t0;
        if (e < best[0]) best[0] = e;
        kefu_text_free(t);
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            memset(&ir, 0, sizeof ir);
            ir.size = sizeof ir;
            kefu_classify(s, lines[i], strlen(lines[i]), &ir);
        }
        e = now() - t0;
        if (e < best[1]) best[1] = e;
        t0 = now();
        for (size_t i = 0; i < n; i++)
            kefu_entities_extract(s, lines[i], strlen(lines[i]));
        e = now() - t0;
        if (e < best[2]) best[2] = e;
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            memset(&em, 0, sizeof em);
            em.size = sizeof em;
            kefu_emotion_score(s, lines[i], strlen(lines[i]), &em);
        }
        e = now() - t0;
        if (e < best[3]) best[3] = e;
        /* one session per 8 messages, as in a conversation */
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            if (i % 8 == 0) {
                kefu_session_free(ses);
                kefu_session_new(&ses, m, NULL);
            }
            kefu_turn_init(&turn);
            turn.time_ms = (int64_t)i * 1000;
            turn.channel = "chat";
            memset(&tr, 0, sizeof tr);
            tr.size = sizeof tr;
            kefu_session_turn(ses, lines[i], strlen(lines[i]), &turn, &tr);
        }
        e = now() - t0;
        if (e < best[4]) best[4] = e;
        kefu_session_free(ses);
    }
    for (int k = 0; k < 5; k++)
        printf("| %s | %.2f | %.0f |\n", names[k], best[k] / n * 1e6, n / best[k]);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
    return 0;
}
