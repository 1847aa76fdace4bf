/*
 * entity_value.h - how an entity match becomes its value: normalisations
 * and the canonical forms and checks of the built-in kinds.  Needs only
 * core (and check digits).
 */
#ifndef KEFU_ENTITY_VALUE_H
#define KEFU_ENTITY_VALUE_H

#include "core.h"

/* How a match becomes a value (`normalize:`). */
enum kefu_entity_norm {
    KEFU_NORM_TEXT = 0,    /* the normalised text of the match (default) */
    KEFU_NORM_ORIGINAL,    /* the caller's original bytes */
    KEFU_NORM_DIGITS,      /* digits only (a leading + kept) */
    KEFU_NORM_UPPER,       /* upper-cased ASCII, spaces removed */
    KEFU_NORM_COMPACT,     /* normalised text without spaces */
    KEFU_NORM_PHONE,       /* built-in canonical forms */
    KEFU_NORM_AMOUNT,
    KEFU_NORM_DATE
};

/* Checks of the built-in kinds, applied before a match is kept. */
enum kefu_entity_check {
    KEFU_CHECK_NONE = 0,
    KEFU_CHECK_PHONE,      /* 7-15 digits */
    KEFU_CHECK_DIGIT       /* holds a digit; bare: not a card or ID number */
};

/* A slice of the normalised text. */
typedef struct kefu_span {
    const char *s;
    size_t len;
} kefu_span;

/*
 * Appends the value of match m (normalised text; orig/olen the caller's
 * bytes of it) to b.  Returns 1 when the match is kept, 0 when a check
 * rejects it (b unchanged), or KEFU_E_NOMEM.  `bare`: the match came
 * without a cue word (order_id's second alternative).
 */
int kefu_entity_value(const kefu_mem *mem, kefu_buf *b, int norm, int check,
                      kefu_span m, const char *orig, size_t olen, bool bare);

#endif
