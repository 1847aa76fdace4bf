/*
 * rule_eval.c - the rule evaluator: runs what rule_compile.c and
 * rule_flat.c generated over a kefu_facts - the flat form (every cheap test
 * and their combinations at once, rules.h) and the stack programs of the
 * other rules, or every rule's traced program - and the result object that
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

/* A fired rule and the number of actions of the fired rules before it (a
 * rule's actions are a range of the rule set's). */
typedef struct fired_rec {
    uint32_t rule, actoff;
} fired_rec;

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
    fired_rec *fired;
    size_t capfired;
    uint32_t nfired;
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
    uint8_t *bits;           /* the flat form's (rules.h) */
    size_t capbits;
    uint64_t *words;         /* which constants the facts hold */
    size_t capwords;
    double *num;             /* facts made for another rule set, by this */
    size_t capnum;           /* set's ids */
    kefu_fslot *slots;
    size_t capslots;
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
    kefu_dealloc(&mem, r->outs);
    kefu_dealloc(&mem, r->state);
    kefu_dealloc(&mem, r->trace);
    kefu_dealloc(&mem, r->bits);
    kefu_dealloc(&mem, r->words);
    kefu_dealloc(&mem, r->num);
    kefu_dealloc(&mem, r->slots);
    kefu_dealloc(&mem, r);
}

/* Grows only when the rule set needs more than the result has: checked
 * inline, as this runs on every evaluation. */
#define FIT(arr, cap, need)                                                \
    ((cap) >= (need) ? KEFU_OK                                             \
                     : kefu_grow(&r->mem, (void **)&(arr), &(cap), (need), \
                                 sizeof *(arr)))

/* Sizes the result for a rule set; allocates only when it grew. */
static int fit(kefu_rules_result *r, const kefu_ruleset *rs)
{
    size_t nr = rs->nrules ? rs->nrules : 1;
    if (FIT(r->stack, r->capstack, rs->max_stack + 4) ||
        FIT(r->fired, r->capfired, nr) ||
        FIT(r->outs, r->capouts, nr) ||
        FIT(r->state, r->capstate, nr) ||
        FIT(r->trace, r->captrace, rs->ntnodes ? rs->ntnodes : 1) ||
        FIT(r->bits, r->capbits, rs->flat.nbits) ||
        FIT(r->words, r->capwords, rs->flat.nwords ? rs->flat.nwords : 1) ||
        FIT(r->num, r->capnum, KEFU_F_BUILTIN_COUNT + rs->ndecls) ||
        FIT(r->slots, r->capslots, KEFU_F_BUILTIN_COUNT + rs->ndecls))
        return KEFU_E_NOMEM;
    return KEFU_OK;
}

/* unset, whatever its type: "" for a string, no items for a list */
static const kefu_fslot zero_slot = {.str = ""};

/* The facts indexed by a rule set's fact ids. */
typedef struct fview {
    const double *num;
    const kefu_fslot *slot;
} fview;

/* The facts' own arrays when they were made for a set with the same facts,
 * else copies in the result: built-ins share ids, other facts match by
 * name and type (the strings and lists stay borrowed). */
static fview facts_for(kefu_rules_result *r, const kefu_ruleset *rs,
                       const kefu_facts *f)
{
    uint32_t n = KEFU_F_BUILTIN_COUNT + rs->ndecls;
    fview v = {f->num, f->slot};
    if (f->rs == rs || f->rs->schema_hash == rs->schema_hash)
        return v;
    memcpy(r->num, f->num, KEFU_F_BUILTIN_COUNT * sizeof *r->num);
    memcpy(r->slots, f->slot, KEFU_F_BUILTIN_COUNT * sizeof *r->slots);
    for (uint32_t id = KEFU_F_BUILTIN_COUNT; id < n; id++) {
        const kefu_fdecl *d = &rs->decls[id - KEFU_F_BUILTIN_COUNT];
        int64_t j = kefu_ruleset_fact_lookup(f->rs, d->name, d->name_len);
        bool same = j >= 0 && f->slot[j].type == d->type;
        r->num[id] = same ? f->num[j] : 0;
        r->slots[id] = same ? f->slot[j] : zero_slot;
    }
    v.num = r->num;
    v.slot = r->slots;
    return v;
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

/* ---- the flat form (rules.h): every cheap test, then the formulas ---- */

/* The string's number among the constants tested against fact t, 0 when
 * it is none of them: compared in turn when they are few, else by hash. */
static inline uint32_t const_id(const kefu_rflat *fl, const kefu_tfact *t,
                                const char *s, uint32_t len)
{
    kefu_skey k;
    const kefu_tconst *c;
    uint32_t id = 0;
    if (len > t->maxlen)
        return 0;
    k = kefu_str_key(s, len);
    if (t->kn > KEFU_FLAT_SCAN) {
        c = kefu_tconst_find(fl, t->fact, &k, s);
        return c ? c->id : 0;
    }
    c = fl->consts + t->kfirst;
    for (uint32_t i = 0; i < t->kn; i++)   /* the constants differ: one hit */
        id |= kefu_tconst_is(&c[i], &k, s) ? c[i].id : 0;
    return id;
}

#if KEFU_FLAT_STREAMS != 4
#error "flat_run folds four streams"
#endif

/* The loops below keep everything they read in locals: their byte stores
 * may alias anything, and the compiler would otherwise read the rule set's
 * fields again after each one. */
static void flat_facts(const kefu_rflat *fl, uint64_t *const words,
                       const kefu_fslot *const slots)
{
    const kefu_tfact *const facts = fl->facts;
    const uint32_t n = fl->nfacts;
    for (uint32_t i = 0; i < n; i++) {
        const kefu_tfact *t = &facts[i];
        const kefu_fslot *s = &slots[t->fact];
        uint64_t *w = words + t->wo;
        uint32_t id;
        w[0] = 0;
        for (uint32_t k = 1; k < t->nw; k++)
            w[k] = 0;
        if (!t->list) {
            id = const_id(fl, t, s->str, s->len);
            w[id >> 6] |= (uint64_t)1 << (id & 63);
            continue;
        }
        for (uint32_t k = 0; k < s->len; k++) {
            id = const_id(fl, t, s->items[k].str, s->items[k].len);
            w[id >> 6] |= (uint64_t)1 << (id & 63);
        }
    }
}

static void flat_tests(const kefu_rflat *fl, uint8_t *out,
                       const uint64_t *const words, const double *const fnum,
                       const kefu_fslot *const slots)
{
    const kefu_tnum *const num = fl->num;
    const uint32_t *const has = fl->has;
    const kefu_tset *const set = fl->set;
    const uint64_t *const masks = fl->masks;
    const uint32_t nhas = fl->nhas, nset = fl->nset;
    const kefu_tnum *t = num;
#define NUM_TESTS(k, OP)                                 \
    do {                                                 \
        const uint32_t n_ = fl->ncmp[k];                 \
        for (uint32_t i = 0; i < n_; i++)                \
            out[i] = fnum[t[i].fact] OP t[i].c;          \
        t += n_;                                         \
        out += n_;                                       \
    } while (0)
    NUM_TESTS(KEFU_CMP_LT, <);
    NUM_TESTS(KEFU_CMP_LE, <=);
    NUM_TESTS(KEFU_CMP_GT, >);
    NUM_TESTS(KEFU_CMP_GE, >=);
    NUM_TESTS(KEFU_CMP_EQ, ==);
    NUM_TESTS(KEFU_CMP_NE, !=);
#undef NUM_TESTS
    for (uint32_t i = 0; i < nhas; i++)
        out[i] = slots[has[i]].present != 0;
    out += nhas;
    for (uint32_t i = 0; i < nset; i++) {
        const uint64_t *w = words + set[i].wo, *m = masks + set[i].mo;
        uint64_t hit = w[0] & m[0];
        for (uint32_t k = 1; k < set[i].nw; k++)
            hit |= w[k] & m[k];
        out[i] = hit != 0;
    }
}

/* Four independent accumulators, so that one step's latency overlaps the
 * other streams' (a stream is one long dependency chain).  A row reads no
 * bit written in the same row: a formula's temporaries are earlier in its
 * own stream. */
static void flat_formulas(const kefu_rflat *fl, uint8_t *const bits)
{
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const kefu_fstep *st = fl->steps;
    const kefu_fstep *const end = st + (size_t)fl->nrows * KEFU_FLAT_STREAMS;
    for (; st < end; st += KEFU_FLAT_STREAMS) {
        uint32_t t0 = bits[st[0].src], t1 = bits[st[1].src];
        uint32_t t2 = bits[st[2].src], t3 = bits[st[3].src];
        uint32_t d0 = st[0].dst, d1 = st[1].dst, d2 = st[2].dst,
                 d3 = st[3].dst;
        a0 = (st[0].lut >> (a0 | t0 << 1)) & 1;
        a1 = (st[1].lut >> (a1 | t1 << 1)) & 1;
        a2 = (st[2].lut >> (a2 | t2 << 1)) & 1;
        a3 = (st[3].lut >> (a3 | t3 << 1)) & 1;
        bits[d0] = (uint8_t)a0;
        bits[d1] = (uint8_t)a1;
        bits[d2] = (uint8_t)a2;
        bits[d3] = (uint8_t)a3;
    }
}

static void flat_run(kefu_rules_result *r, const kefu_ruleset *rs, fview v)
{
    const kefu_rflat *fl = &rs->flat;
    flat_facts(fl, r->words, v.slot);
    r->bits[KEFU_BIT_FALSE] = 0;
    r->bits[KEFU_BIT_TRUE] = 1;
    flat_tests(fl, r->bits + KEFU_BIT_TESTS, r->words, v.num, v.slot);
    flat_formulas(fl, r->bits);
}

/* ---- programs ---- */

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

/* 1 when pattern idx matches s, 0 when not, or a negative status.  Facts
 * are valid UTF-8 (checked when set, or the session's validated text), so
 * the JIT entry skips the checks. */
static int re_match(kefu_rules_result *r, const kefu_ruleset *rs, uint32_t idx,
                    const char *s, uint32_t len)
{
    /* a word list: no match without one of its literals, none before the
     * first of them */
    const size_t start = kefu_prefilter_start(rs->re_pf[idx], s, len, 0);
    int rc;
    if (start == KEFU_PREFILTER_NONE)
        return 0;
    rc = rs->re_jit[idx]
             ? pcre2_jit_match(rs->re[idx], (PCRE2_SPTR)s, len, start, 0,
                               r->md, rs->mctx)
             : pcre2_match(rs->re[idx], (PCRE2_SPTR)s, len, start,
                           PCRE2_NO_UTF_CHECK, r->md, rs->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return KEFU_E_NOMEM;
    return KEFU_E_LIMIT;   /* match/depth/heap/JIT stack limit */
}

/*
 * Runs one rule's program from pc.  A program that fails (KEFU_E_LIMIT
 * for a runaway regex, KEFU_E_ARG for x/0) returns the status; the rule is
 * then in KEFU_RULE_ERROR and evaluation goes on with the next rule.
 */
#if defined(__GNUC__) && !defined(__clang__)
/* keep one dispatch jump per instruction: merging the handlers' common
 * tails would leave a single indirect jump that predicts poorly */
__attribute__((optimize("no-crossjumping", "no-gcse")))
#endif
static int run_program(kefu_rules_result *r, const kefu_ruleset *rs,
                       fview facts, uint32_t rule, uint32_t pc, bool *fired)
{
    /* hoisted into locals: stores through sp could alias the structs */
    const kefu_rinsn *const code = rs->code;
    const double *const nums = rs->nums;
    const uint8_t *const bits = r->bits;
    const double *const fnum = facts.num;
    const kefu_fslot *const slots = facts.slot;
    rv *sp = r->stack - 1;
    kefu_rinsn in;
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
        [ROP_BR] = &&L_ROP_BR,
        [ROP_RET_T] = &&L_ROP_RET_T,
        [ROP_RET_F] = &&L_ROP_RET_F,
        [ROP_BR_BIT] = &&L_ROP_BR_BIT,
        [ROP_LOAD_BIT] = &&L_ROP_LOAD_BIT,
        [ROP_BR_MATCH] = &&L_ROP_BR_MATCH,
    };
#endif
    for (;;) {
        in = code[pc++];
        switch (in.op) {
        CASE(ROP_RET):
            *fired = sp->n != 0;
            return KEFU_OK;
        CASE(ROP_RET_T):
            *fired = true;
            return KEFU_OK;
        CASE(ROP_RET_F):
            *fired = false;
            return KEFU_OK;
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
            (++sp)->n = fnum[in.a];
            NEXT;
        CASE(ROP_LOAD_STR):
            ++sp;
            sp->s.p = slots[in.a].str;
            sp->s.len = slots[in.a].len;
            NEXT;
        CASE(ROP_LOAD_LIST):
            ++sp;
            sp->l.it = slots[in.a].items;
            sp->l.n = slots[in.a].len;
            NEXT;
        CASE(ROP_HAS):
            (++sp)->n = slots[in.a].present;
            NEXT;
        CASE(ROP_LOAD_BIT):
            (++sp)->n = bits[in.a] ^ in.b;
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
        CASE(ROP_BR):
            if (((sp--)->n != 0) == in.s)
                pc = in.c;
            NEXT;
        CASE(ROP_BR_BIT):
            if (bits[in.a] == in.s)
                pc = in.c;
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
                return KEFU_E_ARG;
            sp->n = sp->n / sp[1].n;
            NEXT;
        CASE(ROP_MOD):
            sp--;
            if (sp[1].n == 0)
                return KEFU_E_ARG;
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
            int m = re_match(r, rs, in.a, sp->s.p, sp->s.len);
            if (m < 0)
                return m;
            sp->n = m;
            NEXT;
        }
        CASE(ROP_BR_MATCH): {
            int m = re_match(r, rs, in.a, slots[in.b].str, slots[in.b].len);
            if (m < 0)
                return m;
            if ((uint32_t)m == in.s)
                pc = in.c;
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
            return KEFU_E_STATE;   /* not reached: the compiler emits no other */
        }
    }
}

/* Runs rule `rule`'s program (traced or plain): 1 fired, 0 did not, or a
 * negative status (the rule failed). */
static int run_rule(kefu_rules_result *r, const kefu_ruleset *rs,
                    fview facts, uint32_t rule, bool traced)
{
    const kefu_rule *ru = &rs->rules[rule];
    uint32_t tfirst = r->ntrace;
    bool yes = false;
    int status = run_program(r, rs, facts, rule, traced ? ru->tcode : ru->code,
                             &yes);
    if (traced) {
        r->outs[rule].tfirst = tfirst;
        r->outs[rule].tn = r->ntrace - tfirst;
    }
    if (status) {
        r->outs[rule].status = status;
        return status;
    }
    return yes;
}

/* A rule's bit joined with its pattern (rules.h, KEFU_MATCH_*): the
 * outcome, or the pattern's negative status. */
static int join_match(kefu_rules_result *r, const kefu_ruleset *rs,
                      fview facts, const kefu_rwalk *wk, uint32_t bit)
{
    const kefu_fslot *s = &facts.slot[wk->mfact];
    bool and_op = (wk->m & KEFU_MATCH_AND) != 0;
    int m;
    if (!(wk->m & KEFU_MATCH_FIRST) && bit != and_op)
        return (int)bit;   /* decided: false and ..., true or ... */
    m = re_match(r, rs, wk->m >> 8, s->str, s->len);
    if (m < 0)
        return m;
    m ^= (wk->m & KEFU_MATCH_NEG) != 0;
    return and_op ? (int)bit & m : (int)bit | m;
}

typedef struct walk_ctx {
    kefu_rules_result *r;
    const kefu_ruleset *rs;
    fview facts;
} walk_ctx;

/* A rule that is more than a bit: its program, or its bit and pattern.
 * The outcome, or a negative status (recorded).  Kept out of line: the
 * walk over flat rules needs its registers. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int slow_rule(const walk_ctx *c, uint32_t rule, const kefu_rwalk *wk,
                     uint32_t bit)
{
    int rc = wk->w & KEFU_WALK_PROGRAM
                 ? run_rule(c->r, c->rs, c->facts, rule, false)
                 : join_match(c->r, c->rs, c->facts, wk, bit);
    if (rc < 0)
        c->r->outs[rule].status = rc;
    return rc;
}

/*
 * Plain evaluation: the flat form first, then the rules in order; a flat
 * rule reads its bit, the others go through slow_rule.  Per rule only what
 * must be is written, without a branch on the outcome: the state, and the
 * rule with the number of actions before it into the fired list (kept
 * only when it fired).  Returns the number of rules looked at.
 */
static uint32_t run_plain(kefu_rules_result *r, const kefu_ruleset *rs,
                          fview facts)
{
    /* in locals: the byte stores below could alias the structs */
    const walk_ctx c = {r, rs, facts};
    const kefu_rwalk *const walk = rs->flat.walk;
    const uint32_t nrules = rs->nrules;
    const uint8_t *const bits = r->bits;
    uint8_t *const state = r->state;
    fired_rec *const fired = r->fired;
    uint32_t rule, nf = 0, nacts = 0;
    flat_run(r, rs, facts);
    for (rule = 0; rule < nrules; rule++) {
        const kefu_rwalk *wk = &walk[rule];
        const uint32_t w = wk->w;
        uint32_t hit = bits[w >> 3] ^ (w & KEFU_WALK_NEG);
        if ((w & KEFU_WALK_PROGRAM) | wk->m) {
            int rc = slow_rule(&c, rule, wk, hit);
            if (rc < 0) {
                state[rule] = KEFU_RULE_ERROR;
                continue;
            }
            hit = (uint32_t)rc;
        }
        state[rule] = (uint8_t)(KEFU_RULE_FALSE + hit);
        fired[nf].rule = rule;
        fired[nf].actoff = nacts;
        nf += hit;
        nacts += hit * wk->nact;
        if (hit & (w / KEFU_WALK_STOPS)) {   /* fired, and stops */
            rule++;
            break;
        }
    }
    r->nfired = nf;
    r->nacts = nacts;
    return rule;
}

/* Traced evaluation: every rule runs its traced program. */
static uint32_t run_traced(kefu_rules_result *r, const kefu_ruleset *rs,
                           fview facts)
{
    uint32_t rule;
    for (rule = 0; rule < rs->nrules; rule++) {
        const kefu_rwalk wk = rs->flat.walk[rule];
        int rc = run_rule(r, rs, facts, rule, true);
        if (rc < 0) {
            r->state[rule] = KEFU_RULE_ERROR;
            continue;
        }
        r->state[rule] = (uint8_t)(KEFU_RULE_FALSE + rc);
        if (!rc)
            continue;
        r->fired[r->nfired].actoff = r->nacts;
        r->fired[r->nfired++].rule = rule;
        r->nacts += wk.nact;
        if (wk.w & KEFU_WALK_STOPS) {
            rule++;
            break;
        }
    }
    for (uint32_t k = rule; k < rs->nrules; k++) {
        r->outs[k].tfirst = r->ntrace;
        r->outs[k].tn = 0;
    }
    return rule;
}

static int run_all(kefu_rules_result *r, const kefu_ruleset *rs,
                   const kefu_facts *f, bool traced)
{
    const fview facts = facts_for(r, rs, f);
    uint32_t rule = traced ? run_traced(r, rs, facts) : run_plain(r, rs, facts);
    if (rule < rs->nrules)   /* after a rule that stops */
        memset(r->state + rule, KEFU_RULE_SKIPPED, rs->nrules - rule);
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
    return r && r->rs && i < r->nfired ? r->fired[i].rule : UINT32_MAX;
}

KEFU_API uint32_t kefu_rules_result_action_count(const kefu_rules_result *r)
{
    return r && r->rs ? r->nacts : 0;
}

KEFU_API int kefu_rules_result_action(const kefu_rules_result *r, uint32_t i,
                                      kefu_rule_action *out)
{
    const kefu_raction *a;
    kefu_rule_action v;
    uint32_t lo = 0, hi;
    if (!r || !out || out->size < sizeof(uint32_t))
        return KEFU_E_ARG;
    if (!r->rs || i >= r->nacts)
        return KEFU_E_ARG;
    /* the last fired rule whose actions start at or before i */
    hi = r->nfired;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->fired[mid].actoff <= i)
            lo = mid;
        else
            hi = mid;
    }
    a = &r->rs->actions[r->rs->rules[r->fired[lo].rule].act_first + i -
                        r->fired[lo].actoff];
    memset(&v, 0, sizeof v);
    v.size = out->size < sizeof v ? out->size : (uint32_t)sizeof v;
    v.type = a->type;
    v.rule = r->fired[lo].rule;
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
