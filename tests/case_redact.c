/*
 * case_redact.c - area "redact": model.yaml (its redaction: section, or
 * none for the defaults), input.txt with one message per line, and
 * expected.txt with the redacted line for each.  A model that must fail
 * uses expected_error instead (see case_load_model).
 */
#include "case_runner.h"

#include <stdio.h>
#include <string.h>

static int redact(kefu_scratch *s, const char *line, char *got, size_t cap)
{
    int rc = kefu_redact(s, line, strlen(line));
    if (rc == KEFU_OK)
        snprintf(got, cap, "%s", kefu_redacted(s, NULL));
    return rc;
}

int case_redact(const char *dir, char *why, size_t why_cap)
{
    return case_lines(dir, why, why_cap, redact);
}
