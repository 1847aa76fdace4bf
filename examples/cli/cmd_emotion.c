/*
 * cmd_emotion.c - `kefu emotion [-m MODEL] [FILE|-]`: one text per line in,
 * one JSON object per line out with every category's score (0..100) and
 * the negativity.  Without -m the built-in lexicon is used through a
 * minimal model ("kefu: 1").  A model trained with `--task emotion` adds
 * its own labels: "labels" (the predicted ones) and "probs" (each label's
 * probability, four decimals).  Lines that fail get {"error": ...,
 * "status": N} and the run goes on; the exit status is 1 if any line
 * failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kefu emotion [-m MODEL] [FILE|-]\n"
            "One text per line in; JSON lines out: anger, anxiety,\n"
            "disappointment, sadness, fear, joy and negativity, each 0..100;\n"
            "with a model trained by `kefu train --task emotion`, also its\n"
            "labels (\"labels\") and their probabilities (\"probs\").\n");
}

int cmd_emotion(int argc, char **argv)
{
    const char *path = NULL, *model_path = NULL;
    FILE *in = stdin;
    kefu_model *model = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *diag = kefu_diag_new(NULL);
    char *line = NULL;
    size_t cap = 0, nlab = 0;
    float *probs = NULL;
    long n;
    int rc, failed = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            kefu_diag_free(diag);
            return 0;
        }
        if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            model_path = argv[++i];
        } else if (!path && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
            path = argv[i];
        } else {
            fprintf(stderr, "kefu emotion: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            kefu_diag_free(diag);
            return 2;
        }
    }
    if (model_path)
        rc = kefu_model_load(&model, model_path, NULL, diag);
    else
        rc = kefu_model_load_buffer(&model, "kefu: 1\n", 8, "built-in", NULL,
                                    NULL, diag);
    if (rc != KEFU_OK) {
        cli_report("loading the model", rc, diag);
        kefu_diag_free(diag);
        return 1;
    }
    nlab = kefu_model_emotion_label_count(model);
    if (kefu_scratch_new(&s, model, NULL) != KEFU_OK ||
        (nlab && !(probs = calloc(nlab, sizeof *probs)))) {
        fprintf(stderr, "kefu emotion: out of memory\n");
        kefu_model_free(model);
        kefu_diag_free(diag);
        return 1;
    }
    if (path && strcmp(path, "-")) {
        in = fopen(path, "rb");
        if (!in) {
            perror(path);
            failed = 1;
            goto out;
        }
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        kefu_emotion e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        rc = kefu_emotion_score(s, line, (size_t)n, &e);
        if (rc == KEFU_OK && nlab)
            rc = kefu_emotion_classify(s, line, (size_t)n, probs, nlab);
        if (rc != KEFU_OK) {
            char msg[600];
            kefu_diag_format(kefu_scratch_diag(s), msg, sizeof msg);
            printf("{\"error\":");
            cli_json_string(stdout, msg, strlen(msg));
            printf(",\"status\":%d}\n", rc);
            failed = 1;
            continue;
        }
        printf("{");
        for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
            printf("\"%s\":%.1f,", kefu_emotion_category_name(c), e.score[c]);
        printf("\"negativity\":%.1f", e.negativity);
        if (nlab) {
            printf(",\"labels\":[");
            for (size_t i = 0; i < kefu_emotion_label_count(s); i++) {
                const char *l = kefu_emotion_label(s, i);
                printf("%s", i ? "," : "");
                cli_json_string(stdout, l, strlen(l));
            }
            printf("],\"probs\":{");
            for (size_t i = 0; i < nlab; i++) {
                const char *l = kefu_model_emotion_label_name(model, i);
                printf("%s", i ? "," : "");
                cli_json_string(stdout, l, strlen(l));
                printf(":");
                cli_json_fixed4(stdout, probs[i]);
            }
            printf("}");
        }
        printf("}\n");
    }
out:
    if (in && in != stdin)
        fclose(in);
    free(line);
    free(probs);
    kefu_scratch_free(s);
    kefu_model_free(model);
    kefu_diag_free(diag);
    return failed;
}
