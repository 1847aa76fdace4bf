/*
 * entity.c - entities and slots.
 *
 * Every pattern and lookup list is matched against the normalised text of
 * the message (NFKC, case-folded, Traditional folded to Simplified, spaces
 * collapsed), so "１３８", "ＯＲＤＥＲ" and "訂單" look like "138", "order"
 * and "订单" to them.  The text stage records, for each normalised code
 * point, the range of the original text it came from, which turns a match
 * back into byte and character offsets in the caller's text.
 *
 * Overlaps between entities are resolved after matching: the match that
 * starts first wins, then the longer one, then the entity defined first.
 */
#include "entity.h"

#include <stdio.h>
#include <stdlib.h>

#include "scratch.h"

/* ---- built-in kinds ---- */

#define PHONE_RE                                                              \
    "(?<![0-9])(?<![0-9][.,])(?:(?:\\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])" \
    "|(?<![0-9+])\\+[1-9][0-9]{0,2}[ -]?(?:\\([0-9]{1,4}\\)[ -]?)?[0-9]{1,4}" \
    "(?:[ -]?[0-9]{2,4}){1,4}(?![0-9])"                                        \
    "|(?<![0-9])09[0-9]{2}[ -]?[0-9]{3}[ -]?[0-9]{3}(?![0-9])"                 \
    "|(?<![0-9])0[1-9][0-9]{1,2}-[0-9]{7,8}(?![0-9])"                          \
    "|(?<![0-9])\\([0-9]{3}\\) ?[0-9]{3}-[0-9]{4}(?![0-9])"

#define AMOUNT_NUM "(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\\.[0-9]{1,2})?"
#define AMOUNT_RE                                                             \
    "(?:(?<![a-z])(?:us\\$|hk\\$|rmb|cny|usd|hkd|eur)|[¥$€£]) ?" AMOUNT_NUM   \
    "(?![0-9])"                                                               \
    "|(?<![0-9.,])" AMOUNT_NUM                                                \
    " ?(?:元|块钱?|人民币|美元|美金|欧元|港币|(?:rmb|cny|usd|hkd|eur|dollars?" \
    "|bucks|euros?|yuan|kuai)(?![a-z]))"                                      \
    "|[零一二两三四五六七八九十百千万]+(?:元|块钱?)(?!儿)"

#define MONTH_RE                                                          \
    "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?" \
    "|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?"         \
    "|dec(?:ember)?)\\.?"
#define DATE_RE                                                               \
    "(?<![0-9])[0-9]{4}(?:[-/.][0-9]{1,2}[-/.][0-9]{1,2}"                     \
    "|年[0-9]{1,2}月[0-9]{1,2}[日号]?)(?![0-9])"                               \
    "|(?<![0-9])[0-9]{1,2}月[0-9]{1,2}(?:[日号]|(?![0-9]))"                    \
    "|大前天|前天|昨天|昨日|今天|今日|大后天|明天|明日|后天"                   \
    "|\\b(?:the day before yesterday|the day after tomorrow|yesterday|today"  \
    "|tomorrow)\\b"                                                           \
    "|\\b" MONTH_RE " [0-9]{1,2}(?:st|nd|rd|th)?(?:,? [0-9]{4})?\\b"          \
    "|\\b[0-9]{1,2}(?:st|nd|rd|th)? (?:of )?" MONTH_RE "(?:,? [0-9]{4})?\\b"

#define EMAIL_RE                                                  \
    "(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\\.[a-z0-9-]+)*" \
    "\\.[a-z]{2,}(?![a-z0-9])"

/* order_id is built from its options: a cue word ("订单号", "order no.")
 * followed by an id, or a bare id of enough digits that is not a mobile
 * number. */
#define ORDER_CUE_RE                                                      \
    "(?:订单(?:号|编号)?|单号|(?<![a-z])order(?: ?(?:id|no\\.?|number|num" \
    "|#))?) ?(?:是|为|:|#)? ?(?<value>[a-z0-9][a-z0-9-]{4,31})(?![a-z0-9-])"

typedef struct builtin {
    const char *name;
    const char *re;      /* NULL: built from options (order_id) */
    int norm;
    int check;
    /* what every match holds, read off the pattern above: a digit, this
     * byte, or one of these words (a word list for the prefilter); a text
     * with none of them is not searched */
    uint8_t need_digit;
    char need_byte;
    const char *need_words;
} builtin;

static const builtin builtins[] = {
    {"phone", PHONE_RE, KEFU_NORM_PHONE, KEFU_CHECK_PHONE, 1, 0, NULL},
    /* digits, or Chinese numerals before 元/块 */
    {"amount", AMOUNT_RE, KEFU_NORM_AMOUNT, KEFU_CHECK_NONE, 1, 0, "元|块"},
    /* digits, or the day words (大前天 holds 前天, the English phrases hold
     * yesterday / tomorrow) */
    {"date", DATE_RE, KEFU_NORM_DATE, KEFU_CHECK_NONE, 1, 0,
     "前天|昨天|昨日|今天|今日|后天|明天|明日|yesterday|today|tomorrow"},
    {"email", EMAIL_RE, KEFU_NORM_TEXT, KEFU_CHECK_NONE, 0, '@', NULL},
    /* a cue word and an id (which may be letters), or a bare id with
     * digits */
    {"order_id", NULL, KEFU_NORM_UPPER, KEFU_CHECK_DIGIT, 1, 0, "订单|单号|order"},
};

static const struct {
    const char *name;
    int norm;
} norm_names[] = {
    {"text", KEFU_NORM_TEXT},       {"none", KEFU_NORM_TEXT},
    {"original", KEFU_NORM_ORIGINAL}, {"digits", KEFU_NORM_DIGITS},
    {"upper", KEFU_NORM_UPPER},     {"compact", KEFU_NORM_COMPACT},
    {"phone", KEFU_NORM_PHONE},     {"amount", KEFU_NORM_AMOUNT},
    {"date", KEFU_NORM_DATE},
};

/* ---- the set ---- */

static struct kefu_entity_set *set_get(struct kefu_model *m, kefu_diag *d)
{
    struct kefu_entity_set *set = m->entities;
    if (set)
        return set;
    set = kefu_zalloc(&m->mem, sizeof *set);
    if (!set) {
        kefu_diag_msg(d, KEFU_E_NOMEM, "out of memory");
        return NULL;
    }
    kefu_mem_init(&set->mem, &m->alloc);
    set->gctx = kefu_pattern_gctx(&set->mem);
    if (!set->gctx) {
        kefu_dealloc(&m->mem, set);
        kefu_diag_msg(d, KEFU_E_NOMEM, "out of memory");
        return NULL;
    }
    m->entities = set;
    return set;
}

static void def_release(const kefu_mem *mem, struct kefu_entity_def *e)
{
    kefu_dealloc(mem, e->name);
    kefu_dealloc(mem, e->builtin);
    kefu_dealloc(mem, e->source);
    pcre2_code_free(e->code);
    kefu_prefilter_free(mem, e->pf);
    kefu_prefilter_free(mem, e->need.words);
    for (size_t i = 0; i < e->ncanon; i++)
        kefu_dealloc(mem, e->canon[i]);
    kefu_dealloc(mem, e->canon);
    for (size_t i = 0; i < e->nvalues; i++)
        kefu_dealloc(mem, e->values[i].norm);
    kefu_dealloc(mem, e->values);
    kefu_dealloc(mem, e->first);
}

void kefu_entity_release(struct kefu_model *m)
{
    struct kefu_entity_set *set = m->entities;
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        def_release(&set->mem, &set->defs[i]);
    kefu_dealloc(&set->mem, set->defs);
    pcre2_general_context_free(set->gctx);
    kefu_dealloc(&m->mem, set);
    m->entities = NULL;
}

int kefu_entity_find(const struct kefu_entity_set *set, const char *name)
{
    if (!set || !name)
        return -1;
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->defs[i].name, name))
            return (int)i;
    return -1;
}

/* ---- parsing ---- */

static int oom(kefu_diag *d)
{
    return kefu_diag_msg(d, KEFU_E_NOMEM, "out of memory");
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Builds the order_id pattern from `prefixes:` and `min_digits:`. */
static int order_pattern(const struct kefu_entity_set *set, kefu_load_ctx *ctx,
                         const kefu_ynode *def, kefu_buf *re)
{
    const kefu_ynode *p = kefu_ymap_get(def, "prefixes");
    const kefu_ynode *md = kefu_ymap_get(def, "min_digits");
    int64_t min = 10;
    char tail[160];
    int rc;
    if (md && (rc = kefu_y_int(ctx->diag, ctx->doc, md, 4, 24, &min)))
        return rc;
    rc = kefu_buf_append(&set->mem, re, "(?J)" ORDER_CUE_RE
                         "|(?<![a-z0-9-])(?<value>",
                         strlen("(?J)" ORDER_CUE_RE "|(?<![a-z0-9-])(?<value>"));
    if (p) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, p, KEFU_Y_SEQ, "prefixes")))
            return rc;
        if (p->n == 0)
            return kefu_yerr(ctx->diag, ctx->doc, p, KEFU_E_MODEL,
                             "prefixes must not be empty");
        rc = rc ? rc : kefu_buf_append(&set->mem, re, "(?:", 3);
        for (size_t i = 0; i < p->n && !rc; i++) {
            const char *s;
            if ((rc = kefu_y_string(ctx->diag, ctx->doc, p->items[i], &s, NULL)))
                return rc;
            for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9')))
                    return kefu_yerr(ctx->diag, ctx->doc, p->items[i],
                                     KEFU_E_MODEL,
                                     "order id prefixes are letters and digits");
            if (i)
                rc = kefu_buf_putc(&set->mem, re, '|');
            /* patterns see case-folded text */
            for (const char *c = s; *c && !rc; c++)
                rc = kefu_buf_putc(&set->mem, re,
                                   (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c));
        }
        rc = rc ? rc : kefu_buf_append(&set->mem, re, ")-?", 3);
    } else {
        rc = rc ? rc : kefu_buf_append(&set->mem, re, "(?:[a-z]{1,4}-?)?", 17);
    }
    snprintf(tail, sizeof tail,
             "(?!(?:0086|86)?1[3-9][0-9]{9}(?![0-9]))[0-9]{%d,24})(?![a-z0-9])", (int)min);
    rc = rc ? rc : kefu_buf_append(&set->mem, re, tail, strlen(tail) + 1);
    return rc ? oom(ctx->diag) : KEFU_OK;
}

/* The groups named "value" in code, in number order.  Duplicate names
 * (?J) are allowed: run() takes the first one that took part. */
static void value_groups(struct kefu_entity_def *e)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(e->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(e->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(e->code, PCRE2_INFO_NAMETABLE, &table);
    e->nvalue_groups = 0;
    for (uint32_t i = 0; i < count && table; i++) {
        PCRE2_SPTR p = table + (size_t)i * size;
        if (!strcmp((const char *)p + 2, "value") &&
            e->nvalue_groups < KEFU_ARRAY_LEN(e->value_groups))
            e->value_groups[e->nvalue_groups++] = ((uint32_t)p[0] << 8) | p[1];
    }
}

static int parse_values(struct kefu_entity_set *set, struct kefu_entity_def *e,
                        const kefu_ynode *v, kefu_load_ctx *ctx)
{
    int rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_SEQ, "values");
    if (rc)
        return rc;
    if (v->n == 0)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "values must not be empty");
    e->canon = kefu_alloc_array(&set->mem, v->n, sizeof *e->canon);
    if (!e->canon)
        return oom(ctx->diag);
    for (size_t i = 0; i < v->n; i++) {
        static const char *const keys[] = {"value", "synonyms", NULL};
        const kefu_ynode *it = v->items[i], *val = it, *syn = NULL;
        const char *s;
        if (it->type == KEFU_Y_MAP) {
            if ((rc = kefu_y_keys(ctx->diag, ctx->doc, it, keys)))
                return rc;
            if (!(val = kefu_ymap_get(it, "value")))
                return kefu_yerr(ctx->diag, ctx->doc, it, KEFU_E_MODEL,
                                 "a values entry needs 'value:'");
            syn = kefu_ymap_get(it, "synonyms");
            if (syn && (rc = kefu_y_expect(ctx->diag, ctx->doc, syn,
                                           KEFU_Y_SEQ, "synonyms")))
                return rc;
        }
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, val, &s, NULL)))
            return rc;
        if (!(e->canon[e->ncanon] = kefu_strdup(&set->mem, s)))
            return oom(ctx->diag);
        e->ncanon++;
        /* spellings are normalised in finish(), when the model's text
         * settings are known; until then norm holds the raw spelling */
        for (size_t k = 0; k <= (syn ? syn->n : 0); k++) {
            const kefu_ynode *sp = k == 0 ? val : syn->items[k - 1];
            struct kefu_entity_value *ev;
            size_t cap = e->nvalues;
            if ((rc = kefu_y_string(ctx->diag, ctx->doc, sp, &s, NULL)))
                return rc;
            if (kefu_grow(&set->mem, (void **)&e->values, &cap, e->nvalues + 1,
                          sizeof *e->values))
                return oom(ctx->diag);
            ev = &e->values[e->nvalues];
            memset(ev, 0, sizeof *ev);
            if (!(ev->norm = kefu_strdup(&set->mem, s)))
                return oom(ctx->diag);
            ev->norm_len = (uint32_t)strlen(s);
            ev->canon = (uint32_t)(e->ncanon - 1);
            e->nvalues++;
        }
    }
    return KEFU_OK;
}

static int parse_def(struct kefu_entity_set *set, struct kefu_entity_def *e,
                     const kefu_ynode *v, kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"regex", "values", "builtin",
                                       "normalize", "prefixes", "min_digits",
                                       "description", NULL};
    const kefu_ynode *re = kefu_ymap_get(v, "regex");
    const kefu_ynode *vals = kefu_ymap_get(v, "values");
    const kefu_ynode *bi = kefu_ymap_get(v, "builtin");
    const kefu_ynode *nm = kefu_ymap_get(v, "normalize");
    const builtin *b = NULL;
    int rc = kefu_y_keys(ctx->diag, ctx->doc, v, keys);
    if (rc)
        return rc;
    if (!!re + !!vals + !!bi != 1)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "entity '%s' needs exactly one of regex, values or "
                         "builtin", e->name);
    if ((kefu_ymap_get(v, "prefixes") || kefu_ymap_get(v, "min_digits")) &&
        !(bi && bi->type == KEFU_Y_SCALAR && !strcmp(bi->str, "order_id")))
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "prefixes and min_digits belong to builtin: order_id");
    if (bi) {
        const char *s;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, bi, &s, NULL)))
            return rc;
        for (size_t i = 0; i < KEFU_ARRAY_LEN(builtins); i++)
            if (!strcmp(builtins[i].name, s))
                b = &builtins[i];
        if (!b)
            return kefu_yerr(ctx->diag, ctx->doc, bi, KEFU_E_UNKNOWN,
                             "unknown builtin '%s' (expected one of: phone, "
                             "amount, date, email, order_id)", s);
        if (!(e->builtin = kefu_strdup(&set->mem, s)))
            return oom(ctx->diag);
        e->norm = b->norm;
        e->check = b->check;
        e->need.digit = b->need_digit;
        e->need.byte = b->need_byte;
        if (b->need_words &&
            (kefu_prefilter_build(&e->need.words, &set->mem, b->need_words,
                                  strlen(b->need_words),
                                  KEFU_PREFILTER_FOLDED) ||
             !e->need.words))
            return oom(ctx->diag);  /* the words are fixed: only OOM fails */
    }
    if (nm) {
        const char *s;
        size_t i;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, nm, &s, NULL)))
            return rc;
        for (i = 0; i < KEFU_ARRAY_LEN(norm_names); i++)
            if (!strcmp(norm_names[i].name, s))
                break;
        if (i == KEFU_ARRAY_LEN(norm_names))
            return kefu_yerr(ctx->diag, ctx->doc, nm, KEFU_E_UNKNOWN,
                             "unknown normalize '%s' (expected one of: text, "
                             "original, digits, upper, compact, phone, amount, "
                             "date)", s);
        e->norm = norm_names[i].norm;
    }
    if (vals) {
        e->kind = KEFU_ENT_VALUES;
        return parse_values(set, e, vals, ctx);
    }
    e->kind = KEFU_ENT_REGEX;
    if (re) {
        const char *s;
        if ((rc = kefu_pattern_compile_node(&e->code, set->gctx, ctx->diag,
                                            ctx->doc, re, 0, "regex")))
            return rc;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, re, &s, NULL)))
            return rc;
        if (!(e->source = kefu_strdup(&set->mem, s)))
            return oom(ctx->diag);
    } else {
        char msg[300];
        size_t off;
        kefu_buf src = {0};
        if (b->re) {
            rc = kefu_buf_append(&set->mem, &src, b->re, strlen(b->re) + 1)
                     ? oom(ctx->diag) : KEFU_OK;
        } else {
            rc = order_pattern(set, ctx, v, &src);
        }
        if (rc) {
            kefu_buf_release(&set->mem, &src);
            return rc;
        }
        e->source = src.data;
        rc = kefu_pattern_compile(&e->code, set->gctx, e->source, 0, &off, msg,
                                  sizeof msg);
        if (rc) /* only reachable when out of memory */
            return kefu_yerr(ctx->diag, ctx->doc, bi, rc,
                             "builtin '%s' does not compile: %s", b->name, msg);
    }
    /* on the normalised (case folded) text, like intent patterns */
    if (kefu_prefilter_build(&e->pf, &set->mem, e->source, strlen(e->source),
                             KEFU_PREFILTER_FOLDED))
        return oom(ctx->diag);
    value_groups(e);
    {
        uint32_t g = kefu_pattern_groups(e->code);
        if (g > set->max_groups)
            set->max_groups = g;
    }
    return KEFU_OK;
}

int kefu_entity_parse_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx)
{
    struct kefu_entity_set *set;
    int rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP, "entities");
    if (rc)
        return rc;
    if (!(set = set_get(m, ctx->diag)))
        return KEFU_E_NOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const kefu_ynode *k = n->keys[i], *v = n->items[i];
        struct kefu_entity_def *e;
        if (!valid_name(k->str))
            return kefu_yerr(ctx->diag, ctx->doc, k, KEFU_E_MODEL,
                             "entity names are letters, digits, '_', '-' "
                             "and '.'");
        if (kefu_entity_find(set, k->str) >= 0)
            return kefu_yerr(ctx->diag, ctx->doc, k, KEFU_E_EXISTS,
                             "entity '%s' is defined twice", k->str);
        if (v->type != KEFU_Y_MAP)
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                             "entity '%s' must be a mapping with regex, "
                             "values or builtin", k->str);
        if (kefu_grow(&set->mem, (void **)&set->defs, &set->cap, set->n + 1,
                      sizeof *set->defs))
            return oom(ctx->diag);
        e = &set->defs[set->n];
        memset(e, 0, sizeof *e);
        set->n++; /* released with the set even if parsing fails below */
        if (!(e->name = kefu_strdup(&set->mem, k->str)))
            return oom(ctx->diag);
        if ((rc = parse_def(set, e, v, ctx)))
            return rc;
    }
    return KEFU_OK;
}

/* ---- finish: normalise lookup spellings with the model's text settings */

static bool ascii_alnum(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

static int by_spelling(const void *a, const void *b)
{
    const struct kefu_entity_value *x = a, *y = b;
    size_t n = x->norm_len < y->norm_len ? x->norm_len : y->norm_len;
    int c = memcmp(x->norm, y->norm, n);
    if (c)
        return c;
    return x->norm_len < y->norm_len ? -1 : x->norm_len > y->norm_len;
}

/* Groups the sorted spellings by their first code point. */
static int index_first(const kefu_mem *mem, struct kefu_entity_def *e)
{
    size_t cap = 0;
    for (size_t i = 0; i < e->nvalues; i++) {
        size_t k = 0;
        uint32_t cp = kefu_utf8_next((const unsigned char *)e->values[i].norm,
                                     e->values[i].norm_len, &k);
        if (e->nfirst && e->first[e->nfirst - 1].cp == cp) {
            e->first[e->nfirst - 1].hi = (uint32_t)i + 1;
            continue;
        }
        if (kefu_grow(mem, (void **)&e->first, &cap, e->nfirst + 1,
                      sizeof *e->first))
            return KEFU_E_NOMEM;
        e->first[e->nfirst].cp = cp;
        e->first[e->nfirst].lo = (uint32_t)i;
        e->first[e->nfirst].hi = (uint32_t)i + 1;
        e->nfirst++;
    }
    for (int c = 0; c < 128; c++)
        e->ascii_first[c] = -1;
    for (size_t i = 0; i < e->nfirst && e->first[i].cp < 128; i++)
        e->ascii_first[e->first[i].cp] = (int16_t)i;
    return KEFU_OK;
}

static int normalise_values(struct kefu_model *m, struct kefu_entity_def *e,
                            kefu_text *t, kefu_diag *diag)
{
    const kefu_mem *mem = &m->entities->mem;
    for (size_t i = 0; i < e->nvalues; i++) {
        struct kefu_entity_value *v = &e->values[i];
        size_t len;
        const char *norm;
        char *copy;
        int rc = kefu_text_run(t, v->norm, v->norm_len);
        if (rc)
            return kefu_diag_msg(diag, rc, "entity '%s': value '%s': %s",
                                 e->name, v->norm, kefu_diag_message(&t->diag));
        norm = kefu_text_normalized(t, &len);
        if (len == 0)
            return kefu_diag_msg(diag, KEFU_E_MODEL,
                                 "entity '%s': value '%s' is empty once "
                                 "normalised", e->name, v->norm);
        if (!(copy = kefu_strndup(mem, norm, len)))
            return oom(diag);
        kefu_dealloc(mem, v->norm);
        v->norm = copy;
        v->norm_len = (uint32_t)len;
        v->word_start = ascii_alnum((unsigned char)copy[0]);
        v->word_end = ascii_alnum((unsigned char)copy[len - 1]);
    }
    /* byte order groups spellings by first character, and UTF-8 byte
     * order is code point order, so the groups come out sorted by cp */
    qsort(e->values, e->nvalues, sizeof *e->values, by_spelling);
    return index_first(mem, e) ? oom(diag) : KEFU_OK;
}

int kefu_entity_finish(struct kefu_model *m, kefu_diag *diag)
{
    struct kefu_entity_set *set = m->entities;
    kefu_text t;
    int rc = KEFU_OK;
    if (!set || set->finished)
        return KEFU_OK;
    kefu_model_text_init(m, &t);
    for (size_t i = 0; i < set->n && !rc; i++)
        if (set->defs[i].kind == KEFU_ENT_VALUES)
            rc = normalise_values(m, &set->defs[i], &t, diag);
    kefu_text_release(&t);
    set->finished = rc == KEFU_OK;
    return rc;
}

/* ---- extraction ---- */

void kefu_entity_scratch_free(const kefu_mem *mem,
                              struct kefu_entity_scratch *es)
{
    if (!es)
        return;
    pcre2_match_data_free(es->md);
    pcre2_match_context_free(es->mctx);
    kefu_dealloc(mem, es->hits);
    kefu_buf_release(mem, &es->values);
    kefu_buf_release(mem, &es->subject);
    kefu_dealloc(mem, es);
}

static int scratch_get(kefu_scratch *s, struct kefu_entity_scratch **out)
{
    const struct kefu_entity_set *set = s->model->entities;
    struct kefu_entity_scratch *es = s->entity;
    if (!es) {
        if (!(es = kefu_zalloc(&s->mem, sizeof *es)))
            return KEFU_E_NOMEM;
        s->entity = es;
    }
    /* both or neither: matching without the context would drop the limits */
    if (set && set->gctx && (!es->md || !es->mctx)) {
        if (!es->md)
            es->md = pcre2_match_data_create(set->max_groups + 1, set->gctx);
        if (!es->mctx)
            es->mctx = kefu_pattern_mctx(set->gctx);
        if (!es->md || !es->mctx)
            return KEFU_E_NOMEM;
    }
    es->n = 0;
    es->values.len = 0;
    *out = es;
    return KEFU_OK;
}

/* Index of the normalised code point starting at byte `off` (or the first
 * one after it); ncps when off is at the end. */
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

/* Records cps [a, b) as a hit of `entity`; the value is `fixed` when given,
 * else made from the match.  Returns 1, 0 when a check rejects it, or an
 * error. */
static int add_hit(kefu_scratch *s, struct kefu_entity_scratch *es,
                   uint32_t entity, size_t a, size_t b, const char *orig,
                   const char *fixed, bool bare)
{
    const struct kefu_entity_def *e = &s->model->entities->defs[entity];
    const kefu_text *t = &s->text;
    struct kefu_entity_hit *h;
    size_t off = es->values.len;
    size_t nb = b < t->ncps ? t->cps[b].norm_off : t->norm.len;
    kefu_span m = {t->norm.data + t->cps[a].norm_off, nb - t->cps[a].norm_off};
    uint32_t b0 = t->cps[a].byte_start, b1 = t->cps[b - 1].byte_end;
    int rc;
    /* a trailing folded space belongs to no entity */
    while (m.len && m.s[m.len - 1] == ' ' && b - 1 > a) {
        m.len--;
        b--;
        b1 = t->cps[b - 1].byte_end;
    }
    if (fixed)
        rc = kefu_buf_append(&s->mem, &es->values, fixed, strlen(fixed))
                 ? KEFU_E_NOMEM
                 : 1;
    else
        rc = kefu_entity_value(&s->mem, &es->values, e->norm, e->check, m,
                               orig + b0, b1 - b0, bare);
    if (rc <= 0)
        return rc;
    if (kefu_buf_putc(&s->mem, &es->values, '\0') ||
        kefu_grow(&s->mem, (void **)&es->hits, &es->cap, es->n + 1,
                  sizeof *es->hits))
        return KEFU_E_NOMEM;
    h = &es->hits[es->n++];
    h->entity = entity;
    h->value_off = (uint32_t)off;
    h->value_len = (uint32_t)(es->values.len - off - 1);
    h->cp_start = (uint32_t)a;
    h->cp_end = (uint32_t)b;
    h->byte_start = b0;
    h->byte_end = b1;
    h->char_start = t->cps[a].char_start;
    h->char_end = t->cps[b - 1].char_end;
    return 1;
}

static size_t next_char(const char *s, size_t len, size_t i)
{
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

static int run_regex(kefu_scratch *s, struct kefu_entity_scratch *es,
                     uint32_t idx, const char *orig)
{
    const struct kefu_entity_def *e = &s->model->entities->defs[idx];
    const char *norm = es->subject.data;
    size_t len = es->subject.len, start = 0;
    while (start <= len) {
        PCRE2_SIZE *ov;
        size_t a, b, ms, me;
        uint32_t k;
        int rc = kefu_pattern_match(e->code, e->pf, norm, len, start, es->md,
                                    es->mctx);
        if (rc == KEFU_E_LIMIT)
            return kefu_diag_msg(&s->diag, rc,
                                 "entity '%s': the pattern hit its match "
                                 "limit (catastrophic backtracking?)", e->name);
        if (rc < 0)
            return kefu_diag_msg(&s->diag, rc, "entity '%s': match failed: %s",
                                 e->name, kefu_strerror(rc));
        if (rc == 0)
            break;
        ov = pcre2_get_ovector_pointer(es->md);
        ms = ov[0];
        me = ov[1];
        /* with (?J) several groups may be called "value": take the first
         * that took part in the match */
        for (k = 0; k < e->nvalue_groups; k++) {
            uint32_t g = e->value_groups[k];
            if (g < pcre2_get_ovector_count(es->md) &&
                ov[2 * g] != PCRE2_UNSET) {
                ms = ov[2 * g];
                me = ov[2 * g + 1];
                break;
            }
        }
        a = cp_at(&s->text, ms);
        b = cp_at(&s->text, me);
        rc = a < b ? add_hit(s, es, idx, a, b, orig, NULL, k > 0) : 0;
        if (rc < 0)
            return kefu_diag_msg(&s->diag, rc, "out of memory");
        if (rc == 0 || ov[1] == ov[0]) /* rejected or empty: step one char */
            start = ov[0] < len ? next_char(norm, len, ov[0]) : len + 1;
        else
            start = ov[1];
    }
    return KEFU_OK;
}

static const struct kefu_entity_first *
first_of(const struct kefu_entity_def *e, uint32_t cp)
{
    size_t lo = 0, hi = e->nfirst;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e->first[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->nfirst && e->first[lo].cp == cp ? &e->first[lo] : NULL;
}

/* Every occurrence of every spelling: at each code point of the message,
 * the spellings that start with it (overlaps are resolved later). */
static int run_values(kefu_scratch *s, struct kefu_entity_scratch *es,
                      uint32_t idx, const char *orig)
{
    const struct kefu_entity_def *e = &s->model->entities->defs[idx];
    const kefu_text *t = &s->text;
    const char *norm = t->norm.data;
    size_t len = t->norm.len;
    for (size_t i = 0; i < t->ncps; i++) {
        const uint32_t cp = t->cps[i].cp;
        const struct kefu_entity_first *f;
        size_t at = t->cps[i].norm_off;
        if (cp < 128) {
            /* spellings that start with a Latin letter or digit need a
             * word boundary before them: none starts inside a word */
            if (e->ascii_first[cp] < 0 ||
                (ascii_alnum((unsigned char)cp) && at > 0 &&
                 ascii_alnum((unsigned char)norm[at - 1])))
                continue;
            f = &e->first[e->ascii_first[cp]];
        } else if (!(f = first_of(e, cp))) {
            continue;
        }
        for (uint32_t k = f->lo; k < f->hi; k++) {
            const struct kefu_entity_value *v = &e->values[k];
            size_t end = at + v->norm_len;
            int rc;
            if (end > len || memcmp(norm + at, v->norm, v->norm_len))
                continue;
            if ((v->word_start && at > 0 && ascii_alnum((unsigned char)norm[at - 1])) ||
                (v->word_end && end < len && ascii_alnum((unsigned char)norm[end])))
                continue;
            /* the value is the canonical entry, not the spelling, unless
             * the entity asks for another normalisation */
            rc = add_hit(s, es, idx, i, cp_at(t, end), orig,
                         e->norm == KEFU_NORM_TEXT ? e->canon[v->canon] : NULL,
                         false);
            if (rc < 0)
                return kefu_diag_msg(&s->diag, rc, "out of memory");
        }
    }
    return KEFU_OK;
}

static int by_position(const void *pa, const void *pb)
{
    const struct kefu_entity_hit *a = pa, *b = pb;
    if (a->cp_start != b->cp_start)
        return a->cp_start < b->cp_start ? -1 : 1;
    if (a->cp_end != b->cp_end)
        return a->cp_end > b->cp_end ? -1 : 1;
    if (a->entity != b->entity)
        return a->entity < b->entity ? -1 : 1;
    return a->value_off < b->value_off ? -1 : a->value_off > b->value_off;
}

static void resolve_overlaps(struct kefu_entity_scratch *es)
{
    size_t kept = 0;
    uint32_t end = 0;
    if (es->n > 1)
        qsort(es->hits, es->n, sizeof *es->hits, by_position);
    for (size_t i = 0; i < es->n; i++) {
        if (kept && es->hits[i].cp_start < end)
            continue;
        es->hits[kept++] = es->hits[i];
        end = es->hits[i].cp_end;
    }
    es->n = kept;
}

int kefu_entity_run(kefu_scratch *s, const char *text, size_t len)
{
    int digits = -1;
    const struct kefu_entity_set *set = s->model->entities;
    struct kefu_entity_scratch *es;
    int rc = scratch_get(s, &es);
    KEFU_UNUSED(len);
    if (rc)
        return kefu_diag_msg(&s->diag, rc, "out of memory");
    if (!set || s->text.ncps == 0)
        return KEFU_OK;
    if (kefu_pattern_subject(&s->mem, &es->subject, s->text.norm.data,
                             s->text.norm.len))
        return kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < set->n && !rc; i++) {
        const struct kefu_entity_def *e = &set->defs[i];
        if (e->kind == KEFU_ENT_VALUES)
            rc = run_values(s, es, i, text);
        else if (kefu_pattern_may_match(&e->need, s->text.norm.data,
                                         s->text.norm.len, &digits))
            rc = run_regex(s, es, i, text);
    }
    if (rc) {
        es->n = 0;
        es->values.len = 0;
        return rc;
    }
    resolve_overlaps(es);
    return KEFU_OK;
}

bool kefu_entity_found(const kefu_scratch *s, int index)
{
    if (!s || !s->entity || index < 0)
        return false;
    for (size_t i = 0; i < s->entity->n; i++)
        if (s->entity->hits[i].entity == (uint32_t)index)
            return true;
    return false;
}

/* ---- public API ---- */

KEFU_API int kefu_entities_extract(kefu_scratch *s, const char *text,
                                   size_t len)
{
    int rc;
    if (!s)
        return KEFU_E_ARG;
    if (s->entity) {
        s->entity->n = 0;
        s->entity->values.len = 0;
    }
    if (!text && len)
        return kefu_diag_msg(&s->diag, KEFU_E_ARG, "text is NULL");
    if ((rc = kefu_scratch_text(s, text ? text : "", len)))
        return rc;
    return kefu_entity_run(s, text ? text : "", len);
}

KEFU_API size_t kefu_entity_count(const kefu_scratch *s)
{
    return s && s->entity ? s->entity->n : 0;
}

KEFU_API int kefu_entity_get(const kefu_scratch *s, size_t i, kefu_entity *out)
{
    const struct kefu_entity_hit *h;
    if (!s || !out || out->size < sizeof(kefu_entity) || !s->entity ||
        i >= s->entity->n)
        return KEFU_E_ARG;
    h = &s->entity->hits[i];
    out->index = h->entity;
    out->name = s->model->entities->defs[h->entity].name;
    out->value = s->entity->values.data + h->value_off;
    out->value_len = h->value_len;
    out->byte_start = h->byte_start;
    out->byte_end = h->byte_end;
    out->char_start = h->char_start;
    out->char_end = h->char_end;
    return KEFU_OK;
}

KEFU_API size_t kefu_model_entity_count(const kefu_model *m)
{
    return m && m->entities ? m->entities->n : 0;
}

KEFU_API const char *kefu_model_entity_name(const kefu_model *m, size_t i)
{
    if (!m || !m->entities || i >= m->entities->n)
        return NULL;
    return m->entities->defs[i].name;
}
