/*
 * redact.h - masking personal data before a host logs a message: phone
 * numbers, Chinese resident ID numbers (MOD 11-2 check digit and birth
 * date verified), bank-card numbers (Luhn), e-mail addresses, and custom
 * patterns from the model's `redaction:` section.  Builds on text and
 * pattern only.
 */
#ifndef KEFU_REDACT_H
#define KEFU_REDACT_H

#include "core.h"
#include "model.h"
#include "pattern.h"
#include "text.h"

/* Built-in kinds, in the order they claim text: rules[i] has kind i + 1
 * (kefu_redact_kind). */
#define KEFU_REDACT_BUILTINS 4

/* How a match is masked. */
struct kefu_redact_style {
    bool on;
    uint32_t keep_first, keep_last; /* letters/digits left visible */
    char mask[8];                   /* one UTF-8 character */
    char *replace;                  /* whole-match replacement, or NULL */
};

struct kefu_redact_rule {
    char *name;
    char *source;                   /* custom rules: the pattern */
    uint32_t kind;                  /* kefu_redact_kind */
    pcre2_code *code;
    uint32_t value_groups[8];       /* groups named "value" (custom) */
    uint32_t nvalue_groups;
    struct kefu_redact_style style;
};

struct kefu_redactor {
    kefu_mem mem;
    pcre2_general_context *gctx;
    /* builtins[KEFU_REDACT_BUILTINS] first, then custom rules in order */
    struct kefu_redact_rule *rules;
    size_t n, cap;
    uint32_t max_groups;
    bool finished;
};

struct kefu_redact_span {
    uint32_t rule;
    uint32_t cp_start, cp_end;
    uint32_t byte_start, byte_end, char_start, char_end;
};

struct kefu_redact_scratch {
    kefu_text text;                 /* its own: redaction keeps the
                                       scratch's message intact */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    struct kefu_redact_span *spans;
    size_t n, cap;
    kefu_buf out;
    kefu_buf subject;               /* normalised text, padded for the JIT */
};

/* Section parser for `redaction:` and the engine steps (model.c tables). */
int kefu_redact_parse_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx);
int kefu_redact_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_redact_release(struct kefu_model *m);

void kefu_redact_scratch_free(const kefu_mem *mem,
                              struct kefu_redact_scratch *rs);

#endif
