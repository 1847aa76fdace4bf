/*
 * pattern.h - PCRE2 as kefu's engines use it: compiled with the host's
 * allocator, UTF + UCP, JIT when available, matched with limits so a
 * pattern that would backtrack forever fails cleanly, and compile errors
 * placed at the line and column inside the YAML scalar that holds the
 * pattern.  Needs core and the YAML tree only.
 */
#ifndef KEFU_PATTERN_H
#define KEFU_PATTERN_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core.h"
#include "prefilter.h"
#include "yaml_doc.h"

/* Limits applied to every match (see doc/entities.md). */
#define KEFU_PATTERN_MATCH_LIMIT 200000u
#define KEFU_PATTERN_DEPTH_LIMIT 2000u
#define KEFU_PATTERN_HEAP_LIMIT 8192u /* KiB */

/* A general context allocating through `mem` (the context must not outlive
 * the allocator's user pointer).  NULL when out of memory. */
pcre2_general_context *kefu_pattern_gctx(const kefu_mem *mem);

/*
 * Compiles `src` (UTF-8, NUL-terminated) with PCRE2_UTF | PCRE2_UCP | extra
 * and JIT-compiles it when the platform supports JIT.  On failure returns
 * KEFU_E_PATTERN (or KEFU_E_NOMEM) with PCRE2's message in msg and the
 * offending byte offset in *erroff.
 */
int kefu_pattern_compile(pcre2_code **out, pcre2_general_context *gctx,
                         const char *src, uint32_t extra, size_t *erroff,
                         char *msg, size_t msg_cap);

/*
 * Compiles the pattern held by YAML scalar `n`; an error is reported at the
 * line and column of the offending character inside the scalar when its
 * position in the file can be known, else at the scalar.
 */
int kefu_pattern_compile_node(pcre2_code **out, pcre2_general_context *gctx,
                              kefu_diag *d, const kefu_ydoc *doc,
                              const kefu_ynode *n, uint32_t extra,
                              const char *what);

/* A match context with kefu's limits. NULL when out of memory. */
pcre2_match_context *kefu_pattern_mctx(pcre2_general_context *gctx);

/*
 * One match of `code` in s[0..len) from `start` (text already validated).
 * `pf`, the pattern's literal prefilter or NULL, moves the start to the
 * next place one of its literals occurs, and answers 0 without PCRE2 when
 * there is none.  Returns 1 on a match (ovector in md), 0 when there is
 * none, KEFU_E_LIMIT when a match/depth/heap/JIT stack limit was hit,
 * KEFU_E_NOMEM, or KEFU_E_PATTERN for any other PCRE2 error.
 */
int kefu_pattern_match(const pcre2_code *code, const kefu_prefilter *pf,
                       const char *s, size_t len, size_t start,
                       pcre2_match_data *md, pcre2_match_context *mctx);

/*
 * What every match of a built-in pattern holds, read off the pattern: a
 * digit, a given byte, or one of a few words.  A message with none of
 * them cannot match and is not searched.  All zero: no condition.
 */
typedef struct kefu_pattern_need {
    uint8_t digit;
    char byte;
    kefu_prefilter *words;      /* owned */
} kefu_pattern_need;

/* Whether s[0..len) (normalised text) meets `need`; *digits caches
 * whether it holds an ASCII digit across the built-ins of one message
 * (-1: not looked yet). */
bool kefu_pattern_may_match(const kefu_pattern_need *need, const char *s,
                            size_t len, int *digits);

/*
 * Copies a subject into b followed by KEFU_PATTERN_PAD zero bytes.  PCRE2's
 * JIT reads the subject in wide words and may look past its end; the
 * padding keeps those reads inside initialised memory (valgrind stays
 * quiet, and no read depends on bytes another message left behind).
 */
#define KEFU_PATTERN_PAD 64
int kefu_pattern_subject(const kefu_mem *mem, kefu_buf *b, const char *s,
                         size_t len);

/* Highest capture group count of `code`. */
uint32_t kefu_pattern_groups(const pcre2_code *code);

#endif
