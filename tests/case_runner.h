/*
 * case_runner.h - data-driven cases: tests/cases/<area>/<case>/.  Each area
 * has a handler in tests/case_<area>.c, registered in case_runner.c.  A
 * handler gets the case directory and returns 0 when the case passes, or
 * fills `why` and returns 1.
 */
#ifndef KEFU_CASE_RUNNER_H
#define KEFU_CASE_RUNNER_H

#include <stddef.h>

#include "kefu.h"

typedef int (*case_fn)(const char *dir, char *why, size_t why_cap);

/* Reads dir/name into a malloc'd NUL-terminated buffer; NULL if absent. */
char *case_read(const char *dir, const char *name, size_t *len);
/* Does dir/name exist? */
int case_has(const char *dir, const char *name);
/* Strips trailing newlines/spaces in place. */
void case_chomp(char *s);
/*
 * Loads dir/model.yaml (if present) and compares the outcome with
 * dir/expected_error ("line col message-substring", or absent for success).
 * On success *model gets the model (caller frees).
 */
int case_load_model(const char *dir, kefu_model **model, char *why,
                    size_t why_cap);

/*
 * Per-line cases: loads dir/model.yaml (see case_load_model), then for each
 * line of input.txt calls `run`, which must write its output for the line
 * into got (or return a status); the output must equal the same line of
 * expected.txt.
 */
typedef int (*case_line_fn)(kefu_scratch *s, const char *line, char *got,
                            size_t got_cap);
int case_lines(const char *dir, char *why, size_t why_cap, case_line_fn run);

int case_text(const char *dir, char *why, size_t why_cap);
int case_model(const char *dir, char *why, size_t why_cap);
int case_emotion(const char *dir, char *why, size_t why_cap);
int case_rules(const char *dir, char *why, size_t why_cap);
int case_redact(const char *dir, char *why, size_t why_cap);
int case_entities(const char *dir, char *why, size_t why_cap);

#endif
