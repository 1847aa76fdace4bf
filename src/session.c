/*
 * session.c - one conversation: the pipeline of one message (normalise ->
 * intent -> entities -> emotion -> counters -> rules), the state that
 * carries from one message to the next, and its blob form.
 *
 * A turn is computed on copies and committed at the end, so a message that
 * fails (bad UTF-8, too long, out of memory) leaves the session as it was.
 * The rules see facts only; the routing request is derived from the
 * intent's skills and the actions the rules returned.
 */
#include <math.h>
#include <stdio.h>

#include "emotion.h"
#include "entity.h"
#include "intent.h"
#include "rules.h"
#include "scratch.h"

#define HUMAN_INTENT "human_agent"
#define HISTORY 8          /* recent intents kept */
#define MAX_SLOTS 32       /* slots gathered per conversation */
#define MAX_VALUE 256      /* bytes of one slot value */
#define MAX_ROUTE_SKILLS 16
#define BLOB_MAGIC "KEFUSES"
#define BLOB_VERSION 1u

/* Intents that say nothing about the customer's issue. */
static const char *const social[] = {"greeting", "thanks", "goodbye",
                                     HUMAN_INTENT, "oos", "provide_info",
                                     NULL};

typedef struct slot_value {
    char name[64];
    char value[MAX_VALUE];
} slot_value;

/* Everything that survives a turn (and goes into the blob). */
typedef struct session_state {
    uint32_t turns;
    uint32_t human_requests;
    uint32_t failed_answers;
    uint32_t escalated, locked;
    int64_t last_ms;
    char history[HISTORY][64];  /* most recent first */
    uint32_t nhistory;
    slot_value slots[MAX_SLOTS];
    uint32_t nslots;
} session_state;

struct kefu_session {
    kefu_mem mem;
    const struct kefu_model *model;
    kefu_scratch *scratch;
    kefu_emotion_track *track;
    kefu_emotion_track *track_undo;   /* track before the running turn */
    kefu_rules_slot *slot;      /* hot swap source, or NULL */
    kefu_ruleset *rs;           /* the set the last turn used (a reference) */
    kefu_facts *facts;
    kefu_rules_result *res;
    kefu_diag diag;
    session_state st;
    /* last turn's routing request */
    const char *route_skills[MAX_ROUTE_SKILLS];
    uint32_t nroute_skills;
    const char *queue, *tier;
    /* scratch lists for facts */
    const char *list[MAX_SLOTS];
    size_t list_len[MAX_SLOTS];
};

/* Writes only the caller's `size` bytes (see kefu_train_options_init_size
 * in train.c).  When kefu_turn grows, kefu_session_turn must accept the
 * older size, which it now refuses (turn->size < sizeof(kefu_turn)). */
KEFU_API void kefu_turn_init_size(kefu_turn *t, uint32_t size)
{
    if (!t || size < sizeof t->size)
        return;
    memset(t, 0, size);
    t->size = size;
    if (KEFU_COVERS(size, kefu_turn, external_emotion))
        t->external_emotion = -1;
    if (KEFU_COVERS(size, kefu_turn, wait_ms))
        t->wait_ms = -1;
}

/* the 0.1.0 struct (see kefu_train_options_init in train.c) */
KEFU_API void(kefu_turn_init)(kefu_turn *t)
{
    kefu_turn_init_size(t, offsetof(kefu_turn, bot_failed) + sizeof t->bot_failed);
}

KEFU_API int kefu_session_new(kefu_session **out, const kefu_model *model,
                              const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_session *s;
    kefu_ruleset *rs;
    int rc;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    if (!model)
        return KEFU_E_ARG;
    kefu_mem_init(&mem, alloc ? alloc : &model->alloc);
    s = kefu_zalloc(&mem, sizeof *s);
    if (!s)
        return KEFU_E_NOMEM;
    s->mem = mem;
    s->model = model;
    kefu_diag_init(&s->diag, &mem.a);
    rs = kefu_model_rules(model);
    if ((rc = kefu_scratch_new(&s->scratch, model, &mem.a)) ||
        (rc = kefu_emotion_track_new(&s->track, &mem.a)) ||
        (rc = kefu_emotion_track_new(&s->track_undo, &mem.a)) ||
        (rc = kefu_rules_result_new(&s->res, &mem.a)) ||
        (rs && (rc = kefu_facts_new(&s->facts, rs, &mem.a)))) {
        kefu_session_free(s);
        return rc;
    }
    s->rs = rs ? kefu_ruleset_ref(rs) : NULL;
    s->queue = s->tier = "";
    *out = s;
    return KEFU_OK;
}

KEFU_API void kefu_session_free(kefu_session *s)
{
    kefu_mem mem;
    if (!s)
        return;
    mem = s->mem;
    kefu_scratch_free(s->scratch);
    kefu_emotion_track_free(s->track);
    kefu_emotion_track_free(s->track_undo);
    kefu_rules_result_free(s->res);
    kefu_facts_free(s->facts);
    kefu_ruleset_free(s->rs);
    kefu_dealloc(&mem, s);
}

KEFU_API int kefu_session_use_rules(kefu_session *s, kefu_rules_slot *slot)
{
    if (!s)
        return KEFU_E_ARG;
    s->slot = slot;
    return KEFU_OK;
}

KEFU_API kefu_facts *kefu_session_facts(kefu_session *s)
{
    return s ? s->facts : NULL;
}

KEFU_API const kefu_rules_result *kefu_session_rules(const kefu_session *s)
{
    return s ? s->res : NULL;
}

KEFU_API const kefu_ruleset *kefu_session_ruleset(const kefu_session *s)
{
    return s ? s->rs : NULL;
}

KEFU_API kefu_scratch *kefu_session_scratch(kefu_session *s)
{
    return s ? s->scratch : NULL;
}

KEFU_API const kefu_diag *kefu_session_diag(const kefu_session *s)
{
    return s ? &s->diag : NULL;
}

KEFU_API const char *kefu_session_route_skill(const kefu_session *s, size_t i)
{
    return s && i < s->nroute_skills ? s->route_skills[i] : NULL;
}

KEFU_API int kefu_session_slot(const kefu_session *s, size_t i,
                               const char **name, const char **value)
{
    if (!s || i >= s->st.nslots)
        return KEFU_E_ARG;
    if (name)
        *name = s->st.slots[i].name;
    if (value)
        *value = s->st.slots[i].value;
    return KEFU_OK;
}

/* ---- one turn ---- */

static bool is_social(const char *intent)
{
    for (size_t i = 0; social[i]; i++)
        if (!strcmp(social[i], intent))
            return true;
    return false;
}

static void copy_name(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Records the entities of this message as gathered slots (the latest value
 * of a name wins). */
static void gather_slots(session_state *st, const kefu_scratch *sc)
{
    for (size_t i = 0; i < kefu_entity_count(sc); i++) {
        kefu_entity e;
        uint32_t j;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        if (kefu_entity_get(sc, i, &e))
            continue;
        for (j = 0; j < st->nslots; j++)
            if (!strcmp(st->slots[j].name, e.name))
                break;
        if (j == st->nslots) {
            if (st->nslots == MAX_SLOTS)
                continue;
            st->nslots++;
        }
        copy_name(st->slots[j].name, sizeof st->slots[j].name, e.name, strlen(e.name));
        copy_name(st->slots[j].value, sizeof st->slots[j].value, e.value, e.value_len);
    }
}

static bool has_slot(const session_state *st, const char *name)
{
    for (uint32_t j = 0; j < st->nslots; j++)
        if (!strcmp(st->slots[j].name, name))
            return true;
    return false;
}

#define SETF(call)                                                            \
    do {                                                                      \
        int rc_ = (call);                                                     \
        if (rc_ && rc_ != KEFU_E_UNKNOWN)                                     \
            return rc_;                                                       \
    } while (0)

/* Copies the pipeline's outputs into the facts the rules read. */
static int fill_facts(kefu_session *s, const session_state *st,
                      const char *text, size_t len, const kefu_turn *turn,
                      const char *intent, const kefu_intent_result *ir,
                      const kefu_emotion *em, const kefu_emotion_level *lv,
                      const struct kefu_intent_info *info, bool repeat)
{
    kefu_facts *f = s->facts;
    const char *entity_names_set[MAX_SLOTS];
    size_t n = 0;
    static const uint32_t emo_ids[KEFU_EMOTION_COUNT] = {
        KEFU_F_ANGER, KEFU_F_ANXIETY, KEFU_F_DISAPPOINTMENT,
        KEFU_F_SADNESS, KEFU_F_FEAR, KEFU_F_JOY};

    kefu_facts_put_string_ref(f, KEFU_F_INTENT, intent, (uint32_t)strlen(intent));
    kefu_facts_put_number(f, KEFU_F_CONFIDENCE, ir->confidence);
    kefu_facts_put_bool(f, KEFU_F_OUT_OF_SCOPE, ir->out_of_scope);
    kefu_facts_put_string_ref(f, KEFU_F_TEXT, s->scratch->text.norm.data
                                                  ? s->scratch->text.norm.data
                                                  : "",
                              (uint32_t)s->scratch->text.norm.len);
    (void)text;
    (void)len;
    kefu_facts_put_string_ref(f, KEFU_F_CHANNEL, turn->channel ? turn->channel : "",
                              turn->channel ? (uint32_t)strlen(turn->channel) : 0);
    for (int c = 0; c < KEFU_EMOTION_COUNT; c++)
        kefu_facts_put_number(f, emo_ids[c], em->score[c]);
    kefu_facts_put_number(f, KEFU_F_NEGATIVITY, em->negativity);
    kefu_facts_put_number(f, KEFU_F_EMOTION_LEVEL, lv->level_negativity);
    kefu_facts_put_number(f, KEFU_F_EMOTION_PEAK, lv->peak_negativity);
    kefu_facts_put_number(f, KEFU_F_EMOTION_TREND, lv->trend_negativity);
    /* slots gathered so far, and the intent's required ones still missing */
    for (uint32_t j = 0; j < st->nslots; j++) {
        s->list[j] = st->slots[j].name;
        s->list_len[j] = strlen(st->slots[j].name);
    }
    SETF(kefu_facts_set_strings(f, "slots", 5, s->list, s->list_len, st->nslots));
    for (uint32_t j = 0; info && j < info->nslots && n < MAX_SLOTS; j++)
        if (!has_slot(st, info->slots[j])) {
            s->list[n] = info->slots[j];
            s->list_len[n++] = strlen(info->slots[j]);
        }
    SETF(kefu_facts_set_strings(f, "missing_slots", 13, s->list, s->list_len, n));
    kefu_facts_put_string_ref(f, KEFU_F_CUSTOMER_TIER,
                              turn->customer_tier ? turn->customer_tier : "",
                              turn->customer_tier ? (uint32_t)strlen(turn->customer_tier) : 0);
    kefu_facts_put_number(f, KEFU_F_CUSTOMER_VALUE, turn->customer_value);
    {
        static const char *const none[1] = {""};
        SETF(kefu_facts_set_strings(f, "customer.risk", 13,
                                    turn->customer_risk_count ? turn->customer_risk : none,
                                    NULL, turn->customer_risk_count));
    }
    kefu_facts_put_number(f, KEFU_F_SESSION_TURNS, st->turns);
    kefu_facts_put_number(f, KEFU_F_SESSION_HUMAN_REQUESTS, st->human_requests);
    kefu_facts_put_number(f, KEFU_F_SESSION_CONTACTS_7D, turn->contacts_7d);
    kefu_facts_put_number(f, KEFU_F_SESSION_FAILED_ANSWERS, st->failed_answers);
    kefu_facts_put_bool(f, KEFU_F_SESSION_REPEAT_ISSUE, repeat);
    kefu_facts_put_bool(f, KEFU_F_SESSION_ESCALATED, st->escalated);
    kefu_facts_put_bool(f, KEFU_F_SESSION_LOCKED, st->locked);
    if (turn->wait_ms >= 0)
        kefu_facts_put_duration(f, KEFU_F_WAIT, (double)turn->wait_ms);
    else
        kefu_facts_unset(f, "wait", 4);
    /* entities.<name>: this message's values; others unset */
    for (size_t i = 0; i < kefu_model_entity_count(s->model); i++) {
        const char *nm = kefu_model_entity_name(s->model, i);
        char key[96];
        int kl = snprintf(key, sizeof key, "entities.%s", nm);
        if (kl > 0 && (size_t)kl < sizeof key)
            SETF(kefu_facts_unset(f, key, (size_t)kl));
    }
    for (size_t i = 0; i < kefu_entity_count(s->scratch) && i < MAX_SLOTS; i++) {
        kefu_entity e;
        char key[96];
        int kl;
        memset(&e, 0, sizeof e);
        e.size = sizeof e;
        if (kefu_entity_get(s->scratch, i, &e))
            continue;
        kl = snprintf(key, sizeof key, "entities.%s", e.name);
        entity_names_set[i] = e.name;
        if (kl > 0 && (size_t)kl < sizeof key)
            SETF(kefu_facts_set_string(f, key, (size_t)kl, e.value, e.value_len));
    }
    (void)entity_names_set;
    return KEFU_OK;
}

/* Applies the actions to the next state and the routing request. */
static void apply_actions(kefu_session *s, session_state *st,
                          const struct kefu_intent_info *info,
                          const kefu_turn *turn, int32_t *priority)
{
    uint32_t na = kefu_rules_result_action_count(s->res);
    s->nroute_skills = 0;
    s->queue = "";
    s->tier = "";
    *priority = 0;
    for (uint32_t j = 0; info && j < info->nskills && s->nroute_skills < MAX_ROUTE_SKILLS; j++)
        s->route_skills[s->nroute_skills++] = info->skills[j];
    for (uint32_t i = 0; i < na; i++) {
        kefu_rule_action a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;
        if (kefu_rules_result_action(s->res, i, &a))
            continue;
        switch (a.type) {
        case KEFU_ACTION_ESCALATE:
            st->escalated = 1;
            if (a.queue && a.queue[0] && !s->queue[0])
                s->queue = a.queue;
            /* the highest tier asked for wins */
            if (a.tier && a.tier[0] &&
                (!s->tier[0] || !strcmp(a.tier, "expert") ||
                 (!strcmp(a.tier, "senior") && strcmp(s->tier, "expert"))))
                s->tier = a.tier;
            if (a.skill && a.skill[0] && s->nroute_skills < MAX_ROUTE_SKILLS) {
                uint32_t k = 0;
                while (k < s->nroute_skills && strcmp(s->route_skills[k], a.skill))
                    k++;
                if (k == s->nroute_skills)
                    s->route_skills[s->nroute_skills++] = a.skill;
            }
            break;
        case KEFU_ACTION_PRIORITY:
            *priority = a.raise ? *priority + a.value
                                : (a.value > *priority ? a.value : *priority);
            break;
        case KEFU_ACTION_LOCK:
            st->locked = 1;
            break;
        default:
            break;
        }
    }
    (void)turn;
}

static int turn_run(kefu_session *s, const char *text, size_t len,
                    const kefu_turn *turn, kefu_triage *out)
{
    session_state next;
    kefu_intent_result ir;
    kefu_emotion em;
    kefu_emotion_level lv;
    const struct kefu_intent_model *im;
    const struct kefu_intent_info *info = NULL;
    const char *intent = "";
    kefu_ruleset *rs = NULL;
    bool repeat = false;
    int32_t priority = 0;
    int rc;

    if (!s)
        return KEFU_E_ARG;
    kefu_diag_clear(&s->diag);
    if (!turn || turn->size < sizeof(kefu_turn) || !out ||
        out->size < sizeof(kefu_triage) || (!text && len) ||
        (turn->customer_risk_count && !turn->customer_risk))
        return kefu_diag_msg(&s->diag, KEFU_E_ARG,
                             "bad argument (sizes set? NULL text or risk list?)");
    if (turn->external_emotion < -1 || turn->external_emotion > 100)
        return kefu_diag_msg(&s->diag, KEFU_E_ARG,
                             "external_emotion %d is not -1 (none) or 0..100",
                             (int)turn->external_emotion);
    if (turn->wait_ms < -1)
        return kefu_diag_msg(&s->diag, KEFU_E_ARG,
                             "wait_ms %lld is not -1 (unknown) or >= 0",
                             (long long)turn->wait_ms);
    if (isnan(turn->customer_value))
        return kefu_diag_msg(&s->diag, KEFU_E_ARG, "customer_value is NaN");
    if (s->st.turns && turn->time_ms < s->st.last_ms)
        return kefu_diag_msg(&s->diag, KEFU_E_ARG,
                             "time_ms %lld is before the previous turn's %lld",
                             (long long)turn->time_ms, (long long)s->st.last_ms);
    next = s->st;
    im = s->model->intent;
    /* one text-stage run serves intent, entities and emotion this turn */
    s->scratch->reuse_text = true;
    s->scratch->text_ptr = NULL;

    /* intent */
    memset(&ir, 0, sizeof ir);
    ir.size = sizeof ir;
    if (im) {
        if ((rc = kefu_classify(s->scratch, text, len, &ir)))
            goto fail_scratch;
        intent = ir.intent;
        if (!ir.out_of_scope)
            info = &im->info[ir.intent_index];
    } else if ((rc = kefu_scratch_text(s->scratch, text, len))) {
        goto fail_scratch;
    }
    /* entities (the scratch's text is this message) */
    /* (kefu_classify has already extracted them for an intent with slots) */
    if (s->model->entities && !(info && info->nslots) &&
        (rc = kefu_entity_run(s->scratch, text, len)))
        goto fail_scratch;
    gather_slots(&next, s->scratch);
    /* emotion, per message and over the conversation */
    memset(&em, 0, sizeof em);
    em.size = sizeof em;
    if ((rc = kefu_emotion_score(s->scratch, text, len, &em)))
        goto fail_scratch;
    kefu_emotion_track_copy(s->track_undo, s->track);
    if ((rc = kefu_emotion_track_update(s->track, &em, turn->time_ms,
                                        turn->external_emotion)))
        return kefu_diag_msg(&s->diag, rc, "emotion tracker: %s", kefu_strerror(rc));
    memset(&lv, 0, sizeof lv);
    lv.size = sizeof lv;
    kefu_emotion_track_get(s->track, &lv);

    /* counters */
    next.turns++;
    next.last_ms = turn->time_ms;
    next.human_requests = !strcmp(intent, HUMAN_INTENT) ? next.human_requests + 1 : 0;
    next.failed_answers = (ir.out_of_scope || turn->bot_failed) ? next.failed_answers + 1 : 0;
    if (intent[0] && !is_social(intent))
        for (uint32_t i = 0; i < next.nhistory && !repeat; i++)
            repeat = !strcmp(next.history[i], intent);
    if (intent[0]) {
        memmove(next.history[1], next.history[0],
                sizeof next.history[0] * (HISTORY - 1));
        copy_name(next.history[0], sizeof next.history[0], intent, strlen(intent));
        if (next.nhistory < HISTORY)
            next.nhistory++;
    }

    /* rules: the current set (hot swap takes effect here, between turns) */
    rs = s->slot ? kefu_rules_slot_acquire(s->slot) : kefu_ruleset_ref(kefu_model_rules(s->model));
    if (rs && (!s->facts || rs != s->rs)) {
        rc = s->facts ? kefu_facts_rebind(s->facts, rs)
                      : kefu_facts_new(&s->facts, rs, &s->mem.a);
        if (rc)
            goto fail_rules;
    }
    if (rs) {
        if ((rc = fill_facts(s, &next, text, len, turn, intent, &ir, &em, &lv,
                             info, repeat)))
            goto fail_rules;
        if ((rc = kefu_rules_eval(s->res, rs, s->facts,
                                  turn->flags & KEFU_TURN_TRACE ? KEFU_RULES_TRACE : 0)))
            goto fail_rules;
    }
    /* commit */
    if (rs != s->rs) {
        kefu_ruleset_free(s->rs);
        s->rs = rs;
    } else {
        kefu_ruleset_free(rs);
    }
    if (s->rs)
        apply_actions(s, &next, info, turn, &priority);
    else {
        s->nroute_skills = 0;
        for (uint32_t j = 0; info && j < info->nskills && j < MAX_ROUTE_SKILLS; j++)
            s->route_skills[s->nroute_skills++] = info->skills[j];
        s->queue = s->tier = "";
    }
    s->st = next;

    memset((char *)out + sizeof out->size, 0, sizeof *out - sizeof out->size);
    out->intent = intent;
    out->confidence = ir.confidence;
    out->margin = ir.margin;
    out->out_of_scope = ir.out_of_scope;
    {
        uint32_t missing = 0;
        for (uint32_t j = 0; info && j < info->nslots; j++)
            missing += !has_slot(&s->st, info->slots[j]);
        out->missing_slots = missing;
    }
    memcpy(out->emotion, em.score, sizeof out->emotion);
    out->negativity = em.negativity;
    out->level = lv.level_negativity;
    out->trend = lv.trend_negativity;
    out->rules_fired = s->rs ? kefu_rules_result_fired_count(s->res) : 0;
    out->actions = s->rs ? kefu_rules_result_action_count(s->res) : 0;
    out->escalated = s->st.escalated;
    out->locked = s->st.locked;
    out->route_queue = s->queue;
    out->route_tier = s->tier;
    out->route_priority = priority;
    out->route_skills = s->nroute_skills;
    out->turn = s->st.turns;
    return KEFU_OK;

fail_rules:
    kefu_ruleset_free(rs);
    kefu_emotion_track_copy(s->track, s->track_undo);
    if (s->facts && kefu_diag_status(kefu_facts_diag(s->facts)))
        kefu_diag_copy(&s->diag, kefu_facts_diag(s->facts));
    else
        kefu_diag_msg(&s->diag, rc, "rules: %s", kefu_strerror(rc));
    return rc;
fail_scratch:
    kefu_diag_copy(&s->diag, kefu_scratch_diag(s->scratch));
    return rc;
}

KEFU_API int kefu_session_turn(kefu_session *s, const char *text, size_t len,
                               const kefu_turn *turn, kefu_triage *out)
{
    int rc = turn_run(s, text, len, turn, out);
    if (s)
        s->scratch->reuse_text = false;
    return rc;
}

/* ---- blobs ----
 * Layout (little-endian): "KEFUSES" u8 version | u32 length of all |
 * u32 turns, human_requests, failed_answers, escalated, locked |
 * i64 last_ms | u8 nhistory, then each: u8 len, bytes |
 * u8 nslots, then each: u8 name len, name, u16 value len, value |
 * u16 tracker length, tracker bytes | u32 CRC-32 of everything before it.
 */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void w_bytes(wbuf *w, const void *src, size_t n)
{
    if (w->n + n <= w->cap && w->p)
        memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void w_u32(wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    w_bytes(w, b, 4);
}

KEFU_API int kefu_session_dump(const kefu_session *s, uint8_t *buf, size_t cap,
                               size_t *len)
{
    wbuf w = {buf, 0, buf ? cap : 0};
    uint8_t tr[KEFU_EMOTION_TRACK_BYTES];
    size_t trl = 0;
    uint8_t v;
    int rc;
    if (!s || !len)
        return KEFU_E_ARG;
    if ((rc = kefu_emotion_track_save(s->track, tr, sizeof tr, &trl)))
        return rc;
    w_bytes(&w, BLOB_MAGIC, 7);
    v = BLOB_VERSION;
    w_bytes(&w, &v, 1);
    w_u32(&w, 0); /* total length, patched below */
    w_u32(&w, s->st.turns);
    w_u32(&w, s->st.human_requests);
    w_u32(&w, s->st.failed_answers);
    w_u32(&w, s->st.escalated);
    w_u32(&w, s->st.locked);
    w_u32(&w, (uint32_t)(uint64_t)s->st.last_ms);
    w_u32(&w, (uint32_t)((uint64_t)s->st.last_ms >> 32));
    v = (uint8_t)s->st.nhistory;
    w_bytes(&w, &v, 1);
    for (uint32_t i = 0; i < s->st.nhistory; i++) {
        v = (uint8_t)strlen(s->st.history[i]);
        w_bytes(&w, &v, 1);
        w_bytes(&w, s->st.history[i], v);
    }
    v = (uint8_t)s->st.nslots;
    w_bytes(&w, &v, 1);
    for (uint32_t i = 0; i < s->st.nslots; i++) {
        uint16_t vl = (uint16_t)strlen(s->st.slots[i].value);
        uint8_t vb[2] = {(uint8_t)vl, (uint8_t)(vl >> 8)};
        v = (uint8_t)strlen(s->st.slots[i].name);
        w_bytes(&w, &v, 1);
        w_bytes(&w, s->st.slots[i].name, v);
        w_bytes(&w, vb, 2);
        w_bytes(&w, s->st.slots[i].value, vl);
    }
    {
        uint8_t tb[2] = {(uint8_t)trl, (uint8_t)(trl >> 8)};
        w_bytes(&w, tb, 2);
        w_bytes(&w, tr, trl);
    }
    *len = w.n + 4;
    if (!buf || cap < *len)
        return KEFU_E_BUFFER;
    {
        uint32_t total = (uint32_t)*len, crc;
        uint8_t b[4] = {(uint8_t)total, (uint8_t)(total >> 8),
                        (uint8_t)(total >> 16), (uint8_t)(total >> 24)};
        memcpy(buf + 8, b, 4);
        crc = kefu_crc32(0, buf, w.n);
        w_u32(&w, crc);
    }
    return KEFU_OK;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t left;
    bool bad;
} rbuf;

static const uint8_t *r_bytes(rbuf *r, size_t n)
{
    const uint8_t *p = r->p;
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static uint32_t r_u32(rbuf *r)
{
    const uint8_t *b = r_bytes(r, 4);
    return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                   (uint32_t)b[3] << 24
             : 0;
}

static uint32_t r_u8(rbuf *r)
{
    const uint8_t *b = r_bytes(r, 1);
    return b ? b[0] : 0;
}

/* Reads a length-prefixed string into dst (cap bytes with the NUL). */
static void r_str(rbuf *r, uint32_t n, char *dst, size_t cap)
{
    const uint8_t *b = r_bytes(r, n);
    if (!b)
        return;
    if (n >= cap || memchr(b, 0, n)) {
        r->bad = true;
        return;
    }
    memcpy(dst, b, n);
    dst[n] = '\0';
}

KEFU_API int kefu_session_restore(kefu_session *s, const uint8_t *blob,
                                  size_t len)
{
    session_state st;
    rbuf r;
    uint32_t total, trl;
    const uint8_t *tr;
    if (!s || (!blob && len))
        return KEFU_E_ARG;
    kefu_diag_clear(&s->diag);
    if (len < 16 || memcmp(blob, BLOB_MAGIC, 7))
        return kefu_diag_msg(&s->diag, KEFU_E_CORRUPT, "not a kefu session blob");
    if (blob[7] != BLOB_VERSION)
        return kefu_diag_msg(&s->diag, KEFU_E_VERSION,
                             "session blob version %u is not supported (this "
                             "is kefu %s, version %u)", blob[7],
                             KEFU_VERSION_STRING, BLOB_VERSION);
    r.p = blob + 8;
    r.left = len - 8;
    r.bad = false;
    total = r_u32(&r);
    if (total != len)
        return kefu_diag_msg(&s->diag, KEFU_E_CORRUPT,
                             "session blob is %zu bytes, its header says %u",
                             len, total);
    {
        const uint8_t *c = blob + len - 4;
        uint32_t want = (uint32_t)c[0] | (uint32_t)c[1] << 8 |
                        (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        if (kefu_crc32(0, blob, len - 4) != want)
            return kefu_diag_msg(&s->diag, KEFU_E_CORRUPT,
                                 "session blob checksum mismatch");
#else
        (void)want; /* fuzzing builds skip it so mutations reach the parser */
#endif
    }
    r.left -= 4; /* the CRC */
    memset(&st, 0, sizeof st);
    st.turns = r_u32(&r);
    st.human_requests = r_u32(&r);
    st.failed_answers = r_u32(&r);
    st.escalated = r_u32(&r);
    st.locked = r_u32(&r);
    {
        uint64_t lo = r_u32(&r), hi = r_u32(&r);
        st.last_ms = (int64_t)(lo | hi << 32);
    }
    st.nhistory = r_u8(&r);
    if (st.nhistory > HISTORY || st.escalated > 1 || st.locked > 1)
        r.bad = true;
    for (uint32_t i = 0; !r.bad && i < st.nhistory; i++)
        r_str(&r, r_u8(&r), st.history[i], sizeof st.history[i]);
    st.nslots = r_u8(&r);
    if (st.nslots > MAX_SLOTS)
        r.bad = true;
    for (uint32_t i = 0; !r.bad && i < st.nslots; i++) {
        uint32_t vl;
        r_str(&r, r_u8(&r), st.slots[i].name, sizeof st.slots[i].name);
        vl = r_u8(&r);
        vl |= r_u8(&r) << 8;
        r_str(&r, vl, st.slots[i].value, sizeof st.slots[i].value);
    }
    trl = r_u8(&r);
    trl |= r_u8(&r) << 8;
    tr = r_bytes(&r, trl);
    if (r.bad || r.left != 0)
        return kefu_diag_msg(&s->diag, KEFU_E_CORRUPT, "session blob is malformed");
    /* the tracker validates its own part and is unchanged on failure */
    {
        int rc = kefu_emotion_track_load(s->track, tr, trl);
        if (rc)
            return kefu_diag_msg(&s->diag, rc, "session blob: emotion state: %s",
                                 kefu_strerror(rc));
    }
    s->st = st;
    s->nroute_skills = 0;
    s->queue = s->tier = "";
    /* host facts belong to the host, not to the blob: a restored session
     * starts without them, whatever this session object held before */
    if (s->facts)
        kefu_facts_clear(s->facts);
    return KEFU_OK;
}
