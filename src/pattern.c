/*
 * pattern.c - PCRE2 with the host's allocator, JIT, match limits and YAML
 * positions for compile errors.
 */
#include "pattern.h"

#include <stdio.h>
#include <string.h>

pcre2_general_context *kefu_pattern_gctx(const kefu_mem *mem)
{
    /* kefu_allocator's malloc/free have PCRE2's signatures exactly. */
    return pcre2_general_context_create(mem->a.malloc_fn, mem->a.free_fn,
                                        mem->a.user);
}

int kefu_pattern_compile(pcre2_code **out, pcre2_general_context *gctx,
                         const char *src, uint32_t extra, size_t *erroff,
                         char *msg, size_t msg_cap)
{
    pcre2_compile_context *cc = pcre2_compile_context_create(gctx);
    int err = 0;
    PCRE2_SIZE off = 0;
    uint32_t jit = 0;
    pcre2_code *code;
    *out = NULL;
    *erroff = 0;
    if (!cc) {
        snprintf(msg, msg_cap, "out of memory");
        return KEFU_E_NOMEM;
    }
    code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_UCP | extra, &err, &off, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR buf[256];
        if (pcre2_get_error_message(err, buf, sizeof buf) < 0)
            snprintf((char *)buf, sizeof buf, "error %d", err);
        snprintf(msg, msg_cap, "%s", (const char *)buf);
        *erroff = off;
        return err == PCRE2_ERROR_HEAP_FAILED || err == PCRE2_ERROR_NOMEMORY
                   ? KEFU_E_NOMEM
                   : KEFU_E_PATTERN;
    }
    pcre2_config(PCRE2_CONFIG_JIT, &jit);
    /* A JIT failure is not an error: the interpreter honours the same
     * limits, only slower. */
    if (jit)
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    *out = code;
    return KEFU_OK;
}

/*
 * Position in the file of byte `off` of a scalar's value.  Plain scalars
 * are copied verbatim; quoted ones are walked through their escapes ('' in
 * single quotes, backslash escapes in double quotes).  Returns false when
 * the value does not sit on one line of the source.
 */
static bool value_position(const kefu_ydoc *doc, const kefu_ynode *n,
                           size_t off, uint32_t *line, uint32_t *col)
{
    const char *src = doc->src;
    size_t p, v = 0;
    uint32_t chars = 0;
    char quote = 0;
    if (!n->value_line || !src || n->offset >= doc->src_len)
        return false;
    p = (size_t)n->offset;
    if (src[p] == '\'' || src[p] == '"')
        quote = src[p++];
    while (v < off && p < doc->src_len && src[p] != '\n') {
        size_t step = 1;
        if (quote == '\'' && src[p] == '\'' && p + 1 < doc->src_len &&
            src[p + 1] == '\'')
            step = 2;
        else if (quote == '"' && src[p] == '\\' && p + 1 < doc->src_len) {
            char e = src[p + 1];
            step = e == 'x' ? 4 : e == 'u' ? 6 : e == 'U' ? 10 : 2;
        }
        /* an escape is several source columns for one value byte; a
         * multi-byte UTF-8 character is copied byte for byte */
        if (step > 1)
            chars += (uint32_t)step;
        else if (((unsigned char)src[p] & 0xC0) != 0x80)
            chars++;
        p += step;
        v++;
    }
    if (v < off)
        return false;
    *line = n->value_line;
    *col = n->value_column + chars;
    return true;
}

int kefu_pattern_compile_node(pcre2_code **out, pcre2_general_context *gctx,
                              kefu_diag *d, const kefu_ydoc *doc,
                              const kefu_ynode *n, uint32_t extra,
                              const char *what)
{
    char msg[300];
    size_t off = 0;
    uint32_t line, col;
    const char *s;
    int rc = kefu_y_string(d, doc, n, &s, NULL);
    if (rc)
        return rc;
    rc = kefu_pattern_compile(out, gctx, s, extra, &off, msg, sizeof msg);
    if (rc == KEFU_OK)
        return rc;
    if (rc == KEFU_E_NOMEM)
        return kefu_diag_msg(d, rc, "out of memory");
    if (value_position(doc, n, off, &line, &col))
        return kefu_diag_setf(d, rc, doc->file, line, col,
                              n->offset + (n->quoted ? 1 : 0) + off,
                              "%s does not compile at offset %zu: %s", what,
                              off, msg);
    return kefu_yerr(d, doc, n, rc, "%s does not compile at offset %zu: %s",
                     what, off, msg);
}

pcre2_match_context *kefu_pattern_mctx(pcre2_general_context *gctx)
{
    pcre2_match_context *mc = pcre2_match_context_create(gctx);
    if (!mc)
        return NULL;
    pcre2_set_match_limit(mc, KEFU_PATTERN_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, KEFU_PATTERN_DEPTH_LIMIT);
    pcre2_set_heap_limit(mc, KEFU_PATTERN_HEAP_LIMIT);
    return mc;
}

int kefu_pattern_match(const pcre2_code *code, const kefu_prefilter *pf,
                       const char *s, size_t len, size_t start,
                       pcre2_match_data *md, pcre2_match_context *mctx)
{
    int rc;
    /* a word list: no match before its next literal */
    if ((start = kefu_prefilter_start(pf, s, len, start)) == KEFU_PREFILTER_NONE)
        return 0;
    rc = pcre2_match(code, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, md,
                     mctx);
    if (rc >= 0)
        return 1;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return 0;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return KEFU_E_LIMIT;
    case PCRE2_ERROR_NOMEMORY:
        return KEFU_E_NOMEM;
    default:
        return KEFU_E_PATTERN;
    }
}

bool kefu_pattern_may_match(const kefu_pattern_need *need, const char *s,
                            size_t len, int *digits)
{
    if (!need->digit && !need->byte && !need->words)
        return true;
    if (need->digit) {
        if (*digits < 0) {
            /* in normalised text full-width digits are ASCII */
            size_t i = 0;
            while (i < len && (unsigned)(s[i] - '0') > 9u)
                i++;
            *digits = i < len;
        }
        if (*digits)
            return true;
    }
    if (need->byte && memchr(s, need->byte, len))
        return true;
    return need->words &&
           kefu_prefilter_first(need->words, s, len) != KEFU_PREFILTER_NONE;
}

uint32_t kefu_pattern_groups(const pcre2_code *code)
{
    uint32_t n = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &n);
    return n;
}

int kefu_pattern_subject(const kefu_mem *mem, kefu_buf *b, const char *s,
                         size_t len)
{
    b->len = 0;
    if (kefu_buf_reserve(mem, b, len + KEFU_PATTERN_PAD))
        return KEFU_E_NOMEM;
    if (len)
        memcpy(b->data, s, len);
    memset(b->data + len, 0, KEFU_PATTERN_PAD);
    b->len = len;
    return KEFU_OK;
}
