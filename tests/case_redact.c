/*
 * case_redact.c - area "redact": model.yaml (its redaction: section, or
 * none for the defaults), input.txt with one message per line, and
 * expected.txt with the redacted line for each.  A model that must fail
 * uses expected_error instead (see case_load_model).
 */
#include "case_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int case_redact(const char *dir, char *why, size_t why_cap)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    char *in = NULL, *exp = NULL, *line, *eline, *in_save = NULL,
         *exp_save = NULL;
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
        const char *got;
        int rc = kefu_redact(s, line, strlen(line));
        n++;
        if (!eline) {
            snprintf(why, why_cap, "line %d: no expected output", n);
            fail = 1;
            break;
        }
        if (rc) {
            snprintf(why, why_cap, "line %d: kefu_redact failed: %s", n,
                     kefu_diag_message(kefu_scratch_diag(s)));
            fail = 1;
            break;
        }
        got = kefu_redacted(s, NULL);
        if (strcmp(got, eline)) {
            snprintf(why, why_cap, "line %d:\n  input    %s\n  expected %s\n  got      %s",
                     n, line, eline, got);
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
