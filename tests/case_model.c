/*
 * case_model.c - area "model": model.yaml (with any files it includes) and
 * expected_error "line col message" (message is matched as a substring);
 * without expected_error the model must load.
 */
#include "case_runner.h"

int case_model(const char *dir, char *why, size_t why_cap)
{
    kefu_model *m = NULL;
    int fail = case_load_model(dir, &m, why, why_cap);
    kefu_model_free(m);
    return fail;
}
