/* fuzz_prefilter.c - the literal prefilter's pattern analysis on arbitrary
 * patterns, and its promise on arbitrary text: input is PATTERN, a NUL
 * byte, TEXT (TEXT = PATTERN when there is no NUL).  When PCRE2 compiles
 * the pattern and a filter is built, PCRE2 run from the filter's first
 * literal (or not at all when there is none) must answer exactly as PCRE2
 * run from the start, and the SIMD and byte-table scans and the one-scan
 * set must agree.  When
 * bit 1 of the input's size is set the pattern is case-less and TEXT is
 * first normalised by the text stage (NFKC, case folded), as the filter's
 * FOLDED option requires. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "kefu.h"
#include "prefilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t plen = nul ? (size_t)(nul - data) : size;
    const char *pat = (const char *)data, *text = pat;
    size_t tlen = nul ? size - plen - 1 : size;
    pcre2_code *code;
    pcre2_match_context *mc;
    pcre2_match_data *md;
    kefu_prefilter *f = NULL;
    kefu_mem mem;
    kefu_text *norm = NULL;
    const int caseless = (size >> 1) & 1;
    PCRE2_SIZE eoff;
    int err, plain, filtered = PCRE2_ERROR_NOMATCH;
    size_t first;
    if (nul)
        text = (const char *)nul + 1;
    if (size > 4096 || kefu_utf8_check(pat, plen, NULL) ||
        kefu_utf8_check(text, tlen, NULL))
        return 0;
    code = pcre2_compile((PCRE2_SPTR)pat, plen,
                         PCRE2_UTF | (size & 1 ? PCRE2_UCP : 0) |
                             (caseless ? PCRE2_CASELESS : 0),
                         &err, &eoff, NULL);
    if (!code)
        return 0;
    kefu_mem_init(&mem, NULL);
    if (kefu_prefilter_build(&f, &mem, pat, plen,
                             caseless ? KEFU_PREFILTER_CASELESS |
                                            KEFU_PREFILTER_FOLDED
                                      : 0) != KEFU_OK)
        abort();
    if (!f) {
        pcre2_code_free(code);
        return 0;
    }
    if (caseless) {
        if (kefu_text_new(&norm, NULL) != KEFU_OK ||
            kefu_text_run(norm, text, tlen) != KEFU_OK) {
            kefu_text_free(norm);
            kefu_prefilter_free(&mem, f);
            pcre2_code_free(code);
            return 0;
        }
        text = kefu_text_normalized(norm, &tlen);
    }
    first = kefu_prefilter_first(f, text, tlen);
    if (first != kefu_prefilter_first_portable(f, text, tlen))
        abort();
    {   /* the one-scan set answers the same, and 0 for a pattern without */
        const kefu_prefilter *two[2] = {NULL, f};
        kefu_prefilter_set *set = NULL;
        size_t at[2];
        if (kefu_prefilter_set_build(&set, &mem, two, 2) != KEFU_OK || !set)
            abort();
        kefu_prefilter_set_scan(set, text, tlen, at);
        if (at[0] != 0 || at[1] != first)
            abort();
        kefu_prefilter_set_free(&mem, set);
    }
    mc = pcre2_match_context_create(NULL);
    md = pcre2_match_data_create(1, NULL);
    if (!mc || !md)
        abort();
    pcre2_set_match_limit(mc, 100000);
    pcre2_set_depth_limit(mc, 1000);
    plain = pcre2_match(code, (PCRE2_SPTR)text, tlen, 0, 0, md, mc);
    if (plain >= 0) {
        PCRE2_SIZE at = pcre2_get_ovector_pointer(md)[0];
        if (first == KEFU_PREFILTER_NONE || first > at)
            abort();   /* a match the filter ruled out */
        filtered = pcre2_match(code, (PCRE2_SPTR)text, tlen, first, 0, md, mc);
        if (filtered < 0 || pcre2_get_ovector_pointer(md)[0] != at)
            abort();
    } else if (plain == PCRE2_ERROR_NOMATCH && first != KEFU_PREFILTER_NONE) {
        filtered = pcre2_match(code, (PCRE2_SPTR)text, tlen, first, 0, md, mc);
        if (filtered >= 0)
            abort();   /* a match that only the moved start found */
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_code_free(code);
    kefu_prefilter_free(&mem, f);
    kefu_text_free(norm);
    return 0;
}
