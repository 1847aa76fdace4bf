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
    struct kefu_intent_model *emotion_clf;   /* trained emotion labels */
    struct kefu_ruleset *rules;
    struct kefu_floor *floor;
    /* engine builders live here while loading, then are dropped */
    void *building[8];
    /* every YAML file read, in order (the binary model stores them) */
    struct kefu_model_source *sources;
    size_t nsources, cap_sources;
    /* a binary model's bytes, kept: its weights are used in place */
    char *file_buf;
    /* when loading a binary model: includes are served from its sources */
    const struct kefu_model_source *vfs;
    size_t nvfs;
};

struct kefu_model_source {
    char *name;
    char *text;
    size_t len;
};

/* Steps of loading, for the loaders (YAML, training, binary models). */
struct kefu_model *kefu_model_begin(const kefu_allocator *alloc);
/* Reads one top-level YAML text (its includes too) into the model. */
int kefu_model_add_yaml(struct kefu_model *m, const char *data, size_t len,
                        const char *name, const char *base_dir,
                        kefu_diag *diag);
/* Runs every engine's finish step; the model is then complete. */
int kefu_model_end(struct kefu_model *m, kefu_diag *diag);
/* Reads a file into a buffer allocated from mem (diag names the file). */
int kefu_read_file(const kefu_mem *mem, const char *path, char **out,
                   size_t *len, kefu_diag *diag);
/* Directory part of a path ("." when none). */
void kefu_dir_of(const char *path, char *buf, size_t cap);

/* Binary model files (modelfile.c). */
#define KEFU_MODELFILE_MAGIC "KEFUMDL\x01"
bool kefu_modelfile_is(const char *data, size_t len);
/* Loads a binary model.  `*take`, when not NULL, is a buffer holding
 * `data` allocated with `alloc` that the model may keep (then *take is set
 * to NULL); otherwise the bytes are copied. */
int kefu_modelfile_load(kefu_model **out, const char *data, size_t len,
                        const char *name, const kefu_allocator *alloc,
                        kefu_diag *diag, char **take);

/* Slots of kefu_model.building, one per engine that accumulates. */
enum { KEFU_BUILD_INTENT, KEFU_BUILD_ENTITY, KEFU_BUILD_REDACT,
       KEFU_BUILD_EMOTION, KEFU_BUILD_RULES, KEFU_BUILD_FLOOR,
       KEFU_BUILD_EMOCLF, KEFU_BUILD_CLFCFG };

typedef int (*kefu_section_parse_fn)(struct kefu_model *m,
                                     const kefu_ynode *node,
                                     kefu_load_ctx *ctx);
typedef int (*kefu_section_finish_fn)(struct kefu_model *m, kefu_diag *diag);
typedef void (*kefu_section_free_fn)(struct kefu_model *m);

/* Initialises a text object with the model's text settings. */
void kefu_model_text_init(const struct kefu_model *m, kefu_text *t);

#endif
