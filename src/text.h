/*
 * text.h - the text stage: UTF-8 validation, normalisation (NFKC, case
 * fold, width, whitespace, Traditional->Simplified) and tokenisation with
 * offsets into the original input.  Needs only core.
 */
#ifndef KEFU_TEXT_H
#define KEFU_TEXT_H

#include "core.h"

typedef struct kefu_tok {
    uint32_t kind;          /* kefu_token_kind */
    uint32_t norm_off;      /* slice of the normalised buffer */
    uint32_t norm_len;
    uint32_t ncp;           /* code points in the normalised slice */
    uint32_t byte_start, byte_end;   /* original input */
    uint32_t char_start, char_end;
} kefu_tok;

/* One normalised code point and the original range it came from. */
typedef struct kefu_ncp {
    uint32_t cp;
    uint32_t norm_off;
    uint32_t byte_start, byte_end;
    uint32_t char_start, char_end;
} kefu_ncp;

struct kefu_text {
    kefu_mem mem;
    kefu_diag diag;
    int64_t max_bytes;
    int t2s;
    int casefold;
    int reference;          /* every segment through utf8proc (for tests) */
    kefu_buf norm;
    kefu_ncp *cps;
    size_t ncps, cap_cps;
    kefu_tok *toks;
    size_t ntoks, cap_toks;
};

/* Initialise / release a text object embedded in another object. */
void kefu_text_init(kefu_text *t, const kefu_allocator *alloc);
void kefu_text_release(kefu_text *t);

/* Is c a Han ideograph, kana or hangul syllable (one token each)? */
bool kefu_is_cjk(uint32_t c);
/* Traditional -> Simplified fold of one code point (identity if none). */
uint32_t kefu_t2s(uint32_t c);

/*
 * Validates UTF-8 (no overlongs, surrogates or values above U+10FFFF).
 * Returns KEFU_OK or KEFU_E_UTF8 with *bad at the first bad byte.
 */
int kefu_utf8_validate(const char *s, size_t len, size_t *bad);

#endif
