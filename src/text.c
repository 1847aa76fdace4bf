/*
 * text.c - validation, normalisation and tokenisation.
 *
 * Normalisation works one "segment" at a time: a starter code point and the
 * combining marks after it.  Each segment is decomposed (compatibility +
 * case fold), put in canonical order and recomposed, so the result is NFKC
 * case-folded text, and every output code point knows which bytes of the
 * input it came from.  That is what lets later stages report spans in the
 * caller's text.
 *
 * Most text never needs utf8proc: a segment that is one ASCII character,
 * one unified ideograph, one full-width ASCII form or one of a few ranges of
 * punctuation and emoji normalises to a known single code point, so those
 * are mapped directly ("fast path").  Everything
 * else, and any of those followed by a combining mark, goes through the
 * segment code above.  kefu_text.reference sends every segment through it;
 * the text suites check that both ways give identical results.  Nothing is
 * allocated once the buffers have grown to the size of the largest message
 * seen.
 */
#include "text.h"

#include <utf8proc.h>

#include "t2s_index.h"
#include "t2s_table.h"

#define SEG_MAX 64 /* code points of one decomposed segment */

void kefu_text_init(kefu_text *t, const kefu_allocator *alloc)
{
    memset(t, 0, sizeof *t);
    kefu_mem_init(&t->mem, alloc);
    kefu_diag_init(&t->diag, alloc);
    t->max_bytes = 65536;
    t->t2s = 1;
    t->casefold = 1;
}

void kefu_text_release(kefu_text *t)
{
    kefu_buf_release(&t->mem, &t->norm);
    kefu_dealloc(&t->mem, t->cps);
    kefu_dealloc(&t->mem, t->toks);
    t->cps = NULL;
    t->toks = NULL;
    t->ncps = t->cap_cps = t->ntoks = t->cap_toks = 0;
}

KEFU_API int kefu_text_new(kefu_text **out, const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_text *t;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    kefu_mem_init(&mem, alloc);
    t = kefu_alloc(&mem, sizeof *t);
    if (!t)
        return KEFU_E_NOMEM;
    kefu_text_init(t, alloc);
    *out = t;
    return KEFU_OK;
}

KEFU_API void kefu_text_free(kefu_text *t)
{
    kefu_mem mem;
    if (!t)
        return;
    mem = t->mem;
    kefu_text_release(t);
    kefu_dealloc(&mem, t);
}

KEFU_API int kefu_text_bounds(kefu_text_option opt, int64_t *lo, int64_t *hi)
{
    int64_t l, h;
    switch (opt) {
    case KEFU_TEXT_MAX_BYTES: l = 1; h = (int64_t)1 << 30; break;
    case KEFU_TEXT_T2S:
    case KEFU_TEXT_CASEFOLD: l = 0; h = 1; break;
    default: return KEFU_E_ARG;
    }
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
    return KEFU_OK;
}

KEFU_API int kefu_text_set(kefu_text *t, kefu_text_option opt, int64_t value)
{
    int64_t lo, hi;
    if (!t || kefu_text_bounds(opt, &lo, &hi) != KEFU_OK)
        return KEFU_E_ARG;
    if (value < lo || value > hi)
        return kefu_diag_msg(&t->diag, KEFU_E_ARG,
                             "option %d: value %lld outside [%lld, %lld]",
                             (int)opt, (long long)value, (long long)lo,
                             (long long)hi);
    switch (opt) {
    case KEFU_TEXT_MAX_BYTES: t->max_bytes = value; break;
    case KEFU_TEXT_T2S: t->t2s = (int)value; break;
    case KEFU_TEXT_CASEFOLD: t->casefold = (int)value; break;
    }
    return KEFU_OK;
}

KEFU_API int kefu_text_get(const kefu_text *t, kefu_text_option opt,
                           int64_t *value)
{
    if (!t || !value)
        return KEFU_E_ARG;
    switch (opt) {
    case KEFU_TEXT_MAX_BYTES: *value = t->max_bytes; return KEFU_OK;
    case KEFU_TEXT_T2S: *value = t->t2s; return KEFU_OK;
    case KEFU_TEXT_CASEFOLD: *value = t->casefold; return KEFU_OK;
    }
    return KEFU_E_ARG;
}

/* ---- UTF-8 ---- */

int kefu_utf8_validate(const char *str, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            uint64_t w;
            i++;
            while (len - i >= 8) { /* ASCII eight bytes at a time */
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            continue;
        }
        if (c >= 0xE0 && c <= 0xEF && len - i > 2 &&
            (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
            cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) |
                 (s[i + 2] & 0x3Fu);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
                goto fail;
            i += 3;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3; cp = c & 0x07; min = 0x10000;
        } else {
            goto fail;
        }
        if (len - i <= n)
            goto fail;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto fail;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto fail;
        i += n + 1;
    }
    return KEFU_OK;
fail:
    if (bad)
        *bad = i;
    return KEFU_E_UTF8;
}

KEFU_API int kefu_utf8_check(const char *s, size_t len, size_t *bad_offset)
{
    if (!s && len)
        return KEFU_E_ARG;
    return kefu_utf8_validate(s, len, bad_offset);
}

static inline size_t encode(uint32_t c, char *o)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t kefu_utf8_encode(uint32_t c, char *o)
{
    return encode(c, o);
}

/* ---- character classes ---- */

bool kefu_is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x3134F) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0x3040 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF) ||
           c == 0x3007;
}

/* Binary search of entries [lo, hi) of the table. */
static uint32_t t2s_search(uint32_t c, size_t lo, size_t hi)
{
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kefu_t2s_table[mid][0] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < KEFU_ARRAY_LEN(kefu_t2s_table) && kefu_t2s_table[lo][0] == c)
        return kefu_t2s_table[lo][1];
    return c;
}

static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

/* The BMP ideographs, where nearly all Traditional characters are, go
 * through the bit index of t2s_index.h; the rest are searched. */
static inline uint32_t t2s(uint32_t c)
{
    uint32_t off = c - KEFU_T2S_IDX_LO, bit;
    uint64_t w;
    if (c < KEFU_T2S_IDX_LO)
        return t2s_search(c, 0, kefu_t2s_rank[0]);
    if (c >= KEFU_T2S_IDX_HI)
        return t2s_search(c, KEFU_T2S_IDX_ABOVE, KEFU_ARRAY_LEN(kefu_t2s_table));
    w = kefu_t2s_bits[off >> 6];
    bit = off & 63;
    if (!((w >> bit) & 1))
        return c;
    return kefu_t2s_table[kefu_t2s_rank[off >> 6] +
                          popcount64(w & ((UINT64_C(1) << bit) - 1))][1];
}

uint32_t kefu_t2s(uint32_t c)
{
    return t2s(c);
}

static bool is_emoji(uint32_t c)
{
    return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) ||
           (c >= 0x2B00 && c <= 0x2BFF) || (c >= 0x2300 && c <= 0x23FF) ||
           c == 0x3030 || c == 0x303D || c == 0x3297 || c == 0x3299;
}

static inline bool is_space_category(uint32_t c)
{
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
        return true;
    default:
        return false;
    }
}

static inline bool is_ascii_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c < 0x20 || c == 0x7F;
}

/* The reference: ASCII controls and space, and Unicode's space separators,
 * line and paragraph separators and controls. */
static bool is_space_ref(uint32_t c)
{
    return c < 0x80 ? is_ascii_space(c) : is_space_category(c);
}

/* The same set; none of it lies above U+3000 (ideographic space). */
static inline bool is_space(uint32_t c)
{
    if (c < 0x80)
        return is_ascii_space(c);
    return c <= 0x3000 && is_space_category(c);
}

enum cls { C_SPACE, C_LETTER, C_MARK, C_DIGIT, C_CJK, C_EMOJI, C_PUNCT,
           C_SYMBOL };

/* The reference classifier, as it always was. */
static enum cls classify_ref(uint32_t c)
{
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
            return C_LETTER;
        if (c >= '0' && c <= '9')
            return C_DIGIT;
        if (is_ascii_space(c))
            return C_SPACE;
        if (c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
            c == '^' || c == '`' || c == '|' || c == '~')
            return C_SYMBOL;
        return C_PUNCT;
    }
    if (kefu_is_cjk(c))
        return C_CJK;
    if (is_emoji(c))
        return C_EMOJI;
    if (is_space_ref(c))
        return C_SPACE;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return C_LETTER;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return C_MARK;
    case UTF8PROC_CATEGORY_ND:
        return C_DIGIT;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return C_PUNCT;
    default:
        return C_SYMBOL;
    }
}

#define S_ C_SPACE
#define L_ C_LETTER
#define D_ C_DIGIT
#define P_ C_PUNCT
#define Y_ C_SYMBOL
static const unsigned char ascii_cls[128] = {
    S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_,
    S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_, S_,
    S_, P_, P_, P_, Y_, P_, P_, P_, P_, P_, P_, Y_, P_, P_, P_, P_, /*  !"#$%&'()*+,-./ */
    D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, P_, P_, Y_, Y_, Y_, P_, /* 0-9 :;<=>? */
    P_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, /* @A-O */
    L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, P_, P_, P_, Y_, P_, /* P-Z [\]^_ */
    Y_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, /* `a-o */
    L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, P_, Y_, P_, Y_, S_, /* p-z {|}~ DEL */
};
#undef S_
#undef L_
#undef D_
#undef P_
#undef Y_

/* Not ASCII and not a unified ideograph: one category look-up. */
static enum cls classify_rest(uint32_t c)
{
    if (kefu_is_cjk(c))
        return C_CJK;
    if (is_emoji(c))
        return C_EMOJI;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_CC:
        return C_SPACE;
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return C_LETTER;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return C_MARK;
    case UTF8PROC_CATEGORY_ND:
        return C_DIGIT;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return C_PUNCT;
    default:
        return C_SYMBOL;
    }
}

/* The same classes as classify_ref(), the common cases first. */
static inline enum cls classify(uint32_t c)
{
    if (c < 0x80)
        return (enum cls)ascii_cls[c];
    if (c - 0x4E00u < 0xA000u - 0x4E00u)
        return C_CJK;
    return classify_rest(c);
}

/* ---- normalisation ---- */

/* Grows the code point array and the text buffer for `more` code points
 * (the slow path of emit_cp; most messages never take it twice). */
static int emit_room(kefu_text *t, size_t more)
{
    if (kefu_grow(&t->mem, (void **)&t->cps, &t->cap_cps, t->ncps + more,
                  sizeof *t->cps))
        return KEFU_E_NOMEM;
    return kefu_buf_reserve(&t->mem, &t->norm, more * 4);
}

/* Appends one code point; the text is NUL-terminated once, at the end. */
static inline int emit_cp(kefu_text *t, uint32_t cp, uint32_t b0, uint32_t b1,
                          uint32_t c0, uint32_t c1)
{
    kefu_ncp *e;
    if ((t->ncps >= t->cap_cps || t->norm.len + 5 > t->norm.cap) &&
        emit_room(t, 64))
        return KEFU_E_NOMEM;
    e = &t->cps[t->ncps++];
    e->cp = cp;
    e->norm_off = (uint32_t)t->norm.len;
    e->byte_start = b0;
    e->byte_end = b1;
    e->char_start = c0;
    e->char_end = c1;
    t->norm.len += encode(cp, t->norm.data + t->norm.len);
    return KEFU_OK;
}

/* Emits a code point that is not a space, after the one space that stands
 * for the spaces before it (a space is written only between non-spaces). */
static inline int emit_word(kefu_text *t, uint32_t cp, int *pending_space,
                            uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1)
{
    if (*pending_space) {
        const kefu_ncp *prev = &t->cps[t->ncps - 1];
        int rc;
        *pending_space = 0;
        if (prev->byte_start == b0)
            /* a space inside what one original character normalises to
             * (U+FDFA becomes four words): it takes the character's span,
             * so the token that holds the character holds all of it */
            rc = emit_cp(t, ' ', b0, b1, c0, c1);
        else
            rc = emit_cp(t, ' ', prev->byte_end, b0, prev->char_end, c0);
        if (rc)
            return rc;
    }
    return emit_cp(t, cp, b0, b1, c0, c1);
}

/* Emits one normalised code point: Traditional->Simplified, then spaces
 * folded.  `ref` uses the plain table search and space test. */
static inline int emit_folded(kefu_text *t, uint32_t cp, int *pending_space,
                              uint32_t b0, uint32_t b1, uint32_t c0,
                              uint32_t c1, bool ref)
{
    if (t->t2s && cp >= 0x3400) /* no Traditional character below CJK Ext. A */
        cp = ref ? t2s_search(cp, 0, KEFU_ARRAY_LEN(kefu_t2s_table))
                 : t2s(cp);
    if (ref ? is_space_ref(cp) : is_space(cp)) {
        *pending_space = t->ncps > 0;
        return KEFU_OK;
    }
    return emit_word(t, cp, pending_space, b0, b1, c0, c1);
}

/* Canonical ordering of a decomposed segment (insertion sort, stable). */
static void canonical_order(utf8proc_int32_t *buf, utf8proc_ssize_t n)
{
    for (utf8proc_ssize_t i = 1; i < n; i++) {
        utf8proc_int32_t c = buf[i];
        int cc = utf8proc_get_property(c)->combining_class;
        utf8proc_ssize_t j = i;
        if (cc == 0)
            continue;
        while (j > 0 && utf8proc_get_property(buf[j - 1])->combining_class > cc) {
            buf[j] = buf[j - 1];
            j--;
        }
        buf[j] = c;
    }
}

/*
 * Normalises the segment at s[*i] with utf8proc: a starter and the
 * non-starters that follow it.  Advances *i and the character count.
 */
static int segment(kefu_text *t, const unsigned char *s, size_t len,
                   size_t *pi, uint32_t *chars, int *pending_space, bool ref)
{
    utf8proc_int32_t seg[SEG_MAX + 32];
    utf8proc_option_t opts = UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
                             UTF8PROC_IGNORE |
                             (t->casefold ? UTF8PROC_CASEFOLD : 0);
    size_t i = *pi, seg_start = i;
    uint32_t char_start = *chars;
    utf8proc_ssize_t n = 0;

    do {
        utf8proc_int32_t last = 0;
        utf8proc_ssize_t m;
        size_t k = i;
        uint32_t c = kefu_utf8_next(s, len, &k);
        if (n > 0 &&
            utf8proc_get_property((utf8proc_int32_t)c)->combining_class == 0)
            break;
        m = utf8proc_decompose_char((utf8proc_int32_t)c, seg + n,
                                    (utf8proc_ssize_t)KEFU_ARRAY_LEN(seg) - n,
                                    opts, &last);
        if (m < 0 || n + m > SEG_MAX) {
            if (n > 0)
                break; /* flush what we have, start a new segment */
            m = 1;     /* undecomposable oddity: keep it as it is */
            seg[0] = (utf8proc_int32_t)c;
        }
        n += m;
        i = k;
        (*chars)++;
    } while (i < len);
    *pi = i;
    canonical_order(seg, n);
    if (n > 1) {
        utf8proc_ssize_t r = utf8proc_normalize_utf32(seg, n, UTF8PROC_COMPOSE);
        if (r >= 0)
            n = r;
    }
    for (utf8proc_ssize_t k = 0; k < n; k++) {
        int rc = emit_folded(t, (uint32_t)seg[k], pending_space,
                             (uint32_t)seg_start, (uint32_t)i, char_start,
                             *chars, ref);
        if (rc)
            return rc;
    }
    return KEFU_OK;
}

/* Every segment through utf8proc: what the fast path must reproduce. */
static int normalise_ref(kefu_text *t, const unsigned char *s, size_t len)
{
    int pending_space = 0;
    size_t i = 0;
    uint32_t chars = 0;
    while (i < len) {
        int rc = segment(t, s, len, &i, &chars, &pending_space, true);
        if (rc)
            return rc;
    }
    return KEFU_OK;
}

/* Is the code point at s[j] (or the end of the text) the start of a new
 * segment?  Nothing below U+0300 (lead bytes below 0xCC), nothing in
 * U+4000..U+9FFF (lead bytes 0xE4..0xE9), no CJK punctuation before U+302A,
 * no full-width form and no emoji has a combining class. */
static inline bool starts_segment(const unsigned char *s, size_t len, size_t j)
{
    uint32_t c;
    if (j >= len || s[j] < 0xCC || s[j] - 0xE4u < 6u)
        return true;
    c = kefu_utf8_next(s, len, &j);
    if (c - 0x3000u < 0x302Au - 0x3000u || c - 0x3400u < 0x4000u - 0x3400u ||
        c - 0xFF00u < 0xFFF0u - 0xFF00u || c - 0x1F300u < 0x1FB00u - 0x1F300u)
        return true;
    return utf8proc_get_property((utf8proc_int32_t)c)->combining_class == 0;
}

/* Appends a code point on the fast path, after the space that stands for
 * the spaces before it if there were any (room checked by the caller). */
static inline void put_cp(kefu_ncp *cps, size_t *n, char *out, size_t *olen,
                          int *pend, uint32_t c, uint32_t b0, uint32_t b1,
                          uint32_t c0)
{
    kefu_ncp *e;
    if (*pend) {
        e = &cps[(*n)++];
        *e = (kefu_ncp){' ', (uint32_t)*olen, e[-1].byte_end, b0,
                        e[-1].char_end, c0};
        out[(*olen)++] = ' ';
        *pend = 0;
    }
    e = &cps[(*n)++];
    *e = (kefu_ncp){c, (uint32_t)*olen, b0, b1, c0, c0 + 1};
    *olen += encode(c, out + *olen);
}

/*
 * Segments of a single code point whose normal form is known take the fast
 * path: ASCII (case fold only), CJK Unified Ideographs and Extension A (NFKC
 * and case folding leave them alone; only T2S applies), the full-width
 * ASCII forms U+FF01..U+FF5E (NFKC gives the ASCII character), and CJK
 * punctuation U+3001..U+3035, quotes and bullets U+2018..U+2023 and the
 * emoji blocks U+1F300..U+1FAFF (all left alone).  A combining
 * mark after one of them makes a longer segment, which goes to segment().
 * The output state lives in locals here (a store through the char buffer
 * would otherwise make the compiler reload it for every code point) and is
 * written back around segment() and emit_room().
 */
static int normalise(kefu_text *t, const unsigned char *s, size_t len)
{
    int pending_space = 0, rc;
    size_t i = 0;
    uint32_t chars = 0;

    while (i < len) {
        kefu_ncp *cps = t->cps;
        char *out = t->norm.data;
        size_t n = t->ncps, cap = t->cap_cps, olen = t->norm.len;
        size_t ocap = t->norm.cap;
        int pend = pending_space;
        while (i < len) {
            uint32_t c = s[i];
            size_t j = i + 1;
            if (n + 2 > cap || olen + 10 > ocap)
                break; /* room for a space, a code point and the NUL */
            if (c < 0x80) {
                if (j < len && s[j] < 0x80) {
                    /* ASCII before ASCII, the bulk of English text: each
                     * character is its own segment */
                    size_t stop = len - 1, room = (cap - n) / 2;
                    const uint32_t fold = t->casefold ? 32 : 0;
                    if ((ocap - olen - 1) / 2 < room)
                        room = (ocap - olen - 1) / 2;
                    if (stop - i > room)
                        stop = i + room;
                    for (; i < stop && (c = s[i]) < 0x80 && s[i + 1] < 0x80;
                         i++) {
                        if (c <= 0x20 || c == 0x7F) { /* is_ascii_space() */
                            pend = n > 0;
                            chars++;
                            continue;
                        }
                        if (c - 'A' < 26u)
                            c += fold;
                        put_cp(cps, &n, out, &olen, &pend, c, (uint32_t)i,
                               (uint32_t)i + 1, chars);
                        chars++;
                    }
                    continue;
                }
                if (!starts_segment(s, len, j))
                    break;
                if (is_ascii_space(c)) {
                    pend = n > 0;
                    i = j;
                    chars++;
                    continue;
                }
                if (t->casefold && c - 'A' < 26u)
                    c += 32;
            } else {
                j = i;
                c = kefu_utf8_next(s, len, &j);
                if (c - 0x4E00u < 0xA000u - 0x4E00u ||
                    c - 0x3400u < 0x4DC0u - 0x3400u) {
                    if (!starts_segment(s, len, j))
                        break;
                    if (t->t2s)
                        c = t2s(c);
                } else if (c - 0xFF01u < 0xFF5Fu - 0xFF01u) {
                    if (!starts_segment(s, len, j))
                        break;
                    c -= 0xFF01u - 0x21u;
                    if (t->casefold && c - 'A' < 26u)
                        c += 32;
                } else if (c - 0x3001u < 0x3036u - 0x3001u ||
                           c - 0x2018u < 0x2024u - 0x2018u ||
                           c - 0x1F300u < 0x1FB00u - 0x1F300u) {
                    /* CJK punctuation, quotes and bullets, emoji: kept as
                     * they are (none is a space or has a T2S entry) */
                    if (!starts_segment(s, len, j))
                        break;
                } else {
                    break;
                }
            }
            put_cp(cps, &n, out, &olen, &pend, c, (uint32_t)i, (uint32_t)j,
                   chars);
            i = j;
            chars++;
        }
        t->ncps = n;
        t->norm.len = olen;
        pending_space = pend;
        if (i >= len)
            break;
        if (n + 2 > cap || olen + 10 > ocap)
            rc = emit_room(t, 64);
        else
            rc = segment(t, s, len, &i, &chars, &pending_space, false);
        if (rc)
            return rc;
    }
    return KEFU_OK;
}

/* ---- tokenisation ---- */

static inline enum cls cls_of(uint32_t c, bool ref)
{
    return ref ? classify_ref(c) : classify(c);
}

/* Inlined into its two callers so that each has its classifier fixed
 * (about 5% of the text stage when the test of `ref` stays in the loop). */
static inline __attribute__((always_inline)) int tokenise(kefu_text *t,
                                                          bool ref)
{
    const kefu_ncp *cps = t->cps;
    kefu_tok *toks = t->toks;
    size_t i = 0, n = t->ncps, nt = 0, cap = t->cap_toks;
    while (i < n) {
        uint32_t c = cps[i].cp;
        enum cls k = cls_of(c, ref);
        size_t j = i + 1;
        uint32_t kind;
        switch (k) {
        case C_SPACE:
            i++;
            continue;
        case C_LETTER:
        case C_MARK:
            /* letters, marks, digits after a letter, inner apostrophes;
             * lower-case ASCII letters, most of a word, skipped first */
            while (j < n && cps[j].cp - 'a' < 26u)
                j++;
            while (j < n) {
                enum cls kj = cls_of(cps[j].cp, ref);
                if (kj == C_LETTER || kj == C_MARK || kj == C_DIGIT) {
                    j++;
                } else if ((cps[j].cp == '\'' || cps[j].cp == 0x2019) &&
                           j + 1 < n && cls_of(cps[j + 1].cp, ref) == C_LETTER) {
                    j += 2;
                } else {
                    break;
                }
            }
            kind = KEFU_TOKEN_WORD;
            break;
        case C_DIGIT:
            /* digits with single . or , between digits */
            while (j < n) {
                uint32_t cj = cps[j].cp;
                if (cls_of(cj, ref) == C_DIGIT)
                    j++;
                else if ((cj == '.' || cj == ',') && j + 1 < n &&
                         cls_of(cps[j + 1].cp, ref) == C_DIGIT)
                    j += 2;
                else
                    break;
            }
            kind = KEFU_TOKEN_NUMBER;
            break;
        case C_CJK:
            kind = KEFU_TOKEN_CJK;
            break;
        case C_EMOJI:
            /* skin-tone modifiers belong to the emoji before them */
            while (j < n && cps[j].cp >= 0x1F3FB && cps[j].cp <= 0x1F3FF)
                j++;
            kind = KEFU_TOKEN_EMOJI;
            break;
        case C_PUNCT:
            while (j < n && cps[j].cp == c)
                j++;
            kind = KEFU_TOKEN_PUNCT;
            break;
        default:
            kind = KEFU_TOKEN_SYMBOL;
            break;
        }
        /* a token does not end inside an original character: the code
         * points one character normalises to (a base and its combining
         * marks, U+3200 -> "(ᄀ)", U+0345 -> iota) share its span, so they
         * stay together and token spans never overlap */
        while (j < n && cps[j].byte_start == cps[j - 1].byte_start)
            j++;
        if (nt == cap) {
            if (kefu_grow(&t->mem, (void **)&t->toks, &t->cap_toks, nt + 1,
                          sizeof *t->toks))
                return KEFU_E_NOMEM;
            toks = t->toks;
            cap = t->cap_toks;
        }
        toks[nt++] = (kefu_tok){
            kind, cps[i].norm_off,
            (j < n ? cps[j].norm_off : (uint32_t)t->norm.len) - cps[i].norm_off,
            (uint32_t)(j - i), cps[i].byte_start, cps[j - 1].byte_end,
            cps[i].char_start, cps[j - 1].char_end};
        i = j;
    }
    t->ntoks = nt;
    return KEFU_OK;
}

static void text_reset(kefu_text *t)
{
    t->norm.len = 0;
    if (t->norm.data)
        t->norm.data[0] = '\0';
    t->ncps = 0;
    t->ntoks = 0;
}

KEFU_API int kefu_text_run(kefu_text *t, const char *s, size_t len)
{
    size_t bad = 0;
    int rc;
    if (!t)
        return KEFU_E_ARG;
    text_reset(t);
    kefu_diag_clear(&t->diag);
    if (!s && len)
        return kefu_diag_msg(&t->diag, KEFU_E_ARG, "text is NULL");
    if ((uint64_t)len > (uint64_t)t->max_bytes)
        return kefu_diag_msg(&t->diag, KEFU_E_TOO_LONG,
                             "text of %zu bytes exceeds the maximum of %lld",
                             len, (long long)t->max_bytes);
    if (kefu_utf8_validate(s, len, &bad) != KEFU_OK)
        return kefu_diag_setf(&t->diag, KEFU_E_UTF8, NULL, 0, 0, bad,
                              "invalid UTF-8 at byte %zu", bad);
    if (kefu_buf_reserve(&t->mem, &t->norm, len + 8) != KEFU_OK ||
        kefu_grow(&t->mem, (void **)&t->cps, &t->cap_cps, len + 8,
                  sizeof *t->cps) != KEFU_OK)
        return kefu_diag_msg(&t->diag, KEFU_E_NOMEM, "out of memory");
    rc = t->reference ? normalise_ref(t, (const unsigned char *)s, len)
                      : normalise(t, (const unsigned char *)s, len);
    t->norm.data[t->norm.len] = '\0';
    if (rc == KEFU_OK)
        rc = t->reference ? tokenise(t, true) : tokenise(t, false);
    if (rc) {
        text_reset(t);
        return kefu_diag_msg(&t->diag, rc, "%s", kefu_strerror(rc));
    }
    return KEFU_OK;
}

KEFU_API const char *kefu_text_normalized(const kefu_text *t, size_t *len)
{
    if (!t) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = t->norm.len;
    return t->norm.data ? t->norm.data : "";
}

KEFU_API size_t kefu_text_token_count(const kefu_text *t)
{
    return t ? t->ntoks : 0;
}

KEFU_API int kefu_text_token(const kefu_text *t, size_t i, kefu_token *out)
{
    const kefu_tok *k;
    if (!t || !out || out->size < sizeof(kefu_token) || i >= t->ntoks)
        return KEFU_E_ARG;
    k = &t->toks[i];
    out->kind = k->kind;
    out->text = t->norm.data + k->norm_off;
    out->text_len = k->norm_len;
    out->byte_start = k->byte_start;
    out->byte_end = k->byte_end;
    out->char_start = k->char_start;
    out->char_end = k->char_end;
    return KEFU_OK;
}

KEFU_API const kefu_diag *kefu_text_diag(const kefu_text *t)
{
    return t ? &t->diag : NULL;
}
