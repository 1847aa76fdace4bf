/*
 * emotion.c - per-message emotion scores from the built-in lexicon and the
 * model's additions, with VADER-style rules worked out for Chinese and
 * English.  doc/emotion.md explains the rules and the 0..100 scale.
 *
 * Matching runs over the text stage's tokens.  Every term of the lexicon
 * is itself run through the text stage when the model is loaded, so a
 * term is a token sequence (one token per CJK character, one per Latin
 * word, punctuation runs, emoji).  Sequences are hashed token by token into
 * an open-addressing table that also holds every proper prefix, so the
 * longest match at a position is found by extending while the prefix is
 * known.  Nothing is allocated per call once the scratch has grown.
 */
#include "emotion.h"

#include <math.h>
#include <stdio.h>

#include "emotion_lexicon.h"

/* ---- hashing of token sequences ---- */

#define SEQ_SEED 0x243F6A8885A308D3ULL
#define TOK_SEED 0x6b65667565656d6fULL /* "kefueemo" */

static inline uint64_t seq_next(uint64_t h, uint64_t th)
{
    h ^= th + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    return h | 1; /* 0 marks an empty slot */
}

static inline bool first_maybe(const struct kefu_emotion_model *em, uint64_t h)
{
    uint32_t b = (uint32_t)(h >> 48); /* 16 bits */
    return (em->first[b >> 6] >> (b & 63)) & 1;
}

static const kefu_emo_slot *slot_find(const struct kefu_emotion_model *em,
                                      uint64_t h, uint32_t ntok)
{
    size_t i = (size_t)(h ^ (h >> 32)) & em->mask;
    for (;;) {
        const kefu_emo_slot *s = &em->slots[i];
        if (s->h == 0)
            return NULL;
        if (s->h == h && s->ntok == ntok)
            return s;
        i = (i + 1) & em->mask;
    }
}

static kefu_emo_slot *slot_insert(struct kefu_emotion_model *em, uint64_t h,
                                  uint32_t ntok)
{
    size_t i = (size_t)(h ^ (h >> 32)) & em->mask;
    for (;;) {
        kefu_emo_slot *s = &em->slots[i];
        if (s->h == 0) {
            s->h = h;
            s->ntok = ntok;
            s->entry = 0;
            em->nslots_used++;
            return s;
        }
        if (s->h == h && s->ntok == ntok)
            return s;
        i = (i + 1) & em->mask;
    }
}

static int slots_grow(struct kefu_emotion_model *em, size_t want)
{
    size_t n = 1024;
    kefu_emo_slot *old = em->slots, *nw;
    size_t oldn = em->slots ? em->mask + 1 : 0;
    while (n < want * 2)
        n <<= 1;
    if (n <= oldn)
        return KEFU_OK;
    nw = kefu_alloc_array(&em->mem, n, sizeof *nw);
    if (!nw)
        return KEFU_E_NOMEM;
    memset(nw, 0, n * sizeof *nw);
    em->slots = nw;
    em->mask = n - 1;
    em->nslots_used = 0;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].h) {
            kefu_emo_slot *s = slot_insert(em, old[i].h, old[i].ntok);
            s->entry = old[i].entry;
        }
    kefu_dealloc(&em->mem, old);
    return KEFU_OK;
}

/* Is `p[0..n)` ASCII letters with a run of 3+ equal letters? */
static bool elongated(const char *p, size_t n)
{
    for (size_t i = 2; i < n; i++)
        if (p[i] == p[i - 1] && p[i] == p[i - 2] && (unsigned char)p[i] >= 'a' &&
            (unsigned char)p[i] <= 'z')
            return true;
    return false;
}

/* Copies p squeezing runs of 3+ equal characters down to `keep`. */
static size_t squeeze(const char *p, size_t n, char *out, size_t cap, int keep)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap;) {
        size_t j = i;
        while (j < n && p[j] == p[i])
            j++;
        size_t run = j - i;
        size_t put = run >= 3 ? (size_t)keep : run;
        for (size_t k = 0; k < put && o < cap; k++)
            out[o++] = p[i];
        i = j;
    }
    return o;
}

static inline uint64_t tok_hash(const char *p, size_t n)
{
    return kefu_hash64(p, n, TOK_SEED);
}

/* ---- building the compiled lexicon ---- */

typedef struct emo_pending {
    char *term;
    uint8_t w[KEFU_EMO_NCAT];
} emo_pending;

typedef struct emo_builder {
    kefu_mem mem;
    bool builtin;
    emo_pending *items;
    size_t n, cap;
} emo_builder;

/* Adds a term (already tokenised in t); returns KEFU_OK, or KEFU_E_EMPTY /
 * KEFU_E_LIMIT for a term with no tokens or too many. */
static int add_term(struct kefu_emotion_model *em, const kefu_text *t,
                    const kefu_emo_entry *e, bool replace)
{
    uint64_t h = SEQ_SEED;
    size_t n = t->ntoks;
    kefu_emo_slot *s = NULL;
    if (n == 0)
        return KEFU_E_EMPTY;
    if (n > KEFU_EMO_MAX_TOKENS)
        return KEFU_E_LIMIT;
    if (slots_grow(em, em->nslots_used + n + 1))
        return KEFU_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const kefu_tok *k = &t->toks[i];
        h = seq_next(h, tok_hash(t->norm.data + k->norm_off, k->norm_len));
        s = slot_insert(em, h, (uint32_t)(i + 1));
        em->first[(h >> 48) >> 6] |= 1ULL << ((h >> 48) & 63);
    }
    if (s->entry) {
        if (replace) {
            em->entries[s->entry - 1] = *e;
            em->entries[s->entry - 1].ntok = (uint8_t)n;
        }
        return KEFU_OK;
    }
    if (kefu_grow(&em->mem, (void **)&em->entries, &em->cap_entries,
                  em->nentries + 1, sizeof *em->entries))
        return KEFU_E_NOMEM;
    em->entries[em->nentries] = *e;
    em->entries[em->nentries].ntok = (uint8_t)n;
    s->entry = (uint32_t)++em->nentries;
    return KEFU_OK;
}

/* English inflections of a single-word lexical entry, added when absent:
 * complain -> complains, complained, complaining. */
static int add_inflections(struct kefu_emotion_model *em, kefu_text *t,
                           const char *w, const kefu_emo_entry *e)
{
    size_t n = strlen(w);
    char buf[4][64];
    int nv = 0;
    if (n < 3 || n > 40)
        return KEFU_OK;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return KEFU_OK;
    if (w[n - 1] == 'e') {
        snprintf(buf[nv++], 64, "%ss", w);
        snprintf(buf[nv++], 64, "%sd", w);
        snprintf(buf[nv++], 64, "%.*sing", (int)(n - 1), w);
    } else if (w[n - 1] == 'y' && !strchr("aeiou", w[n - 2])) {
        snprintf(buf[nv++], 64, "%.*sies", (int)(n - 1), w);
        snprintf(buf[nv++], 64, "%.*sied", (int)(n - 1), w);
        snprintf(buf[nv++], 64, "%sing", w);
    } else {
        bool sib = w[n - 1] == 's' || w[n - 1] == 'x' ||
                   (n > 2 && w[n - 1] == 'h' && (w[n - 2] == 's' || w[n - 2] == 'c'));
        snprintf(buf[nv++], 64, sib ? "%ses" : "%ss", w);
        snprintf(buf[nv++], 64, "%sed", w);
        snprintf(buf[nv++], 64, "%sing", w);
    }
    for (int i = 0; i < nv; i++) {
        int rc = kefu_text_run(t, buf[i], strlen(buf[i]));
        if (rc == KEFU_OK)
            rc = add_term(em, t, e, false);
        if (rc && rc != KEFU_E_EMPTY && rc != KEFU_E_LIMIT)
            return rc;
    }
    return KEFU_OK;
}

/* Default scale (doc/emotion.md; fitted by tests/bench/bench_emotion.sh
 * --calibrate on the train splits). */
static const kefu_emo_scale default_scale = {
    /* anger anxiety disapp. sadness fear joy negativity */
    {0.562f, 0.562f, 0.562f, 0.401f, 0.615f, 0.367f, 0.322f},
    {1.000f, 1.000f, 1.000f, 1.000f, 1.184f, 1.000f, 1.000f},
};

static int compile_model(struct kefu_model *m, const emo_builder *b,
                         kefu_diag *diag)
{
    struct kefu_emotion_model *em;
    kefu_text t;
    int rc = KEFU_OK;
    em = kefu_zalloc(&m->mem, sizeof *em);
    if (!em)
        return kefu_diag_msg(diag, KEFU_E_NOMEM, "out of memory");
    em->mem = m->mem;
    em->scale = default_scale;
    m->emotion = em;
    kefu_model_text_init(m, &t);
    t.mem = m->mem;
    t.max_bytes = 1 << 20; /* terms are short; the message limit is not theirs */
    if ((rc = slots_grow(em, 4096)))
        goto out;
    if (!b || b->builtin) {
        /* explicit entries first, then the inflections they imply */
        for (int pass = 0; pass < 2 && !rc; pass++)
            for (size_t i = 0; i < KEFU_ARRAY_LEN(kefu_emo_lexicon) && !rc; i++) {
                const kefu_emo_builtin *bi = &kefu_emo_lexicon[i];
                kefu_emo_entry e = {bi->role, bi->flags, 0, 0, {0}};
                memcpy(e.w, bi->w, sizeof e.w);
                if (pass == 0) {
                    rc = kefu_text_run(&t, bi->term, strlen(bi->term));
                    if (rc == KEFU_OK)
                        rc = add_term(em, &t, &e, true);
                } else if (bi->role == KEFU_EMO_LEX && bi->flags == 0) {
                    rc = add_inflections(em, &t, bi->term, &e);
                }
            }
        em->nbuiltin = em->nentries;
    }
    for (size_t i = 0; b && i < b->n && !rc; i++) {
        kefu_emo_entry e = {KEFU_EMO_LEX, 0, 0, 1, {0}};
        memcpy(e.w, b->items[i].w, sizeof e.w);
        rc = kefu_text_run(&t, b->items[i].term, strlen(b->items[i].term));
        if (rc == KEFU_OK)
            rc = add_term(em, &t, &e, true);
        em->nmodel++;
    }
out:
    kefu_text_release(&t);
    if (rc)
        return kefu_diag_msg(diag, rc, "emotion lexicon: %s", kefu_strerror(rc));
    return KEFU_OK;
}

/* ---- the `emotion:` section ---- */

static const char *const cat_names[KEFU_EMO_NCAT] = {
    "anger", "anxiety", "disappointment", "sadness", "fear", "joy"};

KEFU_API const char *kefu_emotion_category_name(int c)
{
    return c >= 0 && c < KEFU_EMO_NCAT ? cat_names[c] : NULL;
}

static void builder_free(emo_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        kefu_dealloc(&b->mem, b->items[i].term);
    kefu_dealloc(&b->mem, b->items);
    kefu_dealloc(&b->mem, b);
}

static int parse_entry(emo_builder *b, const kefu_ynode *n, kefu_load_ctx *ctx,
                       kefu_text *t)
{
    static const char *const keys[] = {"term", "anger", "anxiety",
                                       "disappointment", "sadness", "fear",
                                       "joy", NULL};
    const kefu_ynode *tn;
    const char *term;
    size_t tlen;
    emo_pending p = {NULL, {0}};
    int rc, any = 0;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, n, KEFU_Y_MAP,
                            "a lexicon entry ({term: ..., anger: 0..100, ...})")))
        return rc;
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, n, keys)))
        return rc;
    if (!(tn = kefu_ymap_get(n, "term")))
        return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                         "lexicon entry without 'term'");
    if ((rc = kefu_y_string(ctx->diag, ctx->doc, tn, &term, &tlen)))
        return rc;
    for (int c = 0; c < KEFU_EMO_NCAT; c++) {
        const kefu_ynode *v = kefu_ymap_get(n, cat_names[c]);
        int64_t x;
        if (!v)
            continue;
        if ((rc = kefu_y_int(ctx->diag, ctx->doc, v, 0, 100, &x)))
            return rc;
        p.w[c] = (uint8_t)x;
        any = 1;
    }
    if (!any)
        return kefu_yerr(ctx->diag, ctx->doc, n, KEFU_E_MODEL,
                         "lexicon entry '%s' gives no category (anger, "
                         "anxiety, disappointment, sadness, fear, joy); use "
                         "0 to neutralise a built-in term", term);
    rc = kefu_text_run(t, term, tlen);
    if (rc == KEFU_OK && t->ntoks == 0)
        rc = KEFU_E_EMPTY;
    else if (rc == KEFU_OK && t->ntoks > KEFU_EMO_MAX_TOKENS)
        rc = KEFU_E_LIMIT;
    if (rc)
        return kefu_yerr(ctx->diag, ctx->doc, tn, KEFU_E_MODEL,
                         "lexicon term '%s' %s", term,
                         rc == KEFU_E_EMPTY ? "has no words"
                         : rc == KEFU_E_LIMIT ? "is longer than 8 tokens"
                                              : kefu_strerror(rc));
    if (kefu_grow(&b->mem, (void **)&b->items, &b->cap, b->n + 1,
                  sizeof *b->items) ||
        !(p.term = kefu_strndup(&b->mem, term, tlen)))
        return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
    b->items[b->n++] = p;
    return KEFU_OK;
}

int kefu_emotion_parse(struct kefu_model *m, const kefu_ynode *node,
                       kefu_load_ctx *ctx)
{
    static const char *const keys[] = {"lexicon", "builtin", NULL};
    emo_builder *b = m->building[KEFU_BUILD_EMOTION];
    const kefu_ynode *v;
    kefu_text t;
    int rc;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, node, KEFU_Y_MAP,
                            "the emotion section (lexicon:, builtin:)")))
        return rc;
    if ((rc = kefu_y_keys(ctx->diag, ctx->doc, node, keys)))
        return rc;
    if (!b) {
        b = kefu_zalloc(&m->mem, sizeof *b);
        if (!b)
            return kefu_diag_msg(ctx->diag, KEFU_E_NOMEM, "out of memory");
        b->mem = m->mem;
        b->builtin = true;
        m->building[KEFU_BUILD_EMOTION] = b;
    }
    if ((v = kefu_ymap_get(node, "builtin"))) {
        bool on;
        if ((rc = kefu_y_bool(ctx->diag, ctx->doc, v, &on)))
            return rc;
        b->builtin = on;
    }
    if (!(v = kefu_ymap_get(node, "lexicon")))
        return KEFU_OK;
    if ((rc = kefu_y_expect(ctx->diag, ctx->doc, v, KEFU_Y_SEQ,
                            "a list of lexicon entries")))
        return rc;
    kefu_model_text_init(m, &t);
    t.mem = m->mem;
    t.max_bytes = 1 << 20; /* terms are short; the message limit is not theirs */
    for (size_t i = 0; i < v->n && !rc; i++)
        rc = parse_entry(b, v->items[i], ctx, &t);
    kefu_text_release(&t);
    return rc;
}

int kefu_emotion_finish(struct kefu_model *m, kefu_diag *diag)
{
    emo_builder *b = m->building[KEFU_BUILD_EMOTION];
    int rc = compile_model(m, b, diag);
    builder_free(b);
    m->building[KEFU_BUILD_EMOTION] = NULL;
    return rc;
}

void kefu_emotion_release(struct kefu_model *m)
{
    struct kefu_emotion_model *em = m->emotion;
    builder_free(m->building[KEFU_BUILD_EMOTION]);
    m->building[KEFU_BUILD_EMOTION] = NULL;
    if (!em)
        return;
    kefu_dealloc(&em->mem, em->slots);
    kefu_dealloc(&em->mem, em->entries);
    kefu_dealloc(&em->mem, em);
    m->emotion = NULL;
}

/* ---- scoring ---- */

void kefu_emotion_scratch_free(kefu_scratch *s)
{
    struct kefu_emotion_scratch *es;
    if (!s || !(es = s->emotion))
        return;
    kefu_dealloc(&s->mem, es->th);
    kefu_dealloc(&s->mem, es->tf);
    kefu_dealloc(&s->mem, es);
    s->emotion = NULL;
}

/* Token flags. */
#define TF_ELONG 1u  /* letters were repeated (sooo) */
#define TF_CAPS 2u   /* written in capitals in the input (ANGRY) */
#define TF_BREAK 4u  /* clause boundary punctuation */

static int scratch_reserve(kefu_scratch *s, size_t n)
{
    struct kefu_emotion_scratch *es = s->emotion;
    if (!es) {
        es = kefu_zalloc(&s->mem, sizeof *es);
        if (!es)
            return KEFU_E_NOMEM;
        s->emotion = es;
    }
    if (n > es->cap) {
        size_t cap = n < 64 ? 64 : n + n / 2;
        uint64_t *th = kefu_alloc_array(&s->mem, cap, sizeof *th);
        uint8_t *tf = kefu_alloc(&s->mem, cap);
        if (!th || !tf) {
            kefu_dealloc(&s->mem, th);
            kefu_dealloc(&s->mem, tf);
            return KEFU_E_NOMEM;
        }
        kefu_dealloc(&s->mem, es->th);
        kefu_dealloc(&s->mem, es->tf);
        es->th = th;
        es->tf = tf;
        es->cap = cap;
    }
    return KEFU_OK;
}

static bool is_break(const char *p, size_t n)
{
    unsigned char c = (unsigned char)p[0];
    if (c < 0x80)
        return c == ',' || c == '.' || c == ';' || c == '!' || c == '?' ||
               c == ':' || c == '~';
    /* 。 、 … */
    if (n < 3)
        return false;
    if (c == 0xE3 && (unsigned char)p[1] == 0x80)
        return (unsigned char)p[2] == 0x82 || (unsigned char)p[2] == 0x81;
    return c == 0xE2 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0xA6;
}

/* Hashes every token and notes its flags.  `src` is the original input
 * (for capitals). */
static void prepare_tokens(const struct kefu_emotion_model *em,
                           const kefu_text *t, const char *src,
                           struct kefu_emotion_scratch *es)
{
    for (size_t i = 0; i < t->ntoks; i++) {
        const kefu_tok *k = &t->toks[i];
        const char *p = t->norm.data + k->norm_off;
        uint8_t f = 0;
        uint64_t h = tok_hash(p, k->norm_len);
        if (k->kind == KEFU_TOKEN_WORD) {
            uint32_t up = 0, low = 0;
            for (uint32_t b = k->byte_start; b < k->byte_end; b++) {
                unsigned char c = (unsigned char)src[b];
                up += c >= 'A' && c <= 'Z';
                low += c >= 'a' && c <= 'z';
            }
            if (up >= 2 && low == 0)
                f |= TF_CAPS;
            if (k->norm_len >= 3 && k->norm_len < 64 &&
                elongated(p, k->norm_len) &&
                !slot_find(em, seq_next(SEQ_SEED, h), 1)) {
                char buf[64];
                for (int keep = 2; keep >= 1; keep--) {
                    size_t n = squeeze(p, k->norm_len, buf, sizeof buf, keep);
                    uint64_t h2 = tok_hash(buf, n);
                    if (slot_find(em, seq_next(SEQ_SEED, h2), 1) || keep == 1) {
                        h = h2;
                        break;
                    }
                }
                f |= TF_ELONG;
            }
        } else if (k->kind == KEFU_TOKEN_PUNCT && is_break(p, k->norm_len)) {
            f |= TF_BREAK;
        }
        es->th[i] = h;
        es->tf[i] = f;
    }
}

/* Longest entry starting at token i; *len gets its token count. */
static const kefu_emo_entry *longest_match(const struct kefu_emotion_model *em,
                                           const uint64_t *th, size_t i,
                                           size_t n, size_t *len)
{
    const kefu_emo_entry *best = NULL;
    uint64_t h = SEQ_SEED;
    for (size_t l = 1; l <= KEFU_EMO_MAX_TOKENS && i + l <= n; l++) {
        const kefu_emo_slot *s;
        h = seq_next(h, th[i + l - 1]);
        if (!first_maybe(em, h))
            break;
        s = slot_find(em, h, (uint32_t)l);
        if (!s)
            break;
        if (s->entry) {
            best = &em->entries[s->entry - 1];
            *len = l;
        }
    }
    return best;
}

/* Rule constants (doc/emotion.md). */
#define NEG_SCOPE 3          /* units a negator reaches */
#define DEG_SCOPE 2          /* units a degree word reaches */
#define BOOST_PROFANE 1.4f   /* profanity as an intensifier */
#define BOOST_PERSIST 1.25f  /* still / again / 又 */
#define CAPS_FACTOR 1.3f
#define ELONG_FACTOR 1.2f
#define RHET_FACTOR 1.25f
#define CONTRAST_BEFORE 0.5f
#define CONTRAST_AFTER 1.5f

typedef struct emo_state {
    float acc[KEFU_EMO_NCAT];   /* current clause group (since contrast) */
    float pre[KEFU_EMO_NCAT];   /* everything before the last contrast */
    float last[KEFU_EMO_NCAT];  /* last lexical contribution */
    int neg_left;               /* units left in a negation scope */
    bool neg_weak;              /* a degree word sits inside the scope */
    float neg_factor;           /* 1.5 after 一点都不, "not at all" */
    int deg_left;
    float deg;                  /* pending degree factor */
    int last_age;               /* units since the last lexical entry */
    bool rhet;
} emo_state;

/* Negating a term: a negated positive term turns into disappointment
 * (不满意, "not happy"); a negated negative one fades to a little relief
 * ("no problems", 不生气).  Inside "not very ..." (不是很满意) the result
 * is softened instead of the degree word boosting it. */
static void negate(float v[KEFU_EMO_NCAT], bool weak)
{
    float joy = v[KEFU_EMOTION_JOY], negmax = 0;
    for (int c = 0; c < KEFU_EMOTION_JOY; c++) {
        if (v[c] > negmax)
            negmax = v[c];
        v[c] = 0;
    }
    v[KEFU_EMOTION_DISAPPOINTMENT] = 0.6f * joy;
    v[KEFU_EMOTION_ANGER] = 0.15f * joy;
    v[KEFU_EMOTION_SADNESS] = 0.1f * joy;
    v[KEFU_EMOTION_JOY] = 0.2f * negmax;
    if (weak)
        for (int c = 0; c < KEFU_EMO_NCAT; c++)
            v[c] *= 0.5f;
}

static void on_lexical(emo_state *st, const kefu_emo_entry *e, uint8_t tf,
                       kefu_emo_features *f)
{
    float v[KEFU_EMO_NCAT], mult = 1.0f;
    bool any = false;
    for (int c = 0; c < KEFU_EMO_NCAT; c++) {
        v[c] = e->w[c] * 0.01f;
        f->lex[c] += v[c];
        any |= e->w[c] != 0;
    }
    if (!any) { /* a neutral phrase only absorbs its tokens */
        st->last_age++;
        if (st->neg_left > 0)
            st->neg_left--;
        return;
    }
    f->matched++;
    if (st->neg_left > 0 && !(e->flags & KEFU_EMO_F_NONEG)) {
        negate(v, st->neg_weak || (e->flags & KEFU_EMO_F_DEGREE));
        mult *= st->neg_factor;
        f->negated++;
    } else if (st->deg_left > 0) {
        mult *= st->deg;
        f->boosted++;
    }
    if (tf & TF_CAPS) {
        mult *= CAPS_FACTOR;
        f->caps_words++;
    }
    if (tf & TF_ELONG) {
        mult *= ELONG_FACTOR;
        f->elongated++;
    }
    if (e->flags & KEFU_EMO_F_RHET) {
        st->rhet = true;
        st->neg_left = 0;
        f->rhetorical++;
    }
    for (int c = 0; c < KEFU_EMO_NCAT; c++) {
        float x = v[c] * mult;
        if (st->rhet && c != KEFU_EMOTION_JOY)
            x *= RHET_FACTOR;
        st->acc[c] += x;
        st->last[c] = x;
    }
    st->last_age = 0;
    st->deg_left = 0;
    st->deg = 1.0f;
    if (st->neg_left > 0)
        st->neg_left--;
    if (e->flags & KEFU_EMO_F_BOOST) {
        /* profanity and persistence words intensify what follows */
        st->deg = e->w[KEFU_EMOTION_JOY] || e->w[KEFU_EMOTION_ANGER] >= 40
                      ? BOOST_PROFANE
                      : BOOST_PERSIST;
        st->deg_left = DEG_SCOPE;
    }
}

static void end_clause(emo_state *st)
{
    st->neg_left = 0;
    st->neg_weak = false;
    st->deg_left = 0;
    st->deg = 1.0f;
    st->rhet = false;
    st->last_age = 99;
}

int kefu_emotion_features(kefu_scratch *s, const char *text, size_t len,
                          kefu_emo_features *f)
{
    const struct kefu_emotion_model *em;
    struct kefu_emotion_scratch *es;
    const kefu_text *t;
    emo_state st;
    size_t n, i = 0, cjk_run = 1;
    uint32_t words = 0, caps = 0, repeats = 0;
    bool contrast = false;
    int rc;

    memset(f, 0, sizeof *f);
    if (!s || !s->model || !s->model->emotion)
        return KEFU_E_ARG;
    em = s->model->emotion;
    if ((rc = kefu_scratch_text(s, text, len)))
        return rc;
    t = &s->text;
    n = t->ntoks;
    if ((rc = scratch_reserve(s, n)))
        return kefu_diag_msg(&s->diag, rc, "out of memory");
    es = s->emotion;
    prepare_tokens(em, t, text, es);

    memset(&st, 0, sizeof st);
    st.deg = 1.0f;
    st.last_age = 99;
    while (i < n) {
        const kefu_tok *k = &t->toks[i];
        const kefu_emo_entry *e;
        size_t l = 1;
        if (k->kind == KEFU_TOKEN_WORD) {
            words++;
            caps += (es->tf[i] & TF_CAPS) != 0;
        }
        if (k->kind == KEFU_TOKEN_CJK && i > 0 &&
            t->toks[i - 1].kind == KEFU_TOKEN_CJK && es->th[i] == es->th[i - 1]) {
            if (++cjk_run == 3)
                repeats++;
        } else {
            cjk_run = 1;
        }
        if (k->kind == KEFU_TOKEN_PUNCT) {
            const char *p = t->norm.data + k->norm_off;
            if (p[0] == '!')
                f->exclamations += k->ncp;
            else if (p[0] == '?')
                f->questions += k->ncp;
        }
        e = longest_match(em, es->th, i, n, &l);
        if (!e) {
            if (es->tf[i] & TF_BREAK) {
                end_clause(&st);
            } else if (k->kind != KEFU_TOKEN_PUNCT) {
                if (st.neg_left > 0)
                    st.neg_left--;
                if (st.deg_left > 0)
                    st.deg_left--;
                st.last_age++;
            }
            i++;
            continue;
        }
        switch (e->role) {
        case KEFU_EMO_NEG:
            if (!st.rhet) {
                st.neg_left = NEG_SCOPE;
                st.neg_weak = false;
                st.neg_factor = e->w[0] * 0.01f;
            }
            break;
        case KEFU_EMO_DEG:
            if (st.neg_left > 0) {
                st.neg_weak = e->w[0] > 100;
            } else {
                st.deg = (st.deg_left > 0 ? st.deg : 1.0f) * e->w[0] * 0.01f;
                st.deg_left = DEG_SCOPE;
            }
            break;
        case KEFU_EMO_POST:
            if (st.last_age <= 1) {
                float g = e->w[0] * 0.01f - 1.0f;
                for (int c = 0; c < KEFU_EMO_NCAT; c++)
                    st.acc[c] += st.last[c] * g;
                f->boosted++;
            }
            break;
        case KEFU_EMO_CON:
            for (int c = 0; c < KEFU_EMO_NCAT; c++) {
                st.pre[c] = (st.pre[c] + st.acc[c]) * CONTRAST_BEFORE;
                st.acc[c] = 0;
            }
            contrast = true;
            f->contrasts++;
            end_clause(&st);
            break;
        default:
            on_lexical(&st, e, es->tf[i], f);
            break;
        }
        i += l;
    }

    /* message-level cues */
    {
        float amp = 1.0f, negsum = 0;
        uint32_t ex = f->exclamations > 4 ? 4 : f->exclamations;
        uint32_t q = f->questions > 4 ? 4 : f->questions;
        bool shouting = caps >= 2 && caps * 10 >= words * 6;
        for (int c = 0; c < KEFU_EMO_NCAT; c++) {
            f->raw[c] = contrast ? st.pre[c] + st.acc[c] * CONTRAST_AFTER
                                 : st.acc[c];
            if (f->raw[c] < 0)
                f->raw[c] = 0;
            if (c != KEFU_EMOTION_JOY)
                negsum += f->raw[c];
        }
        amp += 0.08f * (float)ex + 0.1f * (float)repeats;
        if (shouting)
            amp += 0.15f;
        if (negsum > 0 && q >= 2) {
            f->raw[KEFU_EMOTION_ANGER] += 0.05f * (float)q;
            f->raw[KEFU_EMOTION_ANXIETY] += 0.04f * (float)q;
        }
        if (shouting && negsum > 0)
            f->raw[KEFU_EMOTION_ANGER] += 0.15f;
        for (int c = 0; c < KEFU_EMO_NCAT; c++)
            f->raw[c] *= amp;
        f->negativity_raw =
            f->raw[KEFU_EMOTION_ANGER] + 0.8f * f->raw[KEFU_EMOTION_ANXIETY] +
            f->raw[KEFU_EMOTION_DISAPPOINTMENT] + f->raw[KEFU_EMOTION_SADNESS] +
            0.9f * f->raw[KEFU_EMOTION_FEAR] - 0.7f * f->raw[KEFU_EMOTION_JOY];
        if (f->negativity_raw < 0)
            f->negativity_raw = 0;
    }
    return KEFU_OK;
}

static float scale_one(float raw, float k, float p)
{
    float x;
    if (!(raw > 0))
        return 0;
    x = 100.0f * (1.0f - expf(-powf(raw / k, p)));
    return x > 100.0f ? 100.0f : x;
}

void kefu_emotion_scale_apply(const kefu_emo_scale *sc,
                              const kefu_emo_features *f, kefu_emotion *out)
{
    for (int c = 0; c < KEFU_EMO_NCAT; c++)
        out->score[c] = scale_one(f->raw[c], sc->k[c], sc->p[c]);
    /* Negativity is read off the calibrated scores, so that it is never
     * above the evidence of the categories: a "noisy OR" of the negative
     * ones (anxiety and fear weigh less: urgency and worry are not
     * hostility), damped by joy. */
    {
        static const float w[KEFU_EMOTION_JOY] = {1.0f, 0.7f, 1.0f, 1.0f, 0.8f};
        float none = 1.0f;
        for (int c = 0; c < KEFU_EMOTION_JOY; c++)
            none *= 1.0f - w[c] * out->score[c] * 0.01f;
        out->negativity = 100.0f * (1.0f - none) *
                          (1.0f - 0.5f * out->score[KEFU_EMOTION_JOY] * 0.01f);
    }
    KEFU_UNUSED(sc->k[KEFU_EMO_NCAT]);
    out->matched = f->matched;
}

KEFU_API int kefu_emotion_score(kefu_scratch *s, const char *text, size_t len,
                                kefu_emotion *out)
{
    kefu_emo_features f;
    kefu_emotion r;
    uint32_t size;
    int rc;
    if (!out || out->size < sizeof(uint32_t) * 2)
        return s ? kefu_diag_msg(&s->diag, KEFU_E_ARG,
                                 "kefu_emotion.size must be set")
                 : KEFU_E_ARG;
    size = out->size < sizeof r ? out->size : (uint32_t)sizeof r;
    memset(&r, 0, sizeof r);
    if (!s)
        rc = KEFU_E_ARG;
    else if (!text && len)
        rc = kefu_diag_msg(&s->diag, KEFU_E_ARG, "text is NULL");
    else
        rc = kefu_emotion_features(s, text ? text : "", len, &f);
    if (rc == KEFU_OK)
        kefu_emotion_scale_apply(&s->model->emotion->scale, &f, &r);
    r.size = out->size;
    memcpy(out, &r, size);
    return rc;
}

/* ---- conversation tracker ---- */

#define NSCORE (KEFU_EMO_NCAT + 1) /* categories + negativity */

struct kefu_emotion_track {
    kefu_mem mem;
    uint32_t half_life_turns, half_life_ms, ext_weight, ext_mask,
        trend_turns, trend_threshold;
    uint32_t turns, peak_turn;
    int64_t last_ms;
    uint32_t hist_len, hist_head;
    float sum[NSCORE], wsum;
    float peak[NSCORE], last[NSCORE];
    float hist[KEFU_EMOTION_TRACK_HIST][NSCORE];
};

static const struct {
    int64_t lo, hi, def;
} track_opts[] = {
    {0, 0, 0},
    {1, 1000, 3},          /* HALF_LIFE_TURNS */
    {0, 604800000, 0},     /* HALF_LIFE_MS */
    {0, 100, 30},          /* EXTERNAL_WEIGHT */
    {0, 127, 0x43},        /* EXTERNAL_MASK */
    {2, KEFU_EMOTION_TRACK_HIST, 4}, /* TREND_TURNS */
    {1, 100, 5},           /* TREND_THRESHOLD */
};

static uint32_t *track_opt(kefu_emotion_track *t, int opt)
{
    switch (opt) {
    case KEFU_EMOTION_TRACK_HALF_LIFE_TURNS: return &t->half_life_turns;
    case KEFU_EMOTION_TRACK_HALF_LIFE_MS: return &t->half_life_ms;
    case KEFU_EMOTION_TRACK_EXTERNAL_WEIGHT: return &t->ext_weight;
    case KEFU_EMOTION_TRACK_EXTERNAL_MASK: return &t->ext_mask;
    case KEFU_EMOTION_TRACK_TREND_TURNS: return &t->trend_turns;
    case KEFU_EMOTION_TRACK_TREND_THRESHOLD: return &t->trend_threshold;
    default: return NULL;
    }
}

KEFU_API int kefu_emotion_track_bounds(kefu_emotion_track_option opt,
                                       int64_t *lo, int64_t *hi)
{
    if ((int)opt < 1 || (size_t)opt >= KEFU_ARRAY_LEN(track_opts) || !lo || !hi)
        return KEFU_E_ARG;
    *lo = track_opts[opt].lo;
    *hi = track_opts[opt].hi;
    return KEFU_OK;
}

KEFU_API void kefu_emotion_track_reset(kefu_emotion_track *t)
{
    if (!t)
        return;
    t->turns = t->peak_turn = 0;
    t->last_ms = 0;
    t->hist_len = t->hist_head = 0;
    t->wsum = 0;
    memset(t->sum, 0, sizeof t->sum);
    memset(t->peak, 0, sizeof t->peak);
    memset(t->last, 0, sizeof t->last);
    memset(t->hist, 0, sizeof t->hist);
}

KEFU_API int kefu_emotion_track_new(kefu_emotion_track **out,
                                    const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_emotion_track *t;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    kefu_mem_init(&mem, alloc);
    t = kefu_zalloc(&mem, sizeof *t);
    if (!t)
        return KEFU_E_NOMEM;
    t->mem = mem;
    for (int o = 1; o < (int)KEFU_ARRAY_LEN(track_opts); o++)
        *track_opt(t, o) = (uint32_t)track_opts[o].def;
    kefu_emotion_track_reset(t);
    *out = t;
    return KEFU_OK;
}

void kefu_emotion_track_copy(kefu_emotion_track *dst,
                             const kefu_emotion_track *src)
{
    kefu_mem mem = dst->mem;   /* each keeps its own allocator */
    *dst = *src;
    dst->mem = mem;
}

KEFU_API void kefu_emotion_track_free(kefu_emotion_track *t)
{
    kefu_mem mem;
    if (!t)
        return;
    mem = t->mem;
    kefu_dealloc(&mem, t);
}

KEFU_API int kefu_emotion_track_set(kefu_emotion_track *t,
                                    kefu_emotion_track_option opt,
                                    int64_t value)
{
    uint32_t *p;
    if (!t || !(p = track_opt(t, (int)opt)))
        return KEFU_E_ARG;
    if (value < track_opts[opt].lo || value > track_opts[opt].hi)
        return KEFU_E_ARG;
    *p = (uint32_t)value;
    return KEFU_OK;
}

KEFU_API int kefu_emotion_track_option_get(const kefu_emotion_track *t,
                                           kefu_emotion_track_option opt,
                                           int64_t *value)
{
    uint32_t *p;
    if (!t || !value || !(p = track_opt((kefu_emotion_track *)t, (int)opt)))
        return KEFU_E_ARG;
    *value = *p;
    return KEFU_OK;
}

KEFU_API int kefu_emotion_track_update(kefu_emotion_track *t,
                                       const kefu_emotion *msg,
                                       int64_t time_ms, int32_t external)
{
    float x[NSCORE], decay;
    if (!t || !msg || msg->size < sizeof(kefu_emotion) || external < -1 ||
        external > 100 || (t->turns > 0 && time_ms < t->last_ms))
        return KEFU_E_ARG;
    for (int c = 0; c < KEFU_EMO_NCAT; c++)
        x[c] = msg->score[c];
    x[KEFU_EMO_NCAT] = msg->negativity;
    for (int c = 0; c < NSCORE; c++)
        if (!(x[c] >= 0 && x[c] <= 100))
            return KEFU_E_ARG;
    if (external >= 0) {
        float w = (float)t->ext_weight * 0.01f;
        for (int c = 0; c < NSCORE; c++)
            if (t->ext_mask & (1u << c))
                x[c] = (1.0f - w) * x[c] + w * (float)external;
    }
    /* decayed average: sum and weight both fade with age */
    if (t->turns == 0)
        decay = 0;
    else if (t->half_life_ms > 0)
        decay = (float)pow(0.5, (double)(time_ms - t->last_ms) /
                                    (double)t->half_life_ms);
    else
        decay = (float)pow(0.5, 1.0 / (double)t->half_life_turns);
    t->wsum = t->wsum * decay + 1.0f;
    t->turns++;
    for (int c = 0; c < NSCORE; c++) {
        t->sum[c] = t->sum[c] * decay + x[c];
        if (x[c] > t->peak[c] || t->turns == 1) {
            t->peak[c] = x[c];
            if (c == KEFU_EMO_NCAT)
                t->peak_turn = t->turns;
        }
        t->last[c] = x[c];
    }
    memcpy(t->hist[t->hist_head], x, sizeof x);
    t->hist_head = (t->hist_head + 1) % KEFU_EMOTION_TRACK_HIST;
    if (t->hist_len < KEFU_EMOTION_TRACK_HIST)
        t->hist_len++;
    t->last_ms = time_ms;
    return KEFU_OK;
}

/* Least-squares slope of score c over the last m turns. */
static float slope(const kefu_emotion_track *t, int c, uint32_t m)
{
    float sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (uint32_t j = 0; j < m; j++) {
        uint32_t idx = (t->hist_head + KEFU_EMOTION_TRACK_HIST - m + j) %
                       KEFU_EMOTION_TRACK_HIST;
        float y = t->hist[idx][c], xj = (float)j;
        sx += xj;
        sy += y;
        sxx += xj * xj;
        sxy += xj * y;
    }
    {
        float den = (float)m * sxx - sx * sx;
        return den > 0 ? ((float)m * sxy - sx * sy) / den : 0;
    }
}

KEFU_API int kefu_emotion_track_get(const kefu_emotion_track *t,
                                    kefu_emotion_level *out)
{
    kefu_emotion_level r;
    uint32_t size, m;
    if (!t || !out || out->size < sizeof(uint32_t) * 2)
        return KEFU_E_ARG;
    memset(&r, 0, sizeof r);
    r.size = out->size;
    r.turns = t->turns;
    m = t->hist_len < t->trend_turns ? t->hist_len : t->trend_turns;
    for (int c = 0; c < NSCORE; c++) {
        float lv = t->wsum > 0 ? t->sum[c] / t->wsum : 0;
        float tr = m >= 2 ? slope(t, c, m) : 0;
        if (c < KEFU_EMO_NCAT) {
            r.level[c] = lv;
            r.peak[c] = t->peak[c];
            r.trend[c] = tr;
        } else {
            r.level_negativity = lv;
            r.peak_negativity = t->peak[c];
            r.trend_negativity = tr;
        }
    }
    if (m >= 2) {
        if (r.trend_negativity >= (float)t->trend_threshold)
            r.direction = 1;
        else if (r.trend_negativity <= -(float)t->trend_threshold)
            r.direction = -1;
    }
    r.peak_turn = t->peak_turn;
    size = out->size < sizeof r ? out->size : (uint32_t)sizeof r;
    memcpy(out, &r, size);
    return KEFU_OK;
}

/* ---- tracker state as bytes ---- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void putf(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put32(p, v);
}

static float getf(const uint8_t *p)
{
    uint32_t v = get32(p);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

int kefu_emotion_track_save(const kefu_emotion_track *t, uint8_t *buf,
                            size_t cap, size_t *len)
{
    uint8_t *p = buf;
    uint32_t opts[6];
    if (!t || !buf)
        return KEFU_E_ARG;
    opts[0] = t->half_life_turns;
    opts[1] = t->half_life_ms;
    opts[2] = t->ext_weight;
    opts[3] = t->ext_mask;
    opts[4] = t->trend_turns;
    opts[5] = t->trend_threshold;
    if (len)
        *len = KEFU_EMOTION_TRACK_BYTES;
    if (cap < KEFU_EMOTION_TRACK_BYTES)
        return KEFU_E_BUFFER;
    memcpy(p, "KEMT", 4);
    p[4] = 1, p[5] = 0, p[6] = 0, p[7] = 0;
    for (int i = 0; i < 6; i++)
        put32(p + 8 + 4 * i, opts[i]);
    put32(p + 32, t->turns);
    put32(p + 36, t->peak_turn);
    put32(p + 40, (uint32_t)((uint64_t)t->last_ms & 0xFFFFFFFFu));
    put32(p + 44, (uint32_t)((uint64_t)t->last_ms >> 32));
    put32(p + 48, t->hist_len);
    put32(p + 52, t->hist_head);
    for (int c = 0; c < NSCORE; c++) {
        putf(p + 56 + 4 * c, t->sum[c]);
        putf(p + 88 + 4 * c, t->peak[c]);
        putf(p + 116 + 4 * c, t->last[c]);
    }
    putf(p + 84, t->wsum);
    for (int h = 0; h < KEFU_EMOTION_TRACK_HIST; h++)
        for (int c = 0; c < NSCORE; c++)
            putf(p + 144 + 4 * (h * NSCORE + c), t->hist[h][c]);
    put32(p + 592, kefu_crc32(0, p, 592));
    return KEFU_OK;
}

int kefu_emotion_track_load(kefu_emotion_track *t, const uint8_t *buf,
                            size_t len)
{
    kefu_emotion_track n;
    const uint8_t *p = buf;
    if (!t || (!buf && len))
        return KEFU_E_ARG;
    if (len != KEFU_EMOTION_TRACK_BYTES || memcmp(p, "KEMT", 4))
        return KEFU_E_CORRUPT;
    if (kefu_crc32(0, p, 592) != get32(p + 592))
        return KEFU_E_CORRUPT;
    if (p[4] != 1 || p[5] != 0)
        return KEFU_E_VERSION;
    n = *t;
    for (int i = 0; i < 6; i++) {
        int64_t v = get32(p + 8 + 4 * i);
        if (v < track_opts[i + 1].lo || v > track_opts[i + 1].hi)
            return KEFU_E_CORRUPT;
        *track_opt(&n, i + 1) = (uint32_t)v;
    }
    n.turns = get32(p + 32);
    n.peak_turn = get32(p + 36);
    n.last_ms = (int64_t)((uint64_t)get32(p + 40) | (uint64_t)get32(p + 44) << 32);
    n.hist_len = get32(p + 48);
    n.hist_head = get32(p + 52);
    if (n.hist_len > KEFU_EMOTION_TRACK_HIST ||
        n.hist_head >= KEFU_EMOTION_TRACK_HIST || n.peak_turn > n.turns ||
        n.hist_len > n.turns)
        return KEFU_E_CORRUPT;
    n.wsum = getf(p + 84);
    if (!(n.wsum >= 0 && n.wsum < 1e9f))
        return KEFU_E_CORRUPT;
    for (int c = 0; c < NSCORE; c++) {
        n.sum[c] = getf(p + 56 + 4 * c);
        n.peak[c] = getf(p + 88 + 4 * c);
        n.last[c] = getf(p + 116 + 4 * c);
        /* a decayed sum of scores <= 100 stays below 100 * weight, up to
         * float rounding over many turns */
        if (!(n.sum[c] >= 0 && n.sum[c] <= 100.0f * n.wsum * 1.001f + 1e-3f) ||
            !(n.peak[c] >= 0 && n.peak[c] <= 100) ||
            !(n.last[c] >= 0 && n.last[c] <= 100))
            return KEFU_E_CORRUPT;
    }
    for (int h = 0; h < KEFU_EMOTION_TRACK_HIST; h++)
        for (int c = 0; c < NSCORE; c++) {
            float v = getf(p + 144 + 4 * (h * NSCORE + c));
            if (!(v >= 0 && v <= 100))
                return KEFU_E_CORRUPT;
            n.hist[h][c] = v;
        }
    *t = n;
    return KEFU_OK;
}
