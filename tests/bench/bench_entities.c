/*
 * bench_entities.c - entity extraction and redaction on real customer
 * messages: time per message (one thread, whole file in memory, each
 * message extracted and redacted once per pass, best of 3 passes), how
 * many entities were found, and how many messages redaction changed.  The
 * datasets hold no real personal data, so every redaction on them is a
 * candidate false positive; the first few are printed for inspection.
 *
 * usage: bench_entities MODEL NAME=FILE.tsv...
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kefu.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct msgs {
    char **text;
    size_t *len;
    size_t n, cap;
} msgs;

static int read_tsv(const char *path, msgs *m)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t r;
    if (!f)
        return -1;
    while ((r = getline(&line, &cap, f)) >= 0) {
        char *tab = strchr(line, '\t');
        size_t len;
        if (!tab)
            continue;
        len = strlen(tab + 1);
        while (len && (tab[len] == '\n' || tab[len] == '\r'))
            len--;
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 1024;
            m->text = realloc(m->text, m->cap * sizeof *m->text);
            m->len = realloc(m->len, m->cap * sizeof *m->len);
        }
        m->text[m->n] = strndup(tab + 1, len);
        m->len[m->n++] = len;
    }
    free(line);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    kefu_model *model = NULL;
    kefu_scratch *s = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    if (argc < 3 || kefu_model_load(&model, argv[1], NULL, d) != KEFU_OK) {
        char buf[600];
        kefu_diag_format(d, buf, sizeof buf);
        fprintf(stderr, "usage: bench_entities MODEL NAME=FILE.tsv... (%s)\n", buf);
        return 2;
    }
    kefu_scratch_new(&s, model, NULL);
    printf("| data | messages | extract µs/msg | redact µs/msg | msgs with entities | entities | msgs redacted | redactions by kind |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (int a = 2; a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        msgs m = {0};
        double best_x = 1e9, best_r = 1e9;
        size_t with = 0, ents = 0, redacted = 0, kinds[6] = {0};
        if (!eq || read_tsv(eq + 1, &m) || m.n == 0) {
            fprintf(stderr, "skipping %s\n", argv[a]);
            continue;
        }
        *eq = '\0';
        for (int pass = 0; pass < 3; pass++) {
            double t0 = now_s(), t1, t2;
            for (size_t i = 0; i < m.n; i++)
                kefu_entities_extract(s, m.text[i], m.len[i]);
            t1 = now_s();
            for (size_t i = 0; i < m.n; i++)
                kefu_redact(s, m.text[i], m.len[i]);
            t2 = now_s();
            if (t1 - t0 < best_x)
                best_x = t1 - t0;
            if (t2 - t1 < best_r)
                best_r = t2 - t1;
        }
        for (size_t i = 0; i < m.n; i++) {
            if (kefu_entities_extract(s, m.text[i], m.len[i]) == KEFU_OK &&
                kefu_entity_count(s)) {
                with++;
                ents += kefu_entity_count(s);
            }
            if (kefu_redact(s, m.text[i], m.len[i]) == KEFU_OK &&
                kefu_redaction_count(s)) {
                redacted++;
                for (size_t k = 0; k < kefu_redaction_count(s); k++) {
                    kefu_redaction r = {.size = sizeof r};
                    kefu_redaction_get(s, k, &r);
                    kinds[r.kind < 6 ? r.kind : 0]++;
                }
                if (redacted <= 3)
                    fprintf(stderr, "%s redacted: %s -> %s\n", argv[a],
                            m.text[i], kefu_redacted(s, NULL));
            }
        }
        printf("| %s | %zu | %.2f | %.2f | %zu (%.1f%%) | %zu | %zu (%.2f%%) | "
               "email %zu, id %zu, card %zu, phone %zu |\n",
               argv[a], m.n, best_x * 1e6 / (double)m.n,
               best_r * 1e6 / (double)m.n, with, 100.0 * (double)with / (double)m.n,
               ents, redacted, 100.0 * (double)redacted / (double)m.n,
               kinds[KEFU_REDACT_EMAIL], kinds[KEFU_REDACT_ID_CARD],
               kinds[KEFU_REDACT_BANK_CARD], kinds[KEFU_REDACT_PHONE]);
        for (size_t i = 0; i < m.n; i++)
            free(m.text[i]);
        free(m.text);
        free(m.len);
    }
    kefu_scratch_free(s);
    kefu_model_free(model);
    kefu_diag_free(d);
    return 0;
}
