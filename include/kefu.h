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
 * ---------------------------------------------------------------------- */

/* ------------------------------------------------------------------------
 * Routing (router.c)
 * ---------------------------------------------------------------------- */

/* ------------------------------------------------------------------------
 * Staffing arithmetic (staffing.c)
 * ---------------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif

#endif /* KEFU_H */
