/*
 * rules.h - the escalation rule stage: the expression compiler
 * (rule_compile.c), the evaluator (rule_eval.c), rule sets and their YAML
 * sections (rule_set.c) and the facts a host or a session fills
 * (rule_facts.c).  Rules see facts, never the engines' internals: the
 * session copies intent, emotion, counters ... into a kefu_facts and calls
 * kefu_rules_eval.  doc/rules.md is the language reference.
 */
#ifndef KEFU_RULES_H
#define KEFU_RULES_H

#include <stdatomic.h>

#include "core.h"
#include "model.h"
#include "prefilter.h"
#include "yaml_doc.h"

/* ---- limits (checked at compile time; see doc/rules.md "Cost bound") ---- */

#define KEFU_RULE_MAX_SOURCE 16384   /* bytes of one `when` expression */
#define KEFU_RULE_MAX_NODES 4096     /* syntax nodes of one expression */
#define KEFU_RULE_MAX_DEPTH 64       /* nesting of parentheses/operators */
#define KEFU_RULE_MAX_LOOPS 3        /* nesting of any/all/count */
#define KEFU_RULE_MAX_COST 100000    /* worst-case steps of one expression */
#define KEFU_RULE_MAX_RULES 10000
#define KEFU_FACTS_MAX_LIST 256      /* items of one list fact */
#define KEFU_RULE_MATCH_LIMIT 100000 /* PCRE2 match limit per `matches` */
#define KEFU_RULE_DEPTH_LIMIT 2000   /* PCRE2 depth limit (interpreter) */
#define KEFU_RULE_HEAP_LIMIT 2048    /* PCRE2 heap limit, KiB */

/* ---- built-in facts: ids are fixed; host and entity facts follow ---- */

enum kefu_builtin_fact {
    KEFU_F_INTENT,            /* string */
    KEFU_F_CONFIDENCE,        /* number 0..1 */
    KEFU_F_OUT_OF_SCOPE,      /* bool */
    KEFU_F_TEXT,              /* string: the message */
    KEFU_F_CHANNEL,           /* string */
    KEFU_F_ANGER,             /* number 0..100, emotion.* */
    KEFU_F_ANXIETY,
    KEFU_F_DISAPPOINTMENT,
    KEFU_F_SADNESS,
    KEFU_F_FEAR,
    KEFU_F_JOY,
    KEFU_F_NEGATIVITY,        /* number 0..100 */
    KEFU_F_EMOTION_LEVEL,     /* number: smoothed negativity of the talk */
    KEFU_F_EMOTION_PEAK,      /* number */
    KEFU_F_EMOTION_TREND,     /* number, positive = rising */
    KEFU_F_SLOTS,             /* list of strings: slots filled */
    KEFU_F_MISSING_SLOTS,     /* list of strings */
    KEFU_F_CUSTOMER_TIER,     /* string */
    KEFU_F_CUSTOMER_VALUE,    /* number */
    KEFU_F_CUSTOMER_RISK,     /* list of strings */
    KEFU_F_SESSION_TURNS,     /* number */
    KEFU_F_SESSION_HUMAN_REQUESTS, /* number: consecutive asks for a human */
    KEFU_F_SESSION_CONTACTS_7D,    /* number */
    KEFU_F_SESSION_FAILED_ANSWERS, /* number: bot failures in a row */
    KEFU_F_SESSION_REPEAT_ISSUE,   /* bool */
    KEFU_F_SESSION_ESCALATED,      /* bool */
    KEFU_F_SESSION_LOCKED,         /* bool */
    KEFU_F_WAIT,              /* duration */
    KEFU_F_BUILTIN_COUNT
};

/* Value types; the numbers are kefu_fact_type's. */
enum { KEFU_T_BOOL = 1, KEFU_T_NUMBER, KEFU_T_STRING, KEFU_T_DURATION,
       KEFU_T_STRLIST, KEFU_T_NUMLIST };

typedef struct kefu_fdecl {
    const char *name;
    uint32_t name_len;
    uint8_t type;
} kefu_fdecl;

/* Name and type of a built-in fact (id < KEFU_F_BUILTIN_COUNT). */
const kefu_fdecl *kefu_builtin_fact(uint32_t id);
const char *kefu_type_name(int type);

/* ---- facts: typed slots indexed by fact id ---- */

typedef struct kefu_litem {
    double num;
    const char *str;
    uint32_t len;
} kefu_litem;

/* What the evaluator reads of a fact other than its number.  Numbers
 * (durations in ms, bools 0/1) are apart, in kefu_facts.num: rules test
 * them most, and facts of a conversation are usually cold when its next
 * message comes, so they are packed eight to a cache line. */
#define KEFU_FSLOT_INLINE 16   /* strings this short live in their slot */

typedef struct kefu_fslot {
    union {                  /* by type: */
        const char *str;     /* string bytes (not NUL-terminated, never
                                NULL) */
        const kefu_litem *items;   /* list items */
    };
    uint32_t len;            /* string bytes or list items */
    uint8_t type;
    uint8_t present;         /* for has(); unset facts read as zero values */
    /* a short string's bytes, in the cache line the evaluator reads for
     * the slot anyway (intents, tiers, channels are short) */
    char inl[KEFU_FSLOT_INLINE];
} kefu_fslot;

/* A slot's owned storage, reused from one message to the next. */
typedef struct kefu_fstore {
    char *buf;
    size_t buf_cap;
    kefu_litem *ibuf;
    size_t ibuf_cap;
} kefu_fstore;

struct kefu_facts {
    kefu_mem mem;
    kefu_diag diag;
    struct kefu_ruleset *rs;   /* schema owner (one reference held) */
    uint32_t n;                /* builtins + the rule set's other facts */
    double *num;               /* by fact id; one allocation with slot */
    kefu_fslot *slot;
    kefu_fstore *store;        /* parallel to slot */
};

/* Fast setters for the session (no name lookup).  `put_string_ref`
 * borrows: s must stay valid until the facts change or are evaluated. */
void kefu_facts_put_number(kefu_facts *f, uint32_t id, double v);
void kefu_facts_put_bool(kefu_facts *f, uint32_t id, bool v);
void kefu_facts_put_duration(kefu_facts *f, uint32_t id, double ms);
void kefu_facts_put_string_ref(kefu_facts *f, uint32_t id, const char *s,
                               uint32_t len);
/* Id of a fact by name in the rule set's schema, or -1. */
int64_t kefu_ruleset_fact_lookup(const struct kefu_ruleset *rs,
                                 const char *name, size_t len);

/* ---- compiled form ---- */

typedef struct kefu_rinsn {
    uint16_t op;
    uint16_t b;
    uint32_t a;
    uint32_t c;     /* branch target (ROP_BR*) */
    uint32_t s;     /* branch sense: jump when the test == s */
} kefu_rinsn;

/* A traced sub-expression: where it is in the rule's `when` text. */
typedef struct kefu_tnode {
    uint32_t off, len;
    uint8_t type;
    uint8_t kind;   /* KEFU_TRACE_FACT, KEFU_TRACE_EXPR */
} kefu_tnode;

typedef struct kefu_rlist {
    uint32_t first, n;   /* in ruleset->litems */
} kefu_rlist;

typedef struct kefu_raction {
    uint32_t type;       /* kefu_action_type */
    int32_t value;
    uint32_t raise;
    char *queue, *skill, *tier, *arg;
} kefu_raction;

typedef struct kefu_rule {
    char *name;
    char *when;           /* source text, NUL-terminated */
    uint32_t when_len;
    int32_t order;        /* the rule's `priority:`; higher runs first */
    uint32_t seq;         /* position in the files, breaks ties */
    uint32_t code, tcode; /* entry points (untraced, traced); no plain
                             program when the condition is flat */
    uint32_t fbit;        /* flat: the bit that decides (a KEFU_VREF until
                             kefu_rflat_finish) */
    bool flat, fneg;      /* fires when bits[fbit] ^ fneg */
    uint32_t match;       /* flat and a pattern: KEFU_MATCH_*, pattern << 8 */
    uint32_t mfact;       /* the string fact the pattern is matched on */
    uint32_t tnode_first, tnode_n;
    uint32_t act_first, act_n;
    uint32_t cost;
    bool stop;
} kefu_rule;

/* ---- the flat form: cheap tests, all at once (rule_flat.c) ---- */

/*
 * Tests of a fact against constants (`fact OP number`, `fact == "s"`,
 * `fact in [...]`, `"s" in list_fact`, `any(list_fact, x, x in [...])`,
 * `has(f)`, a bool fact) cannot fail and cost a few instructions each.
 * The plain program does not dispatch them one by one: an evaluation first
 * computes every such test of the rule set into a byte array, `bits`, in
 * one tight loop per kind (no dispatch, no data-dependent branch), then
 * folds and/or/not combinations of them ("formulas") in a few interleaved
 * streams of steps.  A rule whose condition is a cheap test or a formula
 * ("flat") only reads its bit; any other program reads the bits of its
 * cheap parts (ROP_BR_BIT, ROP_LOAD_BIT).  Computing a test that
 * short-circuit evaluation would have skipped changes nothing: these tests
 * have no effect and no error.
 */

/* bits[] of an evaluation: constants and a sink, then the tests (numbers,
 * has(), sets) in that order, then the formulas. */
enum { KEFU_BIT_FALSE, KEFU_BIT_TRUE, KEFU_BIT_SINK, KEFU_BIT_TESTS };

/* Before the layout is fixed, the compiler names a bit by a reference:
 * test or formula number << 1, | KEFU_VREF_FORMULA for a formula. */
#define KEFU_VREF_FORMULA 1u

/* Number tests, by comparison: each kind runs in a loop of its own. */
enum { KEFU_CMP_LT, KEFU_CMP_LE, KEFU_CMP_GT, KEFU_CMP_GE, KEFU_CMP_EQ,
       KEFU_CMP_NE, KEFU_CMP_COUNT };

/* Formula steps: acc = lut >> (acc | bits[src] << 1) & 1. */
enum { KEFU_STEP_SET = 0xC, KEFU_STEP_SET_NOT = 0x3, KEFU_STEP_AND = 0x8,
       KEFU_STEP_AND_NOT = 0x2, KEFU_STEP_OR = 0xE, KEFU_STEP_OR_NOT = 0xB,
       KEFU_STEP_KEEP = 0xA };

#define KEFU_FLAT_STREAMS 4   /* formulas folded side by side */
#define KEFU_FLAT_SCAN 8      /* a fact tested against at most this many
                                 constants compares them in turn; more are
                                 found by hash */

typedef struct kefu_tnum {    /* facts' num[fact] against c */
    double c;
    uint32_t fact;
} kefu_tnum;

typedef struct kefu_tset {    /* the fact's constants-held words meet mask */
    uint32_t wo, mo, nw;      /* words[wo..], masks[mo..], nw of each */
} kefu_tset;

/* A string or list fact whose value is looked up among the constants it is
 * tested against, once per evaluation: bit k of words[wo..wo+nw) is set
 * when the value (or an item of the list) is its k-th constant, bit 0 when
 * it is none of them. */
typedef struct kefu_tfact {
    uint32_t fact, wo, nw;
    uint32_t maxlen;          /* longer values are none of the constants */
    uint32_t kfirst, kn;      /* its constants: consts[kfirst..kfirst+kn) */
    bool list;
} kefu_tfact;

/*
 * A string's key: its length and two words that hold all of its bytes when
 * it has at most 16 (the first and last 8, the first and last 4, or the
 * first, middle and last byte), so that comparing keys compares such
 * strings; longer ones also compare their bytes.  Words are read in the
 * machine's byte order: keys are never stored.
 */
typedef struct kefu_skey {
    uint64_t w0, w1;
    uint32_t len;
} kefu_skey;

static inline kefu_skey kefu_str_key(const char *s, uint32_t len)
{
    kefu_skey k = {0, 0, len};
    uint32_t x, y;
    if (len >= 8) {
        memcpy(&k.w0, s, 8);
        memcpy(&k.w1, s + len - 8, 8);
    } else if (len >= 4) {
        memcpy(&x, s, 4);
        memcpy(&y, s + len - 4, 4);
        k.w0 = (uint64_t)x << 32 | y;
    } else if (len) {
        k.w0 = (uint64_t)(unsigned char)s[0] << 16 |
               (uint64_t)(unsigned char)s[len >> 1] << 8 |
               (unsigned char)s[len - 1];
    }
    return k;
}

static inline uint64_t kefu_skey_hash(const kefu_skey *k, uint32_t fact)
{
    uint64_t h = (k->w0 ^ ((uint64_t)fact << 32 | k->len)) * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 31) ^ k->w1) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

/* A constant that a fact is tested against, and its number for the fact
 * (from 1). */
typedef struct kefu_tconst {
    uint64_t w0, w1;
    const char *str;
    uint32_t len, fact, id;
} kefu_tconst;

static inline bool kefu_tconst_is(const kefu_tconst *c, const kefu_skey *k,
                                  const char *s)
{
    return c->w0 == k->w0 && c->w1 == k->w1 && c->len == k->len &&
           (k->len <= 16 || !memcmp(c->str, s, k->len));
}

typedef struct kefu_fstep {
    uint32_t src, dst;        /* dst: the formula's bit, or KEFU_BIT_SINK */
    uint32_t lut;
} kefu_fstep;

typedef struct kefu_flatb kefu_flatb;   /* build state (rule_flat.c) */

/* What the evaluator needs of a rule, packed: w = fbit << 3 |
 * KEFU_WALK_PROGRAM | KEFU_WALK_STOPS | KEFU_WALK_NEG, its number of
 * actions, and for a rule that joins its bit with a pattern, m = pattern
 * << 8 | KEFU_MATCH_* (0: no pattern) and the string fact it matches. */
typedef struct kefu_rwalk {
    uint32_t w, nact;
    uint32_t m, mfact;
} kefu_rwalk;

enum { KEFU_WALK_NEG = 1, KEFU_WALK_STOPS = 2, KEFU_WALK_PROGRAM = 4 };

/* `bit OP pattern`: the bit is tested first (and the pattern only matched
 * when it does not decide), unless MFIRST: written the other way round,
 * the pattern is matched first, and its error is the rule's whatever the
 * bit says. */
enum { KEFU_MATCH_ON = 1, KEFU_MATCH_AND = 2, KEFU_MATCH_NEG = 4,
       KEFU_MATCH_FIRST = 8 };

typedef struct kefu_rflat {
    kefu_tnum *num;           /* by comparison, ncmp[k] of kind k */
    uint32_t nnum;
    uint32_t ncmp[KEFU_CMP_COUNT];
    uint32_t *has;            /* fact ids: slots[fact].present */
    uint32_t nhas;
    kefu_tset *set;
    uint32_t nset;
    uint64_t *masks;
    kefu_tfact *facts;
    uint32_t nfacts;
    uint32_t nwords;          /* words of all facts' bitsets */
    kefu_tconst *consts;      /* by fact, then number */
    uint32_t *index;          /* by kefu_skey_hash: consts index + 1, 0 empty */
    uint32_t imask;           /* index has imask + 1 entries */
    kefu_fstep *steps;        /* row-major, KEFU_FLAT_STREAMS a row */
    uint32_t nrows;
    uint32_t nbits;
    kefu_rwalk *walk;         /* per rule, in order */
    kefu_flatb *b;            /* while compiling */
} kefu_rflat;

/* The constant of `fact` whose key is k (s: the string), by hash. */
static inline const kefu_tconst *kefu_tconst_find(const kefu_rflat *fl,
                                                  uint32_t fact,
                                                  const kefu_skey *k,
                                                  const char *s)
{
    uint32_t i = (uint32_t)kefu_skey_hash(k, fact) & fl->imask;
    for (; fl->index[i]; i = (i + 1) & fl->imask) {
        const kefu_tconst *c = &fl->consts[fl->index[i] - 1];
        if (c->fact == fact && kefu_tconst_is(c, k, s))
            return c;
    }
    return NULL;
}

struct kefu_ruleset {
    kefu_mem mem;
    atomic_uint_fast32_t refs;
    uint32_t mode;           /* kefu_rules_mode */
    kefu_rule *rules;
    uint32_t nrules;
    kefu_rinsn *code;
    size_t ncode, capcode;
    double *nums;
    size_t nnums, capnums;
    kefu_litem *strs;        /* string constants (str owned) */
    size_t nstrs, capstrs;
    kefu_rlist *lists;
    size_t nlists, caplists;
    kefu_litem *litems;      /* items of constant lists (str owned) */
    size_t nlitems, caplitems;
    void **re;               /* pcre2_code_8 * */
    size_t nre, capre;
    uint8_t *re_jit;         /* 1 when re[i] has JIT code */
    size_t capre_jit;
    kefu_prefilter **re_pf;  /* re[i]'s literal prefilter, or NULL */
    size_t capre_pf;
    kefu_tnode *tnodes;
    size_t ntnodes, captnodes;
    kefu_raction *actions;
    size_t nactions, capactions;
    /* facts other than the built-ins: host-declared, then entities.* */
    kefu_fdecl *decls;
    uint32_t ndecls, nhost;
    size_t capdecls;
    uint64_t schema_hash;
    void *gctx;              /* pcre2_general_context_8 * */
    void *mctx;              /* pcre2_match_context_8 * */
    kefu_rflat flat;
    uint32_t max_stack;      /* deepest value stack of any rule */
    uint32_t max_trace;      /* trace entries of one evaluation, at most */
};

/* Maps a byte offset inside an expression to a line and column of the
 * file it came from. */
typedef struct kefu_srcseg {
    uint32_t off, line, col;
} kefu_srcseg;

typedef struct kefu_srcmap {
    const char *file;
    kefu_srcseg *seg;
    uint32_t nseg;
} kefu_srcmap;

void kefu_srcmap_pos(const kefu_srcmap *m, const char *src, size_t off,
                     uint32_t *line, uint32_t *col);
/* Builds the map of a YAML scalar node (plain, quoted or block). */
int kefu_srcmap_build(kefu_srcmap *m, const kefu_mem *mem,
                      const kefu_ydoc *doc, const kefu_ynode *n);

/* Everything the expression compiler needs to resolve names. */
typedef struct kefu_rcomp {
    struct kefu_ruleset *rs;
    const kefu_srcmap *map;
    kefu_diag *diag;
} kefu_rcomp;

/*
 * Parses, type-checks and compiles `src` (the `when` of rule r) into the
 * rule set's pools: r->code, r->tcode, r->tnode_*, r->cost.  Errors are
 * reported at their position inside the expression through c->map.
 */
int kefu_rexpr_compile(kefu_rcomp *c, kefu_rule *r, const char *src,
                       size_t len);

/*
 * Building the flat form (rule_flat.c).  The compiler adds tests and
 * formula steps as it meets cheap conditions and gets references
 * (KEFU_VREF) back, or -1 when out of memory; equal tests are merged.
 * kefu_rflat_finish lays out the bits once every rule is compiled and the
 * rules are in order, and rewrites the references in the code and the
 * rules into bit numbers.
 */
int64_t kefu_rflat_const(kefu_ruleset *rs, bool v);
int64_t kefu_rflat_num(kefu_ruleset *rs, uint32_t fact, uint32_t cmp, double c);
int64_t kefu_rflat_has(kefu_ruleset *rs, uint32_t fact);
/* The fact's value (list: one of its items) is one of strs[0..n). */
int64_t kefu_rflat_set(kefu_ruleset *rs, uint32_t fact, const kefu_litem *strs,
                       uint32_t n);
int64_t kefu_rflat_formula(kefu_ruleset *rs);
/* Appends a step; returns its index, or -1. */
int64_t kefu_rflat_step(kefu_ruleset *rs, uint32_t src, uint32_t lut);
void kefu_rflat_step_dst(kefu_ruleset *rs, uint32_t step, uint32_t dst);
/* Steps first..end-1 compute one formula (and its temporaries). */
int kefu_rflat_group(kefu_ruleset *rs, uint32_t first);
uint32_t kefu_rflat_nsteps(const kefu_ruleset *rs);
int kefu_rflat_finish(kefu_ruleset *rs);
void kefu_rflat_release(kefu_ruleset *rs);

/* Adds an `entities.<name>` fact on first use; returns its id or -1. */
int64_t kefu_ruleset_entity_fact(struct kefu_ruleset *rs, const char *name,
                                 size_t len);

/* ---- the model's section hooks (model.c's tables) ---- */

int kefu_rules_parse_section(struct kefu_model *m, const kefu_ynode *n,
                             kefu_load_ctx *ctx);
int kefu_facts_parse_section(struct kefu_model *m, const kefu_ynode *n,
                             kefu_load_ctx *ctx);
int kefu_rules_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_rules_release(struct kefu_model *m);

/* Evaluator opcodes (rule_compile.c emits, rule_eval.c runs). */
enum kefu_rop {
    ROP_RET,
    ROP_TRUE, ROP_FALSE, ROP_NUM, ROP_STR, ROP_LIST,
    ROP_LOAD_NUM, ROP_LOAD_STR, ROP_LOAD_LIST, ROP_HAS, ROP_VAR,
    ROP_NOT, ROP_JF_KEEP, ROP_JT_KEEP, ROP_JMP, /* J?_KEEP: jump keeping
                                   the value, else pop it */
    ROP_NEG, ROP_ADD, ROP_SUB, ROP_MUL, ROP_DIV, ROP_MOD,
    ROP_EQ_N, ROP_NE_N, ROP_LT_N, ROP_LE_N, ROP_GT_N, ROP_GE_N,
    ROP_EQ_S, ROP_NE_S, ROP_LT_S, ROP_LE_S, ROP_GT_S, ROP_GE_S,
    ROP_EQ_B, ROP_NE_B,
    ROP_IN_SL, ROP_IN_NL,       /* value in list */
    ROP_CONTAINS_S, ROP_STARTS, ROP_ENDS, ROP_MATCH,
    ROP_LEN_S, ROP_COUNT_L,
    ROP_ITER_INIT, ROP_ITER_NEXT, ROP_ITER_ANY, ROP_ITER_ALL, ROP_ITER_TALLY,
    ROP_ITER_END_ANY, ROP_ITER_END_ALL, ROP_ITER_END_COUNT,
    ROP_TRACE,
    /* the plain program compiles conditions to jumps: test, then jump to
     * c when the test == s (no value on the stack) */
    ROP_BR, ROP_RET_T, ROP_RET_F,
    ROP_BR_BIT,                 /* bits[a] == s: jump (a cheap part) */
    ROP_LOAD_BIT,               /* push bits[a] ^ b */
    ROP_BR_MATCH,               /* pattern a matches string fact b: jump */
    ROP_COUNT_
};

#endif
