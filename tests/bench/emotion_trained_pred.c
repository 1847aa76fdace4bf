/*
 * emotion_trained_pred.c - for tests/bench/bench_emotion_trained.sh: loads a
 * model trained with `kefu train --task emotion` and prints, for every
 * text line of FILE (or stdin), the predicted labels comma-joined in model
 * order (kefu_emotion_classify + kefu_emotion_label).  A line that fails
 * prints "?" and the exit status becomes 1.
 *
 *   emotion_trained_pred MODEL [FILE|-]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kefu.h"

int main(int argc, char **argv)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    FILE *in = stdin;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: emotion_trained_pred MODEL [FILE|-]\n");
        return 2;
    }
    if (kefu_model_load(&m, argv[1], NULL, NULL) || !kefu_model_emotion_label_count(m) ||
        kefu_scratch_new(&s, m, NULL)) {
        fprintf(stderr, "emotion_trained_pred: cannot load %s as a trained emotion model\n",
                argv[1]);
        kefu_model_free(m);
        return 1;
    }
    if (argc > 2 && strcmp(argv[2], "-") && !(in = fopen(argv[2], "rb"))) {
        perror(argv[2]);
        return 1;
    }
    for (;;) {
        size_t n = 0;
        int c;
        while ((c = getc(in)) != EOF && c != '\n') {
            if (n + 1 >= cap) {
                char *p = realloc(line, cap ? 2 * cap : 4096);
                if (!p) {
                    fprintf(stderr, "emotion_trained_pred: out of memory\n");
                    return 1;
                }
                line = p;
                cap = cap ? 2 * cap : 4096;
            }
            line[n++] = (char)c;
        }
        if (c == EOF && !n)
            break;
        if (n && line[n - 1] == '\r')
            n--;
        if (kefu_emotion_classify(s, n ? line : "", n, NULL, 0)) {
            fputs("?\n", stdout);
            rc = 1;
        } else {
            for (size_t i = 0; i < kefu_emotion_label_count(s); i++)
                printf("%s%s", i ? "," : "", kefu_emotion_label(s, i));
            putchar('\n');
        }
        if (c == EOF)
            break;
    }
    if (in != stdin)
        fclose(in);
    free(line);
    kefu_scratch_free(s);
    kefu_model_free(m);
    return rc;
}
