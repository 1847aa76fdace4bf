/*
 * prefilter.h - a literal prefilter for regular expressions.
 *
 * Many patterns that rules and models use are word lists: "投诉|赔偿|
 * 举报|\b(complain(t|ts)?|lawyer)\b".  Every match of such a pattern
 * starts with one of a few literals ("投诉", "赔偿", "举报", "complain",
 * "lawyer"), so a message that contains none of them cannot match and
 * PCRE2 need not run; when one does occur, no match can start before it
 * and PCRE2 starts there.  This is the literal-prefix prefilter of RE2,
 * Rust's regex and Hyperscan, kept deliberately small:
 *
 *  - the analysis reads the pattern source and gives up (no filter, the
 *    caller runs PCRE2 as before) on anything it does not understand
 *    fully: lookaround, back-references, inline options, case-less or
 *    extended mode, \Q..\E, hex escapes, verbs, recursion.  It only has to
 *    be right when it answers; never answering is always right;
 *  - the scan is Teddy (Hyperscan's SIMD literal matcher: a fingerprint of
 *    the first two or three bytes of each literal, eight buckets, looked up
 *    16 text bytes at a time with byte shuffles) where the CPU has SSSE3,
 *    and byte tables elsewhere; candidates are confirmed with memcmp.
 *
 * The filter is immutable after kefu_prefilter_build and may be shared by
 * threads.  Needs core only.
 */
#ifndef KEFU_PREFILTER_H
#define KEFU_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

#define KEFU_PREFILTER_MAX_LITS 64 /* literals in one filter, at most */
#define KEFU_PREFILTER_LIT_MAX 8   /* bytes of a literal kept (a prefix) */
#define KEFU_PREFILTER_NONE ((size_t)-1)

typedef struct kefu_prefilter kefu_prefilter;

/* Pattern options the analysis must know of (the PCRE2 compile options
 * that change what a literal matches). */
#define KEFU_PREFILTER_CASELESS 1u
#define KEFU_PREFILTER_EXTENDED 2u
/* The subjects are NFKC case-folded (kefu's normalised text): then a
 * case-less pattern (this option, or "(?i)" at its very start) is
 * filtered too, its ASCII letters taken in lower case.  Without it a
 * case-less pattern gets no filter. */
#define KEFU_PREFILTER_FOLDED 4u

/*
 * Builds the filter of pattern `pat` (len bytes, UTF-8, a pattern that
 * PCRE2 compiled).  *out is NULL when the pattern has no usable literal
 * set (a literal shorter than two bytes, more than
 * KEFU_PREFILTER_MAX_LITS literals, or a construct the analysis does not
 * take): the caller then matches without a filter.  KEFU_OK or
 * KEFU_E_NOMEM.
 */
int kefu_prefilter_build(kefu_prefilter **out, const kefu_mem *mem,
                         const char *pat, size_t len, uint32_t opts);

void kefu_prefilter_free(const kefu_mem *mem, kefu_prefilter *f);

/* Byte offset of the first literal of f in s[0..len), or
 * KEFU_PREFILTER_NONE when there is none: then the pattern cannot match s
 * anywhere, and otherwise no match starts before the offset. */
size_t kefu_prefilter_first(const kefu_prefilter *f, const char *s,
                            size_t len);

/* Where a search for f's pattern in s[0..len) from `start` may begin: the
 * first place at or after start where one of its literals occurs, start
 * itself when f is NULL (no filter), or KEFU_PREFILTER_NONE when the
 * pattern cannot match there. */
static inline size_t kefu_prefilter_start(const kefu_prefilter *f,
                                          const char *s, size_t len,
                                          size_t start)
{
    size_t at;
    if (!f)
        return start;
    at = kefu_prefilter_first(f, s + start, len - start);
    return at == KEFU_PREFILTER_NONE ? at : start + at;
}

/* The same answer from the byte-table scan that serves where there is no
 * SSSE3: the reference the SIMD scan is tested against. */
size_t kefu_prefilter_first_portable(const kefu_prefilter *f, const char *s,
                                     size_t len);

/*
 * Many patterns matched against the same text (an intent model's
 * patterns): one scan finds, for each, where its first literal is.  The
 * filters stay owned by the caller and must outlive the set.
 */
typedef struct kefu_prefilter_set kefu_prefilter_set;

/* A set over filters[0..n) (NULL entries: patterns without a filter).
 * *out is NULL when no entry has a filter.  KEFU_OK or KEFU_E_NOMEM. */
int kefu_prefilter_set_build(kefu_prefilter_set **out, const kefu_mem *mem,
                             const kefu_prefilter *const *filters, uint32_t n);

void kefu_prefilter_set_free(const kefu_mem *mem, kefu_prefilter_set *set);

/* first[i] = kefu_prefilter_first(filters[i], s, len) for every filtered
 * entry, and 0 for the others (their matches may start anywhere). */
void kefu_prefilter_set_scan(const kefu_prefilter_set *set, const char *s,
                             size_t len, size_t *first);

/* The literals found by the analysis, for tests and explain output:
 * number of literals, and literal i's bytes and length. */
uint32_t kefu_prefilter_count(const kefu_prefilter *f);
const char *kefu_prefilter_literal(const kefu_prefilter *f, uint32_t i,
                                   size_t *len);

#endif
