/*
 * rule_flat.c - building the flat form of a rule set (rules.h, "the flat
 * form"): the compiler hands over cheap tests and the steps of the formulas
 * that combine them; once every rule is compiled, kefu_rflat_finish merges
 * equal tests, numbers the constants each string or list fact is tested
 * against, lays out the bits and spreads the formulas over
 * KEFU_FLAT_STREAMS streams.  rule_eval.c runs the result.
 */
#include <stdlib.h>

#include "rules.h"

enum { PA_CONST, PA_NUM, PA_HAS, PA_SET };

typedef struct patom {
    uint8_t kind;
    uint32_t fact;
    uint32_t cmp;           /* PA_NUM: KEFU_CMP_* */
    double c;               /* PA_NUM; PA_CONST: 0 or 1 */
    uint32_t sfirst, sn;    /* PA_SET: b->strs[sfirst..sfirst+sn) */
    uint32_t bit;           /* once laid out */
    bool first;             /* the first of equal tests */
} patom;

typedef struct pgroup {
    uint32_t first, n;
} pgroup;

struct kefu_flatb {
    patom *atoms;
    size_t natoms, capatoms;
    kefu_litem *strs;       /* borrowed from the rule set's constant pools */
    size_t nstrs, capstrs;
    kefu_fstep *steps;      /* src and dst are references, dst UINT32_MAX:
                               the sink */
    size_t nsteps, capsteps;
    pgroup *groups;
    size_t ngroups, capgroups;
    uint32_t nformulas;
};

static kefu_flatb *builder(kefu_ruleset *rs)
{
    if (!rs->flat.b)
        rs->flat.b = kefu_zalloc(&rs->mem, sizeof *rs->flat.b);
    return rs->flat.b;
}

static void builder_free(kefu_ruleset *rs)
{
    kefu_flatb *b = rs->flat.b;
    if (!b)
        return;
    kefu_dealloc(&rs->mem, b->atoms);
    kefu_dealloc(&rs->mem, b->strs);
    kefu_dealloc(&rs->mem, b->steps);
    kefu_dealloc(&rs->mem, b->groups);
    kefu_dealloc(&rs->mem, b);
    rs->flat.b = NULL;
}

static int64_t add_atom(kefu_ruleset *rs, const patom *a)
{
    kefu_flatb *b = builder(rs);
    if (!b || kefu_grow(&rs->mem, (void **)&b->atoms, &b->capatoms,
                        b->natoms + 1, sizeof *b->atoms))
        return -1;
    b->atoms[b->natoms] = *a;
    return (int64_t)(b->natoms++ << 1);
}

int64_t kefu_rflat_const(kefu_ruleset *rs, bool v)
{
    patom a = {.kind = PA_CONST, .c = v};
    return add_atom(rs, &a);
}

int64_t kefu_rflat_num(kefu_ruleset *rs, uint32_t fact, uint32_t cmp, double c)
{
    patom a = {.kind = PA_NUM, .fact = fact, .cmp = cmp, .c = c};
    return add_atom(rs, &a);
}

int64_t kefu_rflat_has(kefu_ruleset *rs, uint32_t fact)
{
    patom a = {.kind = PA_HAS, .fact = fact};
    return add_atom(rs, &a);
}

int64_t kefu_rflat_set(kefu_ruleset *rs, uint32_t fact, const kefu_litem *strs,
                       uint32_t n)
{
    kefu_flatb *b = builder(rs);
    patom a = {.kind = PA_SET, .fact = fact};
    if (!b || kefu_grow(&rs->mem, (void **)&b->strs, &b->capstrs,
                        b->nstrs + n, sizeof *b->strs))
        return -1;
    a.sfirst = (uint32_t)b->nstrs;
    a.sn = n;
    memcpy(b->strs + b->nstrs, strs, n * sizeof *strs);
    b->nstrs += n;
    return add_atom(rs, &a);
}

int64_t kefu_rflat_formula(kefu_ruleset *rs)
{
    kefu_flatb *b = builder(rs);
    if (!b)
        return -1;
    return (int64_t)(b->nformulas++ << 1 | KEFU_VREF_FORMULA);
}

int64_t kefu_rflat_step(kefu_ruleset *rs, uint32_t src, uint32_t lut)
{
    kefu_flatb *b = builder(rs);
    if (!b || kefu_grow(&rs->mem, (void **)&b->steps, &b->capsteps,
                        b->nsteps + 1, sizeof *b->steps))
        return -1;
    b->steps[b->nsteps].src = src;
    b->steps[b->nsteps].dst = UINT32_MAX;
    b->steps[b->nsteps].lut = lut;
    return (int64_t)b->nsteps++;
}

void kefu_rflat_step_dst(kefu_ruleset *rs, uint32_t step, uint32_t dst)
{
    rs->flat.b->steps[step].dst = dst;
}

uint32_t kefu_rflat_nsteps(const kefu_ruleset *rs)
{
    return rs->flat.b ? (uint32_t)rs->flat.b->nsteps : 0;
}

int kefu_rflat_group(kefu_ruleset *rs, uint32_t first)
{
    kefu_flatb *b = builder(rs);
    if (!b || kefu_grow(&rs->mem, (void **)&b->groups, &b->capgroups,
                        b->ngroups + 1, sizeof *b->groups))
        return KEFU_E_NOMEM;
    b->groups[b->ngroups].first = first;
    b->groups[b->ngroups].n = (uint32_t)b->nsteps - first;
    b->ngroups++;
    return KEFU_OK;
}

/* ---- laying out ---- */

static uint32_t pow2_above(size_t n)
{
    uint32_t c = 16;
    while (c < 2 * n)
        c <<= 1;
    return c;
}

/* The fact's entry in fl->facts, by a linear search: facts are few. */
static kefu_tfact *fact_entry(kefu_rflat *fl, uint32_t fact)
{
    for (uint32_t i = 0; i < fl->nfacts; i++)
        if (fl->facts[i].fact == fact)
            return &fl->facts[i];
    return NULL;
}

static int by_fact_then_id(const void *a, const void *b)
{
    const kefu_tconst *x = a, *y = b;
    if (x->fact != y->fact)
        return x->fact < y->fact ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void index_consts(kefu_rflat *fl, uint32_t n)
{
    memset(fl->index, 0, ((size_t)fl->imask + 1) * sizeof *fl->index);
    for (uint32_t k = 0; k < n; k++) {
        const kefu_tconst *c = &fl->consts[k];
        kefu_skey key = {c->w0, c->w1, c->len};
        uint32_t i = (uint32_t)kefu_skey_hash(&key, c->fact) & fl->imask;
        while (fl->index[i])
            i = (i + 1) & fl->imask;
        fl->index[i] = k + 1;
    }
}

/*
 * Numbers the constants of the set tests per fact (from 1: bit 0 of a
 * fact's words means "none of them"), keeps them grouped by fact and
 * indexed by hash, and sizes each fact's words.
 */
static int number_constants(kefu_ruleset *rs, kefu_flatb *b)
{
    kefu_rflat *fl = &rs->flat;
    uint32_t n = 0;
    fl->imask = pow2_above(b->nstrs) - 1;
    fl->facts = kefu_alloc_array(&rs->mem, b->natoms, sizeof *fl->facts);
    fl->consts = kefu_alloc_array(&rs->mem, b->nstrs, sizeof *fl->consts);
    fl->index = kefu_alloc_array(&rs->mem, (size_t)fl->imask + 1, sizeof *fl->index);
    if (!fl->facts || !fl->consts || !fl->index)
        return KEFU_E_NOMEM;
    memset(fl->index, 0, ((size_t)fl->imask + 1) * sizeof *fl->index);
    for (size_t i = 0; i < b->natoms; i++) {
        const patom *a = &b->atoms[i];
        kefu_tfact *t;
        if (a->kind != PA_SET)
            continue;
        if (!(t = fact_entry(fl, a->fact))) {
            t = &fl->facts[fl->nfacts++];
            memset(t, 0, sizeof *t);
            t->fact = a->fact;
            t->list = a->fact < KEFU_F_BUILTIN_COUNT
                          ? kefu_builtin_fact(a->fact)->type == KEFU_T_STRLIST
                          : rs->decls[a->fact - KEFU_F_BUILTIN_COUNT].type ==
                                KEFU_T_STRLIST;
        }
        for (uint32_t k = 0; k < a->sn; k++) {
            const kefu_litem *s = &b->strs[a->sfirst + k];
            kefu_skey key = kefu_str_key(s->str, s->len);
            uint32_t j = (uint32_t)kefu_skey_hash(&key, a->fact) & fl->imask;
            kefu_tconst *c;
            if (kefu_tconst_find(fl, a->fact, &key, s->str))
                continue;
            while (fl->index[j])
                j = (j + 1) & fl->imask;
            c = &fl->consts[n];
            c->w0 = key.w0;
            c->w1 = key.w1;
            c->str = s->str;
            c->len = s->len;
            c->fact = a->fact;
            c->id = ++t->kn;
            fl->index[j] = ++n;
            if (s->len > t->maxlen)
                t->maxlen = s->len;
        }
    }
    qsort(fl->consts, n, sizeof *fl->consts, by_fact_then_id);
    index_consts(fl, n);
    for (uint32_t i = 0; i < fl->nfacts; i++) {
        kefu_tfact *t = &fl->facts[i];
        uint32_t k = 0;
        while (fl->consts[k].fact != t->fact)
            k++;
        t->kfirst = k;
        t->wo = fl->nwords;
        t->nw = (t->kn + 1 + 63) / 64;
        fl->nwords += t->nw;
    }
    return KEFU_OK;
}

/* Equal tests share a bit: their hash, then a comparison. */
static uint64_t test_hash(const patom *a, const uint64_t *mask, uint32_t nw)
{
    uint64_t h = kefu_hash64(&a->kind, 1, a->fact);
    if (a->kind == PA_NUM) {
        h = kefu_hash64(&a->cmp, sizeof a->cmp, h);
        h = kefu_hash64(&a->c, sizeof a->c, h);
    } else if (a->kind == PA_SET) {
        h = kefu_hash64(mask, nw * sizeof *mask, h);
    }
    return h;
}

static bool same_test(const kefu_rflat *fl, const patom *x, const patom *a,
                      const uint64_t *mask, uint32_t nw)
{
    if (x->kind != a->kind || x->fact != a->fact)
        return false;
    if (a->kind == PA_NUM)
        return x->cmp == a->cmp && !memcmp(&x->c, &a->c, sizeof a->c);
    if (a->kind == PA_SET)
        return !memcmp(fl->masks + fl->set[x->bit].mo, mask, nw * sizeof *mask);
    return true;
}

/* Groups the distinct number tests by comparison (a stable counting sort
 * of their first atoms) and renumbers the atoms that use them. */
static int sort_number_tests(kefu_ruleset *rs, kefu_flatb *b)
{
    kefu_rflat *fl = &rs->flat;
    uint32_t at[KEFU_CMP_COUNT], pos = 0;
    uint32_t *place = kefu_alloc_array(&rs->mem, fl->nnum, sizeof *place);
    if (!place)
        return KEFU_E_NOMEM;
    for (uint32_t k = 0; k < KEFU_CMP_COUNT; k++) {
        at[k] = pos;
        pos += fl->ncmp[k];
    }
    for (size_t i = 0; i < b->natoms; i++) {
        const patom *a = &b->atoms[i];
        if (a->kind == PA_NUM && a->first) {
            fl->num[at[a->cmp]].c = a->c;
            fl->num[at[a->cmp]].fact = a->fact;
            place[a->bit] = at[a->cmp]++;
        }
    }
    for (size_t i = 0; i < b->natoms; i++)
        if (b->atoms[i].kind == PA_NUM)
            b->atoms[i].bit = place[b->atoms[i].bit];
    kefu_dealloc(&rs->mem, place);
    return KEFU_OK;
}

/*
 * Gives every test its number within its kind (in a->bit), merging equal
 * ones, and fills the kinds' arrays.
 */
static int merge_tests(kefu_ruleset *rs, kefu_flatb *b)
{
    kefu_rflat *fl = &rs->flat;
    size_t nmask = 0, nmasks = 0;
    uint32_t tmask = pow2_above(b->natoms) - 1;
    uint32_t *table;   /* atom index + 1; 0 empty */
    for (size_t i = 0; i < b->natoms; i++)
        if (b->atoms[i].kind == PA_SET)
            nmask += fact_entry(fl, b->atoms[i].fact)->nw;
    fl->num = kefu_alloc_array(&rs->mem, b->natoms, sizeof *fl->num);
    fl->has = kefu_alloc_array(&rs->mem, b->natoms, sizeof *fl->has);
    fl->set = kefu_alloc_array(&rs->mem, b->natoms, sizeof *fl->set);
    fl->masks = kefu_alloc_array(&rs->mem, nmask, sizeof *fl->masks);
    table = kefu_alloc_array(&rs->mem, tmask + 1, sizeof *table);
    if (!fl->num || !fl->has || !fl->set || !fl->masks || !table) {
        kefu_dealloc(&rs->mem, table);
        return KEFU_E_NOMEM;
    }
    for (size_t i = 0; i < b->natoms; i++) {
        patom *a = &b->atoms[i];
        const kefu_tfact *t = NULL;
        uint64_t *mask = NULL;
        uint32_t nw = 0, j;
        if (a->kind == PA_CONST)
            continue;
        if (a->kind == PA_SET) {
            t = fact_entry(fl, a->fact);
            nw = t->nw;
            mask = fl->masks + nmasks;   /* tentative: kept when new */
            memset(mask, 0, nw * sizeof *mask);
            for (uint32_t k = 0; k < a->sn; k++) {
                const kefu_litem *s = &b->strs[a->sfirst + k];
                kefu_skey key = kefu_str_key(s->str, s->len);
                uint32_t id = kefu_tconst_find(fl, a->fact, &key, s->str)->id;
                mask[id >> 6] |= (uint64_t)1 << (id & 63);
            }
        }
        for (j = (uint32_t)test_hash(a, mask, nw) & tmask; table[j];
             j = (j + 1) & tmask) {
            const patom *x = &b->atoms[table[j] - 1];
            if (same_test(fl, x, a, mask, nw))
                break;
        }
        if (table[j]) {
            a->bit = b->atoms[table[j] - 1].bit;
            continue;
        }
        table[j] = (uint32_t)i + 1;
        a->first = true;
        switch (a->kind) {
        case PA_NUM:   /* numbered by comparison below */
            a->bit = fl->nnum++;
            fl->ncmp[a->cmp]++;
            break;
        case PA_HAS:
            a->bit = fl->nhas;
            fl->has[fl->nhas++] = a->fact;
            break;
        default:
            a->bit = fl->nset;
            fl->set[fl->nset].wo = t->wo;
            fl->set[fl->nset].mo = (uint32_t)nmasks;
            fl->set[fl->nset++].nw = nw;
            nmasks += nw;
        }
    }
    kefu_dealloc(&rs->mem, table);
    if (sort_number_tests(rs, b))
        return KEFU_E_NOMEM;
    for (size_t i = 0; i < b->natoms; i++) {
        patom *a = &b->atoms[i];
        switch (a->kind) {
        case PA_CONST:
            a->bit = a->c != 0 ? KEFU_BIT_TRUE : KEFU_BIT_FALSE;
            break;
        case PA_NUM:
            a->bit += KEFU_BIT_TESTS;
            break;
        case PA_HAS:
            a->bit += KEFU_BIT_TESTS + fl->nnum;
            break;
        default:
            a->bit += KEFU_BIT_TESTS + fl->nnum + fl->nhas;
        }
    }
    return KEFU_OK;
}

static uint32_t resolve(const kefu_flatb *b, uint32_t base, uint32_t ref)
{
    if (ref == UINT32_MAX)
        return KEFU_BIT_SINK;
    if (ref & KEFU_VREF_FORMULA)
        return base + (ref >> 1);
    return b->atoms[ref >> 1].bit;
}

/*
 * Spreads the formulas over the streams, each to the one with the fewest
 * steps so far (a formula's steps, its temporaries first, stay in one
 * stream and in order); shorter streams are padded with steps that keep
 * their value.
 */
static int lay_out_steps(kefu_ruleset *rs, kefu_flatb *b, uint32_t base)
{
    kefu_rflat *fl = &rs->flat;
    uint32_t len[KEFU_FLAT_STREAMS] = {0};
    uint32_t *stream = kefu_alloc_array(&rs->mem, b->ngroups, sizeof *stream);
    if (!stream)
        return KEFU_E_NOMEM;
    for (size_t g = 0; g < b->ngroups; g++) {
        uint32_t s = 0;
        for (uint32_t k = 1; k < KEFU_FLAT_STREAMS; k++)
            if (len[k] < len[s])
                s = k;
        stream[g] = s;
        len[s] += b->groups[g].n;
    }
    for (uint32_t k = 0; k < KEFU_FLAT_STREAMS; k++)
        if (len[k] > fl->nrows)
            fl->nrows = len[k];
    fl->steps = kefu_alloc_array(&rs->mem, (size_t)fl->nrows * KEFU_FLAT_STREAMS,
                                 sizeof *fl->steps);
    if (!fl->steps) {
        kefu_dealloc(&rs->mem, stream);
        return KEFU_E_NOMEM;
    }
    memset(len, 0, sizeof len);
    for (size_t g = 0; g < b->ngroups; g++) {
        uint32_t s = stream[g];
        for (uint32_t k = 0; k < b->groups[g].n; k++) {
            const kefu_fstep *in = &b->steps[b->groups[g].first + k];
            kefu_fstep *out = &fl->steps[(size_t)len[s]++ * KEFU_FLAT_STREAMS + s];
            out->src = resolve(b, base, in->src);
            out->dst = resolve(b, base, in->dst);
            out->lut = in->lut;
        }
    }
    for (uint32_t s = 0; s < KEFU_FLAT_STREAMS; s++)
        for (; len[s] < fl->nrows; len[s]++) {
            kefu_fstep *out = &fl->steps[(size_t)len[s] * KEFU_FLAT_STREAMS + s];
            out->src = KEFU_BIT_FALSE;
            out->dst = KEFU_BIT_SINK;
            out->lut = KEFU_STEP_KEEP;
        }
    kefu_dealloc(&rs->mem, stream);
    return KEFU_OK;
}

int kefu_rflat_finish(kefu_ruleset *rs)
{
    kefu_rflat *fl = &rs->flat;
    kefu_flatb *b = builder(rs);
    uint32_t base;
    int rc;
    if (!b)
        return KEFU_E_NOMEM;
    if ((rc = number_constants(rs, b)) || (rc = merge_tests(rs, b)))
        return rc;
    base = KEFU_BIT_TESTS + fl->nnum + fl->nhas + fl->nset;
    fl->nbits = base + b->nformulas;
    if ((rc = lay_out_steps(rs, b, base)))
        return rc;
    for (size_t i = 0; i < rs->ncode; i++)
        if (rs->code[i].op == ROP_BR_BIT || rs->code[i].op == ROP_LOAD_BIT)
            rs->code[i].a = resolve(b, base, rs->code[i].a);
    if (!(fl->walk = kefu_alloc_array(&rs->mem, rs->nrules, sizeof *fl->walk)))
        return KEFU_E_NOMEM;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        kefu_rule *r = &rs->rules[i];
        if (r->flat)
            r->fbit = resolve(b, base, r->fbit);
        fl->walk[i].w = (r->flat ? r->fbit << 3 : KEFU_WALK_PROGRAM) |
                        (r->stop || rs->mode == KEFU_RULES_FIRST ? KEFU_WALK_STOPS : 0) |
                        (r->fneg ? KEFU_WALK_NEG : 0);
        fl->walk[i].nact = r->act_n;
        fl->walk[i].m = r->match;
        fl->walk[i].mfact = r->mfact;
    }
    builder_free(rs);
    return KEFU_OK;
}

void kefu_rflat_release(kefu_ruleset *rs)
{
    kefu_rflat *fl = &rs->flat;
    builder_free(rs);
    kefu_dealloc(&rs->mem, fl->num);
    kefu_dealloc(&rs->mem, fl->has);
    kefu_dealloc(&rs->mem, fl->set);
    kefu_dealloc(&rs->mem, fl->masks);
    kefu_dealloc(&rs->mem, fl->facts);
    kefu_dealloc(&rs->mem, fl->consts);
    kefu_dealloc(&rs->mem, fl->index);
    kefu_dealloc(&rs->mem, fl->steps);
    kefu_dealloc(&rs->mem, fl->walk);
    memset(fl, 0, sizeof *fl);
}
