/*
 * bench_emotion.c - scores label<TAB>text files with the built-in emotion
 * scorer, for tests/bench/bench_emotion.sh.
 *
 *   bench_emotion scores FILE...     label<TAB>anger<TAB>...<TAB>negativity
 *                                    <TAB>raw anger (one line per input line)
 *   bench_emotion speed SECONDS FILE... messages per second on one core
 *                                    (the texts are loaded first; only the
 *                                    kefu_emotion_score calls are timed)
 *   bench_emotion text SECONDS FILE...  the same for the text stage alone
 *                                    (kefu_text_run), to show its share
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emotion.h"
#include "kefu.h"

typedef struct line {
    char *label, *text;
    size_t len;
} line;

static line *lines;
static size_t nlines, caplines;

static void load(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!f) {
        perror(path);
        exit(1);
    }
    while ((n = getline(&buf, &cap, f)) >= 0) {
        char *tab;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        tab = strchr(buf, '\t');
        if (nlines == caplines) {
            caplines = caplines ? caplines * 2 : 1024;
            lines = realloc(lines, caplines * sizeof *lines);
            if (!lines)
                exit(1);
        }
        if (tab) {
            *tab = '\0';
            lines[nlines].label = strdup(buf);
            lines[nlines].text = strdup(tab + 1);
        } else {
            lines[nlines].label = strdup("");
            lines[nlines].text = strdup(buf);
        }
        lines[nlines].len = strlen(lines[nlines].text);
        nlines++;
    }
    free(buf);
    fclose(f);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust on a busy machine */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    int first = 2;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_emotion scores FILE... | speed SECONDS FILE...\n");
        return 2;
    }
    if (kefu_model_load_buffer(&m, "kefu: 1\n", 8, "built-in", NULL, NULL, NULL) ||
        kefu_scratch_new(&s, m, NULL))
        return 1;
    if (!strcmp(argv[1], "speed") || !strcmp(argv[1], "text"))
        first = 3;
    for (int i = first; i < argc; i++)
        load(argv[i]);
    if (!strcmp(argv[1], "scores")) {
        for (size_t i = 0; i < nlines; i++) {
            kefu_emotion e = {sizeof e, {0}, 0, 0};
            kefu_emo_features f;
            kefu_emotion_score(s, lines[i].text, lines[i].len, &e);
            kefu_emotion_features(s, lines[i].text, lines[i].len, &f);
            printf("%s", lines[i].label);
            for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
                printf("\t%.2f", e.score[c]);
            printf("\t%.2f", e.negativity);
            for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
                printf("\t%.4f", f.raw[c]);
            printf("\t%.4f\n", f.negativity_raw);
        }
    } else {
        double secs = atof(argv[2]), t0, t1;
        size_t done = 0, bytes = 0;
        volatile float sink = 0;
        kefu_emotion e = {sizeof e, {0}, 0, 0};
        bool text_only = !strcmp(argv[1], "text");
        kefu_text *tx = NULL;
        if (kefu_text_new(&tx, NULL))
            return 1;
        for (size_t i = 0; i < nlines; i++) { /* warm up the scratch */
            kefu_emotion_score(s, lines[i].text, lines[i].len, &e);
            kefu_text_run(tx, lines[i].text, lines[i].len);
        }
        t0 = now();
        do {
            for (size_t i = 0; i < nlines; i++) {
                if (text_only)
                    sink += (float)kefu_text_run(tx, lines[i].text, lines[i].len);
                else
                    kefu_emotion_score(s, lines[i].text, lines[i].len, &e);
                sink += e.score[0];
                bytes += lines[i].len;
            }
            done += nlines;
            t1 = now();
        } while (t1 - t0 < secs);
        printf("%.0f msgs/s %.1f MB/s %.0f ns/msg %zu msgs avg %.1f bytes\n",
               (double)done / (t1 - t0), (double)bytes / (t1 - t0) / 1e6,
               (t1 - t0) * 1e9 / (double)done, done,
               (double)bytes / (double)done);
        kefu_text_free(tx);
    }
    kefu_scratch_free(s);
    kefu_model_free(m);
    return 0;
}
