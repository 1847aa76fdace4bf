/*
 * model.h - the model object and the loader's section framework.
 *
 * A model file is a YAML mapping.  Each top-level key is handled by one
 * engine's section parser (see the table in model.c); unknown keys are
 * errors.  Parsing happens in two steps so that `include:` can spread a
 * section over several files: every section's `parse` is called for each
 * occurrence (it accumulates), then every engine's `finish` runs once
 * (compile patterns, train, index) in a fixed order.  Nothing in a model
 * changes after kefu_model_load returns.
 */
#ifndef KEFU_MODEL_H
#define KEFU_MODEL_H

#include "core.h"
#include "yaml_doc.h"

typedef struct kefu_load_ctx {
    const kefu_ydoc *doc;   /* document being parsed (for positions) */
    kefu_diag *diag;
    const char *base_dir;   /* for includes; NULL refuses them */
    int depth;              /* include depth */
} kefu_load_ctx;

/* Per-engine parts of a model.  Each engine defines its own struct in its
 * own header; the model only holds the pointers. */
struct kefu_intent_model;
struct kefu_entity_set;
struct kefu_redactor;
struct kefu_emotion_model;
struct kefu_ruleset;
struct kefu_floor;

struct kefu_model {
    kefu_mem mem;
    kefu_allocator alloc;     /* as given by the host (for sub-objects) */
    char *name;
    /* text stage settings shared by every engine */
    int64_t max_bytes;
    int t2s;
    struct kefu_intent_model *intent;
    struct kefu_entity_set *entities;
    struct kefu_redactor *redactor;
    struct kefu_emotion_model *emotion;
    struct kefu_ruleset *rules;
    struct kefu_floor *floor;
    /* engine builders live here while loading, then are dropped */
    void *building[8];
};

/* Slots of kefu_model.building, one per engine that accumulates. */
enum { KEFU_BUILD_INTENT, KEFU_BUILD_ENTITY, KEFU_BUILD_REDACT,
       KEFU_BUILD_EMOTION, KEFU_BUILD_RULES, KEFU_BUILD_FLOOR };

typedef int (*kefu_section_parse_fn)(struct kefu_model *m,
                                     const kefu_ynode *node,
                                     kefu_load_ctx *ctx);
typedef int (*kefu_section_finish_fn)(struct kefu_model *m, kefu_diag *diag);
typedef void (*kefu_section_free_fn)(struct kefu_model *m);

/* Initialises a text object with the model's text settings. */
void kefu_model_text_init(const struct kefu_model *m, kefu_text *t);

#endif
