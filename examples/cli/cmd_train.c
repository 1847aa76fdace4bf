/*
 * cmd_train.c - `kefu train --data TRAIN.tsv [--val VAL.tsv]
 * [--config MODEL.yaml] -o MODEL [--epochs N] [--lr X] [--seed K]
 * [--task intent|emotion] [--quiet]`: trains in C and writes a binary
 * model.  Also accepts a YAML model with examples as --data (or --config
 * alone).  Progress goes to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void progress(uint32_t epoch, uint32_t epochs, double loss,
                     double val_acc, void *user)
{
    (void)user;
    if (val_acc >= 0)
        fprintf(stderr, "epoch %3u/%u  loss %.4f  val accuracy %.2f%%\n",
                epoch, epochs, loss, 100 * val_acc);
    else
        fprintf(stderr, "epoch %3u/%u  loss %.4f\n", epoch, epochs, loss);
}

/* Whether the model can be written to `path` (its folder exists and is
 * writable, and so is the file if it exists): checked before training, so
 * a mistyped -o fails in a moment, not after the training. */
static int writable(const char *path)
{
    char dir[4096];
    struct stat st;
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir)
        return 0;
    if (slash) {
        memcpy(dir, path, n ? n : 1); /* "/model" is in "/" */
        dir[n ? n : 1] = '\0';
    } else {
        strcpy(dir, ".");
    }
    if (access(dir, W_OK | X_OK))
        return 0;
    if (stat(path, &st))
        return errno == ENOENT;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return 0;
    }
    return !access(path, W_OK);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *val = NULL, *config = NULL, *outp = NULL;
    kefu_train_options o;
    kefu_model *m = NULL;
    kefu_diag *d;
    int quiet = 0, rc;
    struct timespec t0, t1;
    uint64_t n;
    double x;

    kefu_train_options_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: kefu train --data TRAIN.tsv [--val VAL.tsv] "
                   "[--config MODEL.yaml] -o MODEL\n"
                   "                  [--epochs N] [--lr X] [--seed K] "
                   "[--task intent|emotion] [--quiet]\n"
                   "TRAIN.tsv has label<TAB>text lines; a YAML model with "
                   "examples works as --data too.\n"
                   "--epochs 1 to 1000, --lr 1e-6 to 100, --seed 0 to 2^63-1 "
                   "(0: the model's).\n");
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "kefu train: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--val")) val = v;
        else if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) outp = v;
        else if (!strcmp(a, "--epochs")) {
            if (cli_count("train", a, v, 1, 1000, &n))
                return 2;
            o.epochs = (uint32_t)n;
        } else if (!strcmp(a, "--lr")) {
            if (cli_number("train", a, v, 1e-6, 100, &x))
                return 2;
            o.learning_rate = (float)x;
        } else if (!strcmp(a, "--seed")) {
            if (cli_count("train", a, v, 0, INT64_MAX, &n))
                return 2;
            o.seed = n;
        } else if (!strcmp(a, "--task")) {
            if (!strcmp(v, "intent")) o.task = KEFU_TASK_INTENT;
            else if (!strcmp(v, "emotion")) o.task = KEFU_TASK_EMOTION;
            else {
                fprintf(stderr, "kefu train: unknown task '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "kefu train: unknown option '%s'\n", a);
            return 2;
        }
        i++;
    }
    if ((!data && !config) || !outp) {
        fprintf(stderr, "kefu train: --data (or --config) and -o are required\n");
        return 2;
    }
    if (data && (ends_with(data, ".yaml") || ends_with(data, ".yml"))) {
        if (config) {
            fprintf(stderr, "kefu train: give a YAML model as --data or --config, not both\n");
            return 2;
        }
        config = data;
        data = NULL;
    }
    if (!writable(outp)) {
        fprintf(stderr, "kefu train: cannot write %s: %s\n", outp, strerror(errno));
        return 1;
    }
    if (!quiet) {
        o.progress = progress;
        if (!val)
            fprintf(stderr, "no --val: the training examples tune the model, each "
                            "scored by a model trained without it (from 50 examples; "
                            "tuning_folds, default 5: that many quiet training runs "
                            "first)\n");
    }
    d = kefu_diag_new(NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = kefu_model_train(&m, config, data, val, &o, NULL, d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        cli_report("train", rc, d);
        kefu_diag_free(d);
        return 1;
    }
    rc = kefu_model_save(m, outp, d);
    if (rc) {
        cli_report("save", rc, d);
    } else if (!quiet) {
        kefu_classifier_info ci;
        ci.size = sizeof ci;
        fprintf(stderr, "trained %zu %s in %.2f s; wrote %s\n",
                o.task == KEFU_TASK_EMOTION ? kefu_model_emotion_label_count(m) : kefu_model_intent_count(m),
                o.task == KEFU_TASK_EMOTION ? "emotion labels" : "intents",
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
                outp);
        if (kefu_model_classifier_info(m, o.task, &ci) == KEFU_OK) {
            fprintf(stderr, "temperature %.4f", ci.temperature);
            if (o.task == KEFU_TASK_INTENT)
                fprintf(stderr, "; out of scope below confidence %.2f or margin %.2f%s",
                        ci.threshold, ci.margin,
                        ci.oos_index >= 0 ? ", or when `oos` wins" : "");
            fprintf(stderr, " (%u examples, %u features)\n", ci.examples, ci.features);
        }
    }
    kefu_model_free(m);
    kefu_diag_free(d);
    return rc ? 1 : 0;
}
