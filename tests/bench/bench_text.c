/*
 * bench_text.c - throughput of the text stage (validation, NFKC + case
 * fold, Traditional->Simplified, tokens with offsets) over a file of
 * messages, one per line.  usage: bench_text FILE [ROUNDS]
 * Prints "messages bytes seconds" of the best round.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kefu.h"

int main(int argc, char **argv)
{
    char **lines = NULL, buf[65536];
    size_t *lens = NULL, n = 0, cap = 0, bytes = 0, tokens = 0;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    double best = 1e9;
    kefu_text *t = NULL;
    FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
    if (!f || kefu_text_new(&t, NULL)) {
        fprintf(stderr, "usage: bench_text FILE [ROUNDS]\n");
        return 2;
    }
    while (fgets(buf, sizeof buf, f)) {
        size_t l = strcspn(buf, "\r\n");
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            lines = realloc(lines, cap * sizeof *lines);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lines[n] = malloc(l + 1);
        memcpy(lines[n], buf, l);
        lens[n++] = l;
        bytes += l;
    }
    fclose(f);
    for (int r = 0; r < rounds; r++) {
        struct timespec a, b;
        double e;
        tokens = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (size_t i = 0; i < n; i++)
            if (kefu_text_run(t, lines[i], lens[i]) == KEFU_OK)
                tokens += kefu_text_token_count(t);
        clock_gettime(CLOCK_MONOTONIC, &b);
        e = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        if (e < best)
            best = e;
    }
    printf("%zu %zu %zu %.6f\n", n, bytes, tokens, best);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(lens);
    kefu_text_free(t);
    return 0;
}
