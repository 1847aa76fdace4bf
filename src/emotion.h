/*
 * emotion.h - the emotion stage: a bilingual lexicon matched over the text
 * stage's tokens, VADER-style rules (negation scope, degree words,
 * contrast, rhetorical questions, punctuation runs, capitals, elongation)
 * and a calibrated 0..100 scale; plus the per-conversation tracker.
 * Needs core, text, yaml_doc and the model/scratch frames.
 */
#ifndef KEFU_EMOTION_H
#define KEFU_EMOTION_H

#include "core.h"
#include "model.h"
#include "scratch.h"
#include "text.h"
#include "yaml_doc.h"

#define KEFU_EMO_NCAT KEFU_EMOTION_COUNT

/* Roles of lexicon entries. */
enum {
    KEFU_EMO_LEX = 1,  /* carries strengths */
    KEFU_EMO_NEG = 2,  /* negator: opens a negation scope */
    KEFU_EMO_DEG = 3,  /* degree word before a term; w[0] = factor in % */
    KEFU_EMO_POST = 4, /* degree word after a term (气死了); w[0] = % */
    KEFU_EMO_CON = 5   /* contrast: what precedes weighs less */
};

/* Flags of lexical entries. */
#define KEFU_EMO_F_NONEG 1u /* never negated (emoji, profanity, absorbers) */
#define KEFU_EMO_F_BOOST 2u /* also intensifies the next term */
#define KEFU_EMO_F_RHET 4u  /* opens a rhetorical question */
#define KEFU_EMO_F_DEGREE 8u /* has a degree word inside (很满意) */

/* Longest term, in tokens. */
#define KEFU_EMO_MAX_TOKENS 8

#define KEFU_EMO_FIRST_WORDS 1024 /* 65536 bits */

/* A built-in entry (src/emotion_lexicon.h). */
typedef struct kefu_emo_builtin {
    const char *term;
    uint8_t role;
    uint8_t flags;
    uint8_t w[KEFU_EMO_NCAT];
} kefu_emo_builtin;

/* A compiled entry. */
typedef struct kefu_emo_entry {
    uint8_t role;
    uint8_t flags;
    uint8_t ntok;
    uint8_t from_model;  /* added or overridden by the model's YAML */
    uint8_t w[KEFU_EMO_NCAT];
} kefu_emo_entry;

/* One slot of the open-addressing index of token sequences.  A slot is a
 * prefix of at least one term (so matching can stop early) and, when
 * `entry` is non-zero, a whole term (entry index + 1). */
typedef struct kefu_emo_slot {
    uint64_t h;      /* sequence hash, 0 = empty */
    uint32_t entry;
    uint32_t ntok;
} kefu_emo_slot;

/* Raw score -> 0..100: 100 * (1 - exp(-(raw / k)^p)), per category and
 * for negativity (index KEFU_EMO_NCAT).  See doc/emotion.md. */
typedef struct kefu_emo_scale {
    float k[KEFU_EMO_NCAT + 1];
    float p[KEFU_EMO_NCAT + 1];
} kefu_emo_scale;

struct kefu_emotion_trained; /* the learner-based mode (issue 4, to come) */

struct kefu_emotion_model {
    kefu_mem mem;
    kefu_emo_entry *entries;
    size_t nentries, cap_entries;
    kefu_emo_slot *slots;
    size_t mask;            /* slots - 1 (power of two) */
    size_t nslots_used;
    /* Bit set of the hashes of every slot (term or prefix): most token
     * sequences are in no term, and this answers for them from L1 cache
     * instead of a probe into the slot table. */
    uint64_t first[KEFU_EMO_FIRST_WORDS];
    size_t nbuiltin;        /* built-in entries compiled */
    size_t nmodel;          /* entries from the model's `emotion:` section */
    kefu_emo_scale scale;
    /* Hook for the trained mode: when set, kefu_emotion_score() will ask
     * the learner for the data's own labels; NULL means built-in only. */
    struct kefu_emotion_trained *trained;
};

/* Per-thread working area (kept in kefu_scratch.emotion). */
struct kefu_emotion_scratch {
    uint64_t *th;    /* per-token hash */
    uint8_t *tf;     /* per-token flags */
    size_t cap;
};

/* Lexicon features of the last message, for the trained mode: the raw
 * (unscaled) category scores before and after the message-level rules, and
 * counters of the cues that fired. */
typedef struct kefu_emo_features {
    float raw[KEFU_EMO_NCAT];      /* after rules, before the 0..100 map */
    float lex[KEFU_EMO_NCAT];      /* plain sum of the matched strengths */
    float negativity_raw;
    uint32_t matched, negated, boosted, contrasts, exclamations, questions,
             caps_words, elongated, rhetorical;
} kefu_emo_features;

/* Model section and engine step (registered in model.c). */
int kefu_emotion_parse(struct kefu_model *m, const kefu_ynode *node,
                       kefu_load_ctx *ctx);
int kefu_emotion_finish(struct kefu_model *m, kefu_diag *diag);
void kefu_emotion_release(struct kefu_model *m);

/* Frees the scratch's emotion area (called by kefu_scratch_free). */
void kefu_emotion_scratch_free(kefu_scratch *s);

/*
 * Runs the text stage and the lexicon rules on one message and fills
 * `feat` (the trained mode feeds these to the learner next to n-grams).
 * The tokens stay in s->text for the caller.
 */
int kefu_emotion_features(kefu_scratch *s, const char *text, size_t len,
                          kefu_emo_features *feat);

/* Maps raw scores to the public 0..100 result. */
void kefu_emotion_scale_apply(const kefu_emo_scale *sc,
                              const kefu_emo_features *f, kefu_emotion *out);

/* ---- tracker state as bytes (for sessions) ----
 * Fixed little-endian layout, KEFU_EMOTION_TRACK_BYTES long:
 *   0  "KEMT"            magic
 *   4  u16 version (1)   6  u16 reserved (0)
 *   8  u32 options[6]    half_life_turns, half_life_ms, external_weight,
 *                        external_mask, trend_turns, trend_threshold
 *  32  u32 turns        36  u32 peak_turn
 *  40  i64 last_ms      48  u32 hist_len, 52 u32 hist_head
 *  56  f32 sum[7]       84  f32 wsum
 *  88  f32 peak[7]     116  f32 last[7]
 * 144  f32 hist[16][7] (ring of the last fused scores)
 * 592  u32 crc32 of bytes 0..591
 * Floats are IEEE-754 binary32 bit patterns. */
#define KEFU_EMOTION_TRACK_BYTES 596
#define KEFU_EMOTION_TRACK_HIST 16

/* Writes the state; KEFU_E_BUFFER if cap < KEFU_EMOTION_TRACK_BYTES. */
int kefu_emotion_track_save(const kefu_emotion_track *t, uint8_t *buf,
                            size_t cap, size_t *len);
/* Restores a state written by kefu_emotion_track_save; KEFU_E_CORRUPT or
 * KEFU_E_VERSION leave `t` unchanged. */
int kefu_emotion_track_load(kefu_emotion_track *t, const uint8_t *buf,
                            size_t len);
/* dst takes src's whole state (options included): the undo copy a session
 * keeps while a turn runs, without serialising it. */
void kefu_emotion_track_copy(kefu_emotion_track *dst,
                             const kefu_emotion_track *src);

#endif
