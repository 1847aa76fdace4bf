/*
 * redact.c - masking personal data before logging.
 *
 * Detection runs on the normalised text, like entities, so full-width
 * digits and odd spacing are caught; masking rewrites the caller's
 * original text.  Candidates are checked before they are masked: a
 * resident ID needs a real birth date and its MOD 11-2 check character, a
 * card number its Luhn digit, a phone number a plausible length, so order
 * numbers and amounts pass through untouched.  The kinds claim text in a
 * fixed order (e-mail, ID, card, phone, then custom rules); a later kind
 * never masks inside an earlier one's match.
 */
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>

#include "checkdigit.h"
#include "scratch.h"

static const char *const EMAIL_RE =
    "(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\\.[a-z0-9-]+)*"
    "\\.[a-z]{2,}(?![a-z0-9])";
/* 6-digit area, birth date, 3-digit sequence, check character; the groups
 * of 6/8/4 may be spaced */
static const char *const ID_RE =
    "(?<![0-9a-z])(?<![0-9][.,])[1-9][0-9]{5}[ -]?(?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9]"
    "[ -]?[0-9]{3}[0-9x](?![0-9a-z])";
static const char *const CARD_RE =
    "(?<![0-9a-z])(?<![0-9][.,])(?:[0-9]{13,19}|[0-9]{4}(?:[ -][0-9]{4}){2,3}"
    "(?:[ -][0-9]{1,3})?|[0-9]{4}[ -][0-9]{6}[ -][0-9]{5})(?![0-9a-z])";
static const char *const PHONE_RE =
    "(?<![0-9])(?<![0-9][.,])(?:(?:\\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])"
    "|(?<![0-9+])\\+[1-9][0-9]{0,2}[ -]?(?:\\([0-9]{1,4}\\)[ -]?)?[0-9]{1,4}"
    "(?:[ -]?[0-9]{2,4}){1,4}(?![0-9])"
    "|(?<![0-9])09[0-9]{2}[ -]?[0-9]{3}[ -]?[0-9]{3}(?![0-9])";

static const struct {
    const char *name;
    const char *re;
    const char *replace; /* default style: NULL = keep the last 4 */
    /* what every match holds (read off the patterns above): a message
     * without it is not searched */
    kefu_pattern_need need;
} builtin_kinds[KEFU_REDACT_BUILTINS] = {
    {"email", NULL, "[EMAIL]", {0, '@', NULL}},
    {"id_card", NULL, NULL, {1, 0, NULL}},
    {"bank_card", NULL, NULL, {1, 0, NULL}},
    {"phone", NULL, NULL, {1, 0, NULL}},
};

static const char *builtin_re(size_t i)
{
    switch (i) {
    case 0: return EMAIL_RE;
    case 1: return ID_RE;
    case 2: return CARD_RE;
    default: return PHONE_RE;
    }
}

/* ---- the redactor ---- */

static int oom(kefu_diag *d)
{
    return kefu_diag_msg(d, KEFU_E_NOMEM, "out of memory");
}

static void style_default(struct kefu_redact_style *st)
{
    memset(st, 0, sizeof *st);
    st->on = true;
    st->keep_last = 4;
    st->mask[0] = '*';
}

static struct kefu_redactor *redactor_get(struct kefu_model *m, kefu_diag *d)
{
    struct kefu_redactor *r = m->redactor;
    if (r)
        return r;
    if (!(r = kefu_zalloc(&m->mem, sizeof *r))) {
        oom(d);
        return NULL;
    }
    kefu_mem_init(&r->mem, &m->alloc);
    r->gctx = kefu_pattern_gctx(&r->mem);
    r->cap = KEFU_REDACT_BUILTINS;
    r->rules = kefu_alloc_array(&r->mem, r->cap, sizeof *r->rules);
    if (!r->gctx || !r->rules) {
        pcre2_general_context_free(r->gctx);
        kefu_dealloc(&r->mem, r->rules);
        kefu_dealloc(&m->mem, r);
        oom(d);
        return NULL;
    }
    memset(r->rules, 0, r->cap * sizeof *r->rules);
    r->n = KEFU_REDACT_BUILTINS;
    m->redactor = r; /* from here on released with the model */
    for (size_t i = 0; i < KEFU_REDACT_BUILTINS; i++) {
        struct kefu_redact_rule *rule = &r->rules[i];
        rule->kind = (uint32_t)i + 1;
        style_default(&rule->style);
        if (builtin_kinds[i].replace &&
            !(rule->style.replace = kefu_strdup(&r->mem, builtin_kinds[i].replace))) {
            oom(d);
            return NULL;
        }
    }
    return r;
}

void kefu_redact_release(struct kefu_model *m)
{
    struct kefu_redactor *r = m->redactor;
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        kefu_dealloc(&r->mem, r->rules[i].name);
        kefu_dealloc(&r->mem, r->rules[i].source);
        kefu_dealloc(&r->mem, r->rules[i].style.replace);
        pcre2_code_free(r->rules[i].code);
    }
    kefu_dealloc(&r->mem, r->rules);
    pcre2_general_context_free(r->gctx);
    kefu_dealloc(&m->mem, r);
    m->redactor = NULL;
}

/* ---- parsing ---- */

static int parse_style(struct kefu_redactor *r, struct kefu_redact_style *st,
                       const kefu_ynode *v, kefu_load_ctx *ctx, bool custom)
{
    static const char *const keys[] = {"enabled", "keep_first", "keep_last",
                                       "mask", "replace", NULL};
    static const char *const ckeys[] = {"name", "regex", "enabled",
                                        "keep_first", "keep_last", "mask",
                                        "replace", NULL};
    const kefu_ynode *x;
    int rc;
    if (!custom && v->type == KEFU_Y_SCALAR) {
        bool b;
        if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &b)))
            return rc;
        st->on = b;
        return KEFU_OK;
    }
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, v, custom ? ckeys : keys)))
        return rc;
    st->on = true;
    if ((x = kefu_ymap_get(v, "enabled")) &&
        (rc = kefu_y_bool(ctx->diag, ctx->doc, x, &st->on)))
        return rc;
    for (int k = 0; k < 2; k++) {
        int64_t n;
        if (!(x = kefu_ymap_get(v, k ? "keep_last" : "keep_first")))
            continue;
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, x, 0, 64, &n)))
            return rc;
        *(k ? &st->keep_last : &st->keep_first) = (uint32_t)n;
    }
    if ((x = kefu_ymap_get(v, "mask"))) {
        const char *s;
        size_t len, i = 0;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, x, &s, &len)))
            return rc;
        (void)kefu_utf8_next((const unsigned char *)s, len, &i);
        if (i != len || len >= sizeof st->mask)
            return kefu_yerr(ctx->diag, ctx->doc, x, KEFU_E_MODEL,
                             "mask is one character");
        memcpy(st->mask, s, len + 1);
    }
    if ((x = kefu_ymap_get(v, "replace"))) {
        const char *s;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, x, &s, NULL)))
            return rc;
        kefu_dealloc(&r->mem, st->replace);
        if (!(st->replace = kefu_strdup(&r->mem, s)))
            return oom(ctx->diag);
    } else if (kefu_ymap_get(v, "keep_first") || kefu_ymap_get(v, "keep_last") ||
               kefu_ymap_get(v, "mask")) {
        /* asking for a mask style turns a default replacement off */
        kefu_dealloc(&r->mem, st->replace);
        st->replace = NULL;
    }
    return KEFU_OK;
}

static int parse_custom(struct kefu_redactor *r, const kefu_ynode *list,
                        kefu_load_ctx *ctx)
{
    int rc = kefu_y_expect(ctx->diag, ctx->doc, list, KEFU_Y_SEQ, "custom");
    if (rc)
        return rc;
    for (size_t i = 0; i < list->n; i++) {
        const kefu_ynode *it = list->items[i], *re, *nm;
        struct kefu_redact_rule *rule;
        const char *s;
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, it, KEFU_Y_MAP,
                                "a custom redaction")))
            return rc;
        if (!(re = kefu_ymap_get(it, "regex")))
            return kefu_yerr(ctx->diag, ctx->doc, it, KEFU_E_MODEL,
                             "a custom redaction needs 'regex:'");
        if (kefu_grow(&r->mem, (void **)&r->rules, &r->cap, r->n + 1,
                      sizeof *r->rules))
            return oom(ctx->diag);
        rule = &r->rules[r->n++];
        memset(rule, 0, sizeof *rule);
        rule->kind = KEFU_REDACT_CUSTOM;
        style_default(&rule->style);
        nm = kefu_ymap_get(it, "name");
        if (nm && (rc = kefu_y_string(ctx->diag, ctx->doc, nm, &s, NULL)))
            return rc;
        if (!(rule->name = kefu_strdup(&r->mem, nm ? s : "custom")))
            return oom(ctx->diag);
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, re, &s, NULL)))
            return rc;
        if (!(rule->source = kefu_strdup(&r->mem, s)))
            return oom(ctx->diag);
        if ((rc = kefu_pattern_compile_node(&rule->code, r->gctx, ctx->diag,
                                            ctx->doc, re, 0, "regex")))
            return rc;
        if ((rc = parse_style(r, &rule->style, it, ctx, true)))
            return rc;
    }
    return KEFU_OK;
}

int kefu_redact_parse_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"email", "id_card", "bank_card",
                                       "phone", "custom", NULL};
    struct kefu_redactor *r;
    int rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys);
    if (rc)
        return rc;
    if (!(r = redactor_get(m, ctx->diag)))
        return KEFU_E_NOMEM;
    for (size_t i = 0; i < KEFU_REDACT_BUILTINS; i++) {
        const kefu_ynode *v = kefu_ymap_get(n, builtin_kinds[i].name);
        if (v && (rc = parse_style(r, &r->rules[i].style, v, ctx, false)))
            return rc;
    }
    if (kefu_ymap_get(n, "custom"))
        return parse_custom(r, kefu_ymap_get(n, "custom"), ctx);
    return KEFU_OK;
}

/* Every model gets a redactor: built-in kinds with their default style
 * when there is no `redaction:` section. */
int kefu_redact_finish(struct kefu_model *m, kefu_diag *diag)
{
    struct kefu_redactor *r = redactor_get(m, diag);
    if (!r)
        return KEFU_E_NOMEM;
    if (r->finished)
        return KEFU_OK;
    for (size_t i = 0; i < r->n; i++) {
        struct kefu_redact_rule *rule = &r->rules[i];
        uint32_t g;
        if (i < KEFU_REDACT_BUILTINS && !rule->code) {
            char msg[300];
            size_t off;
            int rc = kefu_pattern_compile(&rule->code, r->gctx, builtin_re(i),
                                          0, &off, msg, sizeof msg);
            if (rc)
                return kefu_diag_msg(diag, rc, "redaction '%s': %s",
                                     builtin_kinds[i].name, msg);
        }
        if (i >= KEFU_REDACT_BUILTINS) {
            uint32_t count = 0, size = 0;
            PCRE2_SPTR table = NULL;
            pcre2_pattern_info(rule->code, PCRE2_INFO_NAMECOUNT, &count);
            pcre2_pattern_info(rule->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
            pcre2_pattern_info(rule->code, PCRE2_INFO_NAMETABLE, &table);
            for (uint32_t k = 0; k < count && table; k++) {
                PCRE2_SPTR p = table + (size_t)k * size;
                if (!strcmp((const char *)p + 2, "value") &&
                    rule->nvalue_groups < KEFU_ARRAY_LEN(rule->value_groups))
                    rule->value_groups[rule->nvalue_groups++] =
                        ((uint32_t)p[0] << 8) | p[1];
            }
        }
        g = kefu_pattern_groups(rule->code);
        if (g > r->max_groups)
            r->max_groups = g;
    }
    r->finished = true;
    return KEFU_OK;
}

/* ---- matching ---- */

void kefu_redact_scratch_free(const kefu_mem *mem,
                              struct kefu_redact_scratch *rs)
{
    if (!rs)
        return;
    kefu_text_release(&rs->text);
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mctx);
    kefu_dealloc(mem, rs->spans);
    kefu_buf_release(mem, &rs->out);
    kefu_buf_release(mem, &rs->subject);
    kefu_dealloc(mem, rs);
}

static int scratch_get(kefu_scratch *s, struct kefu_redact_scratch **out)
{
    const struct kefu_redactor *r = s->model->redactor;
    struct kefu_redact_scratch *rs = s->redact;
    if (!rs) {
        if (!(rs = kefu_zalloc(&s->mem, sizeof *rs)))
            return KEFU_E_NOMEM;
        kefu_model_text_init(s->model, &rs->text);
        rs->text.mem = s->mem;
        s->redact = rs;
    }
    /* both or neither: matching without the context would drop the limits */
    if (!rs->md || !rs->mctx) {
        if (!rs->md)
            rs->md = pcre2_match_data_create(r->max_groups + 1, r->gctx);
        if (!rs->mctx)
            rs->mctx = kefu_pattern_mctx(r->gctx);
        if (!rs->md || !rs->mctx)
            return KEFU_E_NOMEM;
    }
    *out = rs;
    return KEFU_OK;
}

static size_t cp_at(const kefu_text *t, size_t off)
{
    size_t lo = 0, hi = t->ncps;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->cps[mid].norm_off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Letters and digits of a normalised match, lower-case, at most cap-1. */
static size_t alnum_of(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        if ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z'))
            out[n++] = s[i];
    out[n] = '\0';
    return n;
}

static bool plausible(uint32_t kind, const char *m, size_t len)
{
    char d[40];
    size_t n = alnum_of(m, len, d, sizeof d);
    switch (kind) {
    case KEFU_REDACT_ID_CARD: return n == 18 && kefu_cn_id_ok(d);
    case KEFU_REDACT_BANK_CARD: return n >= 13 && n <= 19 && kefu_luhn_ok(d, n);
    case KEFU_REDACT_PHONE: return n >= 8 && n <= 15;
    default: return true;
    }
}

static bool overlaps(const struct kefu_redact_scratch *rs, size_t a, size_t b)
{
    for (size_t i = 0; i < rs->n; i++)
        if (a < rs->spans[i].cp_end && rs->spans[i].cp_start < b)
            return true;
    return false;
}

static int find_rule(kefu_scratch *s, struct kefu_redact_scratch *rs,
                     uint32_t idx)
{
    const struct kefu_redact_rule *rule = &s->model->redactor->rules[idx];
    const kefu_text *t = &rs->text;
    const char *norm = rs->subject.data;
    size_t len = rs->subject.len, start = 0;
    while (start <= len) {
        PCRE2_SIZE *ov;
        size_t ms, me, a, b;
        int rc = kefu_pattern_match(rule->code, NULL, norm, len, start, rs->md,
                                    rs->mctx);
        if (rc == 0)
            break;
        if (rc < 0)
            return kefu_diag_msg(&s->diag, rc, "redaction '%s': %s",
                                 rule->name ? rule->name
                                            : builtin_kinds[idx].name,
                                 rc == KEFU_E_LIMIT
                                     ? "the pattern hit its match limit"
                                     : kefu_strerror(rc));
        ov = pcre2_get_ovector_pointer(rs->md);
        ms = ov[0];
        me = ov[1];
        for (uint32_t k = 0; k < rule->nvalue_groups; k++) {
            uint32_t g = rule->value_groups[k];
            if (ov[2 * g] != PCRE2_UNSET) {
                ms = ov[2 * g];
                me = ov[2 * g + 1];
                break;
            }
        }
        start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        while (start < len && ((unsigned char)norm[start] & 0xC0) == 0x80)
            start++;
        a = cp_at(t, ms);
        b = cp_at(t, me);
        if (a >= b || !plausible(rule->kind, norm + ms, me - ms))
            continue;
        if (overlaps(rs, a, b))
            continue;
        if (kefu_grow(&s->mem, (void **)&rs->spans, &rs->cap, rs->n + 1,
                      sizeof *rs->spans))
            return kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
        rs->spans[rs->n++] = (struct kefu_redact_span){
            idx, (uint32_t)a, (uint32_t)b, t->cps[a].byte_start,
            t->cps[b - 1].byte_end, t->cps[a].char_start, t->cps[b - 1].char_end};
    }
    return KEFU_OK;
}

static int by_start(const void *pa, const void *pb)
{
    const struct kefu_redact_span *a = pa, *b = pb;
    return a->cp_start < b->cp_start ? -1 : a->cp_start > b->cp_start;
}

static bool maskable(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c >= 0xFF10 && c <= 0xFF19) ||
           (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A);
}

static int mask_span(const kefu_mem *mem, kefu_buf *out,
                     const struct kefu_redact_style *st, const char *text,
                     size_t b0, size_t b1)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t total = 0, k = 0, i;
    int rc = KEFU_OK;
    if (st->replace)
        return kefu_buf_append(mem, out, st->replace, strlen(st->replace));
    for (i = b0; i < b1;)
        total += maskable(kefu_utf8_next(u, b1, &i));
    for (i = b0; i < b1 && !rc;) {
        size_t p = i;
        uint32_t c = kefu_utf8_next(u, b1, &i);
        bool hide = false;
        if (maskable(c)) {
            hide = k >= st->keep_first && k + st->keep_last < total;
            k++;
        }
        if (hide)
            rc = kefu_buf_append(mem, out, st->mask, strlen(st->mask));
        else
            rc = kefu_buf_append(mem, out, text + p, i - p);
    }
    return rc;
}

static int build_output(kefu_scratch *s, struct kefu_redact_scratch *rs,
                        const char *text, size_t len)
{
    const struct kefu_redactor *r = s->model->redactor;
    size_t prev = 0;
    int rc = KEFU_OK;
    if (rs->n > 1)
        qsort(rs->spans, rs->n, sizeof *rs->spans, by_start);
    for (size_t i = 0; i < rs->n && !rc; i++) {
        const struct kefu_redact_span *sp = &rs->spans[i];
        rc = kefu_buf_append(&s->mem, &rs->out, text + prev, sp->byte_start - prev);
        if (!rc)
            rc = mask_span(&s->mem, &rs->out, &r->rules[sp->rule].style, text,
                           sp->byte_start, sp->byte_end);
        prev = sp->byte_end;
    }
    if (!rc)
        rc = kefu_buf_append(&s->mem, &rs->out, text + prev, len - prev);
    if (!rc)
        rc = kefu_buf_putc(&s->mem, &rs->out, '\0');
    if (!rc)
        rs->out.len--;
    return rc ? kefu_diag_msg(&s->diag, rc, "out of memory") : KEFU_OK;
}

static void clear(struct kefu_redact_scratch *rs)
{
    rs->n = 0;
    rs->out.len = 0;
    if (rs->out.data)
        rs->out.data[0] = '\0';
}

KEFU_API int kefu_redact(kefu_scratch *s, const char *text, size_t len)
{
    const struct kefu_redactor *r;
    struct kefu_redact_scratch *rs;
    int rc, digits = -1;
    if (!s)
        return KEFU_E_ARG;
    kefu_diag_clear(&s->diag);
    if (s->redact)
        clear(s->redact);
    r = s->model->redactor;
    if (!r || !r->finished)
        return kefu_diag_msg(&s->diag, KEFU_E_STATE,
                             "the model has no redactor");
    if (!text && len)
        return kefu_diag_msg(&s->diag, KEFU_E_ARG, "text is NULL");
    if ((rc = scratch_get(s, &rs)))
        return kefu_diag_msg(&s->diag, rc, "out of memory");
    if ((rc = kefu_text_run(&rs->text, text ? text : "", len))) {
        kefu_diag_copy(&s->diag, &rs->text.diag);
        return rc;
    }
    if (kefu_pattern_subject(&s->mem, &rs->subject, rs->text.norm.data,
                             rs->text.norm.len))
        rc = kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < r->n && !rc; i++)
        if (r->rules[i].style.on &&
            (i >= KEFU_REDACT_BUILTINS ||   /* custom rules: always searched */
             kefu_pattern_may_match(&builtin_kinds[i].need, rs->text.norm.data,
                                    rs->text.norm.len, &digits)))
            rc = find_rule(s, rs, i);
    if (!rc)
        rc = build_output(s, rs, text ? text : "", len);
    if (rc)
        clear(rs);
    return rc;
}

KEFU_API const char *kefu_redacted(const kefu_scratch *s, size_t *len)
{
    const struct kefu_redact_scratch *rs = s ? s->redact : NULL;
    if (len)
        *len = rs ? rs->out.len : 0;
    return rs && rs->out.data ? rs->out.data : "";
}

KEFU_API size_t kefu_redaction_count(const kefu_scratch *s)
{
    return s && s->redact ? s->redact->n : 0;
}

KEFU_API int kefu_redaction_get(const kefu_scratch *s, size_t i,
                                kefu_redaction *out)
{
    const struct kefu_redact_span *sp;
    const struct kefu_redact_rule *rule;
    if (!s || !out || out->size < sizeof(kefu_redaction) || !s->redact ||
        i >= s->redact->n)
        return KEFU_E_ARG;
    sp = &s->redact->spans[i];
    rule = &s->model->redactor->rules[sp->rule];
    out->kind = rule->kind;
    out->name = rule->name ? rule->name : builtin_kinds[sp->rule].name;
    out->byte_start = sp->byte_start;
    out->byte_end = sp->byte_end;
    out->char_start = sp->char_start;
    out->char_end = sp->char_end;
    return KEFU_OK;
}
