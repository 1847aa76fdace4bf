/*
 * kefu.h - the public interface of kefu (客服), an embeddable library that
 * triages contact-center messages: intent, emotion, escalation rules and
 * skill-based routing.
 *
 * Conventions (doc/api.md has the long form):
 *  - Functions return a kefu status (0 = KEFU_OK, negative = error) unless
 *    they are plain accessors.  Out-parameters come first.
 *  - Text is passed as pointer + length in bytes and must be UTF-8.
 *  - Every *_new / *_load has a *_free that accepts NULL.
 *  - A kefu_model is immutable after loading and may be shared by any number
 *    of threads.  Everything else (text scratch, sessions, routers) belongs
 *    to one thread at a time.
 *  - Errors are described by a kefu_diag kept on the object that failed, or
 *    passed in by the caller to loaders that have no object yet.
 *  - The library never prints, never reads the clock or the environment and
 *    never aborts.
 */
#ifndef KEFU_H
#define KEFU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Version
 * ---------------------------------------------------------------------- */

#define KEFU_VERSION_MAJOR 0
#define KEFU_VERSION_MINOR 1
#define KEFU_VERSION_PATCH 0
/** MAJOR*10000 + MINOR*100 + PATCH */
#define KEFU_VERSION_NUMBER \
    (KEFU_VERSION_MAJOR * 10000 + KEFU_VERSION_MINOR * 100 + KEFU_VERSION_PATCH)
#define KEFU_STRINGIFY_(x) #x
#define KEFU_STRINGIFY(x) KEFU_STRINGIFY_(x)
#define KEFU_VERSION_STRING                                           \
    KEFU_STRINGIFY(KEFU_VERSION_MAJOR) "." KEFU_STRINGIFY(            \
        KEFU_VERSION_MINOR) "." KEFU_STRINGIFY(KEFU_VERSION_PATCH)

#if defined(_WIN32)
#  define KEFU_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#  define KEFU_API __attribute__((visibility("default")))
#else
#  define KEFU_API
#endif

/** Version of the library actually linked, e.g. "0.1.0". */
KEFU_API const char *kefu_version_string(void);
/** Version of the library actually linked, as KEFU_VERSION_NUMBER. */
KEFU_API uint32_t kefu_version_number(void);

/* ------------------------------------------------------------------------
 * Status codes.  The values are part of the ABI and never change.
 * ---------------------------------------------------------------------- */

typedef enum kefu_status {
    KEFU_OK = 0,
    KEFU_E_NOMEM = -1,     /**< an allocation failed */
    KEFU_E_ARG = -2,       /**< invalid argument (NULL, out of range) */
    KEFU_E_UTF8 = -3,      /**< text is not valid UTF-8 (diag: offset) */
    KEFU_E_TOO_LONG = -4,  /**< text longer than the configured maximum */
    KEFU_E_IO = -5,        /**< a file could not be read or written */
    KEFU_E_SYNTAX = -6,    /**< malformed YAML or expression (diag: position) */
    KEFU_E_MODEL = -7,     /**< well-formed but invalid model content */
    KEFU_E_CORRUPT = -8,   /**< a binary model, session or snapshot is damaged */
    KEFU_E_VERSION = -9,   /**< unsupported format version */
    KEFU_E_PATTERN = -10,  /**< a regular expression does not compile */
    KEFU_E_TYPE = -11,     /**< a rule expression is ill-typed */
    KEFU_E_UNKNOWN = -12,  /**< unknown key, fact, name or id */
    KEFU_E_LIMIT = -13,    /**< a resource limit was hit (match limit, size) */
    KEFU_E_STATE = -14,    /**< the call is not valid in the current state */
    KEFU_E_EXISTS = -15,   /**< the name or id is already in use */
    KEFU_E_BUFFER = -16,   /**< the caller's buffer is too small */
    KEFU_E_EMPTY = -17     /**< nothing to do: no data, no examples */
} kefu_status;

/** A static, English description of a status code; never NULL. */
KEFU_API const char *kefu_strerror(int status);

/* ------------------------------------------------------------------------
 * Allocation.  Pass NULL anywhere an allocator is accepted to use the C
 * library's malloc/realloc/free.  The allocator is copied; `user` must stay
 * valid for the life of the objects created with it.  PCRE2 allocates
 * through it as well; libyaml and utf8proc use plain malloc internally
 * (only while loading, never while classifying).
 * ---------------------------------------------------------------------- */

typedef struct kefu_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} kefu_allocator;

/* ------------------------------------------------------------------------
 * Diagnostics: what went wrong and where.  A kefu_diag is owned by whoever
 * created it (the caller for kefu_diag_new, the object for *_diag()).
 * Strings returned by accessors live until the next call that writes the
 * diagnostic or until it is freed.
 * ---------------------------------------------------------------------- */

typedef struct kefu_diag kefu_diag;

KEFU_API kefu_diag *kefu_diag_new(const kefu_allocator *alloc);
KEFU_API void kefu_diag_free(kefu_diag *diag);
/** Status code of the last failure, KEFU_OK when none. */
KEFU_API int kefu_diag_status(const kefu_diag *diag);
/** Human-readable message; "" when none. */
KEFU_API const char *kefu_diag_message(const kefu_diag *diag);
/** File the problem is in; "" for memory buffers or when not applicable. */
KEFU_API const char *kefu_diag_file(const kefu_diag *diag);
/** 1-based line and column (columns count characters); 0 when unknown. */
KEFU_API uint32_t kefu_diag_line(const kefu_diag *diag);
KEFU_API uint32_t kefu_diag_column(const kefu_diag *diag);
/** 0-based byte offset in the input; UINT64_MAX when unknown. */
KEFU_API uint64_t kefu_diag_offset(const kefu_diag *diag);
/**
 * Formats "file:line:column: message" (parts omitted when unknown) into buf,
 * always NUL-terminated when cap > 0.  Returns the length the full text needs,
 * not counting the NUL.
 */
KEFU_API size_t kefu_diag_format(const kefu_diag *diag, char *buf, size_t cap);

/* ------------------------------------------------------------------------
 * Text stage: validation, normalisation, tokenisation.  A kefu_text is a
 * per-thread scratch object; it allocates while growing, then reuses.
 * ---------------------------------------------------------------------- */

typedef struct kefu_text kefu_text;

/** Options for kefu_text_set / kefu_text_get. */
typedef enum kefu_text_option {
    KEFU_TEXT_MAX_BYTES = 1,   /**< longest accepted input, default 65536 */
    KEFU_TEXT_T2S = 2,         /**< fold Traditional to Simplified, default 1 */
    KEFU_TEXT_CASEFOLD = 3     /**< Unicode case folding, default 1 */
} kefu_text_option;

/** Token classes. */
typedef enum kefu_token_kind {
    KEFU_TOKEN_WORD = 1,   /**< letters (Latin and other alphabetic scripts) */
    KEFU_TOKEN_CJK = 2,    /**< one Han ideograph, kana or hangul syllable */
    KEFU_TOKEN_NUMBER = 3, /**< digits, with . , separators inside */
    KEFU_TOKEN_EMOJI = 4,  /**< one emoji (pictographic symbol) */
    KEFU_TOKEN_PUNCT = 5,  /**< a run of the same punctuation, e.g. "!!!" */
    KEFU_TOKEN_SYMBOL = 6  /**< any other non-space character */
} kefu_token_kind;

/**
 * One token.  `size` must be set to sizeof(kefu_token) by the caller; the
 * struct only grows at the end.  `text` points into the text object's
 * normalised buffer and lives until the next kefu_text_run on it.
 * Offsets refer to the original input: bytes and code points, end exclusive.
 * Tokens follow each other without overlapping: a token never splits one
 * original character, so what normalisation makes of one character (a
 * base and its combining marks; U+3200 "㈀" becomes "(ᄀ)"; U+FDFA becomes
 * four words, the spaces between them included) stays in one token.
 */
typedef struct kefu_token {
    uint32_t size;
    uint32_t kind;        /**< kefu_token_kind */
    const char *text;     /**< normalised token text (not NUL-terminated) */
    uint32_t text_len;
    uint32_t byte_start;
    uint32_t byte_end;
    uint32_t char_start;
    uint32_t char_end;
} kefu_token;

KEFU_API int kefu_text_new(kefu_text **out, const kefu_allocator *alloc);
KEFU_API void kefu_text_free(kefu_text *text);
KEFU_API int kefu_text_set(kefu_text *text, kefu_text_option opt, int64_t value);
KEFU_API int kefu_text_get(const kefu_text *text, kefu_text_option opt, int64_t *value);
/** Valid range of an option (inclusive). */
KEFU_API int kefu_text_bounds(kefu_text_option opt, int64_t *lo, int64_t *hi);
/**
 * Validates, normalises and tokenises `s`.  On KEFU_E_UTF8 the diagnostic
 * offset is the first bad byte; on any error the previous result is cleared
 * and nothing else happens.
 */
KEFU_API int kefu_text_run(kefu_text *text, const char *s, size_t len);
/** Normalised text of the last run (NFKC, case-folded, spaces folded). */
KEFU_API const char *kefu_text_normalized(const kefu_text *text, size_t *len);
KEFU_API size_t kefu_text_token_count(const kefu_text *text);
KEFU_API int kefu_text_token(const kefu_text *text, size_t i, kefu_token *out);
KEFU_API const kefu_diag *kefu_text_diag(const kefu_text *text);
/** Checks UTF-8 only; *bad_offset gets the first bad byte on KEFU_E_UTF8. */
KEFU_API int kefu_utf8_check(const char *s, size_t len, size_t *bad_offset);

/* ------------------------------------------------------------------------
 * Models.  A model is loaded from a YAML file or buffer (see doc/model.md)
 * or from a binary model written by kefu_model_save.  Once loaded it is
 * immutable and may be shared by any number of threads.
 * ---------------------------------------------------------------------- */

typedef struct kefu_model kefu_model;

/**
 * Loads a model file, YAML or binary (recognised by its magic bytes).
 * `diag` may be NULL; when given it receives the error position.
 */
KEFU_API int kefu_model_load(kefu_model **out, const char *path,
                             const kefu_allocator *alloc, kefu_diag *diag);
/**
 * Loads a model from memory.  `name` is used in diagnostics (may be NULL);
 * `base_dir` resolves relative includes (NULL: includes are refused).
 */
KEFU_API int kefu_model_load_buffer(kefu_model **out, const char *data,
                                    size_t len, const char *name,
                                    const char *base_dir,
                                    const kefu_allocator *alloc,
                                    kefu_diag *diag);
KEFU_API void kefu_model_free(kefu_model *model);
/** The model's `name:` (or ""), lives as long as the model. */
KEFU_API const char *kefu_model_name(const kefu_model *model);

/* ------------------------------------------------------------------------
 * Scratch: the per-thread working memory for one model (like PCRE2's
 * match_data next to its immutable pcre2_code).  A scratch is bound to the
 * model it was made for; the model must outlive it.  Results read through
 * a scratch live until the next call on that scratch.
 * ---------------------------------------------------------------------- */

typedef struct kefu_scratch kefu_scratch;

KEFU_API int kefu_scratch_new(kefu_scratch **out, const kefu_model *model,
                              const kefu_allocator *alloc);
KEFU_API void kefu_scratch_free(kefu_scratch *scratch);
KEFU_API const kefu_diag *kefu_scratch_diag(const kefu_scratch *scratch);

/* ------------------------------------------------------------------------
 * Intents, entities, redaction (intent.c, entity.c, redact.c)
 * ---------------------------------------------------------------------- */

/* ---- intents (intent.c; doc/intents.md) ----
 * The model's `intents:` section gives each intent examples (any language),
 * optional PCRE2 patterns that force or boost it, required slots and
 * routing skills; the classifier is trained on load or restored from a
 * binary model.  An unknown question is a first-class answer: out_of_scope
 * is set and `intent` is "oos".
 */

/**
 * Result of kefu_classify.  Set `size` to sizeof(kefu_intent_result); the
 * struct only grows at the end.  `intent` lives as long as the model.
 */
typedef struct kefu_intent_result {
    uint32_t size;
    uint32_t out_of_scope;  /**< 1: no intent of the model fits */
    const char *intent;     /**< best intent, or "oos" when out of scope */
    int32_t intent_index;   /**< index in the model, -1 when out of scope */
    float confidence;       /**< calibrated probability of the best intent */
    float margin;           /**< confidence minus the runner-up's */
    int32_t pattern;        /**< pattern that forced the intent, or -1 */
    uint32_t missing_slots; /**< required slots of the intent not found */
} kefu_intent_result;

/**
 * Classifies one message.  Top-k, missing slots and explanations of this
 * result are read from the scratch until its next call.  Errors:
 * KEFU_E_UTF8, KEFU_E_TOO_LONG, KEFU_E_LIMIT (a pattern hit its match
 * limit), KEFU_E_STATE (the model has no intents); the diag says more.
 */
KEFU_API int kefu_classify(kefu_scratch *scratch, const char *text, size_t len,
                           kefu_intent_result *out);
/** How many intents kefu_classify keeps in its top list (default 5). */
KEFU_API int kefu_classify_set_top(kefu_scratch *scratch, uint32_t k);
/** Number of entries in the last result's top list. */
KEFU_API size_t kefu_classify_top_count(const kefu_scratch *scratch);
/** Entry i of the top list (by descending confidence; may include "oos"). */
KEFU_API int kefu_classify_top(const kefu_scratch *scratch, size_t i,
                               const char **intent, float *confidence);
/** Name of the i-th required slot still missing; NULL past the end. */
KEFU_API const char *kefu_classify_missing_slot(const kefu_scratch *scratch, size_t i);

/** Kinds of explanation items. */
typedef enum kefu_explain_kind {
    KEFU_EXPLAIN_FEATURE = 1, /**< an n-gram; text is the tokens it came from */
    KEFU_EXPLAIN_PATTERN = 2  /**< a pattern that matched; weight INFINITY = forced */
} kefu_explain_kind;

/**
 * One contribution to a decision.  Set `size` in every element passed to
 * kefu_classify_explain.  `text` is not NUL-terminated and lives until the
 * next call on the scratch.
 */
typedef struct kefu_explain_item {
    uint32_t size;
    uint32_t kind;          /**< kefu_explain_kind */
    const char *text;
    uint32_t text_len;
    float weight;           /**< contribution to the chosen intent's score */
} kefu_explain_item;

/**
 * Fills up to `cap` items explaining the last kefu_classify on this
 * scratch: matching patterns of the chosen intent first, then the features
 * with the largest contributions (by absolute weight).  Returns the count.
 */
KEFU_API size_t kefu_classify_explain(kefu_scratch *scratch,
                                      kefu_explain_item *items, size_t cap);

/** Number of intents of the model (including "oos" when trained with it). */
KEFU_API size_t kefu_model_intent_count(const kefu_model *model);
/** Name of intent i; NULL when out of range. */
KEFU_API const char *kefu_model_intent_name(const kefu_model *model, size_t i);
/** Routing skill j of intent i; NULL past the end. */
KEFU_API const char *kefu_model_intent_skill(const kefu_model *model, size_t i,
                                             size_t j);

/* ---- training and binary models (train.c, modelfile.c) ---- */

/** What kefu_model_train learns. */
typedef enum kefu_task {
    KEFU_TASK_INTENT = 0,
    KEFU_TASK_EMOTION = 1
} kefu_task;

/**
 * What training chose for a model's classifier: the calibration and the
 * out-of-scope decision, whether set in the YAML or tuned on data
 * (doc/intents.md, Calibration).  Set `size` to sizeof(kefu_classifier_info);
 * the struct only grows at the end.
 */
typedef struct kefu_classifier_info {
    uint32_t size;
    uint32_t classes;       /**< intents (`oos` included) or emotion labels */
    uint32_t features;      /**< rows of weights: n-grams in the dictionary,
                                 plus lexicon features for emotion labels */
    uint32_t examples;      /**< training examples */
    float temperature;      /**< confidences are softmax(scores / temperature)
                                 (a sigmoid per label for multi-label data) */
    float threshold;        /**< intents: out of scope below this confidence */
    float margin;           /**< intents: out of scope below this margin */
    int32_t oos_index;      /**< intents: index of the trained `oos`, -1 none */
} kefu_classifier_info;

/**
 * Fills `info` for the model's intents (task KEFU_TASK_INTENT) or trained
 * emotion labels (KEFU_TASK_EMOTION; threshold and margin are then 0 and
 * oos_index -1).  KEFU_E_ARG for NULL, a small `size` or another task;
 * KEFU_E_STATE when the model has no such classifier.
 */
KEFU_API int kefu_model_classifier_info(const kefu_model *model, uint32_t task,
                                        kefu_classifier_info *info);

/**
 * Training options.  Initialise with kefu_train_options_init (a macro:
 * it passes the caller's sizeof, see kefu_train_options_init_size); the
 * struct only grows at the end.  Zero values mean "the model YAML's or the
 * default".  `progress` (may be NULL) is called after each epoch (for the
 * SVM learner, each pass; `loss` is then the multi-class hinge loss summed
 * over the examples the pass visited and divided by all examples, so the
 * passes that skip settled examples read lower than the full passes
 * between them; `epochs` is the most passes: it stops earlier once
 * converged).
 * learning_rate applies to the softmax learner only.  epochs above 1000,
 * or a learning_rate other than 0 outside 1e-6..100 (the YAML's ranges),
 * are KEFU_E_ARG.
 */
typedef struct kefu_train_options {
    uint32_t size;
    uint32_t task;          /**< kefu_task */
    uint32_t epochs;
    float learning_rate;
    uint64_t seed;
    void (*progress)(uint32_t epoch, uint32_t epochs, double loss,
                     double val_accuracy, void *user);
    void *user;
} kefu_train_options;

/**
 * Zeroes the first `size` bytes of `opts`, sets opts->size to `size` and
 * the defaults of the fields those bytes hold; writes nothing past them.
 * `size` is the caller's sizeof(kefu_train_options): a program built
 * against this header keeps working when a later library grows the
 * struct.  C callers use the macro; FFI callers pass their struct's size.
 */
KEFU_API void kefu_train_options_init_size(kefu_train_options *opts,
                                           uint32_t size);
/* The function under the macro's name, for programs built against 0.1.0:
 * initialises the struct as 0.1.0 declared it, whatever it grows to. */
KEFU_API void kefu_train_options_init(kefu_train_options *opts);
#define kefu_train_options_init(opts) \
    kefu_train_options_init_size((opts), (uint32_t)sizeof *(opts))

/**
 * Trains a model from a TSV file of `label<TAB>text` lines, with an
 * optional YAML model (`config`: intents' patterns, slots and skills,
 * entities, classifier settings, rules ...) and an optional validation TSV
 * (used for calibration and to choose the out-of-scope threshold when it
 * has `oos` lines; without one, the training examples are used, each
 * scored by a model trained on the other folds (`tuning_folds`, default
 * 5), then the model is trained on all of them: doc/intents.md).
 * Errors name the file and line.
 */
KEFU_API int kefu_model_train(kefu_model **out, const char *config,
                              const char *train_tsv, const char *val_tsv,
                              const kefu_train_options *opts,
                              const kefu_allocator *alloc, kefu_diag *diag);

/**
 * Writes the model as a binary model file (see doc/model.md): loaded by
 * kefu_model_load in milliseconds with no training.  Saving the model
 * loaded from that file gives the same bytes.
 */
KEFU_API int kefu_model_save(const kefu_model *model, const char *path,
                             kefu_diag *diag);

/* ---- trained emotion labels (intent.c; `kefu train --task emotion`) ----
 * A model trained on emotion data (`label<TAB>text`, any label set,
 * multi-label lines as comma-joined labels) predicts the data's own labels
 * from n-grams plus the built-in lexicon's scores.
 */

/** Number of trained emotion labels (0 when the model has none). */
KEFU_API size_t kefu_model_emotion_label_count(const kefu_model *model);
/** Name of trained label i; NULL when out of range. */
KEFU_API const char *kefu_model_emotion_label_name(const kefu_model *model, size_t i);
/**
 * Predicts the trained labels of one message.  `probs` (may be NULL)
 * receives up to `nprobs` label probabilities in model order.  The
 * predicted labels are read with kefu_emotion_label*: for a multi-label
 * model every label at 0.5 or more (at least the best one), else the best.
 * KEFU_E_STATE when the model has no trained labels.
 */
KEFU_API int kefu_emotion_classify(kefu_scratch *scratch, const char *text,
                                   size_t len, float *probs, size_t nprobs);
/** Number of labels predicted by the last kefu_emotion_classify. */
KEFU_API size_t kefu_emotion_label_count(const kefu_scratch *scratch);
/** Predicted label i of the last call; NULL past the end. */
KEFU_API const char *kefu_emotion_label(const kefu_scratch *scratch, size_t i);

/* ---- entities and slots (entity.c; doc/entities.md) ----
 * Entities are defined in the model's `entities:` section: PCRE2 patterns
 * (a group named `value` picks the value out of a longer match), lookup
 * lists with synonyms, and built-in kinds (phone, amount, date, email,
 * order_id).  They match the normalised text (NFKC, case-folded,
 * Traditional folded to Simplified), and spans refer to the original.
 */

/**
 * One extracted entity.  Set `size` to sizeof(kefu_entity); the struct only
 * grows at the end.  `name` lives as long as the model; `value` is
 * NUL-terminated and lives until the next call on the scratch.  Offsets
 * refer to the text passed in: bytes and code points, end exclusive.
 */
typedef struct kefu_entity {
    uint32_t size;
    uint32_t index;       /**< entity index in the model (kefu_model_entity_name) */
    const char *name;
    const char *value;    /**< canonical value, e.g. "+8613812345678", "1299.00 CNY", "2024-05-01" */
    uint32_t value_len;
    uint32_t byte_start;
    uint32_t byte_end;
    uint32_t char_start;
    uint32_t char_end;
} kefu_entity;

/**
 * Extracts the model's entities from one message into the scratch.  On
 * error (KEFU_E_UTF8, KEFU_E_TOO_LONG, KEFU_E_LIMIT when a pattern hits its
 * match limit) the scratch holds no entities and its diag says why.
 */
KEFU_API int kefu_entities_extract(kefu_scratch *scratch, const char *text, size_t len);
/** Number of entities found by the last extraction, in text order. */
KEFU_API size_t kefu_entity_count(const kefu_scratch *scratch);
/** The i-th entity of the last extraction; KEFU_E_ARG when out of range. */
KEFU_API int kefu_entity_get(const kefu_scratch *scratch, size_t i, kefu_entity *out);
/** Number of entities the model defines. */
KEFU_API size_t kefu_model_entity_count(const kefu_model *model);
/** Name of the model's entity i (lives as long as the model); NULL when out of range. */
KEFU_API const char *kefu_model_entity_name(const kefu_model *model, size_t i);

/* ---- redaction (redact.c; doc/entities.md) ----
 * Masks personal data before a host logs or stores a message: phone
 * numbers, Chinese resident ID numbers (birth date and check character
 * verified), bank-card numbers (Luhn), e-mail addresses, plus the custom
 * patterns of the model's `redaction:` section.  Works with any model (the
 * defaults apply when it has no `redaction:` section).
 */

/** What a redaction masked. */
typedef enum kefu_redact_kind {
    KEFU_REDACT_EMAIL = 1,
    KEFU_REDACT_ID_CARD = 2,
    KEFU_REDACT_BANK_CARD = 3,
    KEFU_REDACT_PHONE = 4,
    KEFU_REDACT_CUSTOM = 5
} kefu_redact_kind;

/**
 * One masked span of the last kefu_redact, in the ORIGINAL text (bytes and
 * code points, end exclusive).  Set `size` to sizeof(kefu_redaction).
 * `name` is "email", "id_card", "bank_card", "phone" or the custom rule's
 * name, and lives as long as the model.
 */
typedef struct kefu_redaction {
    uint32_t size;
    uint32_t kind;        /**< kefu_redact_kind */
    const char *name;
    uint32_t byte_start;
    uint32_t byte_end;
    uint32_t char_start;
    uint32_t char_end;
} kefu_redaction;

/**
 * Redacts one message into the scratch; read the result with
 * kefu_redacted.  Does not disturb the scratch's other results (entities,
 * intents).  On error (KEFU_E_UTF8, KEFU_E_TOO_LONG, KEFU_E_LIMIT) the
 * redacted text is empty - never a partly masked copy - and the scratch's
 * diag says why.
 */
KEFU_API int kefu_redact(kefu_scratch *scratch, const char *text, size_t len);
/**
 * The redacted text of the last successful kefu_redact, NUL-terminated
 * ("" after an error); lives until the next kefu_redact on the scratch.
 */
KEFU_API const char *kefu_redacted(const kefu_scratch *scratch, size_t *len);
/** Number of spans masked by the last kefu_redact. */
KEFU_API size_t kefu_redaction_count(const kefu_scratch *scratch);
KEFU_API int kefu_redaction_get(const kefu_scratch *scratch, size_t i, kefu_redaction *out);

/* ------------------------------------------------------------------------
 * Emotion (emotion.c)
 *
 * Six categories, each an intensity 0..100, plus an overall negativity.
 * With any model (even one that is just `kefu: 1`) the built-in bilingual
 * lexicon and rules are used; a model's `emotion:` section adds or
 * overrides lexicon entries.  doc/emotion.md defines the scale: 50 means
 * "more likely than not that a reader sees this emotion", 80 "clearly and
 * strongly"; it is calibrated on public emotion data.
 * ---------------------------------------------------------------------- */

/** Emotion categories; the values index kefu_emotion.score. */
typedef enum kefu_emotion_category {
    KEFU_EMOTION_ANGER = 0,          /**< 愤怒: anger, annoyance */
    KEFU_EMOTION_ANXIETY = 1,        /**< 着急: anxiety, urgency */
    KEFU_EMOTION_DISAPPOINTMENT = 2, /**< 失望: disappointment, frustration */
    KEFU_EMOTION_SADNESS = 3,        /**< sadness */
    KEFU_EMOTION_FEAR = 4,           /**< fear */
    KEFU_EMOTION_JOY = 5             /**< joy, satisfaction, gratitude */
} kefu_emotion_category;

/** Number of categories (the size of the score array; never changes). */
#define KEFU_EMOTION_COUNT 6

/** "anger", "anxiety", "disappointment", "sadness", "fear", "joy";
 *  NULL for a value out of range. */
KEFU_API const char *kefu_emotion_category_name(int category);

/**
 * Scores of one message.  Set `size` to sizeof(kefu_emotion) before the
 * call; the struct only grows at the end.
 */
typedef struct kefu_emotion {
    uint32_t size;
    float score[KEFU_EMOTION_COUNT]; /**< 0..100 per kefu_emotion_category */
    float negativity;                /**< 0..100, all negative categories
                                          against joy */
    uint32_t matched;                /**< lexicon entries that matched */
} kefu_emotion;

/**
 * Scores `text` (UTF-8, at most the model's text max_bytes, default 65536:
 * longer input is KEFU_E_TOO_LONG) with the scratch's model.  Errors
 * (KEFU_E_UTF8, KEFU_E_TOO_LONG, KEFU_E_ARG) are described by
 * kefu_scratch_diag() and leave `out` zeroed except `size`.  Does not
 * allocate once the scratch has seen a message of the same token count.
 */
KEFU_API int kefu_emotion_score(kefu_scratch *scratch, const char *text,
                                size_t len, kefu_emotion *out);

/**
 * Conversation-level tracker: a smoothed level per category (an
 * exponentially decaying average whose half-life is counted in turns, or
 * in milliseconds of the host's clock), the peak, and the trend (least-
 * squares slope over the last turns).  An optional external score per turn
 * (e.g. voice arousal 0..100 from a speech engine) is blended into chosen
 * categories with a configurable weight.  Belongs to one conversation.
 */
typedef struct kefu_emotion_track kefu_emotion_track;

typedef enum kefu_emotion_track_option {
    /** Half-life in turns, 1..1000 (default 3); used when HALF_LIFE_MS is 0. */
    KEFU_EMOTION_TRACK_HALF_LIFE_TURNS = 1,
    /** Half-life in milliseconds, 0..604800000 (default 0 = count turns). */
    KEFU_EMOTION_TRACK_HALF_LIFE_MS = 2,
    /** Weight of the external score in percent, 0..100 (default 30). */
    KEFU_EMOTION_TRACK_EXTERNAL_WEIGHT = 3,
    /** Which scores the external score is blended into: bit c for category
     *  c, bit 6 for negativity (default anger|anxiety|negativity = 0x43). */
    KEFU_EMOTION_TRACK_EXTERNAL_MASK = 4,
    /** Turns the trend is measured over, 2..16 (default 4). */
    KEFU_EMOTION_TRACK_TREND_TURNS = 5,
    /** Slope in points per turn beyond which negativity counts as rising
     *  or falling, 1..100 (default 5). */
    KEFU_EMOTION_TRACK_TREND_THRESHOLD = 6
} kefu_emotion_track_option;

/** State of a conversation.  Set `size` to sizeof(kefu_emotion_level). */
typedef struct kefu_emotion_level {
    uint32_t size;
    uint32_t turns;                  /**< messages seen */
    float level[KEFU_EMOTION_COUNT]; /**< smoothed 0..100 */
    float level_negativity;
    float peak[KEFU_EMOTION_COUNT];  /**< highest single-turn score */
    float peak_negativity;
    float trend[KEFU_EMOTION_COUNT]; /**< points per turn, last turns */
    float trend_negativity;
    int32_t direction;               /**< negativity: 1 rising, -1 falling,
                                          0 steady or too few turns */
    uint32_t peak_turn;              /**< 1-based turn of peak negativity */
} kefu_emotion_level;

KEFU_API int kefu_emotion_track_new(kefu_emotion_track **out,
                                    const kefu_allocator *alloc);
KEFU_API void kefu_emotion_track_free(kefu_emotion_track *track);
/** Forgets the conversation; options are kept. */
KEFU_API void kefu_emotion_track_reset(kefu_emotion_track *track);
KEFU_API int kefu_emotion_track_set(kefu_emotion_track *track,
                                    kefu_emotion_track_option opt,
                                    int64_t value);
KEFU_API int kefu_emotion_track_option_get(const kefu_emotion_track *track,
                                           kefu_emotion_track_option opt,
                                           int64_t *value);
/** Valid range of an option (inclusive). */
KEFU_API int kefu_emotion_track_bounds(kefu_emotion_track_option opt,
                                       int64_t *lo, int64_t *hi);
/**
 * Adds one turn.  `time_ms` is the host's clock (must not go backwards;
 * only used with a half-life in milliseconds).  `external` is 0..100, or
 * -1 when there is none.  KEFU_E_ARG leaves the tracker unchanged.
 */
KEFU_API int kefu_emotion_track_update(kefu_emotion_track *track,
                                       const kefu_emotion *message,
                                       int64_t time_ms, int32_t external);
KEFU_API int kefu_emotion_track_get(const kefu_emotion_track *track,
                                    kefu_emotion_level *out);

/* ------------------------------------------------------------------------
 * Rules and sessions (rule_*.c, session.c)
 *
 * Escalation rules (doc/rules.md): typed, side-effect-free expressions over
 * facts, compiled once into a kefu_ruleset, evaluated per message without
 * allocating.  A rule set is immutable and reference counted: any number
 * of threads may evaluate it while a host swaps in a new one through a
 * kefu_rules_slot.  A kefu_facts holds one message's fact values; a
 * kefu_rules_result holds one evaluation's outcome (both per thread).
 * ---------------------------------------------------------------------- */

typedef struct kefu_ruleset kefu_ruleset;
typedef struct kefu_rules_slot kefu_rules_slot;
typedef struct kefu_facts kefu_facts;
typedef struct kefu_rules_result kefu_rules_result;

/** Types of facts and of trace values. */
typedef enum kefu_fact_type {
    KEFU_FACT_BOOL = 1,
    KEFU_FACT_NUMBER = 2,
    KEFU_FACT_STRING = 3,
    KEFU_FACT_DURATION = 4,     /**< milliseconds */
    KEFU_FACT_STRING_LIST = 5,
    KEFU_FACT_NUMBER_LIST = 6
} kefu_fact_type;

/** How a rule set is evaluated (`rules: {mode: ...}`). */
typedef enum kefu_rules_mode {
    KEFU_RULES_ALL = 0,   /**< every rule in order; `stop` ends early */
    KEFU_RULES_FIRST = 1  /**< stop after the first rule that fires */
} kefu_rules_mode;

/** Action kinds of a rule's `then:`. */
typedef enum kefu_action_type {
    KEFU_ACTION_ESCALATE = 1,  /**< queue / skill / tier */
    KEFU_ACTION_PRIORITY = 2,  /**< value; raise = 1 adds, 0 sets */
    KEFU_ACTION_SUGGEST = 3,   /**< arg: reply script id */
    KEFU_ACTION_FLAG = 4,      /**< arg: review reason */
    KEFU_ACTION_LOCK = 5,
    KEFU_ACTION_TAG = 6,       /**< arg: the tag */
    KEFU_ACTION_STOP = 7       /**< evaluation stopped after this rule */
} kefu_action_type;

/**
 * One action of a fired rule.  Set `size` to sizeof(kefu_rule_action).
 * Strings are NUL-terminated, "" when not given, and live as long as the
 * rule set that produced them.
 */
typedef struct kefu_rule_action {
    uint32_t size;
    uint32_t type;        /**< kefu_action_type */
    uint32_t rule;        /**< index of the rule (kefu_ruleset_rule_name) */
    int32_t value;        /**< priority: the value or the amount to raise */
    uint32_t raise;       /**< priority: 1 = raise by value, 0 = set */
    const char *queue;    /**< escalate */
    const char *skill;    /**< escalate */
    const char *tier;     /**< escalate */
    const char *arg;      /**< suggest, flag, tag */
} kefu_rule_action;

/** Outcome of one rule in the last evaluation. */
typedef enum kefu_rule_state {
    KEFU_RULE_SKIPPED = 0,   /**< not evaluated (an earlier rule stopped) */
    KEFU_RULE_FALSE = 1,     /**< evaluated, did not fire */
    KEFU_RULE_FIRED = 2,
    KEFU_RULE_ERROR = 3      /**< evaluation failed (status says why) */
} kefu_rule_state;

typedef struct kefu_rule_outcome {
    uint32_t size;
    uint32_t state;        /**< kefu_rule_state */
    int32_t status;        /**< KEFU_OK, or e.g. KEFU_E_LIMIT (regex) */
    uint32_t trace_first;  /**< this rule's trace entries (traced runs) */
    uint32_t trace_count;
} kefu_rule_outcome;

/** Kinds of trace entries. */
typedef enum kefu_trace_kind {
    KEFU_TRACE_FACT = 1,   /**< the value of a fact as read */
    KEFU_TRACE_EXPR = 2    /**< the value of a sub-expression */
} kefu_trace_kind;

/**
 * One traced value, in evaluation order (short-circuited parts do not
 * appear).  `expr` points into the rule's source text (lives as long as the
 * rule set); `string`/list values point into the facts (live until the
 * facts change).  Set `size` to sizeof(kefu_trace_entry).
 */
typedef struct kefu_trace_entry {
    uint32_t size;
    uint32_t rule;
    uint32_t kind;          /**< kefu_trace_kind */
    uint32_t type;          /**< kefu_fact_type of the value */
    const char *expr;       /**< source of the fact or sub-expression */
    uint32_t expr_len;
    uint32_t expr_offset;   /**< byte offset in the rule's `when` */
    int32_t boolean;        /**< bool values */
    double number;          /**< number; duration in milliseconds */
    const char *string;     /**< string values (not NUL-terminated) */
    uint32_t length;        /**< string bytes or list items */
} kefu_trace_entry;

/** Evaluation flags. */
#define KEFU_RULES_TRACE 1u

/**
 * The rule set compiled from the model's `rules:`/`facts:` sections (an
 * empty set when it has none).  Borrowed: lives as long as the model; take
 * a reference with kefu_ruleset_ref to keep it longer.
 */
KEFU_API kefu_ruleset *kefu_model_rules(const kefu_model *model);
/**
 * Compiles a rule file (YAML with `rules:` and optionally `facts:`, `kefu:`,
 * `name:`) against a model: the model's declared facts are known, the file
 * may declare more.  `name` is used in diagnostics.  The model may be freed
 * afterwards.  On error nothing is created and `diag` has the position.
 */
KEFU_API int kefu_ruleset_compile(kefu_ruleset **out, const kefu_model *model, const char *yaml, size_t len, const char *name, const kefu_allocator *alloc, kefu_diag *diag);
/** kefu_ruleset_compile on the content of a file. */
KEFU_API int kefu_ruleset_load(kefu_ruleset **out, const kefu_model *model, const char *path, const kefu_allocator *alloc, kefu_diag *diag);
/** Takes one more reference; returns rs. */
KEFU_API kefu_ruleset *kefu_ruleset_ref(kefu_ruleset *rs);
/** Drops one reference; the set is freed with the last.  NULL is fine. */
KEFU_API void kefu_ruleset_free(kefu_ruleset *rs);
/** Number of rules, in evaluation order. */
KEFU_API uint32_t kefu_ruleset_rule_count(const kefu_ruleset *rs);
/** Name of rule i (evaluation order); "" when out of range. */
KEFU_API const char *kefu_ruleset_rule_name(const kefu_ruleset *rs, uint32_t i);
/** Source of rule i's `when`; "" when out of range. */
KEFU_API const char *kefu_ruleset_rule_when(const kefu_ruleset *rs, uint32_t i);
/** kefu_rules_mode of the set. */
KEFU_API uint32_t kefu_ruleset_mode(const kefu_ruleset *rs);
/** kefu_fact_type of a fact the set knows, or KEFU_E_UNKNOWN. */
KEFU_API int kefu_ruleset_fact_type(const kefu_ruleset *rs, const char *name, size_t name_len);

/**
 * A slot holding the current rule set for hot swap.  Acquire returns a new
 * reference (release it with kefu_ruleset_free); swap publishes `next`
 * atomically (the slot takes its own reference) and drops the slot's
 * reference to the old set, which lives on while holders keep it.
 */
KEFU_API int kefu_rules_slot_new(kefu_rules_slot **out, kefu_ruleset *initial, const kefu_allocator *alloc);
KEFU_API void kefu_rules_slot_free(kefu_rules_slot *slot);
KEFU_API kefu_ruleset *kefu_rules_slot_acquire(kefu_rules_slot *slot);
KEFU_API int kefu_rules_slot_swap(kefu_rules_slot *slot, kefu_ruleset *next);

/**
 * Facts for the schema of a rule set (built-in facts, the declared host
 * facts, the entities.* the rules use).  Unset facts read as zero values
 * (false, 0, "", empty list, 0s) and has() is false for them.  Strings are
 * copied.  Setting a name the schema does not know is KEFU_E_UNKNOWN,
 * except `entities.*` names no rule uses, which are accepted and ignored;
 * a wrong type is KEFU_E_TYPE.  Facts made for one rule set may be
 * evaluated against another (hot swap): facts are matched by name.
 */
KEFU_API int kefu_facts_new(kefu_facts **out, kefu_ruleset *rs, const kefu_allocator *alloc);
KEFU_API void kefu_facts_free(kefu_facts *facts);
/** Re-targets facts at another rule set's schema, keeping values by name. */
KEFU_API int kefu_facts_rebind(kefu_facts *facts, kefu_ruleset *rs);
/** Unsets every fact. */
KEFU_API void kefu_facts_clear(kefu_facts *facts);
KEFU_API int kefu_facts_set_bool(kefu_facts *facts, const char *name, size_t name_len, int32_t value);
KEFU_API int kefu_facts_set_number(kefu_facts *facts, const char *name, size_t name_len, double value);
KEFU_API int kefu_facts_set_duration(kefu_facts *facts, const char *name, size_t name_len, int64_t ms);
KEFU_API int kefu_facts_set_string(kefu_facts *facts, const char *name, size_t name_len, const char *s, size_t len);
/** A list of strings: items[i] of lens[i] bytes (lens NULL: NUL-terminated). */
KEFU_API int kefu_facts_set_strings(kefu_facts *facts, const char *name, size_t name_len, const char *const *items, const size_t *lens, size_t n);
KEFU_API int kefu_facts_set_numbers(kefu_facts *facts, const char *name, size_t name_len, const double *items, size_t n);
KEFU_API int kefu_facts_unset(kefu_facts *facts, const char *name, size_t name_len);
KEFU_API const kefu_diag *kefu_facts_diag(const kefu_facts *facts);

/** An evaluation result; grows to the largest rule set it has seen. */
KEFU_API int kefu_rules_result_new(kefu_rules_result **out, const kefu_allocator *alloc);
KEFU_API void kefu_rules_result_free(kefu_rules_result *res);
/**
 * Evaluates the rules on the facts (flags: KEFU_RULES_TRACE).  A rule whose
 * evaluation fails (a regex hits its match limit, division by zero) does
 * not fire; its outcome carries the status and evaluation goes on.  The
 * result refers to `rs`, which must outlive the reads of the result.
 */
KEFU_API int kefu_rules_eval(kefu_rules_result *res, const kefu_ruleset *rs, const kefu_facts *facts, uint32_t flags);
KEFU_API uint32_t kefu_rules_result_fired_count(const kefu_rules_result *res);
/** Index (in the rule set) of the i-th fired rule; UINT32_MAX if none. */
KEFU_API uint32_t kefu_rules_result_fired(const kefu_rules_result *res, uint32_t i);
KEFU_API uint32_t kefu_rules_result_action_count(const kefu_rules_result *res);
KEFU_API int kefu_rules_result_action(const kefu_rules_result *res, uint32_t i, kefu_rule_action *out);
/** Outcome of rule `rule` (index in the rule set). */
KEFU_API int kefu_rules_result_rule(const kefu_rules_result *res, uint32_t rule, kefu_rule_outcome *out);
KEFU_API uint32_t kefu_rules_result_trace_count(const kefu_rules_result *res);
KEFU_API int kefu_rules_result_trace(const kefu_rules_result *res, uint32_t i, kefu_trace_entry *out);
/**
 * Explains rule `rule` in one line, e.g. "angry: fired: emotion.anger = 85,
 * emotion.anger > 80 = true".  Returns the length the full text needs.
 */
KEFU_API size_t kefu_rules_result_explain(const kefu_rules_result *res, uint32_t rule, char *buf, size_t cap);

/* ---- sessions: one conversation, one call per message (session.c) ----
 * A session holds one conversation's state: turns, the emotion
 * trajectory, counters, slots gathered so far, recent intents, flags.
 * kefu_session_turn runs normalise -> intent -> entities -> emotion ->
 * counters -> rules and returns everything, including a routing request.
 * A session belongs to one thread at a time; the model it uses must
 * outlive it.  See doc/sessions.md.
 */

typedef struct kefu_session kefu_session;

/** Flags of kefu_turn.flags. */
#define KEFU_TURN_TRACE 1u   /**< record a rule trace for this turn */

/**
 * What the host knows about one message.  Initialise with kefu_turn_init
 * (a macro passing the caller's sizeof, as kefu_train_options_init does);
 * the struct only grows at the end.  Strings are NUL-terminated, may be
 * NULL, and are read during the call only.
 */
typedef struct kefu_turn {
    uint32_t size;
    uint32_t flags;              /**< KEFU_TURN_TRACE */
    int64_t time_ms;             /**< host clock, milliseconds */
    const char *channel;         /**< "chat", "voice", "email", ... */
    const char *customer_tier;   /**< e.g. "vip", "gold", "standard" */
    double customer_value;       /**< e.g. lifetime value */
    const char *const *customer_risk; /**< risk flags, e.g. "fraud" */
    uint32_t customer_risk_count;
    int32_t external_emotion;    /**< 0..100 from the host (voice arousal), -1 none */
    int64_t wait_ms;             /**< time the customer has waited, -1 unknown */
    uint32_t contacts_7d;        /**< contacts in the last 7 days (host's CRM) */
    uint32_t bot_failed;         /**< 1: the bot failed to answer the last turn */
} kefu_turn;

/** As kefu_train_options_init_size, for kefu_turn: writes only `size`
 * bytes; external_emotion and wait_ms start at -1 (unknown). */
KEFU_API void kefu_turn_init_size(kefu_turn *turn, uint32_t size);
/* As kefu_train_options_init: the 0.1.0 struct, for 0.1.0 programs. */
KEFU_API void kefu_turn_init(kefu_turn *turn);
#define kefu_turn_init(turn) \
    kefu_turn_init_size((turn), (uint32_t)sizeof *(turn))

/**
 * Everything one message produced.  Set `size`; the struct only grows at
 * the end.  Strings live until the next call on the session (intent names
 * and rule strings as long as the model / rule set).
 */
typedef struct kefu_triage {
    uint32_t size;
    const char *intent;          /**< intent, "oos", or "" (model without intents) */
    float confidence;
    float margin;
    uint32_t out_of_scope;
    uint32_t missing_slots;      /**< required slots not gathered yet */
    float emotion[KEFU_EMOTION_COUNT]; /**< this message, 0..100 */
    float negativity;
    float level;                 /**< smoothed negativity of the conversation */
    float trend;                 /**< points per turn; > 0 rising */
    uint32_t rules_fired;        /**< see kefu_session_rules */
    uint32_t actions;
    uint32_t escalated;          /**< conversation state after this message */
    uint32_t locked;
    const char *route_queue;     /**< routing request: queue ("" = default) */
    const char *route_tier;      /**< "", "junior", "senior", "expert" */
    int32_t route_priority;
    uint32_t route_skills;       /**< kefu_session_route_skill */
    uint32_t turn;               /**< 1-based number of this message */
} kefu_triage;

KEFU_API int kefu_session_new(kefu_session **out, const kefu_model *model,
                              const kefu_allocator *alloc);
KEFU_API void kefu_session_free(kefu_session *session);
/**
 * Uses the rule set published in `slot` (hot swap): each turn acquires the
 * current set, so a swap takes effect at the next message and never in the
 * middle of one.  NULL goes back to the model's own rules.  The slot must
 * outlive the session.
 */
KEFU_API int kefu_session_use_rules(kefu_session *session, kefu_rules_slot *slot);
/**
 * The session's facts, for host-declared facts (`facts:` in the model):
 * set them before a turn; they keep their values until changed.  Built-in
 * facts are overwritten by every turn.
 */
KEFU_API kefu_facts *kefu_session_facts(kefu_session *session);
/**
 * Runs the pipeline on one message.  On error (KEFU_E_UTF8,
 * KEFU_E_TOO_LONG, KEFU_E_ARG: time_ms before the previous turn's,
 * external_emotion outside -1..100, wait_ms below -1, a NaN
 * customer_value, ...) the session is unchanged and its diag says why.
 */
KEFU_API int kefu_session_turn(kefu_session *session, const char *text,
                               size_t len, const kefu_turn *turn,
                               kefu_triage *out);
/** The last turn's rule evaluation: fired rules, actions, trace. */
KEFU_API const kefu_rules_result *kefu_session_rules(const kefu_session *session);
/** The rule set the last turn used (borrowed until the next turn). */
KEFU_API const kefu_ruleset *kefu_session_ruleset(const kefu_session *session);
/** The scratch the session classifies with: the last turn's entities. */
KEFU_API kefu_scratch *kefu_session_scratch(kefu_session *session);
/** Skill i of the last routing request; NULL past the end. */
KEFU_API const char *kefu_session_route_skill(const kefu_session *session, size_t i);
/** Slot i gathered so far (name and value); KEFU_E_ARG past the end. */
KEFU_API int kefu_session_slot(const kefu_session *session, size_t i,
                               const char **name, const char **value);
KEFU_API const kefu_diag *kefu_session_diag(const kefu_session *session);
/**
 * Writes the session's state as a compact, versioned, checksummed blob.
 * With buf NULL or cap too small, returns KEFU_E_BUFFER and sets *len to
 * the size needed.
 */
KEFU_API int kefu_session_dump(const kefu_session *session, uint8_t *buf,
                               size_t cap, size_t *len);
/**
 * Restores a blob written by kefu_session_dump (possibly by another
 * process).  A corrupt, truncated or foreign blob is rejected
 * (KEFU_E_CORRUPT / KEFU_E_VERSION) and the session is unchanged.  Host
 * facts are not part of a blob: after a restore they are unset; set them
 * again before the next turn.
 */
KEFU_API int kefu_session_restore(kefu_session *session, const uint8_t *blob,
                                  size_t len);

/* ------------------------------------------------------------------------
 * Routing (router.c)
 *
 * A kefu_router is a deterministic state machine (doc/routing.md): the
 * host passes every event with its own clock in milliseconds (never going
 * backwards) and drains the router's decisions with kefu_router_poll.  It
 * reads no clock and draws no random numbers, so replaying the same calls
 * gives the same decisions.  Agents, queues, skills and conversations are
 * named by host-chosen non-zero uint32 ids.  A call that fails returns an
 * error, records it on kefu_router_diag and changes nothing (except
 * KEFU_E_NOMEM while firing timers: the timers due before the failure stay
 * applied).  One router belongs to one thread at a time.
 * ---------------------------------------------------------------------- */

typedef struct kefu_router kefu_router;

/** Agent selection order of a queue (ties: lower agent id first). */
typedef enum kefu_strategy {
    KEFU_STRATEGY_LONGEST_IDLE = 1,     /**< oldest idle_since first */
    KEFU_STRATEGY_LEAST_LOADED = 2,     /**< lowest load/capacity, then idle */
    KEFU_STRATEGY_BEST_PROFICIENCY = 3, /**< highest level in the queue's skill */
    KEFU_STRATEGY_ROUND_ROBIN = 4       /**< least recently offered first */
} kefu_strategy;

/** Agent presence set by the host, and derived states reported back. */
typedef enum kefu_agent_state {
    KEFU_AGENT_OFFLINE = 0,
    KEFU_AGENT_AVAILABLE = 1,  /**< logged in, ready, has free capacity */
    KEFU_AGENT_AWAY = 2,       /**< logged in, takes no new offers */
    KEFU_AGENT_BUSY = 3,       /**< reported only: ready but full */
    KEFU_AGENT_WRAPUP = 4      /**< reported only: in wrap-up after work */
} kefu_agent_state;

/** Tiers: an agent of a higher tier may take work asking for a lower one. */
typedef enum kefu_tier {
    KEFU_TIER_ANY = 0, KEFU_TIER_JUNIOR = 1, KEFU_TIER_SENIOR = 2,
    KEFU_TIER_EXPERT = 3
} kefu_tier;

/** Channels are 1..KEFU_ROUTER_CHANNELS; the first ones have names. */
#define KEFU_ROUTER_CHANNELS 8
enum { KEFU_CHANNEL_VOICE = 1, KEFU_CHANNEL_CHAT = 2, KEFU_CHANNEL_EMAIL = 3,
       KEFU_CHANNEL_MESSAGING = 4, KEFU_CHANNEL_VIDEO = 5 };
/** Limits. */
#define KEFU_ROUTER_MAX_REQ_SKILLS 8   /**< required skills per conversation */
#define KEFU_ROUTER_MAX_LANGUAGES 8    /**< languages per agent */
#define KEFU_ROUTER_MAX_STEPS 8        /**< relaxation steps per queue */
#define KEFU_ROUTER_MAX_CAPACITY 64    /**< total capacity of one agent */
#define KEFU_ROUTER_MAX_LEVEL 100      /**< skill levels are 1..100 */
/** A language code: up to four ASCII letters packed, e.g. KEFU_LANG('z','h'). */
#define KEFU_LANG(a, b) ((uint32_t)(unsigned char)(a) << 8 | (uint32_t)(unsigned char)(b))

/** Router-wide options (kefu_router_set / get / bounds). */
typedef enum kefu_router_option {
    KEFU_ROUTER_AGING_MS = 1,         /**< ms of waiting worth one priority level; 0 = no aging; default 60000 */
    KEFU_ROUTER_OFFER_TIMEOUT_MS = 2, /**< reservation timeout; default 15000 */
    KEFU_ROUTER_MAX_MISSES = 3,       /**< timed-out offers in a row before the agent is set away; 0 = never; default 3 */
    KEFU_ROUTER_STATS_BUCKET_MS = 4,  /**< statistics resolution; default 60000 (resets statistics) */
    KEFU_ROUTER_STATS_BUCKETS = 5     /**< buckets kept, window = BUCKET_MS * BUCKETS; default 60 (resets statistics) */
} kefu_router_option;

/** Per-queue options (kefu_router_queue_set). */
typedef enum kefu_queue_option {
    KEFU_QUEUE_STRATEGY = 1,      /**< a kefu_strategy */
    KEFU_QUEUE_SKILL = 2,         /**< skill ranked by BEST_PROFICIENCY; 0 = none */
    KEFU_QUEUE_SL_TARGET_MS = 3   /**< service-level target; default 20000 */
} kefu_queue_option;

/**
 * A conversation to route (the session's routing request).  Set `size` to
 * sizeof(kefu_route_request).  Arrays are read during the call only.
 */
typedef struct kefu_route_request {
    uint32_t size;
    uint32_t queue;           /**< queue id */
    uint32_t channel;         /**< 1..KEFU_ROUTER_CHANNELS */
    int32_t priority;         /**< higher first, -1000000..1000000 */
    uint32_t language;        /**< 0 = any */
    uint32_t tier;            /**< kefu_tier wanted (minimum), 0 = any */
    uint32_t preferred_agent; /**< offered first when eligible; 0 = none */
    uint32_t nskills;         /**< 0..KEFU_ROUTER_MAX_REQ_SKILLS */
    const uint32_t *skills;   /**< skill ids */
    const uint32_t *levels;   /**< minimum level per skill (1..100) */
} kefu_route_request;

/** Kinds of router event (decisions and notices) read with kefu_router_poll. */
typedef enum kefu_route_event_kind {
    KEFU_ROUTE_OFFER = 1,     /**< conversation reserved for agent: accept or reject it */
    KEFU_ROUTE_TIMEOUT = 2,   /**< the offer timed out; the conversation waits again */
    KEFU_ROUTE_OVERFLOW = 3,  /**< conversation moved to `queue` by a relaxation step */
    KEFU_ROUTE_AGENT_AWAY = 4 /**< agent set away after too many missed offers */
} kefu_route_event_kind;

typedef struct kefu_route_event {
    uint32_t size;
    uint32_t kind;            /**< kefu_route_event_kind */
    uint32_t conversation;
    uint32_t agent;
    uint32_t queue;
    uint32_t reserved_;
    int64_t time_ms;          /**< when it happened (a timer's due time) */
} kefu_route_event;

/** Conversation states reported by kefu_router_conversation_info. */
typedef enum kefu_conv_state {
    KEFU_CONV_WAITING = 1, KEFU_CONV_RESERVED = 2, KEFU_CONV_ASSIGNED = 3
} kefu_conv_state;

typedef struct kefu_conversation_info {
    uint32_t size;
    uint32_t state;           /**< kefu_conv_state */
    uint32_t queue;           /**< current queue (after overflow) */
    uint32_t agent;           /**< when reserved or assigned, else 0 */
    uint32_t step;            /**< relaxation steps reached in this queue */
    int32_t priority;
    int64_t arrival_ms;
} kefu_conversation_info;

typedef struct kefu_agent_info {
    uint32_t size;
    uint32_t state;           /**< kefu_agent_state (derived) */
    uint32_t presence;        /**< as set by the host */
    uint32_t load;            /**< capacity in use (reserved + assigned) */
    uint32_t capacity;
    uint32_t conversations;   /**< reserved + assigned */
    uint32_t misses;          /**< timed-out offers in a row */
    uint32_t tier;
    int64_t idle_since_ms;
    int64_t wrapup_until_ms;  /**< 0 when not in wrap-up */
} kefu_agent_info;

/**
 * Statistics of a queue (or of all queues with queue 0) over the last
 * window_ms (rounded to whole buckets).  Rates are 0 when undefined.
 * Definitions in doc/routing.md.
 */
typedef struct kefu_route_stats {
    uint32_t size;
    uint32_t queue;
    uint64_t offered;         /**< conversations that arrived */
    uint64_t answered;        /**< offers accepted */
    uint64_t answered_in_target; /**< accepted within the queue's SL target */
    uint64_t abandoned;       /**< cancelled while waiting or reserved */
    uint64_t transfers;       /**< transferred out of an agent */
    uint64_t reroutes;        /**< overflowed to another queue */
    uint64_t waiting;         /**< waiting now */
    int64_t longest_wait_ms;  /**< of those waiting now */
    double service_level;     /**< answered_in_target / (answered + abandoned) */
    double asa_ms;            /**< mean wait of answered conversations */
    double abandon_rate;      /**< abandoned / (answered + abandoned) */
    double occupancy;         /**< busy / staffed agent time (router-wide) */
    double transfer_rate;     /**< transfers / answered */
} kefu_route_stats;

/**
 * A router, empty or populated from the model's `skills`, `queues` and
 * `agents` sections (model may be NULL; it is not kept).  Agents from the
 * model start with the presence written there (default offline) at time 0.
 */
KEFU_API int kefu_router_new(kefu_router **out, const kefu_model *model, const kefu_allocator *alloc);
KEFU_API void kefu_router_free(kefu_router *router);
KEFU_API const kefu_diag *kefu_router_diag(const kefu_router *router);
KEFU_API int kefu_router_set(kefu_router *router, kefu_router_option opt, int64_t value);
KEFU_API int kefu_router_get(const kefu_router *router, kefu_router_option opt, int64_t *value);
KEFU_API int kefu_router_bounds(kefu_router_option opt, int64_t *lo, int64_t *hi);

/** Adds a queue.  Strategy is a kefu_strategy. */
KEFU_API int kefu_router_queue_add(kefu_router *router, int64_t now_ms, uint32_t queue, uint32_t strategy);
KEFU_API int kefu_router_queue_set(kefu_router *router, int64_t now_ms, uint32_t queue, kefu_queue_option opt, int64_t value);
/**
 * Appends a relaxation step: once a conversation has waited after_ms in
 * this queue, lower every required level by level_drop, accept agents of
 * min_tier (0: keep the request's tier), ignore skills and tier when
 * any_agent is 1, and move it to overflow_queue when non-zero.  Steps
 * accumulate; after_ms must grow from step to step.
 */
KEFU_API int kefu_router_queue_step(kefu_router *router, int64_t now_ms, uint32_t queue, int64_t after_ms, uint32_t level_drop, uint32_t min_tier, uint32_t any_agent, uint32_t overflow_queue);

/**
 * Brings the router in line with a model's floor without logging anyone
 * out (hot reload): queues and agents of the model are added when missing;
 * existing ones take the model's strategy, skill, target and steps
 * (waiting conversations then reach the new steps from their time in the
 * queue, at now_ms at the earliest), and tier, capacity, channel costs,
 * languages, skills and queue memberships.  Presence, load, conversations,
 * statistics and unread events are kept; queues and agents that are not
 * in the model are left alone.  All or nothing: on error (for example a
 * capacity below what an agent holds) the router is as before, apart from
 * its clock having moved to now_ms.
 */
KEFU_API int kefu_router_reload(kefu_router *router, int64_t now_ms, const kefu_model *model);

/** Adds an agent, offline, with a tier and a total capacity (1..64). */
KEFU_API int kefu_router_agent_add(kefu_router *router, int64_t now_ms, uint32_t agent, uint32_t tier, uint32_t capacity);
/** Removes an agent that holds no conversation. */
KEFU_API int kefu_router_agent_remove(kefu_router *router, int64_t now_ms, uint32_t agent);
/** Sets a skill level 1..100; level 0 removes the skill. */
KEFU_API int kefu_router_agent_skill(kefu_router *router, int64_t now_ms, uint32_t agent, uint32_t skill, uint32_t level);
/** Capacity cost of one conversation on a channel; 0: the agent does not take it. */
KEFU_API int kefu_router_agent_channel(kefu_router *router, int64_t now_ms, uint32_t agent, uint32_t channel, uint32_t cost);
KEFU_API int kefu_router_agent_language(kefu_router *router, int64_t now_ms, uint32_t agent, uint32_t language, uint32_t on);
KEFU_API int kefu_router_agent_queue(kefu_router *router, int64_t now_ms, uint32_t agent, uint32_t queue, uint32_t on);
/** Presence: KEFU_AGENT_OFFLINE (only without conversations), AVAILABLE or AWAY. */
KEFU_API int kefu_router_agent_state(kefu_router *router, int64_t now_ms, uint32_t agent, uint32_t state);
KEFU_API int kefu_router_agent_info(const kefu_router *router, uint32_t agent, kefu_agent_info *out);

/** A new conversation: offered to the best eligible agent now, or queued. */
KEFU_API int kefu_router_submit(kefu_router *router, int64_t now_ms, uint32_t conversation, const kefu_route_request *req);
/**
 * The agent took the offer: the conversation is assigned.  `agent` must be
 * the one the conversation is reserved for (KEFU_E_STATE otherwise: the
 * offer timed out and went elsewhere).
 */
KEFU_API int kefu_router_accept(kefu_router *router, int64_t now_ms, uint32_t conversation, uint32_t agent);
/** The agent declined: the conversation waits again at its place. */
KEFU_API int kefu_router_reject(kefu_router *router, int64_t now_ms, uint32_t conversation, uint32_t agent);
/** Work done: the conversation leaves; the agent wraps up for wrapup_ms. */
KEFU_API int kefu_router_complete(kefu_router *router, int64_t now_ms, uint32_t conversation, int64_t wrapup_ms);
/** The customer left (waiting or reserved): counted as abandoned. */
KEFU_API int kefu_router_cancel(kefu_router *router, int64_t now_ms, uint32_t conversation);
/** An assigned conversation goes back to wait in `queue` (its arrival time is kept). */
KEFU_API int kefu_router_transfer(kefu_router *router, int64_t now_ms, uint32_t conversation, uint32_t queue);
/** Fires the timers due by now_ms (offer timeouts, wrap-up ends, relaxation steps). */
KEFU_API int kefu_router_tick(kefu_router *router, int64_t now_ms);
/** Next event in order; KEFU_E_EMPTY when there is none. */
KEFU_API int kefu_router_poll(kefu_router *router, kefu_route_event *out);
KEFU_API int kefu_router_conversation_info(const kefu_router *router, uint32_t conversation, kefu_conversation_info *out);
KEFU_API int kefu_router_stats(const kefu_router *router, int64_t now_ms, uint32_t queue, int64_t window_ms, kefu_route_stats *out);

/**
 * Writes the whole state (versioned, CRC-checked) into buf.  *len gets the
 * size needed; KEFU_E_BUFFER when cap is smaller (call with cap 0 to ask).
 */
KEFU_API int kefu_router_snapshot(const kefu_router *router, void *buf, size_t cap, size_t *len);
/**
 * Replaces the router's state with a snapshot.  A damaged or inconsistent
 * snapshot is KEFU_E_CORRUPT (KEFU_E_VERSION for another format) and leaves
 * the router as it was.
 */
KEFU_API int kefu_router_restore(kefu_router *router, const void *data, size_t len);


/* ------------------------------------------------------------------------
 * Staffing arithmetic (staffing.c)
 *
 * Erlang C (M/M/n) and Erlang A (M/M/n+M, exponential patience) for one
 * skill.  Rates per second, times in seconds.  Stable for thousands of
 * agents (recurrences and log-space sums, no factorials).
 * ---------------------------------------------------------------------- */

typedef struct kefu_erlang_result {
    uint32_t size;
    uint32_t agents;
    double load_erlangs;   /**< arrival_rate * aht */
    double occupancy;      /**< carried load / agents */
    double p_wait;         /**< probability an arrival waits */
    double asa_s;          /**< mean wait of answered contacts */
    double service_level;  /**< answered within the target / offered */
    double abandon_rate;   /**< 0 for Erlang C */
    double mean_queue;     /**< mean number waiting */
} kefu_erlang_result;

/**
 * Erlang C.  KEFU_E_LIMIT when agents <= load (the queue grows without
 * bound): out then has p_wait 1, service_level 0 and asa_s INFINITY.
 */
KEFU_API int kefu_erlang_c(kefu_erlang_result *out, double arrival_rate, double aht_s, uint32_t agents, double sl_target_s);
/** Erlang A with mean patience patience_s (> 0); stable for any agents. */
KEFU_API int kefu_erlang_a(kefu_erlang_result *out, double arrival_rate, double aht_s, double patience_s, uint32_t agents, double sl_target_s);
/**
 * Fewest agents whose service level reaches sl_goal (0..1): Erlang C when
 * patience_s is 0, else Erlang A.  KEFU_E_LIMIT above 100000 agents.
 */
KEFU_API int kefu_erlang_agents(uint32_t *agents, double arrival_rate, double aht_s, double patience_s, double sl_target_s, double sl_goal);


#ifdef __cplusplus
}
#endif

#endif /* KEFU_H */
