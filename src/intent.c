/*
 * intent.c - intent classification.
 *
 * Loading: the `intents:` section gives each intent its examples, patterns,
 * required slots and routing skills; `classifier:` the training options and
 * decision thresholds.  `finish` either trains (examples -> hashed n-grams
 * -> idf-weighted dictionary -> softmax regression, see learner.c) or
 * restores weights from a binary model.
 *
 * Classifying: normalise and tokenise, hash features, look them up, score
 * every intent, add pattern boosts, apply a forcing pattern, then decide
 * out-of-scope from the trained `oos` class, the confidence threshold and
 * the margin.  No allocation once the scratch has grown.
 */
#include "intent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "emotion.h"
#include "entity.h"
#include "scratch.h"
#include "text.h"

#define OOS_LABEL "oos"
#define DEFAULT_THRESHOLD 0.3f
#define DEFAULT_PAIR_MAX_DF 1.0f
#define DEFAULT_FOLDS 5 /* cross-fitting folds that tune without val data */
#define SMALL_DATA 200 /* examples: below, features seen once are kept */
#define DEFAULT_TOP 5

/* ---- builder ---- */

static void info_release(const kefu_mem *mem, struct kefu_intent_info *in)
{
    kefu_dealloc(mem, in->name);
    kefu_dealloc(mem, in->description);
    for (uint32_t j = 0; j < in->nskills; j++)
        kefu_dealloc(mem, in->skills[j]);
    kefu_dealloc(mem, in->skills);
    for (uint32_t j = 0; j < in->nslots; j++)
        kefu_dealloc(mem, in->slots[j]);
    kefu_dealloc(mem, in->slots);
    kefu_dealloc(mem, in->slot_entity);
    memset(in, 0, sizeof *in);
}

static void pattern_release(const kefu_mem *mem, struct kefu_intent_pattern *p)
{
    pcre2_code_free(p->code);
    kefu_prefilter_free(mem, p->pf);
    kefu_dealloc(mem, p->source);
    memset(p, 0, sizeof *p);
}

/*
 * Intents: a Crammer-Singer SVM over words, their bigrams and pairs and
 * sub-words (doc/intents.md, "The learner").  Trained emotion labels keep
 * the softmax: it handles multi-label data and its scores are probabilities.
 */
static void classifier_defaults(kefu_classifier_cfg *c, uint32_t kind)
{
    memset(c, 0, sizeof *c);
    kefu_learn_opts_default(&c->learn);
    kefu_featcfg_default(&c->feat);
    if (kind == KEFU_CLF_INTENT) {
        c->learn.solver = KEFU_SOLVER_SVM;
        c->feat.word_pairs = KEFU_PAIR_WORDS_DEFAULT;
        c->feat.sub_min = 4; /* 4-grams only: measured as accurate as 3..4
                              * with a third fewer features (doc/intents.md) */
    } else {
        c->feat.sublinear = 0; /* measured: the better weighting for them */
    }
    c->threshold = DEFAULT_THRESHOLD;
    c->margin = 0.0f;
    c->min_df = 0; /* 0: 1 below SMALL_DATA examples, else 2 */
    c->pair_max_df = DEFAULT_PAIR_MAX_DF;
    c->folds = DEFAULT_FOLDS;
}

static int build_slot(uint32_t kind)
{
    return kind == KEFU_CLF_EMOTION ? KEFU_BUILD_EMOCLF : KEFU_BUILD_INTENT;
}

/* The `classifier:` section: the keys it set (CS_*) and their values.  It
 * configures every classifier the model trains, intents and trained
 * emotion labels alike, whichever comes first. */
enum {
    CS_EPOCHS = 1u << 0, CS_LR = 1u << 1, CS_L2 = 1u << 2, CS_SEED = 1u << 3,
    CS_MIN_DF = 1u << 4, CS_WORD_NGRAMS = 1u << 5, CS_CJK = 1u << 6,
    CS_THRESHOLD = 1u << 7, CS_MARGIN = 1u << 8, CS_COST = 1u << 9,
    CS_SUB_WEIGHT = 1u << 10, CS_PAIR_MAX_DF = 1u << 11,
    CS_WORD_PAIRS = 1u << 12, CS_SOLVER = 1u << 13, CS_SUBWORDS = 1u << 14,
    CS_FOLDS = 1u << 15
};

typedef struct clf_section {
    kefu_classifier_cfg cfg;
    uint32_t set;
} clf_section;

static void section_apply(kefu_classifier_cfg *d, const clf_section *cs)
{
    const kefu_classifier_cfg *c = &cs->cfg;
    const uint32_t set = cs->set;
    if (set & CS_EPOCHS) {
        d->learn.epochs = c->learn.epochs;
        d->epochs_set = 1;
    }
    if (set & CS_LR) d->learn.lr = c->learn.lr;
    if (set & CS_L2) d->learn.l2 = c->learn.l2;
    if (set & CS_SEED) d->learn.seed = c->learn.seed;
    if (set & CS_MIN_DF) d->min_df = c->min_df;
    if (set & CS_WORD_NGRAMS) d->feat.word_ngrams = c->feat.word_ngrams;
    if (set & CS_CJK) d->feat.cjk_max = c->feat.cjk_max;
    if (set & CS_THRESHOLD) {
        d->threshold = c->threshold;
        d->threshold_set = 1;
    }
    if (set & CS_MARGIN) {
        d->margin = c->margin;
        d->margin_set = 1;
    }
    if (set & CS_COST) d->learn.c = c->learn.c;
    if (set & CS_SUB_WEIGHT) d->feat.sub_weight = c->feat.sub_weight;
    if (set & CS_PAIR_MAX_DF) d->pair_max_df = c->pair_max_df;
    if (set & CS_WORD_PAIRS) d->feat.word_pairs = c->feat.word_pairs;
    if (set & CS_SOLVER) d->learn.solver = c->learn.solver;
    if (set & CS_FOLDS) d->folds = c->folds;
    if (set & CS_SUBWORDS) {
        d->feat.sub_min = c->feat.sub_min;
        d->feat.sub_max = c->feat.sub_max;
    }
}

kefu_intent_builder *kefu_clf_builder_get(struct kefu_model *m, uint32_t kind)
{
    kefu_intent_builder *b = m->building[build_slot(kind)];
    if (!b) {
        const clf_section *cs = m->building[KEFU_BUILD_CLFCFG];
        b = kefu_zalloc(&m->mem, sizeof *b);
        if (!b)
            return NULL;
        classifier_defaults(&b->cfg, kind);
        if (cs)
            section_apply(&b->cfg, cs);
        b->kind = kind;
        m->building[build_slot(kind)] = b;
    }
    return b;
}

static void section_free(struct kefu_model *m)
{
    kefu_dealloc(&m->mem, m->building[KEFU_BUILD_CLFCFG]);
    m->building[KEFU_BUILD_CLFCFG] = NULL;
}

kefu_intent_builder *kefu_intent_builder_get(struct kefu_model *m)
{
    return kefu_clf_builder_get(m, KEFU_CLF_INTENT);
}

static void builder_free(struct kefu_model *m, uint32_t kind)
{
    kefu_intent_builder *b = m->building[build_slot(kind)];
    if (!b)
        return;
    for (uint32_t i = 0; i < b->n; i++)
        info_release(&m->mem, &b->info[i]);
    kefu_dealloc(&m->mem, b->info);
    for (size_t i = 0; i < b->nex; i++)
        kefu_dealloc(&m->mem, b->ex[i].text);
    kefu_dealloc(&m->mem, b->ex);
    for (size_t i = 0; i < b->nval; i++)
        kefu_dealloc(&m->mem, b->val[i].text);
    kefu_dealloc(&m->mem, b->val);
    for (uint32_t i = 0; i < b->npatterns; i++)
        pattern_release(&m->mem, &b->patterns[i]);
    kefu_dealloc(&m->mem, b->patterns);
    kefu_dealloc(&m->mem, b);
    m->building[build_slot(kind)] = NULL;
}

/* Index of intent `name`, created when missing; -1 when out of memory. */
static int32_t intent_index(struct kefu_model *m, kefu_intent_builder *b,
                            const char *name, size_t len)
{
    size_t cap = b->cap;
    for (uint32_t i = b->n; i-- > 0;)
        if (strlen(b->info[i].name) == len && !memcmp(b->info[i].name, name, len))
            return (int32_t)i;
    if (kefu_grow(&m->mem, (void **)&b->info, &cap, b->n + 1, sizeof *b->info))
        return -1;
    b->cap = (uint32_t)cap;
    memset(&b->info[b->n], 0, sizeof b->info[b->n]);
    b->info[b->n].name = kefu_strndup(&m->mem, name, len);
    if (!b->info[b->n].name)
        return -1;
    return (int32_t)b->n++;
}

static int add_example(struct kefu_model *m, kefu_intent_builder *b,
                       const uint32_t *labels, uint32_t nlab, const char *text,
                       size_t len, bool val)
{
    kefu_example **arr = val ? &b->val : &b->ex;
    size_t *n = val ? &b->nval : &b->nex;
    size_t *cap = val ? &b->cap_val : &b->cap_ex;
    char *copy;
    if (len > UINT32_MAX)
        return KEFU_E_LIMIT;
    if (kefu_grow(&m->mem, (void **)arr, cap, *n + 1, sizeof **arr))
        return KEFU_E_NOMEM;
    copy = kefu_strndup(&m->mem, text, len);
    if (!copy)
        return KEFU_E_NOMEM;
    (*arr)[*n].label = labels[0];
    (*arr)[*n].nlab = nlab;
    memcpy((*arr)[*n].lab, labels, nlab * sizeof *labels);
    (*arr)[*n].text = copy;
    (*arr)[*n].len = (uint32_t)len;
    (*n)++;
    return KEFU_OK;
}

int kefu_clf_add_example(struct kefu_model *m, uint32_t kind,
                         const char *label, size_t label_len,
                         const char *text, size_t len, bool validation)
{
    kefu_intent_builder *b = kefu_clf_builder_get(m, kind);
    uint32_t labs[KEFU_CLF_MAX_LABELS], n = 0;
    size_t start = 0;
    if (!b)
        return KEFU_E_NOMEM;
    /* the emotion kind takes multi-label lines: "anger,disgust" */
    for (size_t i = 0; i <= label_len; i++) {
        int32_t id;
        if (i < label_len && (kind != KEFU_CLF_EMOTION || label[i] != ','))
            continue;
        if (i == start || n == KEFU_CLF_MAX_LABELS)
            return KEFU_E_SYNTAX;
        id = intent_index(m, b, label + start, i - start);
        if (id < 0)
            return KEFU_E_NOMEM;
        labs[n++] = (uint32_t)id;
        start = i + 1;
    }
    return add_example(m, b, labs, n, text, len, validation);
}

int kefu_intent_add_example(struct kefu_model *m, const char *label,
                            size_t label_len, const char *text, size_t len,
                            bool validation)
{
    return kefu_clf_add_example(m, KEFU_CLF_INTENT, label, label_len, text,
                                len, validation);
}

/* ---- YAML sections ---- */

static int string_list(struct kefu_model *m, kefu_load_ctx *ctx,
                       const kefu_ynode *n, char ***out, uint32_t *count,
                       const char *what)
{
    int rc;
    if (n->type == KEFU_Y_SCALAR) {
        /* a single name is a list of one */
        const char *s;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, n, &s, NULL)))
            return rc;
        *out = kefu_alloc_array(&m->mem, 1, sizeof **out);
        if (!*out || !((*out)[0] = kefu_strdup(&m->mem, s)))
            return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        *count = 1;
        return KEFU_OK;
    }
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_SEQ, what)))
        return rc;
    *out = kefu_alloc_array(&m->mem, n->n ? n->n : 1, sizeof **out);
    if (!*out)
        return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const char *s;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, n->items[i], &s, NULL)))
            return rc;
        if (!((*out)[i] = kefu_strdup(&m->mem, s)))
            return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        (*count)++;
    }
    return KEFU_OK;
}

static int parse_pattern(struct kefu_model *m, kefu_intent_builder *b,
                         uint32_t intent, const kefu_ynode *n,
                         kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"regex", "mode", "weight", NULL};
    const kefu_ynode *re = n, *v;
    struct kefu_intent_pattern p;
    size_t cap = b->cap_patterns;
    int rc;
    memset(&p, 0, sizeof p);
    p.intent = intent;
    p.force = 0;
    p.weight = 2.0f;
    if (n->type == KEFU_Y_MAP) {
        if ((rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
            return rc;
        re = kefu_ymap_get(n, "regex");
        if (!re)
            return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                             "a pattern needs 'regex'");
        if ((v = kefu_ymap_get(n, "mode"))) {
            if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "force"))
                p.force = 1;
            else if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "boost"))
                p.force = 0;
            else
                return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                                 "mode is 'force' or 'boost'");
        }
        if ((v = kefu_ymap_get(n, "weight"))) {
            double w;
            if ((rc = kefu_y_number(ctx->diag, ctx->doc, v, -100, 100, &w)))
                return rc;
            p.weight = (float)w;
        }
    }
    if (!b->npatterns && !m->building[KEFU_BUILD_INTENT])
        return KEFU_E_STATE;
    {
        pcre2_general_context *g = kefu_pattern_gctx(&m->mem);
        if (!g)
            return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        rc = kefu_pattern_compile_node(&p.code, g, ctx->diag, ctx->doc, re, 0,
                                       "pattern");
        pcre2_general_context_free(g);
        if (rc)
            return rc;
    }
    p.source = kefu_strdup(&m->mem, re->str);
    /* patterns run on the scratch's normalised text, which is always case
     * folded: case-less word lists are filtered too */
    if (p.source &&
        kefu_prefilter_build(&p.pf, &m->mem, p.source, strlen(p.source),
                             KEFU_PREFILTER_FOLDED)) {
        pattern_release(&m->mem, &p);
        return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    }
    if (!p.source ||
        kefu_grow(&m->mem, (void **)&b->patterns, &cap, b->npatterns + 1,
                  sizeof *b->patterns)) {
        pattern_release(&m->mem, &p);
        return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    }
    b->cap_patterns = (uint32_t)cap;
    b->patterns[b->npatterns++] = p;
    return KEFU_OK;
}

static int parse_examples(struct kefu_model *m, kefu_intent_builder *b,
                          uint32_t id, const kefu_ynode *n, kefu_load_ctx *ctx)
{
    int rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_SEQ, "examples");
    for (size_t j = 0; !rc && j < n->n; j++) {
        const char *s;
        size_t len;
        size_t bad;
        if ((rc = kefu_y_string(ctx->diag, ctx->doc, n->items[j], &s, &len)))
            break;
        if (kefu_utf8_validate(s, len, &bad)) {
            rc = kefu_yerr(ctx->diag, ctx->doc, n->items[j], KEFU_E_UTF8,
                           "invalid UTF-8 in example");
            break;
        }
        if (add_example(m, b, &id, 1, s, len, false))
            rc = kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    }
    return rc;
}

int kefu_intent_parse_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"description", "examples", "patterns",
                                       "slots", "skills", NULL};
    kefu_intent_builder *b = kefu_intent_builder_get(m);
    int rc;
    if (!b)
        return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP, "intents")))
        return rc;
    for (size_t i = 0; i < n->n; i++) {
        const kefu_ynode *key = n->keys[i], *body = n->items[i], *v;
        struct kefu_intent_info *in;
        int32_t id;
        if (key->len == 0 || key->len > 128)
            return kefu_yerr(ctx->diag, ctx->doc, key, KEFU_E_MODEL,
                             "intent names are 1 to 128 bytes");
        id = intent_index(m, b, key->str, key->len);
        if (id < 0)
            return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        in = &b->info[id];
        if (body->type == KEFU_Y_SEQ) { /* shorthand: a list of examples */
            if ((rc = parse_examples(m, b, (uint32_t)id, body, ctx)))
                return rc;
            continue;
        }
        if ((rc = kefu_y_keys(ctx->diag, ctx->doc, body, keys)))
            return rc;
        if ((v = kefu_ymap_get(body, "description"))) {
            const char *s;
            if ((rc = kefu_y_string(ctx->diag, ctx->doc, v, &s, NULL)))
                return rc;
            kefu_dealloc(&m->mem, in->description);
            if (!(in->description = kefu_strdup(&m->mem, s)))
                return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        }
        if ((v = kefu_ymap_get(body, "skills"))) {
            if (in->nskills)
                return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                                 "skills of '%s' are already given", in->name);
            if ((rc = string_list(m, ctx, v, &in->skills, &in->nskills, "skills")))
                return rc;
        }
        if ((v = kefu_ymap_get(body, "slots"))) {
            if (in->nslots)
                return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                                 "slots of '%s' are already given", in->name);
            if ((rc = string_list(m, ctx, v, &in->slots, &in->nslots, "slots")))
                return rc;
        }
        if ((v = kefu_ymap_get(body, "examples")) &&
            (rc = parse_examples(m, b, (uint32_t)id, v, ctx)))
            return rc;
        if ((v = kefu_ymap_get(body, "patterns"))) {
            if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_SEQ, "patterns")))
                return rc;
            for (size_t j = 0; j < v->n; j++)
                if ((rc = parse_pattern(m, b, (uint32_t)id, v->items[j], ctx)))
                    return rc;
        }
    }
    return KEFU_OK;
}

int kefu_classifier_parse_section(struct kefu_model *m, const kefu_ynode *n,
                                  kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"epochs", "learning_rate", "l2", "seed",
                                       "threshold", "margin", "min_df",
                                       "word_ngrams", "cjk_ngrams", "subwords",
                                       "solver", "cost", "word_pairs",
                                       "subword_weight", "pair_max_df",
                                       "tuning_folds", NULL};
    clf_section *cs = m->building[KEFU_BUILD_CLFCFG];
    kefu_classifier_cfg *c;
    const kefu_ynode *v;
    int64_t x;
    double d;
    int rc;
    if (!cs) {
        /* values are copied only under their bit: zero is fine */
        cs = kefu_zalloc(&m->mem, sizeof *cs);
        if (!cs)
            return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        m->building[KEFU_BUILD_CLFCFG] = cs;
    }
    c = &cs->cfg;
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
#define INT_KEY(k, lo, hi, dst, bit)                                          \
    if ((v = kefu_ymap_get(n, k))) {                                         \
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, v, lo, hi, &x)))           \
            return rc;                                                        \
        dst = x;                                                              \
        cs->set |= bit;                                                       \
    }
#define NUM_KEY(k, lo, hi, dst, bit)                                          \
    if ((v = kefu_ymap_get(n, k))) {                                         \
        if ((rc = kefu_y_number(ctx->diag, ctx->doc, v, lo, hi, &d)))        \
            return rc;                                                        \
        dst = (float)d;                                                       \
        cs->set |= bit;                                                       \
    }
    INT_KEY("epochs", 1, KEFU_EPOCHS_MAX, c->learn.epochs, CS_EPOCHS)
    NUM_KEY("learning_rate", KEFU_LR_MIN, KEFU_LR_MAX, c->learn.lr, CS_LR)
    NUM_KEY("l2", 0, 1, c->learn.l2, CS_L2)
    INT_KEY("seed", 0, INT64_MAX, c->learn.seed, CS_SEED)
    INT_KEY("min_df", 1, 1000, c->min_df, CS_MIN_DF)
    INT_KEY("word_ngrams", 1, 2, c->feat.word_ngrams, CS_WORD_NGRAMS)
    INT_KEY("cjk_ngrams", 1, 3, c->feat.cjk_max, CS_CJK)
    INT_KEY("tuning_folds", 2, 10, c->folds, CS_FOLDS)
    NUM_KEY("threshold", 0, 1, c->threshold, CS_THRESHOLD)
    NUM_KEY("margin", 0, 1, c->margin, CS_MARGIN)
    NUM_KEY("cost", 1e-4, 1e4, c->learn.c, CS_COST)
    NUM_KEY("subword_weight", 0, 100, c->feat.sub_weight, CS_SUB_WEIGHT)
    NUM_KEY("pair_max_df", 1e-6, 1, c->pair_max_df, CS_PAIR_MAX_DF)
#undef INT_KEY
#undef NUM_KEY
    if ((v = kefu_ymap_get(n, "word_pairs"))) {
        /* true, false, or how many of the first words pair */
        bool on;
        if (kefu_y_bool(NULL, ctx->doc, v, &on) == KEFU_OK)
            c->feat.word_pairs = on ? KEFU_PAIR_WORDS_DEFAULT : 0;
        else if (kefu_y_int(NULL, ctx->doc, v, 2, KEFU_PAIR_WORDS, &x) == KEFU_OK)
            c->feat.word_pairs = (uint8_t)x;
        else
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                             "word_pairs is true, false or how many of a "
                             "message's first words pair (2 to %d)",
                             KEFU_PAIR_WORDS);
        cs->set |= CS_WORD_PAIRS;
    }
    if ((v = kefu_ymap_get(n, "solver"))) {
        cs->set |= CS_SOLVER;
        if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "svm"))
            c->learn.solver = KEFU_SOLVER_SVM;
        else if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "softmax"))
            c->learn.solver = KEFU_SOLVER_SOFTMAX;
        else
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                             "solver is svm or softmax");
    }
    if ((v = kefu_ymap_get(n, "subwords"))) {
        int64_t lo, hi;
        if (v->type == KEFU_Y_SCALAR && !strcmp(v->str, "off")) {
            c->feat.sub_min = c->feat.sub_max = 0;
            cs->set |= CS_SUBWORDS;
        } else if (v->type != KEFU_Y_SEQ || v->n != 2) {
            return kefu_yerr(ctx->diag, ctx->doc, v, KEFU_E_MODEL,
                             "subwords is [min, max] or off");
        } else {
            if ((rc = kefu_y_int(ctx->diag, ctx->doc, v->items[0], 2, 8, &lo)) ||
                (rc = kefu_y_int(ctx->diag, ctx->doc, v->items[1], lo, 8, &hi)))
                return rc;
            c->feat.sub_min = (uint8_t)lo;
            c->feat.sub_max = (uint8_t)hi;
            cs->set |= CS_SUBWORDS;
        }
    }
    /* classifiers begun before this section (an intents section earlier
     * in the file) take it too */
    for (uint32_t kind = KEFU_CLF_INTENT; kind <= KEFU_CLF_EMOTION; kind++)
        if (m->building[build_slot(kind)]) {
            kefu_intent_builder *b = m->building[build_slot(kind)];
            section_apply(&b->cfg, cs);
        }
    return KEFU_OK;
}

/* ---- training ---- */

/* A map from feature hash to document frequency, for the dictionary. */
typedef struct df_map {
    uint64_t *keys;
    uint32_t *df;
    uint32_t *last; /* last example that counted this feature */
    size_t mask, n;
} df_map;

static int df_grow(df_map *d, const kefu_mem *mem)
{
    size_t size = d->mask ? (d->mask + 1) * 2 : 1u << 16;
    df_map nd;
    nd.keys = kefu_alloc_array(mem, size, sizeof *nd.keys);
    nd.df = kefu_alloc_array(mem, size, sizeof *nd.df);
    nd.last = kefu_alloc_array(mem, size, sizeof *nd.last);
    if (!nd.keys || !nd.df || !nd.last) {
        kefu_dealloc(mem, nd.keys);
        kefu_dealloc(mem, nd.df);
        kefu_dealloc(mem, nd.last);
        return KEFU_E_NOMEM;
    }
    nd.mask = size - 1;
    nd.n = d->n;
    for (size_t i = 0; d->mask && i <= d->mask; i++) {
        size_t j;
        if (!d->keys[i])
            continue;
        j = (size_t)(d->keys[i] ^ (d->keys[i] >> 29)) & nd.mask;
        while (nd.keys[j])
            j = (j + 1) & nd.mask;
        nd.keys[j] = d->keys[i];
        nd.df[j] = d->df[i];
        nd.last[j] = d->last[i];
    }
    kefu_dealloc(mem, d->keys);
    kefu_dealloc(mem, d->df);
    kefu_dealloc(mem, d->last);
    *d = nd;
    return KEFU_OK;
}

static int df_add(df_map *d, uint64_t h, uint32_t example, const kefu_mem *mem)
{
    size_t j;
    h = h ? h : 1;
    if ((d->n + 1) * 2 > d->mask + 1 && df_grow(d, mem))
        return KEFU_E_NOMEM;
    j = (size_t)(h ^ (h >> 29)) & d->mask;
    while (d->keys[j] && d->keys[j] != h)
        j = (j + 1) & d->mask;
    if (!d->keys[j]) {
        d->keys[j] = h;
        d->df[j] = 1;
        d->last[j] = example;
        d->n++;
    } else if (d->last[j] != example) {
        d->df[j]++;
        d->last[j] = example;
    }
    return KEFU_OK;
}

static void df_release(df_map *d, const kefu_mem *mem)
{
    kefu_dealloc(mem, d->keys);
    kefu_dealloc(mem, d->df);
    kefu_dealloc(mem, d->last);
    memset(d, 0, sizeof *d);
}

/*
 * Features of one example: hashed n-grams into `hs` and, for the emotion
 * kind, the lexicon's scores into extra[KEFU_CLF_EXTRA].  Runs the text
 * stage in the scratch.
 */
static int featurize(const struct kefu_intent_model *im, kefu_scratch *sc,
                     const char *text, size_t len, kefu_hashes *hs,
                     float *extra)
{
    int rc;
    if (im->kind == KEFU_CLF_EMOTION) {
        kefu_emo_features f;
        memset(&f, 0, sizeof f);
        if ((rc = kefu_emotion_features(sc, text, len, &f)))
            return rc;
        for (int c = 0; c < KEFU_EMO_NCAT && c < 6; c++) {
            extra[c] = log1pf(f.raw[c] > 0 ? f.raw[c] : 0);
            extra[6 + c] = log1pf(f.lex[c] > 0 ? f.lex[c] : 0);
        }
        extra[12] = log1pf(f.negativity_raw > 0 ? f.negativity_raw : 0);
        extra[13] = f.negated ? 1.0f : 0.0f;
        extra[14] = f.exclamations ? 1.0f : 0.0f;
        extra[15] = (f.caps_words || f.elongated) ? 1.0f : 0.0f;
    } else if ((rc = kefu_scratch_text(sc, text, len))) {
        return rc;
    }
    return kefu_features_extract(&im->cfg.feat, &im->dict, &sc->text, hs,
                                 &sc->mem);
}

/* Appends the extra dense features after the dictionary's indices. */
static int append_extra(const struct kefu_intent_model *im, kefu_sparse *sp,
                        const float *extra, const kefu_mem *mem)
{
    if (!im->nextra)
        return KEFU_OK;
    if (kefu_sparse_reserve(sp, sp->n + im->nextra, mem))
        return KEFU_E_NOMEM;
    for (uint32_t j = 0; j < im->nextra; j++)
        if (extra[j] != 0) {
            sp->idx[sp->n] = im->dict.n + j;
            sp->from[sp->n] = UINT32_MAX; /* not from a hashed feature */
            sp->val[sp->n++] = extra[j];
        }
    return KEFU_OK;
}

/* One pass of build_dict: the features of every example (word pairs as
 * the current im->dict allows), then im->dict anew from them. */
static int dict_pass(struct kefu_intent_model *im, kefu_scratch *sc,
                     const kefu_example *ex, size_t nex, kefu_diag *diag)
{
    /* a handful of examples share few n-grams: keep every one */
    const uint32_t min_df = im->cfg.min_df ? im->cfg.min_df
                                           : nex < SMALL_DATA ? 1 : 2;
    df_map d;
    kefu_hashes hs = {0};
    float extra[KEFU_CLF_EXTRA];
    uint64_t *keep = NULL;
    float *idf = NULL;
    uint32_t nkeep = 0;
    int rc = KEFU_OK;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < nex && !rc; i++) {
        if ((rc = featurize(im, sc, ex[i].text, ex[i].len, &hs, extra)))
            break;
        for (size_t j = 0; j < hs.n && !rc; j++)
            rc = df_add(&d, hs.h[j], (uint32_t)i + 1, &im->mem);
    }
    if (rc == KEFU_E_UTF8 || rc == KEFU_E_TOO_LONG)
        rc = kefu_diag_msg(diag, rc, "training example: %s",
                           kefu_diag_message(&sc->diag));
    if (!rc && d.n > UINT32_MAX / 2)
        rc = kefu_diag_msg(diag, KEFU_E_LIMIT, "too many features");
    if (!rc) {
        keep = kefu_alloc_array(&im->mem, d.n ? d.n : 1, sizeof *keep);
        idf = kefu_alloc_array(&im->mem, d.n ? d.n : 1, sizeof *idf);
        if (!keep || !idf)
            rc = KEFU_E_NOMEM;
    }
    for (size_t j = 0; !rc && d.mask && j <= d.mask; j++) {
        if (!d.keys[j] || d.df[j] < min_df)
            continue;
        keep[nkeep] = d.keys[j];
        idf[nkeep] = (float)(log((1.0 + (double)nex) / (1.0 + d.df[j])) + 1.0);
        nkeep++;
    }
    if (!rc) {
        kefu_featdict_release(&im->dict, &im->mem);
        rc = kefu_featdict_build(&im->dict, keep, idf, nkeep, &im->mem);
    }
    kefu_dealloc(&im->mem, keep);
    kefu_dealloc(&im->mem, idf);
    kefu_hashes_release(&hs, &im->mem);
    df_release(&d, &im->mem);
    if (rc == KEFU_E_NOMEM)
        kefu_diag_msg(diag, rc, "out of memory");
    return rc;
}

/*
 * Builds the feature dictionary (features with df >= min_df) and idf.
 * With word pairs, twice: first without pairs, so that the words' idf is
 * known, then with pairs of the words that are rare enough
 * (pair_max_df, as kefu_features_extract does when classifying).
 */
static int build_dict(struct kefu_intent_model *im, kefu_scratch *sc,
                      const kefu_example *ex, size_t nex, kefu_diag *diag)
{
    uint8_t pairs = im->cfg.feat.word_pairs;
    int rc;
    if (!pairs)
        return dict_pass(im, sc, ex, nex, diag);
    im->cfg.feat.word_pairs = 0;
    rc = dict_pass(im, sc, ex, nex, diag);
    im->cfg.feat.word_pairs = pairs;
    /* words in more than a pair_max_df share of the examples do not pair */
    im->cfg.feat.pair_min_idf =
        (float)(log((1.0 + (double)nex) / (1.0 + im->cfg.pair_max_df * (double)nex)) + 1.0);
    return rc ? rc : dict_pass(im, sc, ex, nex, diag);
}

static int vectorise(struct kefu_intent_model *im, kefu_scratch *sc,
                     const kefu_example *ex, size_t nex, kefu_dataset *ds)
{
    kefu_hashes hs = {0};
    kefu_sparse sp = {0};
    float extra[KEFU_CLF_EXTRA];
    int rc = KEFU_OK;
    for (size_t i = 0; i < nex && !rc; i++) {
        if ((rc = featurize(im, sc, ex[i].text, ex[i].len, &hs, extra)) ||
            (rc = kefu_sparse_from_hashes(&im->cfg.feat, &im->dict, &hs, &sp, &im->mem)) ||
            (rc = append_extra(im, &sp, extra, &im->mem)))
            break;
        rc = kefu_dataset_add(ds, sp.idx, sp.val, sp.n, ex[i].lab, ex[i].nlab,
                              &im->mem);
    }
    kefu_hashes_release(&hs, &im->mem);
    kefu_sparse_release(&sp, &im->mem);
    return rc;
}

/*
 * Chooses the out-of-scope threshold on tuning data that has `oos`
 * examples: the highest out-of-scope recall whose in-scope accuracy stays
 * within half a point of the best in-scope accuracy over all thresholds.
 * Without them the configured (or default) threshold stays.  raw: the
 * examples' scores, probabilities at temperature t (sigmoids when
 * multilabel).
 */
static int choose_threshold(struct kefu_intent_model *im, const kefu_dataset *val,
                            const float *raw, float t, bool multilabel)
{
    enum { STEPS = 100 };
    size_t ins = 0, oos = 0;
    uint32_t ok[STEPS] = {0}, caught[STEPS] = {0};
    double best_acc = 0, best_recall = -1;
    int best = 0;
    float *s = kefu_alloc_array(&im->mem, im->n, sizeof *s);
    if (!s)
        return KEFU_E_NOMEM;
    for (size_t i = 0; i < val->n; i++) {
        uint32_t y = val->lab[val->lab_off[i]], top = 0;
        bool is_oos = (int32_t)y == im->oos_class;
        memcpy(s, raw + i * im->n, im->n * sizeof *s);
        kefu_probs(s, im->n, t, multilabel);
        for (uint32_t c = 1; c < im->n; c++)
            if (s[c] > s[top])
                top = c;
        ins += !is_oos;
        oos += is_oos;
        for (int k = 0; k < STEPS; k++) {
            bool says_oos = (int32_t)top == im->oos_class || s[top] < (float)k / STEPS;
            if (is_oos)
                caught[k] += says_oos;
            else
                ok[k] += !says_oos && top == y;
        }
    }
    kefu_dealloc(&im->mem, s);
    if (!oos || !ins)
        return KEFU_OK;
    for (int k = 0; k < STEPS; k++)
        if ((double)ok[k] / ins > best_acc)
            best_acc = (double)ok[k] / ins;
    for (int k = 0; k < STEPS; k++) {
        double acc = (double)ok[k] / ins, rec = (double)caught[k] / oos;
        if (acc >= best_acc - 0.005 && rec > best_recall) {
            best_recall = rec;
            best = k;
        }
    }
    im->cfg.threshold = (float)best / STEPS;
    return KEFU_OK;
}

/* Macro-F1 of predictions from raw scores plus per-label offsets. */
static double macro_f1(uint32_t n, bool multilabel, const kefu_dataset *va,
                       const float *raw, const float *off, uint32_t *tp,
                       uint32_t *fp, uint32_t *fn)
{
    double sum = 0;
    uint32_t counted = 0;
    memset(tp, 0, n * sizeof *tp);
    memset(fp, 0, n * sizeof *fp);
    memset(fn, 0, n * sizeof *fn);
    for (size_t i = 0; i < va->n; i++) {
        const float *r = raw + i * n;
        uint32_t best = 0;
        for (uint32_t c = 1; c < n; c++)
            if (r[c] + off[c] > r[best] + off[best])
                best = c;
        for (uint32_t c = 0; c < n; c++) {
            bool gold = false, pred;
            for (size_t j = va->lab_off[i]; j < va->lab_off[i + 1]; j++)
                gold |= va->lab[j] == c;
            pred = multilabel ? (r[c] + off[c] >= 0 || c == best) : c == best;
            tp[c] += gold && pred;
            fp[c] += !gold && pred;
            fn[c] += gold && !pred;
        }
    }
    for (uint32_t c = 0; c < n; c++) {
        double pr, rc;
        if (!(tp[c] + fn[c]))
            continue;
        pr = tp[c] + fp[c] ? (double)tp[c] / (tp[c] + fp[c]) : 0;
        rc = (double)tp[c] / (tp[c] + fn[c]);
        sum += pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0;
        counted++;
    }
    return counted ? sum / counted : 0;
}

/*
 * Emotion data is skewed and scored by macro-F1, which the loss does not
 * see: finds per-label offsets to the biases (coordinate ascent over a
 * small grid, off[] starting at zero) that give the best macro-F1 on the
 * tuning data's raw scores.
 */
static int tune_label_bias(const struct kefu_intent_model *im, bool multilabel,
                           const kefu_dataset *va, const float *raw, float *off)
{
    const uint32_t n = im->n;
    uint32_t *cnt = kefu_alloc_array(&im->mem, (size_t)n * 3, sizeof *cnt);
    double best;
    if (!cnt)
        return KEFU_E_NOMEM;
    best = macro_f1(n, multilabel, va, raw, off, cnt, cnt + n, cnt + 2 * n);
    for (int pass = 0; pass < 3; pass++)
        for (uint32_t c = 0; c < n; c++) {
            float keep = off[c], choice = keep;
            for (int k = -12; k <= 12; k++) {
                double f;
                off[c] = keep + 0.125f * (float)k;
                f = macro_f1(n, multilabel, va, raw, off, cnt, cnt + n, cnt + 2 * n);
                if (f > best + 1e-9) {
                    best = f;
                    choice = off[c];
                }
            }
            off[c] = choice;
        }
    kefu_dealloc(&im->mem, cnt);
    return KEFU_OK;
}

/*
 * What tuning data decides, from its examples' raw scores (im->n a row)
 * under a model that did not train on them: the temperature (single-label
 * models; *t stays otherwise), the out-of-scope threshold (intents with
 * `oos` examples, into im->cfg) and per-label offsets to the biases
 * (trained emotion labels; off[] zero for the rest).
 */
static int tune(struct kefu_intent_model *im, const kefu_intent_builder *b,
                bool multilabel, const kefu_dataset *va, const float *raw,
                float *t, float *off)
{
    int rc = KEFU_OK;
    memset(off, 0, im->n * sizeof *off);
    if (!multilabel)
        rc = kefu_fit_temperature(raw, va, im->n, &im->mem, t);
    if (!rc && !b->cfg.threshold_set && im->kind == KEFU_CLF_INTENT)
        rc = choose_threshold(im, va, raw, *t, multilabel);
    if (!rc && im->kind == KEFU_CLF_EMOTION)
        rc = tune_label_bias(im, multilabel, va, raw, off);
    return rc;
}

/* Fewest training examples for which tuning folds are held out. */
#define CARVE_MIN 50
/* The SVM's cap on passes unless `epochs` is given: it stops when
 * converged, and with shrinking that can take a few passes more than the
 * SGD's 25 epochs (CAIS: 26), each of them cheap. */
#define SVM_MAX_PASSES 100
#define SVM_DEFAULT_TEMPERATURE 0.12f

/*
 * Without validation data, the training examples are tuning data scored
 * by models that did not see them (cross-fitting).  Folds are stratified:
 * the j-th example of a label (its first) is in fold j % folds, so every
 * fold has its share of every label whatever the order of the file.  For
 * each fold a model is trained on the other folds and scores the fold's
 * examples into their rows of raw (im->n scores each, in the examples'
 * order).  `folds` more training runs, each on (folds - 1) / folds of the
 * data.
 */
static int cross_fit(struct kefu_intent_model *im, const kefu_dataset *all,
                     const kefu_learn_opts *lo, uint32_t folds, float *raw)
{
    kefu_learn_opts quiet = *lo;
    uint32_t *seen = kefu_zalloc(&im->mem, (size_t)im->n * sizeof *seen);
    uint8_t *fold = kefu_alloc_array(&im->mem, all->n ? all->n : 1, sizeof *fold);
    int rc = seen && fold ? KEFU_OK : KEFU_E_NOMEM;
    quiet.progress = NULL;
    for (size_t i = 0; i < all->n && !rc; i++)
        fold[i] = (uint8_t)(seen[all->lab[all->lab_off[i]]]++ % folds);
    for (uint32_t k = 0; k < folds && !rc; k++) {
        kefu_dataset fit;
        memset(&fit, 0, sizeof fit);
        for (size_t i = 0; i < all->n && !rc; i++)
            if (fold[i] != k)
                rc = kefu_dataset_add(&fit, all->idx + all->off[i],
                                      all->val + all->off[i],
                                      all->off[i + 1] - all->off[i],
                                      all->lab + all->lab_off[i],
                                      all->lab_off[i + 1] - all->lab_off[i], &im->mem);
        if (!rc)
            rc = kefu_learn(&im->lin, im->dict.n + im->nextra, im->n, &fit, NULL,
                            &quiet, &im->mem);
        if (!rc)
            rc = kefu_linear_quantize(&im->lin, &im->mem);
        if (!rc)
            kefu_linear_score_rows(&im->lin, all, fold, (uint8_t)k, raw);
        kefu_linear_release(&im->lin, &im->mem);
        kefu_dataset_release(&fit, &im->mem);
    }
    kefu_dealloc(&im->mem, seen);
    kefu_dealloc(&im->mem, fold);
    return rc;
}

/*
 * Scores of the tuning data under a model that did not train on them: the
 * validation examples under a model trained on tr, or, without them, tr
 * itself cross-fitted.  One row of im->n raw scores per tuning example.
 */
static int tuning_scores(struct kefu_intent_model *im, const kefu_intent_builder *b,
                         const kefu_dataset *tr, const kefu_dataset *va,
                         const kefu_learn_opts *lo, float *raw)
{
    kefu_learn_opts quiet = *lo;
    int rc;
    if (!va)
        return cross_fit(im, tr, lo, b->cfg.folds, raw);
    quiet.progress = NULL;
    rc = kefu_learn(&im->lin, im->dict.n + im->nextra, im->n, tr, NULL, &quiet,
                    &im->mem);
    if (!rc)
        rc = kefu_linear_quantize(&im->lin, &im->mem);
    if (!rc)
        kefu_linear_score_rows(&im->lin, va, NULL, 0, raw);
    kefu_linear_release(&im->lin, &im->mem);
    return rc;
}

/* SGD epochs that trained emotion labels choose from on their tuning data
 * when none are given: fewer passes regularise (doc/intents.md). */
static const uint32_t EPOCH_CHOICES[] = {3, 5, 10, 20};

/*
 * For trained emotion labels by SGD without given epochs: picks the epochs
 * of EPOCH_CHOICES whose tuning scores, tuned (tune()), have the best
 * macro-F1 (ties: fewer); sets lo->epochs, *t and off[] to that choice's.
 */
static int choose_epochs(struct kefu_intent_model *im, const kefu_intent_builder *b,
                         const kefu_dataset *tr, const kefu_dataset *va,
                         kefu_learn_opts *lo, float *raw, float *t, float *off)
{
    const kefu_dataset *tu = va ? va : tr;
    const size_t nchoice = sizeof EPOCH_CHOICES / sizeof EPOCH_CHOICES[0];
    uint32_t *cnt, best_epochs = 0;
    float *best_off, best_t = *t;
    double best = -1;
    int rc = KEFU_OK;
    cnt = kefu_alloc_array(&im->mem, (size_t)im->n * 3, sizeof *cnt);
    best_off = kefu_alloc_array(&im->mem, im->n, sizeof *best_off);
    if (!cnt || !best_off)
        rc = KEFU_E_NOMEM;
    for (size_t e = 0; e < nchoice && !rc; e++) {
        double f;
        float te = 1.0f;
        lo->epochs = EPOCH_CHOICES[e];
        if ((rc = tuning_scores(im, b, tr, va, lo, raw)) ||
            (rc = tune(im, b, lo->multilabel, tu, raw, &te, off)))
            break;
        f = macro_f1(im->n, lo->multilabel, tu, raw, off, cnt, cnt + im->n,
                     cnt + 2 * im->n);
        if (f > best + 1e-9) {
            best = f;
            best_epochs = lo->epochs;
            best_t = te;
            memcpy(best_off, off, im->n * sizeof *off);
        }
    }
    if (!rc) {
        lo->epochs = best_epochs;
        *t = best_t;
        memcpy(off, best_off, im->n * sizeof *off);
    }
    kefu_dealloc(&im->mem, cnt);
    kefu_dealloc(&im->mem, best_off);
    return rc;
}

static int train(struct kefu_intent_model *im, const struct kefu_model *m,
                 kefu_intent_builder *b, kefu_diag *diag)
{
    kefu_scratch *sc = NULL;
    kefu_dataset tr, va;
    kefu_learn_opts lo = b->cfg.learn;
    float temperature = 1.0f, *off = NULL, *raw = NULL;
    bool choose;
    int rc;
    if (lo.solver == KEFU_SOLVER_SVM && !b->cfg.epochs_set)
        lo.epochs = SVM_MAX_PASSES;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    for (size_t i = 0; i < b->nex; i++)
        if (b->ex[i].nlab > 1)
            lo.multilabel = 1;
    rc = kefu_scratch_new(&sc, m, &m->alloc);
    if (rc)
        return kefu_diag_msg(diag, rc, "out of memory");
    sc->text.max_bytes = (int64_t)1 << 30;
    rc = build_dict(im, sc, b->ex, b->nex, diag);
    if (!rc)
        rc = vectorise(im, sc, b->ex, b->nex, &tr);
    if (!rc && b->nval)
        rc = vectorise(im, sc, b->val, b->nval, &va);
    kefu_scratch_free(sc);
    if (rc) {
        kefu_dataset_release(&tr, &im->mem);
        kefu_dataset_release(&va, &im->mem);
        return diag && diag->status ? rc : kefu_diag_msg(diag, rc, "%s", kefu_strerror(rc));
    }
    /* tuning data: val, else the training examples cross-fitted; with
     * val (and epochs given), the final model is the one that is tuned */
    choose = im->kind == KEFU_CLF_EMOTION && lo.solver == KEFU_SOLVER_SOFTMAX &&
             !b->cfg.epochs_set;
    if (b->nval || b->nex >= CARVE_MIN) {
        raw = kefu_alloc_array(&im->mem, b->nval ? va.n : tr.n,
                               (size_t)im->n * sizeof *raw);
        off = kefu_alloc_array(&im->mem, im->n, sizeof *off);
        rc = raw && off ? KEFU_OK : KEFU_E_NOMEM;
        if (!rc && choose) {
            rc = choose_epochs(im, b, &tr, b->nval ? &va : NULL, &lo, raw,
                               &temperature, off);
        } else if (!rc && !b->nval) {
            rc = cross_fit(im, &tr, &lo, b->cfg.folds, raw);
            if (!rc)
                rc = tune(im, b, lo.multilabel, &tr, raw, &temperature, off);
        }
    }
    lo.progress = b->progress;
    lo.user = b->progress_user;
    if (!rc)
        rc = kefu_learn(&im->lin, im->dict.n + im->nextra, im->n, &tr,
                        b->nval ? &va : NULL, &lo, &im->mem);
    if (!rc)
        rc = kefu_linear_quantize(&im->lin, &im->mem);
    if (!rc && b->nval && !choose) {
        kefu_linear_score_rows(&im->lin, &va, NULL, 0, raw);
        rc = tune(im, b, lo.multilabel, &va, raw, &temperature, off);
    }
    if (!rc && off) {
        im->lin.temperature = temperature;
        for (uint32_t c = 0; c < im->n; c++)
            im->lin.b[c] += off[c];
    } else if (!rc && lo.solver == KEFU_SOLVER_SVM && !lo.multilabel) {
        /* too few examples to hold any out: SVM scores put the margin of
         * one at about 1 (calibrated temperatures on the benchmark data
         * are 0.08-0.18) */
        im->lin.temperature = SVM_DEFAULT_TEMPERATURE;
    }
    kefu_dealloc(&im->mem, raw);
    kefu_dealloc(&im->mem, off);
    im->trained_examples = (uint32_t)b->nex;
    kefu_dataset_release(&tr, &im->mem);
    kefu_dataset_release(&va, &im->mem);
    if (rc)
        return kefu_diag_msg(diag, rc, "training failed: %s", kefu_strerror(rc));
    return KEFU_OK;
}

/* ---- binary form of the trained part ---- */

/* 5: flags byte (bit 0: word pairs, bit 1: sublinear tf) in the kind
 * word, then the sub-word block weight and the least idf of a word that
 * pairs; sub-word hashes odd.  6: the kind word's top six bits say how many
 * of a message's first words pair (5 paired KEFU_PAIR_WORDS; still read).
 * Older sections hash features differently and are refused: such models
 * must be trained again. */
#define INTENT_BLOB_VERSION 6

static int put(kefu_buf *o, const kefu_mem *mem, const void *p, size_t n)
{
    return kefu_buf_append(mem, o, p, n);
}

static int put32(kefu_buf *o, const kefu_mem *mem, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    return put(o, mem, b, 4);
}

static int putf(kefu_buf *o, const kefu_mem *mem, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    return put32(o, mem, v);
}

static int put64(kefu_buf *o, const kefu_mem *mem, uint64_t v)
{
    return put32(o, mem, (uint32_t)v) || put32(o, mem, (uint32_t)(v >> 32));
}

int kefu_intent_serialize(const struct kefu_intent_model *im, kefu_buf *o,
                          const kefu_mem *mem)
{
    const kefu_classifier_cfg *c = &im->cfg;
    int rc = put32(o, mem, INTENT_BLOB_VERSION) ||
             put32(o, mem, im->kind | im->nextra << 8 |
                               (uint32_t)im->lin.multilabel << 16 |
                               (uint32_t)(c->feat.word_pairs ? 1 : 0) << 24 |
                               (uint32_t)(c->feat.sublinear ? 1 : 0) << 25 |
                               (uint32_t)c->feat.word_pairs << 26) ||
             put32(o, mem, im->n) ||
             put32(o, mem, (uint32_t)im->oos_class) ||
             put32(o, mem, (uint32_t)c->feat.word_ngrams |
                               (uint32_t)c->feat.cjk_max << 8 |
                               (uint32_t)c->feat.sub_min << 16 |
                               (uint32_t)c->feat.sub_max << 24) ||
             putf(o, mem, c->threshold) || putf(o, mem, c->margin) ||
             putf(o, mem, im->lin.temperature) ||
             put32(o, mem, im->dict.n) || put32(o, mem, im->trained_examples) ||
             putf(o, mem, c->feat.sub_weight) ||
             putf(o, mem, c->feat.pair_min_idf);
    for (uint32_t i = 0; !rc && i < im->n; i++) {
        uint32_t len = (uint32_t)strlen(im->info[i].name);
        rc = put32(o, mem, len) || put(o, mem, im->info[i].name, len);
    }
    /* features in dense-index order: hash and idf */
    if (!rc) {
        uint64_t *by_index = kefu_alloc_array(mem, im->dict.n ? im->dict.n : 1,
                                              sizeof *by_index);
        if (!by_index)
            return KEFU_E_NOMEM;
        for (size_t j = 0; im->dict.n && j <= im->dict.mask; j++)
            if (im->dict.slot[j].key)
                by_index[im->dict.slot[j].index] = im->dict.slot[j].key;
        for (uint32_t j = 0; !rc && j < im->dict.n; j++)
            rc = put64(o, mem, by_index[j]) || putf(o, mem, im->dict.idf[j]);
        kefu_dealloc(mem, by_index);
    }
    for (uint32_t c2 = 0; !rc && c2 < im->n; c2++)
        rc = putf(o, mem, im->lin.b[c2]);
    for (uint32_t j = 0; !rc && j < im->lin.nfeat; j++)
        rc = putf(o, mem, im->lin.scale[j]);
    /* rows as they are in memory, padded to the stride, so a loaded model
     * can score straight from the file's bytes */
    if (!rc)
        rc = put(o, mem, im->lin.q, (size_t)im->lin.nfeat * im->lin.stride);
    return rc ? KEFU_E_NOMEM : KEFU_OK;
}

typedef struct reader {
    const unsigned char *p;
    size_t left;
    bool bad;
} reader;

static uint32_t get32(reader *r)
{
    uint32_t v;
    if (r->left < 4) {
        r->bad = true;
        return 0;
    }
    v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
        (uint32_t)r->p[3] << 24;
    r->p += 4;
    r->left -= 4;
    return v;
}

static float getf(reader *r)
{
    uint32_t v = get32(r);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static int restore(struct kefu_intent_model *im, struct kefu_model *m,
                   kefu_intent_builder *b, kefu_diag *diag)
{
    reader r = {b->trained, b->trained_len, false};
    uint32_t ver = get32(&r), kind = get32(&r), n = get32(&r), oos = get32(&r),
             feat = get32(&r), pair_words;
    uint32_t nfeat, nw;
    uint64_t *hashes = NULL;
    float *idf = NULL;
    uint8_t *taken;
    int rc = KEFU_OK;
    im->cfg.threshold = getf(&r);
    im->cfg.margin = getf(&r);
    im->lin.temperature = getf(&r);
    nfeat = get32(&r);
    im->trained_examples = get32(&r);
    im->nextra = (kind >> 8) & 0xFF;
    im->lin.multilabel = (uint8_t)((kind >> 16) & 1);
    im->cfg.feat.sub_weight = getf(&r);
    im->cfg.feat.pair_min_idf = getf(&r);
    if (!r.bad && ver != INTENT_BLOB_VERSION && ver != 5)
        return kefu_diag_msg(diag, KEFU_E_VERSION,
                             "binary model: intent section version %u, this "
                             "kefu reads 5 and %u (train the model again)",
                             ver, INTENT_BLOB_VERSION);
    /* version 5 paired the first KEFU_PAIR_WORDS words; 6 says how many */
    pair_words = ver == 5 ? (kind >> 24 & 1) * KEFU_PAIR_WORDS : kind >> 26;
    if (r.bad || (kind & 0xFF) != im->kind || (kind >> 17 & 0x7F) != 0 ||
        (ver == 5 && (kind >> 26) != 0) || pair_words > KEFU_PAIR_WORDS ||
        (pair_words != 0) != (kind >> 24 & 1) ||
        !(im->cfg.feat.sub_weight >= 0 && im->cfg.feat.sub_weight <= 100) ||
        !isfinite(im->cfg.feat.pair_min_idf) ||
        (im->kind == KEFU_CLF_INTENT ? im->nextra != 0 : im->nextra != KEFU_CLF_EXTRA) ||
        n == 0 || n > 100000 ||
        (oos != UINT32_MAX && oos >= n) ||
        (uint64_t)nfeat * n > r.left || !isfinite(im->cfg.threshold) ||
        !(im->lin.temperature > 0))
        return kefu_diag_msg(diag, KEFU_E_CORRUPT,
                             "binary model: bad intent section header");
    im->cfg.feat.word_pairs = (uint8_t)pair_words;
    im->cfg.feat.sublinear = (uint8_t)(kind >> 25 & 1);
    im->cfg.feat.word_ngrams = (uint8_t)feat;
    im->cfg.feat.cjk_max = (uint8_t)(feat >> 8);
    im->cfg.feat.sub_min = (uint8_t)(feat >> 16);
    im->cfg.feat.sub_max = (uint8_t)(feat >> 24);
    im->oos_class = (int32_t)oos;
    /* class names: match them to the intents the YAML declared */
    im->info = kefu_alloc_array(&im->mem, n, sizeof *im->info);
    if (!im->info)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    im->n = n;
    taken = kefu_zalloc(&im->mem, (size_t)b->n + n);
    if (!taken)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = get32(&r);
        int32_t j;
        if (r.bad || len == 0 || len > r.left) {
            kefu_dealloc(&im->mem, taken);
            return kefu_diag_msg(diag, KEFU_E_CORRUPT,
                                 "binary model: bad intent name");
        }
        j = intent_index(m, b, (const char *)r.p, len);
        if (j < 0) {
            kefu_dealloc(&im->mem, taken);
            return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
        }
        /* move the declared info over */
        if (taken[j]) {
            kefu_dealloc(&im->mem, taken);
            return kefu_diag_msg(diag, KEFU_E_CORRUPT,
                                 "binary model: duplicate intent name");
        }
        taken[j] = 1;
        im->info[i] = b->info[j];
        memset(&b->info[j], 0, sizeof b->info[j]);
        /* the builder keeps the name so patterns can be mapped by it */
        b->info[j].name = kefu_strdup(&m->mem, im->info[i].name);
        if (!b->info[j].name) {
            kefu_dealloc(&im->mem, taken);
            return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
        }
        r.p += len;
        r.left -= len;
    }
    kefu_dealloc(&im->mem, taken);
    hashes = kefu_alloc_array(&im->mem, nfeat ? nfeat : 1, sizeof *hashes);
    idf = kefu_alloc_array(&im->mem, nfeat ? nfeat : 1, sizeof *idf);
    if (!hashes || !idf) {
        kefu_dealloc(&im->mem, hashes);
        kefu_dealloc(&im->mem, idf);
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    }
    if ((size_t)nfeat * 12 > r.left) {
        kefu_dealloc(&im->mem, hashes);
        kefu_dealloc(&im->mem, idf);
        return kefu_diag_msg(diag, KEFU_E_CORRUPT, "binary model: truncated features");
    }
    for (uint32_t j = 0; j < nfeat; j++) {
        uint64_t lo = get32(&r), hi = get32(&r);
        hashes[j] = lo | hi << 32;
        idf[j] = getf(&r);
    }
    rc = kefu_featdict_build(&im->dict, hashes, idf, nfeat, &im->mem);
    kefu_dealloc(&im->mem, hashes);
    kefu_dealloc(&im->mem, idf);
    if (rc)
        return kefu_diag_msg(diag, rc, "out of memory");
    nw = nfeat + im->nextra;   /* weight rows: dictionary, then extras */
    im->lin.nfeat = nw;
    im->lin.ncls = n;
    im->lin.stride = kefu_lanes(n);
    if (r.left != ((size_t)nw + n) * 4 + (size_t)nw * im->lin.stride)
        return kefu_diag_msg(diag, KEFU_E_CORRUPT,
                             "binary model: weight section has %zu bytes, "
                             "expected %zu", r.left,
                             ((size_t)nw + n) * 4 + (size_t)nw * im->lin.stride);
    im->lin.b = kefu_alloc_array(&im->mem, n, sizeof *im->lin.b);
    im->lin.scale = kefu_alloc_array(&im->mem, nw ? nw : 1, sizeof *im->lin.scale);
    if (!im->lin.b || !im->lin.scale)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    for (uint32_t c = 0; c < n; c++)
        if (!isfinite(im->lin.b[c] = getf(&r)))
            return kefu_diag_msg(diag, KEFU_E_CORRUPT,
                                 "binary model: non-finite weight");
    for (uint32_t j = 0; j < nw; j++)
        if (!isfinite(im->lin.scale[j] = getf(&r)))
            return kefu_diag_msg(diag, KEFU_E_CORRUPT,
                                 "binary model: non-finite weight");
    /* the 8-bit rows are used where they lie in the model file's buffer,
     * which the model keeps: no copy, no fresh pages */
    im->lin.q = (int8_t *)(uintptr_t)r.p;
    im->lin.q_borrowed = 1;
    return KEFU_OK;
}

/* ---- finish / release ---- */

static void model_release(const kefu_mem *mem, struct kefu_intent_model *im)
{
    for (uint32_t i = 0; i < im->n; i++)
        info_release(mem, &im->info[i]);
    kefu_dealloc(mem, im->info);
    kefu_featdict_release(&im->dict, mem);
    kefu_linear_release(&im->lin, mem);
    kefu_prefilter_set_free(mem, im->pfset);
    for (uint32_t i = 0; i < im->npatterns; i++)
        pattern_release(mem, &im->patterns[i]);
    kefu_dealloc(mem, im->patterns);
    kefu_dealloc(mem, im);
}

void kefu_intent_release(struct kefu_model *m)
{
    builder_free(m, KEFU_CLF_INTENT);
    section_free(m);
    if (m->intent)
        model_release(&m->mem, m->intent);
    m->intent = NULL;
}

void kefu_emoclf_release(struct kefu_model *m)
{
    builder_free(m, KEFU_CLF_EMOTION);
    section_free(m);
    if (m->emotion_clf)
        model_release(&m->mem, m->emotion_clf);
    m->emotion_clf = NULL;
}

/* The patterns' prefilters as one set (im->pfset stays NULL when no
 * pattern has a filter). */
static int pattern_set(struct kefu_intent_model *im, kefu_diag *diag)
{
    const kefu_prefilter **fs =
        kefu_alloc_array(&im->mem, im->npatterns, sizeof *fs);
    int rc;
    if (!fs)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    for (uint32_t p = 0; p < im->npatterns; p++)
        fs[p] = im->patterns[p].pf;
    rc = kefu_prefilter_set_build(&im->pfset, &im->mem, fs, im->npatterns);
    kefu_dealloc(&im->mem, fs);
    return rc ? kefu_diag_msg(diag, rc, "out of memory") : KEFU_OK;
}

static int clf_finish(struct kefu_model *m, kefu_diag *diag, uint32_t kind,
                      struct kefu_intent_model **dst)
{
    kefu_intent_builder *b = m->building[build_slot(kind)];
    struct kefu_intent_model *im;
    int rc = KEFU_OK;
    if (!b)
        return KEFU_OK; /* a model without this classifier */
    im = kefu_zalloc(&m->mem, sizeof *im);
    if (!im)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    im->mem = m->mem;
    im->cfg = b->cfg;
    im->kind = kind;
    im->nextra = kind == KEFU_CLF_EMOTION ? KEFU_CLF_EXTRA : 0;
    im->oos_class = -1;
    if (b->trained) {
        rc = restore(im, m, b, diag);
    } else {
        if (!b->nex) {
            model_release(&m->mem, im);
            return kefu_diag_msg(diag, KEFU_E_EMPTY,
                                 "intents are declared but there are no examples to train on");
        }
        for (uint32_t i = 0; i < b->n; i++) {
            bool has = false;
            for (size_t j = 0; j < b->nex && !has; j++)
                has = b->ex[j].label == i;
            for (size_t j = 0; j < b->nex && !has; j++)
                for (uint32_t k = 1; k < b->ex[j].nlab && !has; k++)
                    has = b->ex[j].lab[k] == i;
            if (!has) {
                model_release(&m->mem, im);
                return kefu_diag_msg(diag, KEFU_E_MODEL,
                                     "%s '%s' has no examples",
                                     kind == KEFU_CLF_INTENT ? "intent" : "label",
                                     b->info[i].name);
            }
            if (!strcmp(b->info[i].name, OOS_LABEL) && kind == KEFU_CLF_INTENT)
                im->oos_class = (int32_t)i;
        }
        /* the classes are the builder's intents, in declaration order */
        im->info = b->info;
        im->n = b->n;
        b->info = NULL;
        b->n = b->cap = 0;
        rc = train(im, m, b, diag);
    }
    if (!rc && b->trained) {
        /* patterns refer to builder indices; map them to class indices */
        for (uint32_t p = 0; !rc && p < b->npatterns; p++) {
            const char *name = b->info[b->patterns[p].intent].name;
            uint32_t c = 0;
            while (c < im->n && strcmp(im->info[c].name, name))
                c++;
            if (c == im->n)
                rc = kefu_diag_msg(diag, KEFU_E_MODEL,
                                   "pattern for intent '%s', which the trained "
                                   "model does not know", name);
            else
                b->patterns[p].intent = c;
        }
    }
    if (!rc && b->npatterns) {
        im->patterns = b->patterns;
        im->npatterns = b->npatterns;
        b->patterns = NULL;
        b->npatterns = b->cap_patterns = 0;
        rc = pattern_set(im, diag);
    }
    for (uint32_t i = 0; !rc && i < im->n; i++) {
        struct kefu_intent_info *in = &im->info[i];
        if (!in->nslots)
            continue;
        in->slot_entity = kefu_alloc_array(&m->mem, in->nslots, sizeof *in->slot_entity);
        if (!in->slot_entity) {
            rc = kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
            break;
        }
        for (uint32_t j = 0; j < in->nslots; j++) {
            in->slot_entity[j] = kefu_entity_find(m->entities, in->slots[j]);
            if (in->slot_entity[j] < 0)
                rc = kefu_diag_msg(diag, KEFU_E_UNKNOWN,
                                   "intent '%s' requires slot '%s', which no "
                                   "entity defines", in->name, in->slots[j]);
        }
    }
    if (rc) {
        model_release(&m->mem, im);
        builder_free(m, kind);
        return rc;
    }
    *dst = im;
    builder_free(m, kind);
    return KEFU_OK;
}

int kefu_intent_finish(struct kefu_model *m, kefu_diag *diag)
{
    if (m->building[KEFU_BUILD_CLFCFG] && !m->building[KEFU_BUILD_INTENT] &&
        !m->building[KEFU_BUILD_EMOCLF])
        return kefu_diag_msg(diag, KEFU_E_EMPTY,
                             "a classifier section, but no intents or emotion "
                             "labels to train");
    return clf_finish(m, diag, KEFU_CLF_INTENT, &m->intent);
}

int kefu_emoclf_finish(struct kefu_model *m, kefu_diag *diag)
{
    int rc = clf_finish(m, diag, KEFU_CLF_EMOTION, &m->emotion_clf);
    section_free(m);   /* both classifiers have it now */
    return rc;
}

/* ---- classification ---- */

void kefu_intent_scratch_free(const kefu_mem *mem,
                              struct kefu_intent_scratch *is)
{
    if (!is)
        return;
    kefu_hashes_release(&is->hashes, mem);
    kefu_sparse_release(&is->vec, mem);
    kefu_dealloc(mem, is->scores);
    kefu_dealloc(mem, is->order);
    kefu_dealloc(mem, is->missing);
    kefu_dealloc(mem, is->pf_first);
    kefu_buf_release(mem, &is->subject);
    pcre2_match_data_free(is->md);
    pcre2_match_context_free(is->mctx);
    kefu_dealloc(mem, is);
}

static struct kefu_intent_scratch *intent_scratch(kefu_scratch *s,
                                                  const struct kefu_intent_model *im)
{
    struct kefu_intent_scratch *is = s->intent;
    if (is)
        return is;
    is = kefu_zalloc(&s->mem, sizeof *is);
    if (!is)
        return NULL;
    is->ntop = DEFAULT_TOP;
    is->scores = kefu_alloc_array(&s->mem, im->n, sizeof *is->scores);
    is->order = kefu_alloc_array(&s->mem, im->n, sizeof *is->order);
    if (!is->scores || !is->order)
        goto fail;
    if (im->npatterns) {
        pcre2_general_context *g = kefu_pattern_gctx(&s->mem);
        if (!g)
            goto fail;
        is->md = pcre2_match_data_create(16, g);
        is->mctx = kefu_pattern_mctx(g);
        pcre2_general_context_free(g);
        if (!is->md || !is->mctx)
            goto fail;
        if (im->pfset &&
            !(is->pf_first = kefu_alloc_array(&s->mem, im->npatterns,
                                               sizeof *is->pf_first)))
            goto fail;
    }
    s->intent = is;
    return is;
fail:
    kefu_intent_scratch_free(&s->mem, is);
    return NULL;
}

/* The first k classes by descending score into order[0..k) (on a tie the
 * lower class first), in one pass: a class below the k-th so far costs one
 * comparison. */
static void top_k(const float *p, uint32_t *order, uint32_t n, uint32_t k)
{
    uint32_t m = 0;   /* filled */
    if (k > n)
        k = n;
    if (!k)
        return;
    for (uint32_t c = 0; c < n; c++) {
        uint32_t j;
        if (m == k && !(p[c] > p[order[k - 1]]))
            continue;
        j = m < k ? m++ : k - 1;
        while (j > 0 && p[c] > p[order[j - 1]]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = c;
    }
}

KEFU_API int kefu_classify(kefu_scratch *s, const char *text, size_t len,
                           kefu_intent_result *out)
{
    const struct kefu_intent_model *im;
    struct kefu_intent_scratch *is;
    uint32_t top, second;
    float conf;
    int rc;

    if (!s || !out || out->size < sizeof(kefu_intent_result))
        return KEFU_E_ARG;
    im = s->model->intent;
    if (!im)
        return kefu_diag_msg(&s->diag, KEFU_E_STATE, "the model has no intents");
    if (!(is = intent_scratch(s, im)))
        return kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
    is->forced = -1;
    is->nmissing = 0;
    is->valid = 0;
    if ((rc = kefu_scratch_text(s, text, len)))
        return rc;
    if ((rc = kefu_features_extract(&im->cfg.feat, &im->dict, &s->text,
                                    &is->hashes, &s->mem)) ||
        (rc = kefu_sparse_from_hashes(&im->cfg.feat, &im->dict, &is->hashes, &is->vec, &s->mem)))
        return kefu_diag_msg(&s->diag, rc, "%s", kefu_strerror(rc));
    kefu_linear_scores(&im->lin, is->vec.idx, is->vec.val, is->vec.n, is->scores);

    /* hybrid rules: a boost adds to the score, a force decides */
    if (im->npatterns &&
        kefu_pattern_subject(&s->mem, &is->subject, s->text.norm.data,
                             s->text.norm.len))
        return kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
    /* one scan for the literals of every word-list pattern */
    if (im->pfset)
        kefu_prefilter_set_scan(im->pfset, is->subject.data, s->text.norm.len,
                                is->pf_first);
    for (uint32_t p = 0; p < im->npatterns; p++) {
        const struct kefu_intent_pattern *pt = &im->patterns[p];
        int m;
        /* the set found where each word list's literals start */
        if (im->pfset && is->pf_first[p] == KEFU_PREFILTER_NONE)
            continue;
        m = kefu_pattern_match(pt->code, NULL, is->subject.data,
                               s->text.norm.len,
                               im->pfset ? is->pf_first[p] : 0, is->md,
                               is->mctx);
        if (m < 0)
            return kefu_diag_msg(&s->diag, m, "intent pattern %u for '%s': %s",
                                 p, im->info[pt->intent].name,
                                 m == KEFU_E_LIMIT ? "match limit exceeded"
                                                   : kefu_strerror(m));
        if (m == 0)
            continue;
        if (pt->force && is->forced < 0)
            is->forced = (int32_t)p;
        else if (!pt->force)
            is->scores[pt->intent] += pt->weight * im->lin.temperature;
    }
    kefu_linear_probs(&im->lin, is->scores);
    if (is->forced >= 0) {
        /* the forced intent takes the top with certainty */
        uint32_t f = im->patterns[is->forced].intent;
        for (uint32_t c = 0; c < im->n; c++)
            is->scores[c] = c == f ? 1.0f : 0.0f;
    }
    top_k(is->scores, is->order, im->n, is->ntop > 2 ? is->ntop : 2);
    top = is->order[0];
    second = im->n > 1 ? is->order[1] : top;
    conf = is->scores[top];

    memset((char *)out + sizeof out->size, 0, sizeof *out - sizeof out->size);
    out->confidence = conf;
    out->margin = im->n > 1 ? conf - is->scores[second] : conf;
    out->pattern = is->forced;
    out->out_of_scope = is->forced < 0 &&
                        ((int32_t)top == im->oos_class || conf < im->cfg.threshold ||
                         out->margin < im->cfg.margin);
    if (out->out_of_scope) {
        out->intent = OOS_LABEL;
        out->intent_index = -1;
    } else {
        const struct kefu_intent_info *in = &im->info[top];
        out->intent = in->name;
        out->intent_index = (int32_t)top;
        if (in->nslots) {
            if ((rc = kefu_entity_run(s, text, len)))
                return rc;
            if (kefu_grow(&s->mem, (void **)&is->missing, &is->cap_missing,
                          in->nslots, sizeof *is->missing))
                return kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
            for (uint32_t j = 0; j < in->nslots; j++)
                if (!kefu_entity_found(s, in->slot_entity[j]))
                    is->missing[is->nmissing++] = j;
        }
    }
    out->missing_slots = is->nmissing;
    is->last_top = top;
    is->valid = 1;
    return KEFU_OK;
}

KEFU_API int kefu_classify_set_top(kefu_scratch *s, uint32_t k)
{
    const struct kefu_intent_model *im;
    struct kefu_intent_scratch *is;
    if (!s || k == 0 || k > 1000)
        return KEFU_E_ARG;
    im = s->model->intent;
    if (!im)
        return KEFU_E_STATE;
    if (!(is = intent_scratch(s, im)))
        return KEFU_E_NOMEM;
    is->ntop = k;
    is->valid = 0;
    return KEFU_OK;
}

KEFU_API size_t kefu_classify_top_count(const kefu_scratch *s)
{
    const struct kefu_intent_scratch *is = s ? s->intent : NULL;
    if (!is || !is->valid)
        return 0;
    return is->ntop < s->model->intent->n ? is->ntop : s->model->intent->n;
}

KEFU_API int kefu_classify_top(const kefu_scratch *s, size_t i,
                               const char **intent, float *confidence)
{
    if (i >= kefu_classify_top_count(s))
        return KEFU_E_ARG;
    if (intent)
        *intent = s->model->intent->info[s->intent->order[i]].name;
    if (confidence)
        *confidence = s->intent->scores[s->intent->order[i]];
    return KEFU_OK;
}

KEFU_API const char *kefu_classify_missing_slot(const kefu_scratch *s, size_t i)
{
    const struct kefu_intent_scratch *is = s ? s->intent : NULL;
    if (!is || !is->valid || i >= is->nmissing)
        return NULL;
    return s->model->intent->info[is->last_top].slots[is->missing[i]];
}

KEFU_API size_t kefu_model_intent_count(const kefu_model *m)
{
    return m && m->intent ? m->intent->n : 0;
}

KEFU_API int kefu_model_classifier_info(const kefu_model *m, uint32_t task,
                                        kefu_classifier_info *info)
{
    const struct kefu_intent_model *im;
    if (!m || !info || info->size < sizeof(kefu_classifier_info) ||
        (task != KEFU_TASK_INTENT && task != KEFU_TASK_EMOTION))
        return KEFU_E_ARG;
    im = task == KEFU_TASK_INTENT ? m->intent : m->emotion_clf;
    if (!im)
        return KEFU_E_STATE;
    memset((char *)info + sizeof info->size, 0, sizeof *info - sizeof info->size);
    info->classes = im->n;
    info->features = im->dict.n + im->nextra;
    info->examples = im->trained_examples;
    info->temperature = im->lin.temperature;
    info->oos_index = -1;
    if (task == KEFU_TASK_INTENT) {
        info->threshold = im->cfg.threshold;
        info->margin = im->cfg.margin;
        info->oos_index = im->oos_class;
    }
    return KEFU_OK;
}

KEFU_API const char *kefu_model_intent_name(const kefu_model *m, size_t i)
{
    return m && m->intent && i < m->intent->n ? m->intent->info[i].name : NULL;
}

KEFU_API const char *kefu_model_intent_skill(const kefu_model *m, size_t i,
                                             size_t j)
{
    if (!m || !m->intent || i >= m->intent->n || j >= m->intent->info[i].nskills)
        return NULL;
    return m->intent->info[i].skills[j];
}

/* ---- explain ---- */

KEFU_API size_t kefu_classify_explain(kefu_scratch *s, kefu_explain_item *items,
                                      size_t cap)
{
    const struct kefu_intent_model *im;
    struct kefu_intent_scratch *is;
    size_t n = 0;
    uint32_t cls;
    if (!s || !s->intent || !s->intent->valid || (!items && cap))
        return 0;
    im = s->model->intent;
    is = s->intent;
    cls = is->last_top;
    /* patterns first: they decide or shift the result */
    for (uint32_t p = 0; p < im->npatterns && n < cap; p++) {
        const struct kefu_intent_pattern *pt = &im->patterns[p];
        if (pt->intent != cls)
            continue;
        if (kefu_pattern_match(pt->code, pt->pf, is->subject.data,
                               s->text.norm.len, 0, is->md, is->mctx) != 1)
            continue;
        if (items[n].size < sizeof(kefu_explain_item))
            return n;
        items[n].kind = KEFU_EXPLAIN_PATTERN;
        items[n].text = pt->source;
        items[n].text_len = (uint32_t)strlen(pt->source);
        items[n].weight = pt->force ? INFINITY : pt->weight;
        n++;
    }
    /* then features by contribution to the chosen intent's score: the
     * vector the last classification scored (is->vec); the text shown is
     * the tokens each feature came from */
    {
        size_t start = n;
        for (size_t f = 0; f < is->vec.n && cap > start; f++) {
            uint32_t j = is->vec.idx[f], o, t0, t1;
            const kefu_tok *a, *z;
            float w;
            size_t pos;
            if (j >= im->dict.n || is->vec.from[f] >= is->hashes.n)
                continue;
            o = is->hashes.origin[is->vec.from[f]];
            t0 = o >> 8;
            t1 = t0 + (o & 0xFF);
            if (t1 > s->text.ntoks || t0 >= t1)
                continue;
            w = is->vec.val[f] * im->lin.scale[j] *
                (float)im->lin.q[(size_t)j * im->lin.stride + cls];
            /* keep the best (cap - start) by |weight|, insertion sorted */
            if (n == cap) {
                if (fabsf(w) <= fabsf(items[n - 1].weight))
                    continue;
                pos = n - 1;
            } else {
                if (items[n].size < sizeof(kefu_explain_item))
                    return n;
                pos = n++;
            }
            while (pos > start && fabsf(items[pos - 1].weight) < fabsf(w)) {
                uint32_t sz = items[pos].size;
                items[pos] = items[pos - 1];
                items[pos].size = sz;
                pos--;
            }
            a = &s->text.toks[t0];
            z = &s->text.toks[t1 - 1];
            items[pos].kind = KEFU_EXPLAIN_FEATURE;
            items[pos].weight = w;
            items[pos].text = s->text.norm.data + a->norm_off;
            items[pos].text_len = z->norm_off + z->norm_len - a->norm_off;
        }
    }
    return n;
}

/* ---- trained emotion labels ---- */

void kefu_emoclf_scratch_free(const kefu_mem *mem, struct kefu_emoclf_scratch *es)
{
    if (!es)
        return;
    kefu_hashes_release(&es->hashes, mem);
    kefu_sparse_release(&es->vec, mem);
    kefu_dealloc(mem, es->scores);
    kefu_dealloc(mem, es->labels);
    kefu_dealloc(mem, es);
}

KEFU_API size_t kefu_model_emotion_label_count(const kefu_model *m)
{
    return m && m->emotion_clf ? m->emotion_clf->n : 0;
}

KEFU_API const char *kefu_model_emotion_label_name(const kefu_model *m, size_t i)
{
    return m && m->emotion_clf && i < m->emotion_clf->n
               ? m->emotion_clf->info[i].name
               : NULL;
}

KEFU_API int kefu_emotion_classify(kefu_scratch *s, const char *text,
                                   size_t len, float *probs, size_t nprobs)
{
    const struct kefu_intent_model *im;
    struct kefu_emoclf_scratch *es;
    float extra[KEFU_CLF_EXTRA];
    uint32_t best = 0;
    int rc;
    if (!s || (!probs && nprobs))
        return KEFU_E_ARG;
    im = s->model->emotion_clf;
    if (!im)
        return kefu_diag_msg(&s->diag, KEFU_E_STATE,
                             "the model has no trained emotion labels");
    if (!(es = s->emoclf)) {
        es = kefu_zalloc(&s->mem, sizeof *es);
        if (!es || !(es->scores = kefu_alloc_array(&s->mem, im->n, sizeof *es->scores)) ||
            !(es->labels = kefu_alloc_array(&s->mem, im->n, sizeof *es->labels))) {
            kefu_emoclf_scratch_free(&s->mem, es);
            return kefu_diag_msg(&s->diag, KEFU_E_NOMEM, "out of memory");
        }
        s->emoclf = es;
    }
    es->valid = 0;
    if ((rc = featurize(im, s, text, len, &es->hashes, extra))) {
        if (!kefu_diag_status(&s->diag))
            kefu_diag_msg(&s->diag, rc, "%s", kefu_strerror(rc));
        return rc;
    }
    if ((rc = kefu_sparse_from_hashes(&im->cfg.feat, &im->dict, &es->hashes, &es->vec, &s->mem)) ||
        (rc = append_extra(im, &es->vec, extra, &s->mem)))
        return kefu_diag_msg(&s->diag, rc, "out of memory");
    kefu_linear_scores(&im->lin, es->vec.idx, es->vec.val, es->vec.n, es->scores);
    kefu_linear_probs(&im->lin, es->scores);
    es->nlabels = 0;
    for (uint32_t c = 0; c < im->n; c++) {
        if (es->scores[c] > es->scores[best])
            best = c;
        if (im->lin.multilabel && es->scores[c] >= 0.5f)
            es->labels[es->nlabels++] = c;
    }
    if (!es->nlabels)
        es->labels[es->nlabels++] = best;
    for (size_t c = 0; c < nprobs && c < im->n; c++)
        probs[c] = es->scores[c];
    es->valid = 1;
    return KEFU_OK;
}

KEFU_API size_t kefu_emotion_label_count(const kefu_scratch *s)
{
    return s && s->emoclf && s->emoclf->valid ? s->emoclf->nlabels : 0;
}

KEFU_API const char *kefu_emotion_label(const kefu_scratch *s, size_t i)
{
    if (i >= kefu_emotion_label_count(s))
        return NULL;
    return s->model->emotion_clf->info[s->emoclf->labels[i]].name;
}
