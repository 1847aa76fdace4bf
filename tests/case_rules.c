/*
 * case_rules.c - area "rules": rule expressions and rule sections that
 * must be rejected at load time, with the position inside the expression.
 *
 *   model.yaml + expected_error ("line col message", the message matched
 *   as a substring): the model must fail to load with that error (without
 *   expected_error it must load); see case_load_model.
 *
 *   model.yaml + rules.yaml + expected_error: the model must load and the
 *   rule file, compiled against it as for a hot swap
 *   (kefu_ruleset_load), must fail with that error in rules.yaml.
 */
#include "case_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hot_swap_case(const char *dir, char *why, size_t why_cap)
{
    char path[4096];
    kefu_model *m = NULL;
    kefu_ruleset *rs = NULL;
    kefu_diag *d = kefu_diag_new(NULL);
    char *exp = case_read(dir, "expected_error", NULL);
    unsigned line = 0, col = 0;
    int used = 0, rc, fail = 0;
    snprintf(path, sizeof path, "%s/model.yaml", dir);
    if (kefu_model_load(&m, path, NULL, d)) {
        char msg[1024];
        kefu_diag_format(d, msg, sizeof msg);
        snprintf(why, why_cap, "model failed to load: %s", msg);
        fail = 1;
        goto out;
    }
    snprintf(path, sizeof path, "%s/rules.yaml", dir);
    rc = kefu_ruleset_load(&rs, m, path, NULL, d);
    if (!exp) {
        if (rc) {
            char msg[1024];
            kefu_diag_format(d, msg, sizeof msg);
            snprintf(why, why_cap, "rules.yaml failed: %s", msg);
            fail = 1;
        }
        goto out;
    }
    case_chomp(exp);
    if (sscanf(exp, "%u %u %n", &line, &col, &used) < 2) {
        snprintf(why, why_cap, "expected_error must be 'line col message'");
        fail = 1;
    } else if (rc == KEFU_OK) {
        snprintf(why, why_cap, "rules.yaml compiled but expected '%s'", exp);
        fail = 1;
    } else if (kefu_diag_line(d) != line || kefu_diag_column(d) != col ||
               !strstr(kefu_diag_message(d), exp + used) ||
               !strstr(kefu_diag_file(d), "rules.yaml")) {
        snprintf(why, why_cap, "expected '%s' in rules.yaml, got '%s:%u %u %s'",
                 exp, kefu_diag_file(d), kefu_diag_line(d),
                 kefu_diag_column(d), kefu_diag_message(d));
        fail = 1;
    } else if (rs) {
        snprintf(why, why_cap, "a failed compile returned a rule set");
        fail = 1;
    }
out:
    kefu_ruleset_free(rs);
    kefu_model_free(m);
    kefu_diag_free(d);
    free(exp);
    return fail;
}

int case_rules(const char *dir, char *why, size_t why_cap)
{
    kefu_model *m = NULL;
    int fail;
    if (case_has(dir, "rules.yaml"))
        return hot_swap_case(dir, why, why_cap);
    fail = case_load_model(dir, &m, why, why_cap);
    kefu_model_free(m);
    return fail;
}
