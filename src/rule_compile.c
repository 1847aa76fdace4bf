/*
 * rule_compile.c - the rule expression compiler: lexer, recursive-descent
 * parser with the type checker folded in (every node gets its type as it
 * is built, so an error is reported where it is found), and the code
 * generator that appends two stack programs per expression to the rule
 * set's pools: one plain, one that records a trace.  In the plain one the
 * cheap parts of a condition go to the flat form instead (rule_flat.c,
 * rules.h), and a condition made of them alone has no program at all.  The
 * grammar and the typing rules are in doc/rules.md.
 *
 * Termination is by construction: there is no loop or recursion in the
 * language, and any/all/count iterate over lists of at most
 * KEFU_FACTS_MAX_LIST items.  The worst-case number of steps is computed
 * while generating code and checked against KEFU_RULE_MAX_COST.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rules.h"

/* ---- positions ---- */

void kefu_srcmap_pos(const kefu_srcmap *m, const char *src, size_t off,
                     uint32_t *line, uint32_t *col)
{
    const kefu_srcseg *s = NULL;
    uint32_t c = 0;
    *line = *col = 0;
    if (!m || !m->nseg)
        return;
    for (uint32_t i = 0; i < m->nseg; i++)
        if (m->seg[i].off <= off)
            s = &m->seg[i];
    if (!s)
        s = &m->seg[0];
    for (size_t i = s->off; i < off; i++)   /* count characters */
        if (((unsigned char)src[i] & 0xC0) != 0x80)
            c++;
    *line = s->line;
    *col = s->col + (s->off <= off ? c : 0);
}

/* ---- lexer ---- */

enum tok {
    T_EOF, T_NUM, T_DUR, T_STR, T_IDENT, T_TRUE, T_FALSE, T_AND, T_OR, T_NOT,
    T_IN, T_CONTAINS, T_MATCHES, T_STARTS, T_ENDS, T_LP, T_RP, T_LB, T_RB,
    T_COMMA, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT, T_EQ, T_NE, T_LT, T_LE,
    T_GT, T_GE
};

static const char *const tok_names[] = {
    "end of expression", "number", "duration", "string", "name", "true",
    "false", "and", "or", "not", "in", "contains", "matches", "startsWith",
    "endsWith", "(", ")", "[", "]", ",", "+", "-", "*", "/", "%", "==", "!=",
    "<", "<=", ">", ">="};

typedef struct token {
    int type;
    uint32_t off, len;
    double num;
    uint32_t soff, slen;   /* decoded string in p->sb */
} token;

/* ---- syntax nodes ---- */

enum nkind {
    N_LIT, N_LIST, N_FACT, N_VAR, N_NOT, N_NEG, N_AND, N_OR, N_BIN, N_MATCH,
    N_HAS, N_ANY, N_ALL, N_COUNTP, N_COUNT, N_LEN
};

typedef struct rnode {
    uint8_t kind, type;
    int op;                 /* N_BIN: token */
    uint32_t off, end;      /* source span */
    int a, b;               /* children */
    double num;             /* N_LIT number/duration/bool */
    uint32_t idx;           /* const string/list, fact id, regex, var depth */
} rnode;

typedef struct parser {
    kefu_rcomp *c;
    kefu_ruleset *rs;
    const char *src;
    size_t len, pos;
    token t;
    uint32_t prev_end;      /* end of the last consumed token */
    rnode *nodes;
    size_t nn, capn;
    kefu_buf sb;
    int depth;
    int nvars;
    struct {
        const char *name;
        uint32_t len;
        uint8_t type;
    } vars[KEFU_RULE_MAX_LOOPS];
    int rc;
    /* code generation */
    bool traced;
    int loopdepth;
    uint64_t cost, mult;
    uint32_t maxstack;
} parser;

static int perr(parser *p, size_t off, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int perr(parser *p, size_t off, int status, const char *fmt, ...)
{
    char msg[400];
    uint32_t line, col;
    va_list ap;
    if (p->rc)
        return p->rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (off > p->len)
        off = p->len;
    kefu_srcmap_pos(p->c->map, p->src, off, &line, &col);
    kefu_diag_setf(p->c->diag, status, p->c->map ? p->c->map->file : NULL,
                   line, col, UINT64_MAX, "%s", msg);
    p->rc = status;
    return status;
}

static bool is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int lex_string(parser *p, token *t)
{
    char q = p->src[p->pos++];
    t->soff = (uint32_t)p->sb.len;
    for (;;) {
        char ch;
        if (p->pos >= p->len)
            return perr(p, t->off, KEFU_E_SYNTAX, "unterminated string");
        ch = p->src[p->pos++];
        if (ch == q)
            break;
        if (ch == '\\' && p->pos < p->len) {
            char e = p->src[p->pos++];
            char out[4];
            size_t n = 1;
            switch (e) {
            case 'n': out[0] = '\n'; break;
            case 't': out[0] = '\t'; break;
            case 'r': out[0] = '\r'; break;
            case '\\': out[0] = '\\'; break;
            case '"': out[0] = '"'; break;
            case '\'': out[0] = '\''; break;
            case 'u': {
                uint32_t cp = 0;
                for (int i = 0; i < 4; i++) {
                    char h = p->pos < p->len ? p->src[p->pos] : 0;
                    int v = h >= '0' && h <= '9'   ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                   : -1;
                    if (v < 0)
                        return perr(p, p->pos, KEFU_E_SYNTAX,
                                    "\\u needs four hex digits");
                    cp = cp * 16 + (uint32_t)v;
                    p->pos++;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    return perr(p, p->pos - 6, KEFU_E_SYNTAX,
                                "\\u%04X is a surrogate", (unsigned)cp);
                n = kefu_utf8_encode(cp, out);
                break;
            }
            default:   /* kept as written: handy for regex escapes */
                out[0] = '\\';
                out[1] = e;
                n = 2;
            }
            if (kefu_buf_append(&p->rs->mem, &p->sb, out, n))
                return perr(p, t->off, KEFU_E_NOMEM, "out of memory");
            continue;
        }
        if (kefu_buf_putc(&p->rs->mem, &p->sb, ch))
            return perr(p, t->off, KEFU_E_NOMEM, "out of memory");
    }
    t->type = T_STR;
    t->slen = (uint32_t)(p->sb.len - t->soff);
    return KEFU_OK;
}

static int lex_number(parser *p, token *t)
{
    char buf[64];
    size_t s = p->pos, n;
    char *end;
    while (p->pos < p->len && p->src[p->pos] >= '0' && p->src[p->pos] <= '9')
        p->pos++;
    if (p->pos + 1 < p->len && p->src[p->pos] == '.' &&
        p->src[p->pos + 1] >= '0' && p->src[p->pos + 1] <= '9') {
        p->pos++;
        while (p->pos < p->len && p->src[p->pos] >= '0' &&
               p->src[p->pos] <= '9')
            p->pos++;
    }
    n = p->pos - s;
    if (n >= sizeof buf)
        return perr(p, s, KEFU_E_SYNTAX, "number too long");
    memcpy(buf, p->src + s, n);
    buf[n] = '\0';
    t->num = strtod(buf, &end);
    t->type = T_NUM;
    if (p->pos < p->len && is_ident_start((unsigned char)p->src[p->pos])) {
        static const struct {
            const char *u;
            double ms;
        } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
                     {"d", 86400000}};
        size_t us = p->pos;
        while (p->pos < p->len && is_ident((unsigned char)p->src[p->pos]))
            p->pos++;
        for (size_t i = 0; i < KEFU_ARRAY_LEN(units); i++)
            if (strlen(units[i].u) == p->pos - us &&
                !memcmp(units[i].u, p->src + us, p->pos - us)) {
                t->num *= units[i].ms;
                t->type = T_DUR;
                return KEFU_OK;
            }
        return perr(p, us, KEFU_E_SYNTAX,
                    "unknown duration unit '%.*s' (use ms, s, m, h or d)",
                    (int)(p->pos - us), p->src + us);
    }
    return KEFU_OK;
}

static int next(parser *p)
{
    token *t = &p->t;
    static const struct {
        const char *w;
        int t;
    } words[] = {{"and", T_AND},       {"or", T_OR},
                 {"not", T_NOT},       {"in", T_IN},
                 {"contains", T_CONTAINS}, {"matches", T_MATCHES},
                 {"startsWith", T_STARTS}, {"endsWith", T_ENDS},
                 {"true", T_TRUE},     {"false", T_FALSE}};
    unsigned char ch;
    if (p->rc)
        return p->rc;
    p->prev_end = t->off + t->len;
    while (p->pos < p->len && (p->src[p->pos] == ' ' || p->src[p->pos] == '\t' ||
                               p->src[p->pos] == '\n' || p->src[p->pos] == '\r'))
        p->pos++;
    memset(t, 0, sizeof *t);
    t->off = (uint32_t)p->pos;
    if (p->pos >= p->len) {
        t->type = T_EOF;
        return KEFU_OK;
    }
    ch = (unsigned char)p->src[p->pos];
    if (ch >= '0' && ch <= '9') {
        if (lex_number(p, t))
            return p->rc;
    } else if (ch == '"' || ch == '\'') {
        if (lex_string(p, t))
            return p->rc;
    } else if (is_ident_start(ch)) {
        size_t s = p->pos;
        for (;;) {
            while (p->pos < p->len && is_ident((unsigned char)p->src[p->pos]))
                p->pos++;
            if (p->pos + 1 < p->len && p->src[p->pos] == '.' &&
                is_ident_start((unsigned char)p->src[p->pos + 1])) {
                p->pos++;
                continue;
            }
            break;
        }
        t->type = T_IDENT;
        for (size_t i = 0; i < KEFU_ARRAY_LEN(words); i++)
            if (strlen(words[i].w) == p->pos - s &&
                !memcmp(words[i].w, p->src + s, p->pos - s))
                t->type = words[i].t;
    } else {
        char c2 = p->pos + 1 < p->len ? p->src[p->pos + 1] : 0;
        int two = 0;
        p->pos++;
        switch (ch) {
        case '(': t->type = T_LP; break;
        case ')': t->type = T_RP; break;
        case '[': t->type = T_LB; break;
        case ']': t->type = T_RB; break;
        case ',': t->type = T_COMMA; break;
        case '+': t->type = T_PLUS; break;
        case '-': t->type = T_MINUS; break;
        case '*': t->type = T_STAR; break;
        case '/': t->type = T_SLASH; break;
        case '%': t->type = T_PCT; break;
        case '<': t->type = c2 == '=' ? (two = 1, T_LE) : T_LT; break;
        case '>': t->type = c2 == '=' ? (two = 1, T_GE) : T_GT; break;
        case '=':
            if (c2 != '=')
                return perr(p, t->off, KEFU_E_SYNTAX,
                            "'=' is not an operator; compare with '=='");
            two = 1;
            t->type = T_EQ;
            break;
        case '!': t->type = c2 == '=' ? (two = 1, T_NE) : T_NOT; break;
        case '&':
            if (c2 != '&')
                return perr(p, t->off, KEFU_E_SYNTAX, "'&' alone; use '&&' or 'and'");
            two = 1;
            t->type = T_AND;
            break;
        case '|':
            if (c2 != '|')
                return perr(p, t->off, KEFU_E_SYNTAX, "'|' alone; use '||' or 'or'");
            two = 1;
            t->type = T_OR;
            break;
        default:
            p->pos--;
            if (ch >= 0x80) {
                size_t i = p->pos;
                uint32_t cp = kefu_utf8_next((const unsigned char *)p->src,
                                             p->len, &i);
                return perr(p, t->off, KEFU_E_SYNTAX,
                            "unexpected character U+%04X (strings go in quotes)",
                            (unsigned)cp);
            }
            return perr(p, t->off, KEFU_E_SYNTAX, "unexpected character '%c'",
                        ch);
        }
        p->pos += (size_t)two;
    }
    t->len = (uint32_t)(p->pos - t->off);
    return KEFU_OK;
}

/* ---- nodes and pools ---- */

static int node(parser *p, int kind, int type, uint32_t off, uint32_t end)
{
    rnode *n;
    if (p->nn >= KEFU_RULE_MAX_NODES)
        return perr(p, off, KEFU_E_LIMIT,
                    "expression has more than %d parts", KEFU_RULE_MAX_NODES),
               -1;
    if (kefu_grow(&p->rs->mem, (void **)&p->nodes, &p->capn, p->nn + 1,
                  sizeof *p->nodes))
        return perr(p, off, KEFU_E_NOMEM, "out of memory"), -1;
    n = &p->nodes[p->nn];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->type = (uint8_t)type;
    n->off = off;
    n->end = end;
    n->a = n->b = -1;
    return (int)p->nn++;
}

#define NODE(i) (&p->nodes[i])

static int64_t add_num(parser *p, double v)
{
    kefu_ruleset *rs = p->rs;
    for (size_t i = 0; i < rs->nnums; i++)
        if (rs->nums[i] == v)
            return (int64_t)i;
    if (kefu_grow(&rs->mem, (void **)&rs->nums, &rs->capnums, rs->nnums + 1,
                  sizeof *rs->nums))
        return -1;
    rs->nums[rs->nnums] = v;
    return (int64_t)rs->nnums++;
}

static int64_t add_str(parser *p, uint32_t soff, uint32_t slen)
{
    kefu_ruleset *rs = p->rs;
    char *s;
    if (kefu_grow(&rs->mem, (void **)&rs->strs, &rs->capstrs, rs->nstrs + 1,
                  sizeof *rs->strs))
        return -1;
    if (!(s = kefu_strndup(&rs->mem, p->sb.data ? p->sb.data + soff : "", slen)))
        return -1;
    rs->strs[rs->nstrs].str = s;
    rs->strs[rs->nstrs].len = slen;
    rs->strs[rs->nstrs].num = 0;
    return (int64_t)rs->nstrs++;
}

/* ---- fact names ---- */

static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[64];
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0], tmp;
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            tmp = row[j];
            row[j] = a[i - 1] == b[j - 1] ? prev
                     : 1 + (prev < row[j] ? (prev < row[j - 1] ? prev : row[j - 1])
                                          : (row[j] < row[j - 1] ? row[j] : row[j - 1]));
            prev = tmp;
        }
    }
    return row[lb];
}

static int unknown_fact(parser *p, const token *t)
{
    const char *best = NULL;
    size_t bd = 3;
    const char *name = p->src + t->off;
    for (uint32_t i = 0; i < KEFU_F_BUILTIN_COUNT + p->rs->ndecls; i++) {
        const kefu_fdecl *d = i < KEFU_F_BUILTIN_COUNT
                                  ? kefu_builtin_fact(i)
                                  : &p->rs->decls[i - KEFU_F_BUILTIN_COUNT];
        size_t dist = edit_distance(name, t->len, d->name, d->name_len);
        if (dist < bd) {
            bd = dist;
            best = d->name;
        }
    }
    if (best)
        return perr(p, t->off, KEFU_E_UNKNOWN,
                    "unknown fact '%.*s' (did you mean '%s'?)", (int)t->len,
                    name, best);
    return perr(p, t->off, KEFU_E_UNKNOWN,
                "unknown fact '%.*s' (declare host facts under 'facts:')",
                (int)t->len, name);
}

/* Resolves a name to a fact id and type; reports unknown names. */
static int resolve_fact(parser *p, const token *t, uint32_t *id, int *type)
{
    const char *name = p->src + t->off;
    int64_t f = kefu_ruleset_fact_lookup(p->rs, name, t->len);
    if (f < 0 && t->len > 9 && !memcmp(name, "entities.", 9)) {
        f = kefu_ruleset_entity_fact(p->rs, name, t->len);
        if (f < 0)
            return perr(p, t->off, KEFU_E_NOMEM, "out of memory");
    }
    if (f < 0)
        return unknown_fact(p, t);
    *id = (uint32_t)f;
    *type = f < KEFU_F_BUILTIN_COUNT
                ? kefu_builtin_fact((uint32_t)f)->type
                : p->rs->decls[f - KEFU_F_BUILTIN_COUNT].type;
    return KEFU_OK;
}

/* ---- parser + type checker ---- */

static int parse_or(parser *p);

static int expect(parser *p, int type, const char *what)
{
    if (p->t.type != type)
        return perr(p, p->t.off, KEFU_E_SYNTAX, "expected %s, found '%s'", what,
                    p->t.type == T_EOF ? "end of expression"
                    : p->t.type == T_STR || p->t.type == T_NUM ||
                            p->t.type == T_DUR || p->t.type == T_IDENT
                        ? tok_names[p->t.type]
                        : tok_names[p->t.type]);
    return next(p);
}

static int enter(parser *p)
{
    if (++p->depth > KEFU_RULE_MAX_DEPTH)
        return perr(p, p->t.off, KEFU_E_LIMIT,
                    "expression nested deeper than %d levels",
                    KEFU_RULE_MAX_DEPTH);
    return KEFU_OK;
}

static int need_type(parser *p, int n, int type, const char *what)
{
    if (n < 0)
        return -1;
    if (NODE(n)->type != type) {
        perr(p, NODE(n)->off, KEFU_E_TYPE, "%s needs a %s, not a %s", what,
             kefu_type_name(type), kefu_type_name(NODE(n)->type));
        return -1;
    }
    return n;
}

static int parse_list_literal(parser *p)
{
    uint32_t off = p->t.off;
    int type = 0, n;
    kefu_ruleset *rs = p->rs;
    size_t first = rs->nlitems;
    if (next(p))
        return -1;
    while (p->t.type != T_RB) {
        token t = p->t;
        bool neg = false;
        kefu_litem it = {0, NULL, 0};
        int itype;
        if (t.type == T_MINUS) {
            neg = true;
            if (next(p))
                return -1;
            t = p->t;
            if (t.type != T_NUM)
                return perr(p, t.off, KEFU_E_SYNTAX, "expected a number after '-'"), -1;
        }
        if (t.type == T_NUM) {
            itype = KEFU_T_NUMLIST;
            it.num = neg ? -t.num : t.num;
        } else if (t.type == T_STR) {
            itype = KEFU_T_STRLIST;
            if (!(it.str = kefu_strndup(&rs->mem, p->sb.data ? p->sb.data + t.soff : "",
                                        t.slen)))
                return perr(p, t.off, KEFU_E_NOMEM, "out of memory"), -1;
            it.len = t.slen;
        } else {
            return perr(p, t.off, KEFU_E_TYPE,
                        "list items must be string or number constants"), -1;
        }
        if (type && itype != type) {
            if (itype == KEFU_T_STRLIST)
                kefu_dealloc(&rs->mem, (void *)it.str);
            return perr(p, t.off, KEFU_E_TYPE,
                        "a list holds items of one type (this list is a %s)",
                        kefu_type_name(type)), -1;
        }
        type = itype;
        if (rs->nlitems - first >= KEFU_FACTS_MAX_LIST ||
            kefu_grow(&rs->mem, (void **)&rs->litems, &rs->caplitems,
                      rs->nlitems + 1, sizeof *rs->litems)) {
            if (itype == KEFU_T_STRLIST)
                kefu_dealloc(&rs->mem, (void *)it.str);
            return perr(p, t.off,
                        rs->nlitems - first >= KEFU_FACTS_MAX_LIST ? KEFU_E_LIMIT
                                                                   : KEFU_E_NOMEM,
                        "a list literal holds at most %d items",
                        KEFU_FACTS_MAX_LIST), -1;
        }
        rs->litems[rs->nlitems++] = it;
        if (next(p))
            return -1;
        if (p->t.type == T_COMMA) {
            if (next(p))
                return -1;
        } else if (p->t.type != T_RB) {
            return perr(p, p->t.off, KEFU_E_SYNTAX,
                        "expected ',' or ']' in a list"), -1;
        }
    }
    if (!type)
        return perr(p, off, KEFU_E_TYPE, "an empty list has no type"), -1;
    if (kefu_grow(&rs->mem, (void **)&rs->lists, &rs->caplists, rs->nlists + 1,
                  sizeof *rs->lists))
        return perr(p, off, KEFU_E_NOMEM, "out of memory"), -1;
    rs->lists[rs->nlists].first = (uint32_t)first;
    rs->lists[rs->nlists].n = (uint32_t)(rs->nlitems - first);
    n = node(p, N_LIST, type, off, p->t.off + 1);
    if (n < 0)
        return -1;
    NODE(n)->idx = (uint32_t)rs->nlists++;
    if (next(p))
        return -1;
    return n;
}

/* has(fact) */
static int parse_has(parser *p, uint32_t off)
{
    token t;
    uint32_t id;
    int type, n;
    if (expect(p, T_LP, "'(' after has"))
        return -1;
    t = p->t;
    if (t.type != T_IDENT)
        return perr(p, t.off, KEFU_E_SYNTAX, "has() takes a fact name"), -1;
    if (resolve_fact(p, &t, &id, &type))
        return -1;
    if (next(p) || expect(p, T_RP, "')'"))
        return -1;
    n = node(p, N_HAS, KEFU_T_BOOL, off, p->prev_end);
    if (n >= 0)
        NODE(n)->idx = id;
    return n;
}

/* any(list, x, pred) / all(...) / count(list) / count(list, x, pred) /
 * len(string or list) */
static int parse_call(parser *p, const token *fn)
{
    const char *name = p->src + fn->off;
    int kind, list, pred = -1, n;
    bool is_count = fn->len == 5 && !memcmp(name, "count", 5);
    bool is_len = fn->len == 3 && !memcmp(name, "len", 3);
    if (fn->len == 3 && !memcmp(name, "has", 3))
        return parse_has(p, fn->off);
    if (fn->len == 3 && !memcmp(name, "any", 3))
        kind = N_ANY;
    else if (fn->len == 3 && !memcmp(name, "all", 3))
        kind = N_ALL;
    else if (is_count)
        kind = N_COUNTP;
    else if (is_len)
        kind = N_LEN;
    else
        return perr(p, fn->off, KEFU_E_UNKNOWN,
                    "unknown function '%.*s' (has, any, all, count, len)",
                    (int)fn->len, name), -1;
    if (next(p) || enter(p))
        return -1;
    list = parse_or(p);
    if (list < 0)
        return -1;
    if (is_len) {
        int t = NODE(list)->type;
        if (t != KEFU_T_STRING && t != KEFU_T_STRLIST && t != KEFU_T_NUMLIST)
            return perr(p, NODE(list)->off, KEFU_E_TYPE,
                        "len() needs a string or a list, not a %s",
                        kefu_type_name(t)), -1;
        if (expect(p, T_RP, "')'"))
            return -1;
        n = node(p, t == KEFU_T_STRING ? N_LEN : N_COUNT, KEFU_T_NUMBER,
                 fn->off, p->prev_end);
        if (n >= 0)
            NODE(n)->a = list;
        p->depth--;
        return n;
    }
    if (NODE(list)->type != KEFU_T_STRLIST && NODE(list)->type != KEFU_T_NUMLIST)
        return perr(p, NODE(list)->off, KEFU_E_TYPE,
                    "%.*s() needs a list, not a %s", (int)fn->len, name,
                    kefu_type_name(NODE(list)->type)), -1;
    if (is_count && p->t.type == T_RP) {
        if (next(p))
            return -1;
        n = node(p, N_COUNT, KEFU_T_NUMBER, fn->off, p->prev_end);
        if (n >= 0)
            NODE(n)->a = list;
        p->depth--;
        return n;
    }
    if (expect(p, T_COMMA, "',' and a variable name"))
        return -1;
    {
        token v = p->t;
        const char *vn = p->src + v.off;
        if (v.type != T_IDENT || memchr(vn, '.', v.len))
            return perr(p, v.off, KEFU_E_SYNTAX,
                        "expected a variable name (letters, digits, _)"), -1;
        if (p->nvars >= KEFU_RULE_MAX_LOOPS)
            return perr(p, v.off, KEFU_E_LIMIT,
                        "any/all/count nested deeper than %d",
                        KEFU_RULE_MAX_LOOPS), -1;
        if (next(p) || expect(p, T_COMMA, "',' and a condition"))
            return -1;
        p->vars[p->nvars].name = vn;
        p->vars[p->nvars].len = v.len;
        p->vars[p->nvars].type =
            NODE(list)->type == KEFU_T_STRLIST ? KEFU_T_STRING : KEFU_T_NUMBER;
        p->nvars++;
        pred = need_type(p, parse_or(p), KEFU_T_BOOL, "the condition");
        p->nvars--;
        if (pred < 0 || expect(p, T_RP, "')'"))
            return -1;
    }
    n = node(p, kind, kind == N_COUNTP ? KEFU_T_NUMBER : KEFU_T_BOOL, fn->off,
             p->prev_end);
    if (n >= 0) {
        NODE(n)->a = list;
        NODE(n)->b = pred;
        NODE(n)->idx = (uint32_t)p->nvars;
    }
    p->depth--;
    return n;
}

static int parse_primary(parser *p)
{
    token t = p->t;
    int n;
    switch (t.type) {
    case T_NUM:
    case T_DUR: {
        int64_t k = add_num(p, t.num);
        if (k < 0)
            return perr(p, t.off, KEFU_E_NOMEM, "out of memory"), -1;
        n = node(p, N_LIT, t.type == T_NUM ? KEFU_T_NUMBER : KEFU_T_DURATION,
                 t.off, t.off + t.len);
        if (n >= 0) {
            NODE(n)->num = t.num;
            NODE(n)->idx = (uint32_t)k;
        }
        return next(p) ? -1 : n;
    }
    case T_STR: {
        int64_t k = add_str(p, t.soff, t.slen);
        if (k < 0)
            return perr(p, t.off, KEFU_E_NOMEM, "out of memory"), -1;
        n = node(p, N_LIT, KEFU_T_STRING, t.off, t.off + t.len);
        if (n >= 0)
            NODE(n)->idx = (uint32_t)k;
        return next(p) ? -1 : n;
    }
    case T_TRUE:
    case T_FALSE:
        n = node(p, N_LIT, KEFU_T_BOOL, t.off, t.off + t.len);
        if (n >= 0)
            NODE(n)->num = t.type == T_TRUE;
        return next(p) ? -1 : n;
    case T_LB:
        return parse_list_literal(p);
    case T_LP:
        if (enter(p) || next(p))
            return -1;
        n = parse_or(p);
        if (n < 0 || expect(p, T_RP, "')'"))
            return -1;
        NODE(n)->off = t.off;   /* the span includes the parentheses */
        NODE(n)->end = p->prev_end;
        p->depth--;
        return n;
    case T_IDENT: {
        uint32_t id;
        int type;
        if (next(p))
            return -1;
        if (p->t.type == T_LP)
            return parse_call(p, &t);
        for (int i = p->nvars; i-- > 0;)
            if (p->vars[i].len == t.len &&
                !memcmp(p->vars[i].name, p->src + t.off, t.len)) {
                n = node(p, N_VAR, p->vars[i].type, t.off, t.off + t.len);
                if (n >= 0)
                    NODE(n)->idx = (uint32_t)i;
                return n;
            }
        if (resolve_fact(p, &t, &id, &type))
            return -1;
        n = node(p, N_FACT, type, t.off, t.off + t.len);
        if (n >= 0)
            NODE(n)->idx = id;
        return n;
    }
    case T_EOF:
        return perr(p, t.off, KEFU_E_SYNTAX, "unexpected end of expression"), -1;
    default:
        return perr(p, t.off, KEFU_E_SYNTAX, "unexpected '%s'",
                    tok_names[t.type]), -1;
    }
}

static int parse_unary(parser *p)
{
    if (p->t.type == T_MINUS) {
        uint32_t off = p->t.off;
        int a, n;
        if (enter(p) || next(p))
            return -1;
        a = parse_unary(p);
        p->depth--;
        if (a < 0)
            return -1;
        if (NODE(a)->type != KEFU_T_NUMBER && NODE(a)->type != KEFU_T_DURATION)
            return perr(p, off, KEFU_E_TYPE, "cannot negate a %s",
                        kefu_type_name(NODE(a)->type)), -1;
        if (NODE(a)->kind == N_LIT) {   /* fold -literal */
            int64_t k = add_num(p, -NODE(a)->num);
            if (k < 0)
                return perr(p, off, KEFU_E_NOMEM, "out of memory"), -1;
            NODE(a)->num = -NODE(a)->num;
            NODE(a)->idx = (uint32_t)k;
            NODE(a)->off = off;
            return a;
        }
        n = node(p, N_NEG, NODE(a)->type, off, NODE(a)->end);
        if (n >= 0)
            NODE(n)->a = a;
        return n;
    }
    return parse_primary(p);
}

static int arith_type(int op, int l, int r)
{
    bool num = l == KEFU_T_NUMBER && r == KEFU_T_NUMBER;
    bool dur = l == KEFU_T_DURATION && r == KEFU_T_DURATION;
    switch (op) {
    case T_PLUS:
    case T_MINUS:
        return num ? KEFU_T_NUMBER : dur ? KEFU_T_DURATION : 0;
    case T_STAR:
        if (num)
            return KEFU_T_NUMBER;
        if ((l == KEFU_T_DURATION && r == KEFU_T_NUMBER) ||
            (l == KEFU_T_NUMBER && r == KEFU_T_DURATION))
            return KEFU_T_DURATION;
        return 0;
    case T_SLASH:
        if (num || dur)
            return KEFU_T_NUMBER;
        return l == KEFU_T_DURATION && r == KEFU_T_NUMBER ? KEFU_T_DURATION : 0;
    case T_PCT:
        return num ? KEFU_T_NUMBER : 0;
    }
    return 0;
}

static int binary(parser *p, int op, uint32_t op_off, int l, int r)
{
    int lt, rt, type = 0, n;
    if (l < 0 || r < 0)
        return -1;
    lt = NODE(l)->type;
    rt = NODE(r)->type;
    switch (op) {
    case T_PLUS: case T_MINUS: case T_STAR: case T_SLASH: case T_PCT:
        type = arith_type(op, lt, rt);
        if (!type)
            return perr(p, op_off, KEFU_E_TYPE,
                        "'%s' does not apply to %s and %s", tok_names[op],
                        kefu_type_name(lt), kefu_type_name(rt)), -1;
        break;
    case T_EQ: case T_NE:
        if (lt != rt || lt == KEFU_T_STRLIST || lt == KEFU_T_NUMLIST)
            return perr(p, op_off, KEFU_E_TYPE, "cannot compare %s with %s",
                        kefu_type_name(lt), kefu_type_name(rt)), -1;
        type = KEFU_T_BOOL;
        break;
    case T_LT: case T_LE: case T_GT: case T_GE:
        if (lt != rt || (lt != KEFU_T_NUMBER && lt != KEFU_T_DURATION &&
                         lt != KEFU_T_STRING))
            return perr(p, op_off, KEFU_E_TYPE, "cannot order %s and %s",
                        kefu_type_name(lt), kefu_type_name(rt)), -1;
        type = KEFU_T_BOOL;
        break;
    case T_IN:
        if (!((lt == KEFU_T_STRING && rt == KEFU_T_STRLIST) ||
              (lt == KEFU_T_NUMBER && rt == KEFU_T_NUMLIST)))
            return perr(p, op_off, KEFU_E_TYPE,
                        "'in' needs a value and a list of its type, not %s in %s",
                        kefu_type_name(lt), kefu_type_name(rt)), -1;
        type = KEFU_T_BOOL;
        break;
    case T_CONTAINS:
        if (!((lt == KEFU_T_STRING && rt == KEFU_T_STRING) ||
              (lt == KEFU_T_STRLIST && rt == KEFU_T_STRING) ||
              (lt == KEFU_T_NUMLIST && rt == KEFU_T_NUMBER)))
            return perr(p, op_off, KEFU_E_TYPE,
                        "'contains' needs string contains string or list "
                        "contains item, not %s contains %s",
                        kefu_type_name(lt), kefu_type_name(rt)), -1;
        type = KEFU_T_BOOL;
        break;
    case T_STARTS: case T_ENDS:
        if (lt != KEFU_T_STRING || rt != KEFU_T_STRING)
            return perr(p, op_off, KEFU_E_TYPE, "'%s' needs two strings, not %s and %s",
                        tok_names[op], kefu_type_name(lt), kefu_type_name(rt)), -1;
        type = KEFU_T_BOOL;
        break;
    }
    n = node(p, N_BIN, type, NODE(l)->off, NODE(r)->end);
    if (n >= 0) {
        NODE(n)->op = op;
        NODE(n)->a = l;
        NODE(n)->b = r;
    }
    return n;
}

static int parse_mul(parser *p)
{
    int l = parse_unary(p);
    while (l >= 0 && (p->t.type == T_STAR || p->t.type == T_SLASH ||
                      p->t.type == T_PCT)) {
        int op = p->t.type;
        uint32_t off = p->t.off;
        if (next(p))
            return -1;
        l = binary(p, op, off, l, parse_unary(p));
    }
    return l;
}

static int parse_add(parser *p)
{
    int l = parse_mul(p);
    while (l >= 0 && (p->t.type == T_PLUS || p->t.type == T_MINUS)) {
        int op = p->t.type;
        uint32_t off = p->t.off;
        if (next(p))
            return -1;
        l = binary(p, op, off, l, parse_mul(p));
    }
    return l;
}

static int compile_regex(parser *p, int subject, const token *pat);

static int parse_cmp(parser *p)
{
    int l = parse_add(p), op, n;
    uint32_t off;
    bool negate = false;
    if (l < 0)
        return -1;
    op = p->t.type;
    off = p->t.off;
    if (op == T_NOT) {   /* a not in b */
        if (next(p))
            return -1;
        if (p->t.type != T_IN)
            return perr(p, p->t.off, KEFU_E_SYNTAX, "expected 'in' after 'not'"), -1;
        negate = true;
        op = T_IN;
    }
    switch (op) {
    case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT: case T_GE:
    case T_IN: case T_CONTAINS: case T_STARTS: case T_ENDS:
        if (next(p))
            return -1;
        n = binary(p, op, off, l, parse_add(p));
        break;
    case T_MATCHES: {
        token pat;
        if (next(p))
            return -1;
        pat = p->t;
        if (pat.type != T_STR)
            return perr(p, pat.off, KEFU_E_TYPE,
                        "the pattern of 'matches' must be a string constant"), -1;
        if (NODE(l)->type != KEFU_T_STRING)
            return perr(p, off, KEFU_E_TYPE, "'matches' needs a string, not a %s",
                        kefu_type_name(NODE(l)->type)), -1;
        n = compile_regex(p, l, &pat);
        if (n < 0 || next(p))
            return -1;
        break;
    }
    default:
        return l;
    }
    if (n >= 0 && negate) {
        int m = node(p, N_NOT, KEFU_T_BOOL, NODE(n)->off, NODE(n)->end);
        if (m >= 0)
            NODE(m)->a = n;
        n = m;
    }
    switch (p->t.type) {
    case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT: case T_GE:
    case T_IN: case T_CONTAINS: case T_STARTS: case T_ENDS: case T_MATCHES:
        if (n >= 0)
            return perr(p, p->t.off, KEFU_E_SYNTAX,
                        "comparisons do not chain; use 'and' or parentheses"), -1;
    }
    return n;
}

static int parse_not(parser *p)
{
    if (p->t.type == T_NOT) {
        uint32_t off = p->t.off;
        int a, n;
        if (enter(p) || next(p))
            return -1;
        a = need_type(p, parse_not(p), KEFU_T_BOOL, "'not'");
        p->depth--;
        if (a < 0)
            return -1;
        n = node(p, N_NOT, KEFU_T_BOOL, off, NODE(a)->end);
        if (n >= 0)
            NODE(n)->a = a;
        return n;
    }
    return parse_cmp(p);
}

static int logical(parser *p, int kind, int l, int r, const char *what)
{
    int n;
    if (need_type(p, l, KEFU_T_BOOL, what) < 0 ||
        need_type(p, r, KEFU_T_BOOL, what) < 0)
        return -1;
    n = node(p, kind, KEFU_T_BOOL, NODE(l)->off, NODE(r)->end);
    if (n >= 0) {
        NODE(n)->a = l;
        NODE(n)->b = r;
    }
    return n;
}

static int parse_and(parser *p)
{
    int l = parse_not(p);
    while (l >= 0 && p->t.type == T_AND) {
        if (next(p))
            return -1;
        l = logical(p, N_AND, l, parse_not(p), "'and'");
    }
    return l;
}

static int parse_or(parser *p)
{
    int l = parse_and(p);
    while (l >= 0 && p->t.type == T_OR) {
        if (next(p))
            return -1;
        l = logical(p, N_OR, l, parse_and(p), "'or'");
    }
    return l;
}

static void *re_malloc(PCRE2_SIZE n, void *u)
{
    return kefu_alloc(u, n);
}

static void re_free(void *ptr, void *u)
{
    kefu_dealloc(u, ptr);
}

static int compile_regex(parser *p, int subject, const token *pat)
{
    kefu_ruleset *rs = p->rs;
    pcre2_compile_context *cc;
    pcre2_code *code;
    int err, n;
    PCRE2_SIZE eoff;
    if (!rs->gctx) {
        rs->gctx = pcre2_general_context_create(re_malloc, re_free, &rs->mem);
        if (!rs->gctx)
            return perr(p, pat->off, KEFU_E_NOMEM, "out of memory"), -1;
    }
    if (!rs->mctx) {
        pcre2_match_context *mc = pcre2_match_context_create(rs->gctx);
        if (!mc)
            return perr(p, pat->off, KEFU_E_NOMEM, "out of memory"), -1;
        pcre2_set_match_limit(mc, KEFU_RULE_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, KEFU_RULE_DEPTH_LIMIT);
        pcre2_set_heap_limit(mc, KEFU_RULE_HEAP_LIMIT);
        rs->mctx = mc;
    }
    if (kefu_grow(&rs->mem, (void **)&rs->re, &rs->capre, rs->nre + 1,
                  sizeof *rs->re) ||
        kefu_grow(&rs->mem, (void **)&rs->re_jit, &rs->capre_jit, rs->nre + 1,
                  sizeof *rs->re_jit) ||
        kefu_grow(&rs->mem, (void **)&rs->re_pf, &rs->capre_pf, rs->nre + 1,
                  sizeof *rs->re_pf))
        return perr(p, pat->off, KEFU_E_NOMEM, "out of memory"), -1;
    cc = pcre2_compile_context_create(rs->gctx);
    if (!cc)
        return perr(p, pat->off, KEFU_E_NOMEM, "out of memory"), -1;
    code = pcre2_compile((PCRE2_SPTR)(p->sb.data ? p->sb.data + pat->soff : ""),
                         pat->slen, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &err,
                         &eoff, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR msg[256];
        size_t at = pat->off + 1 + eoff;
        if (err == PCRE2_ERROR_NOMEMORY)
            return perr(p, pat->off, KEFU_E_NOMEM, "out of memory"), -1;
        pcre2_get_error_message(err, msg, sizeof msg);
        if (at >= pat->off + pat->len)
            at = pat->off + pat->len - 1;
        return perr(p, at, KEFU_E_PATTERN, "bad pattern: %s", (char *)msg), -1;
    }
    /* the interpreter runs it when there is no JIT */
    rs->re_jit[rs->nre] = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    /* word lists get a literal prefilter (prefilter.h) */
    if (kefu_prefilter_build(&rs->re_pf[rs->nre], &rs->mem,
                             p->sb.data ? p->sb.data + pat->soff : "",
                             pat->slen, 0)) {
        pcre2_code_free(code);
        return perr(p, pat->off, KEFU_E_NOMEM, "out of memory"), -1;
    }
    rs->re[rs->nre] = code;
    n = node(p, N_MATCH, KEFU_T_BOOL, NODE(subject)->off, pat->off + pat->len);
    if (n < 0)
        return -1;
    NODE(n)->a = subject;
    NODE(n)->idx = (uint32_t)rs->nre++;
    return n;
}

/* ---- code generation ---- */

static int emit(parser *p, int op, uint32_t a, uint32_t b, uint64_t cost)
{
    kefu_ruleset *rs = p->rs;
    if (kefu_grow(&rs->mem, (void **)&rs->code, &rs->capcode, rs->ncode + 1,
                  sizeof *rs->code))
        return perr(p, 0, KEFU_E_NOMEM, "out of memory");
    rs->code[rs->ncode].op = (uint16_t)op;
    rs->code[rs->ncode].a = a;
    rs->code[rs->ncode].b = (uint16_t)b;
    rs->code[rs->ncode].c = 0;
    rs->code[rs->ncode].s = 0;
    rs->ncode++;
    p->cost += cost * p->mult;
    if (p->cost > (uint64_t)1 << 40)
        p->cost = (uint64_t)1 << 40;
    return KEFU_OK;
}

static uint32_t here(parser *p)
{
    return (uint32_t)p->rs->ncode;
}

static void patch(parser *p, uint32_t at)
{
    p->rs->code[at].a = here(p);
}

static bool traceable(const rnode *n)
{
    return n->kind != N_LIT && n->kind != N_LIST && n->kind != N_VAR &&
           (n->kind == N_FACT || n->type == KEFU_T_BOOL || n->kind == N_COUNT ||
            n->kind == N_COUNTP || n->kind == N_LEN);
}

static int gen(parser *p, int i, uint32_t depth);

static int gen_trace(parser *p, const rnode *n)
{
    kefu_ruleset *rs = p->rs;
    kefu_tnode *t;
    if (!p->traced || p->loopdepth || !traceable(n))
        return KEFU_OK;
    if (kefu_grow(&rs->mem, (void **)&rs->tnodes, &rs->captnodes,
                  rs->ntnodes + 1, sizeof *rs->tnodes))
        return perr(p, 0, KEFU_E_NOMEM, "out of memory");
    t = &rs->tnodes[rs->ntnodes];
    t->off = n->off;
    t->len = n->end - n->off;
    t->type = n->type;
    t->kind = n->kind == N_FACT ? KEFU_TRACE_FACT : KEFU_TRACE_EXPR;
    return emit(p, ROP_TRACE, (uint32_t)rs->ntnodes++, 0, 0);
}

static int bin_op(int op, int lt)
{
    bool s = lt == KEFU_T_STRING, b = lt == KEFU_T_BOOL;
    switch (op) {
    case T_PLUS: return ROP_ADD;
    case T_MINUS: return ROP_SUB;
    case T_STAR: return ROP_MUL;
    case T_SLASH: return ROP_DIV;
    case T_PCT: return ROP_MOD;
    case T_EQ: return s ? ROP_EQ_S : b ? ROP_EQ_B : ROP_EQ_N;
    case T_NE: return s ? ROP_NE_S : b ? ROP_NE_B : ROP_NE_N;
    case T_LT: return s ? ROP_LT_S : ROP_LT_N;
    case T_LE: return s ? ROP_LE_S : ROP_LE_N;
    case T_GT: return s ? ROP_GT_S : ROP_GT_N;
    case T_GE: return s ? ROP_GE_S : ROP_GE_N;
    case T_STARTS: return ROP_STARTS;
    case T_ENDS: return ROP_ENDS;
    }
    return ROP_RET;
}

/* Worst-case steps of scanning list node l (a fact list or a constant). */
static uint64_t list_cost(parser *p, int l)
{
    if (NODE(l)->kind == N_LIST)
        return p->rs->lists[NODE(l)->idx].n;
    return KEFU_FACTS_MAX_LIST;
}

static int gen_loop(parser *p, const rnode *n, uint32_t depth)
{
    uint32_t d = n->idx, top, exit_jump, done_op;
    uint64_t save = p->mult;
    int body_op = n->kind == N_ANY ? ROP_ITER_ANY
                  : n->kind == N_ALL ? ROP_ITER_ALL
                                     : ROP_ITER_TALLY;
    if (gen(p, n->a, depth) || emit(p, ROP_ITER_INIT, 0, d, 1))
        return p->rc;
    top = here(p);
    exit_jump = here(p);
    p->mult *= list_cost(p, n->a);
    p->loopdepth++;
    if (emit(p, ROP_ITER_NEXT, 0, d, 1) || gen(p, n->b, depth))
        return p->rc;
    {
        uint32_t at = here(p);
        if (emit(p, body_op, 0, d, 1) || emit(p, ROP_JMP, top, 0, 1))
            return p->rc;
        p->loopdepth--;
        p->mult = save;
        if (body_op != ROP_ITER_TALLY)
            patch(p, at);
    }
    patch(p, exit_jump);
    done_op = n->kind == N_ANY ? ROP_ITER_END_ANY
              : n->kind == N_ALL ? ROP_ITER_END_ALL
                                 : ROP_ITER_END_COUNT;
    return emit(p, (int)done_op, 0, d, 1);
}

/* ---- cheap tests: the flat form (rules.h) ---- */

static const rnode *peel_not(parser *p, int *i, bool *neg)
{
    const rnode *n = NODE(*i);
    while (n->kind == N_NOT) {
        *neg = !*neg;
        *i = n->a;
        n = NODE(*i);
    }
    return n;
}

/* The number test of `fact OP c`, or of `c OP fact` when mirrored; -1 when
 * OP is no comparison. */
static int num_cmp(int op, bool mirrored)
{
    switch (op) {
    case T_EQ: return KEFU_CMP_EQ;
    case T_NE: return KEFU_CMP_NE;
    case T_LT: return mirrored ? KEFU_CMP_GT : KEFU_CMP_LT;
    case T_LE: return mirrored ? KEFU_CMP_GE : KEFU_CMP_LE;
    case T_GT: return mirrored ? KEFU_CMP_LT : KEFU_CMP_GT;
    case T_GE: return mirrored ? KEFU_CMP_LE : KEFU_CMP_GE;
    }
    return -1;
}

static bool is_strlist_fact(const rnode *n)
{
    return n->kind == N_FACT && n->type == KEFU_T_STRLIST;
}

static bool is_str_lit(const rnode *n)
{
    return n->kind == N_LIT && n->type == KEFU_T_STRING;
}

/* The loop's variable, of the loop n itself (not an enclosing one). */
static bool is_own_var(const rnode *v, const rnode *loop)
{
    return v->kind == N_VAR && v->idx == loop->idx;
}

/*
 * One cheap test (no and/or/not at its top): a bool constant or fact,
 * has(), a number, duration or bool fact against a constant, a string fact
 * against a string or a constant list, a constant in a list fact, or
 * any(list fact, x, x in [constants] / x == constant).
 */
static bool flat_test(parser *p, const rnode *n)
{
    const rnode *l = n->a >= 0 ? NODE(n->a) : NULL;
    const rnode *r = n->b >= 0 ? NODE(n->b) : NULL;
    switch (n->kind) {
    case N_LIT:
    case N_FACT:
        return n->type == KEFU_T_BOOL;
    case N_HAS:
        return true;
    case N_ANY:
        if (!is_strlist_fact(l) || r->kind != N_BIN)
            return false;
        l = NODE(r->a);
        r = NODE(r->b);
        if (NODE(n->b)->op == T_IN)
            return is_own_var(l, n) && r->kind == N_LIST;
        return NODE(n->b)->op == T_EQ &&
               ((is_own_var(l, n) && is_str_lit(r)) ||
                (is_own_var(r, n) && is_str_lit(l)));
    case N_BIN:
        break;
    default:
        return false;
    }
    if (num_cmp(n->op, false) >= 0 && l->type != KEFU_T_STRING &&
        ((l->kind == N_FACT && r->kind == N_LIT) ||
         (l->kind == N_LIT && r->kind == N_FACT)))
        return true;   /* number, duration or bool */
    if (n->op == T_EQ || n->op == T_NE)
        return l->type == KEFU_T_STRING &&
               ((l->kind == N_FACT && r->kind == N_LIT) ||
                (l->kind == N_LIT && r->kind == N_FACT));
    if (n->op == T_IN)
        return (l->kind == N_FACT && l->type == KEFU_T_STRING &&
                r->kind == N_LIST) ||
               (is_str_lit(l) && is_strlist_fact(r));
    return n->op == T_CONTAINS && is_strlist_fact(l) && is_str_lit(r);
}

/* Is node i made of cheap tests joined by and/or/not? */
static bool is_flat(parser *p, int i)
{
    bool neg = false;
    const rnode *n = peel_not(p, &i, &neg);
    if (n->kind == N_AND || n->kind == N_OR)
        return is_flat(p, n->a) && is_flat(p, n->b);
    return flat_test(p, n);
}

/* The test's reference (flat_test(n) holds), its cost counted. */
static int64_t flat_atom(parser *p, const rnode *n, bool *neg)
{
    kefu_ruleset *rs = p->rs;
    const rnode *l = n->a >= 0 ? NODE(n->a) : NULL;
    const rnode *r = n->b >= 0 ? NODE(n->b) : NULL;
    const kefu_rlist *list;
    int64_t ref;
    switch (n->kind) {
    case N_LIT:
        ref = kefu_rflat_const(rs, n->num != 0);
        break;
    case N_FACT:
        ref = kefu_rflat_num(rs, n->idx, KEFU_CMP_NE, 0);
        break;
    case N_HAS:
        ref = kefu_rflat_has(rs, n->idx);
        break;
    case N_ANY: {
        const rnode *body = r;
        l = NODE(body->a);
        r = NODE(body->b);
        if (body->op == T_IN) {
            list = &rs->lists[r->idx];
            ref = kefu_rflat_set(rs, NODE(n->a)->idx, rs->litems + list->first,
                                 list->n);
        } else {
            ref = kefu_rflat_set(rs, NODE(n->a)->idx,
                                 &rs->strs[is_str_lit(r) ? r->idx : l->idx], 1);
        }
        p->cost += KEFU_FACTS_MAX_LIST;
        break;
    }
    default:   /* N_BIN */
        if (n->op == T_CONTAINS || (n->op == T_IN && r->kind == N_FACT)) {
            const rnode *fact = n->op == T_IN ? r : l, *s = n->op == T_IN ? l : r;
            ref = kefu_rflat_set(rs, fact->idx, &rs->strs[s->idx], 1);
            p->cost += KEFU_FACTS_MAX_LIST;
        } else if (n->op == T_IN) {
            list = &rs->lists[r->idx];
            ref = kefu_rflat_set(rs, l->idx, rs->litems + list->first, list->n);
            p->cost += list->n;
        } else {
            bool mirrored = l->kind == N_LIT;
            const rnode *fact = mirrored ? r : l, *lit = mirrored ? l : r;
            if (fact->type == KEFU_T_STRING) {
                ref = kefu_rflat_set(rs, fact->idx, &rs->strs[lit->idx], 1);
                *neg ^= n->op == T_NE;
            } else {
                ref = kefu_rflat_num(rs, fact->idx,
                                     (uint32_t)num_cmp(n->op, mirrored), lit->num);
            }
        }
    }
    p->cost += 1;
    if (ref < 0)
        perr(p, 0, KEFU_E_NOMEM, "out of memory");
    return ref;
}

static int flat_step(parser *p, uint32_t src, uint32_t lut, int64_t *last)
{
    p->cost += 1;
    *last = kefu_rflat_step(p->rs, src, lut);
    return *last < 0 ? perr(p, 0, KEFU_E_NOMEM, "out of memory") : KEFU_OK;
}

/*
 * Steps that leave node i (negated when neg) in the stream's accumulator;
 * *last is the last step.  Negation is pushed down to the tests (De
 * Morgan); the side of an and/or that is a single test becomes one step,
 * and when both sides are formulas the right one is computed first into a
 * temporary bit.
 */
static bool is_and_or(parser *p, int i)
{
    bool neg = false;
    const rnode *n = peel_not(p, &i, &neg);
    return n->kind == N_AND || n->kind == N_OR;
}

static int flat_steps(parser *p, int i, bool neg, int64_t *last)
{
    const rnode *n = peel_not(p, &i, &neg);
    bool and_op, rneg;
    int l, r;
    int64_t ref;
    if (n->kind != N_AND && n->kind != N_OR) {
        if ((ref = flat_atom(p, n, &neg)) < 0)
            return p->rc;
        return flat_step(p, (uint32_t)ref, neg ? KEFU_STEP_SET_NOT : KEFU_STEP_SET,
                         last);
    }
    and_op = (n->kind == N_AND) != neg;
    l = n->a;
    r = n->b;
    if (is_and_or(p, r)) {
        if (!is_and_or(p, l)) {   /* and/or commute here: nothing has an effect */
            l = n->b;
            r = n->a;
        } else {
            int64_t tmp = kefu_rflat_formula(p->rs);
            if (tmp < 0)
                return perr(p, 0, KEFU_E_NOMEM, "out of memory");
            if (flat_steps(p, r, neg, last))
                return p->rc;
            kefu_rflat_step_dst(p->rs, (uint32_t)*last, (uint32_t)tmp);
            if (flat_steps(p, l, neg, last))
                return p->rc;
            return flat_step(p, (uint32_t)tmp,
                             and_op ? KEFU_STEP_AND : KEFU_STEP_OR, last);
        }
    }
    rneg = neg;
    if (flat_steps(p, l, neg, last) ||
        (ref = flat_atom(p, peel_not(p, &r, &rneg), &rneg)) < 0)
        return p->rc;
    return flat_step(p, (uint32_t)ref,
                     and_op ? (rneg ? KEFU_STEP_AND_NOT : KEFU_STEP_AND)
                            : (rneg ? KEFU_STEP_OR_NOT : KEFU_STEP_OR),
                     last);
}

/* The bit of a flat node (is_flat(i) holds) and whether it is negated. */
static int64_t flat_ref(parser *p, int i, bool *neg)
{
    const rnode *n;
    uint32_t first = kefu_rflat_nsteps(p->rs);
    int64_t f, last;
    *neg = false;
    n = peel_not(p, &i, neg);
    if (n->kind != N_AND && n->kind != N_OR)
        return flat_atom(p, n, neg);
    if ((f = kefu_rflat_formula(p->rs)) < 0)
        return perr(p, 0, KEFU_E_NOMEM, "out of memory"), -1;
    if (flat_steps(p, i, false, &last))
        return -1;
    kefu_rflat_step_dst(p->rs, (uint32_t)last, (uint32_t)f);
    if (kefu_rflat_group(p->rs, first))
        return perr(p, 0, KEFU_E_NOMEM, "out of memory"), -1;
    return f;
}

#define CHAIN_END UINT32_MAX

/* Emits a branch whose target is filled in later: the jumps of one chain
 * are linked through their `c` fields. */
static int emit_br(parser *p, int op, uint32_t a, uint32_t b, bool sense,
                   uint32_t *chain, uint64_t cost)
{
    uint32_t at = here(p);
    if (emit(p, op, a, b, cost))
        return p->rc;
    p->rs->code[at].c = *chain;
    p->rs->code[at].s = sense;
    *chain = at;
    return KEFU_OK;
}

static void patch_chain(parser *p, uint32_t head, uint32_t target)
{
    while (head != CHAIN_END) {
        uint32_t nx = p->rs->code[head].c;
        p->rs->code[head].c = target;
        head = nx;
    }
}

/*
 * Jumping code for a bool node (plain program only): jumps along *chain
 * when the node's value == sense, falls through otherwise.  Cheap parts
 * are one test of their bit (the flat form has computed it), and/or/not
 * around the rest become control flow, so the tests that can fail or cost
 * (patterns, arithmetic, loops) run only when short-circuit evaluation
 * needs them.
 */
static int gen_branch(parser *p, int i, bool sense, uint32_t *chain,
                      uint32_t depth)
{
    const rnode *n = NODE(i);
    if (is_flat(p, i)) {
        bool neg;
        int64_t ref = flat_ref(p, i, &neg);
        if (ref < 0)
            return p->rc;
        return emit_br(p, ROP_BR_BIT, (uint32_t)ref, 0, sense != neg, chain, 1);
    }
    switch (n->kind) {
    case N_AND:
    case N_OR: {
        bool both = (n->kind == N_AND) != sense;  /* both sides jump alike */
        if (both)
            return gen_branch(p, n->a, sense, chain, depth) ||
                           gen_branch(p, n->b, sense, chain, depth)
                       ? p->rc
                       : KEFU_OK;
        {
            uint32_t skip = CHAIN_END;
            if (gen_branch(p, n->a, !sense, &skip, depth) ||
                gen_branch(p, n->b, sense, chain, depth))
                return p->rc;
            patch_chain(p, skip, here(p));
            return KEFU_OK;
        }
    }
    case N_NOT:
        return gen_branch(p, n->a, !sense, chain, depth);
    case N_MATCH:
        if (NODE(n->a)->kind == N_FACT && NODE(n->a)->idx <= UINT16_MAX)
            return emit_br(p, ROP_BR_MATCH, n->idx, NODE(n->a)->idx, sense,
                           chain, 1);
        break;
    }
    if (gen(p, i, depth))
        return p->rc;
    return emit_br(p, ROP_BR, 0, 0, sense, chain, 1);
}

static int gen(parser *p, int i, uint32_t depth)
{
    const rnode *n = NODE(i);
    int rc = KEFU_OK;
    if (depth + 2 > p->maxstack)
        p->maxstack = depth + 2;
    if (!p->traced && n->kind != N_LIT && is_flat(p, i)) {
        bool neg;
        int64_t ref = flat_ref(p, i, &neg);
        return ref < 0 ? p->rc : emit(p, ROP_LOAD_BIT, (uint32_t)ref, neg, 1);
    }
    switch (n->kind) {
    case N_LIT:
        if (n->type == KEFU_T_BOOL)
            rc = emit(p, n->num ? ROP_TRUE : ROP_FALSE, 0, 0, 1);
        else if (n->type == KEFU_T_STRING)
            rc = emit(p, ROP_STR, n->idx, 0, 1);
        else
            rc = emit(p, ROP_NUM, n->idx, 0, 1);
        break;
    case N_LIST:
        rc = emit(p, ROP_LIST, n->idx, 0, 1);
        break;
    case N_FACT:
        rc = emit(p,
                  n->type == KEFU_T_STRING ? ROP_LOAD_STR
                  : n->type == KEFU_T_STRLIST || n->type == KEFU_T_NUMLIST
                      ? ROP_LOAD_LIST
                      : ROP_LOAD_NUM,
                  n->idx, 0, 1);
        break;
    case N_VAR:
        rc = emit(p, ROP_VAR, n->type, n->idx, 1);
        break;
    case N_HAS:
        rc = emit(p, ROP_HAS, n->idx, 0, 1);
        break;
    case N_NOT:
        rc = gen(p, n->a, depth) || emit(p, ROP_NOT, 0, 0, 1);
        break;
    case N_NEG:
        rc = gen(p, n->a, depth) || emit(p, ROP_NEG, 0, 0, 1);
        break;
    case N_AND:
    case N_OR: {
        uint32_t j;
        if (gen(p, n->a, depth))
            return p->rc;
        j = here(p);
        if (emit(p, n->kind == N_AND ? ROP_JF_KEEP : ROP_JT_KEEP, 0, 0, 1) ||
            gen(p, n->b, depth))
            return p->rc;
        patch(p, j);
        break;
    }
    case N_BIN:
        if (n->op == T_IN || n->op == T_CONTAINS) {
            int value = n->op == T_IN ? n->a : n->b;
            int list = n->op == T_IN ? n->b : n->a;
            int lt = NODE(list)->type;
            if (lt == KEFU_T_STRING) {   /* substring */
                rc = gen(p, n->a, depth) || gen(p, n->b, depth + 1) ||
                     emit(p, ROP_CONTAINS_S, 0, 0, 1);
                break;
            }
            rc = gen(p, value, depth) || gen(p, list, depth + 1) ||
                 emit(p, lt == KEFU_T_STRLIST ? ROP_IN_SL : ROP_IN_NL, 0, 0,
                      list_cost(p, list));
            break;
        }
        rc = gen(p, n->a, depth) || gen(p, n->b, depth + 1) ||
             emit(p, bin_op(n->op, NODE(n->a)->type), 0, 0, 1);
        break;
    case N_MATCH:
        rc = gen(p, n->a, depth) || emit(p, ROP_MATCH, n->idx, 0, 1);
        break;
    case N_COUNT:
        rc = gen(p, n->a, depth) || emit(p, ROP_COUNT_L, 0, 0, 1);
        break;
    case N_LEN:
        rc = gen(p, n->a, depth) || emit(p, ROP_LEN_S, 0, 0, 1);
        break;
    case N_ANY:
    case N_ALL:
    case N_COUNTP:
        rc = gen_loop(p, n, depth);
        break;
    }
    if (rc)
        return p->rc ? p->rc : rc;
    return gen_trace(p, n);
}

/* A pattern on a string fact, maybe under `not`. */
static bool is_fact_match(parser *p, int i, bool *neg)
{
    const rnode *n = peel_not(p, &i, neg);
    return n->kind == N_MATCH && NODE(n->a)->kind == N_FACT;
}

/*
 * A condition that joins a cheap part and a pattern on a string fact with
 * and/or (`intent == "complaint" or text matches "..."`) needs no
 * program: the rule reads the part's bit and matches the pattern when the
 * bit does not decide (or first, when the pattern is written first).
 * Returns false when the condition has another shape; p->rc tells errors.
 */
static bool flat_and_match(parser *p, int root, kefu_rule *r)
{
    bool neg = false, mneg, fneg, na, nb, ignored = false;
    int i = root, part, m;
    const rnode *n = peel_not(p, &i, &neg), *mn;
    uint32_t form = KEFU_MATCH_ON;
    int64_t ref;
    if (n->kind == N_AND || n->kind == N_OR) {
        if ((n->kind == N_AND) != neg)   /* De Morgan under a `not` */
            form |= KEFU_MATCH_AND;
        na = nb = fneg = neg;
        if (is_flat(p, n->a) && is_fact_match(p, n->b, &nb)) {
            part = n->a;
            m = n->b;
            mneg = nb;
        } else if (is_fact_match(p, n->a, &na) && is_flat(p, n->b)) {
            part = n->b;
            m = n->a;
            mneg = na;
            form |= KEFU_MATCH_FIRST;
        } else {
            return false;
        }
    } else if (n->kind == N_MATCH && NODE(n->a)->kind == N_FACT) {
        part = -1;   /* true and the pattern */
        m = i;
        mneg = neg;
        fneg = false;
        form |= KEFU_MATCH_AND;
    } else {
        return false;
    }
    if (p->rs->nre >= (1u << 24))   /* too many to pack: a program runs it */
        return false;
    if (part < 0) {
        ref = kefu_rflat_const(p->rs, true);
        if (ref < 0)
            perr(p, 0, KEFU_E_NOMEM, "out of memory");
    } else {
        bool pn;
        ref = flat_ref(p, part, &pn);
        fneg ^= pn;
    }
    if (ref < 0)
        return true;
    mn = peel_not(p, &m, &ignored);
    r->flat = true;
    r->fbit = (uint32_t)ref;
    r->fneg = fneg;
    r->match = form | (mneg ? KEFU_MATCH_NEG : 0) | mn->idx << 8;
    r->mfact = NODE(mn->a)->idx;
    r->code = UINT32_MAX;
    p->cost += 1;
    return true;
}

int kefu_rexpr_compile(kefu_rcomp *c, kefu_rule *r, const char *src,
                       size_t len)
{
    parser p;
    int root;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.rs = c->rs;
    p.src = src;
    p.len = len;
    if (len > KEFU_RULE_MAX_SOURCE)
        return perr(&p, 0, KEFU_E_LIMIT, "expression longer than %d bytes",
                    KEFU_RULE_MAX_SOURCE);
    if (next(&p))
        goto out;
    if (p.t.type == T_EOF) {
        perr(&p, 0, KEFU_E_SYNTAX, "empty expression");
        goto out;
    }
    root = parse_or(&p);
    if (root < 0)
        goto out;
    if (p.t.type != T_EOF) {
        perr(&p, p.t.off, KEFU_E_SYNTAX, "unexpected '%s' after the expression",
             tok_names[p.t.type]);
        goto out;
    }
    if (p.nodes[root].type != KEFU_T_BOOL) {
        perr(&p, p.nodes[root].off, KEFU_E_TYPE,
             "a rule condition must be a bool, not a %s",
             kefu_type_name(p.nodes[root].type));
        goto out;
    }
    p.mult = 1;
    if (!is_flat(&p, root) && flat_and_match(&p, root, r)) {
        if (p.rc)
            goto out;
    } else if (is_flat(&p, root)) {   /* no plain program: the rule reads a bit */
        int64_t ref = flat_ref(&p, root, &r->fneg);
        if (ref < 0)
            goto out;
        r->flat = true;
        r->fbit = (uint32_t)ref;
        r->code = UINT32_MAX;
    } else {
        uint32_t no = CHAIN_END;
        r->code = here(&p);
        if (gen_branch(&p, root, false, &no, 0) ||
            emit(&p, ROP_RET_T, 0, 0, 0))
            goto out;
        patch_chain(&p, no, here(&p));
        if (emit(&p, ROP_RET_F, 0, 0, 0))
            goto out;
    }
    r->cost = (uint32_t)(p.cost > UINT32_MAX ? UINT32_MAX : p.cost);
    if (p.cost > KEFU_RULE_MAX_COST) {
        perr(&p, 0, KEFU_E_LIMIT,
             "expression may take %llu steps, more than the limit of %d "
             "(each any/all/count multiplies its condition by the list size)",
             (unsigned long long)p.cost, KEFU_RULE_MAX_COST);
        goto out;
    }
    p.traced = true;
    p.cost = 0;
    r->tcode = here(&p);
    r->tnode_first = (uint32_t)p.rs->ntnodes;
    if (gen(&p, root, 0) || emit(&p, ROP_RET, 0, 0, 0))
        goto out;
    r->tnode_n = (uint32_t)(p.rs->ntnodes - r->tnode_first);
    if (p.maxstack > p.rs->max_stack)
        p.rs->max_stack = p.maxstack;
out:
    kefu_dealloc(&c->rs->mem, p.nodes);
    kefu_buf_release(&c->rs->mem, &p.sb);
    return p.rc;
}
