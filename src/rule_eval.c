/*
 * rule_eval.c - the rule evaluator: runs the flat stack programs that
 * rule_compile.c generated over a kefu_facts, and the result object that
 * keeps fired rules, their actions, per-rule outcomes and the trace.
 *
 * Evaluation never allocates: the result is sized for the rule set on the
 * first evaluation with it (and only grows when a larger set comes along),
 * the value stack is bounded at compile time, strings are compared in
 * place and PCRE2 matches into match data made once per result.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <stdio.h>

#include "rules.h"

typedef union rv {
    double n;   /* number, duration (ms), bool (0/1) */
    struct {
        const char *p;
        uint32_t len;
    } s;
    struct {
        const kefu_litem *it;
        uint32_t n;
    } l;
} rv;

typedef struct trace_rec {
    uint32_t rule, tnode;
    rv v;
} trace_rec;

typedef struct rule_out {
    uint32_t state;
    int32_t status;
    uint32_t tfirst, tn;
} rule_out;

typedef struct loop_frame {
    const kefu_litem *it;
    uint32_t n, i, count;
} loop_frame;

struct kefu_rules_result {
    kefu_mem mem;
    const kefu_ruleset *rs;
    uint32_t flags;
    rv *stack;
    size_t capstack;
    uint32_t *fired;
    size_t capfired;
    uint32_t nfired;
    uint32_t *acts;          /* indexes into rs->actions */
    size_t capacts;
    uint32_t nacts;
    uint8_t *state;          /* kefu_rule_state per rule */
    size_t capstate;
    rule_out *outs;          /* status (errors) and trace ranges (traced) */
    size_t capouts;
    trace_rec *trace;
    size_t captrace;
    uint32_t ntrace;
    pcre2_match_data *md;
    pcre2_general_context *gctx;
    loop_frame loops[KEFU_RULE_MAX_LOOPS + 1];
};

static void *re_malloc(PCRE2_SIZE n, void *u)
{
    return kefu_alloc(u, n);
}

static void re_free(void *ptr, void *u)
{
    kefu_dealloc(u, ptr);
}

KEFU_API int kefu_rules_result_new(kefu_rules_result **out,
                                   const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_rules_result *r;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    kefu_mem_init(&mem, alloc);
    if (!(r = kefu_zalloc(&mem, sizeof *r)))
        return KEFU_E_NOMEM;
    r->mem = mem;
    r->gctx = pcre2_general_context_create(re_malloc, re_free, &r->mem);
    if (r->gctx)
        r->md = pcre2_match_data_create(1, r->gctx);
    if (!r->md) {
        pcre2_general_context_free(r->gctx);
        kefu_dealloc(&mem, r);
        return KEFU_E_NOMEM;
    }
    *out = r;
    return KEFU_OK;
}

KEFU_API void kefu_rules_result_free(kefu_rules_result *r)
{
    kefu_mem mem;
    if (!r)
        return;
    mem = r->mem;
    pcre2_match_data_free(r->md);
    pcre2_general_context_free(r->gctx);
    kefu_dealloc(&mem, r->stack);
    kefu_dealloc(&mem, r->fired);
    kefu_dealloc(&mem, r->acts);
    kefu_dealloc(&mem, r->outs);
    kefu_dealloc(&mem, r->state);
    kefu_dealloc(&mem, r->trace);
    kefu_dealloc(&mem, r);
}

/* Sizes the result for a rule set; allocates only when it grew. */
static int fit(kefu_rules_result *r, const kefu_ruleset *rs)
{
    size_t nr = rs->nrules ? rs->nrules : 1;
    if (kefu_grow(&r->mem, (void **)&r->stack, &r->capstack,
                  rs->max_stack + 4, sizeof *r->stack) ||
        kefu_grow(&r->mem, (void **)&r->fired, &r->capfired, nr,
                  sizeof *r->fired) ||
        kefu_grow(&r->mem, (void **)&r->acts, &r->capacts,
                  rs->nactions ? rs->nactions : 1, sizeof *r->acts) ||
        kefu_grow(&r->mem, (void **)&r->outs, &r->capouts, nr,
                  sizeof *r->outs) ||
        kefu_grow(&r->mem, (void **)&r->state, &r->capstate, nr,
                  sizeof *r->state) ||
        kefu_grow(&r->mem, (void **)&r->trace, &r->captrace,
                  rs->ntnodes ? rs->ntnodes : 1, sizeof *r->trace))
        return KEFU_E_NOMEM;
    return KEFU_OK;
}

static const kefu_fslot zero_slot = {0, "", NULL, 0, 0, 0};

/* The slot of fact `id` of rule set rs in facts made for maybe another
 * set: built-ins share ids; other facts match by name and type. */
static const kefu_fslot *slot_by_name(const kefu_ruleset *rs,
                                      const kefu_facts *f, uint32_t id);

/* The slot of fact `id` inside run_all. */
#define SLOT(id)                                                       \
    ((id) < direct_lim                                                 \
         ? &slots[id]                                                  \
         : slot_by_name(rs, f, (id)))

static const kefu_fslot *slot_by_name(const kefu_ruleset *rs,
                                      const kefu_facts *f, uint32_t id)
{
    const kefu_fdecl *d;
    int64_t j;
    d = &rs->decls[id - KEFU_F_BUILTIN_COUNT];
    j = kefu_ruleset_fact_lookup(f->rs, d->name, d->name_len);
    if (j < 0 || f->slot[j].type != d->type)
        return &zero_slot;
    return &f->slot[j];
}

static bool contains(const char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0)
        return true;
    while (hl >= nl) {
        const char *c = memchr(h, n[0], hl - nl + 1);
        if (!c)
            return false;
        if (!memcmp(c, n, nl))
            return true;
        hl -= (size_t)(c - h) + 1;
        h = c + 1;
    }
    return false;
}

static int strcmp_rv(const rv *a, const rv *b)
{
    uint32_t m = a->s.len < b->s.len ? a->s.len : b->s.len;
    int c = m ? memcmp(a->s.p, b->s.p, m) : 0;
    if (c)
        return c;
    return a->s.len < b->s.len ? -1 : a->s.len > b->s.len;
}

static inline bool str_eq(const char *a, uint32_t al, const char *b,
                          uint32_t bl)
{
    return al == bl && (al == 0 || (a[0] == b[0] && !memcmp(a, b, al)));
}

/*
 * Runs every rule's program in order (one function, so the dispatch set-up
 * is paid once per evaluation).  A program that fails (KEFU_E_LIMIT for a
 * runaway regex, KEFU_E_ARG for x/0) leaves its rule in KEFU_RULE_ERROR and
 * evaluation goes on with the next rule.
 */
/* Threaded dispatch (one indirect jump per instruction, which branch
 * predictors follow far better than a switch's single jump) where the
 * compiler has labels as values; a plain switch elsewhere. */
#if defined(__GNUC__) && !defined(KEFU_NO_THREADED)
#define KEFU_THREADED 1
#define CASE(op) L_##op: case op
#define NEXT                    \
    do {                        \
        in = code[pc++];        \
        goto *jump[in.op];      \
    } while (0)
#else
#define KEFU_THREADED 0
#define CASE(op) case op
#define NEXT break
#endif

#if defined(__GNUC__) && !defined(__clang__)
/* keep one dispatch jump per instruction: merging the handlers' common
 * tails would leave a single indirect jump that predicts poorly */
__attribute__((optimize("no-crossjumping", "no-gcse")))
#endif
static int run_all(kefu_rules_result *r, const kefu_ruleset *rs,
                   const kefu_facts *f, bool traced)
{
    /* hoisted into locals: stores through sp could alias the structs */
    const kefu_rinsn *const code = rs->code;
    const double *const nums = rs->nums;
    const kefu_fslot *const slots = f->slot;
    const bool direct = f->rs->schema_hash == rs->schema_hash;
    /* ids below this index the facts' slots directly */
    const uint32_t direct_lim = direct ? f->n : KEFU_F_BUILTIN_COUNT;
    const kefu_rule *const rules = rs->rules;
    const uint32_t nrules = rs->nrules;
    rv *const stack0 = r->stack - 1;
    kefu_rinsn in;
    rv *sp;
    uint32_t pc, rule;
    bool fired;
    int status, acc = 0;
#if KEFU_THREADED
    static const void *const jump[ROP_COUNT_] = {
        [ROP_RET] = &&L_ROP_RET,
        [ROP_TRUE] = &&L_ROP_TRUE,
        [ROP_FALSE] = &&L_ROP_FALSE,
        [ROP_NUM] = &&L_ROP_NUM,
        [ROP_STR] = &&L_ROP_STR,
        [ROP_LIST] = &&L_ROP_LIST,
        [ROP_LOAD_NUM] = &&L_ROP_LOAD_NUM,
        [ROP_LOAD_STR] = &&L_ROP_LOAD_STR,
        [ROP_LOAD_LIST] = &&L_ROP_LOAD_LIST,
        [ROP_HAS] = &&L_ROP_HAS,
        [ROP_VAR] = &&L_ROP_VAR,
        [ROP_NOT] = &&L_ROP_NOT,
        [ROP_JF_KEEP] = &&L_ROP_JF_KEEP,
        [ROP_JT_KEEP] = &&L_ROP_JT_KEEP,
        [ROP_POP] = &&L_ROP_POP,
        [ROP_JMP] = &&L_ROP_JMP,
        [ROP_NEG] = &&L_ROP_NEG,
        [ROP_ADD] = &&L_ROP_ADD,
        [ROP_SUB] = &&L_ROP_SUB,
        [ROP_MUL] = &&L_ROP_MUL,
        [ROP_DIV] = &&L_ROP_DIV,
        [ROP_MOD] = &&L_ROP_MOD,
        [ROP_EQ_N] = &&L_ROP_EQ_N,
        [ROP_NE_N] = &&L_ROP_NE_N,
        [ROP_LT_N] = &&L_ROP_LT_N,
        [ROP_LE_N] = &&L_ROP_LE_N,
        [ROP_GT_N] = &&L_ROP_GT_N,
        [ROP_GE_N] = &&L_ROP_GE_N,
        [ROP_EQ_S] = &&L_ROP_EQ_S,
        [ROP_NE_S] = &&L_ROP_NE_S,
        [ROP_LT_S] = &&L_ROP_LT_S,
        [ROP_LE_S] = &&L_ROP_LE_S,
        [ROP_GT_S] = &&L_ROP_GT_S,
        [ROP_GE_S] = &&L_ROP_GE_S,
        [ROP_EQ_B] = &&L_ROP_EQ_B,
        [ROP_NE_B] = &&L_ROP_NE_B,
        [ROP_IN_SL] = &&L_ROP_IN_SL,
        [ROP_IN_NL] = &&L_ROP_IN_NL,
        [ROP_CONTAINS_S] = &&L_ROP_CONTAINS_S,
        [ROP_STARTS] = &&L_ROP_STARTS,
        [ROP_ENDS] = &&L_ROP_ENDS,
        [ROP_MATCH] = &&L_ROP_MATCH,
        [ROP_LEN_S] = &&L_ROP_LEN_S,
        [ROP_COUNT_L] = &&L_ROP_COUNT_L,
        [ROP_ITER_INIT] = &&L_ROP_ITER_INIT,
        [ROP_ITER_NEXT] = &&L_ROP_ITER_NEXT,
        [ROP_ITER_ANY] = &&L_ROP_ITER_ANY,
        [ROP_ITER_ALL] = &&L_ROP_ITER_ALL,
        [ROP_ITER_TALLY] = &&L_ROP_ITER_TALLY,
        [ROP_ITER_END_ANY] = &&L_ROP_ITER_END_ANY,
        [ROP_ITER_END_ALL] = &&L_ROP_ITER_END_ALL,
        [ROP_ITER_END_COUNT] = &&L_ROP_ITER_END_COUNT,
        [ROP_TRACE] = &&L_ROP_TRACE,
        [ROP_EQ_FN] = &&L_ROP_EQ_FN,
        [ROP_NE_FN] = &&L_ROP_NE_FN,
        [ROP_LT_FN] = &&L_ROP_LT_FN,
        [ROP_LE_FN] = &&L_ROP_LE_FN,
        [ROP_GT_FN] = &&L_ROP_GT_FN,
        [ROP_GE_FN] = &&L_ROP_GE_FN,
        [ROP_EQ_FS] = &&L_ROP_EQ_FS,
        [ROP_NE_FS] = &&L_ROP_NE_FS,
        [ROP_IN_FS_CL] = &&L_ROP_IN_FS_CL,
        [ROP_IN_CS_FL] = &&L_ROP_IN_CS_FL,
        [ROP_BR] = &&L_ROP_BR,
        [ROP_RET_T] = &&L_ROP_RET_T,
        [ROP_RET_F] = &&L_ROP_RET_F,
        [ROP_BR_LOADB] = &&L_ROP_BR_LOADB,
        [ROP_BR_HAS] = &&L_ROP_BR_HAS,
        [ROP_BR_EQ_FN] = &&L_ROP_BR_EQ_FN,
        [ROP_BR_NE_FN] = &&L_ROP_BR_NE_FN,
        [ROP_BR_LT_FN] = &&L_ROP_BR_LT_FN,
        [ROP_BR_LE_FN] = &&L_ROP_BR_LE_FN,
        [ROP_BR_GT_FN] = &&L_ROP_BR_GT_FN,
        [ROP_BR_GE_FN] = &&L_ROP_BR_GE_FN,
        [ROP_BR_EQ_FS] = &&L_ROP_BR_EQ_FS,
        [ROP_BR_NE_FS] = &&L_ROP_BR_NE_FS,
        [ROP_BR_IN_FS_CL] = &&L_ROP_BR_IN_FS_CL,
        [ROP_BR_IN_CS_FL] = &&L_ROP_BR_IN_CS_FL,
        [ROP_AND_B] = &&L_ROP_AND_B,
        [ROP_OR_B] = &&L_ROP_OR_B,
        [ROP_ACC_EQ_FN] = &&L_ROP_ACC_EQ_FN,
        [ROP_ACC_NE_FN] = &&L_ROP_ACC_NE_FN,
        [ROP_ACC_LT_FN] = &&L_ROP_ACC_LT_FN,
        [ROP_ACC_LE_FN] = &&L_ROP_ACC_LE_FN,
        [ROP_ACC_GT_FN] = &&L_ROP_ACC_GT_FN,
        [ROP_ACC_GE_FN] = &&L_ROP_ACC_GE_FN,
        [ROP_ACC_EQ_FS] = &&L_ROP_ACC_EQ_FS,
        [ROP_ACC_IN_FS_CL] = &&L_ROP_ACC_IN_FS_CL,
        [ROP_ACC_IN_CS_FL] = &&L_ROP_ACC_IN_CS_FL,
        [ROP_ACC_LOADB] = &&L_ROP_ACC_LOADB,
        [ROP_ACC_HAS] = &&L_ROP_ACC_HAS,
        [ROP_ACC_RET] = &&L_ROP_ACC_RET,
    };
#endif
    /* Per rule, only what must be: the state bytes are set in bulk, the
     * rest is written for rules that fire or fail, or when tracing. */
    memset(r->state, KEFU_RULE_FALSE, rs->nrules);
    for (rule = 0; rule < rs->nrules; rule++) {
    uint32_t tfirst = r->ntrace;
    pc = traced ? rules[rule].tcode : rules[rule].code;
    sp = stack0;
    fired = false;
    status = KEFU_OK;
    for (;;) {
        in = code[pc++];
        switch (in.op) {
        CASE(ROP_RET):
            fired = sp->n != 0;
            goto rule_end;
        CASE(ROP_TRUE):
            (++sp)->n = 1;
            NEXT;
        CASE(ROP_FALSE):
            (++sp)->n = 0;
            NEXT;
        CASE(ROP_NUM):
            (++sp)->n = nums[in.a];
            NEXT;
        CASE(ROP_STR):
            ++sp;
            sp->s.p = rs->strs[in.a].str;
            sp->s.len = rs->strs[in.a].len;
            NEXT;
        CASE(ROP_LIST):
            ++sp;
            sp->l.it = rs->litems + rs->lists[in.a].first;
            sp->l.n = rs->lists[in.a].n;
            NEXT;
        CASE(ROP_LOAD_NUM):
            (++sp)->n = SLOT(in.a)->num;
            NEXT;
        CASE(ROP_LOAD_STR): {
            const kefu_fslot *s = SLOT(in.a);
            ++sp;
            sp->s.p = s->str;
            sp->s.len = s->len;
            NEXT;
        }
        CASE(ROP_LOAD_LIST): {
            const kefu_fslot *s = SLOT(in.a);
            ++sp;
            sp->l.it = s->items;
            sp->l.n = s->len;
            NEXT;
        }
        CASE(ROP_HAS):
            (++sp)->n = SLOT(in.a)->present;
            NEXT;
        CASE(ROP_VAR): {
            const loop_frame *lf = &r->loops[in.b];
            const kefu_litem *it = &lf->it[lf->i - 1];
            ++sp;
            if (in.a == KEFU_T_STRING) {
                sp->s.p = it->str;
                sp->s.len = it->len;
            } else {
                sp->n = it->num;
            }
            NEXT;
        }
        CASE(ROP_NOT):
            sp->n = sp->n == 0;
            NEXT;
        CASE(ROP_JF_KEEP):
            if (sp->n == 0)
                pc = in.a;
            else
                sp--;
            NEXT;
        CASE(ROP_JT_KEEP):
            if (sp->n != 0)
                pc = in.a;
            else
                sp--;
            NEXT;
#define ACC(t)                                                          \
    do {                                                                \
        int t_ = (int)(t) ^ (int)((in.s >> 3) & 1);                     \
        acc = (acc & (int)(in.s & 1)) | (t_ & (int)((in.s >> 1) & 1)) | \
              (acc & t_ & (int)((in.s >> 2) & 1));                      \
    } while (0)
        CASE(ROP_ACC_EQ_FN): ACC(SLOT(in.b)->num == nums[in.a]); NEXT;
        CASE(ROP_ACC_NE_FN): ACC(SLOT(in.b)->num != nums[in.a]); NEXT;
        CASE(ROP_ACC_LT_FN): ACC(SLOT(in.b)->num < nums[in.a]); NEXT;
        CASE(ROP_ACC_LE_FN): ACC(SLOT(in.b)->num <= nums[in.a]); NEXT;
        CASE(ROP_ACC_GT_FN): ACC(SLOT(in.b)->num > nums[in.a]); NEXT;
        CASE(ROP_ACC_GE_FN): ACC(SLOT(in.b)->num >= nums[in.a]); NEXT;
        CASE(ROP_ACC_EQ_FS): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *c = &rs->strs[in.a];
            ACC(str_eq(s->str, s->len, c->str, c->len));
            NEXT;
        }
        CASE(ROP_ACC_IN_FS_CL): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *it = rs->litems + rs->lists[in.a].first;
            uint32_t n = rs->lists[in.a].n;
            int hit = 0;
            for (uint32_t i = 0; i < n; i++)
                hit |= str_eq(s->str, s->len, it[i].str, it[i].len);
            ACC(hit);
            NEXT;
        }
        CASE(ROP_ACC_IN_CS_FL): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *c = &rs->strs[in.a];
            int hit = 0;
            for (uint32_t i = 0; i < s->len; i++)
                hit |= str_eq(c->str, c->len, s->items[i].str, s->items[i].len);
            ACC(hit);
            NEXT;
        }
        CASE(ROP_ACC_LOADB): ACC(SLOT(in.b)->num != 0); NEXT;
        CASE(ROP_ACC_HAS): ACC(SLOT(in.b)->present != 0); NEXT;
#undef ACC
        CASE(ROP_ACC_RET):
            fired = acc != 0;
            goto rule_end;
        CASE(ROP_AND_B):
            sp--;
            sp->n = (double)((sp->n != 0) & (sp[1].n != 0));
            NEXT;
        CASE(ROP_OR_B):
            sp--;
            sp->n = (double)((sp->n != 0) | (sp[1].n != 0));
            NEXT;
        CASE(ROP_RET_T):
            fired = true;
            goto done;
        CASE(ROP_RET_F):
            fired = false;
        rule_end:
            /* the common case, a rule that did not fire in a plain run,
             * goes straight on to the next rule's code */
            if (fired || traced)
                goto done;
            if (++rule >= nrules)
                goto finished;
            pc = rules[rule].code;
            sp = stack0;
            NEXT;
        CASE(ROP_BR):
            if (((sp--)->n != 0) == in.s)
                pc = in.c;
            NEXT;
        CASE(ROP_BR_LOADB):
            if ((SLOT(in.b)->num != 0) == in.s)
                pc = in.c;
            NEXT;
        CASE(ROP_BR_HAS):
            if ((SLOT(in.b)->present != 0) == in.s)
                pc = in.c;
            NEXT;
#define BR_FN(OP, cmp)                                                    \
        CASE(OP):                                                          \
            if ((SLOT(in.b)->num cmp nums[in.a]) == in.s)   \
                pc = in.c;                                                \
            NEXT;
        BR_FN(ROP_BR_EQ_FN, ==)
        BR_FN(ROP_BR_NE_FN, !=)
        BR_FN(ROP_BR_LT_FN, <)
        BR_FN(ROP_BR_LE_FN, <=)
        BR_FN(ROP_BR_GT_FN, >)
        BR_FN(ROP_BR_GE_FN, >=)
#undef BR_FN
        CASE(ROP_BR_EQ_FS):
        CASE(ROP_BR_NE_FS): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *c = &rs->strs[in.a];
            bool t = str_eq(s->str, s->len, c->str, c->len) == (in.op == ROP_BR_EQ_FS);
            if (t == in.s)
                pc = in.c;
            NEXT;
        }
        CASE(ROP_BR_IN_FS_CL): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *it = rs->litems + rs->lists[in.a].first;
            uint32_t n = rs->lists[in.a].n;
            bool hit = false;
            for (uint32_t i = 0; i < n && !hit; i++)
                hit = str_eq(s->str, s->len, it[i].str, it[i].len);
            if (hit == in.s)
                pc = in.c;
            NEXT;
        }
        CASE(ROP_BR_IN_CS_FL): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *c = &rs->strs[in.a];
            bool hit = false;
            for (uint32_t i = 0; i < s->len && !hit; i++)
                hit = str_eq(c->str, c->len, s->items[i].str, s->items[i].len);
            if (hit == in.s)
                pc = in.c;
            NEXT;
        }
        CASE(ROP_EQ_FN): (++sp)->n = SLOT(in.b)->num == nums[in.a]; NEXT;
        CASE(ROP_NE_FN): (++sp)->n = SLOT(in.b)->num != nums[in.a]; NEXT;
        CASE(ROP_LT_FN): (++sp)->n = SLOT(in.b)->num < nums[in.a]; NEXT;
        CASE(ROP_LE_FN): (++sp)->n = SLOT(in.b)->num <= nums[in.a]; NEXT;
        CASE(ROP_GT_FN): (++sp)->n = SLOT(in.b)->num > nums[in.a]; NEXT;
        CASE(ROP_GE_FN): (++sp)->n = SLOT(in.b)->num >= nums[in.a]; NEXT;
        CASE(ROP_EQ_FS):
        CASE(ROP_NE_FS): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *c = &rs->strs[in.a];
            (++sp)->n = str_eq(s->str, s->len, c->str, c->len) == (in.op == ROP_EQ_FS);
            NEXT;
        }
        CASE(ROP_IN_FS_CL): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *it = rs->litems + rs->lists[in.a].first;
            uint32_t n = rs->lists[in.a].n;
            bool hit = false;
            for (uint32_t i = 0; i < n && !hit; i++)
                hit = str_eq(s->str, s->len, it[i].str, it[i].len);
            (++sp)->n = hit;
            NEXT;
        }
        CASE(ROP_IN_CS_FL): {
            const kefu_fslot *s = SLOT(in.b);
            const kefu_litem *c = &rs->strs[in.a];
            bool hit = false;
            for (uint32_t i = 0; i < s->len && !hit; i++)
                hit = str_eq(c->str, c->len, s->items[i].str, s->items[i].len);
            (++sp)->n = hit;
            NEXT;
        }
        CASE(ROP_POP):
            sp--;
            NEXT;
        CASE(ROP_JMP):
            pc = in.a;
            NEXT;
        CASE(ROP_NEG):
            sp->n = -sp->n;
            NEXT;
        CASE(ROP_ADD): sp--; sp->n = sp->n + sp[1].n; NEXT;
        CASE(ROP_SUB): sp--; sp->n = sp->n - sp[1].n; NEXT;
        CASE(ROP_MUL): sp--; sp->n = sp->n * sp[1].n; NEXT;
        CASE(ROP_DIV):
            sp--;
            if (sp[1].n == 0)
                { status = KEFU_E_ARG; goto done; }
            sp->n = sp->n / sp[1].n;
            NEXT;
        CASE(ROP_MOD):
            sp--;
            if (sp[1].n == 0)
                { status = KEFU_E_ARG; goto done; }
            sp->n = fmod(sp->n, sp[1].n);
            NEXT;
        CASE(ROP_EQ_N): CASE(ROP_EQ_B): sp--; sp->n = sp->n == sp[1].n; NEXT;
        CASE(ROP_NE_N): CASE(ROP_NE_B): sp--; sp->n = sp->n != sp[1].n; NEXT;
        CASE(ROP_LT_N): sp--; sp->n = sp->n < sp[1].n; NEXT;
        CASE(ROP_LE_N): sp--; sp->n = sp->n <= sp[1].n; NEXT;
        CASE(ROP_GT_N): sp--; sp->n = sp->n > sp[1].n; NEXT;
        CASE(ROP_GE_N): sp--; sp->n = sp->n >= sp[1].n; NEXT;
        CASE(ROP_EQ_S):
            sp--;
            sp->n = str_eq(sp->s.p, sp->s.len, sp[1].s.p, sp[1].s.len);
            NEXT;
        CASE(ROP_NE_S):
            sp--;
            sp->n = !str_eq(sp->s.p, sp->s.len, sp[1].s.p, sp[1].s.len);
            NEXT;
        CASE(ROP_LT_S): sp--; sp->n = strcmp_rv(sp, sp + 1) < 0; NEXT;
        CASE(ROP_LE_S): sp--; sp->n = strcmp_rv(sp, sp + 1) <= 0; NEXT;
        CASE(ROP_GT_S): sp--; sp->n = strcmp_rv(sp, sp + 1) > 0; NEXT;
        CASE(ROP_GE_S): sp--; sp->n = strcmp_rv(sp, sp + 1) >= 0; NEXT;
        CASE(ROP_IN_SL): {
            const kefu_litem *it = sp->l.it;
            uint32_t n = sp->l.n;
            bool hit = false;
            sp--;
            for (uint32_t i = 0; i < n && !hit; i++)
                hit = str_eq(sp->s.p, sp->s.len, it[i].str, it[i].len);
            sp->n = hit;
            NEXT;
        }
        CASE(ROP_IN_NL): {
            const kefu_litem *it = sp->l.it;
            uint32_t n = sp->l.n;
            bool hit = false;
            sp--;
            for (uint32_t i = 0; i < n && !hit; i++)
                hit = sp->n == it[i].num;
            sp->n = hit;
            NEXT;
        }
        CASE(ROP_CONTAINS_S):
            sp--;
            sp->n = contains(sp->s.p, sp->s.len, sp[1].s.p, sp[1].s.len);
            NEXT;
        CASE(ROP_STARTS):
            sp--;
            sp->n = sp->s.len >= sp[1].s.len &&
                    (sp[1].s.len == 0 || !memcmp(sp->s.p, sp[1].s.p, sp[1].s.len));
            NEXT;
        CASE(ROP_ENDS):
            sp--;
            sp->n = sp->s.len >= sp[1].s.len &&
                    (sp[1].s.len == 0 ||
                     !memcmp(sp->s.p + sp->s.len - sp[1].s.len, sp[1].s.p,
                             sp[1].s.len));
            NEXT;
        CASE(ROP_MATCH): {
            /* facts are valid UTF-8 (checked when set, or the session's
             * validated text), so the JIT entry skips the checks */
            int rc = rs->re_jit[in.a]
                         ? pcre2_jit_match(rs->re[in.a], (PCRE2_SPTR)sp->s.p,
                                           sp->s.len, 0, 0, r->md, rs->mctx)
                         : pcre2_match(rs->re[in.a], (PCRE2_SPTR)sp->s.p,
                                       sp->s.len, 0, PCRE2_NO_UTF_CHECK, r->md,
                                       rs->mctx);
            if (rc >= 0)
                sp->n = 1;
            else if (rc == PCRE2_ERROR_NOMATCH)
                sp->n = 0;
            else if (rc == PCRE2_ERROR_NOMEMORY)
                { status = KEFU_E_NOMEM; goto done; }
            else
                { status = KEFU_E_LIMIT; goto done; }   /* match/depth/heap/JIT stack limit */
            NEXT;
        }
        CASE(ROP_LEN_S): {
            uint32_t c = 0;
            for (uint32_t i = 0; i < sp->s.len; i++)
                c += ((unsigned char)sp->s.p[i] & 0xC0) != 0x80;
            sp->n = c;
            NEXT;
        }
        CASE(ROP_COUNT_L):
            sp->n = sp->l.n;
            NEXT;
        CASE(ROP_ITER_INIT): {
            loop_frame *lf = &r->loops[in.b];
            lf->it = sp->l.it;
            lf->n = sp->l.n;
            lf->i = 0;
            lf->count = 0;
            sp--;
            NEXT;
        }
        CASE(ROP_ITER_NEXT): {
            loop_frame *lf = &r->loops[in.b];
            if (lf->i >= lf->n)
                pc = in.a;
            else
                lf->i++;
            NEXT;
        }
        CASE(ROP_ITER_ANY):
            if ((sp--)->n != 0) {
                r->loops[in.b].count = 1;
                pc = in.a;
            }
            NEXT;
        CASE(ROP_ITER_ALL):
            if ((sp--)->n == 0) {
                r->loops[in.b].count = 1;
                pc = in.a;
            }
            NEXT;
        CASE(ROP_ITER_TALLY):
            r->loops[in.b].count += (sp--)->n != 0;
            NEXT;
        CASE(ROP_ITER_END_ANY):
            (++sp)->n = r->loops[in.b].count != 0;
            NEXT;
        CASE(ROP_ITER_END_ALL):
            (++sp)->n = r->loops[in.b].count == 0;
            NEXT;
        CASE(ROP_ITER_END_COUNT):
            (++sp)->n = r->loops[in.b].count;
            NEXT;
        CASE(ROP_TRACE): {
            trace_rec *t = &r->trace[r->ntrace++];
            t->rule = rule;
            t->tnode = in.a;
            t->v = *sp;
            NEXT;
        }
        default:
            { status = KEFU_E_STATE; goto done; }   /* not reached: the compiler emits no other */
        }
    }
done:
    if (traced) {
        r->outs[rule].tfirst = tfirst;
        r->outs[rule].tn = r->ntrace - tfirst;
    }
    if (status) {
        r->state[rule] = KEFU_RULE_ERROR;
        r->outs[rule].status = status;
        continue;
    }
    if (!fired)
        continue;
    r->state[rule] = KEFU_RULE_FIRED;
    r->fired[r->nfired++] = rule;
    for (uint32_t k = 0; k < rules[rule].act_n; k++)
        r->acts[r->nacts++] = rules[rule].act_first + k;
    if (rules[rule].stop || rs->mode == KEFU_RULES_FIRST) {
        rule++;
        break;
    }
    }
finished:
    if (rule < rs->nrules)
        memset(r->state + rule, KEFU_RULE_SKIPPED, rs->nrules - rule);
    for (; traced && rule < rs->nrules; rule++) {
        r->outs[rule].tfirst = r->ntrace;
        r->outs[rule].tn = 0;
    }
    return KEFU_OK;
}

KEFU_API int kefu_rules_eval(kefu_rules_result *r, const kefu_ruleset *rs,
                             const kefu_facts *f, uint32_t flags)
{
    if (!r || !rs || !f)
        return KEFU_E_ARG;
    r->rs = NULL;
    r->nfired = r->nacts = r->ntrace = 0;
    if (fit(r, rs))
        return KEFU_E_NOMEM;
    r->rs = rs;
    r->flags = flags;
    return run_all(r, rs, f, (flags & KEFU_RULES_TRACE) != 0);
}

KEFU_API uint32_t kefu_rules_result_fired_count(const kefu_rules_result *r)
{
    return r && r->rs ? r->nfired : 0;
}

KEFU_API uint32_t kefu_rules_result_fired(const kefu_rules_result *r,
                                          uint32_t i)
{
    return r && r->rs && i < r->nfired ? r->fired[i] : UINT32_MAX;
}

KEFU_API uint32_t kefu_rules_result_action_count(const kefu_rules_result *r)
{
    return r && r->rs ? r->nacts : 0;
}

/* The rule an action belongs to. */
static uint32_t action_rule(const kefu_ruleset *rs, uint32_t act)
{
    uint32_t lo = 0, hi = rs->nrules;
    for (uint32_t i = lo; i < hi; i++)
        if (act >= rs->rules[i].act_first &&
            act < rs->rules[i].act_first + rs->rules[i].act_n)
            return i;
    return UINT32_MAX;
}

KEFU_API int kefu_rules_result_action(const kefu_rules_result *r, uint32_t i,
                                      kefu_rule_action *out)
{
    const kefu_raction *a;
    kefu_rule_action v;
    if (!r || !out || out->size < sizeof(uint32_t))
        return KEFU_E_ARG;
    if (!r->rs || i >= r->nacts)
        return KEFU_E_ARG;
    a = &r->rs->actions[r->acts[i]];
    memset(&v, 0, sizeof v);
    v.size = out->size < sizeof v ? out->size : (uint32_t)sizeof v;
    v.type = a->type;
    v.rule = action_rule(r->rs, r->acts[i]);
    v.value = a->value;
    v.raise = a->raise;
    v.queue = a->queue;
    v.skill = a->skill;
    v.tier = a->tier;
    v.arg = a->arg;
    memcpy(out, &v, v.size);
    return KEFU_OK;
}

KEFU_API int kefu_rules_result_rule(const kefu_rules_result *r, uint32_t rule,
                                    kefu_rule_outcome *out)
{
    kefu_rule_outcome v;
    if (!r || !out || out->size < sizeof(uint32_t) || !r->rs ||
        rule >= r->rs->nrules)
        return KEFU_E_ARG;
    memset(&v, 0, sizeof v);
    v.size = out->size < sizeof v ? out->size : (uint32_t)sizeof v;
    v.state = r->state[rule];
    v.status = v.state == KEFU_RULE_ERROR ? r->outs[rule].status : KEFU_OK;
    if (r->flags & KEFU_RULES_TRACE) {
        v.trace_first = r->outs[rule].tfirst;
        v.trace_count = r->outs[rule].tn;
    }
    memcpy(out, &v, v.size);
    return KEFU_OK;
}

KEFU_API uint32_t kefu_rules_result_trace_count(const kefu_rules_result *r)
{
    return r && r->rs ? r->ntrace : 0;
}

KEFU_API int kefu_rules_result_trace(const kefu_rules_result *r, uint32_t i,
                                     kefu_trace_entry *out)
{
    const trace_rec *t;
    const kefu_tnode *tn;
    const kefu_rule *rule;
    kefu_trace_entry v;
    if (!r || !out || out->size < sizeof(uint32_t) || !r->rs || i >= r->ntrace)
        return KEFU_E_ARG;
    t = &r->trace[i];
    tn = &r->rs->tnodes[t->tnode];
    rule = &r->rs->rules[t->rule];
    memset(&v, 0, sizeof v);
    v.size = out->size < sizeof v ? out->size : (uint32_t)sizeof v;
    v.rule = t->rule;
    v.kind = tn->kind;
    v.type = tn->type;
    v.expr = rule->when + tn->off;
    v.expr_len = tn->len;
    v.expr_offset = tn->off;
    switch (tn->type) {
    case KEFU_T_BOOL:
        v.boolean = t->v.n != 0;
        v.number = t->v.n;
        break;
    case KEFU_T_NUMBER:
    case KEFU_T_DURATION:
        v.number = t->v.n;
        break;
    case KEFU_T_STRING:
        v.string = t->v.s.p;
        v.length = t->v.s.len;
        break;
    default:
        v.length = t->v.l.n;
    }
    memcpy(out, &v, v.size);
    return KEFU_OK;
}

/* ---- explanations ---- */

typedef struct sbuf {
    char *p;
    size_t cap, len;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->len < b->cap) {
        size_t room = b->cap - b->len - 1;
        memcpy(b->p + b->len, s, n < room ? n : room);
        b->p[b->len + (n < room ? n : room)] = '\0';
    }
    b->len += n;
}

static void putf(sbuf *b, const char *fmt, double v)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    put(b, tmp, n > 0 ? (size_t)n : 0);
}

static void put_str(sbuf *b, const char *s, uint32_t len)
{
    uint32_t n = len;
    if (n > 60) {   /* cut at a character boundary */
        n = 60;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    put(b, "\"", 1);
    put(b, s, n);
    put(b, n < len ? "...\"" : "\"", n < len ? 4 : 1);
}

static void put_value(sbuf *b, int type, const rv *v)
{
    switch (type) {
    case KEFU_T_BOOL:
        put(b, v->n ? "true" : "false", v->n ? 4 : 5);
        break;
    case KEFU_T_NUMBER:
        putf(b, "%g", v->n);
        break;
    case KEFU_T_DURATION:
        if (fmod(v->n, 1000) == 0)
            putf(b, "%gs", v->n / 1000);
        else
            putf(b, "%gms", v->n);
        break;
    case KEFU_T_STRING:
        put_str(b, v->s.p, v->s.len);
        break;
    default:
        put(b, "[", 1);
        for (uint32_t i = 0; i < v->l.n && i < 8; i++) {
            if (i)
                put(b, ", ", 2);
            if (type == KEFU_T_STRLIST)
                put_str(b, v->l.it[i].str, v->l.it[i].len);
            else
                putf(b, "%g", v->l.it[i].num);
        }
        if (v->l.n > 8)
            put(b, ", ...", 5);
        put(b, "]", 1);
    }
}

KEFU_API size_t kefu_rules_result_explain(const kefu_rules_result *r,
                                          uint32_t rule, char *buf, size_t cap)
{
    static const char *const states[] = {"skipped", "not fired", "fired",
                                         "error"};
    sbuf b = {buf, cap, 0};
    const rule_out *o;
    const kefu_rule *ru;
    if (buf && cap)
        buf[0] = '\0';
    if (!buf)
        b.cap = 0;
    if (!r || !r->rs || rule >= r->rs->nrules)
        return 0;
    o = &r->outs[rule];
    ru = &r->rs->rules[rule];
    put(&b, ru->name, strlen(ru->name));
    put(&b, ": ", 2);
    put(&b, states[r->state[rule]], strlen(states[r->state[rule]]));
    if (r->state[rule] == KEFU_RULE_ERROR) {
        const char *why = kefu_strerror(o->status);
        put(&b, " (", 2);
        put(&b, why, strlen(why));
        put(&b, ")", 1);
    }
    for (uint32_t i = 0; (r->flags & KEFU_RULES_TRACE) && i < o->tn; i++) {
        const trace_rec *t = &r->trace[o->tfirst + i];
        const kefu_tnode *tn = &r->rs->tnodes[t->tnode];
        put(&b, i ? ", " : ": ", 2);
        put(&b, ru->when + tn->off, tn->len);
        put(&b, " = ", 3);
        put_value(&b, tn->type, &t->v);
    }
    return b.len;
}
