/*
 * entity.h - entities and slots: named PCRE2 patterns, built-in kinds
 * (phone, amount, date, e-mail, order number) and lookup lists, matched on
 * the normalised text of a message, reported with spans in the original.
 * Builds on text and pattern; knows nothing of intents, rules or sessions.
 */
#ifndef KEFU_ENTITY_H
#define KEFU_ENTITY_H

#include "core.h"
#include "entity_value.h"
#include "model.h"
#include "pattern.h"
#include "prefilter.h"
#include "text.h"

enum kefu_entity_kind { KEFU_ENT_REGEX = 1, KEFU_ENT_VALUES = 2 };

/* One lookup-list spelling: its normalised form and the canonical value. */
struct kefu_entity_value {
    char *norm;
    uint32_t norm_len;
    uint32_t canon;        /* index into kefu_entity_def.canon */
    bool word_start;       /* starts / ends with a Latin letter or digit: */
    bool word_end;         /* needs a word boundary there */
};

struct kefu_entity_def {
    char *name;
    int kind;                   /* kefu_entity_kind */
    int norm;                   /* kefu_entity_norm */
    int check;                  /* kefu_entity_check of a built-in */
    char *builtin;              /* built-in kind name, or NULL */
    char *source;               /* the regex as compiled (for saving) */
    pcre2_code *code;
    kefu_prefilter *pf;         /* literal prefilter of code, or NULL */
    kefu_pattern_need need;     /* a built-in's necessary condition */
    uint32_t value_groups[8];   /* groups named "value"; none: whole match */
    uint32_t nvalue_groups;
    char **canon;               /* lookup list: canonical values */
    size_t ncanon;
    struct kefu_entity_value *values; /* sorted by spelling (bytes) */
    size_t nvalues;
    /* values[first[i].lo .. first[i].hi) start with code point first[i].cp;
     * sorted by cp, so a message position finds its candidates by binary
     * search whatever the size of the list */
    struct kefu_entity_first {
        uint32_t cp, lo, hi;
    } *first;
    size_t nfirst;
    int16_t ascii_first[128];   /* index into first for an ASCII code
                                 * point, or -1 (no binary search) */
};

struct kefu_entity_set {
    kefu_mem mem;
    pcre2_general_context *gctx;
    struct kefu_entity_def *defs;
    size_t n, cap;
    uint32_t max_groups;
    bool finished;
};

/* One extracted entity.  Values live in the scratch's value buffer. */
struct kefu_entity_hit {
    uint32_t entity;                 /* index into the set's defs */
    uint32_t value_off, value_len;   /* in kefu_entity_scratch.values */
    uint32_t cp_start, cp_end;       /* normalised code points */
    uint32_t byte_start, byte_end;   /* original text */
    uint32_t char_start, char_end;
};

struct kefu_entity_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    struct kefu_entity_hit *hits;
    size_t n, cap;
    kefu_buf values;
    kefu_buf subject;      /* normalised text, padded for the JIT */
};

/* Section parser for `entities:` and the engine steps (model.c tables). */
int kefu_entity_parse_section(struct kefu_model *m, const kefu_ynode *n,
                              kefu_load_ctx *ctx);
int kefu_entity_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_entity_release(struct kefu_model *m);

/* Index of the entity called `name`, or -1 (also when set is NULL). */
int kefu_entity_find(const struct kefu_entity_set *set, const char *name);

/*
 * Extracts entities from the message already run through the scratch's
 * text stage (kefu_scratch_text); `text`/`len` is that same original
 * message.  Results replace the previous ones in s->entity; on error the
 * results are empty and s->diag says why (KEFU_E_LIMIT for a pattern that
 * hit its match limit).
 */
int kefu_entity_run(kefu_scratch *s, const char *text, size_t len);

/* Is entity `index` among the last results?  (For required slots.) */
bool kefu_entity_found(const kefu_scratch *s, int index);

void kefu_entity_scratch_free(const kefu_mem *mem,
                              struct kefu_entity_scratch *es);

#endif
