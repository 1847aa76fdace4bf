/*
 * rule_set.c - rule sets: the `facts:` and `rules:` sections of a model
 * (and of stand-alone rule files for hot swap), building an immutable,
 * reference-counted kefu_ruleset from them, and the slot that swaps one in
 * atomically.
 *
 * Sections are parsed while the YAML document is alive; expressions are
 * compiled in the finish step, once every `facts:` of every included file
 * is known.  Each expression keeps a map from its bytes to file, line and
 * column so that errors found then still point inside the expression.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "rules.h"

/* ---- what the sections accumulate ---- */

typedef struct pending_rule {
    char *name;
    int32_t order;
    uint32_t seq;
    char *when;
    size_t when_len;
    kefu_srcmap map;
    kefu_raction *acts;
    size_t nacts, capacts;
    bool stop;
} pending_rule;

typedef struct pending_fact {
    char *name;
    uint8_t type;
} pending_fact;

typedef struct rule_builder {
    kefu_mem mem;
    uint32_t mode;
    pending_rule *rules;
    size_t nrules, caprules;
    pending_fact *facts;
    size_t nfacts, capfacts;
    char **files;           /* interned file names for positions */
    size_t nfiles, capfiles;
} rule_builder;

static void action_release(const kefu_mem *mem, kefu_raction *a)
{
    kefu_dealloc(mem, a->queue);
    kefu_dealloc(mem, a->skill);
    kefu_dealloc(mem, a->tier);
    kefu_dealloc(mem, a->arg);
}

static void builder_free(rule_builder *b)
{
    kefu_mem mem;
    if (!b)
        return;
    mem = b->mem;
    for (size_t i = 0; i < b->nrules; i++) {
        pending_rule *r = &b->rules[i];
        kefu_dealloc(&mem, r->name);
        kefu_dealloc(&mem, r->when);
        kefu_dealloc(&mem, r->map.seg);
        for (size_t j = 0; j < r->nacts; j++)
            action_release(&mem, &r->acts[j]);
        kefu_dealloc(&mem, r->acts);
    }
    kefu_dealloc(&mem, b->rules);
    for (size_t i = 0; i < b->nfacts; i++)
        kefu_dealloc(&mem, b->facts[i].name);
    kefu_dealloc(&mem, b->facts);
    for (size_t i = 0; i < b->nfiles; i++)
        kefu_dealloc(&mem, b->files[i]);
    kefu_dealloc(&mem, b->files);
    kefu_dealloc(&mem, b);
}

static rule_builder *builder_new(const kefu_mem *mem)
{
    rule_builder *b = kefu_zalloc(mem, sizeof *b);
    if (b)
        b->mem = *mem;
    return b;
}

static const char *intern_file(rule_builder *b, const char *file)
{
    if (!file)
        file = "";
    for (size_t i = 0; i < b->nfiles; i++)
        if (!strcmp(b->files[i], file))
            return b->files[i];
    if (kefu_grow(&b->mem, (void **)&b->files, &b->capfiles, b->nfiles + 1,
                  sizeof *b->files) ||
        !(b->files[b->nfiles] = kefu_strdup(&b->mem, file)))
        return NULL;
    return b->files[b->nfiles++];
}

/* ---- source maps of YAML scalars ---- */

static int add_seg(const kefu_mem *mem, kefu_srcmap *m, size_t *cap,
                   uint32_t off, uint32_t line, uint32_t col)
{
    if (kefu_grow(mem, (void **)&m->seg, cap, m->nseg + 1, sizeof *m->seg))
        return KEFU_E_NOMEM;
    m->seg[m->nseg].off = off;
    m->seg[m->nseg].line = line;
    m->seg[m->nseg].col = col;
    m->nseg++;
    return KEFU_OK;
}

static uint32_t chars_between(const char *s, size_t a, size_t b)
{
    uint32_t c = 0;
    for (size_t i = a; i < b; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/*
 * Plain and single-line quoted scalars start at (value_line, value_column).
 * For block scalars and scalars folded over several lines, walk the source
 * lines and the value together: each source line's content (after its
 * indentation) appears in the value, separated by a newline or a space.
 */
int kefu_srcmap_build(kefu_srcmap *m, const kefu_mem *mem,
                      const kefu_ydoc *doc, const kefu_ynode *n)
{
    const char *src = doc->src, *str = n->str;
    size_t slen = doc->src_len, len = n->len, cap = 0;
    size_t p, q = 0, ls;
    uint32_t line = n->line;
    bool first = true;
    m->seg = NULL;
    m->nseg = 0;
    if (!src || n->offset == UINT64_MAX || n->offset >= slen) {
        if (n->value_line)
            return add_seg(mem, m, &cap, 0, n->value_line, n->value_column);
        return add_seg(mem, m, &cap, 0, n->line, n->column);
    }
    p = (size_t)n->offset;
    if (n->value_line && p + (n->quoted ? 1 : 0) + len <= slen &&
        !memcmp(src + p + (n->quoted ? 1 : 0), str, len) &&
        !memchr(str, '\n', len))
        return add_seg(mem, m, &cap, 0, n->value_line, n->value_column);
    if (src[p] == '|' || src[p] == '>') {   /* block: content is below */
        while (p < slen && src[p] != '\n')
            p++;
        p++;
        line++;
        first = false;
    } else if (n->quoted) {
        p++;
    }
    for (ls = p; ls > 0 && src[ls - 1] != '\n'; ls--)
        ;
    while (q < len && p < slen && m->nseg < 100000) {
        size_t eol = p;
        while (eol < slen && src[eol] != '\n')
            eol++;
        if (!first) {
            while (p < eol && (src[p] == ' ' || src[p] == '\t'))
                p++;
            while (q < len && (str[q] == ' ' || str[q] == '\t'))
                q++;
        }
        if (p == eol || (eol > p && src[p] == '\r' && p + 1 == eol)) {
            if (q < len && str[q] == '\n')   /* blank line */
                q++;
        } else {
            if (add_seg(mem, m, &cap, (uint32_t)q, line,
                        chars_between(src, ls, p) + 1))
                return KEFU_E_NOMEM;
            while (p < eol && q < len && src[p] == str[q]) {
                p++;
                q++;
            }
            if (q < len && (str[q] == '\n' || str[q] == ' '))
                q++;
        }
        first = false;
        p = eol + 1;
        ls = p;
        line++;
    }
    if (!m->nseg)
        return add_seg(mem, m, &cap, 0, n->line, n->column);
    return KEFU_OK;
}

/* ---- facts: section ---- */

static int parse_type(const char *s)
{
    static const struct {
        const char *name;
        int type;
    } types[] = {{"bool", KEFU_T_BOOL},         {"number", KEFU_T_NUMBER},
                 {"string", KEFU_T_STRING},     {"duration", KEFU_T_DURATION},
                 {"list", KEFU_T_STRLIST},      {"list<string>", KEFU_T_STRLIST},
                 {"list<number>", KEFU_T_NUMLIST}};
    for (size_t i = 0; i < KEFU_ARRAY_LEN(types); i++)
        if (!strcmp(types[i].name, s))
            return types[i].type;
    return 0;
}

static bool valid_fact_name(const char *s)
{
    bool start = true;
    if (!*s)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (start && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return false;
        if (c == '.') {
            start = true;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (c >= '0' && c <= '9')))
            return false;
        start = false;
    }
    return !start;
}

static int add_fact(rule_builder *b, const char *name, int type,
                    kefu_load_ctx *ctx, const kefu_ynode *at)
{
    for (size_t i = 0; i < b->nfacts; i++)
        if (!strcmp(b->facts[i].name, name)) {
            if (b->facts[i].type == type)
                return KEFU_OK;
            return kefu_yerr(ctx ? ctx->diag : NULL, ctx ? ctx->doc : NULL, at,
                             KEFU_E_TYPE,
                             "fact '%s' is already declared as %s", name,
                             kefu_type_name(b->facts[i].type));
        }
    if (kefu_grow(&b->mem, (void **)&b->facts, &b->capfacts, b->nfacts + 1,
                  sizeof *b->facts) ||
        !(b->facts[b->nfacts].name = kefu_strdup(&b->mem, name)))
        return kefu_diag_msg(ctx ? ctx->diag : NULL, KEFU_E_NOMEM,
                             "out of memory");
    b->facts[b->nfacts++].type = (uint8_t)type;
    return KEFU_OK;
}

static int parse_facts(rule_builder *b, const kefu_ynode *n, kefu_load_ctx *ctx)
{
    static const char *const reserved[] = {"emotion.", "session.", "customer.",
                                           "entities."};
    int rc;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP,
                            "facts (a mapping of name: type)")))
        return rc;
    for (size_t i = 0; i < n->n; i++) {
        const kefu_ynode *k = n->keys[i], *v = n->items[i];
        int type;
        if (!valid_fact_name(k->str))
            return kefu_yerr(ctx->diag, ctx->doc, k, KEFU_E_MODEL,
                             "'%s' is not a fact name (letters, digits, _ "
                             "and dots)", k->str);
        if (kefu_ruleset_fact_lookup(NULL, k->str, k->len) >= 0)
            return kefu_yerr(ctx->diag, ctx->doc, k, KEFU_E_EXISTS,
                             "'%s' is a built-in fact", k->str);
        for (size_t j = 0; j < KEFU_ARRAY_LEN(reserved); j++)
            if (!strncmp(k->str, reserved[j], strlen(reserved[j])))
                return kefu_yerr(ctx->diag, ctx->doc, k, KEFU_E_MODEL,
                                 "the prefix '%s' is reserved for built-in "
                                 "facts", reserved[j]);
        if (v->type != KEFU_Y_SCALAR || !(type = parse_type(v->str)))
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_TYPE,
                             "unknown fact type%s%s (bool, number, string, "
                             "duration, list<string>, list<number>)",
                             v->type == KEFU_Y_SCALAR ? " " : "",
                             v->type == KEFU_Y_SCALAR ? v->str : "");
        if ((rc = add_fact(b, k->str, type, ctx, k)))
            return rc;
    }
    return KEFU_OK;
}

/* ---- rules: section ---- */

static int dup_or_empty(const kefu_mem *mem, char **out, const char *s)
{
    *out = kefu_strdup(mem, s ? s : "");
    return *out ? KEFU_OK : KEFU_E_NOMEM;
}

static int new_action(rule_builder *b, pending_rule *r, uint32_t type,
                      kefu_raction **out)
{
    kefu_raction *a;
    if (kefu_grow(&b->mem, (void **)&r->acts, &r->capacts, r->nacts + 1,
                  sizeof *r->acts))
        return KEFU_E_NOMEM;
    a = &r->acts[r->nacts];
    memset(a, 0, sizeof *a);
    a->type = type;
    if (dup_or_empty(&b->mem, &a->queue, NULL) ||
        dup_or_empty(&b->mem, &a->skill, NULL) ||
        dup_or_empty(&b->mem, &a->tier, NULL) ||
        dup_or_empty(&b->mem, &a->arg, NULL)) {
        action_release(&b->mem, a);
        return KEFU_E_NOMEM;
    }
    r->nacts++;
    *out = a;
    return KEFU_OK;
}

static int set_str(rule_builder *b, char **dst, const kefu_ynode *v,
                   kefu_load_ctx *ctx)
{
    const char *s;
    int rc = kefu_y_string(ctx->diag, ctx->doc, v, &s, NULL);
    if (rc)
        return rc;
    kefu_dealloc(&b->mem, *dst);
    if (!(*dst = kefu_strdup(&b->mem, s)))
        return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    return KEFU_OK;
}

#define NOMEM(ctx) kefu_diag_msg((ctx)->diag, KEFU_E_NOMEM, "out of memory")

static int parse_escalate(rule_builder *b, pending_rule *r, const kefu_ynode *v,
                          kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"queue", "skill", "tier", NULL};
    kefu_raction *a;
    const kefu_ynode *x;
    int rc;
    if (v->type == KEFU_Y_SCALAR) {
        if (new_action(b, r, KEFU_ACTION_ESCALATE, &a))
            return NOMEM(ctx);
        return set_str(b, &a->queue, v, ctx);
    }
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, v, keys)))
        return rc;
    if (v->n == 0)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "escalate needs a queue, a skill or a tier");
    if (new_action(b, r, KEFU_ACTION_ESCALATE, &a))
        return NOMEM(ctx);
    if ((x = kefu_ymap_get(v, "queue")) && (rc = set_str(b, &a->queue, x, ctx)))
        return rc;
    if ((x = kefu_ymap_get(v, "skill")) && (rc = set_str(b, &a->skill, x, ctx)))
        return rc;
    if ((x = kefu_ymap_get(v, "tier")) && (rc = set_str(b, &a->tier, x, ctx)))
        return rc;
    return KEFU_OK;
}

static int parse_priority(rule_builder *b, pending_rule *r, const kefu_ynode *v,
                          kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"set", "raise", NULL};
    kefu_raction *a;
    int64_t x;
    int rc;
    if (v->type == KEFU_Y_SCALAR) {
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, v, 0, 1000, &x)))
            return rc;
        if (new_action(b, r, KEFU_ACTION_PRIORITY, &a))
            return NOMEM(ctx);
        a->value = (int32_t)x;
        return KEFU_OK;
    }
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, v, keys)))
        return rc;
    if (v->n != 1)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "priority takes one of 'set: N' or 'raise: N'");
    if (!strcmp(v->keys[0]->str, "set"))
        rc = kefu_y_int(ctx->diag, ctx->doc, v->items[0], 0, 1000, &x);
    else
        rc = kefu_y_int(ctx->diag, ctx->doc, v->items[0], -1000, 1000, &x);
    if (rc)
        return rc;
    if (new_action(b, r, KEFU_ACTION_PRIORITY, &a))
        return NOMEM(ctx);
    a->value = (int32_t)x;
    a->raise = !strcmp(v->keys[0]->str, "raise");
    return KEFU_OK;
}

static int parse_then(rule_builder *b, pending_rule *r, const kefu_ynode *n,
                      kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"escalate", "priority", "suggest",
                                       "flag",     "lock",     "tag",
                                       "stop",     NULL};
    int rc;
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
    if (n->n == 0)
        return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                         "'then' needs at least one action");
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->str;
        const kefu_ynode *v = n->items[i];
        kefu_raction *a;
        bool flag;
        if (!strcmp(k, "escalate")) {
            rc = parse_escalate(b, r, v, ctx);
        } else if (!strcmp(k, "priority")) {
            rc = parse_priority(b, r, v, ctx);
        } else if (!strcmp(k, "suggest")) {
            if (new_action(b, r, KEFU_ACTION_SUGGEST, &a))
                return NOMEM(ctx);
            rc = set_str(b, &a->arg, v, ctx);
        } else if (!strcmp(k, "flag")) {
            if (v->type == KEFU_Y_SCALAR && !v->quoted &&
                !kefu_y_bool(NULL, ctx->doc, v, &flag)) {
                if (!flag)
                    continue;
                if (new_action(b, r, KEFU_ACTION_FLAG, &a))
                    return NOMEM(ctx);
                kefu_dealloc(&b->mem, a->arg);
                if (!(a->arg = kefu_strdup(&b->mem, "quality_review")))
                    return NOMEM(ctx);
                continue;
            }
            if (new_action(b, r, KEFU_ACTION_FLAG, &a))
                return NOMEM(ctx);
            rc = set_str(b, &a->arg, v, ctx);
        } else if (!strcmp(k, "lock")) {
            if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &flag)))
                return rc;
            if (flag && new_action(b, r, KEFU_ACTION_LOCK, &a))
                return NOMEM(ctx);
        } else if (!strcmp(k, "tag")) {
            if (v->type == KEFU_Y_SEQ) {
                for (size_t j = 0; j < v->n && !rc; j++) {
                    if (new_action(b, r, KEFU_ACTION_TAG, &a))
                        return NOMEM(ctx);
                    rc = set_str(b, &a->arg, v->items[j], ctx);
                }
            } else {
                if (new_action(b, r, KEFU_ACTION_TAG, &a))
                    return NOMEM(ctx);
                rc = set_str(b, &a->arg, v, ctx);
            }
        } else {   /* stop */
            if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &flag)))
                return rc;
            if (flag) {
                r->stop = true;
                if (new_action(b, r, KEFU_ACTION_STOP, &a))
                    return NOMEM(ctx);
            }
        }
        if (rc)
            return rc;
    }
    return KEFU_OK;
}

static int parse_rule(rule_builder *b, const kefu_ynode *n, kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"name", "priority", "when", "then",
                                       "description", "enabled", NULL};
    const kefu_ynode *name = kefu_ymap_get(n, "name"),
                     *when = kefu_ymap_get(n, "when"),
                     *then = kefu_ymap_get(n, "then"), *v;
    pending_rule *r;
    const char *s;
    int rc;
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
    if (!name || !when || !then)
        return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                         "a rule needs 'name', 'when' and 'then'");
    if ((rc = kefu_y_string(ctx->diag, ctx->doc, name, &s, NULL)))
        return rc;
    for (size_t i = 0; i < b->nrules; i++)
        if (!strcmp(b->rules[i].name, s))
            return kefu_yerr(ctx->diag, ctx->doc, name, KEFU_E_EXISTS,
                             "a rule named '%s' already exists", s);
    if ((v = kefu_ymap_get(n, "enabled"))) {
        bool on;
        if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &on)))
            return rc;
        if (!on)
            return KEFU_OK;
    }
    if ((v = kefu_ymap_get(n, "description")) && v->type != KEFU_Y_SCALAR)
        return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                         "description is a string");
    if (when->type != KEFU_Y_SCALAR)
        return kefu_yerr(ctx->diag, ctx->doc, when, KEFU_E_MODEL,
                         "'when' is an expression (a string)");
    if (strlen(when->str) != when->len)
        return kefu_yerr(ctx->diag, ctx->doc, when, KEFU_E_SYNTAX,
                         "expression contains a NUL byte");
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, then, KEFU_Y_MAP,
                            "'then' (a mapping of actions)")))
        return rc;
    if (b->nrules >= KEFU_RULE_MAX_RULES)
        return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_LIMIT,
                         "more than %d rules", KEFU_RULE_MAX_RULES);
    if (kefu_grow(&b->mem, (void **)&b->rules, &b->caprules, b->nrules + 1,
                  sizeof *b->rules))
        return NOMEM(ctx);
    r = &b->rules[b->nrules];
    memset(r, 0, sizeof *r);
    r->seq = (uint32_t)b->nrules;
    b->nrules++;   /* owned by the builder from here on */
    if (!(r->name = kefu_strdup(&b->mem, s)) ||
        !(r->when = kefu_strndup(&b->mem, when->str, when->len)))
        return NOMEM(ctx);
    r->when_len = when->len;
    if (kefu_srcmap_build(&r->map, &b->mem, ctx->doc, when) ||
        !(r->map.file = intern_file(b, ctx->doc->file)))
        return NOMEM(ctx);
    if ((v = kefu_ymap_get(n, "priority"))) {
        int64_t x;
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, v, -1000000, 1000000, &x)))
            return rc;
        r->order = (int32_t)x;
    }
    return parse_then(b, r, then, ctx);
}

static int parse_rules(rule_builder *b, const kefu_ynode *n, kefu_load_ctx *ctx)
{
    const kefu_ynode *list = n;
    int rc;
    if (n->type == KEFU_Y_MAP) {
        static const char *const keys[] = {"mode", "list", NULL};
        const kefu_ynode *mode = kefu_ymap_get(n, "mode");
        if ((rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
            return rc;
        if (mode) {
            if (mode->type == KEFU_Y_SCALAR && !strcmp(mode->str, "all"))
                b->mode = KEFU_RULES_ALL;
            else if (mode->type == KEFU_Y_SCALAR && !strcmp(mode->str, "first"))
                b->mode = KEFU_RULES_FIRST;
            else
                return kefu_yerr(ctx->diag, ctx->doc, mode, KEFU_E_MODEL,
                                 "mode is 'all' or 'first'");
        }
        list = kefu_ymap_get(n, "list");
        if (!list)
            return KEFU_OK;
    }
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, list, KEFU_Y_SEQ,
                            "rules (a list of rules)")))
        return rc;
    for (size_t i = 0; i < list->n; i++) {
        if ((rc = kefu_y_expect(ctx->diag, ctx->doc, list->items[i], KEFU_Y_MAP,
                                "a rule (a mapping)")))
            return rc;
        if ((rc = parse_rule(b, list->items[i], ctx)))
            return rc;
    }
    return KEFU_OK;
}

/* ---- building the rule set ---- */

static void ruleset_destroy(kefu_ruleset *rs)
{
    kefu_mem mem = rs->mem;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        kefu_dealloc(&mem, rs->rules[i].name);
        kefu_dealloc(&mem, rs->rules[i].when);
    }
    kefu_dealloc(&mem, rs->rules);
    kefu_dealloc(&mem, rs->code);
    kefu_dealloc(&mem, rs->nums);
    for (size_t i = 0; i < rs->nstrs; i++)
        kefu_dealloc(&mem, (void *)rs->strs[i].str);
    kefu_dealloc(&mem, rs->strs);
    kefu_dealloc(&mem, rs->lists);
    for (size_t i = 0; i < rs->nlitems; i++)
        kefu_dealloc(&mem, (void *)rs->litems[i].str);
    kefu_dealloc(&mem, rs->litems);
    for (size_t i = 0; i < rs->nre; i++) {
        pcre2_code_free(rs->re[i]);
        kefu_prefilter_free(&mem, rs->re_pf[i]);
    }
    kefu_dealloc(&mem, rs->re);
    kefu_dealloc(&mem, rs->re_jit);
    kefu_dealloc(&mem, rs->re_pf);
    pcre2_match_context_free(rs->mctx);
    pcre2_general_context_free(rs->gctx);
    kefu_dealloc(&mem, rs->tnodes);
    for (size_t i = 0; i < rs->nactions; i++)
        action_release(&mem, &rs->actions[i]);
    kefu_dealloc(&mem, rs->actions);
    for (uint32_t i = 0; i < rs->ndecls; i++)
        kefu_dealloc(&mem, (void *)rs->decls[i].name);
    kefu_dealloc(&mem, rs->decls);
    kefu_rflat_release(rs);
    kefu_dealloc(&mem, rs);
}

KEFU_API kefu_ruleset *kefu_ruleset_ref(kefu_ruleset *rs)
{
    if (rs)
        atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
    return rs;
}

KEFU_API void kefu_ruleset_free(kefu_ruleset *rs)
{
    if (rs && atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) == 1)
        ruleset_destroy(rs);
}

static int64_t add_decl(kefu_ruleset *rs, const char *name, size_t len,
                        int type)
{
    char *copy;
    if (kefu_grow(&rs->mem, (void **)&rs->decls, &rs->capdecls, rs->ndecls + 1,
                  sizeof *rs->decls) ||
        !(copy = kefu_strndup(&rs->mem, name, len)))
        return -1;
    rs->decls[rs->ndecls].name = copy;
    rs->decls[rs->ndecls].name_len = (uint32_t)len;
    rs->decls[rs->ndecls].type = (uint8_t)type;
    return KEFU_F_BUILTIN_COUNT + rs->ndecls++;
}

int64_t kefu_ruleset_entity_fact(kefu_ruleset *rs, const char *name, size_t len)
{
    return add_decl(rs, name, len, KEFU_T_STRING);
}

static int by_order(const void *a, const void *b)
{
    const kefu_rule *x = a, *y = b;
    if (x->order != y->order)
        return x->order > y->order ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int build(kefu_ruleset **out, rule_builder *b, kefu_diag *diag)
{
    kefu_ruleset *rs = kefu_zalloc(&b->mem, sizeof *rs);
    uint64_t h = 0;
    int rc = KEFU_OK;
    *out = NULL;
    if (!rs)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    rs->mem = b->mem;
    atomic_init(&rs->refs, 1);
    rs->mode = b->mode;
    for (size_t i = 0; i < b->nfacts; i++)
        if (add_decl(rs, b->facts[i].name, strlen(b->facts[i].name),
                     b->facts[i].type) < 0) {
            ruleset_destroy(rs);
            return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
        }
    rs->nhost = rs->ndecls;
    if (b->nrules && !(rs->rules = kefu_alloc_array(&rs->mem, b->nrules,
                                                   sizeof *rs->rules))) {
        ruleset_destroy(rs);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < b->nrules && !rc; i++) {
        pending_rule *p = &b->rules[i];
        kefu_rule *r = &rs->rules[rs->nrules];
        kefu_rcomp c = {rs, &p->map, diag};
        memset(r, 0, sizeof *r);
        r->name = p->name;
        r->when = p->when;
        p->name = p->when = NULL;   /* moved */
        r->when_len = (uint32_t)p->when_len;
        r->order = p->order;
        r->seq = p->seq;
        r->stop = p->stop;
        rs->nrules++;
        if ((rc = kefu_rexpr_compile(&c, r, r->when, r->when_len)))
            break;
        if (kefu_grow(&rs->mem, (void **)&rs->actions, &rs->capactions,
                      rs->nactions + p->nacts + 1, sizeof *rs->actions)) {
            rc = kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
            break;
        }
        r->act_first = (uint32_t)rs->nactions;
        r->act_n = (uint32_t)p->nacts;
        memcpy(rs->actions + rs->nactions, p->acts, p->nacts * sizeof *p->acts);
        rs->nactions += p->nacts;
        p->nacts = 0;   /* moved */
        rs->max_trace += r->tnode_n;
    }
    if (rc) {
        ruleset_destroy(rs);
        return rc;
    }
    if (rs->nrules > 1)
        qsort(rs->rules, rs->nrules, sizeof *rs->rules, by_order);
    if (kefu_rflat_finish(rs)) {
        ruleset_destroy(rs);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < rs->ndecls; i++) {
        h = kefu_hash64(rs->decls[i].name, rs->decls[i].name_len, h);
        h = kefu_hash64(&rs->decls[i].type, 1, h);
    }
    rs->schema_hash = h ^ rs->ndecls;
    *out = rs;
    return KEFU_OK;
}

/* ---- model sections ---- */

static rule_builder *model_builder(struct kefu_model *m)
{
    if (!m->building[KEFU_BUILD_RULES])
        m->building[KEFU_BUILD_RULES] = builder_new(&m->mem);
    return m->building[KEFU_BUILD_RULES];
}

int kefu_rules_parse_section(struct kefu_model *m, const kefu_ynode *n,
                             kefu_load_ctx *ctx)
{
    rule_builder *b = model_builder(m);
    if (!b)
        return NOMEM(ctx);
    return parse_rules(b, n, ctx);
}

int kefu_facts_parse_section(struct kefu_model *m, const kefu_ynode *n,
                             kefu_load_ctx *ctx)
{
    rule_builder *b = model_builder(m);
    if (!b)
        return NOMEM(ctx);
    return parse_facts(b, n, ctx);
}

int kefu_rules_finish(struct kefu_model *m, kefu_diag *diag)
{
    rule_builder *b = model_builder(m);
    int rc;
    if (!b)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    rc = build(&m->rules, b, diag);
    builder_free(b);
    m->building[KEFU_BUILD_RULES] = NULL;
    return rc;
}

void kefu_rules_release(struct kefu_model *m)
{
    builder_free(m->building[KEFU_BUILD_RULES]);
    m->building[KEFU_BUILD_RULES] = NULL;
    kefu_ruleset_free(m->rules);
    m->rules = NULL;
}

/* ---- public ---- */

KEFU_API kefu_ruleset *kefu_model_rules(const kefu_model *model)
{
    return model ? model->rules : NULL;
}

KEFU_API int kefu_ruleset_compile(kefu_ruleset **out, const kefu_model *model,
                                  const char *yaml, size_t len,
                                  const char *name, const kefu_allocator *alloc,
                                  kefu_diag *diag)
{
    static const char *const keys[] = {"kefu", "name", "facts", "rules", NULL};
    kefu_mem mem;
    kefu_ydoc doc;
    kefu_load_ctx ctx;
    rule_builder *b;
    const kefu_ynode *v;
    int rc;
    if (diag)
        kefu_diag_clear(diag);
    if (!out)
        return kefu_diag_msg(diag, KEFU_E_ARG, "output is NULL");
    *out = NULL;
    if (!model || (!yaml && len))
        return kefu_diag_msg(diag, KEFU_E_ARG, "model or text is NULL");
    kefu_mem_init(&mem, alloc);
    if (!(b = builder_new(&mem)))
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    b->mode = model->rules ? model->rules->mode : KEFU_RULES_ALL;
    for (uint32_t i = 0; model->rules && i < model->rules->nhost; i++)
        if ((rc = add_fact(b, model->rules->decls[i].name,
                           model->rules->decls[i].type, NULL, NULL))) {
            builder_free(b);
            return kefu_diag_msg(diag, rc, "out of memory");
        }
    rc = kefu_ydoc_parse(&doc, yaml ? yaml : "", len, name ? name : "", alloc,
                         diag);
    if (rc) {
        builder_free(b);
        return rc;
    }
    ctx.doc = &doc;
    ctx.diag = diag;
    ctx.base_dir = NULL;
    ctx.depth = 0;
    if (!doc.root || doc.root->type != KEFU_Y_MAP) {
        rc = doc.root ? kefu_yerr(diag, &doc, doc.root, KEFU_E_MODEL,
                                  "a rule file is a mapping with 'rules:'")
                      : kefu_diag_setf(diag, KEFU_E_MODEL, name, 1, 1, 0,
                                       "empty rule file");
    } else if (!(rc = kefu_y_keys(diag, &doc, doc.root, keys))) {
        if ((v = kefu_ymap_get(doc.root, "kefu"))) {
            int64_t ver;
            if (!(rc = kefu_y_int(diag, &doc, v, 0, INT32_MAX, &ver)) && ver != 1)
                rc = kefu_yerr(diag, &doc, v, KEFU_E_VERSION,
                               "format %lld is not supported", (long long)ver);
        }
        if (!rc && (v = kefu_ymap_get(doc.root, "facts")))
            rc = parse_facts(b, v, &ctx);
        if (!rc && (v = kefu_ymap_get(doc.root, "rules")))
            rc = parse_rules(b, v, &ctx);
    }
    kefu_ydoc_free(&doc);
    if (!rc)
        rc = build(out, b, diag);
    builder_free(b);
    return rc;
}

KEFU_API int kefu_ruleset_load(kefu_ruleset **out, const kefu_model *model,
                               const char *path, const kefu_allocator *alloc,
                               kefu_diag *diag)
{
    kefu_mem mem;
    kefu_buf buf = {0};
    FILE *f;
    char chunk[16384];
    size_t n;
    int rc;
    if (diag)
        kefu_diag_clear(diag);
    if (!out || !path)
        return kefu_diag_msg(diag, KEFU_E_ARG, "output or path is NULL");
    *out = NULL;
    kefu_mem_init(&mem, alloc);
    if (!(f = fopen(path, "rb")))
        return kefu_diag_setf(diag, KEFU_E_IO, path, 0, 0, UINT64_MAX,
                              "cannot open: %s", strerror(errno));
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf.len + n > (16u << 20) || kefu_buf_append(&mem, &buf, chunk, n)) {
            fclose(f);
            kefu_buf_release(&mem, &buf);
            return kefu_diag_setf(diag, buf.len + n > (16u << 20) ? KEFU_E_LIMIT
                                                                  : KEFU_E_NOMEM,
                                  path, 0, 0, UINT64_MAX,
                                  "cannot read the rule file");
        }
    fclose(f);
    rc = kefu_ruleset_compile(out, model, buf.data, buf.len, path, alloc, diag);
    kefu_buf_release(&mem, &buf);
    return rc;
}

KEFU_API uint32_t kefu_ruleset_rule_count(const kefu_ruleset *rs)
{
    return rs ? rs->nrules : 0;
}

KEFU_API const char *kefu_ruleset_rule_name(const kefu_ruleset *rs, uint32_t i)
{
    return rs && i < rs->nrules ? rs->rules[i].name : "";
}

KEFU_API const char *kefu_ruleset_rule_when(const kefu_ruleset *rs, uint32_t i)
{
    return rs && i < rs->nrules ? rs->rules[i].when : "";
}

KEFU_API uint32_t kefu_ruleset_mode(const kefu_ruleset *rs)
{
    return rs ? rs->mode : 0;
}

/* ---- hot swap ---- */

struct kefu_rules_slot {
    kefu_mem mem;
    atomic_flag lock;
    kefu_ruleset *cur;
};

static void slot_lock(kefu_rules_slot *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        ;
}

static void slot_unlock(kefu_rules_slot *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

KEFU_API int kefu_rules_slot_new(kefu_rules_slot **out, kefu_ruleset *initial,
                                 const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_rules_slot *s;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    if (!initial)
        return KEFU_E_ARG;
    kefu_mem_init(&mem, alloc);
    if (!(s = kefu_zalloc(&mem, sizeof *s)))
        return KEFU_E_NOMEM;
    s->mem = mem;
    atomic_flag_clear(&s->lock);
    s->cur = kefu_ruleset_ref(initial);
    *out = s;
    return KEFU_OK;
}

KEFU_API void kefu_rules_slot_free(kefu_rules_slot *s)
{
    kefu_mem mem;
    if (!s)
        return;
    mem = s->mem;
    kefu_ruleset_free(s->cur);
    kefu_dealloc(&mem, s);
}

/* The lock only covers reading the pointer and taking a reference, so a
 * set cannot be freed between the two; it is held for a few instructions. */
KEFU_API kefu_ruleset *kefu_rules_slot_acquire(kefu_rules_slot *s)
{
    kefu_ruleset *rs;
    if (!s)
        return NULL;
    slot_lock(s);
    rs = kefu_ruleset_ref(s->cur);
    slot_unlock(s);
    return rs;
}

KEFU_API int kefu_rules_slot_swap(kefu_rules_slot *s, kefu_ruleset *next)
{
    kefu_ruleset *old;
    if (!s || !next)
        return KEFU_E_ARG;
    kefu_ruleset_ref(next);
    slot_lock(s);
    old = s->cur;
    s->cur = next;
    slot_unlock(s);
    kefu_ruleset_free(old);
    return KEFU_OK;
}
