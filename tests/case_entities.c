/*
 * case_entities.c - area "entities": model.yaml with an entities: section,
 * input.txt with one message per line, expected.txt with one line per
 * message: the entities found as "name=value@char_start-char_end" joined
 * by " | ", or "-" when there are none.  A model that must fail uses
 * expected_error instead (see case_load_model).
 */
#include "case_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void describe(const kefu_scratch *s, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    if (kefu_entity_count(s) == 0)
        snprintf(buf, cap, "-");
    for (size_t i = 0; i < kefu_entity_count(s) && used < cap; i++) {
        kefu_entity e;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        kefu_entity_get(s, i, &e);
        used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s@%u-%u",
                                 i ? " | " : "", e.name, e.value, e.char_start,
                                 e.char_end);
    }
}

int case_entities(const char *dir, char *why, size_t why_cap)
{
    kefu_model *m = NULL;
    kefu_scratch *s = NULL;
    char *in = NULL, *exp = NULL, *line, *eline, *in_save = NULL,
         *exp_save = NULL, got[2048];
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
        int rc = kefu_entities_extract(s, line, strlen(line));
        n++;
        if (!eline) {
            snprintf(why, why_cap, "line %d: no expected output", n);
            fail = 1;
            break;
        }
        if (rc) {
            snprintf(why, why_cap, "line %d: extraction failed: %s", n,
                     kefu_diag_message(kefu_scratch_diag(s)));
            fail = 1;
            break;
        }
        describe(s, got, sizeof got);
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
