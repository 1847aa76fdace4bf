/*
 * cmd_classify.c - `kefu classify -m MODEL [--top K] [--explain N]
 * [FILE|-]`: one text per line in, one JSON object per line out with
 * intent, confidence, margin, out_of_scope, top-k, entities, missing slots
 * (and the explanation when asked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_classify(int argc, char **argv)
{
    const char *model = NULL, *path = NULL;
    unsigned top = 3, explain = 0;
    uint64_t count;
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *d;
    FILE *in = stdin;
    char *line = NULL;
    size_t cap = 0;
    cli_buf o = {0}; /* one output line */
    long n;
    int failed = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: kefu classify -m MODEL [--top K] [--explain N] [FILE|-]\n"
                   "--top: intents listed per line, 1 to 1000 (default 3); --explain:\n"
                   "features and patterns behind the answer, 0 to 64 (default 0)\n");
            return 0;
        } else if (!strcmp(a, "-m") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--top") && i + 1 < argc) {
            if (cli_count("classify", a, argv[++i], 1, 1000, &count))
                return 2;
            top = (unsigned)count;
        } else if (!strcmp(a, "--explain") && i + 1 < argc) {
            if (cli_count("classify", a, argv[++i], 0, 64, &count))
                return 2;
            explain = (unsigned)count;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kefu classify: unknown option '%s'\n", a);
            return 2;
        } else {
            path = a;
        }
    }
    if (!model) {
        fprintf(stderr, "kefu classify: -m MODEL is required\n");
        return 2;
    }
    if (!(m = cli_load_model(model)))
        return 1;
    d = kefu_diag_new(NULL);
    if (kefu_scratch_new(&s, m, NULL) || (top && kefu_classify_set_top(s, top))) {
        fprintf(stderr, "kefu classify: cannot set up (does the model have intents?)\n");
        kefu_scratch_free(s);
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    if (path && strcmp(path, "-") && !(in = fopen(path, "rb"))) {
        perror(path);
        kefu_scratch_free(s);
        kefu_model_free(m);
        kefu_diag_free(d);
        return 1;
    }
    while ((n = cli_getline(&line, &cap, in)) >= 0) {
        kefu_intent_result r;
        int rc;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        rc = kefu_classify(s, line, (size_t)n, &r);
        if (rc) {
            cli_error_json(rc, kefu_scratch_diag(s));
            failed = 1;
            continue;
        }
        cli_buf_puts(&o, "{\"intent\":");
        cli_buf_json_string(&o, r.intent, strlen(r.intent));
        cli_buf_puts(&o, ",\"confidence\":");
        cli_buf_fixed4(&o, r.confidence);
        cli_buf_puts(&o, ",\"margin\":");
        cli_buf_fixed4(&o, r.margin);
        cli_buf_puts(&o, r.out_of_scope ? ",\"out_of_scope\":true"
                                        : ",\"out_of_scope\":false");
        cli_buf_puts(&o, ",\"top\":[");
        for (size_t i = 0; i < kefu_classify_top_count(s); i++) {
            const char *name;
            float c;
            kefu_classify_top(s, i, &name, &c);
            cli_buf_puts(&o, i ? ",{\"intent\":" : "{\"intent\":");
            cli_buf_json_string(&o, name, strlen(name));
            cli_buf_puts(&o, ",\"confidence\":");
            cli_buf_fixed4(&o, c);
            cli_buf_puts(&o, "}");
        }
        cli_buf_puts(&o, "]");
        if (kefu_model_entity_count(m) && kefu_entities_extract(s, line, (size_t)n) == KEFU_OK)
            cli_entities_json(&o, s);
        cli_buf_puts(&o, ",\"missing_slots\":[");
        for (size_t i = 0; kefu_classify_missing_slot(s, i); i++) {
            const char *slot = kefu_classify_missing_slot(s, i);
            if (i)
                cli_buf_puts(&o, ",");
            cli_buf_json_string(&o, slot, strlen(slot));
        }
        cli_buf_puts(&o, "]");
        if (explain) {
            kefu_explain_item items[64];
            size_t k = explain, got;
            for (size_t i = 0; i < k; i++)
                items[i].size = sizeof items[i];
            /* entity extraction above re-ran the text stage on the same
             * line, so the tokens explain refers to are this message's */
            got = kefu_classify_explain(s, items, k);
            cli_buf_puts(&o, ",\"explain\":[");
            for (size_t i = 0; i < got; i++) {
                char w[64];
                cli_buf_puts(&o, i ? ",{\"kind\":\"" : "{\"kind\":\"");
                cli_buf_puts(&o, items[i].kind == KEFU_EXPLAIN_PATTERN ? "pattern"
                                                                       : "feature");
                cli_buf_puts(&o, "\",\"text\":");
                cli_buf_json_string(&o, items[i].text, items[i].text_len);
                if (items[i].weight > 1e30f)
                    snprintf(w, sizeof w, ",\"weight\":\"force\"}");
                else
                    snprintf(w, sizeof w, ",\"weight\":%.4f}", items[i].weight);
                cli_buf_puts(&o, w);
            }
            cli_buf_puts(&o, "]");
        }
        cli_buf_puts(&o, "}\n");
        cli_buf_write(&o, stdout);
    }
    cli_buf_free(&o);
    free(line);
    if (in != stdin)
        fclose(in);
    kefu_scratch_free(s);
    kefu_model_free(m);
    kefu_diag_free(d);
    return failed;
}
