/*
 * scratch.h - per-thread working memory bound to one model.  Each engine
 * keeps its own working area here; the struct is internal and grows as
 * engines need.  Engines must not keep results across calls elsewhere.
 */
#ifndef KEFU_SCRATCH_H
#define KEFU_SCRATCH_H

#include "core.h"
#include "model.h"
#include "text.h"

struct kefu_emotion_scratch;
struct kefu_intent_scratch;
struct kefu_entity_scratch;
struct kefu_redact_scratch;

struct kefu_scratch {
    kefu_mem mem;
    const struct kefu_model *model;
    kefu_diag diag;
    kefu_text text;             /* tokens of the last message */
    struct kefu_intent_scratch *intent;
    struct kefu_entity_scratch *entity;     /* entity.c */
    struct kefu_redact_scratch *redact;     /* redact.c */
    struct kefu_emotion_scratch *emotion;
    struct kefu_emoclf_scratch *emoclf;
    /* Set by the session for the length of one turn: the engines it calls
     * one after the other then share one text-stage run of the message
     * (same pointer and length) instead of each normalising it again. */
    bool reuse_text;
    const char *text_ptr;
    size_t text_len;
};

/* Runs the text stage on the scratch's text object; on failure the error
 * is copied to the scratch's diag. */
int kefu_scratch_text(kefu_scratch *s, const char *text, size_t len);

#endif
