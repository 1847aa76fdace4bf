/*
 * prefilter.c - literal prefilter for regular expressions: the analysis
 * that finds the literals every match starts with, and the scan that
 * looks for them (prefilter.h).
 */
#include "prefilter.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define KEFU_TEDDY 1
#include <tmmintrin.h>
#else
#define KEFU_TEDDY 0
#endif

#define MAXL KEFU_PREFILTER_MAX_LITS
#define LMAX KEFU_PREFILTER_LIT_MAX
#define MAX_DEPTH 8  /* nested groups the analysis follows */
#define MAX_CLASS 8  /* members of a character class taken as literals */

struct kefu_prefilter {
    /* Teddy tables (read with unaligned loads): bucket bits of the low
     * and high nibble of fingerprint byte j */
    uint8_t lo[3][16], hi[3][16];
    uint8_t tab[3][256];           /* bucket bits of fingerprint byte j */
    uint8_t lit[MAXL][LMAX];
    uint8_t len[MAXL];
    uint8_t bstart[9];             /* bucket b: literals [bstart[b], bstart[b+1]) */
    uint32_t n;                    /* literals */
    uint32_t m;                    /* fingerprint bytes, 2 or 3 */
    int simd;
};

/* ---- analysis ---------------------------------------------------------- */

/* A literal prefix; `exact` while it is everything its branch matched so
 * far, so that what follows may be appended. */
typedef struct lit {
    uint8_t b[LMAX];
    uint8_t len, exact;
} lit;

typedef struct lset {
    lit v[MAXL];
    uint32_t n;
} lset;

typedef struct an {
    const uint8_t *p, *end;
    int fail;
    int depth;
    int caseless;   /* matched case-less against case-folded subjects */
} an;

enum { IT_SET, IT_ZERO, IT_STOP };

static int at_end(const an *a)
{
    return a->p >= a->end;
}

static void fail(an *a)
{
    a->fail = 1;
    a->p = a->end;
}

static int is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

/* Bytes of the UTF-8 character that starts with c (the pattern compiled,
 * so it is valid). */
static size_t utf8_len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static void set_one(lset *s, const uint8_t *b, size_t n)
{
    s->n = 1;
    memcpy(s->v[0].b, b, n);
    s->v[0].len = (uint8_t)n;
    s->v[0].exact = 1;
}

/*
 * A literal character of a case-less pattern as it stands in a case-folded
 * subject: ASCII letters in lower case; characters without case (ASCII
 * other than letters, CJK symbols, kana and ideographs, U+3000..U+9FFF)
 * as they are.  0 for any other character: its case-less matches in
 * folded text are not worked out here.  (In folded text the case-less
 * partners of 'k' and 's', KELVIN SIGN and LONG S, do not occur: NFKC
 * maps them to K and s.)
 */
static int fold_lit(lit *l)
{
    uint8_t c = l->b[0];
    if (c < 0x80) {
        if (c >= 'A' && c <= 'Z')
            l->b[0] = (uint8_t)(c + 32);
        return 1;
    }
    return c >= 0xE3 && c <= 0xE9;
}

static void set_stop(lset *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        s->v[i].exact = 0;
}

/* cur = cur x t: exact prefixes grow by every member of t; the others
 * stay as they are.  Fails past MAXL members. */
static void cross(an *a, lset *cur, const lset *t)
{
    static const lset empty;
    lset out = empty;
    for (uint32_t i = 0; i < cur->n; i++) {
        const lit *c = &cur->v[i];
        if (!c->exact) {
            if (out.n == MAXL)
                return fail(a);
            out.v[out.n++] = *c;
            continue;
        }
        for (uint32_t j = 0; j < t->n; j++) {
            const lit *x = &t->v[j];
            lit *o;
            size_t take = x->len;
            if (out.n == MAXL)
                return fail(a);
            o = &out.v[out.n++];
            *o = *c;
            if (c->len + take > LMAX)
                take = LMAX - c->len;
            memcpy(o->b + c->len, x->b, take);
            o->len = (uint8_t)(c->len + take);
            o->exact = x->exact && take == x->len;
        }
    }
    *cur = out;
}

/* Skips an escape; a->p is at the backslash.  \c takes the character
 * after it too ("\c(" is a control character, not a group); \Q..\E is
 * not followed. */
static void skip_escape(an *a)
{
    if (a->p + 1 < a->end && (a->p[1] == 'Q' || a->p[1] == 'E'))
        return fail(a);
    a->p += a->p + 1 < a->end && a->p[1] == 'c' ? 3 : 2;
    if (a->p > a->end)
        a->p = a->end;
}

/* Where scanning goes on after a '[' followed by ':', '.' or '=' inside a
 * class: past the closing ":]" when it is POSIX syntax as PCRE2 decides
 * it (check_posix_syntax in pcre2_compile.c: a ']' or another "[:"
 * first means it is not), else just past the '[', a plain member. */
static const uint8_t *posix_class_end(const uint8_t *p, const uint8_t *end)
{
    const uint8_t term = p[1];
    for (const uint8_t *q = p + 2; end - q >= 2; q++) {
        if (*q == '\\' && (q[1] == ']' || q[1] == '\\'))
            q++;
        else if ((*q == '[' && q[1] == term) || *q == ']')
            break;
        else if (*q == term && q[1] == ']')
            return q + 2;
    }
    return p + 1;
}

/* Skips a character class; a->p is just after '['. */
static void skip_class(an *a)
{
    if (!at_end(a) && *a->p == '^')
        a->p++;
    if (!at_end(a) && *a->p == ']')
        a->p++;
    while (!at_end(a) && *a->p != ']') {
        if (*a->p == '\\') {
            skip_escape(a);
            if (a->fail)
                return;
        } else if (*a->p == '[' && a->p + 1 < a->end &&
                   (a->p[1] == ':' || a->p[1] == '.' || a->p[1] == '=')) {
            a->p = posix_class_end(a->p, a->end);
        } else {
            a->p++;
        }
    }
    if (at_end(a))
        return fail(a);
    a->p++;
}

/* Skips to the end of the current branch: the next '|' or ')' at this
 * level (not consumed), or the end. */
static void skip_branch(an *a)
{
    int depth = 0;
    while (!at_end(a)) {
        uint8_t c = *a->p;
        if (c == '\\') {
            skip_escape(a);
        } else if (c == '[') {
            a->p++;
            skip_class(a);
        } else if (c == '(') {
            uint8_t q = a->p + 1 < a->end ? a->p[1] : 0;
            uint8_t r = a->p + 2 < a->end ? a->p[2] : 0;
            if (q == '*')
                return fail(a);   /* a verb's name may hold '(' */
            if (q == '?' && r == '#') {
                while (!at_end(a) && *a->p != ')')
                    a->p++;
                if (at_end(a))
                    return fail(a);
            } else if (q == '?' && !strchr(":>|=!<P'", r)) {
                /* options carry into the following branches (and extended
                 * mode changes what '#' and spaces are); conditions,
                 * recursion and callouts are not followed either */
                return fail(a);
            } else {
                depth++;
            }
            a->p++;
        } else if (c == ')') {
            if (depth == 0)
                return;
            depth--;
            a->p++;
        } else if (c == '|' && depth == 0) {
            return;
        } else {
            a->p++;
        }
    }
}

static void alt(an *a, lset *out);

/* A character class: its members when they are few plain ASCII
 * characters, IT_STOP otherwise.  a->p is just after '['. */
static int class_item(an *a, lset *t)
{
    const uint8_t *start = a->p, *p = a->p;
    t->n = 0;
    if (p < a->end && *p != '^' && *p != ']') {
        while (p < a->end && *p != ']') {
            uint8_t c = *p;
            if (c == '\\' || c == '[' || c == '-' || c >= 0x80 ||
                t->n == MAX_CLASS)
                break;
            t->v[t->n].b[0] = c;
            t->v[t->n].len = 1;
            t->v[t->n].exact = 1;
            if (a->caseless)
                fold_lit(&t->v[t->n]);
            t->n++;
            p++;
        }
        if (p < a->end && *p == ']' && t->n) {
            a->p = p + 1;
            return IT_SET;
        }
    }
    a->p = start;
    skip_class(a);
    return IT_STOP;
}

/* A group; a->p is just after '('. */
static int group_item(an *a, lset *t)
{
    const uint8_t *p = a->p;
    int lookaround = 0;
    if (p < a->end && *p == '*')
        return fail(a), IT_STOP;       /* verbs */
    if (p < a->end && *p == '?') {
        uint8_t c = p + 1 < a->end ? p[1] : 0;
        uint8_t d = p + 2 < a->end ? p[2] : 0;
        if (c == ':' || c == '>' || c == '|') {
            p += 2;
        } else if (c == '=' || c == '!') {
            lookaround = 1;
        } else if (c == '<' && (d == '=' || d == '!')) {
            lookaround = 1;
        } else if (c == '#') {
            while (p < a->end && *p != ')')
                p++;
            if (p == a->end)
                return fail(a), IT_STOP;
            a->p = p + 1;
            return IT_ZERO;
        } else if ((c == '<' || c == '\'' || (c == 'P' && d == '<'))) {
            const uint8_t close = c == '\'' ? '\'' : '>';
            p += c == 'P' ? 3 : 2;
            while (p < a->end && *p != close) {
                if (!is_alnum(*p) && *p != '_')
                    return fail(a), IT_STOP;
                p++;
            }
            if (p == a->end)
                return fail(a), IT_STOP;
            p++;
        } else {
            /* options, conditions, recursion, callouts, back-references */
            return fail(a), IT_STOP;
        }
    }
    a->p = p;
    if (lookaround) {
        /* zero-width: it only narrows where a match may be, so the literal
         * goes on after it (its own contents are not read) */
        skip_branch(a);
        while (!a->fail && !at_end(a) && *a->p == '|') {
            a->p++;
            skip_branch(a);
        }
    } else {
        if (++a->depth > MAX_DEPTH)
            return fail(a), IT_STOP;
        alt(a, t);
        a->depth--;
    }
    if (a->fail || at_end(a) || *a->p != ')')
        return fail(a), IT_STOP;
    a->p++;
    return lookaround ? IT_ZERO : IT_SET;
}

/* An escape; a->p is just after the backslash. */
static int escape_item(an *a, lset *t)
{
    uint8_t c, b;
    if (at_end(a))
        return fail(a), IT_STOP;
    c = *a->p++;
    if (!is_alnum(c)) {
        if (c >= 0x80)
            return fail(a), IT_STOP;
        set_one(t, &c, 1);   /* an escaped punctuation character */
        return IT_SET;
    }
    switch (c) {
    case 'b': case 'B': case 'A':
        return IT_ZERO;
    case 'z': case 'Z': case 'K':
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
    case 'h': case 'H': case 'v': case 'V': case 'R': case 'X':
        return IT_STOP;
    case 'p': case 'P':
        if (!at_end(a) && *a->p == '{') {
            while (!at_end(a) && *a->p != '}')
                a->p++;
            if (at_end(a))
                return fail(a), IT_STOP;
        }
        a->p++;
        return IT_STOP;
    case 'n': b = '\n'; break;
    case 't': b = '\t'; break;
    case 'r': b = '\r'; break;
    case 'f': b = '\f'; break;
    case 'e': b = 0x1B; break;
    case 'a': b = 0x07; break;
    default:
        /* \x \o \c \Q \E \N \u \g \k, digits (back-references,
         * octal), and \G: it asserts the start offset, which the filter
         * moves */
        return fail(a), IT_STOP;
    }
    set_one(t, &b, 1);
    return IT_SET;
}

static int read_num(an *a, unsigned *v)
{
    unsigned n = 0;
    int digits = 0;
    while (!at_end(a) && *a->p >= '0' && *a->p <= '9' && digits < 6) {
        n = n * 10 + (unsigned)(*a->p++ - '0');
        digits++;
    }
    *v = n;
    return digits;
}

/* A quantifier after an item, if any: its minimum in *min and whether it
 * is exactly {1}.  Returns 0 when there is none.  A '{' that is not a
 * quantifier fails the analysis (PCRE2 versions differ on it). */
static int quantifier(an *a, unsigned *min, int *once)
{
    unsigned lo = 0, hi = 0;
    if (at_end(a))
        return 0;
    switch (*a->p) {
    case '?': case '*':
        a->p++;
        *min = 0;
        break;
    case '+':
        a->p++;
        *min = 1;
        break;
    case '{': {
        int has_lo, has_hi = 0, comma = 0;
        a->p++;
        has_lo = read_num(a, &lo);
        if (!at_end(a) && *a->p == ',') {
            comma = 1;
            a->p++;
            has_hi = read_num(a, &hi);
        }
        /* "{,m}" is a quantifier from PCRE2 10.43 on, text before it */
        if (at_end(a) || *a->p != '}' || !has_lo)
            return fail(a), 0;
        a->p++;
        *min = lo;
        *once = lo == 1 && ((!comma) || (has_hi && hi == 1));
        if (!at_end(a) && (*a->p == '?' || *a->p == '+'))
            a->p++;
        return 1;
    }
    default:
        return 0;
    }
    *once = 0;
    if (!at_end(a) && (*a->p == '?' || *a->p == '+'))
        a->p++;
    return 1;
}

static void skip_comments(an *a)
{
    while (a->end - a->p >= 3 && a->p[0] == '(' && a->p[1] == '?' &&
           a->p[2] == '#') {
        while (!at_end(a) && *a->p != ')')
            a->p++;
        if (at_end(a))
            return fail(a);
        a->p++;
    }
}

/* One branch: the prefixes of everything it matches. */
static void seq(an *a, lset *cur)
{
    lset t;
    cur->n = 1;
    cur->v[0].len = 0;
    cur->v[0].exact = 1;
    while (!a->fail && !at_end(a) && *a->p != '|' && *a->p != ')') {
        uint8_t c = *a->p;
        int kind;
        unsigned min = 1;
        int once = 1;
        if (c == '\\') {
            a->p++;
            kind = escape_item(a, &t);
        } else if (c == '[') {
            a->p++;
            kind = class_item(a, &t);
        } else if (c == '(') {
            a->p++;
            kind = group_item(a, &t);
        } else if (c == '^') {
            a->p++;
            kind = IT_ZERO;
        } else if (c == '.' || c == '$') {
            a->p++;
            kind = IT_STOP;
        } else if (c == '?' || c == '*' || c == '+' || c == '{') {
            return fail(a);
        } else {
            size_t n = utf8_len(c);
            if ((size_t)(a->end - a->p) < n)
                return fail(a);
            set_one(&t, a->p, n);
            a->p += n;
            kind = IT_SET;
            if (a->caseless && !fold_lit(&t.v[0]))
                return fail(a);
        }
        if (a->fail)
            return;
        /* comments between an item and its quantifier: "b(?#c)+" is b+ */
        skip_comments(a);
        (void)quantifier(a, &min, &once);   /* on a zero-width item: moot */
        if (a->fail)
            return;
        if (kind == IT_ZERO)
            continue;
        if (kind == IT_STOP || min == 0) {
            set_stop(cur);
            return skip_branch(a);
        }
        cross(a, cur, &t);
        if (!once) {
            set_stop(cur);
            return skip_branch(a);
        }
        /* nothing exact is left to grow: the rest does not matter */
        {
            uint32_t i;
            for (i = 0; i < cur->n && !cur->v[i].exact; i++)
                ;
            if (i == cur->n)
                return skip_branch(a);
        }
    }
}

/* Alternatives up to ')' or the end: the union of their prefixes. */
static void alt(an *a, lset *out)
{
    lset b;
    out->n = 0;
    for (;;) {
        seq(a, &b);
        if (a->fail)
            return;
        if (out->n + b.n > MAXL)
            return fail(a);
        memcpy(out->v + out->n, b.v, b.n * sizeof *b.v);
        out->n += b.n;
        if (at_end(a) || *a->p != '|')
            return;
        a->p++;
    }
}

/* ---- the filter -------------------------------------------------------- */

static int lit_cmp(const lit *x, const lit *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    return c ? c : (int)x->len - (int)y->len;
}

/* Sorts and drops every literal that has another as its prefix (finding
 * the shorter one finds every place the longer one could be). */
static void minimise(lset *s)
{
    uint32_t i, j, n = 0;
    for (i = 1; i < s->n; i++) {         /* insertion sort: 64 at most */
        lit x = s->v[i];
        for (j = i; j > 0 && lit_cmp(&s->v[j - 1], &x) > 0; j--)
            s->v[j] = s->v[j - 1];
        s->v[j] = x;
    }
    for (i = 0; i < s->n; i++) {
        /* sorted: a prefix of v[i] kept before it is the last one kept */
        if (n && s->v[n - 1].len <= s->v[i].len &&
            memcmp(s->v[n - 1].b, s->v[i].b, s->v[n - 1].len) == 0)
            continue;
        s->v[n++] = s->v[i];
    }
    s->n = n;
}

#if KEFU_TEDDY
static int have_ssse3(void)
{
#if defined(__SSSE3__)
    return 1;
#else
    __builtin_cpu_init();
    return __builtin_cpu_supports("ssse3") != 0;
#endif
}
#endif

int kefu_prefilter_build(kefu_prefilter **out, const kefu_mem *mem,
                         const char *pat, size_t len, uint32_t opts)
{
    an a = {NULL, NULL, 0, 0, 0};
    lset *s;
    kefu_prefilter *f;
    uint32_t minlen = LMAX, i, nfp = 0, b;
    uint8_t fpbucket[MAXL];
    *out = NULL;
    if (!pat)
        return KEFU_OK;   /* nothing to read: no filter */
    a.p = (const uint8_t *)pat;
    a.end = a.p + len;
    /* a case-less pattern: by option, or by "(?i)" in front of it all */
    if (len >= 4 && memcmp(pat, "(?i)", 4) == 0) {
        a.p += 4;
        opts |= KEFU_PREFILTER_CASELESS;
    }
    a.caseless = (opts & KEFU_PREFILTER_CASELESS) != 0;
    if ((opts & KEFU_PREFILTER_EXTENDED) ||
        (a.caseless && !(opts & KEFU_PREFILTER_FOLDED)))
        return KEFU_OK;
    s = kefu_alloc(mem, sizeof *s);
    if (!s)
        return KEFU_E_NOMEM;
    alt(&a, s);
    if (a.fail || !at_end(&a) || s->n == 0) {
        kefu_dealloc(mem, s);
        return KEFU_OK;                /* not understood, or a stray ')' */
    }
    for (i = 0; i < s->n; i++)
        if (s->v[i].len < minlen)
            minlen = s->v[i].len;
    if (minlen < 2) {
        kefu_dealloc(mem, s);
        return KEFU_OK;                /* matches can start anywhere */
    }
    minimise(s);
    f = kefu_zalloc(mem, sizeof *f);
    if (!f) {
        kefu_dealloc(mem, s);
        return KEFU_E_NOMEM;
    }
    f->n = s->n;
    f->m = minlen < 3 ? minlen : 3;
    /* fingerprints in sorted order; equal ones share a bucket, distinct
     * ones are dealt round the eight buckets */
    for (i = 0; i < s->n; i++) {
        if (i && memcmp(s->v[i].b, s->v[i - 1].b, f->m) != 0)
            nfp++;
        fpbucket[i] = (uint8_t)(nfp % 8);
    }
    /* literals ordered by bucket */
    {
        uint32_t k = 0;
        for (b = 0; b < 8; b++) {
            f->bstart[b] = (uint8_t)k;
            for (i = 0; i < s->n; i++) {
                if (fpbucket[i] != b)
                    continue;
                memcpy(f->lit[k], s->v[i].b, s->v[i].len);
                f->len[k] = s->v[i].len;
                for (uint32_t j = 0; j < f->m; j++) {
                    uint8_t c = s->v[i].b[j];
                    f->lo[j][c & 15] |= (uint8_t)(1u << b);
                    f->hi[j][c >> 4] |= (uint8_t)(1u << b);
                    f->tab[j][c] |= (uint8_t)(1u << b);
                }
                k++;
            }
        }
        f->bstart[8] = (uint8_t)k;
    }
    if (f->m == 2)   /* a third byte that lets everything through */
        memset(f->tab[2], 0xFF, sizeof f->tab[2]), memset(f->lo[2], 0xFF, 16),
            memset(f->hi[2], 0xFF, 16);
#if KEFU_TEDDY
    f->simd = have_ssse3();
#endif
    kefu_dealloc(mem, s);
    *out = f;
    return KEFU_OK;
}

void kefu_prefilter_free(const kefu_mem *mem, kefu_prefilter *f)
{
    kefu_dealloc(mem, f);
}

uint32_t kefu_prefilter_count(const kefu_prefilter *f)
{
    return f ? f->n : 0;
}

const char *kefu_prefilter_literal(const kefu_prefilter *f, uint32_t i,
                                   size_t *len)
{
    if (!f || i >= f->n)
        return NULL;
    *len = f->len[i];
    return (const char *)f->lit[i];
}

/* The first literal of the buckets in `bits` at s + at, if any. */
static int confirm(const kefu_prefilter *f, const char *s, size_t len,
                   size_t at, unsigned bits)
{
    while (bits) {
        unsigned b = (unsigned)__builtin_ctz(bits);
        bits &= bits - 1;
        for (unsigned k = f->bstart[b]; k < f->bstart[b + 1]; k++)
            if (at + f->len[k] <= len && memcmp(s + at, f->lit[k], f->len[k]) == 0)
                return 1;
    }
    return 0;
}

size_t kefu_prefilter_first_portable(const kefu_prefilter *f, const char *s,
                                     size_t len)
{
    const uint8_t *u = (const uint8_t *)s;
    if (len < f->m)
        return KEFU_PREFILTER_NONE;
    for (size_t at = 0; at + f->m <= len; at++) {
        unsigned bits = f->tab[0][u[at]] & f->tab[1][u[at + 1]];
        if (bits && f->m == 3)
            bits &= f->tab[2][u[at + 2]];
        if (bits && confirm(f, s, len, at, bits))
            return at;
    }
    return KEFU_PREFILTER_NONE;
}

#if KEFU_TEDDY
__attribute__((target("ssse3"))) static size_t
teddy(const kefu_prefilter *f, const char *s, size_t len)
{
    const __m128i nib = _mm_set1_epi8(0x0F), zero = _mm_setzero_si128();
    const __m128i lo0 = _mm_loadu_si128((const __m128i *)f->lo[0]);
    const __m128i hi0 = _mm_loadu_si128((const __m128i *)f->hi[0]);
    const __m128i lo1 = _mm_loadu_si128((const __m128i *)f->lo[1]);
    const __m128i hi1 = _mm_loadu_si128((const __m128i *)f->hi[1]);
    const __m128i lo2 = _mm_loadu_si128((const __m128i *)f->lo[2]);
    const __m128i hi2 = _mm_loadu_si128((const __m128i *)f->hi[2]);
    uint8_t tail[16 + 16];
    for (size_t i = 0; i < len; i += 16) {
        const uint8_t *p = (const uint8_t *)s + i;
        __m128i v, r;
        unsigned mask;
        uint8_t bits[16];
        if (len - i < 16 + 2) {
            /* the last bytes: a zero-padded copy, nothing read past s */
            memset(tail, 0, sizeof tail);
            memcpy(tail, p, len - i);
            p = tail;
        }
        v = _mm_loadu_si128((const __m128i *)p);
        r = _mm_and_si128(
            _mm_shuffle_epi8(lo0, _mm_and_si128(v, nib)),
            _mm_shuffle_epi8(hi0, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
        v = _mm_loadu_si128((const __m128i *)(p + 1));
        r = _mm_and_si128(
            r, _mm_and_si128(_mm_shuffle_epi8(lo1, _mm_and_si128(v, nib)),
                             _mm_shuffle_epi8(
                                 hi1, _mm_and_si128(_mm_srli_epi16(v, 4), nib))));
        v = _mm_loadu_si128((const __m128i *)(p + 2));
        r = _mm_and_si128(
            r, _mm_and_si128(_mm_shuffle_epi8(lo2, _mm_and_si128(v, nib)),
                             _mm_shuffle_epi8(
                                 hi2, _mm_and_si128(_mm_srli_epi16(v, 4), nib))));
        mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(r, zero)) ^ 0xFFFFu;
        if (!mask)
            continue;
        _mm_storeu_si128((__m128i *)bits, r);
        while (mask) {
            unsigned k = (unsigned)__builtin_ctz(mask);
            mask &= mask - 1;
            if (i + k >= len)
                break;
            if (confirm(f, s, len, i + k, bits[k]))
                return i + k;
        }
    }
    return KEFU_PREFILTER_NONE;
}
#endif

size_t kefu_prefilter_first(const kefu_prefilter *f, const char *s,
                            size_t len)
{
#if KEFU_TEDDY
    if (f->simd)
        return teddy(f, s, len);
#endif
    return kefu_prefilter_first_portable(f, s, len);
}

/* ---- many filters, one scan -------------------------------------------- */

/*
 * Every literal of every filter, sorted by its first two bytes (key2),
 * with two bitmaps that pass a text position only when a literal may start
 * there: one exact over the first two bytes, one hashed over the first
 * three (literals of two bytes set every bit of the three-byte map that
 * their key could reach, which is all of it: so they are kept apart, in
 * map2 only).  A position that passes is confirmed against the literals
 * with its key2 (a binary search, then memcmp).
 */
#define SET_BITS3 15   /* 32768 bits, 4 KiB */

typedef struct set_lit {
    uint16_t key2;
    uint8_t len;
    uint8_t b[LMAX];
    uint32_t filter;
} set_lit;

struct kefu_prefilter_set {
    uint64_t map2[65536 / 64];        /* first two bytes of 2-byte literals */
    uint64_t map3[(1u << SET_BITS3) / 64]; /* hash of the first three */
    set_lit *lits;
    uint32_t nlits;
    uint32_t nfilters;
    uint8_t *filtered;                /* filtered[i]: entry i has a filter */
    uint8_t has2;                     /* some literal is two bytes long */
};

static uint32_t key2_of(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t hash3(const uint8_t *p)
{
    uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    return (k * 2654435761u) >> (32 - SET_BITS3);
}

static int set_lit_cmp(const void *pa, const void *pb)
{
    const set_lit *a = pa, *b = pb;
    if (a->key2 != b->key2)
        return a->key2 < b->key2 ? -1 : 1;
    return a->filter < b->filter ? -1 : a->filter > b->filter;
}

int kefu_prefilter_set_build(kefu_prefilter_set **out, const kefu_mem *mem,
                             const kefu_prefilter *const *filters, uint32_t n)
{
    kefu_prefilter_set *set;
    uint32_t total = 0, k = 0;
    *out = NULL;
    for (uint32_t i = 0; i < n; i++)
        total += filters[i] ? filters[i]->n : 0;
    if (!total)
        return KEFU_OK;
    set = kefu_zalloc(mem, sizeof *set);
    if (!set || !(set->lits = kefu_alloc_array(mem, total, sizeof *set->lits)) ||
        !(set->filtered = kefu_zalloc(mem, n ? n : 1))) {
        kefu_prefilter_set_free(mem, set);
        return KEFU_E_NOMEM;
    }
    set->nfilters = n;
    for (uint32_t i = 0; i < n; i++) {
        const kefu_prefilter *f = filters[i];
        if (!f)
            continue;
        set->filtered[i] = 1;
        for (uint32_t j = 0; j < f->n; j++) {
            set_lit *l = &set->lits[k++];
            memset(l, 0, sizeof *l);
            l->len = f->len[j];
            memcpy(l->b, f->lit[j], l->len);
            l->key2 = (uint16_t)key2_of(l->b);
            l->filter = i;
            if (l->len == 2) {
                set->map2[l->key2 >> 6] |= 1ull << (l->key2 & 63);
                set->has2 = 1;
            } else {
                uint32_t h = hash3(l->b);
                set->map3[h >> 6] |= 1ull << (h & 63);
            }
        }
    }
    set->nlits = k;
    qsort(set->lits, k, sizeof *set->lits, set_lit_cmp);
    *out = set;
    return KEFU_OK;
}

void kefu_prefilter_set_free(const kefu_mem *mem, kefu_prefilter_set *set)
{
    if (!set)
        return;
    kefu_dealloc(mem, set->lits);
    kefu_dealloc(mem, set->filtered);
    kefu_dealloc(mem, set);
}

/* The literals at s + at (their key2 passed a map): marks each filter's
 * first place. */
static void set_confirm(const kefu_prefilter_set *set, const uint8_t *u,
                        size_t len, size_t at, size_t *first)
{
    const uint32_t key = key2_of(u + at);
    uint32_t lo = 0, hi = set->nlits;
    while (lo < hi) {               /* the first literal with this key */
        uint32_t mid = (lo + hi) / 2;
        if (set->lits[mid].key2 < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < set->nlits && set->lits[lo].key2 == key; lo++) {
        const set_lit *l = &set->lits[lo];
        if (first[l->filter] == KEFU_PREFILTER_NONE && at + l->len <= len &&
            memcmp(u + at, l->b, l->len) == 0)
            first[l->filter] = at;
    }
}

void kefu_prefilter_set_scan(const kefu_prefilter_set *set, const char *s,
                             size_t len, size_t *first)
{
    const uint8_t *u = (const uint8_t *)s;
    for (uint32_t i = 0; i < set->nfilters; i++)
        first[i] = set->filtered[i] ? KEFU_PREFILTER_NONE : 0;
    if (len < 2)
        return;
    for (size_t at = 0; at + 1 < len; at++) {
        bool hit = false;
        if (at + 2 < len) {
            uint32_t h = hash3(u + at);
            hit = (set->map3[h >> 6] >> (h & 63)) & 1;
        }
        if (!hit && set->has2) {
            uint32_t k2 = key2_of(u + at);
            hit = (set->map2[k2 >> 6] >> (k2 & 63)) & 1;
        }
        if (hit)
            set_confirm(set, u, len, at, first);
    }
}
