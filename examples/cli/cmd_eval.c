/*
 * cmd_eval.c - `kefu eval -m MODEL TEST.tsv [--json]`: accuracy, macro-F1,
 * in-scope accuracy, out-of-scope recall (label `oos`) and the most
 * confused pairs.  --json prints one object with keys n, accuracy,
 * macro_f1, in_scope_accuracy, oos_recall (null when the file has no
 * in-scope / no `oos` line), errors and confused.  Lines that cannot be
 * scored are named on stderr by file:line; they, or a file without any
 * example, make the exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct label_stats {
    char *name;
    unsigned tp, fp, fn;
} label_stats;

typedef struct pair {
    int gold, pred;
    unsigned n;
} pair;

static int label_id(label_stats **ls, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*ls)[i].name, name))
            return (int)i;
    *ls = realloc(*ls, (*n + 1) * sizeof **ls);
    (*ls)[*n].name = strdup(name);
    (*ls)[*n].tp = (*ls)[*n].fp = (*ls)[*n].fn = 0;
    return (int)(*n)++;
}

static int by_count(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : 0;
}

/* A line that cannot be evaluated: named on stderr (the first ten), and
 * counted; the command then exits 1. */
static void bad_line(const char *path, unsigned lineno, const kefu_scratch *s,
                     int no_tab, unsigned *errors)
{
    if (++*errors <= 10)
        fprintf(stderr, "kefu eval: %s:%u: %s\n", path, lineno,
                no_tab ? "expected 'label<TAB>text'"
                       : kefu_diag_message(kefu_scratch_diag(s)));
}

/* After the loop: lines not named, and a file with nothing to score.
 * Returns the exit status. */
static int eval_end(const char *path, unsigned total, unsigned errors)
{
    if (errors > 10)
        fprintf(stderr, "kefu eval: %u more lines could not be evaluated\n",
                errors - 10);
    if (!total && !errors)
        fprintf(stderr, "kefu eval: %s: no 'label<TAB>text' lines\n", path);
    return errors || !total ? 1 : 0;
}

/*
 * --task emotion: gold labels may be comma-joined; a line counts as
 * accurate when the predicted label set equals the gold set; F1 per label
 * over all lines, macro-F1 their mean.
 */
static int eval_emotion(kefu_model *m, FILE *in, const char *path, int json)
{
    size_t nl = kefu_model_emotion_label_count(m);
    unsigned *tp = calloc(nl + 1, sizeof *tp), *fp = calloc(nl + 1, sizeof *fp),
             *fn = calloc(nl + 1, sizeof *fn);
    char *line = NULL, *gold_set = calloc(nl + 1, 1), *pred_set = calloc(nl + 1, 1);
    size_t cap = 0;
    long n;
    unsigned total = 0, exact = 0, errors = 0, lineno = 0;
    double f1sum = 0;
    kefu_scratch *s = NULL;
    if (!tp || !fp || !fn || !gold_set || !pred_set || kefu_scratch_new(&s, m, NULL)) {
        fprintf(stderr, "kefu eval: out of memory\n");
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        char *tab = memchr(line, '\t', (size_t)n), *p, *save = NULL;
        lineno++;
        if (!n)
            continue;
        if (!tab || kefu_emotion_classify(s, tab + 1, (size_t)(line + n - tab - 1), NULL, 0)) {
            bad_line(path, lineno, s, !tab, &errors);
            continue;
        }
        *tab = '\0';
        memset(gold_set, 0, nl + 1);
        memset(pred_set, 0, nl + 1);
        for (p = strtok_r(line, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            size_t k = 0;
            while (k < nl && strcmp(kefu_model_emotion_label_name(m, k), p))
                k++;
            gold_set[k] = 1; /* k == nl: a label the model never saw */
        }
        for (size_t i = 0; i < kefu_emotion_label_count(s); i++) {
            size_t k = 0;
            while (k < nl && strcmp(kefu_model_emotion_label_name(m, k), kefu_emotion_label(s, i)))
                k++;
            pred_set[k] = 1;
        }
        total++;
        exact += !memcmp(gold_set, pred_set, nl + 1);
        for (size_t k = 0; k <= nl; k++) {
            tp[k] += gold_set[k] && pred_set[k];
            fp[k] += !gold_set[k] && pred_set[k];
            fn[k] += gold_set[k] && !pred_set[k];
        }
    }
    if (json)
        printf("{\"n\":%u,\"accuracy\":%.6f,", total, total ? (double)exact / total : 0);
    else
        printf("examples  %u\naccuracy  %.2f%%\n", total, total ? 100.0 * exact / total : 0);
    {
        size_t counted = 0;
        double f1s[1024];
        for (size_t k = 0; k < nl && k < 1024; k++) {
            double pr = tp[k] + fp[k] ? (double)tp[k] / (tp[k] + fp[k]) : 0;
            double rc = tp[k] + fn[k] ? (double)tp[k] / (tp[k] + fn[k]) : 0;
            f1s[k] = pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0;
            if (tp[k] + fn[k]) {
                f1sum += f1s[k];
                counted++;
            }
        }
        f1sum = counted ? f1sum / counted : 0;
        if (json) {
            printf("\"macro_f1\":%.6f,\"errors\":%u,\"f1\":{", f1sum, errors);
            for (size_t k = 0; k < nl && k < 1024; k++) {
                printf("%s", k ? "," : "");
                cli_json_string(stdout, kefu_model_emotion_label_name(m, k),
                                strlen(kefu_model_emotion_label_name(m, k)));
                printf(":%.6f", f1s[k]);
            }
            printf("}}\n");
        } else {
            printf("macro-F1  %.2f%%\n", 100 * f1sum);
            for (size_t k = 0; k < nl && k < 1024; k++)
                printf("  %-16s F1 %.2f%%\n", kefu_model_emotion_label_name(m, k), 100 * f1s[k]);
        }
    }
    free(tp);
    free(fp);
    free(fn);
    free(gold_set);
    free(pred_set);
    free(line);
    kefu_scratch_free(s);
    return eval_end(path, total, errors);
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *path = NULL;
    int json = 0, emotion = 0;
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *d;
    FILE *in;
    char *line = NULL;
    size_t cap = 0, nl = 0, npairs = 0;
    long n;
    label_stats *ls = NULL;
    pair *pairs = NULL;
    unsigned total = 0, correct = 0, ins = 0, ins_ok = 0, oos = 0, oos_ok = 0,
             errors = 0, lineno = 0;
    double f1sum = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: kefu eval -m MODEL TEST.tsv [--json] [--task intent|emotion]\n");
            return 0;
        } else if (!strcmp(argv[i], "-m") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--task") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "emotion")) {
                emotion = 1;
            } else if (strcmp(argv[i], "intent")) {
                fprintf(stderr, "kefu eval: unknown task '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "kefu eval: unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!model || !path) {
        fprintf(stderr, "kefu eval: -m MODEL and TEST.tsv are required\n");
        return 2;
    }
    if (!(m = cli_load_model(model)))
        return 1;
    d = kefu_diag_new(NULL);
    if (emotion) {
        int rc;
        if (!(in = fopen(path, "rb"))) {
            perror(path);
            kefu_model_free(m);
            kefu_diag_free(d);
            return 1;
        }
        if (!kefu_model_emotion_label_count(m)) {
            fprintf(stderr, "kefu eval: %s has no trained emotion labels "
                            "(train it with --task emotion)\n", model);
            rc = 1;
        } else {
            rc = eval_emotion(m, in, path, json);
        }
        fclose(in);
        kefu_model_free(m);
        kefu_diag_free(d);
        return rc;
    }
    if (kefu_scratch_new(&s, m, NULL) || !(in = fopen(path, "rb"))) {
        fprintf(stderr, "kefu eval: cannot open %s\n", path);
        kefu_scratch_free(s);
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        char *tab = memchr(line, '\t', (size_t)n);
        kefu_intent_result r;
        int g, p;
        lineno++;
        if (!n)
            continue;
        if (!tab) {
            bad_line(path, lineno, s, 1, &errors);
            continue;
        }
        *tab = '\0';
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        if (kefu_classify(s, tab + 1, (size_t)(line + n - tab - 1), &r)) {
            bad_line(path, lineno, s, 0, &errors);
            continue;
        }
        g = label_id(&ls, &nl, line);
        p = label_id(&ls, &nl, r.intent);
        total++;
        if (g == p) {
            correct++;
            ls[g].tp++;
        } else {
            size_t k;
            ls[g].fn++;
            ls[p].fp++;
            for (k = 0; k < npairs; k++)
                if (pairs[k].gold == g && pairs[k].pred == p)
                    break;
            if (k == npairs) {
                pair *grown = realloc(pairs, (npairs + 1) * sizeof *pairs);
                if (!grown) {
                    fprintf(stderr, "kefu eval: out of memory\n");
                    exit(1);
                }
                pairs = grown;
                pairs[npairs].gold = g;
                pairs[npairs].pred = p;
                pairs[npairs++].n = 0;
            }
            pairs[k].n++;
        }
        if (!strcmp(line, "oos")) {
            oos++;
            oos_ok += g == p;
        } else {
            ins++;
            ins_ok += g == p;
        }
    }
    fclose(in);
    {
        size_t counted = 0;
        for (size_t i = 0; i < nl; i++) {
            double pr, rc2;
            if (ls[i].tp + ls[i].fn == 0)
                continue; /* not a gold label: only predicted */
            pr = ls[i].tp + ls[i].fp ? (double)ls[i].tp / (ls[i].tp + ls[i].fp) : 0;
            rc2 = (double)ls[i].tp / (ls[i].tp + ls[i].fn);
            f1sum += pr + rc2 > 0 ? 2 * pr * rc2 / (pr + rc2) : 0;
            counted++;
        }
        f1sum = counted ? f1sum / counted : 0;
    }
    if (npairs) /* qsort may not be given NULL, even for no elements */
        qsort(pairs, npairs, sizeof *pairs, by_count);
    if (json) {
        printf("{\"n\":%u,\"accuracy\":%.6f,\"macro_f1\":%.6f,"
               "\"in_scope_accuracy\":",
               total, total ? (double)correct / total : 0, f1sum);
        if (ins)
            printf("%.6f", (double)ins_ok / ins);
        else
            printf("null");
        printf(",\"oos_recall\":");
        if (oos)
            printf("%.6f", (double)oos_ok / oos);
        else
            printf("null");
        printf(",\"errors\":%u,\"confused\":[", errors);
        for (size_t i = 0; i < npairs && i < 10; i++) {
            printf("%s{\"gold\":", i ? "," : "");
            cli_json_string(stdout, ls[pairs[i].gold].name, strlen(ls[pairs[i].gold].name));
            printf(",\"predicted\":");
            cli_json_string(stdout, ls[pairs[i].pred].name, strlen(ls[pairs[i].pred].name));
            printf(",\"count\":%u}", pairs[i].n);
        }
        printf("]}\n");
    } else {
        printf("examples          %u%s\n", total, errors ? " (some lines failed)" : "");
        printf("accuracy          %.2f%%\n", total ? 100.0 * correct / total : 0);
        printf("macro-F1          %.2f%%\n", 100 * f1sum);
        printf("in-scope accuracy %.2f%%\n", ins ? 100.0 * ins_ok / ins : 0);
        if (oos)
            printf("oos recall        %.2f%% (%u examples)\n", 100.0 * oos_ok / oos, oos);
        printf("most confused (gold -> predicted):\n");
        for (size_t i = 0; i < npairs && i < 10; i++)
            printf("  %4u  %s -> %s\n", pairs[i].n, ls[pairs[i].gold].name,
                   ls[pairs[i].pred].name);
    }
    for (size_t i = 0; i < nl; i++)
        free(ls[i].name);
    free(ls);
    free(pairs);
    free(line);
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
    return eval_end(path, total, errors);
}
