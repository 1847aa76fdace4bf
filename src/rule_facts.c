/*
 * rule_facts.c - the facts a rule set reads: the schema (built-in facts,
 * then the host's declared facts, then the entities.* the rules use) and
 * the kefu_facts object, typed slots indexed by fact id.  Setting facts may
 * allocate (strings and lists are copied into per-slot buffers that are
 * reused from one message to the next); reading them never does.
 */
#include "rules.h"

#define B(n, t) {n, sizeof n - 1, t}
static const kefu_fdecl builtins[KEFU_F_BUILTIN_COUNT] = {
    [KEFU_F_INTENT] = B("intent", KEFU_T_STRING),
    [KEFU_F_CONFIDENCE] = B("confidence", KEFU_T_NUMBER),
    [KEFU_F_OUT_OF_SCOPE] = B("out_of_scope", KEFU_T_BOOL),
    [KEFU_F_TEXT] = B("text", KEFU_T_STRING),
    [KEFU_F_CHANNEL] = B("channel", KEFU_T_STRING),
    [KEFU_F_ANGER] = B("emotion.anger", KEFU_T_NUMBER),
    [KEFU_F_ANXIETY] = B("emotion.anxiety", KEFU_T_NUMBER),
    [KEFU_F_DISAPPOINTMENT] = B("emotion.disappointment", KEFU_T_NUMBER),
    [KEFU_F_SADNESS] = B("emotion.sadness", KEFU_T_NUMBER),
    [KEFU_F_FEAR] = B("emotion.fear", KEFU_T_NUMBER),
    [KEFU_F_JOY] = B("emotion.joy", KEFU_T_NUMBER),
    [KEFU_F_NEGATIVITY] = B("negativity", KEFU_T_NUMBER),
    [KEFU_F_EMOTION_LEVEL] = B("emotion.level", KEFU_T_NUMBER),
    [KEFU_F_EMOTION_PEAK] = B("emotion.peak", KEFU_T_NUMBER),
    [KEFU_F_EMOTION_TREND] = B("emotion.trend", KEFU_T_NUMBER),
    [KEFU_F_SLOTS] = B("slots", KEFU_T_STRLIST),
    [KEFU_F_MISSING_SLOTS] = B("missing_slots", KEFU_T_STRLIST),
    [KEFU_F_CUSTOMER_TIER] = B("customer.tier", KEFU_T_STRING),
    [KEFU_F_CUSTOMER_VALUE] = B("customer.value", KEFU_T_NUMBER),
    [KEFU_F_CUSTOMER_RISK] = B("customer.risk", KEFU_T_STRLIST),
    [KEFU_F_SESSION_TURNS] = B("session.turns", KEFU_T_NUMBER),
    [KEFU_F_SESSION_HUMAN_REQUESTS] = B("session.human_requests", KEFU_T_NUMBER),
    [KEFU_F_SESSION_CONTACTS_7D] = B("session.contacts_7d", KEFU_T_NUMBER),
    [KEFU_F_SESSION_FAILED_ANSWERS] = B("session.failed_answers", KEFU_T_NUMBER),
    [KEFU_F_SESSION_REPEAT_ISSUE] = B("session.repeat_issue", KEFU_T_BOOL),
    [KEFU_F_SESSION_ESCALATED] = B("session.escalated", KEFU_T_BOOL),
    [KEFU_F_SESSION_LOCKED] = B("session.locked", KEFU_T_BOOL),
    [KEFU_F_WAIT] = B("wait", KEFU_T_DURATION),
};
#undef B

const kefu_fdecl *kefu_builtin_fact(uint32_t id)
{
    return id < KEFU_F_BUILTIN_COUNT ? &builtins[id] : NULL;
}

const char *kefu_type_name(int type)
{
    switch (type) {
    case KEFU_T_BOOL: return "bool";
    case KEFU_T_NUMBER: return "number";
    case KEFU_T_STRING: return "string";
    case KEFU_T_DURATION: return "duration";
    case KEFU_T_STRLIST: return "list<string>";
    case KEFU_T_NUMLIST: return "list<number>";
    default: return "?";
    }
}

static const kefu_fdecl *decl_of(const struct kefu_ruleset *rs, uint32_t id)
{
    if (id < KEFU_F_BUILTIN_COUNT)
        return &builtins[id];
    id -= KEFU_F_BUILTIN_COUNT;
    return id < rs->ndecls ? &rs->decls[id] : NULL;
}

int64_t kefu_ruleset_fact_lookup(const struct kefu_ruleset *rs,
                                 const char *name, size_t len)
{
    for (uint32_t i = 0; i < KEFU_F_BUILTIN_COUNT; i++)
        if (builtins[i].name_len == len && !memcmp(builtins[i].name, name, len))
            return i;
    for (uint32_t i = 0; rs && i < rs->ndecls; i++)
        if (rs->decls[i].name_len == len &&
            !memcmp(rs->decls[i].name, name, len))
            return KEFU_F_BUILTIN_COUNT + i;
    return -1;
}

KEFU_API int kefu_ruleset_fact_type(const kefu_ruleset *rs, const char *name,
                                    size_t name_len)
{
    int64_t id;
    if (!name)
        return KEFU_E_ARG;
    id = kefu_ruleset_fact_lookup(rs, name, name_len);
    return id < 0 ? KEFU_E_UNKNOWN : decl_of(rs, (uint32_t)id)->type;
}

/* ---- the facts object ---- */

#define ST(f, s) (&(f)->store[(s) - (f)->slot])

static void slot_release(const kefu_mem *mem, kefu_fstore *s)
{
    kefu_dealloc(mem, s->buf);
    kefu_dealloc(mem, s->ibuf);
}

static void slot_reset(kefu_fslot *s)
{
    s->present = 0;
    if (s->type == KEFU_T_STRLIST || s->type == KEFU_T_NUMLIST)
        s->items = NULL;
    else
        s->str = "";
    s->len = 0;
}

static int bind(kefu_facts *f, kefu_ruleset *rs)
{
    uint32_t n = KEFU_F_BUILTIN_COUNT + rs->ndecls;
    double *num = kefu_alloc_array(&f->mem, n, sizeof *num + sizeof(kefu_fslot));
    kefu_fslot *slot = (kefu_fslot *)(num + n);
    kefu_fstore *store = kefu_alloc_array(&f->mem, n, sizeof *store);
    if (!num || !store) {
        kefu_dealloc(&f->mem, num);
        kefu_dealloc(&f->mem, store);
        return KEFU_E_NOMEM;
    }
    memset(num, 0, n * (sizeof *num + sizeof *slot));
    memset(store, 0, n * sizeof *store);
    for (uint32_t i = 0; i < n; i++) {
        slot[i].type = decl_of(rs, i)->type;
        slot_reset(&slot[i]);
    }
    f->num = num;
    f->slot = slot;
    f->store = store;
    f->n = n;
    f->rs = kefu_ruleset_ref(rs);
    return KEFU_OK;
}

KEFU_API int kefu_facts_new(kefu_facts **out, kefu_ruleset *rs,
                            const kefu_allocator *alloc)
{
    kefu_mem mem;
    kefu_facts *f;
    if (!out)
        return KEFU_E_ARG;
    *out = NULL;
    if (!rs)
        return KEFU_E_ARG;
    kefu_mem_init(&mem, alloc);
    if (!(f = kefu_zalloc(&mem, sizeof *f)))
        return KEFU_E_NOMEM;
    f->mem = mem;
    kefu_diag_init(&f->diag, &mem.a);
    if (bind(f, rs)) {
        kefu_dealloc(&mem, f);
        return KEFU_E_NOMEM;
    }
    *out = f;
    return KEFU_OK;
}

KEFU_API void kefu_facts_free(kefu_facts *f)
{
    kefu_mem mem;
    if (!f)
        return;
    mem = f->mem;
    for (uint32_t i = 0; i < f->n; i++)
        slot_release(&mem, &f->store[i]);
    kefu_dealloc(&mem, f->num);   /* and the slots */
    kefu_dealloc(&mem, f->store);
    kefu_ruleset_free(f->rs);
    kefu_dealloc(&mem, f);
}

KEFU_API void kefu_facts_clear(kefu_facts *f)
{
    if (!f)
        return;
    memset(f->num, 0, f->n * sizeof *f->num);
    for (uint32_t i = 0; i < f->n; i++)
        slot_reset(&f->slot[i]);
}

KEFU_API const kefu_diag *kefu_facts_diag(const kefu_facts *f)
{
    return f ? &f->diag : NULL;
}

/* Copies a value from one slot to another of the same type. */
static int slot_copy(kefu_facts *f, kefu_fslot *d, const kefu_fslot *s);

KEFU_API int kefu_facts_rebind(kefu_facts *f, kefu_ruleset *rs)
{
    kefu_facts tmp;
    int rc = KEFU_OK;
    if (!f || !rs)
        return KEFU_E_ARG;
    if (rs == f->rs)
        return KEFU_OK;
    tmp = *f;
    if (bind(&tmp, rs))
        return kefu_diag_msg(&f->diag, KEFU_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < tmp.n && !rc; i++) {
        const kefu_fdecl *d = decl_of(rs, i);
        int64_t old = kefu_ruleset_fact_lookup(f->rs, d->name, d->name_len);
        if (old >= 0 && f->slot[old].present && f->slot[old].type == d->type) {
            tmp.num[i] = f->num[old];
            rc = slot_copy(&tmp, &tmp.slot[i], &f->slot[old]);
        }
    }
    if (rc) {
        for (uint32_t i = 0; i < tmp.n; i++)
            slot_release(&f->mem, &tmp.store[i]);
        kefu_dealloc(&f->mem, tmp.num);
        kefu_dealloc(&f->mem, tmp.store);
        kefu_ruleset_free(tmp.rs);
        return kefu_diag_msg(&f->diag, KEFU_E_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < f->n; i++)
        slot_release(&f->mem, &f->store[i]);
    kefu_dealloc(&f->mem, f->num);
    kefu_dealloc(&f->mem, f->store);
    kefu_ruleset_free(f->rs);
    f->num = tmp.num;
    f->slot = tmp.slot;
    f->store = tmp.store;
    f->n = tmp.n;
    f->rs = tmp.rs;
    return KEFU_OK;
}

/* Finds the slot for a name; *ignore when it is an entity no rule uses. */
static int find(kefu_facts *f, const char *name, size_t len, int type,
                kefu_fslot **out, bool *ignore)
{
    int64_t id;
    *ignore = false;
    if (!f)
        return KEFU_E_ARG;
    if (!name)
        return kefu_diag_msg(&f->diag, KEFU_E_ARG, "fact name is NULL");
    id = kefu_ruleset_fact_lookup(f->rs, name, len);
    if (id < 0) {
        if (len > 9 && !memcmp(name, "entities.", 9)) {
            *ignore = true;
            return KEFU_OK;
        }
        return kefu_diag_msg(&f->diag, KEFU_E_UNKNOWN, "unknown fact '%.*s'",
                             (int)(len > 200 ? 200 : len), name);
    }
    if (f->slot[id].type != type)
        return kefu_diag_msg(&f->diag, KEFU_E_TYPE,
                             "fact '%.*s' is a %s, not a %s", (int)len, name,
                             kefu_type_name(f->slot[id].type),
                             kefu_type_name(type));
    *out = &f->slot[id];
    return KEFU_OK;
}

#define FIND(type)                                                  \
    kefu_fslot *s = NULL;                                           \
    bool ignore;                                                    \
    int rc = find(f, name, name_len, type, &s, &ignore);            \
    if (rc || ignore)                                               \
        return rc;

KEFU_API int kefu_facts_set_bool(kefu_facts *f, const char *name,
                                 size_t name_len, int32_t value)
{
    FIND(KEFU_T_BOOL)
    f->num[s - f->slot] = value != 0;
    s->present = 1;
    return KEFU_OK;
}

KEFU_API int kefu_facts_set_number(kefu_facts *f, const char *name,
                                   size_t name_len, double value)
{
    FIND(KEFU_T_NUMBER)
    if (value != value)
        return kefu_diag_msg(&f->diag, KEFU_E_ARG, "fact '%.*s' is NaN",
                             (int)name_len, name);
    f->num[s - f->slot] = value;
    s->present = 1;
    return KEFU_OK;
}

KEFU_API int kefu_facts_set_duration(kefu_facts *f, const char *name,
                                     size_t name_len, int64_t ms)
{
    FIND(KEFU_T_DURATION)
    f->num[s - f->slot] = (double)ms;
    s->present = 1;
    return KEFU_OK;
}

/* Stores a string's bytes in the slot (short ones) or in its buffer, and
 * points s->str at them. */
static int put_bytes(kefu_facts *f, kefu_fslot *s, const char *p, size_t len)
{
    char *to = s->inl;
    if (len > UINT32_MAX)
        return kefu_diag_msg(&f->diag, KEFU_E_TOO_LONG, "string too long");
    if (len > KEFU_FSLOT_INLINE) {
        if (len > ST(f, s)->buf_cap) {
            char *nb = kefu_realloc(&f->mem, ST(f, s)->buf, len);
            if (!nb)
                return kefu_diag_msg(&f->diag, KEFU_E_NOMEM, "out of memory");
            ST(f, s)->buf = nb;
            ST(f, s)->buf_cap = len;
        }
        to = ST(f, s)->buf;
    }
    if (len)
        memcpy(to, p, len);
    s->str = len ? to : "";
    s->len = (uint32_t)len;
    return KEFU_OK;
}

KEFU_API int kefu_facts_set_string(kefu_facts *f, const char *name,
                                   size_t name_len, const char *str,
                                   size_t len)
{
    size_t bad;
    FIND(KEFU_T_STRING)
    if (!str && len)
        return kefu_diag_msg(&f->diag, KEFU_E_ARG, "string is NULL");
    if (kefu_utf8_check(str ? str : "", len, &bad))
        return kefu_diag_setf(&f->diag, KEFU_E_UTF8, NULL, 0, 0, bad,
                              "fact '%.*s' is not valid UTF-8 (byte %zu)",
                              (int)name_len, name, bad);
    if ((rc = put_bytes(f, s, str, len)))
        return rc;
    s->present = 1;
    return KEFU_OK;
}

static int put_items(kefu_facts *f, kefu_fslot *s, size_t n)
{
    if (n > KEFU_FACTS_MAX_LIST)
        return kefu_diag_msg(&f->diag, KEFU_E_LIMIT,
                             "a list fact holds at most %d items",
                             KEFU_FACTS_MAX_LIST);
    if (kefu_grow(&f->mem, (void **)&ST(f, s)->ibuf, &ST(f, s)->ibuf_cap, n ? n : 1,
                  sizeof *ST(f, s)->ibuf))
        return kefu_diag_msg(&f->diag, KEFU_E_NOMEM, "out of memory");
    return KEFU_OK;
}

KEFU_API int kefu_facts_set_strings(kefu_facts *f, const char *name,
                                    size_t name_len,
                                    const char *const *items,
                                    const size_t *lens, size_t n)
{
    size_t total = 0, at = 0;
    FIND(KEFU_T_STRLIST)
    if (!items && n)
        return kefu_diag_msg(&f->diag, KEFU_E_ARG, "items is NULL");
    for (size_t i = 0; i < n; i++) {
        size_t l, bad;
        if (!items[i])
            return kefu_diag_msg(&f->diag, KEFU_E_ARG, "item %zu is NULL", i);
        l = lens ? lens[i] : strlen(items[i]);
        if (kefu_utf8_check(items[i], l, &bad))
            return kefu_diag_msg(&f->diag, KEFU_E_UTF8,
                                 "item %zu of '%.*s' is not valid UTF-8", i,
                                 (int)name_len, name);
        total += l;
    }
    if ((rc = put_items(f, s, n)))
        return rc;
    if (total > ST(f, s)->buf_cap) {
        char *nb = kefu_realloc(&f->mem, ST(f, s)->buf, total);
        if (!nb)
            return kefu_diag_msg(&f->diag, KEFU_E_NOMEM, "out of memory");
        ST(f, s)->buf = nb;
        ST(f, s)->buf_cap = total;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : strlen(items[i]);
        if (l)
            memcpy(ST(f, s)->buf + at, items[i], l);
        ST(f, s)->ibuf[i].num = 0;
        ST(f, s)->ibuf[i].len = (uint32_t)l;
        at += l;
    }
    at = 0;
    for (size_t i = 0; i < n; i++) {   /* pointers after the last realloc */
        ST(f, s)->ibuf[i].str = ST(f, s)->buf ? ST(f, s)->buf + at : "";
        at += ST(f, s)->ibuf[i].len;
    }
    s->items = ST(f, s)->ibuf;
    s->len = (uint32_t)n;
    s->present = 1;
    return KEFU_OK;
}

KEFU_API int kefu_facts_set_numbers(kefu_facts *f, const char *name,
                                    size_t name_len, const double *items,
                                    size_t n)
{
    FIND(KEFU_T_NUMLIST)
    if (!items && n)
        return kefu_diag_msg(&f->diag, KEFU_E_ARG, "items is NULL");
    if ((rc = put_items(f, s, n)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (items[i] != items[i])
            return kefu_diag_msg(&f->diag, KEFU_E_ARG, "item %zu is NaN", i);
        ST(f, s)->ibuf[i].num = items[i];
        ST(f, s)->ibuf[i].str = "";
        ST(f, s)->ibuf[i].len = 0;
    }
    s->items = ST(f, s)->ibuf;
    s->len = (uint32_t)n;
    s->present = 1;
    return KEFU_OK;
}

KEFU_API int kefu_facts_unset(kefu_facts *f, const char *name, size_t name_len)
{
    int64_t id;
    if (!f || !name)
        return KEFU_E_ARG;
    id = kefu_ruleset_fact_lookup(f->rs, name, name_len);
    if (id < 0) {
        if (name_len > 9 && !memcmp(name, "entities.", 9))
            return KEFU_OK;
        return kefu_diag_msg(&f->diag, KEFU_E_UNKNOWN, "unknown fact '%.*s'",
                             (int)(name_len > 200 ? 200 : name_len), name);
    }
    f->num[id] = 0;
    slot_reset(&f->slot[id]);
    return KEFU_OK;
}

static int slot_copy(kefu_facts *f, kefu_fslot *d, const kefu_fslot *s)
{
    int rc;
    d->present = s->present;
    if (s->type == KEFU_T_STRING) {
        if ((rc = put_bytes(f, d, s->str, s->len)))
            return rc;
    } else if (s->type == KEFU_T_STRLIST || s->type == KEFU_T_NUMLIST) {
        size_t total = 0, at = 0;
        if ((rc = put_items(f, d, s->len)))
            return rc;
        for (uint32_t i = 0; i < s->len; i++)
            total += s->items[i].len;
        if (total > ST(f, d)->buf_cap) {
            char *nb = kefu_realloc(&f->mem, ST(f, d)->buf, total);
            if (!nb)
                return KEFU_E_NOMEM;
            ST(f, d)->buf = nb;
            ST(f, d)->buf_cap = total;
        }
        for (uint32_t i = 0; i < s->len; i++) {
            ST(f, d)->ibuf[i] = s->items[i];
            if (s->items[i].len)
                memcpy(ST(f, d)->buf + at, s->items[i].str, s->items[i].len);
            ST(f, d)->ibuf[i].str = ST(f, d)->buf ? ST(f, d)->buf + at : "";
            at += s->items[i].len;
        }
        d->items = ST(f, d)->ibuf;
        d->len = s->len;
    }
    return KEFU_OK;
}

/* ---- fast setters for the session ---- */

void kefu_facts_put_number(kefu_facts *f, uint32_t id, double v)
{
    f->num[id] = v;
    f->slot[id].present = 1;
}

void kefu_facts_put_bool(kefu_facts *f, uint32_t id, bool v)
{
    f->num[id] = v;
    f->slot[id].present = 1;
}

void kefu_facts_put_duration(kefu_facts *f, uint32_t id, double ms)
{
    f->num[id] = ms;
    f->slot[id].present = 1;
}

void kefu_facts_put_string_ref(kefu_facts *f, uint32_t id, const char *s,
                               uint32_t len)
{
    f->slot[id].str = s;
    f->slot[id].len = len;
    f->slot[id].present = 1;
}
