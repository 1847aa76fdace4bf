/*
 * case_rules.c - area "rules": rule expressions and rule sections that
 * must be rejected at load time.  Each case is a model.yaml (with any file
 * it includes) and expected_error "line col message" (the message matched
 * as a substring), the position pointing inside the expression; without
 * expected_error the model must load.  See case_load_model.
 */
#include "case_runner.h"

int case_rules(const char *dir, char *why, size_t why_cap)
{
    kefu_model *m = NULL;
    int fail = case_load_model(dir, &m, why, why_cap);
    kefu_model_free(m);
    return fail;
}
