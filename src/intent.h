/*
 * intent.h - intent classification: the `intents:` and `classifier:`
 * sections, training on load (or weights from a binary model), hybrid
 * pattern rules, out-of-scope decisions, top-k, explain.
 * Builds on text, featurize, learner, pattern and entity.
 */
#ifndef KEFU_INTENT_H
#define KEFU_INTENT_H

#include "core.h"
#include "featurize.h"
#include "learner.h"
#include "model.h"
#include "pattern.h"
#include "prefilter.h"

struct kefu_intent_info {
    char *name;
    char *description;
    char **skills;
    uint32_t nskills;
    char **slots;
    int32_t *slot_entity;  /* entity index of each slot, -1 if undefined */
    uint32_t nslots;
};

struct kefu_intent_pattern {
    pcre2_code *code;
    kefu_prefilter *pf;    /* literal prefilter on the folded text, or NULL */
    uint32_t intent;
    uint8_t force;
    float weight;          /* boost: added to the intent's score */
    char *source;
};

/* Training options and decision thresholds (`classifier:` section). */
typedef struct kefu_classifier_cfg {
    kefu_learn_opts learn;
    kefu_featcfg feat;
    float threshold;       /* out of scope below this confidence */
    float margin;          /* ... or below this margin to the runner-up */
    uint8_t threshold_set, margin_set;
    uint8_t epochs_set;    /* epochs given (YAML or caller): not chosen */
    uint32_t min_df;       /* drop features seen in fewer examples */
    float pair_max_df;     /* words in a larger share of examples do not
                            * form word pairs */
    uint8_t folds;         /* without validation data: cross-fitting folds
                            * of the training data that tune (2..10) */
} kefu_classifier_cfg;

/* What a classifier predicts: intents, or the labels of trained emotion
 * data (whose features add the emotion lexicon's scores to the n-grams). */
enum { KEFU_CLF_INTENT = 0, KEFU_CLF_EMOTION = 1 };
#define KEFU_CLF_MAX_LABELS 4   /* labels of one multi-label example */
/* Ranges of the learner's settings, in the YAML and in kefu_train_options */
#define KEFU_EPOCHS_MAX 1000
#define KEFU_LR_MIN 1e-6
#define KEFU_LR_MAX 100
#define KEFU_CLF_EXTRA 16       /* lexicon features of the emotion kind */

struct kefu_intent_model {
    kefu_mem mem;
    uint32_t kind;                      /* KEFU_CLF_* */
    uint32_t nextra;                    /* dense features after the dict */
    uint32_t n;                         /* classes (incl. oos if trained) */
    struct kefu_intent_info *info;
    int32_t oos_class;                  /* -1 when no oos examples */
    kefu_classifier_cfg cfg;
    kefu_featdict dict;
    kefu_linear lin;
    struct kefu_intent_pattern *patterns;
    uint32_t npatterns;
    kefu_prefilter_set *pfset;  /* the patterns' prefilters, one scan */
    pcre2_general_context *gctx;
    /* training report (for kefu train / benchmarks) */
    uint32_t trained_examples;
};

/* Per-thread working area. */
struct kefu_intent_scratch {
    kefu_hashes hashes;
    kefu_sparse vec;
    float *scores;
    uint32_t *order;       /* classes by descending probability */
    uint32_t ntop;         /* top-k kept for the caller */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    kefu_buf subject;      /* normalised text, zero-padded for the JIT */
    size_t *pf_first;      /* per pattern: where PCRE2 starts, or none */
    /* last result */
    int32_t forced;        /* pattern index that forced the intent, or -1 */
    uint32_t *missing;     /* indices into the intent's slots */
    size_t nmissing, cap_missing;
    uint32_t last_top;     /* class chosen by the last classification */
    uint8_t valid;         /* the fields above describe the last message */
};

/* A labelled example before training. */
typedef struct kefu_example {
    uint32_t label;                     /* = lab[0] */
    uint32_t nlab;
    uint32_t lab[KEFU_CLF_MAX_LABELS];
    char *text;
    uint32_t len;
} kefu_example;

/* What the loader accumulates before `finish`. */
typedef struct kefu_intent_builder {
    uint32_t kind;                 /* KEFU_CLF_* */
    struct kefu_intent_info *info;
    uint32_t n, cap;
    kefu_example *ex;
    size_t nex, cap_ex;
    kefu_example *val;             /* optional validation examples */
    size_t nval, cap_val;
    struct kefu_intent_pattern *patterns;
    uint32_t npatterns, cap_patterns;
    kefu_classifier_cfg cfg;
    /* weights from a binary model (skip training) */
    const unsigned char *trained;
    size_t trained_len;
    void (*progress)(const kefu_learn_progress *p, void *user);
    void *progress_user;
} kefu_intent_builder;

int kefu_intent_parse_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx);
int kefu_classifier_parse_section(struct kefu_model *m, const kefu_ynode *n,
                                  kefu_load_ctx *ctx);
int kefu_intent_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_intent_release(struct kefu_model *m);

/* The builder of a model being loaded (created on first use). */
kefu_intent_builder *kefu_intent_builder_get(struct kefu_model *m);
kefu_intent_builder *kefu_clf_builder_get(struct kefu_model *m, uint32_t kind);
/* Adds an example for intent `label` (created if new); for the emotion
 * kind `label` may join several labels with commas. */
int kefu_clf_add_example(struct kefu_model *m, uint32_t kind,
                         const char *label, size_t label_len,
                         const char *text, size_t len, bool validation);
int kefu_intent_add_example(struct kefu_model *m, const char *label,
                            size_t label_len, const char *text, size_t len,
                            bool validation);
/* The trained emotion classifier's engine steps (model.c table). */
int kefu_emoclf_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_emoclf_release(struct kefu_model *m);

/* Serialises the trained part (dictionary, weights, thresholds) to `out`,
 * and reads it back (kefu_intent_finish uses the builder's `trained`). */
int kefu_intent_serialize(const struct kefu_intent_model *im, kefu_buf *out,
                          const kefu_mem *mem);

void kefu_intent_scratch_free(const kefu_mem *mem,
                              struct kefu_intent_scratch *is);

/* Per-thread area of the trained emotion classifier (in kefu_scratch). */
struct kefu_emoclf_scratch {
    kefu_hashes hashes;
    kefu_sparse vec;
    float *scores;
    uint32_t *labels;      /* predicted labels of the last message */
    uint32_t nlabels;
    uint8_t valid;
};
void kefu_emoclf_scratch_free(const kefu_mem *mem, struct kefu_emoclf_scratch *es);

#endif
