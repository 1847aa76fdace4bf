/*
 * case_runner.c - runs the data-driven cases under tests/cases (in the
 * spirit of jansson's test/suites and PCRE2's testdata): one directory per
 * area, one directory per case, a handler per area.
 */
#include "case_runner.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *area;
    case_fn fn;
} areas[] = {
    {"text", case_text},
    {"model", case_model},
    {"emotion", case_emotion},
    {"rules", case_rules},
    {"redact", case_redact},
    {"entities", case_entities},
};

char *case_read(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf;
    long n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

int case_has(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

void case_chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int case_load_model(const char *dir, kefu_model **model, char *why,
                    size_t why_cap)
{
    char path[4096];
    kefu_diag *d = kefu_diag_new(NULL);
    char *exp = case_read(dir, "expected_error", NULL);
    int rc, fail = 0;
    *model = NULL;
    snprintf(path, sizeof path, "%s/model.yaml", dir);
    rc = kefu_model_load(model, path, NULL, d);
    if (!exp) {
        if (rc != KEFU_OK) {
            char msg[1024];
            kefu_diag_format(d, msg, sizeof msg);
            snprintf(why, why_cap, "model failed to load: %s", msg);
            fail = 1;
        }
    } else {
        unsigned line = 0, col = 0;
        int used = 0;
        case_chomp(exp);
        if (sscanf(exp, "%u %u %n", &line, &col, &used) < 2) {
            snprintf(why, why_cap, "expected_error must be 'line col message'");
            fail = 1;
        } else if (rc == KEFU_OK) {
            snprintf(why, why_cap, "model loaded but expected error '%s'", exp);
            fail = 1;
        } else if (kefu_diag_line(d) != line || kefu_diag_column(d) != col ||
                   !strstr(kefu_diag_message(d), exp + used)) {
            snprintf(why, why_cap, "expected '%s', got '%u %u %s'", exp,
                     kefu_diag_line(d), kefu_diag_column(d),
                     kefu_diag_message(d));
            fail = 1;
        }
        kefu_model_free(*model);
        *model = NULL;
    }
    free(exp);
    kefu_diag_free(d);
    return fail;
}

int case_lines(const char *dir, char *why, size_t why_cap, case_line_fn run)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    char *in = NULL, *exp = NULL, *line, *eline, *in_save = NULL,
         *exp_save = NULL, got[4096];
    int fail = case_load_model(dir, &m, why, why_cap), n = 0;
    if (fail || !m)
        return fail;
    in = case_read(dir, "input.txt", NULL);
    exp = case_read(dir, "expected.txt", NULL);
    if (!in || !exp || kefu_scratch_new(&s, m, NULL)) {
        snprintf(why, why_cap, "needs input.txt and expected.txt");
        fail = 1;
        goto out;
    }
    line = strtok_r(in, "\n", &in_save);
    eline = strtok_r(exp, "\n", &exp_save);
    for (; line; line = strtok_r(NULL, "\n", &in_save),
                 eline = strtok_r(NULL, "\n", &exp_save)) {
        int rc;
        n++;
        if (!eline) {
            snprintf(why, why_cap, "line %d: no expected output", n);
            fail = 1;
            break;
        }
        got[0] = '\0';
        if ((rc = run(s, line, got, sizeof got))) {
            snprintf(why, why_cap, "line %d: failed (%d): %s", n, rc,
                     kefu_diag_message(kefu_scratch_diag(s)));
            fail = 1;
            break;
        }
        if (strcmp(got, eline)) {
            snprintf(why, why_cap,
                     "line %d:\n  input    %s\n  expected %s\n  got      %s", n,
                     line, eline, got);
            fail = 1;
            break;
        }
    }
    if (!fail && eline) {
        snprintf(why, why_cap, "expected.txt has more lines than input.txt");
        fail = 1;
    }
out:
    free(in);
    free(exp);
    kefu_scratch_free(s);
    kefu_model_free(m);
    return fail;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted subdirectory names of dir. */
static char **list_dirs(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t cnt = 0, cap = 0;
    *n = 0;
    if (!d)
        return NULL;
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) || !S_ISDIR(st.st_mode))
            continue;
        if (cnt == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        names[cnt++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, cnt, sizeof *names, by_name);
    *n = cnt;
    return names;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "tests/cases";
    size_t na, passed = 0, failed = 0;
    char **an = list_dirs(root, &na);
    for (size_t a = 0; a < na; a++) {
        char adir[4200];
        size_t nc, h;
        char **cn;
        for (h = 0; h < sizeof areas / sizeof areas[0]; h++)
            if (!strcmp(areas[h].area, an[a]))
                break;
        snprintf(adir, sizeof adir, "%s/%s", root, an[a]);
        cn = list_dirs(adir, &nc);
        for (size_t c = 0; c < nc; c++) {
            char cdir[8300], why[2048] = "";
            int fail;
            snprintf(cdir, sizeof cdir, "%s/%s", adir, cn[c]);
            if (h == sizeof areas / sizeof areas[0]) {
                snprintf(why, sizeof why, "no handler for area '%s'", an[a]);
                fail = 1;
            } else {
                fail = areas[h].fn(cdir, why, sizeof why);
            }
            if (fail) {
                printf("FAIL %s/%s: %s\n", an[a], cn[c], why);
                failed++;
            } else {
                passed++;
            }
            free(cn[c]);
        }
        printf("cases %-12s %zu\n", an[a], nc);
        free(cn);
        free(an[a]);
    }
    free(an);
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
